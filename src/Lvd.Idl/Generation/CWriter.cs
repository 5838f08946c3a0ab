using System.Text;

namespace Lvd.Idl.Generation;

/// <summary>Builds C text with tab indentation and '\n' line ends, so output is byte-identical everywhere.</summary>
internal sealed class CWriter
{
    private readonly StringBuilder _text = new();
    private int _indent;

    public CWriter Line(string line = "")
    {
        if (line.Length > 0)
            _text.Append('\t', _indent).Append(line);
        _text.Append('\n');
        return this;
    }

    /// <summary>`if (cond)` with a one-statement body, the kernel style for error exits.</summary>
    public CWriter Fail(string condition, string code) => Line($"if ({condition})").Indented($"return {code};");

    public CWriter Indented(string line)
    {
        _indent++;
        Line(line);
        _indent--;
        return this;
    }

    public CWriter Open(string line)
    {
        Line(line);
        _indent++;
        return this;
    }

    public CWriter Close(string line = "}")
    {
        _indent--;
        return Line(line);
    }

    public override string ToString() => _text.ToString();
}

namespace Lvd.Idl.Syntax;

/// <summary>An interface file's text with the line starts needed to turn offsets into positions.</summary>
internal sealed class SourceText
{
    private readonly List<int> _lineStarts = [0];

    public SourceText(string path, string text)
    {
        Path = path;
        Text = text;
        for (var i = 0; i < text.Length; i++)
            if (text[i] == '\n')
                _lineStarts.Add(i + 1);
    }

    public string Path { get; }
    public string Text { get; }

    public Diagnostic Error(Span span, string message)
    {
        var line = _lineStarts.BinarySearch(span.Start);
        if (line < 0)
            line = ~line - 1;
        var start = _lineStarts[line];
        var end = Text.IndexOf('\n', start);
        if (end < 0)
            end = Text.Length;
        var sourceLine = Text[start..end].TrimEnd('\r').Replace('\t', ' ');
        var column = span.Start - start + 1;
        var length = Math.Min(Math.Max(span.Length, 1), Math.Max(1, sourceLine.Length - (column - 1)));
        return new Diagnostic(Path, line + 1, column, message, sourceLine, length);
    }
}

namespace Lvd.Idl;

/// <summary>
/// One error in an interface file, located precisely enough to act on: the position, the
/// line it is on, and how many characters the caret should cover.
/// </summary>
public sealed record Diagnostic(string File, int Line, int Column, string Message, string SourceLine, int Length)
{
    /// <summary>`file:line:col: error: message`, then the source line and a caret under the offending text.</summary>
    public string Format()
    {
        var caretIndent = new string(' ', Math.Max(0, Column - 1));
        var carets = new string('^', Math.Max(1, Length));
        return $"{File}:{Line}:{Column}: error: {Message}\n    {SourceLine}\n    {caretIndent}{carets}";
    }

    public override string ToString() => Format();
}

namespace Lvd.Idl.Syntax;

internal enum TokenKind
{
    Identifier,
    Integer,
    Punct,
    String,
    End,
}

/// <summary>One lexeme. Keywords are identifiers: the parser decides by position, so a field may be named `in`.</summary>
internal readonly record struct Token(TokenKind Kind, string Text, Span Span, long Value = 0)
{
    public bool Is(string text) => Kind is TokenKind.Identifier or TokenKind.Punct && Text == text;

    public string Describe() => Kind switch
    {
        TokenKind.End => "end of file",
        TokenKind.String => $"string \"{Text}\"",
        _ => $"'{Text}'",
    };
}

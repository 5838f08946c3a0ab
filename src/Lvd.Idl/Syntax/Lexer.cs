using System.Globalization;

namespace Lvd.Idl.Syntax;

/// <summary>Splits an interface file into tokens; `//` and `/* */` comments are skipped.</summary>
internal static class Lexer
{
    private static readonly string[] Puncts = ["->", "<=", "{", "}", "(", ")", "[", "]", "<", ">", ";", ":", ",", "*"];

    public static List<Token> Tokenize(SourceText source)
    {
        var text = source.Text;
        var tokens = new List<Token>();
        var i = 0;
        while (true)
        {
            i = SkipTrivia(source, i);
            if (i >= text.Length)
            {
                tokens.Add(new Token(TokenKind.End, "", new Span(text.Length, 0)));
                return tokens;
            }
            var c = text[i];
            var start = i;
            if (char.IsAsciiLetter(c) || c == '_')
            {
                while (i < text.Length && (char.IsAsciiLetterOrDigit(text[i]) || text[i] == '_'))
                    i++;
                tokens.Add(new Token(TokenKind.Identifier, text[start..i], new Span(start, i - start)));
                continue;
            }
            if (char.IsAsciiDigit(c))
            {
                tokens.Add(LexInteger(source, ref i));
                continue;
            }
            if (c == '"')
            {
                i++;
                while (i < text.Length && text[i] != '"' && text[i] != '\n')
                    i++;
                if (i >= text.Length || text[i] != '"')
                    throw new IdlSyntaxException(source.Error(new Span(start, i - start),
                        "unterminated string: expected a closing '\"' on the same line"));
                i++;
                tokens.Add(new Token(TokenKind.String, text[(start + 1)..(i - 1)], new Span(start, i - start)));
                continue;
            }
            var punct = Array.Find(Puncts, p => string.CompareOrdinal(text, i, p, 0, p.Length) == 0);
            if (punct is null)
                throw new IdlSyntaxException(source.Error(new Span(start, 1), $"unexpected character '{c}'"));
            i += punct.Length;
            tokens.Add(new Token(TokenKind.Punct, punct, new Span(start, punct.Length)));
        }
    }

    private static int SkipTrivia(SourceText source, int i)
    {
        var text = source.Text;
        while (i < text.Length)
        {
            if (char.IsWhiteSpace(text[i]))
                i++;
            else if (text[i] == '/' && i + 1 < text.Length && text[i + 1] == '/')
                while (i < text.Length && text[i] != '\n')
                    i++;
            else if (text[i] == '/' && i + 1 < text.Length && text[i + 1] == '*')
            {
                var end = text.IndexOf("*/", i + 2, StringComparison.Ordinal);
                if (end < 0)
                    throw new IdlSyntaxException(source.Error(new Span(i, 2), "unterminated comment: expected '*/'"));
                i = end + 2;
            }
            else
                break;
        }
        return i;
    }

    private static Token LexInteger(SourceText source, ref int i)
    {
        var text = source.Text;
        var start = i;
        var hex = text[i] == '0' && i + 1 < text.Length && (text[i + 1] == 'x' || text[i + 1] == 'X');
        if (hex)
            i += 2;
        while (i < text.Length && (char.IsAsciiLetterOrDigit(text[i]) || text[i] == '_'))
            i++;
        var lexeme = text[start..i];
        var digits = hex ? lexeme[2..] : lexeme;
        var ok = hex
            ? long.TryParse(digits, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var value)
            : long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out value);
        if (!ok || digits.Length == 0 || value < 0)
            throw new IdlSyntaxException(source.Error(new Span(start, i - start),
                $"'{lexeme}' is not a valid integer: expected decimal digits or 0x and hex digits, below 2^63"));
        return new Token(TokenKind.Integer, lexeme, new Span(start, i - start), value);
    }
}

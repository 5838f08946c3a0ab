namespace Lvd.Idl.Syntax;

/// <summary>A range of characters in an interface file.</summary>
internal readonly record struct Span(int Start, int Length)
{
    public int End => Start + Length;

    public static Span Covering(Span first, Span last) => new(first.Start, last.End - first.Start);
}

namespace Lvd.Idl.Generation;

/// <summary>Where one value travels: a message word (1..7) or a register-page offset expression.</summary>
internal sealed record Location(int Word, string PageOffset)
{
    public bool IsWord => Word > 0;

    public static Location InWord(int word) => new(word, "");

    public static Location InPage(string offset) => new(0, offset);

    public override string ToString() => IsWord ? $"w{Word}" : $"regpage+{PageOffset}";
}

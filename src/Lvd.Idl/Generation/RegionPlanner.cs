namespace Lvd.Idl.Generation;

/// <summary>
/// Hands out the places of one message direction: words 1..7 first, then the register page.
/// Everything is decided here, at compile time, so generated code uses constant offsets and
/// the page can never overflow at run time.
/// </summary>
internal sealed class RegionPlanner
{
    private int _nextWord = 1;

    public int PageBytes { get; private set; }

    public Location Word(int size)
    {
        if (_nextWord < 8)
            return Location.InWord(_nextWord++);
        return Location.InPage(Blob(size, size).ToString());
    }

    public int Blob(int size, int align)
    {
        var offset = (PageBytes + align - 1) / align * align;
        PageBytes = offset + size;
        return offset;
    }
}

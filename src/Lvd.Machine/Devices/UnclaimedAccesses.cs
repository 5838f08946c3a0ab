namespace Lvd.Machine.Devices;

/// <summary>
/// Accesses nothing claimed (I/O ports and physical addresses that are neither RAM nor MMIO):
/// they read as all ones and drop writes, like an unclaimed bus, and are counted per port or
/// address here so a run can report what the guest probed. At most <see cref="MaxAddresses"/>
/// distinct addresses per space are kept apart; the rest are counted together.
/// </summary>
public sealed class UnclaimedAccesses
{
    public const int MaxAddresses = 4096;

    public enum Space { Port, Memory }

    public sealed record Entry(Space Space, ulong Address, long Reads, long Writes);

    private readonly Dictionary<ulong, long[]> _ports = new(), _memory = new();
    private readonly long[] _otherPorts = new long[2], _otherMemory = new long[2];

    public long Total { get; private set; }

    public void Note(Space space, ulong address, bool write)
    {
        Total++;
        var map = space == Space.Port ? _ports : _memory;
        if (!map.TryGetValue(address, out var counts))
        {
            if (map.Count >= MaxAddresses) counts = space == Space.Port ? _otherPorts : _otherMemory;
            else map[address] = counts = new long[2];
        }
        counts[write ? 1 : 0]++;
    }

    /// <summary>Reads and writes per port, then per address, each in ascending order; addresses past the cap last, as ulong.MaxValue.</summary>
    public IReadOnlyList<Entry> Entries()
    {
        var list = new List<Entry>();
        Add(list, Space.Port, _ports, _otherPorts);
        Add(list, Space.Memory, _memory, _otherMemory);
        return list;
    }

    private static void Add(List<Entry> list, Space space, Dictionary<ulong, long[]> map, long[] other)
    {
        var keys = new List<ulong>(map.Keys);
        keys.Sort();
        foreach (var k in keys) list.Add(new Entry(space, k, map[k][0], map[k][1]));
        if (other[0] + other[1] != 0) list.Add(new Entry(space, ulong.MaxValue, other[0], other[1]));
    }

    /// <summary>One line per port or address: "port 0x3f9: 2 reads, 1 write"; empty when nothing was unclaimed.</summary>
    public string Describe()
    {
        var sb = new System.Text.StringBuilder();
        foreach (var e in Entries())
        {
            string where = e.Address == ulong.MaxValue ? "others" : e.Space == Space.Port ? $"0x{e.Address:x4}" : $"0x{e.Address:x}";
            sb.Append(e.Space == Space.Port ? "port " : "memory ").Append(where).Append(": ")
              .Append(e.Reads).Append(e.Reads == 1 ? " read, " : " reads, ")
              .Append(e.Writes).Append(e.Writes == 1 ? " write\n" : " writes\n");
        }
        return sb.ToString();
    }
}

namespace Lvd.Machine.Execution;

/// <summary>
/// A segment register's visible selector and hidden part. Attributes use the VMCS
/// access-rights layout (SDM 24.4.1): type 3:0, S 4, DPL 6:5, P 7, AVL 12, L 13, D/B 14,
/// G 15, unusable 16.
/// </summary>
public struct Segment
{
    public ushort Selector;
    public ulong Base;
    public uint Limit;
    public uint Attributes;

    public const uint Unusable = 1u << 16;

    public readonly int Dpl => (int)(Attributes >> 5) & 3;
    public readonly bool Long => (Attributes & (1u << 13)) != 0;
    public readonly bool Present => (Attributes & (1u << 7)) != 0;

    /// <summary>Attributes from the high dword of a legacy 8-byte descriptor.</summary>
    public static uint AttributesFromDescriptor(ulong d) => (uint)((d >> 40) & 0xff) | (uint)(((d >> 52) & 0xf) << 12);

    public static ulong BaseFromDescriptor(ulong d) => ((d >> 16) & 0xffffff) | (((d >> 56) & 0xff) << 24);

    public static uint LimitFromDescriptor(ulong d)
    {
        uint limit = (uint)(d & 0xffff) | (uint)(((d >> 48) & 0xf) << 16);
        return (d & (1UL << 55)) != 0 ? (limit << 12) | 0xfff : limit;
    }
}

/// <summary>GDTR or IDTR.</summary>
public struct DescriptorTable
{
    public ulong Base;
    public ushort Limit;
}

public enum SegReg { ES = 0, CS = 1, SS = 2, DS = 3, FS = 4, GS = 5 }

using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using Lvd.Machine.Devices;
using Lvd.Machine.Execution;

namespace Lvd.Machine.Memory;

/// <summary>
/// Guest-physical address space: RAM allocated page by page on first touch (a 4 GiB machine
/// costs what it uses; pages are pinned, since TLB entries hold their host addresses), plus
/// MMIO ranges dispatched to devices. Addresses neither RAM nor MMIO
/// read as all ones and ignore writes, like an unclaimed bus, and are counted (<see cref="Unclaimed"/>).
/// Pages that hold decoded code are flagged; every write path that can reach RAM (CPU slow
/// path, loader, DMA) goes through <see cref="NoteWrite"/> so decoded blocks are invalidated.
/// </summary>
public sealed class PhysicalMemory
{
    public const int PageShift = 12;
    public const int PageSize = 1 << PageShift;
    public const ulong PageMask = PageSize - 1;

    private readonly byte[]?[] _pages;
    private readonly byte[] _codePage;
    private readonly List<MmioRange> _mmio = new();

    /// <summary>Called with a page number when a page holding decoded code is written.</summary>
    internal Action<ulong>? CodeWritten;

    public ulong RamSize { get; }
    public int PagesTouched { get; private set; }

    /// <summary>Accesses to addresses neither RAM nor MMIO.</summary>
    public UnclaimedAccesses Unclaimed { get; }

    /// <summary>The modeled time of an access no vCPU makes (DMA, loader), for MMIO devices; set by the machine.</summary>
    internal Func<long>? Now;

    public PhysicalMemory(ulong ramSize, UnclaimedAccesses? unclaimed = null)
    {
        Unclaimed = unclaimed ?? new UnclaimedAccesses();
        if (ramSize == 0 || (ramSize & PageMask) != 0 || ramSize > (64UL << 30))
            throw new ArgumentOutOfRangeException(nameof(ramSize), "RAM size must be a non-zero multiple of 4 KiB, at most 64 GiB");
        RamSize = ramSize;
        _pages = new byte[(int)(ramSize >> PageShift)][];
        _codePage = new byte[_pages.Length];
    }

    public void AddMmio(ulong baseAddress, ulong size, IMmioDevice device)
    {
        if (!TryAddMmio(baseAddress, size, device))
            throw new ArgumentException($"MMIO range 0x{baseAddress:x} (0x{size:x} bytes) overlaps RAM or another range");
    }

    /// <summary>Adds the range if it overlaps neither RAM nor another range; false (nothing added) otherwise.</summary>
    public bool TryAddMmio(ulong baseAddress, ulong size, IMmioDevice device)
    {
        if (baseAddress < RamSize || baseAddress + size < baseAddress) return false;
        foreach (var r in _mmio)
            if (baseAddress < r.Base + r.Size && r.Base < baseAddress + size) return false;
        _mmio.Add(new MmioRange(baseAddress, size, device));
        return true;
    }

    /// <summary>Removes the range of <paramref name="device"/> at <paramref name="baseAddress"/> (a PCI BAR moved or was disabled).</summary>
    public bool RemoveMmio(ulong baseAddress, IMmioDevice device) =>
        _mmio.RemoveAll(r => r.Base == baseAddress && r.Device == device) > 0;

    public bool IsRam(ulong pa) => pa < RamSize;

    /// <summary>The MMIO ranges (base, size), for building identity mappings.</summary>
    public IEnumerable<(ulong Base, ulong Size)> MmioRanges => _mmio.Select(r => (r.Base, r.Size));

    /// <summary>The backing array of a RAM page, allocated on first touch; null outside RAM.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public byte[]? RamPage(ulong pa)
    {
        ulong ppn = pa >> PageShift;
        if (ppn >= (ulong)_pages.Length) return null;
        return _pages[ppn] ?? Touch(ppn);
    }

    private byte[] Touch(ulong ppn)
    {
        PagesTouched++;
        // Pinned (the pinned object heap): the TLB's host addends point into RAM pages (TlbEntry.Addend).
        return _pages[ppn] = GC.AllocateArray<byte>(PageSize, pinned: true);
    }

    public IMmioDevice? FindMmio(ulong pa, out ulong offset)
    {
        foreach (var r in _mmio)
        {
            if (pa >= r.Base && pa - r.Base < r.Size) { offset = pa - r.Base; return r.Device; }
        }
        offset = 0;
        return null;
    }

    internal bool IsCodePage(ulong ppn) => ppn < (ulong)_codePage.Length && _codePage[ppn] != 0;
    internal void MarkCodePage(ulong ppn) => _codePage[ppn] = 1;
    internal void ClearCodePage(ulong ppn) => _codePage[ppn] = 0;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void NoteWrite(ulong pa)
    {
        ulong ppn = pa >> PageShift;
        if (ppn < (ulong)_codePage.Length && _codePage[ppn] != 0) CodeWritten?.Invoke(ppn);
    }

    /// <summary>Physical read of 1, 2, 4 or 8 bytes within one page (RAM or MMIO), by no vCPU.</summary>
    public ulong Read(ulong pa, int size) => Read(pa, size, null);

    /// <summary>Physical write of 1, 2, 4 or 8 bytes within one page (RAM or MMIO), by no vCPU.</summary>
    public void Write(ulong pa, int size, ulong value) => Write(pa, size, value, null);

    /// <summary>Physical read of 1, 2, 4 or 8 bytes within one page (RAM or MMIO) by <paramref name="cpu"/> (null: none).</summary>
    public ulong Read(ulong pa, int size, Cpu? cpu)
    {
        var page = RamPage(pa);
        if (page != null)
        {
            var s = page.AsSpan((int)(pa & PageMask));
            return size switch
            {
                1 => s[0],
                2 => BinaryPrimitives.ReadUInt16LittleEndian(s),
                4 => BinaryPrimitives.ReadUInt32LittleEndian(s),
                _ => BinaryPrimitives.ReadUInt64LittleEndian(s),
            };
        }
        var dev = FindMmio(pa, out ulong off);
        if (dev != null) return dev.Read(cpu, cpu?.Cycles ?? Now?.Invoke() ?? 0, off, size);
        Unclaimed.Note(UnclaimedAccesses.Space.Memory, pa, write: false);
        return IoBus.AllOnes(size);
    }

    /// <summary>Physical write of 1, 2, 4 or 8 bytes within one page (RAM or MMIO) by <paramref name="cpu"/> (null: none).</summary>
    public void Write(ulong pa, int size, ulong value, Cpu? cpu)
    {
        var page = RamPage(pa);
        if (page != null)
        {
            NoteWrite(pa);
            var s = page.AsSpan((int)(pa & PageMask));
            switch (size)
            {
                case 1: s[0] = (byte)value; break;
                case 2: BinaryPrimitives.WriteUInt16LittleEndian(s, (ushort)value); break;
                case 4: BinaryPrimitives.WriteUInt32LittleEndian(s, (uint)value); break;
                default: BinaryPrimitives.WriteUInt64LittleEndian(s, value); break;
            }
            return;
        }
        var dev = FindMmio(pa, out ulong off);
        if (dev != null) dev.Write(cpu, cpu?.Cycles ?? Now?.Invoke() ?? 0, off, size, value);
        else Unclaimed.Note(UnclaimedAccesses.Space.Memory, pa, write: true);
    }

    public ulong Read64(ulong pa) => Read(pa, 8);
    public void Write64(ulong pa, ulong value) => Write(pa, 8, value);

    /// <summary>Copies bytes into RAM (loader, DMA). Throws if the range leaves RAM.</summary>
    public void WriteBytes(ulong pa, ReadOnlySpan<byte> data)
    {
        while (!data.IsEmpty)
        {
            var page = RamPage(pa) ?? throw new ArgumentOutOfRangeException(nameof(pa), $"physical 0x{pa:x} is outside RAM (0x{RamSize:x} bytes)");
            int off = (int)(pa & PageMask);
            int n = Math.Min(PageSize - off, data.Length);
            NoteWrite(pa);
            data[..n].CopyTo(page.AsSpan(off));
            data = data[n..];
            pa += (ulong)n;
        }
    }

    /// <summary>Reads physical memory; a RAM page is allocated when first read, outside RAM reads as all ones.</summary>
    public void ReadBytes(ulong pa, Span<byte> dest) => Copy(pa, dest, touch: true);

    /// <summary>Reads as <see cref="ReadBytes"/> does without touching anything: a RAM page never used reads as the zeros it
    /// holds and stays unallocated (debuggers).</summary>
    public void PeekBytes(ulong pa, Span<byte> dest) => Copy(pa, dest, touch: false);

    private void Copy(ulong pa, Span<byte> dest, bool touch)
    {
        while (!dest.IsEmpty)
        {
            int off = (int)(pa & PageMask);
            int n = Math.Min(PageSize - off, dest.Length);
            ulong ppn = pa >> PageShift;
            bool ram = ppn < (ulong)_pages.Length;
            var page = !ram ? null : touch ? RamPage(pa) : _pages[ppn];
            if (page != null) page.AsSpan(off, n).CopyTo(dest);
            else if (ram) dest[..n].Clear();
            else dest[..n].Fill(0xff);
            dest = dest[n..];
            pa += (ulong)n;
        }
    }

    public void Fill(ulong pa, int length, byte value)
    {
        while (length > 0)
        {
            var page = RamPage(pa) ?? throw new ArgumentOutOfRangeException(nameof(pa), $"physical 0x{pa:x} is outside RAM");
            int off = (int)(pa & PageMask);
            int n = Math.Min(PageSize - off, length);
            NoteWrite(pa);
            page.AsSpan(off, n).Fill(value);
            length -= n;
            pa += (ulong)n;
        }
    }

    private readonly record struct MmioRange(ulong Base, ulong Size, IMmioDevice Device);
}

using System.Buffers.Binary;
using Lvd.Machine.Devices;

namespace Lvd.Machine.Memory;

/// <summary>
/// Translates a device's DMA address page by page (an IOMMU: <see cref="DmaPath.Translator"/>).
/// False: the access is blocked (the translator has recorded why).
/// </summary>
public interface IDmaTranslator
{
    /// <summary>
    /// The host-physical address of <paramref name="address"/> for a DMA by PCI requester
    /// <paramref name="requester"/> (bus, device, function) at modeled time <paramref name="now"/>.
    /// </summary>
    bool Translate(ushort requester, ulong address, bool write, long now, out ulong physical);
}

/// <summary>
/// The one path of device DMA to memory: every device read or write of memory goes through it,
/// 4 KiB page by page; with a <see cref="Translator"/> (the IOMMU) each page is translated first
/// and a blocked page ends the transfer (pages before it were transferred, as on a bus). DMA
/// reaches RAM only: an address that is not RAM (MMIO, nothing) is a master abort (a read
/// returns all ones, a write is dropped; counted as unclaimed) and the transfer fails, so a
/// device cannot reach another device's registers, the IOMMU's included. Writes invalidate
/// decoded code like every write path (<see cref="PhysicalMemory.NoteWrite"/>).
/// </summary>
public sealed class DmaPath(PhysicalMemory memory, UnclaimedAccesses unclaimed)
{
    /// <summary>The IOMMU translating DMA addresses, or null (addresses are host-physical).</summary>
    public IDmaTranslator? Translator { get; set; }

    public long BytesRead { get; private set; }
    public long BytesWritten { get; private set; }
    /// <summary>Transfers that failed (blocked by the translator, or a master abort).</summary>
    public long Failures { get; private set; }

    /// <summary>Reads <paramref name="dest"/>.Length bytes at DMA address <paramref name="address"/>; false if any page failed.</summary>
    public bool Read(ushort requester, ulong address, Span<byte> dest, long now)
    {
        while (!dest.IsEmpty)
        {
            int off = (int)(address & PhysicalMemory.PageMask);
            int n = Math.Min(PhysicalMemory.PageSize - off, dest.Length);
            if (!Resolve(requester, address, false, now, out var page))
            {
                dest.Fill(0xff);
                return false;
            }
            page.AsSpan(off, n).CopyTo(dest);
            BytesRead += n;
            dest = dest[n..];
            address += (ulong)n;
        }
        return true;
    }

    /// <summary>
    /// Writes <paramref name="src"/> at DMA address <paramref name="address"/>; false if any page failed (it and the rest are not written).
    /// </summary>
    public bool Write(ushort requester, ulong address, ReadOnlySpan<byte> src, long now)
    {
        while (!src.IsEmpty)
        {
            int off = (int)(address & PhysicalMemory.PageMask);
            int n = Math.Min(PhysicalMemory.PageSize - off, src.Length);
            if (!Resolve(requester, address, true, now, out var page, out ulong pa)) return false;
            memory.NoteWrite(pa);
            src[..n].CopyTo(page.AsSpan(off));
            BytesWritten += n;
            src = src[n..];
            address += (ulong)n;
        }
        return true;
    }

    public bool Read64(ushort requester, ulong address, long now, out ulong value)
    {
        Span<byte> b = stackalloc byte[8];
        bool ok = Read(requester, address, b, now);
        value = BinaryPrimitives.ReadUInt64LittleEndian(b);
        return ok;
    }

    public bool Write64(ushort requester, ulong address, ulong value, long now)
    {
        Span<byte> b = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(b, value);
        return Write(requester, address, b, now);
    }

    private bool Resolve(ushort requester, ulong address, bool write, long now, out byte[] page) =>
        Resolve(requester, address, write, now, out page, out _);

    private bool Resolve(ushort requester, ulong address, bool write, long now, out byte[] page, out ulong pa)
    {
        pa = address;
        page = null!;
        if (Translator != null && !Translator.Translate(requester, address, write, now, out pa))
        {
            Failures++;
            return false;
        }
        var p = memory.RamPage(pa);
        if (p == null)
        {
            unclaimed.Note(UnclaimedAccesses.Space.Memory, pa, write);
            Failures++;
            return false;
        }
        page = p;
        return true;
    }
}

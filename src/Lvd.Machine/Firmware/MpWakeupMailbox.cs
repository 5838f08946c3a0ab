using System.Buffers.Binary;
using Lvd.Machine.Execution;
using Lvd.Machine.Memory;

namespace Lvd.Machine.Firmware;

/// <summary>
/// The firmware side of the ACPI multiprocessor-wakeup mailbox (ACPI 6.4 section 5.2.12.19,
/// docs/PLATFORM.md): at power-on the firmware parks every AP on the mailbox the MADT names. The
/// mailbox is a page the firmware decodes (outside RAM, like a device's registers; the OS maps it
/// as memory and sees 4 KiB that read back what was written). The
/// OS writes ApicId (offset 4), WakeupVector (offset 8) and then Command (offset 0) = 1
/// (wakeup); the parked AP whose APIC ID matches clears Command (its acknowledgment) and
/// jumps to the vector in 64-bit mode: paging on with the firmware's identity map (512 GiB,
/// 1 GiB pages), a flat GDT of its own (code 0x08, data 0x10), no IDT, interrupts disabled;
/// those three pages lie in RAM right after the ACPI tables (<see cref="HandoffRegion"/>).
/// A parked AP is modeled as watching the mailbox without pause: it wakes at the modeled time of
/// the Command write (its clock catches up with the writer's, as a sleeping vCPU's does with an
/// IPI), so the run is deterministic. Other commands, or an APIC ID that names no parked AP,
/// leave Command as written (nobody answers; the OS times out). A woken AP never returns to
/// the mailbox.
/// </summary>
public sealed class MpWakeupMailbox : IMmioDevice
{
    public const ushort CommandNoop = 0, CommandWakeup = 1;
    /// <summary>The firmware's PML4, PDPT and GDT pages: RAM an OS's memory map must reserve.</summary>
    public const ulong HandoffSize = 0x3000;
    /// <summary>A mailbox address that suits the PC platform: below the I/O APIC, above any RAM it allows but the last MiB.</summary>
    public const ulong DefaultAddress = 0xfeb00000;
    public const ushort CodeSelector = 0x08, DataSelector = 0x10;

    private readonly Machine _machine;
    private readonly byte[] _box = new byte[PhysicalMemory.PageSize];
    private readonly bool[] _parked;

    public ulong Address { get; }
    /// <summary>The RAM the firmware keeps for the hand-off (page tables and GDT): e820 reserved.</summary>
    public (ulong Base, ulong Size) HandoffRegion => (PageTableRoot, HandoffSize);
    public ulong PageTableRoot { get; }
    public ulong GdtBase => PageTableRoot + 0x2000;
    /// <summary>APs woken so far.</summary>
    public int Wakeups { get; private set; }

    internal MpWakeupMailbox(Machine machine, ulong address, ulong handoff)
    {
        if ((address & PhysicalMemory.PageMask) != 0) throw new ArgumentException("the wakeup mailbox must be 4 KiB aligned", nameof(address));
        if (machine.Memory.IsRam(address))
            throw new ArgumentOutOfRangeException(nameof(address),
                $"the wakeup mailbox 0x{address:x} must lie outside RAM (the firmware decodes it)");
        if (handoff + HandoffSize > machine.GuestRamTop)
            throw new ArgumentOutOfRangeException(nameof(handoff), "the firmware's hand-off page tables must lie in guest RAM");
        _machine = machine;
        Address = address;
        PageTableRoot = handoff;
        var mem = machine.Memory;
        const ulong P = 1, RW = 2, PS = 0x80;
        mem.Write64(PageTableRoot, (PageTableRoot + 0x1000) | P | RW);
        for (ulong i = 0; i < 512; i++) mem.Write64(PageTableRoot + 0x1000 + i * 8, (i << 30) | P | RW | PS);
        mem.Write64(GdtBase, 0);
        mem.Write64(GdtBase + CodeSelector, 0x00af9b000000ffffUL);
        mem.Write64(GdtBase + DataSelector, 0x00cf93000000ffffUL);
        mem.AddMmio(address, PhysicalMemory.PageSize, this);
        _parked = new bool[machine.Cpus.Length];
        for (int i = 1; i < machine.Cpus.Length; i++)
        {
            machine.Cpus[i].State = CpuState.WaitForSipi;
            _parked[i] = true;
        }
    }

    /// <summary>Whether vCPU <paramref name="id"/> still waits on the mailbox.</summary>
    public bool IsParked(int id) => _parked[id] && _machine.Cpus[id].State == CpuState.WaitForSipi;

    public ulong Read(Cpu? cpu, long now, ulong offset, int size) => ReadBytes((int)offset, size);

    public void Write(Cpu? cpu, long now, ulong offset, int size, ulong value)
    {
        int off = (int)offset;
        for (int i = 0; i < size && off + i < _box.Length; i++) _box[off + i] = (byte)(value >> (8 * i));
        if (off < 2 && ReadBytes(0, 2) == CommandWakeup) Wake(now);
    }

    private ulong ReadBytes(int off, int size)
    {
        ulong v = 0;
        for (int i = 0; i < size && off + i < _box.Length; i++) v |= (ulong)_box[off + i] << (8 * i);
        return v;
    }

    private void Wake(long now)
    {
        uint apicId = BinaryPrimitives.ReadUInt32LittleEndian(_box.AsSpan(4));
        ulong vector = BinaryPrimitives.ReadUInt64LittleEndian(_box.AsSpan(8));
        if (apicId >= _parked.Length || !IsParked((int)apicId)) return;
        var ap = _machine.Cpus[apicId];
        _parked[apicId] = false;
        _box[0] = _box[1] = 0; // the acknowledgment
        if (ap.Cycles < now) ap.Cycles = now;
        ap.EnterLongMode(PageTableRoot, GdtBase, 0x17, CodeSelector, DataSelector, vector, 0);
        Wakeups++;
        _machine.Firmware?.ProcessorStarted(ap); // VMX-root software may launch it here (docs/PLATFORM.md)
        ap.RequestAttention();
    }
}

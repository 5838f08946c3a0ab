using System.Buffers.Binary;
using Lvd.Machine.Devices.Pci;
using Lvd.Machine.Execution;
using Lvd.Machine.Memory;

namespace Lvd.Machine.Devices.Nic;

/// <summary>
/// A NIC modeled on the Intel 82599 10 GbE controller at 00:<see cref="Slot"/>.0, its far side
/// <see cref="Peer"/>. Firmware assigns its BARs (BAR0 registers, BAR4 the MSI-X table and PBA)
/// and enables memory decoding, as a BIOS does; the driver enables bus mastering.
/// </summary>
public sealed record NicSpec : DeviceSpec
{
    public const ulong DefaultBar0 = 0xfd000000, DefaultBar4 = 0xfd080000;
    public int Slot { get; init; } = 3;
    public int Queues { get; init; } = Ixgbe82599.MaxQueues;
    public ulong Bar0 { get; init; } = DefaultBar0;
    public ulong Bar4 { get; init; } = DefaultBar4;
    public ulong Mac { get; init; } = Ixgbe82599.DefaultMac;
    /// <summary>The far side (one NIC's: a peer serves one machine); null: <see cref="PeerFactory"/>'s, else a <see cref="SinkPeer"/>.</summary>
    public NetworkPeer? Peer { get; init; }
    /// <summary>Makes a fresh peer for each machine built from this description (a replay builds another).</summary>
    public Func<NetworkPeer>? PeerFactory { get; init; }

    public override IMachineDevice Create(Machine machine) => new Ixgbe82599(machine, this);
}

/// <summary>
/// The Intel 82599 as far as an ixgbe-style driver needs it (82599 datasheet rev. 3.x, chapters 7
/// and 8; register names and offsets as there): reset (CTRL.RST), link (STATUS.LINKUP, LINKS: always
/// up at 10 Gb/s, the peer is wired), the MAC filter (RAL0/RAH0, FCTRL.UPE/BAM), <see cref="Queues"/>
/// transmit and receive queues with legacy descriptors and head/tail registers, RSS (MRQC, RETA,
/// RSSRK: the Toeplitz hash of IPv4 UDP/TCP addresses and ports), MSI-X (a capability; table and PBA in
/// BAR4; IVAR maps queues to vectors; EICR/EICS/EIMS/EIMC/EIAC/EIAM), interrupt throttling (EITR, in
/// 2.048 us units of bits 11:3) and clear-on-read statistics (GPRC, GPTC, GORC, GOTC, TPR, TPT,
/// MPC, QPRC, QPTC, QPRDC). Frames leave and arrive at 10 Gb/s line rate in modeled time
/// (preamble, CRC and inter-frame gap included); every descriptor and buffer access is a DMA
/// through <see cref="Machine.Dma"/>. Registers the model does not interpret keep what is written
/// (counted in <see cref="UninterpretedAccesses"/>). Not modeled: advanced descriptors (DEXT:
/// the descriptor is skipped and counted), TSO, receive buffers chained over several descriptors (a frame
/// larger than the buffer is dropped and counted), INTx and MSI (no wire on the Lvd platform), flow control.
/// A failed DMA (IOMMU fault, master abort) drops the frame and disables its queue (TXDCTL/RXDCTL.ENABLE clear).
/// </summary>
public sealed class Ixgbe82599 : IMmioDevice, IMachineDevice
{
    public const ushort VendorIntel = 0x8086, Device82599Sfp = 0x10fb;
    public const int MaxQueues = 16, MsixVectors = 64, EicrQueueBits = 16;
    public const ulong Bar0Size = 0x80000, Bar4Size = 0x4000;
    public const ulong DefaultMac = 0x020000000001;
    public const long LineBitsPerSecond = 10_000_000_000;
    /// <summary>Preamble + start delimiter (8), CRC (4), inter-frame gap (12): bytes on the wire beside a frame.</summary>
    public const int WireOverhead = 24;
    public const int MaxFrameBuffer = 16384;

    // Register offsets (82599 datasheet section 8.2.3).
    public const int Ctrl = 0x00000, DeviceStatus = 0x00008, CtrlExt = 0x00018, Eec = 0x10010;
    public const int Eicr = 0x00800, Eics = 0x00808, Eiac = 0x00810, Eitr0 = 0x00820, Eims = 0x00880, Eimc = 0x00888;
    public const int Eiam = 0x00890, Gpie = 0x00898, Ivar0 = 0x00900, IvarMisc = 0x00a00;
    public const int Rdbal0 = 0x01000, Rdbah0 = 0x01004, Rdlen0 = 0x01008, Rdh0 = 0x01010, Srrctl0 = 0x01014, Rdt0 = 0x01018, Rxdctl0 = 0x01028;
    public const int Qprc0 = 0x01030, Qprdc0 = 0x01430, RxQueueStride = 0x40;
    public const int Rdrxctl = 0x02f00, Rxctrl = 0x03000, Mpc0 = 0x03fa0;
    public const int Gprc = 0x04074, Gptc = 0x04080, Gorcl = 0x04088, Gorch = 0x0408c, Gotcl = 0x04090, Gotch = 0x04094;
    public const int Tpr = 0x040d0, Tpt = 0x040d4, Hlreg0 = 0x04240, Autoc = 0x042a0, Links = 0x042a4, Dmatxctl = 0x04a80;
    public const int Fctrl = 0x05080, Mrqc = 0x05818, Reta0 = 0x05c00, Rssrk0 = 0x05c80;
    public const int Tdbal0 = 0x06000, Tdbah0 = 0x06004, Tdlen0 = 0x06008, Tdh0 = 0x06010, Tdt0 = 0x06018, Txdctl0 = 0x06028;
    public const int TxQueueStride = 0x40, Qptc0 = 0x08680, Ral0 = 0x0a200, Rah0 = 0x0a204;

    public const uint CtrlLrst = 1u << 3, CtrlMasterDisable = 1u << 2, CtrlRst = 1u << 26;
    public const uint LinkUpStatus = 1u << 7, MasterEnableStatus = 1u << 19;
    public const uint LinksUp = 1u << 30, Links10G = 3u << 28;
    public const uint QueueEnable = 1u << 25, RxEnable = 1, TxEnable = 1, RahValid = 1u << 31;
    public const uint FctrlUpe = 1u << 9, FctrlBam = 1u << 10, GpieMsix = 1u << 4, GpieEiame = 1u << 30;
    public const uint EecAutoReadDone = 1u << 9, RdrxctlDmaIdone = 1u << 3;
    // Legacy descriptors (datasheet 7.2.3.2.2, 7.1.5).
    public const byte TxCmdEop = 0x01, TxCmdIfcs = 0x02, TxCmdIc = 0x04, TxCmdRs = 0x08, TxCmdDext = 0x20, TxStaDd = 0x01;
    public const byte RxStaDd = 0x01, RxStaEop = 0x02;

    private readonly Machine _machine;
    private readonly uint[] _regs = new uint[Bar0Size / 4];
    private readonly byte[] _frame = new byte[MaxFrameBuffer];
    private readonly byte[] _descriptor = new byte[16];
    private readonly TimedEvent _txEvent, _irqEvent, _rxEvent;
    private readonly long _hz;
    private readonly ushort _requester;
    private readonly int _msixCap;
    private readonly uint[] _msix = new uint[MsixVectors * 4];
    private ulong _pba;
    private readonly long[] _nextAllowed = new long[EicrQueueBits];
    private long _txWireFree;
    private int _txNextQueue;
    private ulong _gorc, _gotc;

    public Ixgbe82599(Machine machine, NicSpec spec)
    {
        if (spec.Queues < 1 || spec.Queues > MaxQueues) throw new ArgumentOutOfRangeException(nameof(spec), $"1 to {MaxQueues} queues");
        if (machine.Memory.RamSize > spec.Bar0) throw new ArgumentOutOfRangeException(nameof(spec), "RAM must end below the NIC's BARs");
        _machine = machine;
        _hz = machine.Costs.ClockHz;
        Slot = spec.Slot;
        Queues = spec.Queues;
        Mac = spec.Mac;
        _requester = (ushort)(spec.Slot << 3);
        Function = new PciFunction(VendorIntel, Device82599Sfp, 0x020000, revision: 1);
        Function.SetInterruptPin(1);
        Function.AddMemoryBar(0, Bar0Size, this, is64Bit: true);
        Function.AddMemoryBar(4, Bar4Size, new MsixBar(this), is64Bit: true);
        // MSI-X capability (PCI 3.0 6.8.2): table size - 1, table in BAR4 at 0, PBA in BAR4 at 0x2000.
        Span<byte> cap = stackalloc byte[10];
        BinaryPrimitives.WriteUInt16LittleEndian(cap, MsixVectors - 1);
        BinaryPrimitives.WriteUInt32LittleEndian(cap[2..], 4);
        BinaryPrimitives.WriteUInt32LittleEndian(cap[6..], 0x2000 | 4);
        _msixCap = Function.AddCapability(0x11, cap);
        Function.SetWritable(_msixCap + 3, 0xc0); // MSI-X enable, function mask
        var pci = machine.EnsurePci();
        pci.Add(spec.Slot, 0, Function);
        // Firmware: BARs placed and memory decoding on; bus mastering is the driver's to enable.
        Function.Write(0x10, 4, (uint)spec.Bar0);
        Function.Write(0x14, 4, (uint)(spec.Bar0 >> 32));
        Function.Write(0x20, 4, (uint)spec.Bar4);
        Function.Write(0x24, 4, (uint)(spec.Bar4 >> 32));
        Function.Write(0x04, 2, PciFunction.CommandMemory);
        // Idle time is skipped to a transmit or peer event only while it could end in an interrupt.
        _txEvent = machine.Timers.Create("82599 transmit", FireTransmit, () => CouldInterrupt);
        _irqEvent = machine.Timers.Create("82599 interrupt throttle", FireThrottled);
        _rxEvent = machine.Timers.Create("82599 peer frame", FirePeer, () => CouldInterrupt);
        for (int v = 0; v < MsixVectors; v++) _msix[v * 4 + 3] = 1; // vector control: masked
        Reset();
        Peer = spec.Peer ?? spec.PeerFactory?.Invoke() ?? new SinkPeer();
        Peer.Attach(this, _rxEvent);
    }

    public string Name => $"82599 00:{Slot:x2}.0";
    public PciFunction Function { get; }
    public int Slot { get; }
    public int Queues { get; }
    public ulong Mac { get; }
    public NetworkPeer Peer { get; }
    public long Hz => _hz;

    /// <summary>Accesses of registers the model keeps but does not interpret.</summary>
    public long UninterpretedAccesses { get; private set; }
    /// <summary>Frames dropped because a DMA failed (the queue was disabled).</summary>
    public long DmaErrors { get; private set; }
    /// <summary>Transmit descriptors skipped because they were not legacy descriptors (DEXT).</summary>
    public long UnsupportedDescriptors { get; private set; }
    /// <summary>Received frames dropped because they did not fit the queue's buffer.</summary>
    public long OversizeDrops { get; private set; }
    /// <summary>Received frames the MAC filter refused, or that arrived while reception was off.</summary>
    public long FilteredFrames { get; private set; }
    /// <summary>MSI-X messages sent.</summary>
    public long InterruptsSent { get; private set; }
    /// <summary>Frames sent and received (never cleared, unlike the statistics registers).</summary>
    public long FramesSent { get; private set; }
    public long FramesReceived { get; private set; }

    /// <summary>Modeled cycles a frame of <paramref name="bytes"/> (without CRC) occupies the 10 Gb/s wire, overhead included.</summary>
    public long WireCycles(int bytes) => WireCycles(bytes, _hz);

    /// <summary>The modeled cycles a frame of <paramref name="bytes"/> (without CRC) occupies the wire at a clock of <paramref name="hz"/>.</summary>
    public static long WireCycles(int bytes, long hz)
    {
        long bits = (long)(Math.Max(bytes, Frames.MinFrame) + WireOverhead) * 8;
        return (bits * hz + LineBitsPerSecond - 1) / LineBitsPerSecond;
    }

    private bool BusMaster => (Function.Command & PciFunction.CommandBusMaster) != 0;

    /// <summary>Device reset (CTRL.RST, datasheet 4.2.1.6): registers to their defaults, queues off, statistics zero.</summary>
    private void Reset()
    {
        Array.Clear(_regs);
        Array.Clear(_nextAllowed);
        _gorc = _gotc = 0;
        _txEvent.Cancel();
        _irqEvent.Cancel();
        _txWireFree = 0;
        _regs[DeviceStatus / 4] = LinkUpStatus | MasterEnableStatus;
        _regs[Links / 4] = LinksUp | Links10G;
        _regs[Eec / 4] = EecAutoReadDone;
        _regs[Rdrxctl / 4] = RdrxctlDmaIdone;
        _regs[Hlreg0 / 4] = 0x2ff1;
        // The EEPROM loads the MAC into RAL0/RAH0 (bytes in wire order, least significant first).
        uint ral = 0, rah = 0;
        for (int i = 0; i < 4; i++) ral |= (uint)((Mac >> (40 - 8 * i)) & 0xff) << (8 * i);
        for (int i = 0; i < 2; i++) rah |= (uint)((Mac >> (8 - 8 * i)) & 0xff) << (8 * i);
        _regs[Ral0 / 4] = ral;
        _regs[Rah0 / 4] = rah | RahValid;
        for (int q = 0; q < MaxQueues; q++) _regs[(Srrctl0 + q * RxQueueStride) / 4] = 2; // 2 KiB buffers
    }

    // ---- register access ----

    public ulong Read(Cpu? cpu, long now, ulong offset, int size)
    {
        if (size != 4 || (offset & 3) != 0) { UninterpretedAccesses++; return 0; }
        int r = (int)offset;
        uint v = _regs[r / 4];
        switch (r)
        {
            case Eicr:
                _regs[r / 4] = 0; // read to clear
                return v;
            case Eics: case Eimc: return 0; // write-only
            case Gprc or Gptc or Tpr or Tpt or Mpc0:
                _regs[r / 4] = 0;
                return v;
            case Gorcl: return (uint)_gorc;
            case Gorch: { uint h = (uint)(_gorc >> 32) & 0xf; _gorc = 0; return h; }
            case Gotcl: return (uint)_gotc;
            case Gotch: { uint h = (uint)(_gotc >> 32) & 0xf; _gotc = 0; return h; }
        }
        if (IsQueueStat(r)) { _regs[r / 4] = 0; return v; }
        if (!Interpreted(r)) UninterpretedAccesses++;
        return v;
    }

    private static bool IsQueueStat(int r) =>
        (r >= Qprc0 && r < Qprc0 + MaxQueues * RxQueueStride && (r - Qprc0) % RxQueueStride == 0)
        || (r >= Qprdc0 && r < Qprdc0 + MaxQueues * RxQueueStride && (r - Qprdc0) % RxQueueStride == 0)
        || (r >= Qptc0 && r < Qptc0 + MaxQueues * 4);

    private static bool Interpreted(int r) =>
        r is Ctrl or DeviceStatus or CtrlExt or Eec or Eiac or Eims or Eiam or Gpie or IvarMisc or Rdrxctl or Rxctrl or Hlreg0 or Autoc
            or Links or Dmatxctl or Fctrl or Mrqc or Ral0 or Rah0
        || (r >= Eitr0 && r < Eitr0 + EicrQueueBits * 4) || (r >= Ivar0 && r < Ivar0 + MaxQueues / 2 * 4)
        || (r >= Reta0 && r < Reta0 + 128) || (r >= Rssrk0 && r < Rssrk0 + 40)
        || (r >= Rdbal0 && r < Rdbal0 + MaxQueues * RxQueueStride && (r - Rdbal0) % RxQueueStride is 0 or 4 or 8 or 0x10 or 0x14 or 0x18 or 0x28)
        || (r >= Tdbal0 && r < Tdbal0 + MaxQueues * TxQueueStride && (r - Tdbal0) % TxQueueStride is 0 or 4 or 8 or 0x10 or 0x18 or 0x28);

    public void Write(Cpu? cpu, long now, ulong offset, int size, ulong value)
    {
        if (size != 4 || (offset & 3) != 0) { UninterpretedAccesses++; return; }
        int r = (int)offset;
        uint v = (uint)value;
        switch (r)
        {
            case Ctrl:
                if ((v & CtrlRst) != 0) { Reset(); return; } // self-clearing; the reset completes at once
                _regs[r / 4] = v & ~CtrlLrst;
                if ((v & CtrlMasterDisable) != 0) _regs[DeviceStatus / 4] &= ~MasterEnableStatus;
                else _regs[DeviceStatus / 4] |= MasterEnableStatus;
                return;
            case DeviceStatus or Links or Eec or Rdrxctl: return; // read-only
            case Eicr: _regs[r / 4] &= ~v; return; // write 1 to clear
            case Eics: Cause(v, now); return;
            case Eims: _regs[Eims / 4] |= v; Signal(now); return;
            case Eimc: _regs[Eims / 4] &= ~v; return;
            case Gprc or Gptc or Tpr or Tpt or Mpc0 or Gorcl or Gorch or Gotcl or Gotch: return;
        }
        if (IsQueueStat(r)) return;
        if (!Interpreted(r)) UninterpretedAccesses++;
        if (r >= Tdbal0 && r < Tdbal0 + MaxQueues * TxQueueStride)
        {
            int q = (r - Tdbal0) / TxQueueStride, reg = (r - Tdbal0) % TxQueueStride;
            if (q >= Queues) { UninterpretedAccesses++; return; }
            if (reg == 8) v &= 0xfff80; // TDLEN: a multiple of 128 bytes
            if (reg is 0x10 or 0x18) v &= 0xffff;
            if (reg == 0) v &= ~0x7fu;
            _regs[r / 4] = v;
            if (reg is 0x18 or 0x28) KickTransmit(now);
            return;
        }
        if (r >= Rdbal0 && r < Rdbal0 + MaxQueues * RxQueueStride)
        {
            int q = (r - Rdbal0) / RxQueueStride, reg = (r - Rdbal0) % RxQueueStride;
            if (q >= Queues) { UninterpretedAccesses++; return; }
            if (reg == 8) v &= 0xfff80;
            if (reg is 0x10 or 0x18) v &= 0xffff;
            if (reg == 0) v &= ~0x7fu;
            _regs[r / 4] = v;
            return;
        }
        _regs[r / 4] = v;
        if (r == Dmatxctl) KickTransmit(now);
        // EITR without CNT_WDIS (bit 31) resets the vector's interval counter: its next message may go at once.
        if (r >= Eitr0 && r < Eitr0 + EicrQueueBits * 4 && (v & (1u << 31)) == 0)
        {
            _nextAllowed[(r - Eitr0) / 4] = now;
            Signal(now);
        }
    }

    private uint Reg(int r) => _regs[r / 4];
    private ref uint RegRef(int r) => ref _regs[r / 4];

    // ---- transmit ----

    private bool TxQueueReady(int q) =>
        (Reg(Txdctl0 + q * TxQueueStride) & QueueEnable) != 0 && Reg(Tdh0 + q * TxQueueStride) != Reg(Tdt0 + q * TxQueueStride)
        && Reg(Tdlen0 + q * TxQueueStride) != 0;

    /// <summary>A tail moved or a queue was enabled: the transmitter starts once the wire is free.</summary>
    private void KickTransmit(long now)
    {
        if (_txEvent.Armed || (Reg(Dmatxctl) & TxEnable) == 0 || !BusMaster) return;
        for (int q = 0; q < Queues; q++)
            if (TxQueueReady(q)) { _txEvent.Arm(Math.Max(now, _txWireFree)); return; }
    }

    /// <summary>
    /// The transmitter at <paramref name="now"/>: the next queue with work (round robin) gives one
    /// frame: its descriptors from TDH up to EOP are fetched, their buffers gathered, the
    /// descriptors with RS written back (DD), TDH advanced, and the frame put on the wire; it
    /// reaches the peer when its last bit has left, and the next frame starts then.
    /// </summary>
    private void FireTransmit(long now)
    {
        if ((Reg(Dmatxctl) & TxEnable) == 0 || !BusMaster) return;
        for (int i = 0; i < Queues; i++)
        {
            int q = (_txNextQueue + i) % Queues;
            if (!TxQueueReady(q)) continue;
            _txNextQueue = (q + 1) % Queues;
            int length = TransmitOne(q, now);
            if (length < 0) { KickTransmit(now); return; }
            long end = now + WireCycles(length);
            _txWireFree = end;
            FramesSent++;
            RegRef(Gptc)++;
            RegRef(Tpt)++;
            RegRef(Qptc0 + 4 * q)++;
            _gotc += (ulong)length + 4;
            Peer.FromNic(_frame.AsSpan(0, length), end);
            _txEvent.Arm(end);
            return;
        }
    }

    /// <summary>One frame from queue <paramref name="q"/> into the frame buffer; its length, or -1 (nothing sent).</summary>
    private int TransmitOne(int q, long now)
    {
        int b = q * TxQueueStride;
        ulong ring = (ulong)Reg(Tdbah0 + b) << 32 | Reg(Tdbal0 + b);
        uint count = Reg(Tdlen0 + b) / 16;
        uint head = Reg(Tdh0 + b), tail = Reg(Tdt0 + b);
        if (head >= count || tail >= count) { QueueError(Txdctl0 + b); return -1; }
        int length = 0;
        uint at = head;
        bool eop = false, report = false, skip = false;
        byte cso = 0, css = 0;
        bool insertChecksum = false;
        Span<uint> used = stackalloc uint[64];
        int nUsed = 0;
        while (!eop)
        {
            if (at == tail) return -1; // the rest of the frame is not there yet
            if (nUsed == used.Length) { QueueError(Txdctl0 + b); return -1; }
            if (!_machine.Dma.Read(_requester, ring + at * 16, _descriptor, now)) { QueueError(Txdctl0 + b); return -1; }
            ulong buffer = BinaryPrimitives.ReadUInt64LittleEndian(_descriptor);
            int len = BinaryPrimitives.ReadUInt16LittleEndian(_descriptor.AsSpan(8));
            byte cmd = _descriptor[11];
            if ((cmd & TxCmdDext) != 0) skip = true;
            if ((cmd & TxCmdIc) != 0) { insertChecksum = true; cso = _descriptor[10]; css = _descriptor[13]; }
            if (!skip && length + len <= _frame.Length)
            {
                if (!_machine.Dma.Read(_requester, buffer, _frame.AsSpan(length, len), now)) { QueueError(Txdctl0 + b); return -1; }
                length += len;
            }
            else skip = true;
            eop = (cmd & TxCmdEop) != 0;
            report |= (cmd & TxCmdRs) != 0;
            used[nUsed++] = at | (uint)((cmd & TxCmdRs) != 0 ? 1u << 31 : 0);
            at = (at + 1) % count;
        }
        // Write-back: DD in the status byte of each descriptor that asked for it.
        for (int i = 0; i < nUsed; i++)
        {
            if ((used[i] & (1u << 31)) == 0) continue;
            if (!_machine.Dma.Write(_requester, ring + (used[i] & 0xffff) * 16 + 12, [TxStaDd], now)) { QueueError(Txdctl0 + b); return -1; }
        }
        RegRef(Tdh0 + b) = at;
        if (report) QueueCause(q, rx: false, now);
        if (skip) { UnsupportedDescriptors++; return -1; }
        // Legacy checksum insertion (datasheet 7.2.4.2): the ones' complement sum from CSS to the end, what is
        // at CSO included (a driver seeds it with the pseudo-header sum), inserted at CSO.
        if (insertChecksum && css < length && cso + 2 <= length)
            BinaryPrimitives.WriteUInt16BigEndian(_frame.AsSpan(cso), Frames.Checksum(_frame.AsSpan(css, length - css), 0));
        if (length < Frames.MinFrame) { _frame.AsSpan(length, Frames.MinFrame - length).Clear(); length = Frames.MinFrame; }
        return length;
    }

    private void QueueError(int controlRegister)
    {
        DmaErrors++;
        RegRef(controlRegister) &= ~QueueEnable;
    }

    // ---- receive ----

    /// <summary>
    /// A frame from the peer, its last bit arrived at <paramref name="now"/>: filtered, steered (RSS), and written to a receive buffer.
    /// </summary>
    internal void Receive(ReadOnlySpan<byte> frame, long now)
    {
        if ((Reg(Rxctrl) & RxEnable) == 0 || !Accepts(frame)) { FilteredFrames++; return; }
        int q = SteerQueue(frame);
        int b = q * RxQueueStride;
        uint count = Reg(Rdlen0 + b) / 16;
        uint head = Reg(Rdh0 + b), tail = Reg(Rdt0 + b);
        if ((Reg(Rxdctl0 + b) & QueueEnable) == 0 || count == 0 || head == tail || !BusMaster || head >= count)
        {
            RegRef(Mpc0)++;
            RegRef(Qprdc0 + b)++;
            return;
        }
        int buffer = (int)(Reg(Srrctl0 + b) & 0x1f) * 1024;
        if (buffer == 0) buffer = 2048;
        if (frame.Length > buffer) { OversizeDrops++; return; }
        ulong ring = (ulong)Reg(Rdbah0 + b) << 32 | Reg(Rdbal0 + b);
        ulong at = ring + head * 16;
        if (!_machine.Dma.Read64(_requester, at, now, out ulong address) || !_machine.Dma.Write(_requester, address, frame, now))
        {
            QueueError(Rxdctl0 + b);
            return;
        }
        // Legacy receive descriptor write-back (datasheet 7.1.6.1): length, checksum, status DD|EOP, errors, VLAN.
        Span<byte> wb = stackalloc byte[8];
        BinaryPrimitives.WriteUInt16LittleEndian(wb, (ushort)frame.Length);
        wb[4] = RxStaDd | RxStaEop;
        if (!_machine.Dma.Write(_requester, at + 8, wb, now)) { QueueError(Rxdctl0 + b); return; }
        RegRef(Rdh0 + b) = (head + 1) % count;
        FramesReceived++;
        RegRef(Gprc)++;
        RegRef(Tpr)++;
        RegRef(Qprc0 + b)++;
        _gorc += (ulong)frame.Length + 4;
        QueueCause(q, rx: true, now);
    }

    private bool Accepts(ReadOnlySpan<byte> frame)
    {
        if (frame.Length < Frames.EthHeader) return false;
        if ((Reg(Fctrl) & FctrlUpe) != 0) return true;
        ulong dst = Frames.Mac(frame);
        if (dst == 0xffffffffffff) return (Reg(Fctrl) & FctrlBam) != 0;
        uint rah = Reg(Rah0);
        if ((rah & RahValid) == 0) return false;
        ulong mac = 0;
        uint ral = Reg(Ral0);
        for (int i = 0; i < 4; i++) mac = mac << 8 | ((ral >> (8 * i)) & 0xff);
        for (int i = 0; i < 2; i++) mac = mac << 8 | ((rah >> (8 * i)) & 0xff);
        return dst == mac;
    }

    /// <summary>MRQC.MRQE = 1 (RSS): RETA[Toeplitz hash &amp; 127] for IPv4 UDP/TCP (datasheet 7.1.2.8); otherwise queue 0.</summary>
    private int SteerQueue(ReadOnlySpan<byte> f)
    {
        if ((Reg(Mrqc) & 0xf) != 1 || f.Length < Frames.EthHeader + Frames.IpHeader + 4) return 0;
        if (BinaryPrimitives.ReadUInt16BigEndian(f[12..]) != Frames.EtherTypeIpv4) return 0;
        var ip = f[Frames.EthHeader..];
        int ihl = (ip[0] & 0xf) * 4;
        bool ports = (ip[9] is 6 or 17) && ip.Length >= ihl + 4;
        Span<byte> input = stackalloc byte[12];
        ip.Slice(12, 8).CopyTo(input);
        if (ports) ip.Slice(ihl, 4).CopyTo(input[8..]);
        Span<byte> key = stackalloc byte[40];
        for (int i = 0; i < 10; i++) BinaryPrimitives.WriteUInt32LittleEndian(key[(4 * i)..], Reg(Rssrk0 + 4 * i));
        uint hash = Toeplitz(key, ports ? input : input[..8]);
        int entry = (int)(hash & 0x7f);
        int q = (int)(Reg(Reta0 + (entry & ~3)) >> (8 * (entry & 3))) & 0xf;
        return q < Queues ? q : 0;
    }

    /// <summary>The Toeplitz hash of <paramref name="input"/> under the 40-byte <paramref name="key"/> (Microsoft RSS specification).</summary>
    internal static uint Toeplitz(ReadOnlySpan<byte> key, ReadOnlySpan<byte> input)
    {
        uint result = 0;
        ulong window = BinaryPrimitives.ReadUInt64BigEndian(key);
        int nextKeyBit = 64;
        foreach (byte x in input)
            for (int bit = 7; bit >= 0; bit--)
            {
                if ((x >> bit & 1) != 0) result ^= (uint)(window >> 32);
                window <<= 1;
                if (nextKeyBit < 320) window |= (uint)(key[nextKeyBit / 8] >> (7 - nextKeyBit % 8)) & 1u;
                nextKeyBit++;
            }
        return result;
    }

    // ---- interrupts ----

    /// <summary>The IVAR entry of queue <paramref name="q"/> (datasheet 8.2.3.10.2): valid bit 7, vector bits 5:0.</summary>
    private void QueueCause(int q, bool rx, long now)
    {
        uint ivar = Reg(Ivar0 + q / 2 * 4) >> (16 * (q & 1) + (rx ? 0 : 8));
        if ((ivar & 0x80) == 0) return;
        int vector = (int)(ivar & 0x3f);
        if (vector >= EicrQueueBits) return;
        Cause(1u << vector, now);
    }

    private void Cause(uint bits, long now)
    {
        RegRef(Eicr) |= bits;
        Signal(now);
    }

    /// <summary>
    /// Sends the message of each vector whose cause is set and unmasked, once its throttling
    /// interval (EITR) since its last message has passed; otherwise the throttle event sends it then.
    /// </summary>
    private void Signal(long now)
    {
        uint ready = Reg(Eicr) & Reg(Eims) & ((1u << EicrQueueBits) - 1);
        if (ready == 0 || (Reg(Gpie) & GpieMsix) == 0 || !MsixEnabled) return;
        long wait = long.MaxValue;
        for (int v = 0; v < EicrQueueBits; v++)
        {
            if ((ready & (1u << v)) == 0) continue;
            if (now < _nextAllowed[v]) { wait = Math.Min(wait, _nextAllowed[v]); continue; }
            long interval = (Reg(Eitr0 + 4 * v) & 0xff8) * 256L * _hz / 1_000_000_000;
            _nextAllowed[v] = now + interval;
            Send(v, now);
        }
        if (wait != long.MaxValue && (!_irqEvent.Armed || wait < _irqEvent.When)) _irqEvent.Arm(wait);
    }

    private void FireThrottled(long now) => Signal(now);

    /// <summary>Some vector is enabled (EIMS) in MSI-X mode with MSI-X on: a frame may end in a message.</summary>
    private bool CouldInterrupt => (Reg(Eims) & ((1u << EicrQueueBits) - 1)) != 0 && (Reg(Gpie) & GpieMsix) != 0 && MsixEnabled;

    private ushort MsixControl => BinaryPrimitives.ReadUInt16LittleEndian(Function.Config[(_msixCap + 2)..]);
    private bool MsixEnabled => (MsixControl & 0x8000) != 0;

    private void Send(int v, long now)
    {
        // Auto-clear (EIAC) and, with GPIE.EIAME, auto-mask (EIAM) on sending (datasheet 7.3.1.4).
        RegRef(Eicr) &= ~(Reg(Eiac) & (1u << v));
        if ((Reg(Gpie) & GpieEiame) != 0) RegRef(Eims) &= ~(Reg(Eiam) & (1u << v));
        if ((MsixControl & 0x4000) != 0 || (_msix[v * 4 + 3] & 1) != 0) { _pba |= 1UL << v; return; }
        DeliverMsix(v, now);
    }

    private void DeliverMsix(int v, long now)
    {
        _pba &= ~(1UL << v);
        uint address = _msix[v * 4], data = _msix[v * 4 + 2];
        if ((address & 0xfff00000u) != 0xfee00000u) return; // not an interrupt message: nowhere to go
        InterruptsSent++;
        _machine.DeliverInterrupt((address >> 12) & 0xff, (address & 4) != 0, (int)(data >> 8) & 7, (int)(data & 0xff), false, now);
    }

    /// <summary>BAR4: the MSI-X table (16 bytes a vector: address, upper address, data, vector control) and the PBA at 0x2000.</summary>
    private sealed class MsixBar(Ixgbe82599 nic) : IMmioDevice
    {
        public ulong Read(Cpu? cpu, long now, ulong offset, int size)
        {
            if (offset >= 0x2000) return offset - 0x2000 < 8 && size <= 8 ? nic._pba >> (int)(8 * (offset - 0x2000)) : 0;
            ulong i = offset / 4;
            if (i >= (ulong)nic._msix.Length) return 0;
            ulong v = nic._msix[i];
            if (size == 8 && i + 1 < (ulong)nic._msix.Length) v |= (ulong)nic._msix[i + 1] << 32;
            return v;
        }

        public void Write(Cpu? cpu, long now, ulong offset, int size, ulong value)
        {
            if (offset >= 0x2000 || (size != 4 && size != 8)) return;
            int i = (int)(offset / 4);
            for (int k = 0; k < size / 4 && i + k < nic._msix.Length; k++)
            {
                int at = i + k;
                nic._msix[at] = (uint)(value >> (32 * k));
                // Unmasking a vector with its pending bit set sends the message (PCI 3.0 6.8.2.9).
                if (at % 4 == 3 && (nic._msix[at] & 1) == 0 && (nic._pba & (1UL << (at / 4))) != 0) nic.DeliverMsix(at / 4, now);
            }
        }
    }

    // ---- the peer's frames ----

    private void FirePeer(long now) => Peer.Fire(now);
}

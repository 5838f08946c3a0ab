using System.Buffers.Binary;

namespace Lvd.Machine.Devices.Nic;

/// <summary>
/// The far side of the NIC's cable, modeled in C#: deterministic, in modeled time. It hears every
/// frame the NIC transmits (<see cref="FromNic"/>, when its last bit arrives) and sends frames to
/// the NIC through <see cref="Send"/>, which paces them at 10 Gb/s line rate on its own wire (a
/// FIFO of at most <see cref="Backlog"/> frames; more are dropped and counted). Every frame heard is
/// checked (IPv4 header and UDP checksums) and folded into <see cref="Digest"/>.
/// </summary>
public abstract class NetworkPeer
{
    public const ulong DefaultMac = 0x020000000002;
    /// <summary>10.0.0.1: the peer; 10.0.0.2: the machine (the guest kernel's address, docs/KERNEL.md).</summary>
    public const uint DefaultIp = 0x0a000001, MachineIp = 0x0a000002;
    public const int Backlog = 256;

    private readonly byte[][] _fifo = new byte[Backlog][];
    private readonly int[] _lengths = new int[Backlog];
    private readonly long[] _arrivals = new long[Backlog];
    private int _head, _count;
    private long _wireFree;
    private TimedEvent? _event;

    protected Ixgbe82599 Nic { get; private set; } = null!;

    public ulong PeerMac { get; init; } = DefaultMac;
    public uint PeerIp { get; init; } = DefaultIp;

    public long FramesHeard { get; private set; }
    public long BytesHeard { get; private set; }
    public long UdpHeard { get; private set; }
    /// <summary>Frames heard whose IPv4 header or UDP checksum was wrong, or that were truncated.</summary>
    public long BadFrames { get; private set; }
    public long FramesSent { get; private set; }
    public long SendDrops { get; private set; }
    /// <summary>Modeled time of the first and last frame heard.</summary>
    public long FirstHeard { get; private set; } = -1;
    public long LastHeard { get; private set; }
    /// <summary>FNV-1a over every frame heard and its arrival time (determinism checks).</summary>
    public ulong Digest { get; private set; } = 14695981039346656037UL;

    internal void Attach(Ixgbe82599 nic, TimedEvent deliver)
    {
        if (Nic != null) throw new InvalidOperationException("this peer is already another NIC's far side (NicSpec.PeerFactory: one per machine)");
        Nic = nic;
        _event = deliver;
        for (int i = 0; i < Backlog; i++) _fifo[i] = new byte[Frames.MaxFrame + 4];
        Started();
    }

    /// <summary>The NIC exists: a generator arms its first frame here.</summary>
    protected virtual void Started() { }

    /// <summary>A frame from the NIC, complete at <paramref name="time"/>.</summary>
    internal void FromNic(ReadOnlySpan<byte> frame, long time)
    {
        if (FirstHeard < 0) FirstHeard = time;
        LastHeard = time;
        FramesHeard++;
        BytesHeard += frame.Length;
        ulong h = Digest;
        foreach (byte b in frame) h = (h ^ b) * 1099511628211UL;
        for (int i = 0; i < 8; i++) h = (h ^ (byte)(time >> (8 * i))) * 1099511628211UL;
        Digest = h;
        var kind = Frames.Parse(frame, out var udp);
        if (kind is Frames.Kind.BadIpChecksum or Frames.Kind.BadUdpChecksum or Frames.Kind.Truncated) BadFrames++;
        if (kind == Frames.Kind.Udp)
        {
            UdpHeard++;
            Heard(frame, udp, time);
        }
    }

    /// <summary>A well-formed UDP datagram heard at <paramref name="time"/> (the echo responder answers here).</summary>
    protected virtual void Heard(ReadOnlySpan<byte> frame, Frames.UdpView udp, long time) { }

    /// <summary>Puts a frame on the wire to the NIC no earlier than <paramref name="time"/>; false if the backlog is full.</summary>
    protected bool Send(ReadOnlySpan<byte> frame, long time)
    {
        if (_count == Backlog || frame.Length > Frames.MaxFrame + 4) { SendDrops++; return false; }
        long start = Math.Max(time, _wireFree);
        long end = start + Nic.WireCycles(frame.Length);
        _wireFree = end;
        int slot = (_head + _count) % Backlog;
        frame.CopyTo(_fifo[slot]);
        _lengths[slot] = frame.Length;
        _arrivals[slot] = end;
        if (_count++ == 0) _event!.Arm(end);
        FramesSent++;
        return true;
    }

    /// <summary>When the wire to the NIC is free again.</summary>
    protected long WireFree => _wireFree;

    /// <summary>The peer's event: the head frame reaches the NIC; or a subclass's own timing (<see cref="Tick"/>).</summary>
    internal void Fire(long now)
    {
        while (_count > 0 && _arrivals[_head] <= now)
        {
            int slot = _head;
            _head = (_head + 1) % Backlog;
            _count--;
            Nic.Receive(_fifo[slot].AsSpan(0, _lengths[slot]), _arrivals[slot]);
        }
        Tick(now);
        long next = _count > 0 ? _arrivals[_head] : long.MaxValue;
        long own = NextTick;
        if (own < next) next = own;
        if (next != long.MaxValue) _event!.Arm(next);
    }

    /// <summary>A subclass's next own event (a generator's next frame), or long.MaxValue.</summary>
    protected virtual long NextTick => long.MaxValue;

    /// <summary>Called at each event after the due frames were delivered.</summary>
    protected virtual void Tick(long now) { }

    /// <summary>Arms the peer's event for <paramref name="when"/> if nothing earlier is pending.</summary>
    protected void Wake(long when)
    {
        if (!_event!.Armed || when < _event.When) _event.Arm(when);
    }
}

/// <summary>A sink: hears and checks every frame, sends nothing.</summary>
public sealed class SinkPeer : NetworkPeer;

/// <summary>
/// A packet generator: UDP datagrams of <see cref="FrameBytes"/> bytes (headers included, without
/// CRC) to the machine's address and <see cref="DestinationPort"/>, from <see cref="Flows"/> source
/// ports in turn (so RSS spreads them), at <see cref="PacketsPerSecond"/> of modeled time (0: line
/// rate), from <see cref="Start"/>, <see cref="Count"/> frames (0: without end). The payload is a
/// counter pattern the receiver can check: its first 8 bytes are the sequence number.
/// </summary>
public sealed class GeneratorPeer : NetworkPeer
{
    public int FrameBytes { get; init; } = Frames.MaxFrame;
    public int Flows { get; init; } = 1;
    public long PacketsPerSecond { get; init; }
    public long Start { get; init; }
    public long Count { get; init; }
    public ushort DestinationPort { get; init; } = 9;
    public ushort FirstSourcePort { get; init; } = 10000;
    public ulong DestinationMac { get; init; } = Ixgbe82599.DefaultMac;

    private readonly byte[] _frame = new byte[Frames.MaxFrame];
    private readonly byte[] _payload = new byte[Frames.MaxFrame];
    private long _next = long.MaxValue, _sequence;

    protected override void Started()
    {
        if (FrameBytes < Frames.MinFrame || FrameBytes > Frames.MaxFrame) throw new ArgumentOutOfRangeException(nameof(FrameBytes));
        if (Flows < 1) throw new ArgumentOutOfRangeException(nameof(Flows));
        _next = Start;
        Wake(Start);
    }

    protected override long NextTick => _next;

    protected override void Tick(long now)
    {
        if (now < _next) return;
        int payload = Math.Max(0, FrameBytes - Frames.Headers);
        BinaryPrimitives.WriteInt64LittleEndian(_payload, _sequence);
        for (int i = 8; i < payload; i++) _payload[i] = (byte)(_sequence + i);
        int length = Frames.BuildUdp(_frame, DestinationMac, PeerMac, PeerIp, MachineIp, (ushort)(FirstSourcePort + _sequence % Flows),
            DestinationPort, FrameBytes, _payload.AsSpan(0, payload));
        Send(_frame.AsSpan(0, length), now);
        _sequence++;
        long gap = PacketsPerSecond == 0 ? 0 : Nic.Hz / PacketsPerSecond;
        // The next frame when its interval has passed and the wire is free (never faster than line rate).
        _next = Count != 0 && _sequence >= Count ? long.MaxValue : Math.Max(now + gap, WireFree);
    }

    public long Generated => _sequence;
}

/// <summary>
/// A UDP echo responder (netperf UDP_RR's far side): each datagram to its address is sent back to
/// its source with the addresses and ports swapped, the payload unchanged, after
/// <see cref="TurnaroundCycles"/> of modeled time.
/// </summary>
public sealed class EchoPeer : NetworkPeer
{
    public long TurnaroundCycles { get; init; }
    private readonly byte[] _frame = new byte[Frames.MaxFrame + 4];

    public long Echoed { get; private set; }

    protected override void Heard(ReadOnlySpan<byte> frame, Frames.UdpView udp, long time)
    {
        if (udp.DstIp != PeerIp) return;
        int length = Frames.BuildUdp(_frame, udp.SrcMac, PeerMac, PeerIp, udp.SrcIp, udp.DstPort, udp.SrcPort, 0,
            frame.Slice(udp.PayloadOffset, udp.PayloadLength));
        if (Send(_frame.AsSpan(0, length), time + TurnaroundCycles)) Echoed++;
    }
}

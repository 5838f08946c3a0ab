using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Lvd.Machine;
using Lvd.Machine.Diagnostics;
using Lvd.Machine.Execution;

namespace Lvd.Debugging;

/// <summary>An ELF image the guest runs besides the main one (an LVD domain), for gdb's library list.</summary>
public sealed record DebugImage(string Name, string ElfPath);

/// <summary>
/// A GDB remote serial protocol stub over TCP (docs/DEBUGGING.md): all-stop, each vCPU a thread
/// (thread id = vCPU + 1), registers of long mode plus segment bases, control registers, EFER and
/// the VMX state (target description), memory through the selected vCPU's translation, breakpoints
/// (Z0, Z1), watchpoints (Z2-Z4), steps, continue, Ctrl-C, kill, detach, the domains' ELF images
/// as libraries (qXfer:libraries) and `monitor` commands (<see cref="GdbMonitor"/>). It drives
/// the machine only through <see cref="DebugControl"/>, on the machine's thread.
/// </summary>
public sealed class GdbStub : IDisposable
{
    private Machine.Machine _machine;
    private readonly IReadOnlyList<DebugImage> _images;
    private readonly TcpListener _listener;
    private TcpClient? _client;
    private Stream? _stream;
    private readonly object _writeLock = new();
    private readonly BlockingCollection<byte[]?> _packets = new();
    private DebugControl? _debug;
    private GdbMonitor? _monitor;
    /// <summary>gdb waits for a stop reply (after c, s, vCont).</summary>
    private volatile bool _running;
    private bool _detached, _killed;
    /// <summary>Thread (vCPU) for registers and memory (Hg), and the vCPU of the last stop.</summary>
    private int _gThread, _stopThread;
    private string _lastStop = "S05";

    /// <summary>What a reverse request replays the run from power-on for: one position, the scan for the last hit, or the start.</summary>
    private enum ReplayKind { ToPosition, ScanForHit, ToStart }

    /// <summary>
    /// A reverse request's replay. <see cref="Start"/>: the snapshot it starts from (null: power-on), chosen when the
    /// replay begins, or for a scan after <see cref="FailedScans"/> scans without a hit, chosen by that failure.
    /// </summary>
    private sealed record Replay(ReplayKind Kind, RunPosition Target, DebugStop Report, ulong[] Breakpoints,
        (ulong Address, int Length, WatchKind Kind)[] Watchpoints)
    {
        public MachineSnapshot? Start { get; init; }
        public int FailedScans { get; init; }
    }

    private Replay? _replay;
    /// <summary>gdb wrote registers or memory: a replay would not reach the state gdb saw.</summary>
    private bool _modified;

    /// <summary>The run was ended for a reverse request: run it again from power-on and call <see cref="Rebind"/> in its setup.</summary>
    public bool ReplayPending => _replay != null;

    public int Port { get; }

    private readonly SnapshotStore _snapshots;
    private readonly ReplayOutput? _output;

    /// <summary>Listens on 127.0.0.1:<paramref name="port"/> (0: any free port).</summary>
    /// <param name="snapshots">Where replays start (null: always power-on).</param>
    /// <param name="output">The guest's output across replays, told where a replay from a snapshot resumes it.</param>
    public GdbStub(Machine.Machine machine, int port, IReadOnlyList<DebugImage> images, SnapshotStore? snapshots = null, ReplayOutput? output = null)
    {
        _machine = machine;
        _images = images;
        _snapshots = snapshots ?? new SnapshotStore(0);
        _output = output;
        _listener = new TcpListener(IPAddress.Loopback, port);
        _listener.Start();
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
    }

    /// <summary>Waits for gdb, then serves it until it resumes the machine (before the first instruction).</summary>
    public void WaitForGdb()
    {
        _client = _listener.AcceptTcpClient();
        _client.NoDelay = true;
        _listener.Stop();
        _stream = _client.GetStream();
        _debug = _machine.AttachDebugger(OnStopped);
        _monitor = new GdbMonitor(_machine, _images, _snapshots);
        _snapshots.Attach(_machine);
        var reader = new Thread(ReadLoop) { IsBackground = true, Name = "gdb reader" };
        reader.Start();
        Serve();
    }

    private void ReadLoop()
    {
        var reader = new GdbPacketReader(_stream!);
        try
        {
            while (true)
            {
                var p = reader.Next(Ack);
                if (p == null)
                {
                    if (_running) _debug!.RequestBreak();
                    continue;
                }
                _packets.Add(p);
            }
        }
        catch (Exception e) when (e is IOException or EndOfStreamException or ObjectDisposedException or SocketException)
        {
            _packets.CompleteAdding();
            // gdb went away while the guest runs: let it run on without the debugger.
            if (_running) _debug?.Clear();
        }
    }

    private void Ack(byte b)
    {
        lock (_writeLock) { try { _stream!.WriteByte(b); } catch (IOException) { } }
    }

    private void Send(string payload)
    {
        var bytes = GdbPacket.Frame(payload);
        lock (_writeLock) { try { _stream!.Write(bytes); _stream.Flush(); } catch (IOException) { } }
    }

    /// <summary>
    /// The setup of a replay (<see cref="ReplayPending"/>): the stub serves the new machine, restored to the latest
    /// snapshot before where the reverse request goes (none: from power-on), with the same breakpoints and
    /// watchpoints, and stops it there.
    /// </summary>
    public void Rebind(Machine.Machine machine)
    {
        var r = _replay ?? throw new InvalidOperationException("no replay was asked for");
        _machine = machine;
        _debug = machine.AttachDebugger(OnStopped);
        _monitor = new GdbMonitor(machine, _images, _snapshots);
        if (r.Kind != ReplayKind.ToStart)
        {
            var start = r.FailedScans > 0 ? r.Start : _snapshots.Before(r.Target);
            _replay = r = r with { Start = start };
            Console.Error.WriteLine(start == null ? "lvd: reverse execution: replaying from power-on"
                : $"lvd: reverse execution: replaying from the snapshot at cycle {start.Time:N0}");
            if (start != null)
            {
                try
                {
                    start.RestoreInto(machine);
                    _output?.ResumeAt(machine.Serial.BytesWritten);
                }
                catch (SnapshotException e)
                {
                    // The machine is half restored: end this run, and replay from power-on from now on.
                    _snapshots.Disable(e.Message);
                    Console.Error.WriteLine($"lvd: snapshots are off, reverse execution replays from power-on: {e.Message}");
                    _replay = r with { Start = null, FailedScans = 0 };
                    machine.StopFromDebugger("lvd: the run is replayed from power-on (gdb reverse execution)");
                    return;
                }
            }
        }
        _snapshots.Attach(machine);
        foreach (ulong b in r.Breakpoints) _debug.AddBreakpoint(b);
        foreach (var (address, length, kind) in r.Watchpoints) _debug.AddWatchpoint(address, length, kind);
        switch (r.Kind)
        {
            case ReplayKind.ToStart:
                _replay = null;
                _stopThread = _gThread = 0;
                _lastStop = "T05replaylog:begin;thread:1;";
                _running = false;
                Send(_lastStop);
                Serve();
                break;
            default:
                // On the way, breakpoints and watchpoints are passed (and listed for a scan).
                _debug.RecordHits();
                _debug.RunTo(r.Target);
                break;
        }
    }

    /// <summary>
    /// `bs` and `bc`: ends this run and asks for a replay from power-on (the machine is
    /// deterministic): to the boundary before the selected vCPU's last instruction, or, for
    /// reverse-continue, first to here while listing breakpoint and watchpoint hits, then to the last of them.
    /// </summary>
    private bool Reverse(bool toHit, out string? reply)
    {
        reply = null;
        if (_finished) { reply = "E01"; return false; }
        if (_modified) { reply = "E02"; return false; }
        var cpu = Selected;
        var bps = _debug!.Breakpoints.ToArray();
        var watches = _debug.Watchpoints.ToArray();
        var here = new RunPosition(cpu.Id, cpu.Instructions);
        if (!toHit && cpu.Instructions == 0)
        {
            _lastStop = $"T05replaylog:begin;thread:{cpu.Id + 1:x};";
            reply = _lastStop;
            return false;
        }
        _replay = toHit
            ? new Replay(ReplayKind.ScanForHit, here, default, bps, watches)
            : new Replay(ReplayKind.ToPosition, here with { Instructions = cpu.Instructions - 1 }, new DebugStop(DebugStopReason.Step), bps, watches);
        _debug.Clear();
        _running = true;
        _machine.StopFromDebugger("lvd: the run is replayed from power-on (gdb reverse execution)");
        return true;
    }

    private void OnStopped(Cpu cpu, DebugStop stop)
    {
        if (_detached) return;
        if (stop.Reason == DebugStopReason.Position && _replay is { } r)
        {
            if (r.Kind == ReplayKind.ScanForHit)
            {
                // Here again: the last hit before here is where reverse-continue goes (none: the start).
                // None after a snapshot: scan again from an earlier one.
                var hits = _debug!.RecordHits();
                _replay = hits.Count > 0
                    ? r with { Kind = ReplayKind.ToPosition, Target = hits[^1].Position, Report = hits[^1].Stop, Start = null, FailedScans = 0 }
                    : r.Start == null ? r with { Kind = ReplayKind.ToStart }
                    : r with { FailedScans = r.FailedScans + 1, Start = _snapshots.Earlier(r.Start, r.FailedScans + 1) };
                _debug.Clear();
                _machine.StopFromDebugger("lvd: the run is replayed from power-on (gdb reverse execution)");
                return;
            }
            _replay = null;
            _debug!.EndRecording();
            stop = r.Report;
        }
        _stopThread = _gThread = cpu.Id;
        string why = stop.Reason switch
        {
            DebugStopReason.Watchpoint => (stop.Watch switch { WatchKind.Read => "rwatch", WatchKind.Access => "awatch",
                _ => "watch" }) + $":{stop.Address:x};",
            DebugStopReason.Breakpoint => "swbreak:;",
            _ => "",
        };
        // SIGINT for Ctrl-C, SIGTRAP otherwise (gdb's numbering: 2, 5).
        string signal = stop.Reason == DebugStopReason.Interrupt ? "02" : "05";
        _lastStop = $"T{signal}{why}thread:{cpu.Id + 1:x};";
        _running = false;
        Send(_lastStop);
        Serve();
    }

    /// <summary>
    /// The run ended: gdb hears the exit status, or (a crash, deadlock, runaway or hypervisor stop)
    /// stops at the end with SIGSEGV to look at the machine, and hears that the process ended when it resumes.
    /// </summary>
    public void RunFinished(RunOutcome outcome, int exitStatus)
    {
        if (_stream == null || _detached || _killed || _packets.IsAddingCompleted && _packets.Count == 0) { Close(); return; }
        if (outcome == RunOutcome.Exited)
        {
            Send($"W{exitStatus & 0xff:x2}");
            Close();
            return;
        }
        var crashed = Array.Find(_machine.Cpus, c => c.State == CpuState.Shutdown) ?? _machine.Cpus[0];
        _stopThread = _gThread = crashed.Id;
        _lastStop = $"T0bthread:{crashed.Id + 1:x};";
        if (_running) { _running = false; Send(_lastStop); }
        _finished = true;
        Serve();
        Send("X0b");
        Close();
    }

    private bool _finished;

    private void Close()
    {
        try { _client?.Close(); } catch (SocketException) { }
        _listener.Stop();
    }

    public void Dispose() => Close();

    /// <summary>Answers gdb's packets while the machine is stopped; returns when gdb resumes it.</summary>
    private void Serve()
    {
        while (true)
        {
            byte[]? p;
            try { p = _packets.Take(); }
            catch (InvalidOperationException) { _detached = true; _debug?.Clear(); return; } // gdb disconnected
            if (p == null) continue;
            string packet = Encoding.Latin1.GetString(p);
            if (Handle(packet, out string? reply)) { if (reply != null) Send(reply); return; }
            if (reply != null) Send(reply);
        }
    }

    private Cpu Selected => _machine.Cpus[Math.Clamp(_gThread, 0, _machine.Cpus.Length - 1)];

    /// <summary>One packet; true when the machine resumes (the reply, if any, was already decided).</summary>
    private bool Handle(string p, out string? reply)
    {
        reply = "";
        if (p.Length == 0) return false;
        switch (p[0])
        {
            case '?': reply = _lastStop; return false;
            case 'g': reply = GdbRegisters.ReadAll(Selected); return false;
            case 'G': reply = GdbRegisters.WriteAll(Selected, p[1..]) ? "OK" : "E01"; _modified |= reply == "OK"; return false;
            case 'p':
                reply = int.TryParse(p[1..], NumberStyles.HexNumber, null, out int rn) ? GdbRegisters.Read(Selected, rn) ?? "E01" : "E01";
                return false;
            case 'P':
            {
                int eq = p.IndexOf('=');
                reply = eq > 1 && int.TryParse(p[1..eq], NumberStyles.HexNumber, null, out int wn) && GdbRegisters.Write(Selected, wn,
                    p[(eq + 1)..]) ? "OK" : "E01";
                _modified |= reply == "OK";
                return false;
            }
            case 'm': reply = ReadMemory(p[1..]); return false;
            case 'M': reply = WriteMemory(p[1..]); _modified |= reply == "OK"; return false;
            case 'b' when p is "bs" or "bc": return Reverse(toHit: p == "bc", out reply);
            case 'H':
                if (p.Length > 2 && p[1] == 'g' && ParseThread(p[2..]) is int t) _gThread = t < 0 ? _stopThread : t;
                reply = "OK";
                return false;
            case 'T': reply = ParseThread(p[1..]) is int alive && alive < _machine.Cpus.Length ? "OK" : "E01"; return false;
            case 'c': reply = null; return Resume(step: null);
            case 's': reply = null; return Resume(step: Selected);
            case 'Z':
            case 'z': reply = Breakpoint(p); return false;
            case 'k':
                Kill();
                reply = null;
                return true;
            case 'D':
                _detached = true;
                _debug!.Clear();
                reply = "OK";
                return true;
            case 'v': return HandleV(p, out reply);
            case 'q': reply = Query(p); return false;
            case 'Q': reply = ""; return false;
            default: return false;
        }
    }

    private void Kill()
    {
        _killed = true;
        _debug!.Clear();
        if (!_finished) _machine.StopFromDebugger("lvd: the run was killed by the debugger (gdb kill)");
    }

    private bool Resume(Cpu? step)
    {
        if (_finished) { return true; }
        if (step != null) _debug!.Step(step);
        _running = true;
        return true;
    }

    private bool HandleV(string p, out string? reply)
    {
        reply = "";
        if (p == "vCont?") { reply = "vCont;c;C;s;S;t"; return false; }
        if (p.StartsWith("vKill", StringComparison.Ordinal)) { Kill(); reply = "OK"; return true; }
        if (!p.StartsWith("vCont;", StringComparison.Ordinal)) return false;
        reply = null;
        // Actions in order; the first that names a thread (or applies to all) wins for that thread.
        // Steps are per vCPU; every other vCPU runs on as scheduled (the schedule is the machine's).
        Cpu? step = null;
        foreach (var action in p[6..].Split(';'))
        {
            int colon = action.IndexOf(':');
            string verb = colon < 0 ? action : action[..colon];
            if (verb.Length == 0 || (verb[0] != 's' && verb[0] != 'S')) continue;
            int? thread = colon < 0 ? null : ParseThread(action[(colon + 1)..]);
            step ??= thread is int t && t >= 0 && t < _machine.Cpus.Length ? _machine.Cpus[t] : Selected;
        }
        return Resume(step);
    }

    /// <summary>A gdb thread id (hex, 1-based; -1 all, 0 any) as a vCPU index (-1 for all/any).</summary>
    private static int? ParseThread(string s)
    {
        if (s == "-1" || s == "0") return -1;
        if (s.StartsWith('p')) { int dot = s.IndexOf('.'); if (dot < 0) return -1; s = s[(dot + 1)..]; if (s == "-1" || s == "0") return -1; }
        return int.TryParse(s, NumberStyles.HexNumber, null, out int t) && t >= 1 ? t - 1 : null;
    }

    private static bool ParseAddressLength(string s, out ulong address, out ulong length)
    {
        length = 0;
        int comma = s.IndexOf(',');
        address = 0;
        return comma > 0 && GdbPacket.TryParseHex(s[..comma], out address) && GdbPacket.TryParseHex(s[(comma + 1)..], out length);
    }

    private string ReadMemory(string args)
    {
        if (!ParseAddressLength(args, out ulong address, out ulong length) || length > 0x10000) return "E01";
        var buffer = new byte[length];
        int n = Selected.DebugRead(address, buffer);
        return n == 0 && length > 0 ? "E14" : GdbPacket.ToHex(buffer.AsSpan(0, n));
    }

    private string WriteMemory(string args)
    {
        int colon = args.IndexOf(':');
        if (colon < 0 || !ParseAddressLength(args[..colon], out ulong address, out ulong length)) return "E01";
        var data = GdbPacket.FromHex(args[(colon + 1)..]);
        if (data == null || (ulong)data.Length != length) return "E01";
        return Selected.DebugWrite(address, data) == data.Length ? "OK" : "E14";
    }

    private string Breakpoint(string p)
    {
        // Z<type>,<addr>,<kind or length>
        var parts = p[1..].Split(',');
        if (parts.Length < 3 || !GdbPacket.TryParseHex(parts[1], out ulong address) || !GdbPacket.TryParseHex(parts[2].Split(';')[0], out ulong len))
            return "E01";
        bool add = p[0] == 'Z';
        var d = _debug!;
        switch (parts[0])
        {
            case "0":
            case "1":
                if (add) d.AddBreakpoint(address); else d.RemoveBreakpoint(address);
                return "OK";
            case "2":
            case "3":
            case "4":
            {
                if (len is < 1 or > 8) return "E01";
                var kind = parts[0] == "2" ? WatchKind.Write : parts[0] == "3" ? WatchKind.Read : WatchKind.Access;
                if (add) d.AddWatchpoint(address, (int)len, kind, Selected); else d.RemoveWatchpoint(address, (int)len, kind);
                return "OK";
            }
            default:
                return "";
        }
    }

    private string Query(string p)
    {
        if (p.StartsWith("qSupported", StringComparison.Ordinal))
            return "PacketSize=4000;qXfer:features:read+;qXfer:libraries:read+;vContSupported+;swbreak+;hwbreak+;ReverseStep+;ReverseContinue+";
        if (p == "qAttached") return "1";
        if (p == "qC") return $"QC{_stopThread + 1:x}";
        if (p == "qfThreadInfo") return "m" + string.Join(',', _machine.Cpus.Select(c => (c.Id + 1).ToString("x")));
        if (p == "qsThreadInfo") return "l";
        if (p.StartsWith("qThreadExtraInfo,", StringComparison.Ordinal))
        {
            int? t = ParseThread(p[17..]);
            if (t is not int id || id < 0 || id >= _machine.Cpus.Length) return "E01";
            return GdbPacket.ToHex(Encoding.UTF8.GetBytes(_monitor!.ThreadInfo(_machine.Cpus[id])));
        }
        if (p.StartsWith("qXfer:features:read:", StringComparison.Ordinal))
        {
            var rest = p[20..];
            int colon = rest.IndexOf(':');
            if (colon < 0 || rest[..colon] != "target.xml") return "E00";
            return Chunk(GdbRegisters.TargetXml, rest[(colon + 1)..]);
        }
        if (p.StartsWith("qXfer:libraries:read::", StringComparison.Ordinal)) return Chunk(_monitor!.LibraryListXml, p[22..]);
        if (p.StartsWith("qRcmd,", StringComparison.Ordinal))
        {
            var cmd = GdbPacket.FromHex(p[6..]);
            if (cmd == null) return "E01";
            return GdbPacket.ToHex(Encoding.UTF8.GetBytes(_monitor!.Run(Encoding.UTF8.GetString(cmd).Trim())));
        }
        if (p == "qSymbol::") return "OK";
        return "";
    }

    /// <summary>A qXfer read of [offset, offset + length) of a document: `m` and more follows, `l` for the last part.</summary>
    private static string Chunk(string document, string offsetLength)
    {
        if (!ParseAddressLength(offsetLength, out ulong offset, out ulong length)) return "E00";
        if (offset >= (ulong)document.Length) return "l";
        int n = (int)Math.Min(length, (ulong)document.Length - offset);
        return (offset + (ulong)n >= (ulong)document.Length ? "l" : "m") + document.Substring((int)offset, n);
    }
}

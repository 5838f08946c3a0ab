using Lvd.Machine.Decoding;
using Lvd.Machine.Execution;

namespace Lvd.Machine.Diagnostics;

public enum DebugStopReason { Breakpoint, Step, Watchpoint, Interrupt, Position }

/// <summary>What a data watchpoint catches: writes that change the watched bytes, reads, or both (SDM 17.2.4: W, R/W).</summary>
public enum WatchKind { Write, Read, Access }

/// <summary>
/// Why a vCPU stopped: a breakpoint at RIP, a finished step, a watchpoint (which one, the access), a break request, or the
/// position asked for with <see cref="DebugControl.RunTo"/>.
/// </summary>
public readonly record struct DebugStop(DebugStopReason Reason, ulong Address = 0, WatchKind Watch = WatchKind.Write);

/// <summary>
/// A point of a run: the instruction boundary of vCPU <paramref name="Cpu"/> after it retired
/// <paramref name="Instructions"/> instructions. The machine is deterministic, so the whole
/// machine's state at a position is the same in every run of the same inputs.
/// </summary>
public readonly record struct RunPosition(int Cpu, long Instructions);

/// <summary>Observes each traced instruction (<see cref="DebugControl.Trace"/>): before it runs, and after it retired or faulted.</summary>
[NotMachineState]
public interface IInstructionTracer
{
    void Before(Cpu cpu);
    void After(Cpu cpu);
}

/// <summary>
/// Which instructions a tracer sees: RIP in [<paramref name="FromRip"/>, <paramref name="ToRip"/>), the vCPU's clock
/// in [<paramref name="FromCycle"/>, <paramref name="ToCycle"/>], the vCPUs of <paramref name="CpuMask"/> (bit n:
/// vCPU n).
/// </summary>
public readonly record struct TraceWindow(ulong FromRip, ulong ToRip, long FromCycle, long ToCycle, ulong CpuMask)
{
    public static TraceWindow All => new(0, ulong.MaxValue, 0, long.MaxValue, ulong.MaxValue);

    internal bool Covers(Cpu cpu) => (CpuMask >> cpu.Id & 1) != 0 && cpu.Cycles >= FromCycle && cpu.Cycles <= ToCycle;
}

/// <summary>
/// A breakpoint or watchpoint that a recording run passed (<see cref="DebugControl.RecordHits"/>), at the boundary
/// before the instruction.
/// </summary>
public readonly record struct DebugHit(RunPosition Position, DebugStop Stop);

/// <summary>
/// A generic debugger interface to the machine (a gdb stub is one client): breakpoints by
/// guest-linear address (checked at instruction boundaries of the blocks that contain one; guest
/// memory is never written), watchpoints, single steps per vCPU, and asynchronous break requests.
/// A stop calls <see cref="Stopped"/> on the machine's thread; the run resumes when it returns,
/// so every vCPU is stopped meanwhile (all-stop) and no modeled cycle passes. Attached with
/// <see cref="Machine.AttachDebugger"/>; with nothing set the run loop pays one flag test per chain.
/// </summary>
[NotMachineState]
public sealed class DebugControl
{
    private const ulong NoAddress = ulong.MaxValue;

    private sealed class Watch(ulong address, int length, WatchKind kind)
    {
        public readonly ulong Address = address;
        public readonly int Length = length;
        public readonly WatchKind Kind = kind;
        /// <summary>The host-physical address and contents last seen (write watches compare values, as gdb's `watch` does).</summary>
        public ulong Phys = NoAddress;
        public byte[] Value = new byte[length];
    }

    private readonly Machine _machine;
    private ulong[] _breakpoints = [];
    private readonly List<Watch> _watches = [];
    /// <summary>Per vCPU: 0 no step, 1 step asked, 2 its instruction started (stop before the next).</summary>
    private readonly int[] _step;
    /// <summary>Per vCPU: the RIP it stopped at, whose breakpoint must not stop it again before it executes.</summary>
    private readonly ulong[] _resumeAt;
    /// <summary>Per vCPU: a read watch matched the operand of the instruction being executed.</summary>
    private readonly Watch?[] _readHit;
    private volatile bool _breakRequested;
    /// <summary>The position to stop at (<see cref="RunTo"/>); Cpu -1: none.</summary>
    private RunPosition _target = new(-1, 0);
    /// <summary>Recording: breakpoint and watchpoint hits are listed here instead of stopping.</summary>
    private List<DebugHit>? _hits;

    private IInstructionTracer? _tracer;
    private TraceWindow _window;
    /// <summary>Per vCPU: the tracer saw the instruction being executed start.</summary>
    private readonly bool[] _traced;

    /// <summary>Called on the machine's thread when a vCPU stops; the run resumes when it returns (null: a tracer only, nothing stops).</summary>
    public Action<Cpu, DebugStop>? Stopped { get; internal set; }

    internal DebugControl(Machine machine, Action<Cpu, DebugStop>? stopped)
    {
        _machine = machine;
        Stopped = stopped;
        int n = machine.Cpus.Length;
        _step = new int[n];
        _resumeAt = new ulong[n];
        _readHit = new Watch?[n];
        _traced = new bool[n];
        Array.Fill(_resumeAt, NoAddress);
    }

    /// <summary>
    /// Shows <paramref name="tracer"/> every instruction of <paramref name="window"/>: the blocks that
    /// hold such instructions run one instruction at a time, with their costs and chain boundaries,
    /// so the modeled run is unchanged.
    /// </summary>
    public void Trace(IInstructionTracer tracer, TraceWindow window)
    {
        _tracer = tracer;
        _window = window;
        Rearm();
    }

    public IReadOnlyList<ulong> Breakpoints => _breakpoints;

    /// <summary>The data watchpoints set: address, length, kind.</summary>
    public IEnumerable<(ulong Address, int Length, WatchKind Kind)> Watchpoints
    {
        get { foreach (var w in _watches) yield return (w.Address, w.Length, w.Kind); }
    }

    /// <summary>
    /// Stops the run (<see cref="DebugStopReason.Position"/>) when <paramref name="target"/>'s vCPU
    /// reaches the boundary after that many of its instructions; only the block that holds it runs
    /// one instruction at a time, so the run is the same cycle for cycle.
    /// </summary>
    public void RunTo(RunPosition target)
    {
        if (target.Cpu < 0 || target.Cpu >= _step.Length) throw new ArgumentOutOfRangeException(nameof(target), "no such vCPU");
        _target = target;
        Rearm();
    }

    /// <summary>From now on breakpoints and watchpoints do not stop the run: their hits are listed (a replay that looks for the last one).</summary>
    public IReadOnlyList<DebugHit> RecordHits() => _hits ??= [];

    /// <summary>Breakpoints and watchpoints stop the run again.</summary>
    public void EndRecording() => _hits = null;

    /// <summary>A breakpoint at a guest-linear address (in every address space: the stop says which vCPU and context hit it).</summary>
    public void AddBreakpoint(ulong address)
    {
        int i = Array.BinarySearch(_breakpoints, address);
        if (i >= 0) return;
        var list = new List<ulong>(_breakpoints);
        list.Insert(~i, address);
        _breakpoints = [.. list];
        Rearm();
    }

    public bool RemoveBreakpoint(ulong address)
    {
        int i = Array.BinarySearch(_breakpoints, address);
        if (i < 0) return false;
        var list = new List<ulong>(_breakpoints);
        list.RemoveAt(i);
        _breakpoints = [.. list];
        Rearm();
        return true;
    }

    /// <summary>A data watchpoint over [address, address + length) (1 to 8 bytes, as x86's debug registers allow).</summary>
    /// <summary>
    /// The current contents, as <paramref name="context"/> translates the address, are what a write
    /// watch compares with first (without a context: as the first vCPU to run next translates it).
    /// </summary>
    public void AddWatchpoint(ulong address, int length, WatchKind kind, Cpu? context = null)
    {
        if (length is < 1 or > 8) throw new ArgumentOutOfRangeException(nameof(length), "a watchpoint covers 1 to 8 bytes");
        if (_watches.Exists(w => w.Address == address && w.Length == length && w.Kind == kind)) return;
        var watch = new Watch(address, length, kind);
        if (context != null && context.TryTranslateGuest(address, out ulong pa) && context.Memory.IsRam(pa) && ((pa + (ulong)length - 1) ^ pa) < 4096)
        {
            watch.Phys = pa;
            context.Memory.PeekBytes(pa, watch.Value);
        }
        _watches.Add(watch);
        Rearm();
    }

    public bool RemoveWatchpoint(ulong address, int length, WatchKind kind)
    {
        bool removed = _watches.RemoveAll(w => w.Address == address && w.Length == length && w.Kind == kind) > 0;
        Rearm();
        return removed;
    }

    /// <summary>This vCPU executes one instruction (or takes one event) when the run resumes, then stops.</summary>
    public void Step(Cpu cpu)
    {
        _step[cpu.Id] = 1;
        Rearm();
    }

    /// <summary>Stops the run at the next instruction boundary of whichever vCPU runs next (any thread may call it).</summary>
    public void RequestBreak()
    {
        _breakRequested = true;
        foreach (var c in _machine.Cpus) c.DebugArmed = true;
    }

    /// <summary>Removes every breakpoint, watchpoint and step: the run goes on at full speed (detach).</summary>
    public void Clear()
    {
        _breakpoints = [];
        _watches.Clear();
        Array.Clear(_step);
        _breakRequested = false;
        Rearm();
    }

    private void Rearm()
    {
        foreach (var c in _machine.Cpus)
            c.DebugArmed = _breakpoints.Length > 0 || _watches.Count > 0 || _step[c.Id] != 0 || _breakRequested || _target.Cpu == c.Id
                || (_tracer != null && (_window.CpuMask >> c.Id & 1) != 0);
    }

    // ---- called by the vCPU's run loop (Cpu.Debug.cs) ----

    /// <summary>Whether the block at [rip, rip + length) of <paramref name="ops"/> instructions must run one instruction at a time.</summary>
    internal bool NeedsStepwise(Cpu cpu, ulong rip, int length, int ops)
    {
        if (_step[cpu.Id] != 0 || _watches.Count > 0 || _breakRequested) return true;
        if (_tracer != null && _window.Covers(cpu) && rip < _window.ToRip && rip + (ulong)length > _window.FromRip) return true;
        // An op retires at most two instructions (a fused compare and branch).
        if (_target.Cpu == cpu.Id && (ulong)(_target.Instructions - cpu.Instructions) < 2 * (ulong)ops) return true;
        var bps = _breakpoints;
        if (bps.Length == 0) return false;
        int i = Array.BinarySearch(bps, rip);
        if (i < 0) i = ~i;
        return i < bps.Length && bps[i] - rip < (ulong)length;
    }

    /// <summary>At an instruction boundary, before the instruction at RIP: break requests, finished steps, breakpoints.</summary>
    internal void BeforeInstruction(Cpu cpu)
    {
        int id = cpu.Id;
        ulong rip = cpu.Rip;
        DebugStop? stop = null;
        if (_target.Cpu == id && cpu.Instructions == _target.Instructions)
        {
            _target = new RunPosition(-1, 0);
            stop = new DebugStop(DebugStopReason.Position, rip);
        }
        else if (_breakRequested) { _breakRequested = false; stop = new DebugStop(DebugStopReason.Interrupt); }
        else if (_step[id] == 2) stop = new DebugStop(DebugStopReason.Step);
        else if (_resumeAt[id] != rip && Array.BinarySearch(_breakpoints, rip) >= 0)
        {
            stop = new DebugStop(DebugStopReason.Breakpoint, rip);
            if (_hits != null) { _hits.Add(new DebugHit(new RunPosition(id, cpu.Instructions), stop.Value)); stop = null; }
        }
        if (stop is { } s) Stop(cpu, s);
        if (_step[id] == 1) _step[id] = 2;
        if (_tracer != null && _window.Covers(cpu) && cpu.Rip >= _window.FromRip && cpu.Rip < _window.ToRip)
        {
            _traced[id] = true;
            _tracer.Before(cpu);
        }
    }

    /// <summary>An interrupt or exception was delivered at a boundary: a step asked for counts it as its one event.</summary>
    internal void AfterEvent(Cpu cpu)
    {
        if (_step[cpu.Id] == 1) _step[cpu.Id] = 2;
        _resumeAt[cpu.Id] = NoAddress;
    }

    /// <summary>Before the instruction runs: does its explicit memory operand touch a read or access watch?</summary>
    internal void NoteOperands(Cpu cpu, Block single)
    {
        _readHit[cpu.Id] = null;
        if (_watches.Count == 0 || !cpu.DebugOperand(single, out ulong ea, out int size, out bool read, out _) || !read) return;
        foreach (var w in _watches)
            if (w.Kind != WatchKind.Write && ea < w.Address + (ulong)w.Length && w.Address < ea + (ulong)size) { _readHit[cpu.Id] = w; return; }
    }

    /// <summary>After an instruction retired: watchpoints (a write watch sees the bytes change at the address this vCPU translates it to).</summary>
    internal void AfterInstruction(Cpu cpu)
    {
        int id = cpu.Id;
        _resumeAt[id] = NoAddress;
        if (_traced[id])
        {
            _traced[id] = false;
            _tracer!.After(cpu);
        }
        if (_watches.Count == 0) return;
        Watch? hit = _readHit[id];
        _readHit[id] = null;
        Span<byte> now = stackalloc byte[8];
        foreach (var w in _watches)
        {
            if (w.Kind == WatchKind.Read) continue;
            if (!cpu.TryTranslateGuest(w.Address, out ulong pa) || !cpu.Memory.IsRam(pa) || ((pa + (ulong)w.Length - 1) ^ pa) >= 4096)
                continue;
            var cur = now[..w.Length];
            cpu.Memory.PeekBytes(pa, cur);
            if (pa != w.Phys)
            {
                // Another address space (or the first look): remember what is there, no stop.
                w.Phys = pa;
                cur.CopyTo(w.Value);
                continue;
            }
            if (cur.SequenceEqual(w.Value)) continue;
            cur.CopyTo(w.Value);
            hit ??= w;
        }
        if (hit == null) return;
        var watchStop = new DebugStop(DebugStopReason.Watchpoint, hit.Address, hit.Kind);
        // A recording lists the boundary before the access: where a reverse run stops, as gdb expects.
        if (_hits != null) _hits.Add(new DebugHit(new RunPosition(id, cpu.Instructions - 1), watchStop));
        else Stop(cpu, watchStop);
    }

    private void Stop(Cpu cpu, DebugStop stop)
    {
        _step[cpu.Id] = 0;
        Stopped?.Invoke(cpu, stop);
        _resumeAt[cpu.Id] = cpu.Rip;
        Rearm();
    }
}

using System.Text.Json;
using Lvd.Machine.Diagnostics;
using Lvd.Machine.Execution;
using Lvd.Machine.Vmx;

namespace Lvd.Debugging;

/// <summary>The kinds of timeline events, as `--timeline-events` names them.</summary>
[Flags]
public enum TimelineKinds
{
    None = 0,
    /// <summary>Time inside a domain: from the VMFUNC into a non-kernel EPTP to the one back (or the exit that ends it).</summary>
    Calls = 1,
    Exits = 2,
    Interrupts = 4,
    Exceptions = 8,
    Kills = 16,
    All = Calls | Exits | Interrupts | Exceptions | Kills,
}

/// <summary>Which events a timeline keeps: a window of modeled cycles, some vCPUs, some kinds.</summary>
public sealed record TimelineFilter
{
    public long FromCycle { get; init; }
    public long ToCycle { get; init; } = long.MaxValue;
    /// <summary>vCPUs to record; null: all.</summary>
    public IReadOnlySet<int>? Cpus { get; init; }
    public TimelineKinds Kinds { get; init; } = TimelineKinds.All;

    /// <summary>Whether an event of this kind on this vCPU, over [start, end] in modeled cycles, passes the filter.</summary>
    public bool Wants(TimelineKinds kind, int cpu, long start, long end) =>
        (Kinds & kind) != 0 && (Cpus == null || Cpus.Contains(cpu)) && end >= FromCycle && start <= ToCycle;

    /// <summary>The kinds of a comma list (calls, exits, interrupts, exceptions, kills); null with the bad word.</summary>
    public static TimelineKinds? ParseKinds(string list, out string? bad)
    {
        bad = null;
        var k = TimelineKinds.None;
        foreach (var w in list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var one = w switch
            {
                "calls" => TimelineKinds.Calls, "exits" => TimelineKinds.Exits, "interrupts" => TimelineKinds.Interrupts,
                "exceptions" => TimelineKinds.Exceptions, "kills" => TimelineKinds.Kills, _ => TimelineKinds.None,
            };
            if (one == TimelineKinds.None) { bad = w; return null; }
            k |= one;
        }
        return k == TimelineKinds.None ? null : k;
    }
}

/// <summary>
/// Records a run's events (<see cref="IMachineEvents"/>) and writes them in the Chrome/Perfetto
/// trace-event format (JSON object form): one process, one track (tid) per vCPU, timestamps in
/// modeled time (microseconds at the cost model's clock; the cycle is in every event's args).
/// Domain time is a complete event ("X") per stay, named after the domain (its info page);
/// VM exits are complete events lasting until the guest ran again; interrupts, exceptions and
/// domain kills are instant events. docs/DEBUGGING.md, Timelines.
/// </summary>
public sealed class Timeline : IMachineEvents
{
    /// <summary>At most this many events are kept (the rest are counted): filters keep long runs small.</summary>
    public const int MaxEvents = 2_000_000;

    private readonly record struct Entry(string Name, string Category, char Phase, int Cpu, long Cycle, long Duration, Dictionary<string,
        object>? Args);

    private readonly Machine.Machine _machine;
    private readonly TimelineFilter _filter;
    private readonly List<Entry> _entries = [];
    private readonly (long Start, int Index, ulong Eptp)[] _open;
    private readonly Dictionary<ulong, string> _names = [];
    public long Dropped { get; private set; }

    public Timeline(Machine.Machine machine, TimelineFilter filter)
    {
        _machine = machine;
        _filter = filter;
        _open = new (long, int, ulong)[machine.Cpus.Length];
        for (int i = 0; i < _open.Length; i++) _open[i] = (-1, 0, 0);
    }


    private bool Wanted(TimelineKinds kind, int cpu, long start, long end) => _filter.Wants(kind, cpu, start, end);

    private void Add(Entry e)
    {
        if (_entries.Count >= MaxEvents) { Dropped++; return; }
        _entries.Add(e);
    }

    private Lvd.Hypervisor.Hypervisor? Hypervisor => _machine.Firmware as Lvd.Hypervisor.Hypervisor;

    /// <summary>In a domain: non-root with an EPTP other than the vCPU's kernel EPT (index 0 without a hypervisor to ask).</summary>
    private bool InDomain(Cpu cpu)
    {
        if (!cpu.NonRoot || cpu.Vmcs is not { } v) return false;
        ulong kernel = Hypervisor?.KernelEptp(cpu.Id) ?? 0;
        return kernel != 0 ? v.Eptp != kernel : v.EptpIndex != 0;
    }

    private string DomainName(Cpu cpu, ulong eptp)
    {
        if (_names.TryGetValue(eptp, out var n)) return n;
        Span<byte> info = stackalloc byte[60];
        if (cpu.DebugRead(GdbMonitor.DomainInfo, info) == info.Length && BitConverter.ToUInt64(info) == GdbMonitor.InfoMagic)
        {
            var raw = info[44..];
            int end = raw.IndexOf((byte)0);
            return _names[eptp] = System.Text.Encoding.ASCII.GetString(end < 0 ? raw : raw[..end]);
        }
        return $"EPTP 0x{eptp:x}";
    }

    private void CloseStay(Cpu cpu, string how)
    {
        var (start, index, eptp) = _open[cpu.Id];
        if (start < 0) return;
        _open[cpu.Id] = (-1, 0, 0);
        if (!Wanted(TimelineKinds.Calls, cpu.Id, start, cpu.Cycles)) return;
        Add(new Entry($"in {DomainNameCached(eptp)}", "calls", 'X', cpu.Id, start, cpu.Cycles - start,
            new() { ["eptp_index"] = index, ["eptp"] = $"0x{eptp:x}", ["ended_by"] = how, ["cycle"] = start }));
    }

    private string DomainNameCached(ulong eptp) => _names.TryGetValue(eptp, out var n) ? n : $"EPTP 0x{eptp:x}";

    public void Vmfunc(Cpu cpu, int from, int to, ulong eptp)
    {
        if (_open[cpu.Id].Start >= 0) CloseStay(cpu, "vmfunc");
        if (InDomain(cpu))
        {
            DomainName(cpu, eptp);
            _open[cpu.Id] = (cpu.Cycles, to, eptp);
        }
    }

    public void VmExit(Cpu cpu, ExitReason reason, ulong qualification, ulong rip, int eptpIndex, long startCycle)
    {
        // An exit that put the vCPU back on its kernel EPT (a violation: the domain is killed) ends the stay.
        if (_open[cpu.Id].Start >= 0 && !InDomain(cpu)) CloseStay(cpu, $"exit {reason}");
        if (!Wanted(TimelineKinds.Exits, cpu.Id, startCycle, cpu.Cycles)) return;
        Add(new Entry($"exit {reason}", "exits", 'X', cpu.Id, startCycle, cpu.Cycles - startCycle, new()
        {
            ["reason"] = (int)reason, ["reason_name"] = reason.ToString(), ["qualification"] = $"0x{qualification:x}",
            ["rip"] = $"0x{rip:x}", ["eptp_index"] = eptpIndex, ["cycle"] = startCycle,
        }));
    }

    public void Delivered(Cpu cpu, DeliveredEvent kind, int vector, uint errorCode)
    {
        // NMI (vector 2) is an interrupt, whichever path delivers it.
        if (vector == 2) kind = DeliveredEvent.Interrupt;
        var k = kind == DeliveredEvent.Exception ? TimelineKinds.Exceptions : TimelineKinds.Interrupts;
        if (!Wanted(k, cpu.Id, cpu.Cycles, cpu.Cycles)) return;
        bool inDomain = InDomain(cpu);
        string what = vector == 2 ? "nmi" : kind switch { DeliveredEvent.Exception => "exception", DeliveredEvent.Software => "int",
            _ => "interrupt" };
        var args = new Dictionary<string, object>
        {
            ["vector"] = vector, ["in_domain"] = inDomain, ["rip"] = $"0x{cpu.Rip:x}", ["cycle"] = cpu.Cycles,
        };
        if (kind == DeliveredEvent.Exception) args["error_code"] = errorCode;
        if (inDomain) args["domain"] = DomainNameCached(cpu.Vmcs!.Eptp);
        Add(new Entry($"{what} {vector}{(inDomain ? " in domain" : "")}", kind == DeliveredEvent.Exception ? "exceptions" : "interrupts", 'i',
            cpu.Id, cpu.Cycles, 0, args));
    }

    public void Note(Cpu cpu, string kind, string detail)
    {
        if (!Wanted(TimelineKinds.Kills, cpu.Id, cpu.Cycles, cpu.Cycles)) return;
        string? domain = _open[cpu.Id].Start >= 0 ? DomainNameCached(_open[cpu.Id].Eptp) : null;
        var args = new Dictionary<string, object> { ["detail"] = detail, ["cycle"] = cpu.Cycles };
        if (domain != null) args["domain"] = domain;
        Add(new Entry(kind, "kills", 'i', cpu.Id, cpu.Cycles, 0, args));
    }

    /// <summary>Writes the trace: stays still open end where the run ended.</summary>
    public void Write(string path)
    {
        foreach (var c in _machine.Cpus) CloseStay(c, "end of run");
        double usPerCycle = 1e6 / _machine.Costs.ClockHz;
        using var file = File.Create(path);
        using var w = new Utf8JsonWriter(file, new JsonWriterOptions { Indented = false });
        w.WriteStartObject();
        w.WriteString("displayTimeUnit", "ns");
        w.WriteStartObject("otherData");
        w.WriteString("clock", "modeled cycles of the cost model (ts in microseconds at clock_hz; args.cycle exact)");
        w.WriteNumber("clock_hz", _machine.Costs.ClockHz);
        w.WriteNumber("dropped_events", Dropped);
        w.WriteEndObject();
        w.WriteStartArray("traceEvents");
        w.WriteStartObject();
        w.WriteString("name", "process_name"); w.WriteString("ph", "M"); w.WriteNumber("pid", 1); w.WriteNumber("tid", 0);
        w.WriteStartObject("args"); w.WriteString("name", "LVD# machine (modeled time)"); w.WriteEndObject();
        w.WriteEndObject();
        foreach (var c in _machine.Cpus)
        {
            w.WriteStartObject();
            w.WriteString("name", "thread_name"); w.WriteString("ph", "M"); w.WriteNumber("pid", 1); w.WriteNumber("tid", c.Id);
            w.WriteStartObject("args"); w.WriteString("name", $"vCPU {c.Id}"); w.WriteEndObject();
            w.WriteEndObject();
        }
        foreach (var e in _entries.OrderBy(e => e.Cycle).ThenBy(e => e.Cpu))
        {
            w.WriteStartObject();
            w.WriteString("name", e.Name);
            w.WriteString("cat", e.Category);
            w.WriteString("ph", e.Phase.ToString());
            w.WriteNumber("ts", e.Cycle * usPerCycle);
            if (e.Phase == 'X') w.WriteNumber("dur", e.Duration * usPerCycle);
            if (e.Phase == 'i') w.WriteString("s", e.Category == "kills" ? "g" : "t");
            w.WriteNumber("pid", 1);
            w.WriteNumber("tid", e.Cpu);
            if (e.Args != null)
            {
                w.WritePropertyName("args");
                JsonSerializer.Serialize(w, e.Args);
            }
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();
    }
}

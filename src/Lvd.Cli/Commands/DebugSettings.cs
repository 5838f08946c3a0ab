using System.Net;
using System.Net.Sockets;
using Lvd.Debugging;

namespace Lvd.Cli.Commands;

/// <summary>The debugging options of `lvd exec` and `lvd boot` (docs/DEBUGGING.md).</summary>
public class DebuggedMachineSettings : ProfiledMachineSettings
{
    public const int DefaultGdbPort = 1234;

    [CommandOption("--gdb [PORT]")]
    [Description("Wait for gdb on 127.0.0.1:PORT (default 1234; 0: any free port, printed) before the first instruction; each vCPU is a thread " +
        "(docs/DEBUGGING.md).")]
    public FlagValue<string>? Gdb { get; init; }

    [CommandOption("--gdb-snapshots <CYCLES>")]
    [Description("With --gdb: a snapshot of the whole machine every CYCLES modeled cycles (default 10000000; 0: none), where reverse-stepi " +
        "and reverse-continue start their replays (docs/DEBUGGING.md, Snapshots).")]
    public long? GdbSnapshots { get; init; }

    [CommandOption("--timeline <FILE>")]
    [Description("Write a Chrome/Perfetto trace (JSON) of the run in modeled time: per vCPU, time in domains (VMFUNC), VM exits, interrupts and " +
        "exceptions, domain kills (docs/DEBUGGING.md).")]
    public string? Timeline { get; init; }

    [CommandOption("--timeline-from <CYCLE>")]
    [Description("With --timeline: keep events from this modeled cycle on (default 0).")]
    public long? TimelineFrom { get; init; }

    [CommandOption("--timeline-to <CYCLE>")]
    [Description("With --timeline: keep events up to this modeled cycle (default: the end).")]
    public long? TimelineTo { get; init; }

    [CommandOption("--timeline-cpus <LIST>")]
    [Description("With --timeline: only these vCPUs (comma list, e.g. 0,2; default all).")]
    public string? TimelineCpus { get; init; }

    [CommandOption("--timeline-events <KINDS>")]
    [Description("With --timeline: only these kinds (comma list of calls, exits, interrupts, exceptions, kills; default all).")]
    public string? TimelineEvents { get; init; }

    [CommandOption("--trace-from <CYCLE>")]
    [Description("With --trace: trace from this modeled cycle of each vCPU's clock on (default 0).")]
    public long? TraceFrom { get; init; }

    [CommandOption("--trace-to <CYCLE>")]
    [Description("With --trace: trace up to this modeled cycle (default: the end).")]
    public long? TraceTo { get; init; }

    [CommandOption("--trace-cpus <LIST>")]
    [Description("With --trace: only these vCPUs (comma list, e.g. 0,2; default all).")]
    public string? TraceCpus { get; init; }

    [CommandOption("--trace-events <KINDS>")]
    [Description("With --trace: the events shown between the instructions (comma list of calls, exits, interrupts, exceptions, kills, or " +
        "none; default all).")]
    public string? TraceEvents { get; init; }

    [CommandOption("--trace-range <START-END>")]
    [Description("With --trace: only instructions at START up to, not including, END (hex guest-linear addresses, e.g. 0x400000-0x401000).")]
    public string? TraceRange { get; init; }

    /// <summary>The timeline's filter (the options are checked by <see cref="Check"/>).</summary>
    public TimelineFilter TimelineFilter => EventWindow(TimelineFrom, TimelineTo, TimelineCpus, TimelineEvents);

    /// <summary>Which events the trace shows between its instructions.</summary>
    public TimelineFilter TraceEventFilter => TraceEvents == "none" ? new TimelineFilter { Kinds = TimelineKinds.None }
        : EventWindow(TraceFrom, TraceTo, TraceCpus, TraceEvents);

    /// <summary>Which instructions the trace shows.</summary>
    public Lvd.Machine.Diagnostics.TraceWindow TraceWindow
    {
        get
        {
            ulong from = 0, to = ulong.MaxValue;
            if (TraceRange != null) ParseRange(TraceRange, out from, out to);
            ulong mask = ulong.MaxValue;
            if (ParseCpus(TraceCpus) is { } cpus) { mask = 0; foreach (int c in cpus) mask |= 1UL << c; }
            return new(from, to, TraceFrom ?? 0, TraceTo ?? long.MaxValue, mask);
        }
    }

    private static HashSet<int>? ParseCpus(string? list) =>
        list?.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToHashSet();

    private static TimelineFilter EventWindow(long? from, long? to, string? cpus, string? kinds) => new()
    {
        FromCycle = from ?? 0,
        ToCycle = to ?? long.MaxValue,
        Cpus = ParseCpus(cpus),
        Kinds = kinds == null ? TimelineKinds.All : TimelineFilter.ParseKinds(kinds, out _) ?? TimelineKinds.All,
    };

    private static bool ParseRange(string text, out ulong from, out ulong to)
    {
        from = to = 0;
        var parts = text.Split('-');
        static bool Hex(string t, out ulong v) =>
            ulong.TryParse(t.StartsWith("0x", StringComparison.OrdinalIgnoreCase) ? t[2..] : t, System.Globalization.NumberStyles.HexNumber,
                null, out v);
        return parts.Length == 2 && Hex(parts[0].Trim(), out from) && Hex(parts[1].Trim(), out to) && from < to;
    }

    /// <summary>The checks of one set of window options (--timeline-* or --trace-*), given only with their main option.</summary>
    private void CheckWindow(string prefix, bool on, long? from, long? to, string? cpus, string? kinds, bool noneAllowed)
    {
        string main = "--" + prefix;
        OnlyWith(from != null, on, main + "-from", main);
        OnlyWith(to != null, on, main + "-to", main);
        OnlyWith(cpus != null, on, main + "-cpus", main);
        OnlyWith(kinds != null, on, main + "-events", main);
        Require(from is null or >= 0, $"{main}-from must not be negative");
        Require(to is null || to >= (from ?? 0), $"{main}-to must not be below {main}-from");
        if (cpus != null)
            foreach (var c in cpus.Split(',', StringSplitOptions.TrimEntries))
                Require(int.TryParse(c, out int n) && n is >= 0 and < 64, $"{main}-cpus {cpus}: a comma list of vCPU numbers (0, 1, ...)");
        if (kinds != null && !(noneAllowed && kinds == "none") && Lvd.Debugging.TimelineFilter.ParseKinds(kinds, out string? bad) == null)
            throw new UsageException($"{main}-events {kinds}: {(bad == null ? "no kind given" : $"unknown kind '{bad}'")} (calls, " +
                $"exits, interrupts, exceptions, kills{(noneAllowed ? ", or none" : "")})");
    }

    /// <summary>The port to listen on, or null without --gdb.</summary>
    public int? GdbPort => Gdb is { IsSet: true } g ? string.IsNullOrEmpty(g.Value) ? DefaultGdbPort : int.Parse(g.Value) : null;

    protected override void Check()
    {
        base.Check();
        CheckWindow("timeline", Timeline != null, TimelineFrom, TimelineTo, TimelineCpus, TimelineEvents, noneAllowed: false);
        CheckWindow("trace", Trace, TraceFrom, TraceTo, TraceCpus, TraceEvents, noneAllowed: true);
        OnlyWith(TraceRange != null, Trace, "--trace-range", "--trace");
        if (TraceRange != null && !ParseRange(TraceRange, out _, out _))
            throw new UsageException($"--trace-range {TraceRange}: START-END, two hex addresses with START below END (e.g. 0x400000-0x401000)");
        if (Timeline != null) OutputPaths.CheckOutputFile("--timeline", Timeline);
        OnlyWith(GdbSnapshots != null, Gdb is { IsSet: true }, "--gdb-snapshots", "--gdb");
        Require(GdbSnapshots is null or >= 0, "--gdb-snapshots must not be negative");
        if (Gdb is not { IsSet: true } g) return;
        Require(string.IsNullOrEmpty(g.Value) || (int.TryParse(g.Value, out int p) && p is >= 0 and <= 65535),
            $"--gdb {g.Value}: a TCP port, 0 to 65535");
        int port = GdbPort!.Value;
        if (port == 0) return;
        // The port must be free now: a busy one is bad input, reported before anything is built.
        try
        {
            var probe = new TcpListener(IPAddress.Loopback, port);
            probe.Start();
            probe.Stop();
        }
        catch (SocketException e)
        {
            throw new UsageException($"--gdb {port}: cannot listen on 127.0.0.1:{port} ({e.Message})");
        }
    }
}

/// <summary>`--trace`: the text tracer attached in each run's setup, written to stderr.</summary>
internal sealed class TraceSession : IDisposable
{
    private readonly StreamWriter _out = new(Console.OpenStandardError()) { AutoFlush = false };

    /// <param name="name">Names a guest address (function+offset) or null.</param>
    public static RunOptions Attach(RunOptions options, DebuggedMachineSettings settings, Func<ulong, string?> name, out TraceSession? session)
    {
        session = null;
        if (!settings.Trace) return options;
        var s = session = new TraceSession();
        var window = settings.TraceWindow;
        var events = settings.TraceEventFilter;
        var previous = options.Setup;
        return options with
        {
            Setup = m =>
            {
                previous?.Invoke(m);
                var tracer = new Tracer(m.Cpus.Length, s._out, name, events);
                m.AttachTracer(tracer, window);
                m.AttachEvents(tracer);
            },
        };
    }

    public void Dispose() => _out.Flush();
}

/// <summary>`--timeline`: the recorder attached in a run's setup, written when the run ends.</summary>
internal sealed class TimelineSession
{
    private Timeline? _timeline;
    private readonly string _path;

    private TimelineSession(string path) => _path = path;

    public static RunOptions Attach(RunOptions options, string? path, TimelineFilter filter, out TimelineSession? session)
    {
        session = null;
        if (path == null) return options;
        var s = session = new TimelineSession(path);
        var previous = options.Setup;
        return options with
        {
            Setup = m =>
            {
                previous?.Invoke(m);
                s._timeline = new Timeline(m, filter);
                m.AttachEvents(s._timeline);
            },
        };
    }

    public void Finished() => _timeline?.Write(_path);
}

/// <summary>
/// `--gdb`: the stub put into a run's setup (after the hypervisor is installed), told when the run ends. For reverse
/// execution the session runs the guest again from power-on (<see cref="Run"/>) as often as gdb asks, the stub serving each new machine.
/// </summary>
internal sealed class GdbSession
{
    private GdbStub? _stub;
    private ReplayOutput? _output;

    /// <summary>The run options with the stub waiting for gdb once the machine is set up; null session without --gdb.</summary>
    public static RunOptions Attach(RunOptions options, int? port, long? snapshotInterval, string elf, IReadOnlyList<DebugImage> images,
        out GdbSession? session)
    {
        session = null;
        if (port is not int p) return options;
        var s = session = new GdbSession();
        var snapshots = new SnapshotStore(snapshotInterval ?? SnapshotStore.DefaultInterval);
        var previous = options.Setup;
        s._output = new ReplayOutput(options.SerialOut ?? Stream.Null);
        return options with
        {
            SerialOut = s._output,
            Setup = m =>
            {
                previous?.Invoke(m);
                if (s._stub is { ReplayPending: true } replaying)
                {
                    replaying.Rebind(m);
                    return;
                }
                s._stub = new GdbStub(m, p, images, snapshots, s._output);
                string libs = images.Count == 0 ? "" : " (the domains' symbols load as libraries)";
                Console.Error.WriteLine($"lvd: gdb stub waiting on 127.0.0.1:{s._stub.Port}: gdb {elf} -ex 'target remote :{s._stub.Port}'{libs}");
                s._stub.WaitForGdb();
            },
        };
    }

    /// <summary>Runs the guest, and again from power-on for each reverse request of gdb; the last run's result.</summary>
    public ProgramResult Run(Func<ProgramResult> run)
    {
        var result = run();
        while (_stub is { ReplayPending: true })
        {
            _output!.Rewind();
            result = run();
        }
        return result;
    }

    public void Finished(ProgramResult result)
    {
        _stub?.RunFinished(result.Run.Outcome, result.ExitStatus);
        _stub?.Dispose();
    }
}

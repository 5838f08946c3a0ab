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

    /// <summary>The timeline's filter (the options are checked by <see cref="Check"/>).</summary>
    public TimelineFilter TimelineFilter => new()
    {
        FromCycle = TimelineFrom ?? 0,
        ToCycle = TimelineTo ?? long.MaxValue,
        Cpus = TimelineCpus == null ? null : TimelineCpus.Split(',',
            StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToHashSet(),
        Kinds = TimelineEvents == null ? TimelineKinds.All : TimelineFilter.ParseKinds(TimelineEvents, out _) ?? TimelineKinds.All,
    };

    /// <summary>The port to listen on, or null without --gdb.</summary>
    public int? GdbPort => Gdb is { IsSet: true } g ? string.IsNullOrEmpty(g.Value) ? DefaultGdbPort : int.Parse(g.Value) : null;

    protected override void Check()
    {
        base.Check();
        OnlyWith(TimelineFrom != null, Timeline != null, "--timeline-from", "--timeline");
        OnlyWith(TimelineTo != null, Timeline != null, "--timeline-to", "--timeline");
        OnlyWith(TimelineCpus != null, Timeline != null, "--timeline-cpus", "--timeline");
        OnlyWith(TimelineEvents != null, Timeline != null, "--timeline-events", "--timeline");
        Require(TimelineFrom is null or >= 0, "--timeline-from must not be negative");
        Require(TimelineTo is null || TimelineTo >= (TimelineFrom ?? 0), "--timeline-to must not be below --timeline-from");
        if (TimelineCpus != null)
            foreach (var c in TimelineCpus.Split(',', StringSplitOptions.TrimEntries))
                Require(int.TryParse(c, out int n) && n is >= 0 and < 64,
                    $"--timeline-cpus {TimelineCpus}: a comma list of vCPU numbers (0, 1, ...)");
        if (TimelineEvents != null && Lvd.Debugging.TimelineFilter.ParseKinds(TimelineEvents, out string? bad) == null)
            throw new UsageException($"--timeline-events {TimelineEvents}: {(bad == null ? "no kind given" : $"unknown kind '{bad}'")} (calls, " +
                $"exits, interrupts, exceptions, kills)");
        if (Timeline != null) OutputPaths.CheckOutputFile("--timeline", Timeline);
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
    public static RunOptions Attach(RunOptions options, int? port, string elf, IReadOnlyList<DebugImage> images, out GdbSession? session)
    {
        session = null;
        if (port is not int p) return options;
        var s = session = new GdbSession();
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
                s._stub = new GdbStub(m, p, images);
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

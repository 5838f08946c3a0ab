using Lvd.Machine;

namespace Lvd.Cli.Commands;

/// <summary>
/// `lvd boot --workload`: a progress bar on stderr while a long workload runs, driven by the guest's
/// modeled time (the furthest vCPU's cycles) against the workload's --duration. The run starts when
/// the kernel prints its "kernel: all tests passed" line (it starts the workload right after,
/// docs/KERNEL.md). The machine runs on another thread and knows nothing of this: the bar reads
/// the vCPUs' cycle counters, and the kernel's next line of output (the result, or a panic) takes
/// the bar down before it is written, so the log on stdout is never interleaved with it.
/// Only used when stderr is a terminal.
/// </summary>
public sealed class WorkloadProgress
{
    public static readonly byte[] StartMarker = "kernel: all tests passed"u8.ToArray();

    private readonly object _gate = new();
    private readonly long _duration;
    private readonly string _name;
    private Machine.Machine? _machine;
    private bool _started, _live, _stopRequested, _finished;
    private long _startCycles;

    public WorkloadProgress(string name, long duration) => (_name, _duration) = (name, duration);

    /// <summary>The RunOptions.Setup hook: remember the machine.</summary>
    public void Attach(Machine.Machine machine) => _machine = machine;

    private long Now()
    {
        var m = _machine;
        if (m == null) return 0;
        long max = 0;
        foreach (var c in m.Cpus) max = Math.Max(max, Volatile.Read(ref c.Cycles));
        return max;
    }

    /// <summary>Guest output is about to be written (machine thread): take the bar down first.</summary>
    public void BeforeOutput()
    {
        lock (_gate)
        {
            if (!_live) return;
            _stopRequested = true;
            Monitor.PulseAll(_gate);
            while (_live) Monitor.Wait(_gate);
        }
    }

    /// <summary>The start marker went by (machine thread).</summary>
    public void WorkloadStarted()
    {
        lock (_gate)
        {
            if (_started) return;
            _started = true;
            _startCycles = Now();
            Monitor.PulseAll(_gate);
        }
    }

    /// <summary>The run is over, however it ended.</summary>
    public void RunFinished()
    {
        lock (_gate)
        {
            _finished = true;
            Monitor.PulseAll(_gate);
        }
    }

    /// <summary>On the calling (UI) thread: wait for the workload, show the bar until the run ends or the guest prints.</summary>
    public void Show(IAnsiConsole console)
    {
        lock (_gate)
        {
            while (!_started && !_finished) Monitor.Wait(_gate);
            if (_finished || _stopRequested) return;
            _live = true;
        }
        try
        {
            console.Progress()
                .AutoClear(true)
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn())
                .Start(ctx =>
                {
                    var task = ctx.AddTask(_name, maxValue: _duration);
                    while (true)
                    {
                        long done = Math.Clamp(Now() - _startCycles, 0, _duration);
                        task.Value = done;
                        task.Description = $"{_name}: {done / 1e6:F1}M of {_duration / 1e6:F1}M modeled cycles";
                        lock (_gate)
                        {
                            if (_stopRequested || _finished) break;
                            Monitor.Wait(_gate, 100);
                            if (_stopRequested || _finished) break;
                        }
                    }
                });
        }
        finally
        {
            lock (_gate)
            {
                _live = false;
                Monitor.PulseAll(_gate);
            }
        }
    }

    /// <summary>The guest's serial output, forwarded to <paramref name="inner"/>, watched for the start marker.</summary>
    public Stream Watch(Stream inner) => new WatchingStream(inner, this);

    private sealed class WatchingStream(Stream inner, WorkloadProgress progress) : WriteOnlyStream(inner)
    {
        private int _matched;   // bytes of the marker matched so far, across writes

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            progress.BeforeOutput();
            Inner.Write(buffer);
            var marker = StartMarker;
            foreach (byte b in buffer)
            {
                _matched = b == marker[_matched] ? _matched + 1 : (b == marker[0] ? 1 : 0);
                if (_matched == marker.Length)
                {
                    progress.WorkloadStarted();
                    _matched = 0;
                }
            }
        }

    }
}

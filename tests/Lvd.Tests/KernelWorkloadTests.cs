using System.Text;
using System.Text.RegularExpressions;
using Lvd.Cli.Commands;

namespace Lvd.Tests;

/// <summary>
/// The guest kernel's measured workloads (docs/KERNEL.md, Workloads): nullblk (fio-like random
/// reads through io_submit / io_getevents, the block layer and the null block device) on several
/// CPUs and queue depths, deterministic for a seed, the same under the hypervisor with no VM exit
/// on the per-I/O path; and `lvd boot`'s progress display plumbing.
/// </summary>
public sealed partial class KernelWorkloadTests
{
    private const long Duration = 5_000_000;   // modeled cycles: a few ms of guest time, about a second of host time

    private static ProgramResult Boot(int cpus, string cmdline, bool hypervisor = false) =>
        ProgramRunner.Run(KernelBuilder.Build(Guest.Cc), new RunOptions
        {
            CpuCount = cpus,
            KernelCommandLine = cmdline,
            CaptureSerial = true,
            MaxInstructions = 500_000_000,
        }.With(hypervisor ? HypervisorMode.OnRequest : HypervisorMode.None));

    [GeneratedRegex(@"^result: workload=nullblk threads=(\d+) depth=(\d+) ios=(\d+) cycles=(\d+) iops=(\d+) cycles_per_io=(\d+)$",
        RegexOptions.Multiline)]
    private static partial Regex NullblkResult();

    private sealed record Result(string Line, long Threads, long Depth, long Ios, long Cycles, long Iops, long CyclesPerIo);

    private static Result Parse(ProgramResult r)
    {
        Assert.True(r.ExitStatus == 0, $"exit {r.ExitStatus}: {r.Run.CrashReport}\n{r.OutputText}");
        var ms = NullblkResult().Matches(r.OutputText);
        Assert.True(ms.Count == 1, "want exactly one result line:\n" + r.OutputText);
        var g = ms[0].Groups;
        return new Result(ms[0].Value, long.Parse(g[1].Value), long.Parse(g[2].Value), long.Parse(g[3].Value),
            long.Parse(g[4].Value), long.Parse(g[5].Value), long.Parse(g[6].Value));
    }

    private static string Cmdline(int threads, int depth, long seed = 1) =>
        $"workload=nullblk threads={threads} depth={depth} duration={Duration} seed={seed}";

    [Theory]
    [InlineData(1)]
    [InlineData(16)]
    public void NullblkRunsOnFourCpus(int depth)
    {
        var r = Boot(4, Cmdline(4, depth));
        Assert.Contains("test: 4 user thread(s) read 36 sectors asynchronously", r.OutputText);
        var res = Parse(r);
        Assert.Equal(4, res.Threads);
        Assert.Equal(depth, res.Depth);
        Assert.True(res.Ios > 0);
        // The span covers the whole deadline, and the derived figures follow from ios and cycles.
        Assert.InRange(res.Cycles, Duration, 2 * Duration);
        long hz = r.Machine.Costs.ClockHz;
        Assert.Equal((long)((Int128)res.Ios * hz / res.Cycles), res.Iops);
        Assert.Equal(res.Cycles * res.Threads / res.Ios, res.CyclesPerIo);
    }

    [Fact]
    public void DeeperQueuesAndMoreCpusGiveMoreIops()
    {
        // Per-CPU queues and tags: four readers on four CPUs do more than one; a deeper queue
        // amortizes the two system calls over more I/Os.
        var one = Parse(Boot(4, Cmdline(1, 1)));
        var deep = Parse(Boot(4, Cmdline(1, 16)));
        var four = Parse(Boot(4, Cmdline(4, 1)));
        Assert.True(deep.Iops > one.Iops, $"{deep.Line} vs {one.Line}");
        Assert.True(four.Iops > 2 * one.Iops, $"{four.Line} vs {one.Line}");
    }

    [Fact]
    public void SameSeedGivesTheSameResult()
    {
        var a = Boot(2, Cmdline(3, 8, seed: 42));
        var b = Boot(2, Cmdline(3, 8, seed: 42));
        Assert.Equal(Parse(a).Line, Parse(b).Line);
        Assert.Equal(a.OutputText, b.OutputText);
        Assert.Equal(a.Run.Cycles, b.Run.Cycles);
    }

    [Fact]
    public void NullblkUnderTheHypervisorMatchesNativeWithoutPerIoExits()
    {
        var native = Parse(Boot(4, Cmdline(4, 16)));
        var bootOnly = Boot(4, "", hypervisor: true);
        var hv = Boot(4, Cmdline(4, 16), hypervisor: true);
        Assert.Contains("hypervisor: late-launched after boot", hv.OutputText);
        var res = Parse(hv);
        Assert.Equal(native.Threads, res.Threads);
        Assert.Equal(native.Depth, res.Depth);
        // Exits cost modeled cycles, so the count may move a little; not more than that.
        Assert.InRange(res.Ios, native.Ios * 95 / 100, native.Ios * 105 / 100);
        // The exits the workload adds (timer MSRs, idle HLTs, the result line's port writes)
        // are a few hundred; one exit per I/O would be tens of thousands.
        long added = hv.TotalExits - bootOnly.TotalExits;
        Assert.True(bootOnly.TotalExits > 0, "no exits under the hypervisor");
        Assert.True(added < res.Ios / 50, $"{added} exits added by {res.Ios} I/Os");
    }

    [Fact]
    public void BadWorkloadOptionsStopTheKernel()
    {
        var r = Boot(1, "workload=nullblk depth=300");
        Assert.Equal(1, r.ExitStatus);   // panic
        Assert.Contains("workload: depth=300 (1..256)", r.OutputText);
    }

    [Fact]
    public async Task ProgressWatchesTheLogWithoutChangingIt()
    {
        // The bar starts at the kernel's "all tests passed" line, however the serial output is split.
        var progress = new WorkloadProgress("nullblk", 1000);
        var sink = new MemoryStream();
        var s = progress.Watch(sink);
        string log = "test: ok\nkernel: all tests passed, 5 pages free\nresult: x\n";
        byte[] bytes = Encoding.ASCII.GetBytes(log);
        foreach (byte b in bytes) s.WriteByte(b);
        Assert.Equal(log, Encoding.ASCII.GetString(sink.ToArray()));
        var shown = Task.Run(() => progress.Show(Spectre.Console.AnsiConsole.Create(new Spectre.Console.AnsiConsoleSettings
        {
            Out = new Spectre.Console.AnsiConsoleOutput(new StringWriter()),
        })));
        progress.RunFinished();
        await shown.WaitAsync(TimeSpan.FromSeconds(10));   // throws TimeoutException if the bar never came down
        // Without the marker, a finished run shows nothing and returns at once.
        var idle = new WorkloadProgress("nullnet", 1000);
        idle.Watch(new MemoryStream()).Write("kernel: all tests"u8);
        idle.RunFinished();
        await Task.Run(() => idle.Show(Spectre.Console.AnsiConsole.Create(new Spectre.Console.AnsiConsoleSettings
        {
            Out = new Spectre.Console.AnsiConsoleOutput(new StringWriter()),
        }))).WaitAsync(TimeSpan.FromSeconds(10));
    }
}

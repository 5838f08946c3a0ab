using System.Text.RegularExpressions;

namespace Lvd.Cli.Commands;

/// <summary>
/// `lvd demo`, the README's main job: boot the guest kernel on 4 vCPUs, late-launch the LVD
/// hypervisor, run nullnet and nullblk with the drivers linked into the kernel and isolated in
/// LVD domains, print the comparison, and show a faulty driver contained (a domain that writes
/// kernel memory is killed; the kernel goes on with its workload).
/// </summary>
public sealed partial class DemoCommand : Command<DemoCommand.Settings>
{
    public sealed class Settings : CostSettings
    {
        [CommandOption("--json <FILE>")]
        [System.ComponentModel.Description("Write the measurements for scripts (header, each run's workload numbers; docs/RESULTS.md).")]
        public string? Json { get; init; }

        protected override void Check()
        {
            base.Check();
            if (Json != null) OutputPaths.CheckOutputFile("--json", Json);
        }
    }

    private const long Duration = 10_000_000;   // modeled cycles per workload: ~4 ms at 2.6 GHz

    private sealed record Run(string Key, string Title, LvdBootSpec Spec);

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var costs = settings.LoadCosts();
        var cc = GuestCompiler.Locate();
        var images = new LvdBoot.Images(cc);
        var baseSpec = new LvdBootSpec { Cpus = 4, Hypervisor = true, Duration = Duration };
        string scribbler = Path.Combine(cc.RepoRoot, "guest", "domains", "examples", "scribbler.c");
        var runs = new List<Run>
        {
            new("net-native", "nullnet, driver in the kernel", baseSpec with { Workload = "nullnet" }),
            new("net-iso", "nullnet, driver isolated (1 crossing/packet)", baseSpec with { Workload = "nullnet", Isolate = ["nullnet"] }),
            new("blk-native", "nullblk, driver in the kernel", baseSpec with { Workload = "nullblk", Depth = 1 }),
            new("blk-iso", "nullblk, driver isolated (3 crossings/IO)", baseSpec with { Workload = "nullblk", Depth = 1, Isolate = ["nullblk"] }),
            new("fault", "a faulty driver, then nullnet isolated", baseSpec with { Workload = "nullnet", Isolate = ["nullnet"],
                UserDomains = [scribbler] }),
            new("restart", "isolated nullnet killed under load and restarted", RestartSpec(cc, costs)),
        };

        AnsiConsole.MarkupLine("[bold]LVD# demo[/]: a small SMP kernel on 4 emulated vCPUs, deprivileged by the LVD hypervisor");
        AnsiConsole.MarkupLine("(late launch), its nullnet and nullblk drivers run in the kernel and isolated in domains (own EPT,");
        AnsiConsole.MarkupLine("VMFUNC crossings, exitless interrupts). Times are modeled cycles of the cost file, not host time.");
        var results = new Dictionary<string, (LvdWorkloadResult W, string Log)>();
        Exception? failure = null;
        Terminal.Status("building the kernel and the driver domains", () =>
        {
            _ = images.Kernel;
            foreach (var d in new[] { "nullnet", "nullblk", scribbler }) images.Module(d);
            return 0;
        });
        Terminal.Steps($"{runs.Count} guest runs", runs.Count, step =>
            Parallel.ForEach(runs, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, Environment.ProcessorCount) }, run =>
            {
                try
                {
                    var r = LvdBoot.Run(run.Spec, costs: costs, images: images);
                    var w = LvdBoot.Parse(r, r.OutputText);
                    lock (results) results[run.Key] = (w, r.OutputText);
                }
                catch (Exception e)
                {
                    lock (results) failure ??= new Lvd.Experiments.ExperimentException($"{run.Title}: {e.Message}");
                }
                step(run.Title);
            }));
        if (failure != null) throw failure;

        var table = new Table().Title("Driver in the kernel vs isolated in an LVD domain (hypervisor on in both)")
            .AddColumn("workload").AddColumn(new TableColumn("in the kernel").RightAligned()).AddColumn(new TableColumn("isolated").RightAligned())
            .AddColumn(new TableColumn("isolated / kernel").RightAligned()).AddColumn(new TableColumn("VMFUNCs").RightAligned())
                .AddColumn(new TableColumn("VM exits").RightAligned())
            .AddColumn("paper");
        void Row(string name, string nat, string iso, string unit, string paper)
        {
            var n = results[nat].W;
            var i = results[iso].W;
            table.AddRow(name, $"{n.PerSecond:N0} {unit}\n{n.CyclesPerOperation:N0} cyc/op",
                $"{i.PerSecond:N0} {unit}\n{i.CyclesPerOperation:N0} cyc/op",
                $"{100.0 * i.PerSecond / n.PerSecond:0}%", $"{i.VmFuncs:N0}", $"{n.Exits:N0} / {i.Exits:N0}", paper);
        }
        Row("nullnet, 1 thread", "net-native", "net-iso", "pkts/s", "91%");
        Row("nullblk, 1 thread, depth 1", "blk-native", "blk-iso", "IOPS", "60%");
        AnsiConsole.Write(table);
        AnsiConsole.MarkupLine("VM exits are per whole run (boot, late launch, domain creation): none on the per-packet or per-I/O path.");

        AnsiConsole.WriteLine();
        AnsiConsole.MarkupLine("[bold]A faulty driver[/] ([blue]guest/domains/examples/scribbler.c[/]) writes into kernel memory from its domain:");
        var fault = results["fault"];
        foreach (var line in fault.Log.Split('\n').Where(l => DemoLines().IsMatch(l)))
            AnsiConsole.MarkupLineInterpolated($"  [grey]guest>[/] {line.TrimEnd()}");
        AnsiConsole.MarkupLineInterpolated(
            $"The kernel went on: after the kill it ran the isolated nullnet workload ({fault.W.PerSecond:N0} pkts/s).");
        var restartJson = settings.Json != null ? new System.Text.Json.Nodes.JsonObject() : null;
        ShowRestart(results["restart"].Log, costs.ClockHz, restartJson);
        if (settings.Json != null)
        {
            var doc = new System.Text.Json.Nodes.JsonObject();
            doc["restart_rate"] = restartJson!["restart_rate"]!.DeepClone();
            var list = new System.Text.Json.Nodes.JsonArray();
            foreach (var run in runs)
                list.Add(new System.Text.Json.Nodes.JsonObject
                {
                    ["key"] = run.Key,
                    ["title"] = run.Title,
                    ["boot"] = ResultsJson.Spec(run.Spec),
                    ["workload"] = ResultsJson.Workload(run.Spec.Workload!, results[run.Key].W),
                });
            doc["runs"] = list;
            doc["faulty_driver_killed"] = fault.Log.Contains("lvd: domain scribbler killed");
            ResultsJson.Write(settings.Json, "demo", costs, doc);
        }
        AnsiConsole.MarkupLine("More: [blue]./lvd bench[/] (the paper's tables), [blue]./lvd attack[/] (a domain's attacks on every row of " +
            "docs/THREAT-MODEL.md and the isolated NIC driver's, each contained), [blue]./lvd boot --domain your.c[/].");
        return 0;
    }

    [GeneratedRegex(@"^(\[domain scribbler\]|lvd: domain scribbler killed|lvd: scribbler:|lvd: kernel still running|result:)")]
    private static partial Regex DemoLines();

    /// <summary>Ticks (1 ms of modeled time each) of the restart run: a few before the kill, the rest after.</summary>
    private const int WarmupTicks = 4, RestartRunFaults = 1, AfterTicks = 5;

    /// <summary>
    /// The restart run: isolated nullnet under its workload on 4 vCPUs; the kernel's fault injector
    /// (guest/kernel/tests/faults.c) writes ud2 into the driver's transmit function after 4 ms and
    /// prints the workload's packet count every tick; the kernel restarts the driver (lvd faults, docs/DOMAINS.md).
    /// </summary>
    private static LvdBootSpec RestartSpec(GuestCompiler cc, Lvd.Machine.Cost.CostModel costs)
    {
        var img = FaultCampaign.ReadImage(Lvd.Toolchain.DomainBuilder.Build(cc, "nullnet").Elf);
        var plan = FaultCampaign.Plan("nullnet", [FaultCampaign.Kill("nullnet", img, 0)], 0, warmupTicks: WarmupTicks, sample: true);
        return FaultCampaign.Spec("nullnet", plan, RestartRunFaults, 4, costs.ClockHz,
            extraTicks: WarmupTicks + AfterTicks) with { Hypervisor = true };
    }

    [GeneratedRegex(@"^rate: t=(?<t>\d+) ops=(?<n>\d+) lost=(?<l>\d+)", RegexOptions.Multiline)]
    private static partial Regex RateLine();

    [GeneratedRegex(@"^(lvd: domain nullnet (killed|restarted)|fault: )", RegexOptions.Multiline)]
    private static partial Regex RestartLines();

    /// <summary>The rate over time of the restart run: packets per 1 ms tick, the dip at the kill and the recovery.</summary>
    private static void ShowRestart(string log, long clockHz, System.Text.Json.Nodes.JsonObject? json)
    {
        AnsiConsole.WriteLine();
        AnsiConsole.MarkupLine("[bold]A driver that comes back[/]: the isolated nullnet is killed while a sender runs (ud2 written into its");
        AnsiConsole.MarkupLine("transmit function by the kernel's fault injector); the kernel tears its domain down, loads the same image");
        AnsiConsole.MarkupLine("into a fresh one and replays its registration and open. Packets per millisecond of modeled time:");
        var samples = RateLine().Matches(log).Select(m => (T: long.Parse(m.Groups["t"].Value), N: long.Parse(m.Groups["n"].Value),
            L: long.Parse(m.Groups["l"].Value))).ToList();
        var chart = new BarChart().Width(70);
        var rows = new System.Text.Json.Nodes.JsonArray();
        for (int i = 1; i < samples.Count; i++)
        {
            // Samples are a tick apart except across the restart, which the sampler waits out: the
            // bar is a rate (per ms of its own interval), so a longer interval is not a taller bar.
            long sent = samples[i].N - samples[i - 1].N, dropped = samples[i].L - samples[i - 1].L;
            double from = samples[i - 1].T * 1000.0 / clockHz, to = samples[i].T * 1000.0 / clockHz;
            double perMs = to > from ? sent / (to - from) : 0;
            chart.AddItem($"{from,5:0.0}-{to,4:0.0} ms{(dropped > 0 ? $" ({dropped} dropped)" : "")}", Math.Round(perMs),
                dropped > 0 ? Color.Red : Color.Green);
            rows.Add(new System.Text.Json.Nodes.JsonObject
            {
                ["from_ms"] = Math.Round(from, 3), ["t_ms"] = Math.Round(to, 3), ["packets"] = sent,
                ["packets_per_ms"] = Math.Round(perMs, 1), ["dropped"] = dropped,
            });
        }
        AnsiConsole.Write(chart);
        foreach (var line in log.Split('\n').Where(l => RestartLines().IsMatch(l)))
            AnsiConsole.MarkupLineInterpolated($"  [grey]guest>[/] {line.TrimEnd()}");
        if (json != null) json["restart_rate"] = rows;
    }
}

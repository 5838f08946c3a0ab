using System.Text.Json.Nodes;

namespace Lvd.Cli.Commands;

/// <summary>
/// `lvd faults`: a fault-injection campaign on a running isolated driver (FaultCampaign,
/// docs/DOMAINS.md "Restart and fault injection"): per fault kind, no effect / killed and
/// recovered / killed and not recovered / kernel harmed, the outage of each recovery in modeled
/// time and the packets or I/Os lost. Any kernel harm, or a fault that did not run, fails it.
/// </summary>
public sealed class FaultsCommand : Command<FaultsCommand.Settings>
{
    public sealed class Settings : CampaignSettings
    {
        public const int DefaultFaults = 200;

        [CommandOption("--costs <FILE>")]
        [Description("Cost model file (default: config/costs.json, built in).")]
        public string? Costs { get; init; }

        [CommandOption("--driver <DRIVER>")]
        [Description("The isolated driver to inject into while its workload runs: nullnet or nullblk (required).")]
        public string? Driver { get; init; }

        [CommandOption("--cpus <C>")]
        [Description("vCPUs per boot, 2 to 9 (default 2: the workload on one, the injector and the restarts on the last).")]
        [DefaultValue(2)]
        public int Cpus { get; init; } = 2;

        [CommandOption("--per-boot <N>")]
        [Description("Faults per boot, 1 to 200 (default 25).")]
        [DefaultValue(25)]
        public int PerBoot { get; init; } = 25;

        [CommandOption("--json <FILE>")]
        [Description("Write the campaign for scripts: per kind and per fault (docs/RESULTS.md).")]
        public string? Json { get; init; }

        protected override int DefaultCount => DefaultFaults;
        protected override int MaxCount => 1_000_000;

        protected override void Check()
        {
            base.Check();
            CostSettings.CheckCosts(Costs);
            Require(Driver != null, "--driver is required: nullnet or nullblk");
            Require(Driver is "nullnet" or "nullblk", $"--driver {Driver}: nullnet or nullblk");
            Require(Cpus is >= 2 and <= LvdBoot.MaxCpus, $"--cpus {Cpus}: 2 to {LvdBoot.MaxCpus} (the injector needs a vCPU of its own)");
            Require(PerBoot is >= 1 and <= 200, "--per-boot must be 1 to 200");
            if (Json != null) OutputPaths.CheckOutputFile("--json", Json);
        }
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var costs = CostSettings.Load(settings.Costs);
        var cc = GuestCompiler.Locate();
        var o = new FaultCampaign.Options
        {
            Driver = settings.Driver!, Count = settings.Count, Seed = settings.Seed, Cpus = settings.Cpus, PerBoot = settings.PerBoot,
            Jobs = settings.Jobs, Costs = costs,
        };
        FaultCampaign.Report rep = null!;
        Terminal.Steps($"faults: {o.Driver}, seed {o.Seed}, {o.Count} faults", o.Count, step =>
        {
            int last = 0;
            rep = FaultCampaign.Run(o, cc, done =>
            {
                lock (o) { while (last < done) { last++; step($"{last} faults"); } }
            });
        });
        var table = new Table().Title($"Faults injected into the isolated {o.Driver} under its workload, seed {o.Seed}")
            .AddColumn("kind").AddColumn(new TableColumn("injected").RightAligned()).AddColumn(new TableColumn("no effect").RightAligned())
            .AddColumn(new TableColumn("not killed, requests failed").RightAligned())
            .AddColumn(new TableColumn("killed, recovered").RightAligned()).AddColumn(new TableColumn("killed, not recovered").RightAligned())
            .AddColumn(new TableColumn("kernel harmed").RightAligned()).AddColumn(new TableColumn("outage mean / max (us)").RightAligned())
            .AddColumn(new TableColumn(o.Driver == "nullnet" ? "packets lost" : "I/Os failed").RightAligned()).AddColumn("fault");
        foreach (var k in rep.ByKind())
            table.AddRow(k.Kind, $"{k.Injected}", $"{k.NoEffect}", $"{k.RequestFailed}", $"{k.Recovered}", $"{k.NotRecovered}", $"{k.KernelHarmed}",
                k.Recovered == 0 ? "-" : $"{k.MeanOutageUs:0} / {k.MaxOutageUs:0}", $"{k.Lost:N0}",
                Markup.Escape(FaultCampaign.KindMeaning.GetValueOrDefault(k.Kind, "")));
        AnsiConsole.Write(table);
        AnsiConsole.MarkupLine("[grey]outage: from the kill to the new instance serving (teardown, reload, init, replay), modeled time; detection " +
            "(fault to kill) is not in it.[/]");
        foreach (var a in rep.Accountings.Take(1))
            AnsiConsole.MarkupLineInterpolated($"[grey]leak accounting (first boot): {a.Line}[/]");
        foreach (var f in rep.Failures)
            AnsiConsole.MarkupLineInterpolated($"[red]FAIL[/] seed {o.Seed} fault {f.Index}: {f.What} (logs under build/faults/)");
        Console.WriteLine(rep.Summary);
        if (settings.Json != null)
        {
            var kinds = new JsonArray();
            foreach (var k in rep.ByKind())
                kinds.Add(new JsonObject
                {
                    ["kind"] = k.Kind, ["injected"] = k.Injected, ["no_effect"] = k.NoEffect, ["request_failed"] = k.RequestFailed,
                        ["killed_recovered"] = k.Recovered,
                    ["killed_not_recovered"] = k.NotRecovered, ["kernel_harmed"] = k.KernelHarmed, ["lost"] = k.Lost,
                    ["outage_mean_us"] = Math.Round(k.MeanOutageUs, 1), ["outage_max_us"] = Math.Round(k.MaxOutageUs, 1),
                    ["detect_mean_us"] = Math.Round(k.MeanDetectUs, 1),
                });
            var faults = new JsonArray();
            foreach (var f in rep.Outcomes)
                faults.Add(new JsonObject
                {
                    ["index"] = f.Index, ["kind"] = f.Kind, ["outcome"] = f.Result.Replace('-', '_'), ["detect_cycles"] = f.DetectCycles,
                    ["outage_cycles"] = f.OutageCycles, ["lost"] = f.Lost, ["rate_before_per_tick"] = f.RateBefore,
                    ["rate_after_per_tick"] = f.RateAfter, ["what"] = f.What,
                });
            ResultsJson.Write(settings.Json, "faults", costs, new JsonObject
            {
                ["driver"] = o.Driver, ["seed"] = o.Seed, ["count"] = o.Count, ["boots"] = rep.Boots, ["cpus"] = o.Cpus,
                ["injected"] = rep.Outcomes.Count, ["killed"] = rep.Killed, ["recovered"] = rep.Recovered,
                ["recovered_percent"] = Math.Round(rep.RecoveredPercent, 2), ["kernel_harmed"] = rep.KernelHarmed,
                ["failures"] = new JsonArray(rep.Failures.Select(f => (JsonNode)new JsonObject { ["index"] = f.Index, ["what"] = f.What }).ToArray()),
                ["by_kind"] = kinds, ["faults"] = faults,
            });
        }
        return rep.Passed ? 0 : 1;
    }
}

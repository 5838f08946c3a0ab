using Lvd.Experiments.Bench;

namespace Lvd.Cli.Commands;

/// <summary>`lvd bench micro`: the paper's Tables 1 and 2 (primitives) measured by the guest.</summary>
public sealed class BenchMicroCommand : Command<BenchMicroCommand.Settings>
{
    public sealed class Settings : BenchCostSettings
    {
        [CommandOption("--json <FILE>")]
        [System.ComponentModel.Description("Write the measured cycles beside the paper's for scripts (docs/RESULTS.md).")]
        public string? Json { get; init; }

        protected override void Check()
        {
            base.Check();
            if (Json != null) OutputPaths.CheckOutputFile("--json", Json);
        }
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var costs = settings.LoadCosts();
        var result = Terminal.Status("building and running guest/bench/micro.c under the hypervisor ...",
            () => MicroBenchmark.Run(GuestCompiler.Locate(), costs));
        var t = new Table().Title("Modeled cycles, measured in the guest with RDTSC (LVD paper Tables 1 and 2 beside)")
            .AddColumn("operation").AddColumn(new TableColumn("LVD#").RightAligned()).AddColumn(new TableColumn("paper").RightAligned());
        foreach (var row in result.Rows) t.AddRow(row.Description, row.Cycles.ToString("N0"), row.Paper);
        AnsiConsole.Write(t);
        if (settings.Json != null)
            ResultsJson.Write(settings.Json, "bench micro", costs, new System.Text.Json.Nodes.JsonObject
            {
                ["operations"] = new System.Text.Json.Nodes.JsonArray(result.Rows.Select(row =>
                    (System.Text.Json.Nodes.JsonNode?)new System.Text.Json.Nodes.JsonObject
                {
                    ["name"] = row.Name,
                    ["operation"] = row.Description,
                    ["cycles"] = row.Cycles,
                    ["paper_cycles"] = PaperCycles(row.Paper),
                    ["paper_source"] = row.Paper,
                }).ToArray()),
                ["vm_exits"] = result.Exits,
            });
        AnsiConsole.MarkupLineInterpolated($"{costs.Describe()}; VM exits in the run: {result.Exits:N0}");
        AnsiConsole.MarkupLine("The LVD call/reply round trip through the trampolines (paper 396) is in `lvd bench` (Table 1).");
        return 0;
    }

    /// <summary>"169 (Table 1)" -> 169, "2 x 169" -> 338.</summary>
    private static long? PaperCycles(string paper)
    {
        var m = System.Text.RegularExpressions.Regex.Match(paper, @"^(?:(\d+) x )?(\d+)");
        if (!m.Success) return null;
        long v = long.Parse(m.Groups[2].Value);
        return m.Groups[1].Success ? v * long.Parse(m.Groups[1].Value) : v;
    }
}

using System.Text.Json.Nodes;
using Lvd.Experiments.Bench;
using Lvd.Experiments.Timing;

namespace Lvd.Cli.Commands;

/// <summary>
/// `lvd bench timing` (docs/COST-MODEL.md, Block timing): (a) the block model against llvm-mca on the loop kernels of
/// guest/bench/timing/kernels.s, and (c) the paper's micro figures and one point of Figures 6 and 9 under the cpi1
/// and haswell profiles side by side, beside the paper. `--update-table` first regenerates config/timing/haswell.json.
/// </summary>
public sealed class BenchTimingCommand : Command<BenchTimingCommand.Settings>
{
    public sealed class Settings : LvdSettings
    {
        [CommandOption("--update-table")]
        [Description("First regenerate config/timing/haswell.json from llvm-mca (about a minute); lvd's next build embeds it.")]
        public bool UpdateTable { get; init; }

        [CommandOption("--kernels-only")]
        [Description("Only part (a): the loop kernels against llvm-mca (seconds), not the guest runs.")]
        public bool KernelsOnly { get; init; }

        [CommandOption("--json <FILE>")]
        [Description("Write the figures as JSON (docs/RESULTS.md header).")]
        public string? Json { get; init; }

        protected override void Check()
        {
            base.Check();
            if (Json != null) OutputPaths.CheckOutputFile("--json", Json);
            if (!File.Exists(Mca.Tool))
                throw new UsageException($"lvd bench timing needs llvm-mca ({Mca.Tool}): scripts/setup.sh installs Debian's llvm");
        }
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var cc = GuestCompiler.Locate();
        string table = Path.Combine(cc.RepoRoot, "config", "timing", "haswell.json");
        if (settings.UpdateTable)
        {
            var (entries, refused) = Terminal.Status("llvm-mca -mcpu=haswell on every instruction form ...", () => HaswellTable.Generate(table));
            AnsiConsole.MarkupLineInterpolated($"{table}: {entries:N0} entries ({refused:N0} forms llvm-mca does not take)");
        }
        var timings = Lvd.Machine.Cost.InstructionTimings.Load(table);
        var rows = Terminal.Status("the loop kernels under llvm-mca and the block model ...",
            () => TimingValidation.Run(Path.Combine(cc.RepoRoot, "guest", "bench", "timing", "kernels.s"), timings));
        var t = new Table().Title($"(a) Cycles per iteration of the loop kernels: llvm-mca -mcpu=haswell vs the block model")
            .AddColumn("kernel").AddColumn(new TableColumn("instructions").RightAligned()).AddColumn(new TableColumn("llvm-mca").RightAligned())
            .AddColumn(new TableColumn("model").RightAligned()).AddColumn(new TableColumn("error").RightAligned());
        foreach (var r in rows)
            t.AddRow(r.Name, r.Instructions.ToString(), r.Mca.ToString("0.00"), r.Model.ToString("0.00"), $"{100 * r.Error:+0.0;-0.0;0.0}%");
        AnsiConsole.Write(t);
        double mae = rows.Average(r => Math.Abs(r.Error));
        AnsiConsole.MarkupLineInterpolated($"mean absolute error {100 * mae:0.0}% over {rows.Count} kernels (target at most 15%); {timings.Source}");
        var json = new JsonObject
        {
            ["kernels"] = new JsonArray([.. rows.Select(r => (JsonNode)new JsonObject
            {
                ["name"] = r.Name, ["instructions"] = r.Instructions, ["llvm_mca_cycles"] = r.Mca, ["model_cycles"] = r.Model, ["error"] = r.Error,
            })]),
            ["mean_absolute_error"] = mae,
        };
        if (!settings.KernelsOnly)
        {
            var figures = Terminal.Status("the paper's micro figures under the cpi1 and haswell profiles ...", () => TimingFigures.Run());
            var f = new Table().Title("(c) The paper's figures under each profile (modeled cycles; reported, never tuned)")
                .AddColumn("figure").AddColumn(new TableColumn("cpi1").RightAligned()).AddColumn(new TableColumn("haswell").RightAligned())
                .AddColumn(new TableColumn("paper").RightAligned());
            var arr = new JsonArray();
            foreach (var row in figures)
            {
                f.AddRow(row.Name, row.Cpi1.ToString("N0"), row.Haswell.ToString("N0"), row.Paper.ToString("N0"));
                arr.Add(new JsonObject { ["name"] = row.Name, ["cpi1"] = row.Cpi1, ["haswell"] = row.Haswell, ["paper"] = row.Paper });
            }
            AnsiConsole.Write(f);
            json["figures"] = arr;
        }
        AnsiConsole.MarkupLineInterpolated($"{Lvd.Machine.Cost.CostModel.Named("haswell").Describe()}");
        if (settings.Json != null) ResultsJson.Write(settings.Json, "bench timing", Lvd.Machine.Cost.CostModel.Named("haswell"), json);
        return 0;
    }
}

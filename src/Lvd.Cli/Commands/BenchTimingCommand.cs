using System.Text.Json.Nodes;
using Lvd.Experiments.Bench;
using Lvd.Experiments.Timing;

namespace Lvd.Cli.Commands;

/// <summary>
/// `lvd bench timing` (docs/COST-MODEL.md, Block timing): (a) the block model against llvm-mca on the loop kernels of
/// guest/bench/timing/kernels.s, (b) the kernels measured on this host against the znver3 profile, and (c) the paper's
/// micro figures and one point of Figures 6 and 9 under the cpi1 and haswell profiles side by side, beside the paper.
/// `--update-table` first regenerates config/timing/*.json.
/// </summary>
public sealed class BenchTimingCommand : Command<BenchTimingCommand.Settings>
{
    public sealed class Settings : LvdSettings
    {
        [CommandOption("--update-table")]
        [Description("First regenerate the tables config/timing/haswell.json and znver3.json from llvm-mca (about a minute each); " +
            "lvd's next build embeds them.")]
        public bool UpdateTable { get; init; }

        [CommandOption("--kernels-only")]
        [Description("Only the loop kernels, parts (a) and (b), in seconds; not the guest runs of part (c).")]
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
            foreach (var cpu in TimingTable.Cpus.Keys)
            {
                string file = Path.Combine(cc.RepoRoot, "config", "timing", cpu + ".json");
                var (entries, refused) = Terminal.Status($"llvm-mca -mcpu={cpu} on every instruction form ...",
                    () => TimingTable.Generate(file, cpu));
                AnsiConsole.MarkupLineInterpolated($"{file}: {entries:N0} entries ({refused:N0} forms llvm-mca does not take)");
            }
        }
        var timings = Lvd.Machine.Cost.InstructionTimings.Load(table);
        string kernelsPath = Path.Combine(cc.RepoRoot, "guest", "bench", "timing", "kernels.s");
        var rows = Terminal.Status("the loop kernels under llvm-mca and the block model ...", () => TimingValidation.Run(kernelsPath, timings));
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
        var znver3 = Lvd.Machine.Cost.CostModel.Named("znver3").Timing!;
        var zrows = Terminal.Status("the loop kernels under llvm-mca -mcpu=znver3 and the host profile ...",
            () => TimingValidation.Run(kernelsPath, znver3, "znver3"));
        double zmae = zrows.Average(r => Math.Abs(r.Error));
        AnsiConsole.WriteLine("the host profile (znver3 table) against llvm-mca -mcpu=znver3 on the same kernels: " +
            $"mean absolute error {100 * zmae:0.0}%");
        json["znver3_mean_absolute_error"] = zmae;
        var (host, modelErr, mcaErr) = Terminal.Status("the loop kernels natively on this host (RDTSC) and under the znver3 profile ...",
            () => NativeKernels.Compare(kernelsPath, znver3, "znver3"));
        var nt = new Table().Title("(b) Cycles per iteration on this host (measured) vs the block model and llvm-mca with the znver3 table")
            .AddColumn("kernel").AddColumn(new TableColumn("host").RightAligned()).AddColumn(new TableColumn("spread").RightAligned())
            .AddColumn(new TableColumn("model").RightAligned()).AddColumn(new TableColumn("llvm-mca").RightAligned());
        foreach (var r in host)
            nt.AddRow(r.Name, r.Host.ToString("0.00"), $"{100 * r.Spread:0}%", r.Model.ToString("0.00"), r.Mca.ToString("0.00"));
        AnsiConsole.Write(nt);
        AnsiConsole.WriteLine($"mean absolute error against the host: model {100 * modelErr:0.0}%, llvm-mca {100 * mcaErr:0.0}% " +
            $"(spread: the slowest of {NativeKernels.Runs} runs over the fastest, which counts; " +
            $"{NativeKernels.Calibration} calibrates the TSC)");
        json["host_kernels"] = new JsonArray([.. host.Select(r => (JsonNode)new JsonObject
        {
            ["name"] = r.Name, ["host_cycles"] = r.Host, ["spread"] = r.Spread, ["model_cycles"] = r.Model, ["llvm_mca_cycles"] = r.Mca,
        })]);
        json["host_mean_absolute_error"] = modelErr;
        json["host_llvm_mca_mean_absolute_error"] = mcaErr;
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

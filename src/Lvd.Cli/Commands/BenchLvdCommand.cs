using Lvd.Experiments.Bench;

namespace Lvd.Cli.Commands;

/// <summary>
/// `lvd bench`: the LVD paper's evaluation rerun on LVD# (Tables 1, 3, 4; Figures 6 and 9),
/// printed beside the paper's numbers, with JSON and PNG plots in --out.
/// </summary>
public sealed class BenchLvdCommand : Command<BenchLvdCommand.Settings>
{
    public sealed class Settings : BenchCostSettings
    {
        [CommandOption("--out <DIR>")]
        [Description("Write results.json and the plots (PNG and SVG) into this directory, created if missing (default: build/bench).")]
        public string Out { get; init; } = "";

        [CommandOption("--cpus <N>")]
        [Description("vCPUs for the workloads, 1 to 16 (default 4); threads run 1, 2, 4, ... up to N.")]
        [DefaultValue(4)]
        public int Cpus { get; init; } = 4;

        [CommandOption("--duration <CYCLES>")]
        [Description("Modeled cycles of each workload run, at least 1,000,000 (default 10,000,000).")]
        [DefaultValue(10_000_000L)]
        public long Duration { get; init; } = 10_000_000;

        [CommandOption("--update-docs")]
        [Description("Also run `lvd bench micro` and write the figures into README.md (between its figures markers; " +
            "Lvd.Experiments.Bench.DocFigures); only with the default --cpus, --duration and cost file, which the README describes.")]
        public bool UpdateDocs { get; init; }

        [CommandOption("--jobs <N>")]
        [Description("Guest runs at once (default: the host's processor count).")]
        public int? Jobs { get; init; }

        public string OutDir => Out.Length > 0 ? Out : Path.Combine(Lvd.Toolchain.GuestCompiler.Locate().RepoRoot, "build", "bench");

        protected override void Check()
        {
            base.Check();
            Require(Cpus is >= 1 and <= Lvd.Experiments.Domains.LvdBoot.MaxCpus,
                $"--cpus {Cpus}: the guest kernel runs on 1 to {Lvd.Experiments.Domains.LvdBoot.MaxCpus} vCPUs");
            Require(Duration >= 1_000_000, $"--duration {Duration}: must be at least 1,000,000 cycles");
            Require(Jobs is null or >= 1, $"--jobs {Jobs}: must be at least 1");
            if (UpdateDocs)
            {
                Require(Cpus == DocFigures.Options.Cpus && Duration == DocFigures.Options.Duration && Costs == null,
                    $"--update-docs writes the README's figures, which are those of the defaults: no --cpus, --duration or --costs");
                string readme = Path.Combine(Lvd.Toolchain.GuestCompiler.Locate().RepoRoot, "README.md");
                Require(File.Exists(readme) && DocFigures.Block(File.ReadAllText(readme)) != null,
                    $"--update-docs: {readme} has no figures markers to write between");
            }
            OutputPaths.CheckOutputDirectory("--out", OutDir);
        }
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var threads = new List<int>();
        for (int t = 1; t <= settings.Cpus; t *= 2) threads.Add(t);
        if (threads[^1] != settings.Cpus) threads.Add(settings.Cpus);
        var o = new LvdEvaluation.Options
        {
            Cpus = settings.Cpus,
            Duration = settings.Duration,
            Threads = [.. threads],
            Parallelism = settings.Jobs ?? Math.Max(1, Environment.ProcessorCount),
            Costs = settings.LoadCosts(),
        };
        string outDir = settings.OutDir;
        var plan = LvdEvaluation.Plan(o);
        Dictionary<string, LvdEvaluation.JobResult> results = null!;
        Terminal.Steps($"lvd bench: {plan.Count} guest runs ({o.Parallelism} at once)", plan.Count, step =>
            results = LvdEvaluation.Run(o, (r, done, total) => step(r.Job.Title)));
        var tables = LvdEvaluation.Tables(results, o);
        foreach (var t in tables)
        {
            var table = new Table().Title(Markup.Escape(t.Title));
            foreach (var c in t.Columns) table.AddColumn(new TableColumn(Markup.Escape(c)));
            foreach (var row in t.Rows) table.AddRow(row.Select(Markup.Escape).ToArray());
            table.Caption(Markup.Escape(t.Footnote));
            AnsiConsole.Write(table);
        }
        var header = Lvd.Experiments.Results.Header("bench", o.Costs, Lvd.Toolchain.GuestCompiler.Locate().RepoRoot, Program.CommandLine);
        var files = LvdEvaluation.Write(outDir, results, o, tables, header);
        AnsiConsole.MarkupLineInterpolated($"{o.Costs.Describe()}");
        foreach (var f in files) AnsiConsole.MarkupLineInterpolated($"wrote {f}");
        if (settings.UpdateDocs)
        {
            var micro = Terminal.Status("lvd bench micro ...", () => MicroBenchmark.Run(Lvd.Toolchain.GuestCompiler.Locate(), o.Costs));
            var values = DocFigures.Collect(results, micro);
            string readme = Path.Combine(Lvd.Toolchain.GuestCompiler.Locate().RepoRoot, "README.md");
            File.WriteAllText(readme, DocFigures.Update(File.ReadAllText(readme), values));
            AnsiConsole.MarkupLineInterpolated($"wrote {values.Count} figures into {readme}");
        }
        return 0;
    }
}

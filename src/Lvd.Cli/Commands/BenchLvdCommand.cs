using System.ComponentModel;
using Lvd.Experiments.Bench;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Lvd.Cli.Commands;

/// <summary>
/// `lvd bench`: the LVD paper's evaluation rerun on LVD# (Tables 1, 3, 4; Figures 6 and 9),
/// printed beside the paper's numbers, with JSON and PNG plots in --out.
/// </summary>
public sealed class BenchLvdCommand : Command<BenchLvdCommand.Settings>
{
    public sealed class Settings : MachineSettings
    {
        [CommandOption("--out <DIR>")]
        [Description("Write results.json and the plots (PNG) here (default: build/bench).")]
        public string Out { get; init; } = "";

        [CommandOption("--cpus <N>")]
        [Description("vCPUs for the workloads (default 4); threads run 1, 2, 4, ... up to N.")]
        [DefaultValue(4)]
        public int Cpus { get; init; } = 4;

        [CommandOption("--duration <CYCLES>")]
        [Description("Modeled cycles of each workload run (default 10,000,000).")]
        [DefaultValue(10_000_000L)]
        public long Duration { get; init; } = 10_000_000;

        [CommandOption("--jobs <N>")]
        [Description("Guest runs at once (default: the host's processor count).")]
        public int? Jobs { get; init; }
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        if (settings.Cpus is < 1 or > 64) throw new UsageException("--cpus must be 1 to 64");
        if (settings.Duration < 1_000_000) throw new UsageException("--duration must be at least 1,000,000 cycles");
        if (settings.Jobs is < 1) throw new UsageException("--jobs must be at least 1");
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
        string outDir = settings.Out.Length > 0 ? settings.Out : Path.Combine(Lvd.Toolchain.GuestCompiler.Locate().RepoRoot, "build", "bench");
        var plan = LvdEvaluation.Plan(o);
        Dictionary<string, LvdEvaluation.JobResult> results = null!;
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
        console.Progress().AutoClear(true).Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
            .Start(ctx =>
            {
                var task = ctx.AddTask($"{plan.Count} guest runs ({o.Parallelism} at once)", maxValue: plan.Count);
                results = LvdEvaluation.Run(o, (r, done, total) =>
                {
                    task.Increment(1);
                    task.Description = $"{done}/{total}: {Markup.Escape(r.Job.Title)}";
                });
            });
        var tables = LvdEvaluation.Tables(results, o);
        foreach (var t in tables)
        {
            var table = new Table().Title(Markup.Escape(t.Title));
            foreach (var c in t.Columns) table.AddColumn(new TableColumn(Markup.Escape(c)));
            foreach (var row in t.Rows) table.AddRow(row.Select(Markup.Escape).ToArray());
            table.Caption(Markup.Escape(t.Footnote));
            AnsiConsole.Write(table);
        }
        var files = LvdEvaluation.Write(outDir, results, o, tables);
        AnsiConsole.MarkupLineInterpolated($"cost file: {o.Costs.SourcePath}");
        foreach (var f in files) AnsiConsole.MarkupLineInterpolated($"wrote {f}");
        return 0;
    }
}

using Lvd.Experiments.Robustness;

namespace Lvd.Cli.Commands;

/// <summary>
/// `lvd fuzz-machine`: random code, random system-instruction snippets, damaged ELF files and odd
/// `lvd exec` command lines, plain and under the hypervisor; every run must end within its bound
/// with a documented status and report (MachineFuzz, docs/EXEC-ABI.md "Robustness campaign").
/// </summary>
public sealed class FuzzMachineCommand : Command<FuzzMachineCommand.Settings>
{
    public sealed class Settings : CampaignSettings
    {
        public const int DefaultRuns = 500;

        [CommandOption("--out <DIR>")]
        [Description("Where failing cases' ELF files are kept (default build/fuzz-machine).")]
        public string? Out { get; init; }

        public string OutDir => Out ?? Path.Combine(Environment.GetEnvironmentVariable("LVD_ROOT") ?? ".", "build", "fuzz-machine");

        protected override int DefaultCount => DefaultRuns;
        protected override int MaxCount => 10_000_000;

        protected override void Check()
        {
            base.Check();
            OutputPaths.CheckOutputDirectory("--out", OutDir);
        }
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var o = new MachineFuzz.Options
        {
            Count = settings.Count, Seed = settings.Seed, Jobs = settings.Jobs, OutDir = settings.OutDir,
            CliDll = typeof(FuzzMachineCommand).Assembly.Location,
        };
        MachineFuzz.Report rep = null!;
        // One step per run (progress on a terminal only, Terminal.Steps).
        Terminal.Steps($"fuzz-machine: seed {o.Seed}, {o.Count} runs", o.Count, step => rep = MachineFuzz.Run(o, done => step($"run {done}")));
        var table = new Table().Title($"Robustness campaign, seed {o.Seed}").AddColumn("kind").AddColumn("outcome")
            .AddColumn(new TableColumn("status").RightAligned()).AddColumn(new TableColumn("runs").RightAligned());
        foreach (var g in rep.Results.GroupBy(r => (r.Kind, r.Outcome, r.Status)).OrderBy(g => g.Key.Kind).ThenBy(g => g.Key.Status))
            table.AddRow(g.Key.Kind.ToString(), Markup.Escape(g.Key.Outcome), g.Key.Status.ToString(), g.Count().ToString());
        AnsiConsole.Write(table);
        foreach (var f in rep.Failures)
            AnsiConsole.MarkupLineInterpolated($"[red]FAIL[/] seed {o.Seed} run {f.Index} ({f.Kind}): {f.Failure}");
        Console.WriteLine(rep.Summary);
        return rep.Passed ? 0 : 1;
    }
}

using System.ComponentModel;
using Lvd.Experiments.Robustness;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Lvd.Cli.Commands;

/// <summary>
/// `lvd fuzz-machine`: random code, random system-instruction snippets, damaged ELF files and odd
/// `lvd exec` command lines, plain and under the hypervisor; every run must end within its bound
/// with a documented status and report (MachineFuzz, docs/EXEC-ABI.md "Robustness campaign").
/// </summary>
public sealed class FuzzMachineCommand : Command<FuzzMachineCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--count <N>")]
        [Description("How many runs (default 500).")]
        [DefaultValue(500)]
        public int Count { get; init; } = 500;

        [CommandOption("--seed <S>")]
        [Description("Campaign seed (default 1): the same seed makes the same cases.")]
        [DefaultValue(1L)]
        public long Seed { get; init; } = 1;

        [CommandOption("--jobs <N>")]
        [Description("Runs in parallel (default: processor count).")]
        public int? Jobs { get; init; }

        [CommandOption("--out <DIR>")]
        [Description("Where failing cases' ELF files are kept (default build/fuzz-machine).")]
        public string? Out { get; init; }
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        if (settings.Count is < 1 or > 10_000_000) throw new UsageException("--count must be 1 to 10000000");
        if (settings.Jobs is < 1) throw new UsageException("--jobs must be at least 1");
        string outDir = settings.Out ?? Path.Combine(Environment.GetEnvironmentVariable("LVD_ROOT") ?? ".", "build", "fuzz-machine");
        OutputPaths.CheckOutputDirectory("--out", outDir);
        var o = new MachineFuzz.Options
        {
            Count = settings.Count, Seed = settings.Seed, Jobs = settings.Jobs ?? Environment.ProcessorCount, OutDir = outDir,
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

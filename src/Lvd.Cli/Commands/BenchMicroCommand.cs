using Lvd.Experiments.Bench;
using Lvd.Toolchain;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Lvd.Cli.Commands;

/// <summary>`lvd bench micro`: the paper's Tables 1 and 2 (primitives) measured by the guest.</summary>
public sealed class BenchMicroCommand : Command<MachineSettings>
{
    public override int Execute(CommandContext context, MachineSettings settings, CancellationToken cancellationToken)
    {
        var costs = settings.LoadCosts();
        MicroBenchmark.Result result = null!;
        AnsiConsole.Status().Start("building and running guest/bench/micro.c under the hypervisor...", _ =>
            result = MicroBenchmark.Run(GuestCompiler.Locate(), costs));
        var t = new Table().Title("Modeled cycles, measured in the guest with RDTSC (LVD paper Tables 1 and 2 beside)")
            .AddColumn("operation").AddColumn(new TableColumn("LVD#").RightAligned()).AddColumn(new TableColumn("paper").RightAligned());
        foreach (var row in result.Rows) t.AddRow(row.Description, row.Cycles.ToString("N0"), row.Paper);
        AnsiConsole.Write(t);
        AnsiConsole.MarkupLineInterpolated($"cost file: {costs.SourcePath}; VM exits in the run: {result.Exits:N0}");
        AnsiConsole.MarkupLine("The LVD call/reply round trip through the trampolines (paper 396) is in `lvd bench` (Table 1).");
        return 0;
    }
}

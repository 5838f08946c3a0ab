using Lvd.Machine.Loader;
using Lvd.Toolchain;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Lvd.Cli.Commands;

/// <summary>
/// `lvd demo`, the README's main job. For now: build the bundled sample program with the guest
/// toolchain, run it on the emulated machine and show what the machine measured.
/// </summary>
public sealed class DemoCommand : Command<MachineSettings>
{
    public override int Execute(CommandContext context, MachineSettings settings, CancellationToken cancellationToken)
    {
        var cc = GuestCompiler.Locate();
        string src = Path.Combine(cc.RepoRoot, "guest", "samples", "demo.c");
        string outDir = Path.Combine(cc.RepoRoot, "build", "demo");
        Directory.CreateDirectory(outDir);
        string elf = Path.Combine(outDir, "demo.elf");
        AnsiConsole.MarkupLine("[bold]LVD# demo[/]: building [blue]guest/samples/demo.c[/] with lvd cc -O2");
        cc.Build([src], elf, "-O2");
        AnsiConsole.MarkupLine("running it on the emulated x86-64 machine (guest serial output follows)");
        Console.Out.Flush();
        using var stdout = Console.OpenStandardOutput();
        var result = ProgramRunner.Run(elf, new RunOptions { Costs = settings.LoadCosts(), MemoryBytes = settings.MemoryBytes, SerialOut = stdout });
        if (result.Run.CrashReport != null) Console.Error.Write(result.Run.CrashReport);
        var costs = result.Machine.Costs;
        var table = new Table().AddColumn("measure").AddColumn(new TableColumn("value").RightAligned());
        table.AddRow("outcome", $"{result.Run.Outcome} (status {result.ExitStatus})");
        table.AddRow("guest instructions", $"{result.Run.Instructions:N0}");
        table.AddRow("modeled cycles", $"{result.Run.Cycles:N0}");
        table.AddRow("modeled time", $"{result.Run.Cycles / (double)costs.ClockHz * 1e3:F3} ms at {costs.ClockHz / 1e9:F1} GHz");
        table.AddRow("host time", $"{result.Run.HostSeconds:F3} s");
        table.AddRow("host speed", $"{result.Mips:F1} MIPS");
        table.AddRow("decoded blocks", $"{result.Machine.Code.BlocksDecoded:N0}");
        table.AddRow("cost file", costs.SourcePath);
        AnsiConsole.Write(table);
        return result.ExitStatus;
    }
}

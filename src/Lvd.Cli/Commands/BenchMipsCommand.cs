using System.Diagnostics;
using Lvd.Hypervisor;

namespace Lvd.Cli.Commands;

/// <summary>
/// Host speed: one CPU-bound guest program (guest/bench/mips.c) run on the emulator, natively
/// and under qemu-x86_64 (user mode, dynamic binary translation), in one run, as ratios.
/// The instruction count is the emulator's; the other columns use the same count so that
/// "MIPS" compares the same work.
/// </summary>
public sealed class BenchMipsCommand : Command<BenchMipsCommand.Settings>
{
    public sealed class Settings : MachineSettings
    {
        [CommandOption("--runs <N>")]
        [Description("Repetitions per engine; the best run counts (default 3).")]
        [DefaultValue(3)]
        public int Runs { get; init; } = 3;

        [CommandOption("--scale <N>")]
        [Description("Work units passed to the benchmark program (default 40).")]
        [DefaultValue(40)]
        public int Scale { get; init; } = 40;

        protected override void Check()
        {
            base.Check();
            Require(Runs >= 1, $"--runs {Runs}: must be at least 1");
            Require(Scale >= 1, $"--scale {Scale}: must be at least 1");
        }
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var cc = GuestCompiler.Locate();
        string src = Path.Combine(cc.RepoRoot, "guest", "bench", "mips.c");
        string dir = Path.Combine(cc.RepoRoot, "build", "bench");
        Directory.CreateDirectory(dir);
        string elf = Path.Combine(dir, "mips.elf"), native = Path.Combine(dir, "mips.native");
        string scale = $"-DSCALE={settings.Scale}";
        cc.Build([src], elf, "-O2", scale);
        var (need, why) = ExecCommand.Settings.NeededMemory(elf);
        if (settings.MemoryMiB < need) throw new UsageException($"--memory {settings.MemoryMiB}: at least {need} MiB ({why})");
        RunProcess("gcc", ["-O2", "-mgeneral-regs-only", scale, "-o", native, src], out _);

        double emuBest = double.MaxValue, eptBest = double.MaxValue;
        long instructions = 0;
        string emuOut = "";
        Terminal.Steps("emulator, native and under the hypervisor (EPT)", 2 * settings.Runs, step =>
        {
            for (int i = 0; i < settings.Runs; i++)
            {
                foreach (var mode in new[] { HypervisorMode.None, HypervisorMode.LaunchAtStart })
                {
                    var r = ProgramRunner.Run(elf, new RunOptions { Costs = settings.LoadCosts(), MemoryBytes = settings.MemoryBytes,
                        CaptureSerial = true }.With(mode));
                    if (r.Run.Outcome != Lvd.Machine.RunOutcome.Exited || r.ExitStatus != 0)
                        throw new UsageException($"benchmark guest failed: {r.Run.Outcome} {r.Run.CrashReport}");
                    if (mode == HypervisorMode.None) emuBest = Math.Min(emuBest, r.Run.HostSeconds);
                    else eptBest = Math.Min(eptBest, r.Run.HostSeconds);
                    if (emuOut.Length > 0 && r.OutputText != emuOut)
                        throw new UsageException("the emulator's output differs with and without the hypervisor");
                    instructions = r.Run.Instructions;
                    emuOut = r.OutputText;
                    step(mode == HypervisorMode.None ? "emulator" : "emulator under the hypervisor");
                }
            }
        });

        double nativeBest = BestOf(settings.Runs, native, [], out string nativeOut);
        if (nativeOut != emuOut) throw new UsageException("native and emulated outputs differ: the emulator is wrong on this program");
        double? qemuBest = null;
        if (File.Exists("/usr/bin/qemu-x86_64"))
        {
            qemuBest = BestOf(settings.Runs, "/usr/bin/qemu-x86_64", [native], out string qemuOut);
            if (qemuOut != emuOut) throw new UsageException("qemu output differs from the emulator's");
        }

        var t = new Table().Title($"host speed, {instructions:N0} guest instructions, best of {settings.Runs}")
            .AddColumn("engine").AddColumn(new TableColumn("seconds").RightAligned())
            .AddColumn(new TableColumn("MIPS").RightAligned()).AddColumn(new TableColumn("time vs native").RightAligned());
        void Row(string name, double s) => t.AddRow(name, $"{s:F3}", $"{instructions / s / 1e6:F0}", $"{s / nativeBest:F1}x");
        Row("native (host CPU)", nativeBest);
        if (qemuBest is double q) Row("qemu-x86_64 (TCG)", q); else t.AddRow("qemu-x86_64", "not installed", "", "");
        Row("LVD# emulator (paging on)", emuBest);
        Row("LVD# emulator, VT-x guest (paging + EPT)", eptBest);
        AnsiConsole.Write(t);
        AnsiConsole.MarkupLine($"EPT MIPS / no-EPT MIPS: [bold]{emuBest / eptBest:P0}[/]");
        if (qemuBest is double q2) AnsiConsole.MarkupLine($"emulator / qemu time: [bold]{emuBest / q2:F2}x[/]");
        return 0;
    }

    private static double BestOf(int runs, string exe, string[] args, out string output)
    {
        double best = double.MaxValue;
        output = "";
        for (int i = 0; i < runs; i++)
        {
            var sw = Stopwatch.StartNew();
            RunProcess(exe, args, out output);
            best = Math.Min(best, sw.Elapsed.TotalSeconds);
        }
        return best;
    }

    private static void RunProcess(string exe, string[] args, out string stdout)
    {
        var psi = new ProcessStartInfo(exe) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi) ?? throw new UsageException($"cannot start {exe}");
        var errTask = p.StandardError.ReadToEndAsync();
        stdout = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new UsageException($"{exe} failed (status {p.ExitCode}): {errTask.Result.Trim()}");
    }
}

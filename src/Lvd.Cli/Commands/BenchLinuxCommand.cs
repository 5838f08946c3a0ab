using System.Diagnostics;
using System.Text.Json.Nodes;
using Lvd.Experiments.Linux;
using Lvd.Toolchain.Linux;

namespace Lvd.Cli.Commands;

/// <summary>
/// `lvd bench linux` (docs/LINUX.md, Figures): host seconds from power-on to Linux running /init, and to the end of
/// the run (the init script's checks and a static program, then the status through port 0xF4), and the emulator's
/// MIPS during the boot, side by side in one run with `qemu-system-x86_64 -accel tcg` booting the same bzImage and
/// initramfs (qemu's isa-debug-exit device at port 0xF4 ends it the same way). Fresh processes, medians of --runs.
/// </summary>
public sealed class BenchLinuxCommand : Command<BenchLinuxCommand.Settings>
{
    public const string Qemu = MultibootImage.QemuSystem;

    public sealed class Settings : LvdSettings
    {
        [CommandOption("--runs <N>")]
        [Description("Boots per engine; the median counts (default 3).")]
        [DefaultValue(3)]
        public int Runs { get; init; } = 3;

        [CommandOption("--json <FILE>")]
        [Description("Write the figures as JSON (docs/RESULTS.md header).")]
        public string? Json { get; init; }

        protected override void Check()
        {
            base.Check();
            Require(Runs is >= 1 and <= 50, $"--runs {Runs}: 1 to 50");
            if (Json != null) OutputPaths.CheckOutputFile("--json", Json);
        }
    }

    private sealed record Boot(double ToInit, double Total, double? Mips, double? Modeled);

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        string root = GuestCompiler.Locate().RepoRoot;
        InstallQemu("lvd bench linux");
        var kernel = Terminal.Status("the Linux kernel (guest/linux/build.sh, cached) ...", () => LinuxKernel.Build(root));
        string dir = Path.Combine(root, "build", "bench-linux");
        Directory.CreateDirectory(dir);
        // The workload: a static glibc program that prints and exits 0, after the init script's checks.
        string c = Path.Combine(dir, "hello.c"), prog = Path.Combine(dir, "hello");
        File.WriteAllText(c, "#include <stdio.h>\nint main(void) { printf(\"bench: hello from glibc\\n\"); return 0; }\n");
        Run("gcc", ["-static", "-O2", "-o", prog, c]);
        string initrd = Path.Combine(dir, "initramfs.cpio");
        File.WriteAllBytes(initrd, LinuxBoot.BuildInitramfs(root, prog));

        var lvd = new List<Boot>();
        var qemu = new List<Boot>();
        Terminal.Steps($"lvd bench linux: {settings.Runs} boots per engine, fresh processes", 2 * settings.Runs, step =>
        {
            for (int i = 0; i < settings.Runs; i++)
            {
                lvd.Add(TimeLvd(prog));
                step("lvd linux");
                qemu.Add(TimeQemu(kernel.BzImage, initrd));
                step("qemu");
            }
        });
        double Med(IEnumerable<double> xs) { var a = xs.OrderBy(x => x).ToArray(); return a[a.Length / 2]; }
        var t = new Table().Title($"Linux 6.1 bzImage + BusyBox initramfs, 1 CPU, host seconds (fresh processes, median of {settings.Runs})")
            .AddColumn("engine").AddColumn(new TableColumn("to /init").RightAligned()).AddColumn(new TableColumn("to the end").RightAligned())
            .AddColumn(new TableColumn("MIPS").RightAligned()).AddColumn(new TableColumn("modeled s").RightAligned());
        double lvdInit = Med(lvd.Select(b => b.ToInit)), lvdTotal = Med(lvd.Select(b => b.Total)), qInit = Med(qemu.Select(b => b.ToInit)),
            qTotal = Med(qemu.Select(b => b.Total)), mips = Med(lvd.Select(b => b.Mips ?? 0)), modeled = Med(lvd.Select(b => b.Modeled ?? 0));
        t.AddRow("LVD# (lvd linux --bzimage)", $"{lvdInit:F2}", $"{lvdTotal:F2}", $"{mips:N0}", $"{modeled:F3}");
        t.AddRow("qemu-system-x86_64 -accel tcg", $"{qInit:F2}", $"{qTotal:F2}", "", "");
        t.AddRow("ratio", $"{lvdInit / qInit:F1}x", $"{lvdTotal / qTotal:F1}x", "", "");
        AnsiConsole.Write(t);
        AnsiConsole.WriteLine("to /init: until the console shows the kernel's \"Run /init\"; to the end: the process's whole life " +
            "(its start-up included).");
        if (settings.Json != null)
            ResultsJson.Write(settings.Json, "bench linux", Lvd.Machine.Cost.CostModel.Default, new JsonObject
            {
                ["runs"] = settings.Runs,
                ["lvd"] = new JsonObject
                {
                    ["to_init_seconds"] = lvdInit, ["total_seconds"] = lvdTotal, ["mips"] = mips, ["modeled_seconds"] = modeled,
                },
                ["qemu_tcg"] = new JsonObject { ["to_init_seconds"] = qInit, ["total_seconds"] = qTotal },
            });
        return 0;
    }

    /// <summary>
    /// qemu-system-x86 from Debian, installed when missing by scripts/setup.sh (the one place that installs the tools; `./test`
    /// runs it too). Also `lvd bench mips`'s qemu-system column.
    /// </summary>
    internal static void InstallQemu(string command)
    {
        if (File.Exists(Qemu)) return;
        AnsiConsole.WriteLine($"{command}: installing qemu-system-x86 (scripts/setup.sh) ...");
        Run("bash", [Path.Combine(GuestCompiler.Locate().RepoRoot, "scripts", "setup.sh")]);
        if (!File.Exists(Qemu)) throw new UsageException($"{command} needs qemu-system-x86_64, and scripts/setup.sh could not install it");
    }

    private static void Run(string file, string[] args)
    {
        var r = Lvd.Experiments.HostProcess.Run(file, args, TimeSpan.FromMinutes(10));
        if (r.ExitCode != 0) throw new UsageException($"{file} failed: {r.Stderr.Trim()}");
    }

    /// <summary>Starts a process and times it: when a stdout line first contains "Run /init", and its end.</summary>
    private static (double ToInit, double Total, string Stderr, int Status) Timed(string file, IEnumerable<string> args)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        foreach (var a in args) info.ArgumentList.Add(a);
        var sw = Stopwatch.StartNew();
        using var p = Process.Start(info)!;
        p.StandardInput.Close();
        double toInit = double.NaN;
        var err = p.StandardError.ReadToEndAsync();
        string? line;
        while ((line = p.StandardOutput.ReadLine()) != null)
            if (double.IsNaN(toInit) && line.Contains("Run /init", StringComparison.Ordinal)) toInit = sw.Elapsed.TotalSeconds;
        if (!p.WaitForExit(TimeSpan.FromMinutes(10))) { p.Kill(true); throw new UsageException($"{file} did not end in 10 minutes"); }
        double total = sw.Elapsed.TotalSeconds;
        if (double.IsNaN(toInit)) throw new UsageException($"{file}: Linux never ran /init:\n{err.Result}");
        return (toInit, total, err.Result, p.ExitCode);
    }

    private static Boot TimeLvd(string prog)
    {
        string[] self = Path.GetFileNameWithoutExtension(Environment.ProcessPath) == "dotnet" ? [typeof(BenchLinuxCommand).Assembly.Location] : [];
        var (toInit, total, err, status) = Timed(Environment.ProcessPath!, [.. self, "linux", "--bzimage", "--init", prog]);
        if (status != 0) throw new UsageException($"lvd linux ended with status {status}:\n{err}");
        var m = System.Text.RegularExpressions.Regex.Match(err, @"; ([\d.]+) modeled seconds \(.*?\), [\d.]+ host seconds \(([\d,]+) MIPS\)");
        return new Boot(toInit, total, m.Success ? double.Parse(m.Groups[2].Value.Replace(",", "")) : null,
            m.Success ? double.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) : null);
    }

    private static Boot TimeQemu(string bzImage, string initrd)
    {
        var (toInit, total, err, status) = Timed(Qemu, ["-accel", "tcg", "-m", "256", "-smp", "1", "-nographic", "-no-reboot", "-kernel", bzImage,
            "-initrd", initrd, "-append", "console=ttyS0,115200 panic=-1 lvd.cpus=1", "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"]);
        // isa-debug-exit exits with (value << 1) | 1; the init script writes its status there.
        if ((status & 1) == 0) throw new UsageException($"qemu did not end through the exit port (status {status}):\n{err}");
        return new Boot(toInit, total, null, null);
    }
}

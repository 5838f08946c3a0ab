using System.Diagnostics;
using System.Text.Json.Nodes;
using Lvd.Hypervisor;
using Lvd.Machine;

namespace Lvd.Cli.Commands;

/// <summary>
/// Host speed, in one run so that the columns are side by side under the same load: CPU-bound
/// guest programs (guest/bench) natively, under qemu-x86_64 (user-mode TCG), under qemu-system-x86_64
/// (TCG, full system: the same program booted as a multiboot image, boot included) and on the emulator
/// in fresh processes (`lvd exec`, .NET start-up and JIT included in the run's time) and warm
/// (the same process, after a first run), without and with EPT; and the kernel workload (host
/// seconds per modeled second of `lvd boot --workload nullnet`, fresh processes). Each figure is
/// the median of --runs. The instruction count is the emulator's; every MIPS column divides the
/// same count, so it compares the same work.
/// </summary>
public sealed class BenchMipsCommand : Command<BenchMipsCommand.Settings>
{
    public sealed class Settings : MachineSettings
    {
        [CommandOption("--runs <N>")]
        [Description("Repetitions per engine and program; the median counts (default 3).")]
        [DefaultValue(3)]
        public int Runs { get; init; } = 3;

        [CommandOption("--scale <N>")]
        [Description("Work units passed to the benchmark programs (default 40).")]
        [DefaultValue(40)]
        public int Scale { get; init; } = 40;

        [CommandOption("--json <FILE>")]
        [Description("Write the figures as JSON (docs/RESULTS.md header).")]
        public string? Json { get; init; }

        protected override void Check()
        {
            base.Check();
            Require(Runs >= 1, $"--runs {Runs}: must be at least 1");
            Require(Scale >= 1, $"--scale {Scale}: must be at least 1");
            Require(Timing == null, "--timing: lvd bench mips runs basic and detailed timing side by side itself");
            Require(Engine == null, "--engine: lvd bench mips runs both engines side by side itself");
            if (Json != null) OutputPaths.CheckOutputFile("--json", Json);
        }
    }

    /// <summary>The programs: source under guest/bench and gcc's optimization level.</summary>
    private static readonly (string Name, string Source, string Opt)[] Programs =
    [
        ("mix -O2", "mips.c", "-O2"),
        ("mix -O0", "mips.c", "-O0"),
        ("lz -O2", "lz.c", "-O2"),
    ];

    private sealed record Figure(string Engine, double Seconds);

    /// <summary>Both engines, side by side in every comparison (docs/HOST-SPEED.md).</summary>
    private static readonly ExecutionEngine[] Engines = [ExecutionEngine.Interp, ExecutionEngine.Jit];

    private static string EngineName(ExecutionEngine e) => e == ExecutionEngine.Jit ? "jit" : "interp";

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var cc = GuestCompiler.Locate();
        string dir = Path.Combine(cc.RepoRoot, "build", "bench");
        Directory.CreateDirectory(dir);
        string scale = $"-DSCALE={settings.Scale}";
        BenchLinuxCommand.InstallQemu("lvd bench mips");
        bool qemu = File.Exists(Qemu), qemuSystem = File.Exists(MultibootImage.QemuSystem);
        var json = new JsonObject();
        var programs = new JsonArray();
        foreach (var (name, source, opt) in Programs)
        {
            string src = Path.Combine(cc.RepoRoot, "guest", "bench", source);
            string stem = Path.GetFileNameWithoutExtension(source) + opt;
            string elf = Path.Combine(dir, stem + ".elf"), native = Path.Combine(dir, stem + ".native");
            cc.Build([src], elf, opt, "-mgeneral-regs-only", scale); // the same code as the native build
            var (need, why) = ExecCommand.Settings.NeededMemory(elf);
            if (settings.MemoryMiB < need) throw new UsageException($"--memory {settings.MemoryMiB}: at least {need} MiB ({why})");
            RunProcess("gcc", [opt, "-mgeneral-regs-only", scale, "-o", native, src], out _);
            string? image = qemuSystem ? MultibootImage.Build(cc, elf) : null;

            long instructions = 0;
            string emuOut = "";
            var figures = new List<Figure>();
            Terminal.Steps($"{name}: native, qemu, the emulator (interp and jit) fresh and warm, without and with EPT, and the timing models",
                12 * settings.Runs + 3, step =>
            {
                figures.Add(new Figure("native (host CPU)", Median(settings.Runs, () => TimeProcess(native, [], out emuOut))));
                step("native");
                string nativeOut = emuOut;
                if (qemu)
                {
                    figures.Add(new Figure("qemu-x86_64 (TCG)", Median(settings.Runs, () =>
                    {
                        double s = TimeProcess(Qemu, [native], out string o);
                        if (o != nativeOut) throw new UsageException($"{name}: qemu output differs from native");
                        return s;
                    })));
                }
                step("qemu");
                if (image != null)
                {
                    // A fresh qemu-system process per run, its boot (firmware, multiboot loading) included.
                    figures.Add(new Figure(QemuSystemEngine, Median(settings.Runs, () =>
                    {
                        double s = TimeProcess(MultibootImage.QemuSystem, MultibootImage.QemuArguments(image, settings.MemoryMiB),
                            out string o, MultibootImage.SuccessStatus);
                        if (o != nativeOut) throw new UsageException($"{name}: qemu-system output differs from native");
                        return s;
                    })));
                }
                step("qemu-system");
                foreach (bool ept in new[] { false, true })
                foreach (var engine in Engines)
                {
                    string suffix = $", {EngineName(engine)}" + (ept ? ", VT-x guest (EPT)" : "");
                    figures.Add(new Figure("LVD# fresh process" + suffix, Median(settings.Runs, () =>
                    {
                        var (s, n, o) = FreshExec(elf, ept, engine, settings, dir);
                        if (o != nativeOut) throw new UsageException($"{name}: native and emulated outputs differ: the emulator is wrong on it");
                        instructions = n;
                        step("fresh");
                        return s;
                    })));
                }
                foreach (bool ept in new[] { false, true })
                foreach (var engine in Engines)
                {
                    string suffix = $", {EngineName(engine)}" + (ept ? ", VT-x guest (EPT)" : "");
                    InProcess(elf, ept, settings, engine: engine);   // the warm-up run
                    figures.Add(new Figure("LVD# warm" + suffix, Median(settings.Runs, () =>
                    {
                        var r = InProcess(elf, ept, settings, engine: engine);
                        if (r.OutputText != nativeOut) throw new UsageException($"{name}: native and emulated outputs differ");
                        step("warm");
                        return r.Run.HostSeconds;
                    })));
                }
                // What the block model and the detailed timing cost the host (docs/COST-MODEL.md), warm, without EPT.
                foreach (bool detailed in new[] { false, true })
                {
                    var haswell = Lvd.Machine.Cost.CostModel.Named("haswell");
                    InProcess(elf, false, settings, haswell, detailed);
                    figures.Add(new Figure(detailed ? "LVD# warm, haswell profile, --timing detailed" : "LVD# warm, haswell profile",
                        Median(settings.Runs, () =>
                    {
                        var r = InProcess(elf, false, settings, haswell, detailed);
                        if (r.OutputText != nativeOut) throw new UsageException($"{name}: native and emulated outputs differ");
                        step("timing");
                        return r.Run.HostSeconds;
                    })));
                }
            });
            programs.Add(Report($"{name} (guest/bench/{source}), {instructions:N0} guest instructions, median of {settings.Runs}",
                name, instructions, figures, qemu, qemuSystem));
        }
        json["programs"] = programs;
        json["kernel_workload"] = KernelWorkload(settings, dir);
        if (settings.Json != null) ResultsJson.Write(settings.Json, "bench mips", settings.LoadCosts(), json);
        return 0;
    }

    private const string Qemu = "/usr/bin/qemu-x86_64";

    private const string QemuSystemEngine = "qemu-system-x86_64 (TCG, full system, boot included)";

    private static JsonObject Report(string title, string name, long instructions, List<Figure> figures, bool qemu, bool qemuSystem)
    {
        double native = figures[0].Seconds;
        double? q = qemu ? figures[1].Seconds : null;
        double? qs = qemuSystem ? figures.Find(f => f.Engine == QemuSystemEngine)!.Seconds : null;
        var t = new Table().Title(title).AddColumn("engine").AddColumn(new TableColumn("seconds").RightAligned())
            .AddColumn(new TableColumn("MIPS").RightAligned()).AddColumn(new TableColumn("time vs native").RightAligned())
            .AddColumn(new TableColumn("time vs qemu").RightAligned()).AddColumn(new TableColumn("time vs qemu-system").RightAligned())
            .Caption("MIPS: the emulator's instruction count over each engine's seconds (the same program: the same work); "
                + "qemu-system's seconds are a fresh process booting the program as a multiboot image (guest/bench/qemu), boot included");
        var rows = new JsonArray();
        foreach (var f in figures)
        {
            double mips = instructions / f.Seconds / 1e6;
            t.AddRow(f.Engine, $"{f.Seconds:F3}", $"{mips:N0}", $"{f.Seconds / native:F1}x", q is double qu ? $"{f.Seconds / qu:F2}x" : "",
                qs is double qsys ? $"{f.Seconds / qsys:F2}x" : "");
            var row = new JsonObject { ["engine"] = f.Engine, ["seconds"] = f.Seconds, ["mips"] = mips };
            if (qs is double qsys2) row["time_vs_qemu_system"] = f.Seconds / qsys2;
            rows.Add(row);
        }
        if (!qemu) t.AddRow("qemu-x86_64", "not installed", "", "", "", "");
        if (!qemuSystem) t.AddRow("qemu-system-x86_64", "not installed (scripts/setup.sh installs it)", "", "", "", "");
        AnsiConsole.Write(t);
        return new JsonObject { ["program"] = name, ["instructions"] = instructions, ["engines"] = rows };
    }

    /// <summary>Fresh `lvd boot --workload nullnet` processes: host seconds per modeled second, and MIPS.</summary>
    private static JsonObject KernelWorkload(Settings settings, string dir)
    {
        var perModeled = new Dictionary<ExecutionEngine, List<double>>();
        var mips = new Dictionary<ExecutionEngine, List<double>>();
        foreach (var e in Engines) { perModeled[e] = []; mips[e] = []; }
        string stats = Path.Combine(dir, $"mips-boot-{Environment.ProcessId}.json");
        Terminal.Steps("kernel workload: lvd boot --workload nullnet, fresh processes, the engines alternating", 2 * settings.Runs, step =>
        {
            for (int i = 0; i < settings.Runs; i++)
            foreach (var e in Engines)
            {
                RunProcess(Environment.ProcessPath!, [.. SelfArguments(), "boot", "--workload", "nullnet", "--engine", EngineName(e),
                    "--stats-json", stats], out _);
                var s = JsonNode.Parse(File.ReadAllText(stats))!;
                double host = (double)s["host_seconds"]!, modeled = (double)(long)s["cycles"]! / (double)s["clock_hz"]!;
                perModeled[e].Add(host / modeled);
                mips[e].Add((long)s["instructions"]! / host / 1e6);
                step("boot");
            }
        });
        File.Delete(stats);
        var t = new Table().Title($"kernel workload: lvd boot --workload nullnet (fresh processes, median of {settings.Runs})")
            .AddColumn("figure");
        foreach (var e in Engines) t.AddColumn(new TableColumn(EngineName(e)).RightAligned());
        t.AddRow("host seconds per modeled second", $"{MedianOf(perModeled[Engines[0]]):F1}", $"{MedianOf(perModeled[Engines[1]]):F1}");
        t.AddRow("MIPS (boot, self tests and workload)", $"{MedianOf(mips[Engines[0]]):N0}", $"{MedianOf(mips[Engines[1]]):N0}");
        AnsiConsole.Write(t);
        var json = new JsonObject();
        foreach (var e in Engines)
            json[EngineName(e)] = new JsonObject
            {
                ["host_seconds_per_modeled_second"] = MedianOf(perModeled[e]), ["mips"] = MedianOf(mips[e]),
            };
        return json;
    }

    /// <summary>`lvd exec` in a fresh process: the run's host seconds (JIT included), its instruction count and output.</summary>
    private static (double Seconds, long Instructions, string Output) FreshExec(string elf, bool ept, ExecutionEngine engine,
        Settings settings, string dir)
    {
        string stats = Path.Combine(dir, $"mips-exec-{Environment.ProcessId}.json");
        List<string> args = [.. SelfArguments(), "exec", elf, "--memory", settings.MemoryMiB.ToString(), "--engine", EngineName(engine),
            "--stats-json", stats];
        if (ept) args.Add("--hypervisor");
        if (settings.Costs != null) args.AddRange(["--costs", settings.Costs]);
        RunProcess(Environment.ProcessPath!, [.. args], out string output);
        var s = JsonNode.Parse(File.ReadAllText(stats))!;
        File.Delete(stats);
        return ((double)s["host_seconds"]!, (long)s["instructions"]!, output);
    }

    private static ProgramResult InProcess(string elf, bool ept, Settings settings, Lvd.Machine.Cost.CostModel? costs = null,
        bool detailed = false, ExecutionEngine engine = ExecutionEngine.Jit)
    {
        var r = ProgramRunner.Run(elf, new RunOptions
        {
            Costs = costs ?? settings.LoadCosts(), MemoryBytes = settings.MemoryBytes, CaptureSerial = true, DetailedTiming = detailed,
            Engine = engine,
        }.With(ept ? HypervisorMode.LaunchAtStart : HypervisorMode.None));
        if (r.Run.Outcome != Lvd.Machine.RunOutcome.Exited || r.ExitStatus != 0)
            throw new UsageException($"benchmark guest failed: {r.Run.Outcome} {r.Run.CrashReport}");
        return r;
    }

    /// <summary>The arguments that start this CLI again: the assembly when run through `dotnet`, none for an apphost.</summary>
    private static string[] SelfArguments() =>
        Path.GetFileNameWithoutExtension(Environment.ProcessPath) == "dotnet" ? [typeof(BenchMipsCommand).Assembly.Location] : [];

    private static double Median(int runs, Func<double> one)
    {
        var xs = new List<double>();
        for (int i = 0; i < runs; i++) xs.Add(one());
        return MedianOf(xs);
    }

    private static double MedianOf(List<double> xs)
    {
        xs.Sort();
        int n = xs.Count;
        return n % 2 == 1 ? xs[n / 2] : (xs[n / 2 - 1] + xs[n / 2]) / 2;
    }

    private static double TimeProcess(string exe, string[] args, out string output, int status = 0)
    {
        var sw = Stopwatch.StartNew();
        RunProcess(exe, args, out output, status);
        return sw.Elapsed.TotalSeconds;
    }

    private static void RunProcess(string exe, string[] args, out string stdout, int status = 0)
    {
        var psi = new ProcessStartInfo(exe) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi) ?? throw new UsageException($"cannot start {exe}");
        var errTask = p.StandardError.ReadToEndAsync();
        stdout = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != status) throw new UsageException($"{exe} failed (status {p.ExitCode}): {errTask.Result.Trim()}");
    }
}

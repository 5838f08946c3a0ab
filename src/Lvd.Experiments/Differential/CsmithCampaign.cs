namespace Lvd.Experiments.Differential;

/// <summary>
/// Program-level differential testing: a csmith-generated program is built natively with gcc
/// (against glibc) and with lvd cc (against the guest runtime) at the same optimisation level;
/// the emulated run's output must equal the native run's byte for byte.
/// </summary>
public sealed class CsmithCampaign
{
    public enum Verdict { Pass, Mismatch, EmulatorFailed, BuildFailed, NativeTooSlow }

    public sealed record CaseResult(ulong Seed, string Opt, Verdict Verdict, string Detail, long Instructions, double EmuSeconds);

    public const string CsmithInclude = "/usr/include/csmith";
    private readonly GuestCompiler _cc;
    private readonly string _workDir;

    public TimeSpan NativeTimeout { get; init; } = TimeSpan.FromSeconds(5);
    public long MaxInstructions { get; init; } = 2_000_000_000;
    /// <summary>Run the emulated side under the late-launched hypervisor (identity EPT).</summary>
    public Lvd.Hypervisor.HypervisorMode Hypervisor { get; init; }

    public CsmithCampaign(GuestCompiler cc, string workDir)
    {
        _cc = cc;
        _workDir = workDir;
        Directory.CreateDirectory(workDir);
        if (!File.Exists("/usr/bin/csmith") || !Directory.Exists(CsmithInclude))
            throw new ExperimentException("csmith is not installed (run scripts/setup.sh: Debian packages csmith and libcsmith-dev)");
    }

    /// <summary>Generates the program for a seed (cached: csmith output is a function of the seed).</summary>
    public string Generate(ulong seed)
    {
        string c = Path.Combine(_workDir, $"csmith-{seed}.c");
        if (File.Exists(c)) return c;
        string tmp = c + $".{Environment.ProcessId}.{Environment.CurrentManagedThreadId}.tmp";
        var r = HostProcess.Run("/usr/bin/csmith", ["--seed", seed.ToString(), "-o", tmp], TimeSpan.FromSeconds(60));
        if (r.ExitCode != 0) // seen once under load with no diagnostic: one retry before reporting
            r = HostProcess.Run("/usr/bin/csmith", ["--seed", seed.ToString(), "-o", tmp], TimeSpan.FromSeconds(120));
        if (r.ExitCode != 0)
            throw new ExperimentException($"csmith --seed {seed} failed (status {r.ExitCode}{(r.TimedOut ? ", timed out" : "")}): " +
                $"{r.Stderr.Trim()} {System.Text.Encoding.UTF8.GetString(r.Stdout).Trim()}");
        File.Move(tmp, c, overwrite: true);
        return c;
    }

    public CaseResult Run(ulong seed, string opt)
    {
        string c = Generate(seed);
        string native = Path.Combine(_workDir, $"csmith-{seed}{opt}.native");
        string elf = Path.Combine(_workDir, $"csmith-{seed}{opt}.elf");
        // Both builds use the same flags (lvd cc programs use SSE and the x87 like native ones; csmith's
        // float safe-math helpers, emitted at -O0, compile as they are).
        string[] flags = [opt, "-w", "-I", CsmithInclude];
        var nb = HostProcess.Run("gcc", [.. flags, "-o", native, c], TimeSpan.FromSeconds(120));
        if (nb.ExitCode != 0) return new CaseResult(seed, opt, Verdict.BuildFailed, "native gcc: " + FirstLine(nb.Stderr), 0, 0);
        var nr = HostProcess.Run(native, [], NativeTimeout);
        if (nr.TimedOut) return new CaseResult(seed, opt, Verdict.NativeTooSlow, $"native run longer than {NativeTimeout.TotalSeconds} s", 0, 0);
        try { _cc.Build([c], elf, flags, cache: false); }
        catch (GuestCompilerException e) { return new CaseResult(seed, opt, Verdict.BuildFailed, "lvd cc: " + FirstLine(e.Message), 0, 0); }
        var er = ProgramRunner.Run(elf, new RunOptions { CaptureSerial = true, MaxInstructions = MaxInstructions }.With(Hypervisor));
        if (er.Run.Outcome != RunOutcome.Exited)
            return new CaseResult(seed, opt, Verdict.EmulatorFailed, $"{er.Run.Outcome}: {FirstLine(er.Run.CrashReport ?? "")}", er.Run.Instructions,
                er.Run.HostSeconds);
        if (!er.Output.AsSpan().SequenceEqual(nr.Stdout) || er.ExitStatus != (nr.ExitCode & 0xff))
            return new CaseResult(seed, opt, Verdict.Mismatch, Difference(nr.Stdout, er.Output, nr.ExitCode, er.ExitStatus), er.Run.Instructions,
                er.Run.HostSeconds);
        File.Delete(native);
        File.Delete(elf);
        return new CaseResult(seed, opt, Verdict.Pass, "", er.Run.Instructions, er.Run.HostSeconds);
    }

    private static string FirstLine(string s) => s.Trim().Split('\n')[0];

    private static string Difference(byte[] native, byte[] emu, int nativeStatus, int emuStatus)
    {
        var a = System.Text.Encoding.UTF8.GetString(native).Split('\n');
        var b = System.Text.Encoding.UTF8.GetString(emu).Split('\n');
        for (int i = 0; i < Math.Max(a.Length, b.Length); i++)
        {
            string x = i < a.Length ? a[i] : "<end>", y = i < b.Length ? b[i] : "<end>";
            if (x != y) return $"line {i + 1}: native \"{x}\" vs emulated \"{y}\"";
        }
        return $"exit status native {nativeStatus} vs emulated {emuStatus}";
    }
}

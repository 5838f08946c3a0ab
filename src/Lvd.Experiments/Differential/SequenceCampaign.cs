using System.Diagnostics;
using System.Text;

namespace Lvd.Experiments.Differential;

/// <summary>
/// The instruction-sequence differential harness (guest/tests/seq): N random chains of a seed,
/// built natively (gcc -no-pie) and for the emulator (lvd cc), run on the host CPU and on the
/// machine (plain or under the hypervisor); one hash per chain of every GPR, the defined flags
/// and the data buffer must match. `lvd seqdiff --count N --seed S [--hypervisor]`.
/// </summary>
public sealed class SequenceCampaign(GuestCompiler cc, string workDir)
{
    public const string Source = "guest/tests/seq/seq_diff.c";

    public sealed record Report(int Chains, long Seed, bool Hypervisor, IReadOnlyList<string> Mismatches, long Instructions, double NativeSeconds,
        double EmulatorSeconds, string? Error)
    {
        public bool Passed => Error == null && Mismatches.Count == 0;
        public string Summary => Error != null ? $"seqdiff: {Error}"
            : $"seqdiff: {Chains} chains, seed {Seed}{(Hypervisor ? ", under the hypervisor" : "")}: {Chains - Mismatches.Count} match the host " +
                $"CPU, {Mismatches.Count} differ " +
              $"({Instructions:N0} guest instructions; native {NativeSeconds:0.00} s, emulator {EmulatorSeconds:0.00} s)";
    }

    public Report Run(int chains, long seed, bool hypervisor)
    {
        Directory.CreateDirectory(workDir);
        string src = Path.Combine(cc.RepoRoot, Source);
        string tag = $"seq-{chains}-{seed}";
        string[] defines = [$"-DNCHAINS={chains}", $"-DSEED={seed}"];
        string native = Path.Combine(workDir, tag);
        var nb = HostProcess.Run("gcc", ["-O1", "-no-pie", "-mgeneral-regs-only", "-w", .. defines, "-o", native, src], TimeSpan.FromMinutes(2));
        if (nb.ExitCode != 0) return Fail(chains, seed, hypervisor, "native gcc failed: " + nb.Stderr.Trim());
        var nr = HostProcess.Run(native, [], TimeSpan.FromMinutes(10));
        if (nr.ExitCode != 0 || nr.TimedOut) return Fail(chains, seed, hypervisor, $"native run failed (status {nr.ExitCode})");
        string elf = Path.Combine(workDir, tag + ".elf");
        try { cc.Build([src], elf, ["-O1", "-mgeneral-regs-only", .. defines]); } // as the native build: no XMM state around the chains
        catch (GuestCompilerException e) { return Fail(chains, seed, hypervisor, "lvd cc failed: " + e.Message.Split('\n')[0]); }
        var sw = Stopwatch.StartNew();
        var er = ProgramRunner.Run(elf, new RunOptions { CaptureSerial = true, MaxInstructions = 50_000_000_000 }
            .With(hypervisor ? HypervisorMode.LaunchAtStart : HypervisorMode.None));
        double emuSeconds = sw.Elapsed.TotalSeconds;
        if (er.Run.Outcome != RunOutcome.Exited || er.ExitStatus != 0)
            return Fail(chains, seed, hypervisor,
                $"the emulator run ended {er.Run.Outcome} (status {er.ExitStatus}): {er.Run.CrashReport?.Split('\n')[0]}");
        var expected = Encoding.ASCII.GetString(nr.Stdout).Split('\n');
        var actual = er.OutputText.Split('\n');
        var mismatches = new List<string>();
        for (int i = 0; i < Math.Max(expected.Length, actual.Length); i++)
        {
            string e = i < expected.Length ? expected[i] : "<missing>", a = i < actual.Length ? actual[i] : "<missing>";
            if (e != a) mismatches.Add($"host: {e} | emu: {a}");
        }
        if (!expected.Any(l => l.StartsWith($"seq_diff: {chains} chains")))
            return Fail(chains, seed, hypervisor, "the native run printed no summary");
        return new Report(chains, seed, hypervisor, mismatches, er.Run.Instructions, nr.Seconds, emuSeconds, null);
    }

    private static Report Fail(int chains, long seed, bool hv, string why) => new(chains, seed, hv, [], 0, 0, 0, why);
}

using System.Text.RegularExpressions;
using Lvd.Experiments.Linux;

namespace Lvd.Tests.Linux;

/// <summary>
/// The LVD hypervisor under a running SMP Linux (`lvd linux --late-launch`, docs/LINUX.md): the
/// init script runs its checks, a BusyBox checksum and a static glibc program natively; the LVD
/// module (guest/linux/lvd/lvd_hv.c) late-launches the hypervisor on every CPU (on_each_cpu, one
/// CPU at a time while the others run natively); the same run deprivileged, its VM exits counted
/// by reason on every CPU; rmmod devirtualizes every CPU; the same run natively again. Each
/// phase's output must be the same as the others' and the program's the host's.
/// </summary>
public sealed class LinuxLateLaunchTests
{
    private static readonly string[] Phases = ["native", "deprivileged", "devirtualized"];

    /// <summary>Four threads doing libm work (FPU state across context switches on several CPUs).</summary>
    private const string ThreadedFloatingPoint = """
        #include <math.h>
        #include <pthread.h>
        #include <stdio.h>
        static double sums[4];
        static void *work(void *arg) {
            long i = (long)arg; double s = 0;
            for (long k = 1; k < 20000; k++) s += sqrt((double)k * (i + 1)) / (k + i) + sin((double)k) * 1e-3;
            sums[i] = s;
            return NULL;
        }
        int main(void) {
            pthread_t t[4];
            for (long i = 0; i < 4; i++) if (pthread_create(&t[i], NULL, work, (void *)i)) return 1;
            for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
            printf("threads %.12f %.12f %.12f %.12f exp1 %a\n", sums[0], sums[1], sums[2], sums[3], exp(1.0));
            return 9;
        }
        """;

    /// <summary>The console lines of one phase, from its header to the program's status line (kernel messages left out).</summary>
    private static string Phase(string console, string name)
    {
        var lines = LinuxBootTests.Unix(console).Split('\n');
        int start = Array.IndexOf(lines, $"lvd-init: phase {name}");
        Assert.True(start >= 0, $"no phase {name}:\n{console}");
        var text = new List<string>();
        for (int i = start + 1; i < lines.Length; i++)
        {
            if (lines[i].StartsWith('[')) continue;
            text.Add(lines[i]);
            if (lines[i].StartsWith("lvd-init: program status ", StringComparison.Ordinal)) return string.Join('\n', text);
        }
        Assert.Fail($"phase {name} did not end with the program's status:\n{console}");
        return "";
    }

    /// <summary>The exits /proc/lvd_hv shows per CPU, the nth time the script prints it (0: after insmod, 1: after the deprivileged phase).</summary>
    private static long[] ExitsShown(string console, int cpus, int nth)
    {
        var exits = new long[cpus];
        var matches = Regex.Matches(console, @"lvd-init: lvd_hv: cpu (\d+): deprivileged, (\d+) VM exits");
        Assert.Equal(2 * cpus, matches.Count);
        for (int i = 0; i < cpus; i++)
        {
            var m = matches[nth * cpus + i];
            Assert.Equal(i, int.Parse(m.Groups[1].Value));
            exits[i] = long.Parse(m.Groups[2].Value);
        }
        return exits;
    }

    private static LinuxBootResult LateLaunch(int cpus, string elf) =>
        LinuxBoot.Run(LinuxBootTests.Kernel(), Guest.Root, new LinuxBootSpec { LateLaunch = true, Cpus = cpus, InitProgram = elf }, null);

    private static void AssertSameInEveryPhase(LinuxBootResult r, int cpus, string hostOutput, int hostStatus)
    {
        Assert.True(r.ExitStatus == hostStatus, $"status {r.ExitStatus}\n{r.Report}\n{r.Console[^Math.Min(r.Console.Length, 5000)..]}");
        string native = Phase(r.Console, "native");
        foreach (string phase in Phases)
        {
            string text = Phase(r.Console, phase);
            LinuxBootTests.AssertChecksPassed(text, cpus);
            Assert.Contains(hostOutput.TrimEnd(), text);
            Assert.EndsWith($"lvd-init: program status {hostStatus}", text);
            Assert.Matches(@"lvd-init: workload [0-9a-f]{32}  /bin/busybox", text);
            Assert.Equal(native, text);
        }
        // Late launch on every CPU, seen from Linux: the module's report, every CPU deprivileged (the
        // hypervisor answers CPUID leaf 0x4bf00001 there), its exits growing on every CPU during the
        // deprivileged phase; after rmmod every CPU runs natively again (the leaf no longer answers).
        Assert.Contains("lvd-init: ok   insmod lvd_hv.ko (late launch on every CPU)", r.Console);
        Assert.Contains("lvd-init: ok   every CPU deprivileged", r.Console);
        Assert.Contains($"lvd_hv: the LVD hypervisor (ABI 1) runs under all {cpus} CPUs", r.Console);
        Assert.Contains("lvd-init: ok   rmmod lvd_hv (devirtualize every CPU)", r.Console);
        Assert.Contains($"lvd_hv: devirtualized: {cpus} CPUs run natively", r.Console);
        Assert.Contains("lvd-init: ok   lvd_hv gone", r.Console);
        var before = ExitsShown(r.Console, cpus, 0);
        var after = ExitsShown(r.Console, cpus, 1);
        for (int i = 0; i < cpus; i++)
            Assert.True(after[i] > before[i], $"CPU {i}: {before[i]} VM exits after the launch, {after[i]} after the deprivileged phase");
        // The machine's side: one launch per vCPU, none left in VMX operation, each vCPU's exits
        // counted by reason (CPUIDs of glibc and BusyBox, the console's port I/O, the VMCALLs of
        // DEVIRTUALIZE and COUNTER on every vCPU).
        var hv = Assert.IsType<Lvd.Hypervisor.Hypervisor>(r.Machine.Firmware);
        Assert.Equal(cpus, hv.Launches);
        Assert.False(hv.Launched);
        foreach (var c in r.Machine.Cpus)
        {
            Assert.False(c.NonRoot, $"vCPU {c.Id} still in VMX non-root operation");
            Assert.True(c.ExitsByReason[(int)ExitReason.Vmcall] >= 3, $"vCPU {c.Id}: {c.ExitsByReason[(int)ExitReason.Vmcall]} VMCALLs");
            Assert.True(c.ExitsByReason[(int)ExitReason.Cpuid] > 0, $"vCPU {c.Id}: no CPUID exits");
        }
        Assert.Matches(@"^[\d,]+ VM exits: .*IoInstruction [\d,]+.*", LinuxBoot.VmExits(r.Machine));
        Assert.Matches($@"^{cpus} vCPU launches, 0 vCPUs still launched at the end; [\d,]+ VM exits: ", LinuxBoot.LateLaunchSummary(r.Machine));
    }

    [Fact]
    public void OneVcpuRunsAFloatingPointProgramTheSameNativelyDeprivilegedAndDevirtualized()
    {
        var (elf, expected, hostStatus) = LinuxBootTests.HostProgram("fp_late", LinuxBootTests.FloatingPoint);
        AssertSameInEveryPhase(LateLaunch(1, elf), 1, expected, hostStatus);
    }

    /// <summary>Four vCPUs, each launched by its own CPUID in the module's IPI handler; two runs identical cycle for cycle.</summary>
    [Fact]
    public void FourVcpusRunAThreadedProgramTheSameInEveryPhaseAndTwoRunsAreIdentical()
    {
        var (elf, expected, hostStatus) = LinuxBootTests.HostProgram("threads_fp_late", ThreadedFloatingPoint);
        Assert.Equal(9, hostStatus);
        var first = LateLaunch(4, elf);
        AssertSameInEveryPhase(first, 4, expected, hostStatus);
        var second = LateLaunch(4, elf);
        Assert.Equal(first.Cycles, second.Cycles);
        Assert.Equal(first.Instructions, second.Instructions);
        Assert.Equal(first.Console, second.Console);
        Assert.Equal(LinuxBoot.VmExits(first.Machine), LinuxBoot.VmExits(second.Machine));
    }
}

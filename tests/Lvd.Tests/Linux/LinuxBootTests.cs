using System.Text;
using Lvd.Experiments.Linux;
using Lvd.Toolchain.Linux;

namespace Lvd.Tests.Linux;

/// <summary>
/// Linux 6.1 on the machine: built by guest/linux/build.sh (cached in ~/.cache/lvd/linux; the
/// first build takes minutes), booted with `lvd linux` on the PC platform, its init script's
/// checks passing, static glibc programs (gcc -static, nobody here wrote glibc) giving the
/// output they give on the host and their exit status as the run's, the BusyBox shell reading
/// the console, two boots identical cycle for cycle.
/// </summary>
public sealed class LinuxBootTests
{
    private static readonly Lazy<LinuxKernel> Built = new(() => LinuxKernel.Build(Guest.Root), LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>The kernel, built once per test run (nothing to do when the cache has it).</summary>
    internal static LinuxKernel Kernel() => Built.Value;

    /// <summary>A static glibc program built by the host's gcc, run natively for its expected output.</summary>
    internal static (string Elf, string HostOutput, int HostStatus) HostProgram(string name, string source)
    {
        string dir = Directory.CreateTempSubdirectory("lvd-linux-prog").FullName;
        string c = Path.Combine(dir, name + ".c"), elf = Path.Combine(dir, name);
        File.WriteAllText(c, source);
        var cc = HostProcess.Run("gcc", ["-static", "-O2", "-pthread", "-o", elf, c, "-lm"], TimeSpan.FromMinutes(2));
        Assert.True(cc.ExitCode == 0, cc.Stderr);
        var run = HostProcess.Run(elf, [], TimeSpan.FromMinutes(1));
        return (elf, Encoding.UTF8.GetString(run.Stdout), run.ExitCode);
    }

    private const string Threads = """
        #include <pthread.h>
        #include <stdio.h>
        #include <stdlib.h>
        #include <string.h>
        static long sums[4];
        static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
        static long shared;
        static void *work(void *arg) {
            long i = (long)arg, s = 0;
            for (long k = 0; k < 200000; k++) s += (k * (i + 3)) % 11;
            sums[i] = s;
            pthread_mutex_lock(&lock); shared += s; pthread_mutex_unlock(&lock);
            return NULL;
        }
        int main(void) {
            pthread_t t[4];
            for (long i = 0; i < 4; i++) if (pthread_create(&t[i], NULL, work, (void *)i)) return 1;
            for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
            char *m = malloc(1 << 20); memset(m, 7, 1 << 20);
            printf("glibc threads: %ld %ld %ld %ld total %ld, malloc %d\n", sums[0], sums[1], sums[2], sums[3], shared, m[12345]);
            return 42;
        }
        """;

    internal const string FloatingPoint = """
        #include <math.h>
        #include <stdio.h>
        #include <stdlib.h>
        int main(void) {
            double s = 0;
            for (int i = 1; i <= 1000; i++) s += 1.0 / ((double)i * i);
            printf("zeta2 %.12f sqrt2 %.15f sin1 %.15f exp1 %.15f log10 %.15f pow %.6e\n", s, sqrt(2.0), sin(1.0), exp(1.0), log(10.0),
                pow(1.5, 40.3));
            printf("strtod %.17g %g %a\n", strtod("3.14159265358979", 0), 1e300 * 1e10, 0.1);
            return (int)(s * 10);
        }
        """;

    /// <summary>The console as a program wrote it: the terminal's CR before each LF (ONLCR) taken out.</summary>
    internal static string Unix(string console) => console.Replace("\r\n", "\n");

    internal static void AssertChecksPassed(string console, int cpus)
    {
        foreach (string check in (string[])["proc, sys and devtmpfs mounted", "console is a character device", $"{cpus} CPU(s) online",
                     "timers tick", "cpuinfo shows the CPUID the machine reports", "dummy network device", "null_blk block device"])
            Assert.Contains($"lvd-init: ok   {check}", console);
        Assert.Contains("lvd-init: 7 checks passed, 0 failed", console);
        Assert.DoesNotContain("FAIL", console);
        // /proc/cpuinfo's flags: what the machine's CPUID reports as Linux names it, and nothing it does not implement.
        var flags = System.Text.RegularExpressions.Regex.Match(console, @"lvd-init: flags\s*: (.*)").Groups[1].Value.Trim().Split(' ');
        foreach (string f in (string[])["fpu", "tsc", "msr", "pae", "cx8", "apic", "sep", "pge", "cmov", "pat", "fxsr", "sse", "sse2", "syscall",
                     "nx", "pdpe1gb", "rdtscp", "lm", "constant_tsc", "nonstop_tsc", "tsc_known_freq", "cx16", "x2apic", "popcnt", "lahf_lm",
                     "abm", "fsgsbase", "bmi1"])
            Assert.Contains(f, flags);
        foreach (string f in (string[])["mce", "mca", "mtrr", "pse36", "mmx", "pni", "ssse3", "sse4_1", "sse4_2", "avx", "xsave", "monitor",
                     "rdrand", "tsc_deadline_timer", "arch_perfmon", "aes", "pcid", "smep", "smap", "erms"])
            Assert.DoesNotContain(f, flags);
    }

    [Fact]
    public void BootsToTheInitProgramAndExitsWithItsStatus()
    {
        var (elf, expected, hostStatus) = HostProgram("threads", Threads);
        Assert.Equal(42, hostStatus);
        Kernel(); // built here, without the CLI child's time limit; the child then finds it cached
        var (status, stdout, stderr) = CliTests.Lvd("linux", "--init", elf);
        Assert.True(status == 42, $"status {status}\n{stderr}\n{stdout[^Math.Min(stdout.Length, 3000)..]}");
        AssertChecksPassed(stdout, 1);
        Assert.Contains("Linux version 6.1", stdout);
        Assert.Contains(expected.TrimEnd(), Unix(stdout));
        Assert.Contains("lvd-init: exit status 42", stdout);
        // The figures: modeled and host seconds.
        Assert.Matches(@"lvd linux: exit status 42; \d+\.\d{3} modeled seconds \([\d,]+ cycles, [\d,]+ instructions\), \d+\.\d host seconds", stderr);
    }

    /// <summary>
    /// SMP: the application processors come up through the firmware's ACPI wakeup mailbox into Linux's trampoline
    /// (compatibility mode, protected mode, long mode again), Linux finds its TSCs synchronized (its warp check passes,
    /// so the TSC stays its clocksource), and a 4-thread glibc program runs on 4 vCPUs.
    /// </summary>
    [Fact]
    public void FourVcpusComeUpThroughTheWakeupMailboxAndRunAThreadedProgram()
    {
        var (elf, expected, _) = HostProgram("threads_smp", Threads);
        var r = LinuxBoot.Run(Kernel(), Guest.Root, new LinuxBootSpec { InitProgram = elf, Cpus = 4 }, null);
        Assert.True(r.ExitStatus == 42, r.Report + r.Console[^Math.Min(r.Console.Length, 4000)..]);
        AssertChecksPassed(r.Console, 4);
        Assert.Contains("smp: Brought up 1 node, 4 CPUs", r.Console);
        // One package of 4 cores (CPUID leaf 0BH): the APs copy the boot CPU's delay-loop calibration and check
        // TSC warps for 2 ms each; as 4 packages each AP calibrated for itself (~160 modeled ms, /init at ~0.51 s).
        Assert.Contains("smpboot: Max logical packages: 1", r.Console);
        var init = System.Text.RegularExpressions.Regex.Match(r.Console, @"\[\s*(\d+\.\d+)\] Run /init as init process");
        Assert.True(init.Success && double.Parse(init.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) < 0.1,
            $"/init at {init.Groups[1].Value} s");
        Assert.DoesNotContain("TSC warp", r.Console);
        Assert.DoesNotContain("Marking TSC unstable", r.Console);
        Assert.Contains("clocksource: Switched to clocksource tsc", r.Console);
        Assert.Contains(expected.TrimEnd(), Unix(r.Console));
    }

    /// <summary>
    /// `--hypervisor --cpus 4`: the boot CPU launched before Linux's first instruction, each AP as the wakeup mailbox
    /// starts it, before its first instruction; Linux's trampoline then clears and sets CR0.PG deprivileged ("unrestricted
    /// guest"), every CR0 write an exit the hypervisor emulates; the threaded program runs on 4 deprivileged vCPUs.
    /// </summary>
    [Fact]
    public void FourVcpusRunUnderTheHypervisorFromPowerOn()
    {
        var (elf, expected, _) = HostProgram("threads_hv_smp", Threads);
        var r = LinuxBoot.Run(Kernel(), Guest.Root, new LinuxBootSpec { InitProgram = elf, Cpus = 4, Hypervisor = true }, null);
        Assert.True(r.ExitStatus == 42, r.Report + r.Console[^Math.Min(r.Console.Length, 4000)..]);
        AssertChecksPassed(r.Console, 4);
        Assert.Contains("smp: Brought up 1 node, 4 CPUs", r.Console);
        Assert.Contains(expected.TrimEnd(), Unix(r.Console));
        Assert.Contains(" hypervisor ", r.Console);
        var hv = Assert.IsType<Lvd.Hypervisor.Hypervisor>(r.Machine.Firmware);
        Assert.Equal(4, hv.Launches);
        foreach (var c in r.Machine.Cpus)
        {
            Assert.True(c.NonRoot && hv.IsLaunched(c.Id), $"vCPU {c.Id} not under the hypervisor at the end");
            // The trampoline's CR0 (PG off, PG on) and CR4 writes on each AP, the kernel's own on every vCPU.
            Assert.True(c.ExitsByReason[(int)ExitReason.CrAccess] >= 3, $"vCPU {c.Id}: {c.ExitsByReason[(int)ExitReason.CrAccess]} CR exits");
            Assert.True(c.ExitsByReason[(int)ExitReason.GdtrIdtrAccess] >= 2, $"vCPU {c.Id}: its LGDT/LIDT did not exit");
        }
    }

    [Fact]
    public void TheBzImageBootsThroughItsOwnDecompressor()
    {
        // The bzImage's payload entered at +0x200: its decompressor (gzip) unpacks vmlinux and jumps to it.
        var (elf, expected, _) = HostProgram("threads_bz", Threads);
        var viaVmlinux = LinuxBoot.Run(Kernel(), Guest.Root, new LinuxBootSpec { InitProgram = elf }, null);
        var viaBzImage = LinuxBoot.Run(Kernel(), Guest.Root, new LinuxBootSpec { InitProgram = elf, BzImage = true }, null);
        Assert.True(viaBzImage.ExitStatus == 42, viaBzImage.Report + viaBzImage.Console);
        AssertChecksPassed(viaBzImage.Console, 1);
        Assert.Contains(expected.TrimEnd(), Unix(viaBzImage.Console));
        Assert.True(viaBzImage.Instructions > viaVmlinux.Instructions + 10_000_000,
            $"the decompressor ran: {viaBzImage.Instructions:N0} vs {viaVmlinux.Instructions:N0} instructions");
    }

    [Fact]
    public void AFloatingPointProgramGivesTheHostsOutputAlsoUnderTheHypervisor()
    {
        var (elf, expected, hostStatus) = HostProgram("fp", FloatingPoint);
        Assert.Equal(16, hostStatus);
        var plain = LinuxBoot.Run(Kernel(), Guest.Root, new LinuxBootSpec { InitProgram = elf }, null);
        Assert.True(plain.ExitStatus == 16, plain.Report + plain.Console);
        Assert.Contains(expected.TrimEnd(), Unix(plain.Console));
        Assert.Equal("", LinuxBoot.VmExits(plain.Machine));
        // Deprivileged: the LVD hypervisor launched before Linux's first instruction; the same output, its exits counted.
        var virt = LinuxBoot.Run(Kernel(), Guest.Root, new LinuxBootSpec { InitProgram = elf, Hypervisor = true }, null);
        Assert.True(virt.ExitStatus == 16, virt.Report + virt.Console);
        AssertChecksPassed(virt.Console, 1);
        Assert.Contains(expected.TrimEnd(), Unix(virt.Console));
        Assert.Matches(@"^[\d,]+ VM exits: .*IoInstruction [\d,]+.*Cpuid [\d,]+", LinuxBoot.VmExits(virt.Machine));
        Assert.Contains(" hypervisor ", virt.Console); // /proc/cpuinfo shows the hypervisor-present bit the hypervisor adds
    }

    [Fact]
    public void APanicAndAHangAreReportedWithTheConsoleAndTheVcpus()
    {
        // No init where the kernel is told to look: it panics, reboots by triple fault (panic=-1 reboot=t).
        var panic = LinuxBoot.Run(Kernel(), Guest.Root, new LinuxBootSpec { ExtraCmdline = "rdinit=/nonexistent" }, null);
        Assert.Equal(LinuxBoot.StatusCrash, panic.ExitStatus);
        Assert.StartsWith("lvd linux: Linux panicked", panic.Report);
        Assert.Contains("last console lines:", panic.Report);
        Assert.Matches(@"\| .*Kernel panic - not syncing", panic.Report);
        Assert.Contains("triple fault", panic.Report);
        Assert.Matches(@"vCPU 0: shutdown, RIP 0xffffffff[0-9a-f]+ \[\w+", panic.Report); // named with vmlinux's symbols
        // Stopped after 20 modeled milliseconds: mid-boot, a hang by the bound.
        var hang = LinuxBoot.Run(Kernel(), Guest.Root, new LinuxBootSpec { TimeoutSeconds = 0.02 }, null);
        Assert.Equal(LinuxBoot.StatusHang, hang.ExitStatus);
        Assert.StartsWith("lvd linux: Linux did not finish within 0.02 modeled seconds", hang.Report);
        Assert.Matches(@"vCPU 0: (running|halted), RIP 0x[0-9a-f]+", hang.Report);
        Assert.Matches("(unclaimed accesses|no unclaimed port or MMIO accesses)", hang.Report);
    }

    [Fact]
    public void TheShellReadsTheConsoleAndTwoBootsAreIdentical()
    {
        var kernel = Kernel();
        var spec = new LinuxBootSpec { Input = "echo shell-$((6 * 7))\nexit 5\n"u8.ToArray() };
        var first = LinuxBoot.Run(kernel, Guest.Root, spec, null);
        Assert.True(first.ExitStatus == 5, first.Report + first.Console);
        AssertChecksPassed(first.Console, 1);
        Assert.Contains("shell-42", first.Console);
        var second = LinuxBoot.Run(kernel, Guest.Root, spec, null);
        Assert.Equal(first.Cycles, second.Cycles);
        Assert.Equal(first.Instructions, second.Instructions);
        Assert.Equal(first.Console, second.Console);
    }
}

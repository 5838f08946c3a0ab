using System.Text.RegularExpressions;

namespace Lvd.Tests;

/// <summary>
/// SDM conformance of paging and exception delivery, checked by guest programs that build
/// their own IDT, TSS and page tables (guest/tests/cpu, see its README): #PF error-code bits
/// and CR2, NX, WP, U/S, large pages, A/D bits, INVLPG, IST and RSP0 switches, double fault,
/// #DE/#UD/#GP/#SS/#AC, SYSCALL/SYSRET, self-modifying code, RDTSC/CPUID, the x87/SSE state (FXSAVE, #NM/#UD/#XM rules),
/// compatibility and 32-bit protected mode (Linux's AP trampoline sequence, far transfers and their faults).
/// </summary>
public sealed class GuestCpuTests
{
    [Theory]
    [InlineData("paging", 100, false)]
    [InlineData("exceptions", 190, false)]
    [InlineData("syscall", 50, false)]
    [InlineData("smc", 28, false)]
    [InlineData("rdtsc", 30, false)]
    [InlineData("fpu", 40, false)]
    [InlineData("mode32", 60, false)]
    // The same programs as a VT-x guest of the late-launched hypervisor: LGDT/LIDT/LTR, CR and
    // MSR writes now exit and are emulated; every memory access goes through the EPT.
    [InlineData("paging", 100, true)]
    [InlineData("exceptions", 190, true)]
    [InlineData("syscall", 50, true)]
    [InlineData("smc", 28, true)]
    [InlineData("rdtsc", 30, true)]
    [InlineData("fpu", 40, true)]
    // With "unrestricted guest" Linux's AP trampoline runs deprivileged as natively: CR0.PG cleared
    // and set again, EFER.LME changed with paging off, the 32-bit IDT, each CR0/CR3/CR4 write emulated.
    [InlineData("mode32", 60, true)]
    public void GuestCheckProgramPasses(string program, int minChecks, bool underHypervisor)
    {
        foreach (var opt in new[] { "-O0", "-O2" })
        {
            string elf = Guest.Build($"cpu-{program}{opt}.elf", [$"guest/tests/cpu/{program}.c", "guest/tests/cpu/cputest.c"], opt);
            var r = Guest.Run(elf, maxInstructions: 200_000_000,
                options: new RunOptions().With(underHypervisor ? HypervisorMode.LaunchAtStart : HypervisorMode.None));
            if (underHypervisor) Assert.True(r.TotalExits > 0, "no VM exits: the program did not run under the hypervisor");
            string output = r.OutputText;
            var fails = output.Split('\n').Where(l => l.StartsWith("FAIL")).ToList();
            Assert.True(fails.Count == 0, $"{program} {opt}:\n" + string.Join("\n", fails) + "\n" + r.Run.CrashReport);
            Assert.Equal(RunOutcome.Exited, r.Run.Outcome);
            var m = Regex.Match(output, $@"{program}: (\d+) passed, (\d+) failed");
            Assert.True(m.Success, $"{program} {opt} printed no summary:\n{output}");
            Assert.Equal("0", m.Groups[2].Value);
            Assert.True(int.Parse(m.Groups[1].Value) >= minChecks, $"{program} ran only {m.Groups[1].Value} checks");
            Assert.Equal(0, r.ExitStatus);
        }
    }
}

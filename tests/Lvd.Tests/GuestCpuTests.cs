using System.Text.RegularExpressions;
using Lvd.Machine;
using Lvd.Tests.Support;

namespace Lvd.Tests;

/// <summary>
/// SDM conformance of paging and exception delivery, checked by guest programs that build
/// their own IDT, TSS and page tables (guest/tests/cpu, see its README): #PF error-code bits
/// and CR2, NX, WP, U/S, large pages, A/D bits, INVLPG, IST and RSP0 switches, double fault,
/// #DE/#UD/#GP/#SS/#AC, SYSCALL/SYSRET, self-modifying code, RDTSC/CPUID.
/// </summary>
public sealed class GuestCpuTests
{
    [Theory]
    [InlineData("paging", 100)]
    [InlineData("exceptions", 190)]
    [InlineData("syscall", 50)]
    [InlineData("smc", 20)]
    [InlineData("rdtsc", 30)]
    public void GuestCheckProgramPasses(string program, int minChecks)
    {
        foreach (var opt in new[] { "-O0", "-O2" })
        {
            string elf = Guest.Build($"cpu-{program}{opt}.elf", [$"guest/tests/cpu/{program}.c", "guest/tests/cpu/cputest.c"], opt);
            var r = Guest.Run(elf, maxInstructions: 200_000_000);
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

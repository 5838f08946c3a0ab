using Lvd.Tests.Support;

namespace Lvd.Tests;

/// <summary>
/// Crash reports and kernel panics name their addresses (issue 15): function+offset from the ELF
/// symbols, file:line from the DWARF line tables (addr2line), for the kernel, a domain and a program.
/// </summary>
public sealed class SymbolizationTests
{
    [Fact]
    public void AKernelPanicsBacktraceIsNamed()
    {
        var (status, _, stderr) = CliTests.Lvd("boot", "--cmdline", "crash=panic");
        Assert.Equal(1, status);   // panic(): machine_exit(1)
        Assert.Contains("lvd: the kernel's report, symbolized", stderr);
        Assert.Contains("panic: cpu 0: crash=panic from the command line", stderr);
        // The frames: crash() called panic(), selftest() called crash(), from thread_start.
        Assert.Matches(@"#0 0xffffffff[0-9a-f]+ crash\+0x[0-9a-f]+ at guest/kernel/core/main\.c:\d+", stderr);
        Assert.Matches(@"#1 0xffffffff[0-9a-f]+ selftest\+0x[0-9a-f]+ at guest/kernel/core/main\.c:\d+", stderr);
        Assert.Matches(@"thread_start\+0x[0-9a-f]+ at guest/kernel/core/sched\.c:\d+", stderr);
    }

    [Fact]
    public void AKernelTrapIsNamed()
    {
        var (status, _, stderr) = CliTests.Lvd("boot", "--cmdline", "crash=pf");
        Assert.Equal(128 + 14, status);   // trap.c: machine_exit(128 + vector)
        Assert.Contains("trap: cpu 0: #PF page fault (vector 14)", stderr);
        Assert.Matches(@"#- 0xffffffff[0-9a-f]+ crash\+0x[0-9a-f]+ at guest/kernel/core/main\.c:\d+", stderr);
    }

    [Fact]
    public void AKernelStackOverflowHitsTheGuardPage()
    {
        // mm/kstack.c: below each thread's 16 KiB stack an unmapped guard, so running off
        // the bottom is a #PF on the exception IST, not a write into another page.
        var (status, stdout, stderr) = CliTests.Lvd("boot", "--cmdline", "crash=stack");
        Assert.Equal(128 + 14, status);
        Assert.Matches(@"trap: cpu 0: #PF page fault \(vector 14\) err 0x2 cr2 0xffffc88[0-9a-f]+ in kernel mode", stderr);
        Assert.Matches(@"#0 0xffffffff[0-9a-f]+ recurse\S*\+0x[0-9a-f]+ at guest/kernel/core/main\.c:\d+", stderr);
        Assert.Matches(@"\n  kernel stack overflow: 0xffffc88[0-9a-f]+ is in the guard page below a thread's stack \(thread selftest\)", stdout);
    }

    [Fact]
    public void AKilledDriversRipIsNamedInItsOwnImage()
    {
        var (status, _, stderr) = CliTests.Lvd("boot", "--domain", Guest.Path("guest", "domains", "examples", "scribbler.c"));
        Assert.Equal(global::Lvd.Experiments.ProgramReport.StatusDriverKilled, status);
        Assert.Contains("lvd: domain scribbler killed on cpu 0: exception #PF", stderr);
        Assert.Matches(@"rip 0x[0-9a-f]+ scribbler:driver_call\+0x[0-9a-f]+ at guest/domains/examples/scribbler\.c:\d+", stderr);
    }

    [Fact]
    public void AProgramsCrashReportNamesItsRip()
    {
        // No IDT under lvd exec: the NULL write's #PF cannot be delivered, a triple fault (status 125).
        string elf = Guest.BuildSource("symbolize_crash",
            "volatile int *p;\nstatic void __attribute__((noinline)) write_null(void) { *p = 1; }\nint main(void) { write_null(); return 0; }\n",
                "-O1", "-g");
        var (status, _, stderr) = CliTests.Lvd("exec", elf);
        Assert.Equal(global::Lvd.Experiments.ProgramReport.StatusCrash, status);
        Assert.Matches(@"at RIP 0x[0-9a-f]+ \[write_null\+0x[0-9a-f]+ at [^\]]*symbolize_crash\.c:2\]", stderr);
    }
}

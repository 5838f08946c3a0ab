using Lvd.Machine.Cost;

namespace Lvd.Tests;

/// <summary>What a user sees when a guest exits, crashes, runs away or deadlocks; modeled time.</summary>
public sealed class MachineBehaviourTests
{
    /// <summary>Builds and runs a one-file program; asserts how the run ended (and its exit status, if given).</summary>
    private static ProgramResult RunEnding(RunOutcome outcome, int? status, string name, string source, string opt,
        long maxInstructions = 2_000_000_000)
    {
        var r = Guest.Run(Guest.BuildSource(name, source, opt), maxInstructions);
        Assert.Equal(outcome, r.Run.Outcome);
        if (status is int s) Assert.Equal(s, r.ExitStatus);
        return r;
    }

    /// <summary>The crash report names each of these (vector, instruction, registers ...).</summary>
    private static void ReportSays(string? report, params string[] parts)
    {
        foreach (string p in parts) Assert.Contains(p, report);
    }

    [Fact]
    public void ExitCodeAndSerialOutputReachTheHost()
    {
        var r = RunEnding(RunOutcome.Exited, 42, "exit42",
            "#include <stdio.h>\nint main(void){ printf(\"hi %d %s %05x\\n\", -7, \"there\", 0xbeef); return 42; }", "-O2");
        Assert.Equal("hi -7 there 0beef\n", r.OutputText);
        Assert.True(r.Run.Instructions > 100);
    }

    [Fact]
    public void NullDereferenceGivesAPageFaultReportWithTheInstruction()
    {
        var r = RunEnding(RunOutcome.Crashed, ProgramReport.StatusCrash, "nullderef",
            "int main(void){ volatile int *p = (int *)0; *p = 5; return 0; }", "-O1");
        ReportSays(r.Run.CrashReport, "#PF (page fault)", "page not present, write, supervisor", "CR2 0x0", "mov dword ptr [", "rip ");
    }

    [Fact]
    public void UnimplementedInstructionIsNamedInTheReport()
    {
        // An AVX instruction: valid x86-64, not part of the machine (CPUID reports no AVX).
        var r = RunEnding(RunOutcome.Crashed, null, "avx",
            "int main(void){ __asm__ volatile(\"vpxor %%xmm0, %%xmm0, %%xmm0\" ::: \"memory\"); return 0; }", "-O1");
        ReportSays(r.Run.CrashReport, "#UD (invalid opcode)", "vpxor xmm0,xmm0,xmm0", "not implemented by this emulator: VEX_Vpxor_xmm_xmm_xmmm128");
    }

    [Fact]
    public void RunawayGuestStopsAtTheInstructionLimit()
    {
        var r = RunEnding(RunOutcome.InstructionLimit, ProgramReport.StatusRunaway, "spin", "int main(void){ for (;;) __asm__ volatile(\"\"); }",
            "-O1", maxInstructions: 1_000_000);
        Assert.InRange(r.Run.Instructions, 1_000_000, 1_100_000);
        Assert.Contains("instruction limit", r.Run.CrashReport);
    }

    [Fact]
    public void HaltWithInterruptsOffIsReportedAsDeadlock()
    {
        var r = RunEnding(RunOutcome.Deadlock, ProgramReport.StatusDeadlock, "cli_hlt",
            "int main(void){ __asm__ volatile(\"cli; hlt\"); return 0; }", "-O1");
        Assert.Contains("halted", r.Run.CrashReport);
    }

    [Fact]
    public void RdtscCountsModeledCyclesFromTheCostFile()
    {
        // Two OUTs to an unclaimed port between two RDTSCs: the delta moves with port_io.
        const string src = """
            #include <stdio.h>
            static inline unsigned long rdtsc(void) { unsigned lo, hi; __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi)); return ((unsigned long)hi << 32) | lo; }
            int main(void) {
                unsigned long t0 = rdtsc();
                __asm__ volatile("outb %%al, $0x80; outb %%al, $0x80" ::: "memory");
                unsigned long t1 = rdtsc();
                printf("%lu\n", t1 - t0);
                return 0;
            }
            """;
        var elf = Guest.BuildSource("rdtsc_out", src, "-O2");
        long Delta(CostModel costs) => long.Parse(Guest.Run(elf, options: new RunOptions { Costs = costs }).OutputText.Trim());
        long baseline = Delta(CostModel.Default);
        string json = File.ReadAllText(Guest.Path("config", "costs.json")).Replace("\"cycles\": 4213", "\"cycles\": 1213");
        long cheaper = Delta(CostModel.Parse(json, "test"));
        Assert.Equal(2 * (4213 - 1213), baseline - cheaper);
        Assert.InRange(baseline, 2 * 4213, 2 * 4213 + 100);
        // Deterministic: the same program gives the same modeled time.
        Assert.Equal(baseline, Delta(CostModel.Default));
    }

    [Fact]
    public void BadCostFilesGiveOneLineErrors()
    {
        Assert.Contains("not valid JSON", Assert.Throws<CostModelException>(() => CostModel.Parse("{", "x.json")).Message);
        Assert.Contains("missing cost entry \"",
            Assert.Throws<CostModelException>(() => CostModel.Parse("""{"clock_hz": 1, "costs": {"insn": {"cycles": 1}}}""", "x.json")).Message);
        Assert.Contains("negative", Assert.Throws<CostModelException>(() =>
            CostModel.Parse(File.ReadAllText(Guest.Path("config", "costs.json")).Replace("\"cycles\": 169", "\"cycles\": -1"), "x.json")).Message);
        Assert.Equal(169, CostModel.Default.Vmfunc);
        Assert.All(CostModel.Default.Entries.Values, e => Assert.False(string.IsNullOrWhiteSpace(e.Source), $"{e.Name} has no source"));
    }
}

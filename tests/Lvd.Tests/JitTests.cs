using System.Text.RegularExpressions;
using Lvd.Experiments.Differential;
using Lvd.Experiments.Domains;
using Lvd.Machine.Diagnostics;

namespace Lvd.Tests;

/// <summary>
/// Tier 1 (src/Lvd.Machine/Translation, docs/HOST-SPEED.md): compiled regions give exactly what the interpreter gives —
/// the same output, modeled cycles, instruction counts, outcome and crash report, and the same machine state (snapshot
/// digests) at every checkpoint — whether regions are compiled in the background or at once, with the threshold
/// lowered so that nearly all code runs compiled: CPU-bound programs, csmith programs, the SDM check programs
/// (#PF, #GP, #DE and self-modifying code inside regions, natively and as VT-x guests under the EPT), a #PF and an
/// EPT violation in the middle of a hot loop, and the LVD kernel with an isolated driver on several vCPUs.
/// Every comparison also checks that the JIT really ran (regions compiled and entered).
/// </summary>
public sealed class JitTests
{
    private sealed record Figures(RunOutcome Outcome, int Exit, long Cycles, long Instructions, string Output, string Crash);

    private static Figures Of(ProgramResult r) =>
        new(r.Run.Outcome, r.ExitStatus, r.Run.Cycles, r.Run.Instructions, r.OutputText, r.Run.CrashReport ?? "");

    /// <summary>The interpreter alone; the JIT compiling at once after 1 run of a block; the JIT as users run it.</summary>
    private static readonly (string Name, Func<RunOptions, RunOptions> Set)[] Engines =
    [
        ("interp", o => o with { Engine = ExecutionEngine.Interp }),
        ("jit sync", o => o with { Engine = ExecutionEngine.Jit, SynchronousCompile = true, JitThreshold = 1 }),
        ("jit async", o => o with { Engine = ExecutionEngine.Jit, JitThreshold = 2 }),
        ("jit default", o => o with { Engine = ExecutionEngine.Jit }),
    ];

    /// <summary>Runs <paramref name="run"/> under every engine; all must agree; the JIT's runs must have entered regions.</summary>
    private static Figures AllEnginesAgree(Func<Func<RunOptions, RunOptions>, ProgramResult> run, bool expectRegions = true)
    {
        Figures? first = null;
        foreach (var (name, set) in Engines)
        {
            var r = run(set);
            var f = Of(r);
            // Compiled at once, regions must have run; in the background, when they are installed is up to the host.
            if (name == "jit sync" && expectRegions)
            {
                Assert.True(r.Machine.RegionsCompiled > 0, $"{name}: no region compiled");
                Assert.True(r.Machine.RegionRuns > 0, $"{name}: no region entered");
            }
            if (name == "interp") Assert.Equal(0, r.Machine.RegionsCompiled);
            if (first == null) { first = f; continue; }
            Assert.True(first.Output == f.Output, $"{name}: output differs from the interpreter's");
            Assert.True(first.Crash == f.Crash, $"{name}: crash report differs:\n{first.Crash}\n---\n{f.Crash}");
            Assert.True(first == f, $"{name}: {f.Outcome} exit {f.Exit}, {f.Cycles} cycles, {f.Instructions} instructions; "
                + $"interp: {first.Outcome} exit {first.Exit}, {first.Cycles} cycles, {first.Instructions} instructions");
        }
        return first!;
    }

    private static ProgramResult RunElf(string elf, Func<RunOptions, RunOptions> set, RunOptions? baseOptions = null,
        long maxInstructions = 2_000_000_000) =>
        ProgramRunner.Run(elf, set((baseOptions ?? new RunOptions()) with { CaptureSerial = true, MaxInstructions = maxInstructions }));

    [Theory]
    [InlineData("mips.c", "-O2")]
    [InlineData("mips.c", "-O0")]
    [InlineData("lz.c", "-O2")]
    public void BenchProgramsGiveTheSameResultsUnderBothEngines(string source, string opt)
    {
        string elf = Guest.Build($"jit-{source}{opt}.elf", [$"guest/bench/{source}"], opt, "-DSCALE=2");
        var f = AllEnginesAgree(set => RunElf(elf, set));
        Assert.Equal(RunOutcome.Exited, f.Outcome);
        Assert.Equal(0, f.Exit);
        Assert.True(f.Instructions > 1_000_000, $"only {f.Instructions} instructions");
    }

    /// <summary>
    /// Programs of guest/tests/jit that the host CPU runs too: conds.c, every condition code after CMP, TEST, SUB, AND, ADD
    /// and shifts on 8- to 64-bit operands over boundary values (regions compute the conditions of CMP/TEST+Jcc, SETcc and
    /// CMOVcc from the flags' producer in their locals); arith.c, ADC/SBB after each kind of producer, INC/DEC/NEG/NOT,
    /// shifts by immediates, one-operand MUL/IMUL, DIV/IDIV (both sides of the regions' fast test) and CBW..CQO, on
    /// registers and memory, with the flags the SDM defines. Every engine must print what the host CPU prints.
    /// </summary>
    [Theory]
    [InlineData("conds", "-O0")]
    [InlineData("conds", "-O1")]
    [InlineData("conds", "-O2")]
    [InlineData("arith", "-O0")]
    [InlineData("arith", "-O2")]
    public void JitTestProgramsMatchTheHostCpuUnderBothEngines(string program, string opt)
    {
        string[] source = [$"guest/tests/jit/{program}.c"];
        string elf = Guest.Build($"jit-{program}{opt}.elf", source, opt);
        var native = Guest.Native($"jit-{program}{opt}", source, opt, "-mgeneral-regs-only");
        Assert.Equal(0, native.ExitCode);
        var f = AllEnginesAgree(set => RunElf(elf, set));
        Assert.Equal(RunOutcome.Exited, f.Outcome);
        Assert.Equal(System.Text.Encoding.UTF8.GetString(native.Stdout), f.Output);
    }

    [Fact]
    public void CsmithProgramsGiveTheSameResultsUnderBothEngines()
    {
        var seeds = CsmithSeeds.Parse(File.ReadAllText(Guest.Path("tests", "data", "csmith-seeds.txt")), "csmith-seeds.txt").Take(3).ToList();
        var campaign = new CsmithCampaign(Guest.Cc, Guest.TempDir("csmith-jit"));
        foreach (var seed in seeds)
            foreach (var opt in new[] { "-O0", "-O2" })
            {
                string c = campaign.Generate(seed);
                string elf = Path.Combine(Guest.TempDir("csmith-jit"), $"csmith-{seed}{opt}.elf");
                Guest.Cc.Build([c], elf, [opt, "-w", "-I", CsmithCampaign.CsmithInclude], cache: false);
                var f = AllEnginesAgree(set => RunElf(elf, set));
                Assert.Equal(RunOutcome.Exited, f.Outcome);
                Assert.Contains("checksum", f.Output);
            }
    }

    /// <summary>
    /// The SDM check programs (guest/tests/cpu): page faults with their error codes and CR2, #GP, #DE, #UD, IST switches,
    /// self-modifying code, natively and under the hypervisor (every access through the EPT, system instructions
    /// exiting): with the threshold at 1, their loops and the code around each fault run compiled.
    /// </summary>
    [Theory]
    [InlineData("paging", false)]
    [InlineData("exceptions", false)]
    [InlineData("smc", false)]
    [InlineData("syscall", false)]
    [InlineData("paging", true)]
    [InlineData("exceptions", true)]
    [InlineData("smc", true)]
    public void SdmCheckProgramsGiveTheSameResultsUnderBothEngines(string program, bool underHypervisor)
    {
        foreach (var opt in new[] { "-O0", "-O2" })
        {
            string elf = Guest.Build($"jit-cpu-{program}{opt}.elf", [$"guest/tests/cpu/{program}.c", "guest/tests/cpu/cputest.c"], opt);
            var options = new RunOptions().With(underHypervisor ? HypervisorMode.LaunchAtStart : HypervisorMode.None);
            var f = AllEnginesAgree(set => RunElf(elf, set, options, 200_000_000));
            Assert.Equal(0, f.Exit);
            Assert.Matches(new Regex($@"{program}: \d+ passed, 0 failed"), f.Output);
        }
    }

    private const string FaultingLoop = """
        #include <stdio.h>
        #include <lvd/hypercall.h>
        /* Sums memory upwards until an access faults: natively a #PF (the loop jumps to an unmapped address after 200,000
           iterations), as a VT-x guest an EPT violation at the hypervisor's memory. The loop is hot long before: the fault
           comes from compiled code. */
        static unsigned char buf[1 << 16];
        int main(void)
        {
            unsigned long from = (unsigned long)buf;
        #ifdef HV
            if (lvd_launch() != 0) return 2;
            const unsigned long RWX = LVD_EPT_R | LVD_EPT_W | LVD_EPT_X;
            unsigned long id = lvd_hypercall(LVD_HC_EPT_CREATE, 0, 0, 0, 0, 0).value;
            for (unsigned long gpa = 0;; gpa += 2UL << 20)
                if (lvd_hypercall(LVD_HC_EPT_MAP, id, gpa, gpa, 2UL << 20, RWX).status) { from = gpa - (1UL << 20); break; }
        #endif
            printf("from 0x%lx\n", from);
            unsigned long sum = 0;
            unsigned long n = 0;
            for (volatile unsigned long *p = (volatile unsigned long *)from;; p += 8, n++)
            {
        #ifndef HV
                if (n == 200000) p = (volatile unsigned long *)0x7f0000000000UL;
                else if ((n & 1023) == 0) p = (volatile unsigned long *)from;
        #endif
                sum += *p ^ (unsigned long)p;
                if (sum == 0x1234567) printf("never\n");
            }
            return (int)sum;
        }
        """;

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void AFaultInTheMiddleOfAHotLoopIsPreciseUnderBothEngines(bool hypervisor)
    {
        string elf = Guest.BuildSource(hypervisor ? "jit_fault_hv" : "jit_fault", FaultingLoop, "-O2", hypervisor ? "-DHV" : "-DNATIVE");
        var options = new RunOptions().With(hypervisor ? HypervisorMode.OnRequest : HypervisorMode.None);
        var f = AllEnginesAgree(set => RunElf(elf, set, options, 400_000_000));
        Assert.NotEqual(RunOutcome.Exited, f.Outcome);
        Assert.NotEqual(RunOutcome.InstructionLimit, f.Outcome);
        Assert.Contains(hypervisor ? "EPT violation" : "#PF", f.Crash);
        Assert.True(f.Instructions > 100_000, $"the loop ran only {f.Instructions} instructions");
    }

    [Fact]
    public void SnapshotDigestsAreTheSameUnderBothEngines()
    {
        // The snapshot program of SnapshotTests: the machine's whole state at every checkpoint.
        string elf = Guest.BuildSource("jit_digest", SnapshotTests.Program, "-O1");
        Dictionary<long, ulong>? expected = null;
        foreach (var (name, set) in Engines)
        {
            var digests = new Dictionary<long, ulong>();
            var r = RunElf(elf, o => set(o) with
            {
                Setup = m => m.SetCheckpoints(100_000, mm => digests[mm.LatestClock] = MachineSnapshot.Digest(mm)),
            });
            Assert.Equal(RunOutcome.Exited, r.Run.Outcome);
            Assert.True(digests.Count >= 5, $"{name}: only {digests.Count} checkpoints");
            if (name == "jit sync") Assert.True(r.Machine.RegionRuns > 0, $"{name}: no region entered");
            if (expected == null) { expected = digests; continue; }
            Assert.Equal(expected.Keys.Order(), digests.Keys.Order());
            foreach (var (t, d) in expected) Assert.True(digests[t] == d, $"{name}: the state at cycle {t} differs from the interpreter's");
        }
    }

    [Theory]
    [InlineData(2)]
    [InlineData(4)]
    public void TheKernelWithAnIsolatedDriverGivesTheSameResultsUnderBothEngines(int cpus)
    {
        var spec = new LvdBootSpec { Cpus = cpus, Isolate = ["nullnet"], Workload = "nullnet", Threads = 2, Duration = 2_000_000 };
        var f = AllEnginesAgree(set => LvdBoot.Run(spec, maxInstructions: 1_500_000_000, configure: set));
        Assert.Equal(0, f.Exit);
        Assert.Contains("result: workload=nullnet", f.Output);
    }

    /// <summary>The CLI's start-up compile of the executor (Cpu.PrepareExecutor, on a thread-pool thread: a throw there
    /// would end the process) finds the method and compiles it.</summary>
    [Fact]
    public void TheExecutorCanBeCompiledAhead()
    {
        List<string>? names = null;
        var e = Record.Exception(() => names = Lvd.Machine.Execution.Cpu.PrepareExecutor());
        Assert.Null(e);
        Assert.Contains("ExecuteBlock", names!);
        Assert.Contains("LinkBlock", names!);
    }

    [Fact]
    public void TheEngineOptionIsCheckedAndReported()
    {
        var (status, stdout, stderr) = CliTests.Lvd("exec", "--engine", "fast", "/nonexistent.elf");
        Assert.Equal(2, status);
        Assert.Equal("", stdout);
        Assert.Single(stderr.Trim().Split('\n'));
        Assert.Contains("--engine fast: interp or jit", stderr);
        string elf = Guest.Build("jit-cli-mips.elf", ["guest/bench/mips.c"], "-O2", "-DSCALE=1");
        string dir = Guest.TempDir("jit-cli");
        foreach (var engine in new[] { "interp", "jit" })
        {
            string stats = Path.Combine(dir, $"stats-{engine}.json");
            var (st, _, err) = CliTests.Lvd("exec", elf, "--engine", engine, "--stats-json", stats);
            Assert.True(st == 0, err);
            var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(stats)).RootElement;
            Assert.Equal(engine, doc.GetProperty("engine").GetString());
            long compiled = doc.GetProperty("regions_compiled").GetInt64();
            if (engine == "interp") Assert.Equal(0, compiled);
            else Assert.True(compiled > 0, "lvd exec --engine jit compiled no region");
        }
    }
}

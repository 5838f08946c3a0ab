using System.Text.Json;
using Iced.Intel;
using Lvd.Experiments.Timing;
using Lvd.Machine.Cost;

namespace Lvd.Tests;

/// <summary>
/// The cost profiles and the block model (docs/COST-MODEL.md, Block timing): the model's arithmetic on blocks whose
/// answer follows from its definition, its agreement with llvm-mca on the loop kernels, its coverage of the code the
/// machine runs, how a block's cycles are charged, and that the haswell profile is deterministic while cpi1 is unchanged.
/// </summary>
public sealed class TimingModelTests
{
    private static readonly CostModel Haswell = CostModel.Named("haswell");

    private static double Model(params string[] lines) =>
        BlockModel.CyclesPerIteration(Haswell.Timing!, TimingValidation.Assemble(lines), out _);

    [Fact]
    public void TheModelFollowsItsDefinitionOnDependencyPortAndIssueBoundBlocks()
    {
        Assert.Equal(4.0, Model("add rax, rcx", "add rax, rdx", "add rax, rbx", "add rax, rsi"), 2);     // a chain of four 1-cycle adds
        Assert.Equal(2.0, Model("add rax, 1", "add rcx, 1", "add rdx, 1", "add rbx, 1",
            "add rsi, 1", "add rdi, 1", "add r8, 1", "add r9, 1"), 2);                                   // 8 µops at 4 per cycle
        Assert.Equal(6.0, Model("imul rax, rcx", "imul rax, rdx"), 2);                                   // two 3-cycle multiplies in a chain
        Assert.Equal(4.0, Model("imul rax, rbx", "imul rcx, rbx", "imul rdx, rbx", "imul rsi, rbx"), 2); // one multiplier port
        Assert.Equal(5.0, Model("mov rax, qword ptr [rax]"), 2);                                         // load-to-use latency
        Assert.Equal(1.0, Model("xor eax, eax", "mov ecx, 5", "mov rdx, rsi", "movzx ebx, dl"), 2);      // a zeroing idiom breaks the chain
        // A load does not wait for the register it is added to: only the add is on the chain.
        Assert.Equal(1.25, Model("add rax, qword ptr [rsi+rcx*8]", "add rcx, 1", "cmp rcx, rdx", "jne L0"), 2);
    }

    [Fact]
    public void OnTheLoopKernelsTheModelIsWithinFifteenPercentOfLlvmMca()
    {
        Assert.True(File.Exists(Mca.Tool), "llvm-mca is missing: scripts/setup.sh installs Debian's llvm (./test runs it)");
        var rows = TimingValidation.Run(Guest.Path("guest", "bench", "timing", "kernels.s"), Haswell.Timing!);
        Assert.True(rows.Count >= 20, $"only {rows.Count} kernels");
        Assert.All(rows, r => Assert.Equal(0, r.Missing));
        double mae = rows.Average(r => Math.Abs(r.Error));
        Assert.True(mae <= 0.15, $"mean absolute error {mae:P1}");
        // Deliberate: the model has the stack engine (no RSP chain through PUSH/POP), llvm-mca does not.
        Assert.True(rows.Single(r => r.Name.StartsWith("push-pop")).Error < -0.5);
    }

    [Fact]
    public void TheHostProfileFollowsLlvmMcasZen3ModelAndTheHostMeasuresKnownLatencies()
    {
        var znver3 = CostModel.Named("znver3");
        Assert.Equal("znver3", znver3.Profile);
        Assert.Equal(6, znver3.Timing!.DispatchWidth);
        var kernels = TimingValidation.ReadKernels(Guest.Path("guest", "bench", "timing", "kernels.s"));
        var rows = TimingValidation.Run(Guest.Path("guest", "bench", "timing", "kernels.s"), znver3.Timing, "znver3");
        double mae = rows.Average(r => Math.Abs(r.Error));
        Assert.True(mae <= 0.15, $"against llvm-mca -mcpu=znver3: mean absolute error {mae:P1}");
        // Measured on the host: a chain of two 3-cycle IMULs is 6 cycles on every x86 core of the last decade, the
        // calibration chain (4 dependent ADDs) 4 by definition.
        var native = NativeKernels.Run([.. kernels.Where(k => k.Name is "add-chain" or "imul-chain")]);
        Assert.Equal(4.0, native.Single(k => k.Name == "add-chain").Cycles, 3);
        double imul = native.Single(k => k.Name == "imul-chain").Cycles;
        Assert.True(Math.Abs(imul - 6) < 0.9, $"the host ran the IMUL chain in {imul:0.00} cycles per iteration");
    }

    [Fact]
    public void TheTableCoversTheInstructionsOfTheKernelItPrices()
    {
        string kernel = Guest.Path("build", "kernel", "kernel.elf");
        if (!File.Exists(kernel)) Assert.Equal(0, CliTests.Lvd("boot", "--cpus", "1").Status);
        var image = Lvd.Machine.Loader.ElfImage.Read(kernel);
        var text = image.Segments.Where(s => s.Executable).ToList();
        Assert.NotEmpty(text);
        int modeled = 0, missing = 0;
        foreach (var seg in text)
        {
            var decoder = Iced.Intel.Decoder.Create(64, new ByteArrayCodeReader(seg.FileBytes), seg.Address);
            while (decoder.IP < seg.Address + (ulong)seg.FileBytes.Length)
            {
                decoder.Decode(out var ins);
                if (ins.IsInvalid || ins.Mnemonic is Mnemonic.Int3 || ins.FlowControl is FlowControl.Interrupt) continue;
                bool memory = Enumerable.Range(0, ins.OpCount).Any(i => ins.GetOpKind(i) == OpKind.Memory);
                if (Haswell.Timing!.Of(ins.Code, memory) != null) modeled++; else missing++;
            }
        }
        // The rest are system instructions the cost file prices (MOV CR, WRMSR, VMCALL, IRETQ, ...) and padding.
        Assert.True(missing < 0.03 * (modeled + missing), $"{missing} of {modeled + missing} kernel instructions have no timing");
    }

    [Fact]
    public void ABlocksCyclesAreSharedOutOverItsInstructionsAndTheFractionsAddUpPerVcpu()
    {
        var ops = new Lvd.Machine.Decoding.Op[4];
        var timing = new BlockTiming(Haswell.Timing!);
        var block = TimingValidation.Assemble(["add rax, rcx", "add rax, rdx", "imul rax, rbx", "add rcx, 1"]);
        for (int i = 0; i < block.Count; i++) { ops[i].Cost = 99; timing.Note(i, block[i], modeled: i != 3); }
        int fraction = timing.Price(ops, block.Count);
        double t = timing.CyclesPerIteration(block.Count);
        Assert.Equal(5.0, t, 2);                                  // 1 + 1 + 3 on the RAX chain
        Assert.Equal(0, fraction);
        Assert.Equal(5, ops[0].Cost + ops[1].Cost + ops[2].Cost);
        Assert.Equal(99, ops[3].Cost);                           // not modeled: the cost file's cycles stay
        Assert.All(ops[..3], o => Assert.True(o.Cost >= 1));
    }

    [Fact]
    public void TheHaswellProfileIsDeterministicNamedInResultsAndLeavesCpi1Unchanged()
    {
        string elf = Guest.Build("timing_mips", [Guest.Path("guest", "bench", "mips.c")], "-O2", "-DSCALE=2");
        string dir = Guest.TempDir("timing");
        long Cycles(string costs, string name)
        {
            string json = Path.Combine(dir, name);
            Assert.Equal(0, CliTests.Lvd("exec", elf, "--costs", costs, "--json", json).Status);
            var doc = JsonDocument.Parse(File.ReadAllText(json)).RootElement;
            Assert.Equal(costs, doc.GetProperty("header").GetProperty("cost_profile").GetString());
            return doc.GetProperty("stats").GetProperty("cycles").GetInt64();
        }
        long h1 = Cycles("haswell", "h1.json"), h2 = Cycles("haswell", "h2.json"), c = Cycles("cpi1", "c.json");
        Assert.Equal(h1, h2);
        Assert.NotEqual(h1, c);
        var plain = Guest.Run(elf);
        Assert.Equal(plain.Run.Cycles, c);                      // --costs cpi1 is the default
        var bad = CliTests.Lvd("exec", elf, "--costs", "skylake");
        Assert.Equal(2, bad.Status);
        Assert.Contains("--costs skylake: no such file", bad.Stderr);
    }
}

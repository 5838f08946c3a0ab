using Iced.Intel;
using Lvd.Machine.Cost;

namespace Lvd.Experiments.Timing;

/// <summary>One loop kernel: llvm-mca's cycles per iteration beside the block model's.</summary>
public sealed record KernelTiming(string Name, int Instructions, double Mca, double Model, int Missing)
{
    /// <summary>The model's error relative to llvm-mca.</summary>
    public double Error => Mca == 0 ? 0 : (Model - Mca) / Mca;
}

/// <summary>
/// `lvd bench timing` (a): the block model (docs/COST-MODEL.md, Block timing) against `llvm-mca -mcpu=haswell` on the
/// BHive-style loop kernels of guest/bench/timing/kernels.s, each assembled by binutils and decoded by Iced as the
/// machine decodes it.
/// </summary>
public static class TimingValidation
{
    public const int Iterations = 1000;

    /// <summary>The kernels of a file: "## name" starts one; "#" lines are comments.</summary>
    public static List<(string Name, List<string> Lines)> ReadKernels(string path)
    {
        var list = new List<(string, List<string>)>();
        foreach (var raw in File.ReadAllLines(path))
        {
            string line = raw.Trim();
            if (line.StartsWith("## ")) list.Add((line[3..].Trim(), []));
            else if (line.Length > 0 && !line.StartsWith('#'))
            {
                if (list.Count == 0) throw new FormatException($"{path}: an instruction before the first \"## name\" line");
                list[^1].Item2.Add(line);
            }
        }
        return list;
    }

    public static List<KernelTiming> Run(string kernelsPath, InstructionTimings table, string cpu = "haswell")
    {
        var rows = new List<KernelTiming>();
        foreach (var (name, lines) in ReadKernels(kernelsPath))
        {
            double mca = Mca.Analyze(cpu, lines, Iterations).CyclesPerIteration;
            var block = Assemble(lines);
            double model = BlockModel.CyclesPerIteration(table, block, out var missing);
            rows.Add(new KernelTiming(name, block.Count, mca, model, missing.Count));
        }
        return rows;
    }

    /// <summary>The instructions of Intel-syntax lines, assembled by GNU as (label L0 at the start) and decoded by Iced.</summary>
    public static List<Instruction> Assemble(IReadOnlyList<string> lines)
    {
        string dir = Path.Combine(Path.GetTempPath(), $"lvd-timing-{Environment.ProcessId}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        try
        {
            string s = Path.Combine(dir, "k.s"), o = Path.Combine(dir, "k.o"), bin = Path.Combine(dir, "k.bin");
            File.WriteAllText(s, ".intel_syntax noprefix\n.text\nL0:\n" + string.Join('\n', lines) + "\n");
            var a = HostProcess.Run("as", ["--64", "-o", o, s], TimeSpan.FromMinutes(1));
            if (a.ExitCode != 0) throw new InvalidOperationException($"as refused the kernel: {a.Stderr.Trim()}");
            var c = HostProcess.Run("objcopy", ["-O", "binary", "-j", ".text", o, bin], TimeSpan.FromMinutes(1));
            if (c.ExitCode != 0) throw new InvalidOperationException($"objcopy: {c.Stderr.Trim()}");
            var bytes = File.ReadAllBytes(bin);
            var decoder = Iced.Intel.Decoder.Create(64, new ByteArrayCodeReader(bytes), 0);
            var list = new List<Instruction>();
            while (decoder.IP < (ulong)bytes.Length)
            {
                decoder.Decode(out var ins);
                if (ins.IsInvalid) throw new InvalidOperationException("the kernel decodes to an invalid instruction");
                list.Add(ins);
            }
            return list;
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}

/// <summary>One loop kernel run natively on the host: core cycles per iteration (TSC ticks over the calibration ratio).</summary>
public sealed record NativeKernel(string Name, double Cycles, double Spread);

/// <summary>A kernel's loop as the host ran it, beside the block model and llvm-mca with the host's table (cycles per iteration).</summary>
public sealed record HostKernel(string Name, double Host, double Spread, double Model, double Mca);

/// <summary>
/// `lvd bench timing` (b): the loop kernels run natively on this host. There is no cycle counter in this VM (perf
/// says "not supported"), so each kernel runs in a loop timed with RDTSC and the ticks are turned into core cycles by
/// the add-chain kernel, whose four dependent ADDs take exactly 4 cycles per iteration on every x86 core since the
/// Pentium 4. Each kernel: 200,000 iterations, the least of 9 runs (the spread says how noisy the host is).
/// The timed loop is the kernel body (its closing branch dropped) plus `dec r15; jnz`, and that same loop is what the
/// models are given for this comparison.
/// </summary>
public static class NativeKernels
{
    public const int Iterations = 200_000, Runs = 9;

    /// <summary>The kernel whose four dependent ADDs (4 cycles on every x86 core) turn TSC ticks into core cycles.</summary>
    public const string Calibration = "add-chain";

    /// <summary>
    /// `lvd bench timing` (b): the kernels measured on the host beside the block model and llvm-mca for <paramref name="cpu"/>,
    /// each given the loop the host ran; and the mean absolute errors of both against the host (the calibration left out).
    /// </summary>
    public static (List<HostKernel> Rows, double ModelError, double McaError) Compare(string kernelsPath, InstructionTimings table, string cpu)
    {
        var kernels = TimingValidation.ReadKernels(kernelsPath);
        var rows = new List<HostKernel>();
        foreach (var (nk, k) in Run(kernels).Zip(kernels))
        {
            var loop = HostLoop(k.Lines);
            rows.Add(new HostKernel(nk.Name, nk.Cycles, nk.Spread, BlockModel.CyclesPerIteration(table, TimingValidation.Assemble(loop), out _),
                Mca.Analyze(cpu, loop, TimingValidation.Iterations).CyclesPerIteration));
        }
        var measured = rows.Where(r => r.Name != Calibration).ToList();
        return (rows, measured.Average(r => Math.Abs(r.Model - r.Host) / r.Host), measured.Average(r => Math.Abs(r.Mca - r.Host) / r.Host));
    }

    /// <summary>The loop the host runs for a kernel: its body without a closing `jne L0`, then the counter.</summary>
    public static List<string> HostLoop(IReadOnlyList<string> body)
    {
        var lines = body.ToList();
        if (lines.Count > 0 && lines[^1].Replace(" ", "") == "jneL0") lines.RemoveAt(lines.Count - 1);
        lines.Add("dec r15");
        lines.Add("jnz L0");
        return lines;
    }

    public static List<NativeKernel> Run(IReadOnlyList<(string Name, List<string> Lines)> kernels)
    {
        string dir = Path.Combine(Path.GetTempPath(), $"lvd-native-{Environment.ProcessId}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        try
        {
            var asm = new System.Text.StringBuilder(".intel_syntax noprefix\n.text\n");
            for (int k = 0; k < kernels.Count; k++)
            {
                // rdi = iterations, rsi = a 16 MiB buffer whose first word points to itself; returns TSC ticks.
                asm.Append($".globl kernel_{k}\nkernel_{k}:\npush rbx\npush rbp\npush r12\npush r13\npush r14\npush r15\n");
                asm.Append("mov r15, rdi\nmov r14, rsi\nlfence\nrdtsc\nshl rdx, 32\nor rax, rdx\nmov r13, rax\n");
                asm.Append("mov rax, r14\nmov rsi, r14\nlea rdi, [r14 + 8388608]\nmov ecx, 7\nxor edx, edx\nmov ebx, 3\nmov r8d, 5\nmov r9d, 9\n");
                asm.Append("xorps xmm0, xmm0\nxorps xmm1, xmm1\nxorps xmm2, xmm2\nxorps xmm3, xmm3\nxorps xmm4, xmm4\n");
                asm.Append("xorps xmm5, xmm5\nxorps xmm6, xmm6\nxorps xmm7, xmm7\n.p2align 5\n");
                asm.Append(string.Join('\n', HostLoop(kernels[k].Lines)).Replace("L0", $"1b").Insert(0, "1:\n")).Append('\n');
                asm.Append("lfence\nrdtsc\nshl rdx, 32\nor rax, rdx\nsub rax, r13\npop r15\npop r14\npop r13\npop r12\npop rbp\npop rbx\nret\n");
            }
            asm.Append(".section .note.GNU-stack,\"\",@progbits\n");
            var c = new System.Text.StringBuilder("#include <stdio.h>\n#include <stdlib.h>\n");
            for (int k = 0; k < kernels.Count; k++) c.Append($"unsigned long kernel_{k}(unsigned long, void *);\n");
            c.Append("typedef unsigned long (*kernel)(unsigned long, void *);\nstatic kernel all[] = {");
            for (int k = 0; k < kernels.Count; k++) c.Append($"kernel_{k},");
            c.Append("};\nint main(void) {\n  unsigned long *buf = aligned_alloc(4096, 16 << 20);\n");
            c.Append("  for (unsigned long i = 0; i < (16 << 20) / 8; i++) buf[i] = 0;\n  buf[0] = (unsigned long)buf;\n");
            c.Append($"  for (int k = 0; k < {kernels.Count}; k++) {{\n    unsigned long best = ~0UL, worst = 0;\n");
            c.Append($"    for (int r = 0; r < {Runs}; r++) {{ buf[0] = (unsigned long)buf; unsigned long t = all[k]({Iterations}, buf);");
            c.Append(" if (t < best) best = t; if (t > worst) worst = t; }\n");
            c.Append("    printf(\"%d %lu %lu\\n\", k, best, worst);\n  }\n  return 0;\n}\n");
            string s = Path.Combine(dir, "k.s"), cs = Path.Combine(dir, "main.c"), exe = Path.Combine(dir, "native");
            File.WriteAllText(s, asm.ToString());
            File.WriteAllText(cs, c.ToString());
            var build = HostProcess.Run("gcc", ["-O1", "-o", exe, cs, s], TimeSpan.FromMinutes(2));
            if (build.ExitCode != 0) throw new InvalidOperationException($"gcc: {build.Stderr.Trim()}");
            var run = HostProcess.Run(exe, [], TimeSpan.FromMinutes(5));
            if (run.ExitCode != 0) throw new InvalidOperationException($"the native kernels failed: {run.Stderr.Trim()}");
            var ticks = new double[kernels.Count];
            var spread = new double[kernels.Count];
            foreach (var line in System.Text.Encoding.UTF8.GetString(run.Stdout).Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                var f = line.Split(' ');
                int k = int.Parse(f[0]);
                ticks[k] = double.Parse(f[1]) / Iterations;
                spread[k] = double.Parse(f[2]) / double.Parse(f[1]) - 1;
            }
            int cal = kernels.ToList().FindIndex(x => x.Name == Calibration);
            if (cal < 0) throw new InvalidOperationException($"the kernels have no {Calibration} to calibrate the TSC with");
            double ratio = ticks[cal] / 4.0;
            return [.. kernels.Select((x, k) => new NativeKernel(x.Name, ticks[k] / ratio, spread[k]))];
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}

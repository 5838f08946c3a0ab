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

    public static List<KernelTiming> Run(string kernelsPath, InstructionTimings table)
    {
        var rows = new List<KernelTiming>();
        foreach (var (name, lines) in ReadKernels(kernelsPath))
        {
            double mca = Mca.Analyze(HaswellTable.Cpu, lines, Iterations).CyclesPerIteration;
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

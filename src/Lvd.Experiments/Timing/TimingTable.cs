using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Iced.Intel;

namespace Lvd.Experiments.Timing;

/// <summary>
/// Generates a timing table, config/timing/CPU.json (docs/COST-MODEL.md, Block timing): for every legacy-encoded 64-bit
/// instruction form of Iced with general-purpose, SSE or no register operands, one instance in each operand shape
/// (register, memory) is assembled and given to `llvm-mca -mcpu=CPU`, whose scheduling model (LLVM's X86Sched*.td)
/// supplies µops, latency, reciprocal throughput and the pressure on each resource. Each entry keeps the instruction
/// it was measured on. Forms llvm-mca cannot take are left out (the machine then charges the cost file's plain cost).
/// The CPUs: haswell (the paper's machine) and znver3 (the newest AMD core llvm-mca 14 models, for this host).
/// </summary>
public static partial class TimingTable
{
    /// <summary>The CPUs with a table: the paper's, and the host's nearest (its scheduling model's source).</summary>
    /// <remarks>The front end's width and the load-to-use latency are those of the same scheduling models.</remarks>
    public static readonly IReadOnlyDictionary<string, (string Source, int DispatchWidth, int LoadLatency)> Cpus =
        new Dictionary<string, (string, int, int)>
        {
            ["haswell"] = ("LLVM's Haswell scheduling model (llvm/lib/Target/X86/X86SchedHaswell.td)", 4, 5),
            ["znver3"] = ("LLVM's Zen 3 scheduling model (llvm/lib/Target/X86/X86ScheduleZnver3.td)", 6, 4),
        };

    /// <summary>One instance of a form: its Iced code, operand shape, and Intel-syntax text.</summary>
    public sealed record Sample(Code Code, bool Memory, string Asm);

    /// <summary>The samples: every usable form in register and memory shapes.</summary>
    public static List<Sample> Samples()
    {
        var list = new List<Sample>();
        var formatter = new IntelFormatter();
        formatter.Options.MemorySizeOptions = MemorySizeOptions.Always;
        formatter.Options.HexPrefix = "0x";
        formatter.Options.HexSuffix = "";
        formatter.Options.BranchLeadingZeros = false;
        formatter.Options.ShowBranchSize = false;
        formatter.Options.RipRelativeAddresses = false;
        foreach (Code code in Enum.GetValues<Code>())
        {
            if (code == Code.INVALID) continue;
            var info = code.ToOpCode();
            if (!info.IsInstruction || info.Encoding != EncodingKind.Legacy || !info.Mode64 || info.Fwait) continue;
            foreach (bool mem in new[] { false, true })
            {
                if (!TryBuild(code, info, mem, out var ins)) continue;
                var writer = new ByteWriter();
                var encoder = Iced.Intel.Encoder.Create(64, writer);
                if (!encoder.TryEncode(ins, 0x1000, out _, out _)) continue;
                var decoder = Iced.Intel.Decoder.Create(64, new ByteArrayCodeReader(writer.Bytes), 0x1000);
                decoder.Decode(out var back);
                if (back.Code != code) continue;
                var output = new StringOutput();
                formatter.Format(back, output);
                string asm = output.ToStringAndReset();
                if (info.IsBranch()) asm = BranchTarget().Replace(asm, "L0");
                list.Add(new Sample(code, mem, asm));
            }
        }
        return list;
    }

    private sealed class ByteWriter : CodeWriter
    {
        private readonly List<byte> _bytes = [];
        public byte[] Bytes => [.. _bytes];
        public override void WriteByte(byte value) => _bytes.Add(value);
    }

    private static bool IsBranch(this OpCodeInfo info)
    {
        for (int i = 0; i < info.OpCount; i++)
            if (info.GetOpKind(i) is OpCodeOperandKind.br64_1 or OpCodeOperandKind.br64_4 or OpCodeOperandKind.br32_1 or OpCodeOperandKind.br32_4)
                return true;
        return false;
    }

    [GeneratedRegex(@"0x[0-9a-fA-F]+$")]
    private static partial Regex BranchTarget();

    // Destination, then sources: distinct registers so that no sample has an accidental dependency pattern.
    private static readonly Register[] Gpr64 = [Register.RAX, Register.RCX, Register.RDX];
    private static readonly Register[] Xmm = [Register.XMM1, Register.XMM2, Register.XMM3];

    private static bool TryBuild(Code code, OpCodeInfo info, bool mem, out Instruction ins)
    {
        ins = default;
        ins.Code = code;
        bool usedMem = false;
        for (int i = 0; i < info.OpCount; i++)
        {
            var k = info.GetOpKind(i);
            int slot = Math.Min(i, 2);
            switch (k)
            {
                case OpCodeOperandKind.r8_reg: SetReg(ref ins, i, Low8(Gpr64[slot])); break;
                case OpCodeOperandKind.r16_reg or OpCodeOperandKind.r16_rm: SetReg(ref ins, i, Gpr64[slot] - Register.RAX + Register.AX); break;
                case OpCodeOperandKind.r32_reg or OpCodeOperandKind.r32_rm: SetReg(ref ins, i, Gpr64[slot] - Register.RAX + Register.EAX); break;
                case OpCodeOperandKind.r64_reg or OpCodeOperandKind.r64_rm: SetReg(ref ins, i, Gpr64[slot]); break;
                case OpCodeOperandKind.xmm_reg or OpCodeOperandKind.xmm_rm: SetReg(ref ins, i, Xmm[slot]); break;
                case OpCodeOperandKind.r8_or_mem or OpCodeOperandKind.r16_or_mem or OpCodeOperandKind.r32_or_mem or OpCodeOperandKind.r64_or_mem
                    or OpCodeOperandKind.xmm_or_mem:
                    if (mem) { SetMem(ref ins, i); usedMem = true; break; }
                    var r = Gpr64[slot];
                    SetReg(ref ins, i, k switch
                    {
                        OpCodeOperandKind.r8_or_mem => Low8(r),
                        OpCodeOperandKind.r16_or_mem => r - Register.RAX + Register.AX,
                        OpCodeOperandKind.r32_or_mem => r - Register.RAX + Register.EAX,
                        OpCodeOperandKind.xmm_or_mem => Xmm[slot],
                        _ => r,
                    });
                    break;
                case OpCodeOperandKind.mem:
                    if (!mem) return false;
                    SetMem(ref ins, i); usedMem = true;
                    break;
                case OpCodeOperandKind.imm8 or OpCodeOperandKind.imm8sex16 or OpCodeOperandKind.imm8sex32 or OpCodeOperandKind.imm8sex64:
                    SetImm(ref ins, i, k switch
                    {
                        OpCodeOperandKind.imm8sex16 => OpKind.Immediate8to16,
                        OpCodeOperandKind.imm8sex32 => OpKind.Immediate8to32,
                        OpCodeOperandKind.imm8sex64 => OpKind.Immediate8to64,
                        _ => OpKind.Immediate8,
                    }, 3);
                    break;
                case OpCodeOperandKind.imm16: SetImm(ref ins, i, OpKind.Immediate16, 3); break;
                case OpCodeOperandKind.imm32: SetImm(ref ins, i, OpKind.Immediate32, 3); break;
                case OpCodeOperandKind.imm32sex64: SetImm(ref ins, i, OpKind.Immediate32to64, 3); break;
                case OpCodeOperandKind.imm64: SetImm(ref ins, i, OpKind.Immediate64, 0x123456789); break;
                case OpCodeOperandKind.imm8_const_1: SetImm(ref ins, i, OpKind.Immediate8, 1); break;
                case OpCodeOperandKind.al: SetReg(ref ins, i, Register.AL); break;
                case OpCodeOperandKind.cl: SetReg(ref ins, i, Register.CL); break;
                case OpCodeOperandKind.ax: SetReg(ref ins, i, Register.AX); break;
                case OpCodeOperandKind.dx: SetReg(ref ins, i, Register.DX); break;
                case OpCodeOperandKind.eax: SetReg(ref ins, i, Register.EAX); break;
                case OpCodeOperandKind.rax: SetReg(ref ins, i, Register.RAX); break;
                case OpCodeOperandKind.r16_opcode: SetReg(ref ins, i, Register.CX); break;
                case OpCodeOperandKind.r32_opcode: SetReg(ref ins, i, Register.ECX); break;
                case OpCodeOperandKind.r64_opcode: SetReg(ref ins, i, Register.RCX); break;
                case OpCodeOperandKind.r8_opcode: SetReg(ref ins, i, Register.CL); break;
                case OpCodeOperandKind.br64_1 or OpCodeOperandKind.br64_4:
                    ins.SetOpKind(i, OpKind.NearBranch64);
                    ins.NearBranch64 = 0x1000;
                    break;
                default: return false;
            }
        }
        return mem == usedMem;
    }

    private static Register Low8(Register r64) => r64 switch { Register.RAX => Register.AL, Register.RCX => Register.CL, _ => Register.DL };

    private static void SetReg(ref Instruction ins, int i, Register r)
    {
        ins.SetOpKind(i, OpKind.Register);
        ins.SetOpRegister(i, r);
    }

    private static void SetMem(ref Instruction ins, int i)
    {
        ins.SetOpKind(i, OpKind.Memory);
        ins.MemoryBase = Register.RSI;
        ins.MemoryDisplacement64 = 8;
        ins.MemoryDisplSize = 1;
    }

    private static void SetImm(ref Instruction ins, int i, OpKind kind, ulong value)
    {
        // A second 8-bit immediate (ENTER, EXTRQ) has its own kind.
        if (kind == OpKind.Immediate8 && i > 0 && ins.GetOpKind(i - 1) is OpKind.Immediate8 or OpKind.Immediate16) kind = OpKind.Immediate8_2nd;
        ins.SetOpKind(i, kind);
        switch (kind)
        {
            case OpKind.Immediate8: ins.Immediate8 = (byte)value; break;
            case OpKind.Immediate8_2nd: ins.Immediate8_2nd = (byte)value; break;
            case OpKind.Immediate16: ins.Immediate16 = (ushort)value; break;
            case OpKind.Immediate32: ins.Immediate32 = (uint)value; break;
            case OpKind.Immediate64: ins.Immediate64 = value; break;
            case OpKind.Immediate8to16: case OpKind.Immediate8to32: case OpKind.Immediate8to64: ins.Immediate8 = (byte)value; break;
            case OpKind.Immediate32to64: ins.Immediate32 = (uint)value; break;
        }
    }
}

/// <summary>What llvm-mca says of one instruction: µops, latency, reciprocal throughput, pressure on each resource.</summary>
public sealed record McaEntry(int Uops, int Latency, double RThroughput, double[] Pressure);

/// <summary>Runs llvm-mca (Debian's llvm package) on Intel-syntax instructions and reads its per-instruction tables.</summary>
public static partial class Mca
{
    public static string Tool => File.Exists("/usr/bin/llvm-mca") ? "/usr/bin/llvm-mca" : "llvm-mca";

    /// <summary>The version line of llvm-mca, for the table's source.</summary>
    public static string Version()
    {
        var r = HostProcess.Run(Tool, ["--version"], TimeSpan.FromMinutes(1));
        var m = Regex.Match(Encoding.UTF8.GetString(r.Stdout), @"LLVM version ([\d.]+)");
        return m.Success ? m.Groups[1].Value : "unknown";
    }

    /// <summary>The resources (ports) llvm-mca lists for the CPU, in its column order.</summary>
    public static string[] Resources(string cpu) => Analyze(cpu, ["add rax, rcx"], 1).Resources;

    /// <summary>
    /// Per instruction of <paramref name="lines"/> (in order) its entry, and the block's cycles per iteration over
    /// <paramref name="iterations"/> iterations; throws with llvm-mca's message when it refuses the input.
    /// </summary>
    public static (McaEntry[] Entries, string[] Resources, double CyclesPerIteration) Analyze(string cpu, IReadOnlyList<string> lines, int iterations)
    {
        string dir = Path.Combine(Path.GetTempPath(), "lvd-mca");
        Directory.CreateDirectory(dir);
        string file = Path.Combine(dir, $"in-{Environment.ProcessId}-{Guid.NewGuid():N}.s");
        File.WriteAllText(file, ".intel_syntax noprefix\nL0:\n" + string.Join('\n', lines) + "\n");
        try
        {
            var r = HostProcess.Run(Tool, [$"-mcpu={cpu}", $"-iterations={iterations}", "-instruction-info", "-resource-pressure",
                "-dispatch-stats=false",
                "-timeline=false", file], TimeSpan.FromMinutes(5));
            if (r.ExitCode != 0) throw new McaException(r.Stderr.Trim(), LineOf(r.Stderr, file));
            return Parse(Encoding.UTF8.GetString(r.Stdout), lines.Count);
        }
        finally { File.Delete(file); }
    }

    /// <summary>The input line (0-based, of the caller's lines) an llvm-mca error names, or -1.</summary>
    private static int LineOf(string stderr, string file)
    {
        var m = Regex.Match(stderr, Regex.Escape(file) + @":(\d+):");
        return m.Success ? int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) - 3 : -1;
    }

    private static (McaEntry[], string[], double) Parse(string text, int count)
    {
        var lines = text.Split('\n');
        double cycles = 0, iterations = 1;
        var resources = new List<string>();
        var info = new List<(int, int, double)>();
        var pressure = new List<double[]>();
        int section = 0;
        foreach (var raw in lines)
        {
            string line = raw.TrimEnd();
            if (line.StartsWith("Iterations:")) iterations = double.Parse(line[11..].Trim(), CultureInfo.InvariantCulture);
            else if (line.StartsWith("Total Cycles:")) cycles = double.Parse(line[13..].Trim(), CultureInfo.InvariantCulture);
            else if (line.StartsWith("[1]    [2]    [3]")) section = 1;
            else if (line.StartsWith("Resources:")) section = 2;
            else if (line.StartsWith("Resource pressure per iteration")) section = 3;
            else if (line.StartsWith("Resource pressure by instruction")) section = 4;
            else if (section == 1 && InfoRow().Match(line) is { Success: true } m)
                info.Add((int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture), int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture),
                    double.Parse(m.Groups[3].Value, CultureInfo.InvariantCulture)));
            else if (section == 1 && line.Length == 0 && info.Count > 0) section = 0;
            else if (section == 2 && ResourceRow().Match(line) is { Success: true } rm) resources.Add(rm.Groups[1].Value);
            else if (section == 4 && line.StartsWith('[')) continue;
            else if (section == 4 && line.Length > 0 && resources.Count > 0)
            {
                var cells = line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
                if (cells.Length < resources.Count) continue;
                var p = new double[resources.Count];
                for (int i = 0; i < p.Length; i++) p[i] = cells[i] == "-" ? 0 : double.Parse(cells[i], CultureInfo.InvariantCulture);
                pressure.Add(p);
            }
        }
        if (info.Count != count || pressure.Count != count)
            throw new McaException($"llvm-mca listed {info.Count} instructions and {pressure.Count} pressure rows for {count} lines", -1);
        var entries = new McaEntry[count];
        for (int i = 0; i < count; i++) entries[i] = new McaEntry(info[i].Item1, info[i].Item2, info[i].Item3, pressure[i]);
        return (entries, [.. resources], cycles / iterations);
    }

    [GeneratedRegex(@"^\s*(\d+)\s+(\d+)\s+(\d+\.\d+|\d+)\s")]
    private static partial Regex InfoRow();

    [GeneratedRegex(@"^\[\d+(?:\.\d+)?\]\s+-\s+(\S+)")]
    private static partial Regex ResourceRow();
}

public sealed class McaException(string message, int line) : Exception(message)
{
    /// <summary>The input line it names (0-based), or -1.</summary>
    public int Line { get; } = line;
}

public static partial class TimingTable
{
    /// <summary>Writes the table to <paramref name="path"/>; returns how many entries it holds and how many samples llvm refused.</summary>
    public static (int Entries, int Refused) Generate(string path, string cpu)
    {
        var samples = Samples();
        // One llvm-mca run per sample: it silently drops lines it cannot schedule, so a batch would misalign. Over 100
        // iterations the pressure is the average spread of the µops over the ports they may use.
        var results = new McaEntry?[samples.Count];
        string[] resources = Mca.Resources(cpu);
        Parallel.For(0, samples.Count, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, i =>
        {
            try { results[i] = Mca.Analyze(cpu, [samples[i].Asm], 100).Entries[0]; }
            catch (McaException) { results[i] = null; }
        });
        var kept = new List<Sample>();
        var entries = new List<McaEntry>();
        for (int i = 0; i < samples.Count; i++)
            if (results[i] is { } r) { kept.Add(samples[i]); entries.Add(r); }
        int refusedCount = samples.Count - kept.Count;
        var forms = new JsonObject();
        for (int i = 0; i < kept.Count; i++)
        {
            var s = kept[i];
            var e = entries[i];
            var form = forms[s.Code.ToString()] as JsonObject ?? new JsonObject();
            forms[s.Code.ToString()] = form;
            var p = new JsonArray();
            foreach (double x in e.Pressure) p.Add(Math.Round(x, 3));
            form[s.Memory ? "mem" : "reg"] = new JsonObject
            {
                ["uops"] = e.Uops, ["latency"] = e.Latency, ["rthroughput"] = e.RThroughput, ["pressure"] = p, ["measured_on"] = s.Asm,
            };
        }
        var root = new JsonObject
        {
            ["about"] = $"Per-instruction timing of {cpu} for the block model (docs/COST-MODEL.md, Block timing). " +
                "Generated, do not edit: ./lvd bench timing --update-table.",
            ["source"] = $"llvm-mca {Mca.Version()} -mcpu={cpu}: {Cpus[cpu].Source}; each entry names the instruction it was measured on",
            ["dispatch_width"] = Cpus[cpu].DispatchWidth,
            ["load_latency"] = Cpus[cpu].LoadLatency,
            ["resources"] = new JsonArray([.. resources.Select(r => (JsonNode)r)]),
            ["forms"] = forms,
        };
        var options = new JsonSerializerOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
        // One form per line, so that a regenerated table diffs by form.
        File.WriteAllText(path, root.ToJsonString(options).Replace("},\"", "},\n\"") + "\n");
        return (kept.Count, refusedCount);
    }
}

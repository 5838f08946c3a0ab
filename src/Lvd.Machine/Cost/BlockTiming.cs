using System.Text.Json;
using Iced.Intel;

namespace Lvd.Machine.Cost;

/// <summary>µops, latency and port pressure of one instruction form (an entry of a timing table).</summary>
public sealed record FormTiming(int Uops, int Latency, double[] Pressure)
{
    /// <summary>
    /// The pressure as demands on groups of resources (bit n: resource n), one per class the form uses (see
    /// <see cref="InstructionTimings.Classes"/>): e.g. on Haswell the load µops over the load ports they use, the ALU
    /// µops over the ALU ports they use. The scheduler may spread a group's µops over its resources as it likes.
    /// </summary>
    public (uint Ports, double Amount)[] Groups { get; init; } = [];
}

/// <summary>
/// A per-instruction timing table (config/timing/CPU.json, generated from llvm-mca's model of the CPU by
/// `./lvd bench timing --update-table`): for each Iced instruction form, in register and memory operand shapes,
/// its µops, latency and the pressure on each execution resource. Named by a cost file's "timing" entry.
/// </summary>
public sealed class InstructionTimings
{
    private readonly FormTiming?[] _forms;

    public string SourcePath { get; }
    public string Source { get; }
    /// <summary>µops the front end issues per cycle.</summary>
    public int DispatchWidth { get; }
    /// <summary>Load-to-use latency: a load's other operands are needed only this much after it starts.</summary>
    public int LoadLatency { get; private init; }
    public IReadOnlyList<string> Resources { get; }
    public int Count { get; }

    private InstructionTimings(string path, string source, int width, string[] resources, FormTiming?[] forms, int count)
    {
        SourcePath = path;
        Source = source;
        DispatchWidth = width;
        Resources = resources;
        _forms = forms;
        Count = count;
    }

    /// <summary>The form's timing in the shape used (a memory operand or not), or null when the table has none.</summary>
    public FormTiming? Of(Code code, bool memory) => _forms[(int)code * 2 + (memory ? 1 : 0)];

    /// <summary>
    /// The classes of resources a µop may be spread over (bit n: resource n). Haswell's ports by what they execute:
    /// loads and store addresses (2, 3, 7), store data (4), ALU (0, 1, 5, 6); on other CPUs the units of one name
    /// (Zn3ALU0-3, Zn3AGU0-2, ...); every other resource (a divider) is a class of its own.
    /// </summary>
    public IReadOnlyList<uint> Classes { get; private init; } = [];

    private static uint[] ClassesOf(string[] resources)
    {
        var classes = new List<uint>();
        if (Array.TrueForAll(resources, r => !r.StartsWith("Zn")) && Array.Exists(resources, r => r.StartsWith("HWPort")))
        {
            int Port(string r) => r.StartsWith("HWPort") && int.TryParse(r[6..], out int n) ? n : -1;
            foreach (var ports in new[] { new[] { 2, 3, 7 }, [4], [0, 1, 5, 6] })
            {
                uint mask = 0;
                for (int i = 0; i < resources.Length; i++) if (Array.IndexOf(ports, Port(resources[i])) >= 0) mask |= 1u << i;
                classes.Add(mask);
            }
            for (int i = 0; i < resources.Length; i++) if (Port(resources[i]) < 0) classes.Add(1u << i);
            return [.. classes];
        }
        var byName = new Dictionary<string, uint>();
        for (int i = 0; i < resources.Length; i++)
        {
            string key = resources[i].TrimEnd('0', '1', '2', '3', '4', '5', '6', '7', '8', '9');
            byName[key] = byName.GetValueOrDefault(key) | 1u << i;
        }
        return [.. byName.Values];
    }

    private static (uint, double)[] GroupsOf(double[] pressure, uint[] classes)
    {
        var groups = new List<(uint, double)>();
        foreach (uint cls in classes)
        {
            uint mask = 0;
            double amount = 0;
            for (int i = 0; i < pressure.Length; i++)
                if ((cls >> i & 1) != 0 && pressure[i] > 0) { mask |= 1u << i; amount += pressure[i]; }
            if (mask != 0) groups.Add((mask, amount));
        }
        return [.. groups];
    }

    public static InstructionTimings Load(string path) => Parse(File.ReadAllText(path), path);

    public static InstructionTimings Parse(string json, string path)
    {
        try
        {
            using var doc = JsonDocument.Parse(json);
            var root = doc.RootElement;
            string source = root.GetProperty("source").GetString() ?? "";
            int width = root.GetProperty("dispatch_width").GetInt32();
            int loadLatency = root.GetProperty("load_latency").GetInt32();
            var resources = root.GetProperty("resources").EnumerateArray().Select(e => e.GetString() ?? "").ToArray();
            if (resources.Length > 32) throw new CostModelException($"{path}: {resources.Length} resources, at most 32");
            var classes = ClassesOf(resources);
            var forms = new FormTiming?[Enum.GetValues<Code>().Length * 2];
            int count = 0;
            foreach (var f in root.GetProperty("forms").EnumerateObject())
            {
                if (!Enum.TryParse<Code>(f.Name, out var code)) throw new CostModelException($"{path}: unknown instruction form {f.Name}");
                foreach (var shape in f.Value.EnumerateObject())
                {
                    var p = shape.Value.GetProperty("pressure").EnumerateArray().Select(e => e.GetDouble()).ToArray();
                    if (p.Length != resources.Length)
                        throw new CostModelException($"{path}: {f.Name}.{shape.Name}: {p.Length} pressures for {resources.Length} resources");
                    forms[(int)code * 2 + (shape.Name == "mem" ? 1 : 0)] =
                        new FormTiming(shape.Value.GetProperty("uops").GetInt32(), shape.Value.GetProperty("latency").GetInt32(), p)
                        {
                            Groups = GroupsOf(p, classes),
                        };
                    count++;
                }
            }
            return new InstructionTimings(path, source, width, resources, forms, count) { Classes = classes, LoadLatency = loadLatency };
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            throw new CostModelException($"{path}: not a timing table ({e.Message})");
        }
    }
}

/// <summary>
/// The block model (docs/COST-MODEL.md, Block timing): a decoded block's modeled cycles from its instructions, computed
/// once when the block is decoded. The block is taken as a loop body in steady state, as BHive measures blocks and
/// llvm-mca reports them: its cycles per iteration are the larger of (a) the port bound, the busiest execution
/// resource's pressure summed over the block, and (b) the issue-and-dependency bound, from a schedule of 12 copies of
/// the block in which each instruction issues in order at the front end's width (µops) and starts once the registers
/// and flags it reads are ready, finishing after its latency; (b) is the growth of the last finish from copy 4 to copy
/// 12 per copy. Instructions the table lacks, and those the cost file prices itself (system instructions, VMFUNC,
/// port I/O, string iterations), are not part of the model and keep their cost file cycles.
/// </summary>
internal sealed class BlockTiming
{
    private const int Copies = 12, Warm = 4;
    /// <summary>Registers tracked: 16 GPRs, 16 XMM, RFLAGS.</summary>
    private const int Regs = 33, Flags = 32;

    private readonly InstructionTimings _table;
    private readonly InstructionInfoFactory _info = new();
    private readonly FormTiming?[] _timing = new FormTiming?[Decoding.BlockDecoder.MaxOpsPerBlock];
    private readonly ulong[] _reads = new ulong[Decoding.BlockDecoder.MaxOpsPerBlock];
    private readonly ulong[] _writes = new ulong[Decoding.BlockDecoder.MaxOpsPerBlock];
    private readonly double[] _ready = new double[Regs];
    /// <summary>The block's port groups and their summed demand.</summary>
    private readonly uint[] _groupPorts = new uint[64];
    private readonly double[] _groupAmount = new double[64];
    /// <summary>Per instruction: registers read only by its address (needed before the load), the others after it.</summary>
    private readonly ulong[] _address = new ulong[Decoding.BlockDecoder.MaxOpsPerBlock];
    private readonly bool[] _loads = new bool[Decoding.BlockDecoder.MaxOpsPerBlock];


    public BlockTiming(InstructionTimings table) => _table = table;

    /// <summary>Notes instruction <paramref name="index"/> of the block being decoded; <paramref name="modeled"/>: the model prices it.</summary>
    public void Note(int index, in Instruction ins, bool modeled)
    {
        _timing[index] = null;
        if (!modeled) return;
        bool memory = false;
        for (int i = 0; i < ins.OpCount; i++) if (ins.GetOpKind(i) == OpKind.Memory) memory = true;
        var t = _table.Of(ins.Code, memory);
        if (t == null) return;
        _timing[index] = t;
        ulong reads = 0, writes = 0;
        var info = _info.GetInfo(ins);
        foreach (var u in info.GetUsedRegisters())
        {
            int r = Index(u.Register);
            if (r < 0) continue;
            bool read = u.Access is OpAccess.Read or OpAccess.CondRead or OpAccess.ReadWrite or OpAccess.ReadCondWrite;
            bool write = u.Access is OpAccess.Write or OpAccess.CondWrite or OpAccess.ReadWrite or OpAccess.ReadCondWrite;
            // A write of an 8- or 16-bit register merges with the rest of it.
            if (write && u.Register.GetSize() < 4 && u.Register.IsGPR()) read = true;
            if (read) reads |= 1UL << r;
            if (write) writes |= 1UL << r;
        }
        ulong address = 0;
        bool loads = false;
        if (memory)
        {
            if (Index(ins.MemoryBase) is int b and >= 0) address |= 1UL << b;
            if (Index(ins.MemoryIndex) is int x and >= 0) address |= 1UL << x;
            foreach (var m in info.GetUsedMemory())
                if (m.Access is OpAccess.Read or OpAccess.CondRead or OpAccess.ReadWrite or OpAccess.ReadCondWrite) loads = true;
        }
        _address[index] = address;
        _loads[index] = loads;
        if (ins.RflagsRead != RflagsBits.None) reads |= 1UL << Flags;
        if (ins.RflagsModified != RflagsBits.None) writes |= 1UL << Flags;
        // The stack engine updates RSP for PUSH, POP, CALL and RET at decode: no dependency through it (llvm-mca
        // has none and charges a 1-cycle chain; docs/COST-MODEL.md).
        if (ins.Mnemonic is Mnemonic.Push or Mnemonic.Pop or Mnemonic.Call or Mnemonic.Ret)
        {
            reads &= ~(1UL << 4);
            writes &= ~(1UL << 4);
        }
        // Zeroing idioms (xor/sub/pxor of a register with itself) depend on nothing.
        if (ins.OpCount == 2 && ins.Op0Kind == OpKind.Register && ins.Op1Kind == OpKind.Register && ins.Op0Register == ins.Op1Register
            && ins.Mnemonic is Mnemonic.Xor or Mnemonic.Sub or Mnemonic.Pxor or Mnemonic.Xorps or Mnemonic.Xorpd or Mnemonic.Psubb
                or Mnemonic.Psubw or Mnemonic.Psubd or Mnemonic.Psubq)
            reads = 0;
        _reads[index] = reads;
        _writes[index] = writes;
    }

    private static int Index(Register r)
    {
        var full = r.GetFullRegister();
        if (full >= Register.RAX && full <= Register.R15) return full - Register.RAX;
        if (r >= Register.XMM0 && r <= Register.XMM15) return 16 + (r - Register.XMM0);
        return -1;
    }

    /// <summary>
    /// Gives the modeled ops of a decoded block their cycles: the block's cycles per iteration, whole cycles shared out
    /// over its modeled instructions by their µops (so a block that leaves early is charged the shares of the
    /// instructions it ran, the rule of every block); returns the fraction of a cycle left, in 1/65,536 cycles, which
    /// the vCPU adds up. Ops the model does not price keep their cost file cycles.
    /// </summary>
    public int Price(Decoding.Op[] ops, int count)
    {
        double t = CyclesPerIteration(count);
        long units = (long)Math.Round(t * 65536);
        long whole = units >> 16;
        long total = 0;
        for (int i = 0; i < count; i++) if (_timing[i] is { } f) total += f.Uops;
        if (total == 0) return 0;
        long before = 0;
        for (int i = 0; i < count; i++)
        {
            if (_timing[i] is not { } f) continue;
            long shareBefore = whole * before / total;
            before += f.Uops;
            ops[i].Cost = (int)(whole * before / total - shareBefore);
        }
        return (int)(units & 0xffff);
    }

    /// <summary>The modeled cycles per iteration of the first <paramref name="count"/> noted instructions (0 when none is modeled).</summary>
    public double CyclesPerIteration(int count)
    {
        // The port bound: the best spread of each group's µops over its ports, i.e. the largest demand of groups that
        // fit in a set of ports, per port of the set, over every set (an exact bound for a fractional assignment).
        int n = 0;
        bool any = false;
        for (int i = 0; i < count; i++)
        {
            if (_timing[i] is not { } t) continue;
            any = true;
            foreach (var (ports, amount) in t.Groups)
            {
                int g = Array.IndexOf(_groupPorts, ports, 0, n);
                if (g < 0) { g = n++; _groupPorts[g] = ports; _groupAmount[g] = 0; }
                _groupAmount[g] += amount;
            }
        }
        if (!any) return 0;
        uint all = 0;
        for (int g = 0; g < n; g++) all |= _groupPorts[g];
        double portBound = 0;
        // Every subset of the resources in use, class by class (a group never spans classes; a class has at most 4-6 units).
        foreach (uint cls in _table.Classes)
        {
            uint used = all & cls;
            for (uint set = used; set != 0; set = (set - 1) & used)
            {
                double demand = 0;
                for (int g = 0; g < n; g++) if ((_groupPorts[g] & ~set) == 0) demand += _groupAmount[g];
                portBound = Math.Max(portBound, demand / System.Numerics.BitOperations.PopCount(set));
            }
        }
        Array.Clear(_ready);
        double uops = 0, last = 0, atWarm = 0;
        int width = _table.DispatchWidth;
        for (int copy = 0; copy < Copies; copy++)
        {
            for (int i = 0; i < count; i++)
            {
                if (_timing[i] is not { } t) continue;
                double start = Math.Floor(uops / width);
                uops += t.Uops;
                ulong reads = _reads[i];
                while (reads != 0)
                {
                    int r = System.Numerics.BitOperations.TrailingZeroCount(reads);
                    reads &= reads - 1;
                    // A load starts when its address is ready; the value it is combined with may come later.
                    bool late = _loads[i] && (_address[i] >> r & 1) == 0;
                    start = Math.Max(start, late ? _ready[r] - _table.LoadLatency : _ready[r]);
                }
                double done = start + t.Latency;
                ulong writes = _writes[i];
                while (writes != 0)
                {
                    int r = System.Numerics.BitOperations.TrailingZeroCount(writes);
                    writes &= writes - 1;
                    _ready[r] = done;
                }
                last = Math.Max(last, done);
            }
            if (copy == Warm - 1) atWarm = last;
        }
        double chain = (last - atWarm) / (Copies - Warm);
        return Math.Max(portBound, chain);
    }
}

/// <summary>The block model for tools (validation, `lvd bench timing`): cycles per iteration of a list of instructions.</summary>
public static class BlockModel
{
    /// <summary>
    /// Steady-state cycles per iteration of <paramref name="block"/> under <paramref name="table"/>; the instructions the
    /// table lacks are listed.
    /// </summary>
    public static double CyclesPerIteration(InstructionTimings table, IReadOnlyList<Instruction> block, out List<Instruction> missing)
    {
        if (block.Count > Decoding.BlockDecoder.MaxOpsPerBlock)
            throw new ArgumentException($"a block holds at most {Decoding.BlockDecoder.MaxOpsPerBlock} instructions");
        var model = new BlockTiming(table);
        missing = [];
        for (int i = 0; i < block.Count; i++)
        {
            var ins = block[i];
            model.Note(i, in ins, modeled: true);
            bool memory = false;
            for (int k = 0; k < ins.OpCount; k++) if (ins.GetOpKind(k) == OpKind.Memory) memory = true;
            if (table.Of(ins.Code, memory) == null) missing.Add(ins);
        }
        return model.CyclesPerIteration(block.Count);
    }
}

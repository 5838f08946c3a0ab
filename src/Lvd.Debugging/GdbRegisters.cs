using System.Text;
using Lvd.Machine.Execution;

namespace Lvd.Debugging;

/// <summary>
/// The register file gdb sees (target description <see cref="TargetXml"/>): gdb's amd64 core
/// feature (general registers in gdb's order, RIP, EFLAGS, selectors; the x87 registers it
/// requires read as 0: the stub does not send the x87 registers yet), the segments feature (FS/GS base), and
/// `org.lvd.x86.system`: the other segment bases, KERNEL_GS_BASE, CR0/CR2/CR3/CR4/CR8, EFER, and
/// the VMX state: non-root or not, the active EPTP and its index in the EPTP list (-1 in root mode).
/// </summary>
public static class GdbRegisters
{
    private readonly record struct Reg(string Name, int Bits, string Type, string Feature);

    /// <summary>gdb's order of rax..r15 as the machine's register indexes.</summary>
    private static readonly int[] GprOrder = [Cpu.RAX, Cpu.RBX, Cpu.RCX, Cpu.RDX, Cpu.RSI, Cpu.RDI, Cpu.RBP, Cpu.RSP, 8, 9, 10, 11, 12, 13, 14, 15];
    private static readonly string[] GprNames = ["rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp", "r8", "r9", "r10", "r11", "r12", "r13",
        "r14", "r15"];
    private static readonly SegReg[] SelectorOrder = [SegReg.CS, SegReg.SS, SegReg.DS, SegReg.ES, SegReg.FS, SegReg.GS];

    private const string Core = "org.gnu.gdb.i386.core", Segments = "org.gnu.gdb.i386.segments", System = "org.lvd.x86.system";

    private static readonly Reg[] Regs = BuildRegs();

    private static Reg[] BuildRegs()
    {
        var r = new List<Reg>();
        for (int i = 0; i < 16; i++) r.Add(new(GprNames[i], 64, i is 6 or 7 ? "data_ptr" : "int64", Core));
        r.Add(new("rip", 64, "code_ptr", Core));
        r.Add(new("eflags", 32, "i386_eflags", Core));
        foreach (var s in new[] { "cs", "ss", "ds", "es", "fs", "gs" }) r.Add(new(s, 32, "int32", Core));
        for (int i = 0; i < 8; i++) r.Add(new($"st{i}", 80, "i387_ext", Core));
        foreach (var f in new[] { "fctrl", "fstat", "ftag", "fiseg", "fioff", "foseg", "fooff", "fop" }) r.Add(new(f, 32, "int", Core));
        r.Add(new("fs_base", 64, "int", Segments));
        r.Add(new("gs_base", 64, "int", Segments));
        foreach (var s in new[] { "cs_base", "ss_base", "ds_base", "es_base", "kernel_gs_base", "cr0", "cr2", "cr3", "cr4", "cr8", "efer",
                     "vmx_nonroot", "eptp", "eptp_index" })
            r.Add(new(s, 64, s == "eptp_index" ? "int64" : "uint64", System));
        return [.. r];
    }

    public const int RipIndex = 16, EflagsIndex = 17, FsBaseIndex = 40, GsBaseIndex = 41;

    public static int Count => Regs.Length;

    public static string Name(int index) => Regs[index].Name;

    public static string TargetXml { get; } = BuildXml();

    private static string BuildXml()
    {
        var sb = new StringBuilder();
        sb.Append("<?xml version=\"1.0\"?>\n<!DOCTYPE target SYSTEM \"gdb-target.dtd\">\n<target version=\"1.0\">\n");
        sb.Append("<architecture>i386:x86-64</architecture>\n<osabi>none</osabi>\n");
        string? feature = null;
        for (int i = 0; i < Regs.Length; i++)
        {
            var r = Regs[i];
            if (r.Feature != feature)
            {
                if (feature != null) sb.Append("</feature>\n");
                feature = r.Feature;
                sb.Append($"<feature name=\"{feature}\">\n");
                if (feature == Core)
                {
                    sb.Append("<flags id=\"i386_eflags\" size=\"4\">\n");
                    foreach (var (name, bit) in new[] { ("CF", 0), ("", 1), ("PF", 2), ("AF", 4), ("ZF", 6), ("SF", 7), ("TF", 8), ("IF", 9), ("DF",
                        10),
                                 ("OF", 11), ("NT", 14), ("RF", 16), ("VM", 17), ("AC", 18), ("VIF", 19), ("VIP", 20), ("ID", 21) })
                        sb.Append($"<field name=\"{name}\" start=\"{bit}\" end=\"{bit}\"/>\n");
                    sb.Append("</flags>\n");
                }
            }
            string group = r.Feature == Core && i >= 24 && r.Bits == 32 ? " group=\"float\"" : "";
            sb.Append($"<reg name=\"{r.Name}\" bitsize=\"{r.Bits}\" type=\"{r.Type}\" regnum=\"{i}\"{group}/>\n");
        }
        sb.Append("</feature>\n</target>\n");
        return sb.ToString();
    }

    /// <summary>The value of register <paramref name="index"/> (x87 registers are 0).</summary>
    public static ulong Value(Cpu cpu, int index)
    {
        var v = cpu.Vmcs;
        bool nonRoot = cpu.NonRoot && v != null;
        return index switch
        {
            < 16 => cpu.GetRegister(GprOrder[index]),
            RipIndex => cpu.Rip,
            EflagsIndex => cpu.Rflags & 0xffffffff,
            < 24 => cpu.Segs[(int)SelectorOrder[index - 18]].Selector,
            < 40 => 0,
            FsBaseIndex => cpu.FsBase,
            GsBaseIndex => cpu.GsBase,
            42 => cpu.Segs[(int)SegReg.CS].Base,
            43 => cpu.Segs[(int)SegReg.SS].Base,
            44 => cpu.Segs[(int)SegReg.DS].Base,
            45 => cpu.Segs[(int)SegReg.ES].Base,
            46 => cpu.KernelGsBase,
            47 => cpu.Cr0,
            48 => cpu.Cr2,
            49 => cpu.Cr3,
            50 => cpu.Cr4,
            51 => cpu.Cr8,
            52 => cpu.Efer,
            53 => nonRoot ? 1UL : 0,
            54 => nonRoot && v!.EptEnabled ? v.Eptp : 0,
            55 => nonRoot ? v!.EptpIndex : ulong.MaxValue,
            _ => 0,
        };
    }

    public static string? Read(Cpu cpu, int index) =>
        index < 0 || index >= Regs.Length ? null : GdbPacket.LittleEndianHex(Value(cpu, index), Regs[index].Bits / 8);

    public static string ReadAll(Cpu cpu)
    {
        var sb = new StringBuilder();
        for (int i = 0; i < Regs.Length; i++) sb.Append(Read(cpu, i));
        return sb.ToString();
    }

    /// <summary>Writes one register from little-endian hex: the general registers, RIP, RFLAGS, FS/GS base; false for the rest.</summary>
    public static bool Write(Cpu cpu, int index, string hex)
    {
        var bytes = GdbPacket.FromHex(hex);
        if (bytes == null || index < 0 || index >= Regs.Length || bytes.Length != Regs[index].Bits / 8) return false;
        ulong value = 0;
        for (int i = Math.Min(8, bytes.Length) - 1; i >= 0; i--) value = value << 8 | bytes[i];
        switch (index)
        {
            case < 16: cpu.SetRegister(GprOrder[index], value); return true;
            case RipIndex: cpu.Rip = value; return true;
            case EflagsIndex: cpu.Rflags = (cpu.Rflags & ~0xffffffffUL) | value; return true;
            case FsBaseIndex: cpu.FsBase = value; return true;
            case GsBaseIndex: cpu.GsBase = value; return true;
            default: return Value(cpu, index) == value; // unchanged is fine (gdb writes back whole sets)
        }
    }

    /// <summary>The `G` packet: every register in order; the writable ones are set.</summary>
    public static bool WriteAll(Cpu cpu, string hex)
    {
        int at = 0;
        for (int i = 0; i < Regs.Length && at < hex.Length; i++)
        {
            int n = Regs[i].Bits / 4;
            if (at + n > hex.Length) return false;
            string part = hex.Substring(at, n);
            at += n;
            if (i < 16 || i == RipIndex || i == EflagsIndex || i == FsBaseIndex || i == GsBaseIndex)
                if (!Write(cpu, i, part)) return false;
        }
        return true;
    }
}

using System.Text;
using Iced.Intel;
using Lvd.Machine.Execution;

namespace Lvd.Machine;

/// <summary>Human-readable reports of a dead guest: vector, RIP, the instruction, registers.</summary>
public static class CrashReport
{
    private static readonly string[] RegNames = ["rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13",
        "r14", "r15"];

    public static string Describe(Machine m, Cpu cpu)
    {
        var sb = new StringBuilder();
        var crash = cpu.Crash;
        sb.Append($"guest crashed on vCPU {cpu.Id}: {crash?.Reason ?? "shutdown"}\n");
        if (crash != null && crash.FirstVector >= 0)
        {
            sb.Append($"  first exception: {Vectors.Name(crash.FirstVector)}");
            if (Vectors.HasErrorCode(crash.FirstVector)) sb.Append($", error code 0x{crash.FirstErrorCode:x}");
            if (crash.FirstVector == Vectors.PF) sb.Append($" ({PageFaultText(crash.FirstErrorCode)}), CR2 0x{crash.Cr2:x}");
            sb.Append('\n');
            sb.Append($"  at RIP 0x{crash.Rip:x}: {Disassemble(cpu, crash.Rip)}\n");
            if (crash.FirstVector == Vectors.UD && cpu.LastUnimplemented >= 0)
                sb.Append($"  (the instruction is valid x86-64 but not implemented by this emulator: {(Code)cpu.LastUnimplemented})\n");
            if (cpu.Idtr.Limit == 0) sb.Append("  (no IDT was installed, so the exception could not be delivered)\n");
        }
        AppendRegisters(sb, cpu);
        return sb.ToString();
    }

    public static string DescribeDeadlock(Machine m)
    {
        var sb = new StringBuilder("guest stopped making progress: every vCPU is halted and no interrupt can wake it\n");
        foreach (var c in m.Cpus)
            sb.Append($"  vCPU {c.Id}: {c.State}, RIP 0x{c.Rip:x}, IF={(c.InterruptsEnabled ? 1 : 0)}\n");
        return sb.ToString();
    }

    public static string DescribeRunaway(Machine m, long limit)
    {
        var sb = new StringBuilder($"guest ran past the instruction limit ({limit:N0} instructions)\n");
        foreach (var c in m.Cpus)
        {
            sb.Append($"  vCPU {c.Id} at RIP 0x{c.Rip:x}: {Disassemble(c, c.Rip)}\n");
        }
        AppendRegisters(sb, m.Cpus[0]);
        return sb.ToString();
    }

    private static string PageFaultText(uint err)
    {
        var parts = new List<string>
        {
            (err & 1) != 0 ? "protection violation" : "page not present",
            (err & 2) != 0 ? "write" : (err & 16) != 0 ? "instruction fetch" : "read",
            (err & 4) != 0 ? "user" : "supervisor",
        };
        if ((err & 8) != 0) parts.Add("reserved bit set");
        return string.Join(", ", parts);
    }

    /// <summary>Disassembles the instruction at a linear address with Iced, or says why it can't.</summary>
    public static string Disassemble(Cpu cpu, ulong rip)
    {
        var bytes = new byte[15];
        int n = 0;
        for (; n < 15; n++)
        {
            if (!cpu.TryReadLinear(rip + (ulong)n, out byte b)) break;
            bytes[n] = b;
        }
        if (n == 0) return "(instruction bytes not mapped)";
        var decoder = Iced.Intel.Decoder.Create(cpu.In64BitMode ? 64 : 32, new ByteArrayCodeReader(bytes, 0, n), rip);
        decoder.Decode(out var ins);
        if (ins.IsInvalid) return $"(invalid encoding: {Convert.ToHexString(bytes, 0, Math.Min(n, 8)).ToLowerInvariant()})";
        var fmt = new IntelFormatter();
        var output = new StringOutput();
        fmt.Format(in ins, output);
        return $"{output.ToStringAndReset()}    [{Convert.ToHexString(bytes, 0, ins.Length).ToLowerInvariant()}]";
    }

    /// <summary>MXCSR, the x87 control/status words and the nonzero XMM registers.</summary>
    private static void AppendVectorState(StringBuilder sb, Cpu cpu)
    {
        sb.Append($"  mxcsr {cpu.Mxcsr:x8}  fcw {cpu.Fcw:x4}  fsw {cpu.Fsw:x4}  ftw {cpu.Ftw:x4}\n");
        for (int i = 0; i < 16; i++)
        {
            var (lo, hi) = cpu.GetXmm(i);
            if ((lo | hi) != 0) sb.Append($"  xmm{i,-2} {hi:x16}{lo:x16}\n");
        }
    }

    private static void AppendRegisters(StringBuilder sb, Cpu cpu)
    {
        for (int i = 0; i < 16; i++)
        {
            sb.Append($"  {RegNames[i],-3} {cpu.GetRegister(i):x16}");
            if (i % 4 == 3) sb.Append('\n');
        }
        sb.Append($"  rip {cpu.Rip:x16}  rflags {cpu.Rflags:x8}  cpl {cpu.Cpl}\n");
        sb.Append($"  cr0 {cpu.Cr0:x}  cr2 {cpu.Cr2:x}  cr3 {cpu.Cr3:x}  cr4 {cpu.Cr4:x}  efer {cpu.Efer:x}  ({cpu.ModeName} mode)\n");
        sb.Append($"  cs {cpu.Segs[(int)SegReg.CS].Selector:x4}  ss {cpu.Segs[(int)SegReg.SS].Selector:x4}  fs.base {cpu.FsBase:x}  gs.base " +
            $"{cpu.GsBase:x}  idtr {cpu.Idtr.Base:x}/{cpu.Idtr.Limit:x}  tr {cpu.Tr.Selector:x}\n");
        if (cpu.HasVectorState) AppendVectorState(sb, cpu);
        sb.Append($"  instructions {cpu.Instructions:N0}  cycles {cpu.Cycles:N0}\n");
    }
}

using Iced.Intel;
using Lvd.Experiments.Robustness;
using static Iced.Intel.AssemblerRegisters;

namespace Lvd.Tests;

/// <summary>
/// The machine never lies and never hangs (issue 19): each finding of the robustness checks, as
/// raw code at known addresses (RawElf): SSE forms that shared a mnemonic with string
/// instructions, addr32 LOOP, the single-step trap, the APIC timer's time, REP over huge
/// ranges, CLI + timer + HLT, injected exceptions the guest cannot deliver.
/// </summary>
public sealed class MachineHonestyTests
{
    private const ulong Data = RawElf.DataBase;

    private static ProgramResult Run(string name, Action<Assembler> code, byte[]? data = null, bool hypervisor = false,
        long maxInstructions = 10_000_000) =>
        RunWithGates(name, a => { code(a); return []; }, data, hypervisor, maxInstructions);

    /// <summary>
    /// Assembles the code at CodeBase; each (vector, label) becomes an interrupt gate of the IDT at Data (load it with
    /// <see cref="LoadIdt"/>).
    /// </summary>
    private static ProgramResult RunWithGates(string name, Func<Assembler, (int Vector, Label Handler)[]> code, byte[]? data = null,
        bool hypervisor = false, long maxInstructions = 10_000_000)
    {
        var a = new Assembler(64);
        var gates = code(a);
        using var ms = new MemoryStream();
        var asm = a.Assemble(new StreamCodeWriter(ms), RawElf.CodeBase, BlockEncoderOptions.ReturnNewInstructionOffsets);
        data ??= new byte[8192];
        foreach (var (vector, label) in gates) RawElf.Gate(data, vector, asm.GetLabelRIP(label));
        string path = Path.Combine(Guest.TempDir("honesty"), name + ".elf");
        RawElf.Write(path, ms.ToArray(), data);
        var options = new RunOptions { CaptureSerial = true, MaxInstructions = maxInstructions }
            .With(hypervisor ? HypervisorMode.LaunchAtStart : HypervisorMode.None);
        return ProgramRunner.Run(path, options);
    }

    private static void LoadIdt(Assembler a)
    {
        a.mov(rax, Data); a.mov(__word_ptr[rax + 0x1ff0], 0xfff); a.mov(__qword_ptr[rax + 0x1ff2], rax);
        a.lidt(__[rax + 0x1ff0]);
    }

    private static void Exit(Assembler a, AssemblerRegister32 status)
    {
        a.mov(eax, status);
        a.@out(0xf4, eax);
        a.hlt();
    }

    private static ulong Reg(ProgramResult r, int i) => r.Machine.Cpus[0].GetRegister(i);

    // ---------------- SSE2 movsd/cmpsd are not string instructions ----------------

    [Theory]
    [InlineData("movsd_load", new byte[] { 0xf2, 0x0f, 0x10, 0x06 }, 0x0807060504030201UL, false)]      // movsd xmm0, [rsi]
    [InlineData("movsd_store", new byte[] { 0xf2, 0x0f, 0x11, 0x07 }, 0UL, true)]                      // movsd [rdi], xmm0
    [InlineData("cmpsd_sse", new byte[] { 0xf2, 0x0f, 0xc2, 0xc1, 0x00 }, ulong.MaxValue, false)]       // cmpeqsd xmm0, xmm1
    [InlineData("movsd_rep_like", new byte[] { 0xf2, 0x48, 0x0f, 0x10, 0x06 }, 0x0807060504030201UL, false)]
    public void SseMovsdAndCmpsdRunAsSseAndTouchNoStringRegisters(string name, byte[] insn, ulong xmm0Lo, bool stores)
    {
        var r = Run(name, a =>
        {
            a.mov(rsi, Data); a.mov(rdi, Data + 0x100); a.mov(ecx, 3);
            a.db(insn);
            Exit(a, eax);
        }, data: Enumerable.Range(0, 8192).Select(i => (byte)(i + 1)).ToArray());
        Assert.Equal(RunOutcome.Exited, r.Run.Outcome);
        Assert.Equal(Data, Reg(r, Cpu.RSI));
        Assert.Equal(Data + 0x100, Reg(r, Cpu.RDI));
        Assert.Equal(3UL, Reg(r, Cpu.RCX));
        Assert.Equal((xmm0Lo, 0UL), r.Machine.Cpus[0].GetXmm(0));
        // The store writes 8 bytes of XMM0 (zero at power-up) at [rdi]; the others leave it the pattern byte (0x100 + 1) & 0xff.
        Assert.Equal(stores ? 0UL : 0x0807060504030201UL, r.Machine.Memory.Read(Data + 0x100, 8));
        Assert.Equal(0x0a09UL, r.Machine.Memory.Read(Data + 0x108, 2)); // nothing past the 8 bytes
    }

    [Fact]
    public void StringMovsdAndCmpsdStillWork()
    {
        var data = new byte[8192];
        data[0] = 0x11; data[1] = 0x22; data[2] = 0x33; data[3] = 0x44;
        var r = Run("movsd_string", a =>
        {
            a.mov(rsi, Data); a.mov(rdi, Data + 0x100);
            a.movsd();                      // A5: dword [rdi] = [rsi]
            a.mov(rsi, Data); a.mov(rdi, Data + 0x100);
            a.cmpsd();                      // A7: equal -> ZF
            a.setz(bl);
            a.movzx(eax, bl);
            Exit(a, eax);
        }, data);
        Assert.Equal(RunOutcome.Exited, r.Run.Outcome);
        Assert.Equal(1, r.ExitStatus);
        Assert.Equal(0x44332211UL, r.Machine.Memory.Read(Data + 0x100, 4));
        Assert.Equal(Data + 4, Reg(r, Cpu.RSI));
    }

    // ---------------- LOOP with a 0x67 prefix counts with ECX ----------------

    [Theory]
    [InlineData(0xe2, 0x1_0000_0002UL, 2, 0UL)]          // loop: ECX 2 -> 2 iterations, RCX zero-extended
    [InlineData(0xe1, 0x1_0000_0003UL, 1, 2UL)]          // loope: ZF=0 after inc -> stops after the first
    [InlineData(0xe0, 0x1_0000_0003UL, 3, 0UL)]          // loopne: ZF=0 -> runs out the count (3)
    public void Addr32LoopCountsWithEcx(byte opcode, ulong count, int iterations, ulong rcxAfter)
    {
        var r = Run($"loop67_{opcode:x2}", a =>
        {
            a.mov(rcx, count); a.xor(ebx, ebx);
            var top = a.CreateLabel();
            a.Label(ref top);
            a.inc(ebx);                      // 2 bytes (ff c3): ZF=0
            a.db(0x67, opcode, unchecked((byte)-5)); // loopcc top (back over itself and the inc), address size 32
            Exit(a, ebx);
        });
        Assert.Equal(RunOutcome.Exited, r.Run.Outcome);
        Assert.Equal(iterations, r.ExitStatus);
        Assert.Equal(rcxAfter, Reg(r, Cpu.RCX));
    }

    // ---------------- RFLAGS.TF: the single-step trap ----------------

    /// <summary>A #DB handler that stores each return RIP at Data+0x1000+8n (n in R12, counted) and returns with the frame's TF.</summary>
    private static ProgramResult RunWithDebugHandler(string name, Action<Assembler> main) =>
        RunWithGates(name, a =>
        {
            var handler = a.CreateLabel();
            LoadIdt(a);
            a.xor(r12d, r12d);
            main(a);
            Exit(a, r12d);
            a.Label(ref handler);
            a.mov(rax, __qword_ptr[rsp]);
            a.mov(__qword_ptr[r12 * 8 + 0x601000], rax);
            a.inc(r12);
            a.iretq();
            return [(Vectors.DB, handler)];
        });

    [Fact]
    public void PopfSettingTfTrapsAfterTheNextInstruction()
    {
        var r = RunWithDebugHandler("tf_popf", a =>
        {
            a.pushfq(); a.or(__qword_ptr[rsp], 0x100); a.popfq();  // TF=1: no trap after the POPF itself
            a.nop();                                               // trap after this one (RIP = second nop)
            a.nop();                                               // and after this one
            a.pushfq(); a.and(__qword_ptr[rsp], ~0x100); a.popfq(); // trap after pushfq, and, and popf (TF still 1 at its start)
        });
        Assert.Equal(RunOutcome.Exited, r.Run.Outcome);
        Assert.Equal(5, r.ExitStatus);
        var mem = r.Machine.Memory;
        ulong first = mem.Read64(Data + 0x1000), second = mem.Read64(Data + 0x1008);
        Assert.Equal(first + 1, second);  // one-byte nops: consecutive traps one byte apart
        Assert.Equal(0x90UL, r.Machine.Memory.Read(first, 1)); // the second nop
        Assert.NotEqual(0UL, r.Machine.Cpus[0].Dr[6] & (1UL << 14)); // DR6.BS
    }

    [Fact]
    public void IretqSettingTfTrapsAfterTheFirstInstructionAtTheTarget()
    {
        var r = RunWithDebugHandler("tf_iret", a =>
        {
            var target = a.CreateLabel();
            a.mov(rax, rsp);
            a.push(0x10); a.push(rax);
            a.pushfq(); a.or(__qword_ptr[rsp], 0x100);
            a.push(0x08);
            a.lea(rax, __[target]); a.push(rax);
            a.iretq();
            a.Label(ref target);
            a.nop();                           // trap after this: return RIP = target + 1
            a.pushfq(); a.and(__qword_ptr[rsp], ~0x100); a.popfq(); // 3 more traps
        });
        Assert.Equal(RunOutcome.Exited, r.Run.Outcome);
        Assert.Equal(4, r.ExitStatus);
    }

    [Fact]
    public void SingleStepWithoutAnIdtIsADebugExceptionCrash()
    {
        var r = Run("tf_noidt", a => { a.pushfq(); a.or(__qword_ptr[rsp], 0x100); a.popfq(); a.nop(); a.nop(); Exit(a, eax); });
        Assert.Equal(RunOutcome.Crashed, r.Run.Outcome);
        Assert.Contains("first exception: #DB", r.Run.CrashReport);
    }

    // ---------------- x2APIC timer at its programmed time ----------------

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ApicTimerArmedWhileRunningFiresAtItsTime(bool hypervisor)
    {
        const int count = 20_000;
        var r = RunWithGates($"timer_{hypervisor}", a =>
        {
            var h = a.CreateLabel();
            LoadIdt(a);
            a.mov(ecx, 0x80f); a.mov(eax, 0x1ff); a.xor(edx, edx); a.wrmsr();    // SVR: enable
            a.mov(ecx, 0x83e); a.mov(eax, 0xb); a.wrmsr();                      // divide by 1
            a.mov(ecx, 0x832); a.mov(eax, 0x40); a.wrmsr();                     // one-shot, vector 0x40
            a.sti();
            a.rdtsc(); a.shl(rdx, 32); a.or(rax, rdx); a.mov(r14, rax);
            a.mov(ecx, 0x838); a.mov(eax, count); a.xor(edx, edx); a.wrmsr();  // arm
            var spin = a.CreateLabel(); a.Label(ref spin); a.inc(rbx); a.jmp(spin);
            a.Label(ref h);
            a.rdtsc(); a.shl(rdx, 32); a.or(rax, rdx); a.sub(rax, r14);
            a.mov(rbx, 0x6010f0); a.mov(__qword_ptr[rbx], rax);
            Exit(a, eax);
            return [(0x40, h)];
        }, hypervisor: hypervisor);
        Assert.Equal(RunOutcome.Exited, r.Run.Outcome);
        long latency = (long)r.Machine.Memory.Read64(0x6010f0);
        // Armed mid-slice: before the fix it fired at the slice end (~1,000,000 cycles later).
        Assert.InRange(latency, count, count + 6_000);
    }

    // ---------------- REP over a huge range is bounded by the instruction limit ----------------

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void HugeRepStopsAtTheInstructionLimitWithPreciseRcx(bool hypervisor)
    {
        const long limit = 3_000_000;
        var r = Run($"rep_huge_{hypervisor}", a =>
        {
            a.mov(rcx, 1UL << 40); a.mov(rsi, Data); a.cld();
            a.rep.lodsb();
            Exit(a, eax);
        }, hypervisor: hypervisor, maxInstructions: limit);
        Assert.Equal(RunOutcome.InstructionLimit, r.Run.Outcome);
        Assert.Equal(ProgramReport.StatusRunaway, r.ExitStatus);
        var cpu = r.Machine.Cpus[0];
        Assert.Equal(0xf3UL, r.Machine.Memory.Read(cpu.Rip, 1));     // RIP stays on the REP LODSB
        Assert.Equal(0xacUL, r.Machine.Memory.Read(cpu.Rip + 1, 1));
        ulong done = (1UL << 40) - cpu.GetRegister(Cpu.RCX);
        Assert.Equal(Data + done, cpu.GetRegister(Cpu.RSI));
        Assert.InRange(r.Run.Instructions, limit, limit + 64);
        Assert.InRange((long)done, limit - 10, limit);
        Assert.True(r.Run.HostSeconds < 20, $"{r.Run.HostSeconds} s");
    }

    [Fact]
    public void RepAcrossChunksGivesTheSameResultAndCycles()
    {
        // A REP STOSB just past one chunk against one just short of it, over the same pages: the
        // same bytes and registers, and the 200 extra iterations cost exactly their iteration
        // cost (the resumed instruction is not charged twice).
        const ulong dest = 0x0fff800;
        ProgramResult Stos(long n) => Run($"rep_chunks_{n}", a =>
        {
            a.mov(rcx, (ulong)n); a.mov(rdi, dest); a.mov(eax, 0xab); a.cld();
            a.rep.stosb();
            a.mov(eax, 7);
            Exit(a, eax);
        });
        long big = Cpu.MaxRepChunk + 100, small = Cpu.MaxRepChunk - 100;
        var r = Stos(big);
        var s = Stos(small);
        Assert.Equal(RunOutcome.Exited, r.Run.Outcome);
        Assert.Equal(7, r.ExitStatus);
        Assert.Equal(0UL, Reg(r, Cpu.RCX));
        Assert.Equal(dest + (ulong)big, Reg(r, Cpu.RDI));
        Assert.Equal(0xabUL, r.Machine.Memory.Read(dest + (ulong)big - 1, 1));
        Assert.Equal(0UL, r.Machine.Memory.Read(dest + (ulong)big, 1));
        Assert.Equal(s.Run.Instructions, r.Run.Instructions - Cpu.MaxRepChunk); // the first chunk counted
        Assert.Equal((big - small) * r.Machine.Costs.StringIteration, r.Run.Cycles - s.Run.Cycles);
    }

    // ---------------- CLI + periodic APIC timer + HLT is a deadlock ----------------

    [Theory]
    [InlineData("cli", false)]
    [InlineData("cli", true)]
    [InlineData("masked", false)]
    [InlineData("tpr", false)]
    public void HaltWithATimerThatCannotWakeIsADeadlock(string how, bool hypervisor)
    {
        var r = Run($"hlt_timer_{how}_{hypervisor}", a =>
        {
            a.mov(ecx, 0x80f); a.mov(eax, 0x1ff); a.xor(edx, edx); a.wrmsr();
            a.mov(ecx, 0x83e); a.mov(eax, 0xb); a.wrmsr();
            a.mov(ecx, 0x832); a.mov(eax, (1 << 17) | 0x40 | (how == "masked" ? 1 << 16 : 0)); a.wrmsr(); // periodic
            if (how == "tpr") { a.mov(ecx, 0x808); a.mov(eax, 0xf0); a.wrmsr(); }
            a.mov(ecx, 0x838); a.mov(eax, 1000); a.wrmsr();
            if (how == "cli") a.cli(); else a.sti();
            a.hlt();
            Exit(a, eax);
        }, hypervisor: hypervisor);
        Assert.Equal(RunOutcome.Deadlock, r.Run.Outcome);
        Assert.Equal(ProgramReport.StatusDeadlock, r.ExitStatus);
        Assert.Contains("every vCPU is halted", r.Run.CrashReport);
        Assert.True(r.Run.HostSeconds < 10);
    }

    [Fact]
    public void HaltWithAPeriodicTimerThatCanWakeKeepsRunning()
    {
        var r = RunWithGates("hlt_timer_wakes", a =>
        {
            var h = a.CreateLabel();
            LoadIdt(a);
            a.mov(ecx, 0x80f); a.mov(eax, 0x1ff); a.xor(edx, edx); a.wrmsr();
            a.mov(ecx, 0x83e); a.mov(eax, 0xb); a.wrmsr();
            a.mov(ecx, 0x832); a.mov(eax, (1 << 17) | 0x40); a.wrmsr();
            a.mov(ecx, 0x838); a.mov(eax, 1000); a.wrmsr();
            a.xor(ebx, ebx);
            var again = a.CreateLabel(); a.Label(ref again);
            a.sti(); a.hlt(); a.cmp(ebx, 5); a.jb(again);
            Exit(a, ebx);
            a.Label(ref h);
            a.inc(ebx); a.mov(ecx, 0x80b); a.xor(eax, eax); a.xor(edx, edx); a.wrmsr(); a.iretq();
            return [(0x40, h)];
        });
        Assert.Equal(RunOutcome.Exited, r.Run.Outcome);
        Assert.Equal(5, r.ExitStatus);
    }

    // ---------------- an injected exception the guest cannot deliver ----------------

    [Theory]
    [InlineData("xsetbv")]
    [InlineData("wrmsr")]
    public void UndeliverableInjectedExceptionIsTheTripleFaultReport(string what)
    {
        var r = Run($"inject_{what}", a =>
        {
            if (what == "xsetbv") { a.xor(ecx, ecx); a.mov(eax, 3); a.xor(edx, edx); a.xsetbv(); }
            else { a.mov(ecx, 0xc0000080u); a.mov(eax, 0xffffffff); a.mov(edx, 0xffffffff); a.wrmsr(); } // EFER, reserved bits: #GP
            Exit(a, eax);
        }, hypervisor: true);
        Assert.Equal(RunOutcome.Crashed, r.Run.Outcome);
        Assert.Equal(ProgramReport.StatusCrash, r.ExitStatus);
        Assert.Contains("triple fault", r.Run.CrashReport);
        Assert.Contains(what == "xsetbv" ? "first exception: #UD" : "first exception: #GP", r.Run.CrashReport);
        Assert.Contains(what, r.Run.CrashReport);
    }

    // ---------------- bad files and paths: one line, status 2, before the run ----------------

    [Theory]
    [InlineData("/dev/zero", "not a regular file")]
    [InlineData("{fifo}", "not a regular file")]
    [InlineData("/tmp", "is a directory")]
    public void ExecOfANonRegularFileIsBadInput(string elf, string expect)
    {
        string fifo = Path.Combine(Guest.TempDir("honesty"), $"fifo-{Environment.ProcessId}");
        if (!File.Exists(fifo)) Lvd.Experiments.HostProcess.Run("mkfifo", [fifo], TimeSpan.FromSeconds(10));
        var (status, stdout, stderr) = CliTests.Lvd("exec", elf.Replace("{fifo}", fifo));
        Assert.Equal(2, status);
        Assert.Equal("", stdout);
        Assert.Single(stderr.Trim().Split('\n'));
        Assert.Contains(expect, stderr);
    }

    [Theory]
    [InlineData("--hypervisor --memory 8", "the hypervisor keeps the top 16 MiB")]
    [InlineData("--stats-json /dev/full", "--stats-json /dev/full: not a regular file")]
    [InlineData("--profile /dev/full", "--profile /dev/full: not a regular file")]
    [InlineData("--stats-json /proc/self/status", "--stats-json /proc/self/status: cannot write there")]
    public void ExecOptionsThatCannotWorkAreRefusedBeforeTheRun(string options, string expect)
    {
        string elf = Path.Combine(Guest.TempDir("honesty"), "exit0.elf");
        RawElf.Write(elf, [0x31, 0xc0, 0xe7, 0xf4, 0xf4]); // xor eax,eax; out 0xf4,eax; hlt
        var (status, stdout, stderr) = CliTests.Lvd(["exec", elf, .. options.Split(' ')]);
        Assert.Equal(2, status);
        Assert.Equal("", stdout);
        Assert.Single(stderr.Trim().Split('\n'));
        Assert.Contains(expect, stderr);
    }

    [Fact]
    public void ElfWithMoreFileBytesThanMemoryIsBadInput()
    {
        var elf = RawElf.Build(RawElf.CodeBase, new RawElf.Piece(RawElf.CodeBase, new byte[64]));
        BitConverter.TryWriteBytes(elf.AsSpan(64 + 40), 16UL); // p_memsz < p_filesz
        string path = Path.Combine(Guest.TempDir("honesty"), "filesz.elf");
        File.WriteAllBytes(path, elf);
        var e = Assert.Throws<LoadException>(() => ProgramRunner.Run(path, new RunOptions()));
        Assert.Contains("more file bytes", e.Message);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ElfWithANonCanonicalEntryIsBadInput(bool hypervisor)
    {
        // fuzz-machine seed 31337 run 34: under --hypervisor the launch before the program took the loader's RIP into a
        // VM entry, which refused it (SDM 26.3.1.4) as an internal error; natively the same ELF was a triple fault.
        var elf = RawElf.Build(0x4f2d50ccb282cf13UL, new RawElf.Piece(RawElf.CodeBase, [0xf4]));
        string path = Path.Combine(Guest.TempDir("honesty"), "noncanonical.elf");
        File.WriteAllBytes(path, elf);
        var (status, stdout, stderr) = CliTests.Lvd(hypervisor ? ["exec", path, "--hypervisor"] : ["exec", path]);
        Assert.Equal(2, status);
        Assert.Equal("", stdout);
        Assert.Equal($"lvd: {path}: entry point 0x4f2d50ccb282cf13 is not a canonical address", stderr.Trim());
    }
}

using System.Text.RegularExpressions;
using Iced.Intel;
using Lvd.Experiments.Bench;
using Lvd.Machine.Cost;
using static Iced.Intel.AssemblerRegisters;

namespace Lvd.Tests;

/// <summary>The hypervisor: late launch and devirtualize, hypercalls, exits, policy, costs.</summary>
public sealed class HypervisorTests
{
    [Fact]
    public void HypercallAbiValidatesEveryArgument()
    {
        var r = Guest.Run(Guest.Build("hv-hypercalls.elf", ["guest/tests/hv/hypercalls.c"], "-O1"),
            options: new RunOptions().With(HypervisorMode.OnRequest));
        var fails = r.OutputText.Split('\n').Where(l => l.StartsWith("FAIL")).ToList();
        Assert.True(fails.Count == 0, string.Join("\n", fails) + r.Run.CrashReport);
        Assert.Matches(new Regex(@"hypercalls: (3\d|[4-9]\d) passed, 0 failed"), r.OutputText);
        Assert.Equal(0, r.ExitStatus);
    }

    [Theory]
    [InlineData(1, "EPT violation by the kernel", "hypervisor memory is not the guest's")]
    [InlineData(2, "violation on vCPU 0: Vmcall exit while EPTP index 1 was active", "not the kernel EPT")]
    [InlineData(3, "failing VMFUNC", "ECX 0x7")]
    public void ForbiddenAccessesStopTheRunWithAReport(int which, string expect1, string expect2)
    {
        var r = Guest.Run(Guest.Build($"hv-violation{which}.elf", ["guest/tests/hv/violation.c"], "-O1", $"-DCASE={which}"),
            options: new RunOptions().With(HypervisorMode.OnRequest));
        Assert.Equal(RunOutcome.StoppedByVmxRoot, r.Run.Outcome);
        Assert.Equal(ProgramReport.StatusHypervisorStop, r.ExitStatus);
        Assert.Contains(expect1, r.Run.CrashReport);
        Assert.Contains(expect2, r.Run.CrashReport);
        Assert.DoesNotContain("still running", r.OutputText);
    }

    [Fact]
    public void MicroBenchmarkCostsEmergeFromExitsAndTheCostFile()
    {
        var costs = CostModel.Default;
        var res = MicroBenchmark.Run(Guest.Cc, costs);
        long Get(string n) => res.Rows.Single(r => r.Name == n).Cycles;
        // An intercepted instruction costs its native cost plus exactly one exit round trip and dispatch.
        Assert.Equal(costs.VmExit + costs.HvDispatch, Get("wrmsr_virtualized") - Get("wrmsr_native"));
        Assert.Equal(costs.VmExit + costs.HvDispatch, Get("out_virtualized") - Get("out_native"));
        // No exit for SYSCALL, and none for MOV CR3 thanks to the CR3-target list.
        Assert.Equal(Get("syscall_native"), Get("syscall_virtualized"));
        Assert.True(Get("cr3_virtualized") - Get("cr3_native") < costs.VmExit, "MOV CR3 exited");
        Assert.InRange(Get("vmfunc"), costs.Vmfunc, costs.Vmfunc + 10);
        Assert.InRange(Get("vmfunc_round_trip"), 2 * costs.Vmfunc, 2 * costs.Vmfunc + 20);
        Assert.InRange(Get("syscall_native"), costs.Syscall + costs.Sysret, costs.Syscall + costs.Sysret + 10);
    }

    [Fact]
    public void VmfuncCostFollowsTheCostFile()
    {
        string json = File.ReadAllText(Guest.Path("config", "costs.json")).Replace("\"cycles\": 169", "\"cycles\": 40");
        var res = MicroBenchmark.Run(Guest.Cc, CostModel.Parse(json, "what-if"));
        Assert.InRange(res.Rows.Single(r => r.Name == "vmfunc").Cycles, 40, 50);
    }

    /// <summary>
    /// Launch then devirtualize: every architectural field the guest can see must come back
    /// unchanged (RIP advanced past the VMCALL, RAX/RDX carry the hypercall's result).
    /// </summary>
    [Fact]
    public void LaunchAndDevirtualizePreserveAllGuestState()
    {
        var machine = new Lvd.Machine.Machine(new MachineConfig { MemoryBytes = 64UL << 20,
            VmxRootReservedBytes = Hypervisor.Hypervisor.DefaultReservedBytes });
        var elf = Guest.BuildSource("devirt_target", "int main(void){ return 0; }", "-O1");
        BootLoader.Load(machine, ElfImage.Read(elf), "devirt");
        var cpu = machine.Cpus[0];
        // Code: VMCALL(Devirtualize); OUT 0xf4 (exit device, ends the run natively).
        const ulong code = 0x200000;
        var asm = new Assembler(64);
        asm.mov(eax, (uint)Hypercall.Devirtualize);
        asm.vmcall();
        asm.@out(0xf4, al);
        var ms = new MemoryStream();
        asm.Assemble(new StreamCodeWriter(ms), code);
        machine.Memory.WriteBytes(code, ms.ToArray());
        cpu.Rip = code;
        for (int i = 0; i < 16; i++) if (i != Cpu.RSP) cpu.SetRegister(i, 0x1111_0000_0000_0000UL * (ulong)(i % 15 + 1) + (ulong)i);
        cpu.SetRegister(Cpu.RDI, HypercallAbi.ScopeAllCpus); // DEVIRTUALIZE's argument: every vCPU
        cpu.Rflags = 0x246 | Cpu.FlagDF | Cpu.FlagAC;
        cpu.WriteMsr(Cpu.Msr.Lstar, 0xffff_ffff_8123_4560);
        cpu.WriteMsr(Cpu.Msr.Fmask, 0x4700);
        cpu.WriteMsr(Cpu.Msr.KernelGsBase, 0x7777_0000);
        cpu.WriteMsr(Cpu.Msr.FsBase, 0x5555_0000);
        cpu.WriteMsr(Cpu.Msr.GsBase, 0x6666_0000);
        cpu.WriteMsr(Cpu.Msr.TscAux, 3);
        cpu.WriteMsr(Cpu.Msr.Pat, 0x0007_0406_0007_0406);
        cpu.Dr[0] = 0x1234;
        cpu.Cr8 = 5;
        var before = Snapshot(cpu);

        var hv = new Hypervisor.Hypervisor(machine);
        Assert.True(hv.Launch());
        Assert.True(cpu.NonRoot);
        Assert.NotNull(cpu.Vmcs);
        Assert.Equal(cpu.Cr4 & ~Cpu.Cr4VMXE, before["cr4"]); // VMXE set underneath, hidden by the shadow
        var run = machine.Run(1000);
        Assert.Equal(RunOutcome.Exited, run.Outcome);
        Assert.False(cpu.NonRoot);
        Assert.Null(cpu.Vmcs);
        var after = Snapshot(cpu);
        Assert.Equal(0UL, cpu.GetRegister(Cpu.RAX) & 0xffffff00); // status 0 in EAX (AL was written out)
        foreach (var (k, v) in before)
        {
            if (k is "rip" or "r0" or "r2") continue;
            Assert.True(after[k] == v, $"{k}: before 0x{v:x}, after 0x{after[k]:x}");
        }
        Assert.Equal(code + 5 + 3 + 2, cpu.Rip); // mov eax (5) + vmcall (3) + out (2)
        Assert.Equal(1, cpu.ExitsByReason[(int)ExitReason.Vmcall]);
    }

    /// <summary>
    /// Late launch one vCPU at a time (scope THIS_CPU, docs/HYPERCALLS.md): vCPU 0 launches itself while vCPU 1 runs
    /// natively (its CPUID is the CPU's own, no exit), vCPU 1 then launches itself, vCPU 0 devirtualizes itself and
    /// vCPU 1 stays deprivileged; the two hand each step over through memory.
    /// </summary>
    [Fact]
    public void VcpusLaunchAndDevirtualizeOneAtATime()
    {
        var machine = new Lvd.Machine.Machine(new MachineConfig { MemoryBytes = 64UL << 20, CpuCount = 2,
            VmxRootReservedBytes = Hypervisor.Hypervisor.DefaultReservedBytes });
        BootLoader.Load(machine, ElfImage.Read(Guest.BuildSource("percpu_target", "int main(void){ return 0; }", "-O1")), "percpu");
        var hv = new Hypervisor.Hypervisor(machine);
        const ulong code0 = 0x200000, code1 = 0x201000, d = 0x202000;
        void Info(Assembler a, int slot)
        {
            a.mov(eax, HypercallAbi.InfoLeaf); a.xor(ecx, ecx); a.cpuid(); a.mov(__dword_ptr[d + (ulong)slot], ebx);
        }
        void Launch(Assembler a, int slot)
        {
            a.mov(eax, HypercallAbi.LaunchLeaf); a.mov(ecx, HypercallAbi.ScopeThisCpu); a.cpuid(); a.mov(__dword_ptr[d + (ulong)slot], eax);
        }
        void Signal(Assembler a, int flag) => a.mov(__dword_ptr[d + 0x40 + (ulong)flag * 4], 1);
        void Await(Assembler a, int flag)
        {
            var wait = a.CreateLabel();
            a.Label(ref wait);
            a.pause();
            a.cmp(__dword_ptr[d + 0x40 + (ulong)flag * 4], 1);
            a.jne(wait);
        }
        var a0 = new Assembler(64);
        Launch(a0, 0x00);
        Info(a0, 0x04);                    // vCPU 0 deprivileged: "LVD#"
        Signal(a0, 0);
        Await(a0, 1);
        a0.mov(eax, (uint)Hypercall.Devirtualize); a0.mov(edi, HypercallAbi.ScopeThisCpu); a0.vmcall();
        a0.mov(__dword_ptr[d + 0x08], eax);
        Info(a0, 0x0c);                    // native again
        Signal(a0, 2);
        Await(a0, 3);
        a0.@out(0xf4, al);
        var a1 = new Assembler(64);
        Await(a1, 0);
        Info(a1, 0x10);                    // native while vCPU 0 is deprivileged
        Launch(a1, 0x14);
        Info(a1, 0x18);                    // deprivileged
        Signal(a1, 1);
        Await(a1, 2);
        Info(a1, 0x1c);                    // still deprivileged after vCPU 0 left
        Signal(a1, 3);
        var spin = a1.CreateLabel();
        a1.Label(ref spin);
        a1.pause();
        a1.jmp(spin);
        foreach (var (asm, at) in new[] { (a0, code0), (a1, code1) })
        {
            var ms = new MemoryStream();
            asm.Assemble(new StreamCodeWriter(ms), at);
            machine.Memory.WriteBytes(at, ms.ToArray());
        }
        var cpu0 = machine.Cpus[0];
        cpu0.Rip = code0;
        machine.Cpus[1].EnterLongMode(cpu0.Cr3, cpu0.Gdtr.Base, cpu0.Gdtr.Limit, cpu0.Segs[(int)SegReg.CS].Selector,
            cpu0.Segs[(int)SegReg.DS].Selector, code1, 0);
        var run = machine.Run(1_000_000);
        Assert.Equal(RunOutcome.Exited, run.Outcome);
        uint At(int slot) => (uint)machine.Memory.Read(d + (ulong)slot, 4);
        const uint Lvd = 0x2344564c; // "LVD#"
        Assert.Equal(0u, At(0x00));
        Assert.Equal(Lvd, At(0x04));
        Assert.Equal(0u, At(0x08));
        Assert.NotEqual(Lvd, At(0x0c));
        Assert.NotEqual(Lvd, At(0x10));
        Assert.Equal(0u, At(0x14));
        Assert.Equal(Lvd, At(0x18));
        Assert.Equal(Lvd, At(0x1c));
        Assert.False(cpu0.NonRoot);
        Assert.True(machine.Cpus[1].NonRoot);
        Assert.False(hv.IsLaunched(0));
        Assert.True(hv.IsLaunched(1));
        Assert.Equal(2, hv.Launches);
        // Only the CPUIDs of a deprivileged vCPU exit (the launch requests are the firmware's): vCPU 1's two after its
        // launch, vCPU 0's one before its VMCALL.
        Assert.Equal(2, machine.Cpus[1].ExitsByReason[(int)ExitReason.Cpuid]);
        Assert.Equal(1, cpu0.ExitsByReason[(int)ExitReason.Cpuid]);
        Assert.Equal(1, cpu0.ExitsByReason[(int)ExitReason.Vmcall]);
    }

    private static Dictionary<string, ulong> Snapshot(Cpu c)
    {
        var d = new Dictionary<string, ulong>();
        for (int i = 0; i < 16; i++) d[$"r{i}"] = c.GetRegister(i);
        d["rip"] = c.Rip; d["rflags"] = c.Rflags; d["cr0"] = c.Cr0; d["cr3"] = c.Cr3; d["cr4"] = c.Cr4; d["cr2"] = c.Cr2; d["cr8"] = c.Cr8;
        d["efer"] = c.Efer; d["cpl"] = (ulong)c.Cpl;
        foreach (var m in new[] { Cpu.Msr.Star, Cpu.Msr.Lstar, Cpu.Msr.Cstar, Cpu.Msr.Fmask, Cpu.Msr.FsBase, Cpu.Msr.GsBase, Cpu.Msr.KernelGsBase,
            Cpu.Msr.TscAux, Cpu.Msr.Pat, Cpu.Msr.SysenterCs, Cpu.Msr.SysenterEsp, Cpu.Msr.SysenterEip })
            d[$"msr{m:x}"] = c.ReadMsr(m);
        for (int i = 0; i < 6; i++)
        {
            d[$"seg{i}.sel"] = c.Segs[i].Selector;
            d[$"seg{i}.base"] = c.Segs[i].Base;
            d[$"seg{i}.limit"] = c.Segs[i].Limit;
            d[$"seg{i}.attr"] = c.Segs[i].Attributes;
        }
        d["tr.sel"] = c.Tr.Selector; d["tr.base"] = c.Tr.Base; d["tr.limit"] = c.Tr.Limit; d["tr.attr"] = c.Tr.Attributes;
        d["ldtr.sel"] = c.Ldtr.Selector; d["ldtr.attr"] = c.Ldtr.Attributes;
        d["gdtr.base"] = c.Gdtr.Base; d["gdtr.limit"] = c.Gdtr.Limit; d["idtr.base"] = c.Idtr.Base; d["idtr.limit"] = c.Idtr.Limit;
        for (int i = 0; i < 8; i++) d[$"dr{i}"] = c.Dr[i];
        return d;
    }
}

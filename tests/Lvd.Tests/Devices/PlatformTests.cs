using Iced.Intel;
using Lvd.Machine.Devices;
using static Iced.Intel.AssemblerRegisters;
using MachineT = Lvd.Machine.Machine;

namespace Lvd.Tests.Devices;

/// <summary>
/// The platform as guest code sees it: the device set of each platform, unclaimed accesses,
/// and device interrupts waking halted vCPUs through the timed-event queue and idle skipping.
/// </summary>
public sealed class PlatformTests
{
    private const ulong Gdt = 0x1000, Idt = 0x2000, Pml4 = 0x10000, Pdpt = 0x11000, Code = 0x100000, Handlers = 0x180000,
        Data = 0x200000, StackTop = 0x300000;

    /// <summary>Long mode with the first 4 GiB identity-mapped by 1 GiB pages (the MMIO hole included), a flat GDT, an IDT.</summary>
    private static MachineT Boot(MachineConfig config, Action<Assembler> main, params (int Vector, Action<Assembler> Body)[] handlers)
    {
        var m = new MachineT(config);
        var mem = m.Memory;
        mem.Write64(Gdt + 0x08, 0x00af9a000000ffffUL);
        mem.Write64(Gdt + 0x10, 0x00cf92000000ffffUL);
        mem.Write64(Pml4, Pdpt | 3);
        for (ulong i = 0; i < 4; i++) mem.Write64(Pdpt + 8 * i, (i << 30) | 0x83);
        ulong at = Handlers;
        foreach (var (vector, body) in handlers)
        {
            var h = new Assembler(64);
            body(h);
            h.iretq();
            ulong lo = (at & 0xffff) | (0x08UL << 16) | (0x8eUL << 40) | (((at >> 16) & 0xffff) << 48);
            mem.Write64(Idt + (ulong)vector * 16, lo);
            mem.Write64(Idt + (ulong)vector * 16 + 8, at >> 32);
            at += Write(mem, at, h);
        }
        var a = new Assembler(64);
        main(a);
        Write(mem, Code, a);
        var cpu = m.Cpus[0];
        cpu.EnterLongMode(Pml4, Gdt, 0x17, 0x08, 0x10, Code, StackTop);
        cpu.Idtr = new DescriptorTable { Base = Idt, Limit = 0xfff };
        return m;
    }

    private static ulong Write(Lvd.Machine.Memory.PhysicalMemory mem, ulong at, Assembler a)
    {
        var ms = new MemoryStream();
        a.Assemble(new StreamCodeWriter(ms), at);
        mem.WriteBytes(at, ms.ToArray());
        return ((ulong)ms.Length + 15) & ~15UL;
    }

    private static void Wrmsr(Assembler a, uint msr, uint value)
    {
        a.mov(ecx, msr);
        a.mov(eax, value);
        a.xor(edx, edx);
        a.wrmsr();
    }

    private static void IoApicRoute(Assembler a, int pin, int vector)
    {
        a.mov(rbx, IoApic.DefaultBase);
        a.mov(__dword_ptr[rbx], 0x11 + 2 * pin);
        a.mov(__dword_ptr[rbx + 0x10], 0);          // destination APIC 0
        a.mov(__dword_ptr[rbx], 0x10 + 2 * pin);
        a.mov(__dword_ptr[rbx + 0x10], vector);     // fixed, physical, edge, unmasked
    }

    private static void Out(Assembler a, ushort port, int value)
    {
        a.mov(dx, port);
        a.mov(al, (byte)value);
        a.@out(dx, al);
    }

    /// <summary>The handler's end: count the interrupt at <paramref name="counter"/>, EOI the x2APIC.</summary>
    private static Action<Assembler> CountAndEoi(ulong counter) => h =>
    {
        h.push(rax); h.push(rcx); h.push(rdx);
        h.mov(rax, counter);
        h.inc(__qword_ptr[rax]);
        Wrmsr(h, 0x80b, 0);
        h.pop(rdx); h.pop(rcx); h.pop(rax);
    };

    [Fact]
    public void PitInterruptsWakeAHaltedVcpuAtTheirModeledTimes()
    {
        const int count = 11932; // 100 Hz
        var m = Boot(new MachineConfig { Platform = MachinePlatform.Pc, MemoryBytes = 64UL << 20 }, a =>
        {
            Wrmsr(a, 0x80f, 0x1ff);
            IoApicRoute(a, 2, 0x30);
            Out(a, 0x43, 0x34);
            Out(a, 0x40, count & 0xff);
            Out(a, 0x40, count >> 8);
            a.sti();
            var wait = a.CreateLabel();
            a.Label(ref wait);
            a.hlt();
            a.mov(rax, Data);
            a.cmp(__qword_ptr[rax], 5);
            a.jb(wait);
            a.mov(eax, __dword_ptr[rax]);
            a.mov(dx, ExitDevice.Port);
            a.@out(dx, eax);
        }, (0x30, CountAndEoi(Data)));
        var r = m.Run(1_000_000);
        Assert.Equal(RunOutcome.Exited, r.Outcome);
        Assert.Equal(5, r.ExitCode);
        // The fifth rising edge of OUT0 is at 1 + 5 x count ticks; a few instructions follow it.
        long fifth = m.Pc!.Pit.CycleOfTick(1 + 5 * count);
        Assert.InRange(r.Cycles, fifth, fifth + 20_000);
        Assert.True(r.Instructions < 2_000, $"{r.Instructions} instructions: idle time was spun, not skipped");
    }

    [Fact]
    public void InterruptDrivenSerialTransmitThroughIrq4()
    {
        // The THRE handler sends the next byte of a string; the main loop halts until all are sent.
        const ulong text = Data + 0x100, index = Data;
        byte[] message = "interrupt-driven\n"u8.ToArray();
        var m = Boot(new MachineConfig { Platform = MachinePlatform.Pc, MemoryBytes = 64UL << 20, CaptureSerial = true, SerialPacing = true }, a =>
        {
            Wrmsr(a, 0x80f, 0x1ff);
            IoApicRoute(a, 4, 0x34);
            Out(a, 0x3fb, 0x83); Out(a, 0x3f8, 1); Out(a, 0x3f9, 0); Out(a, 0x3fb, 0x03); // 115200 8N1
            Out(a, 0x3fa, 0x07);
            Out(a, 0x3fc, 0x0b);                        // OUT2: IRQ enabled
            a.sti();
            Out(a, 0x3f9, 0x02);                        // THRE interrupt: raised at once, the transmitter is empty
            var wait = a.CreateLabel();
            a.Label(ref wait);
            a.hlt();
            a.mov(rax, index);
            a.cmp(__qword_ptr[rax], message.Length);
            a.jb(wait);
            Out(a, 0x3f9, 0x00);
            a.mov(dx, 0x3fd);                           // wait for the line to drain (TEMT)
            var drain = a.CreateLabel();
            a.Label(ref drain);
            a.@in(al, dx);
            a.test(al, 0x40);
            a.jz(drain);
            a.xor(eax, eax);
            a.mov(dx, ExitDevice.Port);
            a.@out(dx, eax);
        }, (0x34, h =>
        {
            h.push(rax); h.push(rbx); h.push(rcx); h.push(rdx);
            h.mov(dx, 0x3fa);
            h.@in(al, dx);                              // IIR: acknowledges THRE
            h.mov(rbx, index);
            h.mov(rcx, __qword_ptr[rbx]);
            h.cmp(rcx, message.Length);
            var done = h.CreateLabel();
            h.jae(done);
            h.mov(rax, text);
            h.mov(al, __byte_ptr[rax + rcx]);
            h.mov(dx, 0x3f8);
            h.@out(dx, al);
            h.inc(__qword_ptr[rbx]);
            h.Label(ref done);
            Wrmsr(h, 0x80b, 0);
            h.pop(rdx); h.pop(rcx); h.pop(rbx); h.pop(rax);
        }));
        m.Memory.WriteBytes(text, message);
        var r = m.Run(1_000_000);
        Assert.Equal(RunOutcome.Exited, r.Outcome);
        Assert.Equal(message, m.Serial.Captured);
        // Paced: one character time per byte (the first leaves at once).
        long ch = m.Serial.CharacterCycles;
        Assert.InRange(r.Cycles, (message.Length) * ch, (message.Length + 1) * ch + 50_000);
    }

    [Fact]
    public void LvdPlatformHasOnlyItsDevicesAndCountsWhatIsUnclaimed()
    {
        var m = Boot(new MachineConfig { MemoryBytes = 64UL << 20 }, a =>
        {
            a.mov(dx, 0x21);
            a.@in(al, dx);                              // no 8259 here
            a.mov(bl, al);
            a.@in(al, dx);
            a.mov(rcx, IoApic.DefaultBase);
            a.mov(eax, __dword_ptr[rcx]);               // no I/O APIC either
            a.mov(__dword_ptr[rcx], eax);
            a.add(al, bl);                              // 0xff + 0xff
            a.movzx(eax, al);
            a.mov(dx, ExitDevice.Port);
            a.@out(dx, eax);
        });
        Assert.Null(m.Pc);
        var r = m.Run(1000);
        Assert.Equal(RunOutcome.Exited, r.Outcome);
        Assert.Equal(0xfe, r.ExitCode);
        var e = m.Unclaimed.Entries();
        Assert.Contains(e, x => x.Space == UnclaimedAccesses.Space.Port && x.Address == 0x21 && x.Reads == 2 && x.Writes == 0);
        Assert.Contains(e, x => x.Space == UnclaimedAccesses.Space.Memory && x.Address == IoApic.DefaultBase && x.Reads == 1 && x.Writes == 1);
        Assert.Contains("port 0x0021: 2 reads, 0 writes", m.Unclaimed.Describe());
    }

    [Fact]
    public void AnInterruptNobodyTakesEndsInADeadlockNotAHang()
    {
        // IF stays clear: the timer's interrupt can never wake the halted vCPU.
        var m = Boot(new MachineConfig { Platform = MachinePlatform.Pc, MemoryBytes = 64UL << 20 }, a =>
        {
            Wrmsr(a, 0x80f, 0x1ff);
            IoApicRoute(a, 2, 0x30);
            Out(a, 0x43, 0x34);
            Out(a, 0x40, 2);
            Out(a, 0x40, 0);
            a.hlt();
        });
        var r = m.Run(1_000_000);
        Assert.Equal(RunOutcome.Deadlock, r.Outcome);
    }

    [Fact]
    public void ThePcPlatformNeedsItsMmioHole()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new MachineT(new MachineConfig { Platform = MachinePlatform.Pc, MemoryBytes = 4UL << 30 }));
    }

    [Fact]
    public void MmioPagesEnterTheTlbAndAccessesStillReachTheDevice()
    {
        // 1,000 reads of the I/O APIC's version register (IOREGSEL 1, IOWIN) in a loop: the device
        // answers each, but the page walks once; a write through the same translation reaches it too.
        var m = Boot(new MachineConfig { Platform = MachinePlatform.Pc, MemoryBytes = 64UL << 20 }, a =>
        {
            a.mov(rbx, IoApic.DefaultBase);
            a.mov(__dword_ptr[rbx], 1);
            a.mov(ecx, 1000);
            a.xor(esi, esi);
            var loop = a.CreateLabel();
            a.Label(ref loop);
            a.mov(eax, __dword_ptr[rbx + 0x10]);
            a.add(esi, eax);
            a.dec(ecx);
            a.jnz(loop);
            a.mov(__dword_ptr[rbx], 0);            // IOREGSEL 0: the ID register
            a.mov(__dword_ptr[rbx + 0x10], 0x5000000);
            a.mov(eax, __dword_ptr[rbx + 0x10]);
            a.shr(eax, 24);
            a.cmp(esi, 1000 * 0x170020);            // version 0x20, 24 entries
            var bad = a.CreateLabel();
            a.jne(bad);
            a.mov(dx, ExitDevice.Port);
            a.@out(dx, eax);
            a.Label(ref bad);
            a.mov(eax, 99);
            a.mov(dx, ExitDevice.Port);
            a.@out(dx, eax);
        });
        long missesBefore = m.Cpus[0].TlbMisses;
        var r = m.Run(100_000);
        Assert.Equal(RunOutcome.Exited, r.Outcome);
        Assert.Equal(5, r.ExitCode);
        Assert.True(m.Cpus[0].TlbMisses - missesBefore < 10, $"{m.Cpus[0].TlbMisses - missesBefore} TLB misses for 1,000 MMIO reads");
    }
}

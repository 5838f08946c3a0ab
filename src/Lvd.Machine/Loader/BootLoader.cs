using Lvd.Machine.Execution;
using Lvd.Machine.Memory;

namespace Lvd.Machine.Loader;

/// <summary>
/// Puts an ELF image into guest memory and leaves vCPU 0 in 64-bit long mode the way a boot
/// loader would (docs/EXEC-ABI.md): a GDT with kernel and user segments and a TSS, identity
/// paging of the first 4 GiB (2 MiB pages; the first 4 KiB page is left unmapped so NULL
/// dereferences fault), a stack below the boot area at the top of RAM holding argc, argv and the
/// auxiliary vector as Linux lays them out, RDI = 0, interrupts off, no IDT.
/// </summary>
public static class BootLoader
{
    /// <summary>Boot structures (GDT, TSS, page tables) occupy the top 64 KiB of RAM.</summary>
    public const ulong BootAreaSize = 0x10000;
    public const ushort KernelCode = 0x08, KernelData = 0x10, UserData = 0x20, UserCode = 0x28, TssSelector = 0x30;

    public sealed record BootInfo(ulong Entry, ulong StackTop, ulong Cr3, ulong BootArea);

    /// <summary>
    /// GDT: null, kernel code64, kernel data, user code32 (unused, SYSRET layout), user data,
    /// user code64, 64-bit TSS (16 bytes) whose RSP0 is <paramref name="rsp0"/>.
    /// </summary>
    internal static void WriteGdt(PhysicalMemory mem, ulong gdt, ulong tss, ulong rsp0)
    {
        mem.Write64(gdt + 0x00, 0);
        mem.Write64(gdt + 0x08, 0x00af9a000000ffffUL);
        mem.Write64(gdt + 0x10, 0x00cf92000000ffffUL);
        mem.Write64(gdt + 0x18, 0x00cffa000000ffffUL);
        mem.Write64(gdt + 0x20, 0x00cff2000000ffffUL);
        mem.Write64(gdt + 0x28, 0x00affa000000ffffUL);
        ulong tssLo = 0x67UL | ((tss & 0xffffff) << 16) | (0x8bUL << 40) | (((tss >> 24) & 0xff) << 56);
        mem.Write64(gdt + 0x30, tssLo);
        mem.Write64(gdt + 0x38, tss >> 32);
        mem.Write64(tss + 4, rsp0);
    }

    /// <summary>
    /// The Linux x86-64 initial stack (System V ABI 3.4.1) below <paramref name="top"/>: argc,
    /// argv[] and NULL, an empty envp, the auxiliary vector (page size, the heap's end, the clock
    /// rate), AT_NULL; the strings above. Returns RSP (16-byte aligned, pointing to argc).
    /// </summary>
    private static ulong WriteInitialStack(Machine machine, ulong top, IReadOnlyList<string> argv, ulong heapEnd)
    {
        var mem = machine.Memory;
        ulong p = top;
        var pointers = new ulong[argv.Count];
        for (int i = argv.Count - 1; i >= 0; i--)
        {
            byte[] bytes = System.Text.Encoding.UTF8.GetBytes(argv[i] + "\0");
            p -= (ulong)bytes.Length;
            if (p < top - LoaderStackSize / 2)
                throw new LoadException($"the program's arguments take more than {LoaderStackSize / 2 / 1024} KiB");
            mem.WriteBytes(p, bytes);
            pointers[i] = p;
        }
        ulong[] auxv = [AtPageSize, PhysicalMemory.PageSize, AtLvdHeapEnd, heapEnd, AtLvdClockHz, (ulong)machine.Costs.ClockHz, AtNull, 0];
        int words = 1 + argv.Count + 1 + 1 + auxv.Length;
        ulong rsp = (p - (ulong)words * 8) & ~15UL;
        ulong w = rsp;
        mem.Write64(w, (ulong)argv.Count);
        foreach (ulong a in pointers) mem.Write64(w += 8, a);
        mem.Write64(w += 8, 0);   // argv[argc]
        mem.Write64(w += 8, 0);   // envp: empty
        foreach (ulong a in auxv) mem.Write64(w += 8, a);
        return rsp;
    }

    /// <summary>
    /// Identity paging of the first 4 GiB: PML4[0] -> PDPT -> 4 PDs of 2 MiB pages, except the
    /// first 2 MiB, mapped by 4 KiB pages in <paramref name="pt0"/> with page 0 not present.
    /// </summary>
    internal static void WriteIdentityMap(PhysicalMemory mem, ulong pml4, ulong pdpt, ulong pd, ulong pt0)
    {
        const ulong P = 1, RW = 2, PS = 0x80;
        mem.Write64(pml4, pdpt | P | RW);
        for (ulong i = 0; i < 4; i++) mem.Write64(pdpt + i * 8, (pd + i * 0x1000) | P | RW);
        for (ulong i = 0; i < 4 * 512; i++) mem.Write64(pd + i * 8, i == 0 ? pt0 | P | RW : (i << 21) | P | RW | PS);
        for (ulong i = 1; i < 512; i++) mem.Write64(pt0 + i * 8, (i << 12) | P | RW);
    }

    /// <summary>The loader's stack below the boot area: the initial stack block (argv, auxv) at its top.</summary>
    public const ulong LoaderStackSize = 0x10000;

    /// <summary>
    /// Auxiliary-vector entries of LVD# (docs/EXEC-ABI.md), outside Linux's range: where the
    /// RAM a program's heap may use ends, and the modeled clock rate (TSC cycles per second).
    /// </summary>
    public const ulong AtNull = 0, AtPageSize = 6, AtLvdHeapEnd = 0x4c5601, AtLvdClockHz = 0x4c5602;

    public static BootInfo Load(Machine machine, ElfImage image, string name, IReadOnlyList<string>? arguments = null)
    {
        var mem = machine.Memory;
        ulong boot = Math.Min(machine.GuestRamTop, 4UL << 30) - BootAreaSize; // inside the identity map
        foreach (var s in image.Segments)
        {
            ulong end = s.Address + s.MemorySize;
            if (s.Address < PhysicalMemory.PageSize || end < s.Address || end > boot)
                throw new LoadException($"{name}: segment 0x{s.Address:x}-0x{end:x} is outside usable memory " +
                    $"0x1000-0x{boot:x} ({machine.GuestRamTop >> 20} MiB guest RAM; try --memory)");
        }
        foreach (var s in image.Segments)
        {
            mem.WriteBytes(s.Address, s.FileBytes);
            // The rest (bss) is zero: RAM is allocated on touch and starts zeroed, except where
            // an earlier segment put bytes.
            for (ulong a = s.Address + (ulong)s.FileBytes.Length, end = s.Address + s.MemorySize; a < end;)
            {
                int n = (int)Math.Min(end - a, 1UL << 30);
                mem.Fill(a, n, 0);
                a += (ulong)n;
            }
        }

        ulong gdt = boot, tss = boot + 0x800, pml4 = boot + 0x1000, pdpt = boot + 0x2000, pd = boot + 0x3000, pt0 = boot + 0x7000;
        ulong stackTop = boot;
        WriteGdt(mem, gdt, tss, stackTop);
        ulong tssLimit = 0x67;

        WriteIdentityMap(mem, pml4, pdpt, pd, pt0);

        ulong rsp = WriteInitialStack(machine, stackTop, [name, .. arguments ?? []], stackTop - LoaderStackSize);
        var cpu = machine.Cpus[0];
        cpu.EnterLongMode(pml4, gdt, 0x3f, KernelCode, KernelData, image.Entry, rsp);
        cpu.Tr = new Segment { Selector = TssSelector, Base = tss, Limit = (uint)tssLimit, Attributes = 0x8b };
        cpu.Star = ((ulong)(UserData - 8) << 48) | ((ulong)KernelCode << 32);
        return new BootInfo(image.Entry, stackTop, pml4, boot);
    }
}

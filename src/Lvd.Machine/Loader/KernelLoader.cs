using System.Text;
using Lvd.Machine.Execution;
using Lvd.Machine.Memory;

namespace Lvd.Machine.Loader;

/// <summary>
/// Boots a kernel as docs/BOOT.md specifies: segments at their physical addresses, boot page
/// tables (identity 4 GiB + the -2 GiB kernel window), a boot-information block with the
/// memory map, command line, CPU count and AP mailboxes; the BSP at the entry point with RDI
/// pointing to the block; the APs waiting for SIPI.
/// </summary>
public static class KernelLoader
{
    public const ulong BootMagic = 0x4c56442d424f4f54UL; // "LVD-BOOT"
    public const ulong KernelWindow = 0xffffffff80000000UL;
    private const ulong BootAreaSize = 0x20000;
    private const ulong LowReserved = 0x100000;

    public sealed record KernelBoot(ulong Entry, ulong BootInfo, ulong BootArea, IReadOnlyList<(ulong Base, ulong Length, uint Type)> MemoryMap);

    /// <summary>A boot module (docs/BOOT.md): bytes the kernel finds through the boot-information block.</summary>
    public sealed record Module(string Name, byte[] Bytes);

    public const int ModuleNameBytes = 32;

    public static KernelBoot Load(Machine machine, ElfImage image, string name, string cmdline, IReadOnlyList<Module>? modules = null)
    {
        modules ??= [];
        var mem = machine.Memory;
        ulong top = machine.GuestRamTop;
        // The boot structures must be reachable through the 4 GiB identity map.
        ulong boot = Math.Min(top, 4UL << 30) - BootAreaSize;
        var kernelRanges = new List<(ulong, ulong)>();
        foreach (var s in image.Segments)
        {
            ulong end = s.PhysicalAddress + s.MemorySize;
            if (s.PhysicalAddress < LowReserved || end < s.PhysicalAddress || end > boot)
                throw new LoadException($"{name}: segment at physical 0x{s.PhysicalAddress:x}-0x{end:x} is outside " +
                    $"0x{LowReserved:x}-0x{boot:x} ({top >> 20} MiB guest RAM; try --memory)");
            kernelRanges.Add((s.PhysicalAddress & ~PhysicalMemory.PageMask, (end + PhysicalMemory.PageMask) & ~PhysicalMemory.PageMask));
        }
        if (image.Entry < KernelWindow && image.Entry >= (4UL << 30))
            throw new LoadException($"{name}: entry point 0x{image.Entry:x} is neither in the identity map nor in the kernel window");
        foreach (var s in image.Segments)
        {
            mem.WriteBytes(s.PhysicalAddress, s.FileBytes);
            if (s.MemorySize > (ulong)s.FileBytes.Length)
                mem.Fill(s.PhysicalAddress + (ulong)s.FileBytes.Length, (int)(s.MemorySize - (ulong)s.FileBytes.Length), 0);
        }

        // Boot area layout (pages): GDT+TSS, PML4, PDPT (identity), 4 PDs, PT0, PDPT (kernel
        // window), boot info, command line, mailboxes, 4-page BSP stack.
        mem.Fill(boot, (int)BootAreaSize, 0);
        ulong gdt = boot, tss = boot + 0x800, pml4 = boot + 0x1000, pdpt = boot + 0x2000, pd = boot + 0x3000, pt0 = boot + 0x7000;
        ulong pdptK = boot + 0x8000, info = boot + 0x9000, cmd = boot + 0xa000, mailbox = boot + 0xb000, stackTop = boot + 0x10000;
        BootLoader.WriteGdt(mem, gdt, tss, stackTop);
        const ulong P = 1, RW = 2;
        BootLoader.WriteIdentityMap(mem, pml4, pdpt, pd, pt0);
        // The kernel window shares the first two identity PDs: 0xffffffff80000000 -> 0.
        mem.Write64(pml4 + 511 * 8, pdptK | P | RW);
        mem.Write64(pdptK + 510 * 8, pd | P | RW);
        mem.Write64(pdptK + 511 * 8, (pd + 0x1000) | P | RW);

        // Modules go right below the boot area, page by page, and are reserved in the map.
        ulong modulesBase = boot;
        foreach (var m in modules) modulesBase -= ((ulong)m.Bytes.Length + PhysicalMemory.PageMask) & ~PhysicalMemory.PageMask;
        foreach (var (_, end) in kernelRanges)
            if (modulesBase < end)
                throw new LoadException($"boot modules ({(boot - modulesBase) >> 10} KiB) do not fit between the kernel image and the boot area; " +
                    $"try --memory");
        if (modules.Count > 0) kernelRanges.Add((modulesBase, boot));

        var cmdBytes = Encoding.UTF8.GetBytes(cmdline);
        if (cmdBytes.Length >= 4096) throw new LoadException("command line longer than 4095 bytes");
        mem.WriteBytes(cmd, cmdBytes);

        var map = MemoryMap(machine, kernelRanges, boot);
        mem.Write64(info, BootMagic);
        mem.Write(info + 8, 4, 1);
        mem.Write(info + 12, 4, (ulong)machine.Cpus.Length);
        mem.Write64(info + 16, cmd);
        mem.Write64(info + 24, mailbox);
        mem.Write64(info + 32, (ulong)machine.Costs.ClockHz);
        mem.Write(info + 40, 4, (ulong)map.Count);
        mem.Write(info + 44, 4, (ulong)modules.Count);
        for (int i = 0; i < map.Count; i++)
        {
            ulong e = info + 48 + (ulong)i * 24;
            mem.Write64(e, map[i].Base);
            mem.Write64(e + 8, map[i].Length);
            mem.Write(e + 16, 4, map[i].Type);
        }
        // The module table follows the memory map: { u64 base; u64 length; char name[32]; }.
        ulong table = info + 48 + (ulong)map.Count * 24, at = modulesBase;
        if (table + (ulong)modules.Count * 48 > cmd) throw new LoadException($"{modules.Count} boot modules: too many for the boot-information page");
        foreach (var m in modules)
        {
            var nameBytes = Encoding.UTF8.GetBytes(m.Name);
            if (nameBytes.Length >= ModuleNameBytes)
                throw new LoadException($"boot module name '{m.Name}' is longer than {ModuleNameBytes - 1} bytes");
            mem.WriteBytes(at, m.Bytes);
            mem.Write64(table, at);
            mem.Write64(table + 8, (ulong)m.Bytes.Length);
            mem.WriteBytes(table + 16, nameBytes);
            table += 48;
            at += ((ulong)m.Bytes.Length + PhysicalMemory.PageMask) & ~PhysicalMemory.PageMask;
        }

        ulong star = ((ulong)(BootLoader.UserData - 8) << 48) | ((ulong)BootLoader.KernelCode << 32);
        var bsp = machine.Cpus[0];
        bsp.EnterLongMode(pml4, gdt, 0x3f, BootLoader.KernelCode, BootLoader.KernelData, image.Entry, stackTop);
        bsp.Tr = new Segment { Selector = BootLoader.TssSelector, Base = tss, Limit = 0x67, Attributes = 0x8b };
        bsp.Star = star;
        bsp.SetRegister(Cpu.RDI, info);
        for (int i = 1; i < machine.Cpus.Length; i++) machine.Cpus[i].State = CpuState.WaitForSipi;
        machine.ApStartup = new ApStartup(pml4, gdt, 0x3f, tss, mailbox, star);
        return new KernelBoot(image.Entry, info, boot, map);
    }

    /// <summary>Usable RAM and reserved ranges (low 1 MiB, kernel image, boot area, hypervisor memory), sorted.</summary>
    private static List<(ulong Base, ulong Length, uint Type)> MemoryMap(Machine machine, List<(ulong Start, ulong End)> kernel, ulong boot)
    {
        var reserved = new List<(ulong Start, ulong End)> { (0, LowReserved), (boot, boot + BootAreaSize) };
        reserved.AddRange(kernel);
        if (machine.Memory.RamSize > machine.GuestRamTop) reserved.Add((machine.GuestRamTop, machine.Memory.RamSize));
        reserved.Sort();
        var merged = new List<(ulong Start, ulong End)>();
        foreach (var r in reserved)
        {
            if (merged.Count > 0 && r.Start <= merged[^1].End) merged[^1] = (merged[^1].Start, Math.Max(merged[^1].End, r.End));
            else merged.Add(r);
        }
        var map = new List<(ulong, ulong, uint)>();
        ulong at = 0;
        foreach (var r in merged)
        {
            if (r.Start > at) map.Add((at, r.Start - at, 1));
            map.Add((r.Start, r.End - r.Start, 2));
            at = r.End;
        }
        if (at < machine.Memory.RamSize) map.Add((at, machine.Memory.RamSize - at, 1));
        return map;
    }
}

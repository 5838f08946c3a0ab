using System.Text;
using Lvd.Machine.Execution;
using Lvd.Machine.Memory;

namespace Lvd.Machine.Loader;

/// <summary>
/// The Linux/x86 64-bit boot protocol (Documentation/x86/boot.rst, "64-bit Boot Protocol"), as a
/// boot loader carries it out on the PC platform: the kernel (the segments of `vmlinux` at their
/// physical addresses, or the protected-mode payload of a bzImage at its preferred address), the
/// zero page (struct boot_params) with its setup_header, e820 map, command line, initrd and
/// ACPI RSDP address, an identity map of the first 4 GiB, a GDT with flat __BOOT_CS (0x10) and
/// __BOOT_DS (0x18), interrupts off, RSI = the zero page, and the BSP at the 64-bit entry
/// (startup_64: the ELF entry of vmlinux, or the payload's start + 0x200). The APs stay in
/// wait-for-SIPI: how they start is the platform's (real mode or the ACPI wakeup mailbox).
/// </summary>
public static class LinuxLoader
{
    // Where the loader's structures go: low memory, which Linux reserves whole (its first 1 MiB).
    public const ulong GdtAddress = 0x1000, Pml4Address = 0x2000, ZeroPage = 0x10000, CommandLineAddress = 0x11000;
    public const int CommandLineMax = 2047;
    public const ushort BootCs = 0x10, BootDs = 0x18;
    /// <summary>Conventional memory ends here (the EBDA, VGA and BIOS area above it are reserved on a PC).</summary>
    public const ulong LowRamEnd = 0x9f000;
    public const uint E820Ram = 1, E820Reserved = 2, E820Acpi = 3;

    // struct boot_params and struct setup_header offsets (arch/x86/include/uapi/asm/bootparam.h).
    public const int AcpiRsdpAddr = 0x070, ExtRamdiskImage = 0x0c0, ExtRamdiskSize = 0x0c4, ExtCmdLinePtr = 0x0c8, E820Entries = 0x1e8,
        SetupHeader = 0x1f1, SetupSects = 0x1f1, BootFlag = 0x1fe, HeaderMagic = 0x202, Version = 0x206, TypeOfLoader = 0x210,
        LoadFlags = 0x211, Code32Start = 0x214, RamdiskImage = 0x218, RamdiskSize = 0x21c, HeapEndPtr = 0x224, CmdLinePtr = 0x228,
        InitrdAddrMax = 0x22c, KernelAlignment = 0x230, RelocatableKernel = 0x234, XLoadFlags = 0x236, CmdlineSize = 0x238,
        HardwareSubarch = 0x23c, PrefAddress = 0x258, InitSize = 0x260, E820Table = 0x2d0;
    public const int E820MaxEntries = 128;
    public const byte LoadedHigh = 0x01, CanUseHeap = 0x80;
    public const ushort XlfKernel64 = 0x01;

    public sealed record LinuxBoot(ulong Entry, ulong ZeroPage, ulong KernelStart, ulong KernelEnd, ulong InitrdAddress, ulong InitrdSize,
        IReadOnlyList<(ulong Base, ulong Length, uint Type)> MemoryMap);

    /// <summary>Boots `vmlinux` (an ELF whose segments carry their physical addresses and whose entry is startup_64's).</summary>
    public static LinuxBoot LoadVmlinux(Machine machine, ElfImage vmlinux, string cmdline, byte[]? initrd)
    {
        ulong start = ulong.MaxValue, end = 0;
        foreach (var s in vmlinux.Segments)
        {
            start = Math.Min(start, s.PhysicalAddress);
            end = Math.Max(end, s.PhysicalAddress + s.MemorySize);
        }
        if (vmlinux.Entry < start || vmlinux.Entry >= end)
            throw new LoadException($"vmlinux: entry 0x{vmlinux.Entry:x} is not a physical address inside the image 0x{start:x}-0x{end:x}");
        CheckKernelRange(machine, start, end);
        var mem = machine.Memory;
        foreach (var s in vmlinux.Segments)
        {
            mem.WriteBytes(s.PhysicalAddress, s.FileBytes);
            if (s.MemorySize > (ulong)s.FileBytes.Length)
                mem.Fill(s.PhysicalAddress + (ulong)s.FileBytes.Length, (int)(s.MemorySize - (ulong)s.FileBytes.Length), 0);
        }
        var header = new byte[0x268 - SetupHeader];
        // The fields a boot loader reads from a bzImage, as the kernel's own header.S gives them.
        void Put(int offset, ulong value, int size)
        {
            for (int i = 0; i < size; i++) header[offset - SetupHeader + i] = (byte)(value >> (8 * i));
        }
        Put(BootFlag, 0xaa55, 2);
        Put(HeaderMagic, 0x53726448, 4); // "HdrS"
        Put(Version, 0x020f, 2);
        Put(KernelAlignment, 0x200000, 4);
        Put(XLoadFlags, XlfKernel64, 2);
        Put(CmdlineSize, CommandLineMax, 4);
        Put(InitrdAddrMax, 0x7fffffff, 4);
        Put(PrefAddress, start, 8);
        Put(InitSize, end - start, 4);
        return Finish(machine, header, start, end, vmlinux.Entry, cmdline, initrd);
    }

    /// <summary>Boots a bzImage: its setup header into the zero page, its payload at the preferred address, entry at payload + 0x200.</summary>
    public static LinuxBoot LoadBzImage(Machine machine, byte[] bzImage, string cmdline, byte[]? initrd)
    {
        if (bzImage.Length < 0x270 || BitConverter.ToUInt32(bzImage, HeaderMagic) != 0x53726448 || BitConverter.ToUInt16(bzImage, BootFlag) != 0xaa55)
            throw new LoadException("bzImage: no Linux setup header (HdrS, boot flag 0xAA55)");
        ushort version = BitConverter.ToUInt16(bzImage, Version);
        if (version < 0x020c || (BitConverter.ToUInt16(bzImage, XLoadFlags) & XlfKernel64) == 0)
            throw new LoadException($"bzImage: boot protocol {version >> 8}.{version & 0xff} without a 64-bit entry (needs 2.12 and XLF_KERNEL_64)");
        int sects = bzImage[SetupSects] == 0 ? 4 : bzImage[SetupSects];
        int payload = (sects + 1) * 512;
        if (payload >= bzImage.Length) throw new LoadException("bzImage: no protected-mode payload after the setup sectors");
        int headerEnd = 0x202 + bzImage[0x201];
        ulong load = BitConverter.ToUInt64(bzImage, PrefAddress);
        ulong initSize = BitConverter.ToUInt32(bzImage, InitSize);
        ulong end = load + Math.Max(initSize, (ulong)(bzImage.Length - payload));
        CheckKernelRange(machine, load, end);
        machine.Memory.WriteBytes(load, bzImage.AsSpan(payload));
        return Finish(machine, bzImage[SetupHeader..headerEnd], load, end, load + 0x200, cmdline, initrd);
    }

    private static void CheckKernelRange(Machine machine, ulong start, ulong end)
    {
        if (start < 0x100000 || end <= start || end > machine.GuestRamTop)
            throw new LoadException($"the kernel at physical 0x{start:x}-0x{end:x} does not fit in RAM above 1 MiB " +
                $"({machine.GuestRamTop >> 20} MiB; try --memory)");
    }

    private static LinuxBoot Finish(Machine machine, byte[] header, ulong kernelStart, ulong kernelEnd, ulong entry, string cmdline, byte[]? initrd)
    {
        var mem = machine.Memory;
        if (machine.Pc is null) throw new LoadException("Linux boots on the PC platform only (MachineConfig.Platform = Pc)");
        byte[] cmd = Encoding.ASCII.GetBytes(cmdline);
        if (cmd.Length > CommandLineMax || cmdline.Any(c => c > 0x7e || c < 0x20))
            throw new LoadException($"the kernel command line must be printable ASCII of at most {CommandLineMax} bytes");

        // The initrd goes at the top of RAM below 4 GiB (and below initrd_addr_max), page-aligned.
        ulong initrdAddress = 0, initrdSize = (ulong)(initrd?.Length ?? 0);
        if (initrd != null)
        {
            uint max = BitConverter.ToUInt32(header, InitrdAddrMax - SetupHeader);
            ulong top = Math.Min(machine.GuestRamTop, Math.Min(4UL << 30, (ulong)max + 1));
            initrdAddress = (top - initrdSize) & ~PhysicalMemory.PageMask;
            if (initrdSize > top || initrdAddress < kernelEnd)
                throw new LoadException($"the initramfs ({initrdSize >> 10} KiB) does not fit between the kernel and the top of RAM; try --memory");
            mem.WriteBytes(initrdAddress, initrd);
        }

        mem.Fill(ZeroPage, (int)PhysicalMemory.PageSize, 0);
        mem.WriteBytes(ZeroPage + SetupHeader, header);
        mem.Write(ZeroPage + TypeOfLoader, 1, 0xff); // no assigned loader id
        ulong loadFlags = mem.Read(ZeroPage + LoadFlags, 1);
        mem.Write(ZeroPage + LoadFlags, 1, loadFlags | LoadedHigh);
        mem.Write(ZeroPage + HardwareSubarch, 4, 0); // the default x86 PC
        mem.WriteBytes(CommandLineAddress, cmd);
        mem.Write(CommandLineAddress + (ulong)cmd.Length, 1, 0);
        mem.Write(ZeroPage + CmdLinePtr, 4, CommandLineAddress);
        mem.Write(ZeroPage + ExtCmdLinePtr, 4, 0);
        mem.Write(ZeroPage + RamdiskImage, 4, initrdAddress & 0xffffffff);
        mem.Write(ZeroPage + RamdiskSize, 4, initrdSize & 0xffffffff);
        mem.Write(ZeroPage + ExtRamdiskImage, 4, initrdAddress >> 32);
        mem.Write(ZeroPage + ExtRamdiskSize, 4, initrdSize >> 32);
        mem.Write64(ZeroPage + AcpiRsdpAddr, machine.Pc.Acpi.RsdpAddress);

        var map = MemoryMap(machine);
        if (map.Count > E820MaxEntries) throw new LoadException($"{map.Count} e820 entries: more than the zero page holds");
        mem.Write(ZeroPage + E820Entries, 1, (ulong)map.Count);
        for (int i = 0; i < map.Count; i++)
        {
            ulong e = ZeroPage + E820Table + (ulong)i * 20;
            mem.Write64(e, map[i].Base);
            mem.Write64(e + 8, map[i].Length);
            mem.Write(e + 16, 4, map[i].Type);
        }

        // GDT: null, null, __BOOT_CS (64-bit code), __BOOT_DS (flat data).
        mem.Fill(GdtAddress, 0x20, 0);
        mem.Write64(GdtAddress + BootCs, 0x00af9a000000ffffUL);
        mem.Write64(GdtAddress + BootDs, 0x00cf92000000ffffUL);
        ulong pml4 = Pml4Address, pdpt = pml4 + 0x1000, pd = pdpt + 0x1000, pt0 = pd + 0x4000;
        mem.Fill(pml4, 7 * (int)PhysicalMemory.PageSize, 0);
        BootLoader.WriteIdentityMap(mem, pml4, pdpt, pd, pt0);

        var bsp = machine.Cpus[0];
        // No stack is part of the protocol (startup_64 sets its own); RSP points into the reserved low page below the zero page.
        bsp.EnterLongMode(pml4, GdtAddress, 0x1f, BootCs, BootDs, entry, ZeroPage);
        bsp.SetRegister(Cpu.RSI, ZeroPage);
        for (int i = 1; i < machine.Cpus.Length; i++) machine.Cpus[i].State = CpuState.WaitForSipi;
        return new LinuxBoot(entry, ZeroPage, kernelStart, kernelEnd, initrdAddress, initrdSize, map);
    }

    /// <summary>
    /// The e820 map: conventional RAM below 0x9f000, the rest of the first MiB reserved (the EBDA,
    /// VGA and BIOS areas of a PC) except the firmware's ACPI tables (type 3), RAM from 1 MiB to
    /// the top of guest RAM, and the VMX-root reservation above it reserved.
    /// </summary>
    public static List<(ulong Base, ulong Length, uint Type)> MemoryMap(Machine machine)
    {
        var (acpiBase, acpiSize) = machine.Pc!.Acpi.Region;
        var map = new List<(ulong Base, ulong Length, uint Type)> { (0, LowRamEnd, E820Ram) };
        if (acpiBase < LowRamEnd || acpiBase + acpiSize > 0x100000)
            throw new LoadException($"the ACPI tables at 0x{acpiBase:x} are not in the BIOS area 0x{LowRamEnd:x}-0x100000");
        if (acpiBase > LowRamEnd) map.Add((LowRamEnd, acpiBase - LowRamEnd, E820Reserved));
        map.Add((acpiBase, acpiSize, E820Acpi));
        if (acpiBase + acpiSize < 0x100000) map.Add((acpiBase + acpiSize, 0x100000 - acpiBase - acpiSize, E820Reserved));
        map.Add((0x100000, machine.GuestRamTop - 0x100000, E820Ram));
        if (machine.Memory.RamSize > machine.GuestRamTop)
            map.Add((machine.GuestRamTop, machine.Memory.RamSize - machine.GuestRamTop, E820Reserved));
        return map;
    }
}

using System.Buffers.Binary;
using System.Text;
using MachineT = Lvd.Machine.Machine;

namespace Lvd.Tests.Linux;

/// <summary>
/// LinuxLoader against the Linux/x86 boot protocol (Documentation/x86/boot.rst: the real-mode
/// kernel header, "64-bit Boot Protocol"; arch/x86/include/uapi/asm/bootparam.h, e820.h): the
/// zero page's fields, the e820 map, the command line, the initrd, the ACPI RSDP address, and
/// the CPU state at the 64-bit entry. On a small synthetic vmlinux and bzImage, and on the real
/// ones when guest/linux/build.sh has built them (LinuxBootTests builds them).
/// </summary>
public sealed class LinuxLoaderTests
{
    private const ulong KernelPhys = 0x1000000, KernelVirt = 0xffffffff81000000;

    private static MachineT Pc(int mib = 128) => new(new MachineConfig { Platform = MachinePlatform.Pc, MemoryBytes = (ulong)mib << 20 });

    /// <summary>A static ELF64 like vmlinux: text at 16 MiB physical, linked at -2 GiB + 16 MiB, then data with a bss; entry physical.</summary>
    internal static string SyntheticVmlinux()
    {
        byte[] text = Enumerable.Range(0, 0x3000).Select(i => (byte)(i * 7)).ToArray();
        byte[] data = Enumerable.Range(0, 0x800).Select(i => (byte)(i * 13 + 1)).ToArray();
        const int phoff = 64, phnum = 2, textOff = 0x1000, dataOff = 0x4000;
        var f = new byte[dataOff + data.Length];
        "\u007fELF"u8.CopyTo(f);
        f[4] = 2; f[5] = 1; f[6] = 1;                                      // ELF64, little endian, version 1
        BinaryPrimitives.WriteUInt16LittleEndian(f.AsSpan(16), 2);         // ET_EXEC
        BinaryPrimitives.WriteUInt16LittleEndian(f.AsSpan(18), 62);        // EM_X86_64
        BinaryPrimitives.WriteUInt32LittleEndian(f.AsSpan(20), 1);
        BinaryPrimitives.WriteUInt64LittleEndian(f.AsSpan(24), KernelPhys); // e_entry: startup_64's physical address
        BinaryPrimitives.WriteUInt64LittleEndian(f.AsSpan(32), phoff);
        BinaryPrimitives.WriteUInt16LittleEndian(f.AsSpan(52), 64);
        BinaryPrimitives.WriteUInt16LittleEndian(f.AsSpan(54), 56);
        BinaryPrimitives.WriteUInt16LittleEndian(f.AsSpan(56), phnum);
        BinaryPrimitives.WriteUInt16LittleEndian(f.AsSpan(58), 64);
        void Phdr(int i, uint flags, ulong off, ulong vaddr, ulong paddr, ulong filesz, ulong memsz)
        {
            var p = f.AsSpan(phoff + i * 56);
            BinaryPrimitives.WriteUInt32LittleEndian(p, 1); // PT_LOAD
            BinaryPrimitives.WriteUInt32LittleEndian(p[4..], flags);
            BinaryPrimitives.WriteUInt64LittleEndian(p[8..], off);
            BinaryPrimitives.WriteUInt64LittleEndian(p[16..], vaddr);
            BinaryPrimitives.WriteUInt64LittleEndian(p[24..], paddr);
            BinaryPrimitives.WriteUInt64LittleEndian(p[32..], filesz);
            BinaryPrimitives.WriteUInt64LittleEndian(p[40..], memsz);
            BinaryPrimitives.WriteUInt64LittleEndian(p[48..], 0x1000);
        }
        Phdr(0, 5, textOff, KernelVirt, KernelPhys, (ulong)text.Length, (ulong)text.Length);
        Phdr(1, 6, dataOff, KernelVirt + 0x4000, KernelPhys + 0x4000, (ulong)data.Length, 0x10000);
        text.CopyTo(f, textOff);
        data.CopyTo(f, dataOff);
        string path = Path.Combine(Path.GetTempPath(), $"lvd-vmlinux-{Environment.ProcessId}-{Guid.NewGuid():n}.elf");
        File.WriteAllBytes(path, f);
        return path;
    }

    /// <summary>A bzImage as header.S lays it out: 4 setup sectors after the boot sector, the header fields, a payload.</summary>
    internal static byte[] SyntheticBzImage(ushort version = 0x020f, ushort xloadflags = 1)
    {
        var b = new byte[5 * 512 + 0x5000];
        b[0x1f1] = 4;                                                                        // setup_sects
        BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(0x1fe), 0xaa55);
        b[0x201] = 0x6a;                                                                     // jump: the header ends at 0x26c
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(0x202), 0x53726448);               // "HdrS"
        BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(0x206), version);
        BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(0x20e), 0x1234);                   // kernel_version: a field the loader copies
        b[0x211] = 0x01;                                                                     // loadflags: LOADED_HIGH
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(0x22c), 0x7fffffff);               // initrd_addr_max
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(0x230), 0x200000);                 // kernel_alignment
        BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(0x236), xloadflags);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(0x238), 2047);                     // cmdline_size
        BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(0x258), KernelPhys);               // pref_address
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(0x260), 0x800000);                 // init_size
        for (int i = 5 * 512; i < b.Length; i++) b[i] = (byte)(i * 3);
        return b;
    }

    private static ulong Zp(MachineT m, int offset, int size) => m.Memory.Read(LinuxLoader.ZeroPage + (ulong)offset, size);

    private static List<(ulong Base, ulong Length, uint Type)> E820(MachineT m)
    {
        var map = new List<(ulong, ulong, uint)>();
        int n = (int)Zp(m, LinuxLoader.E820Entries, 1);
        for (int i = 0; i < n; i++)
        {
            ulong e = LinuxLoader.ZeroPage + LinuxLoader.E820Table + (ulong)i * 20;
            map.Add((m.Memory.Read64(e), m.Memory.Read64(e + 8), (uint)m.Memory.Read(e + 16, 4)));
        }
        return map;
    }

    private static string CString(MachineT m, ulong address)
    {
        var sb = new StringBuilder();
        for (ulong a = address; ; a++)
        {
            byte c = (byte)m.Memory.Read(a, 1);
            if (c == 0) return sb.ToString();
            sb.Append((char)c);
        }
    }

    /// <summary>The checks every zero page must pass, whichever kernel format was loaded.</summary>
    private static void AssertZeroPage(MachineT m, LinuxLoader.LinuxBoot boot, string cmdline, byte[] initrd)
    {
        Assert.Equal(0xaa55UL, Zp(m, LinuxLoader.BootFlag, 2));
        Assert.Equal(0x53726448UL, Zp(m, LinuxLoader.HeaderMagic, 4));
        Assert.True(Zp(m, LinuxLoader.Version, 2) >= 0x020c, "protocol 2.12 or later (the 64-bit entry, xloadflags)");
        Assert.Equal(0xffUL, Zp(m, LinuxLoader.TypeOfLoader, 1));          // "undefined" loader id
        Assert.Equal(1UL, Zp(m, LinuxLoader.LoadFlags, 1) & LinuxLoader.LoadedHigh);
        Assert.Equal(0UL, Zp(m, 0x1ef, 1));                                 // sentinel: a loader that zeroed the page
        Assert.Equal(0UL, Zp(m, LinuxLoader.HardwareSubarch, 4));           // X86_SUBARCH_PC
        // Command line: 32-bit pointer (ext_cmd_line_ptr 0), NUL-terminated, within cmdline_size.
        ulong cmd = Zp(m, LinuxLoader.CmdLinePtr, 4) | (Zp(m, LinuxLoader.ExtCmdLinePtr, 4) << 32);
        Assert.Equal(cmdline, CString(m, cmd));
        Assert.True((ulong)cmdline.Length <= Zp(m, LinuxLoader.CmdlineSize, 4));
        // Initrd: where the header says, page-aligned, below initrd_addr_max, the bytes intact.
        ulong rd = Zp(m, LinuxLoader.RamdiskImage, 4) | (Zp(m, LinuxLoader.ExtRamdiskImage, 4) << 32);
        ulong rdSize = Zp(m, LinuxLoader.RamdiskSize, 4) | (Zp(m, LinuxLoader.ExtRamdiskSize, 4) << 32);
        Assert.Equal((ulong)initrd.Length, rdSize);
        Assert.Equal(0UL, rd & 0xfff);
        Assert.True(rd + rdSize - 1 <= Zp(m, LinuxLoader.InitrdAddrMax, 4));
        Assert.True(rd >= boot.KernelEnd, "the initrd does not overlap the kernel");
        var back = new byte[initrd.Length];
        m.Memory.ReadBytes(rd, back);
        Assert.Equal(initrd, back);
        // The RSDP the firmware made, by address (boot protocol 2.14's acpi_rsdp_addr).
        ulong rsdp = Zp(m, LinuxLoader.AcpiRsdpAddr, 8);
        Assert.Equal(m.Pc!.Acpi.RsdpAddress, rsdp);
        var sig = new byte[8];
        m.Memory.ReadBytes(rsdp, sig);
        Assert.Equal("RSD PTR ", Encoding.ASCII.GetString(sig));
        // e820: sorted, disjoint, the whole of RAM; low RAM usable below the EBDA; the ACPI tables
        // ACPI data (type 3); the kernel, the initrd and the loader's structures in usable RAM.
        var map = E820(m);
        Assert.Equal(boot.MemoryMap, map);
        ulong at = 0;
        foreach (var (b, len, type) in map)
        {
            Assert.Equal(at, b);
            Assert.True(len > 0 && type is 1 or 2 or 3);
            at = b + len;
        }
        Assert.Equal(m.Memory.RamSize, at);
        uint TypeOf(ulong pa) => map.Single(e => pa >= e.Base && pa < e.Base + e.Length).Type;
        Assert.Equal(LinuxLoader.E820Acpi, TypeOf(rsdp));
        Assert.Equal(LinuxLoader.E820Ram, TypeOf(0));
        Assert.Equal(LinuxLoader.E820Reserved, TypeOf(0xa0000));              // VGA hole
        Assert.Equal(LinuxLoader.E820Reserved, TypeOf(0xf0000));              // BIOS
        foreach (ulong pa in (ulong[])[boot.KernelStart, boot.KernelEnd - 1, rd, rd + rdSize - 1, LinuxLoader.ZeroPage, cmd])
            Assert.Equal(LinuxLoader.E820Ram, TypeOf(pa));
        // The CPU at the 64-bit entry: long mode, paging, the boot GDT's __BOOT_CS/__BOOT_DS, IF=0, RSI.
        var cpu = m.Cpus[0];
        Assert.Equal(boot.Entry, cpu.Rip);
        Assert.Equal(LinuxLoader.ZeroPage, cpu.GetRegister(Cpu.RSI));
        Assert.Equal(LinuxLoader.BootCs, cpu.Segs[(int)SegReg.CS].Selector);
        foreach (var s in (SegReg[])[SegReg.DS, SegReg.ES, SegReg.SS]) Assert.Equal(LinuxLoader.BootDs, cpu.Segs[(int)s].Selector);
        Assert.False(cpu.InterruptsEnabled);
        Assert.True((cpu.Efer & Cpu.EferLMA) != 0 && (cpu.Cr0 & 0x80000001) == 0x80000001);
        Assert.Equal(0x00af9a000000ffffUL, m.Memory.Read64(cpu.Gdtr.Base + LinuxLoader.BootCs)); // 64-bit code, flat
        Assert.Equal(0x00cf92000000ffffUL, m.Memory.Read64(cpu.Gdtr.Base + LinuxLoader.BootDs)); // data, flat 4 GiB
        // Identity-mapped: the kernel, the zero page, the command line, the initrd.
        foreach (ulong pa in (ulong[])[boot.Entry, boot.KernelEnd - 1, LinuxLoader.ZeroPage, cmd, rd, rd + rdSize - 1])
        {
            Assert.True(cpu.TryReadLinear(pa, out byte viaPaging), $"0x{pa:x} is mapped");
            Assert.Equal((byte)m.Memory.Read(pa, 1), viaPaging);
        }
        // The APs wait for their start-up IPI.
        for (int i = 1; i < m.Cpus.Length; i++) Assert.Equal(CpuState.WaitForSipi, m.Cpus[i].State);
    }

    [Fact]
    public void VmlinuxZeroPageFollowsTheBootProtocol()
    {
        string elf = SyntheticVmlinux();
        try
        {
            var m = new MachineT(new MachineConfig { Platform = MachinePlatform.Pc, MemoryBytes = 128UL << 20, CpuCount = 2 });
            byte[] initrd = Enumerable.Range(0, 10_000).Select(i => (byte)(i ^ 0x5a)).ToArray();
            var boot = LinuxLoader.LoadVmlinux(m, ElfImage.Read(elf), "console=ttyS0 lvd.cpus=2", initrd);
            AssertZeroPage(m, boot, "console=ttyS0 lvd.cpus=2", initrd);
            Assert.Equal(KernelPhys, boot.Entry);
            Assert.Equal(KernelPhys + 0x4000 + 0x10000, boot.KernelEnd);
            Assert.Equal(boot.KernelEnd - KernelPhys, Zp(m, LinuxLoader.InitSize, 4));
            Assert.Equal(KernelPhys, Zp(m, LinuxLoader.PrefAddress, 8));
            // Segments at their physical addresses, the bss zeroed.
            Assert.Equal((byte)(7 * 5), (byte)m.Memory.Read(KernelPhys + 5, 1));
            Assert.Equal((byte)(13 * 3 + 1), (byte)m.Memory.Read(KernelPhys + 0x4003, 1));
            Assert.Equal(0UL, m.Memory.Read64(KernelPhys + 0x4000 + 0x800));
        }
        finally { File.Delete(elf); }
    }

    [Fact]
    public void BzImageHeaderIsCopiedAndThePayloadEnteredAtItsStartPlus0x200()
    {
        var m = Pc();
        var bz = SyntheticBzImage();
        byte[] initrd = [1, 2, 3];
        var boot = LinuxLoader.LoadBzImage(m, bz, "quiet", initrd);
        AssertZeroPage(m, boot, "quiet", initrd);
        Assert.Equal(KernelPhys + 0x200, boot.Entry);
        Assert.Equal(0x1234UL, Zp(m, 0x20e, 2));                        // the kernel's own header fields
        Assert.Equal(0x800000UL, Zp(m, LinuxLoader.InitSize, 4));
        Assert.Equal(KernelPhys + 0x800000, boot.KernelEnd);             // init_size is reserved for the decompressor
        Assert.Equal(0UL, Zp(m, 0x26c, 4));                              // nothing past the header's end (0x202 + byte 0x201)
        var payload = new byte[0x5000];
        m.Memory.ReadBytes(KernelPhys, payload);
        Assert.Equal(bz.AsSpan(5 * 512).ToArray(), payload);
    }

    [Fact]
    public void BadImagesAndCommandLinesAreRefused()
    {
        Assert.Contains("no Linux setup header",
            Assert.Throws<LoadException>(() => LinuxLoader.LoadBzImage(Pc(), new byte[4096], "", null)).Message);
        Assert.Contains("without a 64-bit entry",
            Assert.Throws<LoadException>(() => LinuxLoader.LoadBzImage(Pc(), SyntheticBzImage(version: 0x020b), "", null)).Message);
        Assert.Contains("without a 64-bit entry",
            Assert.Throws<LoadException>(() => LinuxLoader.LoadBzImage(Pc(), SyntheticBzImage(xloadflags: 0), "", null)).Message);
        Assert.Contains("at most 2047",
            Assert.Throws<LoadException>(() => LinuxLoader.LoadBzImage(Pc(), SyntheticBzImage(), new string('x', 2048), null)).Message);
        Assert.Contains("does not fit", Assert.Throws<LoadException>(() => LinuxLoader.LoadBzImage(Pc(16), SyntheticBzImage(), "", null)).Message);
        Assert.Contains("PC platform",
            Assert.Throws<LoadException>(() => LinuxLoader.LoadBzImage(new MachineT(new MachineConfig()), SyntheticBzImage(), "", null)).Message);
        Assert.Contains("initramfs", Assert.Throws<LoadException>(() => LinuxLoader.LoadBzImage(Pc(24), SyntheticBzImage(), "", new byte[16 << 20]))
            .Message);
    }

    [Fact]
    public void TheBuiltKernelsHeaderAgreesWithTheProtocol()
    {
        // The real bzImage (built by the project's script, cached): its own setup header in the zero page.
        var kernel = LinuxBootTests.Kernel();
        var m = Pc(256);
        var bz = File.ReadAllBytes(kernel.BzImage);
        var boot = LinuxLoader.LoadBzImage(m, bz, "console=ttyS0", [0]);
        AssertZeroPage(m, boot, "console=ttyS0", [0]);
        Assert.Equal(0x020fUL, Zp(m, LinuxLoader.Version, 2));            // Linux 6.1 speaks protocol 2.15
        Assert.Equal(KernelPhys, Zp(m, LinuxLoader.PrefAddress, 8));       // CONFIG_PHYSICAL_START, not relocatable
        var m2 = Pc(256);
        var boot2 = LinuxLoader.LoadVmlinux(m2, ElfImage.Read(kernel.Vmlinux), "console=ttyS0", [0]);
        AssertZeroPage(m2, boot2, "console=ttyS0", [0]);
        Assert.Equal(KernelPhys, boot2.Entry);                              // startup_64, physical
    }
}

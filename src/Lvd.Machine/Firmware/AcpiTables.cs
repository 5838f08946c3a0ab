using System.Buffers.Binary;
using System.Text;
using Lvd.Machine.Memory;

namespace Lvd.Machine.Firmware;

/// <summary>What the firmware's ACPI tables describe (<see cref="AcpiTables.Build"/>).</summary>
public sealed record AcpiPlatform
{
    /// <summary>Physical address of the tables (the RSDP first, 16-byte aligned; in the BIOS area a legacy scan finds it).</summary>
    public ulong Address { get; init; } = 0xe0000;
    public int CpuCount { get; init; } = 1;
    public ulong LocalApicAddress { get; init; } = 0xfee00000;
    public int IoApicId { get; init; }
    public ulong IoApicAddress { get; init; } = Devices.IoApic.DefaultBase;
    /// <summary>The RTC register holding the century (FADT CENTURY).</summary>
    public byte CenturyRegister { get; init; } = (byte)Devices.CmosRtc.CenturyRegister;
    /// <summary>
    /// Non-null: a MADT multiprocessor-wakeup structure (ACPI 6.4 section 5.2.12.19) naming this
    /// 4 KiB-aligned mailbox, through which an OS starts application processors (the
    /// machine's firmware answers it: <see cref="MpWakeupMailbox"/>).
    /// </summary>
    public ulong? MpWakeupMailbox { get; init; }
}

/// <summary>
/// The platform firmware's ACPI tables (ACPI 6.4 chapter 5), built from the machine's
/// configuration: RSDP (revision 2, both checksums), XSDT and RSDT, FADT (revision 6,
/// hardware-reduced ACPI: no SMI command port, no PM blocks, no FACS; physical APIC destination
/// mode forced; IA-PC boot flags: legacy devices present, no 8042, no VGA; the RTC's century
/// register), a DSDT whose AML describes COM1 (hardware-reduced ACPI has no legacy ISA IRQs: an OS
/// finds a device's interrupt in its _CRS), and the MADT (a Processor Local APIC
/// structure per vCPU, Processor Local x2APIC for APIC IDs from 255 on, the I/O APIC, the ISA
/// override IRQ 0 -> GSI 2, LINT1 as NMI, and the optional multiprocessor-wakeup mailbox).
/// </summary>
public sealed class AcpiTables
{
    public const string OemId = "LVDSHP", OemTableId = "LVDSHARP", CreatorId = "LVD#";

    private AcpiTables(ulong address, byte[] image, IReadOnlyDictionary<string, ulong> tables)
    {
        Address = address;
        Image = image;
        Tables = tables;
    }

    /// <summary>Where the tables start; the RSDP is the first structure.</summary>
    public ulong Address { get; }
    public ulong RsdpAddress => Address;
    public byte[] Image { get; }
    /// <summary>Physical address of each table by signature (RSDP, XSDT, RSDT, FACP, DSDT, APIC).</summary>
    public IReadOnlyDictionary<string, ulong> Tables { get; }

    /// <summary>The memory the tables occupy, whole pages (an OS's memory map must reserve it: e820 type 3, ACPI reclaimable).</summary>
    public (ulong Base, ulong Size) Region => (Address & ~0xfffUL, ((Address + (ulong)Image.Length + 0xfff) & ~0xfffUL) - (Address & ~0xfffUL));

    public void Install(PhysicalMemory memory) => memory.WriteBytes(Address, Image);

    public static AcpiTables Build(AcpiPlatform p)
    {
        if ((p.Address & 15) != 0) throw new ArgumentException("the RSDP must be 16-byte aligned", nameof(p));
        if (p.MpWakeupMailbox is { } mb && (mb & 0xfff) != 0) throw new ArgumentException("the wakeup mailbox must be 4 KiB aligned", nameof(p));
        var image = new List<byte>();
        var at = new Dictionary<string, ulong>();
        ulong Place(string name, byte[] table)
        {
            while (image.Count % 16 != 0) image.Add(0);
            ulong a = p.Address + (ulong)image.Count;
            at[name] = a;
            image.AddRange(table);
            return a;
        }
        // The layout is fixed, so each table's address is known before the ones that point to it are made.
        const int rsdpSize = 48, xsdtSize = 36 + 2 * 8, rsdtSize = 36 + 2 * 4, fadtSize = 276;
        ulong xsdt = p.Address + rsdpSize, rsdt = xsdt + Align(xsdtSize), fadt = rsdt + Align(rsdtSize), dsdt = fadt + Align(fadtSize);
        byte[] dsdtTable = Dsdt();
        ulong madt = dsdt + Align(dsdtTable.Length);
        Place("RSDP", Pad(Rsdp(xsdt, rsdt), rsdpSize));
        Place("XSDT", Sdt("XSDT", 1, Pointers([fadt, madt], 8)));
        Place("RSDT", Sdt("RSDT", 1, Pointers([fadt, madt], 4)));
        Place("FACP", Fadt(dsdt, p.CenturyRegister));
        Place("DSDT", dsdtTable);
        Place("APIC", Madt(p));
        if (at["XSDT"] != xsdt || at["RSDT"] != rsdt || at["FACP"] != fadt || at["DSDT"] != dsdt || at["APIC"] != madt)
            throw new InvalidOperationException("ACPI layout mismatch");
        return new AcpiTables(p.Address, image.ToArray(), at);
    }

    private static ulong Align(int n) => (ulong)((n + 15) & ~15);

    private static byte[] Pad(byte[] b, int n) { Array.Resize(ref b, n); return b; }

    private static byte[] Pointers(ulong[] addresses, int width)
    {
        var b = new byte[addresses.Length * width];
        for (int i = 0; i < addresses.Length; i++)
            if (width == 8) BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(8 * i), addresses[i]);
            else BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(4 * i), (uint)addresses[i]);
        return b;
    }

    /// <summary>The checksum byte that makes <paramref name="b"/> sum to zero.</summary>
    public static byte Checksum(ReadOnlySpan<byte> b)
    {
        byte sum = 0;
        foreach (byte x in b) sum += x;
        return (byte)-sum;
    }

    private static byte[] Rsdp(ulong xsdt, ulong rsdt)
    {
        var b = new byte[36];
        Encoding.ASCII.GetBytes("RSD PTR ").CopyTo(b, 0);
        Encoding.ASCII.GetBytes(OemId).CopyTo(b, 9);
        b[15] = 2; // revision: ACPI 2.0 and later
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(16), (uint)rsdt);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(20), 36);
        BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(24), xsdt);
        b[8] = Checksum(b.AsSpan(0, 20));
        b[32] = Checksum(b);
        return b;
    }

    /// <summary>A system description table: the 36-byte header (ACPI 5.2.6) and <paramref name="body"/>, checksummed.</summary>
    private static byte[] Sdt(string signature, byte revision, ReadOnlySpan<byte> body)
    {
        var b = new byte[36 + body.Length];
        Encoding.ASCII.GetBytes(signature).CopyTo(b, 0);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(4), (uint)b.Length);
        b[8] = revision;
        Encoding.ASCII.GetBytes(OemId).CopyTo(b, 10);
        Encoding.ASCII.GetBytes(OemTableId).CopyTo(b, 16);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(24), 1);
        Encoding.ASCII.GetBytes(CreatorId).CopyTo(b, 28);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(32), 1);
        body.CopyTo(b.AsSpan(36));
        b[9] = Checksum(b);
        return b;
    }

    private static byte[] Fadt(ulong dsdt, byte century)
    {
        // Offsets are the FADT's (ACPI 6.4 Table 5.9) minus the 36-byte header.
        var f = new byte[276 - 36];
        BinaryPrimitives.WriteUInt32LittleEndian(f.AsSpan(40 - 36), (uint)dsdt);
        f[108 - 36] = century;
        const ushort legacyDevices = 1, vgaNotPresent = 4;
        BinaryPrimitives.WriteUInt16LittleEndian(f.AsSpan(109 - 36), legacyDevices | vgaNotPresent);
        const uint wbinvd = 1, powerButtonIsControlMethod = 1 << 4, sleepButtonIsControlMethod = 1 << 5,
            forceApicPhysicalDestination = 1 << 19, hardwareReduced = 1 << 20;
        BinaryPrimitives.WriteUInt32LittleEndian(f.AsSpan(112 - 36),
            wbinvd | powerButtonIsControlMethod | sleepButtonIsControlMethod | forceApicPhysicalDestination | hardwareReduced);
        f[131 - 36] = 4; // FADT minor version: ACPI 6.4
        BinaryPrimitives.WriteUInt64LittleEndian(f.AsSpan(140 - 36), dsdt);
        return Sdt("FACP", 6, f);
    }

    /// <summary>
    /// The DSDT's AML (ACPI 6.4 chapter 20):
    /// <code>
    /// Scope (\_SB) {
    ///   Device (COM1) {
    ///     Name (_HID, EisaId ("PNP0501"))   // a 16550A-compatible UART
    ///     Name (_UID, One)
    ///     Name (_CRS, ResourceTemplate () { IO (Decode16, 0x3F8, 0x3F8, 1, 8)  IRQNoFlags () {4} })
    ///   }
    /// }
    /// </code>
    /// In hardware-reduced mode Linux has no legacy PIC and so no ISA IRQs: the UART's interrupt
    /// is usable only as the GSI its _CRS names (ISA IRQ 4 is GSI 4, no override).
    /// </summary>
    private static byte[] Dsdt()
    {
        byte[] crs =
        [
            0x47, 0x01, 0xf8, 0x03, 0xf8, 0x03, 0x01, 0x08, // IO: decode16, min = max = 0x3f8, alignment 1, length 8
            0x22, 0x10, 0x00,                               // IRQNoFlags: IRQ 4 (edge, active high)
            0x79, 0x00,                                     // End tag (checksum 0: not computed)
        ];
        var device = new List<byte>();
        device.AddRange("COM1"u8.ToArray());
        device.AddRange([0x08, .. "_HID"u8.ToArray(), 0x0c, 0x41, 0xd0, 0x05, 0x01]); // Name, DWordConst EisaId("PNP0501")
        device.AddRange([0x08, .. "_UID"u8.ToArray(), 0x01]);                          // Name, One
        var buffer = new List<byte> { 0x0a, (byte)crs.Length };                        // BufferSize: ByteConst
        buffer.AddRange(crs);
        device.AddRange([0x08, .. "_CRS"u8.ToArray(), 0x11, .. PkgLength(buffer.Count), .. buffer]); // Name, BufferOp
        var scope = new List<byte> { (byte)'\\', (byte)'_', (byte)'S', (byte)'B', (byte)'_' };
        scope.AddRange([0x5b, 0x82, .. PkgLength(device.Count), .. device]);           // DeviceOp
        return Sdt("DSDT", 2, [0x10, .. PkgLength(scope.Count), .. scope]);             // ScopeOp
    }

    /// <summary>An AML PkgLength for <paramref name="content"/> bytes after it (ACPI 20.2.4: one byte below 64, else 2 to 4).</summary>
    private static byte[] PkgLength(int content)
    {
        if (content + 1 < 0x40) return [(byte)(content + 1)];
        int total = content + 2;
        if (total < 0x1000) return [(byte)(0x40 | (total & 0xf)), (byte)(total >> 4)];
        total = content + 3;
        return [(byte)(0x80 | (total & 0xf)), (byte)(total >> 4), (byte)(total >> 12)];
    }

    private static byte[] Madt(AcpiPlatform p)
    {
        var b = new List<byte>();
        void U8(int v) => b.Add((byte)v);
        void U16(int v) { U8(v); U8(v >> 8); }
        void U32(uint v) { U16((int)(v & 0xffff)); U16((int)(v >> 16)); }
        U32((uint)p.LocalApicAddress);
        U32(1); // PCAT_COMPAT: the 8259 pair is present (masked by the OS)
        bool anyX2 = false;
        for (int id = 0; id < p.CpuCount; id++)
        {
            const uint enabled = 1;
            if (id < 255) { U8(0); U8(8); U8(id); U8(id); U32(enabled); }                 // Processor Local APIC
            else { anyX2 = true; U8(9); U8(16); U16(0); U32((uint)id); U32(enabled); U32((uint)id); } // Processor Local x2APIC
        }
        U8(1); U8(12); U8(p.IoApicId); U8(0); U32((uint)p.IoApicAddress); U32(0);             // I/O APIC, GSI base 0
        U8(2); U8(10); U8(0); U8(0); U32(2); U16(0);                                          // ISA IRQ 0 -> GSI 2, bus-conforming
        U8(4); U8(6); U8(0xff); U16(0); U8(1);                                                // LINT1 is NMI on every processor
        if (anyX2) { U8(0x0a); U8(12); U16(0); U32(0xffffffff); U8(1); U8(0); U8(0); U8(0); }
        if (p.MpWakeupMailbox is { } mailbox)
        {
            U8(0x10); U8(16); U16(0); U32(0);                                                 // Multiprocessor Wakeup, mailbox version 0
            U32((uint)mailbox); U32((uint)(mailbox >> 32));
        }
        return Sdt("APIC", 5, b.ToArray());
    }
}

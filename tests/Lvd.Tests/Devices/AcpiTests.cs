using System.Buffers.Binary;
using System.Diagnostics;
using System.Text;
using Lvd.Machine.Firmware;

namespace Lvd.Tests.Devices;

/// <summary>
/// The firmware's ACPI tables, walked from the RSDP as an OS does (checksums, lengths, the XSDT's
/// pointers) and disassembled by ACPICA's iasl (Debian's acpica-tools, installed by scripts/setup.sh).
/// </summary>
public sealed class AcpiTests
{
    private static byte[] Read(PcBench b, ulong pa, int n)
    {
        var buf = new byte[n];
        b.Machine.Memory.ReadBytes(pa, buf);
        return buf;
    }

    private static byte Sum(byte[] t) { byte s = 0; foreach (var x in t) s += x; return s; }

    /// <summary>The table at <paramref name="pa"/>, checked: its length and a zero checksum.</summary>
    private static byte[] Table(PcBench b, ulong pa, string signature)
    {
        var header = Read(b, pa, 36);
        Assert.Equal(signature, Encoding.ASCII.GetString(header, 0, 4));
        var t = Read(b, pa, (int)BinaryPrimitives.ReadUInt32LittleEndian(header.AsSpan(4)));
        Assert.Equal(0, Sum(t));
        return t;
    }

    private static Dictionary<string, byte[]> Walk(PcBench b)
    {
        ulong rsdpAt = b.Pc.Acpi.RsdpAddress;
        var rsdp = Read(b, rsdpAt, 36);
        Assert.Equal("RSD PTR ", Encoding.ASCII.GetString(rsdp, 0, 8));
        Assert.Equal(0, Sum(rsdp[..20]));
        Assert.Equal(0, Sum(rsdp));
        Assert.Equal(2, rsdp[15]);
        var tables = new Dictionary<string, byte[]>();
        var xsdt = Table(b, BinaryPrimitives.ReadUInt64LittleEndian(rsdp.AsSpan(24)), "XSDT");
        tables["XSDT"] = xsdt;
        var rsdt = Table(b, BinaryPrimitives.ReadUInt32LittleEndian(rsdp.AsSpan(16)), "RSDT");
        for (int i = 36; i < xsdt.Length; i += 8)
        {
            ulong pa = BinaryPrimitives.ReadUInt64LittleEndian(xsdt.AsSpan(i));
            Assert.Equal((uint)pa, BinaryPrimitives.ReadUInt32LittleEndian(rsdt.AsSpan(36 + (i - 36) / 2)));
            string sig = Encoding.ASCII.GetString(Read(b, pa, 4));
            tables[sig] = Table(b, pa, sig);
        }
        var fadt = tables["FACP"];
        ulong dsdt = BinaryPrimitives.ReadUInt64LittleEndian(fadt.AsSpan(140));
        Assert.Equal(dsdt, BinaryPrimitives.ReadUInt32LittleEndian(fadt.AsSpan(40)));
        tables["DSDT"] = Table(b, dsdt, "DSDT");
        return tables;
    }

    [Fact]
    public void TablesWalkFromTheRsdpWithValidChecksums()
    {
        var b = new PcBench(cpus: 4);
        var t = Walk(b);
        Assert.Equal(["APIC", "DSDT", "FACP", "XSDT"], t.Keys.Order());
        var fadt = t["FACP"];
        Assert.Equal(276, fadt.Length);
        Assert.Equal(6, fadt[8]);
        uint flags = BinaryPrimitives.ReadUInt32LittleEndian(fadt.AsSpan(112));
        Assert.NotEqual(0u, flags & (1u << 20));  // hardware-reduced ACPI
        Assert.NotEqual(0u, flags & (1u << 19));  // physical APIC destination mode
        Assert.Equal(0u, BinaryPrimitives.ReadUInt32LittleEndian(fadt.AsSpan(48))); // no SMI command port
        Assert.Equal(0x32, fadt[108]);            // the RTC's century register
        Assert.Equal(1 | 4, BinaryPrimitives.ReadUInt16LittleEndian(fadt.AsSpan(109))); // legacy devices, no VGA; 8042 absent
        var (start, size) = b.Pc.Acpi.Region;
        Assert.True(start <= b.Pc.Acpi.RsdpAddress && b.Pc.Acpi.Tables["APIC"] + (ulong)t["APIC"].Length <= start + size);
    }

    [Fact]
    public void MadtListsEveryVcpuTheIoApicAndTheTimerOverride()
    {
        var b = new PcBench(cpus: 4);
        var madt = Walk(b)["APIC"];
        Assert.Equal(0xfee00000u, BinaryPrimitives.ReadUInt32LittleEndian(madt.AsSpan(36)));
        Assert.Equal(1u, BinaryPrimitives.ReadUInt32LittleEndian(madt.AsSpan(40))); // PCAT_COMPAT
        var apicIds = new List<int>();
        bool ioApic = false, overrideIrq0 = false, nmi = false;
        for (int i = 44; i < madt.Length; i += madt[i + 1])
        {
            switch (madt[i])
            {
                case 0:
                    Assert.Equal(8, madt[i + 1]);
                    apicIds.Add(madt[i + 3]);
                    Assert.Equal(1u, BinaryPrimitives.ReadUInt32LittleEndian(madt.AsSpan(i + 4)));
                    break;
                case 1:
                    ioApic = BinaryPrimitives.ReadUInt32LittleEndian(madt.AsSpan(i + 4)) == 0xfec00000 &&
                             BinaryPrimitives.ReadUInt32LittleEndian(madt.AsSpan(i + 8)) == 0;
                    break;
                case 2:
                    overrideIrq0 = madt[i + 2] == 0 && madt[i + 3] == 0 && BinaryPrimitives.ReadUInt32LittleEndian(madt.AsSpan(i + 4)) == 2;
                    break;
                case 4: nmi = madt[i + 5] == 1; break;
                default: Assert.Fail($"unexpected MADT entry type {madt[i]}"); break;
            }
        }
        Assert.Equal([0, 1, 2, 3], apicIds);
        Assert.True(ioApic && overrideIrq0 && nmi);
    }

    [Fact]
    public void WakeupMailboxAndX2ApicEntriesWhenAsked()
    {
        var t = AcpiTables.Build(new AcpiPlatform { CpuCount = 257, MpWakeupMailbox = 0x9f000 });
        int madt = (int)(t.Tables["APIC"] - t.Address);
        var m = t.Image.AsSpan(madt, (int)BinaryPrimitives.ReadUInt32LittleEndian(t.Image.AsSpan(madt + 4))).ToArray();
        Assert.Equal(0, Sum(m));
        int lapic = 0, x2 = 0;
        ulong mailbox = 0;
        for (int i = 44; i < m.Length; i += m[i + 1])
        {
            if (m[i] == 0) lapic++;
            if (m[i] == 9) { x2++; Assert.True(BinaryPrimitives.ReadUInt32LittleEndian(m.AsSpan(i + 4)) >= 255); }
            if (m[i] == 0x10) mailbox = BinaryPrimitives.ReadUInt64LittleEndian(m.AsSpan(i + 8));
        }
        Assert.Equal((255, 2, 0x9f000UL), (lapic, x2, mailbox));
        Assert.Throws<ArgumentException>(() => AcpiTables.Build(new AcpiPlatform { MpWakeupMailbox = 0x9f010 }));
    }

    [Fact]
    public void IaslDisassemblesEveryTableWithoutComplaint()
    {
        var b = new PcBench(cpus: 2);
        var tables = Walk(b);
        string dir = Directory.CreateTempSubdirectory("lvd-acpi").FullName;
        try
        {
            foreach (var (sig, bytes) in tables)
            {
                string dat = Path.Combine(dir, sig.ToLowerInvariant() + ".dat");
                File.WriteAllBytes(dat, bytes);
                var psi = new ProcessStartInfo("iasl", ["-d", dat])
                {
                    RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = dir,
                };
                using var p = Process.Start(psi)!;
                string output = p.StandardOutput.ReadToEnd() + p.StandardError.ReadToEnd();
                p.WaitForExit();
                Assert.True(p.ExitCode == 0, $"iasl -d {sig}: {output}");
                string dsl = File.ReadAllText(Path.ChangeExtension(dat, ".dsl"));
                Assert.DoesNotContain("Incorrect checksum", dsl);
                Assert.DoesNotContain("Unknown", dsl);
                Assert.DoesNotContain("Error", output);
                if (sig == "APIC")
                {
                    Assert.Contains("Processor Local APIC", dsl);
                    Assert.Contains("I/O APIC", dsl);
                    Assert.Contains("Interrupt Source Override", dsl);
                }
                if (sig == "FACP") Assert.Contains("Hardware Reduced (V5) : 1", dsl);
                if (sig == "DSDT")
                {
                    Assert.True(dsl.Contains("Scope (\\_SB)"), dsl);
                    // COM1 as an OS finds it in hardware-reduced ACPI: its I/O ports and its interrupt.
                    Assert.Contains("Device (COM1)", dsl);
                    Assert.Contains("Name (_HID, EisaId (\"PNP0501\")", dsl);
                    Assert.Matches(@"IO \(Decode16,\s*0x03F8,\s*// Range Minimum\s*0x03F8,\s*// Range Maximum\s*0x01,\s*// Alignment\s*0x08,", dsl);
                    Assert.Matches(@"IRQNoFlags \(\)\s*\{4\}", dsl);
                }
            }
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}

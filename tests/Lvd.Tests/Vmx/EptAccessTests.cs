using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace Lvd.Tests.Vmx;

/// <summary>
/// EPT permission and misconfiguration conformance, after kvm-unit-tests' ept_access_test_*:
/// one leaf at guest-physical <see cref="TestGpa"/> (4 KiB, 2 MiB or 1 GiB) in front of host
/// page <see cref="VmxHarness.Data"/>, and a read, a write and a fetch through it.
/// </summary>
public sealed class EptAccessTests
{
    /// <summary>Guest-linear = guest-physical (guest 2 MiB identity pages above 1 GiB).</summary>
    public const ulong TestGpa = 0x4020_0100;
    public const ulong TestHpa = VmxHarness.Data + 0x100;
    private const ulong Pattern = 0xA5A5_5A5A_1234_8765UL, Written = 0x1122_3344_5566_7788UL;

    public enum Kind { Read, Write, Fetch }

    /// <summary>Builds the EPT path for <see cref="TestGpa"/> ending in a leaf at <paramref name="level"/>; returns the leaf slot.</summary>
    internal static ulong InstallLeaf(VmxHarness h, int level, ulong leafBits)
    {
        ulong pdpt = h.EptPdpt;
        ulong slotPdpte = pdpt + 1 * 8; // GPA bits 38:30 = 1
        if (level == 3)
        {
            h.Mem.Write64(slotPdpte, 0UL | leafBits | Ept.LargePage); // 1 GiB: GPA 1 GiB.. -> HPA 0..
            return slotPdpte;
        }
        ulong pd = h.NewPage();
        h.Mem.Write64(slotPdpte, pd | VmxHarness.Rwx);
        ulong slotPde = pd + 1 * 8; // GPA bits 29:21 = 1
        if (level == 2)
        {
            h.Mem.Write64(slotPde, VmxHarness.Data | leafBits | Ept.LargePage);
            return slotPde;
        }
        ulong pt = h.NewPage();
        h.Mem.Write64(slotPde, pt | VmxHarness.Rwx);
        h.Mem.Write64(pt, VmxHarness.Data | leafBits); // GPA bits 20:12 = 0
        // The next page is ordinary memory, so only the leaf under test differs from 2 MiB/1 GiB leaves.
        h.Mem.Write64(pt + 8, (VmxHarness.Data + 0x1000) | VmxHarness.Rwx | VmxHarness.Wb);
        return pt;
    }

    /// <summary>Guest code: one access of <paramref name="kind"/> to <see cref="TestGpa"/>, then "done".</summary>
    internal static AssemblerResult AccessGuest(VmxHarness h, Kind kind, out ulong accessRip)
    {
        // Code at the test page (reached by the fetch): ECX = C0DE, done.
        var t = VmxHarness.Asm();
        t.mov(ecx, 0xC0DE);
        VmxHarness.EmitDone(t);
        if (kind == Kind.Fetch) h.WriteCode(TestHpa, t);
        else h.Mem.Write64(TestHpa, Pattern);

        var at = default(Label);
        var r = h.Guest(a =>
        {
            at = a.CreateLabel();
            a.mov(rbx, TestGpa);
            a.mov(rcx, Written);
            a.Label(ref at);
            switch (kind)
            {
                case Kind.Read: a.mov(rax, __qword_ptr[rbx]); break;
                case Kind.Write: a.mov(__qword_ptr[rbx], rcx); break;
                default: a.jmp(rbx); break;
            }
            VmxHarness.EmitDone(a);
        });
        accessRip = r.GetLabelRIP(at);
        return r;
    }

    public static IEnumerable<object[]> Matrix()
    {
        foreach (int level in new[] { 1, 2, 3 })
            for (int perms = 0; perms < 8; perms++)
                foreach (var k in new[] { Kind.Read, Kind.Write, Kind.Fetch })
                    yield return [level, perms, k];
    }

    [Theory]
    [MemberData(nameof(Matrix))]
    public void LeafPermissionsDecideEveryAccess(int level, int perms, Kind kind)
    {
        var h = new VmxHarness();
        InstallLeaf(h, level, (ulong)perms | VmxHarness.Wb);
        AccessGuest(h, kind, out ulong accessRip);
        h.Enter();
        var x = h.Single();

        bool misconfigured = (perms & 2) != 0 && (perms & 1) == 0; // SDM 28.3.3.1: W without R is a misconfiguration
        ulong need = kind switch { Kind.Read => 1UL, Kind.Write => 2UL, _ => 4UL };
        if (misconfigured)
        {
            // SDM 27.2.1 / 28.3.3.1: EPT misconfiguration, exit 49, guest-physical address saved.
            Assert.Equal(ExitReason.EptMisconfiguration, x.Reason);
            Assert.Equal(TestGpa, x.GuestPhysical);
            Assert.Equal(kind == Kind.Fetch ? TestGpa : accessRip, x.GuestRip);
        }
        else if (((ulong)perms & need) == 0)
        {
            // SDM Table 27-7: bits 2:0 access, 5:3 R/W/X of the translation, 7 linear valid, 8 final translation.
            Assert.Equal(ExitReason.EptViolation, x.Reason);
            Assert.Equal(need | ((ulong)perms << 3) | (1UL << 7) | (1UL << 8), x.Qualification & 0x1ff);
            Assert.Equal(TestGpa, x.GuestPhysical);
            Assert.Equal(TestGpa, x.GuestLinear);
            // A fetch faults on the target (the instruction at the test page); data accesses on the access.
            Assert.Equal(kind == Kind.Fetch ? TestGpa : accessRip, x.GuestRip);
        }
        else
        {
            Assert.Equal(ExitReason.Vmcall, x.Reason);
            Assert.Equal(VmxHarness.Done, x.R15);
            switch (kind)
            {
                case Kind.Read: Assert.Equal(Pattern, x.Rax); break;
                case Kind.Write: Assert.Equal(Written, h.Mem.Read64(TestHpa)); break;
                default: Assert.Equal(0xC0DEUL, x.Rcx); break;
            }
        }
        if (x.Reason != ExitReason.Vmcall && kind == Kind.Write) Assert.Equal(Pattern, h.Mem.Read64(TestHpa)); // nothing landed
    }

    /// <summary>
    /// Execute-only leaf (SDM 28.3.2, IA32_VMX_EPT_VPID_CAP[0]): a fetch succeeds, then a read of the same page exits
    /// with bits 3-5 = 100b.
    /// </summary>
    [Fact]
    public void ExecuteOnlyPageRunsButCannotBeRead()
    {
        var h = new VmxHarness();
        InstallLeaf(h, 1, Ept.Exec | VmxHarness.Wb);
        var t = VmxHarness.Asm();
        t.mov(rax, __qword_ptr[rbx + 0x80]); // read from the page it runs in
        VmxHarness.EmitDone(t);
        h.WriteCode(TestHpa, t);
        h.Guest(a => { a.mov(rbx, TestGpa); a.jmp(rbx); });
        h.Enter();
        var x = h.Single();
        Assert.Equal(ExitReason.EptViolation, x.Reason);
        Assert.Equal(1UL | (4UL << 3) | (1UL << 7) | (1UL << 8), x.Qualification & 0x1ff);
        Assert.Equal(TestGpa + 0x80, x.GuestPhysical);
        Assert.Equal(TestGpa, x.GuestRip);
    }

    public static IEnumerable<object[]> ReservedBitCases()
    {
        // (level of the leaf, which entry to poison: "leaf"/"pde"/"pdpte", bit)
        foreach (int bit in new[] { 46, 47, 51 })
        {
            yield return [1, "leaf", bit];
            yield return [1, "pde", bit];
            yield return [2, "leaf", bit];
            yield return [3, "leaf", bit];
        }
        yield return [1, "pde", 3];   // non-leaf bits 7:3 reserved (SDM Table 28-4)
        yield return [1, "pdpte", 6]; // non-leaf bits 7:3 reserved (SDM Table 28-3)
        yield return [2, "leaf", 12]; // 2 MiB leaf: bits 20:12 reserved (SDM Table 28-4)
        yield return [3, "leaf", 29]; // 1 GiB leaf: bits 29:12 reserved (SDM Table 28-2)
    }

    /// <summary>SDM 28.3.3.1: a present entry with a reserved bit set is an EPT misconfiguration (exit 49).</summary>
    [Theory]
    [MemberData(nameof(ReservedBitCases))]
    public void ReservedBitIsMisconfiguration(int level, string entry, int bit)
    {
        var h = new VmxHarness();
        ulong leafSlot = InstallLeaf(h, level, VmxHarness.Rwx | VmxHarness.Wb);
        ulong slot = entry switch
        {
            "leaf" => leafSlot,
            "pdpte" => h.EptPdpt + 8,
            _ => (h.Mem.Read64(h.EptPdpt + 8) & 0x000f_ffff_ffff_f000UL) + 8,
        };
        h.Mem.Write64(slot, h.Mem.Read64(slot) | (1UL << bit));
        AccessGuest(h, Kind.Read, out ulong rip);
        h.Enter();
        var x = h.Single();
        Assert.Equal(ExitReason.EptMisconfiguration, x.Reason);
        Assert.Equal(TestGpa, x.GuestPhysical);
        Assert.Equal(rip, x.GuestRip);
    }

    /// <summary>SDM 28.3.3.1: EPT memory types 2, 3 and 7 in a leaf are reserved (misconfiguration); 0, 1, 4, 5, 6 are valid.</summary>
    [Theory]
    [InlineData(1, 0, false)] [InlineData(1, 1, false)] [InlineData(1, 2, true)] [InlineData(1, 3, true)]
    [InlineData(1, 4, false)] [InlineData(1, 5, false)] [InlineData(1, 6, false)] [InlineData(1, 7, true)]
    [InlineData(2, 2, true)] [InlineData(2, 7, true)] [InlineData(3, 3, true)] [InlineData(3, 0, false)]
    public void LeafMemoryType(int level, int type, bool misconfig)
    {
        var h = new VmxHarness();
        InstallLeaf(h, level, VmxHarness.Rwx | ((ulong)type << 3));
        AccessGuest(h, Kind.Read, out _);
        h.Enter();
        var x = h.Single();
        if (misconfig)
        {
            Assert.Equal(ExitReason.EptMisconfiguration, x.Reason);
            Assert.Equal(TestGpa, x.GuestPhysical);
        }
        else
        {
            Assert.Equal(ExitReason.Vmcall, x.Reason);
            Assert.Equal(Pattern, x.Rax);
        }
    }

    /// <summary>SDM Table 28-1: bit 7 of an EPT PML4E is reserved (misconfiguration, exit 49).</summary>
    [Fact]
    public void LargePageBitInPml4eIsMisconfiguration()
    {
        var h = new VmxHarness();
        const ulong gpa = 0x80_0000_0000UL + 0x100; // PML4 slot 1
        // Guest: PML4[1] -> a PDPT with a 1 GiB identity page at 512 GiB.
        h.Mem.Write64(VmxHarness.Pml4 + 8, VmxHarness.SparePt | 7);
        h.Mem.Write64(VmxHarness.SparePt, 0x80_0000_0000UL | 0x87);
        ulong eptPdpt = h.NewPage();
        h.Mem.Write64(eptPdpt, 0UL | VmxHarness.Rwx | VmxHarness.Wb | Ept.LargePage);
        h.Mem.Write64(h.Ept.Root + 8, eptPdpt | VmxHarness.Rwx | Ept.LargePage);
        h.Guest(a => { a.mov(rbx, gpa); a.mov(rax, __qword_ptr[rbx]); VmxHarness.EmitDone(a); });
        h.Enter();
        var x = h.Single();
        Assert.Equal(ExitReason.EptMisconfiguration, x.Reason);
        Assert.Equal(gpa, x.GuestPhysical);

        // The same tables without bit 7 translate (control).
        var h2 = new VmxHarness();
        h2.Mem.Write64(VmxHarness.Pml4 + 8, VmxHarness.SparePt | 7);
        h2.Mem.Write64(VmxHarness.SparePt, 0x80_0000_0000UL | 0x87);
        ulong p2 = h2.NewPage();
        h2.Mem.Write64(p2, 0UL | VmxHarness.Rwx | VmxHarness.Wb | Ept.LargePage);
        h2.Mem.Write64(h2.Ept.Root + 8, p2 | VmxHarness.Rwx);
        h2.Mem.Write64(0x100, 0x77);
        h2.Guest(a => { a.mov(rbx, gpa); a.mov(rax, __qword_ptr[rbx]); VmxHarness.EmitDone(a); });
        h2.Enter();
        Assert.Equal(ExitReason.Vmcall, h2.Single().Reason);
        Assert.Equal(0x77UL, h2.Single().Rax);
    }

    /// <summary>
    /// SDM 28.3.3.2 / Table 27-7: an EPT violation on a guest paging-structure access has bit 8 = 0,
    /// bit 7 = 1 and the guest-physical address of the paging-structure entry.
    /// </summary>
    [Theory]
    [InlineData(0UL)]        // not present
    [InlineData(Ept.Exec)]   // execute-only: not readable
    public void ViolationDuringGuestPageWalk(ulong ptPagePerms)
    {
        var h = new VmxHarness();
        const ulong la = 0x4020_3100; // guest PT index 3
        // Guest: PD1[1] -> 4 KiB page table at SparePt mapping 0x40200000.. identity.
        for (ulong i = 0; i < 512; i++) h.Mem.Write64(VmxHarness.SparePt + i * 8, (0x4020_0000UL + (i << 12)) | 7);
        h.Mem.Write64(VmxHarness.Pd1 + 8, VmxHarness.SparePt | 7);
        Assert.True(h.Ept.Map(VmxHarness.SparePt, VmxHarness.SparePt, 0x1000, ptPagePerms));
        h.Guest(a => { a.mov(rbx, la); a.mov(rax, __qword_ptr[rbx]); VmxHarness.EmitDone(a); });
        h.Enter();
        var x = h.Single();
        Assert.Equal(ExitReason.EptViolation, x.Reason);
        Assert.Equal(1UL | (ptPagePerms << 3) | (1UL << 7), x.Qualification & 0x1ff);
        Assert.Equal(VmxHarness.SparePt + 3 * 8, x.GuestPhysical);
        Assert.Equal(la, x.GuestLinear);
    }

    /// <summary>
    /// SDM 28.3.3.2: setting a guest accessed/dirty flag is a write to the paging structure, so a
    /// read-only EPT mapping of a guest page table causes an EPT violation (write, bit 8 = 0).
    /// </summary>
    [Fact]
    public void AccessedFlagUpdateInReadOnlyPageTableIsAWriteViolation()
    {
        var h = new VmxHarness();
        const ulong la = 0x4020_3100;
        for (ulong i = 0; i < 512; i++) h.Mem.Write64(VmxHarness.SparePt + i * 8, (0x4020_0000UL + (i << 12)) | 7); // A = 0
        h.Mem.Write64(VmxHarness.Pd1 + 8, VmxHarness.SparePt | 7 | 0x20);
        InstallLeaf(h, 2, VmxHarness.Rwx | VmxHarness.Wb); // the final guest-physical page is mapped
        Assert.True(h.Ept.Map(VmxHarness.SparePt, VmxHarness.SparePt, 0x1000, Ept.Read));
        h.Guest(a => { a.mov(rbx, la); a.mov(rax, __qword_ptr[rbx]); VmxHarness.EmitDone(a); });
        h.Enter();
        var x = h.Single();
        Assert.True(x.Reason == ExitReason.EptViolation,
            $"exit {x.Reason} (PTE now 0x{h.Mem.Read64(VmxHarness.SparePt + 3 * 8):x}): the A-bit write to a read-only (EPT) guest page table did " +
                $"not exit");
        Assert.Equal(2UL | (1UL << 3) | (1UL << 7), x.Qualification & 0x1ff);
        Assert.Equal(VmxHarness.SparePt + 3 * 8, x.GuestPhysical);
        Assert.Equal(0UL, h.Mem.Read64(VmxHarness.SparePt + 3 * 8) & 0x20); // the A bit was not set
    }

    /// <summary>
    /// SDM 28.3.3.2: an EPT violation is caused by an access that is actually made. Code that ends
    /// well before the end of its page must run even if the next guest-physical page is not mapped
    /// in EPT (no fetch from that page is ever made).
    /// </summary>
    [Fact]
    public void CodeBeforeAnUnmappedNextPageRuns()
    {
        var h = new VmxHarness();
        ulong pt = InstallLeaf(h, 1, VmxHarness.Rwx | VmxHarness.Wb);
        h.Mem.Write64(pt + 8, 0); // GPA 0x40201000: not present
        var t = VmxHarness.Asm();
        t.mov(ecx, 0xC0DE);
        VmxHarness.EmitDone(t);
        h.WriteCode(TestHpa, t);
        h.Guest(a => { a.mov(rbx, TestGpa); a.jmp(rbx); });
        h.Enter();
        var x = h.Single();
        Assert.True(x.Reason == ExitReason.Vmcall,
            $"unexpected exit {x.Reason}: qualification 0x{x.Qualification:x}, GPA 0x{x.GuestPhysical:x}, GLA 0x{x.GuestLinear:x}, RIP " +
            $"0x{x.GuestRip:x}");
        Assert.Equal(0xC0DEUL, x.Rcx);
    }

    /// <summary>
    /// SDM 28.3.3.2 / Table 27-7: an instruction that straddles into a page without EPT execute permission is a fetch
    /// violation at that page's first byte.
    /// </summary>
    [Fact]
    public void InstructionStraddlingIntoNonExecutablePageIsFetchViolation()
    {
        var h = new VmxHarness();
        ulong pt = InstallLeaf(h, 1, VmxHarness.Rwx | VmxHarness.Wb);
        h.Mem.Write64(pt + 8, (VmxHarness.Data + 0x1000) | Ept.Read | Ept.Write | VmxHarness.Wb); // next page: RW, not X
        const ulong start = 0x4020_0ffe; // mov ecx, imm32 (5 bytes): 2 bytes here, 3 on the next page
        var t = VmxHarness.Asm();
        t.mov(ecx, 0xC0DE);
        VmxHarness.EmitDone(t);
        var ms = new MemoryStream();
        t.Assemble(new Iced.Intel.StreamCodeWriter(ms), start);
        h.Mem.WriteBytes(VmxHarness.Data + 0xffe, ms.ToArray());
        h.Guest(a => { a.mov(rbx, start); a.jmp(rbx); });
        h.Enter();
        var x = h.Single();
        Assert.Equal(ExitReason.EptViolation, x.Reason);
        Assert.Equal(4UL | (3UL << 3) | (1UL << 7) | (1UL << 8), x.Qualification & 0x1ff);
        Assert.Equal(0x4020_1000UL, x.GuestPhysical);
        Assert.Equal(0x4020_1000UL, x.GuestLinear);
        Assert.Equal(start, x.GuestRip);
    }
}

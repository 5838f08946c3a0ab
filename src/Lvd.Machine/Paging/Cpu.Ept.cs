using Lvd.Machine.Memory;
using Lvd.Machine.Paging;
using Lvd.Machine.Vmx;

namespace Lvd.Machine.Execution;

/// <summary>
/// EPT translation (SDM 28.3): in VMX non-root operation with "enable EPT", every
/// guest-physical address, including each guest paging-structure entry, is translated
/// through the current EPT; EPT violations and misconfigurations are VM exits.
/// </summary>
public sealed partial class Cpu
{
    private bool _eptActive;

    private ulong EptTranslate(ulong gpa, Access access, bool final, ulong la) => EptTranslate(gpa, access, final, la, out _);

    /// <summary>
    /// Guest-physical to host-physical through the current EPT (SDM 28.3.2), charging each
    /// entry read. Raises EPT misconfiguration (49) or EPT violation (48) exits with the
    /// qualification of SDM Table 27-7.
    /// </summary>
    private ulong EptTranslate(ulong gpa, Access access, bool final, ulong la, out ulong perms)
    {
        var v = Vmcs!;
        ulong eptp = v.Eptp;
        bool ad = (eptp & Ept.EptpAccessedDirty) != 0;
        const ulong addrMask = PageWalker.AddrMask;
        perms = Ept.Read | Ept.Write | Ept.Exec;
        if ((gpa >> MaxPhysAddrBits) != 0) throw EptViolation(gpa, access, final, la, 0);
        var walk = new PageWalker.Cursor(eptp, gpa);
        while (true)
        {
            int level = walk.Level;
            ulong entryAddr = walk.EntryAddress;
            ulong e = Memory.Read64(entryAddr);
            PageWalkRefs++;
            Cycles += Costs.MemRef;
            ulong rwx = e & PageWalker.EptPresent;
            if (rwx == 0) throw EptViolation(gpa, access, final, la, 0);
            // SDM 28.3.3.1: misconfigurations.
            if ((rwx & Ept.Write) != 0 && (rwx & Ept.Read) == 0) throw EptMisconfig(gpa, la);
            if ((e & ~addrMask & 0x000f_0000_0000_0000UL) != 0 || ((e >> MaxPhysAddrBits) & ((1UL << (52 - MaxPhysAddrBits)) - 1)) != 0)
                throw EptMisconfig(gpa, la);
            bool leaf = walk.IsLeaf(e);
            if (level == 4 && (e & 0xf8) != 0) throw EptMisconfig(gpa, la);
            if (!leaf && (e & 0x78) != 0) throw EptMisconfig(gpa, la);
            perms &= rwx;
            if (leaf)
            {
                ulong type = (e >> 3) & 7;
                if (type is 2 or 3 or 7) throw EptMisconfig(gpa, la);
                ulong size = 1UL << walk.Shift;
                if (level > 1 && ((e & addrMask) & (size - 1) & ~0xfffUL) != 0) throw EptMisconfig(gpa, la);
                ulong need = access switch { Access.Read => Ept.Read, Access.Write => Ept.Write, _ => Ept.Exec };
                if ((perms & need) == 0) throw EptViolation(gpa, access, final, la, perms);
                if (ad)
                {
                    ulong want = e | Ept.Accessed | (access == Access.Write && final ? Ept.Dirty : 0);
                    if (want != e) Memory.Write64(entryAddr, want);
                }
                return walk.Output(e);
            }
            if (ad && (e & Ept.Accessed) == 0) Memory.Write64(entryAddr, e | Ept.Accessed);
            walk.Down(e);
        }
    }

    private static VmExit EptViolation(ulong gpa, Access access, bool final, ulong la, ulong perms)
    {
        ulong q = access switch { Access.Read => 1UL, Access.Write => 2UL, _ => 4UL };
        q |= (perms & 7) << 3;
        q |= 1UL << 7;                 // guest-linear address valid
        if (final) q |= 1UL << 8;      // the access was to the final translation, not a paging structure
        return new VmExit(ExitReason.EptViolation, q) { GuestPhysical = gpa, GuestLinear = la };
    }

    private static VmExit EptMisconfig(ulong gpa, ulong la) =>
        new(ExitReason.EptMisconfiguration) { GuestPhysical = gpa, GuestLinear = la };

    /// <summary>
    /// Guest-physical to host-physical through the VMCS's EPT (identity without EPT), peeked:
    /// no exits, no accessed bits, no cycles; false if unmapped.
    /// </summary>
    public bool TryGuestPhysToHost(ulong gpa, out ulong hpa)
    {
        hpa = gpa;
        var v = Vmcs;
        if (v == null || !v.EptEnabled) return true;
        return PageWalker.TryTranslate(Memory, v.Eptp, gpa, PageWalker.EptPresent, out hpa);
    }
}

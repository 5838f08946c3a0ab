using Lvd.Machine.Vmx;

namespace Lvd.Machine.Execution;

/// <summary>VM functions (SDM 25.5.5): EPTP switching, the one VMFUNC leaf LVD uses.</summary>
public sealed partial class Cpu
{
    public long VmFuncs { get; private set; }


    /// <summary>VMFUNC (SDM Vol. 2B VMFUNC, Vol. 3C 25.5.5): leaf 0 switches the EPTP without a VM exit.</summary>
    private void ExecVmfunc()
    {
        var v = Vmcs;
        // #UD outside non-root operation, if "enable VM functions" is 0, or if EAX >= 64.
        if (!NonRoot || v == null || !v.Has2(Proc2Controls.EnableVmFunctions)) throw GuestFault.Ud();
        ulong func = R(RAX) & 0xffffffff;
        if (func >= 64) throw GuestFault.Ud();
        // SDM 25.5.5.2: a function not enabled in the VM-function controls exits (reason 59).
        if ((v.VmFunctionControls & (1UL << (int)func)) == 0) throw new VmExit(ExitReason.Vmfunc);
        ulong index = R(RCX) & 0xffffffff;
        // SDM 25.5.5.3: ECX >= 512 -> VM exit 59.
        if (index >= 512) throw new VmExit(ExitReason.Vmfunc);
        ulong eptp = Memory.Read64(v.EptpListAddress + index * 8);
        // An invalid EPTP in the list -> VM exit 59.
        if (!Ept.IsValidEptp(eptp, MaxPhysAddrBits)) throw new VmExit(ExitReason.Vmfunc);
        int from = v.EptpIndex;
        v.Eptp = eptp;
        v.EptpIndex = (ushort)index;
        VmFuncs++;
        _events?.Vmfunc(this, from, (int)index, eptp);
        // No flush: combined mappings are tagged by EPTP (and VPID), so each context keeps its own.
        SelectTlbSet();
    }
}

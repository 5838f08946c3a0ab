using Lvd.Machine.Decoding;
using Lvd.Machine.Memory;
using Lvd.Machine.Diagnostics;
using Lvd.Machine.Vmx;

namespace Lvd.Machine.Cpu;

/// <summary>
/// VMX non-root operation (SDM Vol. 3C chapters 25-28): VM entry and exit, EPT translation,
/// TLB contexts tagged by VPID and EPTP, VMFUNC, the preemption timer and event injection.
/// The machine raises exits with SDM reasons and qualifications; what happens next is the
/// business of the <see cref="IVmxRoot"/> (the hypervisor).
/// </summary>
public sealed partial class Cpu
{
    private sealed class TlbSet(Tlb sup, Tlb user)
    {
        public readonly Tlb Sup = sup, User = user;
    }

    private readonly Dictionary<(ushort Vpid, ulong Eptp), TlbSet> _tlbSets = new();
    private bool _eptActive;
    private IVmxRoot? _root;
    private long _preemptDeadline = long.MaxValue;
    private bool _virtualNmiBlocked;
    private bool _nmiPending, _nmiBlocked;

    /// <summary>The current VMCS (null before the first VM entry).</summary>
    public Vmcs? Vmcs { get; private set; }
    /// <summary>True while the vCPU runs as a guest in VMX non-root operation.</summary>
    public bool NonRoot { get; private set; }

    public long VmExits { get; private set; }
    public long VmFuncs { get; private set; }
    public readonly long[] ExitsByReason = new long[64];

    /// <summary>Unit of the VMX-preemption timer: it counts down once every 2^5 TSC cycles (IA32_VMX_MISC[4:0] = 5).</summary>
    public const int PreemptionTimerShift = 5;

    private TlbSet TlbSetFor(ushort vpid, ulong eptp)
    {
        var key = (vpid, eptp & ~0xfffUL);
        if (!_tlbSets.TryGetValue(key, out var set)) _tlbSets[key] = set = new TlbSet(new Tlb(), new Tlb());
        return set;
    }

    /// <summary>Selects the TLB context of the current mode: (VPID, EPTP) in non-root operation, (0, 0) otherwise.</summary>
    private void SelectTlbSet()
    {
        var v = Vmcs;
        bool nonRoot = NonRoot && v != null;
        _eptActive = nonRoot && v!.EptEnabled;
        var set = TlbSetFor(nonRoot && v!.VpidEnabled ? v.Vpid : (ushort)0, _eptActive ? v!.Eptp : 0);
        _tlbSup = set.Sup;
        _tlbUser = set.User;
        SelectTlb();
    }

    /// <summary>INVVPID semantics: drop every translation tagged with <paramref name="vpid"/> (all VPIDs if null).</summary>
    public void InvalidateVpid(ushort? vpid)
    {
        foreach (var kv in _tlbSets)
            if (vpid == null || kv.Key.Vpid == vpid) { kv.Value.Sup.FlushAll(); kv.Value.User.FlushAll(); }
    }

    /// <summary>INVEPT semantics: drop every combined translation derived from <paramref name="eptp"/> (all EPTPs if null).</summary>
    public void InvalidateEpt(ulong? eptp)
    {
        foreach (var kv in _tlbSets)
            if (kv.Key.Eptp != 0 && (eptp == null || kv.Key.Eptp == (eptp.Value & ~0xfffUL))) { kv.Value.Sup.FlushAll(); kv.Value.User.FlushAll(); }
    }

    // ---------------- EPT ----------------

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
        const ulong addrMask = ((1UL << MaxPhysAddrBits) - 1) & ~0xfffUL;
        ulong table = eptp & addrMask;
        perms = Ept.Read | Ept.Write | Ept.Exec;
        if ((gpa >> MaxPhysAddrBits) != 0) throw EptViolation(gpa, access, final, la, 0);
        for (int level = 4; level >= 1; level--)
        {
            int shift = 12 + 9 * (level - 1);
            ulong entryAddr = table + (((gpa >> shift) & 0x1ff) << 3);
            ulong e = Memory.Read64(entryAddr);
            PageWalkRefs++;
            Cycles += Costs.MemRef;
            ulong rwx = e & 7;
            if (rwx == 0) throw EptViolation(gpa, access, final, la, 0);
            // SDM 28.3.3.1: misconfigurations.
            if ((rwx & Ept.Write) != 0 && (rwx & Ept.Read) == 0) throw EptMisconfig(gpa, la);
            if ((e & ~addrMask & 0x000f_0000_0000_0000UL) != 0 || ((e >> MaxPhysAddrBits) & ((1UL << (52 - MaxPhysAddrBits)) - 1)) != 0)
                throw EptMisconfig(gpa, la);
            bool leaf = level == 1 || (level <= 3 && (e & Ept.LargePage) != 0);
            if (level == 4 && (e & 0xf8) != 0) throw EptMisconfig(gpa, la);
            if (!leaf && (e & 0x78) != 0) throw EptMisconfig(gpa, la);
            perms &= rwx;
            if (leaf)
            {
                ulong type = (e >> 3) & 7;
                if (type is 2 or 3 or 7) throw EptMisconfig(gpa, la);
                ulong size = 1UL << shift;
                if (level > 1 && ((e & addrMask) & (size - 1) & ~0xfffUL) != 0) throw EptMisconfig(gpa, la);
                ulong need = access switch { Access.Read => Ept.Read, Access.Write => Ept.Write, _ => Ept.Exec };
                if ((perms & need) == 0) throw EptViolation(gpa, access, final, la, perms);
                if (ad)
                {
                    ulong want = e | Ept.Accessed | (access == Access.Write && final ? Ept.Dirty : 0);
                    if (want != e) Memory.Write64(entryAddr, want);
                }
                return ((e & addrMask) & ~(size - 1)) | (gpa & (size - 1));
            }
            if (ad && (e & Ept.Accessed) == 0) Memory.Write64(entryAddr, e | Ept.Accessed);
            table = e & addrMask;
        }
        throw new InvalidOperationException("unreachable");
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

    // ---------------- VM entry ----------------

    /// <summary>
    /// VMLAUNCH/VMRESUME: checks the controls and guest state the machine uses (SDM 26.2,
    /// 26.3), loads the guest state, injects a pending event and continues in non-root mode.
    /// Throws <see cref="VmEntryException"/> naming the failed check.
    /// </summary>
    public void VmEnter(Vmcs v, IVmxRoot root)
    {
        CheckControls(v);
        CheckGuestState(v);
        Vmcs = v;
        _root = root;
        LoadGuestState(v);
        NonRoot = true;
        if (!v.VpidEnabled) FlushVpidZero();
        SelectTlbSet();
        _preemptDeadline = (v.PinBased & PinControls.PreemptionTimer) != 0
            ? Cycles + ((long)v.PreemptionTimerValue << PreemptionTimerShift)
            : long.MaxValue;
        State = v.GuestActivityState == 1 ? CpuState.Halted : CpuState.Running;
        if ((v.EntryInterruptionInfo & InterruptionInfo.Valid) != 0) InjectEvent(v);
        _attention = true;
    }

    private static void CheckControls(Vmcs v)
    {
        // Secondary controls are ignored when not activated (SDM 24.6.2): Vmcs.Has2 checks that.
        if (v.Has2(Proc2Controls.EnableVpid) && v.Vpid == 0) throw new VmEntryException("VM entry failed: \"enable VPID\" with VPID 0000H (SDM 26.2.1.1)");
        if (v.Cr3TargetCount is < 0 or > 4) throw new VmEntryException("VM entry failed: CR3-target count above 4 (SDM 26.2.1.1)");
        if ((v.ProcBased & ProcControls.UseIoBitmaps) != 0 && ((v.IoBitmapA | v.IoBitmapB) & 0xfff) != 0)
            throw new VmEntryException("VM entry failed: I/O-bitmap addresses must be 4-KByte aligned (SDM 26.2.1.1)");
        if ((v.ProcBased & ProcControls.UseMsrBitmaps) != 0 && (v.MsrBitmap & 0xfff) != 0)
            throw new VmEntryException("VM entry failed: MSR-bitmap address must be 4-KByte aligned (SDM 26.2.1.1)");
        if ((v.PinBased & PinControls.VirtualNmis) != 0 && (v.PinBased & PinControls.NmiExiting) == 0)
            throw new VmEntryException("VM entry failed: \"virtual NMIs\" requires \"NMI exiting\" (SDM 26.2.1.1)");
        if ((v.ProcBased & ProcControls.NmiWindowExiting) != 0 && (v.PinBased & PinControls.VirtualNmis) == 0)
            throw new VmEntryException("VM entry failed: \"NMI-window exiting\" requires \"virtual NMIs\" (SDM 26.2.1.1)");
        if (v.EptEnabled && !Ept.IsValidEptp(v.Eptp, MaxPhysAddrBits))
            throw new VmEntryException($"VM entry failed: invalid EPTP 0x{v.Eptp:x} (SDM 26.2.1.1)");
        if (v.Has2(Proc2Controls.EnableVmFunctions))
        {
            if ((v.VmFunctionControls & ~VmFunctionControls.EptpSwitching) != 0)
                throw new VmEntryException("VM entry failed: unsupported VM-function control bits set (SDM 26.2.1.1)");
            if ((v.VmFunctionControls & VmFunctionControls.EptpSwitching) != 0)
            {
                if (!v.EptEnabled) throw new VmEntryException("VM entry failed: EPTP switching requires \"enable EPT\" (SDM 26.2.1.1)");
                if ((v.EptpListAddress & 0xfff) != 0 || (v.EptpListAddress >> MaxPhysAddrBits) != 0)
                    throw new VmEntryException("VM entry failed: EPTP-list address must be 4-KByte aligned within the physical-address width (SDM 26.2.1.1)");
            }
        }
    }

    private static void CheckGuestState(Vmcs v)
    {
        // No unrestricted guest: protected mode and paging on; long mode only (SDM 26.3.1.1).
        if ((v.GuestCr0 & (Cr0PE | Cr0PG)) != (Cr0PE | Cr0PG)) throw new VmEntryException("VM entry failed: invalid guest state: CR0.PE and CR0.PG must be 1 (SDM 26.3.1.1)");
        if ((v.GuestCr4 & Cr4VMXE) == 0) throw new VmEntryException("VM entry failed: invalid guest state: CR4.VMXE must be 1 in VMX operation (IA32_VMX_CR4_FIXED0, SDM 26.3.1.1)");
        if ((v.GuestCr4 & Cr4PAE) == 0 || (v.GuestEfer & (EferLMA | EferLME)) != (EferLMA | EferLME))
            throw new VmEntryException("VM entry failed: invalid guest state: this machine runs IA-32e mode guests only (SDM 26.3.1.1)");
        if ((v.GuestSegs[(int)SegReg.CS].Attributes & (1u << 13)) == 0) throw new VmEntryException("VM entry failed: invalid guest state: CS.L must be 1 (SDM 26.3.1.2)");
        if (!IsCanonical(v.GuestRip)) throw new VmEntryException("VM entry failed: invalid guest state: RIP not canonical (SDM 26.3.1.4)");
        if ((v.GuestRflags & 2) == 0 || (v.GuestRflags & ~0x3f7fd7UL & ~2UL) != 0) throw new VmEntryException("VM entry failed: invalid guest state: RFLAGS reserved bits (SDM 26.3.1.4)");
        if (v.GuestActivityState > 1) throw new VmEntryException("VM entry failed: invalid guest state: unsupported activity state (SDM 26.3.1.5)");
    }

    private void LoadGuestState(Vmcs v)
    {
        Cr0 = v.GuestCr0;
        Cr3 = v.GuestCr3;
        Cr4 = v.GuestCr4;
        Efer = v.GuestEfer;
        Pat = v.GuestPat;
        SysenterCs = v.GuestSysenterCs; SysenterEsp = v.GuestSysenterEsp; SysenterEip = v.GuestSysenterEip;
        Dr[7] = v.GuestDr7;
        for (int i = 0; i < 6; i++) Segs[i] = v.GuestSegs[i];
        Tr = v.GuestTr; Ldtr = v.GuestLdtr; Gdtr = v.GuestGdtr; Idtr = v.GuestIdtr;
        Rip = v.GuestRip;
        R(RSP) = v.GuestRsp;
        SetRflags(v.GuestRflags);
        _interruptShadow = (v.GuestInterruptibility & 3) != 0;
        // Bit 3: blocking by NMI, virtual-NMI blocking when "virtual NMIs" is on (SDM 26.6.1).
        bool nmiBlocking = (v.GuestInterruptibility & 8) != 0;
        if ((v.PinBased & PinControls.VirtualNmis) != 0) _virtualNmiBlocked = nmiBlocking; else _nmiBlocked = nmiBlocking;
        Cpl = Segs[(int)SegReg.CS].Dpl;
    }

    private void SaveGuestState(Vmcs v)
    {
        v.GuestCr0 = Cr0; v.GuestCr3 = Cr3; v.GuestCr4 = Cr4; v.GuestEfer = Efer; v.GuestPat = Pat;
        v.GuestSysenterCs = SysenterCs; v.GuestSysenterEsp = SysenterEsp; v.GuestSysenterEip = SysenterEip;
        v.GuestDr7 = Dr[7];
        for (int i = 0; i < 6; i++) v.GuestSegs[i] = Segs[i];
        v.GuestTr = Tr; v.GuestLdtr = Ldtr; v.GuestGdtr = Gdtr; v.GuestIdtr = Idtr;
        v.GuestRip = Rip;
        v.GuestRsp = R(RSP);
        v.GuestRflags = GetRflags();
        v.GuestInterruptibility = (_interruptShadow ? 1u : 0) | (_nmiBlocked || _virtualNmiBlocked ? 8u : 0);
        v.GuestActivityState = State == CpuState.Halted ? 1u : 0;
        if (_preemptDeadline != long.MaxValue)
            v.PreemptionTimerValue = (uint)Math.Max(0, (_preemptDeadline - Cycles) >> PreemptionTimerShift);
    }

    private void FlushVpidZero()
    {
        // SDM 28.3.3.1: without VPIDs, VM entries and exits invalidate all mappings of VPID 0.
        foreach (var kv in _tlbSets)
            if (kv.Key.Vpid == 0) { kv.Value.Sup.FlushAll(); kv.Value.User.FlushAll(); }
    }

    private void InjectEvent(Vmcs v)
    {
        uint info = v.EntryInterruptionInfo;
        v.EntryInterruptionInfo &= ~InterruptionInfo.Valid;
        int vector = (int)(info & 0xff);
        uint type = (info >> 8) & 7;
        bool hasError = (info & InterruptionInfo.ErrorCodeValid) != 0;
        if (type == InterruptionInfo.TypeNmi && (v.PinBased & PinControls.VirtualNmis) != 0) _virtualNmiBlocked = true;
        else if (type == InterruptionInfo.TypeNmi) _nmiBlocked = true;
        State = CpuState.Running;
        var kind = type switch
        {
            InterruptionInfo.TypeSoftwareInterrupt or InterruptionInfo.TypeSoftwareException or InterruptionInfo.TypePrivilegedSoftwareException => EventKind.Software,
            InterruptionInfo.TypeExternal => EventKind.External,
            _ => EventKind.Exception,
        };
        ulong returnRip = kind == EventKind.Software ? Rip + v.EntryInstructionLength : Rip;
        if (kind == EventKind.Exception) DeliverException(vector, hasError, v.EntryExceptionErrorCode, returnRip);
        else Deliver(vector, hasError, v.EntryExceptionErrorCode, kind, returnRip);
    }

    // ---------------- VM exit ----------------

    /// <summary>
    /// Performs a VM exit (SDM 27): records the exit information, saves the guest state, leaves
    /// non-root mode, charges the exit round trip, and hands control to the hypervisor. If the
    /// hypervisor resumes, VM entry happens here too.
    /// </summary>
    private void PerformVmExit(VmExit x, uint instructionLength, uint instructionInfo = 0)
    {
        var v = Vmcs!;
        // Cycles up to here belong to the guest code that exited (or to idle time in HLT).
        ProfileCheck(State == CpuState.Halted ? SampleKind.Idle : SampleKind.Code, Rip, (byte)Cpl, true);
        v.ExitReason = x.Reason;
        v.EntryFailure = false;
        v.ExitQualification = x.Qualification;
        v.GuestLinearAddress = x.GuestLinear;
        v.GuestPhysicalAddress = x.GuestPhysical;
        v.ExitInterruptionInfo = x.InterruptionInfo;
        v.ExitInterruptionErrorCode = x.InterruptionErrorCode;
        v.ExitInstructionLength = instructionLength;
        v.ExitInstructionInfo = x.InstructionInfo != 0 ? x.InstructionInfo : instructionInfo;
        // SDM 27.2.4: an exit during event delivery records the event that was being delivered.
        v.IdtVectoringInfo = _deliveringInfo;
        v.IdtVectoringErrorCode = _deliveringError;
        _deliveringInfo = 0;
        VmExits++;
        ExitsByReason[(int)x.Reason & 63]++;
        Cycles += Costs.VmExit;
        SaveGuestState(v);
        NonRoot = false;
        _preemptDeadline = long.MaxValue;
        if (!v.VpidEnabled) FlushVpidZero();
        SelectTlbSet();
        _attention = true;
        switch (_root!.HandleExit(this, v))
        {
            case ExitAction.Resume: VmEnter(v, _root); break;
            case ExitAction.LeaveVmx: LeaveVmx(v); break;
            default: State = CpuState.Stopped; break;
        }
        ProfileCheck(SampleKind.VmExit, (ulong)x.Reason, 0, false);
    }

    /// <summary>
    /// VMXOFF for a devirtualizing hypervisor: the vCPU continues natively from the VMCS's guest
    /// state (CR4.VMXE cleared), with no VMCS. Valid after an exit, or for a vCPU that is not
    /// running (its live state is then saved first).
    /// </summary>
    public void LeaveVmx(Vmcs v)
    {
        if (NonRoot) SaveGuestState(v);
        v.GuestCr4 &= ~Cr4VMXE;
        LoadGuestState(v);
        State = v.GuestActivityState == 1 ? CpuState.Halted : CpuState.Running;
        NonRoot = false;
        Vmcs = null;
        _root = null;
        _preemptDeadline = long.MaxValue;
        SelectTlbSet();
        FlushTlb(true);
        _attention = true;
    }

    /// <summary>Raises a VM exit from an instruction handler if in non-root operation.</summary>
    private void ExitIfNonRoot(ExitReason reason, ulong qualification = 0)
    {
        if (NonRoot) throw new VmExit(reason, qualification);
    }

    /// <summary>The modeled time of this vCPU's next timed event while halted (VMX-preemption timer), or long.MaxValue.</summary>
    public long NextTimedEvent => NonRoot ? _preemptDeadline : long.MaxValue;

    /// <summary>Idle time skip: a halted vCPU's clock jumps to its next timed event, which then fires.</summary>
    public void SkipToNextTimedEvent()
    {
        long t = NextTimedEvent;
        if (State != CpuState.Halted || t == long.MaxValue) return;
        if (Cycles < t) Cycles = t;
        // The VMX-preemption timer counts in the HLT state too (SDM 25.5.1); the exit saves
        // activity state HLT.
        _preemptDeadline = long.MaxValue;
        PerformVmExit(new VmExit(ExitReason.PreemptionTimer), 0);
    }

    /// <summary>Preemption timer and NMI-window checks at a block boundary; true if an exit happened.</summary>
    private bool VmxBoundaryEvents()
    {
        var v = Vmcs!;
        if (Cycles >= _preemptDeadline)
        {
            _preemptDeadline = long.MaxValue;
            PerformVmExit(new VmExit(ExitReason.PreemptionTimer), 0);
            return true;
        }
        if ((v.ProcBased & ProcControls.NmiWindowExiting) != 0 && !_virtualNmiBlocked)
        {
            PerformVmExit(new VmExit(ExitReason.NmiWindow), 0);
            return true;
        }
        // SDM 25.2: interrupt-window exiting exits at the first instruction boundary where
        // RFLAGS.IF = 1 and nothing blocks interrupts (STI/MOV SS shadow), before any external
        // interrupt is delivered; a VMM uses it to inject an interrupt the guest could not take.
        if ((v.ProcBased & ProcControls.InterruptWindowExiting) != 0 && (_rflags & FlagIF) != 0 && !_interruptShadow)
        {
            PerformVmExit(new VmExit(ExitReason.InterruptWindow), 0);
            return true;
        }
        return false;
    }

    // ---------------- VMFUNC ----------------

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
        v.Eptp = eptp;
        v.EptpIndex = (ushort)index;
        VmFuncs++;
        // No flush: combined mappings are tagged by EPTP (and VPID), so each context keeps its own.
        SelectTlbSet();
    }

    // ---------------- NMIs ----------------

    /// <summary>Signals an NMI to this vCPU (from an IPI or a device).</summary>
    public void RaiseNmi()
    {
        _nmiPending = true;
        _attention = true;
        if (State == CpuState.Halted) State = CpuState.Running;
    }

    /// <summary>Delivers a pending NMI (or exits for it); true if something happened.</summary>
    private bool NmiWindowCheck()
    {
        if (!_nmiPending) return false;
        if (NonRoot && (Vmcs!.PinBased & PinControls.NmiExiting) != 0)
        {
            _nmiPending = false;
            PerformVmExit(new VmExit(ExitReason.ExceptionOrNmi) { InterruptionInfo = InterruptionInfo.Make(Vectors.NMI, InterruptionInfo.TypeNmi, false) }, 0);
            return true;
        }
        if (_nmiBlocked) return false;
        _nmiPending = false;
        _nmiBlocked = true;
        Deliver(Vectors.NMI, false, 0, EventKind.External, Rip);
        return true;
    }

    /// <summary>IRET ends NMI blocking (and virtual-NMI blocking in a guest).</summary>
    private void NoteIret()
    {
        _nmiBlocked = false;
        _virtualNmiBlocked = false;
    }

    // ---------------- helpers for the hypervisor ----------------

    /// <summary>
    /// Translates a guest-linear address through the guest's page tables and, in non-root
    /// mode or when <paramref name="ept"/> is given, through EPT, without faulting, setting bits
    /// or charging cycles. For hypervisors decoding guest operands.
    /// </summary>
    public bool TryTranslateGuest(ulong la, out ulong hostPhys)
    {
        hostPhys = 0;
        if (!IsCanonical(la)) return false;
        ulong table = Cr3 & PteAddr;
        for (int level = 4; level >= 1; level--)
        {
            int shift = 12 + 9 * (level - 1);
            if (!TryGuestPhysToHost(table + (((la >> shift) & 0x1ff) << 3), out ulong entryHpa)) return false;
            ulong pte = Memory.Read64(entryHpa);
            if ((pte & PteP) == 0) return false;
            if (level == 1 || (level <= 3 && (pte & PtePS) != 0))
            {
                ulong size = 1UL << shift;
                return TryGuestPhysToHost((pte & PteAddr & ~(size - 1)) | (la & (size - 1)), out hostPhys);
            }
            table = pte & PteAddr;
        }
        return false;
    }

    /// <summary>Guest-physical to host-physical through the VMCS's EPT (identity without EPT); false if unmapped.</summary>
    public bool TryGuestPhysToHost(ulong gpa, out ulong hpa)
    {
        hpa = gpa;
        var v = Vmcs;
        if (v == null || !v.EptEnabled) return true;
        const ulong addrMask = ((1UL << MaxPhysAddrBits) - 1) & ~0xfffUL;
        ulong table = v.Eptp & addrMask;
        for (int level = 4; level >= 1; level--)
        {
            int shift = 12 + 9 * (level - 1);
            ulong e = Memory.Read64(table + (((gpa >> shift) & 0x1ff) << 3));
            if ((e & 7) == 0) return false;
            if (level == 1 || (level <= 3 && (e & Ept.LargePage) != 0))
            {
                ulong size = 1UL << shift;
                hpa = ((e & addrMask) & ~(size - 1)) | (gpa & (size - 1));
                return true;
            }
            table = e & addrMask;
        }
        return false;
    }
}

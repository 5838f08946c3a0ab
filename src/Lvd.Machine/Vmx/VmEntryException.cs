namespace Lvd.Machine.Vmx;

/// <summary>
/// VM entry failed its checks (SDM 26.2/26.3): the VMLAUNCH/VMRESUME of the hypervisor did
/// not enter the guest. The message names the failed check.
/// </summary>
public sealed class VmEntryException(string message) : Exception(message);

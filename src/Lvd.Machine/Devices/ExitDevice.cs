using Lvd.Machine.Execution;

namespace Lvd.Machine.Devices;

/// <summary>
/// Port 0xF4: a 32-bit write ends the run; the value is the guest's exit status (the low 8
/// bits become the process exit code, as on Linux).
/// </summary>
public sealed class ExitDevice(Action<int> onExit) : IPortDevice, IMachineDevice
{
    public string Name => "exit port 0xf4";
    public const ushort Port = 0xf4;

    public ulong In(Cpu cpu, ushort port, int size) => 0;

    public void Out(Cpu cpu, ushort port, int size, ulong value) => onExit((int)(value & 0xff));
}

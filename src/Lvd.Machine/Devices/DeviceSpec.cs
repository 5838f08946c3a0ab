namespace Lvd.Machine.Devices;

/// <summary>
/// A device the machine is built with beyond its platform's (<see cref="MachineConfig.Devices"/>):
/// a description that makes the device when the machine is made, after the platform's own devices,
/// in list order. The device claims its ports, MMIO, PCI slot and timed events itself.
/// </summary>
public abstract record DeviceSpec
{
    /// <summary>Makes the device on <paramref name="machine"/> (its registration follows: <see cref="Machine.Devices"/>).</summary>
    public abstract IMachineDevice Create(Machine machine);
}

/// <summary>A device registered with a machine (<see cref="Machine.Devices"/>).</summary>
public interface IMachineDevice
{
    /// <summary>A short name for reports ("COM1", "82599 00:03.0").</summary>
    string Name { get; }
}

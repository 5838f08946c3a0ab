using Lvd.Machine.Devices.Pci;
using Lvd.Machine.Firmware;

namespace Lvd.Machine.Devices;

/// <summary>
/// The PC platform's devices beyond COM1 and the exit port (<see cref="MachinePlatform.Pc"/>,
/// docs/PLATFORM.md): the I/O APIC, the masked 8259 pair, the 8254, port 0x61, port 0x80, the
/// CMOS RTC, PCI configuration mechanism #1 with the host bridge at 00:00.0, and the firmware's
/// ACPI tables in RAM. ISA IRQ n drives 8259 input n and I/O APIC pin n, except IRQ 0, which
/// drives pin 2 (the MADT's interrupt source override).
/// </summary>
public sealed class PcDevices : IMachineDevice
{
    public IoApic IoApic { get; }
    public Pic8259 Pic { get; }
    public Pit8254 Pit { get; }
    public SystemControlPort SystemControl { get; }
    public PostCodePort PostCode { get; }
    public CmosRtc Rtc { get; }
    public PciBus Pci { get; }
    public AcpiTables Acpi { get; }
    /// <summary>The firmware's AP wakeup mailbox (<see cref="MachineConfig.AcpiMpWakeupMailbox"/>), or null.</summary>
    public MpWakeupMailbox? MpWakeup { get; }
    public string Name => "PC platform";

    /// <summary>The I/O APIC pin (GSI) ISA IRQ <paramref name="irq"/> drives.</summary>
    public static int GsiOfIsaIrq(int irq) => irq == 0 ? 2 : irq;

    internal PcDevices(Machine machine)
    {
        var config = machine.Config;
        long hz = machine.Costs.ClockHz;
        IoApic = new IoApic(machine, id: 0);
        machine.Memory.AddMmio(IoApic.DefaultBase, IoApic.Size, IoApic);
        machine.Memory.AddMmio(LocalApic.DefaultBase, LocalApicWindow.Size, new LocalApicWindow(machine));
        Pic = new Pic8259();
        machine.Io.Register(Pic8259.MasterCommand, 2, Pic);
        machine.Io.Register(Pic8259.SlaveCommand, 2, Pic);
        machine.Io.Register(Pic8259.Elcr, 2, Pic);
        Pit = new Pit8254(machine.Timers, hz, (high, now) => SetIsaIrq(0, high, now), () => IoApic.Unmasked(GsiOfIsaIrq(0)));
        machine.Io.Register(Pit8254.FirstPort, 4, Pit);
        SystemControl = new SystemControlPort(Pit, hz);
        machine.Io.Register(SystemControlPort.Port, 1, SystemControl);
        PostCode = new PostCodePort();
        machine.Io.Register(PostCodePort.Port, 1, PostCode);
        Rtc = new CmosRtc(machine.Timers, hz, config.RtcStart, (high, now) => SetIsaIrq(CmosRtc.Irq, high, now),
            () => IoApic.Unmasked(CmosRtc.Irq));
        machine.Io.Register(CmosRtc.IndexPort, 2, Rtc);
        Pci = machine.EnsurePci();
        Acpi = AcpiTables.Build(new AcpiPlatform
        {
            Address = config.AcpiTablesAddress,
            CpuCount = config.CpuCount,
            IoApicAddress = IoApic.DefaultBase,
            MpWakeupMailbox = config.AcpiMpWakeupMailbox,
        });
        if (Acpi.Address + (ulong)Acpi.Image.Length > machine.GuestRamTop)
            throw new ArgumentOutOfRangeException(nameof(machine), "the ACPI tables do not fit in guest RAM");
        Acpi.Install(machine.Memory);
        if (config.AcpiMpWakeupMailbox is { } mailbox) MpWakeup = new MpWakeupMailbox(machine, mailbox, Acpi.Region.Base + Acpi.Region.Size);
        machine.Register(this);
    }

    /// <summary>ISA IRQ <paramref name="irq"/>'s wire goes high or low (devices call this).</summary>
    public void SetIsaIrq(int irq, bool high, long now)
    {
        Pic.SetIrq(irq, high);
        IoApic.SetWire(GsiOfIsaIrq(irq), high, now);
    }
}

using Lvd.Machine.Execution;

namespace Lvd.Machine.Devices;

/// <summary>
/// Port 0x80, the POST diagnostic port: firmware writes progress codes there and Linux writes
/// to it as an I/O delay (io_delay). A write is kept (the last code) and read back.
/// </summary>
public sealed class PostCodePort : IPortDevice
{
    public const ushort Port = 0x80;

    public byte LastCode { get; private set; }
    public long Writes { get; private set; }

    public ulong In(Cpu cpu, ushort port, int size) => LastCode;

    public void Out(Cpu cpu, ushort port, int size, ulong value)
    {
        LastCode = (byte)value;
        Writes++;
    }
}

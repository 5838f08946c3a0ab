namespace Lvd.Machine.Devices;

/// <summary>
/// COM1 (0x3F8), a 16550 UART as far as a polled transmitter needs: THR writes go to the
/// output sink, LSR always reports an empty transmitter, the scratch register works, the
/// other registers read as zero. No receive path and no interrupts yet.
/// </summary>
public sealed class SerialPort : IPortDevice
{
    public const ushort Com1 = 0x3f8;

    private readonly Stream _sink;
    private readonly MemoryStream? _capture;
    private byte _lcr, _ier, _scratch, _dll, _dlm, _mcr;

    public long BytesWritten { get; private set; }

    /// <param name="sink">Where guest output goes (e.g. stdout).</param>
    /// <param name="capture">Also keep a copy in memory (tests, reports).</param>
    public SerialPort(Stream sink, bool capture)
    {
        _sink = sink;
        _capture = capture ? new MemoryStream() : null;
    }

    public byte[] Captured => _capture?.ToArray() ?? [];

    public ulong In(int cpu, ushort port, int size)
    {
        bool dlab = (_lcr & 0x80) != 0;
        return (port - Com1) switch
        {
            0 => dlab ? _dll : 0u,
            1 => dlab ? _dlm : _ier,
            2 => 0x01, // IIR: no interrupt pending
            3 => _lcr,
            4 => _mcr,
            5 => 0x60, // LSR: THR empty, transmitter empty
            6 => 0xb0, // MSR: CTS, DSR, DCD
            _ => _scratch,
        };
    }

    public void Out(int cpu, ushort port, int size, ulong value)
    {
        byte b = (byte)value;
        bool dlab = (_lcr & 0x80) != 0;
        switch (port - Com1)
        {
            case 0:
                if (dlab) { _dll = b; break; }
                _sink.WriteByte(b);
                _capture?.WriteByte(b);
                BytesWritten++;
                if (b == '\n') _sink.Flush();
                break;
            case 1: if (dlab) _dlm = b; else _ier = b; break;
            case 3: _lcr = b; break;
            case 4: _mcr = b; break;
            case 7: _scratch = b; break;
        }
    }

    public void Flush() => _sink.Flush();
}

using Lvd.Machine.Execution;

namespace Lvd.Machine.Devices;

/// <summary>
/// A 16550A UART (National Semiconductor PC16550D datasheet), COM1 at 0x3F8 on IRQ 4: RBR/THR,
/// IER, IIR with the FIFO bits, FCR (16-byte TX and RX FIFOs, RX trigger 1/4/8/14), LCR with
/// the DLAB divisor latch, MCR (OUT2 gates the interrupt wire as on PCs; loopback wires TX to
/// RX and the MCR outputs to the MSR inputs), LSR, MSR, SCR. Interrupts by the datasheet's
/// priority: receiver line status, received data (trigger level), character timeout (4
/// character times without RX FIFO activity), THR empty, modem status. Transmitted bytes go
/// to the sink in order. Time is modeled: a character takes its frame (start, data, parity,
/// stop bits) times 16 clocks of the 1.8432 MHz crystal through the divisor; received bytes
/// arrive one character time apart, and transmission is paced the same way if
/// <c>pacing</c> is on (otherwise a byte leaves at once and the transmitter is always empty,
/// which is what a polled console needs). Host input waits while the RX FIFO is full (flow
/// control), so none is lost.
/// </summary>
public sealed class Uart16550 : IPortDevice, IMachineDevice
{
    public string Name => "COM1";
    public const ushort Com1 = 0x3f8;
    public const int Com1Irq = 4;
    public const long CrystalHz = 1_843_200;
    public const int FifoSize = 16;

    private const byte IerRda = 1, IerThre = 2, IerRls = 4, IerMsi = 8;
    private const byte McrDtr = 1, McrRts = 2, McrOut1 = 4, McrOut2 = 8, McrLoop = 0x10;
    private const byte LsrDr = 1, LsrOe = 2, LsrBi = 0x10, LsrErrors = 0x1e, LsrThre = 0x20, LsrTemt = 0x40;
    /// <summary>MSR inputs without loopback: a terminal that is there (CTS, DSR, DCD).</summary>
    private const byte LinesConnected = 0xb0;

    private readonly Stream _sink;
    private readonly MemoryStream? _capture;
    private readonly long _clockHz;
    private readonly bool _pacing;
    private readonly Action<bool, long>? _irq;
    private readonly TimedEvent _txDone, _rxArrive, _rxTimeout;

    private readonly byte[] _rx = new byte[FifoSize], _tx = new byte[FifoSize];
    private int _rxHead, _rxCount, _txHead, _txCount;
    private bool _shifting, _threPending, _timeoutPending, _irqLevel;
    private byte _ier, _lcr, _mcr, _lsrErrors, _scratch, _dll = 1, _dlm, _fcr, _msrDelta, _msrLines = LinesConnected;
    private readonly Queue<byte> _hostInput = new();

    public long BytesWritten { get; private set; }
    public long BytesReceived { get; private set; }

    /// <param name="sink">Where transmitted bytes go (e.g. stdout).</param>
    /// <param name="capture">Also keep a copy in memory (tests, reports).</param>
    /// <param name="timers">The machine's timed events.</param>
    /// <param name="clockHz">Modeled cycles per second.</param>
    /// <param name="pacing">Transmit at the programmed baud rate in modeled time.</param>
    /// <param name="irq">The interrupt wire (high: requesting), or null when unconnected.</param>
    public Uart16550(Stream sink, bool capture, TimedEvents timers, long clockHz, bool pacing, Action<bool, long>? irq)
    {
        _sink = sink;
        _capture = capture ? new MemoryStream() : null;
        _clockHz = clockHz;
        _pacing = pacing;
        _irq = irq;
        _txDone = timers.Create("uart-tx", TransmitDone);
        _rxArrive = timers.Create("uart-rx", Arrive);
        _rxTimeout = timers.Create("uart-timeout", Timeout);
    }

    public byte[] Captured => _capture?.ToArray() ?? [];

    /// <summary>
    /// A driver takes received data by interrupt: IER enables the received-data interrupt and MCR's
    /// OUT2 connects the IRQ wire (a tool holds host input until then, as a terminal would wait
    /// for the port to be opened: a driver's start-up clears the FIFO).
    /// </summary>
    public bool ReceiverListening => (_ier & 1) != 0 && (_mcr & 8) != 0;

    public void Flush() => _sink.Flush();

    private bool FifoMode => (_fcr & 1) != 0;
    private bool Dlab => (_lcr & 0x80) != 0;
    private int RxCapacity => FifoMode ? FifoSize : 1;
    private int TxCapacity => FifoMode ? FifoSize : 1;
    private int RxTrigger => (_fcr >> 6) switch { 0 => 1, 1 => 4, 2 => 8, _ => 14 };

    /// <summary>Modeled cycles of one character: its frame's bits, 16 crystal clocks each, through the divisor.</summary>
    public long CharacterCycles
    {
        get
        {
            int divisor = _dll | (_dlm << 8);
            if (divisor == 0) divisor = 65536;
            int bits = 1 + 5 + (_lcr & 3) + ((_lcr >> 3) & 1) + 1 + ((_lcr >> 2) & 1);
            return (long)(((Int128)bits * 16 * divisor * _clockHz + CrystalHz - 1) / CrystalHz);
        }
    }

    /// <summary>
    /// Host input for the receiver (a terminal typing): queued, then received one character time
    /// apart from <paramref name="now"/> on. Call it on the machine's thread or before the run.
    /// </summary>
    public void Receive(ReadOnlySpan<byte> data, long now)
    {
        foreach (byte b in data) _hostInput.Enqueue(b);
        if (_hostInput.Count > 0 && !_rxArrive.Armed) _rxArrive.Arm(now + CharacterCycles);
    }

    // ---------------- receive ----------------

    private void Arrive(long now)
    {
        if (_hostInput.Count == 0 || _rxCount >= RxCapacity) return; // RTS off: the host waits for room
        PushReceived(_hostInput.Dequeue(), now);
        if (_hostInput.Count > 0 && _rxCount < RxCapacity) _rxArrive.Arm(now + CharacterCycles);
        UpdateIrq(now);
    }

    private void PushReceived(byte b, long now)
    {
        if (_rxCount >= RxCapacity) { _lsrErrors |= LsrOe; return; } // overrun: the new character is lost
        _rx[(_rxHead + _rxCount) % FifoSize] = b;
        _rxCount++;
        BytesReceived++;
        RestartTimeout(now);
    }

    private void RestartTimeout(long now)
    {
        _timeoutPending = false;
        if (FifoMode && _rxCount > 0) _rxTimeout.Arm(now + 4 * CharacterCycles);
        else _rxTimeout.Cancel();
    }

    private void Timeout(long now)
    {
        if (FifoMode && _rxCount > 0) _timeoutPending = true;
        UpdateIrq(now);
    }

    private byte ReadReceived(long now)
    {
        if (_rxCount == 0) return 0;
        byte b = _rx[_rxHead];
        _rxHead = (_rxHead + 1) % FifoSize;
        _rxCount--;
        RestartTimeout(now);
        if (_hostInput.Count > 0 && !_rxArrive.Armed) _rxArrive.Arm(now + CharacterCycles);
        return b;
    }

    // ---------------- transmit ----------------

    private void WriteTransmit(byte b, long now)
    {
        _threPending = false;
        if (_txCount < TxCapacity)
        {
            _tx[(_txHead + _txCount) % FifoSize] = b;
            _txCount++;
        }
        else if (!FifoMode) _tx[_txHead] = b; // the THR is overwritten
        if (!_shifting) StartShift(now);
    }

    /// <summary>Moves the next character into the shift register: it leaves now (in order) and occupies the line one character time.</summary>
    private void StartShift(long now)
    {
        while (_txCount > 0)
        {
            byte b = _tx[_txHead];
            _txHead = (_txHead + 1) % FifoSize;
            _txCount--;
            if (_txCount == 0) _threPending = true;
            if ((_mcr & McrLoop) != 0) PushReceived(b, now);
            else Emit(b);
            if (_pacing)
            {
                _shifting = true;
                _txDone.Arm(now + CharacterCycles);
                return;
            }
        }
        _shifting = false;
    }

    private void TransmitDone(long now)
    {
        _shifting = false;
        StartShift(now);
        UpdateIrq(now);
    }

    private void Emit(byte b)
    {
        _sink.WriteByte(b);
        _capture?.WriteByte(b);
        BytesWritten++;
        if (b == '\n') _sink.Flush();
    }

    // ---------------- registers ----------------

    private byte InterruptId()
    {
        byte id;
        if ((_ier & IerRls) != 0 && (_lsrErrors & LsrErrors) != 0) id = 0x06;
        else if ((_ier & IerRda) != 0 && _rxCount >= (FifoMode ? RxTrigger : 1)) id = 0x04;
        else if ((_ier & IerRda) != 0 && _timeoutPending) id = 0x0c;
        else if ((_ier & IerThre) != 0 && _threPending) id = 0x02;
        else if ((_ier & IerMsi) != 0 && _msrDelta != 0) id = 0x00;
        else id = 0x01;
        return (byte)(id | (FifoMode ? 0xc0 : 0));
    }

    private byte LineStatus()
    {
        byte lsr = (byte)(_lsrErrors & LsrErrors);
        if (_rxCount > 0) lsr |= LsrDr;
        if (_txCount == 0) lsr |= LsrThre;
        if (_txCount == 0 && !_shifting) lsr |= LsrTemt;
        return lsr;
    }

    /// <summary>The interrupt wire: an interrupt is pending and OUT2 enables the PC's IRQ driver (off in loopback).</summary>
    private void UpdateIrq(long now)
    {
        bool level = (InterruptId() & 1) == 0 && (_mcr & (McrOut2 | McrLoop)) == McrOut2;
        if (level == _irqLevel) return;
        _irqLevel = level;
        _irq?.Invoke(level, now);
    }

    public ulong In(Cpu cpu, ushort port, int size)
    {
        long now = cpu.Cycles;
        byte v;
        switch (port - Com1)
        {
            case 0: v = Dlab ? _dll : ReadReceived(now); break;
            case 1: v = Dlab ? _dlm : _ier; break;
            case 2:
                v = InterruptId();
                if ((v & 0x0f) == 0x02) _threPending = false; // reading IIR clears a reported THRE interrupt
                break;
            case 3: v = _lcr; break;
            case 4: v = _mcr; break;
            case 5: v = LineStatus(); _lsrErrors = 0; break;
            case 6: v = (byte)(_msrLines | _msrDelta); _msrDelta = 0; break;
            default: v = _scratch; break;
        }
        UpdateIrq(now);
        return v;
    }

    public void Out(Cpu cpu, ushort port, int size, ulong value)
    {
        long now = cpu.Cycles;
        byte b = (byte)value;
        switch (port - Com1)
        {
            case 0:
                if (Dlab) _dll = b;
                else WriteTransmit(b, now);
                break;
            case 1:
                if (Dlab) { _dlm = b; break; }
                byte changed = (byte)((_ier ^ b) & 0x0f);
                _ier = (byte)(b & 0x0f);
                // Enabling the THRE interrupt with the transmitter empty raises it at once (as on the 16550A).
                if ((changed & IerThre) != 0) _threPending = (_ier & IerThre) != 0 && _txCount == 0;
                break;
            case 2: WriteFifoControl(b, now); break;
            case 3: _lcr = b; break;
            case 4: WriteModemControl((byte)(b & 0x1f)); break;
            case 5: break; // LSR: factory test only
            case 6: break; // MSR is read-only
            default: _scratch = b; break;
        }
        UpdateIrq(now);
    }

    private void WriteFifoControl(byte b, long now)
    {
        if (((b ^ _fcr) & 1) != 0)
        {
            // Enabling or disabling the FIFOs clears them.
            _rxCount = _txCount = 0;
            _rxHead = _txHead = 0;
        }
        if ((b & 1) == 0) { _fcr = 0; RestartTimeout(now); return; }
        _fcr = (byte)(b & 0xc9);
        if ((b & 2) != 0) { _rxCount = 0; _rxHead = 0; }
        if ((b & 4) != 0) { _txCount = 0; _txHead = 0; _threPending = true; }
        RestartTimeout(now);
        if (_hostInput.Count > 0 && !_rxArrive.Armed) _rxArrive.Arm(now + CharacterCycles);
    }

    private void WriteModemControl(byte mcr)
    {
        _mcr = mcr;
        byte lines = LinesConnected;
        if ((mcr & McrLoop) != 0)
        {
            lines = 0;
            if ((mcr & McrRts) != 0) lines |= 0x10;
            if ((mcr & McrDtr) != 0) lines |= 0x20;
            if ((mcr & McrOut1) != 0) lines |= 0x40;
            if ((mcr & McrOut2) != 0) lines |= 0x80;
        }
        byte delta = (byte)((lines ^ _msrLines) >> 4);
        _msrDelta |= (byte)(delta & 0x0b); // DCTS, DDSR, DDCD on any change
        if ((_msrLines & 0x40) != 0 && (lines & 0x40) == 0) _msrDelta |= 0x04; // TERI: RI's trailing edge
        _msrLines = lines;
    }

    /// <summary>A break condition on the line (host): LSR.BI and a NUL character, as the receiver sees it.</summary>
    public void ReceiveBreak(long now)
    {
        PushReceived(0, now);
        _lsrErrors |= LsrBi;
        UpdateIrq(now);
    }
}

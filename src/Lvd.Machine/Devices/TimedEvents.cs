namespace Lvd.Machine.Devices;

/// <summary>
/// One device's pending action at a modeled time (a counter reaching zero, a character shifted
/// out). A device owns its events and re-arms them; an event is in its machine's
/// <see cref="TimedEvents"/> from construction on and fires only while armed.
/// </summary>
public sealed class TimedEvent
{
    private readonly TimedEvents _queue;
    private readonly Action<long> _fire;
    private readonly Func<bool>? _canWake;

    internal TimedEvent(TimedEvents queue, string name, Action<long> fire, Func<bool>? canWake)
    {
        _queue = queue;
        Name = name;
        _fire = fire;
        _canWake = canWake;
    }

    public string Name { get; }

    /// <summary>The modeled time it fires at; long.MaxValue: not armed.</summary>
    public long When { get; private set; } = long.MaxValue;

    public bool Armed => When != long.MaxValue;

    /// <summary>Whether firing it may wake a halted vCPU (e.g. its interrupt pin is unmasked); idle time is skipped only to such events.</summary>
    public bool CanWake => _canWake?.Invoke() ?? true;

    /// <summary>Fires at <paramref name="when"/> (replacing an earlier arming).</summary>
    public void Arm(long when)
    {
        When = when;
        _queue.NoteArmed(when);
    }

    public void Cancel() => When = long.MaxValue;

    internal void Fire()
    {
        long t = When;
        When = long.MaxValue;
        _fire(t);
    }
}

/// <summary>
/// The machine's device timers: the scheduler never runs a vCPU past the earliest armed event,
/// fires events once every running vCPU's clock has reached them (in time order; equal times in
/// creation order, so runs are deterministic), and skips idle time to them when all vCPUs are
/// halted. A handful of devices own events, so a scan beats a heap and allocates nothing.
/// </summary>
public sealed class TimedEvents
{
    private TimedEvent[] _events = [];

    /// <summary>Called when an event is armed (the machine ends the running slice by then).</summary>
    internal Action<long>? OnArmed;

    public TimedEvent Create(string name, Action<long> fire, Func<bool>? canWake = null)
    {
        var e = new TimedEvent(this, name, fire, canWake);
        Array.Resize(ref _events, _events.Length + 1);
        _events[^1] = e;
        return e;
    }

    public IReadOnlyList<TimedEvent> All => _events;

    /// <summary>The earliest armed event's time, or long.MaxValue.</summary>
    public long Next
    {
        get
        {
            long t = long.MaxValue;
            foreach (var e in _events) if (e.When < t) t = e.When;
            return t;
        }
    }

    /// <summary>The earliest armed event that may wake a halted vCPU, or long.MaxValue.</summary>
    public long NextWake
    {
        get
        {
            long t = long.MaxValue;
            foreach (var e in _events) if (e.When < t && e.CanWake) t = e.When;
            return t;
        }
    }

    internal void NoteArmed(long when) => OnArmed?.Invoke(when);

    /// <summary>Fires every event due at or before <paramref name="now"/>, earliest first; returns how many fired.</summary>
    public int RunDue(long now)
    {
        int fired = 0;
        while (true)
        {
            TimedEvent? first = null;
            foreach (var e in _events) if (e.When <= now && (first == null || e.When < first.When)) first = e;
            if (first == null) return fired;
            first.Fire();
            fired++;
        }
    }
}

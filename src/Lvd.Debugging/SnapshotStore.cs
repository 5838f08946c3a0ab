using Lvd.Machine.Diagnostics;

namespace Lvd.Debugging;

/// <summary>
/// The snapshots reverse execution starts its replays from (docs/DEBUGGING.md, Snapshots): one at every
/// <see cref="Interval"/> modeled cycles of the run (and of its replays, which pass the same points), kept in time
/// order. When they hold more than the budget of RAM pages, every other one is dropped and the interval doubles, so
/// a long run keeps a bounded number spread over all of it.
/// </summary>
public sealed class SnapshotStore
{
    public const long DefaultInterval = 10_000_000;
    public const long DefaultBudgetBytes = 2L << 30;

    private readonly List<MachineSnapshot> _snapshots = [];
    private readonly long _budgetBytes;
    private long _bytes;

    /// <param name="interval">Modeled cycles between snapshots; 0: none (every replay starts at power-on).</param>
    public SnapshotStore(long interval, long budgetBytes = DefaultBudgetBytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(interval);
        Interval = interval;
        _budgetBytes = budgetBytes;
    }

    public long Interval { get; private set; }

    /// <summary>Why snapshots were turned off (a restore failed), or null.</summary>
    public string? Disabled { get; private set; }

    public IReadOnlyList<MachineSnapshot> Snapshots => _snapshots;

    /// <summary>Takes snapshots of <paramref name="machine"/> from now on (after a restore: from the restored point on).</summary>
    public void Attach(Lvd.Machine.Machine machine)
    {
        if (Interval > 0 && Disabled == null) machine.SetCheckpoints(Interval, Take);
    }

    private void Take(Lvd.Machine.Machine machine)
    {
        long time = machine.LatestClock;
        int i = _snapshots.FindIndex(s => s.Time >= time);
        if (i >= 0 && _snapshots[i].Time == time) return;
        var snap = MachineSnapshot.Take(machine);
        _snapshots.Insert(i < 0 ? _snapshots.Count : i, snap);
        _bytes += Bytes(snap);
        if (_bytes <= _budgetBytes || _snapshots.Count < 2) return;
        for (int k = _snapshots.Count - 1; k >= 0; k--)
            if (k % 2 == 1) { _bytes -= Bytes(_snapshots[k]); _snapshots.RemoveAt(k); }
        Interval *= 2;
        machine.SetCheckpoints(Interval, Take);
    }

    private static long Bytes(MachineSnapshot s) => (long)s.Pages * 4096 + (1L << 20);

    /// <summary>The latest snapshot the run passes before <paramref name="target"/>, or null: power-on.</summary>
    public MachineSnapshot? Before(RunPosition target)
    {
        if (Disabled != null) return null;
        for (int i = _snapshots.Count - 1; i >= 0; i--)
            if (_snapshots[i].Precedes(target)) return _snapshots[i];
        return null;
    }

    /// <summary>
    /// For a reverse-continue whose scan from <paramref name="from"/> found no hit (the <paramref name="failed"/>th such
    /// scan): where the next scan starts, 1, 2, 4 ... snapshots earlier each time (starts k, k-1, k-3, k-7 ...), so a scan
    /// costs at most about twice the distance to the hit it finds; null: power-on.
    /// </summary>
    public MachineSnapshot? Earlier(MachineSnapshot from, int failed)
    {
        int i = _snapshots.IndexOf(from);
        int j = i - (1 << Math.Min(failed - 1, 30));
        return i < 0 || j < 0 || Disabled != null ? null : _snapshots[j];
    }

    /// <summary>A restore failed: from now on every replay starts at power-on.</summary>
    public void Disable(string why)
    {
        Disabled = why;
        _snapshots.Clear();
        _bytes = 0;
    }
}

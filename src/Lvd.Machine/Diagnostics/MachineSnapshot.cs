namespace Lvd.Machine.Diagnostics;

/// <summary>
/// The whole state of a machine at a checkpoint (<see cref="Machine.SetCheckpoints"/>): every vCPU
/// (registers, VMX state, TLBs, clocks), RAM, the decoded-code cache, the devices and timed events,
/// and the VMX-root software installed in it (the hypervisor), copied with <see cref="ObjectGraph"/>.
/// Restored into a fresh machine of the same run (same image, options and VMX-root software), the
/// run goes on from there exactly as it did: the machine is deterministic. Tools attached to the
/// machine (debugger, profiler, timeline, output streams) are not part of it.
/// </summary>
public sealed class MachineSnapshot
{
    private readonly Machine _copy;

    /// <summary>The latest vCPU clock when it was taken.</summary>
    public long Time { get; }

    /// <summary>Instructions each vCPU had retired.</summary>
    public IReadOnlyList<long> Instructions { get; }

    /// <summary>RAM pages it holds (touched pages only).</summary>
    public int Pages { get; }

    private MachineSnapshot(Machine copy, long time, long[] instructions, int pages)
    {
        _copy = copy;
        Time = time;
        Instructions = instructions;
        Pages = pages;
    }

    /// <summary>A hash of the machine's whole state as a snapshot would save it: equal for equal machines within one process.</summary>
    public static ulong Digest(Machine machine) => ObjectGraph.Digest(machine);

    /// <summary>Copies <paramref name="machine"/>; call it only at a checkpoint (between blocks, on the machine's thread).</summary>
    public static MachineSnapshot Take(Machine machine)
    {
        var instructions = new long[machine.Cpus.Length];
        for (int i = 0; i < instructions.Length; i++) instructions[i] = machine.Cpus[i].Instructions;
        return new MachineSnapshot(ObjectGraph.Copy(machine), machine.LatestClock, instructions, machine.Memory.PagesTouched);
    }

    /// <summary>
    /// Whether the run passes <paramref name="position"/> after this snapshot: that vCPU had retired fewer
    /// instructions (an equal count could have been reached before the snapshot, while it waited).
    /// </summary>
    public bool Precedes(RunPosition position) => Instructions[position.Cpu] < position.Instructions;

    /// <summary>
    /// Gives <paramref name="machine"/> (a fresh machine of the same run, set up, before its first instruction)
    /// this snapshot's state; the snapshot can be restored again. <see cref="SnapshotException"/> when the machine
    /// is not of the same shape or holds tools the snapshot cannot be matched with.
    /// </summary>
    public void RestoreInto(Machine machine)
    {
        if (machine.Cpus.Length != _copy.Cpus.Length || machine.Memory.RamSize != _copy.Memory.RamSize)
            throw new SnapshotException($"a snapshot of {_copy.Cpus.Length} vCPUs and {_copy.Memory.RamSize >> 20} MiB cannot be restored "
                + $"into a machine of {machine.Cpus.Length} vCPUs and {machine.Memory.RamSize >> 20} MiB");
        ObjectGraph.Restore(_copy, machine);
        // The TLBs' host addends point into the memory they were copied from: recompute them for this machine's RAM.
        foreach (var cpu in machine.Cpus) cpu.RebuildTlbAddends();
    }
}

using System.Text.Json;
using Lvd.Machine.Cost;

namespace Lvd.Machine.Loader;

public sealed record RunOptions
{
    public ulong MemoryBytes { get; init; } = 256UL << 20;
    public long MaxInstructions { get; init; } = 20_000_000_000;
    public CostModel Costs { get; init; } = CostModel.Default;
    public Stream? SerialOut { get; init; }
    public bool CaptureSerial { get; init; }
    public TextWriter? Trace { get; init; }
    /// <summary>RAM at the top kept from the guest for a hypervisor (see Lvd.Hypervisor).</summary>
    public ulong HypervisorReservedBytes { get; init; }
    /// <summary>vCPUs (1-64).</summary>
    public int CpuCount { get; init; } = 1;
    /// <summary>
    /// Non-null: boot the image as a kernel (docs/BOOT.md) with this command line; null: run
    /// it as a program (docs/EXEC-ABI.md).
    /// </summary>
    public string? KernelCommandLine { get; init; }
    /// <summary>Boot modules handed to a kernel (docs/BOOT.md), e.g. driver images for LVD domains.</summary>
    public IReadOnlyList<KernelLoader.Module> BootModules { get; init; } = [];
    /// <summary>Non-zero: profile the guest, one sample per vCPU every this many modeled cycles (Machine.Profiler).</summary>
    public long ProfilePeriod { get; init; }
    /// <summary>Modeled cycle from which the profiler samples (each vCPU by its own clock).</summary>
    public long ProfileStart { get; init; }
    /// <summary>Called after loading, before the first instruction (e.g. to install and launch a hypervisor).</summary>
    public Action<Machine>? Setup { get; init; }
}

/// <summary>The result of running one program, with what `lvd exec --stats-json` writes.</summary>
public sealed record ProgramResult(RunResult Run, Machine Machine, byte[] Output)
{
    public string OutputText => System.Text.Encoding.UTF8.GetString(Output);

    /// <summary>Process exit status as `lvd exec` reports it (docs/EXEC-ABI.md).</summary>
    public int ExitStatus => Run.Outcome switch
    {
        RunOutcome.Exited => Run.ExitCode,
        RunOutcome.InstructionLimit => ProgramRunner.StatusRunaway,
        RunOutcome.Deadlock => ProgramRunner.StatusDeadlock,
        RunOutcome.StoppedByHypervisor => ProgramRunner.StatusHypervisorStop,
        _ => ProgramRunner.StatusCrash,
    };

    public double Mips => Run.HostSeconds > 0 ? Run.Instructions / Run.HostSeconds / 1e6 : 0;

    public long TotalExits => Machine.Cpus.Sum(c => c.VmExits);

    /// <summary>VM exits by SDM reason name, summed over vCPUs; "vcpuN" entries split them per vCPU.</summary>
    public Dictionary<string, object> ExitsByReason()
    {
        var total = new SortedDictionary<string, long>();
        var result = new Dictionary<string, object>();
        foreach (var c in Machine.Cpus)
        {
            var mine = new SortedDictionary<string, long>();
            for (int r = 0; r < c.ExitsByReason.Length; r++)
            {
                if (c.ExitsByReason[r] == 0) continue;
                string name = Enum.IsDefined(typeof(Vmx.ExitReason), (ushort)r) ? ((Vmx.ExitReason)r).ToString() : $"reason{r}";
                mine[name] = c.ExitsByReason[r];
                total[name] = total.GetValueOrDefault(name) + c.ExitsByReason[r];
            }
            if (Machine.Cpus.Length > 1 && mine.Count > 0) result[$"vcpu{c.Id}"] = mine;
        }
        foreach (var kv in total) result[kv.Key] = kv.Value;
        return result;
    }

    public string StatsJson()
    {
        var cpu = Machine.Cpus[0];
        var stats = new Dictionary<string, object?>
        {
            ["outcome"] = Run.Outcome.ToString(),
            ["exit_status"] = ExitStatus,
            ["instructions"] = Run.Instructions,
            ["cycles"] = Run.Cycles,
            ["host_seconds"] = Run.HostSeconds,
            ["host_mips"] = Mips,
            ["clock_hz"] = Machine.Costs.ClockHz,
            ["cost_file"] = Machine.Costs.SourcePath,
            ["blocks_decoded"] = Machine.Code.BlocksDecoded,
            ["code_invalidations"] = Machine.Code.Invalidations,
            ["tlb_misses"] = cpu.TlbMisses,
            ["page_walk_refs"] = cpu.PageWalkRefs,
            ["exceptions"] = cpu.ExceptionsDelivered,
            ["memory_pages_touched"] = Machine.Memory.PagesTouched,
            ["vm_exits"] = TotalExits,
            ["vmfuncs"] = Machine.Cpus.Sum(c => c.VmFuncs),
            ["exits_by_reason"] = ExitsByReason(),
        };
        return JsonSerializer.Serialize(stats, new JsonSerializerOptions { WriteIndented = true });
    }
}

/// <summary>Loads a static ELF into a fresh machine and runs it to completion.</summary>
public static class ProgramRunner
{
    /// <summary>Exit statuses of `lvd exec` when the guest did not exit by itself.</summary>
    public const int StatusRunaway = 124, StatusCrash = 125, StatusDeadlock = 126, StatusHypervisorStop = 127, StatusBadInput = 2;

    public static ProgramResult Run(string elfPath, RunOptions options)
    {
        var image = ElfImage.Read(elfPath);
        var machine = new Machine(new MachineConfig
        {
            MemoryBytes = options.MemoryBytes,
            CpuCount = options.CpuCount,
            Costs = options.Costs,
            SerialOut = options.SerialOut,
            CaptureSerial = options.CaptureSerial,
            Trace = options.Trace,
            HypervisorReservedBytes = options.HypervisorReservedBytes,
            ProfilePeriod = options.ProfilePeriod,
            ProfileStart = options.ProfileStart,
        });
        if (options.KernelCommandLine != null) KernelLoader.Load(machine, image, Path.GetFileName(elfPath), options.KernelCommandLine, options.BootModules);
        else BootLoader.Load(machine, image, Path.GetFileName(elfPath));
        options.Setup?.Invoke(machine);
        var result = machine.Run(options.MaxInstructions);
        if (result.Outcome == RunOutcome.InstructionLimit)
            result = result with { CrashReport = CrashReport.DescribeRunaway(machine, options.MaxInstructions) };
        return new ProgramResult(result, machine, machine.Serial.Captured);
    }
}

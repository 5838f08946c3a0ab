
namespace Lvd.Machine.Loader;

/// <summary>A machine to build (<see cref="MachineConfig"/>) and what to run on it.</summary>
public sealed record RunOptions : MachineConfig
{
    public long MaxInstructions { get; init; } = 20_000_000_000;
    /// <summary>
    /// Non-null: boot the image as a kernel (docs/BOOT.md) with this command line; null: run
    /// it as a program (docs/EXEC-ABI.md).
    /// </summary>
    public string? KernelCommandLine { get; init; }
    /// <summary>Boot modules handed to a kernel (docs/BOOT.md), e.g. driver images for LVD domains.</summary>
    public IReadOnlyList<KernelLoader.Module> BootModules { get; init; } = [];
    /// <summary>A program's arguments after argv[0] (docs/EXEC-ABI.md: the initial stack).</summary>
    public IReadOnlyList<string> Arguments { get; init; } = [];
    /// <summary>Called after loading, before the first instruction (e.g. to install VMX-root software).</summary>
    public Action<Machine>? Setup { get; init; }
}

/// <summary>The result of running one program: how the run ended, the machine after it, the serial output.</summary>
public sealed record ProgramResult(RunResult Run, Machine Machine, byte[] Output)
{
    public string OutputText => System.Text.Encoding.UTF8.GetString(Output);

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
}

/// <summary>Loads a static ELF into a fresh machine and runs it to completion.</summary>
public static class ProgramRunner
{
    public static ProgramResult Run(string elfPath, RunOptions options)
    {
        var image = ElfImage.Read(elfPath);
        var machine = new Machine(options);
        if (options.KernelCommandLine != null)
            KernelLoader.Load(machine, image, Path.GetFileName(elfPath), options.KernelCommandLine, options.BootModules);
        else BootLoader.Load(machine, image, Path.GetFileName(elfPath), options.Arguments);
        options.Setup?.Invoke(machine);
        var result = machine.Run(options.MaxInstructions);
        if (result.Outcome == RunOutcome.InstructionLimit)
            result = result with { CrashReport = CrashReport.DescribeRunaway(machine, options.MaxInstructions) };
        return new ProgramResult(result, machine, machine.Serial.Captured);
    }
}

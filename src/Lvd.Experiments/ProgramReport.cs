using System.Text.Json;

namespace Lvd.Experiments;

/// <summary>
/// How a run is reported to a user and to scripts: the process exit status of `lvd exec` and
/// `lvd boot` (docs/EXEC-ABI.md) and the statistics of `--stats-json`. Policy of the tools,
/// not of the machine, which only says how a run ended (<see cref="RunOutcome"/>).
/// </summary>
public static class ProgramReport
{
    /// <summary>Exit statuses when the guest did not exit by itself, and for bad input.</summary>
    public const int StatusRunaway = 124, StatusCrash = 125, StatusDeadlock = 126, StatusHypervisorStop = 127, StatusBadInput = 2;
    /// <summary>A debugger killed the run (gdb `kill`): 128 + SIGKILL, as a shell reports a killed process.</summary>
    public const int StatusDebuggerKill = 137;

    extension(ProgramResult r)
    {
        /// <summary>Process exit status as `lvd exec` reports it (docs/EXEC-ABI.md).</summary>
        public int ExitStatus => r.Run.Outcome switch
        {
            RunOutcome.Exited => r.Run.ExitCode,
            RunOutcome.InstructionLimit => StatusRunaway,
            RunOutcome.Deadlock => StatusDeadlock,
            RunOutcome.StoppedByVmxRoot => StatusHypervisorStop,
            RunOutcome.StoppedByDebugger => StatusDebuggerKill,
            _ => StatusCrash,
        };

        /// <summary>What `--stats-json` writes: the run, the machine's counters, VM exits by reason.</summary>
        public string StatsJson()
        {
            var machine = r.Machine;
            var cpu = machine.Cpus[0];
            long vmfuncs = 0;
            foreach (var c in machine.Cpus) vmfuncs += c.VmFuncs;
            var stats = new Dictionary<string, object?>
            {
                ["outcome"] = r.Run.Outcome.ToString(),
                ["exit_status"] = r.ExitStatus,
                ["instructions"] = r.Run.Instructions,
                ["cycles"] = r.Run.Cycles,
                ["host_seconds"] = r.Run.HostSeconds,
                ["host_mips"] = r.Mips,
                ["clock_hz"] = machine.Costs.ClockHz,
                ["cost_file"] = machine.Costs.SourcePath,
                ["blocks_decoded"] = machine.Code.BlocksDecoded,
                ["code_invalidations"] = machine.Code.Invalidations,
                ["tlb_misses"] = cpu.TlbMisses,
                ["page_walk_refs"] = cpu.PageWalkRefs,
                ["exceptions"] = cpu.ExceptionsDelivered,
                ["memory_pages_touched"] = machine.Memory.PagesTouched,
                ["vm_exits"] = r.TotalExits,
                ["vmfuncs"] = vmfuncs,
                ["exits_by_reason"] = r.ExitsByReason(),
            };
            return JsonSerializer.Serialize(stats, new JsonSerializerOptions { WriteIndented = true });
        }
    }
}

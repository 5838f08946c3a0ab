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

    /// <summary>
    /// `lvd boot --domain`: the kernel ended well, but a user's driver was killed (or a call to it
    /// failed), or was refused or failed its driver_init (docs/EXEC-ABI.md).
    /// </summary>
    public const int StatusDriverKilled = 3, StatusDriverNotStarted = 4;

    /// <summary>The user interrupted the run (Ctrl-C, SIGINT): 128 + 2, as a shell reports a process ended by SIGINT.</summary>
    public const int StatusInterrupted = 130;

    /// <summary>
    /// The state of every vCPU when a run was interrupted (Ctrl-C): RIP named with
    /// <paramref name="symbols"/> (function+offset, file:line), RSP, CR3, privilege level, VMX
    /// mode and EPTP-list index (under the LVD hypervisor index 0 is the kernel's EPT, any other a
    /// domain's), modeled cycles and instructions.
    /// </summary>
    public static string StateDump(ProgramResult r, Profiling.Symbolizer symbols, string? repoRoot = null)
    {
        var m = r.Machine;
        var sb = new System.Text.StringBuilder(
            $"lvd: interrupted (Ctrl-C) after {r.Run.Instructions:N0} instructions, {r.Run.Cycles:N0} modeled cycles; each vCPU's state:\n");
        foreach (var c in m.Cpus)
        {
            string mode = !c.NonRoot ? (c.Vmcs == null ? "not virtualized" : "VMX root")
                : c.Vmcs!.EptpIndex == 0 ? "VT-x guest, EPTP index 0 (the kernel's EPT)" : $"VT-x guest, EPTP index {c.Vmcs.EptpIndex} (in a domain)";
            sb.Append($"  vCPU {c.Id}: {c.State.ToString().ToLowerInvariant()}, RIP 0x{c.Rip:x}, RSP " +
                $"0x{c.GetRegister(Lvd.Machine.Execution.Cpu.RSP):x}, ")
              .Append($"CR3 0x{c.Cr3:x}, CPL {c.Cpl} ({(c.Cpl == 3 ? "user" : "kernel")}), {mode}, {c.Cycles:N0} cycles, " +
                  $"{c.Instructions:N0} instructions\n");
        }
        return Profiling.CrashSymbols.AnnotateReport(sb.ToString(), symbols, repoRoot);
    }

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
            RunOutcome.Interrupted => StatusInterrupted,
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
                ["cost_profile"] = machine.Costs.Profile,
                ["engine"] = machine.Config.Engine == Lvd.Machine.ExecutionEngine.Jit && !machine.Config.DetailedTiming ? "jit" : "interp",
                ["regions_compiled"] = machine.RegionsCompiled,
                ["region_runs"] = machine.RegionRuns,
                ["region_compile_seconds"] = machine.RegionCompileSeconds,
            };
            if (cpu.Caches is { } caches && cpu.Branches is { } branches)
                stats["detailed_timing"] = new Dictionary<string, object?>
                {
                    ["l1_hits"] = caches.L1Hits, ["l1_misses"] = caches.L1Misses, ["l2_misses"] = caches.L2Misses,
                    ["llc_misses"] = caches.LlcMisses, ["branches"] = branches.Branches, ["mispredicts"] = branches.Mispredicts,
                };
            return JsonSerializer.Serialize(stats, new JsonSerializerOptions { WriteIndented = true });
        }
    }
}

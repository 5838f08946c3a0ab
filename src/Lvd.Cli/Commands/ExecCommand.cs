using Lvd.Hypervisor;
using Lvd.Machine;

namespace Lvd.Cli.Commands;

/// <summary>`lvd exec prog.elf`: guest serial to stdout, the guest's exit code as ours.</summary>
public sealed class ExecCommand : Command<ExecCommand.Settings>
{
    public sealed class Settings : DebuggedMachineSettings
    {
        [CommandArgument(0, "<ELF>")]
        [Description("Static x86-64 ELF executable (build one with lvd cc); its arguments after --: lvd exec prog.elf -- a b.")]
        public string Elf { get; init; } = "";

        [CommandOption("--hypervisor")]
        [Description("Late-launch the LVD hypervisor before the program runs (it then runs as a VT-x guest under an identity EPT).")]
        public bool Hypervisor { get; init; }

        [CommandOption("--hypervisor-on-request")]
        [Description("Install the hypervisor but launch it only when the program asks (CPUID leaf 0x4bf00000).")]
        public bool HypervisorOnRequest { get; init; }

        protected override (int MiB, string Why) MinimumMemory
        {
            get
            {
                var (mib, why) = HostFile.Of(Elf) == HostFile.Kind.Regular ? NeededMemory(Elf) : (1, "");
                if (!Hypervisor && !HypervisorOnRequest) return (mib, why);
                // The hypervisor keeps the top of RAM for itself (its EPTs, VMCS; never the guest's).
                int reserved = (int)(Lvd.Hypervisor.Hypervisor.DefaultReservedBytes >> 20);
                return (mib + reserved, (why.Length > 0 ? why + "; " : "") + $"the hypervisor keeps the top {reserved} MiB");
            }
        }

        /// <summary>
        /// RAM a program needs: its image (up to _end, exec.ld), then the loader's stack and the boot
        /// structures in the top 128 KiB; its heap takes what RAM is left (docs/EXEC-ABI.md).
        /// </summary>
        public static (int MiB, string Why) NeededMemory(string elf)
        {
            if (!ProfileOutput.IsElf(elf)) return (1, "");
            Lvd.Experiments.Profiling.Symbolizer symbols;
            // A damaged ELF is reported by the loader (one line, status 2), not here.
            try { symbols = Lvd.Experiments.Profiling.Symbolizer.FromElf(elf); }
            catch (Exception x) when (x is not OutOfMemoryException) { return (1, ""); }
            ulong end = symbols.ByName.TryGetValue("_end", out ulong e) ? e : 0;
            if (end == 0) return (1, "");
            ulong top = BootLoader.BootAreaSize + BootLoader.LoaderStackSize;
            int mib = (int)((end + top + (1 << 20) - 1) >> 20);
            return (mib, $"{Path.GetFileName(elf)} ends at {end / (1024.0 * 1024):0.#} MiB; the top {top >> 10} KiB hold the loader's stack and " +
                $"page tables");
        }

        protected override void Check()
        {
            if (Directory.Exists(Elf)) throw new UsageException($"{Elf}: is a directory, not an ELF file");
            if (HostFile.CheckReadable(Elf) is string why) throw new UsageException(why);
            Require(!(Hypervisor && HypervisorOnRequest), "--hypervisor and --hypervisor-on-request exclude each other");
            base.Check();
        }
    }

    /// <summary>
    /// The program's arguments: everything after the first `--`, as given (from the raw command
    /// line: Spectre's remaining arguments drop empty strings, which a program may be passed).
    /// </summary>
    private static string[] ProgramArguments()
    {
        var all = Program.CommandLine;
        for (int i = 0; i < all.Count; i++)
            if (all[i] == "--") return [.. all.Skip(i + 1)];
        return [];
    }

    /// <summary>The program's symbols for --trace (a damaged ELF has none).</summary>
    private static Lvd.Experiments.Profiling.Symbolizer TraceSymbols(string elf)
    {
        try { return Lvd.Experiments.Profiling.Symbolizer.FromElf(elf); }
        catch (Exception x) when (x is not OutOfMemoryException) { return Lvd.Experiments.Profiling.Symbolizer.None; }
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        using var stdout = Console.OpenStandardOutput();
        var mode = settings.Hypervisor ? HypervisorMode.LaunchAtStart : settings.HypervisorOnRequest ? HypervisorMode.OnRequest : HypervisorMode.None;
        using var interrupt = new GuestInterrupt();
        var options = new RunOptions
        {
            Setup = interrupt.Attach,
            MemoryBytes = settings.MemoryBytes,
            Costs = settings.LoadCosts(),
            DetailedTiming = settings.DetailedTiming,
            MaxInstructions = settings.MaxInstructions ?? new RunOptions().MaxInstructions,
            SerialOut = stdout,
            ProfilePeriod = ProfileOutput.Period(settings),
            ProfileStart = settings.ProfileFrom ?? 0,
            ProfileStackDepth = ProfileOutput.StackDepth(settings),
            Arguments = ProgramArguments(),
        }.With(mode);
        options = TimelineSession.Attach(options, settings.Timeline, settings.TimelineFilter, out var timeline);
        options = TraceSession.Attach(options, settings, TraceSymbols(settings.Elf).NameWithOffset, out var trace);
        options = GdbSession.Attach(options, settings.GdbPort, settings.GdbSnapshots, settings.Elf, [], out var gdb);
        var result = gdb?.Run(() => ProgramRunner.Run(settings.Elf, options)) ?? ProgramRunner.Run(settings.Elf, options);
        gdb?.Finished(result);
        trace?.Dispose();
        timeline?.Finished();
        if (result.Run.CrashReport != null || result.Run.Outcome == RunOutcome.Interrupted)
        {
            // Named with the program's symbols (a damaged ELF has none to give).
            var symbols = Lvd.Experiments.Profiling.Symbolizer.None;
            try { symbols = Lvd.Experiments.Profiling.Symbolizer.FromElf(settings.Elf); }
            catch (Exception x) when (x is not OutOfMemoryException) { }
            if (result.Run.CrashReport != null)
                Console.Error.Write(Lvd.Experiments.Profiling.CrashSymbols.AnnotateReport(result.Run.CrashReport, symbols));
            if (result.Run.Outcome == RunOutcome.Interrupted) Console.Error.Write(ProgramReport.StateDump(result, symbols));
        }
        if (settings.StatsJson != null) File.WriteAllText(settings.StatsJson, result.StatsJson());
        if (settings.Json != null)
            ResultsJson.Write(settings.Json, "exec", settings.LoadCosts(), new System.Text.Json.Nodes.JsonObject
            {
                ["elf"] = settings.Elf,
                ["memory_mib"] = settings.MemoryMiB,
                ["hypervisor"] = mode.ToString() switch { "None" => "none", "LaunchAtStart" => "launch_at_start", _ => "on_request" },
                ["exit_status"] = result.ExitStatus,
                ["outcome"] = ResultsJson.Snake(result.Run.Outcome.ToString()),
                ["stats"] = ResultsJson.Stats(result),
            });
        ProfileOutput.Write(result, settings.Elf, settings);
        return result.ExitStatus;
    }
}

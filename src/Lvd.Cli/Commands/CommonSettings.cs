using Lvd.Machine.Cost;

namespace Lvd.Cli.Commands;

/// <summary>
/// The base of every command's settings: Spectre.Console.Cli binds the options (strict parsing:
/// an unknown option is an error), then calls <see cref="Validate"/> before the command runs,
/// so every check of <see cref="Check"/> (ranges, combinations, paths) happens before any work.
/// A check throws <see cref="UsageException"/>; it becomes a one-line error with exit status 2.
/// </summary>
public abstract class LvdSettings : CommandSettings
{
    [CommandOption("--engine <ENGINE>")]
    [Description("How guest code runs on the host: jit (default: the interpreter, hot regions compiled to IL in the background) " +
        "or interp (the interpreter alone). Modeled time, output and the schedule are the same (docs/HOST-SPEED.md).")]
    public string? Engine { get; init; }

    public sealed override Spectre.Console.ValidationResult Validate()
    {
        try
        {
            Require(Engine is null or "interp" or "jit", $"--engine {Engine}: interp or jit");
            string? variable = Environment.GetEnvironmentVariable(Lvd.Machine.MachineConfig.EngineVariable);
            Require(Engine != null || variable is null or "" or "interp" or "jit",
                $"the environment's {Lvd.Machine.MachineConfig.EngineVariable}={variable}: interp or jit");
            Check();
        }
        catch (UsageException e) { return Spectre.Console.ValidationResult.Error(e.Message); }
        // Every machine this process (and the lvd processes it starts: campaigns, benches) makes runs on that engine.
        if (Engine != null)
        {
            Lvd.Machine.MachineConfig.DefaultEngine = Engine == "interp" ? Lvd.Machine.ExecutionEngine.Interp : Lvd.Machine.ExecutionEngine.Jit;
            Environment.SetEnvironmentVariable(Lvd.Machine.MachineConfig.EngineVariable, Engine);
        }
        return Spectre.Console.ValidationResult.Success();
    }

    /// <summary>Throws <see cref="UsageException"/> for the first problem of these settings.</summary>
    protected virtual void Check() { }

    protected static void Require(bool ok, string message)
    {
        if (!ok) throw new UsageException(message);
    }

    /// <summary>An option that only means something together with another one.</summary>
    protected static void OnlyWith(bool given, bool context, string option, string needs)
    {
        if (given && !context) throw new UsageException($"{option} needs {needs}");
    }
}

/// <summary>The cost model option of every command that runs guests.</summary>
public class CostSettings : LvdSettings
{
    [CommandOption("--costs <FILE|PROFILE>")]
    [Description("Cost model: a cost file, or a profile shipped with LVD#: cpi1 (config/costs.json: one cycle per ordinary instruction) " +
        "or haswell (config/costs-haswell.json: the block model for ordinary instructions), or znver3 (the host profile). " +
        "Default: haswell for lvd bench and bench " +
        "micro, cpi1 elsewhere (docs/COST-MODEL.md).")]
    public string? Costs { get; init; }

    /// <summary>The profile without --costs: cpi1, but haswell for the paper's evaluation (`lvd bench`, `bench micro`).</summary>
    protected virtual string DefaultProfile => "cpi1";

    public CostModel LoadCosts() => Costs == null ? CostModel.Named(DefaultProfile) : Load(Costs);

    protected override void Check()
    {
        base.Check();
        CheckCosts(Costs);
    }

    /// <summary>The cost model a --costs value names (for settings that cannot derive from this class).</summary>
    public static CostModel Load(string? costs) =>
        costs == null ? CostModel.Default
        : !File.Exists(costs) && CostModel.Profiles.ContainsKey(costs) ? CostModel.Named(costs)
        : CostModel.Load(costs);

    public static void CheckCosts(string? costs)
    {
        if (costs == null || !File.Exists(costs) && CostModel.Profiles.ContainsKey(costs)) return;
        OutputPaths.CheckInputFile("--costs", costs);
    }
}

/// <summary>The cost option of the paper's evaluation (`lvd bench`, `lvd bench micro`): the haswell profile by default.</summary>
public class BenchCostSettings : CostSettings
{
    protected override string DefaultProfile => "haswell";
}

/// <summary>
/// The options of a seeded campaign (seqdiff, fuzz-machine, fuzz-domains, faults): how many
/// cases and the seed that makes them, defined once; the command says what a case is, its
/// default count (shown in the command's description) and the most it takes.
/// </summary>
public abstract class SeededSettings : LvdSettings
{
    [CommandOption("--count <N>")]
    [Description("How many cases (runs, chains, domains or faults: the command's description says which, and the default).")]
    public int? CountOption { get; init; }

    [CommandOption("--seed <S>")]
    [Description("Campaign seed (default 1): the same seed makes the same cases.")]
    [DefaultValue(1L)]
    public long Seed { get; init; } = 1;

    public int Count => CountOption ?? DefaultCount;

    protected abstract int DefaultCount { get; }
    protected abstract int MaxCount { get; }
    protected virtual long MaxSeed => long.MaxValue;

    protected override void Check()
    {
        base.Check();
        Require(Count >= 1 && Count <= MaxCount, $"--count {Count}: must be 1 to {MaxCount}");
        Require(Seed >= 0 && Seed <= MaxSeed,
            MaxSeed == long.MaxValue ? $"--seed {Seed}: must be 0 or more" : $"--seed {Seed}: must be 0 to {MaxSeed}");
    }
}

/// <summary>A seeded campaign whose cases run in parallel host processes or boots.</summary>
public abstract class CampaignSettings : SeededSettings
{
    [CommandOption("--jobs <N>")]
    [Description("Cases (or boots) at once (default: the host's processor count).")]
    public int? JobsOption { get; init; }

    public int Jobs => JobsOption ?? Environment.ProcessorCount;

    protected override void Check()
    {
        base.Check();
        Require(JobsOption is null or >= 1, $"--jobs {JobsOption}: must be at least 1");
    }
}

/// <summary>Options of the commands that run one machine whose RAM size is theirs to choose.</summary>
public class MachineSettings : CostSettings
{
    public const int DefaultMemoryMiB = 256, MaxMemoryMiB = 65536;

    [CommandOption("--memory <MIB>")]
    [Description("Guest RAM in MiB (default 256; allocated on touch).")]
    public int? Memory { get; init; }

    [CommandOption("--timing <MODE>")]
    [Description("basic (default) or detailed: data caches (per-vCPU L1 and L2, a shared LLC) and branch predictors add their cycles " +
        "(docs/COST-MODEL.md, Detailed timing); slower on the host.")]
    public string? Timing { get; init; }

    /// <summary>`--timing detailed`.</summary>
    public bool DetailedTiming => Timing == "detailed";

    public int MemoryMiB => Memory ?? DefaultMemoryMiB;

    public ulong MemoryBytes => (ulong)MemoryMiB << 20;

    /// <summary>The least RAM this command's guest can run in, and why (for the message).</summary>
    protected virtual (int MiB, string Why) MinimumMemory => (1, "");

    protected override void Check()
    {
        base.Check();
        Require(Timing is null or "basic" or "detailed", $"--timing {Timing}: basic or detailed");
        var (min, why) = MinimumMemory;
        if (MemoryMiB < min || MemoryMiB > MaxMemoryMiB)
            throw new UsageException($"--memory {MemoryMiB}: {min} to {MaxMemoryMiB} MiB{(why.Length > 0 ? " (" + why + ")" : "")}");
    }
}

/// <summary>
/// The options of the commands that run one guest and report on it (`lvd exec` and `lvd boot`):
/// machine settings, a bound on the run, the trace, the statistics and results files, and the
/// guest profiler.
/// </summary>
public class ProfiledMachineSettings : MachineSettings
{
    [CommandOption("--max-instructions <N>")]
    [Description("Stop a runaway guest after N instructions over all vCPUs (exit status 124).")]
    public long? MaxInstructions { get; init; }

    [CommandOption("--trace")]
    [Description("Print every executed instruction to stderr with the registers it changed, and the run's events between them (VMFUNC, VM " +
        "exits, interrupts, exceptions, kills); narrowed by --trace-from/-to/-cpus/-range/-events; the modeled run is unchanged (slow).")]
    public bool Trace { get; init; }

    [CommandOption("--stats-json <FILE>")]
    [Description("Write the machine's run statistics as JSON (instructions, cycles, host_seconds, exits by reason ...).")]
    public string? StatsJson { get; init; }

    [CommandOption("--json <FILE>")]
    [Description("Write the results for scripts: header (tool, commit, cost file hash, command line, date), what ran and how it ended (exec: " +
        "the exit status; boot: its options and the workload's measurement, units in the key names) and the run statistics (docs/RESULTS.md).")]
    public string? Json { get; init; }

    [CommandOption("--profile [FILE]")]
    [Description("Profile the guest: modeled cycles by function (ELF symbols) and by mode (user, kernel, hypervisor, idle), sampled every " +
        "--profile-period cycles per vCPU; printed after the run, or written to FILE.")]
    public FlagValue<string>? Profile { get; init; }

    [CommandOption("--profile-period <CYCLES>")]
    [Description("With --profile: modeled cycles between two samples of one vCPU (default 997).")]
    public long? ProfilePeriod { get; init; }

    [CommandOption("--profile-from <CYCLE>")]
    [Description("With --profile: start sampling when a vCPU's clock reaches this modeled cycle (e.g. skip the boot; default 0).")]
    public long? ProfileFrom { get; init; }

    [CommandOption("--profile-top <N>")]
    [Description("With --profile: functions listed in the profile (default 30).")]
    public int? ProfileTop { get; init; }

    [CommandOption("--profile-folded <FILE>")]
    [Description("With --profile: also record each sample's callers (the frame-pointer chain, up to 64) and write the stacks to FILE in the " +
        "folded format of flame-graph tools (flamegraph.pl, speedscope): \"mode;caller;...;function cycles\" (docs/DEBUGGING.md).")]
    public string? ProfileFolded { get; init; }

    public bool Profiling => Profile is { IsSet: true };
    public string? ProfileFile => Profiling && !string.IsNullOrEmpty(Profile!.Value) ? Profile.Value : null;

    protected override void Check()
    {
        base.Check();
        OnlyWith(ProfilePeriod != null, Profiling, "--profile-period", "--profile");
        OnlyWith(ProfileFrom != null, Profiling, "--profile-from", "--profile");
        OnlyWith(ProfileTop != null, Profiling, "--profile-top", "--profile");
        OnlyWith(ProfileFolded != null, Profiling, "--profile-folded", "--profile");
        Require(ProfilePeriod is null or >= 1, "--profile-period must be at least 1 cycle");
        Require(ProfileFrom is null or >= 0, "--profile-from must not be negative");
        Require(ProfileTop is null or >= 1, "--profile-top must be at least 1");
        Require(MaxInstructions is null or > 0, "--max-instructions must be positive");
        if (StatsJson != null) OutputPaths.CheckOutputFile("--stats-json", StatsJson);
        if (Json != null) OutputPaths.CheckOutputFile("--json", Json);
        if (ProfileFolded != null) OutputPaths.CheckOutputFile("--profile-folded", ProfileFolded);
        if (ProfileFile is string f)
        {
            // `--profile prog.elf` takes the ELF as the profile's FILE: never overwrite an image.
            if (File.Exists(f) && ProfileOutput.IsElf(f))
                throw new UsageException($"--profile {f}: that is an ELF image, not a profile file (write --profile=FILE, or put --profile after " +
                    $"the ELF)");
            OutputPaths.CheckOutputFile("--profile", f);
        }
    }
}

using System.Reflection;
using System.Text.RegularExpressions;
using Lvd.Cli.Commands;
using Lvd.Machine.Cost;

namespace Lvd.Cli;

/// <summary>
/// The `lvd` command. It only composes: the machine, toolchain and experiments do the work.
/// Parsing is strict (Spectre.Console.Cli's StrictParsing): an unknown option, a value that
/// does not convert, an option that means nothing in its combination or a range the guest
/// cannot run is one line on stderr naming the subcommand's help, exit status 2, before any
/// work. Errors a user can cause print one line; a .NET stack trace is a bug.
/// </summary>
public static partial class Program
{
    /// <summary>Exit status of every usage error (docs/EXEC-ABI.md: "bad input").</summary>
    public const int StatusUsage = Lvd.Experiments.ProgramReport.StatusBadInput;

    /// <summary>The arguments lvd was called with (for the results' header).</summary>
    public static IReadOnlyList<string> CommandLine { get; private set; } = [];

    /// <summary>Each command (path of names) and its settings type: for hints and suggestions.</summary>
    private static readonly (string[] Path, Type? Settings)[] Commands =
    [
        (["bench", "micro"], typeof(BenchMicroCommand.Settings)),
        (["bench", "mips"], typeof(BenchMipsCommand.Settings)),
        (["bench", "timing"], typeof(BenchTimingCommand.Settings)),
        (["bench", "linux"], typeof(BenchLinuxCommand.Settings)),
        (["bench"], typeof(BenchLvdCommand.Settings)),
        (["demo"], typeof(DemoCommand.Settings)),
        (["exec"], typeof(ExecCommand.Settings)),
        (["attack"], typeof(AttackCommand.Settings)),
        (["boot"], typeof(BootCommand.Settings)),
        (["linux"], typeof(LinuxCommand.Settings)),
        (["csmith"], typeof(CsmithCommand.Settings)),
        (["fuzz-domains"], typeof(FuzzDomainsCommand.Settings)),
        (["faults"], typeof(FaultsCommand.Settings)),
        (["fuzz-machine"], typeof(FuzzMachineCommand.Settings)),
        (["seqdiff"], typeof(SeqdiffCommand.Settings)),
        (["cc"], null),
        (["idl"], null),
    ];

    public static int Main(string[] args)
    {
        CommandLine = args;
        Terminal.Configure();
        string[] command = CommandOf(args);
        try
        {
            // `lvd cc` passes arbitrary gcc options through, so it bypasses option parsing.
            if (args.Length > 0 && args[0] == "cc")
                return CcCommand.Run(args.Skip(1).ToArray());
            // `lvd idl FILE.idl [[-o OUTDIR]]`: the glue compiler (docs/IDL.md) has its own argument handling.
            if (args.Length > 0 && args[0] == "idl")
                return Lvd.Idl.IdlCommandLine.Run(args[1..], Console.Out, Console.Error);
            // The executor's JIT compile (~25 ms) overlaps the parsing and the guest's loading.
            ThreadPool.QueueUserWorkItem(_ => Lvd.Machine.Execution.Cpu.PrepareExecutor());
            return CreateApp().Run(Rewrite(args));
        }
        catch (Exception e) when (e is UsageException or CommandParseException or CommandRuntimeException)
        {
            Console.Error.WriteLine($"lvd: {Friendly(e.Message, args, command)} (see {Hint(command)})");
            return StatusUsage;
        }
        catch (Exception e) when (e is LoadException or CostModelException or GuestCompilerException or Lvd.Experiments.ExperimentException)
        {
            Console.Error.WriteLine($"lvd: {e.Message}");
            return StatusUsage;
        }
        catch (Exception e)
        {
            // Anything else is a bug in lvd: say so in one line rather than a stack trace
            // (LVD_DEBUG=1 shows the trace).
            if (Environment.GetEnvironmentVariable("LVD_DEBUG") == "1") throw;
            Console.Error.WriteLine($"lvd: internal error (please report; LVD_DEBUG=1 shows details): {e.GetType().Name}: {e.Message}");
            return 70;
        }
    }

    public static CommandApp CreateApp()
    {
        var app = new CommandApp();
        app.Configure(config =>
        {
            config.SetApplicationName("lvd");
            config.SetApplicationVersion(VersionText());
            config.UseStrictParsing();
            config.ValidateExamples();
            config.PropagateExceptions();
            config.SetHelpProvider(new LvdHelpProvider(config.Settings));
            config.AddExample("boot", "--cpus", "4", "--workload", "nullnet", "--isolate", "nullnet");
            config.AddCommand<DemoCommand>("demo")
                .WithDescription("The main job: 4 vCPUs under the LVD hypervisor, nullnet and nullblk in the kernel and isolated in domains, a " +
                "faulty driver contained.");
            config.AddCommand<ExecCommand>("exec").WithDescription("Run a static x86-64 ELF on the emulated machine.")
                .WithExample("exec", "prog.elf", "--stats-json", "stats.json");
            config.AddCommand<AttackCommand>("attack")
                .WithDescription("Every attack of the paper (and more) made by a domain through the real trampolines, each shown contained.");
            config.AddCommand<BootCommand>("boot").WithDescription("Build the guest kernel and boot it on N vCPUs (docs/BOOT.md).")
                .WithExample("boot", "--cpus", "4", "--workload", "nullblk", "--threads", "2", "--depth", "16", "--json", "run.json")
                .WithExample("boot", "--cpus", "4", "--workload", "nullnet", "--isolate", "nullnet", "--crossings", "2")
                .WithExample("boot", "--domain", "guest/domains/examples/scribbler.c");
            config.AddCommand<LinuxCommand>("linux")
                .WithDescription("Boot Linux 6.1 (built from Debian's linux-source-6.1, cached) with a BusyBox initramfs on the PC platform " +
                "(docs/LINUX.md).")
                .WithExample("linux", "--init", "prog", "--cpus", "1");
            config.AddCommand<CcCommand>("cc")
                .WithDescription("Build a guest program with gcc and the guest runtime: lvd cc [[gcc options]] file.c... -o out.elf");
            config.AddCommand<IdlCommand>("idl")
                .WithDescription("Compile an interface (IDL) into C glue for both sides of a domain: lvd idl FILE.idl [[-o OUTDIR]] (docs/IDL.md).");
            config.AddCommand<FuzzDomainsCommand>("fuzz-domains")
                .WithDescription("Random domains: call bodies of random ring-0 instructions, run against the kernel; no corruption, machine stop " +
                $"or hang allowed (docs/DOMAINS.md). --count: domains (default {FuzzDomainsCommand.Settings.DefaultDomains}).");
            config.AddCommand<FaultsCommand>("faults")
                .WithDescription("Fault injection into a running isolated driver (Nooks' kinds); per kind: no effect, killed and recovered " +
                $"(restarted), not recovered, kernel harmed (docs/DOMAINS.md). --count: faults, one at a time, kinds in turn (default " +
                $"{FaultsCommand.Settings.DefaultFaults}).")
                .WithExample("faults", "--driver", "nullnet", "--count", "200", "--seed", "1");
            config.AddCommand<FuzzMachineCommand>("fuzz-machine")
                .WithDescription("Robustness campaign: random code, system-instruction snippets, damaged ELF files and odd exec command lines, " +
                "plain and under the hypervisor; every run must end with a documented status and report (docs/EXEC-ABI.md). " +
                $"--count: runs (default {FuzzMachineCommand.Settings.DefaultRuns}).");
            config.AddCommand<SeqdiffCommand>("seqdiff")
                .WithDescription("Random instruction chains (registers, flags, memory, addr32, RIP-relative, self-modifying) on the host CPU and " +
                $"on the machine, compared (guest/tests/seq). --count: chains (default {SeqdiffCommand.Settings.DefaultChains}).");
            config.AddCommand<CsmithCommand>("csmith").WithDescription("Differential testing against the host CPU with csmith-generated programs.")
                .WithExample("csmith", "--count", "10", "--opt=-O2");
            config.AddBranch("bench", bench =>
            {
                bench.SetDescription("The LVD paper's evaluation on LVD# (lvd bench [[--out DIR]]), and micro/host-speed benchmarks.");
                bench.SetDefaultCommand<BenchLvdCommand>();
                bench.AddCommand<BenchMicroCommand>("micro")
                    .WithDescription("VMFUNC, SYSCALL, native vs virtualized WRMSR/OUT/CR3 in modeled cycles, beside the paper's Tables 1 and 2.");
                bench.AddCommand<BenchMipsCommand>("mips")
                    .WithDescription("Host MIPS of the emulator beside native and qemu-x86_64 on one CPU-bound program.");
                bench.AddCommand<BenchLinuxCommand>("linux")
                    .WithDescription("Host seconds to boot Linux 6.1 to /init and to its end, beside qemu-system-x86_64 TCG booting the " +
                        "same images.");
                bench.AddCommand<BenchTimingCommand>("timing")
                    .WithDescription("The block model (--costs haswell) against llvm-mca on loop kernels, and the paper's figures under each " +
                        "cost profile.");
            });
        });
        return app;
    }

    /// <summary>"0.15.0 (commit 1a2b3c4d5e6f)".</summary>
    public static string VersionText()
    {
        string root = Environment.GetEnvironmentVariable("LVD_ROOT") ?? AppContext.BaseDirectory;
        return $"{Lvd.Experiments.Results.Version} (commit {Lvd.Experiments.Results.Commit(root)})";
    }

    /// <summary>
    /// Spellings Spectre does not take as they are: `lvd help [COMMAND...]` is `lvd [COMMAND...] --help`;
    /// an option value that starts with a dash (`--opt -O2`) is glued to its option (`--opt=-O2`).
    /// </summary>
    public static string[] Rewrite(string[] args)
    {
        if (args.Length > 0 && args[0] == "help") return [.. args[1..], "--help"];
        var r = new List<string>();
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "--opt" && i + 1 < args.Length && args[i + 1].StartsWith("-O"))
            {
                r.Add($"--opt={args[++i]}");
                continue;
            }
            r.Add(args[i]);
        }
        return [.. r];
    }

    /// <summary>The command the arguments name ("bench", "micro"), or none.</summary>
    private static string[] CommandOf(string[] args)
    {
        var words = args.Length > 0 && args[0] == "help" ? args[1..] : args;
        foreach (var (path, _) in Commands)
            if (words.Length >= path.Length && path.SequenceEqual(words[..path.Length])) return path;
        return [];
    }

    private static string Hint(string[] command) => command.Length == 0 ? "lvd --help" : $"lvd {string.Join(' ', command)} --help";

    [GeneratedRegex(@"^Unknown option '(?<name>[^']+)'\.$")]
    private static partial Regex UnknownOption();

    [GeneratedRegex(@"^Failed to convert '(?<value>.*)' to (?<type>[\w`]+)\.$", RegexOptions.Singleline)]
    private static partial Regex ConversionFailed();

    [GeneratedRegex(@"^Unknown command '(?<name>[^']+)'\.$")]
    private static partial Regex UnknownCommand();

    /// <summary>Spectre's messages in lvd's words: the option with its dashes, the value it got, a suggestion.</summary>
    private static string Friendly(string message, string[] args, string[] command)
    {
        message = message.Trim();
        var m = UnknownOption().Match(message);
        if (m.Success)
        {
            string name = m.Groups["name"].Value;
            string option = name.Length == 1 ? "-" + name : "--" + name;
            string? like = Suggest(name, command);
            return $"unknown option {option}" + (like != null ? $" (did you mean {like}?)" : "");
        }
        m = ConversionFailed().Match(message);
        if (m.Success)
        {
            string value = m.Groups["value"].Value;
            string? option = null;
            for (int i = 0; i < args.Length && option == null; i++)
            {
                if (args[i].EndsWith("=" + value) && args[i].StartsWith('-')) option = args[i][..args[i].IndexOf('=')];
                else if (i + 1 < args.Length && args[i + 1] == value && args[i].StartsWith('-')) option = args[i];
            }
            var type = option == null ? null : OptionType(option.TrimStart('-'), command);
            string kind = type?.Name switch
            {
                "Int32" or "Int64" => "a whole number",
                "UInt64" or "UInt32" => "a whole number, 0 or more",
                "Double" or "Single" => "a number",
                "Boolean" => "true or false",
                _ => "a number",
            };
            return $"{option ?? "an option"} {value}: must be {kind}";
        }
        m = UnknownCommand().Match(message);
        if (m.Success)
            return command.Length == 0
                ? $"unknown command '{m.Groups["name"].Value}' (the commands: demo, exec, boot, linux, attack, bench, csmith, fuzz-domains, " +
                    $"fuzz-machine, seqdiff, faults, cc, idl, help)"
                : $"unexpected argument '{m.Groups["name"].Value}': lvd {string.Join(' ', command)} takes " +
                    $"{(command is ["exec"] ? "one ELF file" : "options only")}";
        return message.Length > 0 ? char.ToLowerInvariant(message[0]) + message[1..].TrimEnd('.') : message;
    }

    /// <summary>The value type of a command's option (nullable unwrapped).</summary>
    private static Type? OptionType(string name, string[] command)
    {
        var type = Commands.FirstOrDefault(c => c.Path.SequenceEqual(command)).Settings;
        var p = type?.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .FirstOrDefault(p => p.GetCustomAttributes<CommandOptionAttribute>().Any(a => a.LongNames.Contains(name)));
        return p == null ? null : Nullable.GetUnderlyingType(p.PropertyType) ?? p.PropertyType;
    }

    /// <summary>The command's option nearest to a misspelt one (edit distance at most 2, or a prefix).</summary>
    private static string? Suggest(string name, string[] command)
    {
        var type = Commands.FirstOrDefault(c => c.Path.SequenceEqual(command)).Settings;
        if (type == null) return null;
        var names = type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .SelectMany(p => p.GetCustomAttributes<CommandOptionAttribute>())
            .SelectMany(a => a.LongNames)
            .Distinct().ToList();
        var best = names.Select(n => (n, d: Distance(name, n))).OrderBy(x => x.d).FirstOrDefault();
        if (best.n != null && best.d <= 2) return "--" + best.n;
        var prefix = names.Where(n => n.StartsWith(name) || name.StartsWith(n)).ToList();
        return prefix.Count == 1 ? "--" + prefix[0] : null;
    }

    private static int Distance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (int i = 0; i <= a.Length; i++) d[i, 0] = i;
        for (int j = 0; j <= b.Length; j++) d[0, j] = j;
        for (int i = 1; i <= a.Length; i++)
            for (int j = 1; j <= b.Length; j++)
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
        return d[a.Length, b.Length];
    }
}

/// <summary>A mistake in how lvd was called.</summary>
public sealed class UsageException(string message) : Exception(message);

using Lvd.Cli.Commands;
using Lvd.Machine.Cost;
using Lvd.Machine.Loader;
using Lvd.Toolchain;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Lvd.Cli;

/// <summary>
/// The `lvd` command. It only composes: the machine, toolchain and experiments do the work.
/// Errors a user can cause print one line and exit non-zero; a .NET stack trace is a bug.
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        try
        {
            // `lvd cc` passes arbitrary gcc options through, so it bypasses option parsing.
            if (args.Length > 0 && args[0] == "cc")
                return CcCommand.Run(args.Skip(1).ToArray());
            // `lvd idl FILE.idl [[-o OUTDIR]]`: the glue compiler (docs/IDL.md) has its own argument handling.
            if (args.Length > 0 && args[0] == "idl")
                return Lvd.Idl.IdlCommandLine.Run(args[1..], Console.Out, Console.Error);

            var app = new CommandApp();
            app.Configure(config =>
            {
                config.SetApplicationName("lvd");
                config.AddCommand<DemoCommand>("demo").WithDescription("The main job: 4 vCPUs under the LVD hypervisor, nullnet and nullblk in the kernel and isolated in domains, a faulty driver contained.");
                config.AddCommand<ExecCommand>("exec").WithDescription("Run a static x86-64 ELF on the emulated machine.");
                config.AddCommand<AttackCommand>("attack").WithDescription("Every attack of the paper (and more) made by a domain through the real trampolines, each shown contained.");
                config.AddCommand<BootCommand>("boot").WithDescription("Build the guest kernel and boot it on N vCPUs (docs/BOOT.md).");
                config.AddCommand<CcCommand>("cc").WithDescription("Build a guest program with gcc and the guest runtime: lvd cc [[gcc options]] file.c... -o out.elf");
                config.AddCommand<IdlCommand>("idl").WithDescription("Compile an interface (IDL) into C glue for both sides of a domain: lvd idl FILE.idl [[-o OUTDIR]] (docs/IDL.md).");
                config.AddCommand<FuzzDomainsCommand>("fuzz-domains").WithDescription("Random domains: call bodies of random ring-0 instructions, run against the kernel; no corruption, machine stop or hang allowed (docs/DOMAINS.md).");
                config.AddCommand<CsmithCommand>("csmith").WithDescription("Differential testing against the host CPU with csmith-generated programs.");
                config.AddBranch("bench", bench =>
                {
                    bench.SetDescription("The LVD paper's evaluation on LVD# (lvd bench [[--out DIR]]), and micro/host-speed benchmarks.");
                    bench.SetDefaultCommand<BenchLvdCommand>();
                    bench.AddCommand<BenchMicroCommand>("micro").WithDescription("VMFUNC, SYSCALL, native vs virtualized WRMSR/OUT/CR3 in modeled cycles, beside the paper's Tables 1 and 2.");
                    bench.AddCommand<BenchMipsCommand>("mips").WithDescription("Host MIPS of the emulator beside native and qemu-x86_64 on one CPU-bound program.");
                });
                config.PropagateExceptions();
            });
            return app.Run(args);
        }
        catch (Exception e) when (e is LoadException or CostModelException or GuestCompilerException or UsageException or Lvd.Experiments.ExperimentException)
        {
            Console.Error.WriteLine($"lvd: {e.Message}");
            return ProgramRunner.StatusBadInput;
        }
        catch (CommandParseException e)
        {
            Console.Error.WriteLine($"lvd: {e.Message} (see lvd --help)");
            return ProgramRunner.StatusBadInput;
        }
        catch (CommandRuntimeException e)
        {
            Console.Error.WriteLine($"lvd: {e.Message} (see lvd --help)");
            return ProgramRunner.StatusBadInput;
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
}

/// <summary>A mistake in how lvd was called.</summary>
public sealed class UsageException(string message) : Exception(message);

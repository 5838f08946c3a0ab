using System.ComponentModel;
using Lvd.Experiments.Differential;
using Lvd.Toolchain;
using Spectre.Console.Cli;

namespace Lvd.Cli.Commands;

/// <summary>`lvd seqdiff`: random instruction chains on the host CPU and on the machine, compared (SequenceCampaign, guest/tests/seq).</summary>
public sealed class SeqdiffCommand : Command<SeqdiffCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--count <N>")]
        [Description("How many chains (default 2000).")]
        [DefaultValue(2000)]
        public int Count { get; init; } = 2000;

        [CommandOption("--seed <S>")]
        [Description("Generator seed (default 1): the same seed makes the same chains.")]
        [DefaultValue(1L)]
        public long Seed { get; init; } = 1;

        [CommandOption("--hypervisor")]
        [Description("Run the emulator side as a VT-x guest under the LVD hypervisor.")]
        public bool Hypervisor { get; init; }
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        if (settings.Count is < 1 or > 100_000_000) throw new UsageException("--count must be 1 to 100000000");
        if (settings.Seed is < 0 or > int.MaxValue) throw new UsageException("--seed must be 0 to 2147483647");
        var cc = GuestCompiler.Locate();
        var rep = new SequenceCampaign(cc, Path.Combine(cc.RepoRoot, "build", "seqdiff")).Run(settings.Count, settings.Seed, settings.Hypervisor);
        foreach (var m in rep.Mismatches.Take(20)) Console.WriteLine("  " + m);
        Console.WriteLine(rep.Summary);
        if (rep.Mismatches.Count > 0)
            Console.WriteLine($"  details: gcc -O1 -no-pie -mgeneral-regs-only -DVERBOSE " +
                $"-DNCHAINS={settings.Count} -DSEED={settings.Seed} {SequenceCampaign.Source} (and lvd cc with the same -D flags) print every " +
                $"register of every chain");
        return rep.Passed ? 0 : 1;
    }
}

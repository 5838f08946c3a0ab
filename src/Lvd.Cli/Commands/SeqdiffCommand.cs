using Lvd.Experiments.Differential;

namespace Lvd.Cli.Commands;

/// <summary>`lvd seqdiff`: random instruction chains on the host CPU and on the machine, compared (SequenceCampaign, guest/tests/seq).</summary>
public sealed class SeqdiffCommand : Command<SeqdiffCommand.Settings>
{
    public sealed class Settings : SeededSettings
    {
        public const int DefaultChains = 2000;

        protected override int DefaultCount => DefaultChains;
        protected override int MaxCount => 100_000_000;
        protected override long MaxSeed => int.MaxValue;   // the generator's seed is a C int

        [CommandOption("--hypervisor")]
        [Description("Run the emulator side as a VT-x guest under the LVD hypervisor.")]
        public bool Hypervisor { get; init; }
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
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

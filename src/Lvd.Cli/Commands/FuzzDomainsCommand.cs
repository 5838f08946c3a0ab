namespace Lvd.Cli.Commands;

/// <summary>
/// `lvd fuzz-domains`: domains whose call is a random ring-0 instruction stream, many per boot,
/// every outcome classified; any kernel corruption, machine stop or hang fails the campaign
/// (DomainFuzz, docs/DOMAINS.md "Random domains").
/// </summary>
public sealed class FuzzDomainsCommand : Command<FuzzDomainsCommand.Settings>
{
    public sealed class Settings : CampaignSettings
    {
        public const int DefaultDomains = 300;

        [CommandOption("--cpus <C>")]
        [Description("vCPUs per boot (default 2).")]
        [DefaultValue(2)]
        public int Cpus { get; init; } = 2;

        [CommandOption("--per-boot <N>")]
        [Description("Domains per boot (default 50, at most 60, the kernel's boot-module table).")]
        [DefaultValue(50)]
        public int PerBoot { get; init; } = 50;

        protected override int DefaultCount => DefaultDomains;
        protected override int MaxCount => 1_000_000;

        protected override void Check()
        {
            base.Check();
            Require(Cpus is >= 1 and <= LvdBoot.MaxCpus, $"--cpus {Cpus}: 1 to {LvdBoot.MaxCpus}");
            Require(PerBoot is >= 1 and <= 60, $"--per-boot {PerBoot}: must be 1 to 60 (the kernel's boot-module table)");
        }
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var cc = GuestCompiler.Locate();
        var o = new DomainFuzz.Options
        {
            Count = settings.Count, Seed = settings.Seed, Cpus = settings.Cpus, PerBoot = settings.PerBoot,
            Jobs = settings.Jobs,
        };
        DomainFuzz.Report rep = null!;
        // One step per boot of PerBoot domains (progress on a terminal only, Terminal.Steps).
        int boots = (o.Count + o.PerBoot - 1) / o.PerBoot;
        Terminal.Steps($"fuzz-domains: seed {o.Seed}, {o.Count} domains in {boots} boots", boots,
            step => rep = DomainFuzz.Run(o, cc, done => step($"{done} domains")));
        var table = new Table().Title($"Random domains, seed {o.Seed}").AddColumn("outcome").AddColumn("class").AddColumn(new TableColumn("domains")
            .RightAligned());
        foreach (var g in rep.Outcomes.GroupBy(x => (x.Kind, x.Class)).OrderBy(g => g.Key.Kind).ThenByDescending(g => g.Count()))
            table.AddRow(Markup.Escape(g.Key.Kind), Markup.Escape(g.Key.Class), g.Count().ToString());
        AnsiConsole.Write(table);
        foreach (var f in rep.Failures)
            AnsiConsole.MarkupLineInterpolated($"[red]FAIL[/] seed {o.Seed} domain {f.Index}{(f.Path != null ? $" ({f.Path})" : "")}: {f.What}");
        AnsiConsole.MarkupLine( // numbers only: nothing to escape
            $"[grey]{rep.Instructions:N0} guest instructions; the longest boot {rep.MaxBootInstructions:N0} "
            + $"(limit {o.BaseInstructions:N0} + {o.InstructionsPerDomain:N0} per domain)[/]");
        Console.WriteLine(rep.Summary);
        return rep.Passed ? 0 : 1;
    }
}

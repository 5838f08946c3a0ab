using System.Text.RegularExpressions;

namespace Lvd.Cli.Commands;

/// <summary>
/// `lvd attack`: the paper's attacks (LVD.md section 6) and more, each made by a domain through
/// the real trampolines (guest/domains/selftest, guest/kernel/tests/lvd_test.c), each shown contained:
/// the domain killed or the call rejected, the kernel's image unchanged, the kernel running.
/// </summary>
public sealed partial class AttackCommand : Command<AttackCommand.Settings>
{
    public sealed class Settings : CostSettings
    {
        [CommandOption("--cpus <N>")]
        [Description("vCPUs, 2 to 9 (default 4; the cross-CPU attacks need 2 or more).")]
        [DefaultValue(4)]
        public int Cpus { get; init; } = 4;

        [CommandOption("--json <FILE>")]
        [Description("Write each attack and its outcome for scripts (docs/RESULTS.md).")]
        public string? Json { get; init; }

        protected override void Check()
        {
            base.Check();
            Require(Cpus is >= 2 and <= LvdBoot.MaxSelftestCpus,
                $"--cpus {Cpus}: 2 to {LvdBoot.MaxSelftestCpus} (the cross-CPU attacks need a second vCPU; the LVD self test runs on at most " +
                $"{LvdBoot.MaxSelftestCpus})");
            if (Json != null) OutputPaths.CheckOutputFile("--json", Json);
        }
    }

    [GeneratedRegex(@"^lvdtest: (?<name>.+?)\s+(?<what>killed|rejected|returned) \((?<r>-?\d+)\)\s*$")]
    private static partial Regex AttackLine();

    [GeneratedRegex(@"^lvd: domain selftest killed on cpu \d+: (?<why>.+)$")]
    private static partial Regex KillLine();

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var r = Terminal.Status($"booting the kernel on {settings.Cpus} vCPUs under the hypervisor; a domain attacks it ...", () =>
            LvdBoot.Run(new LvdBootSpec
            {
                Cpus = settings.Cpus, Selftest = true,
                MemoryMiB = settings.Cpus > 4 ? LvdBoot.SelftestManyCpusMemoryMiB : new LvdBootSpec().MemoryMiB,
            }, costs: settings.LoadCosts()));
        var attacks = new System.Text.Json.Nodes.JsonArray();
        var log = r.OutputText.Split('\n');
        var table = new Table().Title("Attacks by a domain, each through the real VMFUNC trampolines")
            .AddColumn("attack").AddColumn("outcome").AddColumn("how it was stopped");
        string? why = null;
        int n = 0;
        foreach (var line in log)
        {
            var k = KillLine().Match(line);
            if (k.Success) { why = k.Groups["why"].Value; continue; }
            var a = AttackLine().Match(line);
            if (!a.Success) continue;
            string what = a.Groups["what"].Value;
            var (outcome, how) = what switch
            {
                "killed" => ("[green]domain killed[/]", why ?? ""),
                "returned" => ("[green]harmless[/]",
                    "the call returned; the kernel's state probe (control registers, RFLAGS, FS/GS, descriptor tables, image hash) found nothing " +
                    "changed"),
                _ => ("[green]call rejected[/]", $"the reply's status {a.Groups["r"].Value} is an error: the kernel used nothing else from it"),
            };
            attacks.Add(new System.Text.Json.Nodes.JsonObject
            {
                ["attack"] = a.Groups["name"].Value,
                ["outcome"] = what switch { "killed" => "domain_killed", "returned" => "harmless", _ => "call_rejected" },
                ["status"] = int.Parse(a.Groups["r"].Value),
                ["reason"] = what == "killed" ? why : null,
            });
            table.AddRow(Markup.Escape(a.Groups["name"].Value), outcome, Markup.Escape(how));
            why = null;
            n++;
        }
        // The isolated ixgbe's attacks through its NIC: one boot each (docs/THREAT-MODEL.md, "Devices").
        var nicAttacks = Terminal.Status("the isolated ixgbe attacks through its NIC, one boot each ...", () =>
            LvdBoot.IxgbeAttacks.AsParallel().AsOrdered().WithDegreeOfParallelism(2)
                .Select(a => (Attack: a, Run: LvdBoot.Run(IxgbeAttackResult.Spec(a), costs: settings.LoadCosts()))).ToList());
        int nicFailed = 0;
        foreach (var (attack, run) in nicAttacks)
        {
            var x = run.ExitStatus == 0 ? IxgbeAttackResult.Parse(run.OutputText) : null;
            if (x == null || !x.Serving || (!x.Killed && attack != "irq-flood"))
            {
                nicFailed++;
                table.AddRow(Markup.Escape($"ixgbe: {attack}"), "[red]not contained[/]", Markup.Escape($"exit status {run.ExitStatus}"));
                continue;
            }
            string how = x.Killed
                ? $"{x.KillReason}; the memory aimed at and the kernel's image unchanged (hypervisor hash), the NIC taken back and reset, " +
                  "the driver restarted and serving"
                : $"{x.Returned:N0} interrupt causes set: no message sent (the MSI-X table and config space are not in the domain's reach)";
            table.AddRow(Markup.Escape($"ixgbe: {attack}"), x.Killed ? "[green]domain killed[/]" : "[green]harmless[/]", Markup.Escape(how));
            attacks.Add(new System.Text.Json.Nodes.JsonObject
            {
                ["attack"] = $"ixgbe-{attack}",
                ["outcome"] = x.Killed ? "domain_killed" : "harmless",
                ["status"] = x.CallStatus,
                ["reason"] = x.KillReason,
                ["dma_faults"] = x.DmaFaults,
            });
            n++;
        }
        AnsiConsole.Write(table);
        foreach (var line in log.Where(l => l.StartsWith("lvdtest: ") && !AttackLine().IsMatch(l)))
            AnsiConsole.MarkupLineInterpolated($"[grey]{line.TrimEnd()}[/]");
        if (settings.Json != null)
            ResultsJson.Write(settings.Json, "attack", settings.LoadCosts(), new System.Text.Json.Nodes.JsonObject
            {
                ["cpus"] = settings.Cpus,
                ["exit_status"] = r.ExitStatus,
                ["attacks_contained"] = n,
                ["vm_exits"] = r.TotalExits,
                ["attacks"] = attacks,
            });
        if (nicFailed > 0)
        {
            AnsiConsole.MarkupLineInterpolated($"[red]{nicFailed} attack(s) of the isolated ixgbe not contained[/]");
            return 1;
        }
        if (r.ExitStatus != 0 || n == 0)
        {
            Console.Error.Write(r.Run.CrashReport ?? string.Join('\n', log.TakeLast(20)));
            AnsiConsole.MarkupLineInterpolated($"[red]the self test failed (exit status {r.ExitStatus})[/]");
            return r.ExitStatus != 0 ? r.ExitStatus : 1;
        }
        AnsiConsole.MarkupLineInterpolated($"{n} attacks contained; VM exits in the whole run: {r.TotalExits:N0}.");
        return 0;
    }
}

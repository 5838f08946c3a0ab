using System.Collections.Concurrent;
using System.ComponentModel;
using Lvd.Experiments.Differential;
using Lvd.Toolchain;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Lvd.Cli.Commands;

/// <summary>`lvd csmith`: program-level differential testing against the host CPU with fresh or listed seeds.</summary>
public sealed class CsmithCommand : Command<CsmithCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--count <N>")]
        [Description("How many seeds (default 20).")]
        [DefaultValue(20)]
        public int Count { get; init; } = 20;

        [CommandOption("--first <SEED>")]
        [Description("First seed; consecutive seeds follow. Default: random seeds.")]
        public ulong? First { get; init; }

        [CommandOption("--seed-file <FILE>")]
        [Description("Run the seeds listed in a file (one per line), e.g. tests/data/csmith-seeds.txt.")]
        public string? SeedFile { get; init; }

        [CommandOption("--opt <LEVELS>")]
        [Description("Comma-separated optimisation levels (default -O0,-O2).")]
        [DefaultValue("-O0,-O2")]
        public string Opt { get; init; } = "-O0,-O2";

        [CommandOption("--jobs <N>")]
        [Description("Parallel cases (default: processor count).")]
        public int? Jobs { get; init; }
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        if (settings.Count < 1) throw new UsageException("--count must be at least 1");
        var cc = GuestCompiler.Locate();
        var campaign = new CsmithCampaign(cc, Path.Combine(cc.RepoRoot, "build", "csmith"));
        List<ulong> seeds;
        if (settings.SeedFile != null)
        {
            if (!File.Exists(settings.SeedFile)) throw new UsageException($"{settings.SeedFile}: no such file");
            seeds = CsmithSeeds.Parse(File.ReadAllText(settings.SeedFile), settings.SeedFile);
        }
        else if (settings.First is ulong first) seeds = Enumerable.Range(0, settings.Count).Select(i => first + (ulong)i).ToList();
        else
        {
            var rng = new Random();
            seeds = Enumerable.Range(0, settings.Count).Select(_ => (ulong)rng.NextInt64(1, int.MaxValue)).ToList();
        }
        var opts = settings.Opt.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (opts.Length == 0 || opts.Any(o => !o.StartsWith("-O"))) throw new UsageException("--opt takes levels like -O0,-O2");
        var cases = seeds.SelectMany(s => opts.Select(o => (s, o))).ToList();
        var results = new ConcurrentBag<CsmithCampaign.CaseResult>();
        AnsiConsole.Progress().Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn()).Start(ctx =>
        {
            var task = ctx.AddTask($"csmith: {seeds.Count} seeds x {opts.Length} levels", maxValue: cases.Count);
            Parallel.ForEach(cases, new ParallelOptions { MaxDegreeOfParallelism = settings.Jobs ?? Environment.ProcessorCount }, c =>
            {
                results.Add(campaign.Run(c.s, c.o));
                task.Increment(1);
            });
        });
        var byVerdict = results.GroupBy(r => r.Verdict).ToDictionary(g => g.Key, g => g.Count());
        foreach (var r in results.Where(r => r.Verdict is not (CsmithCampaign.Verdict.Pass or CsmithCampaign.Verdict.NativeTooSlow)).OrderBy(r => r.Seed))
            AnsiConsole.MarkupLineInterpolated($"[red]{r.Verdict}[/] seed {r.Seed} {r.Opt}: {r.Detail}");
        int passed = byVerdict.GetValueOrDefault(CsmithCampaign.Verdict.Pass);
        int slow = byVerdict.GetValueOrDefault(CsmithCampaign.Verdict.NativeTooSlow);
        int failed = cases.Count - passed - slow;
        long instr = results.Sum(r => r.Instructions);
        Console.WriteLine($"csmith: {passed} passed, {failed} failed, {slow} not compared (native run too slow); {instr:N0} guest instructions");
        return failed == 0 ? 0 : 1;
    }
}

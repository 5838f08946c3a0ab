using System.Collections.Concurrent;
using Lvd.Experiments.Differential;

namespace Lvd.Cli.Commands;

/// <summary>`lvd csmith`: program-level differential testing against the host CPU with fresh or listed seeds.</summary>
public sealed class CsmithCommand : Command<CsmithCommand.Settings>
{
    public sealed class Settings : LvdSettings
    {
        [CommandOption("--count <N>")]
        [Description("How many seeds (default 20; not with --seed-file).")]
        public int? CountOption { get; init; }

        public int Count => CountOption ?? 20;

        [CommandOption("--first <SEED>")]
        [Description("First seed; consecutive seeds follow (not with --seed-file). Default: random seeds.")]
        public ulong? First { get; init; }

        [CommandOption("--seed-file <FILE>")]
        [Description("Run the seeds listed in a file (one per line), e.g. tests/data/csmith-seeds.txt.")]
        public string? SeedFile { get; init; }

        [CommandOption("--opt <LEVELS>")]
        [Description("Comma-separated optimisation levels: -O0, -O1, -O2, -O3, -Os, -Og (default -O0,-O2; `--opt -O2` and `--opt=-O2` both work).")]
        [DefaultValue("-O0,-O2")]
        public string Opt { get; init; } = "-O0,-O2";

        [CommandOption("--jobs <N>")]
        [Description("Parallel cases (default: processor count).")]
        public int? Jobs { get; init; }

        [CommandOption("--json <FILE>")]
        [Description("Write every case (seed, level, verdict, guest instructions) for scripts (docs/RESULTS.md).")]
        public string? Json { get; init; }

        public static readonly string[] Levels = ["-O0", "-O1", "-O2", "-O3", "-Os", "-Og"];

        public string[] OptLevels => Opt.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

        protected override void Check()
        {
            Require(Count >= 1, $"--count {Count}: must be at least 1");
            Require(Jobs is null or >= 1, $"--jobs {Jobs}: must be at least 1");
            Require(SeedFile == null || CountOption == null, "--count and --seed-file exclude each other (the file lists the seeds)");
            Require(SeedFile == null || First == null, "--first and --seed-file exclude each other (the file lists the seeds)");
            if (SeedFile != null) OutputPaths.CheckInputFile("--seed-file", SeedFile);
            Require(OptLevels.Length > 0, "--opt needs levels, e.g. -O0,-O2");
            foreach (var o in OptLevels)
                Require(Levels.Contains(o), $"--opt {o}: one of {string.Join(", ", Levels)}");
            if (Json != null) OutputPaths.CheckOutputFile("--json", Json);
        }
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var cc = GuestCompiler.Locate();
        var campaign = new CsmithCampaign(cc, Path.Combine(cc.RepoRoot, "build", "csmith"));
        List<ulong> seeds;
        if (settings.SeedFile != null)
        {
            seeds = CsmithSeeds.Parse(File.ReadAllText(settings.SeedFile), settings.SeedFile);
        }
        else if (settings.First is ulong first) seeds = Enumerable.Range(0, settings.Count).Select(i => first + (ulong)i).ToList();
        else
        {
            var rng = new Random();
            seeds = Enumerable.Range(0, settings.Count).Select(_ => (ulong)rng.NextInt64(1, int.MaxValue)).ToList();
        }
        var opts = settings.OptLevels;
        var cases = seeds.SelectMany(s => opts.Select(o => (s, o))).ToList();
        var results = new ConcurrentBag<CsmithCampaign.CaseResult>();
        Terminal.Steps($"csmith: {seeds.Count} seeds x {opts.Length} levels", cases.Count, step =>
            Parallel.ForEach(cases, new ParallelOptions { MaxDegreeOfParallelism = settings.Jobs ?? Environment.ProcessorCount }, c =>
            {
                results.Add(campaign.Run(c.s, c.o));
                step($"seed {c.s} {c.o}");
            }));
        var byVerdict = results.GroupBy(r => r.Verdict).ToDictionary(g => g.Key, g => g.Count());
        foreach (var r in results.Where(r => r.Verdict is not (CsmithCampaign.Verdict.Pass or CsmithCampaign.Verdict.NativeTooSlow))
            .OrderBy(r => r.Seed))
            AnsiConsole.MarkupLineInterpolated($"[red]{r.Verdict}[/] seed {r.Seed} {r.Opt}: {r.Detail}");
        int passed = byVerdict.GetValueOrDefault(CsmithCampaign.Verdict.Pass);
        int slow = byVerdict.GetValueOrDefault(CsmithCampaign.Verdict.NativeTooSlow);
        int failed = cases.Count - passed - slow;
        long instr = results.Sum(r => r.Instructions);
        Console.WriteLine($"csmith: {passed} passed, {failed} failed, {slow} not compared (native run too slow); {instr:N0} guest instructions");
        if (settings.Json != null)
            ResultsJson.Write(settings.Json, "csmith", Lvd.Machine.Cost.CostModel.Default, new System.Text.Json.Nodes.JsonObject
            {
                ["passed"] = passed,
                ["failed"] = failed,
                ["not_compared"] = slow,
                ["guest_instructions"] = instr,
                ["cases"] = new System.Text.Json.Nodes.JsonArray(results.OrderBy(r => r.Seed).ThenBy(r => r.Opt)
                    .Select(r => (System.Text.Json.Nodes.JsonNode?)new System.Text.Json.Nodes.JsonObject
                {
                    ["seed"] = r.Seed,
                    ["opt"] = r.Opt,
                    ["verdict"] = ResultsJson.Snake(r.Verdict.ToString()),
                    ["guest_instructions"] = r.Instructions,
                    ["detail"] = r.Detail,
                }).ToArray()),
            });
        return failed == 0 ? 0 : 1;
    }
}

using System.Collections.Concurrent;
using Lvd.Experiments.Bench;
using Lvd.Experiments.Domains;
using Lvd.Machine.Cost;
using Lvd.Tests.Support;

namespace Lvd.Tests;

/// <summary>
/// The README's figures cannot go stale (issue 15): they are generated (`./lvd bench
/// --update-docs`, Lvd.Experiments.Bench.DocFigures) between markers with the values they were
/// rendered from; the tables must be exactly those values rendered, and the values of the
/// cheap, deterministic runs (the micro benchmark, Table 1's call/reply, nullnet native and
/// 1 crossing, nullblk isolated, each one boot) must be what the machine measures now.
/// </summary>
public sealed class DocFiguresTests
{
    private static string Readme => File.ReadAllText(Guest.Path("README.md"));

    [Fact]
    public void TheReadmesTablesAreRenderedFromItsValues()
    {
        string readme = Readme;
        var values = DocFigures.Read(readme);
        Assert.Equal(DocFigures.Render(values), DocFigures.Block(readme));
        foreach (var job in DocFigures.WorkloadJobs) Assert.Contains($"{job}.cycles_per_op", values.Keys);
    }

    [Fact]
    public void TheReadmesFiguresAreWhatTheMachineMeasuresNow()
    {
        string[] cheap = ["call", "nullnet-native-1", "nullnet-1x-1", "nullblk-iso-1-1"];
        var o = DocFigures.Options;
        var images = new LvdBoot.Images(Guest.Cc);
        var runs = new ConcurrentDictionary<string, LvdEvaluation.JobResult>();
        Parallel.ForEach(LvdEvaluation.Plan(o).Where(j => cheap.Contains(j.Key)), new ParallelOptions { MaxDegreeOfParallelism = 2 },
            job => runs[job.Key] = LvdEvaluation.RunJob(job, o, images));
        var now = DocFigures.Collect(runs, MicroBenchmark.Run(Guest.Cc, o.Costs));
        Assert.True(now.Count == DocFigures.MicroKeys.Length + 1 + 2 + 5 + 2, string.Join(", ", now.Keys));
        var shown = DocFigures.Read(Readme);
        foreach (var (key, value) in now)
            Assert.True(shown.TryGetValue(key, out long readme) && readme == value,
                $"README.md shows {key} = {(shown.ContainsKey(key) ? shown[key] : "nothing")}, the machine measures {value}: run ./lvd bench " +
                    $"--update-docs");
    }
}

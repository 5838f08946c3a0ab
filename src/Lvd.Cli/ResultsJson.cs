using System.Text.Json.Nodes;
using Lvd.Machine.Cost;

namespace Lvd.Cli;

/// <summary>The `--json FILE` documents of the commands (docs/RESULTS.md), on top of <see cref="Results"/>.</summary>
public static class ResultsJson
{
    public static void Write(string path, string command, CostModel costs, JsonObject results) =>
        Results.Write(path, Results.Header(command, costs, Lvd.Toolchain.GuestCompiler.Locate().RepoRoot, Program.CommandLine), results);

    /// <summary>"IoInstruction" -> "io_instruction".</summary>
    public static string Snake(string name) => Results.Snake(name);

    /// <summary>The machine's statistics (ProgramResult.StatsJson) with every key in snake_case ("IoInstruction" -> "io_instruction").</summary>
    public static JsonNode? Stats(ProgramResult r) => SnakeKeys(JsonNode.Parse(r.StatsJson()));

    private static JsonNode? SnakeKeys(JsonNode? n)
    {
        switch (n)
        {
            case JsonObject o:
                var copy = new JsonObject();
                foreach (var (k, v) in o.ToList())
                {
                    o.Remove(k);
                    copy[Snake(k)] = SnakeKeys(v);
                }
                return copy;
            case JsonArray a:
                var items = a.ToList();
                a.Clear();
                return new JsonArray(items.Select(SnakeKeys).ToArray());
            default:
                return n;
        }
    }

    public static JsonObject Counts(IReadOnlyDictionary<string, long> byName) => Results.Counts(byName);

    public static JsonObject Spec(LvdBootSpec s) => new()
    {
        ["cpus"] = s.Cpus,
        ["memory_mib"] = s.MemoryMiB,
        ["workload"] = s.Workload,
        ["threads"] = s.Workload == null ? null : s.Threads,
        ["depth"] = s.Workload == "nullblk" ? s.Depth : null,
        ["duration_cycles"] = s.Workload == null ? null : s.Duration,
        ["seed"] = s.Workload == "nullblk" ? s.Seed : null,
        ["isolate"] = new JsonArray(s.Isolate.Select(d => (JsonNode?)d).ToArray()),
        ["crossings_per_packet"] = s.Isolate.Contains("nullnet") ? s.Crossings : null,
        ["hypervisor"] = s.NeedsHypervisor,
        ["lvd_selftest"] = s.Selftest,
        ["domains"] = new JsonArray(s.UserDomains.Select(d => (JsonNode?)d).ToArray()),
        ["extra_cmdline"] = s.ExtraCmdline,
    };

    public static JsonObject Workload(string name, LvdWorkloadResult w)
    {
        var o = w.ToJson(new JsonObject { ["name"] = name, ["operation"] = name == "nullnet" ? "packet" : "io" });
        o["result_line"] = w.Line;
        return o;
    }

    /// <summary>`lvd boot --json`: the boot, its outcome, the workload's measurement and the machine's statistics.</summary>
    public static JsonObject Boot(LvdBootSpec spec, ProgramResult r, string log)
    {
        JsonNode? workload = null;
        if (spec.Workload != null)
        {
            try { workload = Workload(spec.Workload, LvdBoot.Parse(r, log)); }
            catch (InvalidOperationException) { }
        }
        return new JsonObject
        {
            ["boot"] = Spec(spec),
            ["exit_status"] = r.ExitStatus,
            ["outcome"] = Snake(r.Run.Outcome.ToString()),
            ["workload"] = workload,
            ["stats"] = Stats(r),
        };
    }

}

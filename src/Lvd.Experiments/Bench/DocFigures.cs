using System.Text;
using System.Text.RegularExpressions;

namespace Lvd.Experiments.Bench;

/// <summary>
/// The README's figures, generated (issue 15: numbers that cannot go stale). `lvd bench
/// --update-docs` runs the evaluation and `lvd bench micro` with the default options and cost
/// file, keeps the figures the README shows as named values, and writes them, rendered into
/// tables, between the markers <see cref="Begin"/> and <see cref="End"/> of README.md, the values
/// themselves in a comment there. A test renders the README's values again (the tables must be
/// exactly theirs) and recomputes some of them with single runs (modeled cycles are deterministic:
/// one boot gives the figures of the whole evaluation's same boot).
/// </summary>
public static partial class DocFigures
{
    public const string Begin = "<!-- figures:begin";
    public const string End = "<!-- figures:end -->";
    private const string ValuesPrefix = "<!-- figures:values ";

    /// <summary>The evaluation the README describes: `lvd bench`'s defaults (the haswell profile).</summary>
    public static LvdEvaluation.Options Options { get; } = new()
    {
        Cpus = 4, Duration = 10_000_000, Threads = [1, 2, 4], Costs = Lvd.Machine.Cost.CostModel.Named("haswell"),
    };

    /// <summary>The evaluation's runs the README's tables use (keys of <see cref="LvdEvaluation.Plan"/>).</summary>
    public static readonly string[] WorkloadJobs =
    [
        "nullnet-native-1", "nullnet-1x-1", "nullnet-2x-1", "nullnet-native-4", "nullnet-1x-4", "nullnet-2x-4",
        "nullblk-native-1-1", "nullblk-iso-1-1", "nullblk-native-16-1", "nullblk-iso-16-1", "nullblk-native-16-4", "nullblk-iso-16-4",
    ];

    /// <summary>The micro benchmark's figures the README shows.</summary>
    public static readonly string[] MicroKeys =
        ["vmfunc", "syscall_native", "wrmsr_native", "wrmsr_virtualized", "out_native", "out_virtualized", "cr3_native", "cr3_virtualized"];

    /// <summary>The values of one run of the evaluation's jobs (all of them or some) and of the micro benchmark (or none).</summary>
    public static SortedDictionary<string, long> Collect(IReadOnlyDictionary<string, LvdEvaluation.JobResult> runs, MicroBenchmark.Result? micro)
    {
        var v = new SortedDictionary<string, long>(StringComparer.Ordinal);
        if (micro != null)
            foreach (var row in micro.Rows)
                if (MicroKeys.Contains(row.Name)) v[$"micro.{row.Name}"] = row.Cycles;
        foreach (var (key, r) in runs)
        {
            if (r.Workload is { } w)
            {
                if (!WorkloadJobs.Contains(key)) continue;
                v[$"{key}.per_second"] = w.PerSecond;
                v[$"{key}.cycles_per_op"] = w.CyclesPerOperation;
                if (key == "nullnet-1x-1")
                {
                    v[$"{key}.domain_calls"] = w.DomainCalls;
                    v[$"{key}.vmfuncs"] = r.Values["vmfuncs"];
                    v[$"{key}.vm_exits"] = r.Values["exits"];
                }
            }
            else
                foreach (var (name, value) in r.Values)
                    if (name is "call" or "kernel-native" or "kernel-virtualized" or "domain") v[name == "call" ? "call" : $"irq.{name}"] = value;
        }
        return v;
    }

    private static string N(long v) => v.ToString("#,0", System.Globalization.CultureInfo.InvariantCulture);
    private static string N(double v) => v.ToString("#,0", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>A rate as the README writes it: 1.11M, 795K.</summary>
    private static string Rate(long v) => v >= 1_000_000
        ? (v / 1e6).ToString("0.00", System.Globalization.CultureInfo.InvariantCulture) + "M"
        : (v / 1e3).ToString("0", System.Globalization.CultureInfo.InvariantCulture) + "K";

    private static string Pct(long part, long whole) => $"{Math.Round(100.0 * part / whole):0}%";

    /// <summary>The README's block for these values (markers included).</summary>
    public static string Render(IReadOnlyDictionary<string, long> v)
    {
        long V(string k) => v.TryGetValue(k, out long x) ? x : throw new ExperimentException($"README figures: no value {k}");
        var P = LvdEvaluation.Paper.NullnetNativePps;
        var sb = new StringBuilder();
        sb.Append(Begin).Append(": written by `./lvd bench --update-docs` (one run of `lvd bench` and `lvd bench micro`, default options, haswell " +
            "profile); tests/Lvd.Tests/DocFiguresTests.cs checks them -->\n");
        sb.Append(ValuesPrefix).Append(string.Join(' ', v.Select(kv => $"{kv.Key}={kv.Value}"))).Append(" -->\n");
        sb.Append("Modeled cycles, haswell profile (`./lvd bench micro`; docs/COST-MODEL.md), paper values beside:\n\n");
        sb.Append("| operation | LVD# | paper |\n|---|---|---|\n");
        sb.Append($"| VMFUNC | {N(V("micro.vmfunc"))} | 169 |\n");
        sb.Append($"| SYSCALL+SYSRET | {N(V("micro.syscall_native"))} | 140 |\n");
        sb.Append($"| WRMSR native / virtualized | {N(V("micro.wrmsr_native"))} / {N(V("micro.wrmsr_virtualized"))} | 127 / 1,367 |\n");
        sb.Append($"| OUT native / virtualized | {N(V("micro.out_native"))} / {N(V("micro.out_virtualized"))} | 4,213 / 5,384 |\n");
        sb.Append($"| MOV CR3 native / virtualized | {N(V("micro.cr3_native"))} / {N(V("micro.cr3_virtualized"))} | 130 / 143 |\n\n");
        var o = Options;
        sb.Append("### The paper's evaluation (`./lvd bench`)\n");
        sb.Append($"One run of `./lvd bench` ({o.Cpus} vCPUs, {o.Duration / 1_000_000}M modeled cycles per workload run, haswell profile;\n");
        sb.Append("`results.json` and the plots go to `build/bench`). Native = drivers linked into the kernel,\n");
        sb.Append("no hypervisor; isolated = the driver in an LVD domain under the hypervisor.\n\n");
        sb.Append("| measure | LVD# | paper |\n|---|---|---|\n");
        sb.Append($"| Table 1: call/reply round trip kernel -> domain -> kernel (cycles) | {N(V("call"))} | {N(LvdEvaluation.Paper.CallReply)} |\n");
        sb.Append($"| Table 3: one interrupt, native / virtualized in the kernel / inside a domain (cycles) | {N(V("irq.kernel-native"))} / " +
            $"{N(V("irq.kernel-virtualized"))} / {N(V("irq.domain"))} | " +
                  $"{N(LvdEvaluation.Paper.IrqNativeLvdKernel)} / {N(LvdEvaluation.Paper.IrqVirtualizedInKernel)} / " +
                      $"{N(LvdEvaluation.Paper.IrqInDomain)} |\n");
        foreach (int t in new[] { 1, 4 })
        {
            long nat = V($"nullnet-native-{t}.per_second"), one = V($"nullnet-1x-{t}.per_second"), two = V($"nullnet-2x-{t}.per_second");
            string what = t == 1 ? "Figure 6: nullnet, 1 thread: native, 1 crossing, 2 crossings (packets/s; cycles/packet)"
                : $"Figure 6: nullnet, {t} threads";
            string paper = t == 1 ? $"{Rate((long)P)}, {LvdEvaluation.Paper.NullnetOneCrossingPct}%, {LvdEvaluation.Paper.NullnetTwoCrossingsPct}%"
                : "";
            sb.Append($"| {what} | {Rate(nat)}, {Rate(one)} ({Pct(one, nat)}), {Rate(two)} ({Pct(two, nat)}); " +
                      $"{N(V($"nullnet-native-{t}.cycles_per_op"))} / {N(V($"nullnet-1x-{t}.cycles_per_op"))} / " +
                          $"{N(V($"nullnet-2x-{t}.cycles_per_op"))} | {paper} |\n");
        }
        foreach (var (depth, t) in new[] { (1, 1), (16, 1), (16, 4) })
        {
            long nat = V($"nullblk-native-{depth}-{t}.per_second"), iso = V($"nullblk-iso-{depth}-{t}.per_second");
            string what = (depth, t) == (1,
                1) ? "Figure 9: nullblk, 1 thread, depth 1: native vs isolated (IOPS; cycles/IO)"
                : $"Figure 9: nullblk, {t} thread{(t > 1 ? "s" : "")}, depth {depth}";
            var (pn, pi) = depth == 1 ? ((long)LvdEvaluation.Paper.NullblkQd1Native, (long)LvdEvaluation.Paper.NullblkQd1Isolated)
                : ((long)LvdEvaluation.Paper.NullblkQd16Native, (long)LvdEvaluation.Paper.NullblkQd16Isolated);
            string paper = t != 1 ? "" : $"{Rate(pn)} vs {Rate(pi)} ({Pct(pi, pn)})";
            sb.Append($"| {what} | {Rate(nat)} vs {Rate(iso)} ({Pct(iso, nat)}); {N(V($"nullblk-native-{depth}-{t}.cycles_per_op"))} / " +
                $"{N(V($"nullblk-iso-{depth}-{t}.cycles_per_op"))} | {paper} |\n");
        }
        sb.Append($"| Table 4: nullnet run: domain calls / VMFUNCs / VM exits | {N(V("nullnet-1x-1.domain_calls"))} / " +
            $"{N(V("nullnet-1x-1.vmfuncs"))} / {N(V("nullnet-1x-1.vm_exits"))} | " +
                  $"{LvdEvaluation.Paper.NullnetCrossings / 1e6:0}M crossings / {N(LvdEvaluation.Paper.NullnetExits)} exits |\n");
        sb.Append(End);
        return sb.ToString();
    }

    /// <summary>The block of a README (markers included), or null.</summary>
    public static string? Block(string readme)
    {
        int b = readme.IndexOf(Begin, StringComparison.Ordinal), e = readme.IndexOf(End, StringComparison.Ordinal);
        return b < 0 || e < b ? null : readme[b..(e + End.Length)];
    }

    /// <summary>The values a README's block was rendered from.</summary>
    public static SortedDictionary<string, long> Read(string readme)
    {
        var block = Block(readme) ?? throw new ExperimentException($"README.md has no generated figures ({Begin} ... {End})");
        var m = ValuesLine().Match(block);
        if (!m.Success) throw new ExperimentException("README.md's figures have no values comment");
        var v = new SortedDictionary<string, long>(StringComparer.Ordinal);
        foreach (var kv in m.Groups[1].Value.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            int eq = kv.IndexOf('=');
            v[kv[..eq]] = long.Parse(kv[(eq + 1)..]);
        }
        return v;
    }

    [GeneratedRegex(@"<!-- figures:values (.*?) -->")]
    private static partial Regex ValuesLine();

    /// <summary>The README with its block replaced by one rendered from these values.</summary>
    public static string Update(string readme, IReadOnlyDictionary<string, long> values)
    {
        var block = Block(readme) ?? throw new ExperimentException($"README.md has no generated figures ({Begin} ... {End}) to replace");
        return readme.Replace(block, Render(values));
    }
}

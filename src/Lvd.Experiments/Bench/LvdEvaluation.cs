using System.Text.Json;
using System.Text.RegularExpressions;
using Lvd.Experiments.Domains;
using Lvd.Machine.Cost;

namespace Lvd.Experiments.Bench;

/// <summary>
/// The LVD paper's evaluation (LVD.md section 7), rerun on LVD#: every figure comes from a
/// guest run under the cost model (boots of the guest kernel with the drivers linked in or
/// isolated), never from a constant. `lvd bench` prints it beside the paper and writes JSON
/// and plots.
/// </summary>
public static partial class LvdEvaluation
{
    /// <summary>The paper's numbers (LVD.md section 7), only for printing beside ours.</summary>
    public static class Paper
    {
        public const double CallReply = 396, Vmfunc = 169;
        public const double IrqNativeLvdKernel = 666, IrqVirtualizedInKernel = 680, IrqInDomain = 1060;
        public const double NullnetNativePps = 968_000, NullnetOneCrossingPct = 91, NullnetTwoCrossingsPct = 65;
        public const double NullblkQd1Native = 559_000, NullblkQd1Isolated = 337_000, NullblkQd16Native = 837_000, NullblkQd16Isolated = 760_000;
        public const double NullnetCrossings = 41e6, NullnetExits = 14_074, NullblkCrossings = 33e6, NullblkExits = 25_789;
        // Figures 7/8 (ixgbe, 10 GbE): transmit, 1 thread, 95.7% of native, both at line rate from 2 threads;
        // receive within 1-11% of native; netperf UDP_RR 64 B 29,633 vs 27,333 transactions/s; Table 4's ixgbe run.
        public const double IxgbeTxOneThreadPct = 95.7, IxgbeRxLowPct = 89, IxgbeRxHighPct = 99;
        public const double UdpRrNative = 29_633, UdpRrIsolated = 27_333, IxgbeCrossings = 27e6, IxgbeExits = 13_235;
    }

    public sealed record Options
    {
        public int Cpus { get; init; } = 4;
        public long Duration { get; init; } = 10_000_000;
        public int[] Threads { get; init; } = [1, 2, 4];
        /// <summary>Figure 8: the generator's frame sizes (bytes without the CRC: 60 is a 64-byte frame on the wire).</summary>
        public int[] FrameSizes { get; init; } = [60, 512, 1514];
        /// <summary>Figure 7 at 1 thread: smaller UDP payloads than the MTU's 1,472 (18: 60-byte frames, 470: 512-byte).</summary>
        public int[] TxPayloads { get; init; } = [18, 470];
        public int Parallelism { get; init; } = Math.Max(1, Environment.ProcessorCount);
        public CostModel Costs { get; init; } = CostModel.Default;
    }

    /// <summary>One guest run of the evaluation.</summary>
    public sealed record Job(string Key, string Title, LvdBootSpec Spec);

    public sealed record JobResult(Job Job, LvdWorkloadResult? Workload, IReadOnlyDictionary<string, long> Values, string Log);

    public static List<Job> Plan(Options o)
    {
        var jobs = new List<Job>
        {
            new("call", "Table 1: call/reply round trips", new LvdBootSpec { Cpus = 2, Bench = "call" }),
            new("irq-native", "Table 3: interrupts, native", new LvdBootSpec { Cpus = 2, Bench = "irq" }),
            new("irq-lvd", "Table 3: interrupts, virtualized and in a domain", new LvdBootSpec { Cpus = 2, Bench = "irq", Hypervisor = true }),
        };
        foreach (int t in o.Threads)
        {
            var net = new LvdBootSpec { Cpus = o.Cpus, Workload = "nullnet", Threads = t, Duration = o.Duration };
            jobs.Add(new($"nullnet-native-{t}", $"Figure 6: nullnet native, {t} thread(s)", net));
            jobs.Add(new($"nullnet-1x-{t}", $"Figure 6: nullnet 1 crossing, {t} thread(s)", net with { Isolate = ["nullnet"], Crossings = 1 }));
            jobs.Add(new($"nullnet-2x-{t}", $"Figure 6: nullnet 2 crossings, {t} thread(s)", net with { Isolate = ["nullnet"], Crossings = 2 }));
            foreach (int depth in new[] { 1, 16 })
            {
                var blk = new LvdBootSpec { Cpus = o.Cpus, Workload = "nullblk", Threads = t, Depth = depth, Duration = o.Duration };
                jobs.Add(new($"nullblk-native-{depth}-{t}", $"Figure 9: nullblk native, depth {depth}, {t} thread(s)", blk));
                jobs.Add(new($"nullblk-iso-{depth}-{t}", $"Figure 9: nullblk isolated, depth {depth}, {t} thread(s)",
                    blk with { Isolate = ["nullblk"] }));
            }
        }
        // Figures 7 and 8: the ixgbe driver in the kernel (no hypervisor) and isolated, to the sink and from the generator.
        foreach (int t in o.Threads)
        {
            var tx = new LvdBootSpec { Cpus = o.Cpus, Workload = "ixgbe", Threads = t, Duration = o.Duration };
            jobs.Add(new($"ixgbe-tx-native-{t}", $"Figure 7: ixgbe transmit native, {t} thread(s)", tx));
            jobs.Add(new($"ixgbe-tx-iso-{t}", $"Figure 7: ixgbe transmit isolated, {t} thread(s)", tx with { Isolate = ["ixgbe"] }));
        }
        foreach (int payload in o.TxPayloads)
        {
            var tx = new LvdBootSpec { Cpus = o.Cpus, Workload = "ixgbe", TxPayloadBytes = payload, Duration = o.Duration };
            jobs.Add(new($"ixgbe-tx-native-p{payload}", $"Figure 7: ixgbe transmit native, {payload}-byte payloads", tx));
            jobs.Add(new($"ixgbe-tx-iso-p{payload}", $"Figure 7: ixgbe transmit isolated, {payload}-byte payloads",
                tx with { Isolate = ["ixgbe"] }));
        }
        foreach (int size in o.FrameSizes)
        {
            var rx = new LvdBootSpec { Cpus = 1, Workload = "ixgbe-rx", RxFrameBytes = size, Duration = o.Duration };
            jobs.Add(new($"ixgbe-rx-native-{size}", $"Figure 8: ixgbe receive native, {size}-byte frames", rx));
            jobs.Add(new($"ixgbe-rx-iso-{size}", $"Figure 8: ixgbe receive isolated, {size}-byte frames", rx with { Isolate = ["ixgbe"] }));
        }
        var rr = new LvdBootSpec { Cpus = 1, Workload = "ixgbe-rr", Duration = o.Duration };
        jobs.Add(new("ixgbe-rr-native", "Figure 8: netperf UDP_RR native", rr));
        jobs.Add(new("ixgbe-rr-iso", "Figure 8: netperf UDP_RR isolated", rr with { Isolate = ["ixgbe"] }));
        return jobs;
    }

    [GeneratedRegex(@"^ixgbe: received (\d+) datagrams, (\d+) bad, (\d+) missed by the NIC, (\d+) busy cycles per datagram", RegexOptions.Multiline)]
    private static partial Regex RxLine();

    [GeneratedRegex(@"^lvdbench: call round_trips=\d+ cycles_per_call=(\d+)", RegexOptions.Multiline)]
    private static partial Regex CallLine();

    [GeneratedRegex(@"^lvdbench: irq where=(\S+) interrupts=\d+ cycles_per_interrupt=(\d+)", RegexOptions.Multiline)]
    private static partial Regex IrqLine();

    /// <summary>Runs one job; an in-guest failure is an exception naming the job.</summary>
    public static JobResult RunJob(Job job, Options o, LvdBoot.Images? images = null)
    {
        var r = LvdBoot.Run(job.Spec, costs: o.Costs, images: images);
        string log = r.OutputText;
        var values = new Dictionary<string, long>();
        LvdWorkloadResult? w = null;
        try
        {
            if (job.Spec.Workload != null)
            {
                w = LvdBoot.Parse(r, log);
                var rx = RxLine().Match(log);
                if (rx.Success)
                {
                    values["rx_bad"] = long.Parse(rx.Groups[2].Value);
                    values["rx_missed"] = long.Parse(rx.Groups[3].Value);
                    values["rx_busy_cycles"] = long.Parse(rx.Groups[4].Value);
                }
            }
            else
            {
                if (r.ExitStatus != 0) throw new InvalidOperationException($"exit status {r.ExitStatus}: {r.Run.CrashReport}\n{log}");
                foreach (Match m in CallLine().Matches(log)) values["call"] = long.Parse(m.Groups[1].Value);
                foreach (Match m in IrqLine().Matches(log)) values[m.Groups[1].Value] = long.Parse(m.Groups[2].Value);
                if (values.Count == 0) throw new InvalidOperationException("no lvdbench line in the log:\n" + log);
            }
        }
        catch (InvalidOperationException e)
        {
            throw new ExperimentException($"{job.Title}: {e.Message}");
        }
        values["vmfuncs"] = r.Machine.Cpus.Sum(c => c.VmFuncs);
        values["exits"] = r.TotalExits;
        return new JobResult(job, w, values, log);
    }

    /// <summary>Runs the whole plan, several guests at once; calls back after each job.</summary>
    public static Dictionary<string, JobResult> Run(Options o, Action<JobResult, int, int>? done = null)
    {
        var jobs = Plan(o);
        var images = new LvdBoot.Images(Lvd.Toolchain.GuestCompiler.Locate());   // built once for all runs
        var results = new Dictionary<string, JobResult>();
        int n = 0;
        Exception? failure = null;
        Parallel.ForEach(jobs, new ParallelOptions { MaxDegreeOfParallelism = o.Parallelism }, (job, state) =>
        {
            try
            {
                var res = RunJob(job, o, images);
                lock (results)
                {
                    results[job.Key] = res;
                    done?.Invoke(res, ++n, jobs.Count);
                }
            }
            catch (Exception e)
            {
                lock (results) failure ??= e;
                state.Stop();
            }
        });
        if (failure != null) throw failure is ExperimentException ? failure : new ExperimentException(failure.Message);
        return results;
    }

    // ---------------- the report ----------------

    public sealed record Row(string Name, string Ours, string Paper, string Note = "");

    public sealed record Report(string Title, IReadOnlyList<string> Columns, IReadOnlyList<IReadOnlyList<string>> Rows, string Footnote);

    private static string N(double v) => v.ToString("#,0");
    private static string Pct(double part, double whole) => whole > 0 ? $"{100 * part / whole:0}%" : "-";

    public static List<Report> Tables(Dictionary<string, JobResult> r, Options o)
    {
        var tables = new List<Report>();
        long call = r["call"].Values["call"];
        tables.Add(new Report("Table 1: cross-domain call/reply (modeled cycles)", ["operation", "LVD#", "paper"],
        [
            ["VMFUNC instruction (cost file)", N(o.Costs.Vmfunc), N(Paper.Vmfunc)],
            ["LVD call/reply round trip, kernel -> domain -> kernel", N(call), N(Paper.CallReply)],
        ], "LVD#: lvd_call() from C, both VMFUNCs, both trampolines, the domain's entry and dispatch (lvdbench=call, 5,000 calls)."));

        var irqN = r["irq-native"].Values;
        var irqV = r["irq-lvd"].Values;
        tables.Add(new Report("Table 3: cost of one interrupt (modeled cycles)", ["where", "LVD#", "paper"],
        [
            ["native (LVD kernel: every vector on an IST)", N(irqN["kernel-native"]), N(Paper.IrqNativeLvdKernel)],
            ["virtualized, arriving in the kernel", N(irqV["kernel-virtualized"]), N(Paper.IrqVirtualizedInKernel)],
            ["virtualized, arriving inside a domain", N(irqV["domain"]), N(Paper.IrqInDomain)],
        ], "Mean RDTSC gap per interrupt minus the loop's own iteration; a fixed IPI every 20,000 cycles from another CPU (lvdbench=irq)."));

        var net = new List<IReadOnlyList<string>>();
        foreach (int t in o.Threads)
        {
            var nat = r[$"nullnet-native-{t}"].Workload!;
            var one = r[$"nullnet-1x-{t}"].Workload!;
            var two = r[$"nullnet-2x-{t}"].Workload!;
            net.Add([$"{t}", N(nat.PerSecond), $"{N(one.PerSecond)} ({Pct(one.PerSecond, nat.PerSecond)})",
                $"{N(two.PerSecond)} ({Pct(two.PerSecond, nat.PerSecond)})",
                $"{N(nat.CyclesPerOperation)} / {N(one.CyclesPerOperation)} / {N(two.CyclesPerOperation)}",
                t == 1 ? $"{N(Paper.NullnetNativePps)}; {Paper.NullnetOneCrossingPct}%; {Paper.NullnetTwoCrossingsPct}%" : ""]);
        }
        tables.Add(new Report("Figure 6: nullnet, 1472-byte UDP sends (packets/s)", ["threads", "native", "1 crossing", "2 crossings",
            "cycles/packet", "paper (1 thread)"], net,
            $"{o.Cpus} vCPUs, {N(o.Duration)} modeled cycles per run; native = drivers linked into the kernel, no hypervisor."));

        var blk = new List<IReadOnlyList<string>>();
        foreach (int depth in new[] { 1, 16 })
            foreach (int t in o.Threads)
            {
                var nat = r[$"nullblk-native-{depth}-{t}"].Workload!;
                var iso = r[$"nullblk-iso-{depth}-{t}"].Workload!;
                string paper = t != 1 ? "" : depth == 1
                    ? $"{N(Paper.NullblkQd1Native)} vs {N(Paper.NullblkQd1Isolated)} ({Pct(Paper.NullblkQd1Isolated, Paper.NullblkQd1Native)})"
                    : $"{N(Paper.NullblkQd16Native)} vs {N(Paper.NullblkQd16Isolated)} ({Pct(Paper.NullblkQd16Isolated, Paper.NullblkQd16Native)})";
                blk.Add([$"{depth}", $"{t}", N(nat.PerSecond), $"{N(iso.PerSecond)} ({Pct(iso.PerSecond, nat.PerSecond)})",
                    $"{N(nat.CyclesPerOperation)} / {N(iso.CyclesPerOperation)}", paper]);
            }
        tables.Add(new Report("Figure 9: nullblk, random 512-byte reads (IOPS)", ["depth", "threads", "native", "isolated (3 crossings/IO)",
            "cycles/IO", "paper (1 thread)"], blk,
            "fio-like user threads through io_submit/io_getevents; isolated = nullblk in a domain: queue_rq in, start and end requests out."));

        var tx = new List<IReadOnlyList<string>>();
        foreach (int t in o.Threads)
        {
            var nat = r[$"ixgbe-tx-native-{t}"].Workload!;
            var iso = r[$"ixgbe-tx-iso-{t}"].Workload!;
            tx.Add([$"{t}", N(nat.PerSecond), $"{N(iso.PerSecond)} ({Pct(iso.PerSecond, nat.PerSecond)})",
                $"{N(nat.CyclesPerOperation)} / {N(iso.CyclesPerOperation)}",
                t == 1 ? $"{Paper.IxgbeTxOneThreadPct}%" : "line rate, both"]);
        }
        foreach (int payload in o.TxPayloads)
        {
            var nat = r[$"ixgbe-tx-native-p{payload}"].Workload!;
            var iso = r[$"ixgbe-tx-iso-p{payload}"].Workload!;
            tx.Add([$"1, {payload + 42}-byte frames", N(nat.PerSecond), $"{N(iso.PerSecond)} ({Pct(iso.PerSecond, nat.PerSecond)})",
                $"{N(nat.CyclesPerOperation)} / {N(iso.CyclesPerOperation)}", ""]);
        }
        tables.Add(new Report("Figure 7: ixgbe transmit, UDP sends to the sink (packets/s; 1,514-byte frames unless said)",
            ["threads", "native", "isolated",
            "cycles/packet", "paper"], tx,
            $"{o.Cpus} vCPUs; native = the driver in the kernel, no hypervisor; isolated = the same source in a domain owning the NIC " +
            "(IOMMU domain of its own); 10 Gb/s is 812,744 1,514-byte frames/s."));
        var rxRows = new List<IReadOnlyList<string>>();
        foreach (int size in o.FrameSizes)
        {
            var nat = r[$"ixgbe-rx-native-{size}"];
            var iso = r[$"ixgbe-rx-iso-{size}"];
            long Busy(JobResult x) => x.Values.GetValueOrDefault("rx_busy_cycles");
            long natRate = nat.Workload!.PerSecond, isoRate = iso.Workload!.PerSecond;
            string paper = size == o.FrameSizes[0] ? $"within {100 - Paper.IxgbeRxHighPct}-{100 - Paper.IxgbeRxLowPct}%" : "";
            rxRows.Add([$"{size}", N(natRate), $"{N(isoRate)} ({Pct(isoRate, natRate)})", $"{N(Busy(nat))} / {N(Busy(iso))}", paper]);
        }
        tables.Add(new Report("Figure 8: ixgbe receive from the line-rate generator (datagrams/s)", ["frame bytes", "native", "isolated",
            "busy cycles/datagram", "paper"], rxRows,
            "1 vCPU polling NAPI-style (budget 64), every datagram's IPv4 and UDP checksums checked by the kernel; isolated: one rx_poll " +
            "crossing per poll, one netif_rx upcall per frame."));
        var rrN = r["ixgbe-rr-native"].Workload!;
        var rrI = r["ixgbe-rr-iso"].Workload!;
        tables.Add(new Report("netperf UDP_RR, 64-byte request and reply (transactions/s)", ["", "native", "isolated", "cycles/transaction",
            "paper"],
        [
            ["1 thread", N(rrN.PerSecond), $"{N(rrI.PerSecond)} ({Pct(rrI.PerSecond, rrN.PerSecond)})",
                $"{N(rrN.CyclesPerOperation)} / {N(rrI.CyclesPerOperation)}",
                $"{N(Paper.UdpRrNative)} vs {N(Paper.UdpRrIsolated)} ({Pct(Paper.UdpRrIsolated, Paper.UdpRrNative)})"],
        ], "1 vCPU; a user thread sends to the peer's echo responder (no turnaround time) and receives the reply with recv, which polls " +
            "the driver (in the domain when isolated: rx_poll and netif_rx crossings): the whole round trip is CPU and wire time, " +
            "the paper's also crosses a real network."));

        var n1 = r["nullnet-1x-1"];
        var b1 = r["nullblk-iso-1-1"];
        var x1 = r["ixgbe-tx-iso-1"];
        tables.Add(new Report("Table 4: crossings vs VM exits in one run", ["run", "domain calls", "VMFUNCs", "VM exits", "paper: crossings / exits"],
        [
            ["nullnet, 1 crossing, 1 thread", N(n1.Workload!.DomainCalls), N(n1.Values["vmfuncs"]), N(n1.Values["exits"]),
                $"{N(Paper.NullnetCrossings)} / {N(Paper.NullnetExits)}"],
            ["nullblk, depth 1, 1 thread", N(b1.Workload!.DomainCalls), N(b1.Values["vmfuncs"]), N(b1.Values["exits"]),
                $"{N(Paper.NullblkCrossings)} / {N(Paper.NullblkExits)}"],
            ["ixgbe transmit, isolated, 1 thread", N(x1.Workload!.DomainCalls), N(x1.Values["vmfuncs"]), N(x1.Values["exits"]),
                $"{N(Paper.IxgbeCrossings)} / {N(Paper.IxgbeExits)}"],
        ], "A whole run: boot, self tests, late launch, domain creation (EPT hypercalls) and the workload; the paper's runs were minutes long, " +
            "ours milliseconds of modeled time."));
        return tables;
    }

    /// <summary>
    /// Writes results.json (docs/RESULTS.md: header, then numbers as numbers, units in the key
    /// names) and the plots (PNG and SVG) into a directory.
    /// </summary>
    public static IReadOnlyList<string> Write(string dir, Dictionary<string, JobResult> r, Options o, IReadOnlyList<Report> tables,
        System.Text.Json.Nodes.JsonObject header)
    {
        Directory.CreateDirectory(dir);
        var files = new List<string>();
        string json = Path.Combine(dir, "results.json");
        Results.Write(json, header, ResultsDocument(r, o, tables));
        files.Add(json);
        files.AddRange(Plots.Nullnet(Path.Combine(dir, "figure6-nullnet"), r, o));
        files.AddRange(Plots.NullnetPercent(Path.Combine(dir, "figure6-nullnet-percent"), r, o));
        files.AddRange(Plots.Nullblk(Path.Combine(dir, "figure9-nullblk"), r, o));
        files.AddRange(Plots.NullblkPercent(Path.Combine(dir, "figure9-nullblk-percent"), r, o));
        files.AddRange(Plots.IxgbeTx(Path.Combine(dir, "figure7-ixgbe-tx"), r, o));
        files.AddRange(Plots.IxgbeRx(Path.Combine(dir, "figure8-ixgbe-rx"), r, o));
        files.AddRange(Plots.CallReply(Path.Combine(dir, "table1-call-reply"), r, o));
        files.AddRange(Plots.Interrupts(Path.Combine(dir, "table3-interrupts"), r));
        files.AddRange(Plots.Crossings(Path.Combine(dir, "table4-crossings-exits"), r));
        return files;
    }

    /// <summary>The results as numbers: each table's measurements beside the paper's, each run's counters.</summary>
    public static System.Text.Json.Nodes.JsonObject ResultsDocument(Dictionary<string, JobResult> r, Options o, IReadOnlyList<Report> tables)
    {
        static string Snake(string s) => Results.Snake(s);
        var irqN = r["irq-native"].Values;
        var irqV = r["irq-lvd"].Values;
        var nullnet = new System.Text.Json.Nodes.JsonArray();
        foreach (int t in o.Threads)
        {
            var nat = r[$"nullnet-native-{t}"].Workload!;
            var one = r[$"nullnet-1x-{t}"].Workload!;
            var two = r[$"nullnet-2x-{t}"].Workload!;
            nullnet.Add(new System.Text.Json.Nodes.JsonObject
            {
                ["threads"] = t,
                ["native_packets_per_second"] = nat.PerSecond,
                ["one_crossing_packets_per_second"] = one.PerSecond,
                ["two_crossings_packets_per_second"] = two.PerSecond,
                ["one_crossing_percent_of_native"] = Math.Round(100.0 * one.PerSecond / nat.PerSecond, 1),
                ["two_crossings_percent_of_native"] = Math.Round(100.0 * two.PerSecond / nat.PerSecond, 1),
                ["native_cycles_per_packet"] = nat.CyclesPerOperation,
                ["one_crossing_cycles_per_packet"] = one.CyclesPerOperation,
                ["two_crossings_cycles_per_packet"] = two.CyclesPerOperation,
            });
        }
        var nullblk = new System.Text.Json.Nodes.JsonArray();
        foreach (int depth in new[] { 1, 16 })
            foreach (int t in o.Threads)
            {
                var nat = r[$"nullblk-native-{depth}-{t}"].Workload!;
                var iso = r[$"nullblk-iso-{depth}-{t}"].Workload!;
                nullblk.Add(new System.Text.Json.Nodes.JsonObject
                {
                    ["depth"] = depth,
                    ["threads"] = t,
                    ["native_iops"] = nat.PerSecond,
                    ["isolated_iops"] = iso.PerSecond,
                    ["isolated_percent_of_native"] = Math.Round(100.0 * iso.PerSecond / nat.PerSecond, 1),
                    ["native_cycles_per_io"] = nat.CyclesPerOperation,
                    ["isolated_cycles_per_io"] = iso.CyclesPerOperation,
                });
            }
        var ixTx = new System.Text.Json.Nodes.JsonArray();
        foreach (int t in o.Threads)
        {
            var nat = r[$"ixgbe-tx-native-{t}"].Workload!;
            var iso = r[$"ixgbe-tx-iso-{t}"].Workload!;
            ixTx.Add(new System.Text.Json.Nodes.JsonObject
            {
                ["threads"] = t,
                ["native_packets_per_second"] = nat.PerSecond, ["isolated_packets_per_second"] = iso.PerSecond,
                ["isolated_percent_of_native"] = Math.Round(100.0 * iso.PerSecond / nat.PerSecond, 1),
                ["native_cycles_per_packet"] = nat.CyclesPerOperation, ["isolated_cycles_per_packet"] = iso.CyclesPerOperation,
                ["isolated_domain_calls"] = iso.DomainCalls, ["isolated_vmfuncs"] = iso.VmFuncs, ["isolated_vm_exits"] = iso.Exits,
            });
        }
        var ixTxSizes = new System.Text.Json.Nodes.JsonArray();
        foreach (int payload in o.TxPayloads)
        {
            var nat = r[$"ixgbe-tx-native-p{payload}"].Workload!;
            var iso = r[$"ixgbe-tx-iso-p{payload}"].Workload!;
            ixTxSizes.Add(new System.Text.Json.Nodes.JsonObject
            {
                ["threads"] = 1, ["payload_bytes"] = payload, ["frame_bytes"] = payload + 42,
                ["native_packets_per_second"] = nat.PerSecond, ["isolated_packets_per_second"] = iso.PerSecond,
                ["isolated_percent_of_native"] = Math.Round(100.0 * iso.PerSecond / nat.PerSecond, 1),
                ["native_cycles_per_packet"] = nat.CyclesPerOperation, ["isolated_cycles_per_packet"] = iso.CyclesPerOperation,
            });
        }
        var ixRx = new System.Text.Json.Nodes.JsonArray();
        foreach (int size in o.FrameSizes)
        {
            var nat = r[$"ixgbe-rx-native-{size}"];
            var iso = r[$"ixgbe-rx-iso-{size}"];
            ixRx.Add(new System.Text.Json.Nodes.JsonObject
            {
                ["frame_bytes"] = size,
                ["native_datagrams_per_second"] = nat.Workload!.PerSecond, ["isolated_datagrams_per_second"] = iso.Workload!.PerSecond,
                ["isolated_percent_of_native"] = Math.Round(100.0 * iso.Workload!.PerSecond / nat.Workload!.PerSecond, 1),
                ["native_busy_cycles_per_datagram"] = nat.Values.GetValueOrDefault("rx_busy_cycles"),
                ["isolated_busy_cycles_per_datagram"] = iso.Values.GetValueOrDefault("rx_busy_cycles"),
                ["native_missed"] = nat.Values.GetValueOrDefault("rx_missed"), ["isolated_missed"] = iso.Values.GetValueOrDefault("rx_missed"),
                ["isolated_domain_calls"] = iso.Workload!.DomainCalls, ["isolated_vmfuncs"] = iso.Values["vmfuncs"],
                ["isolated_vm_exits"] = iso.Values["exits"],
            });
        }
        var n1 = r["nullnet-1x-1"];
        var b1 = r["nullblk-iso-1-1"];
        var x1 = r["ixgbe-tx-iso-1"];
        var runs = new System.Text.Json.Nodes.JsonArray();
        foreach (var x in r.Values.OrderBy(x => x.Job.Key))
        {
            var values = new System.Text.Json.Nodes.JsonObject();
            foreach (var (k, v) in x.Values.OrderBy(kv => kv.Key)) values[Snake(k).Replace('-', '_')] = v;
            var w = x.Workload;
            runs.Add(new System.Text.Json.Nodes.JsonObject
            {
                ["key"] = x.Job.Key,
                ["title"] = x.Job.Title,
                ["boot"] = Results.Node(x.Job.Spec),
                ["values"] = values,
                ["workload"] = w?.ToJson(),
            });
        }
        return new System.Text.Json.Nodes.JsonObject
        {
            ["cpus"] = o.Cpus,
            ["duration_cycles"] = o.Duration,
            ["threads"] = new System.Text.Json.Nodes.JsonArray(o.Threads.Select(t => (System.Text.Json.Nodes.JsonNode?)t).ToArray()),
            ["frame_sizes"] = new System.Text.Json.Nodes.JsonArray(o.FrameSizes.Select(t => (System.Text.Json.Nodes.JsonNode?)t).ToArray()),
            ["cost_model_cycles"] = new System.Text.Json.Nodes.JsonObject(o.Costs.Entries.OrderBy(e => e.Key)
                .Select(e => KeyValuePair.Create(e.Key, (System.Text.Json.Nodes.JsonNode?)e.Value.Cycles))),
            ["table1_call_reply"] = new System.Text.Json.Nodes.JsonObject
            {
                ["vmfunc_cycles"] = o.Costs.Vmfunc, ["paper_vmfunc_cycles"] = Paper.Vmfunc,
                ["round_trip_cycles"] = r["call"].Values["call"], ["paper_round_trip_cycles"] = Paper.CallReply,
            },
            ["table3_interrupts"] = new System.Text.Json.Nodes.JsonObject
            {
                ["native_cycles"] = irqN["kernel-native"], ["paper_native_cycles"] = Paper.IrqNativeLvdKernel,
                ["virtualized_in_kernel_cycles"] = irqV["kernel-virtualized"], ["paper_virtualized_in_kernel_cycles"] = Paper.IrqVirtualizedInKernel,
                ["in_domain_cycles"] = irqV["domain"], ["paper_in_domain_cycles"] = Paper.IrqInDomain,
            },
            ["figure6_nullnet"] = new System.Text.Json.Nodes.JsonObject
            {
                ["paper_native_packets_per_second"] = Paper.NullnetNativePps,
                ["paper_one_crossing_percent_of_native"] = Paper.NullnetOneCrossingPct,
                ["paper_two_crossings_percent_of_native"] = Paper.NullnetTwoCrossingsPct,
                ["rows"] = nullnet,
            },
            ["figure9_nullblk"] = new System.Text.Json.Nodes.JsonObject
            {
                ["paper_depth1_native_iops"] = Paper.NullblkQd1Native, ["paper_depth1_isolated_iops"] = Paper.NullblkQd1Isolated,
                ["paper_depth16_native_iops"] = Paper.NullblkQd16Native, ["paper_depth16_isolated_iops"] = Paper.NullblkQd16Isolated,
                ["rows"] = nullblk,
            },
            ["figure7_ixgbe_tx"] = new System.Text.Json.Nodes.JsonObject
            {
                ["paper_one_thread_percent_of_native"] = Paper.IxgbeTxOneThreadPct,
                ["rows"] = ixTx,
                ["sizes"] = ixTxSizes,
            },
            ["figure8_ixgbe_rx"] = new System.Text.Json.Nodes.JsonObject
            {
                ["paper_low_percent_of_native"] = Paper.IxgbeRxLowPct, ["paper_high_percent_of_native"] = Paper.IxgbeRxHighPct,
                ["udp_rr_native_transactions_per_second"] = r["ixgbe-rr-native"].Workload!.PerSecond,
                ["udp_rr_isolated_transactions_per_second"] = r["ixgbe-rr-iso"].Workload!.PerSecond,
                ["udp_rr_native_cycles_per_transaction"] = r["ixgbe-rr-native"].Workload!.CyclesPerOperation,
                ["udp_rr_isolated_cycles_per_transaction"] = r["ixgbe-rr-iso"].Workload!.CyclesPerOperation,
                ["paper_udp_rr_native_transactions_per_second"] = Paper.UdpRrNative,
                ["paper_udp_rr_isolated_transactions_per_second"] = Paper.UdpRrIsolated,
                ["rows"] = ixRx,
            },
            ["table4_crossings_exits"] = new System.Text.Json.Nodes.JsonObject
            {
                ["nullnet_domain_calls"] = n1.Workload!.DomainCalls, ["nullnet_vmfuncs"] = n1.Values["vmfuncs"],
                    ["nullnet_vm_exits"] = n1.Values["exits"],
                ["paper_nullnet_crossings"] = Paper.NullnetCrossings, ["paper_nullnet_vm_exits"] = Paper.NullnetExits,
                ["nullblk_domain_calls"] = b1.Workload!.DomainCalls, ["nullblk_vmfuncs"] = b1.Values["vmfuncs"],
                    ["nullblk_vm_exits"] = b1.Values["exits"],
                ["paper_nullblk_crossings"] = Paper.NullblkCrossings, ["paper_nullblk_vm_exits"] = Paper.NullblkExits,
                ["ixgbe_domain_calls"] = x1.Workload!.DomainCalls, ["ixgbe_vmfuncs"] = x1.Values["vmfuncs"],
                    ["ixgbe_vm_exits"] = x1.Values["exits"],
                ["paper_ixgbe_crossings"] = Paper.IxgbeCrossings, ["paper_ixgbe_vm_exits"] = Paper.IxgbeExits,
            },
            ["runs"] = runs,
        };
    }
}

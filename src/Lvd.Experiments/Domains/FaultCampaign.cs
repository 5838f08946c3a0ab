using System.Collections.Concurrent;
using System.Text;
using System.Text.RegularExpressions;
using Iced.Intel;

namespace Lvd.Experiments.Domains;

/// <summary>
/// `lvd faults` (docs/DOMAINS.md, "Restart and fault injection"): faults of the kinds Nooks
/// injected, into the running isolated nullnet or nullblk while its workload runs, each followed
/// by what became of it: no effect, killed and recovered (the kernel restarted the driver),
/// killed and not recovered, or kernel harmed (a panic, the state probe changed, a machine stop
/// or hang). The host only makes the plan (which instruction, which byte, which bit, from the
/// driver's ELF image); the guest kernel's injector (guest/kernel/tests/faults.c) applies it to
/// the domain's memory through its own mapping, or to one crossing's registers in the kernel's
/// transport, so faults reach the driver the way real ones would. Boots, failure detection
/// and seeds follow <see cref="DomainFuzz"/>.
/// </summary>
public static partial class FaultCampaign
{
    /// <summary>The kinds, in the order of faults.c's FK_* (the campaign's kinds are the first eight).</summary>
    public enum Kind : uint
    {
        CodeFlip = 1, DataFlip, Register, WildStore, Skip, Loop, Reply, PoolOffset, ReplayPatch, Patch,
    }

    public static string KindName(Kind k) => k switch
    {
        Kind.CodeFlip => "code-flip", Kind.DataFlip => "data-flip", Kind.Register => "register",
        Kind.WildStore => "wild-store", Kind.Skip => "skip", Kind.Loop => "loop", Kind.Reply => "reply",
        Kind.PoolOffset => "pool-offset", Kind.ReplayPatch => "replay-patch", _ => "patch",
    };

    /// <summary>What each kind does to the driver (the table's legend and docs/DOMAINS.md).</summary>
    public static readonly IReadOnlyDictionary<string, string> KindMeaning = new Dictionary<string, string>
    {
        ["code-flip"] = "one bit flipped in a random byte of its code",
        ["data-flip"] = "one bit flipped in its data, bss or heap",
        ["register"] = "one bit flipped in one of the 8 registers it receives at a crossing",
        ["wild-store"] = "an instruction replaced by a store through a random register",
        ["skip"] = "an instruction replaced by NOPs",
        ["loop"] = "an instruction replaced by jmp . (an endless loop)",
        ["reply"] = "one bit flipped in one of the 8 registers of its reply",
        ["pool-offset"] = "a packet's pool offset moved outside the pool (nullnet)",
    };

    /// <summary>The kinds a campaign on this driver draws from (nullblk's interface passes no pool offsets).</summary>
    public static Kind[] Kinds(string driver) => driver == "nullnet"
        ? [Kind.CodeFlip, Kind.DataFlip, Kind.Register, Kind.WildStore, Kind.Skip, Kind.Loop, Kind.Reply, Kind.PoolOffset]
        : [Kind.CodeFlip, Kind.DataFlip, Kind.Register, Kind.WildStore, Kind.Skip, Kind.Loop, Kind.Reply];

    public sealed record Fault(int Index, Kind Kind, ulong Va, uint Word, ulong Mask, byte[] Bytes, string What);

    public sealed record Outcome(int Index, string Kind, string Result, long DetectCycles, long OutageCycles, long Lost,
        long RateBefore, long RateAfter, string What);

    public sealed record Failure(int Index, string What);

    public sealed record Accounting(string Line, long Instance, long Kills, long Restarts, long LiveKiB, long ReusableKiB,
        long DeadKiB, long Capabilities, long Shadows, long PoolFree, long PoolPages);

    public sealed record BootReport(int Boot, IReadOnlyList<Outcome> Outcomes, IReadOnlyList<Failure> Failures,
        Accounting? Accounting, string Log, long Instructions);

    public sealed record KindSummary(string Kind, int Injected, int NoEffect, int RequestFailed, int Recovered, int NotRecovered, int KernelHarmed,
        long Lost, double MeanOutageUs, double MaxOutageUs, double MeanDetectUs);

    public sealed record Report(string Driver, long Seed, int Count, int Boots, IReadOnlyList<Outcome> Outcomes,
        IReadOnlyList<Failure> Failures, IReadOnlyList<Accounting> Accountings, long ClockHz)
    {
        public int Killed => Outcomes.Count(o => o.Result is "recovered" or "not-recovered");
        public int Recovered => Outcomes.Count(o => o.Result == "recovered");
        public int KernelHarmed => Failures.Count(f => f.What.StartsWith("kernel harmed"));
        public double RecoveredPercent => Killed == 0 ? 100 : 100.0 * Recovered / Killed;
        public bool Passed => Failures.Count == 0 && Outcomes.Count == Count;
        public double Us(long cycles) => cycles * 1e6 / ClockHz;

        public IReadOnlyList<KindSummary> ByKind() =>
            Kinds(Driver).Select(KindName).Select(k =>
            {
                var o = Outcomes.Where(x => x.Kind == k).ToList();
                var rec = o.Where(x => x.Result == "recovered").ToList();
                return new KindSummary(k, o.Count + Failures.Count(f => f.What.Contains($"({k})")),
                    o.Count(x => x.Result == "no-effect"), o.Count(x => x.Result == "request-failed"), rec.Count,
                        o.Count(x => x.Result == "not-recovered"),
                    Failures.Count(f => f.What.StartsWith("kernel harmed") && f.What.Contains($"({k})")),
                    o.Sum(x => x.Lost), rec.Count == 0 ? 0 : rec.Average(x => Us(x.OutageCycles)),
                    rec.Count == 0 ? 0 : rec.Max(x => Us(x.OutageCycles)), rec.Count == 0 ? 0 : rec.Average(x => Us(x.DetectCycles)));
            }).ToList();

        public string Summary =>
            $"faults: {Driver}, seed {Seed}: {Outcomes.Count} of {Count} injected in {Boots} boots: " +
            $"{Outcomes.Count(o => o.Result == "no-effect")} no effect, {Outcomes.Count(o => o.Result == "request-failed")} not killed but " +
                $"requests failed, {Recovered} killed and recovered, " +
            $"{Outcomes.Count(o => o.Result == "not-recovered")} killed and not recovered, {KernelHarmed} kernel harmed; " +
            $"recovered {RecoveredPercent:0.0}% of the kills" +
            (Recovered > 0 ? $", outage per recovery mean {Outcomes.Where(o => o.Result == "recovered").Average(o => Us(o.OutageCycles)):0} us, " +
                $"max {Outcomes.Where(o => o.Result == "recovered").Max(o => Us(o.OutageCycles)):0} us" : "") +
            (Failures.Count > KernelHarmed ? $"; {Failures.Count - KernelHarmed} other failures" : "");
    }

    /// <summary>Kernel words of a campaign boot: a 1 ms watchdog and budget, so a driver stuck in a loop is found within a few ms.</summary>
    public const string Cmdline = "lvdwatchdog=1 lvdbudget=2";

    // ------------------------------------------------------------ the plan

    /// <summary>
    /// What the plan generator needs of a driver image: its code, its writable range, its symbols, and
    /// the instructions of the functions on its request path (<see cref="RequestPath"/>), where code
    /// faults go.
    /// </summary>
    public sealed record DriverImage(ulong CodeVa, byte[] Code, ulong DataVa, ulong DataSize, IReadOnlyDictionary<string, ulong> Symbols,
        IReadOnlyList<(ulong Va, int Length)> Instructions);

    /// <summary>
    /// The functions of each domain image that run for every packet or I/O: the entry and dispatcher
    /// (guest/domains/lib), the generated glue's dispatcher and handler, the glue's callbacks and the
    /// driver's own function (and for nullblk the calls back into the kernel). Code faults (flips,
    /// wild stores, skips, loops) are injected there, as Nooks injected into the code the workload runs:
    /// most of an image is library code (printf, string functions) the workload never executes, where
    /// a fault can only be "no effect". A function is the bytes from its symbol to the next one.
    /// </summary>
    public static readonly IReadOnlyDictionary<string, string[]> RequestPath = new Dictionary<string, string[]>
    {
        ["nullnet"] = ["lvd_domain_entry", "lvd_dispatch", "driver_call", "net_device_domain_dispatch", "ndo_start_xmit_handler", "cb_start_xmit",
            "nullnet_xmit", "consume_skb"],
        ["nullblk"] = ["lvd_domain_entry", "lvd_dispatch", "driver_call", "blk_mq_domain_dispatch", "queue_rq_handler", "null_queue_rq",
            "blk_mq_start_request", "blk_mq_end_request", "blk_mq_call_blk_mq_start_request", "blk_mq_call_blk_mq_end_request", "lvd_upcall_raw"],
    };

    public const ulong DomainHeap = 0xffffc90040000000UL;   // lvd/domain.h LVD_DOMAIN_HEAP
    public const ulong HeapFaultBytes = 8192;               // data flips reach the first 8 KiB of the heap (what the driver allocated)

    public static DriverImage ReadImage(string elfPath, string? driver = null)
    {
        var elf = ElfImage.Read(elfPath);
        var code = elf.Segments.First(s => s.Executable);
        var data = elf.Segments.Where(s => s.Writable).ToList();
        var insns = new List<(ulong, int)>();
        var decoder = Iced.Intel.Decoder.Create(64, new ByteArrayCodeReader(code.FileBytes), code.Address);
        while (decoder.IP < code.Address + (ulong)code.FileBytes.Length)
        {
            ulong ip = decoder.IP;
            decoder.Decode(out var insn);
            if (insn.IsInvalid) continue;
            insns.Add((ip, insn.Length));
        }
        ulong dlo = data.Count == 0 ? 0 : data.Min(s => s.Address), dhi = data.Count == 0 ? 0 : data.Max(s => s.Address + s.MemorySize);
        ulong cend = code.Address + (ulong)code.FileBytes.Length;
        if (driver != null && RequestPath.TryGetValue(driver, out var names))
        {
            var starts = elf.Symbols.Values.Where(v => v >= code.Address && v < cend).Distinct().OrderBy(v => v).ToList();
            var ranges = new List<(ulong Lo, ulong Hi)>();
            foreach (var n in names)
            {
                if (!elf.Symbols.TryGetValue(n, out var lo)) throw new ExperimentException($"{elfPath}: no function {n} on the request path");
                ulong hi = starts.FirstOrDefault(v => v > lo, cend);
                ranges.Add((lo, hi));
            }
            insns = insns.Where(i => ranges.Any(r => i.Item1 >= r.Lo && i.Item1 < r.Hi)).ToList();
        }
        return new DriverImage(code.Address, code.FileBytes, dlo, dhi - dlo, elf.Symbols, insns);
    }

    private static readonly byte[] Nops = Enumerable.Repeat((byte)0x90, 16).ToArray();

    /// <summary>Fault i of a campaign (seeded from (seed, i) as DomainFuzz seeds its domains; kinds in turn).</summary>
    public static Fault Make(string driver, DriverImage img, long seed, int index)
    {
        var kinds = Kinds(driver);
        var kind = kinds[index % kinds.Length];
        ulong z = DomainFuzz.DomainSeed(seed ^ 0x5eed_fa17, index);
        var r = new Random((int)(z & 0x7fffffff) ^ (int)(z >> 33));
        (ulong Va, int Length) Insn(int minLength)
        {
            var candidates = img.Instructions.Where(i => i.Length >= minLength).ToList();
            return candidates[r.Next(candidates.Count)];
        }
        switch (kind)
        {
            case Kind.CodeFlip:
            {
                var (iva, ilen) = Insn(1);
                ulong va = iva + (ulong)r.Next(ilen);
                int bit = r.Next(8);
                return new Fault(index, kind, va, 0, 0, [(byte)(1 << bit)], $"bit {bit} of code byte {va:x}");
            }
            case Kind.DataFlip:
            {
                ulong span = img.DataSize + HeapFaultBytes;
                ulong o = (ulong)r.NextInt64((long)span);
                ulong va = o < img.DataSize ? img.DataVa + o : DomainHeap + (o - img.DataSize);
                int bit = r.Next(8);
                return new Fault(index, kind, va, 0, 0, [(byte)(1 << bit)], $"bit {bit} of data byte {va:x}");
            }
            case Kind.Register or Kind.Reply:
            {
                uint word = (uint)r.Next(8);
                int bit = r.Next(64);
                return new Fault(index, kind, 0, word, 1UL << bit, [], $"bit {bit} of message word {word}");
            }
            case Kind.PoolOffset:
                return new Fault(index, kind, 0, 6, (ulong)r.NextInt64(1, 1L << 32), [], "packet offset (word 6) beyond the pool");
            case Kind.WildStore:
            {
                var (va, len) = Insn(3);
                int reg = r.Next(8), rm;
                do rm = r.Next(8); while (rm is 4 or 5);   // no SIB, no RIP-relative: mov %reg, (%rm)
                var b = new byte[len];
                Array.Copy(Nops, b, len);
                b[0] = 0x48; b[1] = 0x89; b[2] = (byte)((reg << 3) | rm);
                return new Fault(index, kind, va, 0, 0, b, $"store through register {rm} at {va:x}");
            }
            case Kind.Skip:
            {
                var (va, len) = Insn(1);
                return new Fault(index, kind, va, 0, 0, Nops[..len], $"{len}-byte instruction at {va:x} skipped");
            }
            default:
            {
                var (va, len) = Insn(2);
                var b = new byte[len];
                Array.Copy(Nops, b, len);
                b[0] = 0xeb; b[1] = 0xfe;
                return new Fault(index, Kind.Loop, va, 0, 0, b, $"jmp . at {va:x}");
            }
        }
    }

    /// <summary>A certain kill: ud2 at the entry of the driver's function on the request path (tests, demo).</summary>
    public static Fault Kill(string driver, DriverImage img, int index, Kind kind = Kind.Patch)
    {
        string fn = kind == Kind.ReplayPatch ? (driver == "nullnet" ? "nullnet_open" : "nullblk_init")
            : (driver == "nullnet" ? "nullnet_xmit" : "null_queue_rq");
        if (!img.Symbols.TryGetValue(fn, out var va)) throw new ExperimentException($"the {driver} domain image has no symbol {fn}");
        return new Fault(index, kind, va, 0, 0, [0x0f, 0x0b], $"ud2 at {fn}");
    }

    /// <summary>The plan module (faults.c: struct fplan_hdr, struct fplan_rec).</summary>
    public static byte[] Plan(string driver, IReadOnlyList<Fault> faults, int first, int warmupTicks = 1, int windowTicks = 1, bool sample = false)
    {
        var ms = new MemoryStream();
        var w = new BinaryWriter(ms);
        w.Write(Encoding.ASCII.GetBytes("LVDFLT01"));
        w.Write((uint)faults.Count);
        w.Write(sample ? 1u : 0u);
        var name = new byte[16];
        Encoding.ASCII.GetBytes(driver).CopyTo(name, 0);
        w.Write(name);
        w.Write((ulong)first);
        w.Write((ulong)warmupTicks);
        w.Write((ulong)windowTicks);
        w.Write(0UL);
        foreach (var f in faults)
        {
            w.Write((uint)f.Kind);
            w.Write((uint)f.Bytes.Length);
            w.Write(f.Va);
            w.Write(f.Word);
            w.Write(0u);
            w.Write(f.Mask);
            var b = new byte[16];
            f.Bytes.CopyTo(b, 0);
            w.Write(b);
        }
        return ms.ToArray();
    }

    /// <summary>Ticks of modeled time a boot gives each fault (faults.c: 1 before, the window, the restart, 1 after).</summary>
    public const int TicksPerFault = 4;

    /// <summary>The boot that runs a plan: the workload long enough for every fault, the driver isolated with restart always.</summary>
    public static LvdBootSpec Spec(string driver, byte[] plan, int faults, int cpus, long clockHz, int threads = 1, int depth = 1,
        string restart = "always", int extraTicks = 0)
    {
        long tick = clockHz / 1000;
        return new LvdBootSpec
        {
            Cpus = cpus, Workload = driver, Threads = threads, Depth = depth, Isolate = [driver], Restart = restart,
            Duration = tick * (3 + TicksPerFault * (long)faults + extraTicks), FaultPlan = plan, ExtraCmdline = Cmdline,
        };
    }

    // ------------------------------------------------------------ reading a boot

    [GeneratedRegex(@"^fault: (?<i>\d+) kind=(?<k>\S+) outcome=(?<o>\S+) applied=(?<a>\d) detect=(?<d>\d+) "
        + @"outage=(?<u>\d+) lost=(?<l>\d+) before=(?<b>\d+) after=(?<f>\d+)\s*$", RegexOptions.Multiline)]
    private static partial Regex FaultLine();

    [GeneratedRegex(@"^faults: accounting: \S+ instance (?<inst>\d+), (?<kills>\d+) kills, (?<rest>\d+) restarts, \d+ failed attempts; "
        + @"domain memory live (?<live>\d+) KiB, reusable (?<reuse>\d+) KiB, dead (?<dead>\d+) KiB; "
        + @"glue capabilities (?<caps>\d+), shadows (?<sh>\d+); pool pages free (?<pf>\d+) of (?<pp>\d+).*$", RegexOptions.Multiline)]
    private static partial Regex AccountingLine();

    public static Accounting? ReadAccounting(string log)
    {
        var m = AccountingLine().Match(log);
        if (!m.Success) return null;
        long L(string g) => long.Parse(m.Groups[g].Value);
        return new Accounting(m.Value.Trim(), L("inst"), L("kills"), L("rest"), L("live"), L("reuse"), L("dead"), L("caps"), L("sh"), L("pf"),
            L("pp"));
    }

    /// <summary>Every fault's outcome and every failure of one boot (a failure while fault i ran: kernel harmed by i).</summary>
    public static (List<Outcome> Outcomes, List<Failure> Failures) Classify(string log, RunOutcome run, int exitCode, IReadOnlyList<Fault> faults)
    {
        var outcomes = new List<Outcome>();
        var failures = new List<Failure>();
        var seen = FaultLine().Matches(log).ToDictionary(m => int.Parse(m.Groups["i"].Value));
        Fault? culprit = null;
        foreach (var f in faults)
        {
            if (!seen.TryGetValue(f.Index, out var m))
            {
                culprit ??= f;
                continue;
            }
            outcomes.Add(new Outcome(f.Index, m.Groups["k"].Value, m.Groups["o"].Value, long.Parse(m.Groups["d"].Value),
                long.Parse(m.Groups["u"].Value), long.Parse(m.Groups["l"].Value), long.Parse(m.Groups["b"].Value),
                long.Parse(m.Groups["f"].Value), f.What));
        }
        var lines = log.Split('\n');
        string? stop = DomainFuzz.MachineFailure(lines, run, exitCode);
        string Who(Fault? f) => f == null ? "after the faults" : $"by fault {f.Index} ({KindName(f.Kind)}: {f.What})";
        if (stop != null)
            failures.Add(new Failure(culprit?.Index ?? -1, $"kernel harmed {Who(culprit)}: {stop}"));
        else if (culprit != null)
        {
            // The boot ended well but a fault never ran: the driver stayed dead before it (not recovered), or time ran out.
            bool dead = outcomes.Any(o => o.Result == "not-recovered");
            foreach (var f in faults.Where(f => !seen.ContainsKey(f.Index)))
                failures.Add(new Failure(f.Index,
                    dead ? $"not run ({KindName(f.Kind)}): the driver stayed dead before it"
                    : $"not run ({KindName(f.Kind)}): the workload ended first"));
        }
        if (stop == null && !lines.Any(l => l.StartsWith("faults: done")))
            failures.Add(new Failure(-1, "the injector never finished"));
        return (outcomes, failures);
    }

    // ------------------------------------------------------------ the campaign

    public sealed record Options
    {
        public string Driver { get; init; } = "nullnet";
        public int Count { get; init; } = 200;
        public long Seed { get; init; } = 1;
        public int Cpus { get; init; } = 2;
        public int PerBoot { get; init; } = 25;
        public int Jobs { get; init; } = Math.Max(1, Environment.ProcessorCount);
        public Lvd.Machine.Cost.CostModel? Costs { get; init; }
    }

    public static Report Run(Options o, GuestCompiler cc, Action<int>? progress = null)
    {
        var images = new LvdBoot.Images(cc);
        _ = images.Kernel;
        var (_, elf) = DomainBuilder.Build(cc, o.Driver);
        var img = ReadImage(elf, o.Driver);
        var costs = o.Costs ?? Lvd.Machine.Cost.CostModel.Default;
        long clock = (long)costs.ClockHz;
        var faults = Enumerable.Range(0, o.Count).Select(i => Make(o.Driver, img, o.Seed, i)).ToList();
        var batches = faults.Chunk(o.PerBoot).ToList();
        var reports = new ConcurrentBag<BootReport>();
        int done = 0;
        string dir = Path.Combine(cc.RepoRoot, "build", "faults", $"{o.Driver}-seed-{o.Seed}");
        Parallel.ForEach(Enumerable.Range(0, batches.Count), new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, o.Jobs) }, b =>
        {
            var rep = RunBoot(b, o.Driver, batches[b], o.Cpus, clock, images, costs);
            // Every boot's log is kept (fault lines, kills, restarts, accounting): build/faults/DRIVER-seed-S/boot-FIRST.log.
            Directory.CreateDirectory(dir);
            File.WriteAllText(Path.Combine(dir, $"boot-{batches[b][0].Index}.log"), rep.Log);
            reports.Add(rep);
            progress?.Invoke(Interlocked.Add(ref done, batches[b].Length));
        });
        var all = reports.OrderBy(r => r.Boot).ToList();
        return new Report(o.Driver, o.Seed, o.Count, batches.Count, all.SelectMany(r => r.Outcomes).OrderBy(x => x.Index).ToList(),
            all.SelectMany(r => r.Failures).OrderBy(f => f.Index).ToList(), all.Where(r => r.Accounting != null).Select(r => r.Accounting!).ToList(),
                clock);
    }

    public static BootReport RunBoot(int boot, string driver, IReadOnlyList<Fault> faults, int cpus, long clockHz, LvdBoot.Images images,
        Lvd.Machine.Cost.CostModel? costs = null, int threads = 1, int depth = 1)
    {
        var plan = Plan(driver, faults, faults[0].Index);
        var spec = Spec(driver, plan, faults.Count, cpus, clockHz, threads, depth);
        long cycles = spec.Duration;
        // The boot and its tests, then the workload on every busy vCPU at about one instruction per cycle.
        var r = LvdBoot.Run(spec, maxInstructions: 2_000_000_000 + 2 * cycles * Math.Min(cpus, threads + 1), costs: costs, images: images);
        var (outcomes, failures) = Classify(r.OutputText, r.Run.Outcome, r.Run.ExitCode, faults);
        string log = r.OutputText + (r.Run.CrashReport != null ? "\n" + r.Run.CrashReport : "");
        return new BootReport(boot, outcomes, failures, ReadAccounting(r.OutputText), log, r.Run.Instructions);
    }
}

using System.Collections.Concurrent;
using System.Text;
using System.Text.RegularExpressions;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace Lvd.Experiments.Domains;

/// <summary>
/// `lvd fuzz-domains` (docs/DOMAINS.md, "Random domains"): drivers whose driver_call is a random
/// ring-0 instruction stream (half random bytes, half random valid instructions, many of them
/// privileged), run many per boot with `domain=NAME`; every domain's outcome is read from the log
/// and every boot must end with the kernel's state probe unchanged (lvd_drivers.c), its tests
/// passed again (domaincheck) and "kernel: all tests passed". Any panic, machine stop, hang or
/// missing outcome is a failure, named by seed, index and C file.
/// </summary>
public static partial class DomainFuzz
{
    public sealed record Generated(int Index, string Name, string Path, bool RandomBytes, int Instructions);

    public sealed record Outcome(int Index, string Name, string Path, string Kind, string Class, string Detail);

    public sealed record Failure(int Index, string? Name, string? Path, string What);

    public sealed record BootReport(int Boot, IReadOnlyList<Outcome> Outcomes, IReadOnlyList<Failure> Failures, long Instructions, double Seconds);

    public sealed record Report(long Seed, int Count, int Boots, IReadOnlyList<Outcome> Outcomes, IReadOnlyList<Failure> Failures,
        long Instructions, long MaxBootInstructions)
    {
        public int Returned => Outcomes.Count(o => o.Kind == "returned");
        public int Killed => Outcomes.Count(o => o.Kind == "killed");
        public int Refused => Outcomes.Count(o => o.Kind is "refused" or "init failed" or "rejected");
        public int Corruptions => Failures.Count(f => f.What.StartsWith("kernel corruption"));
        public int Stops => Failures.Count(f => f.What.StartsWith("machine stop"));
        public int Hangs => Failures.Count(f => f.What.StartsWith("hang"));
        public bool Passed => Failures.Count == 0;
        public string Summary =>
            $"fuzz-domains: {Count} domains, {Boots} boots: {Returned} returned, {Killed} killed, {Refused} refused; " +
            $"{Corruptions} kernel corruptions, {Stops} machine stops, {Hangs} hangs" +
            (Failures.Count > Corruptions + Stops + Hangs ? $", {Failures.Count - Corruptions - Stops - Hangs} other failures" : "");
    }

    public const string Cmdline = "domainmem=128 lvdbudget=5 domaincheck";

    // ------------------------------------------------------------ the generator

    /// <summary>The seed of domain i of a campaign (SplitMix64 of both).</summary>
    public static ulong DomainSeed(long seed, int index)
    {
        ulong z = (ulong)seed * 0x9E3779B97F4A7C15UL + (ulong)index + 1;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>The module name of domain i (at most 15 characters, distinct per seed).</summary>
    public static string Name(long seed, int index) => $"fz{DomainSeed(seed, -1) & 0xfffffff:x7}{index:D6}";

    /// <summary>The C source of domain i: its body, and whether it is random bytes.</summary>
    public static (string Source, bool RandomBytes, int Instructions) Source(long seed, int index)
    {
        var rng = new Random((int)(DomainSeed(seed, index) & 0x7fffffff) ^ (int)(DomainSeed(seed, index) >> 33));
        bool bytes = index % 2 == 0;
        byte[] body;
        int n;
        if (bytes)
        {
            n = rng.Next(20, 200);
            body = new byte[n + 1];
            rng.NextBytes(body.AsSpan(0, n));
            body[n] = 0xc3;
        }
        else
        {
            n = rng.Next(10, 61);
            body = Instructions(rng, n);
        }
        var sb = new StringBuilder();
        sb.Append($"// lvd fuzz-domains seed {seed} domain {index}: {(bytes ? $"{n} random bytes" : $"{n} random instructions")}, then ret.\n");
        sb.Append("// Reproduce: lvd boot --domain THIS_FILE --cpus 2 (kernel words: " + Cmdline + ")\n");
        sb.Append("#include \"lvd_driver.h\"\n\nlong\ndriver_init(unsigned int ncpu)\n{\n\treturn 0;\n}\n\n");
        sb.Append("__attribute__((naked)) long\ndriver_call(struct lvd_msg *m)\n{\n\tasm volatile(");
        for (int i = 0; i < body.Length; i += 16)
        {
            sb.Append(i == 0 ? "\".byte " : "\n\t\t\"\\n.byte ");
            sb.Append(string.Join(',', body.Skip(i).Take(16).Select(b => $"0x{b:x2}")));
            sb.Append('"');
        }
        sb.Append(");\n}\n");
        return (sb.ToString(), bytes, n);
    }

    private static readonly AssemblerRegister64[] Gpr = [rax, rbx, rcx, rdx, rsi, rdi, rbp, rsp, r8, r9, r10, r11, r12, r13, r14, r15];
    private static readonly AssemblerRegister64[] Safe = [rax, rbx, rcx, rdx, rsi, rdi, r8, r9, r10, r11, r12, r13, r14, r15];

    private static long Imm(Random r) => r.Next(4) switch
    {
        0 => r.Next(-16, 16),
        1 => r.Next(),
        2 => (long)(ulong)r.NextInt64() ,
        _ => unchecked((long)0xffff_8000_0000_0000UL) + r.NextInt64(0, 1L << 40),   // kernel-half addresses
    };

    /// <summary>n random valid instructions (some are a few: an operand loaded, then the instruction).</summary>
    private static byte[] Instructions(Random r, int n)
    {
        var a = new Assembler(64);
        AssemblerRegister64 G() => Gpr[r.Next(Gpr.Length)];
        AssemblerRegister64 S() => Safe[r.Next(Safe.Length)];
        void Raw(params byte[] b) => a.db(b);
        var ops = new List<Action>
        {
            () => a.mov(S(), Imm(r)),
            () => a.mov(G(), G()),
            () => a.add(S(), r.Next()),
            () => a.sub(G(), G()),
            () => a.xor(S(), S()),
            () => a.and(S(), r.Next()),
            () => a.or(G(), G()),
            () => a.imul(S(), S()),
            () => a.shl(S(), (byte)r.Next(64)),
            () => a.inc(G()),
            () => a.neg(S()),
            () => a.lea(S(), __[G() + r.Next(-64, 64)]),
            () => a.mov(S(), __qword_ptr[rsp + 8 * r.Next(8)]),
            () => a.mov(__qword_ptr[rsp + 8 * r.Next(-4, 8)], S()),
            () => a.mov(S(), __qword_ptr[G()]),
            () => a.mov(__qword_ptr[G()], S()),
            () => a.push(G()),
            () => a.pop(S()),
            () => a.push(r.Next()),
            () => Raw(0xeb, (byte)r.Next(0, 8)),                 // jmp short forward
            () => Raw(0x74, (byte)r.Next(0, 8)),                 // je short forward
            () => Raw(0xe8, (byte)r.Next(0, 8), 0, 0, 0),        // call forward
            () => a.ret(),
            () => a.call(G()),
            () => a.jmp(G()),
            () => { a.mov(rcx, r.Next(0, 64)); a.rep.movsb(); },
            () => { a.mov(rcx, r.Next(0, 64)); a.rep.stosq(); },
            () => a.lodsb(),
            () => a.cmpsb(),
        };
        int ordinary = ops.Count;
        ops.AddRange(new List<Action>
        {
            // privileged and system
            () => { a.mov(rax, Imm(r)); a.mov(cr0, rax); },
            () => a.mov(S(), cr0),
            () => { a.mov(rax, Imm(r)); a.mov(cr2, rax); },
            () => { a.mov(rax, Imm(r)); a.mov(cr3, rax); },
            () => a.mov(S(), cr3),
            () => { a.mov(rax, Imm(r)); a.mov(cr4, rax); },
            () => a.mov(S(), cr4),
            () => { a.mov(rax, r.Next(16)); a.mov(cr8, rax); },
            () => { a.mov(rax, Imm(r)); a.mov(r.Next(2) == 0 ? dr7 : dr0, rax); },
            () => a.mov(S(), dr6),
            () => { a.mov(ecx, Msr(r)); a.mov(rax, Imm(r)); a.mov(rdx, Imm(r)); a.wrmsr(); },
            () => { a.mov(ecx, Msr(r)); a.rdmsr(); },
            () => { a.mov(edx, r.Next(0x10000)); a.@in(al, dx); },
            () => { a.mov(edx, r.Next(0x10000)); a.@out(dx, al); },
            () => a.cli(),
            () => a.sti(),
            () => a.hlt(),
            () => a.lgdt(__[rsp]),
            () => a.lidt(__[rsp]),
            () => { a.mov(eax, r.Next(0x10000)); a.ltr(ax); },
            () => { a.mov(eax, r.Next(0x10000)); a.lldt(ax); },
            () => a.sgdt(__[rsp - 16]),
            () => a.sidt(__[rsp - 16]),
            () => a.swapgs(),
            () => { a.mov(rax, Imm(r)); a.wrgsbase(rax); },
            () => { a.mov(rax, Imm(r)); a.wrfsbase(rax); },
            () => a.rdgsbase(S()),
            () => { a.push(r.Next()); a.popfq(); },
            () => a.iretq(),
            () => { a.mov(rcx, Imm(r)); a.mov(r11, Imm(r)); a.sysretq(); },
            () => a.syscall(),
            () => a.@int((byte)r.Next(256)),
            () => a.int3(),
            () => Raw(0xce),                                     // into: #UD in 64-bit mode
            () => { a.mov(eax, r.Next(3)); a.mov(ecx, r.Next(4) == 0 ? r.Next() : r.Next(4)); a.vmfunc(); },
            () => a.vmcall(),
            () => { a.mov(eax, r.Next(0x20)); a.cpuid(); },
            () => { a.xor(ecx, ecx); a.mov(eax, r.Next(8)); a.xor(edx, edx); a.xsetbv(); },
            () => a.invlpg(__[G()]),
            () => a.wbinvd(),
            () => a.rdtsc(),
            () => a.pause(),
            () => a.std(),
            () => a.cld(),
            () => { a.mov(eax, r.Next(0x10000)); a.mov(ss, ax); },
            () => { a.mov(eax, r.Next(0x10000)); a.mov(ds, ax); },
            () => { a.mov(eax, r.Next(0x10000)); a.mov(fs, ax); },
            () => { a.mov(eax, r.Next(0x10000)); a.mov(gs, ax); },
            () => Raw(0x48, 0xff, 0x2c, 0x24),                   // jmp far [rsp] (m16:64)
            () => Raw(0xff, 0x1c, 0x24),                         // call far [rsp] (m16:32)
            () => Raw(0x48, 0xcb),                               // retfq
            () => Raw(0xeb, 0xfe),                               // jmp . (the budget, or with cli the watchdog)
            () => Raw(0xfa, 0xeb, 0xfe),                         // cli; jmp .
        });
        // Two of three ordinary, so that some bodies get far (or return).
        for (int i = 0; i < n; i++) ops[r.Next(3) < 2 ? r.Next(ordinary) : r.Next(ordinary, ops.Count)]();
        a.ret();
        var ms = new MemoryStream();
        a.Assemble(new StreamCodeWriter(ms), 0);
        return ms.ToArray();
    }

    private static readonly uint[] Msrs =
    [
        0x10, 0x1b, 0x3a, 0x48, 0x49, 0x174, 0x175, 0x176, 0x1d9, 0x277, 0x6e0, 0x802, 0x808, 0x80b, 0x830, 0x838,
        0xc0000080, 0xc0000081, 0xc0000082, 0xc0000083, 0xc0000084, 0xc0000100, 0xc0000101, 0xc0000102, 0xc0000103,
        0x480, 0x48b, 0x491,
    ];

    private static int Msr(Random r) => r.Next(3) == 0 ? r.Next() : (int)Msrs[r.Next(Msrs.Length)];

    /// <summary>Writes the C files of domains [first, first+count) under dir.</summary>
    public static List<Generated> Generate(long seed, int first, int count, string dir)
    {
        Directory.CreateDirectory(dir);
        var list = new List<Generated>();
        for (int i = first; i < first + count; i++)
        {
            var (src, bytes, n) = Source(seed, i);
            string name = Name(seed, i);
            string path = System.IO.Path.Combine(dir, name + ".c");
            if (!File.Exists(path) || File.ReadAllText(path) != src) File.WriteAllText(path, src);
            list.Add(new Generated(i, name, path, bytes, n));
        }
        return list;
    }

    // ------------------------------------------------------------ the classifier

    [GeneratedRegex(@"^lvd: domain (?<n>\S+) killed on cpu \d+: (?<why>.*)$", RegexOptions.Multiline)]
    private static partial Regex KilledLine();

    /// <summary>The class of a kill reason (lvd.c's lvd_kill lines).</summary>
    public static string KillClass(string why)
    {
        Match m;
        if ((m = Regex.Match(why, @"^exception (\S+)")).Success) return "exception " + m.Groups[1].Value;
        if (why.StartsWith("watchdog")) return "watchdog";
        if (why.Contains("(budget")) return "budget";
        if (why.StartsWith("forged interrupt")) return "forged interrupt";
        if (why.StartsWith("interrupt entry with a forged frame")) return "forged interrupt frame";
        if (why.StartsWith("software interrupt")) return "software interrupt";
        if (why.StartsWith("enabled interrupts")) return "enabled interrupts";
        if (why.Contains("GS base")) return "GS base";
        if ((m = Regex.Match(why, @"^(.+?) \(VM exit \d+\)")).Success) return "VM exit " + m.Groups[1].Value;
        return why.Split(' ', 3) is var w && w.Length >= 2 ? w[0] + " " + w[1] : why;
    }

    /// <summary>
    /// Every domain's outcome and every failure of one boot, from its log and how the machine ended.
    /// Domains run in order; one that never reports (the boot died inside it) is the failure's culprit.
    /// </summary>
    public static (List<Outcome> Outcomes, List<Failure> Failures) Classify(string log, RunOutcome run, int exitCode,
        IReadOnlyList<Generated> domains)
    {
        var outcomes = new List<Outcome>();
        var failures = new List<Failure>();
        var lines = log.Split('\n').Select(l => l.TrimEnd('\r')).ToList();
        var kills = KilledLine().Matches(log).ToDictionary(m => m.Groups["n"].Value, m => m.Groups["why"].Value.Trim(), StringComparer.Ordinal);
        Generated? culprit = null;
        var missing = new List<Generated>();
        foreach (var g in domains)
        {
            string n = g.Name;
            bool loaded = lines.Any(l => l == $"lvd: loading your driver {n}");
            bool done = lines.Any(l => l == $"lvd: kernel still running after {n}" || l == $"lvd: {n}: not started (see above)");
            if (!loaded || !done)
            {
                if (loaded) culprit ??= g;
                missing.Add(g);
                continue;
            }
            if (lines.Any(l => l.StartsWith($"lvd: domain {n} refused:") || l.StartsWith($"lvd: module {n}:")))
                outcomes.Add(new(g.Index, n, g.Path, "refused", "refused",
                    lines.First(l => l.StartsWith($"lvd: domain {n} refused:") || l.StartsWith($"lvd: module {n}:"))));
            else if (lines.FirstOrDefault(l => l.StartsWith($"lvd: domain {n}: init failed")) is string init)
                outcomes.Add(new(g.Index, n, g.Path, "init failed", "init failed", init));
            else if (lines.Any(l => l == $"lvd: {n}: not started (see above)"))
                outcomes.Add(new(g.Index, n, g.Path, "refused", "not started", ""));
            else if (lines.FirstOrDefault(l => l.StartsWith($"lvd: {n}: driver_call returned")) is string ret)
                outcomes.Add(new(g.Index, n, g.Path, kills.ContainsKey(n) ? "killed" : "returned", kills.TryGetValue(n,
                    out var w0) ? KillClass(w0) : "returned", ret));
            else if (lines.FirstOrDefault(l => l.StartsWith($"lvd: {n}: call failed")) is string cf)
            {
                if (kills.TryGetValue(n, out var why)) outcomes.Add(new(g.Index, n, g.Path, "killed", KillClass(why), why));
                else outcomes.Add(new(g.Index, n, g.Path, "rejected", "call rejected", cf));
            }
            else failures.Add(new(g.Index, n, g.Path, "no outcome line for the domain"));
        }
        string Where(Generated? g) => g == null ? "after the domains" : $"in domain {g.Index}";
        var panic = lines.FirstOrDefault(l => l.Contains("panic: "));
        if (panic != null)
            failures.Add(new(culprit?.Index ?? -1, culprit?.Name, culprit?.Path, $"kernel corruption {Where(culprit)}: {panic.Trim()}"));
        else if (run == RunOutcome.InstructionLimit)
            failures.Add(new(culprit?.Index ?? -1, culprit?.Name, culprit?.Path, $"hang {Where(culprit)}: the boot ran out of instructions"));
        else if (MachineFailure(lines, run, exitCode) is string stop)
            failures.Add(new(culprit?.Index ?? -1, culprit?.Name, culprit?.Path, $"machine stop {Where(culprit)}: {stop}"));
        else
        {
            foreach (var g in missing)
                failures.Add(new(g.Index, g.Name, g.Path, "no outcome line for the domain"));
            if (!lines.Any(l => l.StartsWith("lvd: after the domains the kernel's user, network and block tests pass again")))
                failures.Add(new(-1, null, null, "kernel corruption after the domains: the kernel's tests did not pass again"));
            if (!lines.Any(l => l.StartsWith("kernel: all tests passed")))
                failures.Add(new(-1, null, null, "kernel corruption after the domains: no \"kernel: all tests passed\""));
        }
        return (outcomes, failures);
    }

    /// <summary>
    /// How a boot that should have ended well did not (null: it did): a kernel panic, a hang
    /// (out of instructions), a machine stop (crash, triple fault, stop by the hypervisor) or a
    /// non-zero exit status. Shared with <see cref="FaultCampaign"/>.
    /// </summary>
    public static string? MachineFailure(IReadOnlyList<string> lines, RunOutcome run, int exitCode)
    {
        var panic = lines.FirstOrDefault(l => l.Contains("panic: "));
        if (panic != null) return panic.Trim();
        if (run == RunOutcome.InstructionLimit) return "hang: the boot ran out of instructions";
        if (run != RunOutcome.Exited) return run.ToString();
        if (exitCode != 0) return $"exit status {exitCode}";
        return null;
    }

    // ------------------------------------------------------------ the campaign

    public sealed record Options
    {
        public int Count { get; init; } = 300;
        public long Seed { get; init; } = 1;
        public int Cpus { get; init; } = 2;
        public int PerBoot { get; init; } = 50;
        public int Jobs { get; init; } = Math.Max(1, Environment.ProcessorCount);
        /// <summary>Instructions a boot may run: the kernel's own boot and tests, plus this per domain.</summary>
        public long BaseInstructions { get; init; } = 500_000_000;
        public long InstructionsPerDomain { get; init; } = 40_000_000;
    }

    /// <summary>Builds the domains and boots them in batches; progress(done) after each boot.</summary>
    public static Report Run(Options o, GuestCompiler cc, Action<int>? progress = null)
    {
        string dir = System.IO.Path.Combine(cc.RepoRoot, "build", "fuzz-domains", $"seed-{o.Seed}");
        var gen = Generate(o.Seed, 0, o.Count, dir);
        var images = new LvdBoot.Images(cc);
        _ = images.Kernel;
        var built = new ConcurrentDictionary<int, Failure>();
        Parallel.ForEach(gen, new ParallelOptions { MaxDegreeOfParallelism = o.Jobs }, g =>
        {
            try
            {
                var (name, elf) = DomainBuilder.Build(cc, g.Path);
                images.Add(g.Path, new KernelLoader.Module(name, File.ReadAllBytes(elf)));
            }
            catch (GuestCompilerException e) { built[g.Index] = new Failure(g.Index, g.Name, g.Path, "build failed: " + e.Message.Split('\n')[0]); }
        });
        var batches = gen.Where(g => !built.ContainsKey(g.Index)).Chunk(o.PerBoot).ToList();
        var reports = new ConcurrentBag<BootReport>();
        int done = 0;
        Parallel.ForEach(Enumerable.Range(0, batches.Count), new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, o.Jobs / o.Cpus) }, b =>
        {
            reports.Add(RunBoot(b, batches[b], o, images));
            progress?.Invoke(Interlocked.Add(ref done, batches[b].Length));
        });
        var all = reports.OrderBy(r => r.Boot).ToList();
        return new Report(o.Seed, o.Count, batches.Count,
            all.SelectMany(r => r.Outcomes).OrderBy(x => x.Index).ToList(),
            built.Values.Concat(all.SelectMany(r => r.Failures)).OrderBy(f => f.Index).ToList(),
            all.Sum(r => r.Instructions), all.Count == 0 ? 0 : all.Max(r => r.Instructions));
    }

    public static BootReport RunBoot(int boot, IReadOnlyList<Generated> domains, Options o, LvdBoot.Images images)
    {
        var spec = new LvdBootSpec { Cpus = o.Cpus, UserDomains = domains.Select(d => d.Path).ToList(), ExtraCmdline = Cmdline };
        var t = System.Diagnostics.Stopwatch.StartNew();
        var r = LvdBoot.Run(spec, maxInstructions: o.BaseInstructions + o.InstructionsPerDomain * domains.Count, images: images);
        var (outcomes, failures) = Classify(r.OutputText, r.Run.Outcome, r.Run.ExitCode, domains);
        if (failures.Count > 0)
        {
            string logPath = System.IO.Path.Combine(System.IO.Path.GetDirectoryName(domains[0].Path)!, $"boot-{domains[0].Index}.log");
            File.WriteAllText(logPath, r.OutputText + (r.Run.CrashReport != null ? "\n" + r.Run.CrashReport : ""));
            failures = failures.Select(f => f with { What = f.What + $" (log: {logPath})" }).ToList();
        }
        return new BootReport(boot, outcomes, failures, r.Run.Instructions, t.Elapsed.TotalSeconds);
    }
}

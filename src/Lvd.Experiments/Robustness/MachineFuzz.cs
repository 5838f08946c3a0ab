using System.Collections.Concurrent;
using System.Diagnostics;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace Lvd.Experiments.Robustness;

/// <summary>
/// `lvd fuzz-machine` (docs/EXEC-ABI.md, "Robustness campaign"): random programs and inputs for
/// `lvd exec`, plain and under the hypervisor. The rule checked: every run ends within a bound
/// (instructions and host seconds) with a documented exit status and, unless the guest exited by
/// itself, its report; never a .NET exception, an internal error (status 70), a signal or a hang.
/// Kinds: random bytes; random system-instruction snippets (MSRs, CRs, DRs, descriptor tables,
/// IRET/SYSRET, I/O, hypercalls, VMFUNC, HLT with timers, huge REP strings, TF); damaged ELF
/// files; odd `lvd exec` command lines (in a child process).
/// </summary>
public static class MachineFuzz
{
    public enum Kind { RandomBytes, SystemSnippets, DamagedElf, CommandLine }

    /// <summary>The machine checks the instruction limit between blocks: a run may pass it by up to one block (64 instructions).</summary>
    private const long MaxOpsPerBlock = 64;

    public sealed record Options
    {
        public int Count { get; init; } = 500;
        public long Seed { get; init; } = 1;
        public int Jobs { get; init; } = Environment.ProcessorCount;
        /// <summary>Where each failing case's ELF is kept (for `lvd exec` to reproduce it).</summary>
        public string OutDir { get; init; } = "build/fuzz-machine";
        /// <summary>The `lvd` CLI assembly for command-line cases (null: those cases are not run).</summary>
        public string? CliDll { get; init; }
        public long MaxInstructions { get; init; } = 2_000_000;
        /// <summary>A run that takes longer than this on the host is a hang.</summary>
        public TimeSpan HostBound { get; init; } = TimeSpan.FromSeconds(60);
        /// <summary>One case in this many is a command line (a child process: slow).</summary>
        public int CommandLineEvery { get; init; } = 25;
    }

    public sealed record Result(int Index, Kind Kind, bool Hypervisor, int Status, string Outcome, double Seconds, string? Failure, string? Path);

    public sealed record Report(long Seed, IReadOnlyList<Result> Results, double Seconds)
    {
        public IEnumerable<Result> Failures => Results.Where(r => r.Failure != null);
        public bool Passed => !Failures.Any();
        public string Summary =>
            $"fuzz-machine: seed {Seed}, {Results.Count} runs ({Results.Count(r => r.Hypervisor)} under the hypervisor) in {Seconds:0.0} s: " +
            string.Join(", ", Results.GroupBy(r => r.Status).OrderBy(g => g.Key).Select(g => $"{g.Count()} x status {g.Key}")) +
            $"; {Failures.Count()} failures" +
            (Results.Count > 0 ? $"; slowest run {Results.MaxBy(r => r.Seconds)!.Index} ({Results.Max(r => r.Seconds):0.00} s)" : "");
    }

    /// <summary>Statuses `lvd exec` documents when the guest does not exit by itself (docs/EXEC-ABI.md).</summary>
    public static bool IsMachineStatus(int s) => s is ProgramReport.StatusBadInput or ProgramReport.StatusRunaway or ProgramReport.StatusCrash
        or ProgramReport.StatusDeadlock or ProgramReport.StatusHypervisorStop;

    public static Report Run(Options o, Action<int>? progress = null)
    {
        Directory.CreateDirectory(o.OutDir);
        var results = new ConcurrentBag<Result>();
        var sw = Stopwatch.StartNew();
        int done = 0;
        Parallel.For(0, o.Count, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, o.Jobs) }, i =>
        {
            results.Add(RunCase(o, i));
            progress?.Invoke(Interlocked.Increment(ref done));
        });
        return new Report(o.Seed, results.OrderBy(r => r.Index).ToList(), sw.Elapsed.TotalSeconds);
    }

    public static Kind KindOf(Options o, int index) =>
        o.CliDll != null && index % o.CommandLineEvery == o.CommandLineEvery - 1 ? Kind.CommandLine
        : (index % 8) switch { 0 or 1 => Kind.RandomBytes, 2 => Kind.DamagedElf, _ => Kind.SystemSnippets };

    public static Result RunCase(Options o, int index)
    {
        var rng = new Rng(Domains.DomainFuzz.DomainSeed(o.Seed, index));
        var kind = KindOf(o, index);
        bool hv = (rng.Next() & 1) != 0;
        string path = Path.Combine(o.OutDir, $"s{o.Seed}-{index}{(hv ? "-hv" : "")}.elf");
        byte[] elf = kind switch
        {
            Kind.RandomBytes => RawElf.Program(RandomBytes(rng), new byte[4096]),
            Kind.DamagedElf => Damage(rng, RawElf.Program(SystemSnippets(rng), new byte[4096])),
            _ => RawElf.Program(SystemSnippets(rng), new byte[4096]),
        };
        File.WriteAllBytes(path, elf);
        var sw = Stopwatch.StartNew();
        Result r = kind == Kind.CommandLine ? RunCommandLine(o, index, rng, path) : RunInProcess(o, index, kind, hv, path);
        if (r.Failure == null && Environment.GetEnvironmentVariable("LVD_FUZZ_KEEP") == null) File.Delete(path);
        return r with { Seconds = sw.Elapsed.TotalSeconds };
    }

    private static Result RunInProcess(Options o, int index, Kind kind, bool hv, string path)
    {
        var options = new RunOptions { MemoryBytes = 64UL << 20, MaxInstructions = o.MaxInstructions, CaptureSerial = true }
            .With(hv ? HypervisorMode.LaunchAtStart : HypervisorMode.None);
        var task = Task.Run(() =>
        {
            try { return (ProgramRunner.Run(path, options), (Exception?)null); }
            catch (Exception e) { return ((ProgramResult?)null, e); }
        });
        string repro = $"lvd exec {path} --memory 64 --max-instructions {o.MaxInstructions}{(hv ? " --hypervisor" : "")}";
        if (!task.Wait(o.HostBound))
            return new Result(index, kind, hv, -1, "hang", 0, $"no end after {o.HostBound.TotalSeconds:0} s: {repro}", path);
        var (res, ex) = task.Result;
        if (ex is LoadException) return new Result(index, kind, hv, ProgramReport.StatusBadInput, "bad input", 0, null, path);
        if (ex != null) return new Result(index, kind, hv, 70, "exception", 0, $"{ex.GetType().Name}: {ex.Message}: {repro}", path);
        if (res == null) return new Result(index, kind, hv, 70, "exception", 0, $"no result: {repro}", path);
        int status = res.ExitStatus;
        string outcome = res.Run.Outcome.ToString();
        string? failure = null;
        if (res.Run.Outcome != RunOutcome.Exited && string.IsNullOrWhiteSpace(res.Run.CrashReport)) failure = $"{outcome} without a report: {repro}";
        else if (res.Run.Outcome != RunOutcome.Exited && !IsMachineStatus(status)) failure = $"{outcome} with undocumented status {status}: {repro}";
        else if (res.Run.Outcome == RunOutcome.InstructionLimit
            && res.Run.Instructions > o.MaxInstructions + MaxOpsPerBlock) failure =
            $"ran {res.Run.Instructions} instructions past the limit {o.MaxInstructions}: {repro}";
        return new Result(index, kind, hv, status, outcome, 0, failure, path);
    }

    // ------------------------------------------------------------ command lines

    private static readonly string[][] OptionValues =
    [
        ["--memory", "0", "-1", "1", "8", "16", "17", "64", "65537", "99999999999", "abc", ""],
        ["--max-instructions", "0", "-5", "1", "1000", "x", "99999999999999999999"],
        ["--stats-json", "/dev/full", "/dev/null", "/proc/self/status", "/", "/nonexistent/dir/f.json", "", "{tmp}/s.json"],
        ["--json", "/dev/full", "/", "{tmp}/r.json", ""],
        ["--profile", "/dev/full", "{tmp}/p.txt", "{elf}"],
        ["--profile-period", "0", "1", "-3", "y"],
        ["--costs", "/dev/zero", "/", "/nonexistent", "{elf}"],
        ["--hypervisor"], ["--hypervisor-on-request"], ["--trace"], ["--bogus"], ["--", "extra"],
    ];

    private static readonly string[] Elves = ["{elf}", "/dev/zero", "/dev/null", "/", "/nonexistent.elf", "{fifo}", ""];

    private static Result RunCommandLine(Options o, int index, Rng rng, string elf)
    {
        string tmp = Path.Combine(o.OutDir, $"cli-{o.Seed}-{index}");
        Directory.CreateDirectory(tmp);
        string fifo = Path.Combine(tmp, "fifo");
        HostProcess.Run("mkfifo", [fifo], TimeSpan.FromSeconds(10));
        string Sub(string s) => s.Replace("{tmp}", tmp).Replace("{elf}", elf).Replace("{fifo}", fifo);
        var args = new List<string> { "exec", Sub(Elves[rng.Below(Elves.Length)]) };
        int n = rng.Below(4);
        for (int k = 0; k < n; k++)
        {
            var opt = OptionValues[rng.Below(OptionValues.Length)];
            args.Add(opt[0]);
            if (opt.Length > 1) args.Add(Sub(opt[1 + rng.Below(opt.Length - 1)]));
        }
        if (!args.Contains("--max-instructions")) { args.Add("--max-instructions"); args.Add(o.MaxInstructions.ToString()); }
        if (args.Contains("--trace")) args.Remove("--trace"); // output volume, not robustness
        var r = HostProcess.Run("dotnet", [o.CliDll!, .. args], o.HostBound);
        Directory.Delete(tmp, true);
        string line = "lvd " + string.Join(' ', args.Select(a => a.Length == 0 || a.Contains(' ') ? $"'{a}'" : a));
        string? failure = null;
        if (r.TimedOut) failure = $"no end after {o.HostBound.TotalSeconds:0} s: {line}";
        else if (r.ExitCode == 70 || r.Stderr.Contains("internal error")) failure = $"internal error: {line}: {r.Stderr.Trim()}";
        else if (r.Stderr.Contains("   at ") || r.Stderr.Contains("Unhandled exception")) failure = $"stack trace: {line}";
        else if (r.ExitCode < 0 || r.ExitCode > 255) failure = $"status {r.ExitCode} (a signal?): {line}";
        else if (r.ExitCode == ProgramReport.StatusBadInput && r.Stderr.Trim().Split('\n')
            .Length != 1) failure = $"bad input without a one-line error: {line}: {r.Stderr.Trim()}";
        return new Result(index, Kind.CommandLine, args.Contains("--hypervisor"), r.ExitCode, "cli", 0, failure, elf);
    }

    // ------------------------------------------------------------ generators

    private static byte[] RandomBytes(Rng rng)
    {
        var b = new byte[16 + rng.Below(480)];
        for (int i = 0; i < b.Length; i++) b[i] = (byte)rng.Next();
        return b;
    }

    private static readonly uint[] Msrs =
    [
        0x10, 0x1b, 0x3a, 0x48, 0x8b, 0xfe, 0x174, 0x175, 0x176, 0x1a0, 0x1d9, 0x277, 0x480, 0x48d, 0x6e0,
        0x802, 0x803, 0x808, 0x80b, 0x80f, 0x828, 0x830, 0x832, 0x838, 0x839, 0x83e, 0x83f,
        0xc0000080, 0xc0000081, 0xc0000082, 0xc0000084, 0xc0000100, 0xc0000101, 0xc0000102, 0xc0000103, 0x4b564d00,
    ];

    private static ulong Value(Rng rng) => rng.Below(6) switch
    {
        0 => 0,
        1 => rng.Next() & 0xff,
        2 => ulong.MaxValue,
        3 => (ulong)RawElf.DataBase + (rng.Next() & 0xff8),
        4 => 1UL << rng.Below(64),
        _ => rng.Next(),
    };

    /// <summary>8-30 random snippets of system instructions with random operands, then the exit.</summary>
    public static byte[] SystemSnippets(Rng rng)
    {
        var a = new Assembler(64);
        int n = 8 + rng.Below(23);
        for (int k = 0; k < n; k++) Snippet(a, rng);
        a.mov(eax, 0);
        a.@out(0xf4, eax);
        a.hlt();
        using var ms = new MemoryStream();
        a.Assemble(new StreamCodeWriter(ms), RawElf.CodeBase);
        return ms.ToArray();
    }

    private static readonly AssemblerRegister64[] Gprs = [rax, rcx, rdx, rbx, rbp, rsi, rdi, r8, r9, r10, r11, r12, r13, r14, r15];

    private static void Snippet(Assembler a, Rng rng)
    {
        ulong data = RawElf.DataBase + (rng.Next() & 0xf00);
        switch (rng.Below(24))
        {
            case 0: a.mov(ecx, Msrs[rng.Below(Msrs.Length)]); a.mov(rax, Value(rng)); a.mov(rdx, Value(rng) & 0xffffffff); a.wrmsr(); break;
            case 1: a.mov(ecx, rng.Below(4) == 0 ? (uint)rng.Next() : Msrs[rng.Below(Msrs.Length)]); a.rdmsr(); break;
            case 2:
            {
                var crs = new[] { cr0, cr2, cr3, cr4, cr8 };
                var cr = crs[rng.Below(crs.Length)];
                a.mov(rax, Value(rng));
                if (rng.Below(2) == 0) a.mov(cr, rax); else a.mov(rax, cr);
                break;
            }
            case 3:
            {
                var drs = new[] { dr0, dr1, dr2, dr3, dr6, dr7 };
                a.mov(rax, Value(rng));
                if (rng.Below(2) == 0) a.mov(drs[rng.Below(drs.Length)], rax); else a.mov(rax, drs[rng.Below(drs.Length)]);
                break;
            }
            case 4:
                a.mov(rax, data); a.mov(__word_ptr[rax], (ushort)rng.Next()); a.mov(rdx, Value(rng)); a.mov(__qword_ptr[rax + 2], rdx);
                switch (rng.Below(4))
                {
                    case 0: a.lgdt(__[rax]); break;
                    case 1: a.lidt(__[rax]); break;
                    case 2: a.sgdt(__[rax]); break;
                    default: a.sidt(__[rax]); break;
                }
                break;
            case 5: a.mov(eax, (uint)rng.Next() & 0xffff); if (rng.Below(2) == 0) a.ltr(ax); else a.lldt(ax); break;
            case 6:
                // IRETQ with a random (or nearly right) frame.
                a.mov(rax, rng.Below(2) == 0 ? 0x10UL : Value(rng) & 0xffff); a.push(rax);
                a.mov(rax, rng.Below(2) == 0 ? RawElf.DataBase + 0x800 : Value(rng)); a.push(rax);
                a.mov(rax, rng.Below(2) == 0 ? 0x2UL | (rng.Next() & 0x4cd5) : Value(rng)); a.push(rax);
                a.mov(rax, rng.Below(2) == 0 ? 0x08UL : Value(rng) & 0xffff); a.push(rax);
                a.mov(rax, rng.Below(2) == 0 ? RawElf.CodeBase : Value(rng)); a.push(rax);
                a.iretq();
                break;
            case 7: a.mov(rcx, rng.Below(2) == 0 ? RawElf.CodeBase : Value(rng)); a.mov(r11,
                Value(rng)); if (rng.Below(2) == 0) a.sysretq(); else a.sysret(); break;
            case 8: if (rng.Below(2) == 0) a.syscall(); else a.swapgs(); break;
            case 9:
            {
                ushort port = rng.Below(3) switch { 0 => (ushort)(0x3f8 + rng.Below(8)), 1 => (ushort)0xf4, _ => (ushort)rng.Next() };
                if (port == 0xf4 && rng.Below(4) != 0) port = 0x80;
                a.mov(edx, port); a.mov(rax, Value(rng));
                switch (rng.Below(4)) { case 0: a.@out(dx, al); break; case 1: a.@out(dx, eax); break; case 2: a.@in(al,
                    dx); break; default: a.@in(eax, dx); break; }
                break;
            }
            case 10:
                // A hypercall with random arguments (docs/HYPERCALLS.md), or the launch leaf.
                a.mov(rax, rng.Below(2) == 0 ? rng.Next() & 0x1f : Value(rng));
                foreach (var r in new[] { rdi, rsi, rdx, rcx, r8, r9 }) a.mov(r, Value(rng));
                if (rng.Below(3) == 0) { a.mov(eax, 0x4bf00000u + (uint)rng.Below(4)); a.cpuid(); } else a.vmcall();
                break;
            case 11: a.mov(eax, (uint)rng.Below(4)); a.mov(ecx, rng.Below(3) == 0 ? (uint)rng.Next() : (uint)rng.Below(512)); a.vmfunc(); break;
            case 12:
            {
                // HLT with the APIC timer armed (random mode, vector, count), interrupts on or off.
                a.mov(ecx, 0x83e); a.mov(eax, (uint)rng.Below(16)); a.xor(edx, edx); a.wrmsr();
                a.mov(ecx, 0x832); a.mov(eax, (uint)(rng.Next() & 0x700ff)); a.wrmsr();
                a.mov(ecx, 0x838); a.mov(eax, rng.Below(2) == 0 ? (uint)rng.Below(5000) : (uint)rng.Next()); a.wrmsr();
                if (rng.Below(2) == 0) a.sti(); else a.cli();
                a.hlt();
                break;
            }
            case 13:
            {
                // A REP string instruction over a random (often huge) range.
                a.mov(rcx, rng.Below(2) == 0 ? Value(rng) : rng.Next() & 0xfffff);
                a.mov(rsi, rng.Below(2) == 0 ? RawElf.DataBase : Value(rng));
                a.mov(rdi, rng.Below(2) == 0 ? RawElf.DataBase + 0x100000 : Value(rng));
                if (rng.Below(3) == 0) a.std(); else a.cld();
                switch (rng.Below(6))
                {
                    case 0: a.rep.movsb(); break;
                    case 1: a.rep.stosq(); break;
                    case 2: a.rep.lodsb(); break;
                    case 3: a.repe.cmpsb(); break;
                    case 4: a.repne.scasd(); break;
                    default: a.db(0x67); a.rep.stosb(); break;
                }
                a.cld();
                break;
            }
            case 14: a.@int((byte)rng.Next()); break;
            case 15: switch (rng.Below(6)) { case 0: a.int3(); break; case 1: a.ud2(); break; case 2: a.int1(); break; case 3: a.mov(ecx,
                (uint)rng.Below(2)); a.xsetbv(); break; case 4: a.xgetbv(); break; default: a.rdtscp(); break; } break;
            case 16: a.mov(rax, Value(rng)); a.push(rax); a.popfq(); break; // random RFLAGS, TF among them
            case 17: a.mov(rax, Value(rng)); if (rng.Below(2) == 0) a.invlpg(__[rax]); else { a.mov(rdx, data); a.invpcid(rax, __[rdx]); } break;
            case 18:
                switch (rng.Below(4))
                {
                    case 0: a.wbinvd(); break;
                    case 1: a.clts(); break;
                    case 2: a.sti(); break;
                    default: a.cli(); break;
                }
                break;
            case 19: a.mov(Gprs[rng.Below(Gprs.Length)], Value(rng)); break;
            case 20: a.mov(rax, Value(rng)); a.mov(rsp, rng.Below(2) == 0 ? RawElf.DataBase + 0xff0 : Value(rng)); break;
            case 21:
            {
                // A short backward loop (runs into the instruction limit or not).
                var top = a.CreateLabel(); a.mov(ecx, (uint)rng.Below(2) == 0 ? 100u : 0xffffffff); a.Label(ref top); a.dec(ecx); a.jnz(top);
                break;
            }
            case 22: a.mov(rax, Value(rng)); a.mov(ax, (ushort)(rng.Below(2) == 0 ? 0x10 : rng.Next())); if (rng.Below(2) == 0) a.mov(ds,
                ax); else a.mov(ss, ax); break;
            default: a.mov(rax, Value(rng)); a.mov(rdx, Value(rng)); a.rdpid(rax); a.rdtsc(); break;
        }
    }

    /// <summary>A valid program's ELF, damaged in one of several ways.</summary>
    public static byte[] Damage(Rng rng, byte[] elf)
    {
        var b = (byte[])elf.Clone();
        void W64(int at, ulong v) { if (at + 8 <= b.Length) BitConverter.TryWriteBytes(b.AsSpan(at), v); }
        void W16(int at, ushort v) { if (at + 2 <= b.Length) BitConverter.TryWriteBytes(b.AsSpan(at), v); }
        switch (rng.Below(12))
        {
            case 0: return b[..rng.Below(b.Length)];                        // truncated
            case 1: for (int i = 0; i < 1 + rng.Below(8); i++) b[rng.Below(Math.Min(b.Length, 120))] = (byte)rng.Next(); break; // header bytes
            case 2: W64(24, Value(rng)); break;                              // entry anywhere
            case 3: W64(64 + 16, Value(rng)); W64(64 + 24, Value(rng)); break; // segment address
            case 4: W64(64 + 40, Value(rng)); break;                         // memory size
            case 5: W64(64 + 32, Value(rng)); break;                         // file size
            case 6: W64(64 + 8, Value(rng)); break;                          // file offset
            case 7: W16(56, (ushort)rng.Next()); break;                      // program header count
            case 8: b[4] = 1; break;                                         // ELFCLASS32
            case 9: W16(18, 3); break;                                       // EM_386
            case 10: W16(16, 3); break;                                      // ET_DYN
            default: W64(32, Value(rng)); break;                             // program header offset
        }
        return b;
    }

    /// <summary>SplitMix64 (the campaign's only randomness: a seed gives the same cases everywhere).</summary>
    public sealed class Rng(ulong seed)
    {
        private ulong _s = seed;

        public ulong Next()
        {
            ulong z = _s += 0x9E3779B97F4A7C15UL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }

        public int Below(int n) => (int)(Next() % (ulong)n);
    }
}

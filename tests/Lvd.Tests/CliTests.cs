using Lvd.Experiments.Domains;
using System.Text.Json;

namespace Lvd.Tests;

/// <summary>
/// The `lvd` command as a user meets it: bad input gives one line on stderr naming the
/// subcommand's help and exit status 2 before anything runs (nothing on stdout: no build, no
/// boot), never a .NET stack trace; good input still works. Runs the CLI in a child process
/// (its console is its own; stdout and stderr are pipes, as in a script).
/// </summary>
public sealed class CliTests
{
    internal static (int Status, string Stdout, string Stderr) Lvd(params string[] args)
    {
        string dll = Path.Combine(AppContext.BaseDirectory, "lvd.dll");
        var r = global::Lvd.Experiments.HostProcess.Run("dotnet", [dll, .. args], TimeSpan.FromMinutes(5));
        return (r.ExitCode, System.Text.Encoding.UTF8.GetString(r.Stdout), r.Stderr);
    }

    /// <summary>LVD_ENGINE carries --engine to child processes; any other value than interp or jit is bad input, not the default.</summary>
    [Fact]
    public void AnUnknownEngineInTheEnvironmentIsBadInput()
    {
        string dll = Path.Combine(AppContext.BaseDirectory, "lvd.dll");
        var r = global::Lvd.Experiments.HostProcess.Run("env", ["LVD_ENGINE=fast", "dotnet", dll, "exec", "/nonexistent.elf"],
            TimeSpan.FromMinutes(5));
        Assert.Equal(2, r.ExitCode);
        AssertOneLineError(r.Stderr, "LVD_ENGINE=fast: interp or jit");
        Assert.Empty(r.Stdout);
    }

    private static void AssertOneLineError(string stderr, string expect)
    {
        var lines = stderr.Trim().Split('\n');
        Assert.True(lines.Length == 1, "expected one line, got:\n" + stderr);
        Assert.StartsWith("lvd: ", lines[0]);
        Assert.Contains(expect, lines[0]);
        Assert.DoesNotContain("   at ", stderr);
    }

    /// <summary>A usage error: status 2, nothing done (stdout empty), one line with the message and the subcommand's help.</summary>
    private static void AssertUsageError(string[] args, string expect, string help)
    {
        var (status, stdout, stderr) = Lvd(args);
        Assert.True(status == 2, $"lvd {string.Join(' ', args)}: status {status}, stderr:\n{stderr}");
        Assert.Equal("", stdout);
        AssertOneLineError(stderr, expect);
        Assert.EndsWith($"(see {help})", stderr.Trim());
    }

    private static string HelloElf() => Guest.BuildSource("cli_hello", "#include <stdio.h>\nint main(void){ puts(\"hello\"); return 0; }", "-O1");

    // ---------------- unknown options and typos ----------------

    [Theory]
    [InlineData("unknown option --cpu (did you mean --cpus?)", "lvd boot --help", "boot", "--cpu", "4")]
    [InlineData("unknown option --isolated (did you mean --isolate?)", "lvd boot --help", "boot", "--isolated", "nullnet")]
    [InlineData("unknown option --bogus", "lvd bench --help", "bench", "--bogus")]
    [InlineData("unknown option --memory", "lvd bench --help", "bench", "--memory", "64")]
    [InlineData("unknown option --memory", "lvd demo --help", "demo", "--memory", "64")]
    [InlineData("unknown option --memory", "lvd attack --help", "attack", "--memory", "64")]
    [InlineData("unknown option --memory", "lvd bench micro --help", "bench", "micro", "--memory", "64")]
    [InlineData("unknown option --foo", "lvd bench mips --help", "bench", "mips", "--foo")]
    [InlineData("unknown option --cont (did you mean --count?)", "lvd csmith --help", "csmith", "--cont", "3")]
    [InlineData("unknown option --hypervisr (did you mean --hypervisor?)", "lvd exec --help", "exec", "--hypervisr", "x.elf")]
    [InlineData("unexpected argument 'extra'", "lvd boot --help", "boot", "extra")]
    [InlineData("unknown option --driverr (did you mean --driver?)", "lvd faults --help", "faults", "--driverr", "nullnet")]
    [InlineData("--driver is required: nullnet or nullblk", "lvd faults --help", "faults", "--count", "3")]
    [InlineData("--driver selftest: nullnet or nullblk", "lvd faults --help", "faults", "--driver", "selftest")]
    [InlineData("--cpus 1: 2 to 16", "lvd faults --help", "faults", "--driver", "nullnet", "--cpus", "1")]
    [InlineData("--per-boot must be 1 to 200", "lvd faults --help", "faults", "--driver", "nullblk", "--per-boot", "0")]
    [InlineData("unknown command 'no-such-command'", "lvd --help", "no-such-command")]
    public void UnknownOptionsAreRefusedWithTheSubcommandsHelp(string expect, string help, params string[] args) =>
        AssertUsageError(args, expect, help);

    // ---------------- values that do not convert ----------------

    [Theory]
    [InlineData("--cpus abc: must be a whole number", "lvd boot --help", "boot", "--cpus", "abc")]
    [InlineData("--duration 1x: must be a whole number", "lvd boot --help", "boot", "--workload", "nullnet", "--duration=1x")]
    [InlineData("--first -3: must be a whole number, 0 or more", "lvd csmith --help", "csmith", "--first", "-3")]
    [InlineData("--jobs many: must be a whole number", "lvd bench --help", "bench", "--jobs", "many")]
    public void ConversionsGetACleanMessage(string expect, string help, params string[] args) =>
        AssertUsageError(args, expect, help);

    // ---------------- options that do nothing in their combination, contradictions ----------------

    [Theory]
    [InlineData("--threads needs --workload", "boot", "--threads", "2")]
    [InlineData("--duration needs --workload", "boot", "--duration", "5000000")]
    [InlineData("--depth needs --workload nullblk", "boot", "--depth", "4")]
    [InlineData("--depth needs --workload nullblk", "boot", "--workload", "nullnet", "--depth", "4")]
    [InlineData("--seed needs --workload nullblk", "boot", "--workload", "nullnet", "--seed", "3")]
    [InlineData("--crossings needs --isolate nullnet", "boot", "--crossings", "2")]
    [InlineData("--crossings needs --isolate nullnet", "boot", "--isolate", "nullblk", "--crossings", "2")]
    [InlineData("--profile-top needs --profile", "boot", "--profile-top", "3")]
    [InlineData("--profile-folded needs --profile", "boot", "--profile-folded", "/tmp/lvd-folded.txt")]
    [InlineData("--isolate: nullnet given twice", "boot", "--isolate", "nullnet,nullnet")]
    [InlineData("--cmdline threads=2: set by --threads", "boot", "--workload", "nullnet", "--cmdline", "threads=2")]
    [InlineData("--cmdline workload=nullblk: set by --workload", "boot", "--cmdline", "workload=nullblk")]
    [InlineData("--cmdline isolate=nullnet: set by --isolate", "boot", "--cmdline", "isolate=nullnet")]
    [InlineData("--cmdline thread=2: the kernel does not read 'thread'", "boot", "--cmdline", "thread=2")]
    [InlineData("--restart needs --isolate", "boot", "--restart", "always")]
    [InlineData("--restart sometimes: never, always or N-per-minute (N 1 to 16)", "boot", "--isolate", "nullnet", "--restart", "sometimes")]
    [InlineData("--restart 17-per-minute: never, always or N-per-minute", "boot", "--isolate", "nullblk", "--restart", "17-per-minute")]
    [InlineData("--cmdline lvdrestart=never: set by --restart", "boot", "--cmdline", "lvdrestart=never")]
    public void InapplicableOptionsAndContradictionsAreRefused(string expect, params string[] args) =>
        AssertUsageError(args, expect, "lvd boot --help");

    [Fact]
    public void ExecAndCsmithCombinationsAreRefused()
    {
        string elf = HelloElf();
        AssertUsageError(["exec", elf, "--hypervisor", "--hypervisor-on-request"], "--hypervisor and --hypervisor-on-request exclude each other",
            "lvd exec --help");
        AssertUsageError(["exec", elf, "--profile-period", "10"], "--profile-period needs --profile", "lvd exec --help");
        AssertUsageError(["exec", elf, "--nic", "loopback"], "--nic loopback: sink, echo or generator", "lvd exec --help");
        AssertUsageError(["exec", elf, "--iommu"], "--iommu needs --hypervisor or --hypervisor-on-request", "lvd exec --help");
        AssertUsageError(["exec", elf, "--nic", "sink", "--memory", "8192"], "--memory 8192: with --nic, RAM must end below", "lvd exec --help");
        AssertUsageError(["csmith", "--seed-file", Guest.Path("tests", "data", "csmith-seeds.txt"), "--count", "3"],
            "--count and --seed-file exclude each other", "lvd csmith --help");
        AssertUsageError(["csmith", "--opt", "-O9"], "--opt -O9: one of -O0, -O1, -O2, -O3, -Os, -Og", "lvd csmith --help");
        AssertUsageError(["csmith", "--jobs", "0"], "--jobs 0: must be at least 1", "lvd csmith --help");
        // `--opt -O2` parses (the value starts with a dash): the next problem is the one reported.
        AssertUsageError(["csmith", "--opt", "-O2", "--count", "0"], "--count 0: must be at least 1", "lvd csmith --help");
    }

    // ---------------- ranges the guest cannot run ----------------

    [Theory]
    [InlineData("--cpus 17: the guest kernel runs on 1 to 16 vCPUs", "lvd boot --help", "boot", "--cpus", "17")]
    [InlineData("--lvd-selftest runs on 1 to 9 vCPUs", "lvd boot --help", "boot", "--cpus", "10", "--lvd-selftest", "--memory", "512")]
    [InlineData("--cpus 0: the guest kernel runs on 1 to 16 vCPUs", "lvd boot --help", "boot", "--cpus", "0")]
    [InlineData("--memory 79: the guest kernel needs at least 80 MiB", "lvd boot --help", "boot", "--memory", "79")]
    [InlineData("--memory 16: the guest kernel needs at least 80 MiB", "lvd boot --help", "boot", "--memory", "16")]
    [InlineData("--memory 65537: 1 to 65536 MiB", "lvd boot --help", "boot", "--memory", "65537")]
    [InlineData("--lvd-selftest on more than 4 vCPUs needs --memory 384", "lvd boot --help", "boot", "--cpus", "8", "--lvd-selftest")]
    [InlineData("--lvd-selftest needs --memory 256", "lvd boot --help", "boot", "--lvd-selftest", "--memory", "128")]
    [InlineData("--threads 65: 1 to 64", "lvd boot --help", "boot", "--workload", "nullnet", "--threads", "65")]
    [InlineData("--depth 257: must be 1 to 256", "lvd boot --help", "boot", "--workload", "nullblk", "--depth", "257")]
    [InlineData("--depth 0: must be 1 to 256", "lvd boot --help", "boot", "--workload", "nullblk", "--depth", "0")]
    [InlineData("--seed -1: must be 0 or more", "lvd boot --help", "boot", "--workload", "nullblk", "--seed", "-1")]
    [InlineData("--workload nulldisk: nullnet, ixgbe, ixgbe-rx, ixgbe-rr or nullblk", "lvd boot --help", "boot", "--workload", "nulldisk")]
    [InlineData("--cpus 17: the guest kernel runs on 1 to 16 vCPUs", "lvd bench --help", "bench", "--cpus", "17")]
    [InlineData("--duration 10: must be at least 1,000,000 cycles", "lvd bench --help", "bench", "--duration", "10")]
    [InlineData("--cpus 1: 2 to 9", "lvd attack --help", "attack", "--cpus", "1")]
    [InlineData("--runs 0: must be at least 1", "lvd bench mips --help", "bench", "mips", "--runs", "0")]
    [InlineData("--runs 0: 1 to 50", "lvd bench linux --help", "bench", "linux", "--runs", "0")]
    [InlineData("--timing: lvd bench mips runs basic and detailed", "lvd bench mips --help", "bench", "mips", "--timing", "detailed")]
    [InlineData("--json /proc/lvd-test.json: cannot write there", "lvd bench mips --help", "bench", "mips", "--json", "/proc/lvd-test.json")]
    [InlineData("--engine: lvd bench mips runs both engines side by side", "lvd bench mips --help", "bench", "mips", "--engine", "jit")]
    // The campaigns' --count, --seed and --jobs (CampaignSettings), checked before anything is built.
    [InlineData("--count 0: must be 1 to 1000000", "lvd faults --help", "faults", "--driver", "nullnet", "--count", "0")]
    [InlineData("--seed 2147483648: must be 0 to 2147483647", "lvd seqdiff --help", "seqdiff", "--seed", "2147483648")]
    [InlineData("--jobs 0: must be at least 1", "lvd fuzz-machine --help", "fuzz-machine", "--jobs", "0")]
    [InlineData("--seed -2: must be 0 or more", "lvd fuzz-domains --help", "fuzz-domains", "--seed", "-2")]
    [InlineData("--cpus 65: 1 to ", "lvd fuzz-domains --help", "fuzz-domains", "--cpus", "65")]
    [InlineData("--per-boot 61: must be 1 to 60", "lvd fuzz-domains --help", "fuzz-domains", "--per-boot", "61")]
    public void RangesTheGuestCannotRunAreRefused(string expect, string help, params string[] args) =>
        AssertUsageError(args, expect, help);

    [Fact]
    public void ExecRefusesTooLittleMemoryForTheProgramsImage()
    {
        // exec.ld: the image at 4 MiB; the top 128 KiB hold the loader's stack and page tables;
        // the heap takes what is left (docs/EXEC-ABI.md), so a small program (its image and 1 MiB
        // stack end just above 5 MiB) runs in 6 MiB, not the 36 of a fixed 32 MiB heap.
        string elf = HelloElf();
        var (s4, _, e4) = Lvd("exec", elf, "--memory", "4");
        Assert.Equal(2, s4);
        var m = System.Text.RegularExpressions.Regex.Match(e4, @"--memory 4: (\d+) to 65536 MiB \(cli_hello.elf ends at ");
        Assert.True(m.Success, e4);
        int least = int.Parse(m.Groups[1].Value);
        Assert.Equal(6, least);
        AssertUsageError(["exec", elf, "--memory", "5"], "--memory 5: 6 to 65536 MiB", "lvd exec --help");
        foreach (int mib in new[] { least, 8 })
        {
            var (status, stdout, _) = Lvd("exec", elf, "--memory", mib.ToString());
            Assert.Equal(0, status);
            Assert.Equal("hello\n", stdout);
        }
    }

    [Fact]
    public void ExecPassesTheArgumentsAfterTheDoubleDash()
    {
        string elf = Guest.Build("cli_args.elf", ["guest/tests/libc/runtime.c"], "-O2");
        var (status, stdout, _) = Lvd("exec", elf, "--max-instructions", "100000000", "--", "a", "", "--memory");
        Assert.Equal(4, status);   // argc
        Assert.Contains("argv[1]=\"a\" (1 bytes)\nargv[2]=\"\" (0 bytes)\nargv[3]=\"--memory\" (8 bytes)\n", stdout);
        AssertUsageError(["exec", elf, "a"], "could not match 'a' with an argument", "lvd exec --help");
    }

    // ---------------- files ----------------

    [Fact]
    public void PathsAreCheckedBeforeTheRun()
    {
        string elf = HelloElf();
        string dir = Guest.TempDir("cli-paths");
        string file = Path.Combine(dir, "a-file");
        File.WriteAllText(file, "x");
        AssertUsageError(["exec", elf, "--stats-json", "/nonexistent/dir/s.json"],
            "--stats-json /nonexistent/dir/s.json: no such directory /nonexistent/dir", "lvd exec --help");
        AssertUsageError(["exec", elf, "--stats-json", "/proc/lvd-test.json"], "--stats-json /proc/lvd-test.json: cannot write there",
            "lvd exec --help");
        AssertUsageError(["exec", elf, "--stats-json", dir], "is a directory, not a file", "lvd exec --help");
        AssertUsageError(["exec", elf, "--json", "/proc/lvd-test.json"], "--json /proc/lvd-test.json: cannot write there", "lvd exec --help");
        AssertUsageError(["exec", elf, "--profile=/proc/lvd-test.txt"], "--profile /proc/lvd-test.txt: cannot write there", "lvd exec --help");
        AssertUsageError(["boot", "--stats-json", "/proc/lvd-test.json"], "--stats-json /proc/lvd-test.json: cannot write there", "lvd boot --help");
        AssertUsageError(["boot", "--profile=/nonexistent/p.txt"], "--profile /nonexistent/p.txt: no such directory", "lvd boot --help");
        AssertUsageError(["boot", "--kernel", "/nonexistent/kernel.elf"], "--kernel /nonexistent/kernel.elf: no such file", "lvd boot --help");
        AssertUsageError(["boot", "--domain", "/nonexistent/d.c"], "--domain /nonexistent/d.c: no such file or directory", "lvd boot --help");
        AssertUsageError(["bench", "--out", file], $"--out {file}: is a file; give a directory", "lvd bench --help");
        AssertUsageError(["bench", "--out", "/proc/lvd-bench"], "--out /proc/lvd-bench: cannot write there", "lvd bench --help");
        AssertUsageError(["demo", "--json", "/proc/lvd-test.json"], "--json /proc/lvd-test.json: cannot write there", "lvd demo --help");
        AssertUsageError(["exec", dir], $"{dir}: is a directory, not an ELF file", "lvd exec --help");
        AssertUsageError(["exec", "/nonexistent/prog.elf"], "/nonexistent/prog.elf: no such file", "lvd exec --help");
        AssertUsageError(["exec", elf, "--costs", "/nonexistent/costs.json"], "--costs /nonexistent/costs.json: no such file", "lvd exec --help");
        AssertUsageError(["csmith", "--seed-file", "/nonexistent/seeds.txt"], "--seed-file /nonexistent/seeds.txt: no such file",
            "lvd csmith --help");
        // A file that was there is left as it was by the check.
        Assert.Equal("x", File.ReadAllText(file));
    }

    [Fact]
    public void ExecOfANonElfIsAOneLineError()
    {
        string p = Path.Combine(Guest.TempDir("cli"), "notelf.txt");
        File.WriteAllText(p, "not an elf");
        var (status, _, err) = Lvd("exec", p);
        Assert.Equal(2, status);
        AssertOneLineError(err, "not an ELF file");
    }

    // ---------------- help, version ----------------

    [Fact]
    public void HelpListsTheCommands()
    {
        var (status, stdout, err) = Lvd("--help");
        Assert.Equal(0, status);
        Assert.DoesNotContain("   at ", err);
        foreach (var cmd in new[] { "demo", "exec", "boot", "cc", "idl", "csmith", "bench" }) Assert.Contains(cmd, stdout);
        // Piped, the help is not cut at 80 columns: a long description stays on one line.
        Assert.Contains("The main job: 4 vCPUs under the LVD hypervisor, nullnet and nullblk in the kernel and isolated in domains, a faulty " +
            "driver contained", stdout);
    }

    [Theory]
    [InlineData("--workload <NAME>", "help", "boot")]
    [InlineData("--workload <NAME>", "boot", "--help")]
    [InlineData("--max-instructions <N>", "help", "exec")]
    [InlineData("--runs <N>", "help", "bench", "mips")]
    public void HelpOfOneCommand(string expect, params string[] args)
    {
        var (status, stdout, err) = Lvd(args);
        Assert.True(status == 0, err);
        Assert.Contains(expect, stdout);
    }

    [Fact]
    public void BenchHelpShowsTheDefaultCommandsOptions()
    {
        var (status, stdout, _) = Lvd("bench", "--help");
        Assert.Equal(0, status);
        foreach (var o in new[] { "--out <DIR>", "--cpus <N>", "--duration <CYCLES>", "--jobs <N>", "--costs <FILE|PROFILE>" })
            Assert.Contains(o, stdout);
        Assert.Contains("micro", stdout);
        Assert.Contains("mips", stdout);
    }

    [Fact]
    public void VersionNamesTheCommit()
    {
        var (status, stdout, _) = Lvd("--version");
        Assert.Equal(0, status);
        Assert.Matches(@"^\d+\.\d+\.\d+ \(commit ([0-9a-f]{12}(-dirty)?|unknown)\)$", stdout.Trim());
    }

    // ---------------- good input still works; results for scripts ----------------

    [Fact]
    public void ExecPassesTheGuestExitStatusAndWritesStats()
    {
        string elf = Guest.BuildSource("cli_exit7", "#include <stdio.h>\nint main(void){ puts(\"seven\"); return 7; }", "-O1");
        string stats = Path.Combine(Guest.TempDir("cli"), "stats.json");
        string results = Path.Combine(Guest.TempDir("cli"), "exec-results.json");
        var (status, stdout, _) = Lvd("exec", elf, "--stats-json", stats, "--hypervisor", "--json", results);
        Assert.Equal(7, status);
        Assert.Equal("seven\n", stdout);
        var json = JsonDocument.Parse(File.ReadAllText(stats)).RootElement;
        Assert.True(json.GetProperty("instructions").GetInt64() > 0);
        Assert.True(json.GetProperty("cycles").GetInt64() > 0);
        Assert.True(json.GetProperty("host_seconds").GetDouble() > 0);
        Assert.True(json.GetProperty("exits_by_reason").GetProperty("IoInstruction").GetInt64() > 0);
        var doc = JsonDocument.Parse(File.ReadAllText(results)).RootElement;
        AssertHeader(doc, "exec");
        Assert.Equal(7, doc.GetProperty("exit_status").GetInt32());
        Assert.Equal("launch_at_start", doc.GetProperty("hypervisor").GetString());
        Assert.True(doc.GetProperty("stats").GetProperty("instructions").GetInt64() > 0);
    }

    /// <summary>The header every results file starts with (docs/RESULTS.md).</summary>
    internal static void AssertHeader(JsonElement doc, string command)
    {
        var h = doc.GetProperty("header");
        Assert.Equal("lvd-results", h.GetProperty("schema").GetString());
        Assert.Equal(global::Lvd.Experiments.Results.SchemaVersion, h.GetProperty("schema_version").GetInt32());
        Assert.Equal(command, h.GetProperty("command").GetString());
        Assert.Matches(@"^\d+\.\d+\.\d+$", h.GetProperty("tool_version").GetString()!);
        Assert.False(string.IsNullOrEmpty(h.GetProperty("commit").GetString()));
        Assert.Matches("^[0-9a-f]{64}$", h.GetProperty("cost_file_sha256").GetString()!);
        Assert.True(DateTime.TryParse(h.GetProperty("date_utc").GetString(), out _));
        Assert.Equal(JsonValueKind.Array, h.GetProperty("command_line").ValueKind);
        AssertSnakeCase(doc);
    }

    /// <summary>Every key of a results document is snake_case (lower case, digits, underscores).</summary>
    internal static void AssertSnakeCase(JsonElement e)
    {
        if (e.ValueKind == JsonValueKind.Object)
            foreach (var p in e.EnumerateObject())
            {
                Assert.Matches("^[a-z0-9_]+$", p.Name);
                AssertSnakeCase(p.Value);
            }
        else if (e.ValueKind == JsonValueKind.Array)
            foreach (var x in e.EnumerateArray()) AssertSnakeCase(x);
    }

    [Fact]
    public void TheLargestAcceptedMachineBootsAndItsResultsAreNumbers()
    {
        // The edges of what lvd boot accepts: the most vCPUs, the least RAM, both drivers isolated, the
        // deepest queue of the evaluation on every CPU. It must boot, measure and report.
        string results = Path.Combine(Guest.TempDir("cli"), "boot-results.json");
        File.Delete(results);
        string max = LvdBoot.MaxCpus.ToString();
        var (status, stdout, err) = Lvd("boot", "--cpus", max, "--memory", "80", "--isolate", "nullnet,nullblk", "--workload", "nullblk",
            "--threads", max, "--depth", "16", "--duration", "2000000", "--json", results);
        Assert.True(status == 0, err + stdout[Math.Max(0, stdout.Length - 2000)..]);
        Assert.Contains($"result: workload=nullblk threads={max} depth=16", stdout);
        var doc = JsonDocument.Parse(File.ReadAllText(results)).RootElement;
        AssertHeader(doc, "boot");
        var boot = doc.GetProperty("boot");
        Assert.Equal(LvdBoot.MaxCpus, boot.GetProperty("cpus").GetInt32());
        Assert.Equal(80, boot.GetProperty("memory_mib").GetInt32());
        Assert.Equal(LvdBoot.MaxCpus, boot.GetProperty("threads").GetInt32());
        Assert.Equal(2_000_000, boot.GetProperty("duration_cycles").GetInt64());
        var w = doc.GetProperty("workload");
        Assert.Equal(JsonValueKind.Number, w.GetProperty("operations_per_second").ValueKind);
        Assert.True(w.GetProperty("operations_per_second").GetInt64() > 0);
        Assert.True(w.GetProperty("cycles_per_operation").GetInt64() > 0);
        Assert.True(w.GetProperty("domain_calls").GetInt64() > 0);
        Assert.Equal(0, doc.GetProperty("exit_status").GetInt32());
        Assert.True(doc.GetProperty("stats").GetProperty("cycles").GetInt64() > 0);
    }

    [Fact]
    public void TraceNamesEachInstruction()
    {
        string elf = Guest.BuildSource("cli_trace", "int main(void){ return 0; }", "-O1");
        var (status, _, err) = Lvd("exec", elf, "--trace");
        Assert.Equal(0, status);
        Assert.Matches(@"(?m)^cpu0\s+[\d,]+\s+0000000000400000\s+_start\s+mov ", err);
        Assert.Contains("out 0F4h,eax", err); // the exit device write, last instruction of the run
    }
}

using Lvd.Experiments.Profiling;
using Lvd.Machine.Diagnostics;

namespace Lvd.Tests;

/// <summary>The guest profiler (`--profile`): samples by modeled time, named by ELF symbols.</summary>
public sealed class ProfilerTests
{
    // hot_loop does ten times the work of warm_loop; both are real loops the compiler keeps.
    private const string HotProgram = """
        __attribute__((noinline)) unsigned long hot_loop(unsigned long n)
        {
            unsigned long s = 0;
            for (unsigned long i = 0; i < n; i++) { s += i * 7; __asm__ volatile("" : "+r"(s)); }
            return s;
        }
        __attribute__((noinline)) unsigned long warm_loop(unsigned long n)
        {
            unsigned long s = 0;
            for (unsigned long i = 0; i < n; i++) { s += i * 5; __asm__ volatile("" : "+r"(s)); }
            return s;
        }
        int main(void) { return (int)((hot_loop(2000000) + warm_loop(200000)) & 1); }
        """;

    private static string HotElf() => Guest.BuildSource("profile-hot", HotProgram, "-O1");

    private static ProfileReport Profile(string elf, RunOptions options, out ProgramResult result)
    {
        result = Guest.Run(elf, options: options with { ProfilePeriod = 997 });
        Assert.Equal(0, result.ExitStatus);
        return ProfileReport.Build(result.Machine.Profiler!, Symbolizer.FromElf(elf));
    }

    private static double Share(ProfileReport r, string name) =>
        (double)r.Functions.Where(f => f.Name == name).Sum(f => f.Samples) / r.BusySamples;

    [Fact]
    public void TheHotFunctionGetsItsShareOfTheCycles()
    {
        var r = Profile(HotElf(), new RunOptions(), out var result);
        double hot = Share(r, "hot_loop"), warm = Share(r, "warm_loop");
        Assert.True(hot > 0.85, $"hot_loop {hot:P1}");
        Assert.InRange(warm, 0.05, 0.12);
        // Every sample stands for one period: together they are the run's cycles.
        Assert.InRange(r.TotalSamples * r.Period, result.Run.Cycles - r.Period, result.Run.Cycles);
        Assert.All(r.Functions.Where(f => f.Name is "hot_loop" or "warm_loop"), f => Assert.DoesNotContain("VT-x", f.Mode));
    }

    [Fact]
    public void TheSameRunGivesTheSameProfile()
    {
        string elf = HotElf();
        var a = Guest.Run(elf, options: new RunOptions { ProfilePeriod = 101 }).Machine.Profiler!.Merged();
        var b = Guest.Run(elf, options: new RunOptions { ProfilePeriod = 101 }).Machine.Profiler!.Merged();
        Assert.Equal(a.Count, b.Count);
        foreach (var (key, n) in a) Assert.Equal(n, b[key]);
    }

    [Fact]
    public void NoProfilerUnlessAsked()
    {
        var r = Guest.Run(HotElf());
        Assert.Null(r.Machine.Profiler);
    }

    [Fact]
    public void UnderTheHypervisorGuestCodeAndVmExitsAreApart()
    {
        // CPUID always exits to the hypervisor: its round trip is charged to the exit, not to the loop.
        const string src = """
            int main(void)
            {
                for (int i = 0; i < 2000; i++) {
                    unsigned a = 0, b, c = 0, d;
                    __asm__ volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
                }
                return 0;
            }
            """;
        string elf = Guest.BuildSource("profile-cpuid", src, "-O1");
        var r = Profile(elf, new RunOptions().With(HypervisorMode.LaunchAtStart), out _);
        var exits = r.Functions.Where(f => f.Mode == "hypervisor (VM exit)").ToList();
        Assert.Contains(exits, f => f.Name == "[VM exit: Cpuid]");
        Assert.True(exits.Sum(f => f.Samples) > r.BusySamples / 2, "a CPUID loop under VT-x is mostly exit round trips");
        Assert.Contains(r.Functions, f => f.Name == "main" && f.Mode.StartsWith("VT-x guest"));
    }

    [Fact]
    public void ExecProfilePrintsTheTableAndWritesAFile()
    {
        string elf = HotElf();
        string dll = Path.Combine(AppContext.BaseDirectory, "lvd.dll");
        var run = global::Lvd.Experiments.HostProcess.Run("dotnet", [dll, "exec", "--profile", "--profile-top", "5", elf], TimeSpan.FromMinutes(2));
        string stdout = System.Text.Encoding.UTF8.GetString(run.Stdout);
        Assert.True(run.ExitCode == 0, run.Stderr);
        Assert.Contains("modeled cycles by function", stdout);
        Assert.Contains("hot_loop", stdout);

        string file = Path.Combine(Guest.TempDir("profile"), "hot.txt");
        File.Delete(file);
        run = global::Lvd.Experiments.HostProcess.Run("dotnet", [dll, "exec", $"--profile={file}", elf], TimeSpan.FromMinutes(2));
        Assert.True(run.ExitCode == 0, run.Stderr);
        Assert.DoesNotContain("hot_loop", System.Text.Encoding.UTF8.GetString(run.Stdout));
        Assert.Contains("hot_loop", File.ReadAllText(file));

        run = global::Lvd.Experiments.HostProcess.Run("dotnet", [dll, "exec", "--profile", "--profile-period", "0", elf], TimeSpan.FromMinutes(2));
        Assert.Equal(2, run.ExitCode);
        Assert.Contains("--profile-period", run.Stderr);
    }

    [Fact]
    public void AnotherImageIsNamedByItsModule()
    {
        // LVD domains are ELF images of their own (build/domains/NAME.elf), all linked at one
        // address range: their code is named "module:function", by every image that covers it.
        string elf = HotElf();
        ulong hot = Symbolizer.FromElf(elf).ByName["hot_loop"];
        Assert.Null(Symbolizer.None.Lookup(hot));
        var one = Symbolizer.FromElf(elf);
        var symbols = Symbolizer.FromElf(elf);
        symbols.AddImage("nullnet", elf);
        Assert.Equal("nullnet:hot_loop", symbols.Lookup(hot));
        symbols.AddImage("other", elf);
        Assert.Equal("nullnet:hot_loop|other:hot_loop", symbols.Lookup(hot));
        Assert.Equal("hot_loop", one.Lookup(hot));
    }

    // At -O0 every function sets up its frame (push rbp; mov rbp, rsp): the chain is complete.
    private const string ChainProgram = """
        volatile unsigned long sink;
        __attribute__((noinline)) void leaf(int n) { for (int i = 0; i < n; i++) sink += i * 7; }
        __attribute__((noinline)) void middle(int n) { leaf(n); sink++; }
        __attribute__((noinline)) void outer(int n) { middle(n); }
        int main(void) { for (int k = 0; k < 20; k++) { outer(20000); leaf(2000); } return 0; }
        """;

    [Fact]
    public void FoldedStacksNameTheCallChainAndLeaveTheRunUnchanged()
    {
        string elf = Guest.BuildSource("profile-chain", ChainProgram, "-O0");
        var plain = Guest.Run(elf, options: new RunOptions { ProfilePeriod = 997 });
        var stacked = Guest.Run(elf, options: new RunOptions { ProfilePeriod = 997, ProfileStackDepth = 64 });
        Assert.Equal(plain.Run.Cycles, stacked.Run.Cycles);
        Assert.Empty(plain.Machine.Profiler!.Vcpus[0].Stacks);

        var lines = ProfileReport.Folded(stacked.Machine.Profiler!, Symbolizer.FromElf(elf));
        long Cycles(string stack) => lines.Where(l => l[..l.LastIndexOf(' ')] == stack).Sum(l => long.Parse(l[(l.LastIndexOf(' ') + 1)..]));
        long total = lines.Sum(l => long.Parse(l[(l.LastIndexOf(' ') + 1)..]));
        // The stacks hold every sample, so together they are the flat profile's cycles.
        Assert.Equal(stacked.Machine.Profiler!.TotalSamples * 997, total);
        // leaf runs 20000 iterations under outer -> middle for every 2000 called from main.
        long deep = Cycles("kernel;_start;main;outer;middle;leaf"), direct = Cycles("kernel;_start;main;leaf");
        Assert.True(deep > 0.8 * total, $"main;outer;middle;leaf {deep} of {total}:\n{string.Join('\n', lines)}");
        Assert.InRange((double)direct / deep, 0.07, 0.13);
        Assert.Equal(lines.Order(StringComparer.Ordinal), lines);
    }
}

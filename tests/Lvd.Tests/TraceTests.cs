using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Lvd.Tests;

/// <summary>
/// `--trace` (docs/DEBUGGING.md): every instruction of its window with the registers it changed, the run's events, the
/// modeled run unchanged.
/// </summary>
public sealed class TraceTests
{
    private const string Program = """
        volatile int counter;
        __attribute__((noinline)) void bump(int i) { counter += i; }
        int main(void)
        {
            __asm__ volatile("mov $0x1234, %%eax" ::: "eax");
            for (int i = 0; i < 30; i++) bump(i);
            return counter == 435 ? 0 : 1;
        }
        """;

    private static readonly Regex InstructionLine = new(@"^cpu(\d+)\s+([\d,]+)\s+([0-9a-f]{16})\s", RegexOptions.Multiline);

    private static long Stat(string path, string name) => JsonDocument.Parse(File.ReadAllText(path)).RootElement.GetProperty(name).GetInt64();

    [Fact]
    public void EveryInstructionIsTracedWithTheRegistersItChangedAndTheRunIsUnchanged()
    {
        string elf = Guest.BuildSource("trace_bump", Program, "-O1");
        string dir = Guest.TempDir("trace");
        string plain = Path.Combine(dir, "plain.json"), traced = Path.Combine(dir, "traced.json");
        Assert.Equal(0, CliTests.Lvd("exec", elf, "--stats-json", plain).Status);
        var (status, _, err) = CliTests.Lvd("exec", elf, "--trace", "--stats-json", traced);
        Assert.Equal(0, status);
        Assert.Equal(Stat(plain, "cycles"), Stat(traced, "cycles"));
        long instructions = Stat(traced, "instructions");
        Assert.Equal(instructions, Stat(plain, "instructions"));
        // One line per retired instruction (the program takes no fault).
        Assert.Equal(instructions, InstructionLine.Matches(err).Count);
        Assert.Matches(@"(?m)^cpu0\s+[\d,]+\s+[0-9a-f]{16}\s+main(\+0x[0-9a-f]+)?\s+mov eax,1234h.*\srax=0x1234$", err);
        Assert.Matches(@"(?m)\sbump(\+0x[0-9a-f]+)?\s+.*$", err);
        // Cycles only grow along a vCPU's lines.
        long last = -1;
        foreach (Match m in InstructionLine.Matches(err))
        {
            long c = long.Parse(m.Groups[2].Value, NumberStyles.AllowThousands, CultureInfo.InvariantCulture);
            Assert.True(c >= last, $"cycle {c} after {last}");
            last = c;
        }
    }

    [Fact]
    public void TheRangeAndTheCycleWindowNarrowTheTrace()
    {
        string elf = Guest.BuildSource("trace_bump", Program, "-O1");
        ulong bump = Lvd.Machine.Loader.ElfImage.Read(elf).Symbols["bump"];
        var (status, _, err) = CliTests.Lvd("exec", elf, "--trace", "--trace-range", $"0x{bump:x}-0x{bump + 0x20:x}");
        Assert.Equal(0, status);
        var lines = InstructionLine.Matches(err);
        Assert.True(lines.Count >= 30, err);                // bump's instructions, 30 calls
        Assert.All(lines, m => Assert.InRange(ulong.Parse(m.Groups[3].Value, NumberStyles.HexNumber), bump, bump + 0x1f));

        var window = CliTests.Lvd("exec", elf, "--trace", "--trace-from", "200", "--trace-to", "300");
        Assert.Equal(0, window.Status);
        var cycles = InstructionLine.Matches(window.Stderr).Select(m => long.Parse(m.Groups[2].Value, NumberStyles.AllowThousands,
            CultureInfo.InvariantCulture)).ToList();
        Assert.NotEmpty(cycles);
        Assert.All(cycles, c => Assert.InRange(c, 200, 300));
    }

    [Fact]
    public void AnIsolatedDriversCrossingsShowAsEventsAndTheResultIsUnchanged()
    {
        string[] boot = ["boot", "--cpus", "2", "--isolate", "nullnet", "--workload", "nullnet", "--duration", "200000"];
        var plain = CliTests.Lvd(boot);
        Assert.True(plain.Status == 0, plain.Stderr);
        // No instruction in [0, 1): only the events.
        var traced = CliTests.Lvd([.. boot, "--trace", "--trace-range", "0-1", "--trace-events", "calls,exits"]);
        Assert.True(traced.Status == 0, traced.Stderr);
        Assert.Equal(Regex.Match(plain.Stdout, "result: .*").Value, Regex.Match(traced.Stdout, "result: .*").Value);
        int into = Regex.Matches(traced.Stderr, @"== VMFUNC: EPTP index 0 -> 1 ").Count;
        int back = Regex.Matches(traced.Stderr, @"== VMFUNC: EPTP index 1 -> 0 ").Count;
        Assert.True(into > 10, traced.Stderr[..Math.Min(2000, traced.Stderr.Length)]);
        Assert.InRange(back, into - 2, into + 2);           // every call returns (the last may still be inside at the end)
        Assert.Contains("== VM exit ", traced.Stderr);
        Assert.Empty(InstructionLine.Matches(traced.Stderr));
    }
}

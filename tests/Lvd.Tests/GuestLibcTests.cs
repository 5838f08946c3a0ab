namespace Lvd.Tests;

/// <summary>
/// The guest runtime's process interface (docs/EXEC-ABI.md: argc, argv and the auxiliary
/// vector on the initial stack, a heap as large as the RAM) and its library additions (glibc's
/// rand sequence, a stable qsort, bsearch, unistd.h, time.h), against glibc where glibc defines
/// the answer.
/// </summary>
public sealed class GuestLibcTests
{
    private static readonly string[] Arguments = ["one", "two words", "", "ünïcode"];

    [Theory]
    [InlineData("-O0")]
    [InlineData("-O2")]
    public void ArgumentsRandQsortBsearchAndWriteMatchGlibc(string opt)
    {
        string[] source = ["guest/tests/libc/runtime.c"];
        string elf = Guest.Build($"runtime{opt}.elf", source, opt, "-lm");
        var emu = Guest.Run(elf, options: new RunOptions { Arguments = Arguments });
        var native = Guest.NativeWithArguments($"runtime{opt}", source, [opt], Arguments);
        Assert.Equal(System.Text.Encoding.UTF8.GetString(native.Stdout), emu.OutputText);
        Assert.Equal(native.ExitCode, emu.ExitStatus);
        Assert.Equal(1 + Arguments.Length, emu.ExitStatus);   // main returns argc
        Assert.Contains("qsort 3125: stable", emu.OutputText);
        Assert.DoesNotContain("NOT STABLE", emu.OutputText);
    }

    /// <summary>
    /// Ordinary C with double and long double as lvd cc builds it (SSE and x87 code, no -mgeneral-regs-only):
    /// arithmetic, printf's %f %e %g %a %Lf, strtod/strtof/atof (1,500 random strings among them) and the libm
    /// basics, byte for byte what glibc and its libm print natively.
    /// </summary>
    [Theory]
    [InlineData("-O0")]
    [InlineData("-O2")]
    public void FloatingPointPrintfStrtodAndLibmMatchGlibc(string opt)
    {
        string[] source = ["guest/tests/libc/float.c"];
        string elf = Guest.BuildWithFloat($"float{opt}.elf", source, opt, "-lm");
        var emu = Guest.Run(elf);
        var native = Guest.Native($"float{opt}", source, opt, "-lm");
        Assert.Equal(0, native.ExitCode);
        string expected = System.Text.Encoding.UTF8.GetString(native.Stdout);
        Assert.Contains("leibniz pi 3.14158265358", expected);
        Assert.True(expected.Split('\n').Length > 3000);
        Assert.Equal(expected, emu.OutputText);
        Assert.Equal(0, emu.ExitStatus);
    }

    [Fact]
    public void TheHeapGrowsWithTheMemoryAndNeverReachesTheLoadersTables()
    {
        string elf = Guest.Build("heap.elf", ["guest/tests/libc/heap.c"], "-O2");
        var big = Guest.Run(elf, options: new RunOptions { MemoryBytes = 256UL << 20, Arguments = ["200"] });
        Assert.Equal(0, big.ExitStatus);
        Assert.Contains("malloc(200 MiB): ok", big.OutputText);
        // 64 MiB of RAM cannot hold a 200 MiB heap: NULL, not an overwritten page table.
        var small = Guest.Run(elf, options: new RunOptions { MemoryBytes = 64UL << 20, Arguments = ["200"] });
        Assert.Equal(0, small.ExitStatus);
        Assert.Contains("malloc(200 MiB): NULL", small.OutputText);
        // With 8 MiB, a heap of 2 MiB still fits between the program (its image and 1 MiB stack end
        // above 5 MiB) and the top 128 KiB.
        var tiny = Guest.Run(elf, options: new RunOptions { MemoryBytes = 8UL << 20, Arguments = ["2"] });
        Assert.Equal(0, tiny.ExitStatus);
        Assert.Contains("malloc(2 MiB): ok", tiny.OutputText);
    }

    [Fact]
    public void TimeIsModeledAndUnistdAnswersForTheOneProcess()
    {
        string elf = Guest.Build("heap-time.elf", ["guest/tests/libc/heap.c"], "-O2");
        var r = Guest.Run(elf);
        Assert.Equal(0, r.ExitStatus);
        // time() from 0 at the start; clock() in microseconds of modeled time (AT_LVD_CLOCK_HZ).
        Assert.Contains("time at start 0;", r.OutputText);
        var m = System.Text.RegularExpressions.Regex.Match(r.OutputText, @"usleep\(2500\) took (\d+) us");
        Assert.InRange(int.Parse(m.Groups[1].Value), 2500, 2510);
        Assert.Contains("pid 1, isatty(1) 1, write(3) -1, close(1) 0", r.OutputText);
    }

    [Fact]
    public void ArgumentsTooLargeForTheLoadersStackAreABadInputReport()
    {
        string elf = Guest.Build("heap-args.elf", ["guest/tests/libc/heap.c"], "-O2");
        var e = Assert.Throws<LoadException>(() => Guest.Run(elf, options: new RunOptions { Arguments = [new string('x', 40_000)] }));
        Assert.Contains("arguments take more than 32 KiB", e.Message);
    }
}

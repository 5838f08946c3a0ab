namespace Lvd.Tests;

/// <summary>
/// SSE/SSE2 against the host CPU (guest/tests/sse): arithmetic, compares, conversions, moves,
/// shuffles and the SSE2 integer set with random operands (NaNs with payloads, infinities,
/// signed zeros, denormals, near overflow and underflow) in every rounding mode with FTZ and
/// DAZ off and on; results, MXCSR flags and EFLAGS must match bit for bit.
/// </summary>
public sealed class SseDifferentialTests
{
    private static readonly string[] Sources = ["guest/tests/sse/sse_diff.c"];

    [Theory]
    [InlineData("-O1", false)]
    [InlineData("-O2", true)]
    public void EmulatorMatchesHostCpu(string opt, bool underHypervisor)
    {
        HostDifferential.RunAndCompare("sse", Sources, opt, underHypervisor, "sse_diff: ", 15_000);
    }
}

namespace Lvd.Tests;

/// <summary>
/// Every implemented ALU/shift/bit/mul/div/string/atomic form, edge-case and random operands,
/// run natively on the host CPU and on the emulator (guest/tests/insn): results and every
/// architecturally defined flag must match.
/// </summary>
public sealed class InstructionDifferentialTests
{
    private static readonly string[] Sources = Directory.GetFiles(Guest.Path("guest", "tests", "insn"), "*.c")
        .Select(f => Path.GetRelativePath(Guest.Root, f)).Order().ToArray();

    [Theory]
    [InlineData("-O1", false)]
    [InlineData("-O2", false)]
    [InlineData("-O2", true)]
    public void EmulatorMatchesHostCpu(string opt, bool underHypervisor)
    {
        HostDifferential.RunAndCompare("insn", Sources, opt, underHypervisor, "insn_diff: ", 40_000);
    }
}

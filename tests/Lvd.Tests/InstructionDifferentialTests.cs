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
        var native = Guest.Native($"insn{opt}", Sources, opt, "-mgeneral-regs-only");
        Assert.Equal(0, native.ExitCode);
        var emu = Guest.Run(Guest.Build($"insn{opt}.elf", Sources, opt),
            options: new Lvd.Machine.Loader.RunOptions()
                .With(underHypervisor ? Lvd.Hypervisor.HypervisorMode.LaunchAtStart : Lvd.Hypervisor.HypervisorMode.None));
        if (underHypervisor) Assert.True(emu.TotalExits > 0);
        Assert.Equal(RunOutcome.Exited, emu.Run.Outcome);
        Assert.Equal(0, emu.ExitStatus);

        HostDifferential.AssertSameOutput(native.Stdout, emu.OutputText, "insn_diff: ", 40_000);
    }
}

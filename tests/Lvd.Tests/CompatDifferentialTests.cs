namespace Lvd.Tests;

/// <summary>
/// 32-bit code in compatibility mode against the host CPU (guest/tests/compat): a 64-bit
/// process far-calls into a 32-bit code segment (Linux's 0x23; on the machine a ring-0 one),
/// runs each snippet (INC/DEC 40-4F, 16- and 8-bit forms, the ESP stack, PUSHA/POPA, near and
/// indirect branches, LOOP/JECXZ, ENTER/LEAVE, 32-bit addressing, strings) from random
/// registers and flags, and far-returns; registers, defined flags and memory must match.
/// </summary>
public sealed class CompatDifferentialTests
{
    private static readonly string[] Sources = ["guest/tests/compat/compat_diff.c"];

    [Theory]
    [InlineData("-O1", false)]
    [InlineData("-O2", true)]
    public void CompatibilityModeMatchesHostCpu(string opt, bool underHypervisor)
    {
        // -no-pie: code, data and the 32-bit stack below 4 GiB, where 32-bit code can reach them.
        var native = Guest.Native($"compat{opt}", Sources, opt, "-mgeneral-regs-only", "-no-pie");
        Assert.True(native.ExitCode == 0, native.Stderr);
        var emu = Guest.Run(Guest.Build($"compat{opt}.elf", Sources, opt),
            options: new RunOptions().With(underHypervisor ? HypervisorMode.LaunchAtStart : HypervisorMode.None));
        if (underHypervisor) Assert.True(emu.TotalExits > 0);
        Assert.True(emu.Run.Outcome == RunOutcome.Exited, emu.Run.CrashReport);
        Assert.Equal(0, emu.ExitStatus);
        HostDifferential.AssertSameOutput(native.Stdout, emu.OutputText, "compat_diff: ", 3000);
    }
}

namespace Lvd.Tests;

/// <summary>
/// x2APIC, SMP start and the kernel boot protocol (docs/BOOT.md): guest/tests/smp checks the
/// APIC timer modes, priorities, nesting and IPIs from inside; the guest kernel boots on
/// several vCPUs and runs its self tests; runs are deterministic.
/// </summary>
public sealed class SmpTests
{
    private static ProgramResult Boot(string elf, int cpus, bool hypervisor = false, string cmdline = "") =>
        ProgramRunner.Run(elf, new RunOptions
        {
            CpuCount = cpus,
            KernelCommandLine = cmdline,
            CaptureSerial = true,
            MaxInstructions = 500_000_000,
        }.With(hypervisor ? HypervisorMode.OnRequest : HypervisorMode.None));

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(4)]
    [InlineData(8)]
    public void ApicAndSmpChecksPass(int cpus)
    {
        var elf = Guest.Build("smp.elf", ["guest/tests/smp/smp.c"], "-O1");
        var r = Boot(elf, cpus, cmdline: "smp test");
        var fails = r.OutputText.Split('\n').Where(l => l.StartsWith("FAIL")).ToList();
        Assert.True(fails.Count == 0, string.Join("\n", fails) + r.Run.CrashReport);
        Assert.Contains("smp: 19 passed, 0 failed", r.OutputText);
        Assert.Contains($"cpus {cpus} ", r.OutputText);
        Assert.Contains("cmdline \"smp test\"", r.OutputText);
        Assert.Equal(0, r.ExitStatus);
        if (cpus > 1) Assert.True(r.Machine.Cpus[cpus - 1].Instructions > 0, "the last AP never ran");
    }

    [Theory]
    [InlineData(1, false)]
    [InlineData(2, false)]
    [InlineData(4, false)]
    [InlineData(8, false)]
    [InlineData(4, true)]
    public void KernelBootsAndPassesItsSelfTests(int cpus, bool hypervisor)
    {
        string elf = KernelBuilder.Build(Guest.Cc);
        var r = Boot(elf, cpus, hypervisor);
        Assert.True(r.Run.Outcome == RunOutcome.Exited, $"{r.Run.Outcome}: {r.Run.CrashReport}\n{r.OutputText}");
        Assert.Contains("kernel: all tests passed", r.OutputText);
        Assert.Equal(0, r.ExitStatus);
        for (int i = 1; i < cpus; i++) Assert.Contains($"smp: cpu {i} up", r.OutputText);
        if (hypervisor)
        {
            // Late launch after boot: the kernel asked, and from then on it exits to the hypervisor.
            Assert.Contains("hypervisor: late-launched after boot", r.OutputText);
            Assert.True(r.TotalExits > 0, "no VM exits under the hypervisor");
        }
        else Assert.DoesNotContain("late-launched", r.OutputText);
    }

    [Fact]
    public void SameInputsGiveTheSameRun()
    {
        string elf = KernelBuilder.Build(Guest.Cc);
        var a = Boot(elf, 4);
        var b = Boot(elf, 4);
        Assert.Equal(a.OutputText, b.OutputText);
        Assert.Equal(a.Run.Cycles, b.Run.Cycles);
        Assert.Equal(a.Run.Instructions, b.Run.Instructions);
    }
}

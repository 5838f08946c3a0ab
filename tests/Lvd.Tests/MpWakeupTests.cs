namespace Lvd.Tests;

/// <summary>
/// Application processors started through the firmware's ACPI multiprocessor-wakeup mailbox
/// (docs/PLATFORM.md) into a 64-bit entry point by the sequence of Linux 6.1's
/// trampoline_start64: 64-bit mode, compatibility mode, protected mode without paging, IA-32e
/// mode again (guest/tests/smp/mpwakeup.c, on the PC platform with 4 vCPUs).
/// </summary>
public sealed class MpWakeupTests
{
    private const ulong Mailbox = Lvd.Machine.Firmware.MpWakeupMailbox.DefaultAddress;

    private static ProgramResult Run(string opt) =>
        Guest.Run(Guest.Build($"mpwakeup{opt}.elf", ["guest/tests/smp/mpwakeup.c"], opt), 100_000_000,
            new RunOptions { Platform = MachinePlatform.Pc, CpuCount = 4, AcpiMpWakeupMailbox = Mailbox });

    [Theory]
    [InlineData("-O0")]
    [InlineData("-O2")]
    public void ApsWakeThroughTheMailboxAndTheLinuxTrampoline(string opt)
    {
        var r = Run(opt);
        var fails = r.OutputText.Split('\n').Where(l => l.StartsWith("FAIL")).ToList();
        Assert.True(fails.Count == 0, string.Join("\n", fails) + "\n" + r.OutputText + r.Run.CrashReport);
        Assert.Contains("mpwakeup: 28 passed, 0 failed", r.OutputText);
        Assert.Equal(RunOutcome.Exited, r.Run.Outcome);
        Assert.Equal(0, r.ExitStatus);
        var fw = r.Machine.Pc!.MpWakeup!;
        Assert.Equal(3, fw.Wakeups);
        for (int id = 1; id < 4; id++)
        {
            Assert.False(fw.IsParked(id));
            Assert.True(r.Machine.Cpus[id].Instructions > 0, $"AP {id} never ran");
            Assert.True(r.Machine.Cpus[id].In64BitMode, $"AP {id} is not in 64-bit mode");
        }
    }

    [Fact]
    public void WakeupsAreDeterministicInModeledTime()
    {
        var a = Run("-O1");
        var b = Run("-O1");
        Assert.Equal(0, a.ExitStatus);
        Assert.Equal(a.Run.Cycles, b.Run.Cycles);
        Assert.Equal(a.Machine.Cpus.Select(c => c.Cycles), b.Machine.Cpus.Select(c => c.Cycles));
        Assert.Equal(a.Machine.Cpus.Select(c => c.Instructions), b.Machine.Cpus.Select(c => c.Instructions));
    }

    [Fact]
    public void ParkedApsStayParkedWithoutAWakeup()
    {
        var elf = Guest.BuildSource("mpwakeup-none", "int main(void) { return 7; }");
        var r = Guest.Run(elf, 10_000_000, new RunOptions { Platform = MachinePlatform.Pc, CpuCount = 4, AcpiMpWakeupMailbox = Mailbox });
        Assert.Equal(7, r.ExitStatus);
        for (int id = 1; id < 4; id++)
        {
            Assert.True(r.Machine.Pc!.MpWakeup!.IsParked(id));
            Assert.Equal(0, r.Machine.Cpus[id].Instructions);
        }
    }
}

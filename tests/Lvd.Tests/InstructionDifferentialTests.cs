using System.Text;

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

        var expected = Encoding.ASCII.GetString(native.Stdout).Split('\n');
        var actual = emu.OutputText.Split('\n');
        Assert.Contains(expected, l => l.StartsWith("insn_diff: ") && l.EndsWith(" cases"));
        int cases = int.Parse(expected.First(l => l.StartsWith("insn_diff: ")).Split(' ')[1]);
        Assert.True(cases > 40_000, $"only {cases} cases ran");
        var mismatches = new List<string>();
        for (int i = 0; i < Math.Max(expected.Length, actual.Length) && mismatches.Count < 20; i++)
        {
            string e = i < expected.Length ? expected[i] : "<missing>", a = i < actual.Length ? actual[i] : "<missing>";
            if (e != a) mismatches.Add($"line {i + 1}\n  host: {e}\n  emu:  {a}");
        }
        Assert.True(mismatches.Count == 0, "emulator differs from the host CPU:\n" + string.Join("\n", mismatches));
    }
}

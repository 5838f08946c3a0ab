using System.Text;

namespace Lvd.Tests.Support;

/// <summary>The comparison of a program's output on the host CPU and on the machine, line by line.</summary>
internal static class HostDifferential
{
    /// <summary>
    /// Builds <paramref name="sources"/> natively (-mgeneral-regs-only) and for the machine, runs both (the machine's
    /// plain or under the hypervisor) and asserts the same output (<see cref="AssertSameOutput"/>).
    /// </summary>
    public static void RunAndCompare(string name, string[] sources, string opt, bool underHypervisor, string summary, int minCases)
    {
        var (native, emu) = RunBoth(name, sources, opt, underHypervisor);
        AssertSameOutput(native, emu.OutputText, summary, minCases);
    }

    /// <summary>
    /// Builds <paramref name="sources"/> natively (-mgeneral-regs-only) and for the machine and runs both, each
    /// asserted to exit 0 (the machine's under the hypervisor with exits): the host's stdout and the machine's run.
    /// </summary>
    public static (byte[] NativeStdout, ProgramResult Emulator) RunBoth(string name, string[] sources, string opt, bool underHypervisor)
    {
        var native = Guest.Native($"{name}{opt}", sources, opt, "-mgeneral-regs-only");
        Assert.Equal(0, native.ExitCode);
        var emu = Guest.Run(Guest.Build($"{name}{opt}.elf", sources, opt),
            options: new RunOptions().With(underHypervisor ? HypervisorMode.LaunchAtStart : HypervisorMode.None));
        if (underHypervisor) Assert.True(emu.TotalExits > 0);
        Assert.Equal(RunOutcome.Exited, emu.Run.Outcome);
        Assert.Equal(0, emu.ExitStatus);
        return (native.Stdout, emu);
    }

    /// <summary>
    /// Asserts that the native output ends its run with "<paramref name="summary"/> N cases" for more than
    /// <paramref name="minCases"/> cases and that the machine printed the same lines (the first 20 differences named).
    /// </summary>
    public static void AssertSameOutput(byte[] nativeStdout, string emulatorOutput, string summary, int minCases)
    {
        var expected = Encoding.ASCII.GetString(nativeStdout).Split('\n');
        var actual = emulatorOutput.Split('\n');
        Assert.Contains(expected, l => l.StartsWith(summary) && l.EndsWith(" cases"));
        int cases = int.Parse(expected.First(l => l.StartsWith(summary)).Split(' ')[1]);
        Assert.True(cases > minCases, $"only {cases} cases ran");
        var mismatches = new List<string>();
        for (int i = 0; i < Math.Max(expected.Length, actual.Length) && mismatches.Count < 20; i++)
        {
            string e = i < expected.Length ? expected[i] : "<missing>", a = i < actual.Length ? actual[i] : "<missing>";
            if (e != a) mismatches.Add($"line {i + 1} ({e.Split(' ')[0]})\n  host: {e}\n  emu:  {a}");
        }
        Assert.True(mismatches.Count == 0, "emulator differs from the host CPU:\n" + string.Join("\n", mismatches));
    }
}

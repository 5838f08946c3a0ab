namespace Lvd.Tests.Linux;

/// <summary>`lvd linux` refuses bad input the way every command does: one line, status 2, before building or booting anything.</summary>
public sealed class LinuxCommandTests
{
    private static string TextFile()
    {
        string f = Path.Combine(Path.GetTempPath(), $"lvd-not-elf-{Guid.NewGuid():n}.txt");
        File.WriteAllText(f, "#!/bin/sh\necho not an ELF\n");
        return f;
    }

    public static TheoryData<string, string[]> BadInput() => new()
    {
        { "--cpus 0: must be 1 to 16", ["--cpus", "0"] },
        { "--cpus 17: must be 1 to 16", ["--cpus", "17"] },
        { "--memory 32: 64 to 65536 MiB (the kernel loads at 16 MiB)", ["--memory", "32"] },
        { "--memory 4096: the PC platform's RAM must end below its MMIO", ["--memory", "4096"] },
        { "--init /nonexistent/prog", ["--init", "/nonexistent/prog"] },
        { "not an ELF file", ["--init", TextFile()] },
        { "--cmdline: printable ASCII only", ["--cmdline", "quiet\tloglevel=3"] },
        { "--max-seconds must be positive", ["--max-seconds", "0"] },
        { "--cmdline lvd.cpus=4: lvd linux sets lvd.cpus=... itself (use --cpus)", ["--cmdline", "quiet lvd.cpus=4"] },
        { "--cmdline console=tty0: lvd linux sets console=... itself", ["--cmdline", "console=tty0"] },
        { "--cmdline lvd.latelaunch=1: lvd linux sets lvd.latelaunch=... itself (use --late-launch)", ["--cmdline", "lvd.latelaunch=1"] },
        { "--hypervisor and --late-launch exclude each other", ["--hypervisor", "--late-launch"] },
        { "--memory 72: 80 to 65536 MiB (the kernel loads at 16 MiB; the hypervisor keeps the top of RAM)", ["--late-launch", "--memory", "72"] },
        { "unknown option --cpu (did you mean --cpus?)", ["--cpu", "2"] },
        { "unexpected argument 'vmlinux'", ["vmlinux"] },
    };

    [Theory]
    [MemberData(nameof(BadInput))]
    public void BadInputIsOneLineAndStatus2(string expect, string[] args)
    {
        var (status, stdout, stderr) = CliTests.Lvd(["linux", .. args]);
        Assert.True(status == 2, $"status {status}: {stderr}");
        Assert.Equal("", stdout);
        var lines = stderr.Trim().Split('\n');
        Assert.True(lines.Length == 1, "one line expected:\n" + stderr);
        Assert.StartsWith("lvd: ", lines[0]);
        Assert.Contains(expect, lines[0]);
        Assert.EndsWith("(see lvd linux --help)", lines[0]);
        Assert.DoesNotContain("linux: building", stderr); // nothing was built
    }

    [Fact]
    public void HelpDescribesEveryOption()
    {
        var (status, stdout, _) = CliTests.Lvd("linux", "--help");
        Assert.Equal(0, status);
        foreach (string option in (string[])["--cpus", "--hypervisor", "--late-launch", "--init", "--cmdline", "--memory", "--max-seconds",
                     "--bzimage"])
            Assert.Contains(option, stdout);
    }
}

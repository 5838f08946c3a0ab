using Lvd.Tests.Support;

namespace Lvd.Tests;

/// <summary>
/// The `lvd` command as a user meets it: bad input gives one line on stderr and a non-zero
/// status, never a .NET stack trace. Runs the CLI in a child process (its console is its own).
/// </summary>
public sealed class CliTests
{
    private static (int Status, string Stdout, string Stderr) Lvd(params string[] args)
    {
        string dll = Path.Combine(AppContext.BaseDirectory, "lvd.dll");
        var r = global::Lvd.Experiments.HostProcess.Run("dotnet", [dll, .. args], TimeSpan.FromMinutes(2));
        return (r.ExitCode, System.Text.Encoding.UTF8.GetString(r.Stdout), r.Stderr);
    }

    private static void AssertOneLineError(string stderr, string expect)
    {
        var lines = stderr.Trim().Split('\n');
        Assert.True(lines.Length == 1, "expected one line, got:\n" + stderr);
        Assert.StartsWith("lvd: ", lines[0]);
        Assert.Contains(expect, lines[0]);
        Assert.DoesNotContain("   at ", stderr);
    }

    [Fact]
    public void ExecOfANonElfIsAOneLineError()
    {
        string p = Path.Combine(Guest.TempDir("cli"), "notelf.txt");
        File.WriteAllText(p, "not an elf");
        var (status, _, err) = Lvd("exec", p);
        Assert.Equal(2, status);
        AssertOneLineError(err, "not an ELF file");
    }

    [Fact]
    public void ExecOfAMissingFileAndBadOptionsAreOneLineErrors()
    {
        var (s1, _, e1) = Lvd("exec", "/nonexistent/prog.elf");
        Assert.Equal(2, s1);
        AssertOneLineError(e1, "no such file");
        var (s2, _, e2) = Lvd("exec", "--memory", "0", "/nonexistent/prog.elf");
        Assert.Equal(2, s2);
        AssertOneLineError(e2, "--memory");
        var (s3, _, e3) = Lvd("exec", "--costs", "/nonexistent/costs.json", "/nonexistent/prog.elf");
        Assert.Equal(2, s3);
        AssertOneLineError(e3, "cannot read cost file");
        var (s4, _, e4) = Lvd("no-such-command");
        Assert.NotEqual(0, s4);
        Assert.DoesNotContain("   at ", e4);
    }

    [Fact]
    public void BootWorkloadOptionsAreCheckedBeforeBooting()
    {
        var (s1, out1, e1) = Lvd("boot", "--workload", "nullblk", "--depth", "0");
        Assert.Equal(2, s1);
        Assert.Equal("", out1);
        AssertOneLineError(e1, "--depth must be 1 to 256");
        var (s2, _, e2) = Lvd("boot", "--workload", "nullblk", "--depth", "257");
        Assert.Equal(2, s2);
        AssertOneLineError(e2, "--depth must be 1 to 256");
        var (s3, _, e3) = Lvd("boot", "--workload", "nulldisk");
        Assert.Equal(2, s3);
        AssertOneLineError(e3, "nullnet or nullblk");
        var (s4, _, e4) = Lvd("boot", "--workload", "nullblk", "--seed", "-1");
        Assert.Equal(2, s4);
        AssertOneLineError(e4, "--seed");
    }

    [Fact]
    public void HelpListsTheCommands()
    {
        var (status, stdout, err) = Lvd("--help");
        Assert.Equal(0, status);
        Assert.DoesNotContain("   at ", err);
        foreach (var cmd in new[] { "demo", "exec", "boot", "cc", "idl", "csmith", "bench" }) Assert.Contains(cmd, stdout);
    }

    [Fact]
    public void ExecPassesTheGuestExitStatusAndWritesStats()
    {
        string elf = Guest.BuildSource("cli_exit7", "#include <stdio.h>\nint main(void){ puts(\"seven\"); return 7; }", "-O1");
        string stats = Path.Combine(Guest.TempDir("cli"), "stats.json");
        var (status, stdout, _) = Lvd("exec", elf, "--stats-json", stats, "--hypervisor");
        Assert.Equal(7, status);
        Assert.Equal("seven\n", stdout);
        var json = System.Text.Json.JsonDocument.Parse(File.ReadAllText(stats)).RootElement;
        Assert.True(json.GetProperty("instructions").GetInt64() > 0);
        Assert.True(json.GetProperty("cycles").GetInt64() > 0);
        Assert.True(json.GetProperty("host_seconds").GetDouble() > 0);
        Assert.True(json.GetProperty("exits_by_reason").GetProperty("IoInstruction").GetInt64() > 0);
    }

    [Fact]
    public void TraceNamesEachInstruction()
    {
        string elf = Guest.BuildSource("cli_trace", "int main(void){ return 0; }", "-O1");
        var (status, _, err) = Lvd("exec", elf, "--trace");
        Assert.Equal(0, status);
        Assert.Contains("cpu0 0000000000400000  ", err);
        Assert.Contains("out 0F4h,eax", err); // the exit device write, last instruction of the run
    }
}

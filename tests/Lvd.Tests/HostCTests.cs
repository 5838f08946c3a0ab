namespace Lvd.Tests;

/// <summary>
/// The host-side C tests of the guest code, run by <c>./test</c> like everything else: the
/// kernel's unit tests over a fake physical memory (kalloc, kheap, page tables, checksum; ASan +
/// UBSan) and the guest libc's string, stdlib, ctype, malloc and printf against glibc. Each is a
/// script that builds with the host gcc, runs, and exits non-zero on any failure.
/// </summary>
public sealed class HostCTests
{
    [Theory]
    [InlineData("guest/kernel/tests/host/run.sh", "")]
    [InlineData("guest/libc/tests/check.sh", "libc")]
    [InlineData("guest/libc/tests/check.sh", "printf")]
    public void Passes(string script, string argument)
    {
        string path = Guest.Path(script.Split('/'));
        var r = HostProcess.Run(path, argument.Length == 0 ? [] : [argument], TimeSpan.FromMinutes(5));
        string output = System.Text.Encoding.UTF8.GetString(r.Stdout) + r.Stderr;
        Assert.False(r.TimedOut, $"{script} timed out:\n{output}");
        Assert.True(r.ExitCode == 0, $"{script} failed (exit status {r.ExitCode}):\n{output}");
    }
}

using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using Lvd.Experiments;
using Lvd.Tests.Support;

namespace Lvd.Tests;

/// <summary>
/// Ctrl-C on a running guest (issue 15): the CLI process gets SIGINT while the guest runs, prints
/// each vCPU's state (RIP named, RSP, CR3, mode, cycles, instructions) and exits with 130.
/// </summary>
public sealed class InterruptTests
{
    [DllImport("libc", EntryPoint = "kill")]
    private static extern int Kill(int pid, int signal);

    private const int SigInt = 2;

    /// <summary>
    /// Runs lvd with SIGINT at its default disposition (a test host may have inherited it ignored,
    /// as a shell's background jobs do: `env --default-signal`), sends SIGINT once stdout shows
    /// <paramref name="ready"/>, and returns status, stdout and stderr.
    /// </summary>
    private static (int Status, string Stdout, string Stderr) InterruptWhen(string ready, params string[] args)
    {
        string dll = Path.Combine(AppContext.BaseDirectory, "lvd.dll");
        var psi = new ProcessStartInfo("env") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in (string[])["--default-signal=INT", "dotnet", dll, .. args]) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = new StringBuilder();
        var seen = new ManualResetEventSlim();
        p.OutputDataReceived += (_, e) =>
        {
            if (e.Data == null) return;
            lock (stdout) stdout.Append(e.Data).Append('\n');
            if (e.Data.Contains(ready)) seen.Set();
        };
        var stderr = p.StandardError.ReadToEndAsync();
        p.BeginOutputReadLine();
        bool ready_ = seen.Wait(TimeSpan.FromMinutes(4));
        Thread.Sleep(500);   // well inside the run
        Assert.True(ready_ && !p.HasExited, $"never saw '{ready}' while running:\n{stdout}\n{(p.HasExited ? stderr.Result : "")}");
        Assert.Equal(0, Kill(p.Id, SigInt));
        if (!p.WaitForExit(TimeSpan.FromMinutes(1)))
        {
            p.Kill(entireProcessTree: true);
            Assert.Fail("lvd did not stop on SIGINT");
        }
        p.WaitForExit();
        lock (stdout) return (p.ExitCode, stdout.ToString(), stderr.Result);
    }

    [Fact]
    public void CtrlCOnExecPrintsTheStateAndExits130()
    {
        string elf = Guest.BuildSource("interrupt_spin",
            "#include <stdio.h>\nvolatile unsigned long n;\nstatic void __attribute__((noinline)) spin_forever(void) { for (;;) n++; }\n" +
            "int main(void) { puts(\"spinning\"); fflush(stdout); spin_forever(); }\n", "-O1", "-g");
        var (status, stdout, stderr) = InterruptWhen("spinning", "exec", elf, "--max-instructions", "1000000000000000");
        Assert.Equal(ProgramReport.StatusInterrupted, status);
        Assert.Contains("spinning", stdout);
        Assert.Matches(@"lvd: interrupted \(Ctrl-C\) after [\d,]+ instructions, [\d,]+ modeled cycles", stderr);
        // The loop's function, by name and source line.
        Assert.Matches(@"vCPU 0: running, RIP 0x[0-9a-f]+ \[spin_forever(\+0x[0-9a-f]+)? at [^\]]*interrupt_spin\.c:3\], " +
            @"RSP 0x[0-9a-f]+, CR3 0x[0-9a-f]+, CPL 0 \(kernel\), not virtualized, [\d,]+ cycles, [\d,]+ instructions", stderr);
        Assert.DoesNotContain("   at ", stderr);
    }

    [Fact]
    public void CtrlCOnBootPrintsEveryVcpu()
    {
        var (status, _, stderr) = InterruptWhen("kernel: all tests passed", "boot", "--cpus", "2", "--isolate", "nullnet",
            "--workload", "nullnet", "--duration", "1000000000000");
        Assert.Equal(ProgramReport.StatusInterrupted, status);
        Assert.Contains("lvd: interrupted (Ctrl-C)", stderr);
        for (int i = 0; i < 2; i++)
            Assert.Matches($@"vCPU {i}: \w+, RIP 0x[0-9a-f]+ \[[^\]]+\], RSP 0x[0-9a-f]+, CR3 0x[0-9a-f]+, CPL [03] \((kernel|user)\), " +
                @"VT-x guest, EPTP index \d+ \((the kernel's EPT|in a domain)\), [\d,]+ cycles", stderr);
    }
}

using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using Lvd.Debugging;
using Lvd.Experiments;
using Lvd.Hypervisor;
using Lvd.Machine.Diagnostics;
using Lvd.Machine.Loader;
using Lvd.Tests.Support;

namespace Lvd.Tests;

/// <summary>
/// The gdb remote stub (docs/DEBUGGING.md): the packet layer, the machine's debugger interface
/// (stopping never changes the modeled run), and real gdb (Debian's, installed by scripts/setup.sh)
/// driven in batch mode against `lvd exec --gdb` and `lvd boot --gdb` on 4 vCPUs with an isolated driver.
/// </summary>
public sealed class GdbTests
{
    // ---------------- packet layer ----------------

    [Fact]
    public void PacketsAreFramedWithTheirChecksum()
    {
        Assert.Equal("$OK#9a", Encoding.Latin1.GetString(GdbPacket.Frame("OK")));
        Assert.Equal("$#00", Encoding.Latin1.GetString(GdbPacket.Frame("")));
        Assert.Equal((byte)('a' + 'b'), GdbPacket.Checksum("ab"u8));
    }

    [Fact]
    public void SpecialBytesAreEscapedAndDecodeBack()
    {
        byte[] payload = "a$b#c}d*e"u8.ToArray();
        var framed = GdbPacket.Frame(payload);
        string text = Encoding.Latin1.GetString(framed);
        Assert.Equal("$a}\u0004b}\u0003c}]d}\u000ae#", text[..^2]);
        var body = framed.AsSpan(1, framed.Length - 4);
        Assert.Equal(payload, GdbPacket.Decode(body, framed.AsSpan(framed.Length - 2)));
    }

    [Fact]
    public void RunLengthEncodingIsExpandedAndBadChecksumsRejected()
    {
        // "0* " is '0' and 3 more (' ' is 32 = 29 + 3).
        byte[] body = "0* 1"u8.ToArray();
        string cs = $"{GdbPacket.Checksum(body):x2}";
        Assert.Equal("00001"u8.ToArray(), GdbPacket.Decode(body, Encoding.ASCII.GetBytes(cs)));
        Assert.Null(GdbPacket.Decode("OK"u8, "00"u8));
        Assert.Null(GdbPacket.Decode("OK"u8, "zz"u8));
    }

    [Fact]
    public void TheReaderAcknowledgesAndSeesInterrupts()
    {
        var input = new MemoryStream([.. "+$bad#00"u8, .. "$g#67"u8, 0x03, .. "$m0,4#fd"u8]);
        var reader = new GdbPacketReader(input);
        var acks = new List<byte>();
        Assert.Equal("g"u8.ToArray(), reader.Next(acks.Add));
        Assert.Null(reader.Next(acks.Add));
        Assert.Equal("m0,4"u8.ToArray(), reader.Next(acks.Add));
        Assert.Equal("-++", Encoding.ASCII.GetString(acks.ToArray()));
        Assert.Throws<EndOfStreamException>(() => reader.Next(acks.Add));
    }

    [Fact]
    public void TheTargetDescriptionIsWellFormedAndMatchesTheRegisterPacket()
    {
        var doc = XDocument.Parse(GdbRegisters.TargetXml);
        var regs = doc.Descendants("reg").ToList();
        Assert.Equal(GdbRegisters.Count, regs.Count);
        foreach (var name in new[] { "rax", "rip", "eflags", "fs_base", "gs_base", "cr0", "cr2", "cr3", "cr4", "efer", "eptp_index", "vmx_nonroot" })
            Assert.Contains(regs, r => (string?)r.Attribute("name") == name);
        var machine = new Lvd.Machine.Machine(new Lvd.Machine.MachineConfig());
        int bits = regs.Sum(r => (int)r.Attribute("bitsize")!);
        Assert.Equal(bits / 4, GdbRegisters.ReadAll(machine.Cpus[0]).Length);
    }

    // ---------------- the machine's debugger interface ----------------

    private const string Program = """
        #include <stdio.h>
        volatile int counter;
        __attribute__((noinline)) int square(int x) { return x * x; }
        int main(void)
        {
            int s = 0;
            for (int i = 0; i < 2000; i++) { s += square(i % 50); counter = s; }
            printf("sum %d\n", s);
            return 3;
        }
        """;

    private static string ProgramElf() => Guest.BuildSource("gdb_square", Program, "-O1", "-g");

    [Theory]
    [InlineData(HypervisorMode.None)]
    [InlineData(HypervisorMode.LaunchAtStart)]
    public void BreakpointsStepsAndWatchpointsDoNotChangeTheModeledRun(HypervisorMode mode)
    {
        string elf = ProgramElf();
        ulong square = ElfImage.Read(elf).Symbols["square"];
        ulong counter = ElfImage.Read(elf).Symbols["counter"];
        var plain = Guest.Run(elf, options: new RunOptions().With(mode));
        int breaks = 0, steps = 0, watches = 0;
        var debugged = Guest.Run(elf, options: new RunOptions
        {
            Setup = m =>
            {
                var d = m.AttachDebugger((cpu, stop) =>
                {
                    switch (stop.Reason)
                    {
                        case DebugStopReason.Breakpoint:
                            Assert.Equal(square, cpu.Rip);
                            // Stop at the first 100 calls; from the 50th on, step 20 instructions each time.
                            if (++breaks == 100) m.Debugger!.RemoveBreakpoint(square);
                            if (breaks >= 50) m.Debugger!.Step(cpu);
                            break;
                        case DebugStopReason.Step:
                            if (++steps % 20 != 0) m.Debugger!.Step(cpu);
                            break;
                        case DebugStopReason.Watchpoint:
                            Assert.Equal(counter, stop.Address);
                            if (++watches == 30) m.Debugger!.RemoveWatchpoint(counter, 4, WatchKind.Write);
                            break;
                    }
                });
                d.AddBreakpoint(square);
                d.AddWatchpoint(counter, 4, WatchKind.Write, m.Cpus[0]);
            },
        }.With(mode));
        Assert.Equal(100, breaks);
        Assert.Equal(51 * 20, steps);
        Assert.Equal(30, watches);
        Assert.Equal(3, debugged.ExitStatus);
        Assert.Equal("sum 1617000\n", debugged.OutputText);
        Assert.Equal(plain.OutputText, debugged.OutputText);
        Assert.Equal(plain.Run.Cycles, debugged.Run.Cycles);
        Assert.Equal(plain.Run.Instructions, debugged.Run.Instructions);
        Assert.Equal(plain.TotalExits, debugged.TotalExits);
    }

    [Fact]
    public void ABreakRequestStopsTheRunOnceAndKillEndsIt()
    {
        string elf = ProgramElf();
        int stops = 0;
        var killed = Guest.Run(elf, options: new RunOptions
        {
            Setup = m =>
            {
                var d = m.AttachDebugger((cpu, stop) =>
                {
                    Assert.Equal(DebugStopReason.Interrupt, stop.Reason);
                    stops++;
                    m.StopFromDebugger("killed by the test");
                });
                d.RequestBreak();
            },
        });
        Assert.Equal(1, stops);
        Assert.Equal(Lvd.Machine.RunOutcome.StoppedByDebugger, killed.Run.Outcome);
        Assert.Equal(Lvd.Experiments.ProgramReport.StatusDebuggerKill, killed.ExitStatus);
        Assert.Equal("", killed.OutputText);
    }

    // ---------------- real gdb against the CLI ----------------

    /// <summary>Runs `lvd ARGS --gdb 0`, then gdb in batch mode on the port it prints; both outputs and lvd's status.</summary>
    private static (string Gdb, int Status, string Stdout, string Stderr) WithGdb(string[] lvdArgs, string symbols, params string[] gdbCommands)
    {
        Assert.True(File.Exists("/usr/bin/gdb"), "gdb is missing: scripts/setup.sh installs it (./test runs it)");
        string dll = Path.Combine(AppContext.BaseDirectory, "lvd.dll");
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in (string[])[dll, .. lvdArgs, "--gdb", "0"]) info.ArgumentList.Add(a);
        using var lvd = Process.Start(info)!;
        var stdout = lvd.StandardOutput.ReadToEndAsync();
        var stderr = new StringBuilder();
        var port = new TaskCompletionSource<int>();
        lvd.ErrorDataReceived += (_, e) =>
        {
            if (e.Data == null) { port.TrySetResult(-1); return; }
            lock (stderr) stderr.AppendLine(e.Data);
            var m = Regex.Match(e.Data, @"waiting on 127\.0\.0\.1:(\d+)");
            if (m.Success) port.TrySetResult(int.Parse(m.Groups[1].Value));
        };
        lvd.BeginErrorReadLine();
        try
        {
            Assert.True(port.Task.Wait(TimeSpan.FromMinutes(5)), "lvd never said where gdb should connect");
            Assert.True(port.Task.Result > 0, "lvd ended before waiting for gdb:\n" + stderr);
            string[] args = ["-batch", "-nx", "-ex", "set pagination off", "-ex", "set breakpoint pending on", "-ex",
                $"target remote :{port.Task.Result}",
                .. gdbCommands.SelectMany(c => new[] { "-ex", c }), symbols];
            var gdb = Lvd.Experiments.HostProcess.Run("gdb", args, TimeSpan.FromMinutes(5));
            Assert.False(gdb.TimedOut, "gdb timed out:\n" + Encoding.UTF8.GetString(gdb.Stdout) + gdb.Stderr);
            Assert.True(lvd.WaitForExit(TimeSpan.FromMinutes(5)), "lvd did not end after gdb");
            lvd.WaitForExit();
            return (Encoding.UTF8.GetString(gdb.Stdout) + gdb.Stderr, lvd.ExitCode, stdout.Result, stderr.ToString());
        }
        finally
        {
            if (!lvd.HasExited) lvd.Kill(entireProcessTree: true);
        }
    }

    private static JsonElement Stats(string path) => JsonDocument.Parse(File.ReadAllText(path)).RootElement;

    [Fact]
    public void GdbBreaksStepsWatchesAndContinuesAProgramToItsExit()
    {
        string elf = ProgramElf();
        string dir = Guest.TempDir("gdb");
        string plainStats = Path.Combine(dir, "exec-plain.json"), gdbStats = Path.Combine(dir, "exec-gdb.json");
        var plain = CliTests.Lvd("exec", elf, "--stats-json", plainStats);
        Assert.Equal(3, plain.Status);
        var (log, status, stdout, _) = WithGdb(["exec", elf, "--stats-json", gdbStats], elf,
            "break square", "continue", "continue", "print $rdi", "print/x $cr0", "print $eptp_index", "stepi", "print $pc == square + 3",
            "x/2xb square", "watch counter", "delete 1", "continue", "continue", "print counter", "monitor cycles", "delete", "continue");
        Assert.Contains("Breakpoint 1, square (x=", log);
        Assert.Contains("$1 = 1", log);                     // the second call: square(1)
        Assert.Contains("$2 = 0x80010033", log);            // PG WP NE ET MP PE
        Assert.Contains("$3 = -1", log);                    // not in VMX non-root
        Assert.Contains("$4 = 1", log);                     // one instruction further
        Assert.Matches(@"<square>:\s+0x0f\s+0xaf", log);    // imul %edi,%edi, read through the page tables
        Assert.Contains("Old value = 0\nNew value = 1", log);
        Assert.Contains("Old value = 1\nNew value = 5", log);
        Assert.Contains("$5 = 5", log);
        Assert.Matches(@"vcpu0: [\d,]+ cycles, [\d,]+ instructions", log);
        Assert.Contains("exited with code 03", log);
        Assert.Equal(3, status);
        Assert.Equal(plain.Stdout, stdout);
        Assert.Equal(Stats(plainStats).GetProperty("cycles").GetInt64(), Stats(gdbStats).GetProperty("cycles").GetInt64());
        Assert.Equal(Stats(plainStats).GetProperty("instructions").GetInt64(), Stats(gdbStats).GetProperty("instructions").GetInt64());
    }

    [Fact]
    public void GdbDebugsTheKernelAndAnIsolatedDriverOnFourVcpus()
    {
        string dir = Guest.TempDir("gdb");
        string plainStats = Path.Combine(dir, "boot-plain.json"), gdbStats = Path.Combine(dir, "boot-gdb.json");
        string[] boot = ["boot", "--cpus", "4", "--isolate", "nullnet", "--workload", "nullnet", "--duration", "1000000"];
        var plain = CliTests.Lvd([.. boot, "--stats-json", plainStats]);
        Assert.True(plain.Status == 0, plain.Stderr);
        string kernel = Guest.Path("build", "kernel", "kernel.elf");
        var (log, status, stdout, stderr) = WithGdb([.. boot, "--stats-json", gdbStats], kernel,
            "info threads", "info sharedlibrary",
            // A kernel function, natively and under the hypervisor's kernel EPT.
            "break dev_queue_xmit", "continue", "print $vmx_nonroot", "print $eptp_index", "print skb->len", "delete",
            // A function of the isolated driver, in its domain (loaded at run time, symbols from its ELF).
            "break ndo_start_xmit_handler", "continue", "print $eptp_index", "monitor ept", "x/2xb ndo_start_xmit_handler",
            "print *(unsigned long *)0xffffc900fffff000 == 0x4c56442d444f4d31", "stepi", "print $pc == ndo_start_xmit_handler + 1",
            "info registers cr3 eptp", "delete", "monitor domains", "monitor exits", "continue");
        Assert.Matches(@"\* 1\s+Thread 1 \(vCPU 0", log);
        for (int t = 2; t <= 4; t++) Assert.Matches($@"\n\s+{t}\s+Thread {t} \(vCPU {t - 1}", log);
        Assert.Contains("build/domains/nullnet.elf", log);
        Assert.Contains("hit Breakpoint 1, dev_queue_xmit (skb=", log);
        Assert.Contains("$1 = 1", log);
        Assert.Contains("$2 = 0", log);
        Assert.Matches(@"hit Breakpoint 2(\.\d)?, ndo_start_xmit_handler", log);
        Assert.Contains("$4 = 1", log);                              // EPTP index 1: the domain's slot
        Assert.Matches(@"vcpu\d: domain nullnet \(EPTP index 1", log);
        Assert.Contains("$5 = 1", log);                              // the domain's info page, read through its EPT
        Assert.Contains("$6 = 1", log);
        Assert.Matches(@"<ndo_start_xmit_handler>:\s+0x[0-9a-f]{2}\s+0x[0-9a-f]{2}", log);
        Assert.Contains("image nullnet:", log);
        Assert.Matches(@"all: .*Hlt\(12\)", log);
        Assert.Contains("exited normally", log);
        Assert.True(status == 0, stderr);
        Assert.Equal(plain.Stdout, stdout);
        Assert.Equal(Stats(plainStats).GetProperty("cycles").GetInt64(), Stats(gdbStats).GetProperty("cycles").GetInt64());
        Assert.Equal(Stats(plainStats).GetProperty("instructions").GetInt64(), Stats(gdbStats).GetProperty("instructions").GetInt64());
    }

    /// <summary>The values of the `info registers` lines in gdb's output, in order (name and hex value).</summary>
    private static List<string> RegisterLines(string log) =>
        [.. Regex.Matches(log, @"^(rip|rsp|rax|rdi|eflags|cr3|eptp_index)\s+(0x[0-9a-f]+|-?\d+)", RegexOptions.Multiline).Select(m => m.Value)];

    [Fact]
    public void GdbRunsBackwardsByReplayingTheRunFromPowerOn()
    {
        string elf = ProgramElf();
        string dir = Guest.TempDir("gdb");
        string plainStats = Path.Combine(dir, "exec-plain-rev.json"), gdbStats = Path.Combine(dir, "exec-gdb-rev.json");
        var plain = CliTests.Lvd("exec", elf, "--stats-json", plainStats);
        var (log, status, stdout, _) = WithGdb(["exec", elf, "--stats-json", gdbStats], elf,
            "break square", "continue", "continue", "continue", "print x", "reverse-continue", "print x", "print counter",
            "stepi", "info registers rip rsp rax rdi eflags", "stepi", "info registers rip rsp rax rdi eflags", "reverse-stepi",
            "info registers rip rsp rax rdi eflags", "reverse-continue", "print x", "reverse-continue", "print x", "reverse-continue",
            "print $pc == _start", "continue", "print x", "delete", "continue");
        Assert.Contains("$1 = 2", log);                     // the third call: square(2)
        Assert.Contains("$2 = 1", log);                     // back to the second call
        Assert.Contains("$3 = 0", log);                     // counter before the second call returned: square(0)
        var regs = RegisterLines(log);
        Assert.Equal(15, regs.Count);
        Assert.Equal(regs[0..5], regs[10..15]);              // reverse-stepi restored every register
        Assert.NotEqual(regs[0], regs[5]);                   // the step did move
        Assert.Contains("$4 = 1", log);                     // the entry of the call we stepped in
        Assert.Contains("$5 = 0", log);                     // the first call
        Assert.Contains("No more reverse-execution history.", log);
        Assert.Contains("$6 = 1", log);                     // at power-on again
        Assert.Contains("$7 = 0", log);                     // and forward to the first call
        Assert.Contains("exited with code 03", log);
        Assert.Equal(3, status);
        // Every replay writes the output again: the user sees it once.
        Assert.Equal(plain.Stdout, stdout);
        Assert.Equal(Stats(plainStats).GetProperty("cycles").GetInt64(), Stats(gdbStats).GetProperty("cycles").GetInt64());
    }

    private const string LongProgram = """
        #include <stdio.h>
        volatile long counter;
        __attribute__((noinline)) long step(long x) { return x * 3 + 1; }
        __attribute__((noinline)) void mark(long i) { counter = i; }
        int main(void)
        {
            long s = 0;
            for (long i = 0; i < 3000000; i++) { s = step(s ^ i); if (i % 400000 == 0) mark(i); }
            printf("s %ld\n", s);
            return 0;
        }
        """;

    /// <summary>
    /// Reverse execution from snapshots (docs/DEBUGGING.md, Snapshots) is the same debugging session as from power-on:
    /// gdb prints the same values and registers, the run ends the same; the replays start at snapshots.
    /// </summary>
    [Fact]
    public void ReplaysFromSnapshotsGiveTheSameSessionAsReplaysFromPowerOn()
    {
        string elf = Guest.BuildSource("gdb_long", LongProgram, "-O1", "-g");
        string[] session = ["break mark", "continue", "continue", "continue", "continue", "continue", "print i", "reverse-continue",
            "print i", "stepi", "info registers rip rsp rax rdi eflags", "stepi", "info registers rip rsp rax rdi eflags", "reverse-stepi",
            "info registers rip rsp rax rdi eflags", "reverse-continue", "print i", "print counter", "delete", "continue"];
        var fromPowerOn = WithGdb(["exec", elf, "--gdb-snapshots", "0"], elf, [.. session]);
        var fromSnapshots = WithGdb(["exec", elf, "--gdb-snapshots", "1000000"], elf, ["monitor snapshots", .. session, ]);
        Assert.Contains("$1 = 1600000", fromPowerOn.Gdb);   // the fifth mark
        Assert.Contains("$2 = 1200000", fromPowerOn.Gdb);   // reverse-continue: the fourth
        Assert.Contains("$3 = 1200000", fromPowerOn.Gdb);   // after steps and a reverse-stepi inside it, back to its entry
        Assert.Contains("$4 = 800000", fromPowerOn.Gdb);    // the counter the third mark left
        Assert.Equal(15, RegisterLines(fromPowerOn.Gdb).Count);
        Assert.Equal(RegisterLines(fromPowerOn.Gdb), RegisterLines(fromSnapshots.Gdb));
        Assert.Equal(Regex.Matches(fromPowerOn.Gdb, @"^\$\d+ = .*$", RegexOptions.Multiline).Select(m => m.Value),
            Regex.Matches(fromSnapshots.Gdb, @"^\$\d+ = .*$", RegexOptions.Multiline).Select(m => m.Value));
        Assert.Equal(0, fromSnapshots.Status);
        Assert.Equal(fromPowerOn.Stdout, fromSnapshots.Stdout);
        Assert.Contains("0 snapshots, one every 1,000,000 modeled cycles", fromSnapshots.Gdb);
        Assert.DoesNotContain("replaying from the snapshot", fromPowerOn.Stderr);
        // Two replays per reverse-continue (find the last hit, go there), one for reverse-stepi.
        Assert.Equal(5, Regex.Matches(fromPowerOn.Stderr, "replaying from power-on").Count);
        // Every replay of this session can start at a snapshot: the marks lie millions of cycles into the run (a scan
        // that finds no hit after its snapshot is repeated from an earlier one).
        Assert.True(Regex.Matches(fromSnapshots.Stderr, @"replaying from the snapshot at cycle [\d,]+").Count >= 5, fromSnapshots.Stderr);
        Assert.DoesNotContain("replaying from power-on", fromSnapshots.Stderr);
    }

    [Fact]
    public void ReverseStepiRestoresAnIsolatedDriversRegistersOnFourVcpus()
    {
        string[] boot = ["boot", "--cpus", "4", "--isolate", "nullnet", "--workload", "nullnet", "--duration", "1000000"];
        var plain = CliTests.Lvd(boot);
        string kernel = Guest.Path("build", "kernel", "kernel.elf");
        var (log, status, stdout, stderr) = WithGdb(boot, kernel,
            "break ndo_start_xmit_handler", "continue", "stepi", "stepi", "info registers rip rsp rax rdi cr3 eptp_index", "stepi",
            "info registers rip rsp rax rdi cr3 eptp_index", "reverse-stepi", "info registers rip rsp rax rdi cr3 eptp_index",
            "delete", "continue");
        Assert.Matches(@"hit Breakpoint 1(\.\d)?, ndo_start_xmit_handler", log);
        var regs = RegisterLines(log);
        Assert.Equal(18, regs.Count);
        Assert.Equal(regs[0..6], regs[12..18]);
        Assert.Equal("eptp_index     0x1", Regex.Replace(regs[5], @"\s+", "     "));
        Assert.Contains("exited normally", log);
        Assert.True(status == 0, stderr);
        Assert.Equal(plain.Stdout, stdout);
    }

    [Fact]
    public void KillFromGdbEndsTheRunWithStatus137AndDetachLetsItFinish()
    {
        string elf = ProgramElf();
        var (log, status, stdout, _) = WithGdb(["exec", elf], elf, "break square", "continue", "kill");
        Assert.Contains("Breakpoint 1, square", log);
        Assert.Contains("killed", log);
        Assert.Equal(ProgramReport.StatusDebuggerKill, status);
        Assert.Equal("", stdout);
        var detached = WithGdb(["exec", elf], elf, "break square", "continue", "detach");
        Assert.Contains("Breakpoint 1, square", detached.Gdb);
        Assert.Equal(3, detached.Status);
        Assert.Equal("sum 1617000\n", detached.Stdout);
    }

    [Fact]
    public void ABadGdbPortIsAUsageError()
    {
        var (status, stdout, stderr) = CliTests.Lvd("exec", ProgramElf(), "--gdb", "70000");
        Assert.Equal(2, status);
        Assert.Equal("", stdout);
        Assert.Contains("--gdb 70000: a TCP port, 0 to 65535", stderr);
        var lone = CliTests.Lvd("exec", ProgramElf(), "--gdb-snapshots", "1000");
        Assert.Equal(2, lone.Status);
        Assert.Contains("--gdb-snapshots needs --gdb", lone.Stderr);
        var negative = CliTests.Lvd("boot", "--gdb", "0", "--gdb-snapshots", "-5");
        Assert.Equal(2, negative.Status);
        Assert.Contains("--gdb-snapshots must not be negative", negative.Stderr);
    }
}

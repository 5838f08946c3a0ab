using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using Lvd.Experiments.Profiling;
using Lvd.Hypervisor;
using Lvd.Machine;
using Lvd.Machine.Cost;
using Lvd.Machine.Loader;
using Lvd.Toolchain.Linux;
using LvdMachine = Lvd.Machine.Machine;

namespace Lvd.Experiments.Linux;

/// <summary>What `lvd linux` boots: vCPUs, RAM, the hypervisor, the --init program, extra command line words, bounds.</summary>
public sealed record LinuxBootSpec
{
    public int Cpus { get; init; } = 1;
    public int MemoryMiB { get; init; } = 256;
    public bool Hypervisor { get; init; }
    /// <summary>
    /// `--late-launch`: the hypervisor installed but not launched; the init script runs its checks
    /// and workload natively, loads lvd_hv.ko (every CPU late-launches itself), runs them deprivileged,
    /// unloads it (every CPU devirtualizes) and runs them again (docs/LINUX.md).
    /// </summary>
    public bool LateLaunch { get; init; }
    public string? InitProgram { get; init; }
    public string ExtraCmdline { get; init; } = "";
    public CostModel Costs { get; init; } = CostModel.Default;
    /// <summary>`--timing detailed`: caches and branch predictors (docs/COST-MODEL.md).</summary>
    public bool DetailedTiming { get; init; }
    /// <summary>Modeled seconds after which a boot that has not ended is a hang.</summary>
    public double TimeoutSeconds { get; init; } = 600;
    public long MaxInstructions { get; init; } = 200_000_000_000;
    /// <summary>Boot the bzImage (its decompressor first) instead of vmlinux.</summary>
    public bool BzImage { get; init; }
    /// <summary>Console input known up front (a script for the shell): delivered when Linux listens, then the end of input.</summary>
    public byte[]? Input { get; init; }
}

/// <summary>How a Linux boot ended: the exit status for the tool, a report when it did not end by itself, the figures.</summary>
public sealed record LinuxBootResult(RunOutcome Outcome, int ExitStatus, string? Report, string Console, long Instructions, long Cycles,
    double ModeledSeconds, double HostSeconds, LvdMachine Machine)
{
    public double Mips => HostSeconds > 0 ? Instructions / HostSeconds / 1e6 : 0;
}

/// <summary>
/// Boots the cached Linux kernel (guest/linux/build.sh) with its initramfs (guest/linux/init,
/// BusyBox, the --init program) on the PC platform through <see cref="LinuxLoader"/>, the
/// console on COM1, host input to COM1 once Linux listens, and ends with the init script's
/// status (port 0xF4). A panic reboots (panic=-1 reboot=t: a triple fault, the machine's
/// shutdown); a boot that runs past its modeled-time bound is a hang. Either is reported with
/// the last console lines, each vCPU's state named with vmlinux's symbols, the faulting
/// instruction and the unclaimed port and MMIO accesses.
/// </summary>
public static class LinuxBoot
{
    public const int StatusHang = ProgramReport.StatusRunaway, StatusCrash = ProgramReport.StatusCrash;
    private const long Chunk = 2_000_000;
    /// <summary>
    /// After the input ended, a chunk of the run with this many modeled cycles per instruction or
    /// more (the vCPUs mostly halted) and no console output is the guest waiting for input.
    /// </summary>
    private const long IdleCyclesPerInstruction = 50;
    private const int MaxEndOfInputs = 10;

    /// <summary>The command line: the console on COM1 (early and late), reboot on panic by triple fault, the CPU count for the checks.</summary>
    public static string CommandLine(LinuxBootSpec spec) =>
        ($"console=ttyS0,115200 earlyprintk=serial,ttyS0,115200 panic=-1 reboot=t lvd.cpus={spec.Cpus} " +
            (spec.LateLaunch ? "lvd.latelaunch=1 " : "") + spec.ExtraCmdline).Trim();

    /// <summary>The words of the command line lvd linux sets itself (a user's --cmdline may not).</summary>
    public static readonly string[] OwnWords = ["console=", "earlyprintk=", "panic=", "reboot=", "lvd.cpus=", "lvd.latelaunch="];

    public static byte[] BuildInitramfs(string repoRoot, string? program, string? module = null) =>
        Initramfs.Build(Path.Combine(repoRoot, "guest", "linux", "init"), Initramfs.LocateBusyBox(), program, module).ToBytes();

    /// <param name="console">Where the console goes as it is written (null: only captured).</param>
    /// <param name="input">
    /// Host input for the console as it comes (a terminal; null: none, or <see cref="LinuxBootSpec.Input"/>); its end becomes ^D
    /// (end of file for the shell).
    /// </param>
    public static LinuxBootResult Run(LinuxKernel kernel, string repoRoot, LinuxBootSpec spec, Stream? console, Stream? input = null,
        Action<LvdMachine>? setup = null)
    {
        if (spec.Hypervisor && spec.LateLaunch) throw new ArgumentException("the hypervisor launches at power-on or late, not both");
        var initrd = BuildInitramfs(repoRoot, spec.InitProgram, spec.LateLaunch ? LinuxModule.Build(repoRoot, kernel).Path : null);
        var options = new RunOptions
        {
            Platform = MachinePlatform.Pc, CpuCount = spec.Cpus, MemoryBytes = (ulong)spec.MemoryMiB << 20, Costs = spec.Costs,
            DetailedTiming = spec.DetailedTiming, SerialOut = console, CaptureSerial = true,
            // The application processors start through the firmware's ACPI wakeup mailbox (docs/LINUX.md, SMP).
            AcpiMpWakeupMailbox = Lvd.Machine.Firmware.MpWakeupMailbox.DefaultAddress,
            SynchronizedTsc = true,
        }.With(spec.Hypervisor ? HypervisorMode.LaunchAtStart : spec.LateLaunch ? HypervisorMode.OnRequest : HypervisorMode.None);
        var machine = new LvdMachine(options);
        string cmdline = CommandLine(spec);
        if (spec.BzImage) LinuxLoader.LoadBzImage(machine, File.ReadAllBytes(kernel.BzImage), cmdline, initrd);
        else LinuxLoader.LoadVmlinux(machine, ElfImage.Read(kernel.Vmlinux), cmdline, initrd);
        options.Setup?.Invoke(machine);
        setup?.Invoke(machine);

        var pending = new ConcurrentQueue<byte[]>();
        using var inputArrived = new SemaphoreSlim(0);
        bool inputEnded = input == null && spec.Input == null;
        if (spec.Input != null)
        {
            // Known input arrives at a point fixed by the run (deterministic), with the ^D after it.
            pending.Enqueue(spec.Input);
            pending.Enqueue([]);
        }
        else if (input != null)
        {
            var reader = new Thread(() =>
            {
                var buffer = new byte[4096];
                try
                {
                    int n;
                    while ((n = input.Read(buffer, 0, buffer.Length)) > 0) { pending.Enqueue(buffer[..n]); inputArrived.Release(); }
                }
                catch (IOException) { }
                pending.Enqueue([]); // the end of the input
                inputArrived.Release();
            }) { IsBackground = true, Name = "linux-console-input" };
            reader.Start();
        }

        var sw = Stopwatch.StartNew();
        long limitCycles = (long)(spec.TimeoutSeconds * spec.Costs.ClockHz);
        RunResult run;
        string? report = null;
        int endOfInputs = 0;
        while (true)
        {
            long startInstructions = machine.TotalInstructions, startCycles = MaxCycles(machine), startOutput = machine.Serial.BytesWritten;
            // Host input waits until Linux's serial driver listens (its start-up empties the FIFO).
            if (machine.Serial.ReceiverListening)
                while (pending.TryDequeue(out var bytes))
                {
                    if (bytes.Length == 0) { inputEnded = true; break; }
                    machine.Serial.Receive(bytes, MaxCycles(machine));
                }
            long budget = Math.Min(spec.MaxInstructions, machine.TotalInstructions + Chunk);
            run = machine.Run(budget);
            if (run.Outcome == RunOutcome.Deadlock && !inputEnded && machine.Serial.ReceiverListening)
            {
                // Idle, waiting for the user: wait for input (or Ctrl-C, which stops the machine), then go on.
                while (!inputArrived.Wait(100) && !machine.Cpus[0].StopRequested) { }
                continue;
            }
            if (run.Outcome != RunOutcome.InstructionLimit) break;
            bool idle = MaxCycles(machine) - startCycles >= IdleCyclesPerInstruction * (machine.TotalInstructions - startInstructions)
                && machine.Serial.BytesWritten == startOutput;
            // The input has ended and the guest waits, idle, for more: ^D, the end of file for the
            // shell's line (sent when the guest waits, not at once: a ^D typed ahead before the shell
            // switches its terminal to raw mode would be lost). Deterministic: chunks end at fixed
            // instruction counts.
            if (idle && inputEnded && pending.IsEmpty && machine.Serial.ReceiverListening && endOfInputs < MaxEndOfInputs)
            {
                machine.Serial.Receive([0x04], MaxCycles(machine));
                endOfInputs++;
            }
            // A user who may still type: an idle guest waits for them, which is no hang. The host
            // waits too, as long as the chunk lasted in modeled time (at most 10 s) or until input
            // comes, so an idle guest's clock runs about as fast as the user's.
            if (idle && !inputEnded && machine.Serial.ReceiverListening)
            {
                double modeled = (MaxCycles(machine) - startCycles) / (double)spec.Costs.ClockHz;
                inputArrived.Wait(TimeSpan.FromSeconds(Math.Min(modeled, 10.0)));
                continue;
            }
            if (machine.TotalInstructions >= spec.MaxInstructions)
            {
                report = $"Linux did not finish within {spec.MaxInstructions:N0} instructions\n";
                break;
            }
            if (MaxCycles(machine) >= limitCycles)
            {
                report = $"Linux did not finish within {spec.TimeoutSeconds} modeled seconds (a hang)\n";
                break;
            }
        }
        double host = sw.Elapsed.TotalSeconds;
        string text = Encoding.UTF8.GetString(machine.Serial.Captured);
        long cycles = MaxCycles(machine);
        int status;
        switch (run.Outcome)
        {
            case RunOutcome.Exited:
                status = run.ExitCode;
                break;
            case RunOutcome.InstructionLimit:
                status = StatusHang;
                report = Report(report!, text, machine, kernel, null);
                break;
            default:
                status = run.Outcome == RunOutcome.Deadlock ? ProgramReport.StatusDeadlock
                    : run.Outcome == RunOutcome.Interrupted ? ProgramReport.StatusInterrupted
                    : run.Outcome == RunOutcome.StoppedByVmxRoot ? ProgramReport.StatusHypervisorStop : StatusCrash;
                string what = text.Contains("Kernel panic - not syncing", StringComparison.Ordinal)
                    ? "Linux panicked (and rebooted by triple fault, panic=-1 reboot=t)\n"
                    : run.Outcome == RunOutcome.Interrupted ? "interrupted (Ctrl-C)\n" : $"the run ended: {run.Outcome}\n";
                report = Report(what, text, machine, kernel, run.CrashReport);
                break;
        }
        return new LinuxBootResult(run.Outcome, status, report, text, machine.TotalInstructions, cycles, cycles / (double)spec.Costs.ClockHz,
            host, machine);
    }

    /// <summary>"N VM exits: Reason count, ..." over every vCPU, most frequent first (empty without exits).</summary>
    public static string VmExits(LvdMachine m)
    {
        var counts = new Dictionary<string, long>();
        long total = 0;
        foreach (var c in m.Cpus)
            for (int r = 0; r < c.ExitsByReason.Length; r++)
            {
                if (c.ExitsByReason[r] == 0) continue;
                string name = Enum.IsDefined(typeof(Lvd.Machine.Vmx.ExitReason), (ushort)r)
                    ? ((Lvd.Machine.Vmx.ExitReason)r).ToString() : $"reason {r}";
                counts[name] = counts.GetValueOrDefault(name) + c.ExitsByReason[r];
                total += c.ExitsByReason[r];
            }
        if (total == 0) return "";
        var parts = counts.OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => $"{kv.Key} {kv.Value:N0}");
        return $"{total:N0} VM exits: {string.Join(", ", parts)}";
    }

    /// <summary>
    /// After a --late-launch run: how many vCPU launches the hypervisor made, how many vCPUs are still
    /// launched (0 once every CPU devirtualized), and the exits by reason (<see cref="VmExits"/>).
    /// </summary>
    public static string LateLaunchSummary(LvdMachine m)
    {
        if (m.Firmware is not Lvd.Hypervisor.Hypervisor hv) return "no hypervisor installed";
        int still = 0;
        foreach (var c in m.Cpus) if (hv.IsLaunched(c.Id)) still++;
        string exits = VmExits(m);
        return $"{hv.Launches} vCPU launches, {still} vCPUs still launched at the end; {(exits.Length == 0 ? "no VM exits" : exits)}";
    }

    private static long MaxCycles(LvdMachine m)
    {
        long c = 0;
        foreach (var cpu in m.Cpus) c = Math.Max(c, cpu.Cycles);
        return c;
    }

    /// <summary>The report of a boot that did not end by itself.</summary>
    public static string Report(string what, string console, LvdMachine machine, LinuxKernel kernel, string? crash)
    {
        var sb = new StringBuilder("lvd linux: ").Append(what);
        var lines = console.Replace("\r", "").TrimEnd('\n').Split('\n');
        sb.Append($"  last console lines:\n");
        foreach (var l in lines[Math.Max(0, lines.Length - 25)..]) sb.Append("    | ").Append(l).Append('\n');
        var state = new StringBuilder();
        if (crash != null) state.Append(crash);
        foreach (var c in machine.Cpus)
            state.Append($"  vCPU {c.Id}: {c.State.ToString().ToLowerInvariant()}, RIP 0x{c.Rip:x}: {CrashReport.Disassemble(c, c.Rip)}, " +
                $"RSP 0x{c.GetRegister(Lvd.Machine.Execution.Cpu.RSP):x}, CPL {c.Cpl}, IF={(c.InterruptsEnabled ? 1 : 0)}, " +
                $"{c.Cycles:N0} cycles, {c.Instructions:N0} instructions\n");
        var symbols = File.Exists(kernel.Vmlinux) ? Symbolizer.FromElf(kernel.Vmlinux) : Symbolizer.None;
        sb.Append(CrashSymbols.AnnotateReport(state.ToString(), symbols));
        string unclaimed = machine.Unclaimed.Describe();
        sb.Append(unclaimed.Length == 0 ? "  no unclaimed port or MMIO accesses\n" : "  unclaimed accesses (read all ones, writes dropped):\n");
        foreach (var l in unclaimed.Split('\n', StringSplitOptions.RemoveEmptyEntries)) sb.Append("    ").Append(l).Append('\n');
        return sb.ToString();
    }
}

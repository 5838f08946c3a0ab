using Lvd.Machine.Cost;

namespace Lvd.Experiments.Bench;

/// <summary>
/// `lvd bench micro`: guest/bench/micro.c measures, with RDTSC, native and virtualized WRMSR,
/// OUT, MOV CR3, SYSCALL+SYSRET, and VMFUNC, in one run that late-launches the hypervisor
/// halfway. The figures are modeled cycles: they come from the instructions executed and
/// the cost file, shown beside the LVD paper's Tables 1 and 2.
/// </summary>
public static class MicroBenchmark
{
    public sealed record Row(string Name, string Description, long Cycles, string Paper);

    public sealed record Result(IReadOnlyList<Row> Rows, CostModel Costs, long Exits, string RawOutput);

    private static readonly (string Key, string Description, string Paper)[] Figures =
    [
        ("vmfunc", "VMFUNC (EPTP switch), one way", "169 (Table 1)"),
        ("vmfunc_round_trip", "VMFUNC there and back (no trampoline)", "2 x 169"),
        ("syscall_native", "SYSCALL+SYSRET pair", "140 (Table 1)"),
        ("syscall_virtualized", "SYSCALL+SYSRET pair, virtualized", "140 (no exit)"),
        ("wrmsr_native", "WRMSR native", "127 (Table 2)"),
        ("wrmsr_virtualized", "WRMSR virtualized (exit)", "1367 (Table 2)"),
        ("out_native", "OUT native", "4213 (Table 2)"),
        ("out_virtualized", "OUT virtualized (exit)", "5384 (Table 2)"),
        ("cr3_native", "MOV to CR3 native", "130 (Table 2)"),
        ("cr3_virtualized", "MOV to CR3 virtualized (CR3-target list, no exit)", "143 (Table 2)"),
    ];

    public static Result Run(GuestCompiler cc, CostModel costs)
    {
        string dir = Path.Combine(cc.RepoRoot, "build", "bench");
        Directory.CreateDirectory(dir);
        string elf = Path.Combine(dir, "micro.elf");
        // Integer code only, as when the figures were taken (lvd cc programs may use SSE since the x87 work).
        cc.Build([Path.Combine(cc.RepoRoot, "guest", "bench", "micro.c")], elf, "-O2", "-mgeneral-regs-only");
        var r = ProgramRunner.Run(elf, new RunOptions { Costs = costs, CaptureSerial = true }.With(HypervisorMode.OnRequest));
        if (r.Run.Outcome != RunOutcome.Exited || r.ExitStatus != 0)
            throw new ExperimentException($"micro benchmark guest failed ({r.Run.Outcome}): {r.OutputText.Trim()} {r.Run.CrashReport}");
        var values = new Dictionary<string, long>();
        foreach (var line in r.OutputText.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var parts = line.Split(' ');
            if (parts.Length == 2 && long.TryParse(parts[1], out long v)) values[parts[0]] = v;
        }
        var rows = new List<Row>();
        foreach (var (key, desc, paper) in Figures)
        {
            if (!values.TryGetValue(key, out long v)) throw new ExperimentException($"micro benchmark printed no \"{key}\"");
            rows.Add(new Row(key, desc, v, paper));
        }
        return new Result(rows, costs, r.TotalExits, r.OutputText);
    }
}

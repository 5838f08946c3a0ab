using Lvd.Machine.Diagnostics;
using Lvd.Machine.Vmx;

namespace Lvd.Experiments.Profiling;

/// <summary>One line of a profile: samples of one function (or event) in one mode, in total and per vCPU.</summary>
public sealed record ProfileRow(string Name, string Mode, long Samples, long[] PerCpu);

/// <summary>
/// A <see cref="Profiler"/>'s samples named and summed: by function and by mode (user, kernel,
/// event delivery, hypervisor, idle). Each sample stands for <see cref="Period"/> modeled cycles.
/// </summary>
public sealed class ProfileReport
{
    public long Period { get; }
    public int CpuCount { get; }
    public long TotalSamples { get; }
    public long IdleSamples { get; }
    public long BusySamples => TotalSamples - IdleSamples;
    /// <summary>Rows by function, most samples first (ties by name, so the order is stable).</summary>
    public IReadOnlyList<ProfileRow> Functions { get; }
    /// <summary>Rows by mode, most samples first.</summary>
    public IReadOnlyList<ProfileRow> Modes { get; }

    private ProfileReport(long period, int cpus, long total, long idle, List<ProfileRow> functions, List<ProfileRow> modes)
    {
        Period = period; CpuCount = cpus; TotalSamples = total; IdleSamples = idle; Functions = functions; Modes = modes;
    }

    public const string IdleName = "[idle: halted or not started]";

    public static string ModeOf(ProfileKey k) => k.Kind switch
    {
        SampleKind.Code => (k.NonRoot ? "VT-x guest " : "") + (k.Cpl == 3 ? "user" : "kernel"),
        SampleKind.Interrupt => (k.NonRoot ? "VT-x guest " : "") + "interrupt delivery",
        SampleKind.Exception => (k.NonRoot ? "VT-x guest " : "") + "exception delivery",
        SampleKind.VmExit => "hypervisor (VM exit)",
        _ => "idle",
    };

    public static string NameOf(ProfileKey k, Symbolizer symbols) => k.Kind switch
    {
        SampleKind.Code => symbols.Lookup(k.Address) ?? "[no symbol]",
        SampleKind.Interrupt => "[interrupt delivery]",
        SampleKind.Exception => $"[exception {k.Address}]",
        SampleKind.VmExit => $"[VM exit: {ExitName(k.Address)}]",
        _ => IdleName,
    };

    private static string ExitName(ulong reason) =>
        Enum.IsDefined(typeof(ExitReason), (ushort)reason) ? ((ExitReason)reason).ToString() : "reason " + reason;

    public static ProfileReport Build(Profiler profiler, Symbolizer symbols)
    {
        int n = profiler.Vcpus.Count;
        var byFunction = new Dictionary<(string, string), long[]>();
        var byMode = new Dictionary<string, long[]>();
        long total = 0, idle = 0;
        foreach (var v in profiler.Vcpus)
        {
            foreach (var (key, count) in v.Samples)
            {
                string mode = ModeOf(key), name = NameOf(key, symbols);
                if (!byFunction.TryGetValue((name, mode), out var f)) byFunction[(name, mode)] = f = new long[n];
                f[v.CpuId] += count;
                if (!byMode.TryGetValue(mode, out var m)) byMode[mode] = m = new long[n];
                m[v.CpuId] += count;
                total += count;
                if (key.Kind == SampleKind.Idle) idle += count;
            }
        }
        static List<ProfileRow> Rows(IEnumerable<ProfileRow> rows) =>
            [.. rows.OrderByDescending(r => r.Samples).ThenBy(r => r.Name, StringComparer.Ordinal).ThenBy(r => r.Mode, StringComparer.Ordinal)];
        return new ProfileReport(profiler.Period, n, total, idle,
            Rows(byFunction.Select(kv => new ProfileRow(kv.Key.Item1, kv.Key.Item2, kv.Value.Sum(), kv.Value))),
            Rows(byMode.Select(kv => new ProfileRow(kv.Key, kv.Key, kv.Value.Sum(), kv.Value))));
    }

    /// <summary>
    /// The recorded stacks in the folded format of flame-graph tools (Brendan Gregg's
    /// flamegraph.pl, speedscope, Perfetto's importers): one line per distinct stack,
    /// "mode;outermost caller;...;caller;function cycles", all vCPUs merged, lines sorted. A
    /// caller is named by the function that holds its return address minus one (the call);
    /// unnamed addresses are printed in hex. Values are modeled cycles (samples x period).
    /// </summary>
    public static IReadOnlyList<string> Folded(Profiler profiler, Symbolizer symbols)
    {
        var byLine = new Dictionary<string, long>(StringComparer.Ordinal);
        var names = new List<string>();
        foreach (var v in profiler.Vcpus)
        {
            foreach (var (stack, count) in v.Stacks)
            {
                names.Clear();
                names.Add(ModeOf(stack.Leaf));
                var callers = stack.Callers;
                for (int i = callers.Length - 1; i >= 0; i--) names.Add(symbols.Lookup(callers[i] - 1) ?? $"0x{callers[i]:x}");
                names.Add(NameOf(stack.Leaf, symbols));
                // ';' separates frames and the last ' ' the value: neither may appear in a name.
                string line = string.Join(';', names.Select(n => n.Replace(';', ':').Replace(' ', '_')));
                byLine[line] = byLine.GetValueOrDefault(line) + count * profiler.Period;
            }
        }
        return [.. byLine.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => $"{kv.Key} {kv.Value}")];
    }
}

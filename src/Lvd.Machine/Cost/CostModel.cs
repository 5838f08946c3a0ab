using System.Text.Json;

namespace Lvd.Machine.Cost;

/// <summary>
/// Modeled cycles per event, loaded from one user-editable JSON file (config/costs.json is the
/// default, embedded in this assembly). Every guest-visible time (RDTSC, APIC timer, rates)
/// derives from these numbers, never from host time.
/// </summary>
public sealed class CostModel
{
    public string SourcePath { get; }
    public long ClockHz { get; }
    public IReadOnlyDictionary<string, CostEntry> Entries { get; }

    public int Insn { get; }
    public int Branch { get; }
    public int Mul { get; }
    public int Div { get; }
    public int StringIteration { get; }
    public int MemRef { get; }
    public int Vmfunc { get; }
    public int Syscall { get; }
    public int Sysret { get; }
    public int VmExit { get; }
    public int HvDispatch { get; }
    public int Msr { get; }
    public int PortIo { get; }
    public int MovCr3 { get; }
    public int MovCr { get; }
    public int Cpuid { get; }
    public int Rdtsc { get; }
    public int Interrupt { get; }
    public int IstSwitch { get; }
    public int Iretq { get; }
    public int Serializing { get; }
    public int Wrpkru { get; }

    private CostModel(string sourcePath, long clockHz, Dictionary<string, CostEntry> entries)
    {
        SourcePath = sourcePath;
        ClockHz = clockHz;
        Entries = entries;
        int Get(string name) => entries.TryGetValue(name, out var e)
            ? e.Cycles
            : throw new CostModelException($"{sourcePath}: missing cost entry \"{name}\"");
        Insn = Get("insn");
        Branch = Get("branch");
        Mul = Get("mul");
        Div = Get("div");
        StringIteration = Get("string_iteration");
        MemRef = Get("mem_ref");
        Vmfunc = Get("vmfunc");
        Syscall = Get("syscall");
        Sysret = Get("sysret");
        VmExit = Get("vmexit");
        HvDispatch = Get("hv_dispatch");
        Msr = Get("msr");
        PortIo = Get("port_io");
        MovCr3 = Get("mov_cr3");
        MovCr = Get("mov_cr");
        Cpuid = Get("cpuid");
        Rdtsc = Get("rdtsc");
        Interrupt = Get("interrupt");
        IstSwitch = Get("ist_switch");
        Iretq = Get("iretq");
        Serializing = Get("serializing");
        Wrpkru = Get("wrpkru");
    }

    /// <summary>The defaults shipped with the project (config/costs.json, embedded).</summary>
    public static CostModel Default { get; } = LoadDefault();

    private static CostModel LoadDefault()
    {
        using var s = typeof(CostModel).Assembly.GetManifestResourceStream("Lvd.Machine.costs.json")
            ?? throw new InvalidOperationException("embedded costs.json missing from Lvd.Machine");
        using var r = new StreamReader(s);
        return Parse(r.ReadToEnd(), "config/costs.json (built in)");
    }

    public static CostModel Load(string path)
    {
        string text;
        try { text = File.ReadAllText(path); }
        catch (IOException e) { throw new CostModelException($"cannot read cost file {path}: {e.Message}"); }
        catch (UnauthorizedAccessException e) { throw new CostModelException($"cannot read cost file {path}: {e.Message}"); }
        return Parse(text, path);
    }

    public static CostModel Parse(string json, string sourcePath)
    {
        try
        {
            using var doc = JsonDocument.Parse(json);
            var root = doc.RootElement;
            long hz = root.GetProperty("clock_hz").GetInt64();
            if (hz <= 0) throw new CostModelException($"{sourcePath}: clock_hz must be positive");
            var entries = new Dictionary<string, CostEntry>();
            foreach (var p in root.GetProperty("costs").EnumerateObject())
            {
                int cycles = p.Value.GetProperty("cycles").GetInt32();
                if (cycles < 0) throw new CostModelException($"{sourcePath}: cost \"{p.Name}\" is negative");
                string source = p.Value.TryGetProperty("source", out var src) ? src.GetString() ?? "" : "";
                entries[p.Name] = new CostEntry(p.Name, cycles, source);
            }
            return new CostModel(sourcePath, hz, entries);
        }
        catch (JsonException e) { throw new CostModelException($"{sourcePath}: not valid JSON ({e.Message})"); }
        catch (KeyNotFoundException)
        {
            throw new CostModelException($"{sourcePath}: needs \"clock_hz\" and a \"costs\" object of {{\"cycles\": N, \"source\": \"...\"}} " +
                $"entries");
        }
        catch (InvalidOperationException e) { throw new CostModelException($"{sourcePath}: wrong value type ({e.Message})"); }
        catch (FormatException e) { throw new CostModelException($"{sourcePath}: bad number ({e.Message})"); }
    }
}

public sealed record CostEntry(string Name, int Cycles, string Source);

public sealed class CostModelException(string message) : Exception(message);

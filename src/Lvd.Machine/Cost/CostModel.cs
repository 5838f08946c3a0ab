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

    /// <summary>
    /// SHA-256 (hex) of what the model was read from: the file's text, or for a file with a "base" or a "timing" table,
    /// of the file's hash and theirs.
    /// </summary>
    public string Sha256 { get; private init; } = "";

    /// <summary>The profile's name ("cpi1": one cycle per ordinary instruction; "haswell": the block model).</summary>
    public string Profile { get; private init; } = "cpi1";

    /// <summary>The per-instruction table of the block model (docs/COST-MODEL.md, Block timing), or null: cost file cycles only.</summary>
    public InstructionTimings? Timing { get; private init; }

    /// <summary>One line naming the model: its profile, where it was read from, its hash (every output of a measurement shows it).</summary>
    public string Describe() => $"cost profile {Profile}: {SourcePath}, sha256 {Sha256[..12]}";

    /// <summary>The profiles shipped with the project (config/, embedded): name and file.</summary>
    public static IReadOnlyDictionary<string, string> Profiles { get; } = new Dictionary<string, string>
    {
        ["cpi1"] = "costs.json",
        ["haswell"] = "costs-haswell.json",
        ["znver3"] = "costs-znver3.json",
    };

    /// <summary>A shipped profile by name (<see cref="Profiles"/>).</summary>
    public static CostModel Named(string profile) =>
        Profiles.TryGetValue(profile, out var file) ? Parse(Embedded(file), $"config/{file} (built in)", Embedded)
            : throw new CostModelException($"unknown cost profile '{profile}' (the profiles: {string.Join(", ", Profiles.Keys)})");

    private static string Hash(string text) =>
        Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(text)));

    /// <summary>A file of config/ embedded in this assembly.</summary>
    private static string Embedded(string relative)
    {
        using var s = typeof(CostModel).Assembly.GetManifestResourceStream("Lvd.Machine.config." + relative.Replace('/', '.'))
            ?? throw new CostModelException($"config/{relative} is not built in");
        using var r = new StreamReader(s);
        return r.ReadToEnd();
    }

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
    public int L2Hit { get; }
    public int LlcHit { get; }
    public int Dram { get; }
    public int BranchMispredict { get; }

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
        L2Hit = Get("l2_hit");
        LlcHit = Get("llc_hit");
        Dram = Get("dram");
        BranchMispredict = Get("branch_mispredict");
    }

    /// <summary>The defaults shipped with the project (config/costs.json, embedded).</summary>
    public static CostModel Default { get; } = LoadDefault();

    private static CostModel LoadDefault() => Named("cpi1");

    public static CostModel Load(string path)
    {
        string text;
        try { text = File.ReadAllText(path); }
        catch (IOException e) { throw new CostModelException($"cannot read cost file {path}: {e.Message}"); }
        catch (UnauthorizedAccessException e) { throw new CostModelException($"cannot read cost file {path}: {e.Message}"); }
        string dir = Path.GetDirectoryName(Path.GetFullPath(path)) ?? ".";
        return Parse(text, path, relative =>
        {
            try { return File.ReadAllText(Path.Combine(dir, relative)); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new CostModelException($"{path}: cannot read {relative} ({e.Message})");
            }
        });
    }

    /// <summary>
    /// A cost file's text. "base": another cost file (relative path) whose entries this one starts from and may
    /// override; "timing": a per-instruction table (relative path) for the block model; "profile": its name.
    /// </summary>
    public static CostModel Parse(string json, string sourcePath, Func<string, string>? readRelative = null)
    {
        try
        {
            using var doc = JsonDocument.Parse(json);
            var root = doc.RootElement;
            CostModel? parent = null;
            if (root.TryGetProperty("base", out var b))
            {
                string rel = b.GetString() ?? throw new CostModelException($"{sourcePath}: \"base\" must be a file name");
                if (readRelative == null) throw new CostModelException($"{sourcePath}: a \"base\" needs a cost file on disk");
                parent = Parse(readRelative(rel), $"{sourcePath} -> {rel}", readRelative);
            }
            long hz = root.TryGetProperty("clock_hz", out var clock) ? clock.GetInt64()
                : parent?.ClockHz ?? throw new KeyNotFoundException("clock_hz");
            if (hz <= 0) throw new CostModelException($"{sourcePath}: clock_hz must be positive");
            var entries = parent == null ? new Dictionary<string, CostEntry>() : new Dictionary<string, CostEntry>(parent.Entries);
            var costs = root.TryGetProperty("costs", out var c) ? c : parent != null ? default : throw new KeyNotFoundException("costs");
            InstructionTimings? timing = parent?.Timing;
            string sha = Hash(json);
            if (parent != null) sha = Hash(sha + parent.Sha256);
            if (root.TryGetProperty("timing", out var t))
            {
                string rel = t.GetString() ?? throw new CostModelException($"{sourcePath}: \"timing\" must be a file name");
                if (readRelative == null) throw new CostModelException($"{sourcePath}: a \"timing\" table needs a cost file on disk");
                string table = readRelative(rel);
                timing = InstructionTimings.Parse(table, $"{sourcePath} -> {rel}");
                sha = Hash(sha + Hash(table));
            }
            string profile = root.TryGetProperty("profile", out var pr) ? pr.GetString() ?? "cpi1" : parent?.Profile ?? "cpi1";
            if (costs.ValueKind == JsonValueKind.Object)
            foreach (var p in costs.EnumerateObject())
            {
                int cycles = p.Value.GetProperty("cycles").GetInt32();
                if (cycles < 0) throw new CostModelException($"{sourcePath}: cost \"{p.Name}\" is negative");
                string source = p.Value.TryGetProperty("source", out var src) ? src.GetString() ?? "" : "";
                entries[p.Name] = new CostEntry(p.Name, cycles, source);
            }
            return new CostModel(sourcePath, hz, entries) { Timing = timing, Profile = profile, Sha256 = sha };
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

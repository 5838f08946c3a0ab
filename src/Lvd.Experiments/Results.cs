using System.Diagnostics;
using System.Reflection;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using Lvd.Machine.Cost;

namespace Lvd.Experiments;

/// <summary>
/// Results for scripts (docs/RESULTS.md): every JSON file lvd writes is one object with a
/// "header" (schema, tool version and commit, cost file and its SHA-256, command line, date)
/// and the command's results: numbers as numbers, snake_case keys, units in the key names.
/// </summary>
public static class Results
{
    /// <summary>Raised when the layout of the results changes; scripts check it.</summary>
    public const int SchemaVersion = 1;

    /// <summary>The tool's version (assembly informational version, without a build suffix).</summary>
    public static string Version
    {
        get
        {
            var v = (Assembly.GetEntryAssembly() ?? typeof(Results).Assembly)
                .GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0";
            int plus = v.IndexOf('+');
            return plus < 0 ? v : v[..plus];
        }
    }

    private static string? _commit;

    /// <summary>The repository's commit (short hash, "-dirty" when tracked files changed), or "unknown" outside a git checkout.</summary>
    public static string Commit(string repoRoot)
    {
        if (_commit != null) return _commit;
        string Git(params string[] args)
        {
            var psi = new ProcessStartInfo("git") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = repoRoot };
            foreach (var a in args) psi.ArgumentList.Add(a);
            using var p = Process.Start(psi)!;
            string o = p.StandardOutput.ReadToEnd();
            p.StandardError.ReadToEnd();
            p.WaitForExit();
            if (p.ExitCode != 0) throw new InvalidOperationException();
            return o.Trim();
        }
        try
        {
            string head = Git("rev-parse", "--short=12", "HEAD");
            bool dirty = Git("status", "--porcelain", "--untracked-files=no").Length > 0;
            _commit = head + (dirty ? "-dirty" : "");
        }
        catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            _commit = "unknown";
        }
        return _commit;
    }

    /// <summary>The header of a results file.</summary>
    public static JsonObject Header(string command, CostModel costs, string repoRoot, IEnumerable<string>? commandLine = null) => new()
    {
        ["schema"] = "lvd-results",
        ["schema_version"] = SchemaVersion,
        ["tool"] = "lvd",
        ["tool_version"] = Version,
        ["commit"] = Commit(repoRoot),
        ["command"] = command,
        ["command_line"] = new JsonArray((commandLine ?? Environment.GetCommandLineArgs().Skip(1)).Select(a => (JsonNode?)JsonValue.Create(a))
            .ToArray()),
        ["date_utc"] = DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ"),
        ["cost_file"] = costs.SourcePath,
        ["cost_file_sha256"] = costs.Sha256,
        ["cost_profile"] = costs.Profile,
        ["clock_hz"] = costs.ClockHz,
    };

    public static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    /// <summary>Writes { "header": ..., then the results' members } to a file.</summary>
    public static void Write(string path, JsonObject header, JsonObject results)
    {
        var doc = new JsonObject { ["header"] = header };
        foreach (var (k, v) in results.ToList())
        {
            results.Remove(k);
            doc[k] = v;
        }
        File.WriteAllText(path, doc.ToJsonString(Indented) + "\n");
    }

    /// <summary>"IoInstruction" -> "io_instruction".</summary>
    public static string Snake(string name) => JsonNamingPolicy.SnakeCaseLower.ConvertName(name);

    /// <summary>Counts by name, names in snake_case and sorted.</summary>
    public static JsonObject Counts(IReadOnlyDictionary<string, long> byName)
    {
        var o = new JsonObject();
        foreach (var (k, v) in byName.OrderBy(kv => kv.Key)) o[Snake(k)] = v;
        return o;
    }

    /// <summary>A serialisable value as a JSON node (snake_case property names).</summary>
    public static JsonNode? Node<T>(T value) => JsonSerializer.SerializeToNode(value, SnakeCase);

    public static readonly JsonSerializerOptions SnakeCase = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DictionaryKeyPolicy = null };
}

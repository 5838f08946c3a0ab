using Lvd.Idl;

namespace Lvd.Toolchain;

/// <summary>
/// Generates the cross-domain glue of every interface in idl/ (not idl/examples) into build/glue
/// with the IDL compiler (docs/IDL.md), before the kernel and the domains are built: the glue is
/// never committed. guest/kernel/build.sh and guest/domains/build.sh read it from the directory
/// named by LVD_GLUE_DIR; run by hand, they generate it themselves with `./lvd idl`.
/// A file is rewritten only when its content changes.
/// </summary>
public static class GlueGenerator
{
    public const string EnvironmentVariable = "LVD_GLUE_DIR";

    public static string Generate(string repoRoot)
    {
        string outDir = Path.Combine(repoRoot, "build", "glue");
        Directory.CreateDirectory(outDir);
        string idlDir = Path.Combine(repoRoot, "idl");
        if (!Directory.Exists(idlDir)) return outDir;
        foreach (string idl in Directory.GetFiles(idlDir, "*.idl").OrderBy(f => f, StringComparer.Ordinal))
        {
            var result = IdlCompiler.Compile(Path.Combine("idl", Path.GetFileName(idl)), File.ReadAllText(idl));
            if (!result.Succeeded)
                throw new GuestCompilerException(string.Join("\n", result.Diagnostics.Select(d => d.Format())));
            foreach (var (name, content) in result.GeneratedFiles)
            {
                string path = Path.Combine(outDir, name);
                if (File.Exists(path) && File.ReadAllText(path) == content) continue;
                // Builds may run at once (parallel tests, lvd bench): write aside, rename into place.
                string tmp = $"{path}.{System.Environment.ProcessId}.{Guid.NewGuid():N}.tmp";
                File.WriteAllText(tmp, content);
                File.Move(tmp, path, overwrite: true);
            }
        }
        return outDir;
    }

    /// <summary>The environment the guest build scripts get: where the generated glue is.</summary>
    public static IReadOnlyDictionary<string, string> Environment(string repoRoot) =>
        new Dictionary<string, string> { [EnvironmentVariable] = Generate(repoRoot) };
}

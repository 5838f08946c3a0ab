using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;

namespace Lvd.Toolchain;

/// <summary>
/// Built guest images (the kernel, domains, programs) kept in <c>build/cache</c> under a hash of
/// everything their build reads: the whole guest/ tree (sources, headers, build scripts,
/// guest/flags), idl/, the generated lvd_abi.h and glue, the compiler's identity (its path and
/// `--version`), the flags, and a user's own sources. An image whose inputs did not change is
/// not rebuilt: `lvd boot` runs no gcc the second time. A new image is built under a private
/// temporary name and published by rename (atomic), so concurrent processes (parallel tests)
/// see a complete image or none; two that build the same key at once both produce it, the
/// last rename wins, and both files are identical.
/// </summary>
public static class ImageCache
{
    private static readonly ConcurrentDictionary<string, string> CompilerIds = new();

    /// <summary>A key under construction (SHA-256 over named parts).</summary>
    public sealed class Key
    {
        private readonly IncrementalHash _sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);

        public Key Text(string s)
        {
            _sha.AppendData(Encoding.UTF8.GetBytes(s + "\0"));
            return this;
        }

        /// <summary>A file's name (as given) and content; a missing file counts as such.</summary>
        public Key File(string path, string? name = null)
        {
            Text(name ?? path);
            byte[] bytes;
            try { bytes = System.IO.File.ReadAllBytes(path); }
            catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException) { return Text("<missing>"); }
            _sha.AppendData(bytes);
            return this;
        }

        /// <summary>Every file under <paramref name="dir"/> (recursively unless told), by relative path, in ordinal order.</summary>
        public Key Tree(string dir, bool recursive = true, string pattern = "*")
        {
            Text("tree " + dir);
            if (!Directory.Exists(dir)) return Text("<missing>");
            var files = Directory.GetFiles(dir, pattern, recursive ? SearchOption.AllDirectories : SearchOption.TopDirectoryOnly);
            Array.Sort(files, StringComparer.Ordinal);
            // Another process's half-written file (written aside, then renamed) is not an input.
            foreach (string f in files)
                if (!f.EndsWith(".tmp", StringComparison.Ordinal)) File(f, Path.GetRelativePath(dir, f));
            return this;
        }

        /// <summary>The compiler: its path and what `--version` prints (memoized per process).</summary>
        public Key Compiler(string gcc) => Text(gcc).Text(CompilerIds.GetOrAdd(gcc, g =>
        {
            var r = ProcessRunner.Run(g, ["--version"]);
            return r.ExitCode == 0 ? r.Stdout : throw new GuestCompilerException($"{g} --version failed (status {r.ExitCode})");
        }));

        /// <summary>What every guest image depends on: guest/, idl/, the generated headers and glue, and gcc.</summary>
        public Key GuestInputs(GuestCompiler cc, IReadOnlyDictionary<string, string> environment)
        {
            Tree(Path.Combine(cc.RepoRoot, "guest")).Tree(Path.Combine(cc.RepoRoot, "idl")).Tree(cc.AbiIncludeDir);
            foreach (var (name, value) in environment.OrderBy(kv => kv.Key, StringComparer.Ordinal))
                Text(name).Tree(value);
            // The build scripts run `gcc` from PATH; lvd cc runs the compiler it located.
            string pathGcc = ToolLocator.FindOnPath("gcc") ?? "gcc";
            return Compiler(pathGcc).Compiler(cc.GccPath);
        }

        public string Hex() => Convert.ToHexStringLower(_sha.GetHashAndReset())[..24];
    }

    /// <summary>
    /// The cached image <c>build/cache/NAME-KEY.elf</c>, built by <paramref name="build"/> (given the
    /// temporary path to write) when absent.
    /// </summary>
    public static string GetOrBuild(string repoRoot, string name, Key key, Action<string> build)
    {
        string dir = Path.Combine(repoRoot, "build", "cache");
        Directory.CreateDirectory(dir);
        string image = Path.Combine(dir, $"{name}-{key.Hex()}.elf");
        if (File.Exists(image)) return image;
        string tmp = TempName(image);
        try
        {
            build(tmp);
            File.Move(tmp, image, overwrite: true);
        }
        finally
        {
            if (File.Exists(tmp)) File.Delete(tmp);
        }
        return image;
    }

    /// <summary>Copies an image to where callers look for it by name (build/kernel/kernel.elf, ...), by temporary file and rename.</summary>
    public static void Publish(string image, string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        string tmp = TempName(path);
        File.Copy(image, tmp, overwrite: true);
        File.Move(tmp, path, overwrite: true);
    }

    private static string TempName(string path) => $"{path}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp";
}

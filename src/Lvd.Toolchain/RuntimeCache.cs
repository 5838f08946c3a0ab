using System.Security.Cryptography;
using System.Text;

namespace Lvd.Toolchain;

/// <summary>
/// The guest C runtime (guest/libc) built once and kept in <c>build/guest</c> as
/// <c>libc-HASH.a</c> and <c>crt0-HASH.o</c>. HASH covers every source and header, the flags
/// and the compiler, so an edit to the runtime or a new gcc simply yields a new pair.
/// Concurrent builders (two <c>lvd cc</c> at once, parallel tests) each build in a private
/// directory and publish by rename, which is atomic: a reader sees a complete file or none.
/// The archive is published last, so its presence means the pair is complete.
/// </summary>
internal sealed class RuntimeCache
{
    private readonly string _libcDir;
    private readonly string _cacheDir;
    private readonly string _gcc;
    private readonly IReadOnlyList<string> _flags;
    private readonly object _lock = new();
    private (string Crt0, string Archive)? _built;

    public RuntimeCache(string libcDir, string cacheDir, string gcc, IReadOnlyList<string> flags)
    {
        _libcDir = libcDir;
        _cacheDir = cacheDir;
        _gcc = gcc;
        _flags = flags;
    }

    /// <summary>Paths of crt0.o and the runtime archive, building them if no cached pair matches.</summary>
    public (string Crt0, string Archive) Get()
    {
        lock (_lock)
        {
            if (_built is { } done && File.Exists(done.Archive)) return done;

            string[] sources = Sources();
            string hash = Hash(sources);
            string crt0 = Path.Combine(_cacheDir, $"crt0-{hash}.o");
            string archive = Path.Combine(_cacheDir, $"libc-{hash}.a");
            if (!File.Exists(archive) || !File.Exists(crt0)) Build(sources, crt0, archive);
            _built = (crt0, archive);
            return (crt0, archive);
        }
    }

    /// <summary>Compiled sources (*.c, crt0.S), sorted so the hash does not depend on directory order.</summary>
    private string[] Sources()
    {
        string[] files = Directory.GetFiles(_libcDir, "*.c").Concat(Directory.GetFiles(_libcDir, "*.S")).ToArray();
        Array.Sort(files, StringComparer.Ordinal);
        if (!files.Any(f => Path.GetFileName(f) == "crt0.S"))
            throw new GuestCompilerException($"{_libcDir} has no crt0.S: the guest runtime is incomplete");
        return files;
    }

    private string Hash(string[] sources)
    {
        var headers = Directory.GetFiles(_libcDir, "*.h")
            .Concat(Directory.GetFiles(Path.Combine(_libcDir, "include"), "*.h", SearchOption.AllDirectories))
            .ToArray();
        Array.Sort(headers, StringComparer.Ordinal);

        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        void Add(string s) => sha.AppendData(Encoding.UTF8.GetBytes(s + "\0"));
        Add(_gcc);
        foreach (string f in _flags) Add(f);
        foreach (string file in sources.Concat(headers))
        {
            Add(Path.GetRelativePath(_libcDir, file).Replace('\\', '/'));
            sha.AppendData(File.ReadAllBytes(file));
        }
        return Convert.ToHexStringLower(sha.GetHashAndReset())[..16];
    }

    private void Build(string[] sources, string crt0, string archive)
    {
        Directory.CreateDirectory(_cacheDir);
        string tmp = Path.Combine(_cacheDir, $"tmp-{Environment.ProcessId}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(tmp);
        try
        {
            // One gcc per source, all at once: a cold build is as slow as its slowest file.
            var objects = sources.Select(s => Path.Combine(tmp, Path.GetFileNameWithoutExtension(s) + ".o")).ToArray();
            var results = sources.Zip(objects)
                .Select(p => Task.Run(() => (Source: p.First, Result: ProcessRunner.Run(_gcc, _flags.Concat(["-c", p.First, "-o", p.Second])))))
                .ToArray();
            Task.WaitAll(results);
            foreach (var (source, result) in results.Select(t => t.Result))
                if (result.ExitCode != 0)
                    throw new GuestCompilerException($"building the guest runtime failed at {source}:\n{result.Stderr.TrimEnd()}");

            string tmpCrt0 = objects.Single(o => Path.GetFileName(o) == "crt0.o");
            string tmpArchive = Path.Combine(tmp, "libc.a");
            var members = objects.Where(o => o != tmpCrt0);
            var ar = ProcessRunner.Run(Archiver(), new[] { "rcs", tmpArchive }.Concat(members));
            if (ar.ExitCode != 0)
                throw new GuestCompilerException($"building the guest runtime archive failed:\n{ar.Stderr.TrimEnd()}");

            File.Move(tmpCrt0, crt0, overwrite: true);
            File.Move(tmpArchive, archive, overwrite: true);
        }
        finally
        {
            try { Directory.Delete(tmp, recursive: true); }
            catch (IOException) { }   // a leftover temp directory is harmless
        }
    }

    /// <summary>The ar that goes with our gcc: x86_64-linux-gnu-gcc-12 pairs with x86_64-linux-gnu-ar.</summary>
    private string Archiver()
    {
        string name = Path.GetFileName(_gcc);
        int at = name.LastIndexOf("gcc", StringComparison.Ordinal);
        if (at > 0)
        {
            string prefixed = Path.Combine(Path.GetDirectoryName(_gcc) ?? "", name[..at] + "ar");
            if (File.Exists(prefixed)) return prefixed;
        }
        return ToolLocator.FindOnPath("ar")
            ?? throw new GuestCompilerException("'ar' not found on PATH: install binutils");
    }
}

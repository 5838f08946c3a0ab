using ELFSharp.ELF;
using ELFSharp.ELF.Sections;

namespace Lvd.Toolchain;

/// <summary>
/// Builds LVD domain images with guest/domains/build.sh (docs/DOMAINS.md): the domain library
/// plus a driver, linked at LVD_DOMAIN_BASE. A driver is a directory under guest/domains
/// ("nullnet") or a user's own .c file or directory.
/// </summary>
public static class DomainBuilder
{
    /// <summary>
    /// The functions a user's driver must define (guest/domains/lib/lvd_driver.h), with their
    /// signatures: a driver without one gets this message instead of the linker's.
    /// </summary>
    public static readonly (string Name, string Signature)[] EntryPoints =
    [
        ("driver_init", "long driver_init(unsigned int ncpu)"),
        ("driver_call", "long driver_call(struct lvd_msg *m)"),
    ];

    private static bool IsBuiltIn(GuestCompiler cc, string driver) =>
        !driver.Contains('/') && Directory.Exists(Path.Combine(cc.RepoRoot, "guest", "domains", driver));

    /// <summary>The module name of a driver: its file or directory name without .c (the kernel's domain= word).</summary>
    public static string Name(string driver) => Path.GetFileNameWithoutExtension(driver.TrimEnd('/'));

    /// <summary>
    /// Builds the driver, or finds it in the image cache (ImageCache), and returns (module name, ELF path in build/cache;
    /// also copied to build/domains/NAME.elf).
    /// </summary>
    public static (string Name, string Elf) Build(GuestCompiler cc, string driver)
    {
        string script = Path.Combine(cc.RepoRoot, "guest", "domains", "build.sh");
        bool builtIn = IsBuiltIn(cc, driver);
        string source = builtIn ? Path.Combine(cc.RepoRoot, "guest", "domains", driver) : Path.GetFullPath(driver);
        if (!Directory.Exists(source) && !File.Exists(source))
            throw new GuestCompilerException($"{driver}: no such driver (a directory under guest/domains, or a .c file or directory of your own)");
        string name = Name(source);
        if (name.Length is 0 or > 15) throw new GuestCompilerException($"{driver}: a domain name must be 1 to 15 characters");
        string elf = Path.Combine(cc.RepoRoot, "build", "domains", name + ".elf");
        var baseEnv = cc.BuildEnvironment();
        var key = new ImageCache.Key().Text($"domain {name} {(builtIn ? "built-in" : "user")}").GuestInputs(cc, baseEnv);
        // A user's driver: its .c file and the headers beside it, or every file of its directory.
        if (!builtIn) { if (File.Exists(source)) key.File(source).Tree(Path.GetDirectoryName(source)!, false, "*.h"); else key.Tree(source, false); }
        string image = ImageCache.GetOrBuild(cc.RepoRoot, "domain-" + name, key, tmp => Compile(script, source, tmp, builtIn, driver, cc, baseEnv));
        ImageCache.Publish(image, elf);
        return (name, image);
    }

    private static void Compile(string script, string source, string tmp, bool builtIn, string driver, GuestCompiler cc,
        IReadOnlyDictionary<string, string> baseEnv)
    {
        string objs = tmp + ".objs";
        var env = new Dictionary<string, string>(baseEnv);
        if (!builtIn)
        {
            Directory.CreateDirectory(objs);
            env["LVD_DRIVER_OBJS"] = objs;
        }
        try
        {
            var r = ProcessRunner.Run("bash", [script, source, tmp], cc.RepoRoot, env);
            if (r.ExitCode != 0)
            {
                // Compiled but not linked: a missing entry point is named, not left to the linker.
                if (!builtIn && MissingEntryPoint(objs) is { } missing)
                    throw new GuestCompilerException($"--domain {driver}: the driver does not define {missing.Name}; a driver defines " +
                        $"`{missing.Signature}` (and " +
                            $"{string.Join(", ", EntryPoints.Where(e => e.Name != missing.Name).Select(e => "`" + e.Signature + "`"))}; " +
                            $"guest/domains/lib/lvd_driver.h)");
                throw new GuestCompilerException($"domain build failed ({driver}, status {r.ExitCode}):\n{r.Stdout}{r.Stderr}".TrimEnd());
            }
        }
        finally
        {
            if (Directory.Exists(objs)) Directory.Delete(objs, recursive: true);
        }
    }

    /// <summary>
    /// The first entry point that no object of the driver defines as a global function, or null
    /// (also when the driver did not compile: no objects, the compiler's message stands).
    /// </summary>
    public static (string Name, string Signature)? MissingEntryPoint(string objectDir)
    {
        var objects = Directory.Exists(objectDir) ? Directory.GetFiles(objectDir, "*.o") : [];
        if (objects.Length == 0) return null;
        var defined = new HashSet<string>();
        foreach (var o in objects)
        {
            using var obj = ELFReader.Load(o);
            if (obj is not ELF<ulong> elf || !elf.TryGetSection(".symtab", out var sec) || sec is not ISymbolTable table) continue;
            foreach (var entry in table.Entries)
                if (entry is SymbolEntry<ulong> e && e.Type == SymbolType.Function && e.Binding is SymbolBinding.Global or SymbolBinding.Weak
                    && e.PointedSectionIndex != 0)
                    defined.Add(e.Name);
        }
        foreach (var ep in EntryPoints)
            if (!defined.Contains(ep.Name)) return ep;
        return null;
    }
}

namespace Lvd.Toolchain;

/// <summary>
/// <c>lvd cc</c>: gcc, set up to produce guest programs. The result is a static, non-PIE
/// x86-64 ELF linked at 0x400000 by guest/libc/exec.ld, started by guest/libc/crt0.S and
/// linked against the guest C runtime (guest/libc), which is built once and cached.
/// See guest/libc/README.md for the execution ABI; the flags are guest/flags (GuestFlags), each explained there.
/// </summary>
public sealed class GuestCompiler
{
    // The flags of guest/flags (GuestFlags): code generation for everything that runs in the
    // guest and position-dependent programs; the runtime alone is also freestanding (user code
    // keeps builtins, like a Linux build); the static link.
    private readonly string[] _codegenFlags;
    private readonly string[] _runtimeFlags;
    private readonly string[] _linkFlags;
    private readonly string _repoRoot;
    private readonly string _libcDir;
    private readonly string _gcc;
    private readonly string[] _includeFlags;
    private readonly RuntimeCache _runtime;

    private GuestCompiler(string repoRoot, string gcc)
    {
        _repoRoot = repoRoot;
        _libcDir = Path.Combine(repoRoot, "guest", "libc");
        _gcc = gcc;
        var flags = GuestFlags.Load(repoRoot);
        _codegenFlags = flags.Of("codegen", "program");
        _runtimeFlags = flags.Of("freestanding", "runtime");
        _linkFlags = flags.Of("link");
        // -nostdinc keeps the host's /usr/include out: a header the runtime lacks is a compile
        // error, not a glibc declaration that fails at link time. gcc's own directory supplies
        // stddef.h, stdarg.h, stdbool.h, float.h and the rest of the freestanding headers.
        // guest/include holds headers shared by guest programs (the hypercall wrappers);
        // build/guest/include the generated lvd_abi.h (exit reasons, hypercall numbers).
        string generated = GenerateAbiHeader(repoRoot);
        AbiIncludeDir = generated;
        _includeFlags = ["-nostdinc", "-isystem", Path.Combine(_libcDir, "include"), "-isystem", GccIncludeDir(gcc),
            "-I", Path.Combine(repoRoot, "guest", "include"), "-I", generated];
        _runtime = new RuntimeCache(_libcDir, Path.Combine(repoRoot, "build", "guest"), gcc,
            [.. _codegenFlags, .. _runtimeFlags, .. _includeFlags]);
        _generalRegsRuntime = new RuntimeCache(_libcDir, Path.Combine(repoRoot, "build", "guest"), gcc,
            [.. flags.Of("general-regs", "codegen", "program"), .. _runtimeFlags, .. _includeFlags]);
    }

    /// <summary>The runtime of programs built with -mgeneral-regs-only (guest/flags [general-regs]): no SSE/x87 code in it either.</summary>
    private readonly RuntimeCache _generalRegsRuntime;

    /// <summary>Writes build/guest/include/lvd_abi.h from the C# definitions (only when it changed).</summary>
    private static string GenerateAbiHeader(string repoRoot)
    {
        string dir = Path.Combine(repoRoot, "build", "guest", "include");
        Directory.CreateDirectory(dir);
        string path = Path.Combine(dir, Lvd.Hypervisor.AbiHeader.FileName);
        string text = Lvd.Hypervisor.AbiHeader.Generate();
        if (!File.Exists(path) || File.ReadAllText(path) != text)
        {
            string tmp = path + $".{Environment.ProcessId}.{Guid.NewGuid():N}.tmp";
            File.WriteAllText(tmp, text);
            File.Move(tmp, path, overwrite: true);
        }
        return dir;
    }

    /// <summary>The directory of the generated lvd_abi.h (build/guest/include), written when this compiler was made.</summary>
    public string AbiIncludeDir { get; }

    /// <summary>The environment the guest build scripts get (guest/common.sh): the generated glue and lvd_abi.h.</summary>
    public IReadOnlyDictionary<string, string> BuildEnvironment() =>
        new Dictionary<string, string>(GlueGenerator.Environment(_repoRoot)) { ["LVD_ABI_DIR"] = AbiIncludeDir };

    /// <summary>The repository whose guest/libc this compiler uses.</summary>
    public string RepoRoot => _repoRoot;

    /// <summary>The gcc it runs.</summary>
    public string GccPath => _gcc;

    /// <summary>
    /// Finds the repository (LVD_ROOT, else upwards from this assembly, else from the current
    /// directory; or <paramref name="repoRoot"/> if given) and gcc (LVD_GCC, else
    /// x86_64-linux-gnu-gcc, else gcc on PATH).
    /// </summary>
    /// <exception cref="GuestCompilerException">No repository or no gcc.</exception>
    public static GuestCompiler Locate(string? repoRoot = null)
    {
        string root;
        if (repoRoot != null)
        {
            if (!File.Exists(Path.Combine(repoRoot, ToolLocator.Marker)))
                throw new GuestCompilerException($"{repoRoot} is not an LVD# repository: it has no {ToolLocator.Marker}");
            root = Path.GetFullPath(repoRoot);
        }
        else
        {
            root = ToolLocator.FindRepoRoot();
        }
        return new GuestCompiler(root, ToolLocator.FindGcc());
    }

    /// <summary>
    /// The whole <c>lvd cc</c> command for a CLI: runs <see cref="Compile"/> and turns a
    /// <see cref="GuestCompilerException"/> into one "lvd cc: ..." line on stderr and exit code 2.
    /// Otherwise returns gcc's exit code.
    /// </summary>
    public static int Run(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr)
    {
        try
        {
            return Locate().Compile(args, stdout, stderr);
        }
        catch (GuestCompilerException e)
        {
            stderr.WriteLine($"lvd cc: {e.Message}");
            return 2;
        }
    }

    /// <summary>
    /// <c>lvd cc [options] file.c ... [-o out.elf]</c>: compiles and links a guest program
    /// (default output a.out.elf). Options: -O* -g* -W* -f* -m* -std=* -ansi -pedantic* -I -D -U -w -o, and
    /// -c/-S/-E to stop before linking. gcc's output and diagnostics go to the given writers.
    /// </summary>
    /// <returns>gcc's exit code.</returns>
    /// <exception cref="GuestCompilerException">
    /// An unsupported option, a missing input file, no gcc, or a runtime that fails to build.
    /// </exception>
    public int Compile(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr)
    {
        CcArguments cc = CcArguments.Parse(args);
        foreach (string input in cc.Inputs)
            if (!File.Exists(input)) throw new GuestCompilerException($"input file '{input}' not found");

        List<string> command = GccCommand(cc);
        if (cc.Verbose) stderr.WriteLine(ProcessRunner.Format(_gcc, command));

        var result = ProcessRunner.Run(_gcc, command);
        stdout.Write(result.Stdout);
        stderr.Write(result.Stderr);
        return result.ExitCode;
    }

    /// <summary>
    /// Builds <paramref name="sources"/> into <paramref name="outputPath"/> (its directory is
    /// created) with <paramref name="extraFlags"/> before the sources, e.g. "-O2"; an unchanged
    /// build comes from the image cache (ImageCache).
    /// </summary>
    /// <returns>The full path of the output.</returns>
    /// <exception cref="GuestCompilerException">Anything fails; the message holds gcc's diagnostics.</exception>
    public string Build(IEnumerable<string> sources, string outputPath, params string[] extraFlags) =>
        Build(sources, outputPath, extraFlags, cache: true);

    /// <summary>
    /// <see cref="Build(IEnumerable{string}, string, string[])"/>; <paramref name="cache"/> false for
    /// programs built once and thrown away (random csmith programs), which would only fill the cache.
    /// </summary>
    public string Build(IEnumerable<string> sources, string outputPath, IReadOnlyList<string> extraFlags, bool cache)
    {
        string output = Path.GetFullPath(outputPath);
        Directory.CreateDirectory(Path.GetDirectoryName(output)!);
        string[] inputs = [.. sources];
        if (!cache)
        {
            Link(inputs, output, extraFlags);
            return output;
        }
        foreach (string input in inputs)
            if (!File.Exists(input)) throw new GuestCompilerException($"input file '{input}' not found");
        // The key: the whole command (flags, runtime archive named by its own hash), the guest tree,
        // each source with the headers beside it, and the headers of every -I directory given.
        var key = new ImageCache.Key().Text("program").GuestInputs(this, new Dictionary<string, string>());
        foreach (string a in GccArguments([.. extraFlags, .. inputs, "-o", "OUT"])) key.Text(a);
        foreach (string input in inputs) key.File(input).Tree(Path.GetDirectoryName(Path.GetFullPath(input))!, false, "*.h");
        for (int i = 0; i + 1 < extraFlags.Count; i++)
            if (extraFlags[i] is "-I" or "-isystem" or "-iquote") key.Tree(extraFlags[i + 1], true, "*.h");
        foreach (string f in extraFlags)
            if (f.StartsWith("-I", StringComparison.Ordinal) && f.Length > 2) key.Tree(f[2..], true, "*.h");
        string image = ImageCache.GetOrBuild(_repoRoot, Path.GetFileNameWithoutExtension(output), key, tmp => Link(inputs, tmp, extraFlags));
        ImageCache.Publish(image, output);
        return output;
    }

    private void Link(string[] inputs, string output, IReadOnlyList<string> extraFlags)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int rc = Compile([.. extraFlags, .. inputs, "-o", output], stdout, stderr);
        if (rc != 0)
            throw new GuestCompilerException($"gcc failed (exit code {rc}) building {output}:\n{stderr.ToString().TrimEnd()}");
    }

    /// <summary>The gcc arguments <see cref="Compile"/> would run for <paramref name="args"/> (builds the runtime if needed).</summary>
    public IReadOnlyList<string> GccArguments(IReadOnlyList<string> args) => GccCommand(CcArguments.Parse(args));

    private List<string> GccCommand(CcArguments cc)
    {
        // User flags come after ours, so that where they disagree the user's win. (A user -I
        // is searched before our -isystem directories whatever the order.)
        var command = new List<string>();
        command.AddRange(_codegenFlags);
        command.AddRange(_includeFlags);
        command.AddRange(cc.Flags);

        if (!cc.Link)
        {
            command.AddRange(cc.Inputs);
            if (cc.Output != null) command.AddRange(["-o", cc.Output]);
            return command;
        }

        // The runtime and libgcc (128-bit division and the like) in one group, since each
        // may need the other; crt0 first, so _start opens .text at the entry address.
        // A program that may not touch the SSE/x87 state links the runtime built the same way.
        bool generalRegs = cc.Flags.Contains("-mgeneral-regs-only");
        var (crt0, archive) = (generalRegs ? _generalRegsRuntime : _runtime).Get();
        command.AddRange(_linkFlags);
        command.AddRange(["-T", Path.Combine(_libcDir, "exec.ld"), crt0]);
        command.AddRange(cc.Inputs);
        command.AddRange(["-Wl,--start-group", archive, "-lgcc", "-Wl,--end-group"]);
        command.AddRange(["-o", cc.Output ?? "a.out.elf"]);
        return command;
    }

    /// <summary>gcc's own header directory (stddef.h, stdarg.h, stdint-gcc.h, limits.h, ...).</summary>
    private static string GccIncludeDir(string gcc)
    {
        var result = ProcessRunner.Run(gcc, ["-print-file-name=include"]);
        string dir = result.Stdout.Trim();
        if (result.ExitCode != 0 || !Directory.Exists(dir))
            throw new GuestCompilerException($"{gcc} does not report its header directory (gcc -print-file-name=include gave '{dir}')");
        return dir;
    }
}

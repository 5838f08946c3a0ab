namespace Lvd.Tests.Support;

/// <summary>Builds guest programs (lvd cc) and host programs (gcc) for tests, and runs them.</summary>
internal static class Guest
{
    private static readonly Lazy<GuestCompiler> Compiler = new(() => GuestCompiler.Locate());

    public static GuestCompiler Cc => Compiler.Value;

    public static string Root => Cc.RepoRoot;

    public static string Path(params string[] parts) => System.IO.Path.Combine([Root, .. parts]);

    public static string TempDir(string name)
    {
        string dir = System.IO.Path.Combine(Root, "build", "tests", name);
        Directory.CreateDirectory(dir);
        return dir;
    }

    /// <summary>
    /// Builds a guest ELF from repo-relative sources, with -mgeneral-regs-only: the test programs set up
    /// traps, turn the FPU off (CR0.TS/EM), or keep XMM/x87 state in asm, and their expected cycles were
    /// measured so; lvd cc itself gives programs SSE and the x87 (<see cref="BuildWithFloat"/>).
    /// </summary>
    public static string Build(string outName, string[] sources, params string[] flags) =>
        BuildWithFloat(outName, sources, ["-mgeneral-regs-only", .. flags]);

    /// <summary>Builds a guest ELF from repo-relative sources as lvd cc does (SSE and x87 code allowed).</summary>
    public static string BuildWithFloat(string outName, string[] sources, params string[] flags)
    {
        string output = System.IO.Path.Combine(TempDir("elf"), outName);
        Cc.Build(sources.Select(s => Path(s)), output, flags);
        return output;
    }

    /// <summary>Builds a guest ELF from C source text.</summary>
    public static string BuildSource(string name, string source, params string[] flags)
    {
        string dir = TempDir("src");
        string c = System.IO.Path.Combine(dir, name + ".c");
        File.WriteAllText(c, source);
        string output = System.IO.Path.Combine(TempDir("elf"), name + ".elf");
        Cc.Build([c], output, ["-mgeneral-regs-only", .. flags]);
        return output;
    }

    public static ProgramResult Run(string elf, long maxInstructions = 2_000_000_000, RunOptions? options = null) =>
        ProgramRunner.Run(elf, (options ?? new RunOptions()) with { CaptureSerial = true, MaxInstructions = maxInstructions });

    /// <summary>Builds with the host gcc against glibc and runs natively.</summary>
    public static HostProcess.Result Native(string outName, string[] sources, params string[] flags) =>
        NativeWithArguments(outName, sources, flags, []);

    /// <summary>Builds with the host gcc against glibc and runs natively with these arguments.</summary>
    public static HostProcess.Result NativeWithArguments(string outName, string[] sources, string[] flags, string[] arguments)
    {
        string exe = System.IO.Path.Combine(TempDir("native"), outName);
        // Libraries (-lm) after the sources: gcc links --as-needed, so a library before them would be dropped.
        var b = HostProcess.Run("gcc", [.. flags.Where(f => !f.StartsWith("-l")), "-o", exe, .. sources.Select(s => Path(s)),
            .. flags.Where(f => f.StartsWith("-l"))], TimeSpan.FromMinutes(2));
        if (b.ExitCode != 0) throw new InvalidOperationException($"native gcc failed: {b.Stderr}");
        return HostProcess.Run(exe, arguments, TimeSpan.FromMinutes(1));
    }
}

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

    /// <summary>Builds a guest ELF from repo-relative sources.</summary>
    public static string Build(string outName, string[] sources, params string[] flags)
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
        Cc.Build([c], output, flags);
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
        var b = HostProcess.Run("gcc", [.. flags, "-o", exe, .. sources.Select(s => Path(s))], TimeSpan.FromMinutes(2));
        if (b.ExitCode != 0) throw new InvalidOperationException($"native gcc failed: {b.Stderr}");
        return HostProcess.Run(exe, arguments, TimeSpan.FromMinutes(1));
    }
}

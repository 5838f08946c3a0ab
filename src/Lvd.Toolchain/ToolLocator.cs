namespace Lvd.Toolchain;

/// <summary>Finds the repository and the host tools the guest compiler needs.</summary>
internal static class ToolLocator
{
    /// <summary>The file that marks the repository root.</summary>
    public static readonly string Marker = Path.Combine("guest", "libc", "exec.ld");

    /// <summary>
    /// The repository root: LVD_ROOT if set, else the first directory holding guest/libc/exec.ld
    /// above the running assembly (bin/ inside the repository), else above the current directory.
    /// </summary>
    public static string FindRepoRoot()
    {
        string? env = Environment.GetEnvironmentVariable("LVD_ROOT");
        if (!string.IsNullOrEmpty(env))
        {
            if (!File.Exists(Path.Combine(env, Marker)))
                throw new GuestCompilerException($"LVD_ROOT={env} is not an LVD# repository: it has no {Marker}");
            return Path.GetFullPath(env);
        }

        return WalkUp(AppContext.BaseDirectory) ?? WalkUp(Directory.GetCurrentDirectory())
            ?? throw new GuestCompilerException(
                $"cannot find the LVD# repository (no {Marker} here or above); run inside it or set LVD_ROOT");
    }

    private static string? WalkUp(string start)
    {
        for (var dir = new DirectoryInfo(start); dir != null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, Marker))) return dir.FullName;
        return null;
    }

    /// <summary>
    /// The gcc to use: LVD_GCC if set (a name or a path), else x86_64-linux-gnu-gcc (the right
    /// target on any host that has it), else gcc.
    /// </summary>
    public static string FindGcc()
    {
        string? env = Environment.GetEnvironmentVariable("LVD_GCC");
        if (!string.IsNullOrEmpty(env))
        {
            return (env.Contains(Path.DirectorySeparatorChar) ? (File.Exists(env) ? Path.GetFullPath(env) : null) : FindOnPath(env))
                ?? throw new GuestCompilerException($"LVD_GCC={env}: no such program");
        }
        return FindOnPath("x86_64-linux-gnu-gcc") ?? FindOnPath("gcc")
            ?? throw new GuestCompilerException("gcc not found on PATH: install gcc (Debian: apt install gcc) or set LVD_GCC");
    }

    public static string? FindOnPath(string name)
    {
        foreach (string dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator))
        {
            if (dir.Length == 0) continue;
            string candidate = Path.Combine(dir, name);
            if (File.Exists(candidate)) return candidate;
        }
        return null;
    }
}

namespace Lvd.Toolchain;

/// <summary>
/// Builds the guest kernel with guest/kernel/build.sh (the flags are guest/flags', GuestFlags), after generating the
/// IDL glue it links (GlueGenerator).
/// </summary>
public static class KernelBuilder
{
    public static string Build(GuestCompiler cc)
    {
        string script = Path.Combine(cc.RepoRoot, "guest", "kernel", "build.sh");
        if (!File.Exists(script)) throw new GuestCompilerException($"{script}: no kernel build script (guest/kernel is not there yet)");
        string dir = Path.Combine(cc.RepoRoot, "build", "kernel");
        Directory.CreateDirectory(dir);
        string elf = Path.Combine(dir, "kernel.elf");
        // Several builds may run at once (parallel tests, lvd bench): each writes its own file
        // and renames it into place, so nobody ever reads a half-written image.
        string tmp = $"{elf}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp";
        var r = ProcessRunner.Run("bash", [script, tmp], cc.RepoRoot, cc.BuildEnvironment());
        if (r.ExitCode != 0)
        {
            File.Delete(tmp);
            throw new GuestCompilerException($"kernel build failed (guest/kernel/build.sh, status {r.ExitCode}):\n{r.Stdout}{r.Stderr}".TrimEnd());
        }
        File.Move(tmp, elf, overwrite: true);
        return elf;
    }
}

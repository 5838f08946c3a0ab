namespace Lvd.Toolchain;

/// <summary>
/// Builds the guest kernel with guest/kernel/build.sh (the flags are guest/flags', GuestFlags), after generating the
/// IDL glue it links (GlueGenerator). The image is cached (ImageCache): unchanged inputs, no gcc.
/// </summary>
public static class KernelBuilder
{
    /// <summary>The kernel image (in build/cache; also copied to build/kernel/kernel.elf).</summary>
    public static string Build(GuestCompiler cc)
    {
        string script = Path.Combine(cc.RepoRoot, "guest", "kernel", "build.sh");
        if (!File.Exists(script)) throw new GuestCompilerException($"{script}: no kernel build script (guest/kernel is not there yet)");
        var env = cc.BuildEnvironment();
        string image = ImageCache.GetOrBuild(cc.RepoRoot, "kernel", new ImageCache.Key().Text("kernel").GuestInputs(cc, env), tmp =>
        {
            var r = ProcessRunner.Run("bash", [script, tmp], cc.RepoRoot, env);
            if (r.ExitCode != 0)
                throw new GuestCompilerException(
                    $"kernel build failed (guest/kernel/build.sh, status {r.ExitCode}):\n{r.Stdout}{r.Stderr}".TrimEnd());
        });
        ImageCache.Publish(image, Path.Combine(cc.RepoRoot, "build", "kernel", "kernel.elf"));
        return image;
    }
}

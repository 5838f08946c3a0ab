namespace Lvd.Toolchain;

/// <summary>
/// Builds the guest kernel with guest/kernel/build.sh (the flags are guest/flags', GuestFlags), after generating the
/// IDL glue it links (GlueGenerator). The image is cached (ImageCache): unchanged inputs, no gcc.
/// </summary>
public static class KernelBuilder
{
    /// <summary>The configurations besides the default: "ixgbe" adds the ixgbe driver and PCI support (guest/kernel/build.sh).</summary>
    public static readonly string[] Configs = ["ixgbe"];

    /// <summary>
    /// The kernel image (in build/cache; also copied to build/kernel/kernel.elf, or kernel-CONFIG.elf for a
    /// configuration other than the default).
    /// </summary>
    public static string Build(GuestCompiler cc, string? config = null)
    {
        string script = Path.Combine(cc.RepoRoot, "guest", "kernel", "build.sh");
        if (!File.Exists(script)) throw new GuestCompilerException($"{script}: no kernel build script (guest/kernel is not there yet)");
        if (config != null && !Configs.Contains(config))
            throw new ArgumentException($"kernel configuration {config}: one of {string.Join(", ", Configs)}");
        var inputs = cc.BuildEnvironment();
        var env = new Dictionary<string, string>(inputs);
        if (config != null) env["LVD_KERNEL_CONFIG"] = config;
        string name = config == null ? "kernel" : "kernel-" + config;
        var key = new ImageCache.Key().Text("kernel");
        if (config != null) key = key.Text(config);
        string image = ImageCache.GetOrBuild(cc.RepoRoot, name, key.GuestInputs(cc, inputs), tmp =>
        {
            var r = ProcessRunner.Run("bash", [script, tmp], cc.RepoRoot, env);
            if (r.ExitCode != 0)
                throw new GuestCompilerException(
                    $"kernel build failed (guest/kernel/build.sh, status {r.ExitCode}):\n{r.Stdout}{r.Stderr}".TrimEnd());
        });
        ImageCache.Publish(image, Path.Combine(cc.RepoRoot, "build", "kernel", name + ".elf"));
        return image;
    }
}

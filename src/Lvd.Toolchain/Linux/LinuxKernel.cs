namespace Lvd.Toolchain.Linux;

/// <summary>
/// The Linux kernel `lvd linux` boots, built by guest/linux/build.sh from Debian's
/// linux-source-6.1 with guest/linux/lvd.config into ~/.cache/lvd/linux/KEY (docs/LINUX.md): a
/// build whose inputs did not change costs nothing. The script's progress goes to our stderr.
/// </summary>
public sealed record LinuxKernel(string Directory)
{
    public string Vmlinux => Path.Combine(Directory, "vmlinux");
    public string BzImage => Path.Combine(Directory, "bzImage");
    public string Config => Path.Combine(Directory, ".config");

    public static string Script(string repoRoot) => Path.Combine(repoRoot, "guest", "linux", "build.sh");

    /// <summary>Builds the kernel when needed (minutes the first time) and returns where it is.</summary>
    public static LinuxKernel Build(string repoRoot)
    {
        string dir = BuildScript.Run(Script(repoRoot), "the Linux kernel", []);
        var kernel = new LinuxKernel(dir);
        if (!File.Exists(kernel.Vmlinux) || !File.Exists(kernel.BzImage))
            throw new GuestCompilerException($"guest/linux/build.sh printed {dir}, which holds no vmlinux and bzImage");
        return kernel;
    }
}

namespace Lvd.Toolchain.Linux;

/// <summary>
/// The LVD module for Linux, lvd_hv.ko (guest/linux/lvd: late launch of the LVD hypervisor on
/// every CPU at insmod, devirtualization at rmmod; docs/LINUX.md), built by
/// guest/linux/lvd/build.sh against the kernel tree of <see cref="LinuxKernel"/> with the
/// generated lvd_abi.h, cached in ~/.cache/lvd/linux/lvd_hv-KEY by a hash of its inputs.
/// </summary>
public sealed record LinuxModule(string Path)
{
    public static string Script(string repoRoot) => System.IO.Path.Combine(repoRoot, "guest", "linux", "lvd", "build.sh");

    /// <summary>Builds the module when needed (a few seconds) and returns where it is.</summary>
    public static LinuxModule Build(string repoRoot, LinuxKernel kernel)
    {
        string ko = BuildScript.Run(Script(repoRoot), "the LVD module", [kernel.Directory],
            new Dictionary<string, string> { ["LVD_ABI_DIR"] = GuestCompiler.Locate(repoRoot).AbiIncludeDir });
        if (!File.Exists(ko)) throw new GuestCompilerException($"guest/linux/lvd/build.sh printed {ko}, which does not exist");
        return new LinuxModule(ko);
    }
}

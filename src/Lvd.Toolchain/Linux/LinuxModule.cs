using System.ComponentModel;
using System.Diagnostics;

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
        string script = Script(repoRoot);
        if (!File.Exists(script)) throw new GuestCompilerException($"{script}: the module's build script is missing");
        var info = new ProcessStartInfo("bash") { RedirectStandardOutput = true, UseShellExecute = false };
        info.ArgumentList.Add(script);
        info.ArgumentList.Add(kernel.Directory);
        info.Environment["LVD_ABI_DIR"] = GuestCompiler.Locate(repoRoot).AbiIncludeDir;
        Process process;
        try { process = Process.Start(info) ?? throw new GuestCompilerException("could not start bash"); }
        catch (Win32Exception e) { throw new GuestCompilerException($"could not run bash: {e.Message}", e); }
        using (process)
        {
            string stdout = process.StandardOutput.ReadToEnd();
            process.WaitForExit();
            if (process.ExitCode != 0)
                throw new GuestCompilerException(
                    $"the LVD module's build failed (guest/linux/lvd/build.sh, status {process.ExitCode}; its messages are above)");
            string ko = stdout.Trim().Split('\n')[^1];
            if (!File.Exists(ko)) throw new GuestCompilerException($"guest/linux/lvd/build.sh printed {ko}, which does not exist");
            return new LinuxModule(ko);
        }
    }
}

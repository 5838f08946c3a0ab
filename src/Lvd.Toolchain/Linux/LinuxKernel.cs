using System.ComponentModel;
using System.Diagnostics;

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
        string script = Script(repoRoot);
        if (!File.Exists(script)) throw new GuestCompilerException($"{script}: the Linux build script is missing");
        var info = new ProcessStartInfo("bash") { RedirectStandardOutput = true, UseShellExecute = false };
        info.ArgumentList.Add(script);
        Process process;
        try { process = Process.Start(info) ?? throw new GuestCompilerException("could not start bash"); }
        catch (Win32Exception e) { throw new GuestCompilerException($"could not run bash: {e.Message}", e); }
        using (process)
        {
            string stdout = process.StandardOutput.ReadToEnd();
            process.WaitForExit();
            if (process.ExitCode != 0)
                throw new GuestCompilerException(
                    $"the Linux kernel build failed (guest/linux/build.sh, status {process.ExitCode}; its messages are above)");
            string dir = stdout.Trim().Split('\n')[^1];
            var kernel = new LinuxKernel(dir);
            if (!File.Exists(kernel.Vmlinux) || !File.Exists(kernel.BzImage))
                throw new GuestCompilerException($"guest/linux/build.sh printed {dir}, which holds no vmlinux and bzImage");
            return kernel;
        }
    }
}

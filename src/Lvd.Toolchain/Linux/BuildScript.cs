using System.ComponentModel;
using System.Diagnostics;

namespace Lvd.Toolchain.Linux;

/// <summary>
/// Runs one of guest/linux's cached build scripts: its progress goes to our stderr, and the
/// last line it prints is where the result is (the cache entry it made or found).
/// </summary>
internal static class BuildScript
{
    public static string Run(string script, string what, IReadOnlyList<string> args, IReadOnlyDictionary<string, string>? env = null)
    {
        if (!File.Exists(script)) throw new GuestCompilerException($"{script}: {what}'s build script is missing");
        var info = new ProcessStartInfo("bash") { RedirectStandardOutput = true, UseShellExecute = false };
        info.ArgumentList.Add(script);
        foreach (var a in args) info.ArgumentList.Add(a);
        if (env != null) foreach (var (k, v) in env) info.Environment[k] = v;
        Process process;
        try { process = Process.Start(info) ?? throw new GuestCompilerException("could not start bash"); }
        catch (Win32Exception e) { throw new GuestCompilerException($"could not run bash: {e.Message}", e); }
        using (process)
        {
            string stdout = process.StandardOutput.ReadToEnd();
            process.WaitForExit();
            if (process.ExitCode != 0)
                throw new GuestCompilerException($"{what}'s build failed ({script}, status {process.ExitCode}; its messages are above)");
            return stdout.Trim().Split('\n')[^1];
        }
    }
}

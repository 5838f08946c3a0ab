using System.ComponentModel;
using System.Diagnostics;

namespace Lvd.Toolchain;

/// <summary>Runs gcc and ar: arguments passed as a list (no shell, no quoting), output captured.</summary>
internal static class ProcessRunner
{
    public readonly record struct Result(int ExitCode, string Stdout, string Stderr);

    public static Result Run(string program, IEnumerable<string> args, string? workingDirectory = null,
        IReadOnlyDictionary<string, string>? environment = null)
    {
        var info = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (workingDirectory != null) info.WorkingDirectory = workingDirectory;
        if (environment != null)
            foreach (var (name, value) in environment) info.Environment[name] = value;
        foreach (string a in args) info.ArgumentList.Add(a);

        Process process;
        try
        {
            process = Process.Start(info) ?? throw new GuestCompilerException($"could not start {program}");
        }
        catch (Win32Exception e)
        {
            throw new GuestCompilerException($"could not run {program}: {e.Message}", e);
        }

        using (process)
        {
            // Both pipes are drained at once: gcc blocks if either fills while we wait on the other.
            Task<string> stdout = process.StandardOutput.ReadToEndAsync();
            Task<string> stderr = process.StandardError.ReadToEndAsync();
            process.WaitForExit();
            return new Result(process.ExitCode, stdout.GetAwaiter().GetResult(), stderr.GetAwaiter().GetResult());
        }
    }

    /// <summary>A command line as a shell would need it typed, for -v and error messages.</summary>
    public static string Format(string program, IEnumerable<string> args)
    {
        return string.Join(' ', new[] { program }.Concat(args).Select(Quote));
    }

    private static string Quote(string a)
    {
        bool plain = a.Length > 0 && a.All(c => char.IsAsciiLetterOrDigit(c) || "-_=+./,:@%".Contains(c));
        return plain ? a : "'" + a.Replace("'", "'\\''") + "'";
    }
}

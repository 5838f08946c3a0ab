using System.ComponentModel;
using System.Diagnostics;

namespace Lvd.Experiments;

/// <summary>Runs a host program (native builds, gcc, csmith, qemu) with a time limit, output captured.</summary>
public static class HostProcess
{
    public sealed record Result(int ExitCode, byte[] Stdout, string Stderr, double Seconds, bool TimedOut);

    public static Result Run(string program, IEnumerable<string> args, TimeSpan timeout)
    {
        var info = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) info.ArgumentList.Add(a);
        Process p;
        try { p = Process.Start(info) ?? throw new ExperimentException($"cannot start {program}"); }
        catch (Win32Exception e) { throw new ExperimentException($"cannot run {program}: {e.Message}"); }
        using (p)
        {
            var sw = Stopwatch.StartNew();
            var ms = new MemoryStream();
            var outTask = p.StandardOutput.BaseStream.CopyToAsync(ms);
            var errTask = p.StandardError.ReadToEndAsync();
            bool exited = p.WaitForExit(timeout);
            if (!exited)
            {
                try { p.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
                p.WaitForExit();
            }
            double secs = sw.Elapsed.TotalSeconds;
            outTask.Wait();
            return new Result(exited ? p.ExitCode : -1, ms.ToArray(), errTask.Result, secs, !exited);
        }
    }
}

/// <summary>An experiment could not run (missing tool, failing build); one line for the user.</summary>
public sealed class ExperimentException(string message) : Exception(message);

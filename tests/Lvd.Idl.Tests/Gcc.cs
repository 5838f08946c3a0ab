using System.Diagnostics;

namespace Lvd.Idl.Tests;

/// <summary>Runs gcc and the programs it builds; a failure throws with the tool's own output.</summary>
internal static class Gcc
{
    // The generated glue must build warning-free; the sanitizers turn any out-of-bounds
    // access or undefined behavior in it into a failed test.
    private static readonly string[] Flags = ["-std=gnu11", "-O1", "-g", "-Wall", "-Wextra", "-Werror", "-Wno-unused-parameter"];
    private static readonly string[] Sanitizers = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all"];

    public static void Compile(IEnumerable<string> sources, IEnumerable<string> includes, string output, bool link = true, bool sanitize = true)
    {
        var args = new List<string>(Flags);
        if (sanitize)
            args.AddRange(Sanitizers);
        args.AddRange(includes.Select(i => "-I" + i));
        if (!link)
            args.Add("-c");
        args.AddRange(sources);
        args.AddRange(["-o", output]);
        var (code, stdout, stderr) = Run("gcc", args, "");
        if (code != 0)
            throw new InvalidOperationException($"gcc failed ({code}):\n{stdout}{stderr}");
    }

    /// <summary>
    /// Compiles (no link) the way the kernel compiles its glue: guest/flags' sections of a kernel
    /// build (the one definition, Lvd.Toolchain.GuestFlags), no host headers, only the guest
    /// libc's and gcc's own, so the glue cannot lean on anything the guest lacks.
    /// </summary>
    public static void CompileForGuest(string source, IEnumerable<string> includes, string output)
    {
        var gccInclude = Run("gcc", ["-print-file-name=include"], "").Stdout.Trim();
        string[] guestFlags = Lvd.Toolchain.GuestFlags.Load(Repo.Root).Of("codegen", "general-regs", "freestanding", "system", "kernel");
        string[] flags = ["-nostdinc", "-isystem", Repo.Path("guest", "libc", "include"), "-isystem", gccInclude, .. guestFlags, "-c"];
        var (code, stdout, stderr) = Run("gcc", [.. flags, .. includes.Select(i => "-I" + i), source, "-o", output], "");
        if (code != 0)
            throw new InvalidOperationException($"gcc (guest flags) failed ({code}):\n{stdout}{stderr}");
    }

    public static (int Code, string Stdout, string Stderr) Run(string program, IEnumerable<string> args, string stdin)
    {
        var info = new ProcessStartInfo(program)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var a in args)
            info.ArgumentList.Add(a);
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        process.StandardInput.Write(stdin);
        process.StandardInput.Close();
        process.WaitForExit();
        return (process.ExitCode, stdout.Result, stderr.Result);
    }
}

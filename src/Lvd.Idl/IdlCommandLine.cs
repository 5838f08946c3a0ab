namespace Lvd.Idl;

/// <summary>`lvd idl FILE.idl [-o OUTDIR]`: exit 0 when the glue was written, 1 on diagnostics, 2 on usage.</summary>
public static class IdlCommandLine
{
    private const string Usage =
        "usage: lvd idl FILE.idl [-o OUTDIR]   (writes NAME_glue.h, NAME_kernel.c, NAME_domain.c; OUTDIR defaults to the current directory)";

    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        string? input = null;
        var output = ".";
        for (var i = 0; i < args.Length; i++)
        {
            if (args[i] is "-h" or "--help")
            {
                stdout.WriteLine(Usage);
                return 0;
            }
            if (args[i] == "-o")
            {
                if (i + 1 >= args.Length)
                    return UsageError(stderr, "-o needs a directory");
                output = args[++i];
            }
            else if (args[i].StartsWith('-'))
                return UsageError(stderr, $"unknown option '{args[i]}'");
            else if (input is null)
                input = args[i];
            else
                return UsageError(stderr, $"one interface file at a time (got '{input}' and '{args[i]}')");
        }
        if (input is null)
            return UsageError(stderr, "no interface file given");
        if (!File.Exists(input))
        {
            stderr.WriteLine($"lvd idl: {input}: no such file");
            return 2;
        }
        IdlResult result;
        try
        {
            result = IdlCompiler.CompileFile(input, output);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            stderr.WriteLine($"lvd idl: {e.Message}");
            return 1;
        }
        foreach (var d in result.Diagnostics)
            stderr.WriteLine(d.Format());
        if (!result.Succeeded)
            return 1;
        foreach (var name in result.GeneratedFiles.Keys)
            stdout.WriteLine(Path.Combine(output, name));
        return 0;
    }

    private static int UsageError(TextWriter stderr, string message)
    {
        stderr.WriteLine($"lvd idl: {message}");
        stderr.WriteLine(Usage);
        return 2;
    }
}

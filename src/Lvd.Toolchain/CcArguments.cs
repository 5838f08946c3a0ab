namespace Lvd.Toolchain;

/// <summary>
/// The command line of <c>lvd cc</c>, sorted into what we hand to gcc unchanged (flags), the
/// user's inputs, and the output. Only the option families a guest build needs pass; anything
/// else (-l, -L, -shared, ...) is refused with a message rather than dropped or passed. A user
/// -m or -f can still undo one of our flags (-msse, -fpie): that is the user's explicit choice.
/// </summary>
internal sealed record CcArguments(IReadOnlyList<string> Flags, IReadOnlyList<string> Inputs, string? Output,
    bool Link, bool Verbose)
{
    public const string Supported = "-O* -g* -W* -f* -m* -std=* -ansi -pedantic* -I -D -U -w -o -c -S -E -v -lm -lc";

    public static CcArguments Parse(IReadOnlyList<string> args)
    {
        var flags = new List<string>();
        var inputs = new List<string>();
        string? output = null;
        bool link = true, verbose = false;

        for (int i = 0; i < args.Count; i++)
        {
            string a = args[i];
            if (a.Length < 2 || a[0] != '-')
            {
                if (a == "-") throw new GuestCompilerException("reading the program from stdin ('-') is not supported");
                inputs.Add(a);
                continue;
            }

            switch (a)
            {
                case "-o":
                    output = Value(args, ref i, a);
                    continue;
                case "-I" or "-D" or "-U":
                    flags.Add(a + Value(args, ref i, a));
                    continue;
                case "-c" or "-S" or "-E":
                    link = false;   // gcc stops before linking: no runtime, no linker script
                    flags.Add(a);
                    continue;
                case "-v":
                    verbose = true;
                    flags.Add(a);
                    continue;
                case "-w" or "-ansi" or "-pedantic" or "-pedantic-errors":
                    flags.Add(a);
                    continue;
                case "-lm" or "-lc":
                    // The one runtime holds all of libc there is; a build script's -lm links
                    // nothing more (include/math.h: no floating point in the guest).
                    continue;
            }

            if (a.StartsWith("-o", StringComparison.Ordinal)) output = a[2..];
            else if (a[1] is 'O' or 'g' or 'W' or 'f' or 'm' or 'I' or 'D' or 'U'
                     || a.StartsWith("-std=", StringComparison.Ordinal)) flags.Add(a);
            else throw new GuestCompilerException($"unsupported option '{a}' (lvd cc passes {Supported})");
        }

        if (inputs.Count == 0) throw new GuestCompilerException("no input files");
        return new CcArguments(flags, inputs, output, link, verbose);
    }

    private static string Value(IReadOnlyList<string> args, ref int i, string option)
    {
        if (i + 1 >= args.Count) throw new GuestCompilerException($"option '{option}' needs an argument");
        return args[++i];
    }
}

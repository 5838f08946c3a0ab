using Lvd.Experiments.Profiling;

namespace Lvd.Cli.Commands;

/// <summary>`--profile [FILE]` of `lvd boot` and `lvd exec`: sample period, symbols, the printed tables.</summary>
internal static class ProfileOutput
{
    /// <summary>Default modeled cycles between samples of one vCPU (prime, so that no loop of a round length aliases with it).</summary>
    public const long DefaultPeriod = 997;
    public const int DefaultTop = 30;

    /// <summary>The sample period to give the machine: 0 when --profile is not set (the options are checked by ProfiledMachineSettings).</summary>
    public static long Period(ProfiledMachineSettings s) => s.Profiling ? s.ProfilePeriod ?? DefaultPeriod : 0;

    /// <summary>Callers recorded per sample for --profile-folded (0: none).</summary>
    public const int FoldedDepth = 64;

    public static int StackDepth(ProfiledMachineSettings s) => s.ProfileFolded != null ? FoldedDepth : 0;

    public static bool IsElf(string path)
    {
        using var f = File.OpenRead(path);
        Span<byte> magic = stackalloc byte[4];
        return f.Read(magic) == 4 && magic[0] == 0x7f && magic[1] == (byte)'E' && magic[2] == (byte)'L' && magic[3] == (byte)'F';
    }

    /// <summary>
    /// The guest kernel's user programs (user.S) are copied from [user_image, user_image_end) to
    /// the user code page at USER_TEXT (guest/kernel/core/syscall.h): name them as the image's labels.
    /// </summary>
    public static void KernelUserImage(Symbolizer symbols)
    {
        const ulong userText = 0x400000;
        if (symbols.ByName.TryGetValue("user_image", out ulong start) && symbols.ByName.TryGetValue("user_image_end", out ulong end) && end > start)
            symbols.AddAlias(userText, end - start, start);
    }

    /// <summary>
    /// The LVD domains a boot loaded (boot modules built to build/domains/NAME.elf, all linked at
    /// LVD_DOMAIN_BASE): their code is named "NAME:function" instead of [no symbol].
    /// </summary>
    public static void DomainImages(Symbolizer symbols, string repoRoot, IEnumerable<string> modules)
    {
        foreach (var m in modules)
        {
            string path = Path.Combine(repoRoot, "build", "domains", m + ".elf");
            if (File.Exists(path)) symbols.AddImage(m, path);
        }
    }

    /// <summary>
    /// Prints the profile of a finished run (stdout, or FILE as plain text), naming addresses with
    /// the image's symbols. <paramref name="configure"/> may add aliases (code that runs copied).
    /// </summary>
    public static void Write(ProgramResult result, string elf, ProfiledMachineSettings s, Action<Symbolizer>? configure = null)
    {
        if (!s.Profiling || result.Machine.Profiler is not { } profiler) return;
        int top = s.ProfileTop ?? DefaultTop;
        var symbols = Symbolizer.FromElf(elf);
        configure?.Invoke(symbols);
        var report = ProfileReport.Build(profiler, symbols);
        if (s.ProfileFolded is string folded) File.WriteAllLines(folded, ProfileReport.Folded(profiler, symbols));
        string? file = s.ProfileFile;
        if (file == null)
        {
            Render(AnsiConsole.Console, report, top);
            return;
        }
        using var writer = new StreamWriter(file);
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Out = new AnsiConsoleOutput(writer),
            Interactive = InteractionSupport.No,
        });
        console.Profile.Width = 200;
        Render(console, report, top);
    }

    private static void Render(IAnsiConsole console, ProfileReport r, int top)
    {
        bool perCpu = r.CpuCount is > 1 and <= 8;
        string Pct(long n, long of) => of == 0 ? "-" : $"{100.0 * n / of:F1}";
        console.WriteLine();
        console.MarkupLine($"profile: {r.TotalSamples:N0} samples, one per {r.Period:N0} modeled cycles of each of {r.CpuCount} vCPU(s); " +
                           $"busy {r.BusySamples:N0} ({Pct(r.BusySamples, r.TotalSamples)}%), idle {r.IdleSamples:N0}");

        Table NewTable(string title, bool byFunction)
        {
            var t = new Table().Title(title).AddColumn(byFunction ? "function" : "mode");
            if (byFunction) t.AddColumn("mode");
            t
                .AddColumn(new TableColumn("samples").RightAligned())
                .AddColumn(new TableColumn("cycles").RightAligned())
                .AddColumn(new TableColumn("% all").RightAligned())
                .AddColumn(new TableColumn("% busy").RightAligned());
            if (perCpu) for (int i = 0; i < r.CpuCount; i++) t.AddColumn(new TableColumn($"cpu{i}").RightAligned());
            return t;
        }
        void AddRow(Table t, ProfileRow row, bool idle, bool byFunction)
        {
            var cells = new List<string> { Markup.Escape(row.Name) };
            if (byFunction) cells.Add(Markup.Escape(row.Mode));
            cells.AddRange([row.Samples.ToString("N0"), (row.Samples * r.Period).ToString("N0"),
                Pct(row.Samples, r.TotalSamples), idle ? "-" : Pct(row.Samples, r.BusySamples)]);
            if (perCpu) cells.AddRange(row.PerCpu.Select(c => c.ToString("N0")));
            t.AddRow(cells.ToArray());
        }

        var modes = NewTable("modeled cycles by mode", false);
        foreach (var m in r.Modes) AddRow(modes, m, m.Name == "idle", false);
        console.Write(modes);

        var functions = NewTable($"modeled cycles by function (top {Math.Min(top, r.Functions.Count)} of {r.Functions.Count})", true);
        foreach (var f in r.Functions.Take(top)) AddRow(functions, f, f.Name == ProfileReport.IdleName, true);
        if (r.Functions.Count > top)
        {
            var rest = r.Functions.Skip(top).ToList();
            var per = new long[r.CpuCount];
            foreach (var f in rest) for (int i = 0; i < per.Length; i++) per[i] += f.PerCpu[i];
            AddRow(functions, new ProfileRow($"({rest.Count} more)", "", rest.Sum(f => f.Samples), per), false, true);
        }
        console.Write(functions);
    }
}

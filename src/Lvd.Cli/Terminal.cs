namespace Lvd.Cli;

/// <summary>
/// Where output goes and how it looks. Spectre.Console renders for 80 columns when output is
/// not a terminal; piped output gets a wide profile instead, so tables and sentences are never
/// wrapped inside words. Progress is drawn only when stderr is a terminal: piped, a command
/// says once what it is doing and prints only final results.
/// </summary>
public static class Terminal
{
    /// <summary>Columns of piped or redirected output: wide enough for every table lvd prints.</summary>
    public const int PipeWidth = 320;

    public static bool Interactive => !Console.IsErrorRedirected;

    private static IAnsiConsole? _stderr;

    /// <summary>stderr as a Spectre console (progress, status).</summary>
    public static IAnsiConsole Stderr => _stderr ??= Wide(AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) }),
        Console.IsErrorRedirected);

    /// <summary>Call once at start: stdout's console gets the pipe width when it is not a terminal.</summary>
    public static void Configure() => Wide(AnsiConsole.Console, Console.IsOutputRedirected);

    private static IAnsiConsole Wide(IAnsiConsole console, bool redirected)
    {
        if (redirected) console.Profile.Width = PipeWidth;
        return console;
    }

    /// <summary>A line on stderr about what lvd is doing (not a result).</summary>
    public static void Note(string text) => Console.Error.WriteLine($"lvd: {text}");

    /// <summary>
    /// Runs <paramref name="work"/> of <paramref name="total"/> steps: on a terminal with a
    /// progress bar on stderr (its description the last finished step), else with one line
    /// saying what runs. <paramref name="work"/> reports each finished step (thread-safe).
    /// </summary>
    public static void Steps(string title, int total, Action<Action<string>> work)
    {
        if (!Interactive)
        {
            Note(title);
            work(_ => { });
            return;
        }
        Stderr.Progress().AutoClear(true)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
            .Start(ctx =>
            {
                var task = ctx.AddTask(Markup.Escape(title), maxValue: total);
                int done = 0;
                var gate = new object();
                work(step =>
                {
                    lock (gate)
                    {
                        done++;
                        task.Increment(1);
                        task.Description = done < total ? Markup.Escape($"{done}/{total} done, last: {step}")
                            : Markup.Escape($"{title}: all {total} done");
                    }
                });
            });
    }

    /// <summary>A status line with a spinner on a terminal (stderr), one note otherwise, while <paramref name="work"/> runs.</summary>
    public static T Status<T>(string text, Func<T> work)
    {
        if (!Interactive)
        {
            Note(text);
            return work();
        }
        T result = default!;
        Stderr.Status().Start(Markup.Escape(text), _ => result = work());
        return result;
    }
}

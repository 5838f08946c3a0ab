namespace Lvd.Idl.Tests;

/// <summary>Paths in the repository: LVD_ROOT when set (./test sets it), else the first directory above the tests holding Lvd.slnx.</summary>
internal static class Repo
{
    public static readonly string Root = FindRoot();

    public static string Path(params string[] parts) => System.IO.Path.Combine([Root, .. parts]);

    private static string FindRoot()
    {
        var env = Environment.GetEnvironmentVariable("LVD_ROOT");
        if (!string.IsNullOrEmpty(env))
            return env;
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "Lvd.slnx")))
                return dir.FullName;
        throw new InvalidOperationException("cannot find the repository (no Lvd.slnx above the test assembly); set LVD_ROOT");
    }
}

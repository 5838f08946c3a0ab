namespace Lvd.Cli;

/// <summary>
/// Files a command will read or write, checked before it runs: a run of minutes must not end in
/// "cannot write". Each problem is one sentence naming the option.
/// </summary>
public static class OutputPaths
{
    /// <summary>A file the command reads: it exists and is a file.</summary>
    public static void CheckInputFile(string option, string path)
    {
        if (Directory.Exists(path)) throw new UsageException($"{option} {path}: is a directory, not a file");
        if (!File.Exists(path)) throw new UsageException($"{option} {path}: no such file");
        if (Lvd.Machine.Loader.HostFile.Of(path) == Lvd.Machine.Loader.HostFile.Kind.Other)
            throw new UsageException($"{option} {path}: not a regular file (a FIFO, socket or device)");
    }

    /// <summary>A file the command writes after its run: its directory exists and it can be written (an existing file is replaced).</summary>
    public static void CheckOutputFile(string option, string path)
    {
        if (path.Length == 0) throw new UsageException($"{option}: needs a file name");
        if (Directory.Exists(path)) throw new UsageException($"{option} {path}: is a directory, not a file");
        string full = Path.GetFullPath(path);
        string? dir = Path.GetDirectoryName(full);
        if (dir != null && !Directory.Exists(dir))
            throw new UsageException($"{option} {path}: no such directory {dir}");
        bool existed = File.Exists(full);
        if (existed && Lvd.Machine.Loader.HostFile.Of(full) == Lvd.Machine.Loader.HostFile.Kind.Other)
            throw new UsageException($"{option} {path}: not a regular file (a FIFO, socket or device); give a file name");
        try
        {
            // Open without truncating: an existing file is kept as it is until the run has its
            // results. One byte is written and put back (its old value, or truncated away), so
            // a file that opens but refuses writes (/proc, a full disk) is found now.
            using (var fs = new FileStream(full, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.ReadWrite))
            {
                int first = fs.Length > 0 ? fs.ReadByte() : -1;
                fs.Position = 0;
                fs.WriteByte(first < 0 ? (byte)0 : (byte)first);
                fs.Flush(true);
                if (first < 0) fs.SetLength(0);
            }
            if (!existed) File.Delete(full);
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException)
        {
            throw new UsageException($"{option} {path}: cannot write there ({Reason(e)})");
        }
    }

    /// <summary>A directory the command writes into: created if missing (with its parents), and writable.</summary>
    public static void CheckOutputDirectory(string option, string path)
    {
        if (path.Length == 0) throw new UsageException($"{option}: needs a directory name");
        if (File.Exists(path)) throw new UsageException($"{option} {path}: is a file; give a directory (it is created if missing)");
        try
        {
            Directory.CreateDirectory(path);
            string probe = Path.Combine(path, $".lvd-write-test-{Environment.ProcessId}");
            using (File.Create(probe)) { }
            File.Delete(probe);
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException)
        {
            throw new UsageException($"{option} {path}: cannot write there ({Reason(e)})");
        }
    }

    private static string Reason(Exception e) => e switch
    {
        UnauthorizedAccessException => "permission denied",
        DirectoryNotFoundException => "no such directory",
        FileNotFoundException => "no file can be created there",
        _ => e.Message.TrimEnd('.'),
    };
}

using System.Diagnostics;
using Lvd.Toolchain.Linux;

namespace Lvd.Tests.Linux;

/// <summary>
/// The initramfs: a newc archive the kernel unpacks (checked with GNU cpio, which reads the same
/// format, and by parsing it back), holding Debian's static BusyBox, its applet links, the init
/// script, /dev/console and the --init program.
/// </summary>
public sealed class InitramfsTests
{
    private static string Init => Guest.Path("guest", "linux", "init");

    private static (int Status, string Stdout, string Stderr) Cpio(byte[] archive, params string[] args)
    {
        var psi = new ProcessStartInfo("cpio", args) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        p.StandardInput.BaseStream.Write(archive);
        p.StandardInput.Close();
        p.WaitForExit();
        return (p.ExitCode, stdout.Result, stderr.Result);
    }

    [Fact]
    public void GnuCpioListsWhatWasWritten()
    {
        var cpio = new NewcArchive().Directory("bin").File("bin/hello", "hi\n"u8.ToArray(), 0x1ed).Symlink("bin/sh", "/bin/busybox")
            .Directory("dev").CharDevice("dev/console", 5, 1);
        byte[] bytes = cpio.ToBytes();
        Assert.Equal(0, bytes.Length % 4);
        var (status, list, err) = Cpio(bytes, "-t", "--quiet");
        Assert.True(status == 0, err);
        Assert.Equal(["bin", "bin/hello", "bin/sh", "dev", "dev/console"], list.Trim().Split('\n'));
        var (status2, verbose, err2) = Cpio(bytes, "-tv", "--quiet", "--numeric-uid-gid");
        Assert.True(status2 == 0, err2);
        var lines = verbose.Trim().Split('\n');
        Assert.StartsWith("drwxr-xr-x", lines[0]);
        Assert.StartsWith("-rwxr-xr-x", lines[1]);
        Assert.Matches(@"^lrwxrwxrwx .* bin/sh -> /bin/busybox$", lines[2]);
        Assert.Matches(@"^crw------- +1 0 +0 +5, +1 .* dev/console$", lines[4]);
        // Extracted, the file has its bytes.
        string dir = Directory.CreateTempSubdirectory("lvd-cpio").FullName;
        try
        {
            var psi = new ProcessStartInfo("cpio", ["-id", "--quiet", "--no-absolute-filenames"])
                { RedirectStandardInput = true, WorkingDirectory = dir, RedirectStandardError = true };
            using var p = Process.Start(psi)!;
            // A character device cannot be made without privileges everywhere: extract the rest.
            p.StandardInput.BaseStream.Write(new NewcArchive().Directory("bin").File("bin/hello", "hi\n"u8.ToArray()).ToBytes());
            p.StandardInput.Close();
            p.WaitForExit();
            Assert.Equal("hi\n", File.ReadAllText(Path.Combine(dir, "bin", "hello")));
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void ArchiveRulesAreChecked()
    {
        Assert.Throws<ArgumentException>(() => new NewcArchive().File("/abs", []));
        Assert.Throws<ArgumentException>(() => new NewcArchive().File("a/b", []));   // its directory comes first
        Assert.Throws<ArgumentException>(() => new NewcArchive().Directory("a").Directory("a"));
        Assert.Throws<ArgumentException>(() => new NewcArchive().File("TRAILER!!!", []));
        Assert.Throws<FormatException>(() => NewcArchive.Parse("070702"u8.ToArray().Concat(new byte[200]).ToArray()));
    }

    [Fact]
    public void TheInitramfsHoldsBusyBoxItsAppletsTheInitScriptAndTheProgram()
    {
        string program = Guest.BuildSource("initramfs_prog", "int main(void){ return 3; }", "-O1");
        var archive = Initramfs.Build(Init, Initramfs.LocateBusyBox(), program);
        byte[] bytes = archive.ToBytes();
        Assert.Equal(bytes, Initramfs.Build(Init, Initramfs.LocateBusyBox(), program).ToBytes()); // deterministic
        var entries = NewcArchive.Parse(bytes);
        var byName = entries.ToDictionary(e => e.Name);
        Assert.Equal(File.ReadAllBytes("/bin/busybox"), byName["bin/busybox"].Data);
        Assert.Equal(File.ReadAllBytes(Init), byName["init"].Data);
        Assert.Equal(0x81edu, byName["init"].Mode);                                   // a regular, executable file
        Assert.Equal(File.ReadAllBytes(program), byName[Initramfs.ProgramPath].Data);
        Assert.Equal((NewcArchive.TypeCharDevice | 0x180u, 5u, 1u), (byName["dev/console"].Mode, byName["dev/console"].RdevMajor,
            byName["dev/console"].RdevMinor));
        // Every applet BusyBox names is a link to it, where BusyBox expects it.
        foreach (string applet in (string[])["bin/sh", "bin/mount", "bin/dd", "bin/cat", "usr/bin/awk", "sbin/poweroff"])
        {
            Assert.Equal(NewcArchive.TypeSymlink | 0x1ffu, byName[applet].Mode);
            Assert.Equal("/bin/busybox", System.Text.Encoding.UTF8.GetString(byName[applet].Data));
        }
        Assert.True(entries.Count > 250, $"{entries.Count} entries");
        // Each entry's directory comes before it, so the kernel can create it.
        var seen = new HashSet<string>();
        foreach (var e in entries)
        {
            int slash = e.Name.LastIndexOf('/');
            Assert.True(slash < 0 || seen.Contains(e.Name[..slash]), e.Name);
            seen.Add(e.Name);
        }
        var (status, list, err) = Cpio(bytes, "-t", "--quiet");
        Assert.True(status == 0, err);
        Assert.Equal(entries.Select(e => e.Name), list.Trim().Split('\n'));
        // Without a program there is none.
        Assert.DoesNotContain(NewcArchive.Parse(Initramfs.Build(Init, Initramfs.LocateBusyBox(), null).ToBytes()),
            e => e.Name == Initramfs.ProgramPath);
    }
}

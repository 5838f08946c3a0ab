namespace Lvd.Toolchain.Linux;

/// <summary>
/// The initial root file system of `lvd linux` (docs/LINUX.md): Debian's static BusyBox with a
/// link per applet (as `busybox --list-full` names them), /dev/console, the init script
/// guest/linux/init as /init, and optionally the user's program as /lvd/init-program, which
/// the script runs after its checks, and optionally the LVD module as /lvd/lvd_hv.ko, which
/// the script loads and unloads for a late launch. Uncompressed newc (the kernel is built without
/// decompressors for it).
/// </summary>
public static class Initramfs
{
    public const string BusyBoxPath = "/bin/busybox";
    public const string ProgramPath = "lvd/init-program";
    public const string ModulePath = "lvd/lvd_hv.ko";

    /// <summary>Where Debian's busybox-static installs BusyBox (scripts/setup.sh installs it).</summary>
    public static string LocateBusyBox()
    {
        if (!File.Exists(BusyBoxPath))
            throw new GuestCompilerException($"{BusyBoxPath} not found: install Debian's busybox-static (scripts/setup.sh does)");
        return BusyBoxPath;
    }

    /// <summary>The archive for <paramref name="initScript"/>, <paramref name="busybox"/>, an optional static program and module.</summary>
    public static NewcArchive Build(string initScript, string busybox, string? program, string? module = null)
    {
        var cpio = new NewcArchive();
        foreach (string d in (string[])["bin", "sbin", "usr", "usr/bin", "usr/sbin", "dev", "proc", "sys", "etc", "tmp", "root", "lvd"])
            cpio.Directory(d);
        cpio.CharDevice("dev/console", 5, 1);
        cpio.File("init", File.ReadAllBytes(initScript), 0x1ed);
        cpio.File("bin/busybox", File.ReadAllBytes(busybox), 0x1ed);
        var list = ProcessRunner.Run(busybox, ["--list-full"]);
        if (list.ExitCode != 0) throw new GuestCompilerException($"{busybox} --list-full failed (status {list.ExitCode})");
        foreach (string line in list.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            // Each applet is a link to /bin/busybox where BusyBox expects it (bin/sh, usr/bin/awk, ...).
            if (line == "bin/busybox" || cpio.Contains(line)) continue;
            int slash = line.LastIndexOf('/');
            if (slash <= 0 || !cpio.Contains(line[..slash])) continue; // an unusual directory: the applet stays reachable as `busybox NAME`
            cpio.Symlink(line, "/bin/busybox");
        }
        if (program != null) cpio.File(ProgramPath, File.ReadAllBytes(program), 0x1ed);
        if (module != null) cpio.File(ModulePath, File.ReadAllBytes(module), 0x1a4);
        return cpio;
    }
}

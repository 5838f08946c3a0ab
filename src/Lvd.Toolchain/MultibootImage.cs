namespace Lvd.Toolchain;

/// <summary>
/// An `lvd cc` program as a multiboot image for qemu-system-x86_64 (TCG, full system: the qemu-system column of
/// `lvd bench mips`, docs/HOST-SPEED.md): guest/bench/qemu/build.sh puts guest/bench/qemu/boot.S (multiboot entry, long
/// mode with the first 4 GiB identity-mapped) in front of the program's own bytes, so qemu runs the very code the emulator
/// runs. Cached (ImageCache) by the guest tree, the compiler and the program.
/// </summary>
public static class MultibootImage
{
    /// <summary>Where setup.sh's qemu-system-x86 puts it (scripts/setup.sh).</summary>
    public const string QemuSystem = "/usr/bin/qemu-system-x86_64";

    /// <summary>The exit status of qemu when the program exits with 0: isa-debug-exit ends qemu with (value &lt;&lt; 1) | 1.</summary>
    public const int SuccessStatus = 1;

    /// <summary>The image of <paramref name="programElf"/> (in build/cache).</summary>
    public static string Build(GuestCompiler cc, string programElf)
    {
        string script = Path.Combine(cc.RepoRoot, "guest", "bench", "qemu", "build.sh");
        var key = new ImageCache.Key().Text("multiboot").GuestInputs(cc, new Dictionary<string, string>()).File(programElf, "program");
        return ImageCache.GetOrBuild(cc.RepoRoot, "multiboot-" + Path.GetFileNameWithoutExtension(programElf), key, tmp =>
        {
            var r = ProcessRunner.Run("bash", [script, programElf, tmp], cc.RepoRoot);
            if (r.ExitCode != 0)
                throw new GuestCompilerException($"multiboot image of {programElf} failed (guest/bench/qemu/build.sh, status {r.ExitCode}):\n"
                    + $"{r.Stdout}{r.Stderr}".TrimEnd());
        });
    }

    /// <summary>
    /// qemu-system-x86_64's arguments to boot <paramref name="image"/>: TCG, no default devices, COM1 on stdout, the exit
    /// device at port 0xF4 as the emulator has it (guest/libc/README.md), <paramref name="memoryMiB"/> of RAM.
    /// </summary>
    public static string[] QemuArguments(string image, int memoryMiB) =>
    [
        "-accel", "tcg", "-nodefaults", "-display", "none", "-no-reboot", "-m", memoryMiB.ToString(), "-serial", "stdio",
        "-device", "isa-debug-exit,iobase=0xf4,iosize=4", "-kernel", image,
    ];
}

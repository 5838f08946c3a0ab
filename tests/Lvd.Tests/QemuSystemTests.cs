using Lvd.Toolchain;

namespace Lvd.Tests;

/// <summary>
/// The qemu-system column of `lvd bench mips` (docs/HOST-SPEED.md): the benchmark programs, built as the bench builds
/// them, booted by qemu-system-x86_64 (TCG) as multiboot images (guest/bench/qemu: the stub in front of the program's own
/// bytes) print the same checksum lines as under the emulator, and end through the exit device with status 0.
/// qemu-system-x86 is installed by scripts/setup.sh, which ./test runs.
/// </summary>
public sealed class QemuSystemTests
{
    [Theory]
    [InlineData("mips.c", "-O2")]
    [InlineData("mips.c", "-O0")]
    [InlineData("lz.c", "-O2")]
    public void ABenchmarkProgramBootedByQemuSystemPrintsWhatItPrintsUnderTheEmulator(string source, string opt)
    {
        Assert.True(File.Exists(MultibootImage.QemuSystem), "qemu-system-x86_64 is not installed: run scripts/setup.sh");
        string elf = Path.Combine(Guest.TempDir("qemu-system"), Path.GetFileNameWithoutExtension(source) + opt + ".elf");
        Guest.Cc.Build([Path.Combine(Guest.Root, "guest", "bench", source)], elf, [opt, "-mgeneral-regs-only", "-DSCALE=2"]);
        var emulated = Guest.Run(elf);
        Assert.Equal(0, emulated.ExitStatus);
        Assert.Matches(@"^(mips|lz) check [0-9a-f]+\n$", emulated.OutputText);

        string image = MultibootImage.Build(Guest.Cc, elf);
        var q = Lvd.Experiments.HostProcess.Run(MultibootImage.QemuSystem, MultibootImage.QemuArguments(image, 128), TimeSpan.FromMinutes(2));
        Assert.True(q.ExitCode == MultibootImage.SuccessStatus, $"qemu-system exited with {q.ExitCode}: {q.Stderr}");
        Assert.Equal(emulated.OutputText, System.Text.Encoding.ASCII.GetString(q.Stdout));
    }
}

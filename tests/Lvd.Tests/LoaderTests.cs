namespace Lvd.Tests;

/// <summary>Bad images get one-line errors that say what to do, never a crash.</summary>
public sealed class LoaderTests
{
    private static string Write(string name, byte[] bytes)
    {
        string p = Path.Combine(Guest.TempDir("bad"), name);
        File.WriteAllBytes(p, bytes);
        return p;
    }

    private static string Hello() => Guest.BuildSource("hello_loader", "int main(void){ return 0; }", "-O1");

    [Fact]
    public void NotAnElf() =>
        Assert.EndsWith("not an ELF file", Assert.Throws<LoadException>(() => ElfImage.Read(Write("text.elf", "hello world"u8.ToArray()))).Message);

    [Fact]
    public void MissingFile() =>
        Assert.EndsWith("no such file", Assert.Throws<LoadException>(() => ElfImage.Read("/nonexistent/x.elf")).Message);

    [Fact]
    public void WrongClassAndArchitecture()
    {
        var bytes = File.ReadAllBytes(Hello());
        var c32 = (byte[])bytes.Clone();
        c32[4] = 1; // EI_CLASS = ELFCLASS32
        var e = Assert.Throws<LoadException>(() => ElfImage.Read(Write("c32.elf", c32)));
        Assert.DoesNotContain("\n", e.Message);
        var arm = (byte[])bytes.Clone();
        arm[18] = 0xb7; arm[19] = 0; // e_machine = EM_AARCH64
        Assert.Contains("x86-64 images only", Assert.Throws<LoadException>(() => ElfImage.Read(Write("arm.elf", arm))).Message);
    }

    [Fact]
    public void TruncatedElf()
    {
        var bytes = File.ReadAllBytes(Hello());
        var e = Assert.Throws<LoadException>(() => ElfImage.Read(Write("trunc.elf", bytes[..100])));
        Assert.DoesNotContain("\n", e.Message);
    }

    [Fact]
    public void SegmentsOutsideMemory()
    {
        var e = Assert.Throws<LoadException>(() => ProgramRunner.Run(Hello(), new RunOptions { MemoryBytes = 2UL << 20 }));
        Assert.Contains("outside usable memory", e.Message);
        Assert.Contains("--memory", e.Message);
    }
}

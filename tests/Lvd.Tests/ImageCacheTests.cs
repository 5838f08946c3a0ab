namespace Lvd.Tests;

/// <summary>
/// The image cache (src/Lvd.Toolchain/ImageCache.cs): an unchanged build is not redone, and a
/// change to anything the build reads (a header beside the source, a flag) gives a new image,
/// never a stale one.
/// </summary>
public sealed class ImageCacheTests
{
    [Fact]
    public void AChangedHeaderOrFlagRebuildsAndAnUnchangedBuildDoesNot()
    {
        // A private directory per run: the test's own edits are the only ones to its files.
        string dir = Path.Combine(Guest.TempDir("image-cache"), Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        string c = Path.Combine(dir, "cached.c"), h = Path.Combine(dir, "value.h");
        File.WriteAllText(c, "#include <stdio.h>\n#include \"value.h\"\nint main(void) { printf(\"%d %d\\n\", VALUE, FLAG); return 0; }\n");
        string Run(string value, string flag)
        {
            File.WriteAllText(h, $"#define VALUE {value}\n");
            string elf = Guest.Cc.Build([c], Path.Combine(dir, "cached.elf"), "-O1", $"-DFLAG={flag}");
            return Guest.Run(elf).OutputText;
        }
        Assert.Equal("1 7\n", Run("1", "7"));
        Assert.Equal("2 7\n", Run("2", "7"));   // the header changed
        Assert.Equal("2 8\n", Run("2", "8"));   // a flag changed
        Assert.Equal("1 7\n", Run("1", "7"));   // back to the first inputs: the first image again
    }

    [Fact]
    public void TheKernelIsBuiltOnceForTheSameInputs()
    {
        string first = KernelBuilder.Build(Guest.Cc);
        var written = File.GetLastWriteTimeUtc(first);
        string second = KernelBuilder.Build(Guest.Cc);
        Assert.Equal(first, second);
        Assert.Equal(written, File.GetLastWriteTimeUtc(second));
        Assert.Equal(File.ReadAllBytes(first), File.ReadAllBytes(Guest.Path("build", "kernel", "kernel.elf")));
    }
}

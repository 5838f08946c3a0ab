using CsCheck;

namespace Lvd.Idl.Tests;

/// <summary>Invalid input of any shape gives diagnostics, never an exception or partial output.</summary>
public sealed class RobustnessTests
{
    private static readonly string[] Sources =
    [
        File.ReadAllText(Repo.Path("idl", "examples", "devices.idl")),
        File.ReadAllText(Repo.Path("idl", "examples", "data.idl")),
        File.ReadAllText(Repo.Path("idl", "net_device.idl")),
    ];

    private static readonly string[] Fragments = ["{", "}", ";", "*", "[", "]", "<=", "->", "in", "out", "bind", "alloc(", "call", "call(",
        "depth 0", "union", "case 1:", "0x", "\"", "/*", "u64", "string<", "\t", "\n", "é"];

    [Fact]
    public void MangledInterfacesNeverThrow()
    {
        var edit = Gen.Select(Gen.Int[0, 100_000], Gen.Int[0, 8], Gen.Int[0, Fragments.Length - 1]);
        Gen.Select(Gen.Int[0, Sources.Length - 1], edit.Array[1, 6]).Sample(c =>
        {
            var (which, edits) = c;
            var text = Sources[which];
            foreach (var (at, delete, fragment) in edits)
            {
                var start = at % (text.Length + 1);
                text = text.Remove(start, Math.Min(delete, text.Length - start)).Insert(start, Fragments[fragment]);
            }
            var result = IdlCompiler.Compile("m.idl", text);
            Assert.True(result.Succeeded ^ result.Diagnostics.Count > 0);
            Assert.True(result.Succeeded || result.GeneratedFiles.Count == 0);
            foreach (var d in result.Diagnostics)
            {
                Assert.True(d.Line >= 1 && d.Column >= 1 && d.Length >= 1, d.Format());
                Assert.StartsWith($"m.idl:{d.Line}:{d.Column}: error: ", d.Format(), StringComparison.Ordinal);
            }
        }, iter: 3000, threads: 1);
    }
}

namespace Lvd.Idl.Tests;

/// <summary>
/// The generated glue of idl/examples/devices.idl, byte for byte, as committed in Golden/ (as NAME.golden, so that
/// tools do not take it for hand-written code):
/// any change to what the compiler emits shows up here and in review. After an intended
/// change, rerun with LVD_UPDATE_GOLDEN=1 and commit the new files.
/// </summary>
public sealed class GoldenTests
{
    [Theory]
    [InlineData("devices_glue.h")]
    [InlineData("devices_kernel.c")]
    [InlineData("devices_domain.c")]
    public void GeneratedGlueMatchesTheCommittedGolden(string file)
    {
        var path = Repo.Path("idl", "examples", "devices.idl");
        var actual = IdlCompiler.Compile("devices.idl", File.ReadAllText(path)).GeneratedFiles[file];
        var golden = Repo.Path("tests", "Lvd.Idl.Tests", "Golden", file + ".golden");
        if (Environment.GetEnvironmentVariable("LVD_UPDATE_GOLDEN") == "1")
            File.WriteAllText(golden, actual);
        Assert.True(File.Exists(golden), $"{golden} is missing: run the tests with LVD_UPDATE_GOLDEN=1");
        Assert.Equal(File.ReadAllText(golden), actual);
    }
}

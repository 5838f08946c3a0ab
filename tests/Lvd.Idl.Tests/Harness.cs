namespace Lvd.Idl.Tests;

/// <summary>
/// One interface's generated kernel and domain glue, compiled with the runtime and a C
/// harness into one native program (Harness/NAME_harness.c) that reads commands on stdin.
/// </summary>
internal sealed class Harness
{
    private static readonly Lazy<Harness> DataHarness = new(() => new Harness("examples/data", "data"));
    private static readonly Lazy<Harness> DevicesHarness = new(() => new Harness("examples/devices", "devices"));
    private static readonly Lazy<Harness> NetDeviceHarness = new(() => new Harness("net_device", "net_device"));
    private static readonly Lazy<Harness> BlkMqHarness = new(() => new Harness("blk_mq", "blk_mq"));

    private readonly string _exe;

    private Harness(string idl, string name)
    {
        var dir = Directory.CreateTempSubdirectory("lvd-idl-").FullName;
        var result = IdlCompiler.CompileFile(Repo.Path(["idl", .. (idl + ".idl").Split('/')]), dir);
        Assert.True(result.Succeeded, string.Join("\n", result.Diagnostics.Select(d => d.Format())));
        var harness = Repo.Path("tests", "Lvd.Idl.Tests", "Harness");
        var glue = Repo.Path("guest", "glue");
        _exe = Path.Combine(dir, name + "_harness");
        string[] sources =
            [Path.Combine(dir, $"{name}_kernel.c"), Path.Combine(dir, $"{name}_domain.c"),
             .. Directory.GetFiles(glue, "*.c").Order(StringComparer.Ordinal),
             Path.Combine(harness, "harness.c"), Path.Combine(harness, $"{name}_harness.c")];
        string[] includes = [Repo.Path("guest", "glue"), dir, harness];
        Gcc.Compile(sources, includes, _exe);
        // gcc 12's AddressSanitizer cannot start on kernels with 32 bits of mmap
        // randomization; there the harness still checks every value, without the sanitizer.
        if (Gcc.Run(_exe, [], "").Code != 0)
            Gcc.Compile(sources, includes, _exe, sanitize: false);
    }

    public static Harness Data => DataHarness.Value;
    public static Harness Devices => DevicesHarness.Value;
    public static Harness NetDevice => NetDeviceHarness.Value;
    public static Harness BlkMq => BlkMqHarness.Value;

    /// <summary>Runs the commands (after `connect`) and returns the lines printed.</summary>
    public string[] Run(IEnumerable<string> commands)
    {
        var (code, stdout, stderr) = Gcc.Run(_exe, [], "connect\n" + string.Join("\n", commands) + "\n");
        Assert.True(code == 0, $"harness exited with {code}:\n{stderr}");
        return stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
    }

    public static string Hex(ReadOnlySpan<byte> bytes) => bytes.Length == 0 ? "-" : Convert.ToHexStringLower(bytes);
}

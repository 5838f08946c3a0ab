using System.Text.Json;
using Lvd.Experiments;
using Lvd.Tests.Support;

namespace Lvd.Tests;

/// <summary>
/// `lvd boot --domain D.c [--calls N]` as a user meets it (issue 15): a driver called N times
/// with its index as input, measured (modeled cycles, VMFUNCs and VM exits per call) in the text
/// output and in --json; a driver without an entry point named in one line (status 2) instead of
/// linker errors; a killed driver and a failed init give their own exit statuses.
/// </summary>
public sealed class UserDriverTests
{
    private static string WriteDriver(string name, string body)
    {
        string path = Path.Combine(Guest.TempDir("lvd-user-drivers"), name + ".c");
        File.WriteAllText(path, "#include \"lvd_driver.h\"\n\n" + body + "\n");
        return path;
    }

    private const string Init = "long driver_init(unsigned int ncpu) { return 0; }\n";

    [Fact]
    public void CallsAreCountedTimedAndGetTheirIndex()
    {
        // Each call returns 3 * its index and echoes N: the last of 200 returns 597 with w1 = 200.
        string echo = WriteDriver("ud_echo",
            Init + "long driver_call(struct lvd_msg *m) { long i = (long)m->w[1]; m->w[1] = m->w[2]; return 3 * i; }");
        string json = Path.Combine(Guest.TempDir("lvd-user-drivers"), "echo.json");
        var (status, stdout, stderr) = CliTests.Lvd("boot", "--cpus", "2", "--domain", echo, "--calls", "200", "--json", json);
        Assert.True(status == 0, $"status {status}\n{stderr}\n{stdout}");
        Assert.Contains("lvd: ud_echo: driver_call returned 597, w1 = 0xc8", stdout);
        Assert.Matches(@"lvd: your driver ud_echo: 200 call\(s\) answered, the last returned 597; modeled cycles per call: median \d[\d,]*, " +
            @"mean [\d,.]+ \(min \d[\d,]*, max \d[\d,]*\); VMFUNCs per call 2\.00, VM exits per call 0\.00", stdout);
        var doc = JsonDocument.Parse(File.ReadAllText(json)).RootElement;
        CliTests.AssertHeader(doc, "boot");
        Assert.Equal(200, doc.GetProperty("boot").GetProperty("calls").GetInt32());
        var u = doc.GetProperty("user_domains")[0];
        Assert.Equal("ud_echo", u.GetProperty("name").GetString());
        Assert.Equal("answered", u.GetProperty("outcome").GetString());
        Assert.Equal(200, u.GetProperty("calls").GetInt64());
        Assert.Equal(597, u.GetProperty("last_return").GetInt64());
        // Two VMFUNCs per call and round trip (kernel -> domain -> kernel), no exit.
        Assert.Equal(400, u.GetProperty("vmfuncs").GetInt64());
        Assert.Equal(0, u.GetProperty("vm_exits").GetInt64());
        long min = u.GetProperty("cycles_per_call_min").GetInt64(), median = u.GetProperty("cycles_per_call_median").GetInt64();
        long max = u.GetProperty("cycles_per_call_max").GetInt64();
        double mean = u.GetProperty("cycles_per_call_mean").GetDouble();
        // Two VMFUNCs alone are 2 x 171 modeled cycles (config/costs.json).
        Assert.True(min > 342 && min <= median && median <= max && mean >= min && mean <= max, $"min {min} median {median} mean {mean} max {max}");
        Assert.Equal(u.GetProperty("cycles_total").GetInt64(), (long)Math.Round(mean * 200));
    }

    [Fact]
    public void UpcallsShowAsVmfuncsAndSerialOutputAsExits()
    {
        // An lvd_printf per call: one upcall (2 more VMFUNCs) and the kernel's serial output of
        // the line (I/O exits under the hypervisor) belong to the calls.
        string chatty = WriteDriver("ud_chatty", Init + "long driver_call(struct lvd_msg *m) { lvd_printf(\"c%lu\\n\", m->w[1]); return 0; }");
        string json = Path.Combine(Guest.TempDir("lvd-user-drivers"), "chatty.json");
        var (status, stdout, stderr) = CliTests.Lvd("boot", "--cpus", "1", "--domain", chatty, "--calls", "10", "--json", json);
        Assert.True(status == 0, $"status {status}\n{stderr}\n{stdout}");
        Assert.Contains("[domain ud_chatty] c9", stdout);
        var u = JsonDocument.Parse(File.ReadAllText(json)).RootElement.GetProperty("user_domains")[0];
        Assert.Equal(40, u.GetProperty("vmfuncs").GetInt64());
        Assert.True(u.GetProperty("vm_exits_per_call").GetDouble() >= 1, u.ToString());
    }

    [Theory]
    [InlineData("driver_call", "long driver_call(struct lvd_msg *m)", Init)]
    [InlineData("driver_init", "long driver_init(unsigned int ncpu)", "long driver_call(struct lvd_msg *m) { return 0; }")]
    [InlineData("driver_call", "long driver_call(struct lvd_msg *m)", Init + "long driver_cal(struct lvd_msg *m) { return 0; }   /* a typo */")]
    public void AMissingEntryPointIsNamedInOneLine(string missing, string signature, string body)
    {
        string d = WriteDriver($"udm_{missing[7..]}{body.Length}", body);
        var (status, stdout, stderr) = CliTests.Lvd("boot", "--domain", d);
        Assert.True(status == 2, $"status {status}\n{stderr}");
        var lines = stderr.Trim().Split('\n');
        Assert.True(lines.Length == 1, "expected one line, got:\n" + stderr);
        Assert.Contains($"the driver does not define {missing}; a driver defines `{signature}`", lines[0]);
        Assert.DoesNotContain("undefined reference", stderr);
        Assert.DoesNotContain("lvd: loading your driver", stdout);
    }

    [Fact]
    public void AKilledDriverAndAFailedInitGiveTheirOwnStatus()
    {
        var (status, stdout, _) = CliTests.Lvd("boot", "--domain", Guest.Path("guest", "domains", "examples", "scribbler.c"), "--calls", "3");
        Assert.Equal(ProgramReport.StatusDriverKilled, status);
        Assert.Contains("lvd: your driver scribbler: killed after 0 answered call(s) (lvd: domain scribbler killed on cpu 0: exception #PF", stdout);
        Assert.Contains("kernel: all tests passed", stdout);

        string bad = WriteDriver("ud_badinit",
            "long driver_init(unsigned int ncpu) { return -5; }\nlong driver_call(struct lvd_msg *m) { return 0; }");
        (status, stdout, _) = CliTests.Lvd("boot", "--domain", bad);
        Assert.Equal(ProgramReport.StatusDriverNotStarted, status);
        Assert.Contains("lvd: your driver ud_badinit: failed to initialize (lvd: domain ud_badinit: init failed (0, -5))", stdout);
    }

    [Theory]
    [InlineData("--calls needs --domain", "boot", "--calls", "5")]
    [InlineData("--calls 0: 1 to 100,000", "boot", "--domain", "HELLO", "--calls", "0")]
    [InlineData("--calls 100001: 1 to 100,000", "boot", "--domain", "HELLO", "--calls", "100001")]
    [InlineData("--cmdline domaincalls=3: set by --calls", "boot", "--domain", "HELLO", "--cmdline", "domaincalls=3")]
    public void CallsOptionIsChecked(string expect, params string[] args)
    {
        string hello = Guest.Path("guest", "domains", "examples", "hello.c");
        var (status, stdout, stderr) = CliTests.Lvd(args.Select(a => a == "HELLO" ? hello : a).ToArray());
        Assert.True(status == 2, $"status {status}\n{stderr}");
        Assert.Equal("", stdout);
        Assert.Contains(expect, stderr);
        Assert.Single(stderr.Trim().Split('\n'));
    }
}

using System.ComponentModel;
using System.Net;
using System.Net.Sockets;
using Lvd.Debugging;
using Lvd.Experiments;
using Lvd.Machine.Loader;
using Spectre.Console.Cli;

namespace Lvd.Cli.Commands;

/// <summary>The debugging options of `lvd exec` and `lvd boot` (docs/DEBUGGING.md).</summary>
public class DebuggedMachineSettings : ProfiledMachineSettings
{
    public const int DefaultGdbPort = 1234;

    [CommandOption("--gdb [PORT]")]
    [Description("Wait for gdb on 127.0.0.1:PORT (default 1234; 0: any free port, printed) before the first instruction; each vCPU is a thread (docs/DEBUGGING.md).")]
    public FlagValue<string>? Gdb { get; init; }

    /// <summary>The port to listen on, or null without --gdb.</summary>
    public int? GdbPort => Gdb is { IsSet: true } g ? string.IsNullOrEmpty(g.Value) ? DefaultGdbPort : int.Parse(g.Value) : null;

    protected override void Check()
    {
        base.Check();
        if (Gdb is not { IsSet: true } g) return;
        Require(string.IsNullOrEmpty(g.Value) || (int.TryParse(g.Value, out int p) && p is >= 0 and <= 65535),
            $"--gdb {g.Value}: a TCP port, 0 to 65535");
        int port = GdbPort!.Value;
        if (port == 0) return;
        // The port must be free now: a busy one is bad input, reported before anything is built.
        try
        {
            var probe = new TcpListener(IPAddress.Loopback, port);
            probe.Start();
            probe.Stop();
        }
        catch (SocketException e)
        {
            throw new UsageException($"--gdb {port}: cannot listen on 127.0.0.1:{port} ({e.Message})");
        }
    }
}

/// <summary>`--gdb`: the stub put into a run's setup (after the hypervisor is installed), told when the run ends.</summary>
internal sealed class GdbSession
{
    private GdbStub? _stub;

    /// <summary>The run options with the stub waiting for gdb once the machine is set up; null session without --gdb.</summary>
    public static RunOptions Attach(RunOptions options, int? port, string elf, IReadOnlyList<DebugImage> images, out GdbSession? session)
    {
        session = null;
        if (port is not int p) return options;
        var s = session = new GdbSession();
        var previous = options.Setup;
        return options with
        {
            Setup = m =>
            {
                previous?.Invoke(m);
                s._stub = new GdbStub(m, p, images);
                string libs = images.Count == 0 ? "" : " (the domains' symbols load as libraries)";
                Console.Error.WriteLine($"lvd: gdb stub waiting on 127.0.0.1:{s._stub.Port}: gdb {elf} -ex 'target remote :{s._stub.Port}'{libs}");
                s._stub.WaitForGdb();
            },
        };
    }

    public void Finished(ProgramResult result)
    {
        _stub?.RunFinished(result.Run.Outcome, result.ExitStatus);
        _stub?.Dispose();
    }
}

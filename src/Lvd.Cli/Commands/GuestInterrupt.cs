using System.Runtime.InteropServices;

namespace Lvd.Cli.Commands;

/// <summary>
/// Ctrl-C (SIGINT) while a guest runs (`lvd exec`, `lvd boot`): the machine stops at the running
/// vCPU's next block boundary (<see cref="Lvd.Machine.Machine.Interrupt"/>), the command prints
/// every vCPU's state (ProgramReport.StateDump) and exits with 130. Before the machine exists
/// (building the kernel, loading) SIGINT ends lvd as usual.
/// </summary>
internal sealed class GuestInterrupt : IDisposable
{
    private readonly PosixSignalRegistration _registration;
    private volatile Lvd.Machine.Machine? _machine;

    public GuestInterrupt() => _registration = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);

    /// <summary>The RunOptions.Setup hook: from now on SIGINT stops this machine.</summary>
    public void Attach(Lvd.Machine.Machine machine) => _machine = machine;

    private void OnSignal(PosixSignalContext context)
    {
        var m = _machine;
        if (m == null) return;   // nothing runs yet: the default (lvd ends)
        context.Cancel = true;
        m.Interrupt();
    }

    public void Dispose() => _registration.Dispose();
}

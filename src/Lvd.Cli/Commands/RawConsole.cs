using System.Runtime.InteropServices;

namespace Lvd.Cli.Commands;

/// <summary>
/// The host terminal as the guest's serial terminal (`lvd linux` on a terminal): raw and without
/// local echo while the guest runs (cfmakeraw: no echo, no signals, no line editing; the guest echoes, and Ctrl-C, Ctrl-D and
/// the arrows reach it as bytes), restored afterwards. Ctrl-A x ends the run, as in QEMU: the
/// machine stops and the run is reported as interrupted (status 130). Set with libc's
/// tcgetattr/cfmakeraw/tcsetattr on stdin, not by running stty: .NET puts back its own terminal
/// settings whenever a child process ends, so raw mode is entered once the last child (the
/// initramfs's `busybox --list-full`) is done, right before the machine runs.
/// </summary>
internal sealed class RawConsole : IDisposable
{
    private readonly byte[]? _saved;
    private bool _restored;

    private RawConsole(byte[]? saved) => _saved = saved;

    // struct termios is opaque here: a buffer larger than glibc's (60 bytes on x86-64).
    private const int TermiosBytes = 256, Stdin = 0, TcsaNow = 0;

    [DllImport("libc", SetLastError = true)]
    private static extern int tcgetattr(int fd, byte[] termios);

    [DllImport("libc", SetLastError = true)]
    private static extern int tcsetattr(int fd, int actions, byte[] termios);

    [DllImport("libc")]
    private static extern void cfmakeraw(byte[] termios);

    /// <summary>Raw mode when stdin is a terminal; otherwise nothing happens (pipes and files pass through unchanged).</summary>
    public static RawConsole Enter()
    {
        if (Console.IsInputRedirected || !OperatingSystem.IsLinux()) return new RawConsole(null);
        Console.Error.WriteLine("lvd linux: the terminal is the guest's console (raw); Ctrl-A x ends the run");
        // .NET configures the terminal on its first console input use and would undo raw mode then: make that happen first.
        // (Keys typed before this point stay in .NET's buffer and do not reach the guest.)
        _ = Console.KeyAvailable;
        var saved = new byte[TermiosBytes];
        if (tcgetattr(Stdin, saved) != 0) return new RawConsole(null);
        var raw = (byte[])saved.Clone();
        cfmakeraw(raw);
        if (tcsetattr(Stdin, TcsaNow, raw) != 0) return new RawConsole(null);
        return new RawConsole(saved);
    }

    /// <summary>stdin, with Ctrl-A x taken out and turned into <paramref name="stop"/> when it is a terminal.</summary>
    public static Stream Input(Stream stdin, Action stop) => Console.IsInputRedirected ? stdin : new EscapeStream(stdin, stop);

    public void Dispose()
    {
        if (_saved == null || _restored) return;
        _restored = true;
        tcsetattr(Stdin, TcsaNow, _saved);
    }

    private sealed class EscapeStream(Stream inner, Action stop) : Stream
    {
        private bool _escape, _stopped;

        public override int Read(byte[] buffer, int offset, int count)
        {
            while (!_stopped)
            {
                int n = inner.Read(buffer, offset, count);
                if (n == 0) return 0;
                int kept = 0;
                for (int i = 0; i < n; i++)
                {
                    byte b = buffer[offset + i];
                    if (_escape)
                    {
                        _escape = false;
                        if (b == (byte)'x') { _stopped = true; stop(); break; }
                        if (b != 0x01) buffer[offset + kept++] = 0x01; // Ctrl-A Ctrl-A sends one Ctrl-A
                    }
                    else if (b == 0x01) { _escape = true; continue; }
                    buffer[offset + kept++] = b;
                }
                if (kept > 0) return kept;
            }
            return 0;
        }

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}

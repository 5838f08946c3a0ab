using System.Diagnostics;

namespace Lvd.Cli.Commands;

/// <summary>
/// The host terminal as the guest's serial terminal (`lvd linux` on a terminal): raw and without
/// local echo while the guest runs (`stty raw -echo`; the guest echoes, and Ctrl-C, Ctrl-D and
/// the arrows reach it as bytes), restored afterwards. Ctrl-A x ends the run, as in QEMU: the
/// machine stops and the run is reported as interrupted (status 130).
/// </summary>
internal sealed class RawConsole : IDisposable
{
    private readonly string? _saved;
    private bool _restored;

    private RawConsole(string? saved) => _saved = saved;

    /// <summary>Raw mode when stdin is a terminal; otherwise nothing happens (pipes and files pass through unchanged).</summary>
    public static RawConsole Enter()
    {
        if (Console.IsInputRedirected) return new RawConsole(null);
        string? saved = Stty("-g");
        if (saved == null || Stty("raw", "-echo") == null) return new RawConsole(null);
        Console.Error.Write("lvd linux: the terminal is the guest's console (raw); Ctrl-A x ends the run\r\n");
        return new RawConsole(saved.Trim());
    }

    public bool Active => _saved != null;

    /// <summary>stdin, with Ctrl-A x taken out and turned into <paramref name="stop"/>.</summary>
    public Stream Input(Stream stdin, Action stop) => Active ? new EscapeStream(stdin, stop) : stdin;

    public void Dispose()
    {
        if (_saved == null || _restored) return;
        _restored = true;
        Stty(_saved);
    }

    /// <summary>Runs stty on our terminal (its stdin inherited); its output, or null if it failed.</summary>
    private static string? Stty(params string[] args)
    {
        var info = new ProcessStartInfo("stty") { RedirectStandardOutput = true, UseShellExecute = false };
        foreach (string a in args) info.ArgumentList.Add(a);
        try
        {
            using var p = Process.Start(info);
            if (p == null) return null;
            string output = p.StandardOutput.ReadToEnd();
            p.WaitForExit();
            return p.ExitCode == 0 ? output : null;
        }
        catch (System.ComponentModel.Win32Exception) { return null; }
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

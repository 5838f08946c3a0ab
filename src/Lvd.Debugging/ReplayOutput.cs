namespace Lvd.Debugging;

/// <summary>
/// The guest's serial output across the replays of reverse execution: each replay writes the
/// run's output again from power-on (or from the snapshot it starts at), and only the bytes past what the
/// user has already seen reach the inner stream, so the output is shown once.
/// </summary>
public sealed class ReplayOutput(Stream inner) : Stream
{
    /// <summary>Bytes passed on over all runs.</summary>
    private long _shown;
    /// <summary>Bytes the current run has written.</summary>
    private long _position;

    /// <summary>A new run starts writing from power-on.</summary>
    public void Rewind() => _position = 0;

    /// <summary>The run was restored from a snapshot that had written <paramref name="bytes"/> bytes: it goes on from there.</summary>
    public void ResumeAt(long bytes) => _position = bytes;

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        long end = _position + buffer.Length;
        if (end > _shown)
        {
            inner.Write(buffer[(int)(Math.Max(_shown, _position) - _position)..]);
            _shown = end;
        }
        _position = end;
    }

    public override void WriteByte(byte value) => Write([value]);
    public override void Flush() => inner.Flush();
    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => _position; set => throw new NotSupportedException(); }
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
}

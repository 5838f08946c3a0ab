namespace Lvd.Cli;

/// <summary>A write-only stream that forwards to another and keeps a copy (the guest log of a run whose results are parsed from it).</summary>
public sealed class TeeStream(Stream inner) : WriteOnlyStream(inner)
{
    private readonly MemoryStream _copy = new();

    public string Text => System.Text.Encoding.UTF8.GetString(_copy.GetBuffer(), 0, (int)_copy.Length);

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        Inner.Write(buffer);
        _copy.Write(buffer);
    }

}

/// <summary>The parts every write-only filter over another stream has: no read, no seek, flush through.</summary>
public abstract class WriteOnlyStream(Stream inner) : Stream
{
    /// <summary>Where the writes go.</summary>
    protected Stream Inner { get; } = inner;

    public abstract override void Write(ReadOnlySpan<byte> buffer);
    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));
    public override void WriteByte(byte value) => Write([value]);
    public override void Flush() => Inner.Flush();
    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
}

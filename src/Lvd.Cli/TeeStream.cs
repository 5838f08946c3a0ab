namespace Lvd.Cli;

/// <summary>A write-only stream that forwards to another and keeps a copy (the guest log of a run whose results are parsed from it).</summary>
public sealed class TeeStream(Stream inner) : Stream
{
    private readonly MemoryStream _copy = new();

    public string Text => System.Text.Encoding.UTF8.GetString(_copy.GetBuffer(), 0, (int)_copy.Length);

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        inner.Write(buffer);
        _copy.Write(buffer);
    }

    public override void WriteByte(byte value) => Write([value]);
    public override void Flush() => inner.Flush();
    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
}

using System.Text;

namespace Lvd.Debugging;

/// <summary>
/// The framing of the GDB remote serial protocol (gdb manual, "Overview" of Remote Protocol):
/// `$data#cs` with a two-digit hex checksum (the sum of the data bytes modulo 256), `}` escaping
/// (the next byte XOR 0x20) of `$`, `#`, `}` and `*`, and run-length encoding `X*n` (decoded only:
/// we never send it). Acknowledgements (`+`/`-`) and the interrupt byte 0x03 are the reader's.
/// </summary>
public static class GdbPacket
{
    public const byte Interrupt = 0x03;

    public static byte Checksum(ReadOnlySpan<byte> data)
    {
        int sum = 0;
        foreach (byte b in data) sum += b;
        return (byte)sum;
    }

    /// <summary>A packet for <paramref name="payload"/>: escaped, framed and checksummed.</summary>
    public static byte[] Frame(ReadOnlySpan<byte> payload)
    {
        var body = new List<byte>(payload.Length + 8);
        foreach (byte b in payload)
        {
            if (b is (byte)'$' or (byte)'#' or (byte)'}' or (byte)'*') { body.Add((byte)'}'); body.Add((byte)(b ^ 0x20)); }
            else body.Add(b);
        }
        byte cs = Checksum(body.ToArray());
        var packet = new byte[body.Count + 4];
        packet[0] = (byte)'$';
        body.CopyTo(packet, 1);
        packet[^3] = (byte)'#';
        packet[^2] = (byte)HexDigit(cs >> 4);
        packet[^1] = (byte)HexDigit(cs & 15);
        return packet;
    }

    public static byte[] Frame(string payload) => Frame(Encoding.Latin1.GetBytes(payload));

    /// <summary>
    /// Decodes the body of a received packet (between `$` and `#`, as sent): checks it against the
    /// two hex digits of <paramref name="checksum"/>, then undoes escapes and run-length encoding.
    /// Null when the checksum does not match (the reader answers `-`).
    /// </summary>
    public static byte[]? Decode(ReadOnlySpan<byte> body, ReadOnlySpan<byte> checksum)
    {
        if (checksum.Length != 2 || HexValue(checksum[0]) is not int hi || HexValue(checksum[1]) is not int lo) return null;
        if (Checksum(body) != (byte)(hi << 4 | lo)) return null;
        var data = new List<byte>(body.Length);
        for (int i = 0; i < body.Length; i++)
        {
            byte b = body[i];
            if (b == (byte)'}' && i + 1 < body.Length) data.Add((byte)(body[++i] ^ 0x20));
            else if (b == (byte)'*' && i + 1 < body.Length && data.Count > 0)
            {
                // Run-length: the previous byte repeated (count - 29) more times.
                int n = body[++i] - 29;
                byte prev = data[^1];
                for (int k = 0; k < n; k++) data.Add(prev);
            }
            else data.Add(b);
        }
        return [.. data];
    }

    public static char HexDigit(int v) => "0123456789abcdef"[v & 15];

    public static int? HexValue(byte c) => c switch
    {
        >= (byte)'0' and <= (byte)'9' => c - '0',
        >= (byte)'a' and <= (byte)'f' => c - 'a' + 10,
        >= (byte)'A' and <= (byte)'F' => c - 'A' + 10,
        _ => null,
    };

    public static string ToHex(ReadOnlySpan<byte> bytes)
    {
        var sb = new StringBuilder(bytes.Length * 2);
        foreach (byte b in bytes) sb.Append(HexDigit(b >> 4)).Append(HexDigit(b & 15));
        return sb.ToString();
    }

    /// <summary>Hex pairs to bytes; null if malformed.</summary>
    public static byte[]? FromHex(string hex)
    {
        if (hex.Length % 2 != 0) return null;
        var bytes = new byte[hex.Length / 2];
        for (int i = 0; i < bytes.Length; i++)
        {
            if (HexValue((byte)hex[2 * i]) is not int hi || HexValue((byte)hex[2 * i + 1]) is not int lo) return null;
            bytes[i] = (byte)(hi << 4 | lo);
        }
        return bytes;
    }

    /// <summary>A little-endian register value of <paramref name="bytes"/> bytes in hex (the `g`/`p` format).</summary>
    public static string LittleEndianHex(ulong value, int bytes)
    {
        var sb = new StringBuilder(bytes * 2);
        for (int i = 0; i < bytes; i++)
        {
            byte b = i < 8 ? (byte)(value >> (8 * i)) : (byte)0;
            sb.Append(HexDigit(b >> 4)).Append(HexDigit(b & 15));
        }
        return sb.ToString();
    }

    /// <summary>A big-endian hex number as gdb writes addresses and lengths; false if malformed.</summary>
    public static bool TryParseHex(string s, out ulong value)
    {
        value = 0;
        if (s.Length is 0 or > 16) return false;
        foreach (char c in s)
        {
            if (HexValue((byte)c) is not int v) return false;
            value = value << 4 | (uint)v;
        }
        return true;
    }
}

/// <summary>
/// Reads the byte stream from gdb: packets (checksum-verified, acknowledged), and the interrupt
/// byte 0x03 outside packets. Not thread-bound: the stub runs it on a reader thread.
/// </summary>
public sealed class GdbPacketReader(Stream stream)
{
    private readonly Stream _stream = stream;

    /// <summary>The next event: a packet's payload, or null for an interrupt (Ctrl-C); throws EndOfStreamException at the end.</summary>
    public byte[]? Next(Action<byte> ack)
    {
        while (true)
        {
            int b = _stream.ReadByte();
            if (b < 0) throw new EndOfStreamException();
            if (b == GdbPacket.Interrupt) return null;
            if (b != '$') continue; // acknowledgements and noise
            var body = new List<byte>();
            while ((b = _stream.ReadByte()) >= 0 && b != '#') body.Add((byte)b);
            if (b < 0) throw new EndOfStreamException();
            int c1 = _stream.ReadByte(), c2 = _stream.ReadByte();
            if (c2 < 0) throw new EndOfStreamException();
            var data = GdbPacket.Decode(body.ToArray(), [(byte)c1, (byte)c2]);
            if (data == null) { ack((byte)'-'); continue; }
            ack((byte)'+');
            return data;
        }
    }
}

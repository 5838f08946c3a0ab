using System.Runtime.InteropServices;

namespace Lvd.Machine.Loader;

/// <summary>
/// What kind of host file a path names, without opening it: opening a FIFO blocks until a
/// writer comes, and a device (/dev/zero) reads forever. .NET does not expose the file type
/// on Unix, so this asks stat(2) (glibc, x86-64 layout: st_mode at offset 24).
/// </summary>
public static partial class HostFile
{
    public enum Kind { Missing, Regular, Directory, Other }

    /// <summary>The largest ELF image `lvd exec`/`lvd boot` read (guest RAM is at most 64 GiB; images are far smaller).</summary>
    public const long MaxImageBytes = 1L << 30;

    [LibraryImport("libc", EntryPoint = "stat", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Stat(string path, Span<byte> buffer);

    public static Kind Of(string path)
    {
        if (Directory.Exists(path)) return Kind.Directory;
        if (!File.Exists(path)) return Kind.Missing;
        if (!OperatingSystem.IsLinux() || RuntimeInformation.ProcessArchitecture != Architecture.X64) return Kind.Regular;
        Span<byte> st = stackalloc byte[256];
        try
        {
            if (Stat(path, st) != 0) return Kind.Missing;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return Kind.Regular;
        }
        uint mode = BitConverter.ToUInt32(st[24..]) & 0xf000; // S_IFMT
        return mode switch { 0x8000 => Kind.Regular, 0x4000 => Kind.Directory, _ => Kind.Other };
    }

    /// <summary>Null if <paramref name="path"/> is a regular file of at most <paramref name="maxBytes"/>; otherwise why not (one line).</summary>
    public static string? CheckReadable(string path, long maxBytes = MaxImageBytes)
    {
        switch (Of(path))
        {
            case Kind.Missing: return $"{path}: no such file";
            case Kind.Directory: return $"{path}: is a directory, not a file";
            case Kind.Other: return $"{path}: not a regular file (a FIFO, socket or device); give a file";
        }
        long length = new FileInfo(path).Length;
        if (length > maxBytes) return $"{path}: {length:N0} bytes, more than the {maxBytes:N0} an image may have";
        return null;
    }
}

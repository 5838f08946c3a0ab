using System.Text;

namespace Lvd.Toolchain.Linux;

/// <summary>
/// A cpio archive in the "newc" format the Linux kernel unpacks into its initial root file
/// system (Documentation/driver-api/early-userspace/buffer-format.rst): per entry a header of
/// "070701" and thirteen 8-digit hexadecimal fields (inode, mode, uid, gid, nlink, mtime, file
/// size, device major/minor, rdev major/minor, name size with its NUL, check 0), the name and a
/// NUL padded to 4 bytes, the data padded to 4 bytes; the entry "TRAILER!!!" ends it. Entries
/// are written in the order added, owned by root with mtime 0 and inodes numbered from 1, so the
/// same entries give the same bytes.
/// </summary>
public sealed class NewcArchive
{
    public const uint TypeDirectory = 0x4000, TypeRegular = 0x8000, TypeSymlink = 0xa000, TypeCharDevice = 0x2000;

    /// <summary>One entry as written (for a listing or a test).</summary>
    public sealed record Entry(string Name, uint Mode, byte[] Data, uint RdevMajor, uint RdevMinor);

    private readonly List<Entry> _entries = [];
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);

    public IReadOnlyList<Entry> Entries => _entries;

    public NewcArchive Directory(string name, uint permissions = 0x1ed) => Add(name, TypeDirectory | permissions, [], 0, 0);

    public NewcArchive File(string name, byte[] data, uint permissions = 0x1a4) => Add(name, TypeRegular | permissions, data, 0, 0);

    public NewcArchive Symlink(string name, string target) => Add(name, TypeSymlink | 0x1ff, Encoding.UTF8.GetBytes(target), 0, 0);

    public NewcArchive CharDevice(string name, uint major, uint minor, uint permissions = 0x180) =>
        Add(name, TypeCharDevice | permissions, [], major, minor);

    public bool Contains(string name) => _names.Contains(name);

    private NewcArchive Add(string name, uint mode, byte[] data, uint major, uint minor)
    {
        if (name.Length == 0 || name.StartsWith('/') || name.EndsWith('/') || name.Contains("//") || name == "TRAILER!!!")
            throw new ArgumentException($"cpio entry name '{name}': a relative path without empty parts", nameof(name));
        if (!_names.Add(name)) throw new ArgumentException($"cpio entry '{name}' added twice", nameof(name));
        int slash = name.LastIndexOf('/');
        if (slash > 0 && !_names.Contains(name[..slash]))
            throw new ArgumentException($"cpio entry '{name}': its directory {name[..slash]} comes first", nameof(name));
        _entries.Add(new Entry(name, mode, data, major, minor));
        return this;
    }

    public byte[] ToBytes()
    {
        var output = new MemoryStream();
        uint inode = 1;
        foreach (var e in _entries)
            WriteEntry(output, e.Name, inode++, e.Mode, (e.Mode & TypeDirectory) != 0 && (e.Mode & TypeRegular) == 0 ? 2u : 1u, e.Data,
                e.RdevMajor, e.RdevMinor);
        WriteEntry(output, "TRAILER!!!", 0, 0, 1, [], 0, 0);
        return output.ToArray();
    }

    private static void WriteEntry(MemoryStream output, string name, uint inode, uint mode, uint links, byte[] data, uint major, uint minor)
    {
        byte[] nameBytes = Encoding.UTF8.GetBytes(name);
        var header = new StringBuilder("070701");
        foreach (uint field in (ReadOnlySpan<uint>)[inode, mode, 0, 0, links, 0, (uint)data.Length, 0, 0, major, minor,
                     (uint)nameBytes.Length + 1, 0])
            header.Append(field.ToString("x8"));
        output.Write(Encoding.ASCII.GetBytes(header.ToString()));
        output.Write(nameBytes);
        output.WriteByte(0);
        Pad(output);
        output.Write(data);
        Pad(output);
    }

    private static void Pad(MemoryStream output)
    {
        while (output.Length % 4 != 0) output.WriteByte(0);
    }

    /// <summary>Reads an archive back (names, modes, data, device numbers), checking every header: the inverse of <see cref="ToBytes"/>.</summary>
    public static List<Entry> Parse(byte[] bytes)
    {
        var entries = new List<Entry>();
        int at = 0;
        while (true)
        {
            if (at + 110 > bytes.Length) throw new FormatException($"cpio: truncated header at {at}");
            string magic = Encoding.ASCII.GetString(bytes, at, 6);
            if (magic != "070701") throw new FormatException($"cpio: bad magic '{magic}' at {at}");
            uint Field(int i) => Convert.ToUInt32(Encoding.ASCII.GetString(bytes, at + 6 + i * 8, 8), 16);
            uint mode = Field(1), size = Field(6), major = Field(9), minor = Field(10), nameSize = Field(11);
            if (nameSize == 0 || at + 110 + nameSize > bytes.Length) throw new FormatException($"cpio: bad name size at {at}");
            string name = Encoding.UTF8.GetString(bytes, at + 110, (int)nameSize - 1);
            int data = (at + 110 + (int)nameSize + 3) & ~3;
            if (data + size > bytes.Length) throw new FormatException($"cpio: {name}: data past the end");
            if (name == "TRAILER!!!") return entries;
            entries.Add(new Entry(name, mode, bytes[data..(data + (int)size)], major, minor));
            at = (data + (int)size + 3) & ~3;
        }
    }
}

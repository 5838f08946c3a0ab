using System.Buffers.Binary;

namespace Lvd.Experiments.Robustness;

/// <summary>
/// A minimal static x86-64 ELF executable written from raw bytes: one PT_LOAD segment per
/// piece (read, write, execute), no sections. For machine tests and the robustness campaign,
/// which need exact code and data at exact addresses (and damaged ELF files).
/// </summary>
public static class RawElf
{
    public sealed record Piece(ulong Address, byte[] Bytes, ulong MemorySize = 0);

    public const ulong CodeBase = 0x400000, DataBase = 0x600000;

    public static byte[] Build(ulong entry, params Piece[] pieces)
    {
        const int ehSize = 64, phSize = 56;
        int offset = ehSize + phSize * pieces.Length;
        offset = (offset + 15) & ~15;
        int total = offset;
        foreach (var p in pieces) total += (p.Bytes.Length + 15) & ~15;
        // Two section headers (null, .shstrtab) after the pieces: readers expect a section table.
        byte[] names = "\0.shstrtab\0"u8.ToArray();
        int strtab = total, shoff = (total + names.Length + 15) & ~15;
        total = shoff + 2 * 64;
        var elf = new byte[total];
        var s = elf.AsSpan();
        s[0] = 0x7f; s[1] = (byte)'E'; s[2] = (byte)'L'; s[3] = (byte)'F';
        s[4] = 2; s[5] = 1; s[6] = 1; // ELF64, little endian, version 1
        BinaryPrimitives.WriteUInt16LittleEndian(s[16..], 2);   // ET_EXEC
        BinaryPrimitives.WriteUInt16LittleEndian(s[18..], 62);  // EM_X86_64
        BinaryPrimitives.WriteUInt32LittleEndian(s[20..], 1);
        BinaryPrimitives.WriteUInt64LittleEndian(s[24..], entry);
        BinaryPrimitives.WriteUInt64LittleEndian(s[32..], ehSize); // e_phoff
        BinaryPrimitives.WriteUInt16LittleEndian(s[52..], ehSize);
        BinaryPrimitives.WriteUInt16LittleEndian(s[54..], phSize);
        BinaryPrimitives.WriteUInt16LittleEndian(s[56..], (ushort)pieces.Length);
        BinaryPrimitives.WriteUInt64LittleEndian(s[40..], (ulong)shoff);
        BinaryPrimitives.WriteUInt16LittleEndian(s[58..], 64);  // e_shentsize
        BinaryPrimitives.WriteUInt16LittleEndian(s[60..], 2);   // e_shnum
        BinaryPrimitives.WriteUInt16LittleEndian(s[62..], 1);   // e_shstrndx
        names.CopyTo(s[strtab..]);
        var sh = s[(shoff + 64)..];
        BinaryPrimitives.WriteUInt32LittleEndian(sh, 1);         // name ".shstrtab"
        BinaryPrimitives.WriteUInt32LittleEndian(sh[4..], 3);    // SHT_STRTAB
        BinaryPrimitives.WriteUInt64LittleEndian(sh[24..], (ulong)strtab);
        BinaryPrimitives.WriteUInt64LittleEndian(sh[32..], (ulong)names.Length);
        BinaryPrimitives.WriteUInt64LittleEndian(sh[48..], 1);
        for (int i = 0; i < pieces.Length; i++)
        {
            var p = pieces[i];
            var ph = s[(ehSize + i * phSize)..];
            BinaryPrimitives.WriteUInt32LittleEndian(ph, 1);         // PT_LOAD
            BinaryPrimitives.WriteUInt32LittleEndian(ph[4..], 7);    // RWX
            BinaryPrimitives.WriteUInt64LittleEndian(ph[8..], (ulong)offset);
            BinaryPrimitives.WriteUInt64LittleEndian(ph[16..], p.Address);
            BinaryPrimitives.WriteUInt64LittleEndian(ph[24..], p.Address);
            BinaryPrimitives.WriteUInt64LittleEndian(ph[32..], (ulong)p.Bytes.Length);
            BinaryPrimitives.WriteUInt64LittleEndian(ph[40..], Math.Max(p.MemorySize, (ulong)p.Bytes.Length));
            BinaryPrimitives.WriteUInt64LittleEndian(ph[48..], 0x1000);
            p.Bytes.CopyTo(s[offset..]);
            offset += (p.Bytes.Length + 15) & ~15;
        }
        return elf;
    }

    /// <summary>Code at <see cref="CodeBase"/> (the entry), optionally data at <see cref="DataBase"/>.</summary>
    public static byte[] Program(byte[] code, byte[]? data = null) =>
        data == null ? Build(CodeBase, new Piece(CodeBase, code)) : Build(CodeBase, new Piece(CodeBase, code), new Piece(DataBase, data));

    /// <summary>Writes <see cref="Program"/> to a file and returns its path.</summary>
    public static string Write(string path, byte[] code, byte[]? data = null)
    {
        File.WriteAllBytes(path, Program(code, data));
        return path;
    }

    /// <summary>
    /// A 64-bit interrupt gate (SDM 6.14.1) at vector <paramref name="vector"/> of an IDT in
    /// <paramref name="idt"/>: handler address, kernel code selector 0x08, present, DPL 0.
    /// </summary>
    public static void Gate(Span<byte> idt, int vector, ulong handler, int ist = 0, byte type = 0x8e)
    {
        var g = idt[(vector * 16)..];
        BinaryPrimitives.WriteUInt16LittleEndian(g, (ushort)handler);
        BinaryPrimitives.WriteUInt16LittleEndian(g[2..], 0x08);
        g[4] = (byte)ist;
        g[5] = type;
        BinaryPrimitives.WriteUInt16LittleEndian(g[6..], (ushort)(handler >> 16));
        BinaryPrimitives.WriteUInt32LittleEndian(g[8..], (uint)(handler >> 32));
        BinaryPrimitives.WriteUInt32LittleEndian(g[12..], 0);
    }
}

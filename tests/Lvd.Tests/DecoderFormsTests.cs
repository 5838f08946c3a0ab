using Iced.Intel;
using Lvd.Machine.Cost;
using Lvd.Machine.Decoding;

namespace Lvd.Tests;

/// <summary>
/// Every form the decoder maps has its own semantics or is #UD (issue 19: SSE2 movsd/cmpsd ran
/// as the string instructions MOVSD/CMPSD, which share their Iced mnemonic). Iced's mnemonics
/// shared by forms of different kinds (string operands, vector registers, plain operands) are
/// enumerated from its tables; then a sweep of one- and two-byte opcodes under the legacy
/// prefixes, with register and memory ModRM, checks where each decoded form of them goes.
/// </summary>
public sealed class DecoderFormsTests
{
    private enum FormKind { Plain, String, Vector }

    private static FormKind KindOf(OpCodeInfo info)
    {
        var kind = FormKind.Plain;
        for (int i = 0; i < info.OpCount; i++)
        {
            string k = info.GetOpKind(i).ToString();
            if (k.StartsWith("seg_rSI") || k.StartsWith("es_rDI") || k.StartsWith("seg_rDI")) kind = FormKind.String;
            else if (k.Contains("xmm") || k.Contains("ymm") || k.Contains("zmm") || k.StartsWith("mm") || k.StartsWith("st")
                || k.StartsWith("k_") || k.StartsWith("bnd") || k.StartsWith("tmm")) return FormKind.Vector;
        }
        return kind;
    }

    private static bool IsStringHandler(Handler h) => h is Handler.Movs or Handler.Stos or Handler.Lods or Handler.Cmps or Handler.Scas;

    /// <summary>Mnemonics whose 64-bit forms are of more than one kind.</summary>
    private static Dictionary<Mnemonic, HashSet<FormKind>> SharedMnemonics()
    {
        var kinds = new Dictionary<Mnemonic, HashSet<FormKind>>();
        foreach (var code in Enum.GetValues<Code>())
        {
            if (code == Code.INVALID || code.ToString().StartsWith("DeclareByte") || code.ToString().StartsWith("Declare")) continue;
            var info = code.ToOpCode();
            if (!info.Mode64) continue;
            var m = code.Mnemonic();
            if (!kinds.TryGetValue(m, out var set)) kinds[m] = set = [];
            set.Add(KindOf(info));
        }
        return kinds.Where(kv => kv.Value.Count > 1).ToDictionary(kv => kv.Key, kv => kv.Value);
    }

    [Fact]
    public void FormsSharingAMnemonicGoToTheirOwnHandlerOrUd()
    {
        var shared = SharedMnemonics();
        Assert.Contains(Mnemonic.Movsd, shared.Keys);
        Assert.Contains(Mnemonic.Cmpsd, shared.Keys);

        var decoder = new BlockDecoder(CostModel.Default, 1);
        byte[][] prefixes = [[], [0x66], [0xf2], [0xf3], [0x67], [0x48], [0xf2, 0x48], [0xf3, 0x48], [0x66, 0x48], [0xf3, 0x67], [0x66, 0xf2]];
        var hit = new HashSet<Code>();
        var wrong = new List<string>();
        int checkedForms = 0;
        foreach (var pre in prefixes)
        for (int map = 0; map < 2; map++)
        for (int op = 0; op < 256; op++)
        foreach (byte modrm in new byte[] { 0x06, 0xc1 })
        {
            var bytes = new List<byte>(pre);
            if (map == 1) bytes.Add(0x0f);
            bytes.Add((byte)op);
            bytes.Add(modrm);
            bytes.AddRange(new byte[10]);
            var code = bytes.ToArray();
            var d = Iced.Intel.Decoder.Create(64, new ByteArrayCodeReader(code));
            var ins = d.Decode();
            if (ins.IsInvalid || !shared.ContainsKey(ins.Mnemonic)) continue;
            hit.Add(ins.Code);
            checkedForms++;
            var block = decoder.Decode(code, code.Length, 0x1000, 0x1000, out _, 1);
            var h = block.Ops[0].H;
            var kind = KindOf(ins.Code.ToOpCode());
            string what = $"{BitConverter.ToString(code, 0, ins.Length)} {ins} ({ins.Code}, {kind}) -> {h}";
            if (kind == FormKind.Vector && h is not (Handler.Ud or Handler.Vector))
                wrong.Add(what + ": a vector form must run as a vector instruction or be #UD");
            else if (kind == FormKind.String && !IsStringHandler(h) && h != Handler.Ud)
                wrong.Add(what + ": a string form must run as a string instruction");
            else if (kind != FormKind.String && IsStringHandler(h)) wrong.Add(what + ": not a string form, must not run as one");
        }
        Assert.True(wrong.Count == 0, string.Join("\n", wrong));
        foreach (var c in new[] { Code.Movsd_xmm_xmmm64, Code.Movsd_xmmm64_xmm, Code.Cmpsd_xmm_xmmm64_imm8, Code.Movsd_m32_m32, Code.Cmpsd_m32_m32 })
            Assert.Contains(c, hit);
        Assert.True(checkedForms > 100, $"only {checkedForms} forms checked");
    }

    [Fact]
    public void StringFormsOfTheStringMnemonicsStillDecodeAsStrings()
    {
        var decoder = new BlockDecoder(CostModel.Default, 1);
        (byte[] Bytes, Handler H)[] cases =
        [
            ([0xa5], Handler.Movs), ([0xf3, 0xa5], Handler.Movs), ([0x67, 0xa5], Handler.Movs), ([0xa7], Handler.Cmps),
            ([0xf2, 0xa7], Handler.Cmps), ([0xab], Handler.Stos), ([0xad], Handler.Lods), ([0xaf], Handler.Scas), ([0x48, 0xa5], Handler.Movs),
        ];
        foreach (var (bytes, h) in cases)
        {
            var code = bytes.Concat(new byte[8]).ToArray();
            Assert.Equal(h, decoder.Decode(code, code.Length, 0x1000, 0x1000, out _, 1).Ops[0].H);
        }
    }
}

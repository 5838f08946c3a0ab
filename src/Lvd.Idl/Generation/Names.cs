using Lvd.Idl.Semantics;

namespace Lvd.Idl.Generation;

/// <summary>The C names the generated files agree on.</summary>
internal sealed class Names(InterfaceModel model)
{
    public string Prefix { get; } = model.Name;
    public string Upper { get; } = model.Name.ToUpperInvariant();

    public string FunctionId(Rpc rpc) => $"{Upper}_FN_{rpc.Name.ToUpperInvariant()}";

    public static string StructTag(StructType s) => $"LVD_TAG_{s.Name.ToUpperInvariant()}";

    public string CallbackTag(Rpc callback) => $"{Upper}_TAG_FN_{callback.Name.ToUpperInvariant()}";

    public uint CallbackTagValue(Rpc callback) => Checker.Fnv1a($"fn:{Prefix}.{callback.Name}");

    public string CallbackType(Rpc callback) => $"{Prefix}_{callback.Name}_fn";

    public string Stub(Rpc rpc) => $"{Prefix}_call_{rpc.Name}";

    public static string Handler(Rpc rpc) => $"{rpc.Name}_handler";

    public string Dispatch(Syntax.Side side) => $"{Prefix}_{Checker.SideText(side)}_dispatch";

    public static string Union(StructType s, StructField f) => $"union {s.Name}_{f.Name}";

    public static string StructOf(Param p) => $"struct {p.Projection!.Struct.Name}";
}

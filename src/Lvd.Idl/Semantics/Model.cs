using Lvd.Idl.Syntax;

namespace Lvd.Idl.Semantics;

// The checked interface: every name resolved, every bound known. The layout planner and
// the C generator read only this.

internal sealed record ScalarType(string Idl, string C, int Size)
{
    public static readonly IReadOnlyDictionary<string, ScalarType> All = new Dictionary<string, ScalarType>
    {
        ["u8"] = new("u8", "uint8_t", 1),
        ["u16"] = new("u16", "uint16_t", 2),
        ["u32"] = new("u32", "uint32_t", 4),
        ["u64"] = new("u64", "uint64_t", 8),
        ["s8"] = new("s8", "int8_t", 1),
        ["s16"] = new("s16", "int16_t", 2),
        ["s32"] = new("s32", "int32_t", 4),
        ["s64"] = new("s64", "int64_t", 8),
        ["char"] = new("char", "char", 1),
    };
}

internal enum FieldKind
{
    Scalar,
    Array,
    Pointer,
    Union,
}

internal sealed record UnionArm(long Tag, string Name, ScalarType Scalar, int Count)
{
    public int Size => Scalar.Size * Count;
    public bool IsArray { get; init; }
}

internal sealed record UnionType(string Discriminator, List<UnionArm> Arms)
{
    public int Size => Arms.Max(a => a.Size);
}

internal sealed record StructField(string Name, FieldKind Kind, ScalarType? Scalar, int Count, string? PointeeStruct, UnionType? Union)
{
    public int Size => Kind switch
    {
        FieldKind.Scalar => Scalar!.Size,
        FieldKind.Array => Scalar!.Size * Count,
        FieldKind.Union => Union!.Size,
        _ => 8,
    };
}

internal sealed record StructType(string Name, List<StructField> Fields, uint Tag);

internal sealed record ProjectedField(StructField Field, Direction Direction)
{
    public bool Sends(bool reply) => reply ? Direction is Direction.Out or Direction.InOut : Direction is Direction.In or Direction.InOut;
}

/// <summary>A projection; Link is the self-pointer of a linked list, followed at most Depth times.</summary>
internal sealed record Projection(string Name, StructType Struct, List<ProjectedField> Fields, StructField? Link, int Depth);

internal enum ParamKind
{
    Scalar,
    FixedArray,
    VarArray,
    String,
    Buffer,
    Object,
    Callback,
}

/// <summary>
/// A checked parameter. Length is the fixed length, the bound of a length-annotated array,
/// or a string's maximum length; Callback is set only on callback-handle parameters.
/// </summary>
internal sealed record Param(string Name, ParamKind Kind, Direction Direction, ScalarType? Scalar, int Length, string? LengthParam,
    Projection? Projection, Ownership Ownership)
{
    public Rpc? Callback { get; init; }
    public bool IsCopy => Kind == ParamKind.Object && Ownership == Ownership.None;
}

internal sealed record Rpc(string Name, Side Callee, bool IsCallback, ScalarType? Return, List<Param> Params, int Id)
{
    public Side Caller => Callee == Side.Kernel ? Side.Domain : Side.Kernel;
    public Span NameSpan { get; init; }
}

internal sealed record InterfaceModel(string Name, List<StructType> Structs, List<Projection> Projections, List<Rpc> Rpcs);

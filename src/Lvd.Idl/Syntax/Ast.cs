namespace Lvd.Idl.Syntax;

// The syntax tree: what the file says, with a span on every name the checker may complain
// about. Nothing here is resolved; the checker turns it into the Semantics model.

internal readonly record struct Name(string Text, Span Span);

internal enum Direction
{
    None,
    In,
    Out,
    InOut,
}

internal enum Side
{
    Kernel,
    Domain,
}

internal enum Ownership
{
    None,
    Bind,
    AllocCaller,
    AllocCallee,
    DeallocCaller,
    DeallocCallee,
    Call,     // [call]: lent to the callee for this call only
    CallUse,  // [call(use)]: names an object the callee lent for the enclosing call
    CallEnd,  // [call(end)]: as use; afterwards the name is dead on both sides
}

internal sealed record InterfaceSyntax(Name Name, List<StructSyntax> Structs, List<ProjectionSyntax> Projections, List<RpcSyntax> Rpcs);

internal sealed record StructSyntax(Name Name, List<FieldSyntax> Fields);

/// <summary>A struct field: `type name;`, `type name[N];`, `type *name;`, or a union (Arms set).</summary>
internal sealed record FieldSyntax(Name Name, Name Type, bool IsPointer, long? ArrayLength, Span ArraySpan, Name? Discriminator,
    List<ArmSyntax>? Arms);

internal sealed record ArmSyntax(long Tag, Span TagSpan, Name Type, Name Name, long? ArrayLength, Span ArraySpan);

internal sealed record ProjectionSyntax(Name Name, Name Struct, List<ProjectedFieldSyntax> Fields);

internal sealed record ProjectedFieldSyntax(Direction Direction, Span DirectionSpan, Name Field, Name? Pointee, long? Depth, Span DepthSpan);

internal sealed record RpcSyntax(Side Callee, bool IsCallback, Name ReturnType, Name Name, List<ParamSyntax> Params);

internal enum ParamForm
{
    Named,
    String,
    Buffer,
}

/// <summary>
/// A parameter. Form says whether the type is a name (scalar, projection with Star, or
/// callback), `string&lt;Bound&gt;`, or `buffer`; the bracket suffix is a fixed length, a
/// length parameter with its bound, or an ownership qualifier.
/// </summary>
internal sealed record ParamSyntax(
    Direction Direction,
    Span DirectionSpan,
    ParamForm Form,
    Name Type,
    bool Star,
    long StringBound,
    Name Name,
    long? FixedLength,
    Name? LengthParam,
    long? Bound,
    Span SuffixSpan,
    Ownership Ownership);

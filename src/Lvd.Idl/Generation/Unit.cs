using Lvd.Idl.Semantics;

namespace Lvd.Idl.Generation;

internal enum UnitKind
{
    Scalar,     // one scalar value
    Bytes,      // a fixed array: Size bytes
    VarBytes,   // Length elements of Scalar, at most Size bytes
    String,     // a length word, then up to Size bytes of text
    Union,      // the active arm of a union, chosen by Discriminator
    Buffer,     // (offset, length) of a buffer in the shared pool
    Ref,        // a capability naming an object the receiver already has (bind, dealloc)
    AllocRef,   // a capability for an object the receiver will shadow (alloc)
    Callback,   // a capability naming a function of the sender
    ScopeOpen,  // a per-CPU slot name for an object lent for this call ([call])
    ScopeRef,   // the slot name of an object the receiver lent ([call(use)], [call(end)])
    Chain,      // a linked list copied node by node, at most Depth nodes
    Bound,      // no data: the length of an `out` array, checked before the callee runs
}

/// <summary>
/// One value crossing in one direction. Expr is a C expression that means the same thing on
/// both sides (the callee declares locals that mirror the caller's parameters), so one
/// description yields the sender's and the receiver's code. Private says the receiver's
/// target is its own call-local storage, which it may fill while it is still checking.
/// </summary>
internal sealed class Unit(UnitKind kind, string label, string expr)
{
    public UnitKind Kind { get; } = kind;
    public string Label { get; } = label;
    public string Expr { get; } = expr;
    public bool Private { get; init; }
    public ScalarType? Scalar { get; init; }
    public int Size { get; init; }
    public string? Length { get; init; }
    public Unit? Discriminator { get; init; }
    public StructField? Field { get; init; }
    public Param? Param { get; init; }
    public StructType? Owner { get; init; }
    public List<Unit> Record { get; } = [];
    public int RecordSize { get; set; }
    public Location Where { get; set; } = Location.InWord(0);
    public Location Extra { get; set; } = Location.InWord(0);

    /// <summary>The name of the receiver's copy: the target itself when private, else a temporary.</summary>
    public string Received => Private ? Expr : "v_" + Label;
}

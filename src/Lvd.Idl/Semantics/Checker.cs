using Lvd.Idl.Syntax;

namespace Lvd.Idl.Semantics;

/// <summary>
/// Resolves names and rejects what cannot be marshaled safely: unknown types, fields the
/// projected struct lacks, directions that cannot work, data without a bound. All errors of
/// a file are reported, each at the text it is about.
/// </summary>
internal sealed class Checker
{
    private const int MaxArrayLength = 4096;
    private const int MaxDepth = 1024;
    private static readonly HashSet<string> ReservedNames = ["ch", "m", "rp", "ret", "p", "rc", "i", "fn", "msg", "NULL"];
    private static readonly string[] ReservedPrefixes = ["lvd_", "v_", "s_", "c_"];

    private readonly SourceText _source;
    private readonly List<Diagnostic> _diagnostics = [];
    private readonly Dictionary<string, StructType> _structs = [];
    private readonly Dictionary<string, Projection> _projections = [];
    private readonly Dictionary<string, Rpc> _rpcs = [];

    private Checker(SourceText source) => _source = source;

    public static (InterfaceModel? Model, List<Diagnostic> Diagnostics) Check(SourceText source, InterfaceSyntax syntax)
    {
        var checker = new Checker(source);
        var model = checker.CheckInterface(syntax);
        return (checker._diagnostics.Count == 0 ? model : null, checker._diagnostics);
    }

    private void Error(Span span, string message) => _diagnostics.Add(_source.Error(span, message));

    // Every name becomes a C identifier in the generated files.
    private static readonly HashSet<string> CKeywords =
    [
        "auto", "break", "case", "char", "const", "continue", "default", "do", "double", "else", "enum", "extern",
        "float", "for", "goto", "if", "inline", "int", "long", "register", "restrict", "return", "short", "signed",
        "sizeof", "static", "struct", "switch", "typedef", "union", "unsigned", "void", "volatile", "while",
        "_Bool", "_Complex", "_Imaginary", "_Alignas", "_Alignof", "_Atomic", "_Generic", "_Noreturn",
        "_Static_assert", "_Thread_local", "asm", "typeof",
    ];

    private bool IsCKeyword(Name name, string what)
    {
        if (!CKeywords.Contains(name.Text))
            return false;
        Error(name.Span, $"'{name.Text}' is a C keyword: choose another {what} name");
        return true;
    }

    private bool Declare<T>(Dictionary<string, T> table, Name name, T value, string what, bool reserve = true)
    {
        if (IsCKeyword(name, what))
            return false;
        if (reserve && (ReservedNames.Contains(name.Text) || Array.Exists(ReservedPrefixes, prefix => name.Text.StartsWith(prefix,
            StringComparison.Ordinal))))
        {
            Error(name.Span, $"'{name.Text}' is reserved by the generated glue: choose another {what} name");
            return false;
        }
        if (!table.TryAdd(name.Text, value))
        {
            Error(name.Span, $"{what} '{name.Text}' is declared twice");
            return false;
        }
        return true;
    }

    private InterfaceModel CheckInterface(InterfaceSyntax syntax)
    {
        // Structs first, by name only, so fields may point to structs declared later.
        var structs = new List<StructSyntax>();
        foreach (var s in syntax.Structs)
            if (Declare(_structs, s.Name, new StructType(s.Name.Text, [], Fnv1a("struct:" + s.Name.Text)), "struct", reserve: false))
                structs.Add(s);
        foreach (var s in structs)
            CheckStruct(s);
        foreach (var p in syntax.Projections)
            CheckProjection(p);
        var rpcs = new List<Rpc>();
        var declared = new List<(RpcSyntax, Rpc)>();
        foreach (var r in syntax.Rpcs)
        {
            ScalarType? ret = null;
            if (r.ReturnType.Text != "void" && !ScalarType.All.TryGetValue(r.ReturnType.Text, out ret))
                Error(r.ReturnType.Span, $"unknown return type '{r.ReturnType.Text}': expected void or a scalar ({ScalarList})");
            var rpc = new Rpc(r.Name.Text, r.Callee, r.IsCallback, ret, [], rpcs.Count + 1) { NameSpan = r.Name.Span };
            if (Declare(_rpcs, r.Name, rpc, r.IsCallback ? "callback" : "rpc"))
            {
                rpcs.Add(rpc);
                declared.Add((r, rpc));
            }
        }
        foreach (var (r, rpc) in declared)
            CheckParams(r, rpc);
        var projections = syntax.Projections.Where(p => _projections.ContainsKey(p.Name.Text)).Select(p => _projections[p.Name.Text]).Distinct()
            .ToList();
        return new InterfaceModel(syntax.Name.Text, structs.Select(s => _structs[s.Name.Text]).ToList(), projections, rpcs);
    }

    private static string ScalarList => string.Join(", ", ScalarType.All.Keys);

    /// <summary>Type tags are stable across interfaces and runs: a hash of the struct's name.</summary>
    internal static uint Fnv1a(string text)
    {
        var h = 2166136261u;
        foreach (var c in text)
            h = (h ^ c) * 16777619u;
        return h == 0 ? 1 : h;
    }

    private void CheckStruct(StructSyntax s)
    {
        var type = _structs[s.Name.Text];
        var names = new Dictionary<string, Span>();
        foreach (var f in s.Fields)
        {
            if (IsCKeyword(f.Name, "field"))
                continue;
            if (!names.TryAdd(f.Name.Text, f.Name.Span))
            {
                Error(f.Name.Span, $"struct '{s.Name.Text}' already has a field '{f.Name.Text}'");
                continue;
            }
            var field = f.Arms is not null ? CheckUnion(s, f) : CheckPlainField(f);
            if (field is not null)
                type.Fields.Add(field);
        }
    }

    private StructField? CheckPlainField(FieldSyntax f)
    {
        if (f.IsPointer)
        {
            if (_structs.ContainsKey(f.Type.Text))
                return new StructField(f.Name.Text, FieldKind.Pointer, null, 1, f.Type.Text, null);
            Error(f.Type.Span, ScalarType.All.ContainsKey(f.Type.Text)
                ? $"pointer to scalar '{f.Type.Text} *{f.Name.Text}' has no bound: use an array '{f.Type.Text} {f.Name.Text}[N]'"
                : $"unknown struct '{f.Type.Text}'");
            return null;
        }
        if (!ScalarType.All.TryGetValue(f.Type.Text, out var scalar))
        {
            Error(f.Type.Span, _structs.ContainsKey(f.Type.Text)
                ? $"embedded struct field '{f.Name.Text}' is not supported: use a pointer '{f.Type.Text} *{f.Name.Text}'"
                : $"unknown type '{f.Type.Text}': expected a scalar ({ScalarList}) or a struct pointer");
            return null;
        }
        if (f.ArrayLength is not { } n)
            return new StructField(f.Name.Text, FieldKind.Scalar, scalar, 1, null, null);
        return CheckLength(n, f.ArraySpan) ? new StructField(f.Name.Text, FieldKind.Array, scalar, (int)n, null, null) : null;
    }

    private bool CheckLength(long n, Span span)
    {
        if (n is >= 1 and <= MaxArrayLength)
            return true;
        Error(span, $"array length {n} is out of range: expected 1 to {MaxArrayLength}");
        return false;
    }

    private StructField? CheckUnion(StructSyntax s, FieldSyntax f)
    {
        var disc = s.Fields.FirstOrDefault(x => x.Name.Text == f.Discriminator!.Value.Text);
        if (disc is null)
        {
            Error(f.Discriminator!.Value.Span, $"struct '{s.Name.Text}' has no field '{f.Discriminator.Value.Text}' to discriminate the union");
            return null;
        }
        if (disc.Arms is not null || disc.IsPointer || disc.ArrayLength is not null || !ScalarType.All.ContainsKey(disc.Type.Text))
        {
            Error(f.Discriminator!.Value.Span, $"discriminator '{disc.Name.Text}' must be a scalar field");
            return null;
        }
        var arms = new List<UnionArm>();
        var seen = new Dictionary<long, string>();
        var discType = ScalarType.All[disc.Type.Text];
        var maxTag = discType.Size == 8 ? long.MaxValue
            : discType.Idl.StartsWith('u') ? (1L << (8 * discType.Size)) - 1
            : (1L << (8 * discType.Size - 1)) - 1;
        foreach (var a in f.Arms!)
        {
            if (a.Tag > maxTag)
            {
                Error(a.TagSpan, $"case {a.Tag} does not fit discriminator '{disc.Name.Text}' ({discType.Idl}): at most {maxTag}");
                continue;
            }
            if (IsCKeyword(a.Name, "union arm"))
                continue;
            if (!seen.TryAdd(a.Tag, a.Name.Text))
            {
                Error(a.TagSpan, $"case {a.Tag} already selects arm '{seen[a.Tag]}'");
                continue;
            }
            if (!ScalarType.All.TryGetValue(a.Type.Text, out var scalar))
            {
                Error(a.Type.Span, $"union arm type '{a.Type.Text}' is not supported: expected a scalar or an array of scalars ({ScalarList})");
                continue;
            }
            var count = a.ArrayLength ?? 1;
            if (a.ArrayLength is not null && !CheckLength(count, a.ArraySpan))
                continue;
            arms.Add(new UnionArm(a.Tag, a.Name.Text, scalar, (int)count) { IsArray = a.ArrayLength is not null });
        }
        if (f.Arms!.Count == 0)
        {
            Error(f.Name.Span, $"union '{f.Name.Text}' has no arm");
            return null;
        }
        if (arms.Count < f.Arms.Count)
            return null;
        return new StructField(f.Name.Text, FieldKind.Union, null, 1, null, new UnionType(disc.Name.Text, arms));
    }

    private void CheckProjection(ProjectionSyntax p)
    {
        if (!_structs.TryGetValue(p.Struct.Text, out var type))
        {
            Error(p.Struct.Span, $"unknown struct '{p.Struct.Text}': a projection names the struct it projects");
            return;
        }
        var fields = new List<ProjectedField>();
        StructField? link = null;
        var depth = 0;
        var projection = new Projection(p.Name.Text, type, fields, null, 0);
        if (!Declare(_projections, p.Name, projection, "projection", reserve: false))
            return;
        var seen = new HashSet<string>();
        foreach (var pf in p.Fields)
        {
            var field = type.Fields.FirstOrDefault(f => f.Name == pf.Field.Text);
            if (field is null)
            {
                Error(pf.Field.Span, $"struct '{type.Name}' has no field '{pf.Field.Text}'");
                continue;
            }
            if (!seen.Add(field.Name))
            {
                Error(pf.Field.Span, $"field '{field.Name}' is projected twice");
                continue;
            }
            if (field.Kind == FieldKind.Pointer)
            {
                if (CheckLinkField(p, pf, field, type))
                {
                    link = field;
                    depth = (int)pf.Depth!.Value;
                }
                continue;
            }
            if (pf.Pointee is { } pointee)
            {
                Error(pointee.Span, $"field '{field.Name}' is not a pointer: remove '-> {pointee.Text}'");
                continue;
            }
            fields.Add(new ProjectedField(field, pf.Direction));
        }
        foreach (var pf in p.Fields)
            CheckDiscriminatorProjected(pf, fields);
        // A list is copied into the callee for the call: nothing of it can come back.
        if (link is not null)
            foreach (var pf in p.Fields.Where(f => f.Direction != Direction.In && f.Field.Text != link.Name))
                Error(pf.DirectionSpan, $"field '{pf.Field.Text}' of list projection '{p.Name.Text}' can only be 'in': the callee gets a private " +
                    $"copy of the list");
        _projections[p.Name.Text] = projection with { Link = link, Depth = depth };
    }

    private bool CheckLinkField(ProjectionSyntax p, ProjectedFieldSyntax pf, StructField field, StructType type)
    {
        if (pf.Pointee is not { } pointee)
        {
            Error(pf.Field.Span, $"pointer field '{field.Name}' needs the projection it points to: '{field.Name} -> {p.Name.Text} depth N'");
            return false;
        }
        if (pointee.Text != p.Name.Text)
        {
            Error(pointee.Span, $"pointer field '{field.Name}' must point to projection '{p.Name.Text}' itself (a linked list); other nested " +
                $"pointers are not supported");
            return false;
        }
        if (field.PointeeStruct != type.Name)
        {
            Error(pf.Field.Span, $"field '{field.Name}' points to struct '{field.PointeeStruct}', not '{type.Name}'");
            return false;
        }
        if (pf.Direction != Direction.In)
        {
            Error(pf.DirectionSpan, $"list link '{field.Name}' can only be 'in': the callee gets a private copy of the list for the call");
            return false;
        }
        if (pf.Depth is not { } d)
        {
            Error(pointee.Span, $"recursive field '{field.Name}' is unbounded: add 'depth N' (at most {MaxDepth})");
            return false;
        }
        if (d is < 1 or > MaxDepth)
        {
            Error(pf.DepthSpan, $"depth {d} is out of range: expected 1 to {MaxDepth}");
            return false;
        }
        return true;
    }

    private void CheckDiscriminatorProjected(ProjectedFieldSyntax pf, List<ProjectedField> fields)
    {
        var union = fields.FirstOrDefault(f => f.Field.Name == pf.Field.Text && f.Field.Kind == FieldKind.Union);
        if (union is null)
            return;
        var disc = fields.FirstOrDefault(f => f.Field.Name == union.Field.Union!.Discriminator);
        if (disc is null || !Covers(disc.Direction, union.Direction))
            Error(pf.Field.Span, $"union '{union.Field.Name}' is '{DirectionText(union.Direction)}' but its discriminator " +
                $"'{union.Field.Union!.Discriminator}' is "
                + (disc is null ? "not projected" : $"only '{DirectionText(disc.Direction)}'") + ": project the discriminator in the same direction");
    }

    private static bool Covers(Direction outer, Direction inner) => outer == inner || outer == Direction.InOut;

    private static string DirectionText(Direction d) => d switch
    {
        Direction.In => "in",
        Direction.Out => "out",
        Direction.InOut => "in out",
        _ => "",
    };

    private void CheckParams(RpcSyntax r, Rpc rpc)
    {
        var names = new Dictionary<string, Span>();
        foreach (var p in r.Params.Where(p => p.Name.Text == r.Name.Text))
            Error(p.Name.Span, $"parameter '{p.Name.Text}' has the rpc's own name: the handler could not call '{r.Name.Text}'");
        foreach (var p in r.Params.Where(p => p.Name.Text != r.Name.Text))
            if (Declare(names, p.Name, p.Name.Span, "parameter"))
            {
                if (p.Form == ParamForm.Buffer && r.Params.Any(q => q.Name.Text == p.Name.Text + "_len"))
                    Error(p.Name.Span, $"buffer '{p.Name.Text}' needs the name '{p.Name.Text}_len' for its length, but a parameter has it");
            }
        foreach (var p in r.Params)
        {
            var param = CheckParam(r, rpc, p);
            if (param is not null)
                rpc.Params.Add(param);
        }
    }

    private Param? CheckParam(RpcSyntax r, Rpc rpc, ParamSyntax p)
    {
        if (p.Ownership != Ownership.None && !(p.Form == ParamForm.Named && p.Star))
        {
            Error(p.SuffixSpan, "ownership (bind, alloc, dealloc, call) applies only to projection pointers");
            return null;
        }
        return p.Form switch
        {
            ParamForm.String => CheckString(p),
            ParamForm.Buffer => NoSuffix(p, "a buffer's length travels with it") ? new Param(p.Name.Text, ParamKind.Buffer, p.Direction, null, 0,
                null, null, Ownership.None) : null,
            _ when p.Star => CheckObject(p),
            _ when ScalarType.All.TryGetValue(p.Type.Text, out var scalar) => CheckScalar(r, p, scalar),
            _ when _rpcs.TryGetValue(p.Type.Text, out var callback) => CheckCallback(rpc, p, callback),
            _ when _projections.ContainsKey(p.Type.Text) => Fail(p.Type.Span,
                $"projection '{p.Type.Text}' must be passed by pointer: '{p.Type.Text} *{p.Name.Text}'"),
            _ when _structs.ContainsKey(p.Type.Text) => Fail(p.Type.Span, $"'{p.Type.Text}' is a struct: pass a pointer to one of its projections"),
            _ => Fail(p.Type.Span, $"unknown type '{p.Type.Text}': expected a scalar ({ScalarList}), string<N>, buffer, a projection pointer or a " +
                $"callback"),
        };
    }

    private Param? Fail(Span span, string message)
    {
        Error(span, message);
        return null;
    }

    private bool NoSuffix(ParamSyntax p, string why)
    {
        if (p.SuffixSpan.Length == 0)
            return true;
        Error(p.SuffixSpan, $"unexpected '[...]' on '{p.Name.Text}': {why}");
        return false;
    }

    private Param? CheckString(ParamSyntax p)
    {
        if (p.Direction is Direction.Out or Direction.InOut)
            return Fail(p.DirectionSpan, $"string '{p.Name.Text}' can only be 'in': return text in an array 'out char {p.Name.Text}[N]'");
        if (p.StringBound is < 1 or >= 4096)
            return Fail(p.Type.Span, $"string bound {p.StringBound} is out of range: expected 1 to 4095");
        return NoSuffix(p, "the bound is in string<N>") ? new Param(p.Name.Text, ParamKind.String, Direction.In, null, (int)p.StringBound, null,
            null, Ownership.None) : null;
    }

    private Param? CheckObject(ParamSyntax p)
    {
        if (!_projections.TryGetValue(p.Type.Text, out var projection))
        {
            if (ScalarType.All.ContainsKey(p.Type.Text))
                return Fail(Span.Covering(p.Type.Span, p.Name.Span),
                    $"'{p.Type.Text} *{p.Name.Text}' is unbounded: use '{p.Type.Text} {p.Name.Text}[N]', '{p.Type.Text} {p.Name.Text}[n <= N]' or " +
                    $"'buffer {p.Name.Text}'");
            if (_structs.ContainsKey(p.Type.Text))
                return Fail(p.Type.Span, $"'{p.Type.Text}' is a struct: pass a pointer to one of its projections");
            return Fail(p.Type.Span, $"unknown projection '{p.Type.Text}'");
        }
        if (p.FixedLength is not null || p.LengthParam is not null)
            return Fail(p.SuffixSpan, "arrays of objects are not supported: pass a list (a projection with a 'depth' link)");
        if (p.Ownership == Ownership.AllocCaller)
        {
            if (p.Direction != Direction.Out)
                return Fail(p.SuffixSpan,
                    $"alloc(caller) needs an 'out' parameter: the callee produces the object and the caller gets a shadow of it");
        }
        else if (p.Direction != Direction.None)
            return Fail(p.DirectionSpan,
                $"a direction on projection pointer '{p.Name.Text}' cannot work: directions belong to the projection's fields" +
                (p.Direction == Direction.Out ? " (an object the callee produces needs 'out ... [alloc(caller)]')" : ""));
        if (projection.Link is not null && p.Ownership != Ownership.None)
            return Fail(p.SuffixSpan,
                $"list projection '{projection.Name}' is copied for the call: it cannot be shared by capability (remove '[...]')");
        return new Param(p.Name.Text, ParamKind.Object, p.Direction, null, 0, null, projection, p.Ownership);
    }

    private Param? CheckScalar(RpcSyntax r, ParamSyntax p, ScalarType scalar)
    {
        var direction = p.Direction == Direction.None ? Direction.In : p.Direction;
        if (p.FixedLength is { } n)
            return CheckLength(n, p.SuffixSpan) ? new Param(p.Name.Text, ParamKind.FixedArray, direction, scalar, (int)n, null, null,
                Ownership.None) : null;
        if (p.LengthParam is not { } lengthName)
            return new Param(p.Name.Text, ParamKind.Scalar, direction, scalar, 1, null, null, Ownership.None);
        var length = r.Params.FirstOrDefault(q => q.Name.Text == lengthName.Text);
        if (length is null)
            return Fail(lengthName.Span, $"no parameter '{lengthName.Text}' gives the length of '{p.Name.Text}'");
        if (length.Form != ParamForm.Named || length.Star || length.SuffixSpan.Length != 0 || !ScalarType.All.TryGetValue(length.Type.Text,
            out var lengthType) || lengthType.Idl == "char")
            return Fail(lengthName.Span, $"length '{lengthName.Text}' must be an integer scalar parameter");
        if (r.Params.IndexOf(length) > r.Params.IndexOf(p))
            return Fail(lengthName.Span,
                $"length '{lengthName.Text}' must come before '{p.Name.Text}': the receiver checks the length before it takes the data");
        if (length.Direction is not (Direction.In or Direction.None))
            return Fail(lengthName.Span, $"length '{lengthName.Text}' must be 'in': both sides need it before the data moves");
        return CheckLength(p.Bound!.Value, p.SuffixSpan)
            ? new Param(p.Name.Text, ParamKind.VarArray, direction, scalar, (int)p.Bound.Value, lengthName.Text, null, Ownership.None)
            : null;
    }

    private Param? CheckCallback(Rpc rpc, ParamSyntax p, Rpc callback)
    {
        if (!callback.IsCallback)
            return Fail(p.Type.Span, $"'{p.Type.Text}' is an rpc, not a callback: declare it 'kernel callback' or 'domain callback'");
        if (p.Direction is Direction.Out or Direction.InOut)
            return Fail(p.DirectionSpan, $"callback '{p.Name.Text}' can only be 'in': a side registers its own functions");
        if (callback.Callee != rpc.Caller)
            return Fail(p.Type.Span,
                $"callback '{callback.Name}' runs in the {SideText(callback.Callee)}, but '{rpc.Name}' is called by the {SideText(rpc.Caller)}: " +
                $"only the side that owns a function can register it");
        if (!NoSuffix(p, "a callback is one function"))
            return null;
        return new Param(p.Name.Text, ParamKind.Callback, Direction.In, null, 0, null, null, Ownership.None) { Callback = callback };
    }

    internal static string SideText(Side side) => side == Side.Kernel ? "kernel" : "domain";
}

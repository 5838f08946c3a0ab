using Lvd.Idl.Semantics;
using Lvd.Idl.Syntax;

namespace Lvd.Idl.Generation;

/// <summary>
/// The message layout of one rpc: which values cross in the request and in the reply, in
/// what order, and where each one travels. Values are placed in declaration order; scalars
/// take words 1..7 while they last, everything else (and scalars past word 7) takes the
/// register page, which is checked against its size here rather than at run time.
/// </summary>
internal sealed class RpcPlan
{
    public const int RegisterPageSize = 4096;

    private RpcPlan(Rpc rpc) => Rpc = rpc;

    public Rpc Rpc { get; }
    public List<Unit> Request { get; } = [];
    public List<Unit> Reply { get; } = [];
    public int RequestPageBytes { get; private set; }
    public int ReplyPageBytes { get; private set; }

    /// <summary>The word that carries a callback's function handle (callbacks only).</summary>
    public int HandleWord => Rpc.IsCallback ? 1 : 0;

    public static RpcPlan Build(Rpc rpc)
    {
        var plan = new RpcPlan(rpc);
        foreach (var p in rpc.Params)
            plan.AddParam(p);
        if (rpc.Return is { } ret)
            plan.Reply.Add(new Unit(UnitKind.Scalar, "ret", "*ret") { Scalar = ret });
        var request = new RegionPlanner();
        if (rpc.IsCallback)
            request.Word(8);
        plan.RequestPageBytes = Place(plan.Request, request);
        plan.ReplyPageBytes = Place(plan.Reply, new RegionPlanner());
        return plan;
    }

    private void AddParam(Param p)
    {
        var sendsIn = p.Direction is Direction.In or Direction.InOut;
        var sendsOut = p.Direction is Direction.Out or Direction.InOut;
        switch (p.Kind)
        {
            case ParamKind.Scalar:
                var expr = p.Direction == Direction.In ? p.Name : "*" + p.Name;
                if (sendsIn)
                    Request.Add(new Unit(UnitKind.Scalar, p.Name, expr) { Scalar = p.Scalar, Private = true });
                if (sendsOut)
                    Reply.Add(new Unit(UnitKind.Scalar, p.Name, expr) { Scalar = p.Scalar });
                break;
            case ParamKind.FixedArray:
            case ParamKind.VarArray:
                var kind = p.Kind == ParamKind.FixedArray ? UnitKind.Bytes : UnitKind.VarBytes;
                var size = p.Length * p.Scalar!.Size;
                if (sendsIn)
                    Request.Add(new Unit(kind, p.Name, p.Name) { Scalar = p.Scalar, Size = size, Length = p.LengthParam, Private = true });
                else if (kind == UnitKind.VarBytes)
                    Request.Add(new Unit(UnitKind.Bound, p.Name, p.Name) { Scalar = p.Scalar, Size = size, Length = p.LengthParam, Private = true });
                if (sendsOut)
                    Reply.Add(new Unit(kind, p.Name, p.Name) { Scalar = p.Scalar, Size = size, Length = p.LengthParam });
                break;
            case ParamKind.String:
                Request.Add(new Unit(UnitKind.String, p.Name, p.Name) { Size = p.Length, Private = true, Param = p });
                break;
            case ParamKind.Buffer:
                Request.Add(new Unit(UnitKind.Buffer, p.Name, p.Name) { Private = true, Param = p });
                break;
            case ParamKind.Callback:
                Request.Add(new Unit(UnitKind.Callback, p.Name, p.Name) { Private = true, Param = p });
                break;
            case ParamKind.Object:
                AddObject(p);
                break;
        }
    }

    private void AddObject(Param p)
    {
        var projection = p.Projection!;
        if (projection.Link is not null)
        {
            var chain = new Unit(UnitKind.Chain, p.Name, p.Name) { Size = projection.Depth, Private = true, Param = p };
            chain.Record.AddRange(FieldUnits(projection, "p", f => f.Sends(reply: false), isPrivate: true));
            Request.Add(chain);
            return;
        }
        var obj = p.Ownership == Ownership.AllocCaller ? $"(*{p.Name})" : p.Name;
        switch (p.Ownership)
        {
            case Ownership.None:
                break;
            case Ownership.AllocCallee:
                Request.Add(new Unit(UnitKind.AllocRef, p.Name, p.Name) { Param = p });
                Reply.Add(new Unit(UnitKind.AllocRef, p.Name + "_remote", p.Name) { Param = p });
                break;
            case Ownership.AllocCaller:
                Reply.Add(new Unit(UnitKind.AllocRef, p.Name, p.Name) { Param = p });
                break;
            case Ownership.Call:
                Request.Add(new Unit(UnitKind.ScopeOpen, p.Name, p.Name) { Param = p });
                break;
            case Ownership.CallUse:
            case Ownership.CallEnd:
                Request.Add(new Unit(UnitKind.ScopeRef, p.Name, p.Name) { Param = p });
                break;
            default:
                Request.Add(new Unit(UnitKind.Ref, p.Name, p.Name) { Param = p });
                break;
        }
        // An object the callee produces is new to the caller: all of its projection comes back.
        var produced = p.Ownership == Ownership.AllocCaller;
        if (!produced)
            Request.AddRange(FieldUnits(projection, obj, f => f.Sends(reply: false), isPrivate: p.IsCopy));
        Reply.AddRange(FieldUnits(projection, obj, f => produced || f.Sends(reply: true), isPrivate: false));
    }

    /// <summary>
    /// The fields of a projection that cross in one direction. Unions come last so that their
    /// discriminator has been received (and can be checked against) before their bytes.
    /// </summary>
    private static IEnumerable<Unit> FieldUnits(Projection projection, string obj, Func<ProjectedField, bool> crosses, bool isPrivate)
    {
        var units = new List<Unit>();
        var prefix = obj.Trim('(', ')', '*');
        foreach (var f in projection.Fields.Where(crosses).OrderBy(f => f.Field.Kind == FieldKind.Union ? 1 : 0))
        {
            var field = f.Field;
            var label = $"{prefix}_{field.Name}";
            var expr = $"{obj}->{field.Name}";
            units.Add(field.Kind switch
            {
                FieldKind.Scalar => new Unit(UnitKind.Scalar, label, expr) { Scalar = field.Scalar, Private = isPrivate, Field = field },
                FieldKind.Array => new Unit(UnitKind.Bytes, label, expr) { Scalar = field.Scalar, Size = field.Size, Private = isPrivate,
                    Field = field },
                _ => new Unit(UnitKind.Union, label, expr)
                {
                    Size = field.Size,
                    Private = isPrivate,
                    Field = field,
                    Owner = projection.Struct,
                    Discriminator = units.First(u => u.Field?.Name == field.Union!.Discriminator),
                },
            });
        }
        return units;
    }

    private static int Place(List<Unit> units, RegionPlanner region)
    {
        foreach (var u in units)
        {
            switch (u.Kind)
            {
                case UnitKind.Scalar:
                    u.Where = region.Word(u.Scalar!.Size);
                    break;
                case UnitKind.Bytes:
                case UnitKind.VarBytes:
                case UnitKind.Union:
                    u.Where = Location.InPage(region.Blob(u.Size, 8).ToString());
                    break;
                case UnitKind.String:
                    u.Where = region.Word(8);
                    u.Extra = Location.InPage(region.Blob(u.Size, 8).ToString());
                    break;
                case UnitKind.Buffer:
                    u.Where = region.Word(8);
                    u.Extra = region.Word(8);
                    break;
                case UnitKind.Chain:
                    u.Where = region.Word(8);
                    PlaceRecord(u, region);
                    break;
                case UnitKind.Bound:
                    break;
                default:
                    u.Where = region.Word(8);
                    break;
            }
        }
        return region.PageBytes;
    }

    /// <summary>A list node is a fixed-size record; node i sits at base + i * record size.</summary>
    private static void PlaceRecord(Unit chain, RegionPlanner region)
    {
        var record = new RegionPlanner();
        var offsets = new List<int>();
        foreach (var f in chain.Record)
            offsets.Add(f.Kind == UnitKind.Scalar ? record.Blob(f.Scalar!.Size, f.Scalar.Size) : record.Blob(f.Size, 8));
        chain.RecordSize = Math.Max(8, (record.PageBytes + 7) / 8 * 8);
        var bytes = (long)chain.RecordSize * chain.Size;
        var start = region.Blob((int)Math.Min(bytes, int.MaxValue / 2), 8);
        chain.Extra = Location.InPage(start.ToString());
        for (var i = 0; i < chain.Record.Count; i++)
            chain.Record[i].Where = Location.InPage($"{start + offsets[i]} + i * {chain.RecordSize}");
    }
}

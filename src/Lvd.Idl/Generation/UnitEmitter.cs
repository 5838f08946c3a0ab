using Lvd.Idl.Semantics;
using Lvd.Idl.Syntax;

namespace Lvd.Idl.Generation;

/// <summary>
/// The C code for one unit: how the sender puts it into the message, how the receiver takes
/// it out (into private storage or a temporary, checking it on the way) and, for
/// temporaries, how the receiver applies it once every check of the call has passed.
/// Request senders are callers, request receivers are callees; the reply is the reverse.
/// </summary>
internal sealed class UnitEmitter(CWriter w, Names names)
{
    private static string Read(Location at, ScalarType t) =>
        at.IsWord ? $"({t.C})m->w[{at.Word}]" : $"lvd_rp_get_{t.Idl}(rp, {at.PageOffset})";

    private static string ReadWord(Location at) => Read(at, ScalarType.All["u64"]);

    private void Write(Location at, ScalarType t, string value) =>
        w.Line(at.IsWord ? $"m->w[{at.Word}] = (uint64_t){Paren(value)};" : $"lvd_rp_put_{t.Idl}(rp, {at.PageOffset}, {value});");

    private void WriteWord(Location at, string value) => Write(at, ScalarType.All["u64"], value);

    private static string Paren(string e) => e.All(c => char.IsLetterOrDigit(c) || c == '_') ? e : $"({e})";

    private static string Tag(Param p) => Names.StructTag(p.Projection!.Struct);

    // ---- sending ----

    public void Send(Unit u, bool callerSide)
    {
        switch (u.Kind)
        {
            case UnitKind.Scalar:
                Write(u.Where, u.Scalar!, u.Expr);
                break;
            case UnitKind.Bytes:
                w.Line($"lvd_rp_put_bytes(rp, {u.Where.PageOffset}, {u.Expr}, {u.Size});");
                break;
            case UnitKind.VarBytes:
                // A callee's reply reuses the length it already checked on the way in.
                if (callerSide)
                    CheckBound(u);
                w.Line($"lvd_rp_put_bytes(rp, {u.Where.PageOffset}, {u.Expr}, (size_t){u.Length} * sizeof({u.Scalar!.C}));");
                break;
            case UnitKind.String:
                w.Line($"size_t v_{u.Label}_len = strnlen({u.Expr}, {u.Size + 1});");
                w.Fail($"v_{u.Label}_len > {u.Size}", "-LVD_E2BIG");
                WriteWord(u.Where, $"v_{u.Label}_len");
                w.Line($"lvd_rp_put_bytes(rp, {u.Extra.PageOffset}, {u.Expr}, v_{u.Label}_len);");
                break;
            case UnitKind.Union:
                SwitchOnArms(u, u.Discriminator!.Expr, arm => $"lvd_rp_put_bytes(rp, {u.Where.PageOffset}, &{u.Expr}.{arm.Name}, {arm.Size});");
                break;
            case UnitKind.Buffer:
                w.Line($"uint64_t v_{u.Label}_off;");
                w.Fail($"lvd_pool_offset(&ch->pool, {u.Expr}, {u.Expr}_len, &v_{u.Label}_off) != LVD_OK", "-LVD_ERANGE");
                WriteWord(u.Where, $"v_{u.Label}_off");
                WriteWord(u.Extra, $"{u.Expr}_len");
                break;
            case UnitKind.Callback:
                var tag = names.CallbackTag(u.Param!.Callback!);
                w.Fail($"{u.Expr} == NULL", "-LVD_EINVAL");
                FindOrInsert($"v_{u.Label}", $"(void *){u.Expr}", tag);
                WriteWord(u.Where, $"v_{u.Label}");
                break;
            case UnitKind.Ref:
                w.Fail($"{u.Expr} == NULL", "-LVD_EINVAL");
                w.Line($"uint64_t v_{u.Label};");
                w.Line($"struct lvd_cap *c_{u.Label} = lvd_cap_find_slot(ch->caps, {u.Expr}, {Tag(u.Param!)}, &v_{u.Label});");
                w.Fail($"c_{u.Label} == NULL || c_{u.Label}->remote == 0", "-LVD_ENOREF");
                WriteWord(u.Where, $"c_{u.Label}->remote");
                break;
            case UnitKind.AllocRef:
                SendAllocRef(u, callerSide);
                break;
            case UnitKind.ScopeOpen:
                // The slot is opened just before the crossing (OpenScope), so no
                // failure on the way there can leave it open.
                w.Fail($"{u.Expr} == NULL", "-LVD_EINVAL");
                break;
            case UnitKind.ScopeRef:
                w.Fail($"{u.Expr} == NULL", "-LVD_EINVAL");
                w.Line($"struct lvd_scope *c_{u.Label} = lvd_scope_find(ch, {u.Expr}, {Tag(u.Param!)});");
                w.Fail($"c_{u.Label} == NULL", "-LVD_ENOREF");
                WriteWord(u.Where, $"c_{u.Label}->remote");
                break;
            case UnitKind.Chain:
                SendChain(u);
                break;
            case UnitKind.Bound:
                CheckBound(u);
                break;
        }
    }

    // Compared unsigned, a negative signed length is over the bound, not under it.
    private void CheckBound(Unit u) => w.Fail($"(uint64_t){u.Length} > {u.Size / u.Scalar!.Size}", "-LVD_E2BIG");

    private void FindOrInsert(string variable, string pointer, string tag)
    {
        w.Line($"uint64_t {variable} = lvd_cap_find(ch->caps, {pointer}, {tag});");
        w.Line($"if ({variable} == 0)");
        w.Indented($"{variable} = lvd_cap_insert(ch->caps, {pointer}, {tag});");
        w.Fail($"{variable} == 0", "-LVD_ENOMEM");
    }

    private void SendAllocRef(Unit u, bool callerSide)
    {
        var p = u.Param!;
        if (callerSide)
        {
            // alloc(callee), request: our own capability, which the callee records as remote.
            w.Fail($"{p.Name} == NULL", "-LVD_EINVAL");
            FindOrInsert($"v_{p.Name}", p.Name, Tag(p));
            WriteWord(u.Where, $"v_{p.Name}");
        }
        else if (p.Ownership == Ownership.AllocCallee)
            WriteWord(u.Where, $"v_{p.Name}_own");
        else
        {
            // alloc(caller), reply: the callee's object, which the caller will shadow.
            w.Fail($"*{p.Name} == NULL", "-LVD_EINVAL");
            FindOrInsert($"v_{p.Name}_own", $"*{p.Name}", Tag(p));
            WriteWord(u.Where, $"v_{p.Name}_own");
        }
    }

    private void SwitchOnArms(Unit u, string discriminator, Func<UnionArm, string> copy)
    {
        w.Line($"switch ({discriminator}) {{");
        foreach (var arm in u.Field!.Union!.Arms)
        {
            w.Line($"case {arm.Tag}:");
            w.Indented(copy(arm));
            w.Indented("break;");
        }
        w.Line("default:");
        w.Indented("return -LVD_EBADUNION;");
        w.Line("}");
    }

    private void SendChain(Unit u)
    {
        // The walk stops at the bound, so a cyclic list is refused, not followed forever.
        w.Fail($"{u.Expr} == NULL", "-LVD_EINVAL");
        w.Open("{");
        w.Line($"{Names.StructOf(u.Param!)} *p;");
        w.Line("uint64_t i = 0;");
        w.Open($"for (p = {u.Expr}; p != NULL; p = p->{u.Param!.Projection!.Link!.Name}, i++) {{");
        w.Fail($"i == {u.Size}", "-LVD_ELOOP");
        foreach (var f in u.Record)
            Send(f, callerSide: true);
        w.Close();
        WriteWord(u.Where, "i");
        w.Close();
    }

    // ---- receiving: copy once, check, keep private ----

    public void Receive(Unit u, bool callerSide)
    {
        switch (u.Kind)
        {
            case UnitKind.Scalar:
                w.Line(u.Private ? $"{u.Expr} = {Read(u.Where, u.Scalar!)};" : $"{u.Scalar!.C} {u.Received} = {Read(u.Where, u.Scalar!)};");
                break;
            case UnitKind.Bytes:
                if (!u.Private)
                    w.Line($"uint8_t {u.Received}[{u.Size}];");
                w.Line($"lvd_rp_get_bytes(rp, {u.Where.PageOffset}, {u.Received}, {u.Size});");
                break;
            case UnitKind.VarBytes:
                CheckBound(u);
                if (!u.Private)
                    w.Line($"{u.Scalar!.C} {u.Received}[{u.Size / u.Scalar.Size}];");
                w.Line($"lvd_rp_get_bytes(rp, {u.Where.PageOffset}, {u.Received}, (size_t){u.Length} * sizeof({u.Scalar!.C}));");
                break;
            case UnitKind.String:
                // The callee terminates its own copy: the sender's NUL is never trusted.
                w.Line($"uint64_t v_{u.Label}_len = {ReadWord(u.Where)};");
                w.Fail($"v_{u.Label}_len > {u.Size}", "-LVD_E2BIG");
                w.Line($"lvd_rp_get_bytes(rp, {u.Extra.PageOffset}, s_{u.Label}, v_{u.Label}_len);");
                w.Line($"s_{u.Label}[v_{u.Label}_len] = '\\0';");
                break;
            case UnitKind.Union:
                var target = u.Private ? u.Expr : u.Received;
                if (!u.Private)
                {
                    w.Line($"{Names.Union(u.Owner!, u.Field!)} {u.Received};");
                    w.Line($"memset(&{u.Received}, 0, sizeof({u.Received}));");
                }
                SwitchOnArms(u, u.Discriminator!.Received, arm => $"lvd_rp_get_bytes(rp, {u.Where.PageOffset}, &{target}.{arm.Name}, {arm.Size});");
                break;
            case UnitKind.Buffer:
                w.Line($"{u.Expr}_len = {ReadWord(u.Extra)};");
                w.Line($"{u.Expr} = lvd_pool_ptr(&ch->pool, {ReadWord(u.Where)}, {u.Expr}_len);");
                w.Fail($"{u.Expr} == NULL", "-LVD_ERANGE");
                break;
            case UnitKind.Callback:
                w.Line($"{u.Expr} = {ReadWord(u.Where)};");
                break;
            case UnitKind.Ref:
                w.Line($"uint64_t v_{u.Label} = {ReadWord(u.Where)};");
                w.Line($"struct lvd_cap *c_{u.Label} = lvd_cap_lookup(ch->caps, v_{u.Label}, {Tag(u.Param!)});");
                w.Fail($"c_{u.Label} == NULL", "-LVD_EBADREF");
                w.Line($"{u.Expr} = c_{u.Label}->ptr;");
                break;
            case UnitKind.AllocRef:
                w.Line($"uint64_t v_{u.Label} = {ReadWord(u.Where)};");
                w.Fail($"v_{u.Label} == 0", "-LVD_EBADREF");
                break;
            case UnitKind.ScopeOpen:
                w.Line($"uint64_t v_{u.Label} = {ReadWord(u.Where)};");
                w.Fail($"!lvd_scope_name_ok(v_{u.Label})", "-LVD_EBADREF");
                break;
            case UnitKind.ScopeRef:
                w.Line($"uint64_t v_{u.Label} = {ReadWord(u.Where)};");
                w.Line($"struct lvd_scope *c_{u.Label} = lvd_scope_lookup(ch, v_{u.Label}, {Tag(u.Param!)});");
                w.Fail($"c_{u.Label} == NULL", "-LVD_EBADREF");
                w.Line($"{u.Expr} = c_{u.Label}->ptr;");
                break;
            case UnitKind.Chain:
                ReceiveChain(u);
                break;
            case UnitKind.Bound:
                CheckBound(u);
                break;
        }
    }

    private void ReceiveChain(Unit u)
    {
        var link = u.Param!.Projection!.Link!.Name;
        w.Line($"uint64_t v_{u.Label}_count = {ReadWord(u.Where)};");
        w.Fail($"v_{u.Label}_count == 0 || v_{u.Label}_count > {u.Size}", "-LVD_ELOOP");
        w.Line($"memset(s_{u.Label}, 0, sizeof(s_{u.Label}));");
        w.Open($"for (uint64_t i = 0; i < v_{u.Label}_count; i++) {{");
        w.Line($"{Names.StructOf(u.Param)} *p = &s_{u.Label}[i];");
        foreach (var f in u.Record)
            Receive(f, callerSide: false);
        w.Line($"p->{link} = i + 1 < v_{u.Label}_count ? &s_{u.Label}[i + 1] : NULL;");
        w.Close();
    }

    // ---- applying: only after every check of the call passed ----

    public void Apply(Unit u)
    {
        if (u.Private)
            return;
        switch (u.Kind)
        {
            case UnitKind.Scalar:
                w.Line($"{u.Expr} = {u.Received};");
                break;
            case UnitKind.Bytes:
                w.Line($"memcpy({u.Expr}, {u.Received}, {u.Size});");
                break;
            case UnitKind.VarBytes:
                w.Line($"memcpy({u.Expr}, {u.Received}, (size_t){u.Length} * sizeof({u.Scalar!.C}));");
                break;
            case UnitKind.Union:
                w.Line($"{u.Expr} = {u.Received};");
                break;
        }
    }

    /// <summary>
    /// Creates the receiver's shadow for an alloc unit. Earlier allocations of the same call
    /// are undone on failure, so a failed call leaves no half-made objects behind.
    /// </summary>
    public void Allocate(Unit u, List<Unit> done, bool callerSide)
    {
        var p = u.Param!;
        var tag = Tag(p);
        var obj = callerSide ? $"v_{p.Name}_obj" : p.Name;
        var own = callerSide ? $"v_{p.Name}_own" : $"v_{p.Name}_own";
        var remote = $"v_{u.Label}";
        w.Line(callerSide ? $"{Names.StructOf(p)} *{obj} = lvd_shadow_alloc(sizeof(*{obj}), {tag});"
            : $"{obj} = lvd_shadow_alloc(sizeof(*{obj}), {tag});");
        w.Line($"uint64_t {own} = {obj} == NULL ? 0 : lvd_cap_insert(ch->caps, {obj}, {tag});");
        w.Open($"if ({own} == 0) {{");
        w.Line($"if ({obj} != NULL)");
        w.Indented($"lvd_shadow_free({obj}, {tag});");
        foreach (var d in done)
            Undo(d, callerSide);
        w.Line("return -LVD_ENOMEM;");
        w.Close();
        w.Line($"lvd_cap_lookup(ch->caps, {own}, {tag})->remote = {remote};");
        if (callerSide)
            w.Line($"*{p.Name} = {obj};");
    }

    // ---- call-scoped objects ([call]) ----

    /// <summary>Caller, just before crossing: a slot names the object for this call.</summary>
    public void OpenScope(Unit u, List<Unit> opened)
    {
        var tag = Tag(u.Param!);
        w.Line($"uint64_t v_{u.Label} = lvd_scope_open(ch, {u.Expr}, {tag});");
        w.Open($"if (v_{u.Label} == 0) {{");
        foreach (var d in opened)
            CloseScope(d);
        w.Line("return -LVD_ENOMEM;");
        w.Close();
        WriteWord(u.Where, $"v_{u.Label}");
    }

    /// <summary>Caller, as soon as the crossing is back (failed or not): the name is dead.</summary>
    public void CloseScope(Unit u) => w.Line($"lvd_scope_close(ch, v_{u.Label}, {Tag(u.Param!)});");

    /// <summary>
    /// Callee, in the commit step: the slot's shadow, reused from call to call and zeroed
    /// as a new one would be. A failure undoes this call's earlier shadows.
    /// </summary>
    public void EnterScope(Unit u, List<Unit> allocated, List<Unit> entered)
    {
        var tag = Tag(u.Param!);
        w.Line($"{u.Expr} = lvd_scope_enter(ch, v_{u.Label}, {tag}, sizeof(*{u.Expr}));");
        w.Open($"if ({u.Expr} == NULL) {{");
        foreach (var d in allocated)
            Undo(d, callerSide: false);
        foreach (var d in entered)
            LeaveScope(d);
        w.Line("return -LVD_ENOMEM;");
        w.Close();
    }

    /// <summary>Callee, once the call is over: the slot closes, its shadow stays for the next call.</summary>
    public void LeaveScope(Unit u) => w.Line($"lvd_scope_leave(ch, v_{u.Label}, {Tag(u.Param!)});");

    private void Undo(Unit u, bool callerSide)
    {
        var p = u.Param!;
        w.Line($"lvd_cap_remove(ch->caps, v_{p.Name}_own);");
        w.Line($"lvd_shadow_free({(callerSide ? $"v_{p.Name}_obj" : p.Name)}, {Tag(p)});");
    }

    /// <summary>
    /// The caller learns the callee's name for an object it just shared with alloc(callee).
    /// The entry may be gone: a nested call during this one may have deallocated the object.
    /// </summary>
    public void RecordRemote(Unit u)
    {
        var p = u.Param!;
        w.Line($"struct lvd_cap *c_{p.Name} = lvd_cap_lookup(ch->caps, v_{p.Name}, {Tag(p)});");
        w.Line($"if (c_{p.Name} != NULL)");
        w.Indented($"c_{p.Name}->remote = v_{u.Label};");
    }

    /// <summary>
    /// Once a dealloc call is over both sides forget the pairing, and the side named by the
    /// qualifier frees its shadow (the one its alloc made); the other side's object is its own.
    /// </summary>
    public void Release(Param p, bool callerSide)
    {
        if (p.Ownership == Ownership.CallEnd)
        {
            // The object's call is ended early: its name is dead on both sides.
            if (callerSide)
            {
                w.Line($"if (c_{p.Name}->ptr == {p.Name})");
                w.Indented($"lvd_scope_close_slot(c_{p.Name});");
            }
            else
                w.Line($"lvd_scope_close(ch, v_{p.Name}, {Tag(p)});");
            return;
        }
        w.Line($"lvd_cap_remove(ch->caps, v_{p.Name});");
        if (callerSide == (p.Ownership == Ownership.DeallocCaller))
            w.Line($"lvd_shadow_free({p.Name}, {Tag(p)});");
    }
}

namespace Lvd.Idl.Syntax;

/// <summary>
/// Recursive descent over the token list. The first error ends the parse with a diagnostic
/// that names what was found and what was expected there.
/// </summary>
internal sealed class Parser
{
    private readonly SourceText _source;
    private readonly List<Token> _tokens;
    private int _pos;

    private Parser(SourceText source)
    {
        _source = source;
        _tokens = Lexer.Tokenize(source);
    }

    public static InterfaceSyntax Parse(SourceText source) => new Parser(source).ParseFile();

    private Token Peek(int ahead = 0) => _tokens[Math.Min(_pos + ahead, _tokens.Count - 1)];

    private Token Next() => _tokens[Math.Min(_pos++, _tokens.Count - 1)];

    private IdlSyntaxException Expected(string what) =>
        new(_source.Error(Peek().Span, $"expected {what}, found {Peek().Describe()}"));

    private Token Expect(string text, string? what = null)
    {
        if (!Peek().Is(text))
            throw Expected(what ?? $"'{text}'");
        return Next();
    }

    private bool Accept(string text)
    {
        if (!Peek().Is(text))
            return false;
        _pos++;
        return true;
    }

    private Name ExpectName(string what)
    {
        if (Peek().Kind != TokenKind.Identifier)
            throw Expected(what);
        var t = Next();
        return new Name(t.Text, t.Span);
    }

    private Token ExpectInteger(string what)
    {
        if (Peek().Kind != TokenKind.Integer)
            throw Expected(what);
        return Next();
    }

    private InterfaceSyntax ParseFile()
    {
        Expect("interface", "'interface NAME;' at the start of the file");
        var name = ExpectName("the interface name");
        Expect(";");
        var structs = new List<StructSyntax>();
        var projections = new List<ProjectionSyntax>();
        var rpcs = new List<RpcSyntax>();
        while (Peek().Kind != TokenKind.End)
        {
            if (Peek().Is("struct"))
                structs.Add(ParseStruct());
            else if (Peek().Is("projection"))
                projections.Add(ParseProjection());
            else if (Peek().Is("kernel") || Peek().Is("domain"))
                rpcs.Add(ParseRpc());
            else
                throw Expected("'struct', 'projection', 'kernel rpc', 'domain rpc' or a callback declaration");
        }
        return new InterfaceSyntax(name, structs, projections, rpcs);
    }

    private StructSyntax ParseStruct()
    {
        Expect("struct");
        var name = ExpectName("the struct name");
        Expect("{");
        var fields = new List<FieldSyntax>();
        while (!Accept("}"))
            fields.Add(Peek().Is("union") ? ParseUnion() : ParseField());
        Accept(";");
        return new StructSyntax(name, fields);
    }

    private FieldSyntax ParseField()
    {
        var type = ExpectName("a field type (a scalar such as u32, or a struct name), a union, or '}'");
        var star = Accept("*");
        var name = ExpectName("the field name");
        var (length, span) = ParseOptionalFixedLength();
        Expect(";", "';' after the field");
        return new FieldSyntax(name, type, star, length, span, null, null);
    }

    private (long? Length, Span Span) ParseOptionalFixedLength()
    {
        if (!Peek().Is("["))
            return (null, default);
        var open = Next();
        var n = ExpectInteger("the array length (an integer)");
        var close = Expect("]");
        return (n.Value, Span.Covering(open.Span, close.Span));
    }

    private FieldSyntax ParseUnion()
    {
        var keyword = Expect("union");
        var name = ExpectName("the union field name");
        Expect("switch", "'switch (discriminator)' after the union name");
        Expect("(");
        var discriminator = ExpectName("the discriminator field name");
        Expect(")");
        Expect("{");
        var arms = new List<ArmSyntax>();
        while (!Accept("}"))
        {
            Expect("case", "'case N: type name;' or '}'");
            var tag = ExpectInteger("the case value (an integer)");
            Expect(":");
            var type = ExpectName("the arm's type");
            var armName = ExpectName("the arm's name");
            var (length, span) = ParseOptionalFixedLength();
            Expect(";", "';' after the arm");
            arms.Add(new ArmSyntax(tag.Value, tag.Span, type, armName, length, span));
        }
        Accept(";");
        return new FieldSyntax(name, new Name("union", keyword.Span), false, null, default, discriminator, arms);
    }

    private ProjectionSyntax ParseProjection()
    {
        Expect("projection");
        var name = ExpectName("the projection name");
        Expect(":", "':' and the projected struct's name");
        var target = ExpectName("the projected struct's name");
        Expect("{");
        var fields = new List<ProjectedFieldSyntax>();
        while (!Accept("}"))
        {
            var (direction, dirSpan) = ParseDirection();
            if (direction == Direction.None)
                throw Expected("a direction ('in', 'out' or 'in out') before the projected field");
            var field = ExpectName("the name of a field of the struct");
            Name? pointee = null;
            long? depth = null;
            Span depthSpan = default;
            if (Accept("->"))
            {
                pointee = ExpectName("the projection the pointer field points to");
                if (Peek().Is("depth"))
                {
                    var keyword = Next();
                    var n = ExpectInteger("the depth bound (an integer)");
                    depth = n.Value;
                    depthSpan = Span.Covering(keyword.Span, n.Span);
                }
            }
            Expect(";", "';' after the projected field");
            fields.Add(new ProjectedFieldSyntax(direction, dirSpan, field, pointee, depth, depthSpan));
        }
        Accept(";");
        return new ProjectionSyntax(name, target, fields);
    }

    private (Direction, Span) ParseDirection()
    {
        if (Peek().Is("in"))
        {
            var first = Next();
            if (Peek().Is("out"))
                return (Direction.InOut, Span.Covering(first.Span, Next().Span));
            return (Direction.In, first.Span);
        }
        if (Peek().Is("out"))
            return (Direction.Out, Next().Span);
        return (Direction.None, Peek().Span);
    }

    private RpcSyntax ParseRpc()
    {
        var side = Next().Text == "kernel" ? Side.Kernel : Side.Domain;
        bool callback;
        if (Accept("rpc"))
            callback = false;
        else if (Accept("callback"))
            callback = true;
        else
            throw Expected("'rpc' or 'callback'");
        var returnType = ExpectName("the return type (void or a scalar)");
        var name = ExpectName("the rpc name");
        Expect("(");
        var parameters = new List<ParamSyntax>();
        if (!Accept(")"))
        {
            do
                parameters.Add(ParseParam());
            while (Accept(","));
            Expect(")", "',' or ')'");
        }
        Expect(";", "';' after the rpc");
        return new RpcSyntax(side, callback, returnType, name, parameters);
    }

    private ParamSyntax ParseParam()
    {
        var (direction, dirSpan) = ParseDirection();
        var form = ParamForm.Named;
        long stringBound = 0;
        Name type;
        if (Peek().Is("string"))
        {
            var keyword = Next();
            Expect("<", "'<' and the string's maximum length, as in string<64>");
            var bound = ExpectInteger("the string's maximum length (an integer)");
            var close = Expect(">");
            form = ParamForm.String;
            stringBound = bound.Value;
            type = new Name("string", Span.Covering(keyword.Span, close.Span));
        }
        else if (Peek().Is("buffer"))
        {
            var keyword = Next();
            form = ParamForm.Buffer;
            type = new Name("buffer", keyword.Span);
        }
        else
            type = ExpectName("a parameter type");
        var star = form == ParamForm.Named && Accept("*");
        var name = ExpectName("the parameter name");
        long? fixedLength = null, bound2 = null;
        Name? lengthParam = null;
        var ownership = Ownership.None;
        Span suffixSpan = default;
        if (Peek().Is("["))
        {
            var open = Next();
            if (Peek().Kind == TokenKind.Integer)
                fixedLength = Next().Value;
            else if (Peek().Is("bind"))
            {
                Next();
                ownership = Ownership.Bind;
            }
            else if (Peek().Is("alloc") || Peek().Is("dealloc"))
                ownership = ParseOwnership();
            else if (Peek().Is("call"))
            {
                Next();
                ownership = Ownership.Call;
                if (Accept("("))
                {
                    if (Accept("use"))
                        ownership = Ownership.CallUse;
                    else if (Accept("end"))
                        ownership = Ownership.CallEnd;
                    else
                        throw Expected("'use' or 'end'");
                    Expect(")");
                }
            }
            else if (Peek().Kind == TokenKind.Identifier)
            {
                lengthParam = ExpectName("the length parameter");
                Expect("<=", "'<=' and a bound after the length parameter, as in [n <= 32]");
                bound2 = ExpectInteger("the array's maximum length (an integer)").Value;
            }
            else
                throw Expected("an array length, '[n <= N]', 'bind', 'alloc(caller|callee)', 'dealloc(caller|callee)' or 'call'");
            var close = Expect("]");
            suffixSpan = Span.Covering(open.Span, close.Span);
        }
        return new ParamSyntax(direction, dirSpan, form, type, star, stringBound, name, fixedLength, lengthParam, bound2, suffixSpan, ownership);
    }

    private Ownership ParseOwnership()
    {
        var alloc = Next().Text == "alloc";
        Expect("(");
        Ownership result;
        if (Accept("caller"))
            result = alloc ? Ownership.AllocCaller : Ownership.DeallocCaller;
        else if (Accept("callee"))
            result = alloc ? Ownership.AllocCallee : Ownership.DeallocCallee;
        else
            throw Expected("'caller' or 'callee'");
        Expect(")");
        return result;
    }
}

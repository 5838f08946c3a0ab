namespace Lvd.Idl.Tests;

/// <summary>
/// Invalid interfaces, each with the exact diagnostic a person sees: position, message,
/// source line and caret. None of them may produce any file.
/// </summary>
public sealed class DiagnosticTests
{
    public static TheoryData<string, string, string> Cases => new()
    {
        { "alloccaller", """
interface x;
struct dev { u32 flags; }
projection p : dev { in flags; }
domain rpc void f(p *d [alloc(caller)]);
""", """
test.idl:4:24: error: alloc(caller) needs an 'out' parameter: the callee produces the object and the caller gets a shadow of it
    domain rpc void f(p *d [alloc(caller)]);
                           ^^^^^^^^^^^^^^^
""" },
        { "callarm", """
interface x;
struct dev { u32 flags; }
projection p : dev { in flags; }
domain rpc void f(p *d [call(keep)]);
""", """
test.idl:4:30: error: expected 'use' or 'end', found 'keep'
    domain rpc void f(p *d [call(keep)]);
                                 ^^^^
""" },
        { "callscalar", """
interface x;
struct dev { u32 flags; }
projection p : dev { in flags; }
domain rpc void f(in u32 n [call]);
""", """
test.idl:4:28: error: ownership (bind, alloc, dealloc, call) applies only to projection pointers
    domain rpc void f(in u32 n [call]);
                               ^^^^^^
""" },
        { "badchar", """
interface x;
struct a { u32 x; } $
""", """
test.idl:2:21: error: unexpected character '$'
    struct a { u32 x; } $
                        ^
""" },
        { "badint", """
interface x;
struct a { u32 x[0x]; }
""", """
test.idl:2:18: error: '0x' is not a valid integer: expected decimal digits or 0x and hex digits, below 2^63
    struct a { u32 x[0x]; }
                     ^^
""" },
        { "badlen", """
interface x;
domain rpc void f(in u32 n, in u8 v[n 32]);
""", """
test.idl:2:39: error: expected '<=' and a bound after the length parameter, as in [n <= 32], found '32'
    domain rpc void f(in u32 n, in u8 v[n 32]);
                                          ^^
""" },
        { "badown", """
interface x;
domain rpc void f(p *d [alloc(nobody)]);
""", """
test.idl:2:31: error: expected 'caller' or 'callee', found 'nobody'
    domain rpc void f(p *d [alloc(nobody)]);
                                  ^^^^^^
""" },
        { "cbside", """
interface x;
kernel callback void done(in u32 code);
kernel rpc void reg(done cb);
""", """
test.idl:3:21: error: callback 'done' runs in the kernel, but 'reg' is called by the domain: only the side that owns a function can register it
    kernel rpc void reg(done cb);
                        ^^^^
""" },
        { "dirproj", """
interface x;
struct dev { u32 flags; }
projection p : dev { in flags; }
domain rpc void f(in p *d [bind]);
""", """
test.idl:4:19: error: a direction on projection pointer 'd' cannot work: directions belong to the projection's fields
    domain rpc void f(in p *d [bind]);
                      ^^
""" },
        { "disc", """
interface x;
struct ev { u32 kind; union u switch (kind) { case 1: u64 a; }; }
projection p : ev { in u; }
""", """
test.idl:3:24: error: union 'u' is 'in' but its discriminator 'kind' is not projected: project the discriminator in the same direction
    projection p : ev { in u; }
                           ^
""" },
        { "dup", """
interface x;
domain rpc void f(in u32 a, in u32 a);
""", """
test.idl:2:36: error: parameter 'a' is declared twice
    domain rpc void f(in u32 a, in u32 a);
                                       ^
""" },
        { "dupcase", """
interface x;
struct ev { u32 kind; union u switch (kind) { case 1: u64 a; case 1: u32 b; }; }
""", """
test.idl:2:67: error: case 1 already selects arm 'a'
    struct ev { u32 kind; union u switch (kind) { case 1: u64 a; case 1: u32 b; }; }
                                                                      ^
""" },
        { "emptyunion", """
interface x;
struct ev { u32 kind; union u switch (kind) { }; }
""", """
test.idl:2:29: error: union 'u' has no arm
    struct ev { u32 kind; union u switch (kind) { }; }
                                ^
""" },
        { "eof", """
interface x;
domain rpc void f(in u32 a
""", """
test.idl:3:1: error: expected ',' or ')', found end of file
    
    ^
""" },
        { "listout", """
interface x;
struct node { u32 v; node *next; }
projection l : node { out v; in next -> l depth 4; }
""", """
test.idl:3:23: error: field 'v' of list projection 'l' can only be 'in': the callee gets a private copy of the list
    projection l : node { out v; in next -> l depth 4; }
                          ^^^
""" },
        { "keyword", """
interface x;
struct ev { u32 kind; u64 default; }
domain rpc void switch(in u32 a);
""", """
test.idl:2:27: error: 'default' is a C keyword: choose another field name
    struct ev { u32 kind; u64 default; }
                              ^^^^^^^
test.idl:3:17: error: 'switch' is a C keyword: choose another rpc name
    domain rpc void switch(in u32 a);
                    ^^^^^^
""" },
        { "casetoobig", """
interface x;
struct ev { u8 kind; union u switch (kind) { case 255: u64 a; case 256: u32 b; }; }
""", """
test.idl:2:68: error: case 256 does not fit discriminator 'kind' (u8): at most 255
    struct ev { u8 kind; union u switch (kind) { case 255: u64 a; case 256: u32 b; }; }
                                                                       ^^^
""" },
        { "lenafter", """
interface x;
domain rpc void f(in u8 v[n <= 8], in u32 n);
""", """
test.idl:2:27: error: length 'n' must come before 'v': the receiver checks the length before it takes the data
    domain rpc void f(in u8 v[n <= 8], in u32 n);
                              ^
""" },
        { "samename", """
interface x;
domain rpc void f(in u32 f);
""", """
test.idl:2:26: error: parameter 'f' has the rpc's own name: the handler could not call 'f'
    domain rpc void f(in u32 f);
                             ^
""" },
        { "lenout", """
interface x;
domain rpc void f(out u32 n, in u8 v[n <= 8]);
""", """
test.idl:2:38: error: length 'n' must be 'in': both sides need it before the data moves
    domain rpc void f(out u32 n, in u8 v[n <= 8]);
                                         ^
""" },
        { "listown", """
interface x;
struct node { u32 v; node *next; }
projection l : node { in v; in next -> l depth 4; }
domain rpc void f(l *head [bind]);
""", """
test.idl:4:27: error: list projection 'l' is copied for the call: it cannot be shared by capability (remove '[...]')
    domain rpc void f(l *head [bind]);
                              ^^^^^^
""" },
        { "missingsemi", """
interface x;
struct a { u32 x }
""", """
test.idl:2:18: error: expected ';' after the field, found '}'
    struct a { u32 x }
                     ^
""" },
        { "nodepth", """
interface x;
struct node { u32 v; node *next; }
projection l : node { in v; in next -> l; }
""", """
test.idl:3:40: error: recursive field 'next' is unbounded: add 'depth N' (at most 1024)
    projection l : node { in v; in next -> l; }
                                           ^
""" },
        { "nofield", """
interface x;
struct dev { u32 flags; }
projection p : dev { in flagz; }
""", """
test.idl:3:25: error: struct 'dev' has no field 'flagz'
    projection p : dev { in flagz; }
                            ^^^^^
""" },
        { "nohdr", """
struct a { u32 x; }
""", """
test.idl:1:1: error: expected 'interface NAME;' at the start of the file, found 'struct'
    struct a { u32 x; }
    ^^^^^^
""" },
        { "otherptr", """
interface x;
struct node { u32 v; node *next; }
projection l : node { in v; }
projection m2 : node { in next -> l depth 4; }
""", """
test.idl:4:35: error: pointer field 'next' must point to projection 'm2' itself (a linked list); other nested pointers are not supported
    projection m2 : node { in next -> l depth 4; }
                                      ^
""" },
        { "outlink", """
interface x;
struct node { u32 v; node *next; }
projection l : node { in v; in out next -> l depth 4; }
""", """
test.idl:3:29: error: list link 'next' can only be 'in': the callee gets a private copy of the list for the call
    projection l : node { in v; in out next -> l depth 4; }
                                ^^^^^^
""" },
        { "outstring", """
interface x;
domain rpc void f(out string<16> name);
""", """
test.idl:2:19: error: string 'name' can only be 'in': return text in an array 'out char name[N]'
    domain rpc void f(out string<16> name);
                      ^^^
""" },
        { "reserved", """
interface x;
domain rpc void f(in u32 ch);
""", """
test.idl:2:26: error: 'ch' is reserved by the generated glue: choose another parameter name
    domain rpc void f(in u32 ch);
                             ^^
""" },
        { "retype", """
interface x;
domain rpc dev f();
""", """
test.idl:2:12: error: unknown return type 'dev': expected void or a scalar (u8, u16, u32, u64, s8, s16, s32, s64, char)
    domain rpc dev f();
               ^^^
""" },
        { "structparam", """
interface x;
struct dev { u32 flags; }
domain rpc void f(dev *d);
""", """
test.idl:3:19: error: 'dev' is a struct: pass a pointer to one of its projections
    domain rpc void f(dev *d);
                      ^^^
""" },
        { "toobig", """
interface x;
domain rpc void f(in u64 a[512], in u8 b[8]);
""", """
test.idl:2:17: error: rpc 'f' needs 4104 bytes of the register page, which holds 4096: pass bulk data as a 'buffer' in the shared pool
    domain rpc void f(in u64 a[512], in u8 b[8]);
                    ^
""" },
        { "unbounded", """
interface x;
domain rpc void f(in u8 *data);
""", """
test.idl:2:22: error: 'u8 *data' is unbounded: use 'u8 data[N]', 'u8 data[n <= N]' or 'buffer data'
    domain rpc void f(in u8 *data);
                         ^^^^^^^^
""" },
        { "uniontype", """
interface x;
struct ev { u32 kind; union u switch (kind) { case 1: node a; }; }
""", """
test.idl:2:55: error: union arm type 'node' is not supported: expected a scalar or an array of scalars (u8, u16, u32, u64, s8, s16, s32, s64, char)
    struct ev { u32 kind; union u switch (kind) { case 1: node a; }; }
                                                          ^^^^
""" },
        { "unknowntype", """
interface x;
domain rpc void f(in u31 n);
""", """
test.idl:2:22: error: unknown type 'u31': expected a scalar (u8, u16, u32, u64, s8, s16, s32, s64, char), string<N>, buffer, a projection pointer or a callback
    domain rpc void f(in u31 n);
                         ^^^
""" },
        { "unterminated", """
interface x;
/* never closed
""", """
test.idl:2:1: error: unterminated comment: expected '*/'
    /* never closed
    ^^
""" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void InvalidInputGivesExactDiagnosticsAndNoOutput(string name, string source, string expected)
    {
        var result = IdlCompiler.Compile("test.idl", source + "\n");

        Assert.False(result.Succeeded, name);
        Assert.Empty(result.GeneratedFiles);
        Assert.Equal(expected, string.Join("\n", result.Diagnostics.Select(d => d.Format())));
    }

    [Fact]
    public void SemanticErrorsAreAllReportedNotJustTheFirst()
    {
        var result = IdlCompiler.Compile("t.idl", """
            interface x;
            struct dev { u32 flags; }
            projection p : dev { in flagz; }
            domain rpc void f(in u31 a, in nope *b);
            """);

        Assert.Equal(
            ["t.idl:3:25: error: struct 'dev' has no field 'flagz'",
             "t.idl:4:22: error: unknown type 'u31': expected a scalar (u8, u16, u32, u64, s8, s16, s32, s64, char), string<N>, buffer, a " +
                 "projection pointer or a callback",
             "t.idl:4:32: error: unknown projection 'nope'"],
            result.Diagnostics.Select(d => d.Format().Split('\n')[0]));
    }

    [Fact]
    public void TabsInTheSourceLineDoNotMisplaceTheCaret()
    {
        var result = IdlCompiler.Compile("t.idl", "interface x;\n\tstruct a { u32 x }\n");

        Assert.Equal("t.idl:2:19: error: expected ';' after the field, found '}'\n     struct a { u32 x }\n                      ^",
            result.Diagnostics.Single().Format());
    }
}

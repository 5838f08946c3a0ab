using System.Text;
using CsCheck;

namespace Lvd.Idl.Tests;

/// <summary>
/// Random valid interfaces, combining every construct in every place it is allowed, must
/// compile, and what they generate must build with gcc -Wall -Wextra -Werror.
/// </summary>
public sealed class GeneratedCodeCompilesTests
{
    private static readonly string[] Scalars = ["u8", "u16", "u32", "u64", "s8", "s16", "s32", "s64", "char"];
    private static readonly string[] Directions = ["in", "out", "in out"];
    private static readonly string[] Ownerships = ["", " [bind]", " [alloc(callee)]", " [dealloc(callee)]", " [dealloc(caller)]", " [call]",
        " [call(use)]", " [call(end)]"];

    /// <summary>Draws an interface from a seed, following the language's rules so that it is valid.</summary>
    private static string RandomInterface(int seed)
    {
        var rng = new Random(seed);
        T Pick<T>(T[] items) => items[rng.Next(items.Length)];
        var text = new StringBuilder("interface gen;\n");
        text.Append("struct item {\n    u32 kind;\n");
        var fields = rng.Next(1, 5);
        for (var i = 0; i < fields; i++)
            text.Append($"    {Pick(Scalars)} f{i}{(rng.Next(4) == 0 ? $"[{rng.Next(1, 9)}]" : "")};\n");
        text.Append("    union u switch (kind) {\n");
        var arms = rng.Next(1, 4);
        for (var a = 0; a < arms; a++)
            text.Append($"        case {a * 3 + rng.Next(3)}: {Pick(Scalars)} a{a}{(rng.Next(2) == 0 ? $"[{rng.Next(1, 5)}]" : "")};\n");
        text.Append("    };\n}\n");
        text.Append("struct link {\n    u64 v;\n    u16 w[3];\n    link *next;\n}\n");

        // Projections of `item`: the union goes with its discriminator in both directions.
        var projections = rng.Next(1, 4);
        for (var p = 0; p < projections; p++)
        {
            text.Append($"projection item{p} : item {{\n");
            var withUnion = rng.Next(2) == 0;
            if (withUnion)
                text.Append("    in out kind;\n").Append($"    {Pick(Directions)} u;\n");
            for (var i = 0; i < fields; i++)
                if (rng.Next(2) == 0)
                    text.Append($"    {Pick(Directions)} f{i};\n");
            text.Append("}\n");
        }
        text.Append($"projection chain : link {{\n    in v;\n    in w;\n    in next -> chain depth {rng.Next(1, 12)};\n}}\n");

        var rpcs = rng.Next(1, 7);
        var callbacks = new List<(string Name, string Side)>();
        for (var r = 0; r < rpcs; r++)
        {
            var side = rng.Next(2) == 0 ? "kernel" : "domain";
            var caller = side == "kernel" ? "domain" : "kernel";
            var isCallback = rng.Next(4) == 0;
            var parameters = new List<string>();
            var count = rng.Next(0, 7);
            for (var i = 0; i < count; i++)
            {
                var name = $"x{i}";
                switch (rng.Next(9))
                {
                    case 0: parameters.Add($"{Pick(Directions)} {Pick(Scalars)} {name}"); break;
                    case 1: parameters.Add($"{Pick(Directions)} {Pick(Scalars)} {name}[{rng.Next(1, 40)}]"); break;
                    case 2:
                        parameters.Add($"in u{8 << rng.Next(4)} {name}_n");
                        parameters.Add($"{Pick(Directions)} {Pick(Scalars)} {name}[{name}_n <= {rng.Next(1, 40)}]");
                        break;
                    case 3: parameters.Add($"in string<{rng.Next(1, 300)}> {name}"); break;
                    case 4: parameters.Add($"buffer {name}"); break;
                    case 5: parameters.Add($"item{rng.Next(projections)} *{name}{Pick(Ownerships)}"); break;
                    case 6: parameters.Add($"out item{rng.Next(projections)} *{name} [alloc(caller)]"); break;
                    case 7: parameters.Add($"chain *{name}"); break;
                    default:
                        var cb = callbacks.FirstOrDefault(c => c.Side == caller);
                        if (cb.Name is not null)
                            parameters.Add($"{cb.Name} {name}");
                        break;
                }
            }
            var ret = rng.Next(3) == 0 ? "void" : Pick(Scalars);
            var rpcName = $"r{r}";
            text.Append($"{side} {(isCallback ? "callback" : "rpc")} {ret} {rpcName}({string.Join(", ", parameters)});\n");
            if (isCallback)
                callbacks.Add((rpcName, side));
        }
        return text.ToString();
    }

    [Fact]
    public void RandomValidInterfacesGenerateCThatGccAccepts()
    {
        var dir = Directory.CreateTempSubdirectory("lvd-idl-gen-").FullName;
        Gen.Int.Sample(seed =>
        {
            var idl = RandomInterface(seed);
            var result = IdlCompiler.Compile("gen.idl", idl);
            Assert.True(result.Succeeded, idl + "\n" + string.Join("\n", result.Diagnostics.Select(d => d.Format())));
            foreach (var (name, text) in result.GeneratedFiles)
                File.WriteAllText(Path.Combine(dir, name), text);
            foreach (var side in new[] { "gen_kernel.c", "gen_domain.c" })
            {
                try
                {
                    Gcc.Compile([Path.Combine(dir, side)], [Repo.Path("guest", "glue"), dir], Path.Combine(dir, side + ".o"), link: false,
                        sanitize: false);
                }
                catch (InvalidOperationException e)
                {
                    Assert.Fail($"{e.Message}\n--- gen.idl (seed {seed}) ---\n{idl}");
                }
            }
        }, iter: 20, threads: 1);
    }
}

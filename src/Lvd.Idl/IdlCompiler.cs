using Lvd.Idl.Generation;
using Lvd.Idl.Semantics;
using Lvd.Idl.Syntax;

namespace Lvd.Idl;

/// <summary>
/// Compiles one interface file into C glue: parse, check, plan each rpc's message layout,
/// generate. Any diagnostic means no output at all.
/// </summary>
public static class IdlCompiler
{
    private static readonly IReadOnlyDictionary<string, string> NoFiles = new Dictionary<string, string>();

    public static IdlResult Compile(string path, string text)
    {
        var source = new SourceText(path, text);
        InterfaceSyntax syntax;
        try
        {
            syntax = Parser.Parse(source);
        }
        catch (IdlSyntaxException e)
        {
            return new IdlResult([e.Diagnostic], NoFiles);
        }
        var (model, diagnostics) = Checker.Check(source, syntax);
        if (model is null)
            return new IdlResult(diagnostics, NoFiles);
        var plans = model.Rpcs.Select(RpcPlan.Build).ToList();
        var tooBig = new List<Diagnostic>();
        foreach (var plan in plans)
        {
            var worst = Math.Max(plan.RequestPageBytes, plan.ReplyPageBytes);
            if (worst > RpcPlan.RegisterPageSize)
                tooBig.Add(source.Error(plan.Rpc.NameSpan,
                    $"rpc '{plan.Rpc.Name}' needs {worst} bytes of the register page, which holds {RpcPlan.RegisterPageSize}: pass bulk data as a " +
                        $"'buffer' in the shared pool"));
        }
        if (tooBig.Count > 0)
            return new IdlResult(tooBig, NoFiles);
        var files = new CGenerator(model, plans, Path.GetFileName(path)).Generate();
        return new IdlResult([], files);
    }

    /// <summary>Compiles a file from disk and, only if it is valid, writes the generated files into outputDirectory.</summary>
    public static IdlResult CompileFile(string path, string outputDirectory)
    {
        var result = Compile(path, File.ReadAllText(path));
        if (!result.Succeeded)
            return result;
        Directory.CreateDirectory(outputDirectory);
        foreach (var (name, content) in result.GeneratedFiles)
            File.WriteAllText(Path.Combine(outputDirectory, name), content);
        return result;
    }
}

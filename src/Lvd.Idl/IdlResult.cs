namespace Lvd.Idl;

/// <summary>
/// What compiling one interface file produced: either diagnostics, or the generated files
/// (never both: invalid input yields no partial output).
/// </summary>
public sealed record IdlResult(IReadOnlyList<Diagnostic> Diagnostics, IReadOnlyDictionary<string, string> GeneratedFiles)
{
    public bool Succeeded => Diagnostics.Count == 0;
}

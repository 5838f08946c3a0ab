namespace Lvd.Idl.Syntax;

/// <summary>The first syntax error of a file; the parser stops there (no recovery).</summary>
internal sealed class IdlSyntaxException(Diagnostic diagnostic) : Exception(diagnostic.Message)
{
    public Diagnostic Diagnostic { get; } = diagnostic;
}

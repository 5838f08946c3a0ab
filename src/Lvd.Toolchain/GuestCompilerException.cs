namespace Lvd.Toolchain;

/// <summary>
/// A problem the user can fix: no gcc, a missing input file, an unsupported option, a
/// program that does not compile. The message is written to be shown as is, on one line
/// where possible (a failed build appends gcc's diagnostics), never with a stack trace.
/// </summary>
public sealed class GuestCompilerException : Exception
{
    public GuestCompilerException(string message) : base(message) { }

    public GuestCompilerException(string message, Exception innerException) : base(message, innerException) { }
}

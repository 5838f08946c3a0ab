namespace Lvd.Machine.Loader;

/// <summary>A guest image that cannot be loaded; the message is one line a user can act on.</summary>
public sealed class LoadException(string message) : Exception(message);

namespace Lvd.Toolchain;

/// <summary>
/// Builds LVD domain images with guest/domains/build.sh (docs/DOMAINS.md): the domain library
/// plus a driver, linked at LVD_DOMAIN_BASE. A driver is a directory under guest/domains
/// ("nullnet") or a user's own .c file or directory.
/// </summary>
public static class DomainBuilder
{
    /// <summary>Builds the driver and returns (module name, ELF path).</summary>
    public static (string Name, string Elf) Build(GuestCompiler cc, string driver)
    {
        string script = Path.Combine(cc.RepoRoot, "guest", "domains", "build.sh");
        string source = Directory.Exists(Path.Combine(cc.RepoRoot, "guest", "domains", driver)) && !driver.Contains('/')
            ? Path.Combine(cc.RepoRoot, "guest", "domains", driver)
            : Path.GetFullPath(driver);
        if (!Directory.Exists(source) && !File.Exists(source))
            throw new GuestCompilerException($"{driver}: no such driver (a directory under guest/domains, or a .c file or directory of your own)");
        string name = Path.GetFileNameWithoutExtension(source.TrimEnd('/'));
        if (name.Length is 0 or > 15) throw new GuestCompilerException($"{driver}: a domain name must be 1 to 15 characters");
        string dir = Path.Combine(cc.RepoRoot, "build", "domains");
        Directory.CreateDirectory(dir);
        string elf = Path.Combine(dir, name + ".elf");
        string tmp = $"{elf}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp";   // concurrent builds: rename into place
        var r = ProcessRunner.Run("bash", [script, source, tmp], cc.RepoRoot, cc.BuildEnvironment());
        if (r.ExitCode == 0) File.Move(tmp, elf, overwrite: true);
        else File.Delete(tmp);
        if (r.ExitCode != 0)
            throw new GuestCompilerException($"domain build failed ({driver}, status {r.ExitCode}):\n{r.Stdout}{r.Stderr}".TrimEnd());
        return (name, elf);
    }
}

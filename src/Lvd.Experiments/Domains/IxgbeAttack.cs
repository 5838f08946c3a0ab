using System.Text.RegularExpressions;

namespace Lvd.Experiments.Domains;

/// <summary>
/// One attack of the isolated ixgbe (the kernel's ixgbeattack=, guest/kernel/lvd/lvd_ixgbe.c; the rogue driver
/// guest/domains/ixgbe_attack): its line in the log, and why the domain was killed if it was.
/// </summary>
public sealed partial record IxgbeAttackResult(string Name, bool Killed, int CallStatus, long Returned, long DmaFaults, long TakenBack,
    bool Serving, string? KillReason)
{
    [GeneratedRegex(@"^ixgbeattack: (?<name>[a-z-]+): (?<what>killed|not killed) " +
        @"\(call (?<r>-?\d+), returned (?<n>-?\d+), (?<f>\d+) DMA faults\), memory unchanged, " +
        @"NIC taken back (?<b>\d+) time\(s\), driver (?<state>serving|dead)$", RegexOptions.Multiline)]
    private static partial Regex Line();

    [GeneratedRegex(@"^lvd: domain ixgbe_attack killed on cpu \d+: (?<why>.+)$", RegexOptions.Multiline)]
    private static partial Regex KillLine();

    /// <summary>The attack's outcome in a boot's log, or null if the kernel printed none.</summary>
    public static IxgbeAttackResult? Parse(string log)
    {
        var m = Line().Match(log);
        if (!m.Success) return null;
        var k = KillLine().Match(log);
        return new IxgbeAttackResult(m.Groups["name"].Value, m.Groups["what"].Value == "killed", int.Parse(m.Groups["r"].Value),
            long.Parse(m.Groups["n"].Value), long.Parse(m.Groups["f"].Value), long.Parse(m.Groups["b"].Value),
            m.Groups["state"].Value == "serving", k.Success ? k.Groups["why"].Value.Trim() : null);
    }

    /// <summary>
    /// The boot of one attack: 1 vCPU, the receive workload after it (the restarted driver must serve it), the rogue
    /// driver isolated (with nullnet isolated too for the attack on another domain).
    /// </summary>
    public static LvdBootSpec Spec(string attack) => new()
    {
        Cpus = 1, Workload = "ixgbe-rx", Duration = 1_000_000, IxgbeAttack = attack,
        Isolate = attack == "domain" ? ["nullnet", "ixgbe"] : ["ixgbe"],
    };
}

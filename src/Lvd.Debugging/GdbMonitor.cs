using System.Security;
using System.Text;
using Lvd.Machine.Execution;
using Lvd.Machine.Loader;
using Lvd.Machine.Vmx;

namespace Lvd.Debugging;

/// <summary>
/// What the stub tells about the machine beyond registers and memory: `monitor ept`, `exits`,
/// `cycles`, `domains`, each vCPU's line in `info threads`, and the library list (the domains'
/// ELF images at the address their first segment runs at). Domain names come from the domain's
/// own info page (`struct lvd_domain_info` at LVD_DOMAIN_INFO, guest/include/lvd/domain.h),
/// read through the vCPU's translation while it runs in the domain's EPT.
/// </summary>
public sealed class GdbMonitor
{
    /// <summary>LVD_DOMAIN_INFO and LVD_INFO_MAGIC of guest/include/lvd/domain.h; the name is at offset 44.</summary>
    public const ulong DomainInfo = 0xffffc900fffff000UL, InfoMagic = 0x4c56442d444f4d31UL;
    private const int InfoNameOffset = 44;

    private readonly Machine.Machine _machine;
    private readonly IReadOnlyList<DebugImage> _images;
    /// <summary>Domain names by EPTP, as seen in their info pages (a domain's EPTs differ per vCPU).</summary>
    private readonly Dictionary<ulong, string> _names = [];

    private readonly SnapshotStore? _snapshots;

    public GdbMonitor(Machine.Machine machine, IReadOnlyList<DebugImage> images, SnapshotStore? snapshots = null)
    {
        _machine = machine;
        _images = images;
        _snapshots = snapshots;
        LibraryListXml = BuildLibraries();
    }

    public string LibraryListXml { get; }

    private string BuildLibraries()
    {
        var sb = new StringBuilder("<library-list>\n");
        foreach (var im in _images)
        {
            ulong first;
            try { first = ElfImage.Read(im.ElfPath).Segments.Min(s => s.Address); }
            catch (Exception e) when (e is IOException or InvalidDataException or InvalidOperationException or ArgumentException) { continue; }
            sb.Append($"<library name=\"{SecurityElement.Escape(Path.GetFullPath(im.ElfPath))}\"><segment address=\"0x{first:x}\"/></library>\n");
        }
        return sb.Append("</library-list>\n").ToString();
    }

    private Lvd.Hypervisor.Hypervisor? Hypervisor => _machine.Firmware as Lvd.Hypervisor.Hypervisor;

    /// <summary>Where a vCPU runs: root mode, the kernel EPT, or a domain's EPT (with its name when the info page says it).</summary>
    public string Where(Cpu cpu)
    {
        if (!cpu.NonRoot || cpu.Vmcs is not { } v) return "VMX root (no EPT)";
        if (!v.EptEnabled) return "VMX non-root, no EPT";
        ulong kernel = Hypervisor?.KernelEptp(cpu.Id) ?? 0;
        if (v.Eptp == kernel) return $"kernel EPT (EPTP index {v.EptpIndex}, EPTP 0x{v.Eptp:x})";
        string? name = DomainName(cpu);
        return $"domain {name ?? "?"} (EPTP index {v.EptpIndex}, EPTP 0x{v.Eptp:x})";
    }

    private string? DomainName(Cpu cpu)
    {
        ulong eptp = cpu.Vmcs!.Eptp;
        Span<byte> info = stackalloc byte[InfoNameOffset + 16];
        if (cpu.DebugRead(DomainInfo, info) == info.Length && BitConverter.ToUInt64(info) == InfoMagic)
        {
            var raw = info[InfoNameOffset..];
            int end = raw.IndexOf((byte)0);
            string name = Encoding.ASCII.GetString(end < 0 ? raw : raw[..end]);
            _names[eptp] = name;
            return name;
        }
        return _names.GetValueOrDefault(eptp);
    }

    public string ThreadInfo(Cpu cpu) => $"vCPU {cpu.Id}, {cpu.State.ToString().ToLowerInvariant()}, {Where(cpu)}";

    public string Run(string command)
    {
        var words = command.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return (words.Length == 0 ? "help" : words[0]) switch
        {
            "ept" => Ept(),
            "exits" => Exits(),
            "cycles" => Cycles(),
            "domains" => Domains(),
            "snapshots" => Snapshots(),
            "help" => Help,
            var w => $"unknown monitor command '{w}'\n{Help}",
        };
    }

    private const string Help =
        "monitor ept      which EPT (kernel or which domain) each vCPU runs in, and its EPTP index\n" +
        "monitor exits    VM exits by SDM reason, per vCPU and in all\n" +
        "monitor cycles   modeled cycles and retired instructions per vCPU\n" +
        "monitor domains  the domain images and each vCPU's domain EPTs\n" +
        "monitor snapshots  where reverse execution replays from: the snapshots kept, their interval\n";

    private string Snapshots()
    {
        if (_snapshots is not { } s || s.Interval == 0) return "no snapshots (--gdb-snapshots 0): reverse execution replays from power-on\n";
        if (s.Disabled != null) return $"snapshots are off ({s.Disabled}): reverse execution replays from power-on\n";
        var sb = new StringBuilder($"{s.Snapshots.Count} snapshots, one every {s.Interval:N0} modeled cycles\n");
        foreach (var snap in s.Snapshots)
            sb.Append($"  cycle {snap.Time:N0}: instructions {string.Join(", ", snap.Instructions.Select((n, i) => $"vcpu{i} {n:N0}"))}, "
                + $"{snap.Pages:N0} RAM pages\n");
        return sb.ToString();
    }

    private string Ept()
    {
        var sb = new StringBuilder();
        foreach (var c in _machine.Cpus) sb.Append($"vcpu{c.Id}: {Where(c)}\n");
        return sb.ToString();
    }

    private string Exits()
    {
        var sb = new StringBuilder();
        var total = new long[64];
        foreach (var c in _machine.Cpus)
        {
            sb.Append($"vcpu{c.Id}: {c.VmExits} exits");
            var parts = new List<string>();
            for (int r = 0; r < c.ExitsByReason.Length; r++)
            {
                total[r] += c.ExitsByReason[r];
                if (c.ExitsByReason[r] != 0) parts.Add($"{ReasonName(r)} {c.ExitsByReason[r]}");
            }
            sb.Append(parts.Count > 0 ? ": " + string.Join(", ", parts) : "").Append('\n');
        }
        var all = new List<string>();
        for (int r = 0; r < total.Length; r++) if (total[r] != 0) all.Add($"{ReasonName(r)} {total[r]}");
        sb.Append($"all: {(all.Count == 0 ? "none" : string.Join(", ", all))}\n");
        return sb.ToString();
    }

    private static string ReasonName(int r) => Enum.IsDefined(typeof(ExitReason), (ushort)r) ? $"{(ExitReason)r}({r})" : $"reason{r}";

    private string Cycles()
    {
        var sb = new StringBuilder();
        foreach (var c in _machine.Cpus)
            sb.Append($"vcpu{c.Id}: {c.Cycles:N0} cycles, {c.Instructions:N0} instructions, {c.State.ToString().ToLowerInvariant()}\n");
        return sb.ToString();
    }

    private string Domains()
    {
        var sb = new StringBuilder();
        if (_images.Count == 0) sb.Append("no domain images were loaded\n");
        foreach (var im in _images) sb.Append($"image {im.Name}: {im.ElfPath}\n");
        if (Hypervisor is not { } hv) return sb.Append("no hypervisor\n").ToString();
        sb.Append($"domain kills (violations sent to the kernel's abort entry): {hv.DomainAborts}\n");
        foreach (var c in _machine.Cpus)
        {
            if (c.NonRoot && c.Vmcs != null) DomainName(c);
            var epts = hv.DomainEptps(c.Id).Select(e => $"#{e.Id} EPTP 0x{e.Eptp:x}{(_names.TryGetValue(e.Eptp, out var n) ? " " + n : "")}")
                .ToList();
            sb.Append($"vcpu{c.Id}: {(epts.Count == 0 ? "no domain EPTs" : string.Join(", ", epts))}; now in {Where(c)}\n");
        }
        return sb.ToString();
    }
}

using Lvd.Machine.Loader;

namespace Lvd.Hypervisor;

/// <summary>How `lvd exec` and the tests put a program under the hypervisor.</summary>
public enum HypervisorMode
{
    None,
    /// <summary>Installed and late-launched after loading, before the program's first instruction.</summary>
    LaunchAtStart,
    /// <summary>Installed; the program launches it with CPUID leaf 0x4bf00000 when it wants.</summary>
    OnRequest,
}

public static class HypervisorRunOptions
{
    /// <summary>The run options with RAM reserved for the hypervisor and the hypervisor installed.</summary>
    public static RunOptions With(this RunOptions options, HypervisorMode mode)
    {
        if (mode == HypervisorMode.None) return options;
        var previous = options.Setup;
        return options with
        {
            VmxRootReservedBytes = Hypervisor.DefaultReservedBytes,
            Setup = m =>
            {
                previous?.Invoke(m);
                var hv = new Hypervisor(m);
                if (mode == HypervisorMode.LaunchAtStart && !hv.Launch())
                    throw new InvalidOperationException("hypervisor launch failed: out of hypervisor memory");
            },
        };
    }
}

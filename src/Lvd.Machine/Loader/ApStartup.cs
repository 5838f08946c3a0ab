using Lvd.Machine.Execution;

namespace Lvd.Machine.Loader;

/// <summary>
/// The AP start protocol of docs/BOOT.md: on SIPI, AP n reads {entry, stack, arg} from
/// mailbox + 64 n and starts in the same 64-bit state the boot loader gave the BSP.
/// </summary>
public sealed record ApStartup(ulong Cr3, ulong GdtBase, ushort GdtLimit, ulong TssBase, ulong Mailbox, ulong Star)
{
    public void Start(Machine machine, Cpu ap)
    {
        ulong box = Mailbox + (ulong)ap.Id * 64;
        ulong entry = machine.Memory.Read64(box), stack = machine.Memory.Read64(box + 8), arg = machine.Memory.Read64(box + 16);
        ap.EnterLongMode(Cr3, GdtBase, GdtLimit, BootLoader.KernelCode, BootLoader.KernelData, entry, stack);
        ap.Tr = new Segment { Selector = BootLoader.TssSelector, Base = TssBase, Limit = 0x67, Attributes = 0x8b };
        ap.Star = Star;
        ap.SetRegister(Cpu.RDI, arg);
        ap.RequestAttention();
    }
}

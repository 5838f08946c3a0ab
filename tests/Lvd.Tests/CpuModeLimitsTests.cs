namespace Lvd.Tests;

/// <summary>
/// What docs/CPU-MODES.md says the machine does not model is refused where it would start, with
/// a report naming it, never run with a wrong result: a non-flat DS in compatibility mode, real
/// mode, paging outside IA-32e mode (machine checks), 16-bit addressing in 32-bit code (#UD).
/// </summary>
public sealed class CpuModeLimitsTests
{
    // A copy of the loader's GDT with a 32-bit ring-0 code segment at 0x40 and a data segment
    // based at 0x10000 at 0x48; then a far jump to the 32-bit code `body` (AT&T, .code32).
    private static string Program(string before64, string body) => $$"""
        typedef unsigned long long u64;
        static u64 gdt[16] __attribute__((aligned(16)));
        struct __attribute__((packed)) { unsigned off; unsigned short sel; } far;
        extern char code32[];
        __asm__(".text\n.code32\ncode32:\n{{body}}\n1: hlt\njmp 1b\n.code64\n");
        int main(void)
        {
            struct __attribute__((packed)) { unsigned short limit; u64 base; } d;
            __asm__ volatile("sgdt %0" : "=m"(d));
            for (int i = 0; i <= d.limit / 8 && i < 8; i++) gdt[i] = ((u64 *)d.base)[i];
            gdt[8] = 0x00cf9a000000ffffULL;
            gdt[9] = 0x00cf92010000ffffULL;
            d.limit = sizeof gdt - 1;
            d.base = (u64)gdt;
            __asm__ volatile("lgdt %0" : : "m"(d));
            far.off = (unsigned)(u64)code32;
            far.sel = 0x40;
            __asm__ volatile("{{before64}}\n\tljmpl *far(%%rip)" : : : "rax", "memory");
            return 0;
        }
        """;

    private static ProgramResult Run(string name, string before64, string body) =>
        Guest.Run(Guest.BuildSource($"modelimit-{name}", Program(before64, body)), 1_000_000);

    [Theory]
    [InlineData("nonflat-ds", "movl $0x48, %%eax; movl %%eax, %%ds", "movl (%eax), %ebx",
        "DS = 0x48 (base 0x10000, limit 0xffffffff, attributes 0xc092) is not a flat segment")]
    [InlineData("real-mode", "", "movl %cr0, %eax; andl $0x7fffffff, %eax; movl %eax, %cr0; ljmpl $0x40, $2f; 2: andl $~1, %eax; movl %eax, %cr0",
        "real mode (CR0.PE=0) is not modeled")]
    [InlineData("legacy-paging", "",
        "movl %cr0, %eax; andl $0x7fffffff, %eax; movl %eax, %cr0; ljmpl $0x40, $2f; 2: movl $0xc0000080, %ecx; rdmsr; " +
        "andl $~0x100, %eax; wrmsr; movl %cr0, %eax; orl $0x80000000, %eax; movl %eax, %cr0",
        "paging outside IA-32e mode (CR0.PG=1 with EFER.LME=0: 32-bit or PAE paging) is not modeled")]
    public void UnmodeledStatesStopTheRunWithAReport(string name, string before64, string body, string report)
    {
        var r = Run(name, before64, body);
        Assert.Equal(RunOutcome.Crashed, r.Run.Outcome);
        Assert.Contains("machine check", r.Run.CrashReport);
        Assert.Contains(report, r.Run.CrashReport);
    }

    [Fact]
    public void SixteenBitAddressingIn32BitCodeIsUd()
    {
        // mov (%bx), %eax with the 0x67 prefix; no IDT: #UD, then a triple fault.
        var r = Run("addr16", "", ".byte 0x67, 0x8b, 0x07");
        Assert.Equal(RunOutcome.Crashed, r.Run.Outcome);
        Assert.Equal(6, r.Machine.Cpus[0].Crash?.FirstVector);
        Assert.False(r.Machine.Cpus[0].In64BitMode);
    }
}

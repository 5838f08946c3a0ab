using Lvd.Machine.Cost;
using Lvd.Machine.Decoding;

namespace Lvd.Tests;

/// <summary>
/// The tuned interpreter's decoding (docs/HOST-SPEED.md): which forms get a handler of their own sub-op and which stay
/// on the generic handlers. What the handlers compute is checked against the host CPU by the instruction suite
/// (InstructionDifferentialTests: every ALU and shift form with edge and random operands and input flags), the block
/// chain and its successor cache by the self-modifying-code tests (GuestCpuTests smc: a loop that rewrites its own
/// ADD, linked to itself within its page) and the sequence campaign.
/// </summary>
public sealed class InterpreterTier0Tests
{
    private static Handler HandlerOf(params byte[] bytes)
    {
        var decoder = new BlockDecoder(CostModel.Default, 1);
        var code = bytes.Concat(new byte[16]).ToArray();
        return decoder.Decode(code, code.Length, 0x1000, 0x1000, out _, 1).Ops[0].H;
    }

    [Fact]
    public void AluRegisterAndImmediateFormsGetTheHandlerOfTheirSubOp()
    {
        // 48 01 d8: add rax, rbx; 01 d8: add eax, ebx; 48 83 c0 05: add rax, 5; 83 c0 05: add eax, 5 (and /1 or ... /7 cmp).
        (byte Rr, byte Digit, Handler Rr64, Handler Rr32, Handler Ri64, Handler Ri32)[] ops =
        [
            (0x01, 0, Handler.AddRR64, Handler.AddRR32, Handler.AddRI64, Handler.AddRI32),
            (0x09, 1, Handler.OrRR64, Handler.OrRR32, Handler.OrRI64, Handler.OrRI32),
            (0x21, 4, Handler.AndRR64, Handler.AndRR32, Handler.AndRI64, Handler.AndRI32),
            (0x29, 5, Handler.SubRR64, Handler.SubRR32, Handler.SubRI64, Handler.SubRI32),
            (0x31, 6, Handler.XorRR64, Handler.XorRR32, Handler.XorRI64, Handler.XorRI32),
            (0x39, 7, Handler.CmpRR64, Handler.CmpRR32, Handler.CmpRI64, Handler.CmpRI32),
        ];
        foreach (var (rr, digit, rr64, rr32, ri64, ri32) in ops)
        {
            Assert.Equal(rr64, HandlerOf(0x48, rr, 0xd8));
            Assert.Equal(rr32, HandlerOf(rr, 0xd8));
            Assert.Equal(ri64, HandlerOf(0x48, 0x83, (byte)(0xc0 | digit << 3), 5));
            Assert.Equal(ri32, HandlerOf(0x83, (byte)(0xc0 | digit << 3), 5));
            // R8-R15 too (REX.B).
            Assert.Equal(rr64, HandlerOf(0x4d, rr, 0xd8));
        }
    }

    [Fact]
    public void FormsThatReadCarryOrAreNarrowOrTouchMemoryStayGeneric()
    {
        Assert.Equal(Handler.AluRR64, HandlerOf(0x48, 0x11, 0xd8));       // adc rax, rbx
        Assert.Equal(Handler.AluRR32, HandlerOf(0x19, 0xd8));             // sbb eax, ebx
        Assert.Equal(Handler.AluRI64, HandlerOf(0x48, 0x83, 0xd0, 5));    // adc rax, 5
        Assert.Equal(Handler.Alu, HandlerOf(0x66, 0x01, 0xd8));           // add ax, bx
        Assert.Equal(Handler.Alu, HandlerOf(0x00, 0xd8));                 // add al, bl
        Assert.Equal(Handler.Alu, HandlerOf(0x48, 0x01, 0x18));           // add [rax], rbx
        Assert.Equal(Handler.AluRM64, HandlerOf(0x48, 0x03, 0x18));       // add rbx, [rax]
        Assert.Equal(Handler.AluRM32, HandlerOf(0x33, 0x18));             // xor ebx, [rax]
    }

    [Fact]
    public void ShiftsByANonZeroImmediateGetTheirOwnHandler()
    {
        Assert.Equal(Handler.ShlRI64, HandlerOf(0x48, 0xc1, 0xe0, 3));    // shl rax, 3
        Assert.Equal(Handler.ShlRI32, HandlerOf(0xc1, 0xe0, 3));          // shl eax, 3
        Assert.Equal(Handler.ShlRI64, HandlerOf(0x48, 0xd1, 0xe0));       // shl rax, 1
        Assert.Equal(Handler.ShrRI64, HandlerOf(0x48, 0xc1, 0xe8, 63));   // shr rax, 63
        Assert.Equal(Handler.ShrRI32, HandlerOf(0xc1, 0xe8, 31));         // shr eax, 31
        Assert.Equal(Handler.SarRI64, HandlerOf(0x48, 0xc1, 0xf8, 7));    // sar rax, 7
        Assert.Equal(Handler.SarRI32, HandlerOf(0xc1, 0xf8, 7));          // sar eax, 7
        Assert.Equal(Handler.ShlRI64, HandlerOf(0x48, 0xc1, 0xf0, 3));    // sal rax, 3 (the /6 alias)
        // A count that masks to 0 changes no flags (and must still zero-extend a 32-bit register): the generic handler.
        Assert.Equal(Handler.Shift, HandlerOf(0xc1, 0xe0, 32));           // shl eax, 32
        Assert.Equal(Handler.Shift, HandlerOf(0x48, 0xc1, 0xe0, 64));     // shl rax, 64
        Assert.Equal(Handler.Shift, HandlerOf(0x48, 0xd3, 0xe0));         // shl rax, cl
        Assert.Equal(Handler.Shift, HandlerOf(0x48, 0xc1, 0xc0, 3));      // rol rax, 3
        Assert.Equal(Handler.Shift, HandlerOf(0x66, 0xc1, 0xe0, 3));      // shl ax, 3
        Assert.Equal(Handler.Shift, HandlerOf(0x48, 0xc1, 0x20, 3));      // shl qword [rax], 3
    }

    [Fact]
    public void CommonMovFormsGetTheirOwnHandlersStackOperandsIncluded()
    {
        Assert.Equal(Handler.MovLoad32, HandlerOf(0x8b, 0x45, 0xfc));                        // mov eax, [rbp-4] (stack segment)
        Assert.Equal(Handler.MovStore64, HandlerOf(0x48, 0x89, 0x44, 0x24, 0x08));           // mov [rsp+8], rax
        Assert.Equal(Handler.AluRM64, HandlerOf(0x48, 0x03, 0x45, 0xf8));                    // add rax, [rbp-8]
        Assert.Equal(Handler.MovLoad64, HandlerOf(0x67, 0x48, 0x8b, 0x00));                  // mov rax, [eax] (32-bit address)
        Assert.Equal(Handler.MovStoreImm32, HandlerOf(0xc7, 0x45, 0xfc, 1, 0, 0, 0));        // mov dword [rbp-4], 1
        Assert.Equal(Handler.MovStoreImm64, HandlerOf(0x48, 0xc7, 0x00, 1, 0, 0, 0));        // mov qword [rax], 1
        Assert.Equal(Handler.Mov, HandlerOf(0x66, 0xc7, 0x00, 1, 0));                        // mov word [rax], 1: generic
        Assert.Equal(Handler.MovStore8, HandlerOf(0x88, 0x08));                              // mov [rax], cl
        Assert.Equal(Handler.MovStore8, HandlerOf(0x40, 0x88, 0x30));                        // mov [rax], sil (REX)
        Assert.Equal(Handler.Mov, HandlerOf(0x88, 0x20));                                    // mov [rax], ah: generic
        Assert.Equal(Handler.MovZxLoad8, HandlerOf(0x0f, 0xb6, 0x00));                       // movzx eax, byte [rax]
        Assert.Equal(Handler.MovZxLoad16, HandlerOf(0x48, 0x0f, 0xb7, 0x00));                // movzx rax, word [rax]
        Assert.Equal(Handler.MovZx, HandlerOf(0x66, 0x0f, 0xb6, 0x00));                      // movzx ax, byte [rax]: generic
        Assert.Equal(Handler.MovZxRR8, HandlerOf(0x0f, 0xb6, 0xc1));                         // movzx eax, cl
        Assert.Equal(Handler.MovZxRR16, HandlerOf(0x0f, 0xb7, 0xc1));                        // movzx eax, cx
        Assert.Equal(Handler.MovZx, HandlerOf(0x0f, 0xb6, 0xc4));                            // movzx eax, ah: generic
        Assert.Equal(Handler.MovSxdLoad, HandlerOf(0x48, 0x63, 0x00));                       // movsxd rax, dword [rax]
        Assert.Equal(Handler.MovSx, HandlerOf(0x48, 0x0f, 0xbe, 0x00));                      // movsx rax, byte [rax]: generic
    }

    [Fact]
    public void CmpBeforeTheClosingJccStillFuses()
    {
        var decoder = new BlockDecoder(CostModel.Default);
        // cmp rax, rbx; jne -2 / cmp eax, 5; je -2 / sub rax, rbx; jne -2 (not fused: SUB writes its destination).
        byte[][] blocks = [[0x48, 0x39, 0xd8, 0x75, 0xfe], [0x83, 0xf8, 0x05, 0x74, 0xfe], [0x48, 0x29, 0xd8, 0x75, 0xfe]];
        Handler[] first = [Handler.CmpRRJcc, Handler.CmpRIJcc, Handler.SubRR64];
        for (int i = 0; i < blocks.Length; i++)
        {
            var code = blocks[i].Concat(new byte[16]).ToArray();
            var b = decoder.Decode(code, code.Length, 0x1000, 0x1000, out _);
            Assert.Equal(first[i], b.Ops[0].H);
            Assert.Equal(Handler.Jcc, b.Ops[1].H);
        }
    }
}

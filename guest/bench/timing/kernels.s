# BHive-style loop kernels for `lvd bench timing` (docs/COST-MODEL.md, Block timing): each kernel is the body of a
# loop in steady state, between "## name" lines, in Intel syntax. They cover the shapes the block model must get
# right: dependency chains, independent work bound by the front end or by ports, loads, stores, address arithmetic,
# multiplies, divides, shifts, flags, SSE, and blocks like those gcc emits for the repo's programs.
## add-chain
add rax, rcx
add rax, rdx
add rax, rbx
add rax, rsi
## add-independent
add rax, 1
add rcx, 1
add rdx, 1
add rbx, 1
add rsi, 1
add rdi, 1
add r8, 1
add r9, 1
## imul-chain
imul rax, rcx
imul rax, rdx
## imul-independent
imul rax, rbx
imul rcx, rbx
imul rdx, rbx
imul rsi, rbx
## load-chain (pointer chasing)
mov rax, qword ptr [rax]
## loads-independent
mov rax, qword ptr [rsi]
mov rcx, qword ptr [rsi+8]
mov rdx, qword ptr [rsi+16]
mov rbx, qword ptr [rsi+24]
## stores
mov qword ptr [rdi], rax
mov qword ptr [rdi+8], rcx
mov qword ptr [rdi+16], rdx
## load-op-store
add qword ptr [rdi], rax
add qword ptr [rdi+8], rax
## lea-arith
lea rax, [rcx+rdx*4+8]
lea rcx, [rax+rax*2]
lea rdx, [rcx+rdx]
## shifts
shl rax, 3
shr rcx, 5
sar rdx, 7
rol rbx, 11
## shift-cl
shl rax, cl
shr rdx, cl
## flags-adc
add rax, rcx
adc rdx, rbx
adc rsi, rdi
## cmov-chain
cmp rax, rcx
cmovl rax, rcx
cmp rax, rdx
cmovg rax, rdx
## div
xor edx, edx
div rcx
## mixed-loop (gcc -O2 array sum)
add rax, qword ptr [rsi+rcx*8]
add rcx, 1
cmp rcx, rdx
jne L0
## mixed-loop-2 (gcc -O2 copy with increment)
mov eax, dword ptr [rsi+rcx*4]
add eax, 1
mov dword ptr [rdi+rcx*4], eax
add rcx, 1
cmp rcx, rdx
jne L0
## xorshift (mips.c's generator)
mov rax, rdx
shl rax, 13
xor rdx, rax
mov rax, rdx
shr rax, 7
xor rdx, rax
mov rax, rdx
shl rax, 17
xor rdx, rax
## hash-mix
imul rax, rcx
mov rdx, rax
shr rdx, 29
xor rax, rdx
add rax, rbx
## byte-loop (lz.c-like match)
movzx eax, byte ptr [rsi+rcx]
cmp al, byte ptr [rdi+rcx]
jne L0
## push-pop (call frames)
push rbx
push rbp
pop rbp
pop rbx
## sse-add-chain
addsd xmm0, xmm1
addsd xmm0, xmm2
## sse-mul-independent
mulsd xmm0, xmm4
mulsd xmm1, xmm4
mulsd xmm2, xmm4
mulsd xmm3, xmm4
## sse-packed
paddd xmm0, xmm1
pxor xmm2, xmm3
pshufd xmm4, xmm5, 27
por xmm6, xmm7
## movs-and-zero
xor eax, eax
mov ecx, 5
mov rdx, rsi
movzx ebx, dl

// hostrun.c: run a guest program on the host CPU, for testing the runtime
// before (and beside) the emulator.
//
// A guest ELF is also a valid static Linux executable: same load addresses,
// and Linux jumps to e_entry just as the loader does.  What differs is CPL:
// in user mode the guest's OUT and HLT fault.  We run the guest under
// ptrace and perform each faulting OUT ourselves, the way the machine's
// devices would: a byte to COM1 goes to our stdout, a write to the exit
// device ends the run with that status.  Before the guest starts we also map
// its heap (the arena after _end that the identity map provides in the
// machine).
//
// Usage: hostrun prog.elf      exit status: the guest's, or 125-127 on trouble
//
// Only a check of the runtime: no paging, no CPL 0, nothing of the machine.

#include <elf.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#define COM1      0x3F8
#define EXIT_PORT 0xF4
#define HEAP_MAP  (64UL << 20)   // covers exec.ld's HEAP_SIZE

static void
die(const char *msg)
{
	fprintf(stderr, "hostrun: %s: %s\n", msg, strerror(errno));
	exit(126);
}

// The end of the program's last segment, rounded to a page: where exec.ld
// puts _end and the heap.
static uint64_t
program_end(const char *path)
{
	FILE *f = fopen(path, "rb");
	Elf64_Ehdr eh;
	Elf64_Phdr ph;
	uint64_t end = 0;

	if (f == NULL)
		die(path);
	if (fread(&eh, sizeof eh, 1, f) != 1 || memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 ||
	    eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_type != ET_EXEC) {
		fprintf(stderr, "hostrun: %s: not a static x86-64 executable\n", path);
		exit(126);
	}
	for (int i = 0; i < eh.e_phnum; i++) {
		if (fseek(f, (long)(eh.e_phoff + (uint64_t)i * eh.e_phentsize), SEEK_SET) != 0 ||
		    fread(&ph, sizeof ph, 1, f) != 1)
			die("reading program headers");
		if (ph.p_type == PT_LOAD && ph.p_vaddr + ph.p_memsz > end)
			end = ph.p_vaddr + ph.p_memsz;
	}
	fclose(f);
	return (end + 4095) & ~4095UL;
}

// Make the stopped child run mmap(addr, len, RW, fixed anonymous) by
// planting a syscall instruction at its rip for one step.
static void
map_heap(pid_t pid, uint64_t addr, uint64_t len)
{
	struct user_regs_struct saved, regs;
	long word;

	if (ptrace(PTRACE_GETREGS, pid, 0, &saved) < 0)
		die("getregs");
	errno = 0;
	word = ptrace(PTRACE_PEEKTEXT, pid, saved.rip, 0);
	if (errno != 0)
		die("peektext");
	if (ptrace(PTRACE_POKETEXT, pid, saved.rip, (word & ~0xFFFFL) | 0x050F) < 0)
		die("poketext");

	regs = saved;
	regs.rax = SYS_mmap;
	regs.rdi = addr;
	regs.rsi = len;
	regs.rdx = PROT_READ | PROT_WRITE;
	regs.r10 = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED;
	regs.r8 = (uint64_t)-1;
	regs.r9 = 0;
	if (ptrace(PTRACE_SETREGS, pid, 0, &regs) < 0 || ptrace(PTRACE_SINGLESTEP, pid, 0, 0) < 0)
		die("singlestep");
	if (waitpid(pid, NULL, 0) < 0 || ptrace(PTRACE_GETREGS, pid, 0, &regs) < 0)
		die("mmap step");
	if (regs.rax != addr) {
		fprintf(stderr, "hostrun: mapping the heap at %#lx failed (%ld)\n",
		        (unsigned long)addr, (long)regs.rax);
		exit(126);
	}
	if (ptrace(PTRACE_POKETEXT, pid, saved.rip, word) < 0 ||
	    ptrace(PTRACE_SETREGS, pid, 0, &saved) < 0)
		die("restore");
}

int
main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: hostrun prog.elf\n");
		return 127;
	}
	uint64_t heap = program_end(argv[1]);

	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		// If we die (say, killed by a timeout), the guest must not run on
		// untraced, looping or faulting on its first OUT.
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (ptrace(PTRACE_TRACEME, 0, 0, 0) < 0)
			die("ptrace");
		execl(argv[1], argv[1], (char *)NULL);
		die(argv[1]);
	}

	int status;
	if (waitpid(pid, &status, 0) < 0 || !WIFSTOPPED(status))
		die("exec");
	map_heap(pid, heap, HEAP_MAP);

	for (;;) {
		if (ptrace(PTRACE_CONT, pid, 0, 0) < 0)
			die("cont");
		if (waitpid(pid, &status, 0) < 0)
			die("wait");
		if (WIFEXITED(status) || WIFSIGNALED(status)) {
			fprintf(stderr, "hostrun: guest ended without the exit device\n");
			return 125;
		}

		struct user_regs_struct regs;
		if (ptrace(PTRACE_GETREGS, pid, 0, &regs) < 0)
			die("getregs");
		errno = 0;
		long insn = ptrace(PTRACE_PEEKTEXT, pid, regs.rip, 0);
		if (errno != 0)
			die("peektext");
		unsigned char op = insn & 0xFF, imm = (insn >> 8) & 0xFF;
		int sig = WSTOPSIG(status);

		unsigned port, len;
		if (sig == SIGSEGV && (op == 0xE6 || op == 0xE7)) {        // out imm8, al/eax
			port = imm;
			len = 2;
		} else if (sig == SIGSEGV && (op == 0xEE || op == 0xEF)) { // out dx, al/eax
			port = regs.rdx & 0xFFFF;
			len = 1;
		} else if (sig == SIGSEGV && op == 0xF4) {
			fprintf(stderr, "hostrun: guest halted at %#llx\n", regs.rip);
			kill(pid, SIGKILL);
			return 125;
		} else {
			fprintf(stderr, "hostrun: guest got signal %d at rip %#llx\n", sig, regs.rip);
			kill(pid, SIGKILL);
			return 125;
		}

		if (port == COM1) {
			putchar((int)(regs.rax & 0xFF));
		} else if (port == EXIT_PORT) {
			fflush(stdout);
			kill(pid, SIGKILL);
			return (int)(regs.rax & 0xFF);
		}
		regs.rip += len;
		if (ptrace(PTRACE_SETREGS, pid, 0, &regs) < 0)
			die("setregs");
	}
}

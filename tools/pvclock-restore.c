// SPDX-License-Identifier: GPL-2.0-only
/*
 * pvclock-restore: pvclock_restore() in a VMM of a hundred lines, and the
 * recorder of the KVM_SET_CLOCK figures that tests/test_restore.c fits its
 * model of KVM to.  No KVM selftest library: a one-vCPU VM in real mode whose
 * guest points MSR_KVM_SYSTEM_TIME_NEW at a page and then only exits.
 *
 *   pvclock-restore record [--rounds N] [--attempts N] [--deltas N]
 *	per round (a round line): the host TSC step between back-to-back
 *	KVM_GET_CLOCK calls (delta lines), the gap of every attempt of a
 *	restore that never stops early (gap lines, 2^-32 ns), then a real
 *	restore to 1 ns (restore line: attempts, ns, verdict).  A file for
 *	tests/data/.
 *   pvclock-restore restore [--tolerance-ns N] [--attempts N]
 *	save the guest's pvti, disrupt it with KVM_GET_CLOCK + KVM_SET_CLOCK
 *	(flags 0), restore it and print the result; exit 0 when restored.
 *
 * Exit codes: 0 ok, 1 failed, 2 bad usage, 4 no usable KVM.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "pvclock_ref.h"
#include "pvclock_restore.h"

#define MEM_SIZE	0x10000
#define CODE_GPA	0x1000
#define PVTI_GPA	0x2000
#define EXIT_PORT	0x10
#define MSR_KVM_SYSTEM_TIME_NEW	0x4b564d01

struct vm {
	int kvm, fd, vcpu;
	struct kvm_run *run;
	uint8_t *mem;
};

/*
 * mov ecx, MSR_KVM_SYSTEM_TIME_NEW; mov eax, PVTI_GPA | 1; xor edx, edx;
 * wrmsr; then out EXIT_PORT, al; jmp back to the out, forever.
 */
static const uint8_t guest_code[] = {
	0x66, 0xb9, 0x01, 0x4d, 0x56, 0x4b,
	0x66, 0xb8, (PVTI_GPA | 1) & 0xff, PVTI_GPA >> 8, 0x00, 0x00,
	0x66, 0x31, 0xd2,
	0x0f, 0x30,
	0xe6, EXIT_PORT,
	0xeb, 0xfc,
};

static int die(int code, const char *what)
{
	fprintf(stderr, "pvclock-restore: %s: %s\n", what, strerror(errno));
	exit(code);
}

static void vm_create(struct vm *vm)
{
	struct kvm_userspace_memory_region region = {
		.memory_size = MEM_SIZE,
	};
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	int size;

	vm->kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm < 0)
		die(4, "/dev/kvm");
	vm->fd = ioctl(vm->kvm, KVM_CREATE_VM, 0);
	if (vm->fd < 0)
		die(4, "KVM_CREATE_VM");
	/* Intel needs a TSS for real mode; others ignore it. */
	ioctl(vm->fd, KVM_SET_TSS_ADDR, 0xfffbd000UL);
	vm->mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (vm->mem == MAP_FAILED)
		die(1, "mmap");
	memcpy(vm->mem + CODE_GPA, guest_code, sizeof(guest_code));
	region.userspace_addr = (uintptr_t)vm->mem;
	if (ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, &region))
		die(4, "KVM_SET_USER_MEMORY_REGION");
	vm->vcpu = ioctl(vm->fd, KVM_CREATE_VCPU, 0);
	size = ioctl(vm->kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (vm->vcpu < 0 || size <= 0)
		die(4, "KVM_CREATE_VCPU");
	vm->run = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED,
		       vm->vcpu, 0);
	if (vm->run == MAP_FAILED)
		die(1, "mmap kvm_run");
	if (ioctl(vm->vcpu, KVM_GET_SREGS, &sregs))
		die(4, "KVM_GET_SREGS");
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	if (ioctl(vm->vcpu, KVM_SET_SREGS, &sregs))
		die(4, "KVM_SET_SREGS");
	memset(&regs, 0, sizeof(regs));
	regs.rip = CODE_GPA;
	regs.rflags = 2;
	if (ioctl(vm->vcpu, KVM_SET_REGS, &regs))
		die(4, "KVM_SET_REGS");
}

/* One entry: the guest exits at its out instruction. */
static int vm_enter(void *ctx)
{
	struct vm *vm = ctx;

	if (ioctl(vm->vcpu, KVM_RUN, 0))
		return -errno;
	if (vm->run->exit_reason != KVM_EXIT_IO ||
	    vm->run->io.port != EXIT_PORT)
		return -EIO;
	return 0;
}

/* The pvti KVM wrote, by its version protocol (the vCPU is out anyway). */
static int vm_read_pvti(void *ctx, struct pvclock_ref_clock *clk)
{
	struct vm *vm = ctx;
	/* page-aligned: every field at its natural alignment */
	const struct pvclock_ref_pvti *p = (const void *)(vm->mem + PVTI_GPA);
	uint32_t version;
	int tries;

	for (tries = 0; tries < 1000; tries++)
		if (pvclock_ref_pvti_read(p, clk, &version))
			return version && clk->mul ? 0 : -ENODATA;
	return -EAGAIN;
}

/* The routine's view of this VM: its own entry and pvti read, ioctls on vm_fd. */
static struct pvclock_restore_ops vm_ops(struct vm *vm)
{
	struct pvclock_restore_ops ops = {
		.enter = vm_enter,
		.read_pvti = vm_read_pvti,
		.ctx = vm,
		.vm_fd = vm->fd,
	};

	return ops;
}

/* The guest runs to its exit and its pvclock is read: the saved clock. */
static void vm_save(struct vm *vm, struct pvclock_ref_clock *saved)
{
	if (vm_enter(vm) || vm_read_pvti(vm, saved))
		die(1, "the guest's pvclock");
}

static uint64_t arg_value(int argc, char **argv, int *i)
{
	char *end;
	unsigned long long v;

	if (*i + 1 >= argc) {
		fprintf(stderr, "pvclock-restore: %s needs a value\n", argv[*i]);
		exit(2);
	}
	errno = 0;
	v = strtoull(argv[++*i], &end, 0);
	if (errno || *end || !*argv[*i] || argv[*i][0] == '-') {
		fprintf(stderr, "pvclock-restore: bad value '%s'\n", argv[*i]);
		exit(2);
	}
	return v;
}

static void print_gap(void *ctx, const struct pvclock_restore_attempt *a)
{
	(void)ctx;
	printf("gap %" PRId64 "\n", a->gap);
}

static int record(struct vm *vm, uint64_t rounds, uint64_t attempts,
		  uint64_t deltas)
{
	struct pvclock_restore_ops ops = vm_ops(vm);
	struct pvclock_restore_result res;
	struct pvclock_ref_clock saved;
	struct kvm_clock_data d[2];
	struct utsname u;
	uint64_t r, i;

	uname(&u);
	printf("# pvclock-restore: figures of kernel %s %s\n", u.release, u.machine);
	vm_save(vm, &saved);
	printf("tsc_khz %d\nmul %" PRIu32 "\nshift %d\n",
	       ioctl(vm->vcpu, KVM_GET_TSC_KHZ, 0), saved.mul, saved.shift);
	for (r = 0; r < rounds; r++) {
		printf("round %" PRIu64 "\n", r + 1);
		memset(d, 0, sizeof(d));
		for (i = 0; i <= deltas; i++) {
			if (ioctl(vm->fd, KVM_GET_CLOCK, &d[i & 1]))
				die(1, "KVM_GET_CLOCK");
			if (i)
				printf("delta %" PRIu64 "\n", (uint64_t)
				       (d[i & 1].host_tsc - d[!(i & 1)].host_tsc));
		}
		vm_save(vm, &saved);
		ops.attempt = print_gap;
		pvclock_restore(&ops, &saved, 0, (unsigned int)attempts,
				UINT64_MAX, &res);
		if (res.status != PVCLOCK_RESTORE_EATTEMPTS) {
			fprintf(stderr, "pvclock-restore: %s\n",
				pvclock_restore_strerror(res.status));
			return 1;
		}
		ops.attempt = NULL;
		pvclock_restore(&ops, &saved, 1, PVCLOCK_RESTORE_MAX_ATTEMPTS,
				2000000000ULL, &res);
		printf("restore %u %" PRIu64 " %s\n", res.attempts,
		       res.elapsed_ns, res.status ? "failed" : "ok");
		fflush(stdout);
	}
	return 0;
}

static int restore(struct vm *vm, uint64_t tolerance, uint64_t attempts)
{
	struct pvclock_restore_ops ops = vm_ops(vm);
	struct pvclock_restore_result res;
	struct pvclock_ref_clock saved;
	struct kvm_clock_data data;
	struct timespec pause = { 0, 100000000 };

	vm_save(vm, &saved);
	memset(&data, 0, sizeof(data));
	if (ioctl(vm->fd, KVM_GET_CLOCK, &data))
		die(1, "KVM_GET_CLOCK");
	nanosleep(&pause, NULL);
	data.flags = 0;
	if (ioctl(vm->fd, KVM_SET_CLOCK, &data))
		die(1, "KVM_SET_CLOCK");
	pvclock_restore(&ops, &saved, tolerance, (unsigned int)attempts,
			2000000000ULL, &res);
	printf("%s after %u attempts in %" PRIu64 " us: saved - restored in [%"
	       PRId64 ", %" PRId64 "] ns at every later read\n",
	       pvclock_restore_strerror(res.status), res.attempts,
	       res.elapsed_ns / 1000, res.lo, res.hi);
	return res.status == PVCLOCK_RESTORE_OK ? 0 : 1;
}

int main(int argc, char **argv)
{
	uint64_t rounds = 20, attempts = 100, deltas = 100, tolerance = 1;
	struct vm vm;
	int i;

	if (argc < 2 || (strcmp(argv[1], "record") && strcmp(argv[1], "restore"))) {
		fputs("usage: pvclock-restore record [--rounds N] [--attempts N] [--deltas N]\n"
		      "       pvclock-restore restore [--tolerance-ns N] [--attempts N]\n",
		      stderr);
		return 2;
	}
	for (i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--rounds")) {
			rounds = arg_value(argc, argv, &i);
		} else if (!strcmp(argv[i], "--attempts")) {
			attempts = arg_value(argc, argv, &i);
		} else if (!strcmp(argv[i], "--deltas")) {
			deltas = arg_value(argc, argv, &i);
		} else if (!strcmp(argv[i], "--tolerance-ns")) {
			tolerance = arg_value(argc, argv, &i);
		} else {
			fprintf(stderr, "pvclock-restore: unknown option '%s'\n",
				argv[i]);
			return 2;
		}
	}
	if (!attempts || attempts > PVCLOCK_RESTORE_MAX_ATTEMPTS) {
		fprintf(stderr, "pvclock-restore: --attempts is 1 to %d\n",
			PVCLOCK_RESTORE_MAX_ATTEMPTS);
		return 2;
	}
	vm_create(&vm);
	if (!strcmp(argv[1], "record"))
		return record(&vm, rounds, attempts, deltas);
	return restore(&vm, tolerance, attempts);
}

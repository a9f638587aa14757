/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What the pvclock tests and their shared code (lib/x86/pvclock_util.c)
 * need from the KVM selftest library, and from the kernel's uapi, that
 * differs between the trees they are built in (6.1 through 7.3).  They are
 * written with the names of today's library (7.3's); everything an older
 * tree needs to provide them lives here.
 *
 * This header stays out of tree.  scripts/kvm-tree.sh writes each .c file
 * that includes it into a tree (make install, make patch) with it resolved
 * for that tree: each top-level "#ifndef NAME" block below goes, with the
 * comment above it, where the tree's selftest headers or uapi define NAME
 * or where the file uses none of the block's macros, and stays otherwise;
 * the rest joins the file.  Keep every choice
 * in that form, and define only macros: a file that does not use one of
 * them must still build without a warning.
 */
#ifndef PVCLOCK_COMPAT_H
#define PVCLOCK_COMPAT_H

#include <asm/pvclock-abi.h>
#include <linux/kvm.h>

#include "kselftest.h"
#include "kvm_util.h"
#include "test_util.h"

/*
 * 7.2's library calls guest addresses gva_t and gpa_t, and its allocators
 * vm_alloc_page() and vm_alloc(); older ones have vm_vaddr_t, vm_paddr_t
 * and vm_vaddr_alloc*().  The key is INVALID_GPA, beside the new types in
 * 7.2's and 7.3's kvm_util_types.h and in neither 6.12's nor 6.1's.  It
 * came upstream while the old names were still there: a tree from between
 * the two changes has it without the new names.
 */
#ifndef INVALID_GPA
#define gva_t	vm_vaddr_t
#define gpa_t	vm_paddr_t

#define vm_alloc_page(vm)		vm_vaddr_alloc_page(vm)
#define vm_alloc(vm, sz, min_gva)	vm_vaddr_alloc(vm, sz, min_gva)
#endif

/* 6.4 added the macro; older trees check the exit reason by hand. */
#ifndef TEST_ASSERT_KVM_EXIT_REASON
#define TEST_ASSERT_KVM_EXIT_REASON(vcpu, expected) do {			\
	__u32 __got = (vcpu)->run->exit_reason, __want = (expected);	\
									\
	TEST_ASSERT(__got == __want,					\
		    "Wanted KVM exit reason: %u, got: %u", __want, __got);	\
} while (0)
#endif

/* 6.1's library has ASSERT_EQ(); later ones renamed it TEST_ASSERT_EQ(). */
#ifndef TEST_ASSERT_EQ
#define TEST_ASSERT_EQ(a, b)	ASSERT_EQ(a, b)
#endif

/*
 * The proposed vCPU ioctls that save and restore the guest's own view of
 * its KVM clock; no released uapi header defines them yet.
 */
#ifndef KVM_SET_CLOCK_GUEST
#define KVM_SET_CLOCK_GUEST	_IOW(KVMIO, 0xd6, struct pvclock_vcpu_time_info)
#endif
#ifndef KVM_GET_CLOCK_GUEST
#define KVM_GET_CLOCK_GUEST	_IOR(KVMIO, 0xd7, struct pvclock_vcpu_time_info)
#endif

/*
 * The capability that says a kernel has them, with the next number upstream
 * has not given out (7.3's last is 251).  A kernel that gives 252 to
 * another capability lacks the ioctls: the test asks them too.
 */
#ifndef KVM_CAP_CLOCK_GUEST
#define KVM_CAP_CLOCK_GUEST	252
#endif

#endif /* PVCLOCK_COMPAT_H */

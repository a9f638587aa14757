/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * pvclock_restore: set a KVM guest's clock back to a saved pvclock, to within
 * a nanosecond at every later read, with only KVM_GET_CLOCK and KVM_SET_CLOCK.
 *
 * Inputs.  saved is the pvti the guest read before the disruption (a pause,
 * a master clock update, a migration with the same TSC rate), as read from
 * one vCPU's pvclock_vcpu_time_info.  ops reaches the VM: KVM_GET_CLOCK and
 * KVM_SET_CLOCK (the ioctls on ops->vm_fd when those callbacks are NULL), a
 * vCPU entry that reads no time (KVM writes the vCPU's pvti on entry), and a
 * read of that pvti honouring its version protocol.  The master clock must
 * be on: KVM_GET_CLOCK must report KVM_CLOCK_REALTIME and KVM_CLOCK_HOST_TSC.
 *
 * How.  KVM_SET_CLOCK takes a new master clock reference (host TSC C, read
 * inside the ioctl and never reported) and sets the guest's system_time to
 * the clock passed plus the realtime that passed since data.realtime, read a
 * little after C.  No single call can hit a chosen value, so the routine
 * learns the guest TSC offset from KVM_GET_CLOCK samples, aims the clock
 * half a ns past the saved clock's exact value at the host TSC it just read,
 * less the gap KVM_SET_CLOCK added on earlier attempts (their lower median),
 * then reads back the pvti KVM really made and checks it against a fresh
 * KVM_GET_CLOCK.  It repeats until the verified range is within tolerance.
 *
 * Guarantee.  PVCLOCK_RESTORE_OK means: the vCPU's pvti is res->clk, the same
 * mul and shift as saved, with its reference at or after saved's, and for
 * every guest TSC t from res->clk's reference on (until a pre-shifted delta
 * would overflow), read(saved, t) - read(res->clk, t) is in [res->lo,
 * res->hi] with -tolerance_ns <= lo and hi <= tolerance_ns.  hi - lo is 1
 * when the reference distance is a multiple of 2^-shift, 2 when not; KVM
 * picks the reference, so 1 ns is the best bound a stock kernel allows (0
 * is never reached: a tolerance of 0 makes the routine use every attempt,
 * which records KVM_SET_CLOCK's gaps through ops->attempt).  The bound comes
 * from the pvti read back, never from a model of KVM, and holds until KVM
 * writes another reference (a master clock update, KVM_SET_CLOCK, a TSC
 * change).  With the master clock on, every vCPU gets the same reference;
 * the routine reads the one vCPU that ops->read_pvti reads.
 *
 * Giving up.  Any other status leaves the clock at the last attempt (or
 * untouched before the first) and claims nothing: res->status says why and
 * pvclock_restore_strerror() says it in words.  It gives up when KVM_GET_CLOCK
 * lacks the flags above, a callback fails, the pvti's scale is not saved's,
 * KVM_GET_CLOCK disagrees with the pvti read back, the clock lands more than a
 * second off, or after max_attempts KVM_SET_CLOCK calls or once max_ns has
 * passed (checked after each attempt, so one attempt may overrun it).
 *
 * TSC scaling.  KVM_GET_CLOCK reports the host TSC and reads the clock at the
 * host's rate, while the guest's pvti runs on the scaled guest TSC.  The
 * samples then fit no fixed offset and the routine gives up at once with
 * PVCLOCK_RESTORE_EOFFSET, claiming nothing.  A ratio so close to 1.0 that
 * the samples still fit only spoils the aim: the bound is still verified.
 *
 * Host code only (it calls ioctl() and clock_gettime() by default); it uses
 * no KVM selftest library, so a VMM can take these two files and
 * pvclock_ref.
 */
#ifndef PVCLOCK_RESTORE_H
#define PVCLOCK_RESTORE_H

#include <stdbool.h>
#include <stdint.h>

#include <linux/kvm.h>

#include "pvclock_ref.h"

#define PVCLOCK_RESTORE_FLAGS		(KVM_CLOCK_REALTIME | KVM_CLOCK_HOST_TSC)
#define PVCLOCK_RESTORE_SAMPLES		32	/* KVM_GET_CLOCK calls for the offset */
#define PVCLOCK_RESTORE_MAX_ATTEMPTS	1000	/* each keeps one gap figure */

enum pvclock_restore_status {
	PVCLOCK_RESTORE_OK,
	PVCLOCK_RESTORE_EINVAL,		/* saved invalid, or max_attempts 0 or too many */
	PVCLOCK_RESTORE_EVCPU,		/* the vCPU did not run, or has no pvclock */
	PVCLOCK_RESTORE_ESCALE,		/* the pvti's mul/shift are not saved's */
	PVCLOCK_RESTORE_EGET,		/* KVM_GET_CLOCK failed, or lacks the flags */
	PVCLOCK_RESTORE_EOFFSET,	/* no fixed TSC offset fits (a scaled TSC?) */
	PVCLOCK_RESTORE_ESET,		/* KVM_SET_CLOCK failed */
	PVCLOCK_RESTORE_EDISAGREE,	/* KVM_GET_CLOCK disagrees with the pvti */
	PVCLOCK_RESTORE_EFAR,		/* the clock landed over a second off */
	PVCLOCK_RESTORE_ETIME,		/* max_ns passed first */
	PVCLOCK_RESTORE_EATTEMPTS,	/* max_attempts were used first */
};

/* What one attempt showed; passed to ops->attempt when it is set. */
struct pvclock_restore_attempt {
	unsigned int n;			/* 1 for the first attempt */
	uint64_t host_tsc;		/* KVM_GET_CLOCK's, before the set */
	uint64_t clock;			/* what was passed to KVM_SET_CLOCK */
	struct pvclock_ref_clock clk;	/* the pvti KVM made of it */
	/*
	 * KVM_SET_CLOCK's gap, in 2^-32 ns: system_time minus the clock
	 * passed minus the saved clock's advance from host_tsc to the new
	 * reference, i.e. the realtime KVM added beyond the TSC time between
	 * its reference and KVM_GET_CLOCK's read.
	 */
	int64_t gap;
	int64_t lo, hi;			/* saved - clk at every later read */
};

struct pvclock_restore_ops {
	/* 0 or a negative errno; NULL: the ioctl on vm_fd. */
	int (*get_clock)(void *ctx, struct kvm_clock_data *data);
	int (*set_clock)(void *ctx, struct kvm_clock_data *data);
	/* Run the vCPU through an entry that reads no time: 0 or negative. */
	int (*enter)(void *ctx);
	/* The vCPU's pvti as KVM last wrote it: 0, or negative for none. */
	int (*read_pvti)(void *ctx, struct pvclock_ref_clock *clk);
	/* A monotonic clock in ns for max_ns; NULL: CLOCK_MONOTONIC. */
	uint64_t (*now_ns)(void *ctx);
	/* Told every attempt; may be NULL. */
	void (*attempt)(void *ctx, const struct pvclock_restore_attempt *a);
	void *ctx;
	int vm_fd;
};

struct pvclock_restore_result {
	enum pvclock_restore_status status;
	unsigned int attempts;		/* KVM_SET_CLOCK calls made */
	uint64_t elapsed_ns;
	uint64_t offset;		/* guest TSC - host TSC, the lowest allowed */
	uint64_t offset_count;		/* offsets the samples allow (1: exact) */
	int64_t lo, hi;			/* saved - clk at every later read, ns */
	int64_t bias;			/* the gap estimate, 2^-32 ns */
	int64_t bias_min, bias_max;	/* the gaps seen */
	int64_t error;			/* clk.system_time - saved(T1), 2^-32 ns */
	struct pvclock_ref_clock clk;	/* the last pvti read back */
};

/*
 * Restore saved on the VM behind ops until every later guest read is within
 * tolerance_ns of it, with 1 to PVCLOCK_RESTORE_MAX_ATTEMPTS KVM_SET_CLOCK
 * calls and about max_ns of time.  Returns res->status.
 */
enum pvclock_restore_status
pvclock_restore(const struct pvclock_restore_ops *ops,
		const struct pvclock_ref_clock *saved, uint64_t tolerance_ns,
		unsigned int max_attempts, uint64_t max_ns,
		struct pvclock_restore_result *res);

const char *pvclock_restore_strerror(enum pvclock_restore_status status);

#endif /* PVCLOCK_RESTORE_H */

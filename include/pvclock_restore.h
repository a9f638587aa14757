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

/**
 * enum pvclock_restore_status - how pvclock_restore() ended
 * @PVCLOCK_RESTORE_OK: restored: every later read is within the tolerance
 * @PVCLOCK_RESTORE_EINVAL: saved invalid, or max_attempts 0 or too many
 * @PVCLOCK_RESTORE_EVCPU: the vCPU did not run, or has no pvclock
 * @PVCLOCK_RESTORE_ESCALE: the pvti's mul/shift are not saved's
 * @PVCLOCK_RESTORE_EGET: KVM_GET_CLOCK failed, or lacks the flags
 * @PVCLOCK_RESTORE_EOFFSET: no fixed TSC offset fits (a scaled TSC?)
 * @PVCLOCK_RESTORE_ESET: KVM_SET_CLOCK failed
 * @PVCLOCK_RESTORE_EDISAGREE: KVM_GET_CLOCK disagrees with the pvti
 * @PVCLOCK_RESTORE_EFAR: the clock landed over a second off
 * @PVCLOCK_RESTORE_ETIME: max_ns passed first
 * @PVCLOCK_RESTORE_EATTEMPTS: max_attempts were used first
 */
enum pvclock_restore_status {
	PVCLOCK_RESTORE_OK,
	PVCLOCK_RESTORE_EINVAL,
	PVCLOCK_RESTORE_EVCPU,
	PVCLOCK_RESTORE_ESCALE,
	PVCLOCK_RESTORE_EGET,
	PVCLOCK_RESTORE_EOFFSET,
	PVCLOCK_RESTORE_ESET,
	PVCLOCK_RESTORE_EDISAGREE,
	PVCLOCK_RESTORE_EFAR,
	PVCLOCK_RESTORE_ETIME,
	PVCLOCK_RESTORE_EATTEMPTS,
};

/**
 * struct pvclock_restore_attempt - what one attempt showed
 * @n: the attempt's number, 1 for the first
 * @host_tsc: KVM_GET_CLOCK's host TSC, read before the set
 * @clock: what was passed to KVM_SET_CLOCK
 * @clk: the pvti KVM made of it
 * @gap: KVM_SET_CLOCK's gap, in 2^-32 ns: system_time minus the clock
 *       passed minus the saved clock's advance from @host_tsc to the new
 *       reference, i.e. the realtime KVM added beyond the TSC time between
 *       its reference and KVM_GET_CLOCK's read
 * @lo: the least of saved - @clk at every later read, in ns
 * @hi: the greatest
 *
 * Passed to ops->attempt when it is set.
 */
struct pvclock_restore_attempt {
	unsigned int n;
	uint64_t host_tsc;
	uint64_t clock;
	struct pvclock_ref_clock clk;
	int64_t gap;
	int64_t lo, hi;
};

/**
 * struct pvclock_restore_ops - how pvclock_restore() reaches the VM
 * @get_clock: KVM_GET_CLOCK: 0 or a negative errno; NULL: the ioctl on
 *             @vm_fd
 * @set_clock: KVM_SET_CLOCK, the same way
 * @enter: run the vCPU through an entry that reads no time (KVM writes the
 *         vCPU's pvti on entry): 0, or negative
 * @read_pvti: the vCPU's pvti as KVM last wrote it, read under its version
 *             protocol (pvclock_ref_pvti_read()): 0, or negative for none
 * @now_ns: a monotonic clock in ns, for max_ns; NULL: CLOCK_MONOTONIC
 * @attempt: told every attempt; may be NULL
 * @ctx: passed to every callback
 * @vm_fd: the VM, for the ioctls that have no callback
 */
struct pvclock_restore_ops {
	int (*get_clock)(void *ctx, struct kvm_clock_data *data);
	int (*set_clock)(void *ctx, struct kvm_clock_data *data);
	int (*enter)(void *ctx);
	int (*read_pvti)(void *ctx, struct pvclock_ref_clock *clk);
	uint64_t (*now_ns)(void *ctx);
	void (*attempt)(void *ctx, const struct pvclock_restore_attempt *a);
	void *ctx;
	int vm_fd;
};

/**
 * struct pvclock_restore_result - what pvclock_restore() did
 * @status: how it ended
 * @attempts: the KVM_SET_CLOCK calls made
 * @elapsed_ns: the time it took, by ops->now_ns
 * @offset: guest TSC - host TSC, the lowest the samples allow
 * @offset_count: the offsets the samples allow (1: exact)
 * @lo: the least of saved - @clk at every later read, in ns
 * @hi: the greatest
 * @bias: the gap estimate, in 2^-32 ns
 * @bias_min: the least gap seen
 * @bias_max: the greatest gap seen
 * @error: @clk's system_time minus the saved clock's exact value at @clk's
 *         reference, in 2^-32 ns
 * @clk: the last pvti read back
 */
struct pvclock_restore_result {
	enum pvclock_restore_status status;
	unsigned int attempts;
	uint64_t elapsed_ns;
	uint64_t offset;
	uint64_t offset_count;
	int64_t lo, hi;
	int64_t bias;
	int64_t bias_min, bias_max;
	int64_t error;
	struct pvclock_ref_clock clk;
};

/**
 * pvclock_restore() - restore a saved pvclock with KVM_SET_CLOCK
 * @ops: the VM
 * @saved: the pvti the guest read before the disruption
 * @tolerance_ns: how far every later read may be from @saved's
 * @max_attempts: KVM_SET_CLOCK calls allowed, 1 to
 *                PVCLOCK_RESTORE_MAX_ATTEMPTS
 * @max_ns: about the time allowed, checked after each attempt
 * @res: set to what was done, and why it ended
 *
 * Sets the clock until every later guest read is within @tolerance_ns of
 * @saved's, as the comment at the top of this file describes.
 *
 * Return: @res->status.
 */
enum pvclock_restore_status
pvclock_restore(const struct pvclock_restore_ops *ops,
		const struct pvclock_ref_clock *saved, uint64_t tolerance_ns,
		unsigned int max_attempts, uint64_t max_ns,
		struct pvclock_restore_result *res);

/**
 * pvclock_restore_strerror() - a status in words
 * @status: the status
 *
 * Return: a short description, "unknown status" outside the enum.
 */
const char *pvclock_restore_strerror(enum pvclock_restore_status status);

#endif /* PVCLOCK_RESTORE_H */

/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A live migration or live update of a guest's KVM clock, in the order a
 * VMM does it, for the tests that restore the clock in their own way
 * (pvclock_restore() on a stock kernel, or a kernel's own ioctl).
 *
 * VM A (two vCPUs) runs with kvmclock on; its drift against the host is
 * measured from two forced master clock updates, then its clock, each
 * vCPU's TSC offset and each kvmclock MSR are saved.  A fresh VM B gets the
 * TSC offsets and the MSRs as a VMM restores them, the test's restore puts
 * the clock back, and only then does B's guest run: each vCPU compares
 * every read with the saved clock.  Two restores from the one saved clock,
 * each into a fresh B: "young", with the restore less than the clock's zero
 * period P after the save, and "old", with the guest TSC 3/4 of P past a
 * zero-remainder reference of the saved clock.
 */
#ifndef SELFTEST_KVM_PVCLOCK_MIGRATE_H
#define SELFTEST_KVM_PVCLOCK_MIGRATE_H

#include <stdbool.h>

#include "kvm_util.h"

#include "pvclock_ref.h"
#include "pvclock_util.h"

#define PVC_MIGRATE_VCPUS	2

enum pvc_migrate_stage {
	PVC_MIGRATE_CLOCK_ON = 1,	/* A: the vCPU pointed kvmclock at its page */
	PVC_MIGRATE_UPDATED,	/* A, vCPU 0: an update forced, its pvti read */
	PVC_MIGRATE_READ,	/* B: the first pvti, reads against the saved */
	PVC_MIGRATE_STEPPED,	/* B, vCPU 0: an update forced, its pvti read */
};

struct pvc_migrate_report {
	u64 entries;	/* B: guest entries, counted first thing */
	struct pvclock_ref_clock first;	/* the pvti at the first entry */
	struct pvclock_ref_clock last;	/* the pvti after the reads */
	struct pvclock_ref_clock stepped;	/* after a forced update */
	struct pvc_read_run run;	/* saved - first at each read */
};

/* Each vCPU's report; sync_global_from_guest() moves it. */
extern struct pvc_migrate_report pvc_mgr[PVC_MIGRATE_VCPUS];

struct pvc_migrate_vm {
	struct kvm_vm *vm;
	struct kvm_vcpu *vcpu[PVC_MIGRATE_VCPUS];
	const struct pvclock_ref_pvti *pvti[PVC_MIGRATE_VCPUS];
};

/* What the VMM carries from A to B. */
struct pvc_migrate_state {
	struct pvclock_ref_clock clock;
	u64 tsc_offset[PVC_MIGRATE_VCPUS];
	u64 kvmclock_msr[PVC_MIGRATE_VCPUS];
};

/* Which of the two restores, for the test's restore and its messages. */
enum pvc_migrate_when {
	PVC_MIGRATE_YOUNG,
	PVC_MIGRATE_OLD,
};

enum pvc_migrate_result {
	PVC_MIGRATE_DONE,	/* restored and checked, failed or not */
	PVC_MIGRATE_AGAIN,	/* the TSC reads do not prove the case */
	PVC_MIGRATE_FAILED,	/* no restore: nothing more to try */
};

/* How a test saves and restores the clock. */
struct pvc_migrate_ops {
	/* The subtest: the start of its messages and metrics. */
	const char *name;
	/* How the clock travels, for the log. */
	const char *how;
	/* The KVM_GET_CLOCK flags the restore needs in A, beyond TSC_STABLE. */
	u32 clock_flags;
	/* Optional, right after A is made: pvc_skip() what is missing. */
	void (*require)(struct pvc_migrate_vm *a);
	/* Optional: the saved clock, s->clock holding A's guest's pvti. */
	bool (*save_clock)(struct pvc_migrate_vm *a,
			   struct pvc_migrate_state *s);
	/*
	 * Restore s into b, whose guest has not run, then check it (with
	 * pvc_migrate_check_no_entry() and pvc_migrate_run_reads() first).
	 */
	enum pvc_migrate_result (*restore)(struct pvc_migrate_vm *b,
					   enum pvc_migrate_when when,
					   const struct pvc_migrate_state *s,
					   const struct pvc_drift_rate *rate);
};

/* The whole flow: A, its drift, the save, the young and the old restore. */
void pvc_migrate(const struct pvc_migrate_ops *ops);

const char *pvc_migrate_when_name(enum pvc_migrate_when when);
/* One entry of a vCPU, which must end at the stage named. */
void pvc_migrate_run(struct pvc_migrate_vm *m, unsigned int cpu,
		     enum pvc_migrate_stage want);
/* B's TSCs and kvmclock MSRs from the state, as a VMM restores them. */
void pvc_migrate_set_vcpus(struct pvc_migrate_vm *b,
			   const struct pvc_migrate_state *s);
/* B's guest must not have run before the restore was done. */
void pvc_migrate_check_no_entry(struct pvc_migrate_vm *b,
				enum pvc_migrate_when when);
/* Both vCPUs' first entries: the first pvti and the reads. */
void pvc_migrate_run_reads(struct pvc_migrate_vm *b,
			   const struct pvc_migrate_state *s);
/*
 * One vCPU's reads against the saved clock: every one in [lo, hi] and
 * within tolerance, none before the first pvti's reference, and the pvti
 * unchanged by the end.
 */
void pvc_migrate_check_reads(enum pvc_migrate_when when, unsigned int cpu,
			     s64 lo, s64 hi, u64 tolerance);

#endif /* SELFTEST_KVM_PVCLOCK_MIGRATE_H */

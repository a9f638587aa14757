/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What the pvclock selftests share, with the KVM selftest library: the
 * guest's clock helpers, a VM with kvmclock pages and a page of the host's
 * own, running a vCPU to a named stage, entries that stop before the guest,
 * the host's pvti writer, and each subtest run in a child process with one
 * KTAP line for it.  The guest parameters and report (pvc_gp, pvc_gr) are
 * globals because sync_global_{to,from}_guest() moves them.
 */
#ifndef SELFTEST_KVM_PVCLOCK_UTIL_H
#define SELFTEST_KVM_PVCLOCK_UTIL_H

#include <stdbool.h>
#include <stdio.h>
#include <linux/compiler.h>

#include "kvm_util.h"

#include "pvclock_ref.h"
#include "pvclock_drift.h"

#define PVC_NSEC_PER_MSEC	1000000ULL
/* Reads logged for the host's own recomputation of reference_update. */
#define PVC_LOG_ENTRIES		32768
#define PVC_LOG_PAGES		(PVC_LOG_ENTRIES * sizeof(u64) / 4096)
/* Time budget of one reference_update comparison, and its least reads. */
#define PVC_COMPARE_MS		200
#define PVC_COMPARE_MIN_READS	1000
/* 1 ns in 2^-32 ns, the unit of the fractions pvclock_ref_frac() gives. */
#define PVC_NS_FRAC		0x100000000LL
/* A jump beyond this is no clock at all. */
#define PVC_SANE_JUMP_NS	(10 * PVC_NSEC_PER_MSEC)

/*
 * How long a guest comparison reads: --reads exactly, or for budget_ticks
 * and at least min_reads.
 */
struct pvc_read_budget {
	u64 budget_ticks;
	u64 min_reads;
	u64 max_reads;
	bool fixed_reads;
};

/* What a guest's run of reads found: old - new at each TSC read. */
struct pvc_read_run {
	struct pvd_stats stats;
	u64 before_ref;	/* reads at a TSC before new's reference */
};

/*
 * What the host tells the guest.  Each vCPU has a kvmclock page of its own
 * (KVM's pvti for that vCPU); host_pvti is a page only the host writes.
 */
struct pvc_guest_params {
	/* guest addresses, as u64: the trees name their types differently */
	u64 kvm_pvti_gpa[2];
	u64 kvm_pvti_gva[2];
	u64 host_pvti_gva;
	u64 log_gva;
	struct pvc_read_budget reads;
	u64 budget_ticks;	/* concurrent_update's reading time */
	u64 zero_period;	/* ticks between zero-remainder references */
	bool again;		/* set_clock_guest: measure the drift once more */
};

struct pvc_guest_report {
	struct pvclock_ref_clock old_clk, new_clk;
	u32 old_version, new_version;
	u64 retries;	/* snapshots retried for an odd or moved version */
	u64 tsc;
	s64 diff;
	struct pvc_read_run run;	/* pvc_guest_compare()'s reads */
	/* the page after the comparison, and its version */
	struct pvclock_ref_clock end_clk;
	u32 end_version;
	struct {
		u64 reads, torn, backwards, differ, changes;
	} conc;
};

/* Each side has its own copy; sync_global_{to,from}_guest() moves them. */
extern struct pvc_guest_params pvc_gp;
extern struct pvc_guest_report pvc_gr;
extern struct pvd_opts pvc_opts;

/* ---- guest ---- */

void pvc_guest_snapshot(const struct pvclock_ref_pvti *p,
			struct pvclock_ref_clock *clk, u32 *version);
void pvc_guest_toggle_kvmclock(u64 pvti_gpa);
void pvc_guest_force_update(void);
void pvc_guest_enable_kvmclock(unsigned int cpu);
const struct pvclock_ref_pvti *pvc_guest_kvm_page(unsigned int cpu);
const struct pvclock_ref_pvti *pvc_guest_host_page(void);
void pvc_guest_jump(const struct pvclock_ref_pvti *page);
void pvc_guest_read_run(const struct pvclock_ref_clock *old_clk,
			const struct pvclock_ref_clock *new_clk,
			const struct pvc_read_budget *budget, u64 *log,
			u64 log_len, struct pvc_read_run *run);
void pvc_guest_compare(const struct pvclock_ref_pvti *page);

/* ---- host: running the guest ---- */

struct pvc_vm {
	struct kvm_vm *vm;
	struct kvm_vcpu *vcpu;
	struct kvm_vcpu *vcpu1;		/* NULL unless pvc_vm_add_vcpu1() */
	struct pvclock_ref_pvti *host_pvti;
	const struct pvclock_ref_pvti *kvm_pvti;
	const u64 *log;
};

void pvc_vm_create(struct pvc_vm *t, void *guest_code);
void pvc_vm_add_vcpu1(struct pvc_vm *t, void *guest_code);
/* A kvmclock page for vCPU cpu, where the guest can find it. */
void pvc_vm_add_kvm_page(struct pvc_vm *t, unsigned int cpu);
u64 pvc_vcpu_run_to_sync(struct kvm_vcpu *vcpu);
void pvc_run_to_stage(struct pvc_vm *t, struct kvm_vcpu *vcpu, u64 want);
void pvc_no_entry_arm(struct kvm_vcpu **vcpus, unsigned int nr);
void pvc_no_entry_disarm(struct kvm_vcpu **vcpus, unsigned int nr);
int pvc_no_entry_run(struct kvm_vcpu *vcpu);
int pvc_vcpu_tsc_khz(struct kvm_vcpu *vcpu);
void pvc_set_read_budget(struct pvc_read_budget *b, u64 khz);
void pvc_set_compare_budget(struct pvc_vm *t);
void pvc_host_write_pvti(struct pvclock_ref_pvti *p,
			 const struct pvclock_ref_clock *clk);
void pvc_sleep_ns(u64 ns);
void pvc_sleep_ms(u64 ms);
u64 pvc_mono_ns(void);

/* ---- host: clocks and TSCs ---- */

/*
 * A drift rate: the clock gained ahead (2^-32 ns) on the host's raw clock
 * over over_ns of it, both from two master clock updates' pvtis.  Each
 * system_time is a whole ns floor, so ahead is good to within 1 ns.
 */
struct pvc_drift_rate {
	s64 ahead;
	u64 over_ns;
};

u64 pvc_host_tsc_ordered(void);
u64 pvc_vcpu_tsc_offset(struct kvm_vcpu *vcpu);
u64 pvc_clock_zero_period(const struct pvclock_ref_clock *c);
/*
 * How far the clock c is ahead of the clock ref at ref's reference, with
 * the fraction c's floor drops, in 2^-32 ns: the jump a guest on c sees
 * when it moves to ref, before either rounds.  False beyond
 * PVC_SANE_JUMP_NS.
 */
bool pvc_clock_ahead(const struct pvclock_ref_clock *c,
		     const struct pvclock_ref_clock *ref, s64 *ahead);
/* The same reference and scale; flags aside. */
bool pvc_same_clock(const struct pvclock_ref_clock *a,
		    const struct pvclock_ref_clock *b);
s64 pvc_drift_rate_ppb(const struct pvc_drift_rate *r);
void pvc_host_recompute(const struct pvc_vm *t, struct pvd_stats *s);

/* ---- host: subtest results ---- */

void __printf(1, 2) __noreturn pvc_skip(const char *fmt, ...);
void __printf(1, 2) pvc_fail(const char *fmt, ...);
bool pvc_failed(void);
s64 pvc_frac_ps(s64 v);
void pvc_metric(const char *name, s64 value, const char *unit);
/* The host's current clocksource, without its newline, in buf. */
bool pvc_host_clocksource(char *buf, size_t len);
void pvc_require_tsc_clocksource(void);
u32 pvc_require_master_clock(struct pvc_vm *t);
void pvc_print_clock(const char *what, const struct pvclock_ref_clock *c);
bool pvc_check_jump(const char *subtest, bool moved);

/* ---- running the subtests ---- */

struct pvc_subtest {
	const char *name;
	void (*fn)(void);
};

/*
 * The KTAP header and plan, then each subtest that pvc_opts selects in a
 * child process, one result line each, and the totals.  Exits: 4 when
 * every subtest skipped, else 0 when all passed or skipped, else 1.
 */
void pvc_run_subtests(const struct pvc_subtest *st, unsigned int nr);

/* A test: its name, what it does in a line, its subtests and options. */
struct pvc_test {
	const char *name;
	const char *summary;
	const struct pvc_subtest *subtests;
	unsigned int nr_subtests;
	u32 options;	/* PVD_OPT() bits beyond --help, --list and --only */
};

/*
 * A test's main(): its options (pvd_parse_args(); --help and --list from
 * the test's table), then its subtests; the exit code.
 */
int pvc_main(int argc, char **argv, const struct pvc_test *test);

#endif /* SELFTEST_KVM_PVCLOCK_UTIL_H */

// SPDX-License-Identifier: GPL-2.0-only
/*
 * The migration flow the pvclock restore tests share
 * (include/x86/pvclock_migrate.h).  Every expectation comes from the saved
 * clock, the host's TSC read around the restore, the drift rate measured in
 * A beforehand and the interface's contract, never from the pvti B ends up
 * with.  Guest code here may only use the general registers.
 */
#include <asm/kvm_para.h>
#include <asm/pvclock-abi.h>
#include <stdio.h>
#include <string.h>

#include "kvm_util.h"
#include "processor.h"
#include "test_util.h"

#include "pvclock_ref.h"
#include "pvclock_compat.h"
#include "pvclock_drift.h"
#include "pvclock_util.h"
#include "pvclock_migrate.h"

/*
 * Each restore is tried again, in a fresh B, when the host's TSC reads
 * around it do not prove its case (a host thread preempted there).
 */
#define MIGRATE_TRIES		3

struct migrate_params {
	gpa_t pvti_gpa[PVC_MIGRATE_VCPUS];
	gva_t pvti_gva[PVC_MIGRATE_VCPUS];
	struct pvclock_ref_clock saved;	/* B compares every read with it */
	struct pvc_read_budget reads;
};

static struct migrate_params mgp;
struct pvc_migrate_report pvc_mgr[PVC_MIGRATE_VCPUS];
/* The running test's way, for its messages and metrics. */
static const struct pvc_migrate_ops *mops;

/* VM A: kvmclock on, then (vCPU 0) forced updates on the host's demand. */
static void migrate_guest_source(u64 cpu)
{
	const struct pvclock_ref_pvti *pvti =
		(const struct pvclock_ref_pvti *)mgp.pvti_gva[cpu];
	u32 version;

	wrmsr(MSR_KVM_SYSTEM_TIME_NEW, mgp.pvti_gpa[cpu] | KVM_MSR_ENABLED);
	GUEST_SYNC(PVC_MIGRATE_CLOCK_ON);
	GUEST_ASSERT(!cpu);
	for (;;) {
		pvc_guest_toggle_kvmclock(mgp.pvti_gpa[0]);
		pvc_guest_snapshot(pvti, &pvc_mgr[0].stepped, &version);
		GUEST_SYNC(PVC_MIGRATE_UPDATED);
	}
}

/*
 * VM B: the host set kvmclock up and restored the clock before the first
 * entry.  The pvti found there is compared with the saved clock; vCPU 0
 * then forces the next master clock update.
 */
static void migrate_guest_dest(u64 cpu)
{
	struct pvc_migrate_report *r = &pvc_mgr[cpu];
	const struct pvclock_ref_pvti *pvti =
		(const struct pvclock_ref_pvti *)mgp.pvti_gva[cpu];
	u32 version;

	WRITE_ONCE(r->entries, r->entries + 1);
	pvc_guest_snapshot(pvti, &r->first, &version);
	/* No log: two vCPUs read at once, and the host checks their range. */
	pvc_guest_read_run(&mgp.saved, &r->first, &mgp.reads, NULL, 0, &r->run);
	pvc_guest_snapshot(pvti, &r->last, &version);
	GUEST_SYNC(PVC_MIGRATE_READ);
	GUEST_ASSERT(!cpu);
	pvc_guest_toggle_kvmclock(mgp.pvti_gpa[0]);
	pvc_guest_snapshot(pvti, &r->stepped, &version);
	GUEST_SYNC(PVC_MIGRATE_STEPPED);
	GUEST_ASSERT(0);
}

const char *pvc_migrate_when_name(enum pvc_migrate_when when)
{
	return when == PVC_MIGRATE_YOUNG ? "young" : "old";
}

/*
 * A and B are made the same way, so that B's pvti pages are at the GPAs
 * A's kvmclock MSRs name.
 */
static void migrate_vm_create(struct pvc_migrate_vm *m, void *guest_code)
{
	unsigned int i;
	gva_t gva;

	m->vm = __vm_create_with_one_vcpu(&m->vcpu[0], 32, guest_code);
	m->vcpu[1] = vm_vcpu_add(m->vm, 1, guest_code);
	for (i = 0; i < PVC_MIGRATE_VCPUS; i++) {
		vcpu_args_set(m->vcpu[i], 1, i);
		gva = vm_alloc_page(m->vm);
		mgp.pvti_gva[i] = gva;
		mgp.pvti_gpa[i] = addr_gva2gpa(m->vm, gva);
		m->pvti[i] = addr_gva2hva(m->vm, gva);
	}
}

void pvc_migrate_run(struct pvc_migrate_vm *m, unsigned int cpu,
		     enum pvc_migrate_stage want)
{
	u64 stage;

	sync_global_to_guest(m->vm, mgp);
	stage = pvc_vcpu_run_to_sync(m->vcpu[cpu]);
	TEST_ASSERT(stage == want, "vCPU %u reached stage %lu, not %u",
		    cpu, (unsigned long)stage, want);
	sync_global_from_guest(m->vm, pvc_mgr);
}

static void vcpu_set_tsc_offset(struct kvm_vcpu *vcpu, u64 offset)
{
	struct kvm_device_attr attr = {
		.group = KVM_VCPU_TSC_CTRL,
		.attr = KVM_VCPU_TSC_OFFSET,
		.addr = (u64)(uintptr_t)&offset,
	};

	vcpu_ioctl(vcpu, KVM_SET_DEVICE_ATTR, &attr);
}

void pvc_migrate_set_vcpus(struct pvc_migrate_vm *b,
			   const struct pvc_migrate_state *s)
{
	unsigned int i;

	for (i = 0; i < PVC_MIGRATE_VCPUS; i++) {
		TEST_ASSERT(mgp.pvti_gpa[i] == (s->kvmclock_msr[i] & ~1ULL),
			    "B's pvti page %u is not where A's was", i);
		vcpu_set_tsc_offset(b->vcpu[i], s->tsc_offset[i]);
	}
	for (i = 0; i < PVC_MIGRATE_VCPUS; i++)
		vcpu_set_msr(b->vcpu[i], MSR_KVM_SYSTEM_TIME_NEW,
			     s->kvmclock_msr[i]);
}

/* Sleep for ticks of a TSC running at khz. */
static void sleep_ticks(u64 ticks, u64 khz)
{
	pvc_sleep_ns((u64)((__uint128_t)ticks * 1000000 / khz));
}

/* A's clock ahead of the host's, in ppb, from two forced updates. */
static bool migrate_measure_drift(struct pvc_migrate_vm *a,
				  struct pvc_drift_rate *rate)
{
	struct pvclock_ref_clock first;
	char name[64];

	pvc_migrate_run(a, 0, PVC_MIGRATE_UPDATED);
	first = pvc_mgr[0].stepped;
	pvc_sleep_ms(pvc_opts.interval_ms);
	pvc_migrate_run(a, 0, PVC_MIGRATE_UPDATED);
	if (!pvc_clock_ahead(&first, &pvc_mgr[0].stepped, &rate->ahead)) {
		pvc_fail("%s: an update in A moved the clock by %ld ns",
			 mops->name, pvd_clock_diff(&first, &pvc_mgr[0].stepped,
						    pvc_mgr[0].stepped.tsc_timestamp));
		return false;
	}
	rate->over_ns = pvc_mgr[0].stepped.system_time - first.system_time;
	printf("# %s: in A, kvmclock gained %ld ps on the host's clock in %lu ns: %ld ppb\n",
	       mops->name, pvc_frac_ps(rate->ahead), rate->over_ns,
	       pvc_drift_rate_ppb(rate));
	snprintf(name, sizeof(name), "%s.drift", mops->name);
	pvc_metric(name, pvc_drift_rate_ppb(rate), "ppb");
	return true;
}

/*
 * The state a VMM saves from A.  A forced update first, so that the saved
 * reference T0 is recent; the clock is the guest's pvti unless the test
 * saves it its own way.
 */
static bool migrate_save(struct pvc_migrate_vm *a, struct pvc_migrate_state *s)
{
	unsigned int i;

	pvc_migrate_run(a, 0, PVC_MIGRATE_UPDATED);
	s->clock = pvc_mgr[0].stepped;
	if (mops->save_clock && !mops->save_clock(a, s))
		return false;
	for (i = 0; i < PVC_MIGRATE_VCPUS; i++) {
		s->tsc_offset[i] = pvc_vcpu_tsc_offset(a->vcpu[i]);
		s->kvmclock_msr[i] = vcpu_get_msr(a->vcpu[i],
						  MSR_KVM_SYSTEM_TIME_NEW);
	}
	if (s->tsc_offset[0] != s->tsc_offset[1])
		pvc_fail("%s: A's vCPUs have TSC offsets %lu and %lu",
			 mops->name, s->tsc_offset[0], s->tsc_offset[1]);
	return !pvc_failed();
}

void pvc_migrate_check_no_entry(struct pvc_migrate_vm *b,
				enum pvc_migrate_when when)
{
	const char *wname = pvc_migrate_when_name(when);
	unsigned int i;
	char buf[96];

	sync_global_from_guest(b->vm, pvc_mgr);
	for (i = 0; i < PVC_MIGRATE_VCPUS; i++)
		if (pvc_mgr[i].entries)
			pvc_fail("%s %s: vCPU %u's guest ran %lu times before the restore",
				 mops->name, wname, i, pvc_mgr[i].entries);
	printf("# %s %s: guest entries before the restore: %lu and %lu\n",
	       mops->name, wname, pvc_mgr[0].entries, pvc_mgr[1].entries);
	snprintf(buf, sizeof(buf), "%s.%s.entries_before_restore", mops->name,
		 wname);
	pvc_metric(buf, (s64)(pvc_mgr[0].entries + pvc_mgr[1].entries),
		   "entries");
}

/* "NAME.WHEN.vcpuN.what" */
static void migrate_read_metric(enum pvc_migrate_when when, unsigned int cpu,
				const char *what, s64 value, const char *unit)
{
	char buf[96];

	snprintf(buf, sizeof(buf), "%s.%s.vcpu%u.%s", mops->name,
		 pvc_migrate_when_name(when), cpu, what);
	pvc_metric(buf, value, unit);
}

void pvc_migrate_check_reads(enum pvc_migrate_when when, unsigned int cpu,
			     s64 lo, s64 hi, u64 tolerance)
{
	const struct pvd_stats *st = &pvc_mgr[cpu].run.stats;
	const struct pvc_migrate_report *r = &pvc_mgr[cpu];
	const char *wname = pvc_migrate_when_name(when);
	u64 max_abs = pvd_stats_max_abs(st);

	printf("# %s %s: vCPU %u: %lu reads, %lu differ from the saved clock,\n"
	       "# saved - restored in [%ld, %ld] ns, allowed [%ld, %ld]\n",
	       mops->name, wname, cpu, st->reads, st->differ, st->min_diff,
	       st->max_diff, lo, hi);
	migrate_read_metric(when, cpu, "reads", (s64)st->reads, "reads");
	migrate_read_metric(when, cpu, "differing", (s64)st->differ, "reads");
	migrate_read_metric(when, cpu, "max_diff", (s64)max_abs, "ns");
	if (st->reads < mgp.reads.min_reads)
		pvc_fail("%s %s: vCPU %u made %lu reads, not %lu", mops->name,
			 wname, cpu, st->reads, mgp.reads.min_reads);
	if (st->min_diff < lo || st->max_diff > hi)
		pvc_fail("%s %s: vCPU %u: reads outside [%ld, %ld] ns",
			 mops->name, wname, cpu, lo, hi);
	if (max_abs > tolerance)
		pvc_fail("%s %s: vCPU %u: a read differs by %lu ns, beyond %lu",
			 mops->name, wname, cpu, max_abs, tolerance);
	if (r->run.before_ref)
		pvc_fail("%s %s: vCPU %u: %lu reads before the reference",
			 mops->name, wname, cpu, r->run.before_ref);
	if (!pvc_same_clock(&r->last, &r->first))
		pvc_fail("%s %s: vCPU %u's pvti changed during the reads",
			 mops->name, wname, cpu);
}

void pvc_migrate_run_reads(struct pvc_migrate_vm *b,
			   const struct pvc_migrate_state *s)
{
	mgp.saved = s->clock;
	pvc_migrate_run(b, 1, PVC_MIGRATE_READ);
	pvc_migrate_run(b, 0, PVC_MIGRATE_READ);
}

/*
 * young: B is made before the save, as a destination is before the source
 * stops, so that the restore comes soon after the save even where P is
 * short.  The test's restore says when its TSC reads do not prove that:
 * then again, with a new save.
 */
static bool migrate_young(struct pvc_migrate_vm *a, struct pvc_migrate_state *s,
			  const struct pvc_drift_rate *rate)
{
	enum pvc_migrate_result res;
	struct pvc_migrate_vm b;
	unsigned int try;

	for (try = 0; try < MIGRATE_TRIES; try++) {
		migrate_vm_create(&b, migrate_guest_dest);
		if (!migrate_save(a, s)) {
			kvm_vm_free(b.vm);
			return false;
		}
		pvc_print_clock("saved", &s->clock);
		res = mops->restore(&b, PVC_MIGRATE_YOUNG, s, rate);
		kvm_vm_free(b.vm);
		if (res != PVC_MIGRATE_AGAIN)
			return res == PVC_MIGRATE_DONE;
	}
	pvc_fail("%s young: no restore within P of the save in %d tries",
		 mops->name, MIGRATE_TRIES);
	return false;
}

/*
 * old: the same saved clock, restored into a fresh B when the guest TSC is
 * 3/4 of P past the newest zero-remainder reference of the saved clock.
 */
static void migrate_old(const struct pvc_migrate_state *s, u64 khz,
			const struct pvc_drift_rate *rate)
{
	u64 period = pvc_clock_zero_period(&s->clock), now, phase;
	u64 t0 = s->clock.tsc_timestamp;
	enum pvc_migrate_result res;
	struct pvc_migrate_vm b;
	unsigned int try;

	for (try = 0; try < MIGRATE_TRIES; try++) {
		migrate_vm_create(&b, migrate_guest_dest);
		now = pvc_host_tsc_ordered() + s->tsc_offset[0];
		phase = (now - t0) & (period - 1);
		sleep_ticks((period / 4 * 3 - phase) & (period - 1), khz);
		res = mops->restore(&b, PVC_MIGRATE_OLD, s, rate);
		kvm_vm_free(b.vm);
		if (res != PVC_MIGRATE_AGAIN)
			return;
	}
	pvc_fail("%s old: T1 - T* >= P/2 not reached in %d tries", mops->name,
		 MIGRATE_TRIES);
}

/* The master clock in A, and what the test's restore needs. */
static void migrate_require(struct pvc_migrate_vm *a)
{
	u32 want = KVM_CLOCK_TSC_STABLE | mops->clock_flags;
	struct kvm_clock_data data;

	if (__vcpu_has_device_attr(a->vcpu[0], KVM_VCPU_TSC_CTRL,
				   KVM_VCPU_TSC_OFFSET))
		pvc_skip("KVM_VCPU_TSC_OFFSET not supported");
	memset(&data, 0, sizeof(data));
	vm_ioctl(a->vm, KVM_GET_CLOCK, &data);
	if ((data.flags & want) != want)
		pvc_skip("KVM_GET_CLOCK flags 0x%x lack 0x%x (%s)", data.flags,
			 want, "no master clock, or no realtime and host TSC");
	if (!(pvc_mgr[0].stepped.flags & PVCLOCK_TSC_STABLE_BIT))
		pvc_skip("guest pvclock lacks PVCLOCK_TSC_STABLE_BIT");
}

void pvc_migrate(const struct pvc_migrate_ops *ops)
{
	struct pvc_migrate_state s;
	struct pvc_drift_rate rate;
	struct pvc_migrate_vm a;
	u64 khz;

	mops = ops;
	pvc_require_tsc_clocksource();
	migrate_vm_create(&a, migrate_guest_source);
	if (ops->require)
		ops->require(&a);
	pvc_migrate_run(&a, 0, PVC_MIGRATE_CLOCK_ON);
	pvc_migrate_run(&a, 1, PVC_MIGRATE_CLOCK_ON);
	pvc_migrate_run(&a, 0, PVC_MIGRATE_UPDATED);
	migrate_require(&a);
	printf("# %s: %s\n", ops->name, ops->how);
	khz = (u64)pvc_vcpu_tsc_khz(a.vcpu[0]);
	pvc_set_read_budget(&mgp.reads, khz);
	if (migrate_measure_drift(&a, &rate) && migrate_young(&a, &s, &rate))
		migrate_old(&s, khz, &rate);
	kvm_vm_free(a.vm);
}

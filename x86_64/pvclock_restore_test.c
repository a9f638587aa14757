// SPDX-License-Identifier: GPL-2.0-only
/*
 * pvclock_restore_test: a guest's KVM clock saved and restored with only
 * the ioctls every kernel has, KVM_GET_CLOCK and KVM_SET_CLOCK, through
 * pvclock_restore(), as a VMM does around a pause or a migration.  The
 * guest compares every read after the restore with the clock it saved.
 *
 *  stock_restore  a saved guest pvclock restored to within 1 ns in the same
 *		VM, after a master clock update moved it; the naive
 *		restore (KVM_SET_CLOCK with the saved data) for contrast.
 *  migrate	a clock saved from one VM restored in a fresh one before its
 *		guest runs: the TSC offsets and kvmclock MSRs restored as a
 *		VMM does, then pvclock_restore(), whose vCPU entries end
 *		before the guest, so that the guest never sees the old clock.
 *
 * Each subtest runs in a child process, with one KTAP line for it.  Guest
 * code may only use the general registers: some KVM setups run guest code
 * through the instruction emulator, which has no SSE.
 */
#include <linux/types.h>
#include <asm/pvclock-abi.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "kvm_util.h"
#include "processor.h"
#include "test_util.h"

#include "pvclock_ref.h"
#include "pvclock_restore.h"
#include "pvclock_compat.h"
#include "pvclock_drift.h"
#include "pvclock_util.h"
#include "pvclock_migrate.h"

/* ---- stock_restore ---- */

enum stock_restore_stage {
	SR_SAVED = 1,		/* kvmclock on, an update forced, pvti as old */
	SR_JUMPED,		/* another update, old - new at one TSC read */
	SR_NAIVE_READ,		/* after the naive restore: many reads */
	SR_RESTORED_READ,	/* after pvclock_restore(): many reads */
};

static void guest_stock_restore(void)
{
	const struct pvclock_ref_pvti *page = pvc_guest_kvm_page(0);

	pvc_guest_enable_kvmclock(0);
	pvc_guest_force_update();
	pvc_guest_snapshot(page, &pvc_gr.old_clk, &pvc_gr.old_version);
	GUEST_SYNC(SR_SAVED);
	pvc_guest_force_update();
	pvc_guest_jump(page);
	GUEST_SYNC(SR_JUMPED);
	pvc_guest_compare(page);
	GUEST_SYNC(SR_NAIVE_READ);
	pvc_guest_compare(page);
	GUEST_SYNC(SR_RESTORED_READ);
	GUEST_ASSERT(0);
}

/* An entry that ends before the guest: KVM writes the pvti and returns. */
static int restore_enter(void *ctx)
{
	return pvc_no_entry_run(((struct pvc_vm *)ctx)->vcpu);
}

static int restore_read_pvti(void *ctx, struct pvclock_ref_clock *clk)
{
	u32 version;

	/* The vCPU is out, but KVM's writer protocol is honoured anyway. */
	return pvclock_ref_pvti_read(((struct pvc_vm *)ctx)->kvm_pvti, clk, &version) &&
	       pvclock_ref_clock_valid(clk) ? 0 : -ENODATA;
}

/* Checks and figures of the guest's comparison of saved and new clock. */
static void restore_reads(struct pvc_vm *t, const char *how)
{
	struct pvd_stats host;
	char buf[96];

	printf("# stock_restore %s: %lu guest reads, %lu differ from the saved clock,\n"
	       "# saved - new in [%ld, %ld] ns\n", how, pvc_gr.run.stats.reads,
	       pvc_gr.run.stats.differ, pvc_gr.run.stats.min_diff, pvc_gr.run.stats.max_diff);
	snprintf(buf, sizeof(buf), "stock_restore.%s.min_diff", how);
	pvc_metric(buf, pvc_gr.run.stats.min_diff, "ns");
	snprintf(buf, sizeof(buf), "stock_restore.%s.max_diff", how);
	pvc_metric(buf, pvc_gr.run.stats.max_diff, "ns");
	snprintf(buf, sizeof(buf), "stock_restore.%s.max_abs", how);
	pvc_metric(buf, (s64)pvd_stats_max_abs(&pvc_gr.run.stats), "ns");
	pvc_host_recompute(t, &host);
	if (pvc_gr.run.stats.reads <= PVC_LOG_ENTRIES && !pvd_stats_equal(&host, &pvc_gr.run.stats))
		pvc_fail("stock_restore %s: the host's arithmetic disagrees with the guest's",
			 how);
	if (pvc_gr.run.before_ref)
		pvc_fail("stock_restore %s: %lu reads before the new reference",
			 how, pvc_gr.run.before_ref);
	/*
	 * KVM may rewrite the page (a guest kvmclock MSR write schedules one
	 * 100 ms later) but, without a new master clock, with the same fields.
	 */
	if (!pvd_clock_equal(&pvc_gr.end_clk, &pvc_gr.new_clk))
		pvc_fail("stock_restore %s: KVM changed the pvti during the reads",
			 how);
}

static void restore_report(const struct pvclock_ref_clock *saved,
			   const struct pvclock_restore_result *res)
{
	int k = saved->shift < 0 ? -saved->shift : 0;
	bool aligned = !((res->clk.tsc_timestamp - saved->tsc_timestamp) &
			 ((1ULL << k) - 1));

	printf("# stock_restore: %s after %u attempts in %lu us;\n"
	       "# TSC offset %s (%lu allowed); KVM_SET_CLOCK's gap %ld ps\n"
	       "# (median; seen %ld to %ld ps), system_time error %ld ps;\n"
	       "# reference %s, saved - restored within [%ld, %ld] ns at every later read\n",
	       pvclock_restore_strerror(res->status), res->attempts,
	       res->elapsed_ns / 1000, res->offset_count == 1 ? "exact" : "a range",
	       res->offset_count, pvc_frac_ps(res->bias), pvc_frac_ps(res->bias_min),
	       pvc_frac_ps(res->bias_max), pvc_frac_ps(res->error),
	       aligned ? "aligned" : "unaligned", res->lo, res->hi);
	pvc_metric("stock_restore.attempts", res->attempts, "attempts");
	pvc_metric("stock_restore.time", (s64)res->elapsed_ns, "ns");
	pvc_metric("stock_restore.bias", pvc_frac_ps(res->bias), "ps");
	pvc_metric("stock_restore.bias_spread",
		   pvc_frac_ps(res->bias_max - res->bias_min), "ps");
	pvc_metric("stock_restore.error", pvc_frac_ps(res->error), "ps");
	pvc_metric("stock_restore.bound",
		   res->hi > -res->lo ? res->hi : -res->lo, "ns");
}

/*
 * pvclock_restore() of the saved clock.  Its vCPU entries end before the
 * guest (a signal pending), so that the guest reads nothing until the
 * restore is done.  False when it made no attempt at all.
 */
static bool restore_with_library(struct pvc_vm *t,
				 const struct pvclock_ref_clock *saved,
				 struct pvclock_restore_result *res)
{
	struct pvclock_restore_ops ops = {
		.enter = restore_enter,
		.read_pvti = restore_read_pvti,
		.ctx = t,
		.vm_fd = t->vm->fd,
	};

	pvc_no_entry_arm(&t->vcpu, 1);
	pvclock_restore(&ops, saved, pvc_opts.restore_tolerance_ns,
			(unsigned int)pvc_opts.restore_attempts,
			pvc_opts.restore_ms * PVC_NSEC_PER_MSEC, res);
	pvc_no_entry_disarm(&t->vcpu, 1);
	restore_report(saved, res);
	if (res->status == PVCLOCK_RESTORE_OK)
		return true;
	pvc_fail("stock_restore: %s (%u attempts, %lu ms, --restore-tolerance-ns %lu)",
		 pvclock_restore_strerror(res->status), res->attempts,
		 (u64)(res->elapsed_ns / PVC_NSEC_PER_MSEC),
		 pvc_opts.restore_tolerance_ns);
	return res->attempts;
}

static void test_stock_restore(void)
{
	struct pvclock_restore_result res;
	struct kvm_clock_data data;
	struct pvclock_ref_clock saved;
	struct pvc_vm t;
	u32 flags;

	pvc_require_tsc_clocksource();
	pvc_vm_create(&t, guest_stock_restore);
	pvc_run_to_stage(&t, t.vcpu, SR_SAVED);
	/* What a VMM saves today, for the naive restore. */
	memset(&data, 0, sizeof(data));
	vm_ioctl(t.vm, KVM_GET_CLOCK, &data);
	flags = pvc_require_master_clock(&t);
	if ((flags & PVCLOCK_RESTORE_FLAGS) != PVCLOCK_RESTORE_FLAGS)
		pvc_skip("KVM_GET_CLOCK reports no %s (flags 0x%x)",
			 "KVM_CLOCK_REALTIME and KVM_CLOCK_HOST_TSC", flags);
	saved = pvc_gr.old_clk;
	pvc_print_clock("saved", &saved);
	pvc_set_compare_budget(&t);

	/* The clocks diverge; a master clock update yanks the guest's. */
	pvc_sleep_ms(pvc_opts.interval_ms);
	pvc_run_to_stage(&t, t.vcpu, SR_JUMPED);
	if (!pvc_check_jump("stock_restore", true))
		goto out;
	printf("# stock_restore: after %lu ms a master clock update moved the clock\n"
	       "# by saved - new = %ld ns\n", pvc_opts.interval_ms, pvc_gr.diff);
	pvc_metric("stock_restore.update.old_minus_new", pvc_gr.diff, "ns");

	/* Naive: KVM_SET_CLOCK with the data saved, realtime added. */
	data.flags &= KVM_CLOCK_REALTIME;
	vm_ioctl(t.vm, KVM_SET_CLOCK, &data);
	pvc_run_to_stage(&t, t.vcpu, SR_NAIVE_READ);
	restore_reads(&t, "naive");

	if (!restore_with_library(&t, &saved, &res))
		goto out;
	pvc_run_to_stage(&t, t.vcpu, SR_RESTORED_READ);
	restore_reads(&t, "restored");
	if (!pvd_clock_equal(&pvc_gr.new_clk, &res.clk))
		pvc_fail("stock_restore: %s",
			 "the guest read another pvti than the one the routine verified");
	if (pvc_gr.run.stats.min_diff < res.lo || pvc_gr.run.stats.max_diff > res.hi)
		pvc_fail("stock_restore: reads outside the range the arithmetic allows");
	if (pvd_stats_max_abs(&pvc_gr.run.stats) > pvc_opts.restore_tolerance_ns)
		pvc_fail("stock_restore: a read differs by %lu ns, %s %lu",
			 pvd_stats_max_abs(&pvc_gr.run.stats),
			 "beyond --restore-tolerance-ns",
			 pvc_opts.restore_tolerance_ns);
out:
	kvm_vm_free(t.vm);
}

/* ---- migrate ---- */

static int migrate_restore_enter(void *ctx)
{
	return pvc_no_entry_run(((struct pvc_migrate_vm *)ctx)->vcpu[0]);
}

static int migrate_restore_read_pvti(void *ctx, struct pvclock_ref_clock *clk)
{
	const struct pvclock_ref_pvti *p = ((struct pvc_migrate_vm *)ctx)->pvti[0];
	u32 version;

	return pvclock_ref_pvti_read(p, clk, &version) &&
	       pvclock_ref_clock_valid(clk) ? 0 : -ENODATA;
}

/*
 * pvclock_restore() in B.  Each vCPU first enters once with the signal
 * pending, so that the master clock update its TSC write requested happens
 * now and not at its first real entry (which would move the restored
 * reference); the routine's own entries end the same way.  Every read must
 * then be within the range the routine proved and the tolerance.
 */
static enum pvc_migrate_result migrate_stock(struct pvc_migrate_vm *b,
					     enum pvc_migrate_when when,
					     const struct pvc_migrate_state *s,
					     const struct pvc_drift_rate *rate)
{
	const char *wname = pvc_migrate_when_name(when);
	struct pvclock_restore_ops ops = {
		.enter = migrate_restore_enter,
		.read_pvti = migrate_restore_read_pvti,
		.ctx = b,
		.vm_fd = b->vm->fd,
	};
	struct pvclock_restore_result res;
	unsigned int i;
	char buf[96];

	pvc_migrate_set_vcpus(b, s);
	pvc_no_entry_arm(b->vcpu, PVC_MIGRATE_VCPUS);
	for (i = 0; i < PVC_MIGRATE_VCPUS; i++)
		pvc_no_entry_run(b->vcpu[i]);
	pvclock_restore(&ops, &s->clock, pvc_opts.restore_tolerance_ns,
			(unsigned int)pvc_opts.restore_attempts,
			pvc_opts.restore_ms * PVC_NSEC_PER_MSEC, &res);
	pvc_no_entry_disarm(b->vcpu, PVC_MIGRATE_VCPUS);
	printf("# migrate %s: pvclock_restore(): %s after %u attempts in %lu us,\n"
	       "# saved - restored within [%ld, %ld] ns at every later read\n",
	       wname, pvclock_restore_strerror(res.status), res.attempts,
	       res.elapsed_ns / 1000, res.lo, res.hi);
	snprintf(buf, sizeof(buf), "migrate.%s.attempts", wname);
	pvc_metric(buf, res.attempts, "attempts");
	if (res.status != PVCLOCK_RESTORE_OK) {
		pvc_fail("migrate %s: pvclock_restore(): %s", wname,
			 pvclock_restore_strerror(res.status));
		return PVC_MIGRATE_FAILED;
	}
	pvc_migrate_check_no_entry(b, when);
	pvc_migrate_run_reads(b, s);
	for (i = 0; i < PVC_MIGRATE_VCPUS; i++) {
		if (!pvc_same_clock(&pvc_mgr[i].first, &res.clk))
			pvc_fail("migrate %s: vCPU %u's first pvti is not %s",
				 wname, i, "the one the routine verified");
		pvc_migrate_check_reads(when, i, res.lo, res.hi,
					pvc_opts.restore_tolerance_ns);
	}
	return PVC_MIGRATE_DONE;
}

static void test_migrate(void)
{
	static const struct pvc_migrate_ops stock = {
		.name = "migrate",
		.how = "the guest's pvti saved, restored by pvclock_restore()\n"
		       "# with entries that end before the guest",
		.clock_flags = PVCLOCK_RESTORE_FLAGS,
		.restore = migrate_stock,
	};

	pvc_migrate(&stock);
}

static const struct pvc_subtest subtests[] = {
	{ "stock_restore", test_stock_restore },
	{ "migrate", test_migrate },
};

int main(int argc, char *argv[])
{
	static const struct pvc_test test = {
		.name = "pvclock_restore_test",
		.summary = "Restore a guest's KVM clock with KVM_GET_CLOCK and\n"
			   "KVM_SET_CLOCK alone.",
		.subtests = subtests,
		.nr_subtests = ARRAY_SIZE(subtests),
		.options = PVD_OPT(PVD_OPT_INTERVAL_MS) | PVD_OPT(PVD_OPT_READS) |
			   PVD_OPT(PVD_OPT_RESTORE_TOLERANCE_NS) |
			   PVD_OPT(PVD_OPT_RESTORE_ATTEMPTS) |
			   PVD_OPT(PVD_OPT_RESTORE_MS),
	};

	return pvc_main(argc, argv, &test);
}

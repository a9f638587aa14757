// SPDX-License-Identifier: GPL-2.0-only
/*
 * pvclock_drift_test: how far a KVM guest's clock jumps when its pvclock
 * reference moves, measured by the guest against its own earlier view.
 *
 * Every reference update (a master clock update, KVM_SET_CLOCK, a VMM that
 * restores a saved clock) hands the guest a new pvclock_vcpu_time_info.  If
 * the new one disagrees with the old one at the same TSC value, the guest's
 * clock jumps.  The subtests:
 *
 *  masterclock_update  the guest forces a master clock update after an
 *		interval and reports old minus new clock at one TSC read:
 *		the drift between the guest's extrapolation and the host.
 *  set_clock	KVM_GET_CLOCK then KVM_SET_CLOCK with the same data, as a
 *		VMM does around a pause, with and without KVM_CLOCK_REALTIME.
 *  reference_update  the host keeps its own pvclock page in guest memory
 *		and moves its reference with pvclock_ref (naive, scan, exact);
 *		the guest compares old and new clocks over many real reads.
 *  concurrent_update  a host thread moves the reference of the test's own
 *		page hundreds of times a second while the guest reads its clock.
 *  vcpu_hotplug  vCPUs added to a running VM must leave its clock alone.
 *
 * Restoring a saved clock is pvclock_restore_test's concern.  Each subtest
 * runs in a child process, with one KTAP line for it, so that a failed
 * assertion in the KVM selftest library ends that subtest only.  Guest code
 * may only use the general registers: some KVM setups run guest code
 * through the instruction emulator, which has no SSE.
 */
#include <asm/barrier.h>
#include <asm/kvm_para.h>
#include <asm/pvclock-abi.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/build_bug.h>
#include <linux/compiler.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kvm_util.h"
#include "processor.h"
#include "test_util.h"

#include "pvclock_ref.h"
#include "pvclock_compat.h"
#include "pvclock_drift.h"
#include "pvclock_util.h"

/* How long set_clock lets the guest run on its snapshot first. */
#define SET_CLOCK_DELAY_MS	200

/* ---- guest ---- */

/* One of the references concurrent_update's host writes, untorn. */
static bool guest_concurrent_valid(const struct pvclock_ref_clock *c)
{
	const struct pvclock_ref_clock *old_clk = &pvc_gr.old_clk;

	return c->mul == old_clk->mul && c->shift == old_clk->shift &&
	       c->flags == old_clk->flags &&
	       !((c->tsc_timestamp - old_clk->tsc_timestamp) &
		 (pvc_gp.zero_period - 1)) &&
	       c->system_time == pvclock_ref_read(old_clk, c->tsc_timestamp);
}

/*
 * Read the clock from the page as a guest does, while the host keeps moving
 * its reference: each read against the continuous clock (the old one, which
 * every zero-remainder reference continues exactly) and the one before.
 */
static void guest_concurrent(const struct pvclock_ref_pvti *page)
{
	struct pvclock_ref_clock c;
	u64 t, now, last = 0, start, n = 0;
	u32 v, last_v = 0;

	start = rdtsc();
	do {
		pvc_guest_snapshot(page, &c, &v);
		t = rdtsc();
		if (!guest_concurrent_valid(&c))
			pvc_gr.conc.torn++;
		now = pvclock_ref_read(&c, t);
		if (now != pvclock_ref_read(&pvc_gr.old_clk, t))
			pvc_gr.conc.differ++;
		if (n && now < last)
			pvc_gr.conc.backwards++;
		if (n && v != last_v)
			pvc_gr.conc.changes++;
		last = now;
		last_v = v;
		n++;
	} while (t - start < pvc_gp.budget_ticks);
	pvc_gr.conc.reads += n;
}

/* ---- masterclock_update ---- */

enum masterclock_update_stage {
	MCU_SAVED = 1,		/* kvmclock on, an update forced, its pvti read */
	MCU_JUMPED,		/* another update, old - new at one TSC read */
};

static void guest_masterclock_update(void)
{
	pvc_guest_enable_kvmclock(0);
	pvc_guest_force_update();
	pvc_guest_snapshot(pvc_guest_kvm_page(0), &pvc_gr.old_clk, &pvc_gr.old_version);
	GUEST_SYNC(MCU_SAVED);
	pvc_guest_force_update();
	pvc_guest_jump(pvc_guest_kvm_page(0));
	GUEST_SYNC(MCU_JUMPED);
	GUEST_ASSERT(0);
}

static void test_masterclock_update(void)
{
	u64 interval_ns;
	s64 ppb;
	struct pvc_vm t;

	pvc_require_tsc_clocksource();
	pvc_vm_create(&t, guest_masterclock_update);
	pvc_run_to_stage(&t, t.vcpu, MCU_SAVED);
	pvc_require_master_clock(&t);

	pvc_sleep_ms(pvc_opts.interval_ms);
	pvc_run_to_stage(&t, t.vcpu, MCU_JUMPED);

	pvc_print_clock("before", &pvc_gr.old_clk);
	pvc_print_clock("after", &pvc_gr.new_clk);
	if (!pvc_check_jump("masterclock_update", true))
		goto out;

	interval_ns = pvc_gr.new_clk.system_time - pvc_gr.old_clk.system_time;
	if (interval_ns < pvc_opts.interval_ms * PVC_NSEC_PER_MSEC)
		pvc_fail("references %lu ns apart, less than the %lu ms slept",
			 interval_ns, pvc_opts.interval_ms);
	ppb = pvd_drift_ppb(pvc_gr.diff, interval_ns);
	printf("# masterclock_update: after %lu ns between references,\n"
	       "# old - new = %ld ns at the guest's TSC (%s), drift %ld ppb\n",
	       interval_ns, pvc_gr.diff,
	       pvc_gr.diff > 0 ? "clock jumped back" :
	       pvc_gr.diff < 0 ? "clock jumped forward" : "no jump", ppb);
	pvc_metric("masterclock_update.interval", (s64)interval_ns, "ns");
	pvc_metric("masterclock_update.old_minus_new", pvc_gr.diff, "ns");
	pvc_metric("masterclock_update.drift", ppb, "ppb");
	if (pvc_opts.has_max_drift &&
	    (ppb > (s64)pvc_opts.max_drift_ppb ||
	     ppb < -(s64)pvc_opts.max_drift_ppb))
		pvc_fail("drift %ld ppb exceeds --max-drift-ppb %lu",
			 ppb, pvc_opts.max_drift_ppb);
out:
	kvm_vm_free(t.vm);
}

/* ---- set_clock ---- */

enum set_clock_stage {
	SC_ENABLED = 1,		/* kvmclock on, its pvti read */
	SC_SAVED,		/* an update forced, its pvti read as old */
	SC_JUMPED,		/* old - new at one TSC read */
};

static void guest_set_clock(void)
{
	pvc_guest_enable_kvmclock(0);
	pvc_guest_snapshot(pvc_guest_kvm_page(0), &pvc_gr.old_clk, &pvc_gr.old_version);
	GUEST_SYNC(SC_ENABLED);
	for (;;) {
		pvc_guest_force_update();
		pvc_guest_snapshot(pvc_guest_kvm_page(0), &pvc_gr.old_clk, &pvc_gr.old_version);
		GUEST_SYNC(SC_SAVED);
		pvc_guest_jump(pvc_guest_kvm_page(0));
		GUEST_SYNC(SC_JUMPED);
	}
}

/*
 * The guest snapshots a fresh reference, runs on it for a while, then the
 * host does what a VMM does around a pause: KVM_GET_CLOCK and KVM_SET_CLOCK
 * with the data it got.  Returns old - new as the guest sees it.
 */
static void set_clock_once(struct pvc_vm *t, bool realtime, u32 *flags)
{
	const char *name = realtime ? "realtime" : "flags0";
	struct kvm_clock_data data;
	u64 start_ns, end_ns;
	char buf[96];

	pvc_run_to_stage(t, t->vcpu, SC_SAVED);
	*flags = pvc_require_master_clock(t);
	if (realtime && !(*flags & KVM_CLOCK_REALTIME)) {
		printf("# set_clock: KVM_GET_CLOCK reports no KVM_CLOCK_REALTIME (flags 0x%x):\n"
		       "# realtime variant not run\n", *flags);
		return;
	}
	pvc_sleep_ms(SET_CLOCK_DELAY_MS);

	memset(&data, 0, sizeof(data));
	start_ns = pvc_mono_ns();
	vm_ioctl(t->vm, KVM_GET_CLOCK, &data);
	data.flags &= realtime ? KVM_CLOCK_REALTIME : 0;
	vm_ioctl(t->vm, KVM_SET_CLOCK, &data);
	end_ns = pvc_mono_ns();

	pvc_run_to_stage(t, t->vcpu, SC_JUMPED);
	if (!pvc_check_jump("set_clock", true))
		return;
	printf("# set_clock (%s): old - new = %ld ns (%s), GET+SET took %lu ns\n",
	       realtime ? "KVM_CLOCK_REALTIME" : "flags 0",
	       pvc_gr.diff, pvc_gr.diff > 0 ? "clock jumped back" :
	       pvc_gr.diff < 0 ? "clock jumped forward" : "no jump", end_ns - start_ns);
	snprintf(buf, sizeof(buf), "set_clock.%s.old_minus_new", name);
	pvc_metric(buf, pvc_gr.diff, "ns");
	snprintf(buf, sizeof(buf), "set_clock.%s.ioctl_time", name);
	pvc_metric(buf, (s64)(end_ns - start_ns), "ns");
	if (pvc_opts.has_max_set_clock &&
	    (pvc_gr.diff > (s64)pvc_opts.max_set_clock_ns ||
	     pvc_gr.diff < -(s64)pvc_opts.max_set_clock_ns))
		pvc_fail("set_clock (%s): |%ld| ns exceeds --max-set-clock-ns %lu",
			 name, pvc_gr.diff, pvc_opts.max_set_clock_ns);
}

static void test_set_clock(void)
{
	struct pvc_vm t;
	u32 flags;

	pvc_require_tsc_clocksource();
	pvc_vm_create(&t, guest_set_clock);
	pvc_run_to_stage(&t, t.vcpu, SC_ENABLED);
	pvc_require_master_clock(&t);
	set_clock_once(&t, false, &flags);
	set_clock_once(&t, true, &flags);
	kvm_vm_free(t.vm);
}

/* ---- reference_update ---- */

enum reference_update_stage {
	RU_ENABLED = 1,		/* kvmclock on, KVM's pvti read */
	RU_TSC,			/* the TSC read for the host's old clock */
	RU_SAVED,		/* the host page read as old, the TSC again */
	RU_COMPARED,		/* the host page read as new, many reads */
};

static void guest_reference_update(void)
{
	pvc_guest_enable_kvmclock(0);
	pvc_guest_snapshot(pvc_guest_kvm_page(0), &pvc_gr.old_clk, &pvc_gr.old_version);
	GUEST_SYNC(RU_ENABLED);
	for (;;) {
		pvc_gr.tsc = rdtsc();
		GUEST_SYNC(RU_TSC);
		pvc_guest_snapshot(pvc_guest_host_page(), &pvc_gr.old_clk, &pvc_gr.old_version);
		pvc_gr.tsc = rdtsc();
		GUEST_SYNC(RU_SAVED);
		pvc_guest_compare(pvc_guest_host_page());
		GUEST_SYNC(RU_COMPARED);
	}
}

static void label_rate(char *buf, size_t len, u32 khz)
{
	if (khz == PVD_HOST_RATE)
		snprintf(buf, len, "host");
	else
		snprintf(buf, len, "%ukHz", khz);
}

static void report_cell(const char *rate, enum pvclock_ref_method m,
			const struct pvclock_ref_clock *old_clk,
			const struct pvclock_ref_choice *c)
{
	const struct pvd_stats *s = &pvc_gr.run.stats;
	u64 bp = pvd_basis_points(s->differ, s->reads);
	const char *mname = pvd_method_name(m);
	char buf[128];

	printf("# reference_update %s %s: reference %lu ticks after the old one,\n"
	       "# remainder 0x%08x%s; %lu reads, %lu differ (%lu.%02lu %%:\n"
	       "# %lu by 1 ns, %lu by 2 ns, %lu otherwise), old - new in [%ld, %ld] ns\n",
	       rate, mname, c->guest_tsc - old_clk->tsc_timestamp,
	       c->remainder, c->aligned ? "" : " (unaligned)", s->reads,
	       s->differ, bp / 100, bp % 100, s->by_diff[1], s->by_diff[2],
	       s->other, s->min_diff, s->max_diff);
	snprintf(buf, sizeof(buf), "reference_update.%s.%s.reads", rate, mname);
	pvc_metric(buf, (s64)s->reads, "reads");
	snprintf(buf, sizeof(buf), "reference_update.%s.%s.differing", rate, mname);
	pvc_metric(buf, (s64)s->differ, "reads");
	snprintf(buf, sizeof(buf), "reference_update.%s.%s.max_diff", rate, mname);
	pvc_metric(buf, (s64)pvd_stats_max_abs(s), "ns");
	snprintf(buf, sizeof(buf), "reference_update.%s.%s.remainder", rate, mname);
	pvc_metric(buf, c->remainder, "2^-32ns");
}

/* The guest's snapshots must be exactly what the host wrote. */
static void check_guest_saw(const char *rate, const char *mname,
			    const struct pvclock_ref_clock *old_clk,
			    const struct pvclock_ref_clock *new_clk)
{
	if (!pvd_clock_equal(&pvc_gr.old_clk, old_clk) ||
	    !pvd_clock_equal(&pvc_gr.new_clk, new_clk))
		pvc_fail("reference_update %s %s: %s", rate, mname,
			 "the guest read another pvclock than the host wrote");
	if (pvc_gr.run.before_ref)
		pvc_fail("reference_update %s %s: %lu reads before the new reference",
			 rate, mname, pvc_gr.run.before_ref);
}

/* One rate and method: old clock, guest's TSC, new reference, reads. */
static void reference_cell(struct pvc_vm *t, const char *rate, u32 mul,
			   s8 shift, enum pvclock_ref_method m)
{
	struct pvclock_ref_clock old_clk, new_clk;
	struct pvclock_ref_choice choice;
	const char *mname = pvd_method_name(m);
	struct pvd_stats host;
	const char *why;
	int ret;

	pvc_run_to_stage(t, t->vcpu, RU_TSC);
	pvd_old_clock(mul, shift, pvc_gr.tsc, &old_clk);
	pvc_host_write_pvti(t->host_pvti, &old_clk);

	/* The TSC the guest reads as it takes the old clock ends the window. */
	pvc_run_to_stage(t, t->vcpu, RU_SAVED);
	ret = pvd_move_reference(&old_clk, pvc_gr.tsc, pvd_method_width(m, &pvc_opts),
				 m, &choice, &new_clk);
	if (ret) {
		pvc_fail("reference_update %s %s: pvclock_ref_choose() returned %d",
			 rate, mname, ret);
		return;
	}
	pvc_host_write_pvti(t->host_pvti, &new_clk);

	pvc_run_to_stage(t, t->vcpu, RU_COMPARED);
	check_guest_saw(rate, mname, &old_clk, &new_clk);
	report_cell(rate, m, &old_clk, &choice);

	pvc_host_recompute(t, &host);
	if (pvc_gr.run.stats.reads <= PVC_LOG_ENTRIES && !pvd_stats_equal(&host, &pvc_gr.run.stats))
		pvc_fail("reference_update %s %s: %s", rate, mname,
			 "the host's arithmetic disagrees with the guest's");
	why = pvd_method_verdict(m, &pvc_gr.run.stats);
	if (why && m == PVCLOCK_REF_EXACT && choice.remainder)
		pvc_fail("reference_update %s %s: %s: the window of %lu %s every 2^%u ticks)",
			 rate, mname, why, pvc_opts.window,
			 "holds no zero-remainder reference (they recur",
			 pvclock_ref_zero_period_log2(mul, shift));
	else if (why)
		pvc_fail("reference_update %s %s: %s", rate, mname, why);
}

/*
 * KVM derives the pvclock's scale from the vCPU's TSC rate with
 * kvm_get_time_scale(); pvclock_ref_time_scale() claims to be its exact
 * mirror, and here the real thing can say so.
 */
static void check_kvm_scale(int khz, u32 mul, s8 shift)
{
	u32 want_mul;
	s8 want_shift;

	pvclock_ref_time_scale(1000000000ULL, (u64)khz * 1000, &want_shift,
			       &want_mul);
	printf("# reference_update: pvclock_ref_time_scale(%d kHz) = mul 0x%08x shift %d\n",
	       khz, want_mul, want_shift);
	if (want_mul != mul || want_shift != shift)
		pvc_fail("KVM scales %d kHz as mul 0x%08x shift %d, %s as mul 0x%08x shift %d",
			 khz, mul, shift, "the library", want_mul, want_shift);
}

static void test_reference_update(void)
{
	static const enum pvclock_ref_method methods[] = {
		PVCLOCK_REF_NAIVE, PVCLOCK_REF_SCAN, PVCLOCK_REF_EXACT,
	};
	u32 host_mul;
	s8 host_shift;
	struct pvc_vm t;
	unsigned int i, j;
	int khz;

	pvc_vm_create(&t, guest_reference_update);
	pvc_run_to_stage(&t, t.vcpu, RU_ENABLED);
	host_mul = pvc_gr.old_clk.mul;
	host_shift = pvc_gr.old_clk.shift;
	khz = pvc_vcpu_tsc_khz(t.vcpu);
	if (!pvclock_ref_clock_valid(&pvc_gr.old_clk))
		pvc_fail("KVM's pvclock has mul 0x%x shift %d", host_mul,
			 host_shift);
	check_kvm_scale(khz, host_mul, host_shift);
	printf("# reference_update: guest TSC %d kHz, KVM's scale mul 0x%08x shift %d;\n"
	       "# old references 2^40 to 2^40 + 2^%d ticks back; %s\n",
	       khz, host_mul, host_shift, PVD_OLD_SPREAD_BITS,
	       pvc_opts.reads ? "fixed reads per comparison" :
	       "reads for 0.2 s per comparison, at least 1000");

	pvc_set_compare_budget(&t);

	for (i = 0; i < pvc_opts.nr_freqs; i++) {
		u32 mul = host_mul;
		s8 shift = host_shift;
		char rate[32];

		label_rate(rate, sizeof(rate), pvc_opts.freq_khz[i]);
		if (pvc_opts.freq_khz[i] != PVD_HOST_RATE)
			pvd_rate_scale(pvc_opts.freq_khz[i], &mul, &shift);
		printf("# reference_update %s: mul 0x%08x shift %d,\n"
		       "# zero-remainder references every 2^%u ticks, exact window %lu\n",
		       rate, mul, shift, pvclock_ref_zero_period_log2(mul, shift),
		       pvc_opts.window);
		for (j = 0; j < ARRAY_SIZE(methods); j++)
			reference_cell(&t, rate, mul, shift, methods[j]);
	}
	kvm_vm_free(t.vm);
}

/* ---- concurrent_update ---- */

/* Zero-remainder references the updater cycles through. */
#define CONCURRENT_REFS		64
/* Time between two updates: a few hundred a second. */
#define CONCURRENT_PERIOD_US	2000
/*
 * Fewer updates a second than this, and the guest hardly read concurrently
 * with them.  The updater shares the CPU with the vCPU where the host has
 * one (a one-CPU VM of the VM runner) and may be starved for a while: the
 * guest then reads for another --duration-ms, up to a few times.
 */
#define CONCURRENT_MIN_RATE	100
#define CONCURRENT_MAX_ROUNDS	5

enum concurrent_update_stage {
	CU_ENABLED = 1,		/* kvmclock on, KVM's pvti as old, the TSC */
	CU_SAVED,		/* the host page read as old */
	CU_READ,		/* one round of reads while the host updates */
};

static void guest_concurrent_update(void)
{
	pvc_guest_enable_kvmclock(0);
	pvc_guest_snapshot(pvc_guest_kvm_page(0), &pvc_gr.old_clk, &pvc_gr.old_version);
	pvc_gr.tsc = rdtsc();
	GUEST_SYNC(CU_ENABLED);
	pvc_guest_snapshot(pvc_guest_host_page(), &pvc_gr.old_clk, &pvc_gr.old_version);
	GUEST_SYNC(CU_SAVED);
	for (;;) {
		guest_concurrent(pvc_guest_host_page());
		GUEST_SYNC(CU_READ);
	}
}

struct updater {
	struct pvclock_ref_pvti *page;
	struct pvclock_ref_clock clk[CONCURRENT_REFS];
	unsigned int nr;
	u64 updates;
	bool stop;
};

static void *updater_fn(void *arg)
{
	struct updater *u = arg;
	unsigned int i = 0;

	while (!READ_ONCE(u->stop)) {
		i = (i + 1) % u->nr;
		pvc_host_write_pvti(u->page, &u->clk[i]);
		u->updates++;
		usleep(CONCURRENT_PERIOD_US);
	}
	return NULL;
}

static void test_concurrent_update(void)
{
	struct pvclock_ref_clock old_clk;
	struct updater u;
	pthread_t thread;
	u64 period, age, newest, rate;
	unsigned int i, log2, rounds = 0;
	struct pvc_vm t;
	int khz;

	pvc_vm_create(&t, guest_concurrent_update);
	pvc_run_to_stage(&t, t.vcpu, CU_ENABLED);
	khz = pvc_vcpu_tsc_khz(t.vcpu);
	if (!pvclock_ref_clock_valid(&pvc_gr.old_clk))
		pvc_skip("KVM gave the guest no valid pvclock");

	/* KVM's scale; the old reference 2^40 ticks and more back. */
	pvd_old_clock(pvc_gr.old_clk.mul, pvc_gr.old_clk.shift, pvc_gr.tsc, &old_clk);
	log2 = pvclock_ref_zero_period_log2(old_clk.mul, old_clk.shift);
	period = 1ULL << log2;
	age = pvc_gr.tsc - old_clk.tsc_timestamp;
	memset(&u, 0, sizeof(u));
	u.page = t.host_pvti;
	u.nr = age / period < CONCURRENT_REFS ? age / period : CONCURRENT_REFS;
	if (u.nr < 2)
		pvc_skip("zero-remainder references recur every 2^%u ticks, %s",
			 log2, "too rarely for this test");
	newest = old_clk.tsc_timestamp + age / period * period;
	for (i = 0; i < u.nr; i++) {
		pvclock_ref_rebase(&old_clk, newest - i * period, &u.clk[i]);
		if (pvclock_ref_frac(&old_clk, u.clk[i].tsc_timestamp))
			pvc_fail("concurrent_update: reference %u has a remainder",
				 i);
	}
	pvc_host_write_pvti(t.host_pvti, &old_clk);
	pvc_run_to_stage(&t, t.vcpu, CU_SAVED);
	if (!pvd_clock_equal(&pvc_gr.old_clk, &old_clk))
		pvc_fail("concurrent_update: the guest read another pvclock than the host wrote");
	pvc_gp.budget_ticks = (u64)khz * pvc_opts.duration_ms;
	pvc_gp.zero_period = period;

	TEST_ASSERT_EQ(pthread_create(&thread, NULL, updater_fn, &u), 0);
	do {
		pvc_run_to_stage(&t, t.vcpu, CU_READ);
		rounds++;
	} while (READ_ONCE(u.updates) * 1000 <
		 CONCURRENT_MIN_RATE * pvc_opts.duration_ms * rounds &&
		 rounds < CONCURRENT_MAX_ROUNDS);
	WRITE_ONCE(u.stop, true);
	pthread_join(thread, NULL);

	rate = u.updates * 1000 / (pvc_opts.duration_ms * rounds);
	printf("# concurrent_update: %u zero-remainder references 2^%u ticks apart,\n"
	       "# %lu updates (%lu/s) in %u round(s) of %lu ms, %lu guest reads,\n"
	       "# %lu references seen, %lu snapshot retries; %lu torn, %lu backwards,\n"
	       "# %lu differing from the continuous clock\n", u.nr, log2,
	       u.updates, rate, rounds, pvc_opts.duration_ms, pvc_gr.conc.reads,
	       pvc_gr.conc.changes, pvc_gr.retries, pvc_gr.conc.torn, pvc_gr.conc.backwards,
	       pvc_gr.conc.differ);
	pvc_metric("concurrent_update.updates", (s64)u.updates, "updates");
	pvc_metric("concurrent_update.rounds", rounds, "rounds");
	pvc_metric("concurrent_update.reads", (s64)pvc_gr.conc.reads, "reads");
	pvc_metric("concurrent_update.references_seen",
		   (s64)pvc_gr.conc.changes, "references");
	pvc_metric("concurrent_update.retries", (s64)pvc_gr.retries,
		   "snapshots");
	if (pvc_gr.conc.torn)
		pvc_fail("concurrent_update: %lu torn pvti snapshots",
			 pvc_gr.conc.torn);
	if (pvc_gr.conc.backwards)
		pvc_fail("concurrent_update: the clock went backwards %lu times",
			 pvc_gr.conc.backwards);
	if (pvc_gr.conc.differ)
		pvc_fail("concurrent_update: %lu reads differ from the continuous clock",
			 pvc_gr.conc.differ);
	if (pvc_gr.conc.changes < 2 || rate < CONCURRENT_MIN_RATE)
		pvc_fail("concurrent_update: %s (%lu updates in %u rounds, %lu seen)",
			 "too few updates reached the guest", u.updates,
			 rounds, pvc_gr.conc.changes);
	kvm_vm_free(t.vm);
}

/* ---- vcpu_hotplug ---- */

/*
 * Adding a vCPU to a running VM must leave its KVM clock alone: with the
 * master clock on and the new vCPU's TSC matched, there is nothing for a
 * master clock update to change.  Before v6.8 ("KVM: x86: Don't
 * unnecessarily force masterclock update on vCPU hotplug"), every TSC sync
 * requested one while the master clock was on, so each hotplug moved the
 * reference and stepped every guest's clock by its drift.  vCPU 0's guest
 * reads its clock while the host adds a vCPU, runs it, and adds another.
 */

#define HOTPLUG_VCPUS		3
/* How long vCPU 0 reads before, between and after the hotplugs. */
#define HOTPLUG_SETTLE_MS	100

enum vcpu_hotplug_stage {
	HP_ENABLED = 1,		/* kvmclock on, the pvti read as old */
	HP_READ,		/* vCPU 0: reads until the host says stop */
};

struct hotplug_report {
	u64 reads;
	u64 differ;	/* reads where the pvti's clock is not old's */
	u64 moves;		/* times the pvti's reference changed */
	s64 first_step;	/* old - new at the first such read, ns */
	struct pvclock_ref_clock moved;	/* the first other pvti seen */
};

static struct hotplug_report hpr;
static bool hotplug_stop;
/* Each added vCPU's first pvti; vCPU 0's is pvc_gr.old_clk. */
static struct pvclock_ref_clock hotplug_first[HOTPLUG_VCPUS];

/*
 * vCPU 0: every read against the clock of before the hotplugs (pvc_gr.old_clk)
 * at the same TSC, until the host sets hotplug_stop.  The new vCPUs only
 * turn kvmclock on and show their first pvti.
 */
static void guest_vcpu_hotplug(u64 cpu)
{
	const struct pvclock_ref_pvti *page = pvc_guest_kvm_page(cpu ? 1 : 0);
	struct pvclock_ref_clock now, last;
	u32 version;
	s64 step;
	u64 tsc;

	pvc_guest_enable_kvmclock(cpu ? 1 : 0);
	if (cpu) {
		pvc_guest_snapshot(page, &hotplug_first[cpu], &version);
		GUEST_SYNC(HP_ENABLED);
		GUEST_ASSERT(0);
	}
	pvc_guest_snapshot(page, &pvc_gr.old_clk, &pvc_gr.old_version);
	last = pvc_gr.old_clk;
	GUEST_SYNC(HP_ENABLED);
	while (!READ_ONCE(hotplug_stop)) {
		pvc_guest_snapshot(page, &now, &version);
		tsc = rdtsc();
		step = pvd_clock_diff(&pvc_gr.old_clk, &now, tsc);
		if (step)
			hpr.differ++;
		if (!pvd_clock_equal(&now, &last) && !hpr.moves++) {
			hpr.first_step = step;
			hpr.moved = now;
		}
		last = now;
		hpr.reads++;
	}
	GUEST_SYNC(HP_READ);
	GUEST_ASSERT(0);
}

static void *hotplug_reader(void *arg)
{
	struct pvc_vm *t = arg;

	pvc_run_to_stage(t, t->vcpu, HP_READ);
	return NULL;
}

/* Add vCPU id to the running VM, run it, and compare its pvti with old. */
static void hotplug_add(struct pvc_vm *t, unsigned int id,
			const struct pvclock_ref_clock *old)
{
	struct kvm_vcpu *vcpu = vm_vcpu_add(t->vm, id, guest_vcpu_hotplug);
	u64 stage;

	vcpu_args_set(vcpu, 1, id);
	stage = pvc_vcpu_run_to_sync(vcpu);
	TEST_ASSERT(stage == HP_ENABLED, "vCPU %u reached stage %lu", id,
		    (unsigned long)stage);
	sync_global_from_guest(t->vm, hotplug_first);
	pvc_print_clock("added vCPU's first pvti", &hotplug_first[id]);
	if (!pvc_same_clock(&hotplug_first[id], old))
		pvc_fail("vcpu_hotplug: vCPU %u's first pvti is not vCPU 0's", id);
	pvc_sleep_ms(HOTPLUG_SETTLE_MS);
}

static void test_vcpu_hotplug(void)
{
	struct pvclock_ref_clock old;
	pthread_t reader;
	struct pvc_vm t;
	unsigned int id;

	pvc_require_tsc_clocksource();
	pvc_vm_create(&t, guest_vcpu_hotplug);
	/* One kvmclock page for all added vCPUs: only their first read counts. */
	pvc_vm_add_kvm_page(&t, 1);
	pvc_run_to_stage(&t, t.vcpu, HP_ENABLED);
	pvc_require_master_clock(&t);
	old = pvc_gr.old_clk;
	pvc_print_clock("before", &old);

	hotplug_stop = false;
	sync_global_to_guest(t.vm, hotplug_stop);
	TEST_ASSERT_EQ(pthread_create(&reader, NULL, hotplug_reader, &t), 0);
	pvc_sleep_ms(HOTPLUG_SETTLE_MS);
	for (id = 1; id < HOTPLUG_VCPUS; id++)
		hotplug_add(&t, id, &old);
	hotplug_stop = true;
	sync_global_to_guest(t.vm, hotplug_stop);
	pthread_join(reader, NULL);
	sync_global_from_guest(t.vm, hpr);

	printf("# vcpu_hotplug: %u vCPUs added while vCPU 0 read its clock %lu times:\n"
	       "# %lu reads differ from the clock before, the reference moved %lu times\n",
	       HOTPLUG_VCPUS - 1, hpr.reads, hpr.differ, hpr.moves);
	pvc_metric("vcpu_hotplug.reads", (s64)hpr.reads, "reads");
	pvc_metric("vcpu_hotplug.differing", (s64)hpr.differ, "reads");
	pvc_metric("vcpu_hotplug.moves", (s64)hpr.moves, "moves");
	if (hpr.moves) {
		pvc_print_clock("moved", &hpr.moved);
		printf("# vcpu_hotplug: the reference moved: a step of %ld ns (old - new)\n",
		       hpr.first_step);
		pvc_metric("vcpu_hotplug.step", hpr.first_step, "ns");
		pvc_fail("vcpu_hotplug: %s, a step of %ld ns",
			 "adding a vCPU moved the clock's reference",
			 hpr.first_step);
	}
	if (hpr.differ)
		pvc_fail("vcpu_hotplug: %lu reads differ from the clock before the hotplug",
			 hpr.differ);
	if (!hpr.reads)
		pvc_fail("vcpu_hotplug: vCPU 0 made no read");
	kvm_vm_free(t.vm);
}

static const struct pvc_subtest subtests[] = {
	{ "masterclock_update", test_masterclock_update },
	{ "set_clock", test_set_clock },
	{ "reference_update", test_reference_update },
	{ "concurrent_update", test_concurrent_update },
	{ "vcpu_hotplug", test_vcpu_hotplug },
};

int main(int argc, char *argv[])
{
	static const struct pvc_test test = {
		.name = "pvclock_drift_test",
		.summary = "Measure how far a KVM guest's clock jumps when its pvclock\n"
			   "reference moves.",
		.subtests = subtests,
		.nr_subtests = ARRAY_SIZE(subtests),
		.options = PVD_OPT(PVD_OPT_INTERVAL_MS) |
			   PVD_OPT(PVD_OPT_MAX_DRIFT_PPB) |
			   PVD_OPT(PVD_OPT_MAX_SET_CLOCK_NS) | PVD_OPT(PVD_OPT_READS),
	};

	return pvc_main(argc, argv, &test);
}

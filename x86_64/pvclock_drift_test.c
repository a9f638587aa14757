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
 *  set_clock_guest  KVM_GET_CLOCK_GUEST/KVM_SET_CLOCK_GUEST where the
 *		kernel has them.
 *  stock_restore  a saved guest pvclock restored to within 1 ns with only
 *		KVM_GET_CLOCK and KVM_SET_CLOCK (pvclock_restore()), the
 *		guest comparing over many reads; the naive restore for contrast.
 *  concurrent_update  a host thread moves the reference of the test's own
 *		page hundreds of times a second while the guest reads its clock.
 *  migrate	a clock saved from one VM restored in a fresh one before its
 *		guest runs, as a VMM migrates: KVM_SET_CLOCK_GUEST where the
 *		kernel has it, pvclock_restore() elsewhere.
 *  vcpu_hotplug  vCPUs added to a running VM must leave its clock alone.
 *
 * Guest code here may only use the general registers: some KVM setups run
 * guest code through the instruction emulator, which has no SSE.  Each
 * subtest runs in a child process so that a failed assertion in the KVM
 * selftest library ends that subtest only.
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
#include "pvclock_restore.h"
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

/* ---- subtest 1: masterclock_update ---- */

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

/* ---- subtest 2: set_clock ---- */

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

/* ---- subtest 3: reference_update ---- */

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

/* Recompute the guest's figures from its logged TSC values. */
static void host_recompute(const struct pvc_vm *t, struct pvd_stats *s)
{
	u64 n = pvc_gr.run.stats.reads < PVC_LOG_ENTRIES ? pvc_gr.run.stats.reads : PVC_LOG_ENTRIES;
	u64 i;

	pvd_stats_init(s);
	for (i = 0; i < n; i++)
		pvd_stats_add(s, pvd_clock_diff(&pvc_gr.old_clk, &pvc_gr.new_clk,
						t->log[i]));
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

	host_recompute(t, &host);
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

/* ---- subtest 4: set_clock_guest ---- */

/*
 * KVM_GET_CLOCK_GUEST and KVM_SET_CLOCK_GUEST, checked from outside: the new
 * reference against host TSC reads around the ioctl, system_time against the
 * library's reading of the saved clock, every guest read against the saved
 * clock, and the host side of the restored clock against the next master
 * clock update.
 */

#define NS_FRAC			0x100000000LL	/* 1 ns in 2^-32 ns */

enum set_clock_guest_stage {
	CG_ENABLED = 1,		/* kvmclock on, on each vCPU */
	CG_UPDATED,		/* vCPU 0: an update forced, its pvti read as old */
	CG_VIEW,		/* the vCPU's pvti read as new */
	CG_SAVED,		/* vCPU 0: its pvti read as old: the saved clock */
	CG_DRIFTED,		/* vCPU 0: an update, old - new at one TSC read */
	CG_COMPARED,		/* vCPU 0: its pvti read as new, many reads */
	CG_STEPPED,		/* vCPU 0: an update, old - new at one TSC read */
};

/*
 * vCPU 1 only shows the host its pvti.  vCPU 0's stages, in order: the host
 * saves the clock after a KVM_SET_CLOCK (UPDATED, VIEW, SAVED), lets it
 * drift (DRIFTED, once more each time it resumes the vCPU with pvc_gp.again
 * set), restores it (VIEW), has it read
 * (COMPARED), then forces the next update (STEPPED) and restores a young
 * clock (VIEW).
 */
static void guest_set_clock_guest(u64 cpu)
{
	const struct pvclock_ref_pvti *page = pvc_guest_kvm_page(cpu);

	pvc_guest_enable_kvmclock(cpu);
	GUEST_SYNC(CG_ENABLED);
	while (cpu) {
		pvc_guest_snapshot(page, &pvc_gr.new_clk, &pvc_gr.new_version);
		GUEST_SYNC(CG_VIEW);
	}
	pvc_guest_force_update();
	pvc_guest_snapshot(page, &pvc_gr.old_clk, &pvc_gr.old_version);
	GUEST_SYNC(CG_UPDATED);
	pvc_guest_snapshot(page, &pvc_gr.new_clk, &pvc_gr.new_version);
	GUEST_SYNC(CG_VIEW);
	pvc_guest_snapshot(page, &pvc_gr.old_clk, &pvc_gr.old_version);
	GUEST_SYNC(CG_SAVED);
	do {
		pvc_guest_force_update();
		pvc_guest_jump(page);
		GUEST_SYNC(CG_DRIFTED);
		/* The host sets it before it runs the vCPU on. */
	} while (READ_ONCE(pvc_gp.again));
	pvc_guest_snapshot(page, &pvc_gr.new_clk, &pvc_gr.new_version);
	GUEST_SYNC(CG_VIEW);
	pvc_guest_compare(page);
	GUEST_SYNC(CG_COMPARED);
	pvc_guest_force_update();
	pvc_guest_jump(page);
	GUEST_SYNC(CG_STEPPED);
	for (;;) {
		pvc_guest_snapshot(page, &pvc_gr.new_clk, &pvc_gr.new_version);
		GUEST_SYNC(CG_VIEW);
	}
}

/* A saved reference this far past the guest's TSC must be refused. */
#define FUTURE_REF_MS		10000

/* The errors the interface names by name, others as strerror() has them. */
static const char *errno_name(int e)
{
	switch (e) {
	case 0:
		return "accepted";
	case EINVAL:
		return "EINVAL";
	case ERANGE:
		return "ERANGE";
	case ENOTTY:
		return "ENOTTY";
	case EFAULT:
		return "EFAULT";
	default:
		return strerror(e);
	}
}

/*
 * The errno of a KVM_[GS]ET_CLOCK_GUEST call that returned r, 0 when it
 * succeeded.  ENOTTY is a kernel without the ioctl, whatever the capability
 * says: the subtest skips.
 */
static int clock_guest_errno(int r, const char *name)
{
	if (!r)
		return 0;
	if (errno == ENOTTY)
		pvc_skip("%s: ENOTTY, no such ioctl (though KVM_CAP_CLOCK_GUEST, %d, is there)",
			 name, KVM_CAP_CLOCK_GUEST);
	return errno;
}

/*
 * Whether the kernel has KVM_GET_CLOCK_GUEST and KVM_SET_CLOCK_GUEST, not
 * only a capability of KVM_CAP_CLOCK_GUEST's number; why says what is
 * missing when it has not.  A KVM_SET_CLOCK_GUEST that exists reads its
 * argument first, so that one it cannot read is EFAULT, whatever the
 * clock's state; a kernel without it answers ENOTTY, or EINVAL, which is
 * what x86 answers to every vCPU ioctl it does not know.
 */
static bool clock_guest_supported(struct kvm_vcpu *vcpu, char *why, size_t len)
{
	int r;

	if (!kvm_has_cap(KVM_CAP_CLOCK_GUEST)) {
		snprintf(why, len, "KVM_CAP_CLOCK_GUEST (%d) not supported: no KVM_GET_CLOCK_GUEST",
			 KVM_CAP_CLOCK_GUEST);
		return false;
	}
	r = __vcpu_ioctl(vcpu, KVM_SET_CLOCK_GUEST, (struct pvclock_ref_pvti *)NULL);
	if (r && errno == EFAULT)
		return true;
	snprintf(why, len, "KVM_CAP_CLOCK_GUEST (%d) is there, but %s %s, %s",
		 KVM_CAP_CLOCK_GUEST, "KVM_SET_CLOCK_GUEST of an unreadable pvti is",
		 errno_name(r ? errno : 0), "not EFAULT: no such ioctl");
	return false;
}

/* KVM_GET_CLOCK_GUEST on a vCPU: 0, or the errno. */
static int get_clock_guest(struct kvm_vcpu *vcpu, struct pvclock_ref_clock *c)
{
	struct pvclock_ref_pvti p;
	int r;

	memset(&p, 0, sizeof(p));
	r = clock_guest_errno(__vcpu_ioctl(vcpu, KVM_GET_CLOCK_GUEST, &p),
			      "KVM_GET_CLOCK_GUEST");
	if (!r)
		pvclock_ref_from_pvti(&p, c);
	return r;
}

/* KVM_SET_CLOCK_GUEST on a vCPU: 0, or the errno. */
static int set_clock_guest(struct kvm_vcpu *vcpu,
			   const struct pvclock_ref_clock *c)
{
	struct pvclock_ref_pvti p;

	pvclock_ref_to_pvti(c, &p);
	return clock_guest_errno(__vcpu_ioctl(vcpu, KVM_SET_CLOCK_GUEST, &p),
				 "KVM_SET_CLOCK_GUEST");
}

/* The host's TSC, read after everything before it has completed. */
static u64 host_tsc_ordered(void)
{
	u32 lo, hi;

	__asm__ __volatile__("lfence; rdtsc" : "=a"(lo), "=d"(hi) : : "memory");
	return (u64)hi << 32 | lo;
}

/* Guest TSC minus host TSC, as KVM_VCPU_TSC_OFFSET reports it. */
static u64 vcpu_tsc_offset(struct kvm_vcpu *vcpu)
{
	u64 offset = 0;
	struct kvm_device_attr attr = {
		.group = KVM_VCPU_TSC_CTRL,
		.attr = KVM_VCPU_TSC_OFFSET,
		.addr = (u64)(uintptr_t)&offset,
	};

	TEST_ASSERT(!__vcpu_ioctl(vcpu, KVM_GET_DEVICE_ATTR, &attr),
		    "KVM_GET_DEVICE_ATTR(KVM_VCPU_TSC_OFFSET): %s",
		    strerror(errno));
	return offset;
}

/* T - reference is a multiple of 2^-shift: see pvclock_ref_diff_range(). */
static bool clock_aligned(const struct pvclock_ref_clock *c, u64 tsc)
{
	int k = c->shift < 0 ? -c->shift : 0;

	return !((tsc - c->tsc_timestamp) & ((1ULL << k) - 1));
}

/*
 * The saved clock's exact references (reads with no fraction) recur every
 * 2^pvclock_ref_zero_period_log2() ticks from its own reference: the newest one not
 * after tsc, the closed form KVM_SET_CLOCK_GUEST's exact variant uses.
 */
static u64 clock_zero_period(const struct pvclock_ref_clock *c)
{
	return 1ULL << pvclock_ref_zero_period_log2(c->mul, c->shift);
}

static u64 clock_exact_ref(const struct pvclock_ref_clock *c, u64 tsc)
{
	u64 d = tsc - c->tsc_timestamp;

	if ((s64)d < 0)
		return c->tsc_timestamp;
	return c->tsc_timestamp + (d & ~(clock_zero_period(c) - 1));
}

/*
 * How far the clock c is ahead of the clock ref at ref's reference, with the
 * fraction c's floor drops, in 2^-32 ns: the jump a guest on c sees when it
 * moves to ref, before either rounds.  False beyond PVC_SANE_JUMP_NS.
 */
static bool clock_ahead(const struct pvclock_ref_clock *c,
			const struct pvclock_ref_clock *ref, s64 *ahead)
{
	s64 whole = (s64)(pvclock_ref_read(c, ref->tsc_timestamp) -
				  ref->system_time);

	if (whole > (s64)PVC_SANE_JUMP_NS || whole < -(s64)PVC_SANE_JUMP_NS)
		return false;
	*ahead = whole * NS_FRAC +
		 (s64)pvclock_ref_frac(c, ref->tsc_timestamp);
	return true;
}

static bool same_clock(const struct pvclock_ref_clock *a,
		       const struct pvclock_ref_clock *b)
{
	return a->tsc_timestamp == b->tsc_timestamp &&
	       a->system_time == b->system_time && a->mul == b->mul &&
	       a->shift == b->shift;
}

/*
 * KVM_GET_CLOCK_GUEST as the interface promises it: version 0, flags
 * PVCLOCK_TSC_STABLE_BIT alone (the clock needs the master clock) and zero
 * padding.  False, with the subtest failed, otherwise.
 */
static bool get_clock_guest_checked(struct kvm_vcpu *vcpu,
				    struct pvclock_ref_clock *c, const char *who)
{
	struct pvclock_ref_pvti p;
	int r;

	memset(&p, 0xa5, sizeof(p));
	r = clock_guest_errno(__vcpu_ioctl(vcpu, KVM_GET_CLOCK_GUEST, &p),
			      "KVM_GET_CLOCK_GUEST");
	if (r) {
		pvc_fail("%s: KVM_GET_CLOCK_GUEST: %s", who, errno_name(r));
		return false;
	}
	pvclock_ref_from_pvti(&p, c);
	if (p.version || p.flags != PVCLOCK_TSC_STABLE_BIT || p.pad0 ||
	    p.pad[0] || p.pad[1]) {
		pvc_fail("%s: KVM_GET_CLOCK_GUEST gave version %u, flags 0x%x, pads %u/%u/%u: %s",
			 who, p.version, p.flags, p.pad0, p.pad[0], p.pad[1],
			 "not 0, PVCLOCK_TSC_STABLE_BIT and zeros");
		return false;
	}
	return true;
}

/*
 * A drift rate: the clock gained ahead (2^-32 ns) on the host's raw clock
 * over over_ns of it, both from two master clock updates' pvtis.  Each
 * system_time is a whole ns floor, so ahead is good to within 1 ns.
 */
struct drift_rate {
	s64 ahead;
	u64 over_ns;
};

static s64 drift_rate_ppb(const struct drift_rate *r)
{
	return (s64)((__int128)r->ahead * 1000000000 /
			 ((__int128)r->over_ns * NS_FRAC));
}

/*
 * The next master clock update after a restore whose new reference T1 the
 * host bracketed as guest TSC [lo, hi] moves the saved clock by the drift
 * since T1, at the rate measured before, to within: 2 ns (the restore's
 * floor of the saved clock at T1, and the two host-clock floors), the
 * rate's own error (1 ns over its interval) times the time since T1, and
 * one pre-shifted TSC step (mul 2^-32 ns) where shift < 0.  max_ns, when
 * not 0, bounds the time from T1 to the update.
 */
static void check_update_step(const char *who, const struct pvclock_ref_clock *saved,
			      const struct pvclock_ref_clock *stepped,
			      u64 lo, u64 hi,
			      const struct drift_rate *rate, u64 max_ns)
{
	s64 step, pred_near, pred_far, slack, want_lo, want_hi;
	u64 near_ns, far_ns;
	char name[96];

	if ((s64)(stepped->tsc_timestamp - hi) <= 0) {
		pvc_fail("%s: the update's reference %lu is not after the restore's end %lu",
			 who, stepped->tsc_timestamp, hi);
		return;
	}
	if (!clock_ahead(saved, stepped, &step)) {
		pvc_fail("%s: the update after the restore moved the clock by %ld ns",
			 who, pvd_clock_diff(saved, stepped, stepped->tsc_timestamp));
		return;
	}
	near_ns = pvclock_ref_scale_delta(stepped->tsc_timestamp - hi,
					  saved->mul, saved->shift);
	far_ns = pvclock_ref_scale_delta(stepped->tsc_timestamp - lo,
					 saved->mul, saved->shift);
	pred_near = (s64)((__int128)rate->ahead * (s64)near_ns /
			      (s64)rate->over_ns);
	pred_far = (s64)((__int128)rate->ahead * (s64)far_ns /
			     (s64)rate->over_ns);
	slack = 2 * NS_FRAC + (s64)((__int128)NS_FRAC * far_ns / rate->over_ns) +
		(saved->shift < 0 ? (s64)saved->mul : 0);
	want_lo = (pred_near < pred_far ? pred_near : pred_far) - slack;
	want_hi = (pred_near > pred_far ? pred_near : pred_far) + slack;
	printf("# %s: the update %lu ns after T1 moved the clock %ld ps;\n"
	       "# the drift at %ld ppb predicts %ld to %ld ps, allowed %ld to %ld ps\n",
	       who, far_ns, pvc_frac_ps(step), drift_rate_ppb(rate),
	       pvc_frac_ps(pred_near), pvc_frac_ps(pred_far), pvc_frac_ps(want_lo),
	       pvc_frac_ps(want_hi));
	snprintf(name, sizeof(name), "%s.update_after_t1", who);
	pvc_metric(name, (s64)far_ns, "ns");
	snprintf(name, sizeof(name), "%s.update_step", who);
	pvc_metric(name, pvc_frac_ps(step), "ps");
	snprintf(name, sizeof(name), "%s.update_step_error", who);
	pvc_metric(name, pvc_frac_ps(step - (pred_near + pred_far) / 2), "ps");
	if (max_ns && far_ns > max_ns)
		pvc_fail("%s: the update came %lu ns after T1, over %lu", who,
			 far_ns, max_ns);
	if (step < want_lo || step > want_hi)
		pvc_fail("%s: the update moved the clock %ld ps, not %ld to %ld ps",
			 who, pvc_frac_ps(step), pvc_frac_ps(want_lo), pvc_frac_ps(want_hi));
}

/* Both vCPUs' views of their clock: KVM_GET_CLOCK_GUEST, then the guest's. */
static bool clock_guest_views(struct pvc_vm *t, struct pvclock_ref_clock *view0,
			      struct pvclock_ref_clock *view1, const char *when)
{
	int err0 = get_clock_guest(t->vcpu, view0), err1 = get_clock_guest(t->vcpu1, view1);

	if (err0 || err1) {
		pvc_fail("KVM_GET_CLOCK_GUEST %s: vCPU 0 %s, vCPU 1 %s", when,
			 errno_name(err0), errno_name(err1));
		return false;
	}
	if (!same_clock(view0, view1))
		pvc_fail("KVM_GET_CLOCK_GUEST %s: vCPU 0 and vCPU 1 differ", when);
	pvc_run_to_stage(t, t->vcpu1, CG_VIEW);
	if (!same_clock(&pvc_gr.new_clk, view1))
		pvc_fail("%s: vCPU 1's guest reads another pvti than KVM_GET_CLOCK_GUEST returns",
			 when);
	pvc_run_to_stage(t, t->vcpu, CG_VIEW);
	if (!same_clock(&pvc_gr.new_clk, view0))
		pvc_fail("%s: vCPU 0's guest reads another pvti than KVM_GET_CLOCK_GUEST returns",
			 when);
	return true;
}

/*
 * Without a master clock there is no pvclock to save or restore: both
 * ioctls must return EINVAL.  The kernel has them (KVM_CAP_CLOCK_GUEST), so
 * that is the interface's answer, not an unknown ioctl's.
 */
static void clock_guest_no_master(struct pvc_vm *t, const char *why)
{
	struct pvclock_ref_clock c;
	int r;

	r = get_clock_guest(t->vcpu, &c);
	if (r != EINVAL)
		pvc_fail("no master clock (%s): KVM_GET_CLOCK_GUEST %s, not EINVAL",
			 why, r ? errno_name(r) : "succeeded");
	memset(&c, 0, sizeof(c));
	pvclock_ref_time_scale(NSEC_PER_SEC, (u64)pvc_vcpu_tsc_khz(t->vcpu) * 1000,
			       &c.shift, &c.mul);
	r = set_clock_guest(t->vcpu, &c);
	if (r != EINVAL)
		pvc_fail("no master clock (%s): KVM_SET_CLOCK_GUEST %s, not EINVAL",
			 why, r ? errno_name(r) : "succeeded");
	if (pvc_failed())
		return;
	printf("# set_clock_guest: no master clock (%s): %s\n", why,
	       "KVM_GET_CLOCK_GUEST and KVM_SET_CLOCK_GUEST return EINVAL, as the interface says");
}

/* The host side of the master clock, and why not. */
static bool has_master_clock(struct pvc_vm *t, char *why, size_t len)
{
	struct kvm_clock_data data;
	char cs[64] = "unknown";

	pvc_host_clocksource(cs, sizeof(cs));
	memset(&data, 0, sizeof(data));
	vm_ioctl(t->vm, KVM_GET_CLOCK, &data);
	snprintf(why, len, "host clocksource %s, KVM_GET_CLOCK flags 0x%x%s", cs,
		 data.flags, pvc_gr.old_clk.flags & PVCLOCK_TSC_STABLE_BIT ? "" :
		 ", guest pvclock without PVCLOCK_TSC_STABLE_BIT");
	return (data.flags & KVM_CLOCK_TSC_STABLE) &&
	       (pvc_gr.old_clk.flags & PVCLOCK_TSC_STABLE_BIT);
}

/* KVM_SET_CLOCK_GUEST of a raw pvti: 0, or the errno. */
static int set_clock_guest_raw(struct kvm_vcpu *vcpu,
			       const struct pvclock_ref_pvti *p)
{
	struct pvclock_ref_pvti arg = *p;

	return clock_guest_errno(__vcpu_ioctl(vcpu, KVM_SET_CLOCK_GUEST, &arg),
				 "KVM_SET_CLOCK_GUEST");
}

/* One refused (or taken) saved clock: its errno must be want. */
static void clock_guest_expect(struct kvm_vcpu *vcpu,
			       const struct pvclock_ref_pvti *p,
			       int want, const char *what)
{
	int r = set_clock_guest_raw(vcpu, p);

	printf("# set_clock_guest: %s: %s\n", what, errno_name(r));
	if (r != want)
		pvc_fail("KVM_SET_CLOCK_GUEST with %s: %s, not %s", what,
			 errno_name(r), errno_name(want));
}

/* The TSC rate in Hz that a pvclock scale stands for, rounded down. */
static u64 scale_rate_hz(u32 mul, s8 shift)
{
	return (u64)(((__uint128_t)NSEC_PER_SEC << (32 - shift)) / mul);
}

/*
 * A scale off the vCPU's by hz_off, the vCPU's rate read from its own scale
 * cur (the one its guest is given): refused beyond +-1000 Hz, taken within.
 */
static void clock_guest_rate_off(struct kvm_vcpu *vcpu,
				 const struct pvclock_ref_clock *cur, int hz_off)
{
	u64 hz = scale_rate_hz(cur->mul, cur->shift) + hz_off;
	struct pvclock_ref_pvti p;
	struct pvclock_ref_clock c = *cur;
	char what[96];

	pvclock_ref_time_scale(NSEC_PER_SEC, hz, &c.shift, &c.mul);
	pvclock_ref_to_pvti(&c, &p);
	snprintf(what, sizeof(what), "a saved scale for %lu Hz (%+d Hz)", hz, hz_off);
	clock_guest_expect(vcpu, &p, hz_off > 1000 || hz_off < -1000 ? ERANGE : 0,
			   what);
}

/* The errors the interface names, on saved clocks it must refuse. */
static void clock_guest_errors(struct pvc_vm *t, const struct pvclock_ref_clock *cur,
			       int khz)
{
	static const int hz_off[] = { 1500, -1500, 500, -500 };
	struct pvclock_ref_pvti p;
	struct pvclock_ref_clock c;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(hz_off); i++)
		clock_guest_rate_off(t->vcpu, cur, hz_off[i]);

	pvclock_ref_to_pvti(cur, &p);
	p.pad0 = 1;
	clock_guest_expect(t->vcpu, &p, EINVAL, "pad0 not zero");
	pvclock_ref_to_pvti(cur, &p);
	p.pad[1] = 1;
	clock_guest_expect(t->vcpu, &p, EINVAL, "pad[1] not zero");
	pvclock_ref_to_pvti(cur, &p);
	p.tsc_to_system_mul = 0;
	clock_guest_expect(t->vcpu, &p, EINVAL, "mul 0");
	pvclock_ref_to_pvti(cur, &p);
	p.tsc_shift = 32;
	clock_guest_expect(t->vcpu, &p, EINVAL, "shift 32");
	p.tsc_shift = -32;
	clock_guest_expect(t->vcpu, &p, EINVAL, "shift -32");
	/* Local: the same rate, but mul not normalised (bit 31 clear). */
	pvclock_ref_to_pvti(cur, &p);
	p.tsc_to_system_mul >>= 1;
	p.tsc_shift++;
	clock_guest_expect(t->vcpu, &p, EINVAL,
			   "mul / 2, shift + 1 (the same rate; local: unnormalised)");

	/* A reference the guest's TSC has not reached. */
	c = *cur;
	c.tsc_timestamp = host_tsc_ordered() + vcpu_tsc_offset(t->vcpu) +
			  (u64)khz * FUTURE_REF_MS;
	pvclock_ref_to_pvti(&c, &p);
	clock_guest_expect(t->vcpu, &p, EINVAL, "a saved reference 10 s ahead of the guest's TSC");
}

/*
 * A vCPU whose TSC rate is 200 ppm off the host's, within KVM's tolerance,
 * so not scaled: its guest's scale is the host rate's, and SET must take
 * back what GET returns on the same vCPU.
 */
static void clock_guest_off_host_rate(void)
{
	struct pvclock_ref_clock c;
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	u64 khz, want;
	int r;

	vm = vm_create_with_one_vcpu(&vcpu, guest_set_clock_guest);
	khz = (u64)pvc_vcpu_tsc_khz(vcpu);
	want = khz + khz / 5000;
	r = __vcpu_ioctl(vcpu, KVM_SET_TSC_KHZ, (void *)(uintptr_t)want);
	if (r || (u64)pvc_vcpu_tsc_khz(vcpu) != want) {
		pvc_fail("KVM_SET_TSC_KHZ %lu (+200 ppm): %s, rate now %d kHz",
			 want, r ? strerror(errno) : "taken", pvc_vcpu_tsc_khz(vcpu));
		goto out;
	}
	if (!get_clock_guest_checked(vcpu, &c, "set_clock_guest"))
		goto out;
	r = set_clock_guest(vcpu, &c);
	printf("# set_clock_guest: a vCPU at %lu kHz (KVM's %lu + 200 ppm, unscaled),\n"
	       "# its own KVM_GET_CLOCK_GUEST (a scale for %lu Hz) back: %s\n",
	       want, khz, scale_rate_hz(c.mul, c.shift), errno_name(r));
	if (r)
		pvc_fail("%s on a vCPU 200 ppm off: %s",
			 "KVM_SET_CLOCK_GUEST refused KVM_GET_CLOCK_GUEST's own clock",
			 errno_name(r));
out:
	kvm_vm_free(vm);
}

/*
 * Which behaviour the restored clock r (reference T1) shows, given the
 * saved clock and the guest TSC values [lo, hi] around the ioctl; checks
 * the one --clock-guest-mode names, or the one the numbers match.
 * round-down: T1 in [lo, hi] and system_time the saved clock there, rounded
 * down.  exact: T1 the closed form T0 + ((T - T0) & ~(P - 1)) at some T in
 * [lo, hi] (it is monotonic in T, so T1 is one of T0 + m * P between its
 * values at lo and hi), and the whole pvti the library's rebase there.
 */
static enum pvd_clock_guest_mode
clock_guest_verdict(const char *who, const struct pvclock_ref_clock *saved,
		    const struct pvclock_ref_clock *r, u64 lo, u64 hi)
{
	u64 t1 = r->tsc_timestamp, want = pvclock_ref_read(saved, t1);
	u64 x_lo = clock_exact_ref(saved, lo), x_hi = clock_exact_ref(saved, hi);
	/* From the saved reference to the end of the ioctl. */
	bool in_range = (s64)(t1 - saved->tsc_timestamp) >= 0 &&
			(s64)(hi - t1) >= 0;
	/* At the ioctl's own master clock reference, for round-down. */
	bool in_bracket = t1 - lo <= hi - lo;
	bool round_down = in_range && in_bracket && r->system_time == want;
	bool closed_form = in_range && clock_exact_ref(saved, t1) == t1 &&
			   t1 - x_lo <= x_hi - x_lo;
	struct pvclock_ref_clock rebased;
	bool exact;
	enum pvd_clock_guest_mode mode = pvc_opts.clock_guest_mode;

	pvclock_ref_rebase(saved, t1, &rebased);
	exact = closed_form && same_clock(r, &rebased) &&
		!pvclock_ref_frac(saved, t1) && clock_aligned(saved, t1);
	if (mode == PVD_CLOCK_GUEST_AUTO) {
		/* Both only when T* happens to be the TSC the kernel sampled. */
		mode = exact && !in_bracket ? PVD_CLOCK_GUEST_EXACT :
		       round_down ? PVD_CLOCK_GUEST_ROUND_DOWN :
		       exact ? PVD_CLOCK_GUEST_EXACT : PVD_CLOCK_GUEST_AUTO;
		if (mode == PVD_CLOCK_GUEST_AUTO) {
			pvc_fail("%s: %s (T1, system_time and the saved clock above)",
				 who, "the restored clock is neither round-down nor exact");
			return mode;
		}
		printf("# %s: the kernel's T1 and system_time match %s %s\n", who,
		       pvd_clock_guest_mode_name(mode), "(no --clock-guest-mode given)");
	}
	if (r->mul != saved->mul || r->shift != saved->shift)
		pvc_fail("the restored clock has another scale than the saved one");
	if (r->system_time != want)
		pvc_fail("system_time %lu is not the saved clock's %lu at T1, rounded down",
			 r->system_time, want);
	if (mode == PVD_CLOCK_GUEST_ROUND_DOWN && !in_bracket)
		pvc_fail("T1 %lu is outside the guest TSC around the ioctl, [%lu, %lu]",
			 t1, lo, hi);
	if (mode == PVD_CLOCK_GUEST_EXACT && !closed_form)
		pvc_fail("exact: T1 %lu is not T0 + ((T - T0) & ~(P - 1)) %s (%lu .. %lu)",
			 t1, "for any T around the ioctl", x_lo, x_hi);
	if (mode == PVD_CLOCK_GUEST_EXACT &&
	    (pvclock_ref_frac(saved, t1) || !clock_aligned(saved, t1)))
		pvc_fail("exact: the saved clock at T1 has a fraction (0x%08x/2^32%s)",
			 pvclock_ref_frac(saved, t1),
			 clock_aligned(saved, t1) ? "" : ", unaligned");
	if (mode == PVD_CLOCK_GUEST_EXACT && !same_clock(r, &rebased))
		pvc_fail("exact: the restored pvti is not the saved clock rebased at T1");
	if (!in_range)
		pvc_fail("T1 %lu is outside the saved reference %lu .. the ioctl's end %lu",
			 t1, saved->tsc_timestamp, hi);
	return mode;
}

/*
 * exact: a saved clock younger than its zero period P has no exact
 * reference but its own, so KVM_SET_CLOCK_GUEST must give it back as it
 * was: T1 = T0, the saved pvti itself.  The clock is saved through vCPU 0
 * and restored at once through vCPU 1.
 */
static void clock_guest_young(struct pvc_vm *t)
{
	u64 vcpu1_offset = vcpu_tsc_offset(t->vcpu1);
	struct pvclock_ref_clock young, view0, view1;
	u64 age_before, age_after, period;
	int err;

	err = get_clock_guest(t->vcpu, &young);
	if (err) {
		pvc_fail("KVM_GET_CLOCK_GUEST for the young clock: %s", errno_name(err));
		return;
	}
	period = clock_zero_period(&young);
	age_before = host_tsc_ordered() + vcpu1_offset - young.tsc_timestamp;
	err = set_clock_guest(t->vcpu1, &young);
	age_after = host_tsc_ordered() + vcpu1_offset - young.tsc_timestamp;
	if (err) {
		pvc_fail("KVM_SET_CLOCK_GUEST with a young saved clock: %s", errno_name(err));
		return;
	}
	if (!clock_guest_views(t, &view0, &view1, "after the young restore"))
		return;
	printf("# set_clock_guest: a clock saved through vCPU 0 and restored at once through\n"
	       "# vCPU 1, its reference %lu to %lu ticks old at the ioctl (P %lu): T1 %lu, %s\n",
	       age_before, age_after, period, view0.tsc_timestamp,
	       same_clock(&view0, &young) ? "the saved pvti itself (T1 = T0)" :
	       "not the saved pvti");
	if (age_after >= period) {
		printf("# set_clock_guest: note: the young restore took longer than P; %s\n",
		       "not checked");
		return;
	}
	if (!same_clock(&view0, &young))
		pvc_fail("exact: a clock younger than P restored with T1 %lu, not T0 %lu%s",
			 view0.tsc_timestamp, young.tsc_timestamp,
			 view0.tsc_timestamp == young.tsc_timestamp ? " (another pvti)" : "");
}

/* What one KVM_SET_CLOCK_GUEST of the current clock costs, from the host. */
#define COST_CALLS	1000

static int cmp_u64(const void *a, const void *b)
{
	u64 x = *(const u64 *)a, y = *(const u64 *)b;

	return x < y ? -1 : x > y;
}

static void clock_guest_cost(struct pvc_vm *t)
{
	static u64 ns[COST_CALLS];
	struct pvclock_ref_clock c;
	unsigned int i;
	u64 start;
	int r;

	r = get_clock_guest(t->vcpu, &c);
	if (r) {
		pvc_fail("KVM_GET_CLOCK_GUEST before the timing: %s", errno_name(r));
		return;
	}
	for (i = 0; i < COST_CALLS; i++) {
		start = pvc_mono_ns();
		r = set_clock_guest(t->vcpu, &c);
		ns[i] = pvc_mono_ns() - start;
		if (r) {
			pvc_fail("KVM_SET_CLOCK_GUEST %u of the timing: %s", i,
				 errno_name(r));
			return;
		}
	}
	qsort(ns, COST_CALLS, sizeof(ns[0]), cmp_u64);
	printf("# set_clock_guest: %d KVM_SET_CLOCK_GUEST calls: median %lu ns, min %lu,\n"
	       "# 90th percentile %lu, max %lu\n", COST_CALLS, ns[COST_CALLS / 2],
	       ns[0], ns[COST_CALLS * 9 / 10], ns[COST_CALLS - 1]);
	pvc_metric("set_clock_guest.ioctl_median", (s64)ns[COST_CALLS / 2], "ns");
	pvc_metric("set_clock_guest.ioctl_min", (s64)ns[0], "ns");
}

/*
 * The clock saved after a KVM_SET_CLOCK, through vCPU 0, as KVM_GET_CLOCK_GUEST
 * returns it.  False where the subtest ends here (no master clock: both
 * ioctls' EINVAL checked; or a failed check).
 */
static bool clock_guest_save(struct pvc_vm *t, struct pvclock_ref_clock *saved)
{
	struct pvclock_ref_clock view0, view1, want_scale;
	struct kvm_clock_data data;
	int khz = pvc_vcpu_tsc_khz(t->vcpu);
	char why[160];

	pvc_run_to_stage(t, t->vcpu, CG_ENABLED);
	pvc_run_to_stage(t, t->vcpu1, CG_ENABLED);
	pvc_run_to_stage(t, t->vcpu, CG_UPDATED);
	if (!has_master_clock(t, why, sizeof(why))) {
		clock_guest_no_master(t, why);
		return false;
	}
	if (!get_clock_guest_checked(t->vcpu, &view0, "set_clock_guest"))
		return false;
	if (!same_clock(&view0, &pvc_gr.old_clk))
		pvc_fail("KVM_GET_CLOCK_GUEST differs from the guest's own pvclock");
	pvclock_ref_time_scale(NSEC_PER_SEC, (u64)khz * 1000,
			       &want_scale.shift, &want_scale.mul);
	if (view0.mul != want_scale.mul || view0.shift != want_scale.shift)
		pvc_fail("KVM_GET_CLOCK_GUEST's scale is not the one for the vCPU's %d kHz",
			 khz);

	/*
	 * KVM_SET_CLOCK leaves each vCPU a clock update to make; the GET must
	 * make it, and return the pvti the guest then reads.
	 */
	memset(&data, 0, sizeof(data));
	vm_ioctl(t->vm, KVM_GET_CLOCK, &data);
	data.flags = 0;
	vm_ioctl(t->vm, KVM_SET_CLOCK, &data);
	if (!clock_guest_views(t, &view0, &view1, "after KVM_SET_CLOCK"))
		return false;
	if (view0.tsc_timestamp == pvc_gr.old_clk.tsc_timestamp)
		pvc_fail("KVM_GET_CLOCK_GUEST after KVM_SET_CLOCK returned the old reference");
	*saved = view0;
	pvc_run_to_stage(t, t->vcpu, CG_SAVED);
	pvc_print_clock("saved", saved);
	return true;
}

/*
 * exact (and auto): the saved reference is itself an exact one, and the only
 * one until it is P old; wait until it is, so that the restore has to find
 * a newer one.
 */
static void clock_guest_wait_period(struct pvc_vm *t,
				    const struct pvclock_ref_clock *saved)
{
	u64 khz = (u64)pvc_vcpu_tsc_khz(t->vcpu);
	u64 period = clock_zero_period(saved);
	u64 age = host_tsc_ordered() + vcpu_tsc_offset(t->vcpu1) -
		       saved->tsc_timestamp;
	u64 wait_ms = age < period ? (period - age) / khz + 1 : 0;

	printf("# set_clock_guest: the saved clock's exact references recur every\n"
	       "# 2^%u ticks (%lu ms); the saved reference is %lu ms old: waiting %lu ms\n",
	       pvclock_ref_zero_period_log2(saved->mul, saved->shift), period / khz,
	       age / khz, wait_ms);
	pvc_sleep_ms(wait_ms);
}

/*
 * The clocks diverge; a master clock update yanks the guest's, and gives the
 * drift rate.  Where the test waits for P, the rate is measured again over
 * the whole time since the save: the longer the interval, the smaller its
 * own error (1 ns over it) in the prediction of the step after the restore.
 */
static bool clock_guest_drift(struct pvc_vm *t, const struct pvclock_ref_clock *saved,
			      struct drift_rate *rate)
{
	bool wait = pvc_opts.clock_guest_mode != PVD_CLOCK_GUEST_ROUND_DOWN;

	pvc_sleep_ms(pvc_opts.interval_ms);
	pvc_run_to_stage(t, t->vcpu, CG_DRIFTED);
	if (!pvc_check_jump("set_clock_guest", true))
		return false;
	if (wait) {
		clock_guest_wait_period(t, saved);
		pvc_gp.again = true;
		pvc_run_to_stage(t, t->vcpu, CG_DRIFTED);
		pvc_gp.again = false;
	}
	if (!clock_ahead(saved, &pvc_gr.new_clk, &rate->ahead)) {
		pvc_fail("the update before the restore moved the clock by %ld ns",
			 pvd_clock_diff(saved, &pvc_gr.new_clk, pvc_gr.tsc));
		return false;
	}
	rate->over_ns = pvc_gr.new_clk.system_time - saved->system_time;
	return true;
}

static void clock_guest_print_restore(const struct pvclock_ref_clock *saved,
				      const struct pvclock_ref_clock *restored,
				      u64 lo, u64 hi)
{
	u64 t1 = restored->tsc_timestamp;

	pvc_print_clock("restored", restored);
	printf("# set_clock_guest: restored through vCPU 1; T1 %lu, guest TSC around\n"
	       "# the ioctl [%lu, %lu] (T1 - start %ld, end - T1 %ld);\n"
	       "# the saved clock at T1 %lu + 0x%08x/2^32 ns, %lu ticks after its reference%s\n",
	       t1, lo, hi, (s64)(t1 - lo), (s64)(hi - t1),
	       pvclock_ref_read(saved, t1), pvclock_ref_frac(saved, t1),
	       t1 - saved->tsc_timestamp,
	       clock_aligned(saved, t1) ? "" : " (unaligned)");
	pvc_metric("set_clock_guest.system_time_error",
		   (s64)(restored->system_time - pvclock_ref_read(saved, t1)),
		   "ns");
	pvc_metric("set_clock_guest.t1_from_start", (s64)(t1 - lo), "ticks");
	pvc_metric("set_clock_guest.t1_after_t0",
		   (s64)(t1 - saved->tsc_timestamp), "ticks");
}

/*
 * The saved clock restored through vCPU 1, the host's TSC read on both
 * sides of the ioctl: [*lo, *hi] in guest TSC.  *restored is the pvti both
 * vCPUs then have.
 */
static bool clock_guest_restore(struct pvc_vm *t, const struct pvclock_ref_clock *saved,
				u64 *lo, u64 *hi,
				struct pvclock_ref_clock *restored)
{
	u64 vcpu1_offset = vcpu_tsc_offset(t->vcpu1);
	u64 vcpu0_offset = vcpu_tsc_offset(t->vcpu);
	struct pvclock_ref_clock view1;
	u64 before, after;
	int err;

	if (vcpu0_offset != vcpu1_offset)
		printf("# set_clock_guest: the vCPUs' TSC offsets differ (%lu, %lu)\n",
		       vcpu0_offset, vcpu1_offset);
	before = host_tsc_ordered();
	err = set_clock_guest(t->vcpu1, saved);
	after = host_tsc_ordered();
	if (err) {
		pvc_fail("KVM_SET_CLOCK_GUEST on vCPU 1 with the saved clock: %s",
			 errno_name(err));
		return false;
	}
	*lo = before + vcpu1_offset;
	*hi = after + vcpu1_offset;
	if (!clock_guest_views(t, restored, &view1, "after KVM_SET_CLOCK_GUEST"))
		return false;
	clock_guest_print_restore(saved, restored, *lo, *hi);
	return true;
}

/* Every guest read against the saved clock, in the bound of the mode. */
static void clock_guest_reads(struct pvc_vm *t, const struct pvclock_ref_clock *saved,
			      const struct pvclock_ref_clock *restored,
			      enum pvd_clock_guest_mode mode)
{
	const struct pvd_stats *s = &pvc_gr.run.stats;
	s64 lo_diff, hi_diff;
	struct pvd_stats host;

	pvc_set_compare_budget(t);
	pvc_run_to_stage(t, t->vcpu, CG_COMPARED);
	if (!same_clock(&pvc_gr.new_clk, restored) || !same_clock(&pvc_gr.end_clk, restored))
		pvc_fail("the guest read another pvti than the restored one");
	if (pvclock_ref_diff_range(saved, restored, &lo_diff, &hi_diff)) {
		pvc_fail("pvclock_ref_diff_range() refused the saved and restored clocks");
		return;
	}
	if (mode == PVD_CLOCK_GUEST_EXACT)
		hi_diff = lo_diff;
	printf("# set_clock_guest: %lu guest reads, %lu differ from the saved clock;\n"
	       "# saved - restored in [%ld, %ld] ns, the arithmetic allows [%ld, %ld] (%s)\n",
	       s->reads, s->differ, s->min_diff, s->max_diff, lo_diff, hi_diff,
	       pvd_clock_guest_mode_name(mode));
	pvc_metric("set_clock_guest.reads", (s64)s->reads, "reads");
	pvc_metric("set_clock_guest.differing", (s64)s->differ, "reads");
	pvc_metric("set_clock_guest.max_diff", (s64)pvd_stats_max_abs(s), "ns");
	if (lo_diff != 0 ||
	    hi_diff > (clock_aligned(saved, restored->tsc_timestamp) ? 1 : 2))
		pvc_fail("the arithmetic allows [%ld, %ld] ns: not the saved clock rounded down",
			 lo_diff, hi_diff);
	if (s->min_diff < lo_diff || s->max_diff > hi_diff)
		pvc_fail("reads outside [%ld, %ld] ns", lo_diff, hi_diff);
	if (pvd_stats_max_abs(s) > pvc_opts.tolerance_ns)
		pvc_fail("a read differs by %lu ns, beyond --tolerance-ns %lu",
			 pvd_stats_max_abs(s), pvc_opts.tolerance_ns);
	if (pvc_gr.run.before_ref)
		pvc_fail("%lu reads before the restored reference", pvc_gr.run.before_ref);
	host_recompute(t, &host);
	if (s->reads <= PVC_LOG_ENTRIES && !pvd_stats_equal(&host, s))
		pvc_fail("the host's arithmetic disagrees with the guest's");
}

static void test_set_clock_guest(void)
{
	struct pvclock_ref_clock saved, restored, current;
	enum pvd_clock_guest_mode mode;
	struct drift_rate rate;
	u64 lo, hi;
	struct pvc_vm t;
	char why[192];

	/* Without it, "unknown ioctl" and "no master clock" are both EINVAL. */
	if (!kvm_has_cap(KVM_CAP_CLOCK_GUEST)) {
		if (pvc_opts.clock_guest_mode == PVD_CLOCK_GUEST_AUTO)
			pvc_skip("KVM_CAP_CLOCK_GUEST not supported: no KVM_GET_CLOCK_GUEST");
		pvc_fail("no KVM_CAP_CLOCK_GUEST, though --clock-guest-mode %s %s",
			 pvd_clock_guest_mode_name(pvc_opts.clock_guest_mode),
			 "says the kernel has it");
		return;
	}
	pvc_vm_create(&t, guest_set_clock_guest);
	pvc_vm_add_vcpu1(&t, guest_set_clock_guest);
	/* Another capability with the number: a skip, never a failure. */
	if (!clock_guest_supported(t.vcpu, why, sizeof(why))) {
		kvm_vm_free(t.vm);
		pvc_skip("%s", why);
	}
	if (!clock_guest_save(&t, &saved) || !clock_guest_drift(&t, &saved, &rate) ||
	    !clock_guest_restore(&t, &saved, &lo, &hi, &restored))
		goto out;
	mode = clock_guest_verdict("set_clock_guest", &saved, &restored, lo, hi);
	if (mode == PVD_CLOCK_GUEST_AUTO)
		goto out;
	if (mode == PVD_CLOCK_GUEST_EXACT &&
	    lo - saved.tsc_timestamp >= clock_zero_period(&saved) &&
	    restored.tsc_timestamp == saved.tsc_timestamp)
		pvc_fail("exact: the saved reference was over P old, yet T1 = T0");
	clock_guest_reads(&t, &saved, &restored, mode);

	/*
	 * The host side: the next master clock update moves the clock by the
	 * drift since T1, whichever reference the pvti names.  A
	 * kvmclock_offset for another point than T1 shows here.
	 */
	pvc_run_to_stage(&t, t.vcpu, CG_STEPPED);
	current = pvc_gr.new_clk;
	check_update_step("set_clock_guest", &saved, &current, lo, hi, &rate, 0);
	if (mode == PVD_CLOCK_GUEST_EXACT)
		clock_guest_young(&t);
	clock_guest_errors(&t, &current, pvc_vcpu_tsc_khz(t.vcpu));
	clock_guest_cost(&t);
	clock_guest_off_host_rate();
out:
	kvm_vm_free(t.vm);
}

/* ---- subtest 5: stock_restore ---- */

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
	host_recompute(t, &host);
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

/* ---- subtest 6: concurrent_update ---- */

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

/* ---- subtest 7: migrate ---- */

/*
 * A live migration or live update in the order a VMM does it.  VM A (two
 * vCPUs) runs with kvmclock on; its clock, each vCPU's TSC offset and each
 * kvmclock MSR are saved.  A fresh VM B (two vCPUs) gets the TSC offsets and
 * the MSRs from the host, the clock is restored, and only then does B run.
 * Two restores from the one saved clock, each into a fresh B: "young", with
 * T1 - T0 < P, and "old", with T1 at least P/2 past the newest
 * zero-remainder reference T*.
 *
 * Where the kernel has KVM_SET_CLOCK_GUEST (KVM_CAP_CLOCK_GUEST), the saved
 * clock is KVM_GET_CLOCK_GUEST's and the restore that ioctl.  Elsewhere the
 * saved clock is the pvti A's guest reads and the restore pvclock_restore(),
 * whose vCPU entries end before the guest (a signal pending): B's guest
 * counts its entries, and must have made none before the restore is done.
 *
 * Every expectation comes from the saved clock, the host's TSC read around
 * the restore, the drift rate measured in A beforehand and the interface's
 * contract, never from the pvti B ends up with.
 */

#define MIGRATE_VCPUS		2
/*
 * Each restore is tried again, in a fresh B, when the host's TSC reads
 * around the ioctl do not prove its case (a host thread preempted there).
 */
#define MIGRATE_TRIES		3
/*
 * The forced update after a restore comes at most this long after it, so
 * that the drift rate's own error (under 1 ns over --interval-ms) stays
 * small against the 2 ns bound.
 */
#define MIGRATE_UPDATE_MAX_NS	(1000 * PVC_NSEC_PER_MSEC)

enum migrate_stage {
	MIGRATE_CLOCK_ON = 1,	/* A: the vCPU pointed kvmclock at its page */
	MIGRATE_UPDATED,	/* A, vCPU 0: an update forced, its pvti read */
	MIGRATE_READ,		/* B: the first pvti, reads against the saved */
	MIGRATE_STEPPED,	/* B, vCPU 0: an update forced, its pvti read */
};

struct migrate_params {
	gpa_t pvti_gpa[MIGRATE_VCPUS];
	gva_t pvti_gva[MIGRATE_VCPUS];
	struct pvclock_ref_clock saved;	/* B compares every read with it */
	struct pvc_read_budget reads;
};

struct migrate_report {
	u64 entries;	/* B: guest entries, counted first thing */
	struct pvclock_ref_clock first;	/* the pvti at the first entry */
	struct pvclock_ref_clock last;	/* the pvti after the reads */
	struct pvclock_ref_clock stepped;	/* after a forced update */
	struct pvc_read_run run;	/* saved - first at each read */
};

static struct migrate_params mgp;
static struct migrate_report mgr[MIGRATE_VCPUS];

/* VM A: kvmclock on, then (vCPU 0) forced updates on the host's demand. */
static void migrate_guest_source(u64 cpu)
{
	const struct pvclock_ref_pvti *pvti = (const struct pvclock_ref_pvti *)mgp.pvti_gva[cpu];
	u32 version;

	wrmsr(MSR_KVM_SYSTEM_TIME_NEW, mgp.pvti_gpa[cpu] | KVM_MSR_ENABLED);
	GUEST_SYNC(MIGRATE_CLOCK_ON);
	GUEST_ASSERT(!cpu);
	for (;;) {
		pvc_guest_toggle_kvmclock(mgp.pvti_gpa[0]);
		pvc_guest_snapshot(pvti, &mgr[0].stepped, &version);
		GUEST_SYNC(MIGRATE_UPDATED);
	}
}

/*
 * VM B: the host set kvmclock up and restored the clock before the first
 * entry.  The pvti found there is compared with the saved clock; vCPU 0
 * then forces the next master clock update.
 */
static void migrate_guest_dest(u64 cpu)
{
	struct migrate_report *r = &mgr[cpu];
	const struct pvclock_ref_pvti *pvti = (const struct pvclock_ref_pvti *)mgp.pvti_gva[cpu];
	u32 version;

	WRITE_ONCE(r->entries, r->entries + 1);
	pvc_guest_snapshot(pvti, &r->first, &version);
	/* No log: two vCPUs read at once, and the host checks their range. */
	pvc_guest_read_run(&mgp.saved, &r->first, &mgp.reads, NULL, 0, &r->run);
	pvc_guest_snapshot(pvti, &r->last, &version);
	GUEST_SYNC(MIGRATE_READ);
	GUEST_ASSERT(!cpu);
	pvc_guest_toggle_kvmclock(mgp.pvti_gpa[0]);
	pvc_guest_snapshot(pvti, &r->stepped, &version);
	GUEST_SYNC(MIGRATE_STEPPED);
	GUEST_ASSERT(0);
}

struct migrate_vm {
	struct kvm_vm *vm;
	struct kvm_vcpu *vcpu[MIGRATE_VCPUS];
	const struct pvclock_ref_pvti *pvti[MIGRATE_VCPUS];
};

/* What the VMM carries from A to B. */
struct migrate_state {
	struct pvclock_ref_clock clock;
	u64 tsc_offset[MIGRATE_VCPUS];
	u64 kvmclock_msr[MIGRATE_VCPUS];
};

/*
 * A and B are made the same way, so that B's pvti pages are at the GPAs
 * A's kvmclock MSRs name.
 */
static void migrate_vm_create(struct migrate_vm *m, void *guest_code)
{
	unsigned int i;
	gva_t gva;

	m->vm = __vm_create_with_one_vcpu(&m->vcpu[0], 32, guest_code);
	m->vcpu[1] = vm_vcpu_add(m->vm, 1, guest_code);
	for (i = 0; i < MIGRATE_VCPUS; i++) {
		vcpu_args_set(m->vcpu[i], 1, i);
		gva = vm_alloc_page(m->vm);
		mgp.pvti_gva[i] = gva;
		mgp.pvti_gpa[i] = addr_gva2gpa(m->vm, gva);
		m->pvti[i] = addr_gva2hva(m->vm, gva);
	}
}

/* One entry of a vCPU, which must end at the stage named. */
static void migrate_run(struct migrate_vm *m, unsigned int cpu,
			enum migrate_stage want)
{
	u64 stage;

	sync_global_to_guest(m->vm, mgp);
	stage = pvc_vcpu_run_to_sync(m->vcpu[cpu]);
	TEST_ASSERT(stage == want, "vCPU %u reached stage %lu, not %u",
		    cpu, (unsigned long)stage, want);
	sync_global_from_guest(m->vm, mgr);
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

/* B's TSCs and kvmclock MSRs from the state, as a VMM restores them. */
static void migrate_set_vcpus(struct migrate_vm *b, const struct migrate_state *s)
{
	unsigned int i;

	for (i = 0; i < MIGRATE_VCPUS; i++) {
		TEST_ASSERT(mgp.pvti_gpa[i] == (s->kvmclock_msr[i] & ~1ULL),
			    "B's pvti page %u is not where A's was", i);
		vcpu_set_tsc_offset(b->vcpu[i], s->tsc_offset[i]);
	}
	for (i = 0; i < MIGRATE_VCPUS; i++)
		vcpu_set_msr(b->vcpu[i], MSR_KVM_SYSTEM_TIME_NEW,
			     s->kvmclock_msr[i]);
}

struct migrate_restore_ctx {
	struct migrate_vm *b;
};

static int migrate_restore_enter(void *ctx)
{
	return pvc_no_entry_run(((struct migrate_restore_ctx *)ctx)->b->vcpu[0]);
}

static int migrate_restore_read_pvti(void *ctx, struct pvclock_ref_clock *clk)
{
	const struct pvclock_ref_pvti *p = ((struct migrate_restore_ctx *)ctx)->b->pvti[0];
	u32 version;

	return pvclock_ref_pvti_read(p, clk, &version) && pvclock_ref_clock_valid(clk) ?
	       0 : -ENODATA;
}

/* Sleep for ticks of a TSC running at khz. */
static void sleep_ticks(u64 ticks, u64 khz)
{
	pvc_sleep_ns((u64)((__uint128_t)ticks * 1000000 / khz));
}

/* A's clock ahead of the host's, in ppb, from two forced updates. */
static bool migrate_measure_drift(struct migrate_vm *a, struct drift_rate *rate)
{
	struct pvclock_ref_clock first;

	migrate_run(a, 0, MIGRATE_UPDATED);
	first = mgr[0].stepped;
	pvc_sleep_ms(pvc_opts.interval_ms);
	migrate_run(a, 0, MIGRATE_UPDATED);
	if (!clock_ahead(&first, &mgr[0].stepped, &rate->ahead)) {
		pvc_fail("migrate: an update in A moved the clock by %ld ns",
			 pvd_clock_diff(&first, &mgr[0].stepped,
					mgr[0].stepped.tsc_timestamp));
		return false;
	}
	rate->over_ns = mgr[0].stepped.system_time - first.system_time;
	printf("# migrate: in A, kvmclock gained %ld ps on the host's clock in %lu ns: %ld ppb\n",
	       pvc_frac_ps(rate->ahead), rate->over_ns, drift_rate_ppb(rate));
	pvc_metric("migrate.drift", drift_rate_ppb(rate), "ppb");
	return true;
}

/*
 * The state a VMM saves from A.  A forced update first, so that the saved
 * reference T0 is recent; the clock is KVM_GET_CLOCK_GUEST's where the
 * kernel has it (and must be the pvti A's guest reads), the guest's pvti
 * elsewhere.
 */
static bool migrate_save(struct migrate_vm *a, bool has_ioctl,
			 struct migrate_state *s)
{
	unsigned int i;

	migrate_run(a, 0, MIGRATE_UPDATED);
	s->clock = mgr[0].stepped;
	if (has_ioctl) {
		if (!get_clock_guest_checked(a->vcpu[0], &s->clock, "migrate"))
			return false;
		if (!same_clock(&s->clock, &mgr[0].stepped))
			pvc_fail("migrate: KVM_GET_CLOCK_GUEST is not the pvti A's guest reads");
	}
	for (i = 0; i < MIGRATE_VCPUS; i++) {
		s->tsc_offset[i] = vcpu_tsc_offset(a->vcpu[i]);
		s->kvmclock_msr[i] = vcpu_get_msr(a->vcpu[i],
						  MSR_KVM_SYSTEM_TIME_NEW);
	}
	if (s->tsc_offset[0] != s->tsc_offset[1])
		pvc_fail("migrate: A's vCPUs have TSC offsets %lu and %lu",
			 s->tsc_offset[0], s->tsc_offset[1]);
	return !pvc_failed();
}

/* KVM_SET_CLOCK_GUEST in B; [*lo, *hi] the guest TSC around it. */
static bool migrate_restore_ioctl(struct migrate_vm *b,
				  const struct migrate_state *s,
				  u64 *lo, u64 *hi)
{
	u64 before, after;
	int r;

	migrate_set_vcpus(b, s);
	before = host_tsc_ordered();
	r = set_clock_guest(b->vcpu[0], &s->clock);
	after = host_tsc_ordered();
	if (r) {
		pvc_fail("migrate: KVM_SET_CLOCK_GUEST in the fresh VM: %s",
			 errno_name(r));
		return false;
	}
	*lo = before + s->tsc_offset[0];
	*hi = after + s->tsc_offset[0];
	return true;
}

/* B's guest must not have run before the restore was done. */
static void migrate_check_no_entry(struct migrate_vm *b, const char *name)
{
	unsigned int i;
	char buf[96];

	sync_global_from_guest(b->vm, mgr);
	for (i = 0; i < MIGRATE_VCPUS; i++)
		if (mgr[i].entries)
			pvc_fail("migrate %s: vCPU %u's guest ran %lu times before the restore",
				 name, i, mgr[i].entries);
	printf("# migrate %s: guest entries before the restore: %lu and %lu\n",
	       name, mgr[0].entries, mgr[1].entries);
	snprintf(buf, sizeof(buf), "migrate.%s.entries_before_restore", name);
	pvc_metric(buf, (s64)(mgr[0].entries + mgr[1].entries), "entries");
}

/*
 * One vCPU's reads against the saved clock: every one in [lo, hi], none
 * before the first pvti's reference, and the pvti unchanged by the end.
 */
static void migrate_check_reads(const char *name, unsigned int cpu,
				s64 lo, s64 hi, u64 tolerance)
{
	const struct migrate_report *r = &mgr[cpu];
	char buf[96];

	printf("# migrate %s: vCPU %u: %lu reads, %lu differ from the saved clock,\n"
	       "# saved - restored in [%ld, %ld] ns, allowed [%ld, %ld]\n",
	       name, cpu, r->run.stats.reads, r->run.stats.differ, r->run.stats.min_diff,
	       r->run.stats.max_diff, lo, hi);
	snprintf(buf, sizeof(buf), "migrate.%s.vcpu%u.reads", name, cpu);
	pvc_metric(buf, (s64)r->run.stats.reads, "reads");
	snprintf(buf, sizeof(buf), "migrate.%s.vcpu%u.differing", name, cpu);
	pvc_metric(buf, (s64)r->run.stats.differ, "reads");
	snprintf(buf, sizeof(buf), "migrate.%s.vcpu%u.max_diff", name, cpu);
	pvc_metric(buf, (s64)pvd_stats_max_abs(&r->run.stats), "ns");
	if (r->run.stats.reads < mgp.reads.min_reads)
		pvc_fail("migrate %s: vCPU %u made %lu reads, not %lu",
			 name, cpu, r->run.stats.reads, mgp.reads.min_reads);
	if (r->run.stats.min_diff < lo || r->run.stats.max_diff > hi)
		pvc_fail("migrate %s: vCPU %u: reads outside [%ld, %ld] ns",
			 name, cpu, lo, hi);
	if (pvd_stats_max_abs(&r->run.stats) > tolerance)
		pvc_fail("migrate %s: vCPU %u: a read differs by %lu ns, beyond %lu",
			 name, cpu, pvd_stats_max_abs(&r->run.stats), tolerance);
	if (r->run.before_ref)
		pvc_fail("migrate %s: vCPU %u: %lu reads before the reference",
			 name, cpu, r->run.before_ref);
	if (!same_clock(&r->last, &r->first))
		pvc_fail("migrate %s: vCPU %u's pvti changed during the reads",
			 name, cpu);
}

/* Both vCPUs' first entries: the first pvti and the reads. */
static void migrate_run_reads(struct migrate_vm *b, const struct migrate_state *s)
{
	mgp.saved = s->clock;
	migrate_run(b, 1, MIGRATE_READ);
	migrate_run(b, 0, MIGRATE_READ);
}

/*
 * KVM_SET_CLOCK_GUEST's contract, checked from outside: the first pvti is
 * the restored reference (round-down: a T1 inside the ioctl's TSC bracket;
 * exact: T* for such a T1), every read is the saved clock (exact) or at
 * most 1 ns behind it (2 where the reference is off the 2^-shift grid),
 * and the next update moves the clock by the drift since T1.
 */
static void migrate_check_ioctl(struct migrate_vm *b, const char *name,
				const struct migrate_state *s, u64 lo,
				u64 hi, const struct drift_rate *rate)
{
	const struct pvclock_ref_clock *first = &mgr[0].first;
	enum pvd_clock_guest_mode mode;
	s64 diff_lo, diff_hi;
	unsigned int i;
	char who[32];

	migrate_check_no_entry(b, name);
	migrate_run_reads(b, s);
	migrate_run(b, 0, MIGRATE_STEPPED);
	pvc_print_clock("first pvti in B", first);
	printf("# migrate %s: guest TSC around KVM_SET_CLOCK_GUEST [%lu, %lu],\n"
	       "# %lu to %lu ticks after T0 (P %lu); the first pvti's reference %ld ticks after T0\n",
	       name, lo, hi, lo - s->clock.tsc_timestamp,
	       hi - s->clock.tsc_timestamp, clock_zero_period(&s->clock),
	       (s64)(first->tsc_timestamp - s->clock.tsc_timestamp));
	snprintf(who, sizeof(who), "migrate %s", name);
	mode = clock_guest_verdict(who, &s->clock, first, lo, hi);
	if (mode == PVD_CLOCK_GUEST_AUTO)
		return;
	if (!same_clock(&mgr[1].first, first))
		pvc_fail("migrate %s: vCPU 1's first pvti is not vCPU 0's", name);
	if (pvclock_ref_diff_range(&s->clock, first, &diff_lo, &diff_hi)) {
		pvc_fail("migrate %s: no difference range for the first pvti", name);
		return;
	}
	if (mode == PVD_CLOCK_GUEST_EXACT)
		diff_hi = diff_lo;
	if (diff_lo || diff_hi > (clock_aligned(&s->clock, first->tsc_timestamp) ? 1 : 2))
		pvc_fail("migrate %s: the arithmetic allows [%ld, %ld] ns (%s)",
			 name, diff_lo, diff_hi, pvd_clock_guest_mode_name(mode));
	for (i = 0; i < MIGRATE_VCPUS; i++)
		migrate_check_reads(name, i, diff_lo, diff_hi, pvc_opts.tolerance_ns);
	snprintf(who, sizeof(who), "migrate.%s", name);
	check_update_step(who, &s->clock, &mgr[0].stepped, lo, hi, rate,
			  MIGRATE_UPDATE_MAX_NS);
}

/*
 * A stock kernel: pvclock_restore() in B.  Each vCPU first enters once with
 * the signal pending, so that the master clock update its TSC write
 * requested happens now and not at its first real entry (which would move
 * the restored reference); the routine's own entries end the same way.
 */
static void migrate_stock(struct migrate_vm *b, const char *name,
			  const struct migrate_state *s)
{
	struct migrate_restore_ctx ctx = { .b = b };
	struct pvclock_restore_ops ops = {
		.enter = migrate_restore_enter,
		.read_pvti = migrate_restore_read_pvti,
		.ctx = &ctx,
		.vm_fd = b->vm->fd,
	};
	struct pvclock_restore_result res;
	unsigned int i;
	char buf[96];

	migrate_set_vcpus(b, s);
	pvc_no_entry_arm(b->vcpu, MIGRATE_VCPUS);
	for (i = 0; i < MIGRATE_VCPUS; i++)
		pvc_no_entry_run(b->vcpu[i]);
	pvclock_restore(&ops, &s->clock, pvc_opts.restore_tolerance_ns,
			(unsigned int)pvc_opts.restore_attempts,
			pvc_opts.restore_ms * PVC_NSEC_PER_MSEC, &res);
	pvc_no_entry_disarm(b->vcpu, MIGRATE_VCPUS);
	printf("# migrate %s: pvclock_restore(): %s after %u attempts in %lu us,\n"
	       "# saved - restored within [%ld, %ld] ns at every later read\n",
	       name, pvclock_restore_strerror(res.status), res.attempts,
	       res.elapsed_ns / 1000, res.lo, res.hi);
	snprintf(buf, sizeof(buf), "migrate.%s.attempts", name);
	pvc_metric(buf, res.attempts, "attempts");
	if (res.status != PVCLOCK_RESTORE_OK) {
		pvc_fail("migrate %s: pvclock_restore(): %s", name,
			 pvclock_restore_strerror(res.status));
		return;
	}
	migrate_check_no_entry(b, name);
	migrate_run_reads(b, s);
	for (i = 0; i < MIGRATE_VCPUS; i++) {
		if (!same_clock(&mgr[i].first, &res.clk))
			pvc_fail("migrate %s: vCPU %u's first pvti is not %s",
				 name, i, "the one the routine verified");
		migrate_check_reads(name, i, res.lo, res.hi,
				    pvc_opts.restore_tolerance_ns);
	}
}

/*
 * young: B is made before the save, as a destination is before the source
 * stops, so that T1 - T0 < P even where P is short; proven by the host's
 * TSC read after the ioctl, else tried again with a new save.
 */
static bool migrate_young(struct migrate_vm *a, bool has_ioctl,
			  struct migrate_state *s, const struct drift_rate *rate)
{
	struct migrate_vm b;
	u64 lo, hi;
	unsigned int try;

	for (try = 0; try < MIGRATE_TRIES; try++) {
		migrate_vm_create(&b, migrate_guest_dest);
		if (!migrate_save(a, has_ioctl, s)) {
			kvm_vm_free(b.vm);
			return false;
		}
		pvc_print_clock("saved", &s->clock);
		if (!has_ioctl) {
			migrate_stock(&b, "young", s);
			kvm_vm_free(b.vm);
			return true;
		}
		if (!migrate_restore_ioctl(&b, s, &lo, &hi)) {
			kvm_vm_free(b.vm);
			return false;
		}
		if (hi - s->clock.tsc_timestamp < clock_zero_period(&s->clock)) {
			migrate_check_ioctl(&b, "young", s, lo, hi, rate);
			kvm_vm_free(b.vm);
			return true;
		}
		printf("# migrate young: the restore ended %lu ticks after T0,\n"
		       "# not within P %lu: again\n",
		       hi - s->clock.tsc_timestamp, clock_zero_period(&s->clock));
		kvm_vm_free(b.vm);
	}
	pvc_fail("migrate young: no restore within P of the save in %d tries",
		 MIGRATE_TRIES);
	return false;
}

/*
 * old: the same saved clock, restored into a fresh B when the guest TSC is
 * 3/4 of P past the newest T*, so that T1 - T* >= P/2 (proven by the host's
 * TSC reads around the ioctl, else tried again in another B).
 */
static void migrate_old(const struct migrate_state *s, bool has_ioctl,
			u64 khz, const struct drift_rate *rate)
{
	u64 period = clock_zero_period(&s->clock), lo, hi, now, phase;
	u64 t0 = s->clock.tsc_timestamp;
	struct migrate_vm b;
	unsigned int try;

	for (try = 0; try < MIGRATE_TRIES; try++) {
		migrate_vm_create(&b, migrate_guest_dest);
		now = host_tsc_ordered() + s->tsc_offset[0];
		phase = (now - t0) & (period - 1);
		sleep_ticks((period / 4 * 3 - phase) & (period - 1), khz);
		if (!has_ioctl) {
			migrate_stock(&b, "old", s);
			kvm_vm_free(b.vm);
			return;
		}
		if (!migrate_restore_ioctl(&b, s, &lo, &hi)) {
			kvm_vm_free(b.vm);
			return;
		}
		if (((lo - t0) & (period - 1)) >= period / 2 &&
		    clock_exact_ref(&s->clock, lo) == clock_exact_ref(&s->clock, hi)) {
			printf("# migrate old: T1 - T* is %lu to %lu ticks (P %lu)\n",
			       lo - clock_exact_ref(&s->clock, lo),
			       hi - clock_exact_ref(&s->clock, hi), period);
			migrate_check_ioctl(&b, "old", s, lo, hi, rate);
			kvm_vm_free(b.vm);
			return;
		}
		printf("# migrate old: the restore's TSC [%lu, %lu]\n"
		       "# is not P/2 past one T*: again\n", lo, hi);
		kvm_vm_free(b.vm);
	}
	pvc_fail("migrate old: T1 - T* >= P/2 not reached in %d tries", MIGRATE_TRIES);
}

/* The master clock in A, and (stock kernels) what pvclock_restore() needs. */
static void migrate_require(struct migrate_vm *a, bool has_ioctl)
{
	struct kvm_clock_data data;
	u32 want = has_ioctl ? KVM_CLOCK_TSC_STABLE :
			KVM_CLOCK_TSC_STABLE | PVCLOCK_RESTORE_FLAGS;

	if (__vcpu_has_device_attr(a->vcpu[0], KVM_VCPU_TSC_CTRL,
				   KVM_VCPU_TSC_OFFSET))
		pvc_skip("KVM_VCPU_TSC_OFFSET not supported");
	memset(&data, 0, sizeof(data));
	vm_ioctl(a->vm, KVM_GET_CLOCK, &data);
	if ((data.flags & want) != want)
		pvc_skip("KVM_GET_CLOCK flags 0x%x lack 0x%x (%s)", data.flags,
			 want, "no master clock, or no realtime and host TSC");
	if (!(mgr[0].stepped.flags & PVCLOCK_TSC_STABLE_BIT))
		pvc_skip("guest pvclock lacks PVCLOCK_TSC_STABLE_BIT");
}

static void test_migrate(void)
{
	struct migrate_state s;
	struct drift_rate rate;
	struct migrate_vm a;
	bool has_ioctl;
	char why[192];
	u64 khz;

	pvc_require_tsc_clocksource();
	if (!kvm_has_cap(KVM_CAP_CLOCK_GUEST) &&
	    pvc_opts.clock_guest_mode != PVD_CLOCK_GUEST_AUTO) {
		pvc_fail("migrate: no KVM_CAP_CLOCK_GUEST, though --clock-guest-mode %s %s",
			 pvd_clock_guest_mode_name(pvc_opts.clock_guest_mode),
			 "says the kernel has it");
		return;
	}
	migrate_vm_create(&a, migrate_guest_source);
	/*
	 * Without the ioctls, whatever the capability says, the VMM's way is
	 * the stock kernel's.
	 */
	has_ioctl = clock_guest_supported(a.vcpu[0], why, sizeof(why));
	migrate_run(&a, 0, MIGRATE_CLOCK_ON);
	migrate_run(&a, 1, MIGRATE_CLOCK_ON);
	migrate_run(&a, 0, MIGRATE_UPDATED);
	migrate_require(&a, has_ioctl);
	if (has_ioctl)
		printf("# migrate: KVM_CAP_CLOCK_GUEST: saved with KVM_GET_CLOCK_GUEST,\n"
		       "# restored with KVM_SET_CLOCK_GUEST\n");
	else
		printf("# migrate: %s: the guest's pvti saved, restored by\n"
		       "# pvclock_restore() with entries that end before the guest\n",
		       kvm_has_cap(KVM_CAP_CLOCK_GUEST) ? why : "no KVM_CAP_CLOCK_GUEST");
	khz = (u64)pvc_vcpu_tsc_khz(a.vcpu[0]);
	pvc_set_read_budget(&mgp.reads, khz);
	if (migrate_measure_drift(&a, &rate) &&
	    migrate_young(&a, has_ioctl, &s, &rate))
		migrate_old(&s, has_ioctl, khz, &rate);
	kvm_vm_free(a.vm);
}

/* ---- subtest 8: vcpu_hotplug ---- */

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
	if (!same_clock(&hotplug_first[id], old))
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

/* ---- running the subtests ---- */

static const struct pvc_subtest subtests[] = {
	{ "masterclock_update", test_masterclock_update },
	{ "set_clock", test_set_clock },
	{ "reference_update", test_reference_update },
	{ "set_clock_guest", test_set_clock_guest },
	{ "stock_restore", test_stock_restore },
	{ "concurrent_update", test_concurrent_update },
	{ "migrate", test_migrate },
	{ "vcpu_hotplug", test_vcpu_hotplug },
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: %s [options]\n"
		"Measure how far a KVM guest's clock jumps when its pvclock reference moves.\n",
		PVD_NAME);
	pvc_usage_subtests(f, subtests, ARRAY_SIZE(subtests));
	fprintf(f,
		"\n"
		"  --interval-ms N        time between the two master clock updates (1000)\n"
		"  --max-drift-ppb N      fail masterclock_update beyond N ppb (report only)\n"
		"  --max-set-clock-ns N   fail set_clock beyond N ns either way (report only)\n"
		"  --reads N              guest reads per comparison (as many as fit in 0.2 s,\n"
		"                         at least 1000)\n"
		"  --tolerance-ns N       set_clock_guest's bound on any read (2)\n"
		"  --clock-guest-mode M   what KVM_SET_CLOCK_GUEST must do: round-down or\n"
		"                         exact; the kernel then has the ioctls (a skip is a\n"
		"                         failure).  Default: whichever the kernel's numbers match\n"
		"  --restore-tolerance-ns N  stock_restore's bound on any read (1)\n"
		"  --restore-attempts N   stock_restore's KVM_SET_CLOCK calls at most (1000)\n"
		"  --restore-ms N         time stock_restore's routine may take (2000)\n"
		"  --only NAME,...        run only these subtests (in their usual order)\n"
		"  --list                 print the subtests' names, one a line, and exit\n"
		"  --help                 this text\n"
		"\n"
		"Numbers are decimal or 0x hex.  Exit codes: 0 pass, 1 fail, 4 skip.\n"
		"Each figure is also printed as '# metric NAME VALUE UNIT'.\n");
}

int main(int argc, char *argv[])
{
	return pvc_main(argc, argv, PVD_NAME, subtests, ARRAY_SIZE(subtests),
			usage);
}

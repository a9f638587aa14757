// SPDX-License-Identifier: GPL-2.0-only
/*
 * pvclock_clock_guest_test: KVM_GET_CLOCK_GUEST and KVM_SET_CLOCK_GUEST,
 * which save and restore a guest's own view of its KVM clock, checked from
 * outside: the new reference against the host's TSC read around the
 * ioctl, every guest read against the saved clock, and the host side of
 * the restored clock against the next master clock update.  Both subtests
 * skip, with the reason, where the kernel lacks the ioctls.
 *
 *  set_clock_guest  in one VM: the clock saved, left to drift, restored
 *		young and old, every error the interface names, and the
 *		ioctls' cost.
 *  migrate_clock_guest  a clock saved from one VM with KVM_GET_CLOCK_GUEST
 *		and restored with KVM_SET_CLOCK_GUEST in a fresh one before
 *		its guest runs, as a VMM migrates.
 *
 * --clock-guest-mode says which of the two ways the interface allows the
 * kernel must take (round-down or exact); without it, the test finds which
 * one the kernel's numbers match.  Each subtest runs in a child process,
 * with one KTAP line for it.  Guest code may only use the general
 * registers: some KVM setups run guest code through the instruction
 * emulator, which has no SSE.
 */
#include <asm/kvm_para.h>
#include <asm/pvclock-abi.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "kvm_util.h"
#include "processor.h"
#include "test_util.h"

#include "pvclock_ref.h"
#include "pvclock_compat.h"
#include "pvclock_drift.h"
#include "pvclock_util.h"
#include "pvclock_migrate.h"

/* ---- set_clock_guest ---- */

/*
 * KVM_GET_CLOCK_GUEST and KVM_SET_CLOCK_GUEST, checked from outside: the new
 * reference against host TSC reads around the ioctl, system_time against the
 * library's reading of the saved clock, every guest read against the saved
 * clock, and the host side of the restored clock against the next master
 * clock update.
 */

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

/*
 * Skip without the ioctls (another capability with the number included),
 * unless --clock-guest-mode says the kernel has them: then it fails.
 */
static void require_clock_guest(struct kvm_vcpu *vcpu)
{
	char why[192];

	if (clock_guest_supported(vcpu, why, sizeof(why)))
		return;
	if (pvc_opts.clock_guest_mode == PVD_CLOCK_GUEST_AUTO)
		pvc_skip("%s", why);
	pvc_fail("%s, though --clock-guest-mode %s says the kernel has them",
		 why, pvd_clock_guest_mode_name(pvc_opts.clock_guest_mode));
	exit(KSFT_FAIL);
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

/* T - reference is a multiple of 2^-shift: see pvclock_ref_diff_range(). */
static bool clock_aligned(const struct pvclock_ref_clock *c, u64 tsc)
{
	int k = c->shift < 0 ? -c->shift : 0;

	return !((tsc - c->tsc_timestamp) & ((1ULL << k) - 1));
}

/*
 * The newest exact reference of the saved clock (a read with no fraction,
 * every pvc_clock_zero_period() ticks from its own reference) not after
 * tsc: the closed form KVM_SET_CLOCK_GUEST's exact variant uses.
 */
static u64 clock_exact_ref(const struct pvclock_ref_clock *c, u64 tsc)
{
	u64 d = tsc - c->tsc_timestamp;

	if ((s64)d < 0)
		return c->tsc_timestamp;
	return c->tsc_timestamp + (d & ~(pvc_clock_zero_period(c) - 1));
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
			      const struct pvc_drift_rate *rate, u64 max_ns)
{
	s64 step, pred_near, pred_far, slack, want_lo, want_hi;
	u64 near_ns, far_ns;
	char name[96];

	if ((s64)(stepped->tsc_timestamp - hi) <= 0) {
		pvc_fail("%s: the update's reference %lu is not after the restore's end %lu",
			 who, stepped->tsc_timestamp, hi);
		return;
	}
	if (!pvc_clock_ahead(saved, stepped, &step)) {
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
	slack = 2 * PVC_NS_FRAC + (s64)((__int128)PVC_NS_FRAC * far_ns / rate->over_ns) +
		(saved->shift < 0 ? (s64)saved->mul : 0);
	want_lo = (pred_near < pred_far ? pred_near : pred_far) - slack;
	want_hi = (pred_near > pred_far ? pred_near : pred_far) + slack;
	printf("# %s: the update %lu ns after T1 moved the clock %ld ps;\n"
	       "# the drift at %ld ppb predicts %ld to %ld ps, allowed %ld to %ld ps\n",
	       who, far_ns, pvc_frac_ps(step), pvc_drift_rate_ppb(rate),
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
	if (!pvc_same_clock(view0, view1))
		pvc_fail("KVM_GET_CLOCK_GUEST %s: vCPU 0 and vCPU 1 differ", when);
	pvc_run_to_stage(t, t->vcpu1, CG_VIEW);
	if (!pvc_same_clock(&pvc_gr.new_clk, view1))
		pvc_fail("%s: vCPU 1's guest reads another pvti than KVM_GET_CLOCK_GUEST returns",
			 when);
	pvc_run_to_stage(t, t->vcpu, CG_VIEW);
	if (!pvc_same_clock(&pvc_gr.new_clk, view0))
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
	c.tsc_timestamp = pvc_host_tsc_ordered() + pvc_vcpu_tsc_offset(t->vcpu) +
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
	exact = closed_form && pvc_same_clock(r, &rebased) &&
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
	if (mode == PVD_CLOCK_GUEST_EXACT && !pvc_same_clock(r, &rebased))
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
	u64 vcpu1_offset = pvc_vcpu_tsc_offset(t->vcpu1);
	struct pvclock_ref_clock young, view0, view1;
	u64 age_before, age_after, period;
	int err;

	err = get_clock_guest(t->vcpu, &young);
	if (err) {
		pvc_fail("KVM_GET_CLOCK_GUEST for the young clock: %s", errno_name(err));
		return;
	}
	period = pvc_clock_zero_period(&young);
	age_before = pvc_host_tsc_ordered() + vcpu1_offset - young.tsc_timestamp;
	err = set_clock_guest(t->vcpu1, &young);
	age_after = pvc_host_tsc_ordered() + vcpu1_offset - young.tsc_timestamp;
	if (err) {
		pvc_fail("KVM_SET_CLOCK_GUEST with a young saved clock: %s", errno_name(err));
		return;
	}
	if (!clock_guest_views(t, &view0, &view1, "after the young restore"))
		return;
	printf("# set_clock_guest: a clock saved through vCPU 0 and restored at once through\n"
	       "# vCPU 1, its reference %lu to %lu ticks old at the ioctl (P %lu): T1 %lu, %s\n",
	       age_before, age_after, period, view0.tsc_timestamp,
	       pvc_same_clock(&view0, &young) ? "the saved pvti itself (T1 = T0)" :
	       "not the saved pvti");
	if (age_after >= period) {
		printf("# set_clock_guest: note: the young restore took longer than P; %s\n",
		       "not checked");
		return;
	}
	if (!pvc_same_clock(&view0, &young))
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
	if (!pvc_same_clock(&view0, &pvc_gr.old_clk))
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
	u64 period = pvc_clock_zero_period(saved);
	u64 age = pvc_host_tsc_ordered() + pvc_vcpu_tsc_offset(t->vcpu1) -
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
			      struct pvc_drift_rate *rate)
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
	if (!pvc_clock_ahead(saved, &pvc_gr.new_clk, &rate->ahead)) {
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
	u64 vcpu1_offset = pvc_vcpu_tsc_offset(t->vcpu1);
	u64 vcpu0_offset = pvc_vcpu_tsc_offset(t->vcpu);
	struct pvclock_ref_clock view1;
	u64 before, after;
	int err;

	if (vcpu0_offset != vcpu1_offset)
		printf("# set_clock_guest: the vCPUs' TSC offsets differ (%lu, %lu)\n",
		       vcpu0_offset, vcpu1_offset);
	before = pvc_host_tsc_ordered();
	err = set_clock_guest(t->vcpu1, saved);
	after = pvc_host_tsc_ordered();
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
	if (!pvc_same_clock(&pvc_gr.new_clk, restored) ||
	    !pvc_same_clock(&pvc_gr.end_clk, restored))
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
	pvc_host_recompute(t, &host);
	if (s->reads <= PVC_LOG_ENTRIES && !pvd_stats_equal(&host, s))
		pvc_fail("the host's arithmetic disagrees with the guest's");
}

static void test_set_clock_guest(void)
{
	struct pvclock_ref_clock saved, restored, current;
	enum pvd_clock_guest_mode mode;
	struct pvc_drift_rate rate;
	u64 lo, hi;
	struct pvc_vm t;

	pvc_vm_create(&t, guest_set_clock_guest);
	pvc_vm_add_vcpu1(&t, guest_set_clock_guest);
	require_clock_guest(t.vcpu);
	if (!clock_guest_save(&t, &saved) || !clock_guest_drift(&t, &saved, &rate) ||
	    !clock_guest_restore(&t, &saved, &lo, &hi, &restored))
		goto out;
	mode = clock_guest_verdict("set_clock_guest", &saved, &restored, lo, hi);
	if (mode == PVD_CLOCK_GUEST_AUTO)
		goto out;
	if (mode == PVD_CLOCK_GUEST_EXACT &&
	    lo - saved.tsc_timestamp >= pvc_clock_zero_period(&saved) &&
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

/* ---- migrate_clock_guest ---- */

/*
 * The forced update after a restore comes at most this long after it, so
 * that the drift rate's own error (under 1 ns over --interval-ms) stays
 * small against the 2 ns bound.
 */
#define MIGRATE_UPDATE_MAX_NS	(1000 * PVC_NSEC_PER_MSEC)

static void migrate_require(struct pvc_migrate_vm *a)
{
	require_clock_guest(a->vcpu[0]);
}

/* The saved clock is KVM_GET_CLOCK_GUEST's: the pvti A's guest reads. */
static bool migrate_save_clock(struct pvc_migrate_vm *a,
			       struct pvc_migrate_state *s)
{
	if (!get_clock_guest_checked(a->vcpu[0], &s->clock,
				     "migrate_clock_guest"))
		return false;
	if (!pvc_same_clock(&s->clock, &pvc_mgr[0].stepped))
		pvc_fail("migrate_clock_guest: %s",
			 "KVM_GET_CLOCK_GUEST is not the pvti A's guest reads");
	return !pvc_failed();
}

/* KVM_SET_CLOCK_GUEST in B; [*lo, *hi] the guest TSC around it. */
static bool migrate_set_clock(struct pvc_migrate_vm *b,
			      const struct pvc_migrate_state *s, u64 *lo, u64 *hi)
{
	u64 before, after;
	int r;

	pvc_migrate_set_vcpus(b, s);
	before = pvc_host_tsc_ordered();
	r = set_clock_guest(b->vcpu[0], &s->clock);
	after = pvc_host_tsc_ordered();
	if (r) {
		pvc_fail("migrate_clock_guest: KVM_SET_CLOCK_GUEST in the fresh VM: %s",
			 errno_name(r));
		return false;
	}
	*lo = before + s->tsc_offset[0];
	*hi = after + s->tsc_offset[0];
	return true;
}

/*
 * Whether the TSC bracket proves the case: young, T1 - T0 < P; old,
 * T1 - T* >= P/2 for one newest zero-remainder reference T*.
 */
static bool migrate_case_proven(enum pvc_migrate_when when,
				const struct pvclock_ref_clock *saved,
				u64 lo, u64 hi)
{
	u64 period = pvc_clock_zero_period(saved), t0 = saved->tsc_timestamp;

	if (when == PVC_MIGRATE_YOUNG) {
		if (hi - t0 < period)
			return true;
		printf("# migrate_clock_guest young: the restore ended %lu ticks after T0,\n"
		       "# not within P %lu: again\n", hi - t0, period);
		return false;
	}
	if (((lo - t0) & (period - 1)) >= period / 2 &&
	    clock_exact_ref(saved, lo) == clock_exact_ref(saved, hi)) {
		printf("# migrate_clock_guest old: T1 - T* is %lu to %lu ticks (P %lu)\n",
		       lo - clock_exact_ref(saved, lo),
		       hi - clock_exact_ref(saved, hi), period);
		return true;
	}
	printf("# migrate_clock_guest old: the restore's TSC [%lu, %lu]\n"
	       "# is not P/2 past one T*: again\n", lo, hi);
	return false;
}

/*
 * KVM_SET_CLOCK_GUEST's contract, checked from outside: the first pvti is
 * the restored reference (round-down: a T1 inside the ioctl's TSC bracket;
 * exact: T* for such a T1), every read is the saved clock (exact) or at
 * most 1 ns behind it (2 where the reference is off the 2^-shift grid),
 * and the next update moves the clock by the drift since T1.
 */
static void migrate_check(struct pvc_migrate_vm *b, enum pvc_migrate_when when,
			  const struct pvc_migrate_state *s, u64 lo, u64 hi,
			  const struct pvc_drift_rate *rate)
{
	const struct pvclock_ref_clock *first = &pvc_mgr[0].first;
	const char *wname = pvc_migrate_when_name(when);
	enum pvd_clock_guest_mode mode;
	s64 diff_lo, diff_hi;
	unsigned int i;
	char who[48];

	pvc_migrate_check_no_entry(b, when);
	pvc_migrate_run_reads(b, s);
	pvc_migrate_run(b, 0, PVC_MIGRATE_STEPPED);
	pvc_print_clock("first pvti in B", first);
	printf("# migrate_clock_guest %s: guest TSC around KVM_SET_CLOCK_GUEST [%lu, %lu],\n"
	       "# %lu to %lu ticks after T0 (P %lu);\n"
	       "# the first pvti's reference %ld ticks after T0\n",
	       wname, lo, hi, lo - s->clock.tsc_timestamp,
	       hi - s->clock.tsc_timestamp, pvc_clock_zero_period(&s->clock),
	       (s64)(first->tsc_timestamp - s->clock.tsc_timestamp));
	snprintf(who, sizeof(who), "migrate_clock_guest %s", wname);
	mode = clock_guest_verdict(who, &s->clock, first, lo, hi);
	if (mode == PVD_CLOCK_GUEST_AUTO)
		return;
	if (!pvc_same_clock(&pvc_mgr[1].first, first))
		pvc_fail("%s: vCPU 1's first pvti is not vCPU 0's", who);
	if (pvclock_ref_diff_range(&s->clock, first, &diff_lo, &diff_hi)) {
		pvc_fail("%s: no difference range for the first pvti", who);
		return;
	}
	if (mode == PVD_CLOCK_GUEST_EXACT)
		diff_hi = diff_lo;
	if (diff_lo || diff_hi > (clock_aligned(&s->clock, first->tsc_timestamp) ? 1 : 2))
		pvc_fail("%s: the arithmetic allows [%ld, %ld] ns (%s)", who,
			 diff_lo, diff_hi, pvd_clock_guest_mode_name(mode));
	for (i = 0; i < PVC_MIGRATE_VCPUS; i++)
		pvc_migrate_check_reads(when, i, diff_lo, diff_hi,
					pvc_opts.tolerance_ns);
	snprintf(who, sizeof(who), "migrate_clock_guest.%s", wname);
	check_update_step(who, &s->clock, &pvc_mgr[0].stepped, lo, hi, rate,
			  MIGRATE_UPDATE_MAX_NS);
}

static enum pvc_migrate_result migrate_restore(struct pvc_migrate_vm *b,
					       enum pvc_migrate_when when,
					       const struct pvc_migrate_state *s,
					       const struct pvc_drift_rate *rate)
{
	u64 lo, hi;

	if (!migrate_set_clock(b, s, &lo, &hi))
		return PVC_MIGRATE_FAILED;
	if (!migrate_case_proven(when, &s->clock, lo, hi))
		return PVC_MIGRATE_AGAIN;
	migrate_check(b, when, s, lo, hi, rate);
	return PVC_MIGRATE_DONE;
}

static void test_migrate_clock_guest(void)
{
	static const struct pvc_migrate_ops ioctls = {
		.name = "migrate_clock_guest",
		.how = "saved with KVM_GET_CLOCK_GUEST, restored with\n"
		       "# KVM_SET_CLOCK_GUEST",
		.require = migrate_require,
		.save_clock = migrate_save_clock,
		.restore = migrate_restore,
	};

	pvc_migrate(&ioctls);
}

static const struct pvc_subtest subtests[] = {
	{ "set_clock_guest", test_set_clock_guest },
	{ "migrate_clock_guest", test_migrate_clock_guest },
};

int main(int argc, char *argv[])
{
	static const struct pvc_test test = {
		.name = "pvclock_clock_guest_test",
		.summary = "Check KVM_GET_CLOCK_GUEST and KVM_SET_CLOCK_GUEST from outside.",
		.subtests = subtests,
		.nr_subtests = ARRAY_SIZE(subtests),
		.options = PVD_OPT(PVD_OPT_INTERVAL_MS) | PVD_OPT(PVD_OPT_READS) |
			   PVD_OPT(PVD_OPT_TOLERANCE_NS) |
			   PVD_OPT(PVD_OPT_CLOCK_GUEST_MODE),
	};

	return pvc_main(argc, argv, &test);
}

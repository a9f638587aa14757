// SPDX-License-Identifier: GPL-2.0-only
/*
 * pvclock_restore: a saved guest pvclock restored to within a nanosecond
 * with only KVM_GET_CLOCK and KVM_SET_CLOCK.  The contract is in
 * pvclock_restore.h.
 *
 * With the master clock on, KVM_SET_CLOCK takes a new master clock reference
 * (host TSC C) and makes the guest's pvti (C + offset, S) with S = clock plus
 * the realtime elapsed since data.realtime (KVM_CLOCK_REALTIME).
 *
 *  1. The vCPU enters and the routine reads the pvti KVM wrote; KVM_GET_CLOCK
 *     samples (clock, host TSC) follow that pvti in the host's TSC domain,
 *     so pvclock_ref_tsc_offset() recovers the guest TSC offset (a range of
 *     a few values at most; a scaled TSC fits none).
 *  2. Each attempt reads KVM_GET_CLOCK (clock, realtime, host TSC h) and
 *     passes the saved clock at guest TSC h + offset with that realtime:
 *     KVM adds the realtime that passes until it reads realtime again, a
 *     little after C.  That gap (the bias) is estimated as the lower median
 *     of what earlier attempts showed, and subtracted.
 *  3. The vCPU enters; the new pvti (T1, S1) is read back and checked against
 *     a fresh KVM_GET_CLOCK, and pvclock_ref_diff_range() gives saved -
 *     restored over every later read: [e, e + 1] when T1 - T0 is a multiple
 *     of 2^-shift, [e, e + 2] when not.  S1 is aimed half a ns past the saved
 *     clock's exact value at T1, which centres both ranges on zero.
 *  4. Done when that range is within the tolerance; otherwise retry.
 */
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>

#include "pvclock_restore.h"

#define HALF_NS		0x80000000LL	/* in 2^-32 ns */
#define ONE_NS		0x100000000LL
#define FAR_NS		1000000000LL	/* a second */

struct restore {
	const struct pvclock_restore_ops *ops;
	const struct pvclock_ref_clock *saved;
	struct pvclock_restore_result *res;
	int64_t gaps[PVCLOCK_RESTORE_MAX_ATTEMPTS];	/* sorted */
	unsigned int nr_gaps;
};

static uint64_t restore_now(const struct restore *r)
{
	struct timespec ts;

	if (r->ops->now_ns)
		return r->ops->now_ns(r->ops->ctx);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int restore_ioctl(const struct restore *r, unsigned long req,
			 struct kvm_clock_data *data)
{
	return ioctl(r->ops->vm_fd, req, data) ? -errno : 0;
}

/* KVM_GET_CLOCK with a realtime and a host TSC, or false. */
static bool restore_get_clock(const struct restore *r,
			      struct kvm_clock_data *data)
{
	int ret;

	memset(data, 0, sizeof(*data));
	if (r->ops->get_clock)
		ret = r->ops->get_clock(r->ops->ctx, data);
	else
		ret = restore_ioctl(r, KVM_GET_CLOCK, data);
	return !ret && (data->flags & PVCLOCK_RESTORE_FLAGS) ==
		       PVCLOCK_RESTORE_FLAGS;
}

static bool restore_set_clock(const struct restore *r,
			      struct kvm_clock_data *data)
{
	if (r->ops->set_clock)
		return !r->ops->set_clock(r->ops->ctx, data);
	return !restore_ioctl(r, KVM_SET_CLOCK, data);
}

/* Let the vCPU enter and read the pvti KVM wrote, with saved's scale. */
static enum pvclock_restore_status restore_read_back(const struct restore *r,
						     struct pvclock_ref_clock *clk)
{
	const struct pvclock_restore_ops *ops = r->ops;

	if (ops->enter(ops->ctx) || ops->read_pvti(ops->ctx, clk) ||
	    !pvclock_ref_clock_valid(clk))
		return PVCLOCK_RESTORE_EVCPU;
	if (clk->mul != r->saved->mul || clk->shift != r->saved->shift)
		return PVCLOCK_RESTORE_ESCALE;
	return PVCLOCK_RESTORE_OK;
}

/* Step 1: the guest TSC offset from KVM_GET_CLOCK samples against cur. */
static enum pvclock_restore_status
restore_offset(const struct restore *r, const struct pvclock_ref_clock *cur)
{
	struct pvclock_ref_sample s[PVCLOCK_RESTORE_SAMPLES];
	struct kvm_clock_data data;
	unsigned int i;

	for (i = 0; i < PVCLOCK_RESTORE_SAMPLES; i++) {
		if (!restore_get_clock(r, &data))
			return PVCLOCK_RESTORE_EGET;
		s[i].clock = data.clock;
		s[i].host_tsc = data.host_tsc;
	}
	if (pvclock_ref_tsc_offset(cur, s, PVCLOCK_RESTORE_SAMPLES,
				   &r->res->offset, &r->res->offset_count))
		return PVCLOCK_RESTORE_EOFFSET;
	return PVCLOCK_RESTORE_OK;
}

/*
 * Step 3's check: KVM_GET_CLOCK must read the new pvti at the host TSC plus
 * an offset that the earlier samples allowed, and it narrows that range
 * when it can.  At shift -1 two adjacent offsets read alike whenever the
 * host TSC and KVM's reference share their parity, so the range can stay
 * two wide: half a tick of aim, which the verification does not rely on.
 */
static enum pvclock_restore_status
restore_check(const struct restore *r, const struct pvclock_ref_clock *clk)
{
	struct pvclock_restore_result *res = r->res;
	struct pvclock_ref_sample s;
	struct kvm_clock_data data;
	uint64_t lo, count, into;

	if (!restore_get_clock(r, &data))
		return PVCLOCK_RESTORE_EGET;
	s.clock = data.clock;
	s.host_tsc = data.host_tsc;
	if (pvclock_ref_tsc_offset(clk, &s, 1, &lo, &count))
		return PVCLOCK_RESTORE_EDISAGREE;
	/* Both ranges are a few values wide: intersect them. */
	into = lo - res->offset;
	if (into < res->offset_count) {
		res->offset = lo;
		res->offset_count -= into;
	} else if (res->offset - lo < count) {
		count -= res->offset - lo;
	} else {
		return PVCLOCK_RESTORE_EDISAGREE;
	}
	if (count < res->offset_count)
		res->offset_count = count;
	return PVCLOCK_RESTORE_OK;
}

/* clk's system_time - saved(T1) in 2^-32 ns; false beyond a second. */
static bool restore_error(const struct pvclock_ref_clock *saved,
			  const struct pvclock_ref_clock *clk, int64_t *error)
{
	int64_t whole;

	if (clk->tsc_timestamp - saved->tsc_timestamp > (uint64_t)INT64_MAX)
		return false;
	whole = (int64_t)(clk->system_time -
			  pvclock_ref_read(saved, clk->tsc_timestamp));
	if (whole > FAR_NS || whole < -FAR_NS)
		return false;
	*error = whole * ONE_NS -
		 (int64_t)pvclock_ref_frac(saved, clk->tsc_timestamp);
	return true;
}

/*
 * Keep the gaps sorted and return their lower median: the outliers are all
 * late (a cold first call, an interrupt inside the ioctl), so of the two
 * middle figures the lower is the likelier.
 */
static int64_t restore_add_gap(struct restore *r, int64_t gap)
{
	unsigned int i = r->nr_gaps++;

	for (; i > 0 && r->gaps[i - 1] > gap; i--)
		r->gaps[i] = r->gaps[i - 1];
	r->gaps[i] = gap;
	r->res->bias_min = r->gaps[0];
	r->res->bias_max = r->gaps[r->nr_gaps - 1];
	return r->gaps[(r->nr_gaps - 1) / 2];
}

/* Steps 2 and 3: one KVM_SET_CLOCK aimed at the saved clock, verified. */
static enum pvclock_restore_status restore_attempt(struct restore *r)
{
	const struct pvclock_ref_clock *saved = r->saved;
	struct pvclock_restore_result *res = r->res;
	struct pvclock_restore_attempt a;
	enum pvclock_restore_status st;
	struct kvm_clock_data data;
	int64_t adj, want;
	uint64_t g;

	if (!restore_get_clock(r, &data))
		return PVCLOCK_RESTORE_EGET;
	/* The middle of the offsets allowed: at most half of them off. */
	g = data.host_tsc + res->offset + (res->offset_count - 1) / 2;
	/* S1 - saved(T1) = adj - frac(g) + gap: aim it at +0.5 ns. */
	want = HALF_NS - res->bias + (int64_t)pvclock_ref_frac(saved, g);
	adj = (want + HALF_NS) >> 32;		/* rounded to a whole ns */
	memset(&a, 0, sizeof(a));
	a.n = ++res->attempts;
	a.host_tsc = data.host_tsc;
	a.clock = pvclock_ref_read(saved, g) + (uint64_t)adj;
	data.clock = a.clock;
	data.flags = KVM_CLOCK_REALTIME;
	if (!restore_set_clock(r, &data))
		return PVCLOCK_RESTORE_ESET;

	st = restore_read_back(r, &res->clk);
	if (st == PVCLOCK_RESTORE_OK)
		st = restore_check(r, &res->clk);
	if (st != PVCLOCK_RESTORE_OK)
		return st;
	if (!restore_error(saved, &res->clk, &res->error) ||
	    pvclock_ref_diff_range(saved, &res->clk, &res->lo, &res->hi))
		return PVCLOCK_RESTORE_EFAR;

	a.clk = res->clk;
	a.gap = res->error - adj * ONE_NS + (int64_t)pvclock_ref_frac(saved, g);
	a.lo = res->lo;
	a.hi = res->hi;
	res->bias = restore_add_gap(r, a.gap);
	if (r->ops->attempt)
		r->ops->attempt(r->ops->ctx, &a);
	return PVCLOCK_RESTORE_OK;
}

static enum pvclock_restore_status
restore_run(struct restore *r, uint64_t tolerance_ns, unsigned int max_attempts,
	    uint64_t max_ns)
{
	struct pvclock_restore_result *res = r->res;
	uint64_t start = restore_now(r);
	struct pvclock_ref_clock cur;
	enum pvclock_restore_status st;

	if (!pvclock_ref_clock_valid(r->saved) || !max_attempts ||
	    max_attempts > PVCLOCK_RESTORE_MAX_ATTEMPTS)
		return PVCLOCK_RESTORE_EINVAL;
	st = restore_read_back(r, &cur);
	if (st == PVCLOCK_RESTORE_OK)
		st = restore_offset(r, &cur);
	if (st != PVCLOCK_RESTORE_OK)
		return st;

	for (;;) {
		st = restore_attempt(r);
		res->elapsed_ns = restore_now(r) - start;
		if (st != PVCLOCK_RESTORE_OK)
			return st;
		if (res->lo >= -(int64_t)tolerance_ns &&
		    res->hi <= (int64_t)tolerance_ns)
			return PVCLOCK_RESTORE_OK;
		if (res->attempts >= max_attempts)
			return PVCLOCK_RESTORE_EATTEMPTS;
		if (res->elapsed_ns >= max_ns)
			return PVCLOCK_RESTORE_ETIME;
	}
}

enum pvclock_restore_status
pvclock_restore(const struct pvclock_restore_ops *ops,
		const struct pvclock_ref_clock *saved, uint64_t tolerance_ns,
		unsigned int max_attempts, uint64_t max_ns,
		struct pvclock_restore_result *res)
{
	struct restore r = {
		.ops = ops,
		.saved = saved,
		.res = res,
	};

	memset(res, 0, sizeof(*res));
	if (tolerance_ns > INT64_MAX)
		tolerance_ns = INT64_MAX;
	res->status = restore_run(&r, tolerance_ns, max_attempts, max_ns);
	return res->status;
}

const char *pvclock_restore_strerror(enum pvclock_restore_status status)
{
	switch (status) {
	case PVCLOCK_RESTORE_OK:
		return "restored";
	case PVCLOCK_RESTORE_EINVAL:
		return "invalid arguments (saved pvti, or attempts not in 1..1000)";
	case PVCLOCK_RESTORE_EVCPU:
		return "the vCPU did not run, or has no pvclock";
	case PVCLOCK_RESTORE_ESCALE:
		return "the guest's pvclock scale changed: not the saved clock's TSC rate";
	case PVCLOCK_RESTORE_EGET:
		return "KVM_GET_CLOCK failed, or gave no realtime/host TSC";
	case PVCLOCK_RESTORE_EOFFSET:
		return "KVM_GET_CLOCK fits no fixed TSC offset (a scaled TSC?)";
	case PVCLOCK_RESTORE_ESET:
		return "KVM_SET_CLOCK failed";
	case PVCLOCK_RESTORE_EDISAGREE:
		return "KVM_GET_CLOCK disagrees with the pvti KVM gave the guest";
	case PVCLOCK_RESTORE_EFAR:
		return "KVM_SET_CLOCK left the clock more than a second off";
	case PVCLOCK_RESTORE_ETIME:
		return "out of time before the clock was within the tolerance";
	case PVCLOCK_RESTORE_EATTEMPTS:
		return "out of attempts before the clock was within the tolerance";
	}
	return "unknown status";
}

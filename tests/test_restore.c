// SPDX-License-Identifier: GPL-2.0-only
/*
 * pvclock_restore() against a simulated KVM.
 *
 * The model is KVM_GET_CLOCK and KVM_SET_CLOCK with the master clock on, as
 * the kernel does them, with the clock arithmetic of model.h (written apart
 * from pvclock_ref, which the routine uses):
 *  - the host TSC advances in steps of q ticks (a read returns the last
 *    step); realtime is an integer ns computed from the same TSC reads, at
 *    the kvmclock's rate plus a drift;
 *  - KVM_GET_CLOCK reads the TSC once, for the host TSC, the realtime and the
 *    clock (the master clock pvti read at that TSC, in the host's domain);
 *  - KVM_SET_CLOCK reads its new reference C, then realtime k steps later,
 *    and makes system_time the clock passed plus the realtime since
 *    data.realtime;
 *  - a vCPU entry writes the pvti (scale(C) + offset, system_time).
 * It is fitted to figures recorded on a real KVM by `pvclock-restore record`
 * (tests/data/): q is the gcd of the host TSC steps between back-to-back
 * KVM_GET_CLOCK calls, k is drawn from one recorded round's gaps counted in
 * whole steps, the time between calls from the recorded steps, and the rate
 * from the recorded mul and shift.
 *
 * Then: every simulated restore that reports success must hold its bound at
 * every later TSC, read independently; each attempt's gap must be what the
 * model made; the numbers of attempts are compared with the real restores;
 * and hostile models (a drifting or wide gap, a scaled TSC, no master
 * clock, failing or lying ioctls, a stale or rescaled pvti) must make the
 * routine give up as pvclock_restore.h documents, never claiming a bound.
 *
 * usage: test_restore DATA...
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "pvclock_ref.h"
#include "pvclock_restore.h"
#include "check.h"
#include "model.h"

struct check_state check_state;

#define ONE_NS		(1LL << 32)	/* in 2^-32 ns */
#define MAX_ROUNDS	1024

/* ---- the recorded figures and their fit ---- */

struct recording {
	const char *path;
	uint64_t khz;
	uint32_t mul;
	int shift;
	uint64_t *deltas;		/* host TSC steps between GET_CLOCKs */
	unsigned int nr_deltas;
	int64_t *gaps;			/* 2^-32 ns */
	unsigned int nr_gaps;
	unsigned int round_start[MAX_ROUNDS + 1];	/* into gaps */
	unsigned int nr_rounds;
	unsigned int *restores;		/* attempts of the real restores */
	unsigned int nr_restores;
	/* the fit */
	uint64_t q;			/* the TSC step, ticks */
	int64_t step;			/* q ticks in 2^-32 ns */
	unsigned int *quanta;		/* each gap in whole steps */
	unsigned int near;		/* gaps within 1 ns of whole steps */
};

static struct recording *rec;
static unsigned int nr_rec;
static struct recording *cur;		/* the one being tested */

static void *grow(void *p, unsigned int n, size_t size)
{
	if (n & (n - 1))
		return p;
	p = realloc(p, (n ? 2 * n : 1) * size);
	if (!p) {
		perror("realloc");
		exit(2);
	}
	return p;
}

static uint64_t gcd(uint64_t a, uint64_t b)
{
	while (b) {
		uint64_t t = a % b;

		a = b;
		b = t;
	}
	return a;
}

static int cmp_uint(const void *a, const void *b)
{
	unsigned int x = *(const unsigned int *)a, y = *(const unsigned int *)b;

	return x < y ? -1 : x > y;
}

static unsigned int median_uint(unsigned int *v, unsigned int n)
{
	qsort(v, n, sizeof(*v), cmp_uint);
	return v[(n - 1) / 2];
}

static void load(struct recording *r, const char *path)
{
	char line[256], key[32];
	long long v;
	FILE *f = fopen(path, "r");

	if (!f) {
		fprintf(stderr, "test_restore: %s: %s\n", path, strerror(errno));
		exit(2);
	}
	memset(r, 0, sizeof(*r));
	r->path = path;
	while (fgets(line, sizeof(line), f)) {
		if (line[0] == '#' || sscanf(line, "%31s %lld", key, &v) != 2)
			continue;
		if (!strcmp(key, "tsc_khz")) {
			r->khz = (uint64_t)v;
		} else if (!strcmp(key, "mul")) {
			r->mul = (uint32_t)v;
		} else if (!strcmp(key, "shift")) {
			r->shift = (int)v;
		} else if (!strcmp(key, "round") && r->nr_rounds < MAX_ROUNDS) {
			r->round_start[r->nr_rounds++] = r->nr_gaps;
		} else if (!strcmp(key, "delta")) {
			r->deltas = grow(r->deltas, r->nr_deltas, sizeof(*r->deltas));
			r->deltas[r->nr_deltas++] = (uint64_t)v;
		} else if (!strcmp(key, "gap")) {
			r->gaps = grow(r->gaps, r->nr_gaps, sizeof(*r->gaps));
			r->gaps[r->nr_gaps++] = v;
		} else if (!strcmp(key, "restore")) {
			r->restores = grow(r->restores, r->nr_restores,
					   sizeof(*r->restores));
			r->restores[r->nr_restores++] = (unsigned int)v;
		}
	}
	fclose(f);
	r->round_start[r->nr_rounds] = r->nr_gaps;
	if (!r->khz || !r->mul || !r->nr_deltas || !r->nr_rounds ||
	    !r->nr_restores) {
		fprintf(stderr, "test_restore: %s: not a pvclock-restore record\n",
			path);
		exit(2);
	}
}

/* q ticks of a clock of this mul and shift, in 2^-32 ns. */
static int64_t m_ticks(uint64_t ticks, uint32_t mul, int shift)
{
	return shift < 0 ? (int64_t)((ticks * mul) >> -shift) :
			   (int64_t)((ticks * mul) << shift);
}

static void fit(struct recording *r)
{
	unsigned int i;

	r->q = 0;
	for (i = 0; i < r->nr_deltas; i++)
		r->q = gcd(r->deltas[i], r->q);
	r->step = m_ticks(r->q, r->mul, r->shift);
	r->quanta = calloc(r->nr_gaps + 1, sizeof(*r->quanta));
	r->near = 0;
	for (i = 0; i < r->nr_gaps; i++) {
		int64_t k = (r->gaps[i] + r->step / 2) / r->step;
		int64_t rest = r->gaps[i] - k * r->step;

		r->quanta[i] = k > 0 ? (unsigned int)k : 0;
		if (rest <= ONE_NS && rest >= -ONE_NS)
			r->near++;
	}
}

/* ---- the simulated KVM ---- */

enum hostility {
	CALM,
	DRIFTING_GAP,	/* each call's gap 3 ns longer than the last */
	WIDE_GAP,	/* the gap uniform over 2 us, to the ps */
	NO_MASTER,	/* KVM_GET_CLOCK without realtime and host TSC */
	SET_FAILS,	/* KVM_SET_CLOCK returns -EINVAL */
	ENTER_FAILS,	/* KVM_RUN fails after the first entry */
	STALE_PVTI,	/* entries stop updating the pvti after a set */
	RESCALED,	/* a set also changes the guest's mul */
	FAR_OFF,	/* a set lands 2 s late */
	LATE_UPDATE,	/* a master clock update between set and entry */
};

struct sim {
	/* the machine */
	uint64_t q;
	uint32_t mul, gmul;		/* host and guest scale */
	int shift, gshift;
	uint64_t ratio;			/* guest TSC rate, 48 fractional bits */
	uint64_t offset;
	uint64_t rate40;		/* realtime ns per tick, 2^-40 */
	uint64_t r0;
	uint64_t enter_ticks;
	/* the state */
	uint64_t now;			/* ticks */
	uint64_t master_tsc, master_ns;	/* host TSC C and system_time */
	struct pvclock_ref_clock page;	/* the vCPU's pvti */
	bool page_set;
	unsigned int round;		/* whose gaps are drawn */
	enum hostility hostile;
	unsigned int sets, entries;
	uint64_t rng;
	bool updated;			/* LATE_UPDATE's update is done */
	/* what the last set did, for the gap check */
	uint64_t last_c;
	int64_t last_realtime_added;
	unsigned int bad_gaps;
};

static uint64_t sim_tsc(const struct sim *s)
{
	return s->now - s->now % s->q;
}

static uint64_t sim_guest_tsc(const struct sim *s, uint64_t host)
{
	return model_scale_tsc(host, s->ratio, 48) + s->offset;
}

static uint64_t sim_realtime(const struct sim *s, uint64_t host)
{
	return s->r0 + (uint64_t)(((__uint128_t)host * s->rate40) >> 40);
}

static uint64_t sim_draw_delta(struct sim *s)
{
	return cur->deltas[rng_range(&s->rng, 0, cur->nr_deltas - 1)];
}

static uint64_t sim_draw_quanta(struct sim *s)
{
	unsigned int lo = cur->round_start[s->round];
	unsigned int hi = cur->round_start[s->round + 1];

	if (hi == lo)
		return 8;
	/* A drifting gap drifts alone: the steps stay put. */
	if (s->hostile == DRIFTING_GAP)
		return cur->quanta[lo];
	return cur->quanta[rng_range(&s->rng, lo, hi - 1)];
}

static int sim_get_clock(void *ctx, struct kvm_clock_data *data)
{
	struct sim *s = ctx;
	struct pvclock_ref_clock host = {
		.tsc_timestamp = s->master_tsc,
		.system_time = s->master_ns,
		.mul = s->mul,
		.shift = (int8_t)s->shift,
	};
	uint64_t h;

	s->now += sim_draw_delta(s) - s->q / 2 + rng_range(&s->rng, 0, s->q - 1);
	h = sim_tsc(s);
	data->clock = model_read(&host, h);
	data->realtime = sim_realtime(s, h);
	data->host_tsc = h;
	data->flags = KVM_CLOCK_TSC_STABLE;
	if (s->hostile != NO_MASTER)
		data->flags |= KVM_CLOCK_REALTIME | KVM_CLOCK_HOST_TSC;
	return 0;
}

static int sim_set_clock(void *ctx, struct kvm_clock_data *data)
{
	struct sim *s = ctx;
	uint64_t clock = data->clock, c, now_real;

	if (s->hostile == SET_FAILS)
		return -EINVAL;
	s->sets++;
	s->now += rng_range(&s->rng, 0, s->q - 1);
	c = sim_tsc(s);
	s->now += sim_draw_quanta(s) * s->q;
	now_real = sim_realtime(s, sim_tsc(s));
	if (s->hostile == DRIFTING_GAP)
		now_real += 3 * s->sets;
	if (s->hostile == WIDE_GAP)
		now_real += rng_range(&s->rng, 0, 2000);
	if (s->hostile == FAR_OFF)
		now_real += 2000000000ULL;
	s->last_realtime_added = 0;
	if ((data->flags & KVM_CLOCK_REALTIME) && now_real > data->realtime) {
		clock += now_real - data->realtime;
		s->last_realtime_added = (int64_t)(now_real - data->realtime);
	}
	s->last_c = c;
	s->master_tsc = c;
	s->master_ns = clock;
	if (s->hostile == RESCALED)
		s->gmul++;
	return 0;
}

static int sim_enter(void *ctx)
{
	struct sim *s = ctx;

	if (s->hostile == ENTER_FAILS && s->entries)
		return -EIO;
	s->entries++;
	s->now += s->enter_ticks;
	if (s->hostile == LATE_UPDATE && s->sets == 2 && !s->updated) {
		/* A master clock update: a new reference, 40 ns of drift. */
		struct pvclock_ref_clock host = {
			.tsc_timestamp = s->master_tsc,
			.system_time = s->master_ns,
			.mul = s->mul,
			.shift = (int8_t)s->shift,
		};
		uint64_t c = sim_tsc(s);

		s->master_ns = model_read(&host, c) + 40;
		s->master_tsc = c;
		s->updated = true;
	}
	if (s->hostile == STALE_PVTI && s->sets)
		return 0;
	s->page.tsc_timestamp = sim_guest_tsc(s, s->master_tsc);
	s->page.system_time = s->master_ns;
	s->page.mul = s->gmul;
	s->page.shift = (int8_t)s->gshift;
	return 0;
}

static int sim_read_pvti(void *ctx, struct pvclock_ref_clock *clk)
{
	struct sim *s = ctx;

	if (!s->page.mul)
		return -ENODATA;
	*clk = s->page;
	return 0;
}

static uint64_t sim_now_ns(void *ctx)
{
	const struct sim *s = ctx;

	return (uint64_t)(((__uint128_t)s->now * s->rate40) >> 40);
}

/*
 * Each attempt's gap must be what the model did: the realtime it added
 * minus the saved clock's advance from the host TSC read to C, both through
 * the true offset.  The routine aims through its estimate of the offset,
 * which may be a tick or two off.
 */
static const struct pvclock_ref_clock *gap_saved;
static unsigned int *gap_hist;		/* gaps in whole steps, when set */

static void sim_attempt(void *ctx, const struct pvclock_restore_attempt *a)
{
	struct sim *s = ctx;
	uint64_t g = sim_guest_tsc(s, a->host_tsc);
	__uint128_t advance = model_exact(gap_saved,
					  sim_guest_tsc(s, s->last_c)) -
			      model_exact(gap_saved, g);
	int64_t want = s->last_realtime_added * ONE_NS - (int64_t)advance;
	/* two pre-shifted units: an offset a tick or two off */
	int64_t slack = 2 * ((int64_t)s->gmul << (s->gshift > 0 ? s->gshift : 0));

	if (a->gap - want > slack || want - a->gap > slack)
		s->bad_gaps++;
	if (gap_hist) {
		int64_t k = (a->gap + cur->step / 2) / cur->step;

		gap_hist[k < 0 ? 0 : k < 63 ? k : 63]++;
	}
}

/*
 * A VM whose guest saved its pvti, then lost it to a master clock update
 * after a while: the state pvclock_restore() starts from.
 */
static void sim_init(struct sim *s, uint64_t seed, enum hostility hostile,
		     uint64_t ratio, struct pvclock_ref_clock *saved)
{
	uint64_t khz = cur->khz, base;

	memset(s, 0, sizeof(*s));
	s->rng = seed;
	s->hostile = hostile;
	s->q = cur->q;
	s->mul = cur->mul;
	s->shift = cur->shift;
	s->ratio = ratio;
	if (ratio == 1ULL << 48) {
		s->gmul = s->mul;
		s->gshift = s->shift;
	} else {
		int8_t sh;

		model_time_scale(1000000000ULL,
				 model_scale_tsc(khz * 1000, ratio, 48), &sh,
				 &s->gmul);
		s->gshift = sh;
	}
	/* ns per tick in 2^-40 ns, then a drift of -100, 0 or 100 ppb */
	s->rate40 = s->shift + 8 >= 0 ? (uint64_t)s->mul << (s->shift + 8) :
					(uint64_t)s->mul >> -(s->shift + 8);
	s->rate40 += (uint64_t)((int64_t)s->rate40 / 10000000 *
				((int64_t)rng_range(&s->rng, 0, 2) - 1));
	s->r0 = 1700000000000000000ULL + rng_range(&s->rng, 0, 1ULL << 40);
	s->enter_ticks = khz / 100;			/* 10 us */
	s->round = (unsigned int)rng_range(&s->rng, 0, cur->nr_rounds - 1);

	base = rng_range(&s->rng, 1ULL << 36, 1ULL << 50);
	s->now = base;
	/* Guest TSC near 0 at creation, or anywhere (wrapping). */
	if (rng_range(&s->rng, 0, 1))
		s->offset = 0 - sim_guest_tsc(s, base - rng_range(&s->rng, 0, 1ULL << 36));
	else
		s->offset = rng_next(&s->rng);
	/*
	 * The saved reference is on another phase of the TSC's steps half of
	 * the time: the real host's steps do not keep one phase over seconds
	 * (stock_restore sees unaligned references there).
	 */
	s->master_tsc = sim_tsc(s) + rng_range(&s->rng, 0, 1) *
				     rng_range(&s->rng, 0, s->q - 1);
	s->master_ns = rng_range(&s->rng, 1000000000ULL, 1ULL << 50);
	sim_enter(s);
	*saved = s->page;
	s->entries = 0;

	/* 1 ms to 10 s later, an update re-anchors with up to 5 us of drift. */
	s->now += rng_range(&s->rng, khz, khz * 10000);
	{
		uint64_t c = sim_tsc(s);
		uint64_t at = model_read(saved, sim_guest_tsc(s, c));

		s->master_tsc = c;
		s->master_ns = at + rng_range(&s->rng, 0, 10000) - 5000;
	}
	sim_enter(s);
	s->entries = 0;
}

static void sim_ops(struct sim *s, struct pvclock_restore_ops *ops)
{
	memset(ops, 0, sizeof(*ops));
	ops->get_clock = sim_get_clock;
	ops->set_clock = sim_set_clock;
	ops->enter = sim_enter;
	ops->read_pvti = sim_read_pvti;
	ops->now_ns = sim_now_ns;
	ops->attempt = sim_attempt;
	ops->ctx = s;
	ops->vm_fd = -1;
}

/*
 * The guarantee, checked on the model's own page with the model's own
 * reads: the page is res->clk, [lo, hi] is within the tolerance, as wide as
 * the alignment says, and holds at the first 512 TSC values and at random
 * ones up to 2^40 ticks later.
 */
static bool check_guarantee(const struct sim *s,
			    const struct pvclock_ref_clock *saved,
			    const struct pvclock_restore_result *res,
			    uint64_t tolerance, uint64_t *rng)
{
	const struct pvclock_ref_clock *p = &s->page;
	uint64_t k = saved->shift < 0 ? 1ULL << -saved->shift : 1;
	bool aligned = (p->tsc_timestamp - saved->tsc_timestamp) % k == 0;
	bool ok = true;
	unsigned int i;

	CHECK(p->tsc_timestamp == res->clk.tsc_timestamp &&
	      p->system_time == res->clk.system_time &&
	      p->mul == res->clk.mul && p->shift == res->clk.shift,
	      "the vCPU's pvti is not the one the routine verified");
	CHECK(res->lo >= -(int64_t)tolerance && res->hi <= (int64_t)tolerance,
	      "[%" PRId64 ", %" PRId64 "] beyond %" PRIu64, res->lo, res->hi,
	      tolerance);
	CHECK(res->hi - res->lo == (aligned ? 1 : 2),
	      "range [%" PRId64 ", %" PRId64 "] for an %s reference", res->lo,
	      res->hi, aligned ? "aligned" : "unaligned");
	for (i = 0; i < 1024; i++) {
		uint64_t t = p->tsc_timestamp +
			     (i < 512 ? i : rng_range(rng, 0, 1ULL << (i % 41)));
		int64_t d = (int64_t)(model_read(saved, t) - model_read(p, t));

		if (d < res->lo || d > res->hi) {
			ok = false;
			CHECK(0, "at %" PRIu64 " ticks on: saved - restored = %"
			      PRId64 ", outside [%" PRId64 ", %" PRId64 "]",
			      t - p->tsc_timestamp, d, res->lo, res->hi);
			break;
		}
	}
	return ok;
}

/* ---- the tests ---- */

static void test_fit(void)
{
	struct recording *r = cur;
	unsigned int hist[64] = { 0 }, i, top = 0, tail = 0;
	unsigned int deltas_med, *tmp;

	CHECK(r->q > 1, "%s: host TSC steps have no common step (gcd %" PRIu64
	      ")", r->path, r->q);
	CHECK(r->near * 100ULL >= r->nr_gaps * 99ULL,
	      "%s: only %u of %u gaps within 1 ns of whole TSC steps", r->path,
	      r->near, r->nr_gaps);
	for (i = 0; i < r->nr_gaps; i++) {
		if (r->quanta[i] < 64)
			hist[r->quanta[i]]++;
		else
			tail++;
	}
	for (i = 0; i < 64; i++)
		if (hist[i] > hist[top])
			top = i;
	tmp = malloc(r->nr_deltas * sizeof(*tmp));
	for (i = 0; i < r->nr_deltas; i++)
		tmp[i] = (unsigned int)(r->deltas[i] / r->q);
	deltas_med = median_uint(tmp, r->nr_deltas);
	free(tmp);
	printf("# %s: TSC %" PRIu64 " kHz, mul %u shift %d; TSC step q = %"
	       PRIu64 " ticks (%" PRId64 " ps)\n", r->path, r->khz, r->mul,
	       r->shift, r->q, (int64_t)(r->step / (ONE_NS / 1000)));
	printf("# %u gaps in %u rounds, %u within 1 ns of whole steps\n",
	       r->nr_gaps, r->nr_rounds, r->near);
	printf("# gap in steps:");
	for (i = 0; i < 64; i++)
		if (hist[i] * 100ULL >= r->nr_gaps)
			printf(" %u:%u%%", i, (unsigned int)(hist[i] * 100ULL /
							    r->nr_gaps));
	printf(" (mode %u; %u beyond 63); KVM_GET_CLOCK every %u steps (median)\n",
	       top, tail, deltas_med);
}

/*
 * The gaps the routine measures on the model, in whole TSC steps, against
 * the recorded ones: the same distribution, within 10 % (total variation).
 * Each attempt's gap must also be exactly what the model made.
 */
static void test_model_gaps(void)
{
	unsigned int model[64] = { 0 }, recorded[64] = { 0 }, i, n = 0, tv = 0;
	struct pvclock_restore_ops ops;
	struct pvclock_restore_result res;
	struct pvclock_ref_clock saved;
	uint64_t seed;
	struct sim s;

	for (i = 0; i < cur->nr_gaps; i++)
		recorded[cur->quanta[i] < 63 ? cur->quanta[i] : 63]++;
	gap_hist = model;
	for (seed = 1; seed <= 400; seed++) {
		sim_init(&s, seed, CALM, 1ULL << 48, &saved);
		sim_ops(&s, &ops);
		gap_saved = &saved;
		/* Tolerance 0 is never met: every attempt is made. */
		pvclock_restore(&ops, &saved, 0, 20, UINT64_MAX, &res);
		CHECK(res.status == PVCLOCK_RESTORE_EATTEMPTS &&
		      res.attempts == 20 && s.sets == 20,
		      "tolerance 0: %s after %u attempts",
		      pvclock_restore_strerror(res.status), res.attempts);
		CHECK(!s.bad_gaps,
		      "seed %" PRIu64 ": %u attempts report a gap the model did not make",
		      seed, s.bad_gaps);
	}
	gap_hist = NULL;
	for (i = 0; i < 64; i++)
		n += model[i];
	for (i = 0; i < 64; i++) {
		unsigned int a = (unsigned int)(model[i] * 1000ULL / n);
		unsigned int b = (unsigned int)(recorded[i] * 1000ULL /
						cur->nr_gaps);

		tv += a > b ? a - b : b - a;
	}
	tv /= 2;
	printf("# %u gaps measured on the model vs %u recorded, in whole steps:\n"
	       "# total variation %u.%u %%\n", n, cur->nr_gaps, tv / 10, tv % 10);
	CHECK(tv <= 100, "the model's gaps are %u.%u %% from the recorded ones",
	      tv / 10, tv % 10);
}

/* Many calm restores: all succeed, and hold their bound. */
static void run_calm(const char *what, uint64_t ratio, uint64_t tolerance,
		     unsigned int count, unsigned int *attempts)
{
	struct pvclock_restore_ops ops;
	struct pvclock_restore_result res;
	struct pvclock_ref_clock saved;
	unsigned int i, ok = 0, aligned = 0;
	uint64_t rng = 0x5eed0000 + tolerance;
	struct sim s;

	for (i = 0; i < count; i++) {
		sim_init(&s, rng_next(&rng), CALM, ratio, &saved);
		sim_ops(&s, &ops);
		gap_saved = &saved;
		pvclock_restore(&ops, &saved, tolerance,
				PVCLOCK_RESTORE_MAX_ATTEMPTS, 2000000000ULL, &res);
		CHECK(res.status == PVCLOCK_RESTORE_OK,
		      "%s restore %u: %s after %u attempts", what, i,
		      pvclock_restore_strerror(res.status), res.attempts);
		CHECK(!s.bad_gaps, "%s restore %u: %u gaps not the model's",
		      what, i, s.bad_gaps);
		CHECK(res.attempts == s.sets, "%u attempts, %u sets",
		      res.attempts, s.sets);
		if (res.status != PVCLOCK_RESTORE_OK)
			continue;
		ok++;
		aligned += res.hi - res.lo == 1;
		if (attempts)
			attempts[i] = res.attempts;
		check_guarantee(&s, &saved, &res, tolerance, &rng);
	}
	printf("# %s: %u of %u restored within %" PRIu64 " ns (%u with an aligned reference)\n",
	       what, ok, count, tolerance, aligned);
}

static void test_calm(void)
{
	unsigned int n = 5000, *att = calloc(n, sizeof(*att));
	unsigned int real = median_uint(cur->restores, cur->nr_restores);
	unsigned int model;

	run_calm("fitted model", 1ULL << 48, 1, n, att);
	model = median_uint(att, n);
	printf("# attempts: model median %u, 90%% %u, max %u;\n"
	       "# real (%u restores) median %u, max %u\n", model,
	       att[n * 9 / 10], att[n - 1], cur->nr_restores, real,
	       cur->restores[cur->nr_restores - 1]);
	CHECK(model * 3 >= real && model <= real * 3,
	      "the model's median of %u attempts is far from the real %u",
	      model, real);
	free(att);
}

/* The same machine at other shifts: the guarantee does not depend on it. */
static void test_other_rates(void)
{
	static const uint64_t khz[] = { 999999, 1500000, 3000000, 4200000,
					5000000 };
	struct recording saved_rec = *cur;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(khz); i++) {
		int8_t shift;
		char what[64];

		cur->khz = khz[i];
		model_time_scale(1000000000ULL, khz[i] * 1000, &shift,
				 &cur->mul);
		cur->shift = shift;
		snprintf(what, sizeof(what), "%" PRIu64 " kHz (shift %d)",
			 khz[i], shift);
		run_calm(what, 1ULL << 48, 1, 500, NULL);
		run_calm(what, 1ULL << 48, 2, 500, NULL);
	}
	*cur = saved_rec;
}

#define ONE		(1ULL << 48)	/* a TSC ratio of 1.0 */
#define ANY		(~0U)

/*
 * A hostile model: the status each run must end with (want), and the
 * KVM_SET_CLOCK calls it must have made (sets, ANY: any number).  A run that
 * restores anyway is allowed only where may_restore says, and must then hold
 * its bound.
 */
struct hostile_case {
	const char *what;
	enum hostility h;
	uint64_t ratio;
	unsigned int max_attempts;
	uint64_t max_ns;
	enum pvclock_restore_status want;
	unsigned int sets, runs;
	bool may_restore;
};

static const struct hostile_case hostile_cases[] = {
	/* A gap that never repeats: the estimate never catches up... */
	{ "drifting gap", DRIFTING_GAP, ONE, 50, UINT64_MAX,
	  PVCLOCK_RESTORE_EATTEMPTS, 50, 20, false },
	/* ...and out of time first: 10 us an entry, 1 ms allowed. */
	{ "drifting gap, 1 ms", DRIFTING_GAP, ONE, 1000, 1000000,
	  PVCLOCK_RESTORE_ETIME, ANY, 20, false },
	/* 2 us of noise: a rare hit, verified like any other. */
	{ "gap spread over 2 us", WIDE_GAP, ONE, 30, UINT64_MAX,
	  PVCLOCK_RESTORE_EATTEMPTS, 30, 100, true },
	{ "no master clock", NO_MASTER, ONE, 1000, UINT64_MAX,
	  PVCLOCK_RESTORE_EGET, 0, 10, false },
	{ "KVM_SET_CLOCK fails", SET_FAILS, ONE, 1000, UINT64_MAX,
	  PVCLOCK_RESTORE_ESET, 0, 10, false },
	{ "KVM_RUN fails after a set", ENTER_FAILS, ONE, 1000, UINT64_MAX,
	  PVCLOCK_RESTORE_EVCPU, 1, 10, false },
	{ "stale pvti", STALE_PVTI, ONE, 1000, UINT64_MAX,
	  PVCLOCK_RESTORE_EDISAGREE, 1, 20, false },
	{ "rescaled pvti", RESCALED, ONE, 1000, UINT64_MAX,
	  PVCLOCK_RESTORE_ESCALE, 1, 10, false },
	{ "set lands 2 s off", FAR_OFF, ONE, 1000, UINT64_MAX,
	  PVCLOCK_RESTORE_EFAR, 1, 10, false },
	/* An update nobody asked for: judged by the pvti left, like any. */
	{ "master clock update before an entry", LATE_UPDATE, ONE, 1000,
	  UINT64_MAX, PVCLOCK_RESTORE_OK, ANY, 50, true },
	/* A scaled TSC: no fixed offset, nothing set, nothing claimed. */
	{ "TSC scaled by 0.75", CALM, ONE / 4 * 3, 1000, UINT64_MAX,
	  PVCLOCK_RESTORE_EOFFSET, 0, 20, false },
	{ "TSC scaled by 1.6", CALM, ONE / 5 * 8, 1000, UINT64_MAX,
	  PVCLOCK_RESTORE_EOFFSET, 0, 20, false },
	/* A ratio a hair above 1.0, which the samples may still fit. */
	{ "TSC scaled by 1 + 2^-36", CALM, ONE + (1ULL << 12), 1000,
	  UINT64_MAX, PVCLOCK_RESTORE_EOFFSET, ANY, 20, true },
};

static void hostile(const struct hostile_case *c)
{
	struct pvclock_restore_ops ops;
	struct pvclock_restore_result res;
	struct pvclock_ref_clock saved;
	uint64_t rng = 0xba5e + c->h + c->ratio;
	unsigned int i, ok = 0, gave_up = 0;
	struct sim s;

	for (i = 0; i < c->runs; i++) {
		sim_init(&s, rng_next(&rng), c->h, c->ratio, &saved);
		sim_ops(&s, &ops);
		ops.attempt = NULL;
		pvclock_restore(&ops, &saved, 1, c->max_attempts, c->max_ns,
				&res);
		if (res.status == PVCLOCK_RESTORE_OK) {
			ok++;
			check_guarantee(&s, &saved, &res, 1, &rng);
			continue;
		}
		gave_up += res.status == c->want;
		CHECK(res.status == c->want, "%s, run %u: %s, wanted %s",
		      c->what, i, pvclock_restore_strerror(res.status),
		      pvclock_restore_strerror(c->want));
		CHECK(res.attempts == s.sets + (c->h == SET_FAILS),
		      "%s: %u attempts, %u sets", c->what, res.attempts, s.sets);
		CHECK(c->sets == ANY || s.sets == c->sets,
		      "%s: %u sets, wanted %u", c->what, s.sets, c->sets);
		CHECK(res.attempts <= c->max_attempts, "%s: %u attempts",
		      c->what, res.attempts);
	}
	printf("# %s: %u of %u runs ended with '%s', %u restored and verified\n",
	       c->what, gave_up, c->runs, pvclock_restore_strerror(c->want), ok);
	CHECK(c->may_restore || !ok, "%s: restored %u times", c->what, ok);
}

static void test_hostile(void)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(hostile_cases); i++)
		hostile(&hostile_cases[i]);
}

/* Arguments outside the contract, and a vCPU without a pvclock. */
static void test_invalid(void)
{
	struct pvclock_restore_ops ops;
	struct pvclock_restore_result res;
	struct pvclock_ref_clock saved, bad;
	struct sim s;

	sim_init(&s, 7, CALM, 1ULL << 48, &saved);
	sim_ops(&s, &ops);
	CHECK(pvclock_restore(&ops, &saved, 1, 0, UINT64_MAX, &res) ==
	      PVCLOCK_RESTORE_EINVAL, "0 attempts");
	CHECK(pvclock_restore(&ops, &saved, 1, PVCLOCK_RESTORE_MAX_ATTEMPTS + 1,
			      UINT64_MAX, &res) == PVCLOCK_RESTORE_EINVAL,
	      "too many attempts");
	bad = saved;
	bad.mul = 0;
	CHECK(pvclock_restore(&ops, &bad, 1, 10, UINT64_MAX, &res) ==
	      PVCLOCK_RESTORE_EINVAL, "saved with mul 0");
	bad = saved;
	bad.mul ^= 1;
	CHECK(pvclock_restore(&ops, &bad, 1, 10, UINT64_MAX, &res) ==
	      PVCLOCK_RESTORE_ESCALE, "saved at another rate");
	CHECK(s.sets == 0, "%u sets before any attempt", s.sets);
	/* entries that never write a pvti */
	memset(&s.page, 0, sizeof(s.page));
	s.hostile = STALE_PVTI;
	s.sets = 1;
	CHECK(pvclock_restore(&ops, &saved, 1, 10, UINT64_MAX, &res) ==
	      PVCLOCK_RESTORE_EVCPU, "a vCPU without a pvclock");
	CHECK(!strcmp(pvclock_restore_strerror(PVCLOCK_RESTORE_OK), "restored") &&
	      strcmp(pvclock_restore_strerror((enum pvclock_restore_status)99),
		     "restored"), "strerror");
}

int main(int argc, char **argv)
{
	unsigned int i;

	if (argc < 2) {
		fprintf(stderr, "usage: test_restore DATA...\n");
		return 2;
	}
	nr_rec = (unsigned int)argc - 1;
	rec = calloc(nr_rec, sizeof(*rec));
	for (i = 0; i < nr_rec; i++) {
		load(&rec[i], argv[i + 1]);
		fit(&rec[i]);
	}
	printf("TAP version 13\n");
	for (i = 0; i < nr_rec; i++) {
		cur = &rec[i];
		printf("# ---- %s\n", cur->path);
		RUN(test_fit);
		RUN(test_model_gaps);
		RUN(test_calm);
		RUN(test_other_rates);
		RUN(test_hostile);
		RUN(test_invalid);
	}
	printf("1..%u\n", check_state.tests);
	return check_state.failed ? 1 : 0;
}

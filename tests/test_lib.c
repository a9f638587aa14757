// SPDX-License-Identifier: GPL-2.0-only
/*
 * Host tests of the pvclock_ref library.  Every function is compared with
 * the model in model.h, written another way: split 32-bit arithmetic for
 * the products, a step-by-step simulation of KVM's loops for the time scale,
 * brute force for the searches, and guest-exact reads of both clocks for
 * the claims about disruption.  The library's own results are never the
 * expected values.
 */
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "pvclock_ref.h"
#include "check.h"
#include "model.h"

struct check_state check_state;

/* Scale of the random parts; PVCLOCK_REF_TEST_SCALE=10 runs ten times more. */
static uint64_t scale = 1;

/* Values around the edges of a 64-bit input. */
static const uint64_t edge_u64[] = {
	0, 1, 2, 3, 0x7fffffff, 0x80000000, 0xffffffff, 0x100000000ULL,
	0x100000001ULL, 0x7fffffffffffffffULL, 0x8000000000000000ULL,
	0xfffffffffffffffeULL, 0xffffffffffffffffULL, 1ULL << 40,
	(1ULL << 40) - 1, 0x123456789abcdefULL,
};

static const uint32_t edge_u32[] = {
	1, 2, 3, 0x7fffffff, 0x80000000, 0x80000001, 0xaaaaaaaa, 0xc53774d1,
	0xfffffffe, 0xffffffff,
};

/* ---- Mirrors ---- */

static void check_scale_delta(uint64_t delta, uint32_t mul, int shift)
{
	uint64_t got = pvclock_ref_scale_delta(delta, mul, (int8_t)shift);
	uint64_t want = model_scale_delta(delta, mul, shift);

	CHECK(got == want, "scale_delta(%#" PRIx64 ", %#x, %d) = %" PRIu64
	      ", model %" PRIu64, delta, mul, shift, got, want);
}

static void test_scale_delta(void)
{
	uint64_t rng = 1, i;
	unsigned int d, m;
	int shift;

	/* every shift a pvti can hold, the pre-shift's 64-bit edges too */
	for (shift = INT8_MIN; shift <= INT8_MAX; shift++)
		for (d = 0; d < ARRAY_SIZE(edge_u64); d++)
			for (m = 0; m < ARRAY_SIZE(edge_u32); m++)
				check_scale_delta(edge_u64[d], edge_u32[m], shift);
	for (i = 0; i < 10000000 * scale; i++) {
		/* Realistic deltas are small: vary the magnitude. */
		uint64_t delta = rng_magnitude(&rng, 0, 63);
		uint32_t mul = (uint32_t)rng_next(&rng);

		check_scale_delta(delta, mul, (int)rng_range(&rng, 0, 62) - 31);
	}
}

static void check_time_scale(uint64_t scaled_hz, uint64_t base_hz)
{
	int8_t shift, want_shift;
	uint32_t mul, want_mul;

	pvclock_ref_time_scale(scaled_hz, base_hz, &shift, &mul);
	model_time_scale(scaled_hz, base_hz, &want_shift, &want_mul);
	CHECK(shift == want_shift && mul == want_mul,
	      "time_scale(%" PRIu64 ", %" PRIu64 ") = (%d, %#x), model (%d, %#x)",
	      scaled_hz, base_hz, shift, mul, want_shift, want_mul);
}

/* The scale must also convert: base_hz ticks come out as about scaled_hz. */
static void check_time_scale_converts(uint64_t scaled_hz, uint64_t base_hz)
{
	int8_t shift;
	uint32_t mul;
	uint64_t got;

	pvclock_ref_time_scale(scaled_hz, base_hz, &shift, &mul);
	CHECK(shift >= -31 && shift <= 31, "shift %d out of range", shift);
	got = model_scale_delta(base_hz, mul, shift);
	/* Both truncations, of the base and of mul, are relative 2^-31. */
	CHECK((got > scaled_hz ? got - scaled_hz : scaled_hz - got) <=
	      (scaled_hz >> 29) + 2,
	      "%" PRIu64 " Hz ticks of one second scale to %" PRIu64
	      ", want about %" PRIu64, base_hz, got, scaled_hz);
}

static void test_time_scale_vectors(void)
{
	int8_t shift;
	uint32_t mul;

	/* 1 GHz: one tick is exactly one ns, mul << shift == 2^32. */
	pvclock_ref_time_scale(1000000000, 1000000000, &shift, &mul);
	CHECK(shift == 1 && mul == 0x80000000, "1 GHz: %d %#x", shift, mul);
	/* 3 GHz: a third of a ns per tick, halved once. */
	pvclock_ref_time_scale(1000000000, 3000000000ULL, &shift, &mul);
	CHECK(shift == -1 && mul == 0xaaaaaaaa, "3 GHz: %d %#x", shift, mul);
	/* This project's hosts, as tools/sweep_rates.h gives their rate. */
	pvclock_ref_time_scale(1000000000, 2596130000ULL, &shift, &mul);
	CHECK(shift == -1 && mul == 0xc53774d1, "2596130 kHz: %d %#x", shift,
	      mul);
	/* What KVM itself put in a guest's pvti here, at 2596150 kHz. */
	pvclock_ref_time_scale(1000000000, 2596150000ULL, &shift, &mul);
	CHECK(shift == -1 && mul == 0xc5371140, "2596150 kHz: %d %#x", shift,
	      mul);
	/* ns to TSC, as KVM also uses it: 1 GHz the other way round. */
	pvclock_ref_time_scale(1000000000, 1000000000, &shift, &mul);
	CHECK(model_scale_delta(123456789, mul, shift) == 123456789,
	      "1 GHz does not convert exactly");
}

static void test_time_scale_model(void)
{
	static const uint64_t edges[] = {
		1000, 1001, 999999, 1000000000, 999999999, 1000000001,
		2596130000ULL, 3000000000ULL, 0x7fffffff, 0x80000000,
		0x80000001, 0xffffffff, 0x100000000ULL, 0x100000001ULL,
		0x1ffffffffULL, 1000000000000ULL, 999999999999ULL,
	};
	uint64_t rng = 2, i;
	unsigned int a, b;

	for (a = 0; a < ARRAY_SIZE(edges); a++) {
		for (b = 0; b < ARRAY_SIZE(edges); b++) {
			check_time_scale(edges[a], edges[b]);
			check_time_scale_converts(edges[a], edges[b]);
		}
	}
	for (i = 0; i < 4000000 * scale; i++) {
		/* Log-uniform over [1 kHz, 1 THz], both ways round. */
		uint64_t x = rng_range(&rng, 1000, 1000000000000ULL);
		uint64_t y = rng_range(&rng, 1000, 1000000000000ULL);

		x >>= rng_range(&rng, 0, 29);
		y >>= rng_range(&rng, 0, 29);
		x = x < 1000 ? 1000 + x : x;
		y = y < 1000 ? 1000 + y : y;
		check_time_scale(x, y);
		check_time_scale(y, x);
		if (i % 8 == 0)
			check_time_scale_converts(x, y);
	}
}

static void check_scale_tsc(uint64_t tsc, uint64_t ratio, unsigned int bits)
{
	uint64_t got = pvclock_ref_scale_tsc(tsc, ratio, bits);
	uint64_t want = model_scale_tsc(tsc, ratio, bits);

	CHECK(got == want, "scale_tsc(%#" PRIx64 ", %#" PRIx64 ", %u) = %#"
	      PRIx64 ", model %#" PRIx64, tsc, ratio, bits, got, want);
}

static void test_scale_tsc(void)
{
	static const unsigned int bits[] = { 32, 48 };
	uint64_t rng = 3, i;
	unsigned int t, r, b;

	for (b = 0; b < 2; b++) {
		for (t = 0; t < ARRAY_SIZE(edge_u64); t++) {
			uint64_t one = 1ULL << bits[b];

			CHECK(pvclock_ref_scale_tsc(edge_u64[t], one, bits[b]) ==
			      edge_u64[t], "ratio 1.0 is not the identity");
			for (r = 0; r < ARRAY_SIZE(edge_u64); r++)
				check_scale_tsc(edge_u64[t], edge_u64[r], bits[b]);
		}
	}
	for (i = 0; i < 4000000 * scale; i++) {
		unsigned int fb = bits[i & 1];
		/* Ratios between 1/16 and 16, as TSC scaling allows. */
		uint64_t ratio = rng_range(&rng, 1ULL << (fb - 4),
					   1ULL << (fb + 4));

		check_scale_tsc(rng_magnitude(&rng, 0, 63), ratio, fb);
	}
}

static void test_read_and_frac(void)
{
	uint64_t rng = 4, i;

	for (i = 0; i < 4000000 * scale; i++) {
		struct pvclock_ref_clock c;
		uint64_t tsc;

		c.tsc_timestamp = rng_next(&rng);
		c.system_time = rng_next(&rng);
		c.mul = (uint32_t)rng_next(&rng) | 1;
		c.shift = (int8_t)(rng_range(&rng, 0, 62) - 31);
		tsc = c.tsc_timestamp + rng_magnitude(&rng, 0, 63);

		CHECK(pvclock_ref_read(&c, tsc) == model_read(&c, tsc),
		      "read differs from the model");
		CHECK(pvclock_ref_frac(&c, tsc) == model_frac(&c, tsc),
		      "frac differs from the model");
	}
}

/* ---- The minimum of a linear function modulo 2^32 ---- */

static void check_min_mulmod(uint32_t first, uint32_t step, uint64_t count)
{
	uint64_t got_i, want_i;
	uint32_t got = pvclock_ref_min_mulmod(first, step, count, &got_i);
	uint32_t want = model_min_mulmod(first, step, count, &want_i);

	CHECK(got == want && got_i == want_i,
	      "min_mulmod(%#x, %#x, %" PRIu64 ") = %#x at %" PRIu64
	      ", brute force %#x at %" PRIu64, first, step, count, got, got_i,
	      want, want_i);
}

/*
 * For a step with many trailing zeros the sequence repeats within a short
 * period: brute force over one period, then the last repeat in range.
 */
static void check_min_mulmod_periodic(uint32_t first, uint32_t step,
				      uint64_t count)
{
	uint64_t period = 1ULL << model_zero_period_log2(step, 0);
	uint64_t got_i, want_i;
	uint32_t got, want;

	/* Within one period each value occurs once. */
	want = model_min_mulmod(first, step, count < period ? count : period,
				&want_i);
	want_i += (count - 1 - want_i) / period * period;
	got = pvclock_ref_min_mulmod(first, step, count, &got_i);
	CHECK(got == want && got_i == want_i,
	      "min_mulmod(%#x, %#x, %" PRIu64 ") = %#x at %" PRIu64
	      ", want %#x at %" PRIu64, first, step, count, got, got_i, want,
	      want_i);
}

static void test_min_mulmod(void)
{
	uint64_t rng = 5, i;
	unsigned int a, b;

	for (a = 0; a < ARRAY_SIZE(edge_u32); a++)
		for (b = 0; b < ARRAY_SIZE(edge_u32); b++)
			check_min_mulmod(edge_u32[a], edge_u32[b], 3000);
	check_min_mulmod(12345, 0, 77);
	for (i = 0; i < 60000 * scale; i++) {
		uint32_t step = (uint32_t)rng_next(&rng);
		uint32_t first = (uint32_t)rng_next(&rng);

		/* Steps near simple fractions of 2^32 are the hard ones. */
		if (i % 3 == 0) {
			step = (uint32_t)(0xffffffffULL / rng_range(&rng, 1, 12));
			step += (uint32_t)rng_range(&rng, 0, 8) - 4;
		}
		check_min_mulmod(first, step, rng_range(&rng, 1, 3000));
	}
	for (i = 0; i < 10 * scale; i++) {
		uint32_t step = (uint32_t)rng_next(&rng);
		uint32_t first = (uint32_t)rng_next(&rng);

		check_min_mulmod(first, step, rng_range(&rng, 1, 1 << 22));
	}
	for (i = 0; i < 20000 * scale; i++) {
		unsigned int twos = (unsigned int)rng_range(&rng, 17, 32);
		uint32_t step = twos == 32 ? 0 :
				((uint32_t)rng_next(&rng) | 1) << twos;
		uint32_t first = (uint32_t)rng_next(&rng);

		check_min_mulmod_periodic(first, step,
					  rng_range(&rng, 1, 1ULL << 40));
	}
}

/* ---- Choosing the reference ---- */

static void random_clock(uint64_t *rng, int min_shift, int max_shift,
			 struct pvclock_ref_clock *c)
{
	static const uint32_t special[] = {
		0xaaaaaaaa, 0x80000000, 0xc53774d1, 0xa0000000, 0xffffffff,
	};

	c->tsc_timestamp = rng_next(rng);
	c->system_time = rng_next(rng);
	c->shift = (int8_t)rng_range(rng, min_shift + 64, max_shift + 64) - 64;
	c->mul = (uint32_t)rng_next(rng) | 0x80000000;
	if (rng_next(rng) % 4 == 0)
		c->mul = special[rng_next(rng) % ARRAY_SIZE(special)];
	/* few distinct remainders: windows span many of their periods */
	if (rng_next(rng) % 8 == 0)
		c->mul &= ~0U << rng_range(rng, 20, 31);
	c->flags = (uint8_t)rng_next(rng);
}

/* Identity, a slower guest (ratio <= 1.0), or a faster one. */
static void random_map(uint64_t *rng, struct pvclock_ref_map *map)
{
	/* faster guests, in quarters: 1.25, 1.5, 2, 3, 4 */
	static const uint64_t faster[] = { 5, 6, 8, 12, 16 };
	unsigned int kind = (unsigned int)(rng_next(rng) % 4);

	pvclock_ref_map_identity(map);
	map->frac_bits = rng_next(rng) & 1 ? 48 : 32;
	map->ratio = 1ULL << map->frac_bits;
	if (kind == 1)
		map->ratio = rng_range(rng, map->ratio / 2, map->ratio);
	else if (kind == 2)
		map->ratio = rng_range(rng, map->ratio / 1000, map->ratio / 3);
	else if (kind == 3)
		map->ratio = rng_range(rng, map->ratio, map->ratio * 3);
	/* simple ratios give the skipped guest TSCs a pattern */
	if (kind == 3 && rng_next(rng) & 1) {
		uint64_t quarters = faster[rng_next(rng) % ARRAY_SIZE(faster)];

		map->ratio = (quarters << map->frac_bits) / 4;
		map->ratio += rng_next(rng) % 3 == 0;
	}
}

/* Where the window's newest candidate lies relative to the old reference. */
static int64_t random_end_distance(uint64_t *rng, uint64_t width)
{
	switch (rng_next(rng) % 5) {
	case 0:	/* straddling the old reference */
		return (int64_t)rng_range(rng, 0, 3 * width) - (int64_t)width;
	case 1:	/* entirely before it */
		return -(int64_t)rng_range(rng, 1, 1ULL << 50);
	case 2:	/* around the sign boundary of d1 */
		return INT64_MAX - (int64_t)rng_range(rng, 0, 2 * width) +
		       (int64_t)width;
	default:
		return (int64_t)rng_range(rng, width, 1ULL << 50);
	}
}

static void compare_choices(const struct pvclock_ref_clock *old,
			    const struct pvclock_ref_map *map, uint64_t end,
			    uint64_t width, enum pvclock_ref_method method)
{
	struct pvclock_ref_choice got, want = { 0 };
	struct pvclock_ref_clock got_new, want_new;
	int got_rc = pvclock_ref_choose(old, map, end, width, method, &got);
	int want_rc = model_choose(old, map, end, width, &want);

	CHECK(got_rc == want_rc,
	      "method %d: rc %d, brute force %d (shift %d, width %" PRIu64 ")",
	      method, got_rc, want_rc, old->shift, width);
	if (got_rc || want_rc)
		return;
	CHECK(got.host_tsc == want.host_tsc && got.guest_tsc == want.guest_tsc &&
	      got.remainder == want.remainder && got.aligned,
	      "method %d picks host %" PRIu64 " r %#x, brute force %" PRIu64
	      " r %#x (shift %d mul %#x ratio %#" PRIx64 "/%u width %" PRIu64
	      ")", method, got.host_tsc, got.remainder, want.host_tsc,
	      want.remainder, old->shift, old->mul, map->ratio, map->frac_bits,
	      width);
	pvclock_ref_rebase(old, got.guest_tsc, &got_new);
	model_rebase(old, want.guest_tsc, &want_new);
	CHECK(!memcmp(&got_new, &want_new, sizeof(got_new)),
	      "rebased pvti differs: system_time %" PRIu64 " vs %" PRIu64,
	      got_new.system_time, want_new.system_time);
}

static void test_exact_and_scan_vs_brute_force(void)
{
	uint64_t rng = 6, i;

	for (i = 0; i < 100000 * scale; i++) {
		struct pvclock_ref_clock old;
		struct pvclock_ref_map map;
		uint64_t width = rng_range(&rng, 1, i % 10 ? 300 : 10000);
		uint64_t end = rng_range(&rng, width, UINT64_MAX);
		int64_t distance = random_end_distance(&rng, width);

		random_clock(&rng, -3, 3, &old);
		random_map(&rng, &map);
		/* Place the window by the offset; offsets wrap freely. */
		map.offset = old.tsc_timestamp + (uint64_t)distance -
			     model_scale_tsc(end, map.ratio, map.frac_bits);
		compare_choices(&old, &map, end, width, PVCLOCK_REF_EXACT);
		if (i % 4 == 0)
			compare_choices(&old, &map, end, width, PVCLOCK_REF_SCAN);
	}
}

static void test_naive_and_seed(void)
{
	uint64_t rng = 7, i;

	for (i = 0; i < 20000 * scale; i++) {
		struct pvclock_ref_clock old;
		struct pvclock_ref_map map;
		struct pvclock_ref_choice got;
		uint64_t width = rng_range(&rng, 1, 200);
		uint64_t end = rng_range(&rng, width, UINT64_MAX);
		uint64_t best_host = 0, d1;
		int rc, want_rc;

		random_clock(&rng, -3, 3, &old);
		random_map(&rng, &map);
		map.offset = old.tsc_timestamp - model_scale_tsc(end, map.ratio,
								 map.frac_bits) +
			     (uint64_t)random_end_distance(&rng, width);

		d1 = model_guest_tsc(&map, end) - old.tsc_timestamp;
		rc = pvclock_ref_choose(&old, &map, end, width,
					PVCLOCK_REF_NAIVE, &got);
		CHECK(rc == (d1 >> 63 ? PVCLOCK_REF_ENOCAND : 0), "naive rc %d",
		      rc);
		CHECK(rc || (got.host_tsc == end &&
			     got.remainder == model_delta_frac(d1, old.mul,
							       old.shift) &&
			     got.aligned == !(d1 % (1ULL << model_align(old.shift)))),
		      "naive choice wrong");

		/* The seed rule: smallest post-shift fraction, unaligned. */
		want_rc = model_seed_choose(&old, &map, end, width, &best_host);
		rc = pvclock_ref_choose(&old, &map, end, width,
					PVCLOCK_REF_SEED, &got);
		CHECK(rc == want_rc, "seed rc %d, brute force %d", rc, want_rc);
		CHECK(rc || got.host_tsc == best_host, "seed picks %" PRIu64
		      ", brute force %" PRIu64, got.host_tsc, best_host);
	}
}

static void test_bad_input(void)
{
	struct pvclock_ref_clock good = { .mul = 0x80000000, .shift = 1 };
	struct pvclock_ref_clock c = good;
	struct pvclock_ref_map map, m;
	struct pvclock_ref_choice ch;

	pvclock_ref_map_identity(&map);
	m = map;
#define EXPECT(rc, clk, mp, end, width, method)				\
	CHECK(pvclock_ref_choose(clk, mp, end, width, method, &ch) == (rc), \
	      "%s", #clk " " #end " " #width " " #method)
	EXPECT(0, &good, &map, 100, 100, PVCLOCK_REF_EXACT);
	EXPECT(PVCLOCK_REF_EINVAL, &good, &map, 100, 0, PVCLOCK_REF_EXACT);
	EXPECT(PVCLOCK_REF_EINVAL, &good, &map, 100, 102, PVCLOCK_REF_SCAN);
	EXPECT(PVCLOCK_REF_EINVAL, &good, &map, UINT64_MAX, (1ULL << 40) + 1,
	       PVCLOCK_REF_EXACT);
	EXPECT(0, &good, &map, 1ULL << 41, 1ULL << 40, PVCLOCK_REF_EXACT);
	EXPECT(PVCLOCK_REF_EINVAL, &good, &map, 100, 1, 42);
	c.mul = 0;
	EXPECT(PVCLOCK_REF_EINVAL, &c, &map, 100, 1, PVCLOCK_REF_NAIVE);
	c = good;
	c.shift = 32;
	EXPECT(PVCLOCK_REF_EINVAL, &c, &map, 100, 1, PVCLOCK_REF_NAIVE);
	c.shift = -32;
	EXPECT(PVCLOCK_REF_EINVAL, &c, &map, 100, 1, PVCLOCK_REF_NAIVE);
	m.ratio = 0;
	EXPECT(PVCLOCK_REF_EINVAL, &good, &m, 100, 1, PVCLOCK_REF_NAIVE);
	m = map;
	m.frac_bits = 64;
	EXPECT(PVCLOCK_REF_EINVAL, &good, &m, 100, 1, PVCLOCK_REF_NAIVE);
	/* Everything before the old reference: no candidate, every method. */
	c = good;
	c.tsc_timestamp = 1000;
	EXPECT(PVCLOCK_REF_ENOCAND, &c, &map, 999, 1000, PVCLOCK_REF_NAIVE);
	EXPECT(PVCLOCK_REF_ENOCAND, &c, &map, 999, 1000, PVCLOCK_REF_SCAN);
	EXPECT(PVCLOCK_REF_ENOCAND, &c, &map, 999, 1000, PVCLOCK_REF_EXACT);
	EXPECT(PVCLOCK_REF_ENOCAND, &c, &map, 999, 1000, PVCLOCK_REF_SEED);
	/* One unaligned candidate at shift -2: naive takes it, exact cannot. */
	c.shift = -2;
	EXPECT(0, &c, &map, 1001, 1, PVCLOCK_REF_NAIVE);
	CHECK(!ch.aligned, "an unaligned naive choice must say so");
	EXPECT(PVCLOCK_REF_ENOCAND, &c, &map, 1001, 1, PVCLOCK_REF_EXACT);
	EXPECT(PVCLOCK_REF_ENOCAND, &c, &map, 1003, 3, PVCLOCK_REF_SCAN);
	EXPECT(0, &c, &map, 1004, 3, PVCLOCK_REF_EXACT);
	CHECK(ch.guest_tsc == 1004 && ch.aligned, "aligned choice wrong");
#undef EXPECT
}

/* ---- The zero-remainder period ---- */

static void check_zero_period(uint32_t mul, int shift)
{
	unsigned int got = pvclock_ref_zero_period_log2(mul, (int8_t)shift);
	unsigned int want = model_zero_period_log2(mul, shift);
	unsigned int k = model_align(shift);
	uint64_t half;

	CHECK(got == want, "zero_period_log2(%#x, %d) = %u, model %u", mul,
	      shift, got, want);
	if (want >= 64 || shift > PVCLOCK_REF_MAX_SHIFT)
		return;
	/* the clock itself: no fraction there, and some half way if aligned */
	CHECK(!model_delta_frac(1ULL << want, mul, shift),
	      "mul %#x shift %d: a fraction 2^%u ticks on", mul, shift, want);
	half = want > k ? 1ULL << (want - 1) : 0;
	CHECK(!half || model_delta_frac(half, mul, shift),
	      "mul %#x shift %d: no fraction 2^%u ticks on either", mul, shift,
	      want - 1);
}

static void test_zero_period(void)
{
	static const struct {
		uint32_t mul;
		int shift;
		unsigned int log2;
	} vectors[] = {
		{ 0x80000000, 1, 0 },	/* 1 GHz: every tick a whole ns */
		{ 0xaaaaaaaa, -1, 32 },	/* 3 GHz */
		{ 0xc53774d1, -1, 33 },	/* 2596130 kHz, an odd mul */
		{ 3, 31, 1 },
		{ 1, 32, 0 },		/* every bit of mul shifted out */
		{ 0xffffffff, 127, 0 },
		{ 0, -5, 5 },		/* M = 0: every aligned candidate */
		{ 1, -128, 160 },
	};
	uint64_t rng = 15, i;
	unsigned int v, m;
	int shift;

	for (v = 0; v < ARRAY_SIZE(vectors); v++) {
		CHECK(model_zero_period_log2(vectors[v].mul, vectors[v].shift) ==
		      vectors[v].log2, "model: vector %u", v);
		CHECK(pvclock_ref_zero_period_log2(vectors[v].mul,
						   (int8_t)vectors[v].shift) ==
		      vectors[v].log2, "library: vector %u", v);
	}
	for (shift = INT8_MIN; shift <= INT8_MAX; shift++) {
		check_zero_period(0, shift);
		for (m = 0; m < ARRAY_SIZE(edge_u32); m++)
			check_zero_period(edge_u32[m], shift);
	}
	for (i = 0; i < 1000000 * scale; i++) {
		/* every count of trailing zeros, mostly valid shifts */
		uint32_t mul = (uint32_t)rng_next(&rng) << rng_range(&rng, 0, 31);

		shift = (int)rng_range(&rng, 0, 62) - 31;
		if (i % 8 == 0)
			shift = (int)rng_range(&rng, 0, 255) + INT8_MIN;
		check_zero_period(mul, shift);
	}
}

/* ---- The pvti ---- */

/* A pvti's bytes as the ABI lays them out, built without the struct. */
static void pvti_bytes(uint8_t raw[32], uint32_t version,
		       const struct pvclock_ref_clock *c)
{
	memset(raw, 0x5a, 32);
	memcpy(raw, &version, 4);
	memcpy(raw + 8, &c->tsc_timestamp, 8);
	memcpy(raw + 16, &c->system_time, 8);
	memcpy(raw + 24, &c->mul, 4);
	memcpy(raw + 28, &c->shift, 1);
	memcpy(raw + 29, &c->flags, 1);
}

static bool same_clock(const struct pvclock_ref_clock *a,
		       const struct pvclock_ref_clock *b)
{
	return a->tsc_timestamp == b->tsc_timestamp &&
	       a->system_time == b->system_time && a->mul == b->mul &&
	       a->shift == b->shift && a->flags == b->flags;
}

static void test_pvti_conversion(void)
{
	static const uint8_t zero[4];
	uint64_t rng = 16, i;

	for (i = 0; i < 100000; i++) {
		struct pvclock_ref_clock c, back;
		struct pvclock_ref_pvti p;
		uint8_t raw[32], out[32];

		random_clock(&rng, -31, 31, &c);
		c.shift = (int8_t)rng_next(&rng);
		/* from the ABI's bytes */
		pvti_bytes(raw, (uint32_t)i, &c);
		memcpy(&p, raw, sizeof(p));
		pvclock_ref_from_pvti(&p, &back);
		CHECK(same_clock(&c, &back), "from_pvti misreads the ABI layout");
		/* to the ABI's bytes: version and padding zero */
		memset(&p, 0xa5, sizeof(p));
		pvclock_ref_to_pvti(&c, &p);
		memcpy(out, &p, sizeof(out));
		pvti_bytes(raw, 0, &c);
		CHECK(!memcmp(out, raw, 4) && !memcmp(out + 4, zero, 4) &&
		      !memcmp(out + 8, raw + 8, 22) && !memcmp(out + 30, zero, 2),
		      "to_pvti writes other bytes than the ABI's");
	}
}

static void test_pvti_read_versions(void)
{
	static const uint32_t versions[] = { 0, 1, 2, 3, 0xfffffffe, 0xffffffff };
	struct pvclock_ref_clock c, got;
	struct pvclock_ref_pvti p;
	uint64_t rng = 17;
	uint8_t raw[32];
	uint32_t version;
	unsigned int v;
	bool ok;

	for (v = 0; v < ARRAY_SIZE(versions); v++) {
		random_clock(&rng, -31, 31, &c);
		pvti_bytes(raw, versions[v], &c);
		memcpy(&p, raw, sizeof(p));
		version = ~versions[v];
		ok = pvclock_ref_pvti_read(&p, &got, &version);
		CHECK(ok == !(versions[v] & 1), "version %#x: read %s",
		      versions[v], ok ? "taken" : "refused");
		CHECK(version == versions[v], "version %#x reported as %#x",
		      versions[v], version);
		CHECK(!ok || same_clock(&c, &got), "version %#x: fields differ",
		      versions[v]);
	}
}

/*
 * A writer that updates the pvti half way through a read: the page lies
 * across a page boundary, system_time on the second page, which is
 * inaccessible.  The reader's load of system_time faults, and the handler,
 * the writer, makes a whole update (the next even version, a new
 * system_time) and lets the load go on.  The read must then be refused,
 * which it only is when the second version load follows the field loads,
 * as written: deterministic, where a real writer thread all but never
 * lands between loads that one cache line serves.
 */
static struct {
	struct pvclock_ref_pvti *page;
	void *second;		/* the page holding system_time */
	size_t size;
	unsigned int writes;
} midway;

static void midway_writer(int sig, siginfo_t *info, void *ucontext)
{
	(void)sig;
	(void)ucontext;
	if (info->si_addr != &midway.page->system_time ||
	    mprotect(midway.second, midway.size, PROT_READ | PROT_WRITE))
		abort();
	midway.page->version += 2;
	midway.page->system_time++;
	midway.writes++;
}

static void test_pvti_read_midway(void)
{
	struct sigaction sa = { .sa_sigaction = midway_writer,
				.sa_flags = SA_SIGINFO }, old_sa;
	struct pvclock_ref_clock c = { 1000, 5000, 0x80000000, 1, 1 }, got;
	uint32_t version;
	char *map;
	bool ok;

	midway.size = (size_t)sysconf(_SC_PAGESIZE);
	map = mmap(NULL, 2 * midway.size, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (map == MAP_FAILED) {
		CHECK(0, "mmap failed");
		return;
	}
	midway.page = (struct pvclock_ref_pvti *)(map + midway.size - 16);
	midway.second = map + midway.size;
	pvti_bytes((uint8_t *)midway.page, 2, &c);
	sigaction(SIGSEGV, &sa, &old_sa);
	CHECK(!mprotect(midway.second, midway.size, PROT_NONE), "mprotect");
	ok = pvclock_ref_pvti_read(midway.page, &got, &version);
	CHECK(midway.writes == 1, "%u writes, not one", midway.writes);
	CHECK(!ok && version == 2,
	      "a read that an update overlapped was %s (version %u)",
	      ok ? "taken" : "refused", version);
	/* the next attempt sees the update whole */
	ok = pvclock_ref_pvti_read(midway.page, &got, &version);
	c.system_time++;
	CHECK(ok && version == 4 && same_clock(&got, &c),
	      "the read after the update is wrong");
	sigaction(SIGSEGV, &old_sa, NULL);
	munmap(map, 2 * midway.size);
}

/* ---- What the guest sees ---- */

/*
 * Reads at T1 + 7i + (i mod 5), the sweep's pattern
 * (Documentation/pvclock-reference-updates.rst, section 4); returns the worst.
 */
static uint64_t count_differing_reads(const struct pvclock_ref_clock *old,
				      const struct pvclock_ref_clock *new_clk,
				      uint64_t reads, uint64_t *differing)
{
	uint64_t worst = 0, i;

	*differing = 0;
	for (i = 0; i < reads; i++) {
		uint64_t t = new_clk->tsc_timestamp + 7 * i + i % 5;
		uint64_t diff = model_read(old, t) - model_read(new_clk, t);

		if (diff) {
			(*differing)++;
			if (diff > worst)
				worst = diff;
		}
	}
	return worst;
}

static void check_zero_disruption(uint64_t *rng, uint32_t mul, int shift)
{
	struct pvclock_ref_clock old = { .mul = mul, .shift = (int8_t)shift };
	uint64_t width = 1ULL << 34, differing, i, end;
	struct pvclock_ref_map map;
	struct pvclock_ref_choice ch;
	struct pvclock_ref_clock new_clk;

	old.tsc_timestamp = rng_next(rng);
	old.system_time = rng_next(rng);
	/* The window starts at least 2^40 ticks after the old reference. */
	end = old.tsc_timestamp + (1ULL << 40) + width - 1 +
	      rng_range(rng, 0, 1ULL << 41);
	pvclock_ref_map_identity(&map);
	if (end < width) {	/* keep clear of the 64-bit wrap */
		old.tsc_timestamp -= 1ULL << 62;
		end -= 1ULL << 62;
	}
	CHECK(!pvclock_ref_choose(&old, &map, end, width, PVCLOCK_REF_EXACT, &ch),
	      "no choice");
	CHECK(ch.remainder == 0 && ch.aligned,
	      "mul %#x shift %d: remainder %#x over 2^34", mul, shift,
	      ch.remainder);
	CHECK(ch.guest_tsc - old.tsc_timestamp >= 1ULL << 40,
	      "the choice fell back near the old reference");
	pvclock_ref_rebase(&old, ch.guest_tsc, &new_clk);
	CHECK(count_differing_reads(&old, &new_clk, 1000000, &differing) == 0,
	      "mul %#x shift %d: %" PRIu64 " of 1000000 reads differ", mul,
	      shift, differing);
	/* and far later reads, up to 2^50 ticks on */
	for (i = 0; i < 1000; i++) {
		uint64_t t = ch.guest_tsc + (rng_next(rng) >> 14);

		CHECK(model_read(&old, t) == model_read(&new_clk, t),
		      "mul %#x shift %d: read %" PRIu64 " ticks on differs",
		      mul, shift, t - ch.guest_tsc);
	}
}

static void test_zero_disruption(void)
{
	uint64_t rng = 8;
	unsigned int i;

	for (i = 0; i < SWEEP_RATES; i++) {
		int8_t shift;
		uint32_t mul;

		model_time_scale(1000000000,
				 sweep_rate_khz(i, SWEEP_DEFAULT_SEED) * 1000ULL,
				 &shift, &mul);
		check_zero_disruption(&rng, mul, shift);
	}
	for (i = 0; i < 1000 * scale; i++) {
		uint32_t mul = (uint32_t)rng_next(&rng) | 1;

		check_zero_disruption(&rng, mul, (int)rng_range(&rng, 0, 4) - 2);
	}
}

/*
 * On an aligned candidate the clocks differ by exactly the carry of the two
 * dropped fractions: D = 1 iff frac(old, T1) + frac(new, t) >= 2^32.
 */
static void test_difference_is_the_carry(void)
{
	uint64_t rng = 9, i;

	for (i = 0; i < 2000000 * scale; i++) {
		struct pvclock_ref_clock old, new_clk;
		uint64_t d1, t, diff, carry;

		random_clock(&rng, -3, 3, &old);
		d1 = rng_magnitude(&rng, 19, 63) << model_align(old.shift);
		t = old.tsc_timestamp + d1 + rng_magnitude(&rng, 19, 63);
		pvclock_ref_rebase(&old, old.tsc_timestamp + d1, &new_clk);
		diff = model_read(&old, t) - model_read(&new_clk, t);
		carry = ((uint64_t)model_frac(&old, new_clk.tsc_timestamp) +
			 model_frac(&new_clk, t)) >> 32;
		CHECK(diff == carry, "shift %d: difference %" PRIu64
		      ", carry %" PRIu64, old.shift, diff, carry);
	}
}

/* Off the 2^k grid the two clocks step at different ticks: up to 2 ns. */
static void test_unaligned_reaches_two(void)
{
	uint64_t rng = 10;
	int shift;

	for (shift = -2; shift <= -1; shift++) {
		uint64_t seen[4] = { 0 }, i;

		for (i = 0; i < 200000 * scale; i++) {
			struct pvclock_ref_clock old, new_clk;
			uint64_t d1, t, diff;

			random_clock(&rng, shift, shift, &old);
			d1 = rng_next(&rng) >> 24;
			t = old.tsc_timestamp + d1 + (rng_next(&rng) >> 24);
			pvclock_ref_rebase(&old, old.tsc_timestamp + d1,
					   &new_clk);
			diff = model_read(&old, t) - model_read(&new_clk, t);
			CHECK(diff <= 2, "shift %d: difference %" PRIu64, shift,
			      diff);
			seen[diff <= 2 ? diff : 3]++;
			/* aligned, the same clocks never reach 2 */
			d1 &= ~((1ULL << -shift) - 1);
			pvclock_ref_rebase(&old, old.tsc_timestamp + d1,
					   &new_clk);
			CHECK(model_read(&old, t) - model_read(&new_clk, t) <= 1,
			      "aligned candidate differs by more than 1 ns");
		}
		CHECK(seen[2] > 0, "shift %d: no unaligned read differed by 2 ns",
		      shift);
		printf("# shift %d, unaligned references: %" PRIu64
		       " reads 0 ns, %" PRIu64 " 1 ns, %" PRIu64 " 2 ns off\n",
		       shift, seen[0], seen[1], seen[2]);
	}
}

/* ---- First divergence ---- */

static bool reads_differ(const struct pvclock_ref_clock *old,
			 const struct pvclock_ref_clock *new_clk, uint64_t u)
{
	uint64_t t = new_clk->tsc_timestamp + u;

	return model_read(old, t) != model_read(new_clk, t);
}

#define BRUTE_TICKS 3000

/* How the first-divergence cases were settled: brute force, beyond, never. */
static uint64_t divergence_seen[3];

static void check_first_divergence(const struct pvclock_ref_clock *old,
				   const struct pvclock_ref_clock *new_clk,
				   uint64_t horizon, uint64_t *rng)
{
	uint64_t got = UINT64_MAX, want = UINT64_MAX, u, i;
	int rc = pvclock_ref_first_divergence(old, new_clk, &got);
	uint64_t limit = horizon < BRUTE_TICKS ? horizon : BRUTE_TICKS;

	CHECK(rc == 0 || rc == PVCLOCK_REF_NEVER, "rc %d", rc);
	if (rc == PVCLOCK_REF_NEVER)
		got = UINT64_MAX;
	for (u = 0; u <= limit; u++) {
		if (reads_differ(old, new_clk, u)) {
			want = u;
			break;
		}
	}
	divergence_seen[got == UINT64_MAX ? 2 : got <= limit ? 0 : 1]++;
	if (want != UINT64_MAX || got <= limit) {
		CHECK(got == want,
		      "shift %d mul %#x d1 %" PRIu64 ": first divergence %"
		      PRIu64 ", brute force %" PRIu64, old->shift, old->mul,
		      new_clk->tsc_timestamp - old->tsc_timestamp, got, want);
		return;
	}
	/* Beyond brute force: it differs there, and at no sampled tick before. */
	if (got != UINT64_MAX) {
		CHECK(got <= horizon && reads_differ(old, new_clk, got),
		      "no divergence at the tick reported");
		CHECK(!reads_differ(old, new_clk, got - 1),
		      "divergence just before the tick reported");
	}
	/* u up to horizon is in range: sample below the first divergence */
	for (i = 0; i < 200 && got; i++) {
		u = rng_range(rng, 0, got == UINT64_MAX ? horizon : got - 1);
		CHECK(!reads_differ(old, new_clk, u), "%" PRIu64
		      " ticks on the clocks differ, reported first: %" PRIu64
		      " (shift %d mul %#x)", u, got, old->shift, old->mul);
	}
}


static void test_first_divergence(void)
{
	uint64_t rng = 11, i;

	for (i = 0; i < 100000 * scale; i++) {
		struct pvclock_ref_clock old, new_clk;
		uint64_t d1 = rng_magnitude(&rng, 20, 63);
		uint64_t last;

		random_clock(&rng, -3, 3, &old);
		/* the old clock's delta may not pass this */
		last = UINT64_MAX >> (old.shift > 0 ? old.shift : 0);
		if (i % 3 == 0)	/* a candidate on the grid */
			d1 &= ~((1ULL << model_align(old.shift)) - 1);
		if (i % 50 == 0) {
			/* near the end of the 64-bit delta */
			d1 = last - rng_range(&rng, 0, 2 * BRUTE_TICKS);
			/* the last tick in range: apart there, or never */
			if (i % 200 == 0)
				d1 = last;
			if (d1 >> 63)
				d1 = (1ULL << 63) - 1 - rng_range(&rng, 0, 99);
		}
		model_rebase(&old, old.tsc_timestamp + d1, &new_clk);
		/* sometimes off by a ns or two, as a careless update would be */
		if (i % 4 == 0)
			new_clk.system_time += rng_range(&rng, 0, 4) - 2;
		check_first_divergence(&old, &new_clk, last - d1, &rng);
	}
	printf("# first divergence: %" PRIu64 " within %u ticks (brute force), %"
	       PRIu64 " beyond (sampled), %" PRIu64 " never\n",
	       divergence_seen[0], BRUTE_TICKS, divergence_seen[1],
	       divergence_seen[2]);
}

/* ---- Restoring a clock: inverse, TSC offset, difference range ---- */

/* The smallest delta at which the clock reads at least ns, by bisection. */
static uint64_t bisect_delta(const struct pvclock_ref_clock *c, uint64_t ns,
			     bool *found)
{
	uint64_t lo = 0, hi = model_max_delta(c->shift);

	*found = model_read(c, c->tsc_timestamp + hi) >= ns;
	if (!*found)
		return 0;
	while (lo < hi) {
		uint64_t mid = lo + (hi - lo) / 2;

		if (model_read(c, c->tsc_timestamp + mid) >= ns)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

static void check_inverse(const struct pvclock_ref_clock *c, uint64_t ns)
{
	uint64_t first = 0, last = 0, lo, hi, dmax = model_max_delta(c->shift);
	bool has_lo, has_hi, want;
	int ret = pvclock_ref_inverse(c, ns, &first, &last);

	if (ns < c->system_time) {
		CHECK(ret == PVCLOCK_REF_ENOCAND, "ns before system_time: %d",
		      ret);
		return;
	}
	lo = bisect_delta(c, ns, &has_lo);
	hi = ns == UINT64_MAX ? 0 : bisect_delta(c, ns + 1, &has_hi);
	if (ns == UINT64_MAX || !has_hi)
		hi = dmax + 1;
	want = has_lo && hi > lo;
	CHECK(want ? ret == 0 : ret == PVCLOCK_REF_ENOCAND,
	      "mul 0x%x shift %d ns +%" PRIu64 ": returned %d", c->mul,
	      c->shift, ns - c->system_time, ret);
	if (!want || ret)
		return;
	CHECK(first - c->tsc_timestamp == lo && last - c->tsc_timestamp == hi - 1,
	      "mul 0x%x shift %d: [%" PRIu64 ", %" PRIu64 "], model [%" PRIu64
	      ", %" PRIu64 "]", c->mul, c->shift, first - c->tsc_timestamp,
	      last - c->tsc_timestamp, lo, hi - 1);
	/* the ends read ns, their neighbours do not */
	CHECK(model_read(c, first) == ns && model_read(c, last) == ns,
	      "an end of the range does not read ns");
	CHECK(!lo || model_read(c, first - 1) < ns, "the range starts late");
	CHECK(hi - 1 == dmax || model_read(c, last + 1) > ns,
	      "the range ends early");
}

static void test_inverse(void)
{
	uint64_t rng = 12, i;
	unsigned int a, b;

	for (a = 0; a < ARRAY_SIZE(edge_u32); a++) {
		for (b = 0; b < ARRAY_SIZE(edge_u64); b++) {
			struct pvclock_ref_clock c = {
				.tsc_timestamp = edge_u64[(a + b) %
							  ARRAY_SIZE(edge_u64)],
				.system_time = 1000,
				.mul = edge_u32[a],
			};
			int shift;

			for (shift = -31; shift <= 31; shift += 5) {
				c.shift = (int8_t)shift;
				check_inverse(&c, 1000 + edge_u64[b]);
				check_inverse(&c, 999);
				check_inverse(&c, UINT64_MAX);
			}
		}
	}
	for (i = 0; i < 200000 * scale; i++) {
		struct pvclock_ref_clock c;
		uint64_t t;

		random_clock(&rng, -31, 31, &c);
		c.system_time >>= rng_range(&rng, 1, 63);
		if (i % 3)
			c.mul = (uint32_t)rng_next(&rng) | 1;
		/* a ns the clock reads, or any ns near it */
		t = c.tsc_timestamp + rng_magnitude(&rng, 1, 63);
		check_inverse(&c, model_read(&c, t) + rng_range(&rng, 0, 2) - 1);
	}
}

/* Every offset of [offset, offset + count) fits every sample, no other. */
static bool offset_fits(const struct pvclock_ref_clock *c,
			const struct pvclock_ref_sample *s, unsigned int n,
			uint64_t offset)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		uint64_t t = s[i].host_tsc + offset;

		if (t - c->tsc_timestamp > model_max_delta(c->shift) ||
		    model_read(c, t) != s[i].clock)
			return false;
	}
	return true;
}

static void test_tsc_offset(void)
{
	uint64_t rng = 13, i, hist[4] = { 0 };

	for (i = 0; i < 100000 * scale; i++) {
		struct pvclock_ref_sample s[16];
		struct pvclock_ref_clock c;
		uint64_t off = rng_next(&rng), host, lo = 0, count = 0, j;
		unsigned int n = (unsigned int)rng_range(&rng, 1, 16), k;
		int ret;

		random_clock(&rng, -3, 3, &c);
		c.system_time >>= 2;
		host = c.tsc_timestamp - off + rng_magnitude(&rng, 20, 63);
		for (k = 0; k < n; k++) {
			host += rng_range(&rng, 0, 1000000);
			s[k].host_tsc = host;
			s[k].clock = model_read(&c, host + off);
		}
		ret = pvclock_ref_tsc_offset(&c, s, n, &lo, &count);
		CHECK(ret == 0, "consistent samples rejected: %d", ret);
		if (ret)
			continue;
		CHECK(count >= 1 && off - lo < count,
		      "the true offset is not in the range");
		CHECK(offset_fits(&c, s, n, lo) &&
		      offset_fits(&c, s, n, lo + count - 1),
		      "an end of the range does not fit");
		CHECK(!offset_fits(&c, s, n, lo - 1) &&
		      !offset_fits(&c, s, n, lo + count),
		      "the range misses offsets that fit");
		for (j = 1; j + 1 < count && j < 64; j++)
			CHECK(offset_fits(&c, s, n, lo + j),
			      "an offset inside the range does not fit");
		hist[count < 4 ? count : 3]++;
		/* one sample a ns off: no offset fits them all, or others */
		s[n - 1].clock += rng_range(&rng, 0, 1) ? 1 : -1;
		ret = pvclock_ref_tsc_offset(&c, s, n, &lo, &count);
		if (!ret)
			CHECK(!(off - lo < count) && offset_fits(&c, s, n, lo),
			      "a wrong sample still allows the true offset");
	}
	CHECK(hist[1] > 0, "no exact offset found");
	printf("# tsc offset: %" PRIu64 " exact, %" PRIu64 " within 2, %"
	       PRIu64 " wider\n", hist[1], hist[2], hist[3]);
	{
		struct pvclock_ref_clock c = { 0, 0, 1U << 31, 0, 0 };
		struct pvclock_ref_sample s = { 0, 0 };
		uint64_t lo, count;

		CHECK(pvclock_ref_tsc_offset(&c, &s, 0, &lo, &count) ==
		      PVCLOCK_REF_EINVAL, "no samples accepted");
		c.mul = 0;
		CHECK(pvclock_ref_tsc_offset(&c, &s, 1, &lo, &count) ==
		      PVCLOCK_REF_EINVAL, "mul 0 accepted");
	}
}

static void test_diff_range(void)
{
	uint64_t rng = 14, i, ends[2] = { 0 };

	for (i = 0; i < 20000 * scale; i++) {
		struct pvclock_ref_clock saved, restored;
		uint64_t d1, u;
		int64_t lo, hi, d, seen_lo = INT64_MAX, seen_hi = INT64_MIN;
		unsigned int j;
		int ret;

		random_clock(&rng, -3, 3, &saved);
		saved.system_time >>= 2;
		d1 = rng_magnitude(&rng, 8, 63);
		if (d1 > model_max_delta(saved.shift) / 2)
			d1 = model_max_delta(saved.shift) / 2;
		restored = saved;
		restored.tsc_timestamp = saved.tsc_timestamp + d1;
		restored.system_time = model_read(&saved, restored.tsc_timestamp) +
				       rng_range(&rng, 0, 6) - 3;
		ret = pvclock_ref_diff_range(&saved, &restored, &lo, &hi);
		CHECK(ret == 0, "rejected: %d", ret);
		if (ret)
			continue;
		CHECK(hi - lo == ((d1 & ((1ULL << model_align(saved.shift)) - 1)) ?
				  2 : 1), "span %" PRId64, hi - lo);
		for (j = 0; j < 2000; j++) {
			/* up to the last delta the library vouches for */
			u = j < 1000 ? j : rng_range(&rng, 0,
				model_max_delta(saved.shift) - d1);
			d = (int64_t)(model_read(&saved, restored.tsc_timestamp + u) -
				      model_read(&restored, restored.tsc_timestamp + u));
			CHECK(d >= lo && d <= hi, "difference %" PRId64
			      " outside [%" PRId64 ", %" PRId64 "]", d, lo, hi);
			seen_lo = d < seen_lo ? d : seen_lo;
			seen_hi = d > seen_hi ? d : seen_hi;
		}
		CHECK(seen_lo == lo, "the low end is not reached at the reference");
		ends[0]++;
		if (seen_hi == hi)
			ends[1]++;
	}
	printf("# diff range: high end reached in %" PRIu64 " of %" PRIu64
	       " cases\n", ends[1], ends[0]);
	{
		struct pvclock_ref_clock a = { 100, 0, 1U << 31, -1, 0 }, b = a;
		int64_t lo, hi;

		b.tsc_timestamp = 99;
		CHECK(pvclock_ref_diff_range(&a, &b, &lo, &hi) ==
		      PVCLOCK_REF_EINVAL, "a restored reference before the saved one accepted");
		b.tsc_timestamp = 101;
		b.mul = 3;
		CHECK(pvclock_ref_diff_range(&a, &b, &lo, &hi) ==
		      PVCLOCK_REF_EINVAL, "another mul accepted");
	}
}

int main(void)
{
	const char *env = getenv("PVCLOCK_REF_TEST_SCALE");

	if (env)
		scale = strtoull(env, NULL, 10);
	if (!scale)
		scale = 1;
	printf("TAP version 13\n1..20\n");
	RUN(test_scale_delta);
	RUN(test_time_scale_vectors);
	RUN(test_time_scale_model);
	RUN(test_scale_tsc);
	RUN(test_read_and_frac);
	RUN(test_min_mulmod);
	RUN(test_zero_period);
	RUN(test_pvti_conversion);
	RUN(test_pvti_read_versions);
	RUN(test_pvti_read_midway);
	RUN(test_exact_and_scan_vs_brute_force);
	RUN(test_naive_and_seed);
	RUN(test_bad_input);
	RUN(test_zero_disruption);
	RUN(test_difference_is_the_carry);
	RUN(test_unaligned_reaches_two);
	RUN(test_first_divergence);
	RUN(test_inverse);
	RUN(test_tsc_offset);
	RUN(test_diff_range);
	return check_state.failed ? 1 : 0;
}

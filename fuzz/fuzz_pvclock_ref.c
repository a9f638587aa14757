// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer harness for the pvclock_ref library.  Each input is a little
 * program of checks, every one against the model of tests/model.h (split
 * 32-bit arithmetic, KVM's loops, brute force), which the host tests use
 * too:
 *
 *   - the mirrors (scale_delta, time_scale, scale_tsc), the reader (read,
 *     frac) and the zero-remainder period against the guest's and KVM's
 *     computations, step by step;
 *   - EXACT against SCAN, and both against a brute-force choice, on windows
 *     of up to 4096 candidates, for every kind of TSC map (identity, ratio
 *     <= 1.0, ratio > 1.0, simple ratios, 32 and 48 fraction bits, offsets
 *     that wrap);
 *   - min_mulmod against brute force;
 *   - rebase then read: the old and the new clock differ by exactly the
 *     carry of the two dropped fractions on an aligned reference, by 0..2
 *     ns on an unaligned one;
 *   - first_divergence against the first differing read found one by one.
 *
 * Any mismatch prints both sides and aborts, which libFuzzer reports as a
 * crash and saves the input.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pvclock_ref.h"
#include "../tests/model.h"

#define MAX_WINDOW	4096
#define MAX_READS	4096

struct input {
	const uint8_t *data;
	size_t size;
};

static uint64_t take(struct input *in, unsigned int bytes)
{
	uint64_t v = 0;

	while (bytes--) {
		v <<= 8;
		if (in->size) {
			v |= *in->data++;
			in->size--;
		}
	}
	return v;
}

static uint64_t take_u64(struct input *in)
{
	return take(in, 8);
}

#define fail(fmt, ...) do {						\
	fprintf(stderr, "pvclock_ref fuzz mismatch: " fmt "\n",		\
		##__VA_ARGS__);						\
	abort();							\
} while (0)

/* ---- Input shapes ---- */

static int8_t pick_shift(struct input *in)
{
	uint8_t b = (uint8_t)take(in, 1);

	if (b < 192)	/* the shifts of real TSC rates, mostly */
		return (int8_t)((int)(b % 7) - 3);
	return (int8_t)((int)(b % 63) - 31);
}

static uint32_t pick_mul(struct input *in)
{
	static const uint32_t special[] = {
		0xaaaaaaaa, 0x80000000, 0xffffffff, 1, 0xa0000000,
		0xc0000000, 3308745937U, 0x55555555,
	};
	uint8_t b = (uint8_t)take(in, 1);
	uint32_t m = (uint32_t)take(in, 4);

	if (b < 64)
		return special[b % 8];
	if (b < 96)	/* a multiple of a large power of two */
		m &= ~0U << (b % 32);
	return m ? m : 1;
}

static void pick_map(struct input *in, struct pvclock_ref_map *map)
{
	uint8_t kind = (uint8_t)take(in, 1);
	uint64_t r = take_u64(in);
	unsigned int fb = kind & 1 ? 32 : 48;
	uint64_t one = 1ULL << fb;

	map->frac_bits = fb;
	switch ((kind >> 1) % 5) {
	case 0:
		map->ratio = one;
		break;
	case 1:		/* ratio <= 1.0 */
		map->ratio = 1 + r % one;
		break;
	case 2:		/* 1.0 < ratio < 4.0 */
		map->ratio = one + 1 + r % (3 * one - 1);
		break;
	case 3:		/* a multiple of 1/64 above 1.0 */
		map->ratio = (65 + r % 192) * (one >> 6);
		break;
	default:	/* a ratio near 1.0 either way */
		map->ratio = one - 512 + r % 1024;
		break;
	}
	switch ((kind >> 4) % 4) {
	case 0:
		map->offset = 0;
		break;
	case 1:		/* a guest TSC that wraps */
		map->offset = -(take(in, 2) + 1);
		break;
	default:
		map->offset = take_u64(in);
		break;
	}
}

/* ---- Checks ---- */

static void check_mirrors(struct input *in)
{
	uint64_t delta = take_u64(in), tsc = take_u64(in);
	uint64_t ratio = take_u64(in);
	unsigned int fb = (unsigned int)take(in, 1) % 64;
	uint64_t hz = take_u64(in), scaled = take_u64(in);
	int8_t shift = pick_shift(in), s1, s2;
	uint32_t mul = pick_mul(in), m1, m2;
	struct pvclock_ref_clock c = {
		.tsc_timestamp = take_u64(in), .system_time = take_u64(in),
		.mul = mul, .shift = shift,
	};
	/* any shift a pvti can hold, from bits the other checks use too */
	int8_t any_shift = (int8_t)ratio;
	uint64_t got, want;

	got = pvclock_ref_scale_delta(delta, mul, shift);
	want = model_scale_delta(delta, mul, shift);
	if (got != want)
		fail("scale_delta(%llu, %u, %d) = %llu, model %llu",
		     (unsigned long long)delta, mul, shift,
		     (unsigned long long)got, (unsigned long long)want);

	got = pvclock_ref_zero_period_log2(mul, any_shift);
	want = model_zero_period_log2(mul, any_shift);
	if (got != want)
		fail("zero_period_log2(%u, %d) = %llu, model %llu", mul,
		     any_shift, (unsigned long long)got,
		     (unsigned long long)want);

	got = pvclock_ref_scale_tsc(tsc, ratio, fb);
	want = model_scale_tsc(tsc, ratio, fb);
	if (got != want)
		fail("scale_tsc(%llu, %llu, %u) = %llu, model %llu",
		     (unsigned long long)tsc, (unsigned long long)ratio, fb,
		     (unsigned long long)got, (unsigned long long)want);

	/* Rates in [1 kHz, 1 THz], both ways round. */
	hz = 1000 + hz % (1000000000000ULL - 999);
	scaled = scaled & 1 ? 1000000000 : 1000 + scaled % (1000000000000ULL - 999);
	pvclock_ref_time_scale(scaled, hz, &s1, &m1);
	model_time_scale(scaled, hz, &s2, &m2);
	if (s1 != s2 || m1 != m2)
		fail("time_scale(%llu, %llu) = %d/%u, model %d/%u",
		     (unsigned long long)scaled, (unsigned long long)hz,
		     s1, m1, s2, m2);

	if (pvclock_ref_read(&c, tsc) != model_read(&c, tsc) ||
	    pvclock_ref_frac(&c, tsc) != model_frac(&c, tsc))
		fail("read/frac at %llu (shift %d mul %u)",
		     (unsigned long long)tsc, shift, mul);
}

static void check_min_mulmod(struct input *in)
{
	uint32_t first = (uint32_t)take(in, 4), step = pick_mul(in);
	uint64_t count = 1 + take(in, 2) % MAX_WINDOW, idx = 0, best_i = 0;
	uint32_t got, best = model_min_mulmod(first, step, count, &best_i);

	got = pvclock_ref_min_mulmod(first, step, count, &idx);
	if (got != best || idx != best_i)
		fail("min_mulmod(%u, %u, %llu) = %u at %llu, brute %u at %llu",
		     first, step, (unsigned long long)count, got,
		     (unsigned long long)idx, best, (unsigned long long)best_i);
}

static void check_choose(struct input *in)
{
	struct pvclock_ref_clock old = { .shift = pick_shift(in) };
	struct pvclock_ref_choice ce, cs, cm = { 0 };
	struct pvclock_ref_map map;
	uint64_t width = 1 + take(in, 2) % MAX_WINDOW, end, mh;
	uint8_t where = (uint8_t)take(in, 1);
	int re, rs, rm;

	old.mul = pick_mul(in);
	old.system_time = take_u64(in);
	pick_map(in, &map);
	end = take_u64(in);
	if (where & 1)		/* near zero */
		end = width - 1 + end % 65536;
	else if (where & 2)	/* near the top */
		end = UINT64_MAX - end % 65536;
	if (end < width - 1)
		end = width - 1;
	/* The old reference a little before, inside, or after the window. */
	old.tsc_timestamp = model_guest_tsc(&map, end - (width - 1)) -
			    (int64_t)(int16_t)take(in, 2) * (where >> 4);
	if (where & 4)
		old.tsc_timestamp = take_u64(in);

	re = pvclock_ref_choose(&old, &map, end, width, PVCLOCK_REF_EXACT, &ce);
	rs = pvclock_ref_choose(&old, &map, end, width, PVCLOCK_REF_SCAN, &cs);
	rm = model_choose(&old, &map, end, width, &cm);
	mh = cm.host_tsc;
	if (re != rs || rs != rm || (!re && (ce.host_tsc != cs.host_tsc ||
					     ce.guest_tsc != cs.guest_tsc ||
					     ce.remainder != cs.remainder ||
					     ce.aligned != cs.aligned ||
					     cs.host_tsc != mh)))
		fail(
		     "choose: exact %d host %llu rem %u, scan %d host %llu rem %u, model %d host %llu; old ts %llu mul %u shift %d, map ratio %#llx frac %u offset %#llx, end %llu width %llu",
		     re, (unsigned long long)ce.host_tsc, ce.remainder,
		     rs, (unsigned long long)cs.host_tsc, cs.remainder,
		     rm, (unsigned long long)mh,
		     (unsigned long long)old.tsc_timestamp, old.mul, old.shift,
		     (unsigned long long)map.ratio, map.frac_bits,
		     (unsigned long long)map.offset, (unsigned long long)end,
		     (unsigned long long)width);
	if (!re && (ce.guest_tsc != model_guest_tsc(&map, ce.host_tsc) ||
		    ce.remainder != model_frac(&old, ce.guest_tsc) ||
		    !ce.aligned))
		fail("choose: the choice's own fields are inconsistent");
}

/* Old minus new clock at tsc, as the guest computes them. */
static int64_t read_diff(const struct pvclock_ref_clock *o,
			  const struct pvclock_ref_clock *n, uint64_t tsc)
{
	return (int64_t)(model_read(o, tsc) - model_read(n, tsc));
}

static void check_rebase(struct input *in)
{
	struct pvclock_ref_clock old = { .shift = pick_shift(in) }, new_clk;
	unsigned int k = old.shift < 0 ? -old.shift : 0;
	uint64_t d1 = take(in, 5), reads = 1 + take(in, 2) % MAX_READS;
	uint64_t room, i, ticks = 0, brute = UINT64_MAX;
	int8_t nudge = (int8_t)((int)take(in, 1) % 4 == 0 ?
				(int)(take(in, 1) % 3) - 1 : 0);
	bool aligned;
	int rc;

	old.mul = pick_mul(in);
	old.tsc_timestamp = take_u64(in);
	old.system_time = take_u64(in);
	if (take(in, 1) & 1)
		d1 &= ~((1ULL << k) - 1);
	/* Stay below the guest's 64-bit pre-shifted delta. */
	room = old.shift > 0 ? UINT64_MAX >> old.shift : UINT64_MAX;
	if (d1 > room - reads)
		d1 %= room - reads;
	aligned = !(d1 & ((1ULL << k) - 1));

	pvclock_ref_rebase(&old, old.tsc_timestamp + d1, &new_clk);
	if (new_clk.tsc_timestamp != old.tsc_timestamp + d1 ||
	    new_clk.system_time != model_read(&old, new_clk.tsc_timestamp) ||
	    new_clk.mul != old.mul || new_clk.shift != old.shift)
		fail("rebase: wrong new clock");

	for (i = 0; i < reads; i++) {
		uint64_t t = new_clk.tsc_timestamp + i;
		int64_t d = read_diff(&old, &new_clk, t);
		int64_t carry = (uint64_t)model_frac(&old, new_clk.tsc_timestamp) +
				model_frac(&new_clk, t) >= (1ULL << 32);

		if (pvclock_ref_read(&new_clk, t) != model_read(&new_clk, t))
			fail("read of the rebased clock");
		if (aligned ? d != carry : d < 0 || d > 2)
			fail(
			     "rebase at d1 %llu (shift %d mul %u): old - new = %lld at +%llu, carry %lld",
			     (unsigned long long)d1, old.shift, old.mul,
			     (long long)d, (unsigned long long)i,
			     (long long)carry);
	}

	/* Where the two clocks first part, against reading them one by one. */
	new_clk.system_time += nudge;
	for (i = 0; i < reads; i++) {
		if (read_diff(&old, &new_clk, new_clk.tsc_timestamp + i)) {
			brute = i;
			break;
		}
	}
	rc = pvclock_ref_first_divergence(&old, &new_clk, &ticks);
	if (rc == PVCLOCK_REF_EINVAL ||
	    (rc == 0 && ticks < reads && ticks != brute) ||
	    (rc == 0 && ticks >= reads && brute != UINT64_MAX) ||
	    (rc == PVCLOCK_REF_NEVER && brute != UINT64_MAX))
		fail(
		     "first_divergence: rc %d ticks %llu, brute force %llu (d1 %llu shift %d mul %u nudge %d)",
		     rc, (unsigned long long)ticks, (unsigned long long)brute,
		     (unsigned long long)d1, old.shift, old.mul, nudge);
	if (rc == PVCLOCK_REF_NEVER && aligned && !nudge &&
	    model_frac(&old, new_clk.tsc_timestamp))
		fail("first_divergence: never, with a nonzero remainder");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { data, size };

	while (in.size) {
		switch (take(&in, 1) % 4) {
		case 0:
			check_mirrors(&in);
			break;
		case 1:
			check_min_mulmod(&in);
			break;
		case 2:
			check_choose(&in);
			break;
		default:
			check_rebase(&in);
			break;
		}
	}
	return 0;
}

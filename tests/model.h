/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The one model of pvclock_ref's arithmetic that the host tests, the fuzzer
 * and the benchmark check the library against.
 *
 * It is written apart from lib/ and differently, so that the library never
 * checks itself: products from 32-bit halves instead of 128-bit multiplies,
 * shifts as multiplications and divisions by powers of two, KVM's time scale
 * one loop step at a time, and every search (the minimum modulo 2^32, the
 * choice of reference, the zero-remainder period) by brute force.  It takes
 * the library's types and constants from pvclock_ref.h, and calls none of
 * its functions.  Brute force is slow: callers keep its ranges small.
 */
#ifndef PVCLOCK_REF_MODEL_H
#define PVCLOCK_REF_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "pvclock_ref.h"

#define MODEL_LO32(x)	((x) & 0xffffffffULL)

/* floor(delta * 2^shift) mod 2^64, the guest's pre-shift. */
static inline uint64_t model_pre_shift(uint64_t delta, int shift)
{
	if (shift <= -64 || shift >= 64)
		return 0;	/* every bit shifted out */
	if (shift < 0)
		return delta / (1ULL << -shift);
	return delta * (1ULL << shift);	/* wraps like the guest's shift */
}

/* (pre-shifted delta * mul) >> 32, from the two 32-bit halves of delta. */
static inline uint64_t model_scale_delta(uint64_t delta, uint32_t mul,
					 int shift)
{
	uint64_t d = model_pre_shift(delta, shift);

	return (d >> 32) * mul + ((MODEL_LO32(d) * mul) >> 32);
}

/* The low 32 bits of the same product: what the guest's floor drops. */
static inline uint32_t model_delta_frac(uint64_t delta, uint32_t mul,
					int shift)
{
	return (uint32_t)(MODEL_LO32(model_pre_shift(delta, shift)) * mul);
}

static inline uint64_t model_read(const struct pvclock_ref_clock *c,
				  uint64_t tsc)
{
	return c->system_time +
	       model_scale_delta(tsc - c->tsc_timestamp, c->mul, c->shift);
}

static inline uint32_t model_frac(const struct pvclock_ref_clock *c,
				  uint64_t tsc)
{
	return model_delta_frac(tsc - c->tsc_timestamp, c->mul, c->shift);
}

/*
 * The clock at tsc in 2^-32 ns, before the guest's floor: the read above
 * the fraction.  The read wraps at 2^64 ns, so this is exact modulo 2^96,
 * which any difference narrowed to 64 bits does not see.
 */
static inline __uint128_t model_exact(const struct pvclock_ref_clock *c,
				      uint64_t tsc)
{
	return ((__uint128_t)model_read(c, tsc) << 32) | model_frac(c, tsc);
}

/* old continued from guest_tsc: the reference moved, the clock read there. */
static inline void model_rebase(const struct pvclock_ref_clock *old,
				uint64_t guest_tsc, struct pvclock_ref_clock *out)
{
	*out = *old;
	out->tsc_timestamp = guest_tsc;
	out->system_time = model_read(old, guest_tsc);
}

/* The largest delta from a reference whose pre-shift cannot overflow. */
static inline uint64_t model_max_delta(int shift)
{
	return shift > 0 ? 0x7fffffffffffffffULL >> shift :
	       0x7fffffffffffffffULL;
}

/* Aligned candidates lie 2^k ticks apart: k = max(0, -shift). */
static inline unsigned int model_align(int shift)
{
	return shift < 0 ? -shift : 0;
}

/* KVM's kvm_get_time_scale(), one loop step at a time. */
static inline void model_time_scale(uint64_t scaled_hz, uint64_t base_hz,
				    int8_t *shift, uint32_t *mul)
{
	uint64_t scaled = scaled_hz, base = base_hz;
	int sh = 0;

	while (base > 2 * scaled || base > 0xffffffffULL) {
		base /= 2;
		sh--;
	}
	while (base <= scaled || scaled > 0xffffffffULL) {
		if (scaled > 0xffffffffULL || base >= 0x80000000ULL)
			scaled /= 2;
		else
			base *= 2;
		sh++;
	}
	*shift = (int8_t)sh;
	*mul = (uint32_t)((scaled * 0x100000000ULL) / base);
}

/* (tsc * ratio) >> frac_bits with four 32x32 partial products. */
static inline uint64_t model_scale_tsc(uint64_t tsc, uint64_t ratio,
				       unsigned int frac_bits)
{
	uint64_t a0 = MODEL_LO32(tsc), a1 = tsc >> 32;
	uint64_t b0 = MODEL_LO32(ratio), b1 = ratio >> 32;
	uint64_t p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0, p11 = a1 * b1;
	uint64_t mid = (p00 >> 32) + MODEL_LO32(p01) + MODEL_LO32(p10);
	uint64_t lo = MODEL_LO32(p00) | (mid << 32);
	uint64_t hi = p11 + (p01 >> 32) + (p10 >> 32) + (mid >> 32);

	if (frac_bits == 0)
		return lo;
	return (lo >> frac_bits) | (hi << (64 - frac_bits));
}

static inline uint64_t model_guest_tsc(const struct pvclock_ref_map *map,
				       uint64_t host)
{
	return model_scale_tsc(host, map->ratio, map->frac_bits) + map->offset;
}

/*
 * log2 of the ticks between aligned candidates whose fraction is zero: the
 * first power of two 2^e of aligned candidates, each 2^k ticks, whose
 * fraction is zero.  Their pre-shifted delta is 2^e itself when shift <= 0;
 * e = 32 always is, as the fraction is the low 32 bits of a product.
 */
static inline unsigned int model_zero_period_log2(uint32_t mul, int shift)
{
	unsigned int e;

	for (e = 0; e < 32; e++)
		if (!model_delta_frac(1ULL << e, mul, shift > 0 ? shift : 0))
			break;
	return e + model_align(shift);
}

/* min of (first + i * step) mod 2^32 over i < count, the last i it is at. */
static inline uint32_t model_min_mulmod(uint32_t first, uint32_t step,
					uint64_t count, uint64_t *index)
{
	uint32_t best = UINT32_MAX, value = first;
	uint64_t i;

	*index = 0;
	for (i = 0; i < count; i++, value += step) {
		if (value <= best) {
			best = value;
			*index = i;
		}
	}
	return best;
}

/*
 * PVCLOCK_REF_SCAN's rule by brute force, oldest to newest, keeping ties so
 * that the newest best wins: among guest TSCs less than 2^63 ticks after
 * old's reference and a multiple of 2^k from it, the smallest fraction.
 */
static inline int model_choose(const struct pvclock_ref_clock *old,
			       const struct pvclock_ref_map *map, uint64_t end,
			       uint64_t width, struct pvclock_ref_choice *out)
{
	uint64_t align = 1ULL << model_align(old->shift), best = UINT64_MAX;
	uint64_t i;

	for (i = width; i-- > 0;) {
		uint64_t host = end - i, guest = model_guest_tsc(map, host);
		uint64_t d1 = guest - old->tsc_timestamp;
		uint32_t r;

		if (d1 >= 1ULL << 63 || d1 % align)
			continue;
		r = model_frac(old, guest);
		if (r <= best) {
			best = r;
			out->host_tsc = host;
			out->guest_tsc = guest;
			out->remainder = r;
			out->aligned = true;
		}
	}
	return best == UINT64_MAX ? PVCLOCK_REF_ENOCAND : 0;
}

/*
 * PVCLOCK_REF_SEED's rule by brute force: the smallest fraction of
 * d1 * mul shifted after the multiply, alignment ignored, the newest of
 * equals.  Sets *host; returns 0 or PVCLOCK_REF_ENOCAND.
 */
static inline int model_seed_choose(const struct pvclock_ref_clock *old,
				    const struct pvclock_ref_map *map,
				    uint64_t end, uint64_t width,
				    uint64_t *host)
{
	uint64_t best = UINT64_MAX, i;

	for (i = width; i-- > 0;) {
		uint64_t d = model_guest_tsc(map, end - i) - old->tsc_timestamp;
		uint32_t frac = (uint32_t)model_pre_shift(d * old->mul, old->shift);

		if (d >> 63 || frac > best)
			continue;
		best = frac;
		*host = end - i;
	}
	return best == UINT64_MAX ? PVCLOCK_REF_ENOCAND : 0;
}

#endif /* PVCLOCK_REF_MODEL_H */

/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * pvclock_ref: guest-exact KVM clock (pvclock) arithmetic, and the choice of
 * a new reference point that disturbs the guest's clock the least.
 *
 * Freestanding: no libc, no floating point, no allocation, so that KVM
 * selftest guest code can call every function here.
 */
#ifndef PVCLOCK_REF_H
#define PVCLOCK_REF_H

#include <stdbool.h>
#include <stdint.h>

/* Error codes; functions that can fail return 0 or one of these. */
#define PVCLOCK_REF_EINVAL	(-1)	/* an input outside its domain */
#define PVCLOCK_REF_ENOCAND	(-2)	/* no valid candidate in the window */
#define PVCLOCK_REF_NEVER	1	/* the two clocks never differ */

#define PVCLOCK_REF_MAX_WINDOW	0x10000000000ULL	/* 2^40 */
#define PVCLOCK_REF_MIN_SHIFT	(-31)
#define PVCLOCK_REF_MAX_SHIFT	31

/* The fields of a pvclock_vcpu_time_info that the guest's reader uses. */
struct pvclock_ref_clock {
	uint64_t tsc_timestamp;
	uint64_t system_time;
	uint32_t mul;
	int8_t shift;
	uint8_t flags;
};

/*
 * Host TSC to guest TSC: guest = scale_tsc(host, ratio, frac_bits) + offset
 * (mod 2^64), as KVM computes it with TSC scaling.
 */
struct pvclock_ref_map {
	uint64_t ratio;
	unsigned int frac_bits;
	uint64_t offset;
};

enum pvclock_ref_method {
	PVCLOCK_REF_NAIVE,	/* the newest candidate, as KVM does today */
	PVCLOCK_REF_SCAN,	/* every candidate, O(window) */
	PVCLOCK_REF_EXACT,	/* the same answer as SCAN in O(log 2^32) */
	PVCLOCK_REF_SEED,	/* the seed sketch: post-shift fraction, unaligned */
};

struct pvclock_ref_choice {
	uint64_t host_tsc;
	uint64_t guest_tsc;
	/* the fraction of a ns that the old clock's floor drops there */
	uint32_t remainder;
	/* d1 is a multiple of 2^-shift: the old and new clocks step together */
	bool aligned;
};

/* Mirrors of what Linux computes, bit for bit. */
uint64_t pvclock_ref_scale_delta(uint64_t delta, uint32_t mul, int8_t shift);
void pvclock_ref_time_scale(uint64_t scaled_hz, uint64_t base_hz,
			    int8_t *shift, uint32_t *mul);
uint64_t pvclock_ref_scale_tsc(uint64_t tsc, uint64_t ratio,
			       unsigned int frac_bits);

/* The guest's clock read at a TSC value, and the fraction its floor drops. */
uint64_t pvclock_ref_read(const struct pvclock_ref_clock *clk, uint64_t tsc);
uint32_t pvclock_ref_frac(const struct pvclock_ref_clock *clk, uint64_t tsc);
bool pvclock_ref_clock_valid(const struct pvclock_ref_clock *clk);

void pvclock_ref_map_identity(struct pvclock_ref_map *map);
bool pvclock_ref_map_valid(const struct pvclock_ref_map *map);
uint64_t pvclock_ref_guest_tsc(const struct pvclock_ref_map *map,
			       uint64_t host_tsc);

/*
 * Choose the new reference among the host TSC values [end - width + 1, end].
 * Returns 0, PVCLOCK_REF_EINVAL or PVCLOCK_REF_ENOCAND.
 */
int pvclock_ref_choose(const struct pvclock_ref_clock *old,
		       const struct pvclock_ref_map *map,
		       uint64_t end, uint64_t width,
		       enum pvclock_ref_method method,
		       struct pvclock_ref_choice *choice);

/* The new pvti whose reference is guest_tsc, continuing old's clock. */
void pvclock_ref_rebase(const struct pvclock_ref_clock *old,
			uint64_t guest_tsc, struct pvclock_ref_clock *new_clk);

/*
 * The first TSC, as ticks after new_clk's reference, at which the two clocks
 * read differently.  Both must have the same mul and shift, and new_clk's
 * reference must not precede old's.  Returns 0 with *ticks set,
 * PVCLOCK_REF_NEVER when they agree until either pre-shifted delta would
 * overflow 64 bits, or PVCLOCK_REF_EINVAL.  O(log 2^32) steps.
 */
int pvclock_ref_first_divergence(const struct pvclock_ref_clock *old,
				 const struct pvclock_ref_clock *new_clk,
				 uint64_t *ticks);

/*
 * min over 0 <= i < count of (first + i * step) mod 2^32, and the largest
 * such i: the core of PVCLOCK_REF_EXACT.  count must be at least 1.
 */
uint32_t pvclock_ref_min_mulmod(uint32_t first, uint32_t step, uint64_t count,
				uint64_t *index);

/*
 * Restoring a clock on a stock kernel (KVM_GET_CLOCK and KVM_SET_CLOCK).
 *
 * The guest TSC values at which clk reads exactly ns: [*first, *last].  Only
 * TSC values from clk's reference on count, up to the largest delta whose
 * pre-shift cannot overflow (2^63 - 1, or (2^63 - 1) >> shift for shift > 0),
 * where the clock is non-decreasing.  Returns 0, PVCLOCK_REF_EINVAL for an
 * invalid clk, or PVCLOCK_REF_ENOCAND when no TSC value there reads as ns
 * (ns before system_time, beyond the range, or skipped by a clock that
 * advances more than 1 ns a tick).
 */
int pvclock_ref_inverse(const struct pvclock_ref_clock *clk, uint64_t ns,
			uint64_t *first, uint64_t *last);

/* One KVM_GET_CLOCK result: the clock and the host TSC it was read at. */
struct pvclock_ref_sample {
	uint64_t clock;
	uint64_t host_tsc;
};

/*
 * The TSC offset (guest TSC = host TSC + offset, mod 2^64, an unscaled TSC)
 * that every sample allows, given the guest's pvti clk that KVM_GET_CLOCK's
 * clock follows: each sample's clock is read somewhere in a range of guest
 * TSC values, and the ranges are intersected.  Returns 0 with the offsets
 * [*offset, *offset + *count - 1] (count 1: exact), PVCLOCK_REF_EINVAL for
 * no samples or an invalid clk, or PVCLOCK_REF_ENOCAND when no offset fits
 * every sample (a scaled TSC, another clock, or samples from before clk).
 */
int pvclock_ref_tsc_offset(const struct pvclock_ref_clock *clk,
			   const struct pvclock_ref_sample *samples,
			   unsigned int n, uint64_t *offset, uint64_t *count);

/*
 * What the arithmetic allows for read(saved, t) - read(restored, t) at every
 * t from restored's reference on (until a pre-shifted delta overflows):
 * [*lo, *hi], hi = lo + 1 when the reference distance is a multiple of
 * 2^-shift, lo + 2 otherwise; lo is the difference at restored's reference.
 * Both must have the same mul and shift, restored's reference must not
 * precede saved's, and lo must fit in 62 bits.  Returns 0 or
 * PVCLOCK_REF_EINVAL.
 */
int pvclock_ref_diff_range(const struct pvclock_ref_clock *saved,
			   const struct pvclock_ref_clock *restored,
			   int64_t *lo, int64_t *hi);

#endif /* PVCLOCK_REF_H */

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
#include <stddef.h>
#include <stdint.h>

/* Error codes; functions that can fail return 0 or one of these. */
#define PVCLOCK_REF_EINVAL	(-1)	/* an input outside its domain */
#define PVCLOCK_REF_ENOCAND	(-2)	/* no valid candidate in the window */
#define PVCLOCK_REF_NEVER	1	/* the two clocks never differ */

#define PVCLOCK_REF_MAX_WINDOW	0x10000000000ULL	/* 2^40 */
#define PVCLOCK_REF_MIN_SHIFT	(-31)
#define PVCLOCK_REF_MAX_SHIFT	31

/**
 * struct pvclock_ref_clock - the fields of a pvti that the guest's reader uses
 * @tsc_timestamp: the guest TSC of the reference
 * @system_time: the clock at the reference, in ns
 * @mul: the TSC-to-ns multiplier, a 0.32 fixed-point fraction
 * @shift: applied to a TSC delta before @mul (right shift when negative)
 * @flags: the pvti's flags (PVCLOCK_TSC_STABLE_BIT and others), carried along
 */
struct pvclock_ref_clock {
	uint64_t tsc_timestamp;
	uint64_t system_time;
	uint32_t mul;
	int8_t shift;
	uint8_t flags;
};

/**
 * struct pvclock_ref_pvti - struct pvclock_vcpu_time_info, naturally aligned
 * @version: odd while the writer updates the other fields, bumped around each
 *           update
 * @pad0: zero
 * @tsc_timestamp: the guest TSC of the reference
 * @system_time: the clock at the reference, in ns
 * @tsc_to_system_mul: the TSC-to-ns multiplier, a 0.32 fixed-point fraction
 * @tsc_shift: applied to a TSC delta before the multiply
 * @flags: PVCLOCK_TSC_STABLE_BIT and others
 * @pad: zero
 *
 * The layout of the page KVM writes (MSR_KVM_SYSTEM_TIME_NEW) and of the
 * KVM_GET_CLOCK_GUEST buffer.  The kernel declares its struct packed, and
 * a volatile access to a packed member draws -Waddress-of-packed-member;
 * this one has the same offsets with every member at its natural alignment.
 */
struct pvclock_ref_pvti {
	uint32_t version;
	uint32_t pad0;
	uint64_t tsc_timestamp;
	uint64_t system_time;
	uint32_t tsc_to_system_mul;
	int8_t tsc_shift;
	uint8_t flags;
	uint8_t pad[2];
};

/*
 * Its layout is checked against the kernel's struct where both are seen:
 * in pvclock_drift_test.c, and byte by byte in tests/test_lib.c.
 */

/**
 * struct pvclock_ref_map - a host TSC to guest TSC mapping, as KVM's
 * @ratio: the TSC scaling ratio, a fixed-point number of @frac_bits
 *         fraction bits (1 << @frac_bits is 1.0)
 * @frac_bits: 48 on Intel VMX, 32 on AMD SVM
 * @offset: added after scaling, modulo 2^64
 *
 * guest = pvclock_ref_scale_tsc(host, @ratio, @frac_bits) + @offset.
 */
struct pvclock_ref_map {
	uint64_t ratio;
	unsigned int frac_bits;
	uint64_t offset;
};

/**
 * enum pvclock_ref_method - how pvclock_ref_choose() picks a new reference
 * @PVCLOCK_REF_NAIVE: the newest candidate, as KVM does today
 * @PVCLOCK_REF_SCAN: every candidate, O(window)
 * @PVCLOCK_REF_EXACT: the same answer as @PVCLOCK_REF_SCAN in O(log 2^32)
 * @PVCLOCK_REF_SEED: the seed sketch: the post-shift fraction, unaligned
 */
enum pvclock_ref_method {
	PVCLOCK_REF_NAIVE,
	PVCLOCK_REF_SCAN,
	PVCLOCK_REF_EXACT,
	PVCLOCK_REF_SEED,
};

/**
 * struct pvclock_ref_choice - the new reference pvclock_ref_choose() picked
 * @host_tsc: the candidate, in the window's host TSC domain
 * @guest_tsc: its guest TSC, the new pvti's tsc_timestamp
 * @remainder: the fraction of a ns, in 2^-32 ns, that the old clock's floor
 *             drops there
 * @aligned: the distance from the old reference is a multiple of 2^-shift,
 *           so the old and the new clock step at the same ticks
 */
struct pvclock_ref_choice {
	uint64_t host_tsc;
	uint64_t guest_tsc;
	uint32_t remainder;
	bool aligned;
};

/**
 * pvclock_ref_scale_delta() - Linux's pvclock_scale_delta()
 * @delta: TSC ticks
 * @mul: the multiplier, a 0.32 fixed-point fraction
 * @shift: applied to @delta first, a right shift when negative
 *
 * The pre-shifted delta (0 for a shift of 64 or more either way) times @mul,
 * without the low 32 bits of the 96-bit product.
 *
 * Return: the scaled delta, modulo 2^64.
 */
uint64_t pvclock_ref_scale_delta(uint64_t delta, uint32_t mul, int8_t shift);

/**
 * pvclock_ref_time_scale() - KVM's kvm_get_time_scale(), in closed form
 * @scaled_hz: the rate to convert to (1000000000 for ns)
 * @base_hz: the rate to convert from, the TSC's
 * @shift: set to the shift of the conversion
 * @mul: set to the multiplier of the conversion
 *
 * The same @shift and @mul as KVM's loops, bit for bit; checked for rates
 * from 1 kHz to 1 THz either way round.  Both rates must be non-zero.
 */
void pvclock_ref_time_scale(uint64_t scaled_hz, uint64_t base_hz,
			    int8_t *shift, uint32_t *mul);

/**
 * pvclock_ref_scale_tsc() - KVM's __scale_tsc()
 * @tsc: a host TSC value
 * @ratio: the scaling ratio, a fixed-point number of @frac_bits fraction bits
 * @frac_bits: the fraction bits of @ratio, at most 63
 *
 * Return: (@tsc * @ratio) >> @frac_bits, modulo 2^64; @tsc itself when
 * @ratio is 1.0; 0 when @frac_bits is over 63.
 */
uint64_t pvclock_ref_scale_tsc(uint64_t tsc, uint64_t ratio,
			       unsigned int frac_bits);

/**
 * pvclock_ref_read() - the guest's clock at a TSC value
 * @clk: the pvti
 * @tsc: the guest TSC, normally not before @clk's reference
 *
 * Return: system_time plus the scaled TSC delta from the reference, in ns,
 * modulo 2^64, as the guest's __pvclock_read_cycles() computes it.
 */
uint64_t pvclock_ref_read(const struct pvclock_ref_clock *clk, uint64_t tsc);

/**
 * pvclock_ref_frac() - the fraction of a ns that pvclock_ref_read() drops
 * @clk: the pvti
 * @tsc: the guest TSC
 *
 * Return: the low 32 bits of the product of the pre-shifted delta and mul,
 * in 2^-32 ns.
 */
uint32_t pvclock_ref_frac(const struct pvclock_ref_clock *clk, uint64_t tsc);

/**
 * pvclock_ref_clock_valid() - whether a clock is one this library reads
 * @clk: the pvti
 *
 * Return: true when mul is non-zero and shift is within
 * [PVCLOCK_REF_MIN_SHIFT, PVCLOCK_REF_MAX_SHIFT].
 */
bool pvclock_ref_clock_valid(const struct pvclock_ref_clock *clk);

/**
 * pvclock_ref_from_pvti() - the clock of a pvti
 * @p: a pvti that no one writes meanwhile (a KVM_GET_CLOCK_GUEST buffer, a
 *     saved copy); read a live page with pvclock_ref_pvti_read()
 * @clk: set to @p's clock, flags included
 */
void pvclock_ref_from_pvti(const struct pvclock_ref_pvti *p,
			   struct pvclock_ref_clock *clk);

/**
 * pvclock_ref_to_pvti() - a pvti holding a clock
 * @clk: the clock
 * @p: set to @clk, flags included, with version 0 and zero padding (what
 *     KVM_SET_CLOCK_GUEST takes)
 */
void pvclock_ref_to_pvti(const struct pvclock_ref_clock *clk,
			 struct pvclock_ref_pvti *p);

/**
 * pvclock_ref_pvti_read() - one read of a live pvti under its version protocol
 * @p: the pvti, which its writer may be rewriting meanwhile
 * @clk: set to the fields read, consistent only when this returns true
 * @version: set to the version read before the fields
 *
 * Reads the version, then the fields, then the version again, as the
 * guest's pvclock reader does: each load once (a relaxed atomic load, the
 * kernel's READ_ONCE()), the three steps ordered by read barriers (an
 * acquire fence, the kernel's smp_rmb()).  One attempt: the caller retries,
 * and counts retries, as it sees fit.
 *
 * Return: true when both versions are equal and even: @clk is one complete
 * update of the writer's.
 */
bool pvclock_ref_pvti_read(const struct pvclock_ref_pvti *p,
			   struct pvclock_ref_clock *clk, uint32_t *version);

/**
 * pvclock_ref_zero_period_log2() - how often the dropped fraction is zero
 * @mul: the clock's multiplier
 * @shift: the clock's shift
 *
 * With k = max(0, -@shift) and M = (@mul << max(0, @shift)) mod 2^32, the
 * fraction dropped at an aligned candidate d1 = j * 2^k ticks after the
 * reference is j * M mod 2^32: zero every P = 2^(32 - v + k) ticks, with 2^v
 * the largest power of two dividing M, and every 2^k ticks when M is 0
 * (Documentation/pvclock-reference-updates.rst, section 5.2).
 *
 * Return: log2(P), for any @mul and @shift.
 */
unsigned int pvclock_ref_zero_period_log2(uint32_t mul, int8_t shift);

/**
 * pvclock_ref_map_identity() - the identity TSC mapping
 * @map: set to ratio 1.0 with 48 fraction bits, offset 0
 */
void pvclock_ref_map_identity(struct pvclock_ref_map *map);

/**
 * pvclock_ref_map_valid() - whether a mapping is one this library takes
 * @map: the mapping
 *
 * Return: true when frac_bits is at most 63 and ratio is non-zero.
 */
bool pvclock_ref_map_valid(const struct pvclock_ref_map *map);

/**
 * pvclock_ref_guest_tsc() - the guest TSC of a host TSC, as KVM computes it
 * @map: the mapping
 * @host_tsc: the host TSC
 *
 * Return: the scaled @host_tsc plus the offset, modulo 2^64.
 */
uint64_t pvclock_ref_guest_tsc(const struct pvclock_ref_map *map,
			       uint64_t host_tsc);

/**
 * pvclock_ref_choose() - the new reference that disturbs the clock the least
 * @old: the current pvti
 * @map: the host-to-guest TSC mapping
 * @end: the newest host TSC of the window
 * @width: the window's size, 1 to PVCLOCK_REF_MAX_WINDOW, at most @end + 1
 * @method: how to choose
 * @choice: set to the choice on success
 *
 * The candidates are the host TSC values [@end - @width + 1, @end] whose
 * guest TSC is at or after @old's reference (less than 2^63 ticks on).
 * PVCLOCK_REF_SCAN and PVCLOCK_REF_EXACT take, among those whose distance
 * from it is a multiple of 2^-shift, the one with the smallest remainder,
 * the newest of equals.  PVCLOCK_REF_NAIVE takes @end, PVCLOCK_REF_SEED the
 * smallest fraction of the product shifted after the multiply.
 *
 * Return: 0, PVCLOCK_REF_EINVAL for an invalid @old, @map, window or
 * @method, or PVCLOCK_REF_ENOCAND when the window holds no candidate.
 */
int pvclock_ref_choose(const struct pvclock_ref_clock *old,
		       const struct pvclock_ref_map *map,
		       uint64_t end, uint64_t width,
		       enum pvclock_ref_method method,
		       struct pvclock_ref_choice *choice);

/**
 * pvclock_ref_rebase() - the pvti that continues a clock from a new reference
 * @old: the current pvti
 * @guest_tsc: the new reference
 * @new_clk: set to @old with its reference at @guest_tsc and system_time
 *           what @old reads there
 */
void pvclock_ref_rebase(const struct pvclock_ref_clock *old,
			uint64_t guest_tsc, struct pvclock_ref_clock *new_clk);

/**
 * pvclock_ref_first_divergence() - where two clocks first read differently
 * @old: the clock before an update
 * @new_clk: the clock after it, with @old's mul and shift and a reference
 *           not before @old's
 * @ticks: set to the first TSC, as ticks after @new_clk's reference, at
 *         which the two clocks read differently
 *
 * O(log 2^32) steps.
 *
 * Return: 0 with @ticks set, PVCLOCK_REF_NEVER when they agree until either
 * pre-shifted delta would overflow 64 bits, or PVCLOCK_REF_EINVAL.
 */
int pvclock_ref_first_divergence(const struct pvclock_ref_clock *old,
				 const struct pvclock_ref_clock *new_clk,
				 uint64_t *ticks);

/**
 * pvclock_ref_min_mulmod() - the minimum of a linear sequence modulo 2^32
 * @first: the sequence's first value
 * @step: what each next value adds
 * @count: the number of values, at least 1
 * @index: set to the largest i at which the minimum occurs
 *
 * The core of PVCLOCK_REF_EXACT, in O(log 2^32) steps.
 *
 * Return: min over 0 <= i < @count of (@first + i * @step) mod 2^32.
 */
uint32_t pvclock_ref_min_mulmod(uint32_t first, uint32_t step, uint64_t count,
				uint64_t *index);

/**
 * pvclock_ref_inverse() - the guest TSC values at which a clock reads a ns
 * @clk: the clock
 * @ns: the reading
 * @first: set to the first TSC value that reads @ns
 * @last: set to the last TSC value that reads @ns
 *
 * For restoring a clock on a stock kernel (KVM_GET_CLOCK and KVM_SET_CLOCK).
 * Only TSC values from @clk's reference on count, up to the largest delta
 * whose pre-shift cannot overflow (2^63 - 1, or (2^63 - 1) >> shift for
 * shift > 0), where the clock is non-decreasing.
 *
 * Return: 0, PVCLOCK_REF_EINVAL for an invalid @clk, or PVCLOCK_REF_ENOCAND
 * when no TSC value there reads as @ns (@ns before system_time, beyond the
 * range, or skipped by a clock that advances more than 1 ns a tick).
 */
int pvclock_ref_inverse(const struct pvclock_ref_clock *clk, uint64_t ns,
			uint64_t *first, uint64_t *last);

/**
 * struct pvclock_ref_sample - one KVM_GET_CLOCK result
 * @clock: the clock it reported, in ns
 * @host_tsc: the host TSC it was read at
 */
struct pvclock_ref_sample {
	uint64_t clock;
	uint64_t host_tsc;
};

/**
 * pvclock_ref_tsc_offset() - the TSC offsets that KVM_GET_CLOCK samples allow
 * @clk: the guest's pvti, the clock that the samples' clocks follow
 * @samples: the samples
 * @n: the number of @samples
 * @offset: set to the lowest offset allowed
 * @count: set to the number of offsets allowed (1: exact)
 *
 * The offset is guest TSC - host TSC, modulo 2^64, of an unscaled TSC.  Each
 * sample's clock is read somewhere in a range of guest TSC values, and the
 * ranges are intersected.
 *
 * Return: 0 with the offsets [@offset, @offset + @count - 1],
 * PVCLOCK_REF_EINVAL for no samples or an invalid @clk, or
 * PVCLOCK_REF_ENOCAND when no offset fits every sample (a scaled TSC,
 * another clock, or samples from before @clk).
 */
int pvclock_ref_tsc_offset(const struct pvclock_ref_clock *clk,
			   const struct pvclock_ref_sample *samples,
			   unsigned int n, uint64_t *offset, uint64_t *count);

/**
 * pvclock_ref_diff_range() - how far a restored clock reads from a saved one
 * @saved: the clock before
 * @restored: the clock after, with @saved's mul and shift and a reference
 *            not before @saved's
 * @lo: set to the least of read(@saved, t) - read(@restored, t)
 * @hi: set to the greatest
 *
 * What the arithmetic allows for the difference at every t from @restored's
 * reference on (until a pre-shifted delta overflows): @hi is @lo + 1 when
 * the reference distance is a multiple of 2^-shift, @lo + 2 otherwise; @lo
 * is the difference at @restored's reference, and must fit in 62 bits.
 *
 * Return: 0 or PVCLOCK_REF_EINVAL.
 */
int pvclock_ref_diff_range(const struct pvclock_ref_clock *saved,
			   const struct pvclock_ref_clock *restored,
			   int64_t *lo, int64_t *hi);

#endif /* PVCLOCK_REF_H */

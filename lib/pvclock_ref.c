// SPDX-License-Identifier: GPL-2.0-only
/*
 * pvclock_ref: guest-exact KVM clock arithmetic and the choice of the
 * reference point that disturbs the guest's clock the least.
 *
 * The derivation is in this project's
 * Documentation/pvclock-reference-updates.rst, sections 3 to 6.  In short,
 * with d1 the distance in guest TSC ticks from the old reference to a
 * candidate, k = max(0, -shift) and M = mul << max(0, shift) (mod 2^32):
 *  - a candidate is valid when d1 >= 0 and d1 is a multiple of 2^k;
 *  - the clocks read from the old and the rebased pvti then differ by 0 or
 *    1 ns, and never differ when the remainder (d1 >> k) * M mod 2^32 is 0.
 * Choosing the best candidate is thus minimising j * M mod 2^32 over a
 * range of j = d1 >> k, which a Euclid-like descent does in O(log 2^32).
 */
#include "pvclock_ref.h"

/* Number of significant bits of a non-zero value. */
static unsigned int bit_length(uint64_t x)
{
	return 64 - __builtin_clzll(x);
}

/* The guest's pre-shift: whole ticks are dropped before the multiply. */
static uint64_t pre_shift(uint64_t delta, int8_t shift)
{
	if (shift <= -64 || shift >= 64)
		return 0;
	return shift < 0 ? delta >> -shift : delta << shift;
}

uint64_t pvclock_ref_scale_delta(uint64_t delta, uint32_t mul, int8_t shift)
{
	return (uint64_t)(((__uint128_t)pre_shift(delta, shift) * mul) >> 32);
}

/*
 * KVM's kvm_get_time_scale() in closed form.  KVM first halves base_hz until
 * it fits in 32 bits and is at most twice scaled_hz, then halves scaled_hz
 * until it fits in 32 bits, then doubles the base until it exceeds the
 * scaled rate (halving the scaled rate once instead when the base's top bit
 * is already set); every halving of the base counts -1 in the shift, every
 * other step +1.  Each loop is replaced by the bit count it ends at.
 */
void pvclock_ref_time_scale(uint64_t scaled_hz, uint64_t base_hz,
			    int8_t *shift, uint32_t *mul)
{
	uint64_t scaled = scaled_hz;
	unsigned int base_down = 0, scaled_down = 0, base_up;
	unsigned int base_bits = bit_length(base_hz);
	uint64_t base;

	if (base_bits > 32)
		base_down = base_bits - 32;
	if (base_bits > bit_length(2 * scaled) &&
	    base_bits - bit_length(2 * scaled) > base_down)
		base_down = base_bits - bit_length(2 * scaled);
	if (base_hz >> base_down > 2 * scaled)
		base_down++;
	base = base_hz >> base_down;

	if (bit_length(scaled) > 32) {
		scaled_down = bit_length(scaled) - 32;
		scaled >>= scaled_down;
	}

	/* Doublings until base > scaled, or until its top bit is set. */
	base_up = 0;
	if (bit_length(scaled) > bit_length(base))
		base_up = bit_length(scaled) - bit_length(base);
	if (base << base_up <= scaled)
		base_up++;
	if (bit_length(base) + base_up > 32) {
		base_up = 32 - bit_length(base);
		scaled >>= 1;
		scaled_down++;
	}
	base <<= base_up;

	*shift = (int8_t)((int)scaled_down + (int)base_up - (int)base_down);
	*mul = (uint32_t)((scaled << 32) / base);
}

uint64_t pvclock_ref_scale_tsc(uint64_t tsc, uint64_t ratio,
			       unsigned int frac_bits)
{
	if (frac_bits > 63)
		return 0;
	if (ratio == 1ULL << frac_bits)
		return tsc;
	return (uint64_t)(((__uint128_t)tsc * ratio) >> frac_bits);
}

uint64_t pvclock_ref_read(const struct pvclock_ref_clock *clk, uint64_t tsc)
{
	return clk->system_time +
	       pvclock_ref_scale_delta(tsc - clk->tsc_timestamp, clk->mul,
				       clk->shift);
}

uint32_t pvclock_ref_frac(const struct pvclock_ref_clock *clk, uint64_t tsc)
{
	uint64_t delta = pre_shift(tsc - clk->tsc_timestamp, clk->shift);

	/* Only the low 32 bits of the 96-bit product are dropped. */
	return (uint32_t)delta * clk->mul;
}

bool pvclock_ref_clock_valid(const struct pvclock_ref_clock *clk)
{
	return clk->mul != 0 && clk->shift >= PVCLOCK_REF_MIN_SHIFT &&
	       clk->shift <= PVCLOCK_REF_MAX_SHIFT;
}

void pvclock_ref_from_pvti(const struct pvclock_ref_pvti *p,
			   struct pvclock_ref_clock *clk)
{
	clk->tsc_timestamp = p->tsc_timestamp;
	clk->system_time = p->system_time;
	clk->mul = p->tsc_to_system_mul;
	clk->shift = p->tsc_shift;
	clk->flags = p->flags;
}

void pvclock_ref_to_pvti(const struct pvclock_ref_clock *clk,
			 struct pvclock_ref_pvti *p)
{
	/* Field by field: a struct store may become a memset() call. */
	p->version = 0;
	p->pad0 = 0;
	p->tsc_timestamp = clk->tsc_timestamp;
	p->system_time = clk->system_time;
	p->tsc_to_system_mul = clk->mul;
	p->tsc_shift = clk->shift;
	p->flags = clk->flags;
	p->pad[0] = 0;
	p->pad[1] = 0;
}

/*
 * The kernel's READ_ONCE(), named apart from it, as a relaxed atomic load:
 * emitted exactly once, where it is written (a plain mov on x86-64), so the
 * compiler can neither merge the two version reads nor fetch a field twice,
 * and no data race in C11 terms with a writer's stores.  Every field is
 * naturally aligned and at most 8 bytes, so no load is a libatomic call.
 */
#define LOAD_ONCE(x)	__atomic_load_n(&(x), __ATOMIC_RELAXED)

/*
 * The kernel's smp_rmb(): earlier loads complete before later ones.  An
 * acquire fence orders earlier loads before every later access, and is a
 * compiler builtin, so no libc.  On x86, where loads are not reordered
 * with other loads, it emits no instruction and only stops the compiler,
 * exactly as smp_rmb() does there; on weakly ordered CPUs it emits the
 * load barrier (dmb ishld on arm64) that smp_rmb() emits.
 */
static inline void read_barrier(void)
{
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
}

bool pvclock_ref_pvti_read(const struct pvclock_ref_pvti *p,
			   struct pvclock_ref_clock *clk, uint32_t *version)
{
	uint32_t v = LOAD_ONCE(p->version);

	/* The fields are read after the version that covers them... */
	read_barrier();
	clk->tsc_timestamp = LOAD_ONCE(p->tsc_timestamp);
	clk->system_time = LOAD_ONCE(p->system_time);
	clk->mul = LOAD_ONCE(p->tsc_to_system_mul);
	clk->shift = LOAD_ONCE(p->tsc_shift);
	clk->flags = LOAD_ONCE(p->flags);
	/* ...and before the version that proves them unchanged. */
	read_barrier();
	*version = v;
	return !(v & 1) && v == LOAD_ONCE(p->version);
}

/*
 * M: the remainder of an aligned candidate j * 2^k ticks on is j * M mod
 * 2^32.  A shift of 32 or more moves every bit of mul out.
 */
static uint32_t step_of(uint32_t mul, int8_t shift)
{
	if (shift >= 32)
		return 0;
	return shift > 0 ? mul << shift : mul;
}

unsigned int pvclock_ref_zero_period_log2(uint32_t mul, int8_t shift)
{
	unsigned int k = shift < 0 ? (unsigned int)-shift : 0;
	uint32_t m = step_of(mul, shift);

	if (!m)
		return k;
	return 32 - (unsigned int)__builtin_ctz(m) + k;
}

void pvclock_ref_map_identity(struct pvclock_ref_map *map)
{
	map->frac_bits = 48;
	map->ratio = 1ULL << map->frac_bits;
	map->offset = 0;
}

bool pvclock_ref_map_valid(const struct pvclock_ref_map *map)
{
	return map->frac_bits <= 63 && map->ratio != 0;
}

uint64_t pvclock_ref_guest_tsc(const struct pvclock_ref_map *map,
			       uint64_t host_tsc)
{
	return pvclock_ref_scale_tsc(host_tsc, map->ratio, map->frac_bits) +
	       map->offset;
}

void pvclock_ref_rebase(const struct pvclock_ref_clock *old,
			uint64_t guest_tsc, struct pvclock_ref_clock *new_clk)
{
	*new_clk = *old;
	new_clk->tsc_timestamp = guest_tsc;
	new_clk->system_time = pvclock_ref_read(old, guest_tsc);
}

/* ---- Choosing the reference ---- */

static unsigned int align_bits(const struct pvclock_ref_clock *clk)
{
	return clk->shift < 0 ? -clk->shift : 0;
}

static uint32_t remainder_step(const struct pvclock_ref_clock *clk)
{
	return step_of(clk->mul, clk->shift);
}

/*
 * The fraction the seed sketch minimised: multiply first, shift after,
 * with no regard to alignment (its absolute-TSC defect is fixed here).
 */
static uint32_t seed_fraction(const struct pvclock_ref_clock *clk, uint64_t d1)
{
	uint64_t product = d1 * clk->mul;

	if (clk->shift < 0)
		return (uint32_t)(product >> -clk->shift);
	return (uint32_t)(product << clk->shift);
}

static void fill_choice(const struct pvclock_ref_clock *old,
			const struct pvclock_ref_map *map, uint64_t host_tsc,
			struct pvclock_ref_choice *choice)
{
	uint64_t guest_tsc = pvclock_ref_guest_tsc(map, host_tsc);
	uint64_t d1 = guest_tsc - old->tsc_timestamp;

	choice->host_tsc = host_tsc;
	choice->guest_tsc = guest_tsc;
	choice->remainder = pvclock_ref_frac(old, guest_tsc);
	choice->aligned = (d1 & ((1ULL << align_bits(old)) - 1)) == 0;
}

/*
 * One pass over the window, newest first, keeping strict improvements so
 * that ties go to the newest candidate.  seed selects the seed's rule.
 */
static int choose_by_scan(const struct pvclock_ref_clock *old,
			  const struct pvclock_ref_map *map, uint64_t end,
			  uint64_t width, bool seed, uint64_t *best_host)
{
	uint64_t align_mask = seed ? 0 : (1ULL << align_bits(old)) - 1;
	uint64_t best_rank = UINT64_MAX, i;

	for (i = 0; i < width; i++) {
		uint64_t host = end - i;
		uint64_t d1 = pvclock_ref_guest_tsc(map, host) -
			      old->tsc_timestamp;
		uint64_t rank;

		if ((int64_t)d1 < 0 || (d1 & align_mask))
			continue;
		rank = seed ? seed_fraction(old, d1) :
			      pvclock_ref_frac(old, old->tsc_timestamp + d1);
		if (rank < best_rank) {
			best_rank = rank;
			*best_host = host;
			if (!rank)
				break;
		}
	}
	return best_rank == UINT64_MAX ? PVCLOCK_REF_ENOCAND : 0;
}

/*
 * x / d and x % d for a quotient known to fit in 32 bits: one 64-by-32
 * divide on x86-64, where a full 64-bit divide costs more.
 */
static uint32_t div_u64_u32(uint64_t x, uint32_t d, uint32_t *rem)
{
#if defined(__x86_64__) && !defined(PVCLOCK_REF_NO_ASM)
	uint32_t quot, r;

	asm("divl %4" : "=a"(quot), "=d"(r)
	    : "a"((uint32_t)x), "d"((uint32_t)(x >> 32)), "rm"(d));
	*rem = r;
	return quot;
#else
	*rem = (uint32_t)(x % d);
	return (uint32_t)(x / d);
#endif
}

/*
 * min(best, min over 0 <= i < n of (b + a * i) mod m), for a, b < m and
 * 1 <= n <= 2^32.
 *
 * The sequence only falls where it wraps past m, so its minimum is b or one
 * of the values just after a wrap.  Those lie below a and step by -(m mod a)
 * modulo a; read backwards, from the last one, they step by +(m mod a): the
 * same problem with (m, a) replaced by (a, m mod a), which is Euclid's step.
 * The last value after a wrap is the last value of the run modulo a.
 */
static uint32_t min_linear_mod(uint64_t n, uint32_t m, uint32_t a, uint32_t b,
			       uint32_t best)
{
	for (;;) {
		uint32_t wraps, last_value, next_a;
		uint64_t last;

		if (b < best)
			best = b;
		if (a == 0 || best == 0)
			return best;
		last = b + (uint64_t)a * (n - 1);
		if (last < m)
			return best;
		/* last < m * n: fewer than n wraps, a 32-bit quotient */
		wraps = div_u64_u32(last, m, &last_value);
		next_a = m % a;
		n = wraps;
		b = last_value % a;
		m = a;
		a = next_a;
	}
}

/* The inverse of an odd x modulo 2^32, by Newton's iteration. */
static uint32_t inverse_odd(uint32_t x)
{
	uint32_t y = x;	/* right to 3 bits, since x * x == 1 mod 8 */
	int i;

	for (i = 0; i < 4; i++)
		y *= 2 - x * y;
	return y;
}

uint32_t pvclock_ref_min_mulmod(uint32_t first, uint32_t step, uint64_t count,
				uint64_t *index)
{
	unsigned int twos, period_bits;
	uint64_t period, i;
	uint32_t best;

	if (count == 0 || step == 0) {
		*index = count ? count - 1 : 0;
		return first;
	}
	/* j * step mod 2^32 repeats every 2^(32 - twos) steps. */
	twos = __builtin_ctz(step);
	period_bits = 32 - twos;
	period = 1ULL << period_bits;
	if (count >= period) {
		/* A whole period: every value of first's class mod 2^twos. */
		best = first & (uint32_t)((1ULL << twos) - 1);
	} else {
		/* The first level by hand, where m = 2^32 needs 33 bits. */
		uint64_t last = first + (uint64_t)step * (count - 1);

		best = first;
		if (last >> 32)
			best = min_linear_mod(last >> 32, step,
					      (uint32_t)(0 - step) % step,
					      (uint32_t)last % step, first);
	}
	/* Within one period the minimum is unique: solve for its index. */
	i = (uint64_t)(((uint32_t)(best - first) >> twos) *
		       inverse_odd(step >> twos)) & (period - 1);
	*index = i + ((count - 1 - i) >> period_bits << period_bits);
	return best;
}

/*
 * num / d and num % d, for a quotient known to fit in 64 bits (the high
 * half of num below d).  The guest may link this file: no libgcc division.
 */
static uint64_t div_u128_u64(__uint128_t num, uint64_t d, uint64_t *rem)
{
	uint64_t hi = (uint64_t)(num >> 64), lo = (uint64_t)num, q = 0;
#if defined(__x86_64__) && !defined(PVCLOCK_REF_NO_ASM)
	asm("divq %4" : "=a"(q), "=d"(hi) : "a"(lo), "d"(hi), "rm"(d));
#else
	int bit;

	for (bit = 63; bit >= 0; bit--) {
		bool carry = hi >> 63;

		hi = hi << 1 | lo >> 63;
		lo <<= 1;
		q <<= 1;
		if (carry || hi >= d) {
			hi -= d;
			q |= 1;
		}
	}
#endif
	*rem = hi;
	return q;
}

/* (x + y) mod m for x, y < m, without overflow. */
static uint64_t add_mod(uint64_t x, uint64_t y, uint64_t m)
{
	return x >= m - y ? x - (m - y) : x + y;
}

/* -x mod m. */
static uint64_t neg_mod(uint64_t x, uint64_t m)
{
	return x % m ? m - x % m : 0;
}

#define NO_SOLUTION UINT64_MAX

/*
 * The smallest x >= 0 with (a * x + b) mod m in [lo, hi], for a, b, lo, hi
 * below m and lo <= hi; NO_SOLUTION if there is none.
 *
 * If no x before the first wrap lands there, the wrap count y >= 1 decides:
 * some multiple of a must lie in [lo - b + m * y, hi - b + m * y], which is
 * a condition of the same form on y modulo a.  Mirroring the circle first,
 * so that a <= m / 2, makes the moduli shrink at Euclid's pace.  A solution
 * is below m, so m * y < m^2 fits in 128 bits.
 */
static uint64_t first_in_range(uint64_t a, uint64_t b, uint64_t m,
			       uint64_t lo, uint64_t hi)
{
	uint64_t x, y, rem;

	if (b >= lo && b <= hi)
		return 0;
	if (a == 0)
		return NO_SOLUTION;
	if (a > m - a)
		return first_in_range(m - a, m - 1 - b, m, m - 1 - hi, m - 1 - lo);
	if (b < lo) {
		x = (lo - b - 1) / a + 1;
		if (x <= (hi - b) / a)
			return x;
	}
	y = 1;
	if (hi - lo < a - 1) {
		/* y = 1 + z: ((b - lo - m) - m * z) mod a <= hi - lo */
		uint64_t start = add_mod(add_mod(b % a, neg_mod(lo, a), a),
					 neg_mod(m, a), a);

		y = first_in_range(neg_mod(m, a), start, a, 0, hi - lo);
		if (y == NO_SOLUTION)
			return NO_SOLUTION;
		y++;
	}
	/* The first x past y wraps: ceil((m * y + lo - b) / a). */
	x = div_u128_u64((__uint128_t)m * y + lo - b - 1, a, &rem);
	return x + 1;
}

/*
 * The newest host TSC in [.., end] that the map sends to scaled (before the
 * offset).  With ratio <= 1.0 it is the largest h with
 * h * ratio < (scaled + 1) * 2^frac_bits.
 */
static uint64_t newest_host_for(const struct pvclock_ref_map *map,
				uint64_t scaled, uint64_t end)
{
	__uint128_t limit = ((__uint128_t)scaled + 1) << map->frac_bits;

	if (map->ratio == 1ULL << map->frac_bits)
		return scaled;
	if (limit > ((__uint128_t)end + 1) * map->ratio)
		return end;
	return div_u128_u64(limit - 1, map->ratio, &scaled);
}

/*
 * The valid d1 values of a window: the cyclic range [lo, lo + span] cut to
 * [0, 2^63).  span < 2^40, so at most one end of that cut applies.
 */
static bool valid_range(uint64_t lo, uint64_t span, uint64_t *first,
			uint64_t *last)
{
	if ((int64_t)lo >= 0) {
		*first = lo;
		*last = lo + span;
		if ((int64_t)*last < 0)
			*last = INT64_MAX;
		return true;
	}
	if (lo + span >= lo)
		return false;	/* never reaches 0: all before the old reference */
	*first = 0;
	*last = lo + span;
	return true;
}

/*
 * A family of candidates: count copies of the range [lo, lo + len - 1] of j,
 * one every period (len <= period), so every copy holds the same remainders
 * at the same places.  best_at is where in a copy the smallest one lies.
 */
struct j_family {
	uint64_t lo, len, count, best_at;
	uint32_t value;
};

struct skip_search {
	const struct pvclock_ref_clock *old;
	const struct pvclock_ref_map *map;
	uint64_t to_d1, period;
	uint32_t step;
};

static void family_init(const struct skip_search *ss, struct j_family *f,
			uint64_t lo, uint64_t len, uint64_t count)
{
	f->lo = lo;
	f->len = len;
	f->count = count;
	f->value = pvclock_ref_min_mulmod((uint32_t)lo * ss->step, ss->step,
					  len, &f->best_at);
}

static uint64_t family_newest(const struct skip_search *ss,
			      const struct j_family *f)
{
	return f->lo + f->best_at + (f->count - 1) * ss->period;
}

static bool family_before(const struct skip_search *ss,
			  const struct j_family *a, const struct j_family *b)
{
	return a->value < b->value ||
	       (a->value == b->value &&
		family_newest(ss, a) > family_newest(ss, b));
}

/*
 * A guest TSC x is reached from some host TSC when [x, x + 1) * 2^frac_bits
 * holds a multiple of ratio: when (-x * 2^frac_bits) mod ratio < 2^frac_bits.
 * Along a family's best candidates, newest first, x falls by period * 2^k
 * each time, so that residue moves linearly: the first one reached is a
 * first_in_range() away.  Returns the host TSC, or NO_SOLUTION.
 */
static uint64_t family_reached(const struct skip_search *ss,
			       const struct j_family *f)
{
	const struct pvclock_ref_map *map = ss->map;
	unsigned int k = align_bits(ss->old);
	uint64_t newest = family_newest(ss, f), scaled, residue, stride, t;
	uint64_t one = 1ULL << map->frac_bits;

	scaled = (newest << k) - ss->to_d1;
	div_u128_u64((__uint128_t)scaled << map->frac_bits, map->ratio,
		     &residue);
	div_u128_u64((__uint128_t)((ss->period << k) % map->ratio) <<
		     map->frac_bits, map->ratio, &stride);
	t = first_in_range(stride, neg_mod(residue, map->ratio), map->ratio, 0,
			   one - 1);
	if (t >= f->count)
		return NO_SOLUTION;
	scaled -= (t * ss->period) << k;
	/* the first host TSC at or past it maps to it exactly */
	return div_u128_u64(((__uint128_t)scaled << map->frac_bits) +
			    map->ratio - 1, map->ratio, &residue);
}

/*
 * A guest faster than the host (ratio > 1.0) skips guest TSC values, so not
 * every j in the range is a candidate.  Take the families in order of their
 * smallest remainder (newest first on ties); for each, look for a reached
 * guest TSC among the copies of its best candidate in O(log) steps; if none
 * is, split the family around that candidate and go on.  A few families
 * usually do, but which guest TSCs are skipped and which remainders are
 * small are two patterns that can line up for a while (`bench faster`
 * measures how often); past SKIP_TRIES families (20 KiB of stack), scan.
 */
#define SKIP_TRIES 512

static int choose_skipping(const struct skip_search *ss, uint64_t end,
			   uint64_t width, uint64_t j_lo, uint64_t j_hi,
			   uint64_t *best_host)
{
	struct j_family fam[SKIP_TRIES + 2], f;
	uint64_t span = j_hi - j_lo + 1, copies = span / ss->period;
	unsigned int count = 0, tries, i, top;

	/* Whole periods as one family, and what is left over after them. */
	if (copies)
		family_init(ss, &fam[count++], j_lo, ss->period, copies);
	if (span % ss->period)
		family_init(ss, &fam[count++], j_lo + copies * ss->period,
			    span % ss->period, 1);
	for (tries = 0; tries < SKIP_TRIES && count; tries++) {
		for (top = 0, i = 1; i < count; i++)
			if (family_before(ss, &fam[i], &fam[top]))
				top = i;
		f = fam[top];
		fam[top] = fam[--count];
		*best_host = family_reached(ss, &f);
		if (*best_host != NO_SOLUTION)
			return 0;
		if (f.best_at)
			family_init(ss, &fam[count++], f.lo, f.best_at, f.count);
		if (f.best_at + 1 < f.len)
			family_init(ss, &fam[count++], f.lo + f.best_at + 1,
				    f.len - f.best_at - 1, f.count);
	}
	if (!count)
		return PVCLOCK_REF_ENOCAND;
	return choose_by_scan(ss->old, ss->map, end, width, false, best_host);
}

/*
 * A ratio of P/Q with Q = 2^e small: host TSCs h = r + Q * u of one residue
 * r map to guest TSCs floor(r * P / Q) + P * u, an arithmetic progression.
 * Its aligned members are every (2^k / g)-th (g = gcd(P, 2^k)), their j
 * again a progression, and their remainders a linear function of the
 * member's number: one pvclock_ref_min_mulmod() per residue, Q in all.
 */
#define SIMPLE_RATIO_BITS 6

struct residue_search {
	const struct pvclock_ref_clock *old;
	const struct pvclock_ref_map *map;
	uint64_t h_lo, h_hi;
	uint64_t d_lo;			/* d1 of the window's oldest host TSC */
	uint64_t first, last;		/* its valid d1, as offsets from d_lo */
	uint64_t p, q;
};

/* The best candidate among host TSCs h_first + q * u; false if none. */
static bool residue_best(const struct residue_search *rs, uint64_t h_first,
			 uint32_t *value, uint64_t *host)
{
	unsigned int k = align_bits(rs->old), g_bits = __builtin_ctzll(rs->p);
	uint64_t at, u_lo, u_hi, stride, u, count, index, d1;
	uint32_t step, first;

	/* d1 of h_first as an offset from d_lo: below the window's span */
	at = pvclock_ref_scale_tsc(h_first, rs->map->ratio, rs->map->frac_bits) -
	     pvclock_ref_scale_tsc(rs->h_lo, rs->map->ratio, rs->map->frac_bits);
	if (rs->last < at)
		return false;
	u_lo = rs->first > at ? (rs->first - at - 1) / rs->p + 1 : 0;
	u_hi = (rs->last - at) / rs->p;
	if (u_hi > (rs->h_hi - h_first) / rs->q)
		u_hi = (rs->h_hi - h_first) / rs->q;
	/* p * u + d1(h_first) = 0 mod 2^k, solved for u modulo 2^k / g */
	if (g_bits > k)
		g_bits = k;
	d1 = rs->d_lo + at;
	if (d1 & ((1ULL << g_bits) - 1))
		return false;
	stride = 1ULL << (k - g_bits);
	u = ((0 - (d1 >> g_bits)) * inverse_odd((uint32_t)(rs->p >> g_bits))) &
	    (stride - 1);
	if (u < (u_lo & (stride - 1)))
		u += stride;
	u += u_lo & ~(stride - 1);
	if (u > u_hi)
		return false;
	count = (u_hi - u) / stride + 1;
	step = (uint32_t)(rs->p >> g_bits) * remainder_step(rs->old);
	first = (uint32_t)((d1 + rs->p * u) >> k) * remainder_step(rs->old);
	*value = pvclock_ref_min_mulmod(first, step, count, &index);
	*host = h_first + rs->q * (u + index * stride);
	return true;
}

static int choose_by_residue(struct residue_search *rs, uint64_t *best_host)
{
	uint64_t r, host, best = UINT64_MAX;
	uint32_t value;

	for (r = 0; r < rs->q && rs->h_lo + r <= rs->h_hi; r++) {
		if (!residue_best(rs, rs->h_lo + r, &value, &host))
			continue;
		/* value in the high half, the host TSC breaking ties */
		if (best == UINT64_MAX || value < (uint32_t)best ||
		    (value == (uint32_t)best && host > *best_host)) {
			best = value;
			*best_host = host;
		}
	}
	return best == UINT64_MAX ? PVCLOCK_REF_ENOCAND : 0;
}

/* Whether ratio / 2^frac_bits is P / Q with Q <= 2^SIMPLE_RATIO_BITS. */
static bool simple_ratio(const struct pvclock_ref_map *map, uint64_t *p,
			 uint64_t *q)
{
	unsigned int twos = __builtin_ctzll(map->ratio);

	if (twos >= map->frac_bits) {
		*p = map->ratio >> map->frac_bits;
		*q = 1;
		return true;
	}
	if (map->frac_bits - twos > SIMPLE_RATIO_BITS)
		return false;
	*p = map->ratio >> twos;
	*q = 1ULL << (map->frac_bits - twos);
	return true;
}

/*
 * Host TSCs map to guest TSCs in order, so the window's guest TSCs lie in
 * one range and the valid ones are the multiples j * 2^k in a range of d1.
 * With ratio <= 1.0 consecutive host TSCs step by 0 or 1 and every j in the
 * range is a candidate.  A scaled TSC past 2^64 wraps, as KVM's does: the
 * range is then not in order, and only a scan is right.
 */
static int choose_exact(const struct pvclock_ref_clock *old,
			const struct pvclock_ref_map *map, uint64_t end,
			uint64_t width, uint64_t *best_host)
{
	unsigned int k = align_bits(old);
	uint64_t scaled_lo = pvclock_ref_scale_tsc(end - (width - 1), map->ratio,
						   map->frac_bits);
	uint64_t scaled_hi = pvclock_ref_scale_tsc(end, map->ratio,
						   map->frac_bits);
	uint64_t to_d1 = map->offset - old->tsc_timestamp;
	uint64_t first, last, j_lo, j_hi, index;

	if (((__uint128_t)end * map->ratio) >> map->frac_bits >> 64 ||
	    scaled_hi - scaled_lo >= 1ULL << 62)
		return choose_by_scan(old, map, end, width, false, best_host);
	if (!valid_range(scaled_lo + to_d1, scaled_hi - scaled_lo, &first, &last))
		return PVCLOCK_REF_ENOCAND;
	j_lo = (first + (1ULL << k) - 1) >> k;
	j_hi = last >> k;
	if (j_lo > j_hi)
		return PVCLOCK_REF_ENOCAND;
	if (map->ratio > 1ULL << map->frac_bits) {
		struct residue_search rs = {
			.old = old, .map = map, .h_hi = end,
			.h_lo = end - (width - 1), .d_lo = scaled_lo + to_d1,
			.first = first - (scaled_lo + to_d1),
			.last = last - (scaled_lo + to_d1),
		};
		struct skip_search ss = {
			.old = old, .map = map, .to_d1 = to_d1,
			.step = remainder_step(old),
		};

		if (simple_ratio(map, &rs.p, &rs.q))
			return choose_by_residue(&rs, best_host);
		ss.period = 1ULL << (pvclock_ref_zero_period_log2(old->mul,
								  old->shift) - k);
		return choose_skipping(&ss, end, width, j_lo, j_hi, best_host);
	}
	pvclock_ref_min_mulmod((uint32_t)j_lo * remainder_step(old),
			       remainder_step(old), j_hi - j_lo + 1, &index);
	*best_host = newest_host_for(map, ((j_lo + index) << k) - to_d1, end);
	return 0;
}

static bool window_valid(uint64_t end, uint64_t width)
{
	return width >= 1 && width <= PVCLOCK_REF_MAX_WINDOW &&
	       end >= width - 1;
}

int pvclock_ref_choose(const struct pvclock_ref_clock *old,
		       const struct pvclock_ref_map *map,
		       uint64_t end, uint64_t width,
		       enum pvclock_ref_method method,
		       struct pvclock_ref_choice *choice)
{
	uint64_t host = end;
	int ret;

	if (!pvclock_ref_clock_valid(old) || !pvclock_ref_map_valid(map) ||
	    !window_valid(end, width))
		return PVCLOCK_REF_EINVAL;

	switch (method) {
	case PVCLOCK_REF_NAIVE:
		ret = (int64_t)(pvclock_ref_guest_tsc(map, end) -
				old->tsc_timestamp) < 0 ? PVCLOCK_REF_ENOCAND : 0;
		break;
	case PVCLOCK_REF_EXACT:
		ret = choose_exact(old, map, end, width, &host);
		break;
	case PVCLOCK_REF_SCAN:
		ret = choose_by_scan(old, map, end, width, false, &host);
		break;
	case PVCLOCK_REF_SEED:
		ret = choose_by_scan(old, map, end, width, true, &host);
		break;
	default:
		return PVCLOCK_REF_EINVAL;
	}
	if (!ret)
		fill_choice(old, map, host, choice);
	return ret;
}

/* ---- Where two clocks first part ---- */

/*
 * With d1 = J * 2^k + e (e < 2^k) and a read u = U * 2^k + v ticks after the
 * new reference, the old clock's pre-shifted delta is J + U, plus one when
 * v >= 2^k - e.  Within each of those two classes the difference is
 * base + carry(U): base = S0 - S1 + floor((J + c) * m / 2^32), and carry(U)
 * is 1 when the fraction dropped at J + c plus U's own reaches 2^32.  Return
 * the first divergent u of class c, or NO_SOLUTION.
 */
static uint64_t first_divergence_in_class(const struct pvclock_ref_clock *old,
					  const struct pvclock_ref_clock *new_clk,
					  uint64_t aligned_d1, uint64_t class_start)
{
	unsigned int k = align_bits(old);
	uint64_t tsc = old->tsc_timestamp + aligned_d1;
	uint64_t base = pvclock_ref_read(old, tsc) - new_clk->system_time;
	uint32_t frac = pvclock_ref_frac(old, tsc);
	uint64_t units;

	if (base)	/* apart already at the class's first read */
		return class_start;
	if (!frac)
		return NO_SOLUTION;
	units = first_in_range(remainder_step(old), 0, 1ULL << 32,
			       (1ULL << 32) - frac, (1ULL << 32) - 1);
	if (units == NO_SOLUTION || units > (UINT64_MAX - class_start) >> k)
		return NO_SOLUTION;
	return (units << k) + class_start;
}

int pvclock_ref_first_divergence(const struct pvclock_ref_clock *old,
				 const struct pvclock_ref_clock *new_clk,
				 uint64_t *ticks)
{
	uint64_t d1 = new_clk->tsc_timestamp - old->tsc_timestamp;
	unsigned int k = align_bits(old);
	uint64_t grid = 1ULL << k, off_grid = d1 & (grid - 1);
	/* The old delta, d1 + u, must survive the guest's left shift. */
	uint64_t last_delta = UINT64_MAX >> (old->shift > 0 ? old->shift : 0);
	uint64_t first, other;

	if (!pvclock_ref_clock_valid(old) || old->mul != new_clk->mul ||
	    old->shift != new_clk->shift || (int64_t)d1 < 0 || d1 > last_delta)
		return PVCLOCK_REF_EINVAL;
	first = first_divergence_in_class(old, new_clk, d1 - off_grid, 0);
	if (off_grid) {
		other = first_divergence_in_class(old, new_clk,
						  d1 - off_grid + grid,
						  grid - off_grid);
		if (other < first)
			first = other;
	}
	if (first > last_delta - d1)
		return PVCLOCK_REF_NEVER;
	*ticks = first;
	return 0;
}

/* The largest delta from a reference whose pre-shift cannot overflow. */
static uint64_t max_delta(int8_t shift)
{
	return (uint64_t)INT64_MAX >> (shift > 0 ? shift : 0);
}

/*
 * The smallest delta at which clk's scaled delta reaches y, or
 * NO_SOLUTION past max_delta().  The smallest pre-shifted value p with
 * floor(p * mul / 2^32) >= y is ceil(y * 2^32 / mul); the smallest delta
 * whose pre-shift reaches p follows from the shift.
 */
static uint64_t first_delta_reaching(const struct pvclock_ref_clock *clk,
				     uint64_t y)
{
	__uint128_t num = ((__uint128_t)y << 32) + clk->mul - 1;
	uint64_t p, rem, limit = max_delta(clk->shift);
	unsigned int s;

	if ((uint64_t)(num >> 64) >= clk->mul)	/* p >= 2^64 */
		return NO_SOLUTION;
	p = div_u128_u64(num, clk->mul, &rem);
	if (clk->shift < 0) {
		s = (unsigned int)-clk->shift;
		if (p > limit >> s)
			return NO_SOLUTION;
		return p << s;
	}
	s = (unsigned int)clk->shift;
	p = (p >> s) + ((p & ((1ULL << s) - 1)) != 0);
	return p > limit ? NO_SOLUTION : p;
}

int pvclock_ref_inverse(const struct pvclock_ref_clock *clk, uint64_t ns,
			uint64_t *first, uint64_t *last)
{
	uint64_t x = ns - clk->system_time, lo, hi;

	if (!pvclock_ref_clock_valid(clk))
		return PVCLOCK_REF_EINVAL;
	if (ns < clk->system_time)
		return PVCLOCK_REF_ENOCAND;
	lo = first_delta_reaching(clk, x);
	if (lo == NO_SOLUTION)
		return PVCLOCK_REF_ENOCAND;
	hi = x == UINT64_MAX ? NO_SOLUTION : first_delta_reaching(clk, x + 1);
	hi = hi == NO_SOLUTION ? max_delta(clk->shift) : hi - 1;
	if (hi < lo)
		return PVCLOCK_REF_ENOCAND;
	*first = clk->tsc_timestamp + lo;
	*last = clk->tsc_timestamp + hi;
	return 0;
}

/*
 * Intersect the arc [*lo, *lo + *len - 1] of offsets (mod 2^64) with
 * [b, b + blen - 1].  Arcs this short never meet twice; false when they
 * do not meet.
 */
static bool intersect_arc(uint64_t *lo, uint64_t *len, uint64_t b,
			  uint64_t blen)
{
	uint64_t into = b - *lo;

	if (into < *len) {
		*lo = b;
		*len = *len - into < blen ? *len - into : blen;
		return true;
	}
	into = *lo - b;
	if (into < blen) {
		*len = blen - into < *len ? blen - into : *len;
		return true;
	}
	return false;
}

int pvclock_ref_tsc_offset(const struct pvclock_ref_clock *clk,
			   const struct pvclock_ref_sample *samples,
			   unsigned int n, uint64_t *offset, uint64_t *count)
{
	uint64_t lo = 0, len = 0, first, last;
	unsigned int i;
	int ret;

	if (!n || !pvclock_ref_clock_valid(clk))
		return PVCLOCK_REF_EINVAL;
	for (i = 0; i < n; i++) {
		ret = pvclock_ref_inverse(clk, samples[i].clock, &first, &last);
		if (ret)
			return ret;
		first -= samples[i].host_tsc;
		last -= samples[i].host_tsc;
		if (!i) {
			lo = first;
			len = last - first + 1;
		} else if (!intersect_arc(&lo, &len, first, last - first + 1)) {
			return PVCLOCK_REF_ENOCAND;
		}
	}
	*offset = lo;
	*count = len;
	return 0;
}

int pvclock_ref_diff_range(const struct pvclock_ref_clock *saved,
			   const struct pvclock_ref_clock *restored,
			   int64_t *lo, int64_t *hi)
{
	uint64_t d1 = restored->tsc_timestamp - saved->tsc_timestamp;
	uint64_t at = pvclock_ref_read(saved, restored->tsc_timestamp);
	int64_t base = (int64_t)(at - restored->system_time);

	if (!pvclock_ref_clock_valid(saved) || saved->mul != restored->mul ||
	    saved->shift != restored->shift || d1 > max_delta(saved->shift) ||
	    base > INT64_MAX / 2 || base < INT64_MIN / 2)
		return PVCLOCK_REF_EINVAL;
	*lo = base;
	*hi = base + ((d1 & ((1ULL << align_bits(saved)) - 1)) ? 2 : 1);
	return 0;
}

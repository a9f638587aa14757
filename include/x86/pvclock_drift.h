/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The parts of pvclock_drift_test that need no KVM: option values, the old
 * and new clocks of a reference update, per-read statistics and verdicts.
 * They live here so that host-only unit tests can include them without a
 * kernel tree.  Everything is integer arithmetic; the statistics are also
 * gathered by guest code, so nothing here may need more than the general
 * registers.
 */
#ifndef PVCLOCK_DRIFT_H
#define PVCLOCK_DRIFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pvclock_ref.h"

#define PVD_NAME		"pvclock_drift_test"
#define PVD_ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define PVD_MAX_FREQS		16
/* A zero entry of pvd_opts.freq_khz stands for this host's own rate. */
#define PVD_HOST_RATE		0
/* stock_restore keeps one calibration figure per attempt. */
#define PVD_MAX_RESTORE_ATTEMPTS	1000

/*
 * reference_update's old clock has its reference at least PVD_OLD_AGE ticks
 * before the guest's TSC, so that no candidate window can reach back to it:
 * d1 = 0 would be a trivially exact choice.  An odd skew and up to 2^36
 * ticks more, taken from the TSC itself, vary d1 from run to run.
 */
#define PVD_OLD_AGE		0x10000000000ULL	/* 2^40 */
#define PVD_OLD_SKEW		0x2d5bULL
#define PVD_OLD_SPREAD_BITS	36
#define PVD_OLD_SYSTEM_TIME	1000000000000ULL	/* 1000 s */

/*
 * pvclock_ref_choose() numbers candidates in a "host" TSC domain whose
 * window may not start below zero.  A new VM's TSC starts near zero, so the
 * test counts in a domain shifted up by this much and maps it back with the
 * map's offset: still the identity map of an unscaled TSC.
 */
#define PVD_DOMAIN_SHIFT	PVCLOCK_REF_MAX_WINDOW

/*
 * --clock-guest-mode: how KVM_SET_CLOCK_GUEST is expected to pick the new
 * reference.  round-down: the kernel's master clock reference T1, with
 * system_time the saved clock at T1 rounded down.  exact: a T1 at which the
 * saved clock has no fraction, so that no read differs.  Auto (not given):
 * whichever of the two the kernel's numbers match.
 */
enum pvd_clock_guest_mode {
	PVD_CLOCK_GUEST_AUTO,
	PVD_CLOCK_GUEST_ROUND_DOWN,
	PVD_CLOCK_GUEST_EXACT,
};

static inline const char *pvd_clock_guest_mode_name(enum pvd_clock_guest_mode m)
{
	switch (m) {
	case PVD_CLOCK_GUEST_ROUND_DOWN:
		return "round-down";
	case PVD_CLOCK_GUEST_EXACT:
		return "exact";
	default:
		return "auto";
	}
}

/* --only's bits: the most subtests one test may have. */
#define PVD_MAX_SUBTESTS	32

struct pvd_opts {
	uint32_t only;		/* --only: a bit per subtest; 0 runs them all */
	uint64_t interval_ms;
	uint64_t max_drift_ppb;
	bool has_max_drift;
	uint64_t max_set_clock_ns;
	bool has_max_set_clock;
	/* reference_update's rates, the scan's and exact's widths: no option */
	uint32_t freq_khz[PVD_MAX_FREQS];
	unsigned int nr_freqs;
	uint64_t candidates;
	uint64_t window;
	uint64_t reads;		/* 0: as many as fit in the time budget */
	uint64_t tolerance_ns;
	uint64_t restore_tolerance_ns;	/* stock_restore's bound on any read */
	uint64_t restore_attempts;	/* KVM_SET_CLOCK attempts at most */
	uint64_t restore_ms;		/* time the restore may take at most */
	uint64_t duration_ms;		/* concurrent_update's reading: no option */
	enum pvd_clock_guest_mode clock_guest_mode;
};

/* Does this run include subtest i (an index of the test's table)? */
static inline bool pvd_selected(const struct pvd_opts *o, unsigned int i)
{
	return !o->only || (o->only & 1U << i);
}

/*
 * The options, in the parser's order; a test names those it takes as bits
 * (PVD_OPT(PVD_OPT_READS) | ...), and every test takes --help, --list and
 * --only.  Any other is a usage error there.
 */
enum pvd_option {
	PVD_OPT_HELP,
	PVD_OPT_LIST,
	PVD_OPT_CLOCK_GUEST_MODE,
	PVD_OPT_ONLY,
	PVD_OPT_INTERVAL_MS,
	PVD_OPT_MAX_DRIFT_PPB,
	PVD_OPT_MAX_SET_CLOCK_NS,
	PVD_OPT_READS,
	PVD_OPT_TOLERANCE_NS,
	PVD_OPT_RESTORE_TOLERANCE_NS,
	PVD_OPT_RESTORE_ATTEMPTS,
	PVD_OPT_RESTORE_MS,
	PVD_NR_OPTS
};

#define PVD_OPT(o)		(1U << (o))
#define PVD_OPTS_ALWAYS		(PVD_OPT(PVD_OPT_HELP) | PVD_OPT(PVD_OPT_LIST) | \
				 PVD_OPT(PVD_OPT_ONLY))

enum pvd_args_result {
	PVD_ARGS_RUN,
	PVD_ARGS_HELP,
	PVD_ARGS_LIST,
	PVD_ARGS_ERROR,
};

/* The options' defaults (lib/x86/pvclock_drift_opts.c, host code only). */
void pvd_default_opts(struct pvd_opts *o);

/*
 * Fill *o from argv; --only takes the nr names in names, the test's
 * subtests (at most PVD_MAX_SUBTESTS), and accepted names the other options
 * the test takes.  On error, a one-line message (no newline) in err.  An
 * option given twice is an error, not "the last one wins", and so is one
 * whose value is missing or is the next option.
 */
enum pvd_args_result pvd_parse_args(int argc, char **argv,
				    const char *const *names, unsigned int nr,
				    uint32_t accepted, struct pvd_opts *o,
				    char *err, size_t errlen);

/* What the guest sees over its reads: old minus new clock, in ns. */
struct pvd_stats {
	uint64_t reads;
	uint64_t differ;
	int64_t min_diff;
	int64_t max_diff;
	uint64_t by_diff[3];	/* differences of 0, 1 and 2 ns */
	uint64_t other;		/* any other difference */
};

/* Field by field: guest code must not call the C library's memset(). */
static inline void pvd_stats_init(struct pvd_stats *s)
{
	s->reads = 0;
	s->differ = 0;
	s->min_diff = INT64_MAX;
	s->max_diff = INT64_MIN;
	s->by_diff[0] = 0;
	s->by_diff[1] = 0;
	s->by_diff[2] = 0;
	s->other = 0;
}

static inline void pvd_stats_add(struct pvd_stats *s, int64_t diff)
{
	s->reads++;
	if (diff)
		s->differ++;
	if (diff < s->min_diff)
		s->min_diff = diff;
	if (diff > s->max_diff)
		s->max_diff = diff;
	if (diff >= 0 && diff <= 2)
		s->by_diff[diff]++;
	else
		s->other++;
}

static inline bool pvd_stats_equal(const struct pvd_stats *a,
				   const struct pvd_stats *b)
{
	return a->reads == b->reads && a->differ == b->differ &&
	       a->min_diff == b->min_diff && a->max_diff == b->max_diff &&
	       a->by_diff[0] == b->by_diff[0] &&
	       a->by_diff[1] == b->by_diff[1] &&
	       a->by_diff[2] == b->by_diff[2] && a->other == b->other;
}

/* The largest |old - new| seen, 0 without reads. */
static inline uint64_t pvd_stats_max_abs(const struct pvd_stats *s)
{
	uint64_t lo, hi;

	if (!s->reads)
		return 0;
	lo = s->min_diff < 0 ? -(uint64_t)s->min_diff : (uint64_t)s->min_diff;
	hi = s->max_diff < 0 ? -(uint64_t)s->max_diff : (uint64_t)s->max_diff;
	return lo > hi ? lo : hi;
}

/* Old minus new clock at one TSC reading, as the guest computes them. */
static inline int64_t pvd_clock_diff(const struct pvclock_ref_clock *old_clk,
				     const struct pvclock_ref_clock *new_clk,
				     uint64_t tsc)
{
	return (int64_t)(pvclock_ref_read(old_clk, tsc) -
			 pvclock_ref_read(new_clk, tsc));
}

static inline bool pvd_clock_equal(const struct pvclock_ref_clock *a,
				   const struct pvclock_ref_clock *b)
{
	return a->tsc_timestamp == b->tsc_timestamp &&
	       a->system_time == b->system_time && a->mul == b->mul &&
	       a->shift == b->shift && a->flags == b->flags;
}

/* The scale of a TSC rate, as KVM computes it for its guests. */
static inline void pvd_rate_scale(uint32_t khz, uint32_t *mul, int8_t *shift)
{
	pvclock_ref_time_scale(1000000000ULL, (uint64_t)khz * 1000, shift, mul);
}

/* How far before guest_tsc reference_update puts the old reference. */
static inline uint64_t pvd_old_age(uint64_t guest_tsc)
{
	/* Fibonacci hashing: the top bits of the product are well mixed. */
	uint64_t spread = (guest_tsc * 0x9e3779b97f4a7c15ULL) >>
			  (64 - PVD_OLD_SPREAD_BITS);

	return PVD_OLD_AGE + PVD_OLD_SKEW + spread;
}

/* reference_update's old clock, its reference long before guest_tsc. */
static inline void pvd_old_clock(uint32_t mul, int8_t shift, uint64_t guest_tsc,
				 struct pvclock_ref_clock *old_clk)
{
	old_clk->tsc_timestamp = guest_tsc - pvd_old_age(guest_tsc);
	old_clk->system_time = PVD_OLD_SYSTEM_TIME;
	old_clk->mul = mul;
	old_clk->shift = shift;
	old_clk->flags = 1;	/* PVCLOCK_TSC_STABLE_BIT */
}

/* Candidates each method looks at. */
static inline uint64_t pvd_method_width(enum pvclock_ref_method m,
					const struct pvd_opts *o)
{
	switch (m) {
	case PVCLOCK_REF_SCAN:
	case PVCLOCK_REF_SEED:
		return o->candidates;
	case PVCLOCK_REF_EXACT:
		return o->window;
	default:
		return 1;
	}
}

static inline const char *pvd_method_name(enum pvclock_ref_method m)
{
	switch (m) {
	case PVCLOCK_REF_NAIVE:
		return "naive";
	case PVCLOCK_REF_SCAN:
		return "scan";
	case PVCLOCK_REF_EXACT:
		return "exact";
	case PVCLOCK_REF_SEED:
		return "seed";
	}
	return "?";
}

/*
 * Move the reference of old_clk to a TSC value chosen by the method among
 * the width values that end at guest_end (the guest's own TSC), and build
 * the new clock that continues old_clk there.  Returns pvclock_ref_choose()'s
 * result.
 */
static inline int pvd_move_reference(const struct pvclock_ref_clock *old_clk,
				     uint64_t guest_end, uint64_t width,
				     enum pvclock_ref_method method,
				     struct pvclock_ref_choice *choice,
				     struct pvclock_ref_clock *new_clk)
{
	struct pvclock_ref_map map;
	int ret;

	pvclock_ref_map_identity(&map);
	map.offset = -PVD_DOMAIN_SHIFT;
	ret = pvclock_ref_choose(old_clk, &map, guest_end + PVD_DOMAIN_SHIFT,
				 width, method, choice);
	if (!ret)
		pvclock_ref_rebase(old_clk, choice->guest_tsc, new_clk);
	return ret;
}

/*
 * Why a method's figures break its promise, or NULL.  exact: the new clock
 * equals the old one at every read; scan: they differ by 0 or 1 ns only;
 * naive is what KVM does today and is only reported.
 */
static inline const char *pvd_method_verdict(enum pvclock_ref_method m,
					     const struct pvd_stats *s)
{
	if (!s->reads)
		return "no reads";
	switch (m) {
	case PVCLOCK_REF_EXACT:
		return s->differ ? "reads differ after an exact reference" : NULL;
	case PVCLOCK_REF_SCAN:
		return s->min_diff < 0 || s->max_diff > 1 ?
		       "a difference outside 0..1 ns after a scanned reference" :
		       NULL;
	default:
		return NULL;
	}
}

/* diff_ns over interval_ns in parts per billion, rounded toward zero. */
static inline int64_t pvd_drift_ppb(int64_t diff_ns, uint64_t interval_ns)
{
	__int128 ppb;

	if (!interval_ns)
		return 0;
	ppb = (__int128)diff_ns * 1000000000 / (__int128)interval_ns;
	if (ppb > INT64_MAX)
		return INT64_MAX;
	if (ppb < INT64_MIN)
		return INT64_MIN;
	return (int64_t)ppb;
}

/* part / whole in hundredths of a percent, for "12.34 %" without floats. */
static inline uint64_t pvd_basis_points(uint64_t part, uint64_t whole)
{
	if (!whole)
		return 0;
	return (uint64_t)((__uint128_t)part * 10000 / whole);
}

#endif /* PVCLOCK_DRIFT_H */

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
#include <stdint.h>
#include <stdio.h>
#include <string.h>

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
#define PVD_OLD_AGE		(1ULL << 40)
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

struct pvd_opts {
	uint64_t interval_ms;
	uint64_t max_drift_ppb;
	bool has_max_drift;
	uint64_t max_set_clock_ns;
	bool has_max_set_clock;
	uint32_t freq_khz[PVD_MAX_FREQS];
	unsigned int nr_freqs;
	uint64_t candidates;
	uint64_t window;
	uint64_t reads;		/* 0: as many as fit in the time budget */
	uint64_t tolerance_ns;
	uint64_t restore_tolerance_ns;	/* stock_restore's bound on any read */
	uint64_t restore_attempts;	/* KVM_SET_CLOCK attempts at most */
	uint64_t restore_ms;		/* time the restore may take at most */
	uint64_t duration_ms;		/* concurrent_update's guest reading */
};

enum pvd_parse_err {
	PVD_PARSE_OK,
	PVD_PARSE_MISSING,
	PVD_PARSE_MALFORMED,
	PVD_PARSE_NEGATIVE,
	PVD_PARSE_ZERO,
	PVD_PARSE_RANGE,
};

static inline const char *pvd_parse_strerror(enum pvd_parse_err err)
{
	switch (err) {
	case PVD_PARSE_OK:
		return "ok";
	case PVD_PARSE_MISSING:
		return "needs a value";
	case PVD_PARSE_MALFORMED:
		return "is not a number";
	case PVD_PARSE_NEGATIVE:
		return "cannot be negative";
	case PVD_PARSE_ZERO:
		return "cannot be zero";
	case PVD_PARSE_RANGE:
		return "is out of range";
	}
	return "is invalid";
}

static inline bool pvd_is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Decimal digits of s[0..len) into *out; false on overflow or no digit. */
static inline bool pvd_parse_decimal(const char *s, size_t len, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (!len)
		return false;
	for (i = 0; i < len; i++) {
		if (!pvd_is_digit(s[i]))
			return false;
		if (v > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return true;
}

static inline int pvd_hex_digit(char c)
{
	if (pvd_is_digit(c))
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static inline bool pvd_parse_hex(const char *s, size_t len, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (!len || len > 16)
		return false;
	for (i = 0; i < len; i++) {
		int d = pvd_hex_digit(s[i]);

		if (d < 0)
			return false;
		v = v << 4 | (uint64_t)d;
	}
	*out = v;
	return true;
}

/*
 * One unsigned value of s[0..len): decimal, 0x-prefixed hex, or 2^N.
 * Distinguishes the ways a value can be wrong, for one-line errors.
 */
static inline enum pvd_parse_err pvd_parse_u64n(const char *s, size_t len,
						uint64_t min, uint64_t max,
						uint64_t *out)
{
	uint64_t v, e;

	if (!s || !len)
		return PVD_PARSE_MISSING;
	if (s[0] == '-')
		return len > 1 && pvd_is_digit(s[1]) ?
		       PVD_PARSE_NEGATIVE : PVD_PARSE_MALFORMED;
	if (!pvd_is_digit(s[0]))
		return PVD_PARSE_MALFORMED;
	if (len > 2 && s[0] == '2' && s[1] == '^') {
		size_t i;

		for (i = 2; i < len; i++)
			if (!pvd_is_digit(s[i]))
				return PVD_PARSE_MALFORMED;
		/* all digits: too many of them is a range error */
		if (!pvd_parse_decimal(s + 2, len - 2, &e) || e > 63)
			return PVD_PARSE_RANGE;
		v = 1ULL << e;
	} else if (len > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		size_t i = 2, j;

		/* Leading zeros do not count against the 16 digits. */
		while (i < len - 1 && s[i] == '0')
			i++;
		for (j = i; j < len; j++)
			if (pvd_hex_digit(s[j]) < 0)
				return PVD_PARSE_MALFORMED;
		if (!pvd_parse_hex(s + i, len - i, &v))
			return PVD_PARSE_RANGE;
	} else {
		if (!pvd_parse_decimal(s, len, &v)) {
			size_t i;

			for (i = 0; i < len; i++)
				if (!pvd_is_digit(s[i]))
					return PVD_PARSE_MALFORMED;
			return PVD_PARSE_RANGE;
		}
	}
	if (!v && min)
		return PVD_PARSE_ZERO;
	if (v < min || v > max)
		return PVD_PARSE_RANGE;
	*out = v;
	return PVD_PARSE_OK;
}

static inline enum pvd_parse_err pvd_parse_u64(const char *s, uint64_t min,
					       uint64_t max, uint64_t *out)
{
	return pvd_parse_u64n(s, s ? strlen(s) : 0, min, max, out);
}

#define PVD_MIN_FREQ_KHZ	1000ULL		/* 1 MHz */
#define PVD_MAX_FREQ_KHZ	100000000ULL	/* 100 GHz */

/*
 * A comma-separated list of TSC rates in kHz; "host" stands for the rate
 * KVM gives this host's guests.  Returns the entry that failed in *bad.
 */
static inline enum pvd_parse_err pvd_parse_freqs(const char *s,
						 struct pvd_opts *o,
						 unsigned int *bad)
{
	unsigned int n = 0;
	const char *p = s;

	*bad = 0;
	if (!s || !*s)
		return PVD_PARSE_MISSING;
	for (;;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		uint64_t khz;
		enum pvd_parse_err err;

		*bad = n;
		if (n == PVD_MAX_FREQS)
			return PVD_PARSE_RANGE;
		if (!len)
			return PVD_PARSE_MALFORMED;	/* an empty entry */
		if (len == 4 && !strncmp(p, "host", 4)) {
			khz = PVD_HOST_RATE;
		} else {
			err = pvd_parse_u64n(p, len, PVD_MIN_FREQ_KHZ,
					     PVD_MAX_FREQ_KHZ, &khz);
			if (err)
				return err;
		}
		o->freq_khz[n++] = (uint32_t)khz;
		if (!comma)
			break;
		p = comma + 1;
	}
	o->nr_freqs = n;
	return PVD_PARSE_OK;
}

static inline void pvd_default_opts(struct pvd_opts *o)
{
	static const uint32_t rates[] = {
		PVD_HOST_RATE, 1000000, 2500000, 3000000, 4200000,
	};
	unsigned int i;

	memset(o, 0, sizeof(*o));
	o->interval_ms = 1000;
	o->candidates = 100;
	o->window = 1ULL << 34;
	o->tolerance_ns = 2;
	o->restore_tolerance_ns = 1;
	o->restore_attempts = 1000;
	o->restore_ms = 2000;
	o->duration_ms = 2000;
	for (i = 0; i < PVD_ARRAY_SIZE(rates); i++)
		o->freq_khz[i] = rates[i];
	o->nr_freqs = i;
}

enum pvd_args_result {
	PVD_ARGS_RUN,
	PVD_ARGS_HELP,
	PVD_ARGS_ERROR,
};

struct pvd_opt_desc {
	const char *name;
	uint64_t *value;
	bool *given;
	uint64_t min, max;
};

/* Fill *o from argv; on error, a one-line message (no newline) in err. */
/* An option given twice is an error, not "the last one wins". */
static inline bool pvd_first_time(uint32_t *seen, unsigned int bit,
				  const char *name, char *err, size_t errlen)
{
	if (*seen & (1U << bit)) {
		snprintf(err, errlen, "--%s given twice", name);
		return false;
	}
	*seen |= 1U << bit;
	return true;
}

static inline enum pvd_args_result pvd_parse_args(int argc, char **argv,
						  struct pvd_opts *o,
						  char *err, size_t errlen)
{
	const struct pvd_opt_desc desc[] = {
		{ "interval-ms", &o->interval_ms, NULL, 1, 3600000 },
		{ "max-drift-ppb", &o->max_drift_ppb, &o->has_max_drift,
		  0, 1000000000 },
		{ "max-set-clock-ns", &o->max_set_clock_ns,
		  &o->has_max_set_clock, 0, 1000000000000ULL },
		{ "candidates", &o->candidates, NULL, 1, 1ULL << 24 },
		{ "window", &o->window, NULL, 1, PVCLOCK_REF_MAX_WINDOW },
		{ "reads", &o->reads, NULL, 1, 100000000 },
		{ "tolerance-ns", &o->tolerance_ns, NULL, 0, 1000000 },
		{ "restore-tolerance-ns", &o->restore_tolerance_ns, NULL,
		  0, 1000000 },
		{ "restore-attempts", &o->restore_attempts, NULL, 1,
		  PVD_MAX_RESTORE_ATTEMPTS },
		{ "restore-ms", &o->restore_ms, NULL, 1, 600000 },
		{ "duration-ms", &o->duration_ms, NULL, 1, 3600000 },
	};
	unsigned int ndesc = PVD_ARRAY_SIZE(desc);
	uint32_t seen = 0;
	int i;

	pvd_default_opts(o);
	for (i = 1; i < argc; i++) {
		const char *arg = argv[i], *name, *eq, *val = NULL;
		enum pvd_parse_err perr;
		unsigned int d, bad;
		size_t len;

		if (!strcmp(arg, "--help") || !strcmp(arg, "-h"))
			return PVD_ARGS_HELP;
		if (strncmp(arg, "--", 2) || !arg[2]) {
			snprintf(err, errlen, "unexpected argument '%s'", arg);
			return PVD_ARGS_ERROR;
		}
		name = arg + 2;
		eq = strchr(name, '=');
		len = eq ? (size_t)(eq - name) : strlen(name);
		if (eq)
			val = eq + 1;
		else if (i + 1 < argc && strncmp(argv[i + 1], "--", 2))
			val = argv[++i];	/* not the next option */

		if (len == 8 && !strncmp(name, "freq-khz", len)) {
			if (!pvd_first_time(&seen, 31, "freq-khz", err, errlen))
				return PVD_ARGS_ERROR;
			perr = pvd_parse_freqs(val, o, &bad);
			if (perr == PVD_PARSE_MISSING)
				snprintf(err, errlen, "--freq-khz %s",
					 pvd_parse_strerror(perr));
			else if (perr)
				snprintf(err, errlen,
					 "--freq-khz: entry %u %s (want 'host' or %llu..%llu kHz, at most %u entries)",
					 bad + 1, pvd_parse_strerror(perr),
					 PVD_MIN_FREQ_KHZ, PVD_MAX_FREQ_KHZ,
					 PVD_MAX_FREQS);
			if (perr)
				return PVD_ARGS_ERROR;
			continue;
		}
		for (d = 0; d < ndesc; d++)
			if (strlen(desc[d].name) == len &&
			    !strncmp(name, desc[d].name, len))
				break;
		if (d == ndesc) {
			snprintf(err, errlen, "unknown option '--%.*s'",
				 (int)len, name);
			return PVD_ARGS_ERROR;
		}
		if (!pvd_first_time(&seen, d, desc[d].name, err, errlen))
			return PVD_ARGS_ERROR;
		perr = pvd_parse_u64(val, desc[d].min, desc[d].max,
				     desc[d].value);
		if (perr) {
			snprintf(err, errlen, "--%s %s (want %llu..%llu)",
				 desc[d].name, pvd_parse_strerror(perr),
				 (unsigned long long)desc[d].min,
				 (unsigned long long)desc[d].max);
			return PVD_ARGS_ERROR;
		}
		if (desc[d].given)
			*desc[d].given = true;
	}
	return PVD_ARGS_RUN;
}

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
 * log2 of the distance in TSC ticks between references of remainder 0
 * (Documentation/pvclock-reference-updates.rst, section 5.2):
 * 2^(32 - v + k), or 2^k when every aligned candidate is exact.
 */
static inline unsigned int pvd_zero_period_log2(uint32_t mul, int8_t shift)
{
	unsigned int k = shift < 0 ? (unsigned int)-shift : 0;
	uint32_t m = shift > 0 ? mul << shift : mul;

	if (shift >= 32 || !m)
		return k;
	return 32 - (unsigned int)__builtin_ctz(m) + k;
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

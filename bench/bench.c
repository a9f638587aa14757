// SPDX-License-Identifier: GPL-2.0-only
/*
 * Cost of choosing a reference, per call: the seed's sketch, scan and exact
 * over windows from 100 to 2^40 candidates, with identity mapping and with a
 * 48-bit-fraction TSC scaling ratio; the reader for scale.
 *
 * Each measurement calls the function on BATCH prepared random inputs
 * (random rates, window positions and old references), REPS times after a
 * warm-up, and prints the median per-call time with the fastest and the
 * slowest repetition.  Times are wall clock (CLOCK_MONOTONIC), so run it on
 * an idle machine; `make bench` does.  Before timing, every call that brute
 * force can afford is checked against the model of tests/model.h, so that
 * no figure is the time of a wrong answer.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pvclock_ref.h"
#include "../tests/check.h"
#include "../tests/model.h"

#define BATCH	64
#define MAX_REPS 201

struct input {
	struct pvclock_ref_clock old;
	struct pvclock_ref_map map;
	uint64_t end;
	uint64_t tsc;		/* for the reader */
};

struct result {
	uint64_t median, min, max;	/* ns per call, in hundredths */
};

static struct input inputs[BATCH];
/* Results are summed and printed, so that no call can be left out. */
static uint64_t checksum;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/*
 * The seed's scan as it was sketched: per candidate a TSC scaling multiply,
 * then the fraction of the absolute guest TSC times mul, shifted after the
 * multiply; the smallest wins.  It is here only to be timed.
 */
static uint64_t seed_sketch_scan(const struct input *in, uint64_t width)
{
	uint64_t best = UINT64_MAX, best_tsc = 0, i;

	for (i = 0; i < width; i++) {
		/* the multiply inline, as the sketch had it */
		uint64_t guest = (uint64_t)(((__uint128_t)(in->end - i) *
					     in->map.ratio) >> in->map.frac_bits) +
				 in->map.offset;
		uint64_t product = guest * in->old.mul;
		uint32_t frac = (uint32_t)(in->old.shift < 0 ?
					   product >> -in->old.shift :
					   product << in->old.shift);

		if (frac < best) {
			best = frac;
			best_tsc = guest;
		}
	}
	return best_tsc;
}

enum kind { SEED, CHOOSE, READ };

static uint64_t call(enum kind kind, const struct input *in, uint64_t width,
		     enum pvclock_ref_method method)
{
	struct pvclock_ref_choice ch;

	switch (kind) {
	case SEED:
		return seed_sketch_scan(in, width);
	case CHOOSE:
		if (pvclock_ref_choose(&in->old, &in->map, in->end, width, method,
				       &ch))
			abort();
		return ch.host_tsc;
	default:
		return pvclock_ref_read(&in->old, in->tsc);
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * Random rates between 0.4 and 5 GHz, but only those whose zero-remainder
 * points lie more than 2^31 ticks apart, so that windows up to 2^31 make
 * the search work rather than take the whole-period shortcut.
 */
static void prepare(uint64_t seed, bool scaled)
{
	uint64_t rng = seed;
	unsigned int i;

	for (i = 0; i < BATCH; i++) {
		struct input *in = &inputs[i];

		do {
			pvclock_ref_time_scale(1000000000,
					       rng_range(&rng, 400000, 5000000) * 1000,
					       &in->old.shift, &in->old.mul);
		} while (pvclock_ref_zero_period_log2(in->old.mul,
						      in->old.shift) <= 31);
		in->old.tsc_timestamp = rng_next(&rng) >> 4;
		in->old.system_time = rng_next(&rng) >> 4;
		pvclock_ref_map_identity(&in->map);
		if (scaled)	/* a guest between 0.5 and 1.0 times the host */
			in->map.ratio = rng_range(&rng, 1ULL << 47, 1ULL << 48);
		/* Windows well past the old reference, as a real update. */
		in->end = (rng_next(&rng) >> 3) + (1ULL << 60);
		in->map.offset = in->old.tsc_timestamp + (1ULL << 41) +
				 (rng_next(&rng) >> 24) -
				 pvclock_ref_scale_tsc(in->end - (1ULL << 40),
						       in->map.ratio,
						       in->map.frac_bits);
		in->tsc = in->old.tsc_timestamp + (rng_next(&rng) >> 30);
	}
}

/* Repetitions so that a measurement takes about 0.2 s at most. */
static unsigned int reps_for(uint64_t batch_ns)
{
	uint64_t reps = 200000000 / (batch_ns ? batch_ns : 1);

	return reps < 11 ? 11 : reps > MAX_REPS ? MAX_REPS : (unsigned int)reps;
}

static void measure(const char *name, enum kind kind, uint64_t width,
		    enum pvclock_ref_method method, struct result *res)
{
	static uint64_t samples[MAX_REPS];
	unsigned int r, i, reps;
	uint64_t start, total = 0;

	start = now_ns();	/* warm-up, and the size of a batch */
	for (i = 0; i < BATCH; i++)
		total += call(kind, &inputs[i], width, method);
	reps = reps_for(now_ns() - start);
	for (r = 0; r < reps; r++) {
		start = now_ns();
		for (i = 0; i < BATCH; i++)
			total += call(kind, &inputs[i], width, method);
		samples[r] = (now_ns() - start) * 100 / BATCH;
	}
	checksum += total;
	qsort(samples, reps, sizeof(samples[0]), cmp_u64);
	res->median = samples[reps / 2];
	res->min = samples[0];
	res->max = samples[reps - 1];
	printf("%-22s %7" PRIu64 ".%02" PRIu64 " ns (min %" PRIu64 ".%02" PRIu64
	       ", max %" PRIu64 ".%02" PRIu64 ")\n", name,
	       res->median / 100, res->median % 100, res->min / 100,
	       res->min % 100, res->max / 100, res->max % 100);
	fflush(stdout);
}

static const struct {
	const char *name;
	enum kind kind;
	enum pvclock_ref_method method;
	unsigned int log2_width;	/* 0: width 100, 10000 or 1000000 */
	uint64_t width;
} cases[] = {
	{ "seed_scan_100", SEED, 0, 0, 100 },
	{ "scan_100", CHOOSE, PVCLOCK_REF_SCAN, 0, 100 },
	{ "scan_10000", CHOOSE, PVCLOCK_REF_SCAN, 0, 10000 },
	{ "scan_1000000", CHOOSE, PVCLOCK_REF_SCAN, 0, 1000000 },
	{ "exact_100", CHOOSE, PVCLOCK_REF_EXACT, 0, 100 },
	{ "exact_2^20", CHOOSE, PVCLOCK_REF_EXACT, 20, 0 },
	{ "exact_2^28", CHOOSE, PVCLOCK_REF_EXACT, 28, 0 },
	{ "exact_2^31", CHOOSE, PVCLOCK_REF_EXACT, 31, 0 },
	{ "exact_2^34", CHOOSE, PVCLOCK_REF_EXACT, 34, 0 },
	{ "exact_2^40", CHOOSE, PVCLOCK_REF_EXACT, 40, 0 },
	{ "scale_delta", READ, 0, 0, 1 },
};

#define CASES ARRAY_SIZE(cases)


/*
 * `bench faster [N]`: exact with a guest faster than the host, whose cost is
 * not bounded by O(log) (README, "Cost").  N random cases (default 20,000):
 * rates 0.4 to 5 GHz, ratios 1 to 4 (a third of them multiples of 1/4),
 * 32 or 48 fractional bits, windows 2^10 to 2^26; prints the distribution of
 * the time per call.
 */
#define FASTER_MAX_CASES 200000

static int bench_faster(uint64_t n)
{
	static uint64_t times[FASTER_MAX_CASES];
	uint64_t rng = 7, i, nocand = 0;

	if (n > FASTER_MAX_CASES)
		n = FASTER_MAX_CASES;
	for (i = 0; i < n; i++) {
		struct pvclock_ref_clock old = { 0 };
		struct pvclock_ref_map map;
		struct pvclock_ref_choice ch;
		uint64_t end, start, one;
		unsigned int w;

		pvclock_ref_time_scale(1000000000,
				       rng_range(&rng, 400000, 5000000) * 1000,
				       &old.shift, &old.mul);
		old.tsc_timestamp = rng_next(&rng) >> 4;
		pvclock_ref_map_identity(&map);
		map.frac_bits = i & 1 ? 48 : 32;
		one = 1ULL << map.frac_bits;
		map.ratio = rng_range(&rng, one + 1, 4 * one);
		if (i % 3 == 0)
			map.ratio = one * rng_range(&rng, 5, 16) / 4;
		end = (rng_next(&rng) >> 5) + (1ULL << 58);
		w = (unsigned int)rng_range(&rng, 10, 26);
		map.offset = old.tsc_timestamp + (1ULL << 41) +
			     (rng_next(&rng) >> 24) -
			     pvclock_ref_scale_tsc(end - (1ULL << w), map.ratio,
						   map.frac_bits);
		start = now_ns();
		/* no candidate at all (a parity that never aligns) counts too */
		nocand += pvclock_ref_choose(&old, &map, end, 1ULL << w,
					     PVCLOCK_REF_EXACT, &ch) != 0;
		times[i] = now_ns() - start;
	}
	qsort(times, n, sizeof(times[0]), cmp_u64);
	printf("exact, guest faster than host: %" PRIu64 " cases (%" PRIu64
	       " with no candidate), ns per call: median %" PRIu64 ", 99%% %"
	       PRIu64 ", 99.9%% %" PRIu64 ", max %" PRIu64 "\n", n, nocand,
	       times[n / 2], times[n * 99 / 100], times[n * 999 / 1000],
	       times[n - 1]);
	return 0;
}

static uint64_t case_width(unsigned int c)
{
	if (cases[c].width)
		return cases[c].width;
	return 1ULL << cases[c].log2_width;
}

/* Brute force over at most this many candidates per call. */
#define MODEL_MAX_WIDTH 10000

static bool case_checkable(unsigned int c)
{
	return cases[c].kind == READ ||
	       (cases[c].kind == CHOOSE && case_width(c) <= MODEL_MAX_WIDTH);
}

/* Whether case c computes on in what the model does. */
static bool case_right(unsigned int c, const struct input *in)
{
	struct pvclock_ref_choice got, want;
	uint64_t width = case_width(c);
	int rc;

	if (cases[c].kind == READ)
		return call(READ, in, 1, 0) == model_read(&in->old, in->tsc);
	rc = pvclock_ref_choose(&in->old, &in->map, in->end, width,
				cases[c].method, &got);
	return rc == model_choose(&in->old, &in->map, in->end, width, &want) &&
	       (rc || got.host_tsc == want.host_tsc);
}

/*
 * Every case on every prepared input, against the model where it can
 * afford the window: the figures are the times of right answers only.
 */
static void check_cases(void)
{
	unsigned int c, i, checked = 0;

	for (c = 0; c < CASES; c++) {
		if (!case_checkable(c))
			continue;
		for (i = 0; i < BATCH; i++, checked++) {
			if (case_right(c, &inputs[i]))
				continue;
			fprintf(stderr, "bench: %s on input %u differs from the model\n",
				cases[c].name, i);
			exit(1);
		}
	}
	printf("# %u calls checked against the model\n", checked);
}

int main(int argc, char **argv)
{
	struct result res[CASES], unused;
	uint64_t seed = 1;
	unsigned int c;
	char name[40];

	if (argc > 1 && !strcmp(argv[1], "faster"))
		return bench_faster(argc > 2 ? strtoull(argv[2], NULL, 0) :
				    20000);
	if (argc > 1)
		seed = strtoull(argv[1], NULL, 0);

	printf("# pvclock_ref bench: %u random inputs per batch, seed %" PRIu64
	       "\n", BATCH, seed);
	prepare(seed, false);
	check_cases();
	for (c = 0; c < CASES; c++)
		measure(cases[c].name, cases[c].kind, case_width(c),
			cases[c].method, &res[c]);
	prepare(seed, true);
	check_cases();
	for (c = 0; c + 1 < CASES; c++) {
		snprintf(name, sizeof(name), "%s_scaled", cases[c].name);
		measure(name, cases[c].kind, case_width(c), cases[c].method,
			&unused);
	}
	printf("ratio exact_2^31/seed_scan_100 = %" PRIu64 ".%02" PRIu64 "\n",
	       res[7].median / res[0].median,
	       res[7].median * 100 / res[0].median % 100);
	printf("# checksum %" PRIx64 "\n", checksum);
	return 0;
}

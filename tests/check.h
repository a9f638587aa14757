/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A minimal TAP harness for the host tests: each test function is one
 * "ok"/"not ok" line; CHECK() records and reports the first few failures.
 */
#ifndef PVCLOCK_REF_CHECK_H
#define PVCLOCK_REF_CHECK_H

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>

/* rng_next(), and the sweep's TSC rates */
#include "../tools/sweep_rates.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

struct check_state {
	unsigned long failures;	/* in the current test */
	unsigned int tests, failed;
};

extern struct check_state check_state;

#define CHECK_REPORT_MAX 5

#define CHECK(cond, fmt, ...)						\
	do {								\
		if (!(cond)) {						\
			if (check_state.failures++ < CHECK_REPORT_MAX)	\
				printf("# %s:%d: " fmt "\n", __FILE__,	\
				       __LINE__, ##__VA_ARGS__);	\
		}							\
	} while (0)

static inline void check_run(void (*fn)(void), const char *name)
{
	check_state.failures = 0;
	fn();
	check_state.tests++;
	if (check_state.failures) {
		check_state.failed++;
		printf("not ok %u %s (%lu failures)\n", check_state.tests,
		       name, check_state.failures);
	} else {
		printf("ok %u %s\n", check_state.tests, name);
	}
	fflush(stdout);
}

#define RUN(fn) check_run(fn, #fn)

/* Uniform in [lo, hi]; the bias of the modulo is irrelevant for tests. */
static inline uint64_t rng_range(uint64_t *state, uint64_t lo, uint64_t hi)
{
	uint64_t span = hi - lo + 1;

	return span ? lo + rng_next(state) % span : rng_next(state);
}

/* A random 64-bit value shifted right by [lo, hi]: every magnitude. */
static inline uint64_t rng_magnitude(uint64_t *state, unsigned int lo,
				     unsigned int hi)
{
	uint64_t value = rng_next(state);

	return value >> rng_range(state, lo, hi);
}

#endif /* PVCLOCK_REF_CHECK_H */

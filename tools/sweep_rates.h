/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The TSC rates of the sweep table, shared by the host tool and the tests so
 * that "every sweep frequency" means the same list in both, and the random
 * generator they are drawn with, which the tests and the bench use too.
 */
#ifndef PVCLOCK_REF_SWEEP_RATES_H
#define PVCLOCK_REF_SWEEP_RATES_H

#include <stdint.h>

#define SWEEP_FIXED_RATES	10
#define SWEEP_RANDOM_RATES	20
#define SWEEP_RATES		(SWEEP_FIXED_RATES + SWEEP_RANDOM_RATES)
#define SWEEP_DEFAULT_SEED	20261125
#define SWEEP_MIN_KHZ		400000
#define SWEEP_MAX_KHZ		5000000

/* KVM keeps TSC rates in kHz; so does the table. */
static const uint32_t sweep_fixed_khz[SWEEP_FIXED_RATES] = {
	400000, 1000000, 1500000, 2000000, 2596130,
	2999999, 3000000, 3500000, 4200000, 5000000,
};

#define SPLITMIX64_GAMMA	0x9e3779b97f4a7c15ULL

/* splitmix64: a fixed-seed generator, so that every run draws the same. */
static inline uint64_t rng_next(uint64_t *state)
{
	uint64_t z = (*state += SPLITMIX64_GAMMA);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* The i-th rate: the fixed ones, then random ones drawn from seed. */
static inline uint32_t sweep_rate_khz(unsigned int i, uint64_t seed)
{
	/* the (i + 1)-th draw from seed: each rate independent of the others */
	uint64_t state = seed + (uint64_t)i * SPLITMIX64_GAMMA;

	if (i < SWEEP_FIXED_RATES)
		return sweep_fixed_khz[i];
	return SWEEP_MIN_KHZ +
	       (uint32_t)(rng_next(&state) % (SWEEP_MAX_KHZ - SWEEP_MIN_KHZ + 1));
}

#endif /* PVCLOCK_REF_SWEEP_RATES_H */

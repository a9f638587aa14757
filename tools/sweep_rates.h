/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The TSC rates of the sweep table, shared by the host tool and the tests so
 * that "every sweep frequency" means the same list in both.
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

/* The i-th rate: the fixed ones, then random ones drawn from seed. */
static inline uint32_t sweep_rate_khz(unsigned int i, uint64_t seed)
{
	uint64_t z;

	if (i < SWEEP_FIXED_RATES)
		return sweep_fixed_khz[i];
	/* splitmix64 of (seed, i): each rate independent of the others */
	z = seed + (uint64_t)(i + 1) * 0x9e3779b97f4a7c15ULL;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	z ^= z >> 31;
	return SWEEP_MIN_KHZ + (uint32_t)(z % (SWEEP_MAX_KHZ - SWEEP_MIN_KHZ + 1));
}

#endif /* PVCLOCK_REF_SWEEP_RATES_H */

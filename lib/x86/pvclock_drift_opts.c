// SPDX-License-Identifier: GPL-2.0-only
/*
 * The pvclock tests' options: host code only (getopt_long(), strtoull()),
 * kept apart from pvclock_drift.h, which guest code includes, so that the
 * host unit tests (tests/test_opts.c) can run the parser without KVM.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pvclock_drift.h"

void pvd_default_opts(struct pvd_opts *o)
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

/*
 * The decimal or 0x hex number that starts s and ends where s does, or at
 * the character stop.  NULL with the value in *out, or why not.
 */
static const char *pvd_parse_num(const char *s, char stop,
				 uint64_t min, uint64_t max, uint64_t *out)
{
	bool hex = s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
	unsigned long long v;
	char *end;

	/* strtoull() would also take leading spaces, a sign or a bare 0x. */
	if (hex ? !isxdigit((unsigned char)s[2]) : !isdigit((unsigned char)s[0]))
		return s[0] == '-' && isdigit((unsigned char)s[1]) ?
		       "is out of range" : "is not a number";
	errno = 0;
	v = strtoull(s, &end, hex ? 16 : 10);
	if (*end && *end != stop)
		return "is not a number";
	if (errno == ERANGE || v < min || v > max)
		return "is out of range";
	*out = v;
	return NULL;
}

/*
 * --only: subtest names, comma-separated, each at most once.  The entry that
 * failed is in *bad.
 */
static const char *pvd_parse_only(const char *s, const char *const *names,
				  unsigned int nr, struct pvd_opts *o,
				  unsigned int *bad)
{
	unsigned int n, i;
	size_t len;

	for (n = 1; ; n++) {
		*bad = n;
		len = strcspn(s, ",");
		for (i = 0; i < nr; i++)
			if (strlen(names[i]) == len && !strncmp(s, names[i], len))
				break;
		if (i == nr)
			return "is not a subtest";
		if (o->only & 1U << i)
			return "is named twice";
		o->only |= 1U << i;
		if (!s[len])
			return NULL;
		s += len + 1;
	}
}

/* getopt_long() returns this plus the index of a long option. */
#define PVD_OPT_BASE	256
/* Those that take no value at all, first in the table. */
#define PVD_OPT_NO_VALUE(d)	((d) <= PVD_OPT_LIST)

struct pvd_opt_desc {
	const char *name;
	uint64_t *value;	/* NULL: the first four, not numbers */
	bool *given;
	uint64_t min, max;
};

/*
 * getopt_long() also takes any unambiguous prefix of a name (--max-d for
 * --max-drift-ppb), which scripts matching the exact names would miss.
 */
static bool pvd_exact_name(const char *arg, const char *name)
{
	size_t len = strlen(name);

	return !strncmp(arg, "--", 2) && !strncmp(arg + 2, name, len) &&
	       (!arg[len + 2] || arg[len + 2] == '=');
}

/* The options, in getopt_long()'s order; the first four take no number. */
static void pvd_opt_table(struct pvd_opts *o, struct pvd_opt_desc *desc)
{
	const struct pvd_opt_desc table[PVD_NR_OPTS] = {
		{ .name = "help" },
		{ .name = "list" },
		{ .name = "clock-guest-mode" },
		{ .name = "only" },
		{ "interval-ms", &o->interval_ms, NULL, 1, 3600000 },
		{ "max-drift-ppb", &o->max_drift_ppb, &o->has_max_drift,
		  0, 1000000000 },
		{ "max-set-clock-ns", &o->max_set_clock_ns,
		  &o->has_max_set_clock, 0, 1000000000000ULL },
		{ "reads", &o->reads, NULL, 1, 100000000 },
		{ "tolerance-ns", &o->tolerance_ns, NULL, 0, 1000000 },
		{ "restore-tolerance-ns", &o->restore_tolerance_ns, NULL,
		  0, 1000000 },
		{ "restore-attempts", &o->restore_attempts, NULL, 1,
		  PVD_MAX_RESTORE_ATTEMPTS },
		{ "restore-ms", &o->restore_ms, NULL, 1, 600000 },
	};

	memcpy(desc, table, sizeof(table));
}

static bool pvd_parse_mode(const char *arg, struct pvd_opts *o,
			   char *err, size_t errlen)
{
	if (!strcmp(arg, "round-down")) {
		o->clock_guest_mode = PVD_CLOCK_GUEST_ROUND_DOWN;
	} else if (!strcmp(arg, "exact")) {
		o->clock_guest_mode = PVD_CLOCK_GUEST_EXACT;
	} else {
		snprintf(err, errlen,
			 "--clock-guest-mode is not a mode (want round-down or exact)");
		return false;
	}
	return true;
}

/* The value of option d: false, with the reason in err, when it is bad. */
static bool pvd_parse_value(const struct pvd_opt_desc *d, unsigned int idx,
			    const char *arg, const char *const *names,
			    unsigned int nr, struct pvd_opts *o,
			    char *err, size_t errlen)
{
	unsigned int bad;
	const char *why;

	switch (idx) {
	case PVD_OPT_CLOCK_GUEST_MODE:
		return pvd_parse_mode(arg, o, err, errlen);
	case PVD_OPT_ONLY:
		why = pvd_parse_only(arg, names, nr, o, &bad);
		if (why)
			snprintf(err, errlen, "--only: entry %u %s (--list names them)",
				 bad, why);
		return !why;
	}
	why = pvd_parse_num(arg, '\0', d->min, d->max, d->value);
	if (why) {
		snprintf(err, errlen, "--%s %s (want %llu..%llu)", d->name, why,
			 (unsigned long long)d->min, (unsigned long long)d->max);
		return false;
	}
	if (d->given)
		*d->given = true;
	return true;
}

/*
 * One option getopt_long() returned as c, arg its argument as written:
 * its index in desc, or -1 with the reason in err.
 */
static int pvd_check_option(int c, const char *arg,
			    const struct pvd_opt_desc *desc, uint32_t accepted,
			    uint32_t *seen, char *err, size_t errlen)
{
	unsigned int d = (unsigned int)((c == ':' ? optopt : c) - PVD_OPT_BASE);

	if (d >= PVD_NR_OPTS || !(accepted & 1U << d) ||
	    !pvd_exact_name(arg, desc[d].name)) {
		snprintf(err, errlen, "unknown option '%.*s'",
			 (int)strcspn(arg, "="), arg);
		return -1;
	}
	if (*seen & 1U << d) {
		snprintf(err, errlen, "--%s given twice", desc[d].name);
		return -1;
	}
	*seen |= 1U << d;
	return (int)d;
}

enum pvd_args_result pvd_parse_args(int argc, char **argv,
				    const char *const *names, unsigned int nr,
				    uint32_t accepted, struct pvd_opts *o,
				    char *err, size_t errlen)
{
	struct pvd_opt_desc desc[PVD_NR_OPTS];
	struct option longopts[PVD_NR_OPTS + 1] = {};
	uint32_t seen = 0;
	unsigned int i;
	int c, d;

	pvd_opt_table(o, desc);
	for (i = 0; i < PVD_NR_OPTS; i++) {
		longopts[i].name = desc[i].name;
		longopts[i].has_arg = PVD_OPT_NO_VALUE(i) ? no_argument :
				      required_argument;
		longopts[i].val = PVD_OPT_BASE + i;
	}
	pvd_default_opts(o);
	opterr = 0;	/* the messages are ours, one line each */
	optind = 0;	/* a full reset: the host tests parse many times */
	for (;;) {
		/*
		 * The argument getopt_long() reads next: "+" stops it at the
		 * first non-option, and it never resumes inside "-h...".
		 */
		const char *arg = argv[optind ? optind : 1];

		c = getopt_long(argc, argv, "+:h", longopts, NULL);
		if (c == -1)
			break;
		if (c == 'h' && !strcmp(arg, "-h"))
			return PVD_ARGS_HELP;
		d = pvd_check_option(c, arg, desc, accepted | PVD_OPTS_ALWAYS,
				     &seen, err, errlen);
		if (d < 0)
			return PVD_ARGS_ERROR;
		if (d == PVD_OPT_HELP)
			return PVD_ARGS_HELP;
		if (PVD_OPT_NO_VALUE(d))
			continue;
		/* getopt_long() takes the next argument even if an option */
		if (c == ':' || !*optarg || (optarg == argv[optind - 1] &&
					     !strncmp(optarg, "--", 2))) {
			snprintf(err, errlen, "--%s needs a value", desc[d].name);
			return PVD_ARGS_ERROR;
		}
		if (!pvd_parse_value(&desc[d], d, optarg, names, nr, o, err,
				     errlen))
			return PVD_ARGS_ERROR;
	}
	if (optind < argc) {
		snprintf(err, errlen, "unexpected argument '%s'", argv[optind]);
		return PVD_ARGS_ERROR;
	}
	return seen & 1U << PVD_OPT_LIST ? PVD_ARGS_LIST : PVD_ARGS_RUN;
}

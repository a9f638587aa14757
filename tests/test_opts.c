// SPDX-License-Identifier: GPL-2.0-only
/*
 * The selftest's option parser, pvd_parse_args() from include/x86/pvclock_drift.h
 * (getopt_long() and strtoull()), over a matrix of good and bad command
 * lines: every option with a missing, empty, malformed, negative, zero,
 * out-of-range and beyond-its-type value, in both the "--opt value" and the
 * "--opt=value" forms; unknown and abbreviated options and stray arguments.
 * A bad command line must give PVD_ARGS_ERROR with a one-line message naming
 * the option; a good one must set exactly that value.  Each test takes only
 * the options it names: any other is an error there.  Built with
 * AddressSanitizer + UBSan.  TAP, one line per case.
 */
#include <inttypes.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "../include/x86/pvclock_drift.h"

#define MAX_ARGS 8

static unsigned int tests, failed;

static void report(bool pass, const char *what, const char *detail)
{
	tests++;
	if (!pass)
		failed++;
	printf("%sok %u %s\n", pass ? "" : "not ", tests, what);
	if (!pass && detail)
		printf("# %s\n", detail);
}

/* The subtests --only takes here: a test passes its own table's names. */
static const char *const subtests[] = {
	"masterclock_update", "set_clock", "reference_update",
	"set_clock_guest", "stock_restore", "concurrent_update", "migrate",
	"vcpu_hotplug",
};

/* The options parse() lets through: all of them, but in test_accepted(). */
static uint32_t accepted = ~0U;

/*
 * Parse a NULL-terminated argument list.  The strings are copied into
 * buffers of their exact size, so that ASan catches any read beyond them.
 */
static enum pvd_args_result parse(const char *const *args, struct pvd_opts *o,
				  char *err, size_t errlen)
{
	static char bufs[MAX_ARGS][128];
	char *argv[MAX_ARGS + 2];
	int argc = 0;

	argv[argc++] = "pvclock_drift_test";
	for (; *args; args++) {
		size_t len = strlen(*args) + 1;

		if (argc > MAX_ARGS || len > sizeof(bufs[0]))
			return PVD_ARGS_ERROR;
		/* at the end of its buffer: one byte more is out of bounds */
		argv[argc] = bufs[argc - 1] + sizeof(bufs[0]) - len;
		memcpy(argv[argc], *args, len);
		argc++;
	}
	argv[argc] = NULL;
	err[0] = '\0';
	return pvd_parse_args(argc, argv, subtests, PVD_ARRAY_SIZE(subtests),
			      accepted, o, err, errlen);
}

static void describe(char *buf, size_t len, const char *const *args)
{
	size_t used = 0;

	buf[0] = '\0';
	for (; *args && used < len; args++)
		used += snprintf(buf + used, len - used, "%s'%s'",
				 used ? " " : "", *args);
}

/* A bad command line: an error, one line, that contains want. */
static void expect_error(const char *const *args, const char *want)
{
	char err[256], what[512], detail[600];
	struct pvd_opts o;
	enum pvd_args_result r = parse(args, &o, err, sizeof(err));
	bool pass = r == PVD_ARGS_ERROR && err[0] && !strchr(err, '\n') &&
		    strstr(err, want);

	describe(what, sizeof(what), args);
	snprintf(detail, sizeof(detail), "result %d, message '%s', want '%s'",
		 r, err, want);
	strncat(what, " is rejected", sizeof(what) - strlen(what) - 1);
	report(pass, what, detail);
}

/* A good command line: parsed, and *field(o) is want afterwards. */
static void expect_value(const char *const *args, size_t offset,
			 uint64_t want)
{
	char err[256], what[512], detail[600];
	struct pvd_opts o;
	enum pvd_args_result r = parse(args, &o, err, sizeof(err));
	uint64_t got;

	memcpy(&got, (char *)&o + offset, sizeof(got));
	describe(what, sizeof(what), args);
	snprintf(detail, sizeof(detail),
		 "result %d, message '%s', value %" PRIu64 ", want %" PRIu64,
		 r, err, got, want);
	strncat(what, " is accepted", sizeof(what) - strlen(what) - 1);
	report(r == PVD_ARGS_RUN && got == want, what, detail);
}

struct num_opt {
	const char *name;
	size_t offset;
	uint64_t min, max;
};

static const struct num_opt num_opts[] = {
	{ "interval-ms", offsetof(struct pvd_opts, interval_ms), 1, 3600000 },
	{ "max-drift-ppb", offsetof(struct pvd_opts, max_drift_ppb),
	  0, 1000000000 },
	{ "max-set-clock-ns", offsetof(struct pvd_opts, max_set_clock_ns),
	  0, 1000000000000ULL },
	{ "reads", offsetof(struct pvd_opts, reads), 1, 100000000 },
	{ "tolerance-ns", offsetof(struct pvd_opts, tolerance_ns), 0, 1000000 },
	{ "restore-tolerance-ns", offsetof(struct pvd_opts, restore_tolerance_ns),
	  0, 1000000 },
	{ "restore-attempts", offsetof(struct pvd_opts, restore_attempts),
	  1, PVD_MAX_RESTORE_ATTEMPTS },
	{ "restore-ms", offsetof(struct pvd_opts, restore_ms), 1, 600000 },
};

/* Values that are never numbers, whatever the option (2^N is no more). */
static const char *const malformed[] = {
	"abc", "1x", "x1", " 1", "1 ", "+1", "1.5", "1e3", "0x", "0xg",
	"0x1g", "0x 1", "0x+1", "0x-1", "0x0x1", "2^", "2^x", "2^10", "2^64",
	"-", "-x", "1,2", "\t", "0b101", "١",
};

/* Values beyond every option's type (64 bits), and negative ones. */
static const char *const beyond_type[] = {
	"18446744073709551616", "99999999999999999999999",
	"0x10000000000000000", "0x1ffffffffffffffff", "-1",
	"-18446744073709551617",
};

static void one_value(const char *name, const char *value, bool eq,
		      char *a0, size_t a0len, const char **args)
{
	if (eq) {
		snprintf(a0, a0len, "--%s=%s", name, value);
		args[0] = a0;
		args[1] = NULL;
	} else {
		snprintf(a0, a0len, "--%s", name);
		args[0] = a0;
		args[1] = value;
		args[2] = NULL;
	}
}

static void test_numeric_option(const struct num_opt *n)
{
	char a0[160], v[64];
	const char *args[6];
	unsigned int i;
	int eq;

	/* Missing: the last argument, or "=" with nothing after it. */
	snprintf(a0, sizeof(a0), "--%s", n->name);
	args[0] = a0;
	args[1] = NULL;
	expect_error(args, "needs a value");
	snprintf(a0, sizeof(a0), "--%s=", n->name);
	expect_error(args, "needs a value");
	/* after another option, and with the next option where its value is */
	args[0] = strcmp(n->name, "reads") ? "--reads" : "--interval-ms";
	args[1] = "5";
	snprintf(a0, sizeof(a0), "--%s", n->name);
	args[2] = a0;
	args[3] = NULL;
	expect_error(args, "needs a value");
	args[0] = a0;
	args[1] = "--tolerance-ns";
	args[2] = "5";
	expect_error(args, "needs a value");
	args[1] = "--";
	args[2] = NULL;
	expect_error(args, "needs a value");
	snprintf(v, sizeof(v), "--%s=--", n->name);
	args[1] = v;
	expect_error(args + 1, "is not a number");
	/* twice, even with the same value: a typo, not "the last one wins" */
	snprintf(v, sizeof(v), "%" PRIu64, n->max);
	args[1] = v;
	args[2] = a0;
	args[3] = v;
	args[4] = NULL;
	expect_error(args, "given twice");

	for (eq = 0; eq < 2; eq++) {
		one_value(n->name, "", eq, a0, sizeof(a0), args);
		expect_error(args, "needs a value");
		for (i = 0; i < PVD_ARRAY_SIZE(malformed); i++) {
			one_value(n->name, malformed[i], eq, a0, sizeof(a0),
				  args);
			expect_error(args, "is not a number");
		}
		if (n->min) {
			one_value(n->name, "0", eq, a0, sizeof(a0), args);
			expect_error(args, "out of range");
			one_value(n->name, "0x0", eq, a0, sizeof(a0), args);
			expect_error(args, "out of range");
		}
		snprintf(v, sizeof(v), "%" PRIu64, n->max + 1);
		one_value(n->name, v, eq, a0, sizeof(a0), args);
		expect_error(args, "out of range");
		snprintf(v, sizeof(v), "0x%" PRIx64, n->max + 1);
		one_value(n->name, v, eq, a0, sizeof(a0), args);
		expect_error(args, "out of range");
		for (i = 0; i < PVD_ARRAY_SIZE(beyond_type); i++) {
			one_value(n->name, beyond_type[i], eq, a0, sizeof(a0),
				  args);
			expect_error(args, "out of range");
		}

		/* The bounds themselves, in each notation. */
		snprintf(v, sizeof(v), "%" PRIu64, n->min);
		one_value(n->name, v, eq, a0, sizeof(a0), args);
		expect_value(args, n->offset, n->min);
		snprintf(v, sizeof(v), "%" PRIu64, n->max);
		one_value(n->name, v, eq, a0, sizeof(a0), args);
		expect_value(args, n->offset, n->max);
		snprintf(v, sizeof(v), "0X000%" PRIX64, n->max);
		one_value(n->name, v, eq, a0, sizeof(a0), args);
		expect_value(args, n->offset, n->max);
		/* decimal with a leading zero, not octal */
		one_value(n->name, "010", eq, a0, sizeof(a0), args);
		expect_value(args, n->offset, 10);
	}
}

/* A threshold given as 0 is still given: not the same as no threshold. */
static void test_given_flags(void)
{
	char err[256];
	struct pvd_opts o;
	const char *const none[] = { NULL };
	const char *const drift[] = { "--max-drift-ppb", "0", NULL };
	const char *const setc[] = { "--max-set-clock-ns=0", NULL };

	report(parse(none, &o, err, sizeof(err)) == PVD_ARGS_RUN &&
	       !o.has_max_drift && !o.has_max_set_clock &&
	       o.interval_ms == 1000 && o.candidates == 100 &&
	       o.window == 1ULL << 34 && o.tolerance_ns == 2 && !o.reads &&
	       o.nr_freqs == 5 && o.freq_khz[0] == PVD_HOST_RATE,
	       "no options: the documented defaults", NULL);
	report(parse(drift, &o, err, sizeof(err)) == PVD_ARGS_RUN &&
	       o.has_max_drift && !o.max_drift_ppb && !o.has_max_set_clock,
	       "--max-drift-ppb 0 is a threshold of 0", NULL);
	report(parse(setc, &o, err, sizeof(err)) == PVD_ARGS_RUN &&
	       o.has_max_set_clock && !o.max_set_clock_ns && !o.has_max_drift,
	       "--max-set-clock-ns=0 is a threshold of 0", NULL);
}

/*
 * Knobs no user needed are gone: unknown options now, and their values the
 * test's constants (reference_update's rates, the scan's candidates, the
 * exact window, concurrent_update's reading time).
 */
static void test_dropped(void)
{
	static const char *const gone[] = {
		"--freq-khz=host", "--candidates=100", "--window=5",
		"--duration-ms=2000",
	};
	char err[256];
	struct pvd_opts o;
	unsigned int i;

	for (i = 0; i < PVD_ARRAY_SIZE(gone); i++)
		expect_error((const char *const[]){ gone[i], NULL },
			     "unknown option");
	report(parse((const char *const[]){ NULL }, &o, err, sizeof(err)) ==
	       PVD_ARGS_RUN && o.nr_freqs == 5 &&
	       o.freq_khz[0] == PVD_HOST_RATE && o.freq_khz[4] == 4200000 &&
	       o.candidates == 100 && o.window == 1ULL << 34 &&
	       o.duration_ms == 2000,
	       "the dropped knobs' values are the defaults", err);
}

/* --clock-guest-mode takes exactly one of two words. */
static void test_clock_guest_mode(void)
{
	static const struct {
		const char *const args[4];
		enum pvd_clock_guest_mode want;
	} good[] = {
		{ { NULL }, PVD_CLOCK_GUEST_AUTO },
		{ { "--clock-guest-mode", "round-down", NULL },
		  PVD_CLOCK_GUEST_ROUND_DOWN },
		{ { "--clock-guest-mode=round-down", NULL },
		  PVD_CLOCK_GUEST_ROUND_DOWN },
		{ { "--clock-guest-mode", "exact", NULL }, PVD_CLOCK_GUEST_EXACT },
		{ { "--clock-guest-mode=exact", "--reads", "5", NULL },
		  PVD_CLOCK_GUEST_EXACT },
	};
	static const char *const bad[] = {
		"round", "round-down ", " exact", "Exact", "EXACT", "auto",
		"round_down", "rounddown", "exact,round-down", "0", "1", "-",
		"round-down=exact",
	};
	char a0[160], err[256], what[300];
	const char *args[6];
	struct pvd_opts o;
	unsigned int i;
	int eq;

	for (i = 0; i < PVD_ARRAY_SIZE(good); i++) {
		describe(what, sizeof(what), good[i].args);
		strncat(what, good[i].args[0] ? " sets the mode" : "no options: auto",
			sizeof(what) - strlen(what) - 1);
		report(parse(good[i].args, &o, err, sizeof(err)) == PVD_ARGS_RUN &&
		       o.clock_guest_mode == good[i].want, what, err);
	}
	for (eq = 0; eq < 2; eq++)
		for (i = 0; i < PVD_ARRAY_SIZE(bad); i++) {
			one_value("clock-guest-mode", bad[i], eq, a0, sizeof(a0),
				  args);
			expect_error(args, "--clock-guest-mode is not a mode");
		}
	args[0] = "--clock-guest-mode";
	args[1] = NULL;
	expect_error(args, "--clock-guest-mode needs a value");
	args[0] = "--clock-guest-mode=";
	expect_error(args, "--clock-guest-mode needs a value");
	args[0] = "--clock-guest-mode";
	args[1] = "--reads";
	args[2] = "5";
	args[3] = NULL;
	expect_error(args, "--clock-guest-mode needs a value");
	args[0] = "--clock-guest-mode";
	args[1] = "exact";
	args[2] = "--clock-guest-mode=exact";
	args[3] = NULL;
	expect_error(args, "--clock-guest-mode given twice");
	args[0] = "--clock-guest";
	args[1] = "exact";
	args[2] = NULL;
	expect_error(args, "unknown option");
}

/* A command line that parses to want: PVD_ARGS_RUN or PVD_ARGS_HELP. */
static void expect_result(const char *const *args, enum pvd_args_result want,
			  const char *what)
{
	char err[256];
	struct pvd_opts o;

	report(parse(args, &o, err, sizeof(err)) == want, what, err);
}

static void test_names_and_strays(void)
{
	const char *const *const cases[] = {
		(const char *const[]){ "--bogus", NULL },
		(const char *const[]){ "--bogus", "1", NULL },
		(const char *const[]){ "--bogus=1", NULL },
		(const char *const[]){ "--interval-ms-x", "5", NULL },
		(const char *const[]){ "--Interval-ms", "5", NULL },
		(const char *const[]){ "--=5", NULL },
		(const char *const[]){ "--help=1", NULL },
		(const char *const[]){ "-x", NULL },
		(const char *const[]){ "-i", "5", NULL },
		(const char *const[]){ "-interval-ms", "5", NULL },
		(const char *const[]){ "-hx", NULL },
		(const char *const[]){ "---help", NULL },
		/* getopt_long() takes these prefixes; the parser does not */
		(const char *const[]){ "--interval", "5", NULL },
		(const char *const[]){ "--freq", "host", NULL },
		(const char *const[]){ "--max-d", "5", NULL },
		(const char *const[]){ "--max-drift=5", NULL },
		(const char *const[]){ "--max-d", NULL },
		(const char *const[]){ "--reads", "5", "--win", "5", NULL },
		(const char *const[]){ "--re", "5", NULL },
		(const char *const[]){ "--he", NULL },
		(const char *const[]){ "--hel", "--bogus", NULL },
	};
	const char *const *const strays[] = {
		(const char *const[]){ "stray", NULL },
		(const char *const[]){ "5", NULL },
		(const char *const[]){ "-", NULL },
		(const char *const[]){ "", NULL },
		(const char *const[]){ "--reads", "2000", "extra", NULL },
		(const char *const[]){ "--reads=2000", "2000", NULL },
		(const char *const[]){ "--", "stray", NULL },
		(const char *const[]){ "--", "--reads", "5", NULL },
		(const char *const[]){ "stray", "--help", NULL },
	};
	unsigned int i;

	for (i = 0; i < PVD_ARRAY_SIZE(cases); i++)
		expect_error(cases[i], "unknown option");
	for (i = 0; i < PVD_ARRAY_SIZE(strays); i++)
		expect_error(strays[i], "unexpected argument");

	expect_result((const char *const[]){ "--help", NULL }, PVD_ARGS_HELP,
		      "--help asks for the usage");
	expect_result((const char *const[]){ "-h", NULL }, PVD_ARGS_HELP,
		      "-h asks for the usage");
	/* scripts/bisect-run.sh checks options by putting --help after them */
	expect_result((const char *const[]){ "--reads", "5", "--help", "x",
					     NULL }, PVD_ARGS_HELP,
		      "good options, then --help: the usage");
	expect_result((const char *const[]){ "--bogus", "--help", NULL },
		      PVD_ARGS_ERROR,
		      "an unknown option before --help is still an error");
	expect_result((const char *const[]){ "--max-d", "5", "--help", NULL },
		      PVD_ARGS_ERROR,
		      "an abbreviation before --help is still an error");
	/* "--" ends the options, as with every getopt() user */
	expect_result((const char *const[]){ "--reads", "5", "--", NULL },
		      PVD_ARGS_RUN, "'--' with nothing after it is accepted");
	/* after "-hx" stopped inside a cluster, a fresh parse starts over */
	expect_result((const char *const[]){ "-hx", NULL }, PVD_ARGS_ERROR,
		      "'-hx' is not -h");
	expect_value((const char *const[]){ "--tolerance-ns", "5", NULL },
		     offsetof(struct pvd_opts, tolerance_ns), 5);
}

/* A message cut short by a small buffer is still one terminated line. */
/*
 * --only names subtests, comma-separated: the run takes exactly those (by
 * name, looked up here independently of the parser's bits); --list alone.
 */
static void expect_only(const char *const *args, const char *const *names)
{
	char err[256], what[512];
	struct pvd_opts o;
	unsigned int i, j;
	bool pass = parse(args, &o, err, sizeof(err)) == PVD_ARGS_RUN;

	for (i = 0; pass && i < PVD_ARRAY_SIZE(subtests); i++) {
		bool named = false;

		for (j = 0; names[j]; j++)
			named |= !strcmp(names[j], subtests[i]);
		pass = pvd_selected(&o, i) == (named || !names[0]);
	}
	describe(what, sizeof(what), args);
	strncat(what, " selects just those", sizeof(what) - strlen(what) - 1);
	report(pass, what, err);
}

static void test_only_and_list(void)
{
	static const char *const bad[] = {
		"bogus", "migrate,", ",migrate", "migrate,,set_clock",
		"migrate,migrate", "Migrate", "migrate ", "set_clock_", "set",
		"masterclock_update,set_clock,bogus",
	};
	char a0[160];
	const char *args[4];
	unsigned int i;
	int eq;

	expect_only((const char *const[]){ NULL }, (const char *const[]){ NULL });
	expect_only((const char *const[]){ "--only", "migrate", NULL },
		    (const char *const[]){ "migrate", NULL });
	expect_only((const char *const[]){ "--only=set_clock,masterclock_update", NULL },
		    (const char *const[]){ "set_clock", "masterclock_update", NULL });
	for (i = 0; i < PVD_ARRAY_SIZE(subtests); i++)
		expect_only((const char *const[]){ "--only", subtests[i], NULL },
			    (const char *const[]){ subtests[i], NULL });
	for (eq = 0; eq < 2; eq++)
		for (i = 0; i < PVD_ARRAY_SIZE(bad); i++) {
			one_value("only", bad[i], eq, a0, sizeof(a0), args);
			expect_error(args, "--only: entry");
		}
	expect_error((const char *const[]){ "--only", NULL }, "--only needs a value");
	expect_error((const char *const[]){ "--only=", NULL }, "--only needs a value");
	expect_error((const char *const[]){ "--only", "migrate", "--only", "set_clock",
					    NULL }, "--only given twice");
	expect_result((const char *const[]){ "--list", NULL }, PVD_ARGS_LIST,
		      "--list lists the subtests");
	expect_result((const char *const[]){ "--only", "migrate", "--list", NULL },
		      PVD_ARGS_LIST, "--only then --list: the list");
	expect_error((const char *const[]){ "--list=1", NULL }, "unknown option");
	expect_error((const char *const[]){ "--list", "--list", NULL },
		     "--list given twice");
	expect_error((const char *const[]){ "--list", "x", NULL },
		     "unexpected argument");
}

/*
 * A test that takes only --reads: every other option with a value is an
 * unknown option there, in both forms, and --help, --list and --only still
 * work.
 */
static void test_accepted(void)
{
	static const char *const others[] = {
		"--interval-ms=5", "--max-drift-ppb=5", "--max-set-clock-ns=5",
		"--tolerance-ns=5", "--clock-guest-mode=exact",
		"--restore-tolerance-ns=5", "--restore-attempts=5",
		"--restore-ms=5",
	};
	char err[256];
	struct pvd_opts o;
	unsigned int i;

	accepted = PVD_OPT(PVD_OPT_READS);
	for (i = 0; i < PVD_ARRAY_SIZE(others); i++) {
		expect_error((const char *const[]){ others[i], NULL },
			     "unknown option");
		expect_error((const char *const[]){ "--reads=7", others[i], NULL },
			     "unknown option");
	}
	expect_value((const char *const[]){ "--reads", "7", NULL },
		     offsetof(struct pvd_opts, reads), 7);
	expect_result((const char *const[]){ "--help", NULL }, PVD_ARGS_HELP,
		      "--help where the test takes only --reads");
	expect_result((const char *const[]){ "--list", NULL }, PVD_ARGS_LIST,
		      "--list where the test takes only --reads");
	report(parse((const char *const[]){ "--only", "set_clock", NULL }, &o,
		     err, sizeof(err)) == PVD_ARGS_RUN && o.only == 1U << 1,
	       "--only where the test takes only --reads", err);
	accepted = ~0U;
}

static void test_small_buffer(void)
{
	const char *const args[] = {
		"--clock-guest-mode", "round-up", NULL,
	};
	char err[17];
	struct pvd_opts o;

	memset(err, 'x', sizeof(err));
	report(parse(args, &o, err, sizeof(err)) == PVD_ARGS_ERROR &&
	       strlen(err) == sizeof(err) - 1,
	       "a 17-byte message buffer is filled and terminated", NULL);
}

int main(void)
{
	unsigned int i;

	printf("TAP version 13\n");
	for (i = 0; i < PVD_ARRAY_SIZE(num_opts); i++)
		test_numeric_option(&num_opts[i]);
	test_given_flags();
	test_dropped();
	test_clock_guest_mode();
	test_names_and_strays();
	test_only_and_list();
	test_accepted();
	test_small_buffer();
	printf("1..%u\n", tests);
	printf("# pvd_parse_args: %u cases, %u failed\n", tests, failed);
	return failed ? 1 : 0;
}

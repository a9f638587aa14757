// SPDX-License-Identifier: GPL-2.0-only
/*
 * pvclock-ref: the pvclock_ref library from the command line.
 *
 *   scale  the mul and shift KVM derives from a TSC rate
 *   read   the guest's clock at a TSC value
 *   best   the new reference a method chooses in a window
 *   sweep  measured disruption of each method over a table of TSC rates
 *
 * Output is decimal, one key=value set per line.  Bad input exits 2 with a
 * one-line message; "no valid candidate" exits 3.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <inttypes.h>

#include "pvclock_ref.h"
#include "sweep_rates.h"

#define EXIT_USAGE	2
#define EXIT_NOCAND	3

static const char usage[] =
"usage: pvclock-ref COMMAND [OPTIONS]\n"
"\n"
"  scale --hz HZ [--scaled-hz HZ]\n"
"        shift and mul for converting HZ ticks to scaled-hz (default 1e9)\n"
"  read --tsc-timestamp T0 --system-time S0 --mul M --shift S --tsc T\n"
"        the guest's clock at TSC T, and the fraction of a ns it drops\n"
"  best --tsc-timestamp T0 --system-time S0 --mul M --shift S --end E\n"
"       --window W [--ratio R] [--frac-bits 32|48] [--offset O]\n"
"       [--method naive|scan|exact]\n"
"        the new reference among host TSCs [E - W + 1, E] (default exact)\n"
"  sweep [--window W] [--reads N] [--seed S]\n"
"        each method's measured disruption over a table of TSC rates\n"
"\n"
"Numbers are decimal or 0x hex.  Exit: 0 ok, 2 bad input, 3 no valid\n"
"candidate in the window.\n";

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static _Noreturn void die_usage(const char *fmt, ...)
{
	va_list ap;

	fputs("pvclock-ref: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs(" (see pvclock-ref --help)\n", stderr);
	exit(EXIT_USAGE);
}

/* ---- Options ---- */

enum opt_kind { OPT_U64, OPT_S64, OPT_METHOD };

struct opt {
	const char *name;
	enum opt_kind kind;
	int64_t min;		/* for OPT_S64 */
	uint64_t lo, hi;	/* for OPT_U64: allowed range */
	bool required;
	bool seen;
	uint64_t value;		/* OPT_S64 values stored as two's complement */
};

#define U64_OPT(n, l, h, req) { .name = n, .kind = OPT_U64, .lo = l, .hi = h, \
				.required = req }

static bool parse_digits(const char *s, uint64_t *out)
{
	unsigned int base = 10, digit;
	uint64_t v = 0;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	if (!*s)
		return false;
	for (; *s; s++) {
		if (*s >= '0' && *s <= '9')
			digit = *s - '0';
		else if (base == 16 && *s >= 'a' && *s <= 'f')
			digit = *s - 'a' + 10;
		else if (base == 16 && *s >= 'A' && *s <= 'F')
			digit = *s - 'A' + 10;
		else
			return false;
		if (v > (UINT64_MAX - digit) / base)
			return false;
		v = v * base + digit;
	}
	*out = v;
	return true;
}

static void parse_u64_opt(struct opt *o, const char *arg)
{
	if (arg[0] == '-')
		die_usage("--%s: '%s' must not be negative", o->name, arg);
	if (!parse_digits(arg, &o->value))
		die_usage("--%s: '%s' is not a number that fits in 64 bits",
			  o->name, arg);
	if (o->value < o->lo || o->value > o->hi)
		die_usage("--%s: %s is out of range [%" PRIu64 ", %" PRIu64 "]",
			  o->name, arg, o->lo, o->hi);
}

static void parse_s64_opt(struct opt *o, const char *arg)
{
	bool negative = arg[0] == '-';
	uint64_t mag;
	int64_t v;

	if (!parse_digits(arg + negative, &mag) || mag > (uint64_t)INT64_MAX)
		die_usage("--%s: '%s' is not a number", o->name, arg);
	v = negative ? -(int64_t)mag : (int64_t)mag;
	if (v < o->min || v > (int64_t)o->hi)
		die_usage("--%s: %s is out of range [%" PRId64 ", %" PRId64 "]",
			  o->name, arg, o->min, (int64_t)o->hi);
	o->value = (uint64_t)v;
}

static const char *const method_names[] = {
	[PVCLOCK_REF_NAIVE] = "naive",
	[PVCLOCK_REF_SCAN] = "scan",
	[PVCLOCK_REF_EXACT] = "exact",
};

static void parse_method_opt(struct opt *o, const char *arg)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(method_names); i++) {
		if (!strcmp(arg, method_names[i])) {
			o->value = i;
			return;
		}
	}
	die_usage("--%s: unknown method '%s' (naive, scan or exact)", o->name,
		  arg);
}

static struct opt *find_opt(struct opt *opts, const char *arg)
{
	for (; opts->name; opts++)
		if (!strcmp(arg, opts->name))
			return opts;
	return NULL;
}

/* argv holds only "--name value" pairs; opts ends with a NULL name. */
static void parse_opts(const char *cmd, int argc, char **argv,
		       struct opt *opts)
{
	struct opt *o;
	int i;

	for (i = 0; i < argc; i += 2) {
		if (strncmp(argv[i], "--", 2))
			die_usage("%s: unexpected argument '%s'", cmd, argv[i]);
		o = find_opt(opts, argv[i] + 2);
		if (!o)
			die_usage("%s: unknown option '%s'", cmd, argv[i]);
		if (o->seen)
			die_usage("%s: %s given twice", cmd, argv[i]);
		if (i + 1 >= argc)
			die_usage("%s: %s needs a value", cmd, argv[i]);
		o->seen = true;
		if (o->kind == OPT_U64)
			parse_u64_opt(o, argv[i + 1]);
		else if (o->kind == OPT_S64)
			parse_s64_opt(o, argv[i + 1]);
		else
			parse_method_opt(o, argv[i + 1]);
	}
	for (o = opts; o->name; o++)
		if (o->required && !o->seen)
			die_usage("%s: --%s is required", cmd, o->name);
}

static uint64_t opt_value(struct opt *opts, const char *name,
			  uint64_t fallback)
{
	struct opt *o = find_opt(opts, name);

	return o->seen ? o->value : fallback;
}

/* The options that describe an old pvti, used by read and best. */
#define TSC_TIMESTAMP_OPT U64_OPT("tsc-timestamp", 0, UINT64_MAX, true)
#define SYSTEM_TIME_OPT U64_OPT("system-time", 0, UINT64_MAX, true)
#define MUL_OPT U64_OPT("mul", 1, UINT32_MAX, true)
#define SHIFT_OPT { .name = "shift", .kind = OPT_S64,			\
		    .min = PVCLOCK_REF_MIN_SHIFT,			\
		    .hi = PVCLOCK_REF_MAX_SHIFT, .required = true }

static void clock_from_opts(struct opt *opts, struct pvclock_ref_clock *clk)
{
	clk->tsc_timestamp = opt_value(opts, "tsc-timestamp", 0);
	clk->system_time = opt_value(opts, "system-time", 0);
	clk->mul = (uint32_t)opt_value(opts, "mul", 0);
	clk->shift = (int8_t)(int64_t)opt_value(opts, "shift", 0);
	clk->flags = 0;
}

/* ---- Commands ---- */

#define MIN_HZ	1000ULL
#define MAX_HZ	1000000000000ULL

static int cmd_scale(int argc, char **argv)
{
	struct opt opts[] = {
		U64_OPT("hz", MIN_HZ, MAX_HZ, true),
		U64_OPT("scaled-hz", MIN_HZ, MAX_HZ, false),
		{ 0 }
	};
	int8_t shift;
	uint32_t mul;

	parse_opts("scale", argc, argv, opts);
	pvclock_ref_time_scale(opt_value(opts, "scaled-hz", 1000000000),
			       opt_value(opts, "hz", 0), &shift, &mul);
	printf("shift=%d mul=%" PRIu32 "\n", shift, mul);
	return 0;
}

static int cmd_read(int argc, char **argv)
{
	struct opt opts[] = {
		TSC_TIMESTAMP_OPT, SYSTEM_TIME_OPT, MUL_OPT, SHIFT_OPT,
		U64_OPT("tsc", 0, UINT64_MAX, true),
		{ 0 }
	};
	struct pvclock_ref_clock clk;
	uint64_t tsc;

	parse_opts("read", argc, argv, opts);
	clock_from_opts(opts, &clk);
	tsc = opt_value(opts, "tsc", 0);
	printf("ns=%" PRIu64 " frac=%" PRIu32 "\n", pvclock_ref_read(&clk, tsc),
	       pvclock_ref_frac(&clk, tsc));
	return 0;
}

static void map_from_opts(struct opt *opts, struct pvclock_ref_map *map)
{
	pvclock_ref_map_identity(map);
	map->frac_bits = (unsigned int)opt_value(opts, "frac-bits", 48);
	if (map->frac_bits != 32 && map->frac_bits != 48)
		die_usage("best: --frac-bits must be 32 or 48");
	map->ratio = opt_value(opts, "ratio", 1ULL << map->frac_bits);
	map->offset = opt_value(opts, "offset", 0);
}

/* Ticks after the new reference where the clocks first differ, or never. */
static void print_divergence(const struct pvclock_ref_clock *old,
			     const struct pvclock_ref_clock *new_clk, int width)
{
	uint64_t ticks;
	int rc = pvclock_ref_first_divergence(old, new_clk, &ticks);

	if (rc == PVCLOCK_REF_NEVER)
		printf("%*s", width, "never");
	else if (rc == 0)
		printf("%*" PRIu64, width, ticks);
	else	/* the rebased reference never precedes the old one */
		printf("%*s", width, "error");
}

static int cmd_best(int argc, char **argv)
{
	struct opt opts[] = {
		TSC_TIMESTAMP_OPT, SYSTEM_TIME_OPT, MUL_OPT, SHIFT_OPT,
		U64_OPT("end", 0, UINT64_MAX, true),
		U64_OPT("window", 1, PVCLOCK_REF_MAX_WINDOW, true),
		U64_OPT("ratio", 1, UINT64_MAX, false),
		U64_OPT("frac-bits", 0, 64, false),
		U64_OPT("offset", 0, UINT64_MAX, false),
		{ .name = "method", .kind = OPT_METHOD },
		{ 0 }
	};
	struct pvclock_ref_clock old, new_clk;
	struct pvclock_ref_map map;
	struct pvclock_ref_choice ch;
	uint64_t end, window;
	int rc;

	parse_opts("best", argc, argv, opts);
	clock_from_opts(opts, &old);
	map_from_opts(opts, &map);
	end = opt_value(opts, "end", 0);
	window = opt_value(opts, "window", 0);
	if (end < window - 1)
		die_usage("best: --end %" PRIu64 " is below --window - 1", end);
	rc = pvclock_ref_choose(&old, &map, end, window,
				opt_value(opts, "method", PVCLOCK_REF_EXACT),
				&ch);
	if (rc == PVCLOCK_REF_ENOCAND) {
		fprintf(stderr,
			"pvclock-ref: best: no valid candidate in the window (all before tsc_timestamp or off the 2^%d grid)\n",
			old.shift < 0 ? -old.shift : 0);
		return EXIT_NOCAND;
	}
	if (rc)
		die_usage("best: the library rejected the input (%d)", rc);
	pvclock_ref_rebase(&old, ch.guest_tsc, &new_clk);
	printf("host_tsc=%" PRIu64 " guest_tsc=%" PRIu64 " remainder=%" PRIu32
	       " aligned=%d system_time=%" PRIu64 " first_divergence=",
	       ch.host_tsc, ch.guest_tsc, ch.remainder, ch.aligned,
	       new_clk.system_time);
	print_divergence(&old, &new_clk, 0);
	putchar('\n');
	return 0;
}

/* ---- sweep ---- */

struct sweep_column {
	const char *name;
	enum pvclock_ref_method method;
	uint64_t width;		/* 0: the --window value */
};

static const struct sweep_column sweep_columns[] = {
	{ "naive", PVCLOCK_REF_NAIVE, 1 },
	{ "scan100", PVCLOCK_REF_SCAN, 100 },
	{ "seed100", PVCLOCK_REF_SEED, 100 },
	{ "exact", PVCLOCK_REF_EXACT, 0 },
};

#define SWEEP_COLUMNS ARRAY_SIZE(sweep_columns)

struct sweep_cell {
	uint32_t remainder;
	uint64_t differing;
	uint64_t worst;		/* the largest |old - new| in ns */
	struct pvclock_ref_clock new_clk;
};

/* Guest-exact reads of both clocks at T1 + 7i + (i mod 5), i < reads. */
static void measure_reads(const struct pvclock_ref_clock *old,
			  const struct pvclock_ref_clock *new_clk,
			  uint64_t reads, struct sweep_cell *cell)
{
	uint64_t i;

	cell->differing = 0;
	cell->worst = 0;
	for (i = 0; i < reads; i++) {
		uint64_t t = new_clk->tsc_timestamp + 7 * i + i % 5;
		int64_t diff = (int64_t)(pvclock_ref_read(old, t) -
					 pvclock_ref_read(new_clk, t));
		uint64_t size = diff < 0 ? -(uint64_t)diff : (uint64_t)diff;

		if (size) {
			cell->differing++;
			if (size > cell->worst)
				cell->worst = size;
		}
	}
}

static void sweep_cell(const struct pvclock_ref_clock *old, uint64_t end,
		       const struct sweep_column *col, uint64_t window,
		       uint64_t reads, struct sweep_cell *cell)
{
	struct pvclock_ref_clock new_clk;
	struct pvclock_ref_choice ch;
	struct pvclock_ref_map map;

	pvclock_ref_map_identity(&map);
	/* Every window lies 2^40 ticks past the old reference: a valid one. */
	if (pvclock_ref_choose(old, &map, end, col->width ? col->width : window,
			       col->method, &ch)) {
		fprintf(stderr, "pvclock-ref: sweep: no choice for %s\n",
			col->name);
		exit(1);
	}
	pvclock_ref_rebase(old, ch.guest_tsc, &new_clk);
	cell->remainder = ch.remainder;
	measure_reads(old, &new_clk, reads, cell);
	cell->new_clk = new_clk;
}

/* A share of reads as a percentage with two decimals, rounded. */
static void print_percent(uint64_t part, uint64_t whole)
{
	uint64_t hundredths = (part * 10000 + whole / 2) / whole;

	printf(" %3" PRIu64 ".%02" PRIu64 "%%", hundredths / 100,
	       hundredths % 100);
}

static void sweep_row(uint32_t khz, uint64_t window, uint64_t reads,
		      uint64_t *rng)
{
	struct pvclock_ref_clock old = { 0 };
	struct sweep_cell cell;
	uint64_t end;
	unsigned int c;

	pvclock_ref_time_scale(1000000000, khz * 1000ULL, &old.shift, &old.mul);
	old.tsc_timestamp = rng_next(rng) >> 2;
	old.system_time = rng_next(rng) >> 2;
	end = old.tsc_timestamp + (1ULL << 40) + window - 1 +
	      (rng_next(rng) >> 24);
	printf("%8" PRIu32 " %5d %10" PRIu32, khz, old.shift, old.mul);
	for (c = 0; c < SWEEP_COLUMNS; c++) {
		sweep_cell(&old, end, &sweep_columns[c], window, reads, &cell);
		printf(" | %10" PRIu32, cell.remainder);
		print_percent(cell.differing, reads);
		printf(" %3" PRIu64 " ", cell.worst);
		print_divergence(&old, &cell.new_clk, 10);
	}
	putchar('\n');
}

static int cmd_sweep(int argc, char **argv)
{
	struct opt opts[] = {
		/* 4 holds an aligned candidate at every shift of the table */
		U64_OPT("window", 4, PVCLOCK_REF_MAX_WINDOW, false),
		U64_OPT("reads", 1, 1ULL << 32, false),
		U64_OPT("seed", 0, UINT64_MAX, false),
		{ 0 }
	};
	uint64_t window, reads, seed, rng;
	unsigned int i, c;

	parse_opts("sweep", argc, argv, opts);
	window = opt_value(opts, "window", 1ULL << 34);
	reads = opt_value(opts, "reads", 1000000);
	seed = opt_value(opts, "seed", SWEEP_DEFAULT_SEED);
	rng = seed;
	printf("# sweep window=%" PRIu64 " reads=%" PRIu64 " seed=%" PRIu64
	       "\n", window, reads, seed);
	puts("# old reference >= 2^40 ticks before each window; read i at T1 + 7i + (i mod 5)");
	puts("# per choice: remainder (of 2^32), reads that differ from the old clock,");
	puts("# largest difference (ns), first tick after the update at which the");
	puts("# clocks differ (never: not before the delta wraps)");
	printf("%8s %5s %10s", "kHz", "shift", "mul");
	for (c = 0; c < SWEEP_COLUMNS; c++)
		printf(" | %10s %7s %3s %10s", sweep_columns[c].name, "differ",
		       "max", "first_tick");
	putchar('\n');
	for (i = 0; i < SWEEP_RATES; i++)
		sweep_row(sweep_rate_khz(i, seed), window, reads, &rng);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(int argc, char **argv);
	} cmds[] = {
		{ "scale", cmd_scale }, { "read", cmd_read },
		{ "best", cmd_best }, { "sweep", cmd_sweep },
	};
	unsigned int i;

	if (argc < 2)
		die_usage("a command is required");
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
	    !strcmp(argv[1], "help")) {
		fputs(usage, stdout);
		return 0;
	}
	for (i = 0; i < ARRAY_SIZE(cmds); i++)
		if (!strcmp(argv[1], cmds[i].name))
			return cmds[i].fn(argc - 2, argv + 2);
	die_usage("unknown command '%s'", argv[1]);
}

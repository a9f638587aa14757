// SPDX-License-Identifier: GPL-2.0-only
/*
 * The pvclock tests' subtest runner (lib/x86/pvclock_util.c) against every
 * way a subtest can end: pass, the test's own skip and failure, a skip, a
 * failure or an assertion of the KVM selftest library after the plan is
 * printed, a test line the child prints itself, and a crash.  Each must
 * give exactly one KTAP line, the one named after the subtest, and the
 * whole output must be KTAP that a strict parser accepts
 * (scripts/selftest-ci.sh builds this against each tree, runs it and
 * checks it with the trees' kunit.py parse).  With the argument "skips"
 * it runs the three subtests that skip alone: a test whose every subtest
 * skipped must exit 4, as kselftest's runner reads a skipped test.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kvm_util.h"
#include "test_util.h"

#include "pvclock_ref.h"
#include "pvclock_drift.h"
#include "pvclock_util.h"

static void pass(void)
{
	printf("# a diagnostic the parent keeps\n");
}

static void own_skip(void)
{
	pvc_skip("the test's own reason");
}

static void own_fail(void)
{
	pvc_fail("the test's own failure");
}

static void library_require(void)
{
	TEST_REQUIRE(false);
}

static void library_skip(void)
{
	ksft_exit_skip("the library's reason\n");
}

static void library_assert(void)
{
	TEST_ASSERT(false, "an assertion of the library");
}

static void library_fail(void)
{
	ksft_exit_fail_msg("the library's failure\n");
}

static void child_line(void)
{
	ksft_test_result_pass("a line of the child's own\n");
}

static void crash(void)
{
	raise(SIGABRT);
}

static const struct pvc_subtest subtests[] = {
	{ "pass", pass },
	{ "own_skip", own_skip },
	{ "own_fail", own_fail },
	{ "library_require", library_require },
	{ "library_skip", library_skip },
	{ "library_assert", library_assert },
	{ "library_fail", library_fail },
	{ "child_line", child_line },
	{ "crash", crash },
};

int main(int argc, char *argv[])
{
	pvd_default_opts(&pvc_opts);
	if (argc > 1 && !strcmp(argv[1], "skips"))
		pvc_opts.only = 1U << 1 | 1U << 3 | 1U << 4;
	pvc_run_subtests(subtests, ARRAY_SIZE(subtests));
	return KSFT_PASS;
}

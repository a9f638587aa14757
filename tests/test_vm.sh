#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The VM runner (vm/vm-run.sh) with real boots of Debian's BASE_KVER kernel
# (mk/versions.conf):
# a program's standard output, standard error and exit code come back as
# they are on the host (the model: the same static busybox run here),
# arguments arrive intact, --append reaches the kernel, and each way of
# getting no result (not a kernel, a panic, a hang, no /dev/kvm inside)
# gives exit 125 and one line.  Bad arguments: one line, exit 2.
#
# The tests through make, each command form the documents show: `make
# vm-run` runs every program of SELFTEST_PROGS in one boot, in that order,
# each one's KTAP then a summary line per program and one for all (exit 0:
# on Debian's kernel every subtest passes but the two of KVM_GET_CLOCK_GUEST,
# which skip); TEST=NAME runs that one alone, ONLY=a,b the named subtests
# wherever they live and nothing else, --only in RUN_ARGS the same; every
# subtest skipped is exit 4, a failure in one test is exit 1 though another
# passed (the runner's exit codes: make's own is 2 for any failure); a
# subtest no test has and an option no selected test takes are one line
# naming it and a non-zero exit, before any boot.
# TAP output.
#
# usage: tests/test_vm.sh [KERNEL]   (default debian-BASE_KVER)

root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=tests/tap.sh
. "$root/tests/tap.sh"
runner=$root/scripts/vm-run.sh
kernel=${1:-debian-$BASE_KVER}
bb=/bin/busybox
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Runs the runner; out, err, rc and secs describe the run.
vm()
{
	local start=$SECONDS

	"$runner" "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	secs=$((SECONDS - start))
}

# The runner's stderr without its own "# vm:" notes.
program_stderr()
{
	grep -v '^# vm: ' "$tmp/err"
}

# $1: name; the rest: a program and its arguments, run on the host and in
# the VM.  Standard output and the exit code must be the same.
same_as_host()
{
	local name=$1

	shift
	"$@" >"$tmp/host-out" 2>"$tmp/host-err"
	local want=$?
	vm --kernel "$kernel" -- "$@"
	if [ "$rc" = "$want" ] && cmp -s "$tmp/out" "$tmp/host-out" &&
	   [ "$(program_stderr)" = "$(cat "$tmp/host-err")" ]; then
		ok "$name: exit $rc, stdout and stderr as on the host ($secs s)"
	else
		not_ok "$name: exit $rc (want $want), stdout/stderr differ" \
			"$(diff "$tmp/host-out" "$tmp/out" | head -n 5)" \
			"$(head -n 5 "$tmp/err")"
	fi
}

# $1: name, $2: a pattern the one error line must match; the rest: runner
# arguments.  Exit 125 (no result) with exactly one line that is not a
# note, within 2 minutes.
no_result()
{
	local name=$1 pattern=$2

	shift 2
	vm "$@"
	if [ "$rc" = 125 ] && [ "$(program_stderr | wc -l)" = 1 ] &&
	   program_stderr | grep -qE "$pattern" && [ ! -s "$tmp/out" ] &&
	   [ "$secs" -le 120 ]; then
		ok "$name: no result, exit 125 in $secs s: $(program_stderr)"
	else
		not_ok "$name: exit $rc in $secs s, want 125 and one line matching '$pattern'" \
			"$(head -n 8 "$tmp/err")"
	fi
}

usage_error()
{
	local name=$1

	shift
	vm "$@"
	if [ "$rc" = 2 ] && [ "$(wc -l <"$tmp/err")" = 1 ] && [ ! -s "$tmp/out" ]; then
		ok "bad arguments: $name: $(cat "$tmp/err")"
	else
		not_ok "bad arguments: $name: exit $rc, want 2 and one line" "$(head -n 3 "$tmp/err")"
	fi
}

# shellcheck disable=SC2016 # the programs' own $1 and $HOME, not ours
for code in 0 1 3 4 255; do
	same_as_host "exit $code" $bb sh -c 'echo "out $1"; echo "err $1" >&2; exit "$1"' sh "$code"
done
# shellcheck disable=SC2016
same_as_host "arguments with commas, spaces, quotes, an empty one" \
	$bb printf '[%s]\n' 'host,1000000, 3000000' "it's" '' '$HOME "x"' 'two
lines'
same_as_host "binary output" $bb sh -c 'printf "a\r\nb\0c\377\n"'

vm --kernel "$kernel" --append 'pvclock.vm_test=yes' -- $bb cat /proc/cmdline
if [ "$rc" = 0 ] && grep -q 'console=ttyS0 .*pvclock.vm_test=yes' "$tmp/out"; then
	ok "--append reaches the kernel's command line: $(cat "$tmp/out")"
else
	not_ok "--append: exit $rc, command line '$(cat "$tmp/out")'"
fi

vm --kernel "$kernel" -- $bb sh -c 'cat /sys/devices/system/clocksource/clocksource0/current_clocksource; test -c /dev/kvm && echo kvm'
if [ "$rc" = 0 ] && [ "$(cat "$tmp/out")" = "tsc
kvm" ] && grep -q '^# vm: kernel ' "$tmp/err"; then
	ok "the program starts on the tsc clocksource with /dev/kvm ($(grep -m1 '^# vm: kernel' "$tmp/err"))"
else
	not_ok "clocksource/kvm: exit $rc, '$(cat "$tmp/out")'" "$(head -n 5 "$tmp/err")"
fi

echo 'not a kernel' >"$tmp/not-a-kernel"
no_result "a file that is not a kernel" 'not a kernel' --kernel "$tmp/not-a-kernel"
no_result "a kernel panic" 'kernel panic' --kernel "$kernel" -- \
	$bb sh -c 'echo 1 >/proc/sys/kernel/sysrq; echo c >/proc/sysrq-trigger'
no_result "a hang past the deadline" 'past the deadline of 3 s' \
	--kernel "$kernel" --timeout 3 -- $bb sleep 100
no_result "no /dev/kvm inside" 'no /dev/kvm inside' \
	--kernel "$kernel" --append 'module_blacklist=kvm_amd' -- $bb true
if [ "$(grep -c '^# vm: attempt [12] ' "$tmp/err")" = 2 ]; then
	ok "a boot without a result is tried once more, then given up"
else
	not_ok "retries: $(grep -c '^# vm: attempt' "$tmp/err") attempts reported, want 2"
fi

usage_error "unknown option" --frobnicate
usage_error "--accel" --accel fast
usage_error "--timeout" --timeout 0
usage_error "--smp" --smp 99
usage_error "missing file" --kernel /nonexistent/bzImage
usage_error "empty --append" --append ''
usage_error "--test of no test" --kernel "$kernel" --test pvclock_bogus_test
usage_error "a dynamically linked program" --kernel "$kernel" -- /bin/true
usage_error "--modules with a Debian kernel" --kernel "$kernel" --modules /tmp

# A series that Debian's suites do not carry: one error line (and maybe a
# note that the package lists were brought up to date), exit 2.
vm --kernel debian-5.99 --fetch
if [ "$rc" = 2 ] && [ "$(program_stderr | wc -l)" = 1 ] && [ ! -s "$tmp/out" ] &&
   program_stderr | grep -q 'make debian-versions'; then
	ok "bad arguments: a series Debian does not carry: $(program_stderr)"
else
	not_ok "debian-5.99: exit $rc, want 2 and one line" "$(head -n 3 "$tmp/err")"
fi

# ---- The tests, through make.

progs=$(sed -n 's/^SELFTEST_PROGS :\{0,1\}= *//p' "$root/mk/selftest.mk" | xargs)

# mk [VAR=VALUE...]: make vm-run with these variables; out, err, rc, secs
# describe the run.
mk()
{
	local start=$SECONDS

	make -s -C "$root" vm-run BUILD="$build" KERNEL="$kernel" "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	secs=$((SECONDS - start))
}

# The subtests of the KTAP on stdout, "name" or "name:skip" or
# "name:fail", in order, a line each.
results()
{
	sed -nE -e 's/^not ok [0-9]+ ([a-z_]+).*/\1:fail/p' \
		-e 's/^ok [0-9]+ ([a-z_]+) .*# SKIP.*/\1:skip/p' \
		-e 's/^ok [0-9]+ ([a-z_]+)$/\1/p' -e 's/^ok [0-9]+ ([a-z_]+) [^#]*$/\1/p' "$tmp/out"
}

# The programs the summary names, in its order.
summarized()
{
	sed -n 's/^# summary: \(pvclock_[a-z_]*\): exit [0-9]*, .*/\1/p' "$tmp/out" | paste -sd' '
}

mk
want_pass=$(results | grep -vc ':')
want_skip=$(results | grep -c ':skip')
if [ "$rc" = 0 ] && [ "$(summarized)" = "$progs" ] &&
   [ "$(grep -c '^TAP version' "$tmp/out")" = "$(wc -w <<<"$progs")" ] &&
   [ "$(results | grep -c ':fail')" = 0 ] && [ "$want_pass" -gt 0 ] &&
   [ "$(results | grep ':skip' | paste -sd' ')" = "set_clock_guest:skip migrate_clock_guest:skip" ] &&
   grep -qx "# summary: all $(wc -w <<<"$progs") tests: exit 0, $want_pass passed, 0 failed, $want_skip skipped" "$tmp/out" &&
   [ "$(grep -c '^# vm: kernel ' "$tmp/err")" = 1 ]; then
	ok "make vm-run: $(wc -w <<<"$progs") tests in one boot, in SELFTEST_PROGS order, $want_pass subtests passed, the two clock_guest ones skipped, exit 0 ($secs s)"
else
	not_ok "make vm-run: exit $rc, tests '$(summarized)' (want '$progs')" \
		"$(results | paste -sd' ')" "$(grep '^# summary' "$tmp/out")" "$(tail -n 3 "$tmp/err")"
fi

mk TEST=pvclock_restore_test
if [ "$rc" = 0 ] && [ "$(results | paste -sd' ')" = "stock_restore migrate" ] &&
   [ "$(summarized)" = pvclock_restore_test ]; then
	ok "make vm-run TEST=pvclock_restore_test: stock_restore and migrate alone, exit 0 ($secs s)"
else
	not_ok "make vm-run TEST=pvclock_restore_test: exit $rc, ran '$(results | paste -sd' ')'" \
		"$(tail -n 3 "$tmp/err")"
fi

mk ONLY=migrate,vcpu_hotplug
if [ "$rc" = 0 ] && [ "$(results | sort | paste -sd' ')" = "migrate vcpu_hotplug" ] &&
   [ "$(summarized)" = "pvclock_drift_test pvclock_restore_test" ]; then
	ok "make vm-run ONLY=migrate,vcpu_hotplug: the two alone, from their two tests, in one boot, exit 0 ($secs s)"
else
	not_ok "make vm-run ONLY=migrate,vcpu_hotplug: exit $rc, ran '$(results | paste -sd' ')' of '$(summarized)'" \
		"$(tail -n 3 "$tmp/err")"
fi

# The runner's own exit code (make turns any into 2, "Error N").
vm --kernel "$kernel" --only set_clock_guest,migrate_clock_guest
if [ "$rc" = 4 ] && [ "$(results | paste -sd' ')" = "set_clock_guest:skip migrate_clock_guest:skip" ]; then
	ok "every subtest skipped (no KVM_GET_CLOCK_GUEST in Debian's kernel): exit 4 ($secs s)"
else
	not_ok "every subtest skipped: exit $rc (want 4), '$(results | paste -sd' ')'" "$(tail -n 3 "$tmp/err")"
fi

vm --kernel "$kernel" --only stock_restore,set_clock -- --max-set-clock-ns 1
if [ "$rc" = 1 ] && [ "$(results | sort | paste -sd' ')" = "set_clock:fail stock_restore" ]; then
	ok "a failure in one test, a pass in another: exit 1 ($secs s)"
else
	not_ok "a failure and a pass: exit $rc (want 1), '$(results | paste -sd' ')'" "$(tail -n 3 "$tmp/err")"
fi

# mk_error NAME WORD VAR=VALUE...: one line on stderr naming WORD, a
# non-zero exit, nothing on stdout, no boot.
mk_error()
{
	local name=$1 word=$2

	shift 2
	mk "$@"
	# Besides the runner's notes and make's own line about the exit.
	grep -v -e '^# vm: ' -e '^make\(\[[0-9]*\]\)\{0,1\}: \*\*\* ' "$tmp/err" >"$tmp/errline"
	if [ "$rc" != 0 ] && [ "$(wc -l <"$tmp/errline")" = 1 ] &&
	   grep -qF -- "$word" "$tmp/errline" && [ ! -s "$tmp/out" ] && [ "$secs" -le 60 ]; then
		ok "make vm-run $name: exit $rc: $(cat "$tmp/errline")"
	else
		not_ok "make vm-run $name: exit $rc, want one line naming $word" "$(head -n 3 "$tmp/err")"
	fi
}
mk_error "ONLY=a subtest no test has" "'migrat'" ONLY=vcpu_hotplug,migrat
mk_error "RUN_ARGS=an option no selected test takes" "'--max-drift-ppb'" \
	ONLY=migrate RUN_ARGS='--max-drift-ppb 5'
mk_error "TEST= with an option it does not take" "'--tolerance-ns'" \
	TEST=pvclock_restore_test RUN_ARGS='--tolerance-ns 1'
mk_error "RUN_ARGS=an option no test takes" "'--frobnicate'" RUN_ARGS=--frobnicate
mk_error "TEST= and ONLY= a subtest of another test" "'vcpu_hotplug'" \
	TEST=pvclock_restore_test ONLY=vcpu_hotplug
mk_error "TEST=a test that is none" "'pvclock_bogus_test'" TEST=pvclock_bogus_test
mk_error "RUN_ARGS=a value the test rejects" "--reads" ONLY=migrate RUN_ARGS='--reads 1x'

# make run: the same selection on this machine's KVM; without a usable
# /dev/kvm every test skips, the runner exits 4 and make says "Error 4".
start=$SECONDS
make -s -C "$root" run BUILD="$build" ONLY=stock_restore,masterclock_update \
	>"$tmp/out" 2>"$tmp/err"
rc=$?
secs=$((SECONDS - start))
if [ -c /dev/kvm ] && [ -r /dev/kvm ] && [ -w /dev/kvm ]; then
	if [ "$rc" = 0 ] && [ "$(results | paste -sd' ')" = "masterclock_update stock_restore" ] &&
	   [ "$(summarized)" = "pvclock_drift_test pvclock_restore_test" ]; then
		ok "make run ONLY=stock_restore,masterclock_update: the two, from their two tests, on this machine's KVM, exit 0 ($secs s)"
	else
		not_ok "make run ONLY=...: exit $rc, ran '$(results | paste -sd' ')'" "$(tail -n 3 "$tmp/err")"
	fi
elif [ "$rc" = 2 ] && grep -q 'Error 4' "$tmp/err"; then
	ok "make run without a usable /dev/kvm: the runner exits 4, a skip ($secs s)"
else
	not_ok "make run without a usable /dev/kvm: exit $rc, want the runner's 4" "$(tail -n 3 "$tmp/err")"
fi

# --only in RUN_ARGS is ONLY: the same plan.
a=$("$runner" --kernel "$kernel" --only migrate,vcpu_hotplug --plan -- --reads 1000 2>/dev/null)
b=$("$runner" --kernel "$kernel" --plan -- --reads 1000 --only migrate,vcpu_hotplug 2>/dev/null)
if [ -n "$a" ] && [ "$a" = "$b" ]; then
	ok "--only in the test options is --only: $(printf '%s\n' "$a" | sed "s,^'[^']*/\([^/']*\)',\1," | paste -sd';')"
else
	not_ok "--only in the test options differs from --only" "$a" "$b"
fi

echo "1..$n"
[ "$failed" = 0 ]

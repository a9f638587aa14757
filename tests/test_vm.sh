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
usage_error "-- without a program" --kernel "$kernel" --
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

echo "1..$n"
[ "$failed" = 0 ]

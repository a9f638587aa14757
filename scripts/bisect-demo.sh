#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# bisect-demo.sh [--seed N] [--drift-ppb N [--threshold-ppb N]] [--test PATH]
#		 [--jobs N] | --check-edits TREE
#	A KVM clock regression bisected end to end.  On a git history of its
#	own on top of Debian's source of BASE_KVER (mk/versions.conf; in
#	$BUILD/bisect-demo; the cached tree is only read) it makes 8 small
#	commits to KVM: 7 harmless ones that still change compiled code, and
#	one, placed by the seed (3rd to 6th, so at least two on each side),
#	that brings a regression back:
#
#	  default         the condition from before v6.8: every TSC sync
#	                  (a vCPU created, a TSC written) requests a master
#	                  clock update while the master clock is on or could
#	                  be turned on.  Found by vcpu_hotplug: no threshold
#	  --drift-ppb N   the guest's TSC-to-ns scale computed for a TSC rate
#	                  N ppb low, so kvmclock runs N ppb fast.  Found by
#	                  masterclock_update --max-drift-ppb THRESHOLD
#
#	It builds and boots both ends (the good one must pass, the bad one
#	must fail), then runs `git bisect run scripts/bisect-kernel-step.sh
#	... -- scripts/bisect-run.sh --kernel ...`: each step built
#	incrementally in one O= folder, KVM as modules, and booted by the VM
#	runner.  Exit 0 only when git bisect names the injected commit.
#
#	--seed N           where the bad commit goes (default: a new one,
#	                   printed; the same seed repeats the run)
#	--drift-ppb N      a scale error of N ppb instead of the hotplug
#	                   regression (1 to 99999999)
#	--threshold-ppb N  with --drift-ppb: masterclock_update's
#	                   --max-drift-ppb (default N/2)
#	--test PATH        the static tests' folder (default build/kvm-BASE_KVER;
#	                   bisect-run.sh finds the test of the subtest there),
#	                   or one static test binary
#	--jobs N           make -j (default 2)
#	--check-edits TREE only check that every edit of the commits and of
#	                   both regressions applies to a copy of TREE's files
#	                   (each text found exactly once), build nothing

set -uo pipefail

me=bisect-demo
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
# A bad command line: one line, exit 2.
usage_hint=" (see --help)"

seed=
drift=
threshold=
test_bin=$build/kvm-$BASE_KVER
jobs=2
ncommits=8
check_tree=

# number OPTION VALUE: VALUE is a decimal number bash can hold.
number()
{
	[ $# -ge 2 ] || usage_error "$1 needs a value"
	case $2 in
	'' | *[!0-9]*) usage_error "$1: '$2' is not a number" ;;
	esac
	# Bash's arithmetic is 64-bit: no more than 18 digits.
	[ ${#2} -le 18 ] || usage_error "$1: '$2' is too large"
}

while [ $# -gt 0 ]; do
	case $1 in
	--seed)		number "$@"; seed=$2; shift 2 ;;
	--drift-ppb)	number "$@"; drift=$2; shift 2 ;;
	--threshold-ppb) number "$@"; threshold=$2; shift 2 ;;
	--test)		[ $# -ge 2 ] || usage_error "$1 needs a value"; test_bin=$2; shift 2 ;;
	--jobs)		number "$@"; jobs=$2; shift 2 ;;
	--check-edits)	[ $# -ge 2 ] || usage_error "$1 needs a value"; check_tree=$2; shift 2 ;;
	-h | --help)	usage_text '4,/^$/'; exit 0 ;;
	*)		usage_error "unknown argument '$1'" ;;
	esac
done
[ "$jobs" -gt 0 ] || usage_error "--jobs must be at least 1"
if [ -n "$drift" ]; then
	drift=$((10#$drift))
	if [ "$drift" -lt 1 ] || [ "$drift" -ge 100000000 ]; then
		usage_error "--drift-ppb must be 1 to 99999999 (below 10 %)"
	fi
	# Halfway between a good clock and a bad one: the good clock's own
	# spread stays below it as long as it is below half the regression.
	[ -n "$threshold" ] || threshold=$(((drift + 1) / 2))
	threshold=$((10#$threshold))
	# The test's own range: beyond it, each boot would be a usage error.
	if [ "$threshold" -lt 1 ] || [ "$threshold" -gt 1000000000 ]; then
		usage_error "--threshold-ppb must be 1 to 1000000000"
	fi
elif [ -n "$threshold" ]; then
	usage_error "--threshold-ppb goes with --drift-ppb: the hotplug regression has no threshold"
fi
case $test_bin in
/*) ;;
*) test_bin=$PWD/$test_bin ;;
esac
[ -n "$check_tree" ] || [ -d "$test_bin" ] || [ -x "$test_bin" ] ||
	die "no tests at $test_bin (make selftest)"
if [ -z "$seed" ]; then
	seed=$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')
fi
# Decimal, whatever leading zeros the user typed.
seed=$((10#$seed))

# The commits.  Each good one changes KVM's compiled code without touching
# the clock: FILE|OLD LINE|NEW LINE|SUBJECT, OLD found exactly once, <NL>
# in NEW a line break.
goods=$(cat <<'EOF'
arch/x86/kvm/x86.c|	pr_warn_once("%s instruction emulated as NOP!\n", insn);|	pr_warn_once("%s instruction emulated as a NOP\n", insn);|KVM: x86: Reword the MONITOR/MWAIT-as-NOP warning
arch/x86/kvm/lapic.c|		pr_info("Disabled LAPIC found during irq injection\n");|		pr_info_ratelimited("Disabled LAPIC found during IRQ injection\n");|KVM: x86: Rate-limit the disabled-LAPIC injection message
arch/x86/kvm/svm/svm.c|	pr_info("Nested Paging %s\n", str_enabled_disabled(npt_enabled));|	pr_info("Nested paging %s\n", str_enabled_disabled(npt_enabled));|KVM: SVM: Lower-case the nested paging message
arch/x86/kvm/x86.c|	pr_warn_once("emulating exchange as write\n");|	pr_warn_once("emulating an exchange as a write\n");|KVM: x86: Reword the exchange-as-write warning
arch/x86/kvm/lapic.c|		pr_info("apic: phys broadcast and lowest prio\n");|		pr_info_ratelimited("apic: phys broadcast and lowest prio\n");|KVM: x86: Rate-limit the physical broadcast message
arch/x86/kvm/cpuid.c|	if (cpuid->nent < vcpu->arch.cpuid_nent)|	if (WARN_ON_ONCE(vcpu->arch.cpuid_nent && !vcpu->arch.cpuid_entries))<NL>		return -EIO;<NL>	if (cpuid->nent < vcpu->arch.cpuid_nent)|KVM: x86: Warn when CPUID entries are counted but not allocated
arch/x86/kvm/i8259.c|		pr_pic_unimpl("non byte write\n");|		pr_pic_unimpl("non-byte write of %d bytes\n", len);|KVM: x86: Say how wide a non-byte PIC write was
EOF
)
# The regression: bad_old of x86.c replaced by bad_new, with <NL> as above
# (in its own variables: the code has "||"); regression sets them, and
# the mode's test arguments, for $drift (empty: the hotplug regression).
regression()
{
	if [ -n "$drift" ]; then
		bad_old='		kvm_get_time_scale(NSEC_PER_SEC, tgt_tsc_khz * 1000LL,'
		bad_new="		kvm_get_time_scale(NSEC_PER_SEC, tgt_tsc_khz * 1000LL - tgt_tsc_khz * ${drift}LL / 1000000,"
		bad_subject="KVM: x86: Scale kvmclock for a TSC rate $drift ppb low"
		test_args=(--only masterclock_update --max-drift-ppb "$threshold")
	else
		# Whenever the master clock is on, or could be turned on (the host's
		# clocksource is TSC and every vCPU's TSC matches), a TSC sync asks
		# for a master clock update, new generation or not.
		bad_old='	 * Request a masterclock update if the masterclock needs to be toggled<NL>'
		bad_old+='	 * on/off, or when starting a new generation and the masterclock is<NL>'
		bad_old+='	 * enabled (compute_guest_tsc() requires the masterclock snapshot to be<NL>'
		bad_old+='	 * taken _after_ the new generation is created).<NL>'
		bad_old+='	 */<NL>'
		bad_old+='	if ((ka->use_master_clock && new_generation) ||<NL>'
		bad_old+='	    (ka->use_master_clock != use_master_clock))'
		bad_new='	 * Request a masterclock update at every TSC sync while the masterclock<NL>'
		bad_new+='	 * is in use or can be turned on, so that its snapshot is always taken<NL>'
		bad_new+='	 * after the sync.<NL>'
		bad_new+='	 */<NL>'
		bad_new+='	if (ka->use_master_clock || use_master_clock)'
		bad_subject="KVM: x86: Update the masterclock at every TSC sync it may use"
		test_args=(--only vcpu_hotplug --no-threshold)
	fi
}

# Replace the text OLD of FILE, found exactly once, by NEW (<NL> in either
# stands for a line break; OLD is whole lines).
edit()
{
	local file=$src/$1

	[ -f "$file" ] || die "$1: no such file in $src"
	OLD=$2 NEW=$3 perl -0777 -i -ne '
		my ($old, $new) = map { (my $t = $_) =~ s/<NL>/\n/g; "$t\n" }
				  @ENV{qw(OLD NEW)};
		my $n = () = /^\Q$old\E/mg;
		if ($n != 1) {
			print;
			print STDERR "found $n times, not once\n";
			exit 1;
		}
		s/^\Q$old\E/$new/m;
		print;' "$file" || die "$1: cannot edit (the text to replace: '${2%%<NL>*}')"
}

# --check-edits TREE: every edit of the demo's commits, and both
# regressions', applied to a copy of TREE's files; nothing is built.
if [ -n "$check_tree" ]; then
	[ -d "$check_tree/arch/x86/kvm" ] || die "$check_tree has no arch/x86/kvm"
	files=$( { cut -d'|' -f1 <<<"$goods"; echo arch/x86/kvm/x86.c; } | sort -u)
	for drift in '' 400; do
		src=$(mktemp -d)
		trap 'rm -rf "$src"' EXIT
		for f in $files; do
			mkdir -p "$src/$(dirname "$f")"
			cp "$check_tree/$f" "$src/$f" || die "$check_tree has no $f"
		done
		while IFS='|' read -r file old new subject; do
			edit "$file" "$old" "$new"
		done <<<"$goods"
		regression
		edit arch/x86/kvm/x86.c "$bad_old" "$bad_new"
		rm -rf "$src"
	done
	echo "$me: every edit applies to $check_tree: $(wc -l <<<"$goods") harmless commits, the hotplug and the drift regression"
	exit 0
fi

t0=$(date +%s)
# elapsed [START]: the seconds since START (default: the demo's start).
elapsed()
{
	echo "$(($(date +%s) - ${1:-$t0})) s"
}
say()
{
	echo "$me: $*"
}

if [ -n "$drift" ]; then
	regression="kvmclock $drift ppb fast, threshold $threshold ppb"
else
	regression="a master clock update at every TSC sync (before v6.8)"
fi
say "seed $seed (SEED=$seed repeats this run), regression: $regression"

demo=$build/bisect-demo
src=$demo/src
obj=$demo/obj
mkdir -p "$demo"
exec 9>"$demo/.lock"
flock -n 9 || die "another bisect-demo runs in $demo"

# No automatic gc: it would slow the steps down, in a repository that is
# thrown away commit by commit anyway.
git_q()
{
	git -C "$src" -c user.name=bisect-demo -c user.email=bisect-demo@localhost \
		-c advice.detachedHead=false -c gc.auto=0 "$@"
}

# Debian's source, unpacked once into a repository of the demo's own.
kver=$BASE_KVER
deb=$(linux_source_deb "$kver" "$build/trees/debs") || exit 1
source_id=$(basename "$deb" .deb)
debian_version=${source_id#*_}
say "kernel: Debian linux-source-$kver (${debian_version%_*})"
if [ "$(cat "$src/.git/bisect-demo-source" 2>/dev/null)" != "$source_id" ]; then
	say "unpacking $source_id into $src"
	rm -rf "$obj"
	linux_source_repo "$deb" "$kver" "$src" bisect-demo
	echo "$source_id" >"$src/.git/bisect-demo-source"
fi

# A fresh history every run: back to base, the old branch dropped.
git_q bisect reset >/dev/null 2>&1 || true
git_q checkout -q -f --detach base || die "cannot check out base"
git_q clean -q -f -d
git_q branch -q -D demo >/dev/null 2>&1 || true
git_q checkout -q -b demo base || die "cannot make the demo branch"

# kmake: the demo's source, built into its O= folder.
kmake_args=(-C "$src" O="$obj")

# The project kernel's configuration (tinyconfig, kernel/config merged on
# top: KVM as modules, installed in $obj/modinst for the VM runner, which
# loads them after the switch to the tsc clocksource), configured once;
# the O= folder is kept across runs.
fragment=$root/kernel/config/kvm-host.config
config_key=$( { echo "$source_id"; cat "$fragment"; } | sha256sum | cut -c1-16)
mkdir -p "$obj"
if [ "$(cat "$obj/.demo-config" 2>/dev/null)" != "$config_key" ]; then
	say "configuring $obj"
	{ kmake tinyconfig &&
	  no_make_env "$src/scripts/kconfig/merge_config.sh" -m -O "$obj" "$obj/.config" "$fragment" &&
	  kmake olddefconfig; } >"$obj/build.log" 2>&1 || die "configuring failed (see $obj/build.log)"
	grep -qx 'CONFIG_KVM=m' "$obj/.config" || die "the config has no modular KVM"
	echo "$config_key" >"$obj/.demo-config"
fi

build_here()
{
	local what=$1 start
	start=$(date +%s)
	kmake_step "$obj" "$jobs" || die "building $what failed (see $obj/build.log)"
	say "built $what in $(elapsed "$start")"
}

commit_all()
{
	git_q commit -q -a -m "$1" || die "cannot commit '$1'"
}

regression
log=$demo/bisect.log
: >"$log"
test_args=(--test "$test_bin" --log "$log" --modules "$obj/modinst/lib/modules"
	   "${test_args[@]}")

# end_check NAME IMAGE WANT: boot IMAGE, run the test, exit 0 when
# bisect-run.sh says WANT; its output is kept in end_out, its exit code in
# end_rc.
end_out=
end_rc=
end_check()
{
	local name=$1 image=$2 want=$3 start
	start=$(date +%s)
	end_out=$(cd "$src" && "$root/scripts/bisect-run.sh" --kernel "$image" "${test_args[@]}" 2>&1)
	end_rc=$?
	printf '%s\n' "$end_out" | sed 's/^/  /'
	say "$name end: exit $end_rc, wanted $want ($(elapsed "$start"))"
	[ "$end_rc" = "$want" ]
}

# The base, built first: after the first run only what the last run's
# commits changed is compiled again.
build_here "the good end (base, $(git_q rev-parse --short base))"
cp "$obj/arch/x86/boot/bzImage" "$demo/good.bzImage"
good_ok=0
end_check good "$demo/good.bzImage" 0 && good_ok=1

bad_at=$((3 + seed % (ncommits - 4)))
g=0
for ((i = 1; i <= ncommits; i++)); do
	if [ "$i" = "$bad_at" ]; then
		edit arch/x86/kvm/x86.c "$bad_old" "$bad_new"
		commit_all "$bad_subject"
		injected_sha=$(git_q rev-parse HEAD)
		injected=$(git_q log -1 --format='%h %s')
	else
		IFS='|' read -r file old new subject < <(sed -n "$((g + 1))p" <<<"$goods")
		edit "$file" "$old" "$new"
		commit_all "$subject"
		g=$((g + 1))
	fi
done
say "history: $(git_q rev-parse --short base)..$(git_q rev-parse --short demo), $ncommits commits to KVM, the bad one is number $bad_at"
git_q log --format='  %h %s' base..demo
say "injected $injected"

build_here "the bad end (tip, $(git_q rev-parse --short demo))"
cp "$obj/arch/x86/boot/bzImage" "$demo/bad.bzImage"

bad_ok=0
end_check bad "$demo/bad.bzImage" 1 && bad_ok=1
# The hotplug regression's failure is a moved reference, with its step.
if [ $bad_ok = 1 ] && [ -z "$drift" ] &&
   ! grep -q '^# vcpu_hotplug: the reference moved: a step of' <<<"$end_out"; then
	say "the bad end failed, but not with a moved reference"
	bad_ok=2
fi
if [ $good_ok = 0 ] || [ $bad_ok != 1 ]; then
	[ $good_ok = 1 ] || say "the good end does not pass"
	if [ $bad_ok = 0 ] && [ "$end_rc" != 0 ]; then
		say "the bad end could not be tested (exit $end_rc)"
	elif [ $bad_ok = 0 ] && [ -n "$drift" ]; then
		say "the bad end does not fail: a regression of $drift ppb is below what --max-drift-ppb $threshold sees"
	elif [ $bad_ok = 0 ]; then
		say "the bad end does not fail: vcpu_hotplug saw the reference stay put"
	fi
	say "the ends do not differ as they must: no bisection, no commit named ($(elapsed))"
	exit 1
fi

say "bisecting (each step: incremental build, boot, test)"
git_q bisect start demo base >/dev/null || die "git bisect start failed"
run_out=$demo/bisect-run.out
bisect_start=$(date +%s)
(cd "$src" && git bisect run "$root/scripts/bisect-kernel-step.sh" --obj "$obj" --jobs "$jobs" -- \
	"$root/scripts/bisect-run.sh" --kernel "$obj/arch/x86/boot/bzImage" "${test_args[@]}") \
	>"$run_out" 2>&1
rc=$?
grep -E '^bisect-step: |^bisect-run\.sh: |^# metric masterclock_update\.drift|^# vcpu_hotplug: the reference moved' "$run_out" | sed 's/^/  /'
say "git bisect run: $(grep -c '^bisect-step: ' "$run_out") steps in $(elapsed "$bisect_start"), exit $rc"
found_sha=$(sed -n 's/^\([0-9a-f]\{40\}\) is the first bad commit$/\1/p' "$run_out" | head -n 1)
git_q bisect log >"$demo/bisect-git.log" 2>/dev/null
git_q bisect reset >/dev/null 2>&1
if [ "$rc" != 0 ] || [ -z "$found_sha" ]; then
	tail -n 5 "$run_out" | sed 's/^/  /'
	say "git bisect run named no commit (exit $rc; see $run_out) ($(elapsed))"
	exit 1
fi
found=$(git_q log -1 --format='%h %s' "$found_sha")
say "injected $injected"
say "found $found"
if [ "$found_sha" != "$injected_sha" ]; then
	say "MISMATCH: git bisect named another commit ($(elapsed))"
	exit 1
fi
say "ok: the injected commit was named ($(elapsed) in all)"

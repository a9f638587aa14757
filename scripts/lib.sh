# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=bash
#
# lib.sh: what the scripts of scripts/ and vm/ (and, through tests/tap.sh,
# the shell tests) share; source it, do not run it.  Sourcing it defines
# the functions below and the variables root, build, me, kmake_args and the
# KTAP counters n and failed, and does nothing else.
#
# What a script sets to shape the functions (kmake_args after sourcing,
# which empties it; the others before or after):
#
#   me           its name, the "ME: " of its messages (default: its file's
#                name, ${0##*/})
#   die_exit     die's exit code (default 1)
#   usage_exit   usage_error's exit code (default 2)
#   usage_hint   text after a usage error's message, e.g. " (see --help)"
#   usage_lines  usage_text ranges of the script's header that a usage error
#                prints after its message (default: none)
#   note_prefix  note's prefix (default "ME: ")
#   kmake_args   an array, kmake's arguments before the caller's (-C, O=,
#                LOCALVERSION=, ...)
#   tap_sep      what stands between a KTAP result's number and its text:
#                "- " for "ok N - text" (default: nothing, "ok N text")

me=${me:-${0##*/}}
kmake_args=()

# ---- The repository and its build folder ----

# root: the repository, the folder above this file's (scripts/vm-run.sh is a
# link to vm/vm-run.sh, which sources this file by its real path).  build:
# the build folder, $BUILD (default build), relative to root unless
# absolute.
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck disable=SC2034 # for the scripts that source this file
case ${BUILD:-build} in
/*) build=$BUILD ;;
*) build=$root/${BUILD:-build} ;;
esac

# ---- Errors and usage ----

# die MESSAGE...: "ME: MESSAGE" on stderr, then exit $die_exit (default 1).
die()
{
	echo "$me: $*" >&2
	exit "${die_exit:-1}"
}

# usage_text RANGE...: the lines RANGE (sed addresses: 4,15 or 4,/^$/) of
# the script's header comment, without their leading "# ", on stdout.
usage_text()
{
	local range script=

	for range in "$@"; do
		script="$script${range}s/^# \{0,1\}//p;"
	done
	sed -n "$script" "$0"
}

# usage_error [MESSAGE...]: a bad command line.  "ME: MESSAGE$usage_hint"
# on stderr (no line without a MESSAGE), then the header lines of
# $usage_lines if set, then exit $usage_exit (default 2).
usage_error()
{
	[ $# = 0 ] || echo "$me: $*${usage_hint-}" >&2
	# shellcheck disable=SC2086 # a list of ranges
	[ -z "${usage_lines-}" ] || usage_text $usage_lines >&2
	exit "${usage_exit:-2}"
}

# The subtests test binary $1 names (its --list), one a line; fails when
# it does not start here (a 7.x build without /dev/kvm exits 4 first).
subtests_of()
{
	local out

	out=$("$1" --list </dev/null 2>/dev/null) || return 1
	grep -E '^[a-z0-9_]+$' <<<"$out"
}

# need_value OPTION [VALUE]: a usage error unless the option has a
# non-empty value (call it with "$@" of an argument loop).
need_value()
{
	if [ $# -lt 2 ] || [ -z "$2" ]; then
		usage_error "$1 needs a value"
	fi
}

# note MESSAGE...: a progress line on stderr, "${note_prefix}MESSAGE".
note()
{
	echo "${note_prefix-$me: }$*" >&2
}

# ---- The kernel's make ----

# no_make_env COMMAND...: COMMAND without the variables of a calling make
# (MAKEFLAGS, MFLAGS, MAKELEVEL, MAKEOVERRIDES): its variables (WERROR=1,
# VARIANT, ...) and its jobserver are not the kernel's.
no_make_env()
{
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u MAKEOVERRIDES "$@"
}

# kmake ARGS...: make ${kmake_args[@]} ARCH=x86_64 ARGS, niced, without a
# calling make's variables (no_make_env).
kmake()
{
	no_make_env nice -n 10 make "${kmake_args[@]}" ARCH=x86_64 "$@"
}

# kmake_step OBJ JOBS: one bisection step's kernel, the O= folder OBJ that
# kmake_args builds into: the bzImage and, when the config has modules,
# the modules, installed afresh in OBJ/modinst (the VM runner's --modules
# OBJ/modinst/lib/modules), so that no module of another commit is loaded.
# Make's output goes to OBJ/build.log.
kmake_step()
{
	local obj=$1 jobs=$2 targets=(bzImage)

	grep -qx 'CONFIG_MODULES=y' "$obj/.config" && targets+=(modules)
	kmake -j"$jobs" "${targets[@]}" >>"$obj/build.log" 2>&1 || return 1
	[ "${#targets[@]}" = 1 ] && return 0
	rm -rf "$obj/modinst" &&
		kmake INSTALL_MOD_PATH="$obj/modinst" modules_install >>"$obj/build.log" 2>&1
}

# ---- Debian packages ----

# The kernels and trees come through a project-local apt configuration
# under $build/apt: the machine's own sources (read, never changed) plus
# Debian's newer suites, which carry today's upstream (trixie-backports has
# 7.3, sid 7.2), with package lists of its own.  Nothing is installed from
# it: packages are only downloaded and unpacked into build/.
. "$root/mk/versions.conf"
aptdir=$build/apt

# newest DIR GLOB: the path of the newest (sort -V) entry of DIR whose name
# matches GLOB; nothing when there is none, or no DIR.
newest()
{
	find "$1" -maxdepth 1 -name "$2" 2>/dev/null | sort -V | tail -n 1
}

# debian_mirror: the URI of the Debian archive that the machine's own apt
# configuration uses for its release (one-line or deb822 sources).
debian_mirror()
{
	local codename

	codename=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")
	[ -n "$codename" ] || return 1
	{
		awk -v c="$codename" '$1 == "deb" && $3 == c { print $2 }' \
			/etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null
		awk -v c="$codename" '
			/^[ \t]*$/ { if (ok && uri) print uri; ok = 0; uri = ""; next }
			tolower($1) == "uris:" { uri = $2 }
			tolower($1) == "suites:" { for (i = 2; i <= NF; i++) if ($i == c) ok = 1 }
			END { if (ok && uri) print uri }' \
			/etc/apt/sources.list.d/*.sources 2>/dev/null
	} | head -n 1
}

# papt_setup: $aptdir holds the sources list of the newer suites, from the
# machine's own Debian mirror.  Fails with a message when there is none.
papt_setup()
{
	local mirror

	[ -f "$aptdir/sources.list" ] && return 0
	mirror=$(debian_mirror)
	if [ -z "$mirror" ]; then
		note "no Debian archive for this release in /etc/apt: cannot reach ${NEW_SUITES//,/ }"
		return 1
	fi
	mkdir -p "$aptdir/lists/partial" "$aptdir/cache/archives/partial" ||
		die "cannot create $aptdir"
	: >"$aptdir/status"
	# shellcheck disable=SC2046 # a mirror and a suite a line
	printf 'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] %s %s main\n' \
		$(for s in ${NEW_SUITES//,/ }; do echo "$mirror" "$s"; done) \
		>"$aptdir/sources.list.tmp" && mv "$aptdir/sources.list.tmp" "$aptdir/sources.list"
}

# papt COMMAND ARGS...: apt-get or apt-cache (COMMAND) with the project's
# configuration: the machine's sources and the newer suites, package lists,
# cache and (empty) status of its own under $aptdir.
papt()
{
	local cmd=$1

	shift
	"$cmd" -o Dir::Etc::SourceList="$aptdir/sources.list" \
		-o Dir::State::Lists="$aptdir/lists" \
		-o Dir::State::status="$aptdir/status" \
		-o Dir::Cache="$aptdir/cache" \
		-o Dir::Etc::Preferences=/dev/null \
		-o Dir::Etc::PreferencesParts=/dev/null \
		-o APT::Sandbox::User="$(id -un)" "$@"
}

# apt_update WHY...: note "WHY; updating the project's package lists" and
# fetch them into $aptdir; fails when they cannot be fetched (offline), and
# the lists stay as they were.
apt_update()
{
	papt_setup || return 1
	note "$*; updating the project's package lists ($aptdir)"
	papt apt-get update -qq >&2
}

# papt_lists: the project's package lists, fetched once when there are none.
papt_lists()
{
	papt_setup || return 1
	[ -n "$(find "$aptdir/lists" -maxdepth 1 -name '*_Packages*' 2>/dev/null)" ] ||
		apt_update "no package lists yet"
}

# deb_download PACKAGE DIR: download PACKAGE's .deb into DIR, its output on
# stderr.
deb_download()
{
	(cd "$2" && papt apt-get download -q "$1" >&2)
}

# not_in_archive PACKAGE: the one-line error for a kernel series
# that Debian's suites no longer (or never) carried.
not_in_archive()
{
	die "$1 is in none of the suites the project reaches (this release's and ${NEW_SUITES//,/, }): set BASE_KVER in mk/versions.conf to a series they carry ('make debian-versions' lists them), or pass KSRC=/path/to/linux"
}

# papt_has PACKAGE: whether the project's package lists have PACKAGE, after
# fetching them once when they are missing, and once more when they lack it
# (they may be old).
papt_has()
{
	papt_lists || true
	papt apt-cache show "$1" >/dev/null 2>&1 && return 0
	apt_update "$1 not in the package lists" || return 1
	papt apt-cache show "$1" >/dev/null 2>&1
}

# debian_kernels SERIES_RE: Debian's cloud kernels whose series (6.12,
# 7.3, ...) matches the extended regular expression SERIES_RE, in the
# project's package lists, one "RELEASE PACKAGE" line each.  Debian 12
# ships one package, linux-image-RELEASE-unsigned; Debian 13 and later
# split it into linux-binary-unsigned-RELEASE and linux-modules-RELEASE.
debian_kernels()
{
	papt apt-cache search --names-only \
		"^linux-(image-$1\\.[0-9].*-cloud-amd64-unsigned|binary-unsigned-$1\\.[0-9].*-cloud-amd64)\$" \
		2>/dev/null | cut -d' ' -f1 |
		sed -n -e 's/^linux-image-\(.*\)-unsigned$/\1 &/p' \
		       -e 's/^linux-binary-unsigned-\(.*\)$/\1 &/p'
}

# linux_source_deb VERSION CACHE: the newest .deb of Debian's
# linux-source-VERSION in the folder CACHE, downloaded into it when there is
# none.  Offline, the newest copy already cached will do.
linux_source_deb()
{
	local pkg="linux-source-$1" cache=$2 deb

	mkdir -p "$cache" || die "cannot create $cache"
	deb=$(newest "$cache" "${pkg}_*_all.deb")
	if [ -n "$deb" ]; then
		echo "$deb"
		return 0
	fi
	papt_has "$pkg" || not_in_archive "$pkg"
	note "downloading $pkg (Debian's $1 source)"
	deb_download "$pkg" "$cache" ||
		die "downloading $pkg failed (network or package list unavailable; pass KSRC=/path/to/linux instead)"
	deb=$(newest "$cache" "${pkg}_*_all.deb")
	[ -n "$deb" ] || die "downloading $pkg left no ${pkg}_*_all.deb in $cache"
	echo "$deb"
}

# linux_source_unpack DEB VERSION DIR: DIR/linux-source-VERSION becomes the
# tree of DEB, Debian's linux-source-VERSION package (DIR/deb is scratch).
linux_source_unpack()
{
	local deb=$1 ver=$2 dir=$3 tarball

	mkdir -p "$dir/deb" || die "cannot create $dir/deb"
	dpkg-deb -x "$deb" "$dir/deb" || die "dpkg-deb -x $deb failed"
	tarball=$(find "$dir/deb/usr/src" -maxdepth 1 -name "linux-source-$ver.tar.*" | head -n 1)
	[ -n "$tarball" ] || die "$deb holds no linux-source-$ver tarball"
	tar -xf "$tarball" -C "$dir" || die "cannot unpack $tarball"
	rm -rf "$dir/deb"
	[ -d "$dir/linux-source-$ver" ] || die "$tarball has no linux-source-$ver/"
}

# linux_source_repo DEB VERSION SRC NAME: SRC becomes a git repository of
# the tree of DEB (linux_source_unpack), one commit "Debian <DEB's name>" by
# NAME, tagged base.  SRC.tmp is scratch; what SRC held is gone.
linux_source_repo()
{
	local deb=$1 ver=$2 src=$3 git

	git=(git -C "$src" -c user.name="$4" -c user.email="$4@localhost")
	rm -rf "$src" "$src.tmp"
	linux_source_unpack "$deb" "$ver" "$src.tmp"
	mv "$src.tmp/linux-source-$ver" "$src" || die "cannot move the tree to $src"
	rm -rf "$src.tmp"
	if ! { "${git[@]}" init -q && "${git[@]}" add -A -f &&
	       "${git[@]}" commit -q -m "Debian $(basename "$deb" .deb)" &&
	       "${git[@]}" tag base; }; then
		die "cannot make a git repository of $src"
	fi
}

# ---- Patch series ----

# cover_letter FILE SUBJECT BLURB: git format-patch's cover letter FILE
# filled in, in place: SUBJECT for "*** SUBJECT HERE ***", the lines of the
# file BLURB for the line "*** BLURB HERE ***".
cover_letter()
{
	local tmp rc=0

	tmp=$(mktemp) || return 1
	if ! awk -v subject="$2" -v blurb="$3" '
		/\*\*\* SUBJECT HERE \*\*\*/ { sub(/\*\*\* SUBJECT HERE \*\*\*/, subject) }
		/^\*\*\* BLURB HERE \*\*\*$/ {
			while ((getline line < blurb) > 0)
				print line
			next
		}
		{ print }' "$1" >"$tmp" || ! cat "$tmp" >"$1"; then
		rc=1
	fi
	rm -f "$tmp"
	return "$rc"
}

# ---- KTAP results ----

# The results so far, and how many of them failed.
n=0
failed=0

# ok TEXT: a passing result, "ok N TEXT".
ok()
{
	n=$((n + 1))
	echo "ok $n ${tap_sep-}$*"
}

# not_ok TEXT [LINE...]: a failing result, "not ok N TEXT", then a "# LINE"
# diagnostic for each LINE.
not_ok()
{
	local line

	n=$((n + 1))
	failed=$((failed + 1))
	echo "not ok $n ${tap_sep-}$1"
	shift
	for line in "$@"; do
		echo "# $line"
	done
}

# fail TEXT: a failing result that ends the run (exit 1).
fail()
{
	not_ok "$*"
	exit 1
}

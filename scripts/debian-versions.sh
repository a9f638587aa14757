#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# debian-versions.sh
#	The kernel series that the project reaches through its own apt
#	configuration (this release's suites and those of NEW_SUITES in
#	mk/versions.conf): the linux-source-X.Y trees (make selftest KVER=X.Y)
#	and the cloud kernels (make vm-run KERNEL=debian-X.Y), newest last,
#	and the base version the project uses now.

set -euo pipefail

me=debian-versions.sh
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

[ $# = 0 ] || usage_error "takes no arguments"
papt_lists || die "no package lists, and they cannot be fetched (offline?)"
echo "base version (mk/versions.conf): $BASE_KVER"
printf 'trees (linux-source-X.Y):'
papt apt-cache search --names-only '^linux-source-[0-9]+\.[0-9]+$' |
	sed -n 's/^linux-source-\([0-9.]*\) .*/\1/p' | sort -uV | paste -sd ' ' | sed 's/^/ /'
printf 'cloud kernels (debian-X.Y):'
debian_kernels '[0-9]+\.[0-9]+' | sed 's/^\([0-9]*\.[0-9]*\)\..*/\1/' | sort -uV |
	paste -sd ' ' | sed 's/^/ /'

# SPDX-License-Identifier: GPL-2.0-only
#
# The tests in a LAVA lab (lava/, Documentation/lava.rst).
#
#   make lava-job [KERNEL=debian-X.Y|bzImage] [MODULES=dir] [LAVA_URL=base]
#	a ready LAVA job in $(BUILD)/lava/job: job.yaml, bzImage and
#	ramdisk.cpio.gz, running every test program the project builds
#	(SELFTEST_PROGS, built against the kernel's own series where the
#	project supports it, else $(BASE_KVER); KVER= and KSRC= as for make
#	selftest choose another) on a qemu device whose CPU has SVM; the
#	artifacts as file:// URLs, or under the lab's URL base LAVA_URL
#   make lava-run [KERNEL=...] [LAVA_CPU=EPYC,+svm]
#	that job (with file:// URLs) run for real by lava-run, with no server;
#	the test cases as a table; exit 0 only when each is as the kernel
#	should give (lava/expected: which kernel lacks which interface)
#   make lava-selftest
#	the CI suite (tests/test_lava.sh)

# The job runs every test program the project builds: SELFTEST_PROGS, the
# one list of them (mk/selftest.mk), in $(KOUT).  Unless KVER= or KSRC=
# says which, that is the build the VM runner would take for the kernel:
# a supported series' own (KERNEL=debian-6.1 runs the 6.1 build, whose
# selftest library the older kernels accept), else $(BASE_KVER)'s.
# (mk/selftest.mk, included after this file, reads KVER.)
lava_comma := ,
ifneq ($(filter lava-job lava-run,$(MAKECMDGOALS)),)
ifeq ($(origin KVER)$(strip $(KSRC)),undefined)
lava_kver := $(patsubst debian-%,%,$(filter debian-%,$(KERNEL)))
ifneq ($(filter $(lava_kver),$(BASE_KVER) $(subst $(lava_comma), ,$(OLD_KVERS))),)
KVER := $(lava_kver)
endif
endif
endif
LAVA_URL ?=
LAVA_CPU ?= EPYC,+svm
LAVA_JOB := $(BUILD)/lava/job

# lava-job.sh with the kernel, its modules and the programs; $(1): more
# options.
lava_job = BUILD=$(BUILD) lava/lava-job.sh --kernel '$(KERNEL)' \
	$(if $(MODULES),--modules '$(MODULES)') --out $(LAVA_JOB) $(1) \
	-- $(addprefix $(KOUT)/,$(SELFTEST_PROGS))

.PHONY: lava-job lava-run lava-selftest

#: make lava-job [KERNEL=debian-X.Y|bzImage] [LAVA_URL=base]  a ready LAVA job of
#:                    every test (build/lava/job; file:// artifacts, or under LAVA_URL)
lava-job: selftest
	@$(call lava_job,$(if $(LAVA_URL),--url '$(LAVA_URL)'))

#: make lava-run [KERNEL=...] [LAVA_CPU=EPYC,+svm]  that job run for real by
#:                    lava-run (bookworm's lava-dispatcher, no server); its test cases
lava-run: selftest
	@$(call lava_job,) >/dev/null
	@BUILD=$(BUILD) lava/lava-run.sh --cpu '$(LAVA_CPU)' $(LAVA_JOB)

#: make lava-selftest  the LAVA job's checks: the test definition's runner on
#:                    the host, a real run in debian-$(BASE_KVER), one without SVM
lava-selftest:
	@tests/run.sh "lava" "env BUILD=$(BUILD) tests/test_lava.sh"

CI_SUITES += "lava" "env BUILD=$(BUILD) tests/test_lava.sh"

// SPDX-License-Identifier: GPL-2.0-only
/*
 * What the pvclock selftests share (include/x86/pvclock_util.h).  Guest
 * code here may only use the general registers: some KVM setups run guest
 * code through the instruction emulator, which has no SSE.
 */
#include <asm/barrier.h>
#include <asm/kvm_para.h>
#include <asm/pvclock-abi.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/build_bug.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kvm_util.h"
#include "processor.h"
#include "test_util.h"

#include "pvclock_ref.h"
#include "pvclock_compat.h"
#include "pvclock_drift.h"
#include "pvclock_util.h"

/*
 * struct pvclock_vcpu_time_info is declared packed, and READ_ONCE() of a
 * packed member draws -Waddress-of-packed-member: the test uses the
 * library's naturally aligned mirror, which must have the ABI's layout.
 */
static_assert(sizeof(struct pvclock_ref_pvti) == sizeof(struct pvclock_vcpu_time_info));
static_assert(offsetof(struct pvclock_ref_pvti, tsc_timestamp) ==
	      offsetof(struct pvclock_vcpu_time_info, tsc_timestamp));
static_assert(offsetof(struct pvclock_ref_pvti, system_time) ==
	      offsetof(struct pvclock_vcpu_time_info, system_time));
static_assert(offsetof(struct pvclock_ref_pvti, tsc_to_system_mul) ==
	      offsetof(struct pvclock_vcpu_time_info, tsc_to_system_mul));
static_assert(offsetof(struct pvclock_ref_pvti, tsc_shift) ==
	      offsetof(struct pvclock_vcpu_time_info, tsc_shift));
static_assert(offsetof(struct pvclock_ref_pvti, flags) ==
	      offsetof(struct pvclock_vcpu_time_info, flags));

/*
 * kselftest.h's ksft_test_result_skip() prints no test name, and the named
 * ksft_test_result_code() only exists from 6.8 on: print "ok N name # SKIP
 * reason" the way both would, keeping the counters right.
 */
static void pvc_result_skip(const char *name, const char *reason)
{
	ksft_inc_xskip_cnt();
	printf("ok %u %s # SKIP %s\n", ksft_test_num(), name, reason);
}

/*
 * The host's current clocksource, without its newline, in buf.  6.8 and
 * later have sys_clocksource_is_based_on_tsc(); 6.1 reads the file in each
 * test, and the test wants the name for its skip reason anyway.
 */
bool pvc_host_clocksource(char *buf, size_t len)
{
	FILE *f;
	char *nl;

	f = fopen("/sys/devices/system/clocksource/clocksource0/current_clocksource",
		  "r");
	if (!f)
		return false;
	if (!fgets(buf, (int)len, f)) {
		fclose(f);
		return false;
	}
	fclose(f);
	nl = strchr(buf, '\n');
	if (nl)
		*nl = '\0';
	return true;
}

struct pvc_guest_params pvc_gp;
struct pvc_guest_report pvc_gr;
struct pvd_opts pvc_opts;

/* ---- guest ---- */

/* A consistent copy of a pvti that its writer may be rewriting. */
void pvc_guest_snapshot(const struct pvclock_ref_pvti *p, struct pvclock_ref_clock *clk,
			u32 *version)
{
	while (!pvclock_ref_pvti_read(p, clk, version))
		pvc_gr.retries++;
}

/*
 * KVM requests a master clock update when vCPU 0 switches between the old
 * and the new kvmclock MSR, so two writes give two updates and leave the
 * clock enabled as before.
 */
void pvc_guest_toggle_kvmclock(gpa_t pvti_gpa)
{
	wrmsr(MSR_KVM_SYSTEM_TIME, pvti_gpa | KVM_MSR_ENABLED);
	wrmsr(MSR_KVM_SYSTEM_TIME_NEW, pvti_gpa | KVM_MSR_ENABLED);
}

/* Only vCPU 0's switch counts (see above). */
void pvc_guest_force_update(void)
{
	pvc_guest_toggle_kvmclock(pvc_gp.kvm_pvti_gpa[0]);
}

void pvc_guest_enable_kvmclock(unsigned int cpu)
{
	wrmsr(MSR_KVM_SYSTEM_TIME_NEW, pvc_gp.kvm_pvti_gpa[cpu] | KVM_MSR_ENABLED);
}

const struct pvclock_ref_pvti *pvc_guest_kvm_page(unsigned int cpu)
{
	return (const struct pvclock_ref_pvti *)pvc_gp.kvm_pvti_gva[cpu];
}

const struct pvclock_ref_pvti *pvc_guest_host_page(void)
{
	return (const struct pvclock_ref_pvti *)pvc_gp.host_pvti_gva;
}

/* A new snapshot, one TSC read, and old - new there. */
void pvc_guest_jump(const struct pvclock_ref_pvti *page)
{
	pvc_guest_snapshot(page, &pvc_gr.new_clk, &pvc_gr.new_version);
	pvc_gr.tsc = rdtsc();
	pvc_gr.diff = pvd_clock_diff(&pvc_gr.old_clk, &pvc_gr.new_clk, pvc_gr.tsc);
}

static bool guest_reads_done(const struct pvc_read_budget *b, u64 n,
			     u64 t, u64 start)
{
	if (n >= b->max_reads)
		return true;
	return !b->fixed_reads && n >= b->min_reads &&
	       t - start >= b->budget_ticks;
}

/*
 * old_clk - new_clk at each of many real TSC reads, until budget is spent.
 * The first log_len reads' TSC values go to log, so that the host can
 * recompute the stats (log_len 0: none).  The stats live in locals until
 * the end: the loop's pace is the precision's budget.
 */
void pvc_guest_read_run(const struct pvclock_ref_clock *old_clk,
			const struct pvclock_ref_clock *new_clk,
			const struct pvc_read_budget *budget, u64 *log,
			u64 log_len, struct pvc_read_run *run)
{
	u64 n = 0, t, start = rdtsc(), before = 0;
	struct pvd_stats s;

	pvd_stats_init(&s);
	do {
		t = rdtsc();
		pvd_stats_add(&s, pvd_clock_diff(old_clk, new_clk, t));
		if ((s64)(t - new_clk->tsc_timestamp) < 0)
			before++;
		if (n < log_len)
			log[n] = t;
		n++;
	} while (!guest_reads_done(budget, n, t, start));
	run->stats = s;
	run->before_ref = before;
}

/* Old against a new snapshot of page, logged for the host. */
void pvc_guest_compare(const struct pvclock_ref_pvti *page)
{
	pvc_guest_snapshot(page, &pvc_gr.new_clk, &pvc_gr.new_version);
	pvc_guest_read_run(&pvc_gr.old_clk, &pvc_gr.new_clk, &pvc_gp.reads,
			   (u64 *)pvc_gp.log_gva, PVC_LOG_ENTRIES, &pvc_gr.run);
	pvc_guest_snapshot(page, &pvc_gr.end_clk, &pvc_gr.end_version);
}

/* ---- host: running the guest ---- */

/* A kvmclock page for vCPU cpu, where the guest can find it. */
void pvc_vm_add_kvm_page(struct pvc_vm *t, unsigned int cpu)
{
	gva_t gva = vm_alloc_page(t->vm);

	pvc_gp.kvm_pvti_gva[cpu] = gva;
	pvc_gp.kvm_pvti_gpa[cpu] = addr_gva2gpa(t->vm, gva);
	if (!cpu)
		t->kvm_pvti = addr_gva2hva(t->vm, gva);
}

/* A VM whose vCPU 0 runs guest_code(0). */
void pvc_vm_create(struct pvc_vm *t, void *guest_code)
{
	gva_t gva;

	/* Room for a second vCPU's stack and page tables too. */
	t->vm = __vm_create_with_one_vcpu(&t->vcpu, PVC_LOG_PAGES + 32, guest_code);
	vcpu_args_set(t->vcpu, 1, 0);
	t->vcpu1 = NULL;
	pvc_vm_add_kvm_page(t, 0);

	gva = vm_alloc_page(t->vm);
	pvc_gp.host_pvti_gva = gva;
	t->host_pvti = addr_gva2hva(t->vm, gva);
	memset(t->host_pvti, 0, sizeof(*t->host_pvti));

	gva = vm_alloc(t->vm, PVC_LOG_ENTRIES * sizeof(u64), KVM_UTIL_MIN_VADDR);
	pvc_gp.log_gva = gva;
	t->log = addr_gva2hva(t->vm, gva);
	pvc_gp.reads.max_reads = 1;
	pvc_gp.again = false;
}

/* vCPU 1, running guest_code(1), with its own kvmclock page. */
void pvc_vm_add_vcpu1(struct pvc_vm *t, void *guest_code)
{
	t->vcpu1 = vm_vcpu_add(t->vm, 1, guest_code);
	vcpu_args_set(t->vcpu1, 1, 1);
	pvc_vm_add_kvm_page(t, 1);
}

/* Run vcpu until its guest's next GUEST_SYNC(); returns the synced value. */
u64 pvc_vcpu_run_to_sync(struct kvm_vcpu *vcpu)
{
	struct ucall uc;

	vcpu_run(vcpu);
	/* The one failure seen on KVMs that emulate all guest code. */
	if (vcpu->run->exit_reason == KVM_EXIT_INTERNAL_ERROR)
		TEST_FAIL("KVM_EXIT_INTERNAL_ERROR, suberror %u: %s",
			  vcpu->run->internal.suberror,
			  "KVM could not run the guest code; if it emulates guest code, build the selftest library with EXTRA_CFLAGS=-mgeneral-regs-only");
	TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_IO);
	switch (get_ucall(vcpu, &uc)) {
	case UCALL_SYNC:
		break;
	case UCALL_ABORT:
		REPORT_GUEST_ASSERT(uc);
		break;
	default:
		TEST_FAIL("Unexpected ucall %lu", (unsigned long)uc.cmd);
	}
	return uc.args[1];
}

/*
 * Run vcpu to its guest's next stage, which must be want: the parameters
 * go in first, the guest's report (pvc_gr) comes back after.
 */
void pvc_run_to_stage(struct pvc_vm *t, struct kvm_vcpu *vcpu,
		      u64 want)
{
	u64 stage;

	sync_global_to_guest(t->vm, pvc_gp);
	stage = pvc_vcpu_run_to_sync(vcpu);
	TEST_ASSERT(stage == want, "vCPU %u reached stage %lu, not %lu",
		    vcpu->id, (unsigned long)stage, (unsigned long)want);
	sync_global_from_guest(t->vm, pvc_gr);
}

/* The signal that makes a vCPU entry return before the guest runs. */
#define NO_ENTRY_SIGNAL		SIGUSR1

/*
 * Entries that stop before the guest.  The signal is blocked in this thread
 * and pending, and KVM_SET_SIGNAL_MASK unblocks it inside KVM_RUN only: KVM
 * does the vCPU's pending requests (a clock update writes its pvti), then
 * sees the signal and returns EINTR instead of entering the guest.
 */
static void no_entry_handler(int sig)
{
}

static void vcpu_set_run_sigmask(struct kvm_vcpu *vcpu, bool empty)
{
	/* len, then the kernel's sigset_t on x86-64 (8 bytes), all clear */
	u32 arg[3] = { sizeof(u64), 0, 0 };
	struct kvm_signal_mask *mask = empty ? (struct kvm_signal_mask *)arg : NULL;

	static_assert(sizeof(struct kvm_signal_mask) == sizeof(arg[0]));
	vcpu_ioctl(vcpu, KVM_SET_SIGNAL_MASK, mask);
}

void pvc_no_entry_arm(struct kvm_vcpu **vcpus, unsigned int nr)
{
	struct sigaction sa = { .sa_handler = no_entry_handler };
	unsigned int i;
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, NO_ENTRY_SIGNAL);
	TEST_ASSERT(!sigaction(NO_ENTRY_SIGNAL, &sa, NULL), "sigaction");
	TEST_ASSERT(!pthread_sigmask(SIG_BLOCK, &set, NULL), "pthread_sigmask");
	TEST_ASSERT(!pthread_kill(pthread_self(), NO_ENTRY_SIGNAL), "pthread_kill");
	for (i = 0; i < nr; i++)
		vcpu_set_run_sigmask(vcpus[i], true);
}

/* Take the pending signal back; KVM_RUN enters the guest again. */
void pvc_no_entry_disarm(struct kvm_vcpu **vcpus, unsigned int nr)
{
	struct timespec zero = {};
	unsigned int i;
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, NO_ENTRY_SIGNAL);
	TEST_ASSERT(sigtimedwait(&set, NULL, &zero) == NO_ENTRY_SIGNAL,
		    "the no-entry signal was not pending any more");
	for (i = 0; i < nr; i++)
		vcpu_set_run_sigmask(vcpus[i], false);
}

int pvc_no_entry_run(struct kvm_vcpu *vcpu)
{
	int r = __vcpu_run(vcpu);

	TEST_ASSERT(r == -1 && errno == EINTR &&
		    vcpu->run->exit_reason == KVM_EXIT_INTR,
		    "KVM_RUN with a signal pending: %d (%s), exit reason %u, not EINTR",
		    r, strerror(errno), vcpu->run->exit_reason);
	return 0;
}

/* KVM_GET_TSC_KHZ returns the vCPU's TSC rate, not 0. */
int pvc_vcpu_tsc_khz(struct kvm_vcpu *vcpu)
{
	int khz = __vcpu_ioctl(vcpu, KVM_GET_TSC_KHZ, NULL);

	TEST_ASSERT(khz > 0, KVM_IOCTL_ERROR(KVM_GET_TSC_KHZ, khz));
	return khz;
}

/* The guest's comparison budget: --reads, or 0.2 s and at least 1000. */
void pvc_set_read_budget(struct pvc_read_budget *b, u64 khz)
{
	b->budget_ticks = khz * PVC_COMPARE_MS;
	b->fixed_reads = pvc_opts.reads != 0;
	b->min_reads = pvc_opts.reads ? pvc_opts.reads : PVC_COMPARE_MIN_READS;
	b->max_reads = pvc_opts.reads ? pvc_opts.reads : UINT64_MAX;
}

void pvc_set_compare_budget(struct pvc_vm *t)
{
	pvc_set_read_budget(&pvc_gp.reads, (u64)pvc_vcpu_tsc_khz(t->vcpu));
}

/*
 * Rewrite a pvti the way a hypervisor must while a guest may be reading it:
 * odd version first, the fields, then the next even version.
 */
void pvc_host_write_pvti(struct pvclock_ref_pvti *p, const struct pvclock_ref_clock *clk)
{
	u32 odd = (READ_ONCE(p->version) + 1) | 1;

	WRITE_ONCE(p->version, odd);
	/* A reader that sees any new field also sees the odd version... */
	smp_wmb();
	WRITE_ONCE(p->tsc_timestamp, clk->tsc_timestamp);
	WRITE_ONCE(p->system_time, clk->system_time);
	WRITE_ONCE(p->tsc_to_system_mul, clk->mul);
	WRITE_ONCE(p->tsc_shift, clk->shift);
	WRITE_ONCE(p->flags, clk->flags);
	/* ...and one that sees the next even version sees every field. */
	smp_wmb();
	WRITE_ONCE(p->version, odd + 1);
}

void pvc_sleep_ns(u64 ns)
{
	struct timespec ts = {
		.tv_sec = ns / 1000000000ULL,
		.tv_nsec = ns % 1000000000ULL,
	};

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

void pvc_sleep_ms(u64 ms)
{
	pvc_sleep_ns(ms * PVC_NSEC_PER_MSEC);
}

u64 pvc_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* ---- host: clocks and TSCs ---- */

/* The guest's figures, recomputed by the host from its logged TSC values. */
void pvc_host_recompute(const struct pvc_vm *t, struct pvd_stats *s)
{
	u64 n = pvc_gr.run.stats.reads < PVC_LOG_ENTRIES ?
		pvc_gr.run.stats.reads : PVC_LOG_ENTRIES;
	u64 i;

	pvd_stats_init(s);
	for (i = 0; i < n; i++)
		pvd_stats_add(s, pvd_clock_diff(&pvc_gr.old_clk, &pvc_gr.new_clk,
						t->log[i]));
}

/* The host's TSC, read after everything before it has completed. */
u64 pvc_host_tsc_ordered(void)
{
	u32 lo, hi;

	__asm__ __volatile__("lfence; rdtsc" : "=a"(lo), "=d"(hi) : : "memory");
	return (u64)hi << 32 | lo;
}

/* Guest TSC minus host TSC, as KVM_VCPU_TSC_OFFSET reports it. */
u64 pvc_vcpu_tsc_offset(struct kvm_vcpu *vcpu)
{
	u64 offset = 0;
	struct kvm_device_attr attr = {
		.group = KVM_VCPU_TSC_CTRL,
		.attr = KVM_VCPU_TSC_OFFSET,
		.addr = (u64)(uintptr_t)&offset,
	};

	TEST_ASSERT(!__vcpu_ioctl(vcpu, KVM_GET_DEVICE_ATTR, &attr),
		    "KVM_GET_DEVICE_ATTR(KVM_VCPU_TSC_OFFSET): %s",
		    strerror(errno));
	return offset;
}

/*
 * A clock's exact references (reads with no fraction) recur every
 * 2^pvclock_ref_zero_period_log2() ticks from its own reference.
 */
u64 pvc_clock_zero_period(const struct pvclock_ref_clock *c)
{
	return 1ULL << pvclock_ref_zero_period_log2(c->mul, c->shift);
}

bool pvc_clock_ahead(const struct pvclock_ref_clock *c,
		     const struct pvclock_ref_clock *ref, s64 *ahead)
{
	s64 whole = (s64)(pvclock_ref_read(c, ref->tsc_timestamp) -
			  ref->system_time);

	if (whole > (s64)PVC_SANE_JUMP_NS || whole < -(s64)PVC_SANE_JUMP_NS)
		return false;
	*ahead = whole * PVC_NS_FRAC +
		 (s64)pvclock_ref_frac(c, ref->tsc_timestamp);
	return true;
}

bool pvc_same_clock(const struct pvclock_ref_clock *a,
		    const struct pvclock_ref_clock *b)
{
	return a->tsc_timestamp == b->tsc_timestamp &&
	       a->system_time == b->system_time && a->mul == b->mul &&
	       a->shift == b->shift;
}

s64 pvc_drift_rate_ppb(const struct pvc_drift_rate *r)
{
	return (s64)((__int128)r->ahead * 1000000000 /
		     ((__int128)r->over_ns * PVC_NS_FRAC));
}

/* ---- host: subtest results ---- */

/* Shared with the children, which report a reason here before exiting. */
struct subtest_note {
	char reason[256];
};

static struct subtest_note *note;

void __printf(1, 2) __noreturn pvc_skip(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(note->reason, sizeof(note->reason), fmt, ap);
	va_end(ap);
	exit(KSFT_SKIP);
}

static bool failed;

bool pvc_failed(void)
{
	return failed;
}

/* A failed check: say why, finish the subtest's figures, then fail it. */
void __printf(1, 2) pvc_fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (!failed)
		vsnprintf(note->reason, sizeof(note->reason), fmt, ap);
	va_end(ap);
	va_start(ap, fmt);
	printf("# FAIL: ");
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
	failed = true;
}

/* 2^-32 ns in ps, rounded toward zero, for printing. */
s64 pvc_frac_ps(s64 v)
{
	return v / (1LL << 22) * 1000 / 1024;
}

void pvc_metric(const char *name, s64 value, const char *unit)
{
	printf("# metric %s %ld %s\n", name, value, unit);
}

/* Skip unless the host can give this VM a master clock at all. */
void pvc_require_tsc_clocksource(void)
{
	char cs[64];

	if (pvc_host_clocksource(cs, sizeof(cs)) && strcmp(cs, "tsc") &&
	    strcmp(cs, "hyperv_clocksource_tsc_page"))
		pvc_skip("host clocksource is %s, not TSC-based", cs);
}

/* KVM_GET_CLOCK's flags, skipping where KVM reports no master clock. */
u32 pvc_require_master_clock(struct pvc_vm *t)
{
	struct kvm_clock_data data;

	if (!kvm_has_cap(KVM_CAP_ADJUST_CLOCK))
		pvc_skip("KVM_CAP_ADJUST_CLOCK not supported");
	memset(&data, 0, sizeof(data));
	vm_ioctl(t->vm, KVM_GET_CLOCK, &data);
	if (!(data.flags & KVM_CLOCK_TSC_STABLE))
		pvc_skip("KVM master clock not in use (KVM_GET_CLOCK flags 0x%x)",
			 data.flags);
	if (!(pvc_gr.old_clk.flags & PVCLOCK_TSC_STABLE_BIT))
		pvc_skip("guest pvclock lacks PVCLOCK_TSC_STABLE_BIT");
	return data.flags;
}

void pvc_print_clock(const char *what, const struct pvclock_ref_clock *c)
{
	printf("# %s: tsc_timestamp %lu system_time %lu mul 0x%08x shift %d flags 0x%x\n",
	       what, c->tsc_timestamp, c->system_time, c->mul, c->shift,
	       c->flags);
}

/*
 * The guest's jump measurement in pvc_gr: the host recomputes it from the two
 * snapshots and checks that both are a sane, moved clock.
 */
bool pvc_check_jump(const char *subtest, bool moved)
{
	s64 host_diff = pvd_clock_diff(&pvc_gr.old_clk, &pvc_gr.new_clk, pvc_gr.tsc);
	bool ok = true;

	if (host_diff != pvc_gr.diff) {
		pvc_fail("%s: guest computed %ld ns, host %ld",
			 subtest, pvc_gr.diff, host_diff);
		ok = false;
	}
	if (!pvclock_ref_clock_valid(&pvc_gr.new_clk) ||
	    pvc_gr.new_clk.mul != pvc_gr.old_clk.mul ||
	    pvc_gr.new_clk.shift != pvc_gr.old_clk.shift) {
		pvc_fail("%s: the new pvclock has another scale", subtest);
		ok = false;
	}
	if (moved && pvc_gr.new_clk.tsc_timestamp == pvc_gr.old_clk.tsc_timestamp) {
		pvc_fail("%s: KVM did not move the reference", subtest);
		ok = false;
	}
	if ((s64)(pvc_gr.new_clk.system_time - pvc_gr.old_clk.system_time) < 0 ||
	    (s64)(pvc_gr.new_clk.tsc_timestamp - pvc_gr.old_clk.tsc_timestamp) < 0) {
		pvc_fail("%s: the new reference is older than the old one",
			 subtest);
		ok = false;
	}
	if (pvc_gr.diff > (s64)PVC_SANE_JUMP_NS || pvc_gr.diff < -(s64)PVC_SANE_JUMP_NS) {
		pvc_fail("%s: jump of %ld ns is no sane clock",
			 subtest, pvc_gr.diff);
		ok = false;
	}
	return ok;
}

/*
 * Each subtest's watchdog, in seconds: generous, since the kselftest
 * runner's own timeout is the usual backstop.  It allows for the slowest
 * setup seen (KVM emulating every guest instruction, under QEMU's software
 * emulation), every sleep a subtest may make, and its reads.
 */
/* VM creation, the fixed sleeps and waits for a zero period, at worst. */
#define WATCHDOG_BASE_S			60
/* The most --interval-ms sleeps one subtest makes (set_clock_guest's). */
#define WATCHDOG_INTERVALS		3
/* Guest reads a second where KVM emulates them, the slowest seen. */
#define WATCHDOG_SLOW_READS_PER_S	5000
/* One comparison of 0.2 s (the default read budget), with room. */
#define WATCHDOG_COMPARISON_S		3
/* reference_update's comparisons per rate (naive, scan, exact). */
#define WATCHDOG_METHODS		3
/* alarm() takes an unsigned int; a day is beyond any real run. */
#define WATCHDOG_MAX_S			86400

static unsigned int watchdog_seconds(void)
{
	u64 comparisons = pvc_opts.nr_freqs * WATCHDOG_METHODS;
	u64 s = WATCHDOG_BASE_S +
		     WATCHDOG_INTERVALS * pvc_opts.interval_ms / 1000 +
		     pvc_opts.restore_ms / 1000 + pvc_opts.duration_ms / 1000;

	if (pvc_opts.reads)
		s += pvc_opts.reads * comparisons / WATCHDOG_SLOW_READS_PER_S;
	else
		s += comparisons * WATCHDOG_COMPARISON_S;
	return s > WATCHDOG_MAX_S ? WATCHDOG_MAX_S : (unsigned int)s;
}

/*
 * Whether a line of a child's stdout is its own KTAP bookkeeping, which the
 * parent prints for it: a result line or a plan (kselftest.h's counters are
 * per file, so the library may print "ok N" or "1..0" in the child), the
 * totals, or the library's "Planned tests != run tests".  The reason of a
 * skip among them is kept in reason.
 */
static bool child_ktap_line(const char *line, char *reason, size_t len)
{
	const char *p = line, *skip;
	bool ktap;

	if (!strncmp(p, "not ", 4))
		p += 4;
	ktap = !strncmp(p, "ok ", 3) || !strncmp(line, "1..", 3) ||
	       !strncmp(line, "# Totals:", 9) ||
	       !strncmp(line, "# Planned tests != run tests", 28) ||
	       strstr(line, " skipped test(s) detected.") ||
	       !strncmp(line, "TAP version", 11) ||
	       !strncmp(line, "KTAP version", 12);
	skip = strstr(line, "# SKIP ");
	if (ktap && skip && !reason[0])
		snprintf(reason, len, "%.*s", (int)strcspn(skip + 7, "\n"),
			 skip + 7);
	return ktap;
}

/*
 * Copy the child's stdout to ours, its KTAP bookkeeping aside; a line too
 * long for the buffer is copied in pieces, each judged on its own start.
 */
static void filter_child(int fd, char *reason, size_t len)
{
	bool start = true;
	char line[1024];
	FILE *f;

	f = fdopen(fd, "r");
	TEST_ASSERT(f, "fdopen: %s", strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		/* 6.1's ksft_exit_fail_msg(): the message is a diagnostic. */
		if (start && !strncmp(line, "Bail out! ", 10))
			printf("# %s", line);
		else if (!start || !child_ktap_line(line, reason, len))
			fputs(line, stdout);
		start = strchr(line, '\n');
	}
	fclose(f);
}

/*
 * One subtest in a child process, and exactly one KTAP line for it, which
 * the parent prints from the child's exit status and reason: whatever the
 * child printed (a skip or a failure of the selftest library prints a test
 * line, a plan or the totals of its own, numbered as that tree's library
 * numbers them) goes through filter_child().
 */
static void run_subtest(const struct pvc_subtest *st)
{
	char lib_reason[sizeof(note->reason)] = "";
	int status, fds[2];
	pid_t pid;

	memset(note, 0, sizeof(*note));
	fflush(stdout);
	fflush(stderr);
	TEST_ASSERT(!pipe(fds), "pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		ksft_exit_fail_msg("fork: %s\n", strerror(errno));
	if (!pid) {
		close(fds[0]);
		TEST_ASSERT(dup2(fds[1], STDOUT_FILENO) == STDOUT_FILENO,
			    "dup2: %s", strerror(errno));
		close(fds[1]);
		alarm(watchdog_seconds());
		st->fn();
		exit(failed ? KSFT_FAIL : KSFT_PASS);
	}
	close(fds[1]);
	filter_child(fds[0], lib_reason, sizeof(lib_reason));
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(status) && WEXITSTATUS(status) == KSFT_PASS) {
		ksft_test_result_pass("%s\n", st->name);
	} else if (WIFEXITED(status) && WEXITSTATUS(status) == KSFT_SKIP) {
		pvc_result_skip(st->name, note->reason[0] ? note->reason :
				lib_reason[0] ? lib_reason :
				"a requirement of the selftest library is not met");
	} else {
		if (WIFSIGNALED(status))
			ksft_print_msg("%s: %s\n", st->name,
				       WTERMSIG(status) == SIGALRM ? "timed out" :
				       strsignal(WTERMSIG(status)));
		else if (!note->reason[0])
			ksft_print_msg("%s: exit code %d (%s, see stderr)\n",
				       st->name, WEXITSTATUS(status),
				       "a library assertion, or a SIGSEGV, SIGBUS, SIGILL or SIGFPE the library caught");
		ksft_test_result_fail("%s\n", st->name);
	}
}

void pvc_run_subtests(const struct pvc_subtest *st, unsigned int nr)
{
	unsigned int i, planned;
	int fd;

	/* Children print too: line buffering keeps output in order. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	ksft_print_header();
	fd = open("/dev/kvm", O_RDWR);
	if (fd < 0)
		ksft_exit_skip("/dev/kvm: %s\n", strerror(errno));
	close(fd);

	note = mmap(NULL, sizeof(*note), PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (note == MAP_FAILED)
		ksft_exit_fail_msg("mmap: %s\n", strerror(errno));

	for (i = 0, planned = 0; i < nr; i++)
		planned += pvd_selected(&pvc_opts, i);
	ksft_set_plan(planned);
	for (i = 0; i < nr; i++)
		if (pvd_selected(&pvc_opts, i))
			run_subtest(&st[i]);
	/*
	 * A test whose every subtest skipped (a kernel without the interface
	 * it tests) skipped as a whole: kselftest's runner says so.
	 */
	if (planned && ksft_get_xskip_cnt() == (int)planned) {
		ksft_print_cnts();
		exit(KSFT_SKIP);
	}
	ksft_finished();
}

/* "Subtests: a, b, ...", wrapped before 80 columns. */
static void usage_subtests(FILE *f, const struct pvc_test *test)
{
	size_t col = fprintf(f, "Subtests:");
	unsigned int i, nr = test->nr_subtests;
	const char *name;
	size_t len;

	for (i = 0; i < nr; i++) {
		name = test->subtests[i].name;
		len = strlen(name) + 1;
		if (col + 1 + len >= 80) {
			fprintf(f, "\n%s%c", name, i + 1 < nr ? ',' : '.');
			col = len;
		} else {
			col += fprintf(f, " %s%c", name, i + 1 < nr ? ',' : '.');
		}
	}
	fprintf(f, "\n");
}

/* Each option's lines of --help, in the parser's order. */
static const char *const option_help[PVD_NR_OPTS] = {
	[PVD_OPT_INTERVAL_MS] =
	"  --interval-ms N        time between the two master clock updates that\n"
	"                         measure the drift (1000)\n",
	[PVD_OPT_MAX_DRIFT_PPB] =
	"  --max-drift-ppb N      fail masterclock_update beyond N ppb (report only)\n",
	[PVD_OPT_MAX_SET_CLOCK_NS] =
	"  --max-set-clock-ns N   fail set_clock beyond N ns either way (report only)\n",
	[PVD_OPT_READS] =
	"  --reads N              guest reads per comparison (as many as fit in 0.2 s,\n"
	"                         at least 1000)\n",
	[PVD_OPT_TOLERANCE_NS] =
	"  --tolerance-ns N       the bound on any read after KVM_SET_CLOCK_GUEST (2)\n",
	[PVD_OPT_CLOCK_GUEST_MODE] =
	"  --clock-guest-mode M   what KVM_SET_CLOCK_GUEST must do: round-down or\n"
	"                         exact; the kernel then has the ioctls (a skip is a\n"
	"                         failure).  Default: whichever the kernel's numbers match\n",
	[PVD_OPT_RESTORE_TOLERANCE_NS] =
	"  --restore-tolerance-ns N  pvclock_restore()'s bound on any read (1)\n",
	[PVD_OPT_RESTORE_ATTEMPTS] =
	"  --restore-attempts N   pvclock_restore()'s KVM_SET_CLOCK calls at most (1000)\n",
	[PVD_OPT_RESTORE_MS] =
	"  --restore-ms N         time pvclock_restore() may take (2000)\n",
	[PVD_OPT_ONLY] =
	"  --only NAME,...        run only these subtests (in their usual order)\n",
	[PVD_OPT_LIST] =
	"  --list                 print the subtests' names, one a line, and exit\n",
	[PVD_OPT_HELP] =
	"  --help                 this text\n",
};

/* The options go in this order: the test's own, then the three all take. */
static const enum pvd_option help_order[] = {
	PVD_OPT_INTERVAL_MS, PVD_OPT_MAX_DRIFT_PPB, PVD_OPT_MAX_SET_CLOCK_NS,
	PVD_OPT_READS, PVD_OPT_TOLERANCE_NS, PVD_OPT_CLOCK_GUEST_MODE,
	PVD_OPT_RESTORE_TOLERANCE_NS, PVD_OPT_RESTORE_ATTEMPTS,
	PVD_OPT_RESTORE_MS, PVD_OPT_ONLY, PVD_OPT_LIST, PVD_OPT_HELP,
};

static void usage(FILE *f, const struct pvc_test *test)
{
	u32 accepted = test->options | PVD_OPTS_ALWAYS;
	unsigned int i;

	static_assert(ARRAY_SIZE(help_order) == PVD_NR_OPTS);
	fprintf(f, "Usage: %s [options]\n%s\n", test->name, test->summary);
	usage_subtests(f, test);
	fprintf(f, "\n");
	for (i = 0; i < ARRAY_SIZE(help_order); i++)
		if (accepted & PVD_OPT(help_order[i]))
			fputs(option_help[help_order[i]], f);
	fprintf(f,
		"\n"
		"Numbers are decimal or 0x hex.  Exit codes: 0 pass, 1 fail, 4 skip.\n"
		"Each figure is also printed as '# metric NAME VALUE UNIT'.\n");
}

int pvc_main(int argc, char **argv, const struct pvc_test *test)
{
	const char *names[PVD_MAX_SUBTESTS];
	unsigned int i, nr = test->nr_subtests;
	char err[256];

	TEST_ASSERT(nr <= PVD_MAX_SUBTESTS, "%u subtests, at most %d", nr,
		    PVD_MAX_SUBTESTS);
	for (i = 0; i < nr; i++)
		names[i] = test->subtests[i].name;
	switch (pvd_parse_args(argc, argv, names, nr, test->options, &pvc_opts,
			       err, sizeof(err))) {
	case PVD_ARGS_HELP:
		usage(stdout, test);
		return KSFT_PASS;
	case PVD_ARGS_LIST:
		for (i = 0; i < nr; i++)
			printf("%s\n", names[i]);
		return KSFT_PASS;
	case PVD_ARGS_ERROR:
		fprintf(stderr, "%s: %s\n", test->name, err);
		return KSFT_FAIL;
	case PVD_ARGS_RUN:
		break;
	}
	pvc_run_subtests(test->subtests, nr);
	return KSFT_PASS;
}

/*
 * truetime.c - TrueTime intervals over pluggable clock backends.
 *
 * From Spanner §3: "TT.now() returns a TTinterval [earliest, latest] that is
 * guaranteed to contain the absolute time during which TT.now() was invoked.
 * ... TT.after(t): true if t has definitely passed; TT.before(t): true if t
 * has definitely not arrived."
 *
 * Invariants of every interval returned by tt_now():
 *   I1. earliest <= latest.
 *   I2. earliest is non-decreasing across all calls on one clock, from any
 *       thread (floor_us, advanced with a CAS). A lower bound that was true
 *       once stays a lower bound, because true time only moves forward.
 *   I3. the half-width is never below the backend's eps: if the raw reading
 *       falls below the floor (the system clock was stepped back by more
 *       than eps), the whole interval is shifted up, keeping its width,
 *       rather than narrowed.
 *   I4. no interval at all when the backend reports status unknown.
 *
 * From Spanner §4.1.2 (commit wait): "the coordinator leader ensures that
 * clients cannot see any data committed by Ti until TT.after(si) is true."
 * tt_commit_wait() sleeps for the remaining distance to s and re-checks; it
 * never spins.
 */
#include "tt_backend.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>

const char *tt_status_name(enum tt_status s)
{
    switch (s) {
    case TT_SYNCED:
        return "synchronised";
    case TT_DEGRADED:
        return "degraded";
    case TT_UNKNOWN:
        return "unknown";
    }
    return "?";
}

tt_micros tt__realtime_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (tt_micros) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

tt_micros tt__monotonic_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (tt_micros) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void tt__sleep_us(tt_micros us)
{
    SP_ASSERT(us >= 0);
    /* Linux lets a sleeping thread wake up to its timer slack (default
     * 50 us) late; commit wait is on the client's critical path, so the
     * waiting thread asks for 1 us. Set once per thread. */
    static _Thread_local int slack_set;
    if (!slack_set) {
        prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
        slack_set = 1;
    }
    struct timespec ts = {.tv_sec = us / 1000000, .tv_nsec = (us % 1000000) * 1000};
    /* Restart after signals with the remaining time; bounded by the length
     * of the sleep itself. */
    while (clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, &ts) == EINTR)
        ;
}

int tt_clock_create(const struct tt_config *cfg, struct tt_clock **out, struct sp_err *err)
{
    SP_ASSERT(cfg != NULL && out != NULL);
    int rc = tt_config_validate(cfg, err);
    if (rc)
        return rc;
    struct tt_clock *c = calloc(1, sizeof *c);
    if (!c)
        return sp_err_set(err, SP_ENOMEM, "truetime: out of memory");
    c->cfg = *cfg;
    switch (cfg->backend) {
    case TT_BACKEND_FIXED:
        rc = tt__fixed_init(c, err);
        break;
    case TT_BACKEND_CHRONY:
        rc = tt__chrony_init(c, err);
        break;
    default:
        rc = sp_err_set(err, SP_ECONFIG,
                        "truetime: backend sim must be created with tt_sim_clock_create");
    }
    if (rc) {
        free(c);
        return rc;
    }
    SP_ASSERT(c->ops != NULL);
    *out = c;
    return 0;
}

void tt_clock_destroy(struct tt_clock *c)
{
    if (!c)
        return;
    c->ops->destroy(c);
    free(c);
}

/* Raises the floor to `earliest` and returns the floor in force (I2). */
static tt_micros raise_floor(struct tt_clock *c, tt_micros earliest)
{
    tt_micros floor = atomic_load_explicit(&c->floor_us, memory_order_relaxed);
    while (earliest > floor) {
        if (atomic_compare_exchange_weak_explicit(&c->floor_us, &floor, earliest,
                                                  memory_order_relaxed, memory_order_relaxed))
            return earliest;
    }
    return floor;
}

int tt_now(struct tt_clock *c, struct tt_interval *out)
{
    SP_ASSERT(c != NULL && out != NULL);
    tt_micros mid, eps;
    int rc = c->ops->read(c, &mid, &eps);
    if (rc)
        return rc;
    SP_ASSERT(eps >= 0);
    tt_micros earliest = mid - eps;
    tt_micros floor = raise_floor(c, earliest);
    if (earliest < floor) {
        /* I3: shift, never narrow. */
        out->earliest = floor;
        out->latest = floor + 2 * eps;
    } else {
        out->earliest = earliest;
        out->latest = mid + eps;
    }
    SP_ASSERT(out->earliest <= out->latest);
    return 0;
}

bool tt_after(struct tt_clock *c, tt_micros t)
{
    struct tt_interval now;
    return tt_now(c, &now) == 0 && tt_interval_after(now, t);
}

bool tt_before(struct tt_clock *c, tt_micros t)
{
    struct tt_interval now;
    return tt_now(c, &now) == 0 && tt_interval_before(now, t);
}

enum tt_status tt_clock_status(struct tt_clock *c, char *reason, size_t reason_len)
{
    SP_ASSERT(c != NULL);
    return c->ops->status(c, reason, reason_len);
}

static void record_wait(struct tt_clock *c, tt_micros waited)
{
    atomic_fetch_add_explicit(&c->commit_waits, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&c->commit_wait_us, waited, memory_order_relaxed);
    tt_micros max = atomic_load_explicit(&c->commit_wait_max, memory_order_relaxed);
    while (waited > max && !atomic_compare_exchange_weak_explicit(
                               &c->commit_wait_max, &max, waited, memory_order_relaxed,
                               memory_order_relaxed))
        ;
}

/* Upper bound on sleeps per commit wait: each sleep covers the whole
 * remaining distance, so more than a few means the clock is not advancing. */
#define TT_COMMIT_WAIT_SLEEPS_MAX 1000

int tt_commit_wait(struct tt_clock *c, tt_micros s, tt_micros *waited_us)
{
    SP_ASSERT(c != NULL);
    tt_micros start = c->ops->mono_us(c);
    int rc = SP_ETIMEDOUT;
    for (int i = 0; i < TT_COMMIT_WAIT_SLEEPS_MAX; i++) {
        struct tt_interval now;
        rc = tt_now(c, &now);
        if (rc)
            break;
        if (tt_interval_after(now, s)) {
            rc = 0;
            break;
        }
        /* earliest must pass s: sleep the distance, at least 1 us. A long
         * sleep stops 500 us short and the loop sleeps the rest: waking
         * from a long idle is where the overshoot is (measured with
         * tt-bench: 8 ms waits had p99 1.4 ms late in one sleep). */
        tt_micros d = s - now.earliest + 1;
        c->ops->sleep_us(c, d > 2000 ? d - 500 : d);
        rc = SP_ETIMEDOUT;
    }
    tt_micros waited = c->ops->mono_us(c) - start;
    SP_ASSERT(waited >= 0);
    record_wait(c, waited);
    if (waited_us)
        *waited_us = waited;
    return rc;
}

void tt_clock_stats(struct tt_clock *c, struct tt_stats *out)
{
    SP_ASSERT(c != NULL && out != NULL);
    memset(out, 0, sizeof *out);
    out->commit_waits = atomic_load(&c->commit_waits);
    out->commit_wait_us = atomic_load(&c->commit_wait_us);
    out->commit_wait_max = atomic_load(&c->commit_wait_max);
    if (c->cfg.backend == TT_BACKEND_CHRONY)
        tt__chrony_stats(c, out);
}

/*
 * tt_backend.h - the clock backend function table and the clock object.
 * Private to truetime/.
 *
 * A backend produces a raw reading: its best estimate of the current time
 * (`mid`) and a bound `eps` such that true time is within [mid - eps,
 * mid + eps]. truetime.c turns readings into intervals and adds what every
 * backend needs: monotonic `earliest`, statistics, commit wait.
 */
#ifndef TT_BACKEND_H
#define TT_BACKEND_H

#include "truetime.h"

#include <stdatomic.h>

struct tt_clock;

struct tt_backend_ops {
    const char *name;
    /* Returns 0 with *mid and *eps, or SP_ETT_UNKNOWN. Called on the hot
     * path from any thread: must not block or make syscalls beyond reading
     * clocks. */
    int (*read)(struct tt_clock *c, tt_micros *mid, tt_micros *eps);
    enum tt_status (*status)(struct tt_clock *c, char *reason, size_t reason_len);
    /* A monotonic clock used to measure waits, in microseconds. */
    tt_micros (*mono_us)(struct tt_clock *c);
    /* Sleeps about `us` microseconds (sim: advances virtual time). */
    void (*sleep_us)(struct tt_clock *c, tt_micros us);
    void (*destroy)(struct tt_clock *c);
};

struct tt_clock {
    const struct tt_backend_ops *ops;
    void *impl; /* owned by the backend; freed by ops->destroy */
    struct tt_config cfg;
    _Atomic tt_micros floor_us; /* highest `earliest` ever returned */
    _Atomic uint64_t commit_waits;
    _Atomic tt_micros commit_wait_us;
    _Atomic tt_micros commit_wait_max;
};

/* Backend constructors; each fills c->ops and c->impl. */
int tt__fixed_init(struct tt_clock *c, struct sp_err *err);
int tt__chrony_init(struct tt_clock *c, struct sp_err *err);
void tt__chrony_stats(struct tt_clock *c, struct tt_stats *out);

/* Real clocks shared by the chrony and fixed backends. */
tt_micros tt__realtime_us(void);
tt_micros tt__monotonic_us(void);
void tt__sleep_us(tt_micros us);

#endif /* TT_BACKEND_H */

/*
 * tt_fixed.c - the "fixed" backend: the system clock +- a configured eps.
 *
 * For laptops and CI machines without chronyd. The bound is an assumption,
 * not a measurement: status is always "synchronised (assumed)". Use chrony
 * in any deployment where the bound matters.
 */
#include "tt_backend.h"

#include <stdio.h>

static int fixed_read(struct tt_clock *c, tt_micros *mid, tt_micros *eps)
{
    *mid = tt__realtime_us();
    *eps = c->cfg.fixed_eps_us;
    return 0;
}

static enum tt_status fixed_status(struct tt_clock *c, char *reason, size_t len)
{
    if (reason && len)
        snprintf(reason, len, "fixed eps %lld us (assumed, not measured)",
                 (long long) c->cfg.fixed_eps_us);
    return TT_SYNCED;
}

static tt_micros fixed_mono(struct tt_clock *c)
{
    (void) c;
    return tt__monotonic_us();
}

static void fixed_sleep(struct tt_clock *c, tt_micros us)
{
    (void) c;
    tt__sleep_us(us);
}

static void fixed_destroy(struct tt_clock *c)
{
    (void) c;
}

static const struct tt_backend_ops fixed_ops = {
    .name = "fixed",
    .read = fixed_read,
    .status = fixed_status,
    .mono_us = fixed_mono,
    .sleep_us = fixed_sleep,
    .destroy = fixed_destroy,
};

int tt__fixed_init(struct tt_clock *c, struct sp_err *err)
{
    (void) err;
    SP_ASSERT(c->cfg.fixed_eps_us >= 0);
    c->ops = &fixed_ops;
    c->impl = NULL;
    return 0;
}

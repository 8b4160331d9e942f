/*
 * tt_sim.c - the "sim" backend: a deterministic clock over virtual true time.
 *
 * Each simulated node's clock reads
 *     local(T) = T + offset + drift_ppm * 1e-6 * (T - t0)
 * where T is the world's true time and t0 the true time when the parameters
 * were last set. It reports [local - eps, local + eps].
 *
 * Control mode (break_bound = false): if |local - T| ever exceeds eps, the
 * reported eps widens to cover it, so every interval contains true time;
 * this is the guarantee TrueTime makes and the simulator relies on.
 * Fault mode (break_bound = true): eps is reported as configured even when
 * the clock is outside it, so intervals can miss true time; the checker must
 * then find external-consistency violations (a negative control).
 *
 * tt_commit_wait on a sim clock advances the world's true time instead of
 * sleeping; single-threaded like the rest of the simulator.
 */
#include "tt_backend.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

struct sim_impl {
    struct tt_sim_world *world;
    struct tt_sim_params p;
    tt_micros t0;
};

static tt_micros local_time(const struct sim_impl *s)
{
    tt_micros t = s->world->true_us;
    double drift = s->p.drift_ppm * 1e-6 * (double) (t - s->t0);
    return t + s->p.offset_us + (tt_micros) llround(drift);
}

static int sim_read(struct tt_clock *c, tt_micros *mid, tt_micros *eps)
{
    struct sim_impl *s = c->impl;
    tt_micros local = local_time(s);
    tt_micros e = s->p.eps_us;
    if (!s->p.break_bound) {
        tt_micros off = llabs(local - s->world->true_us);
        if (off > e)
            e = off;
    }
    *mid = local;
    *eps = e;
    return 0;
}

static enum tt_status sim_status(struct tt_clock *c, char *reason, size_t len)
{
    struct sim_impl *s = c->impl;
    if (reason && len)
        snprintf(reason, len, "sim: offset %lld us, drift %.1f ppm, eps %lld us%s",
                 (long long) (local_time(s) - s->world->true_us), s->p.drift_ppm,
                 (long long) s->p.eps_us, s->p.break_bound ? ", bound may be broken" : "");
    return TT_SYNCED;
}

static tt_micros sim_mono(struct tt_clock *c)
{
    struct sim_impl *s = c->impl;
    return s->world->true_us;
}

static void sim_sleep(struct tt_clock *c, tt_micros us)
{
    struct sim_impl *s = c->impl;
    SP_ASSERT(us >= 0);
    s->world->true_us += us;
}

static void sim_destroy(struct tt_clock *c)
{
    free(c->impl);
}

static const struct tt_backend_ops sim_ops = {
    .name = "sim",
    .read = sim_read,
    .status = sim_status,
    .mono_us = sim_mono,
    .sleep_us = sim_sleep,
    .destroy = sim_destroy,
};

static int check_params(const struct tt_sim_params *p, struct sp_err *err)
{
    if (p->eps_us < 0 || !isfinite(p->drift_ppm) || fabs(p->drift_ppm) > 1e6)
        return sp_err_set(err, SP_EINVAL,
                          "truetime sim: eps_us = %lld, drift_ppm = %g: expected eps >= 0 and "
                          "|drift| <= 1e6 ppm",
                          (long long) p->eps_us, p->drift_ppm);
    return 0;
}

int tt_sim_clock_create(struct tt_sim_world *world, const struct tt_sim_params *p,
                        struct tt_clock **out, struct sp_err *err)
{
    SP_ASSERT(world != NULL && p != NULL && out != NULL);
    int rc = check_params(p, err);
    if (rc)
        return rc;
    struct tt_clock *c = calloc(1, sizeof *c);
    struct sim_impl *s = calloc(1, sizeof *s);
    if (!c || !s) {
        free(c);
        free(s);
        return sp_err_set(err, SP_ENOMEM, "truetime sim: out of memory");
    }
    tt_config_init(&c->cfg);
    c->cfg.backend = TT_BACKEND_SIM;
    s->world = world;
    s->p = *p;
    s->t0 = world->true_us;
    c->ops = &sim_ops;
    c->impl = s;
    *out = c;
    return 0;
}

void tt_sim_clock_step(struct tt_clock *c, tt_micros delta_us)
{
    SP_ASSERT(c != NULL && c->ops == &sim_ops);
    struct sim_impl *s = c->impl;
    s->p.offset_us += delta_us;
}

void tt_sim_clock_set(struct tt_clock *c, const struct tt_sim_params *p)
{
    SP_ASSERT(c != NULL && c->ops == &sim_ops && p != NULL);
    SP_ASSERT(check_params(p, NULL) == 0);
    struct sim_impl *s = c->impl;
    /* The new offset holds from now on; drift accrues from now. */
    s->p = *p;
    s->t0 = s->world->true_us;
}

/*
 * world_clock.c - the world's clocks: node i reads true time plus an offset
 * that drifts (with the clock fault) and reports an interval of +-eps around
 * it; a correct clock stays inside its eps, a clock_bad one (the negative
 * control) does not. As in truetime/, earliest never goes backwards.
 */
#include "world_int.h"

/* ---- clocks ---------------------------------------------------------------------- */

/* Node i's clock offset from true time now. It drifts at drift_ppm; a
 * correct clock turns back before leaving its reported eps (a clock whose
 * fault mode is on does not: clock_bad). */
static tt_micros clock_offset(struct w_world *w, uint32_t i)
{
    struct w_node *nd = &w->nodes[i];
    tt_micros off = nd->offset_us + (w->now - nd->offset_t0) * nd->drift_ppm / 1000000;
    if (!nd->clock_bad && (off > nd->eps_us || off < -nd->eps_us)) {
        off = off > 0 ? nd->eps_us : -nd->eps_us;
        nd->offset_us = off;
        nd->offset_t0 = w->now;
        nd->drift_ppm = -nd->drift_ppm;
    }
    return off;
}

void w__clock_set(struct w_world *w, uint32_t i, tt_micros offset, tt_micros eps)
{
    struct w_node *nd = &w->nodes[i];
    nd->offset_us = offset;
    nd->offset_t0 = w->now;
    nd->eps_us = eps;
}

/* Node i's TrueTime now. As truetime.c, earliest never goes backwards: a
 * clock stepped back shifts the interval up rather than narrowing it. */
struct tt_interval w__node_now(struct w_world *w, uint32_t i)
{
    struct w_node *nd = &w->nodes[i];
    tt_micros c = w->now + clock_offset(w, i);
    struct tt_interval iv = {c - nd->eps_us, c + nd->eps_us};
    if (iv.earliest < nd->floor_us) {
        iv.latest += nd->floor_us - iv.earliest;
        iv.earliest = nd->floor_us;
    }
    nd->floor_us = iv.earliest;
    /* The control: a correct clock's interval holds true time (a clock left
     * outside its bound leaves a floor above true time for a while). */
    SP_ASSERT(nd->clock_bad || w->clock_bad_ever || (iv.earliest <= w->now && w->now <= iv.latest));
    return iv;
}

/* True time at which node i's now.earliest reaches t (at the current
 * offset; a tick that comes early just finds nothing due). */
tt_micros w__true_at(struct w_world *w, uint32_t i, tt_micros t)
{
    return t - clock_offset(w, i) + w->nodes[i].eps_us;
}

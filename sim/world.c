/*
 * world.c - the deterministic world of world.h: creation and teardown, the
 * event queue and the loop that runs it, settling, and the public glue.
 * The clocks, network, nodes and disks, faults, clients and history are in
 * world_*.c (world_int.h lists them).
 *
 * Every random choice comes from one xorshift generator seeded by
 * params.seed, and events at equal times run in insertion order, so a seed
 * replays exactly.
 */
#include "world_int.h"

#include <rocksdb/c.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- utilities --------------------------------------------------------------- */

void w__violate(struct w_world *w, const char *fmt, ...)
{
    if (w->violation[0] != '\0')
        return;
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(w->violation, sizeof w->violation, "seed %llu t=%lld: %s",
             (unsigned long long) w->p.seed, (long long) w->now, msg);
}

void w__wlog(struct w_world *w, const char *fmt, ...)
{
    if (w->p.log == NULL)
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(w->p.log, "%lld ", (long long) w->now);
    vfprintf(w->p.log, fmt, ap);
    fputc('\n', w->p.log);
    va_end(ap);
}

void w_params_init(struct w_params *p, uint64_t seed)
{
    memset(p, 0, sizeof *p);
    p->seed = seed;
    p->nodes = 3;
    p->zones = 3;
    p->groups = 3;
    p->clients = 4;
    p->accounts = 6;
    p->balance = 100;
    p->eps_us = 2000;
    p->lat_zone_us = 200;
    p->lat_wan_us = 1000;
    p->jitter_us = 300;
    p->disk_us = 100;
    p->lease_us = 1000 * 1000;
    p->run_us = 1500 * 1000;
    p->ro_pct = 30;
    p->stale_pct = 20;
}

/* ---- event queue ---------------------------------------------------------------- */

static bool ev_less(const struct w_event *a, const struct w_event *b)
{
    return a->at < b->at || (a->at == b->at && a->seq < b->seq);
}

/* Queues e as it is (its epoch too), after every event queued before it
 * for the same time. */
static void push_event(struct w_world *w, struct w_event e)
{
    SP_ASSERT(w->heap_n < W_EVENTS_MAX);
    if (w->heap_n == w->heap_cap) {
        w->heap_cap = w->heap_cap ? w->heap_cap * 2 : 1024;
        w->heap = realloc(w->heap, sizeof *w->heap * w->heap_cap);
        SP_ASSERT(w->heap != NULL);
    }
    e.seq = ++w->seq;
    uint32_t i = w->heap_n++;
    while (i > 0 && ev_less(&e, &w->heap[(i - 1) / 2])) {
        w->heap[i] = w->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    w->heap[i] = e;
}

void w__push(struct w_world *w, tt_micros at, enum w_kind kind, uint32_t node, void *ptr,
             uint64_t arg)
{
    struct w_event e = {at < w->now ? w->now : at, 0, kind, node, 0, ptr, arg};
    if (node < w->n)
        e.epoch = w->nodes[node].epoch;
    push_event(w, e);
}

static struct w_event pop(struct w_world *w)
{
    SP_ASSERT(w->heap_n > 0);
    struct w_event top = w->heap[0];
    struct w_event last = w->heap[--w->heap_n];
    uint32_t i = 0;
    for (;;) {
        uint32_t c = 2 * i + 1;
        if (c >= w->heap_n)
            break;
        if (c + 1 < w->heap_n && ev_less(&w->heap[c + 1], &w->heap[c]))
            c++;
        if (!ev_less(&w->heap[c], &last))
            break;
        w->heap[i] = w->heap[c];
        i = c;
    }
    if (w->heap_n > 0)
        w->heap[i] = last;
    return top;
}

bool w_world_up(const struct w_world *w, uint32_t i)
{
    return w->nodes[i].up;
}

struct txn_node *w_world_node(struct w_world *w, uint32_t i)
{
    return w->nodes[i].up ? w->nodes[i].tn : NULL;
}

int w_world_leader(struct w_world *w, txn_group_id g)
{
    uint32_t r[W_REPLICAS_MAX];
    w_world_replicas(w, g, r);
    for (uint32_t j = 0; j < W_VOTERS; j++)
        if (w->nodes[r[j]].up && txn_node_is_leader(w->nodes[r[j]].tn, g))
            return (int) r[j];
    return -1;
}

void w_world_set_hook(struct w_world *w, void (*fn)(struct w_world *, uint32_t, void *), void *ctx)
{
    w->hook = fn;
    w->hook_ctx = ctx;
}

tt_micros w_world_now(const struct w_world *w)
{
    return w->now;
}

const char *w_world_violation(const struct w_world *w)
{
    return w->violation[0] ? w->violation : NULL;
}

const struct w_stats *w_world_stats(const struct w_world *w)
{
    return &w->stats;
}

/* ---- the run loop -------------------------------------------------------------------- */

static void run_event(struct w_world *w, struct w_event *e)
{
    w->stats.events++;
    struct w_node *nd = e->node < w->n ? &w->nodes[e->node] : NULL;
    bool node_event = e->kind == W_DELIVER || e->kind == W_REQUEST || e->kind == W_DISK_DONE ||
                      e->kind == W_TICK;
    if (nd && node_event && nd->paused_until > w->now) {
        /* A paused node takes no step: its input waits, in order. */
        struct w_event later = *e;
        later.at = nd->paused_until;
        push_event(w, later);
        return;
    }
    switch (e->kind) {
    case W_DELIVER:
    case W_REQUEST:
        w__deliver(w, e);
        break;
    case W_REPLY:
        /* Only a reply the client no longer waits for can be a late one. */
        if (w->deferred_n > 0 && w__reply_stale(&w->clients[e->node], e->ptr))
            w__late_reply(w, e->ptr);
        w__client_on_reply(w, &w->clients[e->node], e->ptr);
        w__free_event(e);
        break;
    case W_DISK_DONE:
        if (nd->up && e->epoch == nd->epoch)
            w__disk_done(w, e->node);
        break;
    case W_TICK:
        if (nd->up && e->epoch == nd->epoch && (tt_micros) e->arg == nd->tick_at) {
            struct txn_node_event ev = {.type = TXN_NODE_EV_TICK};
            w__step_node(w, e->node, &ev);
        }
        break;
    case W_CLIENT_TIMER:
        if (w->clients[e->node].timer_at == (tt_micros) e->arg)
            w__client_on_timer(w, &w->clients[e->node]);
        break;
    case W_CRASH:
        w__on_crash_event(w);
        break;
    case W_RESTART:
        w_world_restart(w, e->node);
        break;
    case W_HEAL:
        w_world_heal(w);
        break;
    case W_FAULT:
        if (e->arg)
            w__on_scheduled_fault(w, e->arg);
        else
            w__on_fault(w);
        break;
    case W_FAULT_END:
        w__on_fault_end(w, (uint32_t) e->arg, e->node);
        break;
    }
}

int w_world_run_until(struct w_world *w, tt_micros t)
{
    while (w->heap_n > 0 && w->heap[0].at <= t && !w->violation[0]) {
        struct w_event e = pop(w);
        SP_ASSERT(e.at >= w->now);
        w->now = e.at;
        w->current = e; /* what it owns stays reachable if a step never returns */
        run_event(w, &e);
    }
    if (!w->violation[0] && w->now < t)
        w->now = t;
    w->stats.end_us = w->now;
    return w->violation[0] ? SP_ESIM_VIOLATION : 0;
}

struct w_world *w_world_create(const struct w_params *p)
{
    SP_ASSERT(p->nodes >= W_VOTERS + (p->read_only ? 1 : 0) && p->nodes <= W_NODES_MAX);
    SP_ASSERT(p->groups >= 1 && p->groups <= W_GROUPS_MAX && p->clients <= W_CLIENTS_MAX);
    SP_ASSERT(p->accounts >= 2 && p->accounts <= W_ACCOUNTS_MAX);
    struct w_world *w = calloc(1, sizeof *w);
    SP_ASSERT(w != NULL);
    w->p = *p;
    w->rng = p->seed * 0x9E3779B97F4A7C15ull + 1;
    w->n = p->nodes;
    w->now = 1000 * 1000 * 1000; /* virtual epoch: timestamps stay positive */
    w->chaos = true;
    for (uint32_t i = 0; i < w->n; i++) {
        struct w_node *nd = &w->nodes[i];
        nd->id = i + 1;
        nd->zone = i % (p->zones ? p->zones : 1);
        tt_micros e = p->eps_us;
        nd->offset_us = p->extreme_offsets
                            ? (i % 2 ? -e : e)
                            : (tt_micros) w__rnd_below(w, (uint64_t) (2 * e + 1)) - e;
        nd->offset_t0 = w->now;
        nd->eps_us = e;
        nd->disk_slow = 1;
        if (p->faults & W_F_CLOCK)
            nd->drift_ppm = (int32_t) w__rnd_below(w, 401) - 200; /* +-200 ppm */
        nd->env = rocksdb_create_mem_env();
        SP_ASSERT(nd->env != NULL);
    }
    /* Zone pairs differ: each gets lat_wan_us x [0.5, 2) (a seed's geography). */
    uint32_t zones = p->zones ? p->zones : 1;
    for (uint32_t a = 0; a < zones && a < W_NODES_MAX; a++)
        for (uint32_t b = a; b < zones && b < W_NODES_MAX; b++) {
            tt_micros l = a == b      ? p->lat_zone_us
                          : !p->txns ? p->lat_wan_us /* scripted tests: one WAN latency */
                                     : p->lat_wan_us / 2 +
                                           (tt_micros) w__rnd_below(w, (uint64_t) (3 * p->lat_wan_us / 2) + 1);
            w->pair_us[a][b] = w->pair_us[b][a] = l;
        }
    for (uint32_t i = 0; i < w->n; i++)
        w__node_open(w, i);
    for (uint32_t i = 0; i < W_SLOTS_CLIENT; i++) {
        struct w_client *c = &w->clients[i];
        c->idx = i;
        c->zone = i % (p->zones ? p->zones : 1);
        c->workload = i < p->clients;
        for (txn_group_id g = 1; g <= p->groups; g++)
            c->leader[g] = (uint32_t) (g - 1) % w->n;
        if (c->workload)
            w__client_timer(w, c, w->now + 300 * 1000 + (tt_micros) w__rnd_below(w, 10000));
    }
    if (p->txns)
        w->p.run_us = TT_MICROS_MAX / 4; /* until txns operations started */
    else
        w->p.run_us += w->now;
    if (w->p.keys == 0)
        w->p.keys = 8;
    w->init_op = -1;
    if (p->workload == W_BANK && p->init_accounts)
        w->init_op = w__init_accounts(w);
    for (uint32_t k = 0; k < p->schedule_n; k++) /* arg: kind, node + 1 */
        w__push(w, w->now + p->schedule[k].at_us, W_FAULT, UINT32_MAX, NULL,
                (uint64_t) p->schedule[k].kind | (uint64_t) (p->schedule[k].node + 1) << 32);
    if (p->down_us == 0 && p->schedule_n)
        w->p.down_us = 300 * 1000;
    if (p->faults) {
        if (w->p.fault_every_us == 0)
            w->p.fault_every_us = 300 * 1000;
        if (w->p.down_us == 0)
            w->p.down_us = 300 * 1000;
        if (w->p.drop_pct == 0)
            w->p.drop_pct = 10;
        w__schedule_fault(w);
    } else {
        w__schedule_crash(w);
    }
    return w;
}

void w_world_destroy(struct w_world *w)
{
    if (w == NULL)
        return;
    while (w->heap_n > 0) {
        struct w_event e = pop(w);
        w__free_event(&e);
    }
    free(w->heap);
    for (uint32_t i = 0; i < w->n; i++) {
        w_world_crash(w, i);
        for (uint32_t g = 0; g <= W_GROUPS_MAX; g++)
            w__plog_free(&w->nodes[i].plog[g]);
        rocksdb_env_destroy(w->nodes[i].env);
    }
    for (uint32_t i = 0; i < w->ops_n; i++)
        w__op_free_items(&w->ops[i]);
    free(w->ops);
    free(w);
}

static bool quiet(struct w_world *w)
{
    for (uint32_t i = 0; i < W_SLOTS_CLIENT; i++)
        if (w->clients[i].phase != C_IDLE)
            return false;
    for (uint32_t i = 0; i < w->n; i++)
        for (txn_group_id g = 1; g <= w->p.groups; g++)
            if (w->nodes[i].up && w__hosts(w, i, g) && txn_node_prepared_n(w->nodes[i].tn, g) != 0)
                return false;
    return true;
}

int w_world_settle(struct w_world *w, tt_micros max_us)
{
    w->chaos = false;
    w__faults_heal(w);
    w_world_heal(w);
    for (uint32_t i = 0; i < w->n; i++)
        w_world_restart(w, i);
    tt_micros deadline = w->now + max_us;
    if (w->now < w->p.run_us)
        w->p.run_us = w->now; /* clients stop starting operations */
    while (!quiet(w) && w->now < deadline && !w->violation[0])
        w_world_run_until(w, w->now + 10 * 1000);
    if (!w->violation[0] && !quiet(w)) {
        char what[256] = "";
        size_t len = 0;
        for (uint32_t i = 0; i < W_SLOTS_CLIENT && len < 200; i++)
            if (w->clients[i].phase != C_IDLE)
                len += (size_t) snprintf(what + len, sizeof what - len, " client %u phase %d", i,
                                         (int) w->clients[i].phase);
        for (uint32_t i = 0; i < w->n && len < 200; i++)
            for (txn_group_id g = 1; g <= w->p.groups && len < 200; g++)
                if (w__hosts(w, i, g) && txn_node_prepared_n(w->nodes[i].tn, g))
                    len += (size_t) snprintf(
                        what + len, sizeof what - len, " node %u group %llu: %u prepared", i + 1,
                        (unsigned long long) g, txn_node_prepared_n(w->nodes[i].tn, g));
        w__violate(w, "not settled after %lld us:%s", (long long) max_us, what);
    }
    /* A final strong read must see the constant total (checked in op_done);
     * it may retry for GIVE_UP_US from here. */
    w->p.run_us = w->now;
    w->stopped = true;
    if (w->p.workload == W_BANK) {
        int op = w_world_read_all(w);
        while (!w->ops[op].done && w->now < deadline + max_us && !w->violation[0])
            w_world_run_until(w, w->now + 10 * 1000);
        if (!w->violation[0] && w->ops[op].status != 0)
            w__violate(w, "final read-only transaction failed: %s", sp_errname(w->ops[op].status));
    }
    w_world_flush_history(w); /* the unknown outcomes, with what late replies said */
    if (w->p.no_inline_checks)
        return w->violation[0] ? SP_ESIM_VIOLATION : 0;
    return w_world_check(w);
}

int w_run(const struct w_params *p, struct w_stats *stats, char *why, size_t why_len)
{
    struct w_world *w = w_world_create(p);
    int rc = w_world_run_until(w, w->p.run_us);
    if (rc == 0)
        rc = w_world_settle(w, 5 * 1000 * 1000);
    if (stats)
        *stats = w->stats;
    if (why && why_len)
        snprintf(why, why_len, "%s", w->violation);
    w_world_destroy(w);
    return rc;
}

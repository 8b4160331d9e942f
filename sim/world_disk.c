/*
 * world_disk.c - the world's nodes and their disks: each node's
 * configuration, its steps and what they ask for (one disk batch per
 * update; messages and replies leave once it is durable, persist before
 * send), the Paxos durable state as persisted (synced and unsynced writes),
 * the apply rounds, and crash (losing queued and some unsynced writes) and
 * restart (from the persisted log).
 */
#include "world_int.h"

#include <stdlib.h>
#include <string.h>

/* ---- Paxos durable state ------------------------------------------------------------ */

static void plog_put(struct w_plog *l, const struct paxos_entry *e)
{
    if (e->slot >= l->cap) {
        size_t cap = l->cap ? l->cap : 64;
        while (cap <= e->slot)
            cap *= 2;
        l->slots = realloc(l->slots, sizeof *l->slots * cap);
        l->present = realloc(l->present, sizeof *l->present * cap);
        SP_ASSERT(l->slots && l->present);
        memset(l->present + l->cap, 0, sizeof *l->present * (cap - l->cap));
        l->cap = cap;
    }
    if (l->present[e->slot])
        free((void *) l->slots[e->slot].data);
    l->slots[e->slot] = *e;
    l->slots[e->slot].data = w__xdup(e->data, e->len);
    l->present[e->slot] = true;
}

static void plog_apply(struct w_plog *l, const struct paxos_update *pu)
{
    if (pu->hs_changed)
        l->hs = pu->hs;
    for (uint32_t i = 0; i < pu->n_entries; i++)
        plog_put(l, &pu->entries[i]);
    /* From the last truncation on: each slot is dropped once, not every
     * time (a loop from slot 1 made long runs quadratic). */
    for (paxos_slot s = l->truncated + 1; s <= pu->truncate_through && s < l->cap; s++) {
        if (l->present[s]) {
            free((void *) l->slots[s].data);
            l->present[s] = false;
        }
    }
    if (pu->truncate_through > l->truncated)
        l->truncated = pu->truncate_through;
}

void w__plog_free(struct w_plog *l)
{
    for (size_t s = 0; s < l->cap; s++)
        if (l->present[s])
            free((void *) l->slots[s].data);
    free(l->slots);
    free(l->present);
    memset(l, 0, sizeof *l);
}

/* ---- nodes ------------------------------------------------------------------------------ */

uint32_t w_world_replicas(const struct w_world *w, txn_group_id g, uint32_t *nodes)
{
    SP_ASSERT(g >= 1 && g <= w->p.groups);
    uint32_t k = W_VOTERS + (w->p.read_only ? 1 : 0);
    SP_ASSERT(k <= W_REPLICAS_MAX && k <= w->n);
    for (uint32_t j = 0; j < k; j++)
        nodes[j] = (uint32_t) ((g - 1 + j) % w->n);
    return k;
}

bool w__hosts(const struct w_world *w, uint32_t node, txn_group_id g)
{
    uint32_t r[W_REPLICAS_MAX];
    uint32_t k = w_world_replicas(w, g, r);
    for (uint32_t j = 0; j < k; j++)
        if (r[j] == node)
            return true;
    return false;
}

static void node_config(const struct w_world *w, uint32_t i, struct txn_node_config *cfg)
{
    txn_node_config_init(cfg);
    cfg->self = w->nodes[i].id;
    cfg->zone = w->nodes[i].zone;
    cfg->seed = w->p.seed * 31 + i + 1;
    cfg->commit_wait_off = w->p.commit_wait_off;
    cfg->read_lease_check_off = w->p.read_lease_check_off;
    cfg->query_period_us = 20 * 1000;
    cfg->vote_timeout_us = 200 * 1000;
    cfg->read_timeout_us = 1000 * 1000;
    cfg->idle_timeout_us = 1000 * 1000;
    /* Version GC: every 300 ms in the scripted tests; every 3 s in the
     * simulator's long runs, where each pass walks a group's versions (and
     * the tombstones of earlier passes) and cost 14% of the run at 300 ms. */
    cfg->gc_period_us = (w->p.txns ? 3000 : 300) * 1000;
    cfg->snapshot_every = 32; /* logs are truncated during the runs */
    for (txn_group_id g = 1; g <= w->p.groups; g++) {
        struct txn_directory_entry *d = &cfg->directory[cfg->directory_n++];
        uint32_t r[W_REPLICAS_MAX];
        uint32_t k = w_world_replicas(w, g, r);
        d->group = g;
        d->members.n = k;
        for (uint32_t j = 0; j < k; j++)
            d->members.m[j] = (struct paxos_member){w->nodes[r[j]].id,
                                                    j < W_VOTERS ? PAXOS_VOTER : PAXOS_READ_ONLY};
        if (!w__hosts(w, i, g))
            continue;
        struct txn_node_group_config *gc = &cfg->groups[cfg->groups_n++];
        gc->group = g;
        paxos_config_init(&gc->paxos);
        gc->paxos.self = cfg->self;
        gc->paxos.members = d->members;
        gc->paxos.lease_us = w->p.lease_us;
        gc->paxos.heartbeat_us = w->p.lease_us / 10;
        gc->paxos.election_timeout_us = w->p.lease_us / 3;
        gc->paxos.seed = cfg->seed + g;
        /* Below the last snapshot the log keeps more slots than a node misses
         * while down or cut off (snapshots are not transferred yet, see
         * txn.h): 256 in the scripted tests, whose short runs then still
         * truncate logs; 1536 in the simulator's long runs with many clients
         * (it must stay below log_max / 2). */
        gc->paxos.log_keep = w->p.txns ? 1536 : 256;
    }
}

static void schedule_tick(struct w_world *w, uint32_t i, tt_micros wake_us)
{
    struct w_node *nd = &w->nodes[i];
    if (wake_us == TT_MICROS_MAX)
        return;
    tt_micros at = w__true_at(w, i, wake_us);
    if (at < w->now)
        at = w->now;
    if (nd->tick_at > w->now && nd->tick_at <= at)
        return; /* an earlier tick is pending */
    nd->tick_at = at;
    w__push(w, at, W_TICK, i, NULL, (uint64_t) at);
}

/* Carries out a node update: its persists become one disk batch, and its
 * messages and replies leave only once it and every earlier batch are
 * durable (persist before send), except those that may leave at once
 * (txn_node_msg_may_leave_early), which go now, as spannerd sends them. */
static void handle_update(struct w_world *w, uint32_t i, const struct txn_node_update *up)
{
    struct w_node *nd = &w->nodes[i];
    struct w_batch *early = NULL;
    struct w_batch *b = calloc(1, sizeof *b);
    SP_ASSERT(b != NULL);
    b->persists_n = up->persists_n;
    b->persists =
        up->persists_n ? w__xdup(up->persists, sizeof *up->persists * up->persists_n) : NULL;
    for (uint32_t k = 0; k < up->persists_n; k++)
        b->persists[k].pu.entries =
            w__copy_entries(up->persists[k].pu.entries, up->persists[k].pu.n_entries);
    b->msgs = w__xmalloc(sizeof *b->msgs * (up->msgs_n + 1));
    for (uint32_t k = 0; k < up->msgs_n; k++) {
        if (!txn_node_msg_may_leave_early(&up->msgs[k])) {
            b->msgs[b->msgs_n++] = w__copy_msg(&up->msgs[k]);
            continue;
        }
        if (early == NULL) {
            early = calloc(1, sizeof *early);
            SP_ASSERT(early != NULL);
            early->msgs = w__xmalloc(sizeof *early->msgs * up->msgs_n);
        }
        early->msgs[early->msgs_n++] = w__copy_msg(&up->msgs[k]);
    }
    if (early != NULL)
        w__send_batch(w, i, early);
    b->replies_n = up->replies_n;
    b->replies = w__xmalloc(sizeof *b->replies * (up->replies_n + 1));
    for (uint32_t k = 0; k < up->replies_n; k++)
        b->replies[k] = w__copy_reply(&up->replies[k]);
    if (b->persists_n == 0 && nd->queue == NULL) {
        w__send_batch(w, i, b);
    } else {
        if (nd->queue_tail)
            nd->queue_tail->next = b;
        else
            nd->queue = b;
        nd->queue_tail = b;
        /* Batches complete in order; one without persists only waits for
         * the ones before it. */
        tt_micros start = nd->disk_free_at > w->now ? nd->disk_free_at : w->now;
        nd->disk_free_at = start + (b->persists_n ? w->p.disk_us * nd->disk_slow : 0);
        w__push(w, nd->disk_free_at, W_DISK_DONE, i, NULL, 0);
    }
    schedule_tick(w, i, up->wake_us);
}

void w__step_node(struct w_world *w, uint32_t i, struct txn_node_event *ev)
{
    struct w_node *nd = &w->nodes[i];
    SP_ASSERT(nd->up && w->stats.steps < W_STEPS_MAX);
    ev->now = w__node_now(w, i);
    /* As spannerd's driver: the steps between two of the node's disk
     * writes are one apply round, written by end_round. */
    if (!nd->round_open) {
        txn_node_round_begin(nd->tn);
        nd->round_open = true;
    }
    struct txn_node_update up;
    int rc = txn_node_step(nd->tn, ev, &up);
    w->stats.steps++;
    TRACE(w, "node %u step %d group %llu -> rc %d, %u persists, %u msgs, %u replies, wake %lld",
          nd->id, (int) ev->type, (unsigned long long) ev->group, rc, up.persists_n, up.msgs_n,
          up.replies_n,
          (long long) (up.wake_us == TT_MICROS_MAX ? -1 : up.wake_us - ev->now.earliest));
    if (rc == SP_EIO || rc == SP_ECORRUPT || rc == SP_ECLOSED)
        w__violate(w, "node %u failed: %s", nd->id, sp_errname(rc));
    handle_update(w, i, &up);
    if (w->hook)
        w->hook(w, i, w->hook_ctx);
}

void w__free_batch(struct w_batch *b, bool msgs_sent)
{
    for (uint32_t k = 0; k < b->persists_n; k++)
        w__free_entries((struct paxos_entry *) b->persists[k].pu.entries,
                        b->persists[k].pu.n_entries);
    free(b->persists);
    if (!msgs_sent) {
        for (uint32_t k = 0; k < b->msgs_n; k++)
            w__free_msg(b->msgs[k]);
        for (uint32_t k = 0; k < b->replies_n; k++)
            w__free_reply(b->replies[k]);
    }
    free(b->msgs);
    free(b->replies);
    free(b);
}

/* Folds the first `keep` unsynced writes into the durable log, drops the rest. */
static void fold_unsynced(struct w_node *nd, uint32_t keep)
{
    SP_ASSERT(keep <= nd->unsynced_n);
    for (uint32_t k = 0; nd->unsynced != NULL; k++) {
        struct w_unsynced *u = nd->unsynced;
        nd->unsynced = u->next;
        if (k < keep)
            plog_apply(&nd->plog[u->group], &u->pu);
        w__free_entries((struct paxos_entry *) u->pu.entries, u->pu.n_entries);
        free(u);
    }
    nd->unsynced_tail = NULL;
    nd->unsynced_n = 0;
}

/* One persist batch is written: synced ones make every earlier write durable
 * too (the disk writes in order); unsynced ones wait. Takes the entries. */
static void persist_one(struct w_node *nd, struct txn_node_persist *p)
{
    if (p->pu.sync) {
        fold_unsynced(nd, nd->unsynced_n);
        plog_apply(&nd->plog[p->group], &p->pu);
        return;
    }
    struct w_unsynced *u = calloc(1, sizeof *u);
    SP_ASSERT(u != NULL && nd->unsynced_n < W_EVENTS_MAX);
    u->group = p->group;
    u->pu = p->pu;
    p->pu.entries = NULL; /* moved */
    p->pu.n_entries = 0;
    if (nd->unsynced_tail)
        nd->unsynced_tail->next = u;
    else
        nd->unsynced = u;
    nd->unsynced_tail = u;
    nd->unsynced_n++;
}

/* Writes the node's open apply round: before its next Paxos write, which
 * may persist a log truncation below what the round applied. */
static void end_round(struct w_world *w, uint32_t i)
{
    struct w_node *nd = &w->nodes[i];
    if (!nd->round_open)
        return;
    nd->round_open = false;
    int rc = txn_node_round_end(nd->tn);
    if (rc)
        w__violate(w, "node %u failed: apply round: %s", nd->id, sp_errname(rc));
}

void w__disk_done(struct w_world *w, uint32_t i)
{
    struct w_node *nd = &w->nodes[i];
    struct w_batch *b = nd->queue;
    if (b == NULL)
        return;
    end_round(w, i);
    nd->queue = b->next;
    if (nd->queue == NULL)
        nd->queue_tail = NULL;
    for (uint32_t k = 0; k < b->persists_n; k++) {
        w->stats.truncations += b->persists[k].pu.truncate_through > 0;
        persist_one(nd, &b->persists[k]);
    }
    uint32_t np = b->persists_n;
    struct txn_node_persist done[TXN_NODE_GROUPS_MAX * 8];
    SP_ASSERT(np <= sizeof done / sizeof done[0]);
    if (np)
        memcpy(done, b->persists, sizeof *done * np);
    for (uint32_t k = 0; k < np; k++)
        done[k].pu.entries = NULL;
    w__send_batch(w, i, b);
    for (uint32_t k = 0; k < np && nd->up; k++) {
        struct txn_node_event ev = {.type = TXN_NODE_EV_PERSISTED, .group = done[k].group};
        ev.persisted.seq = done[k].pu.persist_seq;
        w__step_node(w, i, &ev);
    }
}

int w__node_open(struct w_world *w, uint32_t i)
{
    struct w_node *nd = &w->nodes[i];
    struct txn_store_config sc;
    txn_store_config_init(&sc);
    sc.env = nd->env;
    sc.sync = false;               /* the in-memory env has nothing to sync */
    sc.retention_us = 1000 * 1000; /* GC runs during the runs (gc_period_us below) */
    sc.write_buffer_bytes = 256 << 10;
    sc.compress = false;           /* the disk is memory: spare the CPU */
    sc.wal = false;                /* a crash here is a close, which flushes */
    struct sp_err err = {0};
    int rc = txn_store_open("/db", &sc, &nd->store, &err);
    SP_ASSERT(rc == 0);
    struct txn_node_config cfg;
    node_config(w, i, &cfg);
    struct paxos_durable_state ds[TXN_NODE_GROUPS_MAX];
    const struct paxos_durable_state *loaded[TXN_NODE_GROUPS_MAX];
    struct paxos_entry *ents[TXN_NODE_GROUPS_MAX];
    for (uint32_t k = 0; k < cfg.groups_n; k++) {
        struct w_plog *l = &nd->plog[cfg.groups[k].group];
        ents[k] = w__xmalloc(sizeof **ents * (l->cap + 1));
        ds[k] = (struct paxos_durable_state){.hs = l->hs, .entries = ents[k]};
        for (size_t s = l->hs.base_slot + 1; s < l->cap; s++)
            if (l->present[s])
                ents[k][ds[k].n_entries++] = l->slots[s];
        loaded[k] = l->hs.base_membership.n ? &ds[k] : NULL;
    }
    rc = txn_node_create(&cfg, nd->store, loaded, &nd->tn, &err);
    for (uint32_t k = 0; k < cfg.groups_n; k++)
        free(ents[k]);
    if (rc)
        w__violate(w, "node %u restart: %s", nd->id, err.msg);
    nd->up = rc == 0;
    nd->tick_at = 0;
    if (nd->up)
        w__push(w, w->now, W_TICK, i, NULL, (uint64_t) w->now);
    nd->tick_at = w->now;
    return rc;
}

void w_world_crash(struct w_world *w, uint32_t i)
{
    struct w_node *nd = &w->nodes[i];
    if (!nd->up)
        return;
    TRACE(w, "crash node %u", nd->id);
    nd->up = false;
    nd->epoch++;
    while (nd->queue) {
        struct w_batch *b = nd->queue;
        nd->queue = b->next;
        w__free_batch(b, false);
    }
    nd->queue_tail = NULL;
    nd->disk_free_at = 0;
    uint32_t keep;
    if (w->p.faults & W_F_DISK) {
        /* Each unsynced write was kept, lost or torn. Recovery (RocksDB's
         * point-in-time WAL replay) stops at the first lost or torn record,
         * whose checksum or sequence fails: what survives is a prefix. */
        keep = 0;
        while (keep < nd->unsynced_n) {
            uint64_t r = w__rnd_below(w, 3);
            if (r == 2)
                w->stats.garbled++;
            if (r != 0)
                break;
            keep++;
        }
    } else {
        /* SQLite test6 style: a random prefix of the unsynced writes survived. */
        keep = (uint32_t) w__rnd_below(w, nd->unsynced_n + 1);
    }
    w__wlog(w, "crash node %u (%u of %u unsynced writes survive)", nd->id, keep, nd->unsynced_n);
    fold_unsynced(nd, keep);
    txn_node_destroy(nd->tn); /* an open apply round is lost, as in a crash */
    nd->tn = NULL;
    nd->round_open = false;
    txn_store_close(nd->store);
    nd->store = NULL;
    w->stats.crashes++;
}

void w_world_restart(struct w_world *w, uint32_t i)
{
    if (w->nodes[i].up)
        return;
    TRACE(w, "restart node %u", w->nodes[i].id);
    w__wlog(w, "restart node %u", w->nodes[i].id);
    w__node_open(w, i);
}

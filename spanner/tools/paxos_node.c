/*
 * paxos-node - one process hosting replicas of G Paxos groups whose state
 * machine is the replicated log itself, over gRPC, with RocksDB storage and
 * a TrueTime clock. It is the production wiring of the Paxos core (the
 * environment of DESIGN.md §3: real network, disk and clock), used by the
 * multi-process tests and the replication benchmark; spannerd puts the
 * transactional store on the same wiring.
 *
 *   paxos-node --id N --listen ADDR --data DIR [--peer ID=ADDR]...
 *              [--voters 1,2,3] [--readonly 4,5] [--groups G] [--lease-ms L]
 *              [--delay ID=US]... [--nosync] [--tt KEY=VALUE]...
 *
 * Threads: gRPC workers only enqueue work; one driver thread (main) owns
 * every replica, the store and all pending client calls, and runs the loop
 *
 *     take inbox -> step replicas -> persist (fsync) -> send -> apply ->
 *     report PERSISTED -> ... -> sleep until the next wake-up or inbox item
 *
 * so the persist-before-send rule of paxos.h holds by construction: a
 * message is handed to the transport only after its update's WriteBatch
 * returned.
 *
 * The application ("the log app") keeps every applied proposal in the same
 * RocksDB under 'A' group slot index, plus the applied slot under 'B' group.
 * Every `snapshot_every` slots it makes its state durable with a synced
 * write and tells the replica (SNAPSHOT_TAKEN), which may then truncate its
 * log. A replica that needs entries a peer truncated fetches that peer's
 * app state up to the wanted slot (Read RPC) and installs it.
 */
#include "procs.h"
#include "paxos_store.h"
#include "paxos_codec.h"
#include "paxoslog.pb-c.h"
#include "inbox.h"
#include "round.h"
#include "rpc.h"
#include "transport.h"
#include "truetime.h"

#include <rocksdb/c.h>
#include <errno.h>
#include <getopt.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define GROUPS_MAX        64
#define PENDING_MAX       65536
#define INBOX_MAX         (1u << 20)
#define PROPOSE_TIMEOUT_US (5 * 1000 * 1000)
#define SNAPSHOT_EVERY    1000
#define READ_MAX          10000

#define PROPOSE_PATH "/spanner.paxoslog.Log/Propose"
#define STATUS_PATH  "/spanner.paxoslog.Log/Status"
#define READ_PATH    "/spanner.paxoslog.Log/Read"

enum item_kind { IT_ENVELOPE, IT_PROPOSE, IT_STATUS, IT_READ };

struct pending {
    uint64_t id;
    struct sp_rpc_call *call;
    tt_micros deadline_us; /* monotonic */
};

struct group {
    uint64_t id;
    struct paxos_replica *r;
    uint64_t app_applied;   /* highest slot applied to the app state */
    uint64_t app_snapshot;  /* highest slot reported as SNAPSHOT_TAKEN */
    tt_micros wake_us;      /* TT time of the next tick */
    paxos_slot snap_wanted; /* a snapshot to fetch, 0: none */
    paxos_node_id snap_from;
};

#define PEERS_MAX 16

struct node_peer {
    uint32_t id;
    char addr[64];
    tt_micros delay_us;
};

struct node_args {
    uint32_t id;
    char listen[64];
    char data[256];
    struct node_peer peers[PEERS_MAX];
    uint32_t n_peers;
    uint32_t voters[PAXOS_MEMBERS_MAX], n_voters;
    uint32_t readonly[PAXOS_MEMBERS_MAX], n_readonly;
    uint32_t groups;
    tt_micros lease_us;
    bool sync;
    struct tt_config tt;
};

static void node_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t) v;
}

static void node_be32(uint8_t *p, uint32_t v)
{
    for (int i = 3; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t) v;
}

static uint64_t node_get_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

/* Group commit (round.h): updates of one loop round share one WriteBatch
 * and one fsync; their messages wait for it. */
#define OUTBOX_MAX 65536

struct node {
    struct node_args a;
    struct sp_round round;
    struct tt_clock *clock;
    struct paxos_store *store;
    rocksdb_t *db;
    rocksdb_writeoptions_t *w_nosync, *w_sync;
    rocksdb_readoptions_t *ro;
    struct sp_rpc_server *srv;
    struct sp_transport *tr;
    struct group groups[GROUPS_MAX];
    uint32_t n_groups;
    struct pending pending[PENDING_MAX];
    uint32_t n_pending;
    uint64_t next_proposal;

    struct sp_inbox inbox;
    struct sp_inbox_route routes[4]; /* one per item kind */
};

/* ---- helpers --------------------------------------------------------------- */

static struct group *find_group(struct node *n, uint64_t id)
{
    for (uint32_t i = 0; i < n->n_groups; i++)
        if (n->groups[i].id == id)
            return &n->groups[i];
    return NULL;
}

static void reply_propose(struct sp_rpc_call *call, bool ok, uint64_t slot, uint32_t hint,
                          const char *error, bool retryable)
{
    Spanner__Paxoslog__ProposeReply rep = SPANNER__PAXOSLOG__PROPOSE_REPLY__INIT;
    rep.ok = ok;
    rep.slot = slot;
    rep.leader_hint = hint;
    rep.error = (char *) (error ? error : "");
    rep.retryable = retryable;
    uint8_t buf[512];
    SP_ASSERT(spanner__paxoslog__propose_reply__get_packed_size(&rep) <= sizeof buf);
    size_t len = spanner__paxoslog__propose_reply__pack(&rep, buf);
    sp_rpc_reply(call, GRPC_STATUS_OK, buf, len, NULL);
}

/* Replies to the pending proposal `id`, if this node holds it. */
static void complete_pending(struct node *n, uint64_t id, uint64_t slot)
{
    for (uint32_t i = 0; i < n->n_pending; i++) {
        if (n->pending[i].id != id)
            continue;
        reply_propose(n->pending[i].call, true, slot, 0, NULL, false);
        n->pending[i] = n->pending[--n->n_pending];
        return;
    }
}

static void expire_pending(struct node *n)
{
    tt_micros now = sp_mono_us();
    for (uint32_t i = 0; i < n->n_pending;) {
        if (n->pending[i].deadline_us > now) {
            i++;
            continue;
        }
        /* The proposal may still commit later: the outcome is unknown. */
        reply_propose(n->pending[i].call, false, 0, 0, "timed out: outcome unknown", false);
        n->pending[i] = n->pending[--n->n_pending];
    }
}

/* ---- the log app ------------------------------------------------------------ */

static void app_key(uint8_t k[21], uint64_t group, uint64_t slot, uint32_t idx)
{
    k[0] = 'A';
    node_be64(k + 1, group);
    node_be64(k + 9, slot);
    node_be32(k + 17, idx);
}

static void marker_key(uint8_t k[9], uint64_t group)
{
    k[0] = 'B';
    node_be64(k + 1, group);
}

static void put_marker(rocksdb_writebatch_t *wb, uint64_t group, uint64_t slot)
{
    uint8_t k[9], v[8];
    marker_key(k, group);
    node_be64(v, slot);
    rocksdb_writebatch_put(wb, (const char *) k, 9, (const char *) v, 8);
}

static void db_write(struct node *n, rocksdb_writebatch_t *wb, bool sync)
{
    char *e = NULL;
    rocksdb_write(n->db, sync ? n->w_sync : n->w_nosync, wb, &e);
    if (e) {
        /* The app state is the only copy this node has; carrying on would
         * diverge from the replicas. Crash and let restart recover. */
        SP_ERROR("paxos-node: app write failed: %s", e);
        abort();
    }
}

/* Applies one committed entry to the app; skips slots already applied
 * (the replica replays its log from base_slot + 1 after a restart). */
static void app_apply(struct node *n, struct group *g, const struct paxos_entry *e,
                      rocksdb_writebatch_t *wb)
{
    if (e->slot <= g->app_applied)
        return;
    SP_ASSERT(e->slot == g->app_applied + 1);
    if (e->type == PAXOS_ENTRY_BATCH) {
        uint32_t off = 0, idx = 0, len;
        const uint8_t *p;
        int rc;
        while ((rc = paxos_batch_next(e->data, e->len, &off, &p, &len)) == 0) {
            uint8_t k[21];
            app_key(k, g->id, e->slot, idx++);
            rocksdb_writebatch_put(wb, (const char *) k, 21, (const char *) p, len);
            if (len >= 8)
                complete_pending(n, node_get_be64(p), e->slot);
        }
        SP_ASSERT(rc == SP_ENOTFOUND); /* a chosen entry is never malformed */
    }
    g->app_applied = e->slot;
}

static void app_apply_all(struct node *n, struct group *g, const struct paxos_update *up)
{
    if (up->n_committed == 0)
        return;
    rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
    for (uint32_t i = 0; i < up->n_committed; i++)
        app_apply(n, g, &up->committed[i], wb);
    put_marker(wb, g->id, g->app_applied);
    db_write(n, wb, false);
    rocksdb_writebatch_destroy(wb);
}

static uint64_t app_load_marker(struct node *n, uint64_t group)
{
    uint8_t k[9];
    marker_key(k, group);
    size_t vl = 0;
    char *e = NULL;
    char *v = rocksdb_get(n->db, n->ro, (const char *) k, 9, &vl, &e);
    uint64_t slot = (v && vl == 8) ? node_get_be64((const uint8_t *) v) : 0;
    if (e) {
        SP_ERROR("paxos-node: read applied marker: %s", e);
        abort();
    }
    rocksdb_free(v);
    return slot;
}

/* ---- stepping --------------------------------------------------------------- */

static int now_or_fail(struct node *n, struct tt_interval *now)
{
    int rc = tt_now(n->clock, now);
    if (rc) {
        char reason[200];
        tt_clock_status(n->clock, reason, sizeof reason);
        SP_WARN("paxos-node: clock unknown, not stepping: %s", reason);
    }
    return rc;
}

static int step_event(struct node *n, struct group *g, struct paxos_event *ev);

/* Carries out one update (paxos.h's order): its persist joins the round's
 * WriteBatch, its messages wait for the round's fsync (but a leader's
 * ACCEPT, which leaves at once: paxos_msg_may_leave_early), committed
 * entries are applied now (they are chosen: durable on a majority
 * already). */
static void carry_out(struct node *n, struct group *g, const struct paxos_update *up)
{
    sp_round_persist(&n->round, g->id, up);
    for (uint32_t i = 0; i < up->n_msgs; i++) {
        uint8_t *data;
        size_t len;
        if (sp_paxos_pack(g->id, &up->msgs[i], &data, &len) != 0)
            continue;
        if (paxos_msg_may_leave_early(&up->msgs[i])) {
            sp_transport_send(n->tr, up->msgs[i].to, data, len);
            free(data);
        } else {
            sp_round_msg(&n->round, up->msgs[i].to, data, len);
        }
    }
    app_apply_all(n, g, up);
    if (up->snapshot_needed) {
        g->snap_wanted = up->snapshot_slot;
        g->snap_from = up->snapshot_from;
    }
    g->wake_us = up->wake_us;
}

static void round_send(void *ctx, uint32_t to, const uint8_t *data, size_t len)
{
    sp_transport_send(((struct node *) ctx)->tr, to, data, len);
}

static void round_persisted(void *ctx, uint64_t group, uint64_t seq, int status)
{
    struct node *n = ctx;
    struct group *g = find_group(n, group);
    SP_ASSERT(g != NULL);
    struct paxos_event ev = {.type = PAXOS_EV_PERSISTED};
    ev.persisted.seq = seq;
    ev.persisted.status = status;
    step_event(n, g, &ev);
}

static const struct sp_round_ops round_ops = {
    .send = round_send,
    .persisted = round_persisted,
};

/* Ends a round: one write (fsync if any update asked), then the messages,
 * then PERSISTED to each replica, whose updates start the next round. */
static void flush(struct node *n)
{
    sp_round_flush(&n->round, n->store, &round_ops, n);
}

static int step_event(struct node *n, struct group *g, struct paxos_event *ev)
{
    int rc = now_or_fail(n, &ev->now);
    if (rc)
        return rc;
    struct paxos_update up;
    rc = paxos_step(g->r, ev, &up);
    if (rc && rc != SP_EPAXOS_NOT_LEADER && rc != SP_EPAXOS_BUSY)
        SP_DEBUG("paxos-node: step %d: %s", ev->type, sp_strerror(rc));
    carry_out(n, g, &up);
    return rc;
}

/* Takes a durable snapshot of the app every SNAPSHOT_EVERY slots so the
 * replica can truncate its log. */
static void maybe_snapshot(struct node *n, struct group *g)
{
    if (g->app_applied < g->app_snapshot + SNAPSHOT_EVERY)
        return;
    rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
    put_marker(wb, g->id, g->app_applied);
    db_write(n, wb, true); /* syncs the WAL: every earlier app write too */
    rocksdb_writebatch_destroy(wb);
    g->app_snapshot = g->app_applied;
    struct paxos_event ev = {.type = PAXOS_EV_SNAPSHOT_TAKEN};
    ev.snapshot.slot = g->app_snapshot;
    step_event(n, g, &ev);
}

/* ---- inbox items (driver thread) ---------------------------------------- */

static void handle_envelope(struct node *n, const struct sp_inbox_item *it)
{
    struct sp_paxos_decoded d;
    struct sp_err err = {0};
    if (sp_paxos_unpack(it->data, it->len, &d, &err) != 0) {
        SP_WARN("paxos-node: dropped a message: %s", err.msg);
        return;
    }
    struct group *g = find_group(n, d.group);
    if (g) {
        struct paxos_event ev = {.type = PAXOS_EV_MESSAGE, .msg = &d.msg};
        step_event(n, g, &ev);
    }
    sp_paxos_decoded_free(&d);
}

static void handle_propose(struct node *n, const struct sp_inbox_item *it)
{
    Spanner__Paxoslog__ProposeRequest *req =
        spanner__paxoslog__propose_request__unpack(NULL, it->len, it->data);
    struct group *g = req ? find_group(n, req->group) : NULL;
    if (!req || !g || req->data.len == 0 || req->data.len > PAXOS_PAYLOAD_MAX - 8) {
        reply_propose(it->call, false, 0, 0,
                      !req ? "malformed ProposeRequest"
                      : !g ? "unknown group"
                           : "proposal must be 1 byte .. 16 MiB",
                      false);
        goto out;
    }
    if (n->n_pending == PENDING_MAX) {
        reply_propose(it->call, false, 0, 0, "too many proposals in flight", true);
        goto out;
    }
    /* Payload = 8-byte proposal id (node id in the top 16 bits), data. */
    uint64_t id = ((uint64_t) n->a.id << 48) | ++n->next_proposal;
    uint8_t *buf = malloc(8 + req->data.len);
    SP_ASSERT(buf != NULL);
    node_be64(buf, id);
    memcpy(buf + 8, req->data.data, req->data.len);
    /* Pending first: a one-voter group commits inside the step. */
    n->pending[n->n_pending++] =
        (struct pending){.id = id, .call = it->call, .deadline_us = sp_mono_us() + PROPOSE_TIMEOUT_US};
    struct paxos_event ev = {.type = PAXOS_EV_PROPOSE};
    ev.propose.data = buf;
    ev.propose.len = (uint32_t) (8 + req->data.len);
    int rc = step_event(n, g, &ev);
    free(buf);
    if (rc) {
        for (uint32_t i = 0; i < n->n_pending; i++)
            if (n->pending[i].id == id)
                n->pending[i] = n->pending[--n->n_pending];
        reply_propose(it->call, false, 0, paxos_leader_hint(g->r), sp_strerror(rc),
                      rc == SP_EPAXOS_NOT_LEADER || rc == SP_EPAXOS_BUSY || rc == SP_ETT_UNKNOWN);
    }
out:
    if (req)
        spanner__paxoslog__propose_request__free_unpacked(req, NULL);
}

static void handle_status(struct node *n, const struct sp_inbox_item *it)
{
    Spanner__Paxoslog__StatusReply rep = SPANNER__PAXOSLOG__STATUS_REPLY__INIT;
    Spanner__Paxoslog__GroupStatus gs[GROUPS_MAX], *gp[GROUPS_MAX];
    struct tt_interval now = {0, 0};
    int clk = tt_now(n->clock, &now);
    char reason[200];
    enum tt_status st = tt_clock_status(n->clock, reason, sizeof reason);
    for (uint32_t i = 0; i < n->n_groups; i++) {
        struct group *g = &n->groups[i];
        spanner__paxoslog__group_status__init(&gs[i]);
        gs[i].group = g->id;
        gs[i].is_leader = paxos_is_leader(g->r);
        gs[i].leader = paxos_leader_hint(g->r);
        gs[i].promised = paxos_promised(g->r);
        gs[i].commit = paxos_commit_index(g->r);
        gs[i].applied = g->app_applied;
        gs[i].last = paxos_last_slot(g->r);
        tt_micros start, end;
        if (clk == 0 && paxos_lease_get(g->r, now, &start, &end) == 0)
            gs[i].lease_remaining_us = end - now.latest;
        gp[i] = &gs[i];
    }
    rep.node = n->a.id;
    rep.n_groups = n->n_groups;
    rep.groups = gp;
    rep.clock_status = (char *) tt_status_name(st);
    rep.eps_us = clk == 0 ? tt_interval_eps(now) : -1;
    sp_rpc_reply_msg(it->call, &rep.base);
}

/* Reads applied proposals of a group from slot `from` on, at most `max`. */
static void handle_read(struct node *n, const struct sp_inbox_item *it)
{
    Spanner__Paxoslog__LogRequest *req =
        spanner__paxoslog__log_request__unpack(NULL, it->len, it->data);
    struct group *g = req ? find_group(n, req->group) : NULL;
    if (!g) {
        sp_rpc_reply(it->call, GRPC_STATUS_INVALID_ARGUMENT, NULL, 0,
                     req ? "unknown group" : "malformed LogRequest");
        if (req)
            spanner__paxoslog__log_request__free_unpacked(req, NULL);
        return;
    }
    uint32_t max = req->max && req->max < READ_MAX ? req->max : READ_MAX;
    Spanner__Paxoslog__LogEntry *ents = calloc(max, sizeof *ents);
    Spanner__Paxoslog__LogEntry **ep = calloc(max, sizeof *ep);
    SP_ASSERT(ents != NULL && ep != NULL);
    uint8_t lo[21];
    app_key(lo, g->id, req->from_slot, req->from_index);
    rocksdb_iterator_t *iter = rocksdb_create_iterator(n->db, n->ro);
    uint32_t k = 0;
    for (rocksdb_iter_seek(iter, (const char *) lo, 21); k < max && rocksdb_iter_valid(iter);
         rocksdb_iter_next(iter)) {
        size_t kl, vl;
        const uint8_t *key = (const uint8_t *) rocksdb_iter_key(iter, &kl);
        if (kl != 21 || memcmp(key, lo, 9) != 0)
            break;
        const char *v = rocksdb_iter_value(iter, &vl);
        spanner__paxoslog__log_entry__init(&ents[k]);
        ents[k].slot = node_get_be64(key + 9);
        ents[k].index = (uint32_t) (node_get_be64(key + 13) & 0xffffffffu); /* bytes 17..20 */
        ents[k].data.data = malloc(vl ? vl : 1);
        SP_ASSERT(ents[k].data.data != NULL);
        memcpy(ents[k].data.data, v, vl);
        ents[k].data.len = vl;
        ep[k] = &ents[k];
        k++;
    }
    rocksdb_iter_destroy(iter);
    Spanner__Paxoslog__LogReply rep = SPANNER__PAXOSLOG__LOG_REPLY__INIT;
    rep.n_entries = k;
    rep.entries = ep;
    rep.applied = g->app_applied;
    sp_rpc_reply_msg(it->call, &rep.base);
    for (uint32_t i = 0; i < k; i++)
        free(ents[i].data.data);
    free(ents);
    free(ep);
    spanner__paxoslog__log_request__free_unpacked(req, NULL);
}

static void handle_item(struct node *n, const struct sp_inbox_item *it)
{
    switch (it->kind) {
    case IT_ENVELOPE:
        handle_envelope(n, it);
        break;
    case IT_PROPOSE:
        handle_propose(n, it);
        break;
    case IT_STATUS:
        handle_status(n, it);
        break;
    case IT_READ:
        handle_read(n, it);
        break;
    }
}

/* Copies a peer's app state for slots <= g->snap_wanted, durably, then tells
 * the replica. Blocks the driver for the copy (bounded by the RPC timeout
 * per page); on failure it is retried on the next loop iteration. */
static void fetch_snapshot_if_needed(struct node *n, struct group *g)
{
    if (!g->snap_wanted)
        return;
    const char *addr = NULL;
    for (uint32_t i = 0; i < n->a.n_peers; i++)
        if (n->a.peers[i].id == g->snap_from)
            addr = n->a.peers[i].addr;
    if (!addr) {
        g->snap_wanted = 0;
        return;
    }
    grpc_channel *ch = sp_rpc_channel(addr);
    rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
    uint64_t from = 1;
    uint32_t from_index = 0;
    int rc = 0;
    for (int page = 0; rc == 0 && from <= g->snap_wanted && page < 100000; page++) {
        Spanner__Paxoslog__LogRequest req = SPANNER__PAXOSLOG__LOG_REQUEST__INIT;
        req.group = g->id;
        req.from_slot = from;
        req.from_index = from_index;
        req.max = READ_MAX;
        uint8_t rb[64], *resp = NULL;
        size_t rl = spanner__paxoslog__log_request__pack(&req, rb), resp_len = 0;
        struct sp_err err = {0};
        rc = sp_rpc_call(ch, READ_PATH, rb, rl, 2000, &resp, &resp_len, &err);
        Spanner__Paxoslog__LogReply *rep =
            rc ? NULL : spanner__paxoslog__log_reply__unpack(NULL, resp_len, resp);
        free(resp);
        if (!rep || rep->applied < g->snap_wanted) {
            SP_WARN("paxos-node: snapshot from %u: %s", g->snap_from,
                    rc ? err.msg : "peer has not applied the wanted slot");
            rc = rc ? rc : SP_ENOTFOUND;
        } else {
            for (size_t i = 0; i < rep->n_entries && rep->entries[i]->slot <= g->snap_wanted; i++) {
                uint8_t k[21];
                app_key(k, g->id, rep->entries[i]->slot, rep->entries[i]->index);
                rocksdb_writebatch_put(wb, (const char *) k, 21,
                                       (const char *) rep->entries[i]->data.data,
                                       rep->entries[i]->data.len);
            }
            if (rep->n_entries == 0 || rep->n_entries < READ_MAX) {
                from = g->snap_wanted + 1; /* read everything there is */
            } else {
                from = rep->entries[rep->n_entries - 1]->slot;
                from_index = rep->entries[rep->n_entries - 1]->index + 1;
            }
        }
        if (rep)
            spanner__paxoslog__log_reply__free_unpacked(rep, NULL);
    }
    grpc_channel_destroy(ch);
    if (rc == 0) {
        put_marker(wb, g->id, g->snap_wanted);
        db_write(n, wb, true);
        g->app_applied = g->app_snapshot = g->snap_wanted;
        struct paxos_event ev = {.type = PAXOS_EV_SNAPSHOT_INSTALLED};
        ev.snapshot.slot = g->snap_wanted;
        g->snap_wanted = 0;
        step_event(n, g, &ev);
        SP_INFO("paxos-node: group %llu: installed snapshot at slot %llu",
                (unsigned long long) g->id, (unsigned long long) g->app_applied);
    }
    rocksdb_writebatch_destroy(wb);
}

/* ---- the loop ------------------------------------------------------------- */

/* How long the driver may sleep: until the earliest replica wake-up,
 * at most 100 ms. */
static tt_micros wait_budget(struct node *n)
{
    struct tt_interval now;
    tt_micros wait_us = 100 * 1000;
    if (tt_now(n->clock, &now) == 0)
        for (uint32_t i = 0; i < n->n_groups; i++)
            if (n->groups[i].wake_us - now.earliest < wait_us)
                wait_us = n->groups[i].wake_us - now.earliest;
    return wait_us;
}

static void tick_due(struct node *n)
{
    struct tt_interval now;
    if (tt_now(n->clock, &now) != 0)
        return;
    for (uint32_t i = 0; i < n->n_groups; i++) {
        struct group *g = &n->groups[i];
        if (g->wake_us > now.earliest)
            continue;
        struct paxos_event ev = {.type = PAXOS_EV_TICK};
        step_event(n, g, &ev);
    }
}

static void run(struct node *n)
{
    for (;;) {
        bool stop;
        struct sp_inbox_item *list = sp_inbox_take(&n->inbox, wait_budget(n), &stop);
        for (struct sp_inbox_item *it = list, *next; it; it = next) {
            next = it->next;
            if (stop && it->call)
                sp_rpc_reply(it->call, GRPC_STATUS_UNAVAILABLE, NULL, 0, "node stopping");
            else
                handle_item(n, it);
            sp_inbox_free(it);
        }
        if (stop)
            break;
        tick_due(n);
        for (uint32_t i = 0; i < n->n_groups; i++) {
            fetch_snapshot_if_needed(n, &n->groups[i]);
            maybe_snapshot(n, &n->groups[i]);
        }
        flush(n);
        expire_pending(n);
    }
    for (uint32_t i = 0; i < n->n_pending; i++)
        reply_propose(n->pending[i].call, false, 0, 0, "node stopping: outcome unknown", false);
    n->n_pending = 0;
}

/* ---- start-up and shutdown ------------------------------------------------ */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: paxos-node --id N --listen HOST:PORT --data DIR [--peer ID=HOST:PORT]...\n"
            "                  [--voters 1,2,3] [--readonly 4,5] [--groups G] [--lease-ms L]\n"
            "                  [--delay ID=MICROS]... [--nosync] [--tt KEY=VALUE]...\n"
            "  Hosts replicas of groups 1..G; the state machine is the replicated log.\n"
            "  --voters defaults to this node and every peer. --tt sets a TrueTime option\n"
            "  (backend=chrony|fixed, chrony_socket=PATH, fixed_eps_us=N, ...).\n");
}

static int parse_ids(const char *s, uint32_t *out, uint32_t *n, const char *flag,
                     struct sp_err *err)
{
    *n = 0;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", s);
    for (char *save, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *end;
        unsigned long v = strtoul(tok, &end, 10);
        if (*end || v == 0 || v > PAXOS_NODE_ID_MAX || *n == PAXOS_MEMBERS_MAX)
            return sp_err_set(err, SP_EINVAL, "%s \"%s\": expected up to %d node ids in 1..%u",
                              flag, s, PAXOS_MEMBERS_MAX, PAXOS_NODE_ID_MAX);
        out[(*n)++] = (uint32_t) v;
    }
    return 0;
}

static int parse_kv_id(const char *s, uint32_t *id, const char **rest, const char *flag,
                       struct sp_err *err)
{
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    if (end == s || *end != '=' || v == 0 || v > PAXOS_NODE_ID_MAX)
        return sp_err_set(err, SP_EINVAL, "%s \"%s\": expected ID=VALUE with ID in 1..%u", flag,
                          s, PAXOS_NODE_ID_MAX);
    *id = (uint32_t) v;
    *rest = end + 1;
    return 0;
}

static struct node_peer *peer_by_id(struct node_args *a, uint32_t id)
{
    for (uint32_t i = 0; i < a->n_peers; i++)
        if (a->peers[i].id == id)
            return &a->peers[i];
    return NULL;
}

static int parse_opt(struct node_args *a, int o, const char *arg, struct sp_err *err)
{
    uint32_t id;
    const char *rest;
    char *end;
    switch (o) {
    case 'i':
        a->id = (uint32_t) strtoul(arg, &end, 10);
        if (*end || a->id == 0 || a->id > PAXOS_NODE_ID_MAX)
            return sp_err_set(err, SP_EINVAL, "--id \"%s\": expected 1..%u", arg,
                              PAXOS_NODE_ID_MAX);
        return 0;
    case 'l':
        snprintf(a->listen, sizeof a->listen, "%s", arg);
        return 0;
    case 'd':
        snprintf(a->data, sizeof a->data, "%s", arg);
        return 0;
    case 'p':
        if (parse_kv_id(arg, &id, &rest, "--peer", err))
            return SP_EINVAL;
        if (a->n_peers == PEERS_MAX || peer_by_id(a, id) || !*rest)
            return sp_err_set(err, SP_EINVAL, "--peer \"%s\": duplicate, empty or too many", arg);
        a->peers[a->n_peers].id = id;
        snprintf(a->peers[a->n_peers++].addr, sizeof a->peers[0].addr, "%s", rest);
        return 0;
    case 'D': {
        if (parse_kv_id(arg, &id, &rest, "--delay", err))
            return SP_EINVAL;
        struct node_peer *p = peer_by_id(a, id);
        long long us = strtoll(rest, &end, 10);
        if (!p || *end || us < 0 || us > 10 * 1000 * 1000)
            return sp_err_set(err, SP_EINVAL,
                              "--delay \"%s\": expected a known peer (give --peer first) and "
                              "0..10000000 us", arg);
        p->delay_us = us;
        return 0;
    }
    case 'v':
        return parse_ids(arg, a->voters, &a->n_voters, "--voters", err);
    case 'r':
        return parse_ids(arg, a->readonly, &a->n_readonly, "--readonly", err);
    case 'g':
        a->groups = (uint32_t) strtoul(arg, &end, 10);
        if (*end || a->groups == 0 || a->groups > GROUPS_MAX)
            return sp_err_set(err, SP_EINVAL, "--groups \"%s\": expected 1..%d", arg, GROUPS_MAX);
        return 0;
    case 'L': {
        long ms = strtol(arg, &end, 10);
        if (*end || ms < 50 || ms > 600000)
            return sp_err_set(err, SP_EINVAL, "--lease-ms \"%s\": expected 50..600000", arg);
        a->lease_us = (tt_micros) ms * 1000;
        return 0;
    }
    case 'n':
        a->sync = false;
        return 0;
    case 't': {
        char key[64];
        const char *eq = strchr(arg, '=');
        if (!eq || (size_t) (eq - arg) >= sizeof key)
            return sp_err_set(err, SP_EINVAL, "--tt \"%s\": expected KEY=VALUE", arg);
        snprintf(key, sizeof key, "%.*s", (int) (eq - arg), arg);
        return tt_config_set(&a->tt, key, eq + 1, err);
    }
    }
    return SP_EINVAL;
}

static int parse_args(int argc, char **argv, struct node_args *a, struct sp_err *err)
{
    memset(a, 0, sizeof *a);
    a->groups = 1;
    a->lease_us = 10 * 1000 * 1000;
    a->sync = true;
    tt_config_init(&a->tt);
    static const struct option opts[] = {
        {"id", 1, 0, 'i'},     {"listen", 1, 0, 'l'}, {"data", 1, 0, 'd'},
        {"peer", 1, 0, 'p'},   {"delay", 1, 0, 'D'},  {"voters", 1, 0, 'v'},
        {"readonly", 1, 0, 'r'}, {"groups", 1, 0, 'g'}, {"lease-ms", 1, 0, 'L'},
        {"nosync", 0, 0, 'n'}, {"tt", 1, 0, 't'},     {"help", 0, 0, 'h'},
        {0, 0, 0, 0}};
    for (int o; (o = getopt_long(argc, argv, "", opts, NULL)) != -1;) {
        if (o == 'h') {
            usage(stdout);
            exit(0);
        }
        if (o == '?')
            return sp_err_set(err, SP_EINVAL, "unknown option (see --help)");
        int rc = parse_opt(a, o, optarg, err);
        if (rc)
            return rc;
    }
    if (!a->id || !a->listen[0] || !a->data[0])
        return sp_err_set(err, SP_EINVAL, "--id, --listen and --data are required");
    if (a->n_voters == 0) {
        a->voters[a->n_voters++] = a->id;
        for (uint32_t i = 0; i < a->n_peers && a->n_voters < PAXOS_MEMBERS_MAX; i++)
            a->voters[a->n_voters++] = a->peers[i].id;
    }
    return tt_config_validate(&a->tt, err);
}

static void paxos_cfg(const struct node_args *a, uint64_t group, struct paxos_config *cfg)
{
    paxos_config_init(cfg);
    cfg->self = a->id;
    cfg->lease_us = a->lease_us;
    cfg->heartbeat_us = a->lease_us / 5;
    cfg->election_timeout_us = a->lease_us / 2;
    cfg->seed = ((uint64_t) a->id << 32) ^ group ^ (uint64_t) sp_mono_us();
    for (uint32_t i = 0; i < a->n_voters; i++)
        cfg->members.m[cfg->members.n++] = (struct paxos_member){a->voters[i], PAXOS_VOTER};
    for (uint32_t i = 0; i < a->n_readonly; i++)
        cfg->members.m[cfg->members.n++] = (struct paxos_member){a->readonly[i], PAXOS_READ_ONLY};
}

static int open_groups(struct node *n, struct sp_err *err)
{
    for (uint32_t i = 0; i < n->a.groups; i++) {
        struct group *g = &n->groups[n->n_groups];
        g->id = i + 1;
        struct paxos_loaded l;
        bool found;
        int rc = paxos_store_load(n->store, g->id, &l, &found, err);
        if (rc)
            return sp_err_wrap(err, "group %llu: refusing to serve", (unsigned long long) g->id);
        struct paxos_config cfg;
        paxos_cfg(&n->a, g->id, &cfg);
        rc = paxos_replica_create(&cfg, found ? &l.st : NULL, &g->r, err);
        paxos_store_loaded_free(&l);
        if (rc)
            return sp_err_wrap(err, "group %llu", (unsigned long long) g->id);
        g->app_applied = g->app_snapshot = app_load_marker(n, g->id);
        n->n_groups++;
    }
    return 0;
}

static int start_net(struct node *n, struct sp_err *err)
{
    int rc = sp_rpc_server_create(n->a.listen, &n->srv, err);
    if (rc)
        return rc;
    struct sp_transport_config tc;
    sp_transport_config_init(&tc);
    tc.self = n->a.id;
    for (int k = 0; k < 4; k++)
        n->routes[k] = (struct sp_inbox_route){&n->inbox, k};
    tc.on_envelope = sp_inbox_envelope_handler;
    tc.ctx = &n->routes[IT_ENVELOPE];
    for (uint32_t i = 0; i < n->a.n_peers; i++) {
        tc.peers[tc.n_peers].node = n->a.peers[i].id;
        snprintf(tc.peers[tc.n_peers].addr, sizeof tc.peers[0].addr, "%s", n->a.peers[i].addr);
        tc.peers[tc.n_peers++].delay_us = n->a.peers[i].delay_us;
    }
    if ((rc = sp_transport_create(&tc, n->srv, &n->tr, err)) ||
        (rc = sp_rpc_server_add_method(n->srv, PROPOSE_PATH, sp_inbox_rpc_handler,
                                       &n->routes[IT_PROPOSE])) ||
        (rc = sp_rpc_server_add_method(n->srv, STATUS_PATH, sp_inbox_rpc_handler,
                                       &n->routes[IT_STATUS])) ||
        (rc = sp_rpc_server_add_method(n->srv, READ_PATH, sp_inbox_rpc_handler,
                                       &n->routes[IT_READ])))
        return rc;
    return sp_rpc_server_start(n->srv, 2, err);
}

static int start(struct node *n, struct sp_err *err)
{
    char path[300];
    snprintf(path, sizeof path, "%s/db", n->a.data);
    if (mkdir(n->a.data, 0755) != 0 && errno != EEXIST)
        return sp_err_set(err, SP_EIO, "cannot create %s: %s", n->a.data, strerror(errno));
    int rc = paxos_store_open(path, n->a.sync, &n->store, err);
    if (rc)
        return rc;
    n->db = paxos_store_db(n->store);
    n->w_nosync = rocksdb_writeoptions_create();
    n->w_sync = rocksdb_writeoptions_create();
    rocksdb_writeoptions_set_sync(n->w_sync, n->a.sync ? 1 : 0);
    n->ro = rocksdb_readoptions_create();
    if (sp_round_init(&n->round, OUTBOX_MAX))
        return sp_err_set(err, SP_ENOMEM, "out of memory");
    if ((rc = tt_clock_create(&n->a.tt, &n->clock, err)) || (rc = open_groups(n, err)))
        return rc;
    return start_net(n, err);
}

static void stop(struct node *n)
{
    sp_rpc_server_destroy(n->srv); /* no more deliveries or client calls */
    sp_transport_destroy(n->tr);
    for (uint32_t i = 0; i < n->n_groups; i++)
        paxos_replica_destroy(n->groups[i].r);
    sp_inbox_destroy(&n->inbox);
    sp_round_destroy(&n->round);
    if (n->ro) {
        rocksdb_readoptions_destroy(n->ro);
        rocksdb_writeoptions_destroy(n->w_sync);
        rocksdb_writeoptions_destroy(n->w_nosync);
    }
    paxos_store_close(n->store);
    tt_clock_destroy(n->clock);
}

int main(int argc, char **argv)
{
    static struct node node; /* large: pending table */
    struct node *n = &node;
    struct sp_err err = {0};
    if (parse_args(argc, argv, &n->a, &err) != 0) {
        fprintf(stderr, "paxos-node: %s\n", err.msg);
        usage(stderr);
        return 2;
    }
    sp_log_level_from_env();
    sp_inbox_init(&n->inbox, INBOX_MAX);
    /* Before any other thread starts: they inherit the blocked signals. */
    sp_inbox_stop_on_signals(&n->inbox);
    int rc = start(n, &err);
    if (rc) {
        fprintf(stderr, "paxos-node %u: %s\n", n->a.id, err.msg);
        stop(n);
        return 1;
    }
    fprintf(stderr, "paxos-node %u: listening on %s (port %d), %u group(s)\n", n->a.id,
            n->a.listen, sp_rpc_server_port(n->srv), n->n_groups);
    run(n);
    stop(n);
    fprintf(stderr, "paxos-node %u: stopped\n", n->a.id);
    return 0;
}

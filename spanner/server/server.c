/*
 * spannerd - one node of the cluster: the transaction node core (txn.h)
 * wired to the real environment: gRPC for peers and clients, RocksDB on
 * disk, TrueTime from the configured backend.
 *
 *   spannerd --config FILE --node ID
 *
 * Threads: gRPC workers only push into the inbox; the driver thread (main)
 * owns the node core, both stores and every pending client call, and runs
 *
 *     take inbox -> step -> queue persists, messages, replies -> one write
 *     (fsync) for the round -> send messages and replies -> PERSISTED ->
 *     ... -> one MVCC write of the round's applies, publish t_safe ->
 *     sleep until the next wake-up or inbox item
 *
 * which keeps txn.h's order (persist, then send) for every update of the
 * round (group commit: many updates, one fsync), and applies what the
 * round's steps committed in one store write (txn_node_round_begin/end).
 *
 * Storage: data/paxos holds Paxos state (synced writes: acknowledged means
 * durable on this node); data/mvcc holds the versions the node applied
 * from the log. See txn.h for how the node core recovers the MVCC store
 * from the log after a crash.
 */
#include "config.h"
#include "inbox.h"
#include "node.pb-c.h"
#include "rpc.h"
#include "paxos_store.h"
#include "procs.h"
#include "round.h"
#include "transport.h"
#include "txn.h"
#include "txn.pb-c.h"
#include "txn_codec.h"

#include <rocksdb/c.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define INBOX_MAX    (1u << 20)
#define PENDING_MAX  65536
#define COMMITS_MAX  (TXN_NODE_WAITS_MAX / 4) /* commits in flight per node */
#define OUTBOX_MAX   65536
#define REQUEST_TIMEOUT_US (30 * 1000 * 1000)

#define DIRECTORY_PATH "/spanner.txn.Spanner/Directory"
#define STATUS_PATH    "/spanner.txn.Spanner/Status"

enum item_kind { IT_ENVELOPE, IT_REQUEST, IT_REQUESTS, IT_DIRECTORY, IT_STATUS, IT_KINDS };

/* A Requests call: answered once every request in it has its reply. */
struct batch {
    struct sp_rpc_call *call;
    uint32_t n, left;
    ProtobufCBinaryData *replies; /* n packed Replies, owned */
};

struct pending {
    uint64_t req_id;
    bool commit; /* a COMMIT: the core may hold its reply in commit wait */
    struct sp_rpc_call *call; /* the caller: a Request call, or NULL and ... */
    struct batch *batch;      /* ... this Requests call's reply `slot` */
    uint32_t slot;
    tt_micros deadline_mono_us;
    tt_micros arrived_latest_us; /* TT.now().latest when it arrived */
};

struct out_reply {
    uint64_t req_id;
    size_t len;
    uint8_t *data;
};

struct server {
    struct sp_cluster_conf *conf;
    char *conf_text;
    uint32_t self;
    struct tt_clock *clock;
    struct paxos_store *pstore;
    struct txn_store *mvcc;
    struct txn_node *node;
    bool node_failed_said; /* the failure of an apply round was logged */
    struct txn_node_config ncfg;
    struct sp_rpc_server *rpc;
    struct sp_transport *tr;
    struct sp_inbox inbox;
    struct sp_inbox_route routes[IT_KINDS]; /* one per item kind */
    tt_micros wake_us;

    struct pending *pending;
    uint32_t n_pending;
    uint32_t n_commits; /* pending entries with commit set */
    uint64_t next_req;

    struct sp_round round; /* group commit: persists and messages */
    struct out_reply *replies; /* client replies waiting for the round */
    uint32_t n_replies;
};

/* ---- pending client calls ------------------------------------------------- */

static struct pending *find_pending(struct server *s, uint64_t req_id)
{
    for (uint32_t i = 0; i < s->n_pending; i++)
        if (s->pending[i].req_id == req_id)
            return &s->pending[i];
    return NULL;
}

static void drop_pending(struct server *s, struct pending *p)
{
    SP_ASSERT(p >= s->pending && p < s->pending + s->n_pending);
    s->n_commits -= p->commit;
    *p = s->pending[--s->n_pending];
}

/* Takes one of b's replies (a copy of data); the last one answers the call. */
static void batch_put(struct batch *b, uint32_t slot, const uint8_t *data, size_t len)
{
    SP_ASSERT(slot < b->n && b->left > 0 && b->replies[slot].data == NULL);
    uint8_t *copy = malloc(len ? len : 1);
    SP_ASSERT(copy != NULL);
    memcpy(copy, data, len);
    b->replies[slot] = (ProtobufCBinaryData){len, copy};
    if (--b->left > 0)
        return;
    Spanner__Txn__Replies out = SPANNER__TXN__REPLIES__INIT;
    out.n_replies = b->n;
    out.replies = b->replies;
    sp_rpc_reply_msg(b->call, &out.base);
    for (uint32_t i = 0; i < b->n; i++)
        free(b->replies[i].data);
    free(b->replies);
    free(b);
}

/* Answers a request with an encoded Reply: its own call, or its slot of a
 * Requests call. */
static void answer(struct sp_rpc_call *call, struct batch *b, uint32_t slot, const uint8_t *data,
                   size_t len)
{
    if (b)
        batch_put(b, slot, data, len);
    else
        sp_rpc_reply(call, GRPC_STATUS_OK, data, len, NULL);
}

static void answer_error(struct sp_rpc_call *call, struct batch *b, uint32_t slot, int status,
                         const char *msg)
{
    struct txn_reply r = {.status = status};
    uint8_t *buf;
    size_t len;
    int rc = sp_reply_pack(&r, msg, 0, &buf, &len);
    SP_ASSERT(rc == 0); /* out of memory */
    answer(call, b, slot, buf, len);
    free(buf);
}

static void pending_error(struct pending *p, int status, const char *msg)
{
    answer_error(p->call, p->batch, p->slot, status, msg);
}

static void expire_pending(struct server *s)
{
    tt_micros now = sp_mono_us();
    for (uint32_t i = 0; i < s->n_pending;) {
        if (s->pending[i].deadline_mono_us > now) {
            i++;
            continue;
        }
        pending_error(&s->pending[i], SP_ETXN_UNKNOWN,
                      "no answer from the node core in time: outcome unknown");
        drop_pending(s, &s->pending[i]);
    }
}

/* ---- carrying out updates ------------------------------------------------- */

static int step(struct server *s, struct txn_node_event *ev);

static void round_send(void *ctx, uint32_t to, const uint8_t *data, size_t len);

static void queue_update(struct server *s, const struct txn_node_update *up)
{
    for (uint32_t i = 0; i < up->persists_n; i++)
        sp_round_persist(&s->round, up->persists[i].group, &up->persists[i].pu);
    for (uint32_t i = 0; i < up->msgs_n; i++) {
        uint8_t *data;
        size_t len;
        if (sp_node_msg_pack(&up->msgs[i], &data, &len) != 0)
            continue;
        if (txn_node_msg_may_leave_early(&up->msgs[i])) { /* a leader's ACCEPT */
            round_send(s, up->msgs[i].to, data, len);
            free(data);
        } else {
            sp_round_msg(&s->round, up->msgs[i].to, data, len);
        }
    }
    for (uint32_t i = 0; i < up->replies_n && s->n_replies < OUTBOX_MAX; i++) {
        const struct txn_reply *r = &up->replies[i];
        struct pending *p = find_pending(s, r->req_id);
        if (!p)
            continue; /* the caller gave up already */
        struct out_reply *o = &s->replies[s->n_replies];
        if (sp_reply_pack(r, NULL, r->commit_wait_us, &o->data, &o->len) == 0) {
            o->req_id = r->req_id;
            s->n_replies++;
        }
    }
    if (up->wake_us < s->wake_us)
        s->wake_us = up->wake_us;
    sp_transport_push(s->tr); /* this step's early ACCEPTs leave together */
}

/* ---- the round's callbacks ------------------------------------------------- */

static void round_send(void *ctx, uint32_t to, const uint8_t *data, size_t len)
{
    struct server *s = ctx;
    if (to == s->self) /* a group here talks to another group here: loop back */
        sp_inbox_push(&s->inbox, IT_ENVELOPE, NULL, data, len);
    else /* pushed with the rest of its step or round (sp_transport_queue) */
        sp_transport_queue(s->tr, to, data, len);
}

/* Client replies leave only once the round's write is durable. */
static void round_written(void *ctx, int status)
{
    struct server *s = ctx;
    sp_transport_push(s->tr); /* the round's messages, queued by round_send */
    for (uint32_t i = 0; i < s->n_replies; i++) {
        struct pending *p = find_pending(s, s->replies[i].req_id);
        if (p && status == 0) {
            answer(p->call, p->batch, p->slot, s->replies[i].data, s->replies[i].len);
            drop_pending(s, p);
        }
        free(s->replies[i].data);
    }
    s->n_replies = 0;
}

static bool round_pending(void *ctx)
{
    return ((struct server *) ctx)->n_replies > 0;
}

static void round_persisted(void *ctx, uint64_t group, uint64_t seq, int status)
{
    struct txn_node_event ev = {.type = TXN_NODE_EV_PERSISTED, .group = group};
    ev.persisted.seq = seq;
    ev.persisted.status = status;
    step(ctx, &ev);
}

/* The MVCC store is opened without a sync per apply (open_stores): it is
 * made durable here, before the Paxos log below its snapshot is dropped. */
static int round_before_truncate(void *ctx)
{
    struct server *s = ctx;
    struct sp_err err = {0};
    int rc = txn_store_sync(s->mvcc, &err);
    if (rc)
        SP_ERROR("spannerd: %s", err.msg);
    return rc;
}

static const struct sp_round_ops round_ops = {
    .send = round_send,
    .written = round_written,
    .pending = round_pending,
    .persisted = round_persisted,
    .before_truncate = round_before_truncate,
};

static void flush(struct server *s)
{
    sp_round_flush(&s->round, s->pstore, &round_ops, s);
}

static int step(struct server *s, struct txn_node_event *ev)
{
    int rc = tt_now(s->clock, &ev->now);
    if (rc) {
        char reason[200];
        tt_clock_status(s->clock, reason, sizeof reason);
        SP_WARN("spannerd: clock unknown, not stepping: %s", reason);
        return rc;
    }
    struct txn_node_update up;
    rc = txn_node_step(s->node, ev, &up);
    if (rc)
        SP_DEBUG("spannerd: step %d: %s", ev->type, sp_strerror(rc));
    queue_update(s, &up);
    return rc;
}

/* ---- inbox items ------------------------------------------------------------ */

static void handle_envelope(struct server *s, const struct sp_inbox_item *it)
{
    struct sp_node_decoded d;
    struct sp_err err = {0};
    if (sp_node_msg_unpack(it->data, it->len, &d, &err) != 0) {
        SP_WARN("spannerd: dropped a message: %s", err.msg);
        return;
    }
    struct txn_node_event ev = {.group = d.group};
    if (d.is_paxos) {
        ev.type = TXN_NODE_EV_PAXOS;
        ev.paxos = &d.paxos.msg;
    } else {
        ev.type = TXN_NODE_EV_TXN;
        ev.txn = &d.txn;
    }
    step(s, &ev);
    sp_node_decoded_free(&d);
}

/* One encoded Request, from its own call or from slot `slot` of batch b. */
static void start_request(struct server *s, struct sp_rpc_call *call, struct batch *b,
                          uint32_t slot, const uint8_t *data, size_t len)
{
    static struct sp_request_decoded d;
    struct sp_err err = {0};
    if (sp_request_unpack(data, len, &d, &err) != 0) {
        answer_error(call, b, slot, err.code, err.msg);
        return;
    }
    bool commit = d.req.type == TXN_REQ_COMMIT;
    if (s->n_pending == PENDING_MAX || (commit && s->n_commits >= COMMITS_MAX)) {
        /* Admission control: the core holds at most TXN_NODE_WAITS_MAX / 2
         * commit replies in commit wait, and cannot refuse a logged commit. */
        sp_request_decoded_free(&d);
        answer_error(call, b, slot, SP_EFULL, "too many requests in flight at this node; retry");
        return;
    }
    d.req.client = s->self;
    d.req.req_id = ++s->next_req;
    s->pending[s->n_pending++] = (struct pending){.req_id = d.req.req_id, .call = call,
                                                  .batch = b, .slot = slot, .commit = commit,
                                                  .deadline_mono_us = sp_mono_us() + REQUEST_TIMEOUT_US};
    s->n_commits += commit;
    struct txn_node_event ev = {.type = TXN_NODE_EV_CLIENT, .group = d.req.group, .req = &d.req};
    int rc = step(s, &ev);
    struct pending *p = find_pending(s, d.req.req_id);
    bool answered = false;
    for (uint32_t i = 0; i < s->n_replies; i++)
        answered |= s->replies[i].req_id == d.req.req_id;
    if (p && !answered && rc != 0) {
        /* A step that failed before the core answered (clock unknown, node
         * failed): tell the caller now rather than at the request timeout,
         * after this round's fsync like any reply. */
        struct txn_reply r = {.req_id = d.req.req_id, .id = d.req.id, .status = rc};
        struct out_reply *o = &s->replies[s->n_replies];
        if (s->n_replies < OUTBOX_MAX && sp_reply_pack(&r, NULL, 0, &o->data, &o->len) == 0) {
            o->req_id = d.req.req_id;
            s->n_replies++;
        }
    }
    sp_request_decoded_free(&d);
}

static void handle_request(struct server *s, const struct sp_inbox_item *it)
{
    start_request(s, it->call, NULL, 0, it->data, it->len);
}

/* A Requests call: every request is stepped now, in order, so they share
 * this loop's round; the call is answered when the last one is. */
static void handle_requests(struct server *s, const struct sp_inbox_item *it)
{
    Spanner__Txn__Requests *rq = spanner__txn__requests__unpack(NULL, it->len, it->data);
    if (!rq || rq->n_requests == 0 || rq->n_requests > SP_REQUESTS_MAX) {
        char msg[96];
        if (!rq)
            snprintf(msg, sizeof msg, "Requests: malformed message");
        else
            snprintf(msg, sizeof msg, "Requests: holds no request, or more than %d",
                     SP_REQUESTS_MAX);
        sp_rpc_reply(it->call, GRPC_STATUS_INVALID_ARGUMENT, NULL, 0, msg);
        if (rq)
            spanner__txn__requests__free_unpacked(rq, NULL);
        return;
    }
    struct batch *b = calloc(1, sizeof *b);
    SP_ASSERT(b != NULL);
    b->replies = calloc(rq->n_requests, sizeof *b->replies);
    SP_ASSERT(b->replies != NULL);
    b->call = it->call;
    b->n = (uint32_t) rq->n_requests;
    b->left = b->n;
    /* A refused request is answered at once, so the last one may complete
     * and free b: n is read first. */
    uint32_t n = b->n;
    for (uint32_t i = 0; i < n; i++)
        start_request(s, NULL, b, i, rq->requests[i].data, rq->requests[i].len);
    spanner__txn__requests__free_unpacked(rq, NULL);
}

/* ---- stale reads on the gRPC workers ------------------------------------------ */

/* Whether the encoded Request is an RO_READ, from its first field alone
 * (protobuf-c writes fields in number order; type = 1 is a varint), so
 * other requests are not decoded twice. A miss only costs the inbox path. */
static bool maybe_ro_read(const uint8_t *req, size_t len)
{
    return len >= 2 && req[0] == 0x08 && req[1] == TXN_REQ_RO_READ;
}

/* On a gRPC worker thread: the packed reply to a stale read that the safe
 * time the node published already covers (txn_node_read_stale), without
 * the hand-off to the driver and back. The driver is not involved, and need
 * not be: the read changes no state, and what it returns is chosen, applied
 * data below t_safe (no round's fsync to wait for). Returns false when the
 * request must go through the inbox. */
static bool stale_reply(struct server *s, const uint8_t *req, size_t len, uint8_t **buf, size_t *n)
{
    static _Thread_local struct sp_request_decoded d; /* 14 KB: not on the stack */
    static _Thread_local struct txn_node_read r;
    if (!maybe_ro_read(req, len) || sp_request_unpack(req, len, &d, NULL) != 0)
        return false;
    struct tt_interval now;
    bool served = d.req.mode == TXN_READ_STALE && tt_now(s->clock, &now) == 0 &&
                  txn_node_read_stale(s->node, &d.req, now, &r) == 0;
    sp_request_decoded_free(&d);
    if (!served)
        return false;
    int rc = sp_reply_pack(&r.reply, NULL, 0, buf, n);
    txn_node_read_clear(&r);
    return rc == 0; /* out of memory: let the driver try */
}

static void on_request(void *ctx, struct sp_rpc_call *call, const uint8_t *req, size_t len)
{
    struct server *s = ctx;
    uint8_t *buf;
    size_t n;
    if (!stale_reply(s, req, len, &buf, &n)) {
        sp_inbox_rpc_handler(&s->routes[IT_REQUEST], call, req, len);
        return;
    }
    sp_rpc_reply(call, GRPC_STATUS_OK, buf, n, NULL);
    free(buf);
}

/* Whether a packed Requests may hold only RO_READs, from its first request
 * alone (field 1, length-delimited, comes first): batched writes then go
 * to the driver without being decoded here as well. */
static bool maybe_ro_reads(const uint8_t *req, size_t len)
{
    if (len < 2 || req[0] != 0x0a)
        return false;
    size_t n = 0;
    for (size_t i = 1; i < len && i < 6; i++) {
        n |= (size_t) (req[i] & 0x7f) << (7 * (i - 1));
        if ((req[i] & 0x80) == 0)
            return maybe_ro_read(req + i + 1, n < len - i - 1 ? n : len - i - 1);
    }
    return false;
}

/* A Requests call whose requests are all stale reads that stale_reply can
 * serve is answered on the gRPC worker too; any other goes to the driver
 * whole (which also refuses the malformed ones). */
static void on_requests(void *ctx, struct sp_rpc_call *call, const uint8_t *req, size_t len)
{
    struct server *s = ctx;
    if (!maybe_ro_reads(req, len)) {
        sp_inbox_rpc_handler(&s->routes[IT_REQUESTS], call, req, len);
        return;
    }
    Spanner__Txn__Requests *rq = spanner__txn__requests__unpack(NULL, len, req);
    ProtobufCBinaryData out[SP_REQUESTS_MAX];
    size_t served = 0;
    if (rq && rq->n_requests > 0 && rq->n_requests <= SP_REQUESTS_MAX)
        while (served < rq->n_requests &&
               stale_reply(s, rq->requests[served].data, rq->requests[served].len,
                           &out[served].data, &out[served].len))
            served++;
    if (rq && served == rq->n_requests && served > 0) {
        Spanner__Txn__Replies rs = SPANNER__TXN__REPLIES__INIT;
        rs.n_replies = served;
        rs.replies = out;
        sp_rpc_reply_msg(call, &rs.base);
    } else {
        sp_inbox_rpc_handler(&s->routes[IT_REQUESTS], call, req, len);
    }
    for (size_t i = 0; i < served; i++)
        free(out[i].data);
    if (rq)
        spanner__txn__requests__free_unpacked(rq, NULL);
}

static void handle_directory(struct server *s, const struct sp_inbox_item *it)
{
    Spanner__Txn__DirectoryReply rep = SPANNER__TXN__DIRECTORY_REPLY__INIT;
    rep.config_json = s->conf_text;
    sp_rpc_reply_msg(it->call, &rep.base);
}

static void handle_status(struct server *s, const struct sp_inbox_item *it)
{
    Spanner__Txn__StatusReply rep = SPANNER__TXN__STATUS_REPLY__INIT;
    Spanner__Txn__GroupStatus gs[TXN_NODE_GROUPS_MAX], *gp[TXN_NODE_GROUPS_MAX];
    struct tt_interval now = {0, 0};
    int clk = tt_now(s->clock, &now);
    char reason[256];
    enum tt_status st = tt_clock_status(s->clock, reason, sizeof reason);
    const struct sp_node_conf *me = sp_conf_node(s->conf, s->self);
    for (uint32_t i = 0; i < s->ncfg.groups_n; i++) {
        txn_group_id g = s->ncfg.groups[i].group;
        spanner__txn__group_status__init(&gs[i]);
        gs[i].group = g;
        gs[i].is_leader = txn_node_is_leader(s->node, g);
        gs[i].safe_time = txn_node_safe_time(s->node, g);
        gs[i].safe_lag_us = clk == 0 ? now.latest - gs[i].safe_time : -1;
        gs[i].last_ts = txn_node_last_ts(s->node, g);
        gs[i].prepared = txn_node_prepared_n(s->node, g);
        gs[i].lease_remaining_us = clk == 0 ? txn_node_lease_left(s->node, g, now) : 0;
        txn_node_progress(s->node, g, &gs[i].commit, &gs[i].applied);
        gp[i] = &gs[i];
    }
    rep.node = s->self;
    rep.zone = s->conf->zones[me->zone];
    rep.clock_status = (char *) tt_status_name(st);
    rep.clock_reason = reason;
    rep.eps_us = clk == 0 ? tt_interval_eps(now) : -1;
    rep.n_groups = s->ncfg.groups_n;
    rep.groups = gp;
    sp_rpc_reply_msg(it->call, &rep.base);
}

static void handle_item(struct server *s, const struct sp_inbox_item *it)
{
    switch (it->kind) {
    case IT_ENVELOPE:
        handle_envelope(s, it);
        break;
    case IT_REQUEST:
        handle_request(s, it);
        break;
    case IT_REQUESTS:
        handle_requests(s, it);
        break;
    case IT_DIRECTORY:
        handle_directory(s, it);
        break;
    case IT_STATUS:
        handle_status(s, it);
        break;
    }
}

/* ---- the loop --------------------------------------------------------------- */

static tt_micros wait_budget(struct server *s)
{
    struct tt_interval now;
    tt_micros wait_us = 50 * 1000;
    if (tt_now(s->clock, &now) == 0 && s->wake_us - now.earliest < wait_us)
        wait_us = s->wake_us - now.earliest;
    return wait_us;
}

static void tick_if_due(struct server *s)
{
    struct tt_interval now;
    if (tt_now(s->clock, &now) != 0 || now.earliest < s->wake_us)
        return;
    s->wake_us = TT_MICROS_MAX;
    struct txn_node_event ev = {.type = TXN_NODE_EV_TICK};
    step(s, &ev);
}

static void run(struct server *s)
{
    for (;;) {
        bool stop;
        struct sp_inbox_item *list = sp_inbox_take(&s->inbox, wait_budget(s), &stop);
        /* One apply round per driver round (txn.h): what the items, the
         * tick and the persisted batches apply goes to the MVCC store in
         * one write (a leader hears each follower's acknowledgements in
         * messages of their own), and t_safe is published after it. */
        txn_node_round_begin(s->node);
        for (struct sp_inbox_item *it = list, *next; it; it = next) {
            next = it->next;
            if (stop && it->call)
                sp_rpc_reply(it->call, GRPC_STATUS_UNAVAILABLE, NULL, 0, "node stopping");
            else
                handle_item(s, it);
            sp_inbox_free(it);
        }
        if (stop) {
            txn_node_round_end(s->node);
            break;
        }
        tick_if_due(s);
        flush(s);
        if (txn_node_round_end(s->node) != 0 && !s->node_failed_said) {
            SP_ERROR("spannerd: the MVCC store failed: this node serves no more requests");
            s->node_failed_said = true;
        }
        expire_pending(s);
    }
    for (uint32_t i = 0; i < s->n_pending; i++)
        pending_error(&s->pending[i], SP_ETXN_UNKNOWN, "node stopping: outcome unknown");
    s->n_pending = s->n_commits = 0;
}

/* ---- start-up ---------------------------------------------------------------- */

static void node_config(struct server *s)
{
    const struct sp_cluster_conf *c = s->conf;
    struct txn_node_config *nc = &s->ncfg;
    txn_node_config_init(nc);
    nc->self = s->self;
    nc->zone = (uint32_t) sp_conf_node(c, s->self)->zone;
    nc->min_next_period_us = c->min_next_us;
    nc->seed = ((uint64_t) s->self << 32) ^ (uint64_t) sp_mono_us();
    for (uint32_t g = 0; g < c->n_groups && nc->directory_n < TXN_DIRECTORY_MAX; g++) {
        const struct sp_group_conf *gc = &c->groups[g];
        struct txn_directory_entry *d = &nc->directory[nc->directory_n++];
        d->group = gc->id;
        d->members.n = 0;
        bool hosted = false;
        for (uint32_t i = 0; i < gc->n_voters; i++) {
            d->members.m[d->members.n++] = (struct paxos_member){gc->voters[i], PAXOS_VOTER};
            hosted |= gc->voters[i] == s->self;
        }
        for (uint32_t i = 0; i < gc->n_read_only; i++) {
            d->members.m[d->members.n++] =
                (struct paxos_member){gc->read_only[i], PAXOS_READ_ONLY};
            hosted |= gc->read_only[i] == s->self;
        }
        if (!hosted || nc->groups_n == TXN_NODE_GROUPS_MAX)
            continue;
        struct txn_node_group_config *hg = &nc->groups[nc->groups_n++];
        hg->group = gc->id;
        paxos_config_init(&hg->paxos);
        hg->paxos.self = s->self;
        hg->paxos.members = d->members;
        hg->paxos.lease_us = c->lease_us;
        hg->paxos.heartbeat_us = c->lease_us / 5;
        hg->paxos.election_timeout_us = c->lease_us / 2;
        hg->paxos.seed = nc->seed ^ gc->id;
        /* The node core cannot yet install a snapshot from a peer, so a
         * lagging replica catches up from log entries only: keep a wide
         * window of them below each snapshot (about 8k slots). */
        hg->paxos.log_max = 16384;
        hg->paxos.log_keep = 8191;
    }
}

static int open_stores(struct server *s, const char *data, struct sp_err *err)
{
    char path[600];
    if (mkdir(data, 0755) != 0 && errno != EEXIST)
        return sp_err_set(err, SP_EIO, "cannot create %s: %s", data, strerror(errno));
    snprintf(path, sizeof path, "%s/paxos", data);
    int rc = paxos_store_open(path, true, &s->pstore, err);
    if (rc)
        return rc;
    struct txn_store_config tc;
    txn_store_config_init(&tc);
    /* Applied versions are not synced one by one: everything applied is
     * chosen, durable in the Paxos log of a majority, and replayed from it
     * after a crash (the store records its applied index in the same
     * writes). The node core reports the store as each group's snapshot,
     * after which the log below it is truncated, so the store is synced
     * before any truncation is persisted (round_before_truncate). A sync
     * per apply cost one fdatasync per record on every replica. */
    tc.sync = false;
    snprintf(path, sizeof path, "%s/mvcc", data);
    return txn_store_open(path, &tc, &s->mvcc, err);
}

static int create_node(struct server *s, struct sp_err *err)
{
    static struct paxos_loaded loaded[TXN_NODE_GROUPS_MAX];
    const struct paxos_durable_state *ptrs[TXN_NODE_GROUPS_MAX];
    int rc = 0;
    for (uint32_t i = 0; i < s->ncfg.groups_n && rc == 0; i++) {
        bool found;
        rc = paxos_store_load(s->pstore, s->ncfg.groups[i].group, &loaded[i], &found, err);
        if (rc)
            sp_err_wrap(err, "group %llu: refusing to serve",
                        (unsigned long long) s->ncfg.groups[i].group);
        ptrs[i] = found ? &loaded[i].st : NULL;
    }
    if (rc == 0)
        rc = txn_node_create(&s->ncfg, s->mvcc, ptrs, &s->node, err);
    for (uint32_t i = 0; i < s->ncfg.groups_n; i++)
        paxos_store_loaded_free(&loaded[i]);
    return rc;
}

static int start_net(struct server *s, struct sp_err *err)
{
    const struct sp_node_conf *me = sp_conf_node(s->conf, s->self);
    int rc = sp_rpc_server_create(me->addr, &s->rpc, err);
    if (rc)
        return rc;
    struct sp_transport_config tc;
    sp_transport_config_init(&tc);
    tc.self = s->self;
    for (int k = 0; k < IT_KINDS; k++)
        s->routes[k] = (struct sp_inbox_route){&s->inbox, k};
    tc.on_envelope = sp_inbox_envelope_handler;
    tc.ctx = &s->routes[IT_ENVELOPE];
    for (uint32_t i = 0; i < s->conf->n_nodes; i++) {
        const struct sp_node_conf *p = &s->conf->nodes[i];
        if (p->id == s->self)
            continue;
        tc.peers[tc.n_peers].node = p->id;
        snprintf(tc.peers[tc.n_peers].addr, sizeof tc.peers[0].addr, "%s", p->addr);
        tc.peers[tc.n_peers++].delay_us = sp_conf_latency(s->conf, s->self, p->id);
    }
    if ((rc = sp_transport_create(&tc, s->rpc, &s->tr, err)) ||
        (rc = sp_rpc_server_add_method(s->rpc, SP_REQUEST_PATH, on_request, s)) ||
        (rc = sp_rpc_server_add_method(s->rpc, SP_REQUESTS_PATH, on_requests, s)) ||
        (rc = sp_rpc_server_add_method(s->rpc, DIRECTORY_PATH, sp_inbox_rpc_handler,
                                       &s->routes[IT_DIRECTORY])) ||
        (rc = sp_rpc_server_add_method(s->rpc, STATUS_PATH, sp_inbox_rpc_handler,
                                       &s->routes[IT_STATUS])))
        return rc;
    return sp_rpc_server_start(s->rpc, 2, err);
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *t = n >= 0 ? malloc((size_t) n + 1) : NULL;
    if (t && fread(t, 1, (size_t) n, f) != (size_t) n) {
        free(t);
        t = NULL;
    }
    if (t)
        t[n] = '\0';
    fclose(f);
    return t;
}

static int start(struct server *s, const char *conf_path, struct sp_err *err)
{
    int rc = sp_conf_load(conf_path, s->conf, err);
    if (rc)
        return rc;
    const struct sp_node_conf *me = sp_conf_node(s->conf, s->self);
    if (!me)
        return sp_err_set(err, SP_ECONFIG, "%s: node %u is not in \"nodes\"", conf_path, s->self);
    s->conf_text = read_text(conf_path);
    s->pending = calloc(PENDING_MAX, sizeof *s->pending);
    s->replies = calloc(OUTBOX_MAX, sizeof *s->replies);
    if (!s->conf_text || !s->pending || !s->replies || sp_round_init(&s->round, OUTBOX_MAX))
        return sp_err_set(err, SP_ENOMEM, "out of memory");
    s->wake_us = 0;
    node_config(s);
    if ((rc = tt_clock_create(&s->conf->tt, &s->clock, err)) ||
        (rc = open_stores(s, me->data, err)) || (rc = create_node(s, err)))
        return rc;
    return start_net(s, err);
}

static void stop(struct server *s)
{
    sp_rpc_server_destroy(s->rpc); /* no more deliveries or client calls */
    sp_transport_destroy(s->tr);
    txn_node_destroy(s->node);
    txn_store_close(s->mvcc);
    paxos_store_close(s->pstore);
    tt_clock_destroy(s->clock);
    sp_inbox_destroy(&s->inbox);
    sp_round_destroy(&s->round);
    for (uint32_t i = 0; i < s->n_replies; i++)
        free(s->replies[i].data);
    free(s->replies);
    free(s->pending);
    free(s->conf_text);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: spannerd --config FILE --node ID\n"
               "  Runs one node of the cluster described by FILE (see README).\n"
               "  SP_LOG=error|warn|info|debug sets the log level.\n");
}

int main(int argc, char **argv)
{
    static struct server srv;
    static struct sp_cluster_conf conf;
    struct server *s = &srv;
    s->conf = &conf;
    const char *conf_path = NULL;
    static const struct option opts[] = {
        {"config", 1, 0, 'c'}, {"node", 1, 0, 'n'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    for (int o; (o = getopt_long(argc, argv, "", opts, NULL)) != -1;) {
        char *end;
        if (o == 'c') {
            conf_path = optarg;
        } else if (o == 'n') {
            unsigned long id = strtoul(optarg, &end, 10);
            if (*end || id == 0 || id > PAXOS_NODE_ID_MAX) {
                fprintf(stderr, "spannerd: --node \"%s\": expected a node id 1..%u\n", optarg,
                        PAXOS_NODE_ID_MAX);
                return 2;
            }
            s->self = (uint32_t) id;
        } else {
            usage(o == 'h' ? stdout : stderr);
            return o == 'h' ? 0 : 2;
        }
    }
    if (!conf_path || !s->self) {
        usage(stderr);
        return 2;
    }
    sp_log_level_from_env();
    sp_inbox_init(&s->inbox, INBOX_MAX);
    /* Before any other thread starts: they inherit the blocked signals. */
    sp_inbox_stop_on_signals(&s->inbox);
    struct sp_err err = {0};
    if (start(s, conf_path, &err) != 0) {
        fprintf(stderr, "spannerd %u: %s\n", s->self, err.msg);
        stop(s);
        return 1;
    }
    fprintf(stderr, "spannerd %u: serving %u group(s) on %s\n", s->self, s->ncfg.groups_n,
            sp_conf_node(s->conf, s->self)->addr);
    run(s);
    stop(s);
    fprintf(stderr, "spannerd %u: stopped\n", s->self);
    return 0;
}

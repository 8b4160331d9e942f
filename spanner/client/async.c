/*
 * async.c - asynchronous single-key operations (spanner.h, sp_async_*).
 *
 * An operation is one packed Request (a blind single-group COMMIT, or an
 * RO_READ) and the node it goes to next. Operations wait in a queue per
 * node and kind (writes, reads); sp_async_next starts a Requests call of
 * up to SP_REQUESTS_MAX queued operations whenever fewer than
 * CALLS_PER_QUEUE calls of that queue are under way (what the lanes of
 * lane.h do for threads), and turns each finished call into outcomes. The
 * calls are gRPC calls on one completion queue, so no thread waits for
 * them: the caller's thread does everything inside sp_async_next.
 *
 * Routing and retries follow the synchronous paths of client.c: puts and
 * strong reads go to the group's leader, following NOT_LEADER hints (and
 * the next voter, after a backoff, when there is no hint); a stale read
 * goes to the nearest replica and on to the next one when a replica is not
 * caught up or unreachable. An unreachable node moves the operation on to
 * the next voter or replica. After ATTEMPTS_MAX attempts the operation
 * ends with SP_ESP_UNAVAILABLE, or SP_ETXN_UNKNOWN for a put that a lost
 * call may have committed.
 *
 * Invariants: every started operation is in exactly one place - a queue,
 * the delayed list, a call under way, or the done queue - until
 * sp_async_next hands it back; `pending` counts them all.
 */
#include "client_priv.h"
#include "rpc.h"
#include "sp_assert.h"
#include "txn_codec.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CALLS_PER_QUEUE 2 /* as SP_LANE_INFLIGHT */
#define BACKOFF_MS_MAX  640

enum { Q_WRITE, Q_READ, Q_KINDS };
enum op_kind { OP_PUT, OP_GET_STRONG, OP_GET_STALE };

struct aop {
    void *tag;
    enum op_kind kind;
    uint32_t gidx;
    uint8_t *req; /* packed Request */
    size_t req_len;
    int attempts;
    bool lost;     /* a put whose earlier call may have been taken: resent with
                    * retry set, and only a logged outcome ends it (client.c,
                    * commit_answer) */
    uint32_t node; /* where it goes next */
    uint32_t order[SP_REPLICAS_MAX * 2], n_order, pos; /* stale reads: nearest first */
    long long not_before_ms;                           /* delayed: monotonic */
    struct sp_async_result res;
    struct aop *next;
};

struct acall {
    struct sp_rpc_acall *rpc;
    int ni, q;
    uint32_t n;
    struct aop *ops[SP_REQUESTS_MAX];
    struct acall *next, *prev; /* under way */
};

struct queue {
    struct aop *head, *tail;
    uint32_t n, inflight;
};

struct sp_async {
    grpc_completion_queue *cq;
    struct queue q[SP_NODES_MAX][Q_KINDS];
    struct aop *delayed;
    struct queue done;   /* outcomes not returned yet */
    struct acall *calls; /* under way */
    uint32_t pending, calls_inflight;
    uint64_t calls_started, requests_sent; /* sp__client_async_stats */
};

static long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct sp_async *async_of(struct sp_client *c)
{
    if (!c->async) {
        struct sp_async *a = calloc(1, sizeof *a);
        if (!a)
            return NULL;
        a->cq = grpc_completion_queue_create_for_next(NULL);
        c->async = a;
    }
    return c->async;
}

static void op_free(struct aop *op)
{
    free(op->req);
    free(op);
}

static void append(struct queue *q, struct aop *op)
{
    op->next = NULL;
    if (q->tail)
        q->tail->next = op;
    else
        q->head = op;
    q->tail = op;
    q->n++;
}

static void done(struct sp_async *a, struct aop *op, int rc)
{
    op->res.rc = rc;
    append(&a->done, op);
}

static void enqueue(struct sp_client *c, struct sp_async *a, struct aop *op)
{
    int ni = sp__node_index(c, op->node);
    if (ni < 0) {
        done(a, op,
             sp_err_set(&op->res.err, SP_ESP_UNAVAILABLE, "node %u is not in the directory",
                        op->node));
        return;
    }
    append(&a->q[ni][op->kind == OP_PUT ? Q_WRITE : Q_READ], op);
}

/* The operation goes again: to the node routing now names (leader guess,
 * or the stale read's next replica), after a backoff when `backoff`. */
static void again(struct sp_client *c, struct sp_async *a, struct aop *op, bool backoff, int rc,
                  const struct sp_err *why)
{
    if (++op->attempts >= ATTEMPTS_MAX) {
        op->res.err = *why;
        if (op->kind == OP_PUT && op->lost)
            rc = sp_err_set(&op->res.err, SP_ETXN_UNKNOWN,
                            "commit sent, no answer: outcome unknown (%s)", why->msg);
        else if (rc == SP_EPAXOS_NOT_LEADER)
            rc = sp_err_set(&op->res.err, SP_ESP_UNAVAILABLE, "group %llu: no leader found",
                            (unsigned long long) c->conf.groups[op->gidx].id);
        done(a, op, rc);
        return;
    }
    if (op->kind == OP_GET_STALE) {
        op->pos = (op->pos + 1) % op->n_order;
        op->node = op->order[op->pos];
        backoff = backoff || op->pos == 0; /* every replica tried once more */
    } else {
        op->node = atomic_load(&c->leader[op->gidx]);
    }
    if (!backoff) {
        enqueue(c, a, op);
        return;
    }
    int shift = op->attempts < 5 ? op->attempts : 5;
    int ms = 20 << shift;
    op->not_before_ms = mono_ms() + (ms < BACKOFF_MS_MAX ? ms : BACKOFF_MS_MAX);
    op->next = a->delayed;
    a->delayed = op;
}

/* A put's call ended without an answer, or with "unknown": the COMMIT
 * may have been taken, so it goes again with retry set. */
static void mark_lost(struct aop *op)
{
    if (!op->lost && sp_request_mark_retry(&op->req, &op->req_len) == 0)
        op->lost = true;
}

static void call_failed(struct sp_client *c, struct sp_async *a, struct acall *k, int rc,
                        const struct sp_err *err)
{
    for (uint32_t i = 0; i < k->n; i++) {
        struct aop *op = k->ops[i];
        if (rc != SP_ESP_UNAVAILABLE) { /* the node answered something wrong */
            op->res.err = *err;
            done(a, op, rc);
            continue;
        }
        if (op->kind != OP_GET_STALE) /* the leader guess may be down: try the next */
            sp__leader_moved(c, op->gidx, op->node, 0);
        if (op->kind == OP_PUT)
            mark_lost(op);
        again(c, a, op, true, rc, err);
    }
}

static void start_call(struct sp_client *c, struct sp_async *a, int ni, int qi)
{
    struct queue *q = &a->q[ni][qi];
    struct acall *k = calloc(1, sizeof *k);
    if (!k)
        return; /* they stay queued; the next flush tries again */
    k->ni = ni;
    k->q = qi;
    ProtobufCBinaryData reqs[SP_REQUESTS_MAX];
    while (k->n < SP_REQUESTS_MAX && q->head) {
        struct aop *op = q->head;
        q->head = op->next;
        q->n--;
        reqs[k->n] = (ProtobufCBinaryData){op->req_len, op->req};
        k->ops[k->n++] = op;
    }
    if (!q->head)
        q->tail = NULL;
    Spanner__Txn__Requests rq = SPANNER__TXN__REQUESTS__INIT;
    rq.n_requests = k->n;
    rq.requests = reqs;
    size_t len = spanner__txn__requests__get_packed_size(&rq);
    uint8_t *buf = malloc(len ? len : 1);
    struct sp_err err = {0};
    if (buf) {
        spanner__txn__requests__pack(&rq, buf);
        k->rpc = sp_rpc_acall_start(c->ch[ni], SP_REQUESTS_PATH, buf, len, c->timeout_ms, a->cq, k);
        free(buf);
    }
    if (!k->rpc) {
        sp_err_set(&err, SP_ESP_UNAVAILABLE, "node %u: cannot start a call", c->conf.nodes[ni].id);
        call_failed(c, a, k, SP_ESP_UNAVAILABLE, &err);
        free(k);
        return;
    }
    q->inflight++;
    a->calls_inflight++;
    a->calls_started++;
    a->requests_sent += k->n;
    k->next = a->calls;
    if (a->calls)
        a->calls->prev = k;
    a->calls = k;
}

/* Delayed operations that are due go back to their queues; every queue
 * with room starts calls. */
static void flush(struct sp_client *c, struct sp_async *a)
{
    long long now = mono_ms();
    for (struct aop **p = &a->delayed; *p;) {
        struct aop *op = *p;
        if (op->not_before_ms <= now) {
            *p = op->next;
            enqueue(c, a, op);
        } else {
            p = &op->next;
        }
    }
    for (uint32_t ni = 0; ni < c->conf.n_nodes; ni++)
        for (int qi = 0; qi < Q_KINDS; qi++)
            while (a->q[ni][qi].n > 0 && a->q[ni][qi].inflight < CALLS_PER_QUEUE)
                start_call(c, a, (int) ni, qi);
}

/* One reply of a finished call, for op. */
static void settle(struct sp_client *c, struct sp_async *a, struct aop *op,
                   const ProtobufCBinaryData *raw)
{
    struct sp_err err = {0};
    Spanner__Txn__Reply *rep = spanner__txn__reply__unpack(NULL, raw->len, raw->data);
    if (!rep) {
        done(a, op,
             sp_err_set(&op->res.err, SP_ESP_PROTOCOL, "node %u: malformed reply", op->node));
        return;
    }
    int status = rep->status;
    if (op->kind == OP_GET_STALE &&
        (status == SP_ETXN_NOT_SAFE || status == SP_ESP_UNAVAILABLE ||
         status == SP_EPAXOS_NOT_LEADER)) { /* another replica may serve it */
        sp_err_set(&err, status, "node %u: %s", op->node, rep->error);
        spanner__txn__reply__free_unpacked(rep, NULL);
        again(c, a, op, false, status, &err);
        return;
    }
    if (op->kind != OP_GET_STALE && status == SP_EPAXOS_NOT_LEADER) {
        uint32_t given = rep->leader_hint;
        sp__leader_moved(c, op->gidx, op->node, given);
        sp_err_set(&err, status, "node %u: %s", op->node, rep->error);
        spanner__txn__reply__free_unpacked(rep, NULL);
        again(c, a, op, !given, status, &err); /* no hint: an election is under way */
        return;
    }
    if (op->kind == OP_PUT && status == SP_ETXN_UNKNOWN) {
        /* the leader lost its lease after logging it: ask the next one */
        mark_lost(op);
        if (rep->leader_hint)
            sp__leader_moved(c, op->gidx, op->node, rep->leader_hint);
        sp_err_set(&err, status, "node %u: %s", op->node, rep->error);
        spanner__txn__reply__free_unpacked(rep, NULL);
        again(c, a, op, true, status, &err);
        return;
    }
    int rc = sp__reply_rc(c, op->gidx, rep, &op->res.err);
    if (op->kind == OP_PUT && op->lost && rc != 0 && rc != SP_ETXN_ABORTED &&
        rc != SP_ETXN_WOUNDED)
        rc = sp_err_set(&op->res.err, SP_ETXN_UNKNOWN,
                        "commit sent, no answer: outcome unknown (group %llu: %s)",
                        (unsigned long long) c->conf.groups[op->gidx].id, rep->error);
    if (rc == 0) {
        op->res.info.ts = rep->ts;
        if (op->kind == OP_PUT) {
            op->res.info.commit_wait_us = rep->commit_wait_us;
            op->res.info.paxos_us = rep->paxos_us;
            op->res.info.groups = 1;
        } else {
            rc = sp__take_value(rep, &op->res.value, &op->res.err);
        }
    }
    spanner__txn__reply__free_unpacked(rep, NULL);
    done(a, op, rc);
}

/* Takes a finished call out of the list of calls under way. */
static void unlink_call(struct sp_async *a, struct acall *k)
{
    if (k->prev)
        k->prev->next = k->next;
    else
        a->calls = k->next;
    if (k->next)
        k->next->prev = k->prev;
}

static void call_done(struct sp_client *c, struct sp_async *a, struct acall *k)
{
    unlink_call(a, k);
    a->q[k->ni][k->q].inflight--;
    a->calls_inflight--;
    uint8_t *resp = NULL;
    size_t rl = 0;
    struct sp_err err = {0};
    int rc = sp_rpc_acall_finish(k->rpc, &resp, &rl, &err);
    Spanner__Txn__Replies *rs = NULL;
    if (rc == 0) {
        rs = spanner__txn__replies__unpack(NULL, rl, resp);
        if (!rs || rs->n_replies != k->n)
            rc = sp_err_set(&err, SP_ESP_PROTOCOL, "Requests call: %zu replies for %u requests",
                            rs ? rs->n_replies : 0, k->n);
    }
    free(resp);
    if (rc)
        call_failed(c, a, k, rc, &err);
    else
        for (uint32_t i = 0; i < k->n; i++)
            settle(c, a, k->ops[i], &rs->replies[i]);
    if (rs)
        spanner__txn__replies__free_unpacked(rs, NULL);
    free(k);
}

static int start(struct sp_client *c, enum op_kind kind, const void *key, size_t klen,
                 const void *val, size_t vlen, sp_micros staleness_us, void *tag,
                 struct sp_err *err)
{
    if ((!key && klen) || (!val && vlen))
        return sp_err_set(err, SP_EINVAL, "async: NULL key or value");
    if (staleness_us < 0)
        return sp_err_set(err, SP_EINVAL, "async: max_staleness_us %lld is negative",
                          (long long) staleness_us);
    struct sp_async *a = async_of(c);
    struct aop *op = a ? calloc(1, sizeof *op) : NULL;
    if (!op)
        return sp_err_set(err, SP_ENOMEM, "client: out of memory");
    op->tag = op->res.tag = tag;
    op->kind = kind;
    op->gidx = sp__group_index(c, key, klen);
    struct txn_key k = {key, klen};
    struct txn_write w = {
        .kind = TXN_WRITE_PUT, .key = key, .key_len = klen, .value = val, .value_len = vlen};
    struct txn_request req = {.group = c->conf.groups[op->gidx].id, .id = sp__txn_id_new()};
    if (kind == OP_PUT) {
        req.type = TXN_REQ_COMMIT;
        req.start_ts = sp__realtime_us();
        req.writes = &w;
        req.writes_n = 1;
        op->node = atomic_load(&c->leader[op->gidx]);
    } else {
        req.type = TXN_REQ_RO_READ;
        req.keys = &k;
        req.keys_n = 1;
        if (kind == OP_GET_STRONG) {
            req.mode = TXN_READ_STRONG_SINGLE;
            op->node = atomic_load(&c->leader[op->gidx]);
        } else {
            req.mode = TXN_READ_STALE;
            req.staleness_us = staleness_us;
            op->n_order = sp__replicas_by_distance(c, op->gidx, op->order);
            op->node = op->order[0];
        }
    }
    if (sp_request_pack(&req, &op->req, &op->req_len) != 0) {
        free(op);
        return sp_err_set(err, SP_ENOMEM, "client: out of memory");
    }
    a->pending++;
    enqueue(c, a, op);
    return 0;
}

int sp_async_put(struct sp_client *c, const void *key, size_t klen, const void *val, size_t vlen,
                 void *tag, struct sp_err *err)
{
    SP_ASSERT(c != NULL);
    return start(c, OP_PUT, key, klen, val, vlen, 0, tag, err);
}

int sp_async_get(struct sp_client *c, const void *key, size_t klen, sp_micros max_staleness_us,
                 void *tag, struct sp_err *err)
{
    SP_ASSERT(c != NULL);
    return start(c, max_staleness_us ? OP_GET_STALE : OP_GET_STRONG, key, klen, NULL, 0,
                 max_staleness_us, tag, err);
}

int sp_async_next(struct sp_client *c, int timeout_ms, struct sp_async_result *out)
{
    SP_ASSERT(c != NULL && out != NULL && timeout_ms >= 0);
    struct sp_async *a = c->async;
    if (!a)
        return 0;
    long long deadline = mono_ms() + timeout_ms;
    for (;;) {
        flush(c, a);
        if (a->done.head) {
            struct aop *op = a->done.head;
            a->done.head = op->next;
            a->done.n--;
            if (!a->done.head)
                a->done.tail = NULL;
            *out = op->res;
            a->pending--;
            op_free(op);
            return 1;
        }
        if (a->calls_inflight == 0 && !a->delayed)
            return 0; /* nothing under way, nothing will finish */
        long long until = deadline;
        for (struct aop *op = a->delayed; op; op = op->next)
            if (op->not_before_ms < until)
                until = op->not_before_ms;
        long long now = mono_ms();
        gpr_timespec wait = until <= now
                                ? gpr_inf_past(GPR_CLOCK_MONOTONIC)
                                : gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                                               gpr_time_from_millis(until - now, GPR_TIMESPAN));
        grpc_event ev = grpc_completion_queue_next(a->cq, wait, NULL);
        if (ev.type == GRPC_OP_COMPLETE)
            call_done(c, a, ev.tag);
        else if (mono_ms() >= deadline && !a->done.head)
            return 0;
    }
}

uint32_t sp_async_pending(const struct sp_client *c)
{
    return c->async ? c->async->pending : 0;
}

void sp__client_async_stats(struct sp_client *c, uint64_t *calls, uint64_t *requests)
{
    *calls = c->async ? c->async->calls_started : 0;
    *requests = c->async ? c->async->requests_sent : 0;
}

static void free_list(struct aop *op)
{
    while (op) {
        struct aop *next = op->next;
        sp_value_clear(&op->res.value);
        op_free(op);
        op = next;
    }
}

void sp__async_close(struct sp_client *c)
{
    struct sp_async *a = c->async;
    if (!a)
        return;
    for (struct acall *k = a->calls; k; k = k->next)
        sp_rpc_acall_cancel(k->rpc);
    while (a->calls) { /* each cancelled call still posts its event */
        grpc_event ev = grpc_completion_queue_next(a->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
        SP_ASSERT(ev.type == GRPC_OP_COMPLETE);
        struct acall *k = ev.tag;
        unlink_call(a, k);
        sp_rpc_acall_finish(k->rpc, NULL, NULL, NULL);
        for (uint32_t i = 0; i < k->n; i++)
            op_free(k->ops[i]);
        free(k);
    }
    for (uint32_t ni = 0; ni < SP_NODES_MAX; ni++)
        for (int qi = 0; qi < Q_KINDS; qi++)
            free_list(a->q[ni][qi].head);
    free_list(a->delayed);
    free_list(a->done.head);
    grpc_completion_queue_shutdown(a->cq);
    while (grpc_completion_queue_next(a->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type !=
           GRPC_QUEUE_SHUTDOWN) {
    }
    grpc_completion_queue_destroy(a->cq);
    free(a);
    c->async = NULL;
}

/*
 * lane.c - coalescing of concurrent client requests to one node; see lane.h.
 */
#include "lane.h"

#include "rpc.h"
#include "sp_assert.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct sp_lane_waiter {
    const uint8_t *req;
    size_t len;
    uint8_t *resp;
    size_t resp_len;
    int rc;
    struct sp_err err;
    int lead;  /* LEAD_KICKED or LEAD_SELF: this waiter sends the next call */
    int taken; /* in a call under way, sent by another waiter */
    int done;  /* rc, resp and err are set */
    pthread_cond_t cv;
    struct sp_lane_waiter *next;
};

enum { LEAD_KICKED = 1, LEAD_SELF = 2 };

void sp_lane_init(struct sp_lane *l)
{
    memset(l, 0, sizeof *l);
    pthread_mutex_init(&l->mu, NULL);
}

void sp_lane_destroy(struct sp_lane *l)
{
    SP_ASSERT(l->head == NULL && l->inflight == 0);
    pthread_mutex_destroy(&l->mu);
}

/* With l->mu held: when a call has room and requests wait, tells the
 * oldest to send them. */
static void kick(struct sp_lane *l)
{
    if (l->head == NULL || l->promoted || l->inflight >= SP_LANE_INFLIGHT)
        return;
    l->promoted = 1;
    l->head->lead = LEAD_KICKED;
    pthread_cond_signal(&l->head->cv);
}

int sp_requests_call(grpc_channel *ch, const ProtobufCBinaryData *reqs, uint32_t n,
                     int timeout_ms, Spanner__Txn__Replies **out, struct sp_err *err)
{
    SP_ASSERT(n >= 1 && n <= SP_REQUESTS_MAX);
    *out = NULL;
    Spanner__Txn__Requests rq = SPANNER__TXN__REQUESTS__INIT;
    rq.n_requests = n;
    rq.requests = (ProtobufCBinaryData *) reqs;
    uint8_t *buf = malloc(spanner__txn__requests__get_packed_size(&rq)), *resp = NULL;
    if (!buf)
        return sp_err_set(err, SP_ENOMEM, "client: out of memory");
    size_t rl = 0;
    int rc = sp_rpc_call(ch, SP_REQUESTS_PATH, buf, spanner__txn__requests__pack(&rq, buf),
                         timeout_ms, &resp, &rl, err);
    free(buf);
    if (rc)
        return rc;
    Spanner__Txn__Replies *rs = spanner__txn__replies__unpack(NULL, rl, resp);
    free(resp);
    if (rs == NULL || rs->n_replies != n) {
        rc = sp_err_set(err, SP_ESP_PROTOCOL, "Requests call: %zu replies for %u requests",
                        rs ? rs->n_replies : 0, n);
        if (rs)
            spanner__txn__replies__free_unpacked(rs, NULL);
        return rc;
    }
    *out = rs;
    return 0;
}

/* Sends batch[0..n) in one Requests call and sets each waiter's result
 * (not done: the caller marks that under the lock). */
static void send_batch(grpc_channel *ch, struct sp_lane_waiter **batch, uint32_t n, int timeout_ms)
{
    ProtobufCBinaryData reqs[SP_LANE_BATCH_MAX];
    for (uint32_t i = 0; i < n; i++)
        reqs[i] = (ProtobufCBinaryData){batch[i]->len, (uint8_t *) batch[i]->req};
    struct sp_err err = {0};
    Spanner__Txn__Replies *rs = NULL;
    int rc = sp_requests_call(ch, reqs, n, timeout_ms, &rs, &err);
    for (uint32_t i = 0; i < n; i++) {
        struct sp_lane_waiter *w = batch[i];
        w->rc = rc;
        w->err = err;
        if (rc)
            continue;
        size_t len = rs->replies[i].len;
        w->resp = malloc(len ? len : 1);
        if (w->resp == NULL) {
            w->rc = sp_err_set(&w->err, SP_ENOMEM, "client: out of memory");
            continue;
        }
        if (len)
            memcpy(w->resp, rs->replies[i].data, len);
        w->resp_len = len;
    }
    if (rs)
        spanner__txn__replies__free_unpacked(rs, NULL);
}

/* With l->mu held, w leading: takes w and the oldest queued waiters (up
 * to SP_LANE_BATCH_MAX) out of the queue into batch; returns how many. */
static uint32_t take(struct sp_lane *l, struct sp_lane_waiter *w, struct sp_lane_waiter **batch)
{
    struct sp_lane_waiter **p = &l->head, *prev = NULL;
    while (*p != w) {
        prev = *p;
        p = &(*p)->next;
    }
    *p = w->next;
    if (l->tail == w)
        l->tail = prev;
    if (w->lead == LEAD_KICKED)
        l->promoted = 0;
    uint32_t n = 0;
    batch[n++] = w;
    while (n < SP_LANE_BATCH_MAX && l->head) {
        struct sp_lane_waiter *o = l->head;
        l->head = o->next;
        if (o->lead == LEAD_KICKED) /* told to lead, not awake yet: it rides along */
            l->promoted = 0;
        o->lead = 0;
        o->taken = 1;
        batch[n++] = o;
    }
    if (l->head == NULL)
        l->tail = NULL;
    return n;
}

static void deadline_in(struct timespec *ts, long us)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_nsec += us * 1000;
    ts->tv_sec += ts->tv_nsec / 1000000000L;
    ts->tv_nsec %= 1000000000L;
}

int sp_lane_call(struct sp_lane *l, grpc_channel *ch, const uint8_t *req, size_t len,
                 int timeout_ms, uint8_t **resp, size_t *resp_len, struct sp_err *err)
{
    *resp = NULL;
    *resp_len = 0;
    pthread_mutex_lock(&l->mu);
    if (l->head == NULL && l->inflight < SP_LANE_INFLIGHT) { /* idle: alone, at once */
        l->inflight++;
        l->calls++;
        pthread_mutex_unlock(&l->mu);
        int rc = sp_rpc_call(ch, SP_REQUEST_PATH, req, len, timeout_ms, resp, resp_len, err);
        pthread_mutex_lock(&l->mu);
        l->inflight--;
        kick(l);
        pthread_mutex_unlock(&l->mu);
        return rc;
    }
    struct sp_lane_waiter w = {.req = req, .len = len};
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w.cv, &ca);
    pthread_condattr_destroy(&ca);
    if (l->tail)
        l->tail->next = &w;
    else
        l->head = &w;
    l->tail = &w;
    struct timespec until;
    deadline_in(&until, SP_LANE_WAIT_US);
    while (!w.done && !w.lead) {
        if (w.taken) { /* in a call under way: its own deadline bounds it */
            pthread_cond_wait(&w.cv, &l->mu);
            continue;
        }
        if (pthread_cond_timedwait(&w.cv, &l->mu, &until) == ETIMEDOUT && !w.done && !w.lead &&
            !w.taken) {
            w.lead = LEAD_SELF; /* the calls under way are slow: go anyway */
            l->timeouts++;
        }
    }
    if (!w.done) {
        struct sp_lane_waiter *batch[SP_LANE_BATCH_MAX];
        uint32_t n = take(l, &w, batch);
        l->inflight++;
        l->calls++;
        if (n > 1) {
            l->batched_calls++;
            l->batched_requests += n;
        }
        pthread_mutex_unlock(&l->mu);
        if (n == 1)
            w.rc = sp_rpc_call(ch, SP_REQUEST_PATH, req, len, timeout_ms, &w.resp, &w.resp_len,
                               &w.err);
        else
            send_batch(ch, batch, n, timeout_ms);
        pthread_mutex_lock(&l->mu);
        for (uint32_t i = 1; i < n; i++) {
            batch[i]->done = 1;
            pthread_cond_signal(&batch[i]->cv);
        }
        l->inflight--;
        kick(l);
    }
    pthread_mutex_unlock(&l->mu);
    pthread_cond_destroy(&w.cv);
    *resp = w.resp;
    *resp_len = w.resp_len;
    if (w.rc && err)
        *err = w.err;
    return w.rc;
}

/*
 * transport.c - batched, pipelined, delay-emulating node transport; see
 * transport.h.
 *
 * Invariants:
 *   - a peer queue never holds more than queue_max envelopes (send drops);
 *   - one stream per peer, one batch sent on it at a time; envelopes leave
 *     in queue order and the receiver hands them on in that order;
 *   - an envelope is not sent before its due time (enqueue + delay).
 *
 * Batches go on a client stream (Stream) that stays open: no call set-up
 * and no reply per batch, and the sender waits only until gRPC has taken a
 * batch, not for a round trip. A broken stream drops its batch (like a
 * failed call: Paxos and 2PC resend) and the next batch opens another.
 * Deliver, one unary call per batch, is still served for senders that use
 * it.
 */
#include "transport.h"
#include "node.pb-c.h"
#include "procs.h"
#include "sp_assert.h"
#include "sp_log.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct item {
    tt_micros due_us;
    size_t len;
    uint8_t *data;
};

struct peer {
    struct sp_transport *t;
    struct sp_transport_peer cfg;
    grpc_channel *ch;
    struct sp_rpc_stream *st; /* the sender thread's; NULL until the first batch */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct item *ring; /* queue_max slots */
    uint32_t head, count;
};

struct sp_transport {
    struct sp_transport_config cfg;
    struct peer *peers;
    _Atomic int stop;
    _Atomic uint64_t sent, dropped_full, dropped_failed, batches, received;
};

void sp_transport_config_init(struct sp_transport_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->queue_max = 8192;
    cfg->batch_max = 512;
    cfg->call_timeout_ms = 1000;
}

/* Hands each envelope of a packed Batch on; returns how many, or -1 if the
 * Batch is malformed. */
static int deliver(struct sp_transport *t, const uint8_t *data, size_t len)
{
    Spanner__Node__Batch *b = spanner__node__batch__unpack(NULL, len, data);
    if (!b)
        return -1;
    for (size_t i = 0; i < b->n_envelopes; i++)
        t->cfg.on_envelope(t->cfg.ctx, b->from_node, b->envelopes[i].data, b->envelopes[i].len);
    atomic_fetch_add(&t->received, b->n_envelopes);
    int n = (int) b->n_envelopes;
    spanner__node__batch__free_unpacked(b, NULL);
    return n;
}

static void on_deliver(void *ctx, struct sp_rpc_call *call, const uint8_t *req, size_t len)
{
    int n = deliver(ctx, req, len);
    if (n < 0) {
        sp_rpc_reply(call, GRPC_STATUS_INVALID_ARGUMENT, NULL, 0, "Deliver: malformed Batch");
        return;
    }
    Spanner__Node__Ack ack = SPANNER__NODE__ACK__INIT;
    ack.received = (uint32_t) n;
    sp_rpc_reply_msg(call, &ack.base);
}

static void on_stream(void *ctx, const uint8_t *msg, size_t len)
{
    if (deliver(ctx, msg, len) < 0)
        SP_WARN("transport: dropped a malformed Batch from a stream");
}

/* Waits until the head item is due (or stop); returns how many items are
 * due, at most batch_max. Called with p->mu held. */
static uint32_t wait_due(struct peer *p)
{
    struct sp_transport *t = p->t;
    for (;;) {
        if (atomic_load(&t->stop))
            return 0;
        if (p->count == 0) {
            pthread_cond_wait(&p->cv, &p->mu);
            continue;
        }
        tt_micros now = sp_mono_us();
        tt_micros due = p->ring[p->head].due_us;
        if (due <= now)
            break;
        struct timespec ts = {.tv_sec = due / 1000000, .tv_nsec = (due % 1000000) * 1000};
        pthread_cond_timedwait(&p->cv, &p->mu, &ts);
    }
    tt_micros now = sp_mono_us();
    uint32_t n = 0, qmax = t->cfg.queue_max;
    while (n < p->count && n < t->cfg.batch_max && p->ring[(p->head + n) % qmax].due_us <= now)
        n++;
    return n;
}

static void send_batch(struct peer *p, struct item *items, uint32_t n)
{
    struct sp_transport *t = p->t;
    ProtobufCBinaryData *envs = calloc(n, sizeof *envs);
    SP_ASSERT(envs != NULL);
    for (uint32_t i = 0; i < n; i++) {
        envs[i].data = items[i].data;
        envs[i].len = items[i].len;
    }
    Spanner__Node__Batch b = SPANNER__NODE__BATCH__INIT;
    b.from_node = t->cfg.self;
    b.n_envelopes = n;
    b.envelopes = envs;
    size_t len = spanner__node__batch__get_packed_size(&b);
    uint8_t *buf = malloc(len ? len : 1);
    SP_ASSERT(buf != NULL);
    spanner__node__batch__pack(&b, buf);
    struct sp_err err = {0};
    if (p->st == NULL)
        p->st = sp_rpc_stream_open(p->ch, SP_STREAM_PATH);
    int rc = sp_rpc_stream_send(p->st, buf, len, t->cfg.call_timeout_ms, &err);
    if (rc) { /* its batch is lost; the next one opens another stream */
        sp_rpc_stream_close(p->st);
        p->st = NULL;
    }
    free(buf);
    free(envs);
    atomic_fetch_add(&t->batches, 1);
    if (rc) {
        atomic_fetch_add(&t->dropped_failed, n);
        SP_DEBUG("transport: to node %u: %s", p->cfg.node, err.msg);
        /* Back off briefly so a dead peer does not cost a busy loop. */
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    } else {
        atomic_fetch_add(&t->sent, n);
    }
}

static void *sender(void *arg)
{
    struct peer *p = arg;
    struct sp_transport *t = p->t;
    struct item *batch = calloc(t->cfg.batch_max, sizeof *batch);
    SP_ASSERT(batch != NULL);
    pthread_mutex_lock(&p->mu);
    for (;;) {
        uint32_t n = wait_due(p);
        if (n == 0)
            break;
        for (uint32_t i = 0; i < n; i++)
            batch[i] = p->ring[(p->head + i) % t->cfg.queue_max];
        p->head = (p->head + n) % t->cfg.queue_max;
        p->count -= n;
        pthread_mutex_unlock(&p->mu);
        send_batch(p, batch, n);
        for (uint32_t i = 0; i < n; i++)
            free(batch[i].data);
        pthread_mutex_lock(&p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    free(batch);
    return NULL;
}

static int start_peer(struct sp_transport *t, struct peer *p, const struct sp_transport_peer *pc)
{
    p->t = t;
    p->cfg = *pc;
    p->ring = calloc(t->cfg.queue_max, sizeof *p->ring);
    if (!p->ring)
        return SP_ENOMEM;
    pthread_mutex_init(&p->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&p->cv, &ca);
    pthread_condattr_destroy(&ca);
    p->ch = sp_rpc_channel(pc->addr);
    if (pthread_create(&p->thread, NULL, sender, p) != 0)
        return SP_ENOMEM;
    return 0;
}

int sp_transport_create(const struct sp_transport_config *cfg, struct sp_rpc_server *server,
                        struct sp_transport **out, struct sp_err *err)
{
    SP_ASSERT(cfg != NULL && out != NULL);
    if (!cfg->on_envelope || cfg->n_peers > SP_TRANSPORT_PEERS_MAX || cfg->queue_max == 0 ||
        cfg->batch_max == 0)
        return sp_err_set(err, SP_EINVAL, "transport: bad config (callback, peers, limits)");
    struct sp_transport *t = calloc(1, sizeof *t);
    if (!t)
        return sp_err_set(err, SP_ENOMEM, "transport: out of memory");
    t->cfg = *cfg;
    t->peers = calloc(cfg->n_peers ? cfg->n_peers : 1, sizeof *t->peers);
    if (!t->peers) {
        free(t);
        return sp_err_set(err, SP_ENOMEM, "transport: out of memory");
    }
    int rc = sp_rpc_server_add_method(server, SP_DELIVER_PATH, on_deliver, t);
    if (rc == 0)
        rc = sp_rpc_server_add_stream(server, SP_STREAM_PATH, on_stream, t);
    if (rc) {
        free(t->peers);
        free(t);
        return sp_err_set(err, rc, "transport: cannot register %s and %s", SP_DELIVER_PATH,
                          SP_STREAM_PATH);
    }
    sp_rpc_init();
    for (uint32_t i = 0; i < cfg->n_peers; i++) {
        if (start_peer(t, &t->peers[i], &cfg->peers[i]) != 0) {
            t->cfg.n_peers = i + 1;
            sp_transport_destroy(t);
            return sp_err_set(err, SP_ENOMEM, "transport: cannot start peer %u", i);
        }
    }
    *out = t;
    return 0;
}

static int enqueue(struct sp_transport *t, uint32_t to, const uint8_t *env, size_t len, bool wake)
{
    SP_ASSERT(t != NULL && env != NULL);
    struct peer *p = NULL;
    for (uint32_t i = 0; i < t->cfg.n_peers; i++)
        if (t->peers[i].cfg.node == to)
            p = &t->peers[i];
    if (!p)
        return SP_ENOTFOUND;
    uint8_t *copy = malloc(len ? len : 1);
    SP_ASSERT(copy != NULL);
    memcpy(copy, env, len);
    pthread_mutex_lock(&p->mu);
    if (p->count == t->cfg.queue_max) {
        pthread_mutex_unlock(&p->mu);
        free(copy);
        atomic_fetch_add(&t->dropped_full, 1);
        return SP_EFULL;
    }
    struct item *it = &p->ring[(p->head + p->count) % t->cfg.queue_max];
    it->due_us = sp_mono_us() + p->cfg.delay_us;
    it->len = len;
    it->data = copy;
    p->count++;
    if (wake)
        pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    return 0;
}

int sp_transport_send(struct sp_transport *t, uint32_t to, const uint8_t *env, size_t len)
{
    return enqueue(t, to, env, len, true);
}

int sp_transport_queue(struct sp_transport *t, uint32_t to, const uint8_t *env, size_t len)
{
    return enqueue(t, to, env, len, false);
}

void sp_transport_push(struct sp_transport *t)
{
    SP_ASSERT(t != NULL);
    for (uint32_t i = 0; i < t->cfg.n_peers; i++) {
        struct peer *p = &t->peers[i];
        pthread_mutex_lock(&p->mu);
        if (p->count > 0)
            pthread_cond_signal(&p->cv);
        pthread_mutex_unlock(&p->mu);
    }
}

void sp_transport_stats(struct sp_transport *t, struct sp_transport_stats *out)
{
    out->sent = atomic_load(&t->sent);
    out->dropped_full = atomic_load(&t->dropped_full);
    out->dropped_failed = atomic_load(&t->dropped_failed);
    out->batches = atomic_load(&t->batches);
    out->received = atomic_load(&t->received);
}

void sp_transport_destroy(struct sp_transport *t)
{
    if (!t)
        return;
    atomic_store(&t->stop, 1);
    for (uint32_t i = 0; i < t->cfg.n_peers; i++) {
        struct peer *p = &t->peers[i];
        if (!p->ring)
            continue;
        pthread_mutex_lock(&p->mu);
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
        pthread_join(p->thread, NULL);
        for (uint32_t k = 0; k < p->count; k++)
            free(p->ring[(p->head + k) % t->cfg.queue_max].data);
        free(p->ring);
        sp_rpc_stream_close(p->st);
        if (p->ch)
            grpc_channel_destroy(p->ch);
        pthread_cond_destroy(&p->cv);
        pthread_mutex_destroy(&p->mu);
    }
    free(t->peers);
    free(t);
    sp_rpc_shutdown();
}

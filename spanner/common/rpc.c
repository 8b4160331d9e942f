/*
 * rpc.c - unary gRPC calls over the C core, see rpc.h.
 *
 * Server call lifecycle, one context per call (tag = the context):
 *
 *   REQUESTED --request arrives--> HANDLING --sp_rpc_reply--> REPLYING
 *       |                                                        |
 *       +--server shutting down (success=0): free                +--batch done: free
 *
 * A new request is posted for the method before the handler runs, so the
 * server always has one outstanding request per method per worker. Each
 * RPC costs two completion-queue events (registered methods with
 * READ_INITIAL_BYTE_BUFFER deliver the payload with the call).
 * See shared/notes/grpc-c-core.md for the sequences this follows.
 *
 * A client-streaming method (sp_rpc_server_add_stream) has one batch
 * outstanding at a time, so the context is still the tag:
 *
 *   REQUESTED --stream opens--> STREAMING --message: handler, next RECV--+
 *                                   |  ^----------------------------------+
 *                                   +--end of stream, cancel, failure--> REPLYING
 *                                      (status OK + RECV_CLOSE_ON_SERVER) --done: free
 *
 * One RECV_MESSAGE at a time per stream: its messages reach the handler
 * in order.
 */
#include "rpc.h"
#include "sp_assert.h"
#include "sp_log.h"

#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc_security.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct method {
    char path[128];
    void *handle; /* grpc_server_register_method result */
    sp_rpc_handler_fn fn;
    sp_rpc_stream_fn sfn; /* a client-streaming method instead */
    void *ctx;
};

enum call_state { CALL_REQUESTED, CALL_STREAMING, CALL_REPLYING };

struct sp_rpc_call {
    enum call_state state;
    struct sp_rpc_server *srv;
    struct method *m;
    grpc_call *call;
    gpr_timespec deadline;
    grpc_metadata_array md;
    grpc_byte_buffer *payload;
    grpc_byte_buffer *resp;
    grpc_slice details;
    int cancelled;
    uint8_t *req; /* flattened payload */
};

struct sp_rpc_server {
    grpc_server *server;
    grpc_completion_queue *cq;
    grpc_completion_queue *shutdown_cq;
    int port;
    int n_methods;
    struct method methods[SP_RPC_METHODS_MAX];
    int n_threads;
    pthread_t threads[SP_RPC_THREADS_MAX];
    _Atomic int shutting_down;
};

static pthread_mutex_t init_mu = PTHREAD_MUTEX_INITIALIZER;
static int init_refs;

void sp_rpc_init(void)
{
    pthread_mutex_lock(&init_mu);
    if (init_refs++ == 0)
        grpc_init();
    pthread_mutex_unlock(&init_mu);
}

void sp_rpc_shutdown(void)
{
    pthread_mutex_lock(&init_mu);
    SP_ASSERT(init_refs > 0);
    if (--init_refs == 0)
        grpc_shutdown();
    pthread_mutex_unlock(&init_mu);
}

/* Flattens a byte buffer into malloc'd memory (NULL for empty). */
static uint8_t *flatten(grpc_byte_buffer *bb, size_t *len)
{
    *len = 0;
    if (!bb)
        return NULL;
    grpc_byte_buffer_reader r;
    if (!grpc_byte_buffer_reader_init(&r, bb))
        return NULL;
    grpc_slice s = grpc_byte_buffer_reader_readall(&r);
    grpc_byte_buffer_reader_destroy(&r);
    size_t n = GRPC_SLICE_LENGTH(s);
    uint8_t *out = n ? malloc(n) : NULL;
    if (out)
        memcpy(out, GRPC_SLICE_START_PTR(s), n);
    grpc_slice_unref(s);
    *len = out ? n : 0;
    return out;
}

static grpc_byte_buffer *to_buffer(const uint8_t *data, size_t len)
{
    grpc_slice s = grpc_slice_from_copied_buffer((const char *) data, len);
    grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&s, 1);
    grpc_slice_unref(s);
    return bb;
}

static void post_request(struct sp_rpc_server *s, struct method *m)
{
    if (atomic_load(&s->shutting_down))
        return;
    struct sp_rpc_call *c = calloc(1, sizeof *c);
    SP_ASSERT(c != NULL);
    c->srv = s;
    c->m = m;
    c->state = CALL_REQUESTED;
    grpc_metadata_array_init(&c->md);
    grpc_call_error e =
        grpc_server_request_registered_call(s->server, m->handle, &c->call, &c->deadline, &c->md,
                                            m->sfn ? NULL : &c->payload, s->cq, s->cq, c);
    if (e != GRPC_CALL_OK) {
        grpc_metadata_array_destroy(&c->md);
        free(c);
    }
}

static void free_call(struct sp_rpc_call *c)
{
    if (c->payload)
        grpc_byte_buffer_destroy(c->payload);
    if (c->resp)
        grpc_byte_buffer_destroy(c->resp);
    grpc_metadata_array_destroy(&c->md);
    if (c->call)
        grpc_call_unref(c->call);
    free(c->req);
    free(c);
}

void sp_rpc_reply(struct sp_rpc_call *c, grpc_status_code status, const uint8_t *resp, size_t len,
                  const char *message)
{
    SP_ASSERT(c != NULL && c->state == CALL_REQUESTED);
    c->state = CALL_REPLYING;
    grpc_op ops[4];
    memset(ops, 0, sizeof ops);
    int n = 0;
    ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
    if (status == GRPC_STATUS_OK) {
        c->resp = to_buffer(resp, len);
        ops[n].op = GRPC_OP_SEND_MESSAGE;
        ops[n++].data.send_message.send_message = c->resp;
    }
    c->details = grpc_slice_from_copied_string(message ? message : "");
    ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
    ops[n].data.send_status_from_server.status = status;
    ops[n++].data.send_status_from_server.status_details = &c->details;
    ops[n].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
    ops[n++].data.recv_close_on_server.cancelled = &c->cancelled;
    grpc_call_error e = grpc_call_start_batch(c->call, ops, (size_t) n, c, NULL);
    if (e != GRPC_CALL_OK) {
        SP_WARN("rpc: reply to %s failed to start: %d", c->m->path, (int) e);
        grpc_slice_unref(c->details);
        free_call(c);
    }
}

void sp_rpc_reply_msg(struct sp_rpc_call *call, const ProtobufCMessage *m)
{
    size_t len = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = malloc(len ? len : 1);
    SP_ASSERT(buf != NULL);
    protobuf_c_message_pack(m, buf);
    sp_rpc_reply(call, GRPC_STATUS_OK, buf, len, NULL);
    free(buf);
}

/* Waits for the stream's next message (sending the initial metadata with
 * the first wait); false if the batch could not start. */
static bool stream_recv(struct sp_rpc_call *c, bool first)
{
    grpc_op ops[2];
    memset(ops, 0, sizeof ops);
    int n = 0;
    if (first)
        ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[n].op = GRPC_OP_RECV_MESSAGE;
    ops[n++].data.recv_message.recv_message = &c->payload;
    return grpc_call_start_batch(c->call, ops, (size_t) n, c, NULL) == GRPC_CALL_OK;
}

/* The stream ended (closed by the client, cancelled, or broken): answer
 * OK and free once that batch is done. */
static void stream_end(struct sp_rpc_server *s, struct sp_rpc_call *c)
{
    if (atomic_load(&s->shutting_down)) { /* no new batches on a closing queue */
        free_call(c);
        return;
    }
    c->state = CALL_REPLYING;
    c->details = grpc_empty_slice();
    grpc_op ops[2];
    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
    ops[0].data.send_status_from_server.status = GRPC_STATUS_OK;
    ops[0].data.send_status_from_server.status_details = &c->details;
    ops[1].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
    ops[1].data.recv_close_on_server.cancelled = &c->cancelled;
    if (grpc_call_start_batch(c->call, ops, 2, c, NULL) != GRPC_CALL_OK)
        free_call(c);
}

/* A stream's RECV_MESSAGE completed: hand the message on, wait for the
 * next; or end the stream. */
static void stream_event(struct sp_rpc_server *s, struct sp_rpc_call *c, bool success)
{
    if (!success || c->payload == NULL) {
        stream_end(s, c);
        return;
    }
    size_t len;
    uint8_t *msg = flatten(c->payload, &len);
    grpc_byte_buffer_destroy(c->payload);
    c->payload = NULL;
    c->m->sfn(c->m->ctx, msg, len);
    free(msg);
    if (atomic_load(&s->shutting_down) || !stream_recv(c, false))
        stream_end(s, c);
}

static void handle_event(struct sp_rpc_server *s, grpc_event ev)
{
    struct sp_rpc_call *c = ev.tag;
    if (c->state == CALL_REPLYING) {
        grpc_slice_unref(c->details);
        free_call(c);
        return;
    }
    if (c->state == CALL_STREAMING) {
        stream_event(s, c, ev.success);
        return;
    }
    if (!ev.success) { /* server shutting down: the request never arrived */
        free_call(c);
        return;
    }
    post_request(s, c->m);
    if (c->m->sfn) { /* a stream opened: wait for its first message */
        c->state = CALL_STREAMING;
        if (!stream_recv(c, true))
            free_call(c);
        return;
    }
    size_t len;
    c->req = flatten(c->payload, &len);
    c->m->fn(c->m->ctx, c, c->req, len);
}

static void *worker(void *arg)
{
    struct sp_rpc_server *s = arg;
    for (;;) {
        grpc_event ev = grpc_completion_queue_next(s->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
        if (ev.type == GRPC_QUEUE_SHUTDOWN)
            break;
        if (ev.type == GRPC_OP_COMPLETE)
            handle_event(s, ev);
    }
    return NULL;
}

int sp_rpc_server_create(const char *addr, struct sp_rpc_server **out, struct sp_err *err)
{
    SP_ASSERT(addr != NULL && out != NULL);
    sp_rpc_init();
    struct sp_rpc_server *s = calloc(1, sizeof *s);
    if (!s) {
        sp_rpc_shutdown();
        return sp_err_set(err, SP_ENOMEM, "rpc: out of memory");
    }
    grpc_arg args[] = {
        {GRPC_ARG_INTEGER,
         (char *) GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH,
         {.integer = SP_RPC_MSG_MAX}},
        {GRPC_ARG_INTEGER, (char *) GRPC_ARG_ALLOW_REUSEPORT, {.integer = 0}},
    };
    grpc_channel_args cargs = {sizeof args / sizeof args[0], args};
    s->server = grpc_server_create(&cargs, NULL);
    s->cq = grpc_completion_queue_create_for_next(NULL);
    s->shutdown_cq = grpc_completion_queue_create_for_pluck(NULL);
    grpc_server_register_completion_queue(s->server, s->cq, NULL);
    grpc_server_register_completion_queue(s->server, s->shutdown_cq, NULL);
    grpc_server_credentials *creds = grpc_insecure_server_credentials_create();
    s->port = grpc_server_add_http2_port(s->server, addr, creds);
    grpc_server_credentials_release(creds);
    if (s->port == 0) {
        sp_rpc_server_destroy(s);
        return sp_err_set(err, SP_EIO, "rpc: cannot listen on %s (address in use or invalid)",
                          addr);
    }
    *out = s;
    return 0;
}

static int add_method(struct sp_rpc_server *s, const char *path, sp_rpc_handler_fn fn,
                      sp_rpc_stream_fn sfn, void *ctx)
{
    SP_ASSERT(s != NULL && path != NULL && (fn != NULL) != (sfn != NULL));
    if (s->n_methods == SP_RPC_METHODS_MAX || strlen(path) >= sizeof s->methods[0].path)
        return SP_EFULL;
    struct method *m = &s->methods[s->n_methods];
    snprintf(m->path, sizeof m->path, "%s", path);
    m->handle = grpc_server_register_method(
        s->server, m->path, NULL,
        sfn ? GRPC_SRM_PAYLOAD_NONE : GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER, 0);
    if (!m->handle)
        return SP_EINVAL;
    m->fn = fn;
    m->sfn = sfn;
    m->ctx = ctx;
    s->n_methods++;
    return 0;
}

int sp_rpc_server_add_method(struct sp_rpc_server *s, const char *path, sp_rpc_handler_fn fn,
                             void *ctx)
{
    return add_method(s, path, fn, NULL, ctx);
}

int sp_rpc_server_add_stream(struct sp_rpc_server *s, const char *path, sp_rpc_stream_fn fn,
                             void *ctx)
{
    return add_method(s, path, NULL, fn, ctx);
}

int sp_rpc_server_start(struct sp_rpc_server *s, int threads, struct sp_err *err)
{
    SP_ASSERT(s != NULL && threads >= 1 && threads <= SP_RPC_THREADS_MAX);
    grpc_server_start(s->server);
    /* One outstanding request per method per worker. */
    for (int t = 0; t < threads; t++)
        for (int i = 0; i < s->n_methods; i++)
            post_request(s, &s->methods[i]);
    for (int t = 0; t < threads; t++) {
        if (pthread_create(&s->threads[t], NULL, worker, s) != 0)
            return sp_err_set(err, SP_ENOMEM, "rpc: cannot start worker thread");
        s->n_threads++;
    }
    return 0;
}

int sp_rpc_server_port(const struct sp_rpc_server *s)
{
    return s->port;
}

void sp_rpc_server_destroy(struct sp_rpc_server *s)
{
    if (!s)
        return;
    atomic_store(&s->shutting_down, 1);
    int tag;
    grpc_server_shutdown_and_notify(s->server, s->shutdown_cq, &tag);
    grpc_server_cancel_all_calls(s->server);
    grpc_completion_queue_pluck(s->shutdown_cq, &tag, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    grpc_server_destroy(s->server);
    grpc_completion_queue_shutdown(s->cq);
    if (s->n_threads == 0) { /* never started: drain here */
        grpc_event ev;
        do {
            ev = grpc_completion_queue_next(s->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
            if (ev.type == GRPC_OP_COMPLETE)
                handle_event(s, ev);
        } while (ev.type != GRPC_QUEUE_SHUTDOWN);
    }
    for (int t = 0; t < s->n_threads; t++)
        pthread_join(s->threads[t], NULL);
    grpc_completion_queue_shutdown(s->shutdown_cq);
    grpc_completion_queue_pluck(s->shutdown_cq, NULL, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    grpc_completion_queue_destroy(s->shutdown_cq);
    grpc_completion_queue_destroy(s->cq);
    free(s);
    sp_rpc_shutdown();
}

grpc_channel *sp_rpc_channel(const char *target)
{
    grpc_arg args[] = {
        {GRPC_ARG_INTEGER,
         (char *) GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH,
         {.integer = SP_RPC_MSG_MAX}},
        {GRPC_ARG_INTEGER, (char *) GRPC_ARG_MAX_SEND_MESSAGE_LENGTH, {.integer = SP_RPC_MSG_MAX}},
        /* Reconnect quickly after a peer restarts (default backoff reaches
         * minutes). */
        {GRPC_ARG_INTEGER, (char *) GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, {.integer = 100}},
        {GRPC_ARG_INTEGER, (char *) GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, {.integer = 1000}},
        {GRPC_ARG_INTEGER, (char *) GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, {.integer = 100}},
    };
    grpc_channel_args cargs = {sizeof args / sizeof args[0], args};
    grpc_channel_credentials *cr = grpc_insecure_credentials_create();
    grpc_channel *ch = grpc_channel_create(target, cr, &cargs);
    grpc_channel_credentials_release(cr);
    return ch;
}

/* ---- asynchronous unary calls ------------------------------------------------ */

struct sp_rpc_acall {
    grpc_call *call;
    grpc_byte_buffer *req_bb, *resp_bb;
    grpc_metadata_array im, tm;
    grpc_status_code status;
    grpc_slice details;
    const char *error_string;
    const char *path;
};

struct sp_rpc_acall *sp_rpc_acall_start(grpc_channel *ch, const char *path, const uint8_t *req,
                                        size_t len, int timeout_ms, grpc_completion_queue *cq,
                                        void *tag)
{
    SP_ASSERT(ch != NULL && path != NULL && cq != NULL);
    struct sp_rpc_acall *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    gpr_timespec dl =
        gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_millis(timeout_ms, GPR_TIMESPAN));
    a->path = path;
    a->call = grpc_channel_create_call(ch, NULL, GRPC_PROPAGATE_DEFAULTS, cq,
                                       grpc_slice_from_static_string(path), NULL, dl, NULL);
    a->req_bb = to_buffer(req, len);
    grpc_metadata_array_init(&a->im);
    grpc_metadata_array_init(&a->tm);
    a->status = GRPC_STATUS_UNKNOWN;
    a->details = grpc_empty_slice();
    grpc_op ops[6];
    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = a->req_bb;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &a->im;
    ops[4].op = GRPC_OP_RECV_MESSAGE;
    ops[4].data.recv_message.recv_message = &a->resp_bb;
    ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[5].data.recv_status_on_client.trailing_metadata = &a->tm;
    ops[5].data.recv_status_on_client.status = &a->status;
    ops[5].data.recv_status_on_client.status_details = &a->details;
    ops[5].data.recv_status_on_client.error_string = &a->error_string;
    if (grpc_call_start_batch(a->call, ops, 6, tag, NULL) != GRPC_CALL_OK) {
        a->status = GRPC_STATUS_UNAVAILABLE; /* finish reports it; no event will come */
        sp_rpc_acall_finish(a, NULL, NULL, NULL);
        return NULL;
    }
    return a;
}

void sp_rpc_acall_cancel(struct sp_rpc_acall *a)
{
    grpc_call_cancel(a->call, NULL);
}

int sp_rpc_acall_finish(struct sp_rpc_acall *a, uint8_t **resp, size_t *resp_len,
                        struct sp_err *err)
{
    int rc = 0;
    if (a->status == GRPC_STATUS_OK) {
        if (resp)
            *resp = flatten(a->resp_bb, resp_len);
    } else {
        char *msg = grpc_slice_to_c_string(a->details);
        int code =
            (a->status == GRPC_STATUS_UNAVAILABLE || a->status == GRPC_STATUS_DEADLINE_EXCEEDED)
                ? SP_ESP_UNAVAILABLE
                : SP_ESP_PROTOCOL;
        rc = sp_err_set(err, code, "rpc %s: status %d: %s", a->path, (int) a->status, msg);
        gpr_free(msg);
    }
    grpc_byte_buffer_destroy(a->req_bb);
    if (a->resp_bb)
        grpc_byte_buffer_destroy(a->resp_bb);
    grpc_metadata_array_destroy(&a->im);
    grpc_metadata_array_destroy(&a->tm);
    grpc_slice_unref(a->details);
    if (a->error_string)
        gpr_free((void *) a->error_string);
    grpc_call_unref(a->call);
    free(a);
    return rc;
}

/* One asynchronous call (above), waited for on a queue of its own. */
int sp_rpc_call(grpc_channel *ch, const char *path, const uint8_t *req, size_t len, int timeout_ms,
                uint8_t **resp, size_t *resp_len, struct sp_err *err)
{
    SP_ASSERT(ch != NULL && path != NULL && resp != NULL && resp_len != NULL);
    grpc_completion_queue *cq = grpc_completion_queue_create_for_pluck(NULL);
    int tag;
    struct sp_rpc_acall *a = sp_rpc_acall_start(ch, path, req, len, timeout_ms, cq, &tag);
    int rc;
    if (!a) {
        rc = sp_err_set(err, SP_ESP_UNAVAILABLE, "rpc %s: cannot start call", path);
    } else {
        grpc_completion_queue_pluck(cq, &tag, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
        rc = sp_rpc_acall_finish(a, resp, resp_len, err);
    }
    grpc_completion_queue_shutdown(cq);
    grpc_completion_queue_pluck(cq, NULL, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    grpc_completion_queue_destroy(cq);
    return rc;
}

/* ---- client streams ------------------------------------------------------ */

struct sp_rpc_stream {
    grpc_completion_queue *cq; /* pluck: this stream's two tags only */
    grpc_call *call;
    grpc_byte_buffer *msg; /* the message being sent */
    bool metadata_sent;
    bool send_pending; /* a SEND_MESSAGE batch not plucked yet */
    bool status_done;  /* RECV_STATUS_ON_CLIENT completed: the stream is over */
    grpc_metadata_array tm;
    grpc_status_code status;
    grpc_slice details;
    const char *error_string;
    int tag_send, tag_status;
};

struct sp_rpc_stream *sp_rpc_stream_open(grpc_channel *ch, const char *path)
{
    SP_ASSERT(ch != NULL && path != NULL);
    struct sp_rpc_stream *st = calloc(1, sizeof *st);
    SP_ASSERT(st != NULL);
    st->cq = grpc_completion_queue_create_for_pluck(NULL);
    st->call = grpc_channel_create_call(ch, NULL, GRPC_PROPAGATE_DEFAULTS, st->cq,
                                        grpc_slice_from_static_string(path), NULL,
                                        gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    grpc_metadata_array_init(&st->tm);
    st->details = grpc_empty_slice();
    /* Completes when the stream ends, whoever ends it. */
    grpc_op op;
    memset(&op, 0, sizeof op);
    op.op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    op.data.recv_status_on_client.trailing_metadata = &st->tm;
    op.data.recv_status_on_client.status = &st->status;
    op.data.recv_status_on_client.status_details = &st->details;
    op.data.recv_status_on_client.error_string = &st->error_string;
    if (grpc_call_start_batch(st->call, &op, 1, &st->tag_status, NULL) != GRPC_CALL_OK)
        st->status_done = true; /* never started: nothing to wait for, the stream is unusable */
    return st;
}

int sp_rpc_stream_send(struct sp_rpc_stream *st, const uint8_t *msg, size_t len, int timeout_ms,
                       struct sp_err *err)
{
    SP_ASSERT(st != NULL && !st->send_pending);
    /* Has the stream ended? (A deadline in the past polls without waiting;
     * "now" would wait for gRPC's next millisecond tick.) */
    if (!st->status_done && grpc_completion_queue_pluck(st->cq, &st->tag_status,
                                                        gpr_inf_past(GPR_CLOCK_MONOTONIC), NULL)
                                    .type == GRPC_OP_COMPLETE)
        st->status_done = true;
    if (st->status_done)
        return sp_err_set(err, SP_ESP_UNAVAILABLE, "stream ended (status %d)", (int) st->status);
    st->msg = to_buffer(msg, len);
    grpc_op ops[2];
    memset(ops, 0, sizeof ops);
    int n = 0;
    if (!st->metadata_sent)
        ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[n].op = GRPC_OP_SEND_MESSAGE;
    ops[n++].data.send_message.send_message = st->msg;
    if (grpc_call_start_batch(st->call, ops, (size_t) n, &st->tag_send, NULL) != GRPC_CALL_OK) {
        grpc_byte_buffer_destroy(st->msg);
        st->msg = NULL;
        return sp_err_set(err, SP_ESP_UNAVAILABLE, "stream: cannot start a send");
    }
    st->metadata_sent = true;
    st->send_pending = true;
    /* Returns once gRPC took the message; HTTP/2 flow control holds it
     * while the receiver lags. Past the timeout the stream is given up. */
    gpr_timespec dl =
        gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_millis(timeout_ms, GPR_TIMESPAN));
    grpc_event ev = grpc_completion_queue_pluck(st->cq, &st->tag_send, dl, NULL);
    if (ev.type != GRPC_OP_COMPLETE)
        return sp_err_set(err, SP_ESP_UNAVAILABLE, "stream: send not taken within %d ms",
                          timeout_ms);
    st->send_pending = false;
    grpc_byte_buffer_destroy(st->msg);
    st->msg = NULL;
    if (!ev.success)
        return sp_err_set(err, SP_ESP_UNAVAILABLE, "stream: send failed (stream broken)");
    return 0;
}

void sp_rpc_stream_close(struct sp_rpc_stream *st)
{
    if (!st)
        return;
    grpc_call_cancel(st->call, NULL);
    gpr_timespec inf = gpr_inf_future(GPR_CLOCK_REALTIME);
    if (st->send_pending)
        grpc_completion_queue_pluck(st->cq, &st->tag_send, inf, NULL);
    if (!st->status_done)
        grpc_completion_queue_pluck(st->cq, &st->tag_status, inf, NULL);
    if (st->msg)
        grpc_byte_buffer_destroy(st->msg);
    grpc_metadata_array_destroy(&st->tm);
    grpc_slice_unref(st->details);
    if (st->error_string)
        gpr_free((void *) st->error_string);
    grpc_call_unref(st->call);
    grpc_completion_queue_shutdown(st->cq);
    grpc_completion_queue_pluck(st->cq, NULL, inf, NULL);
    grpc_completion_queue_destroy(st->cq);
    free(st);
}

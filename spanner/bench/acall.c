/*
 * acall.c - asynchronous unary gRPC calls on a completion queue, for the
 * targets' asynchronous interface (bench.h, start/next). One call is one
 * batch of six ops (send metadata, message, close; receive metadata,
 * message, status), so each call yields exactly one completion; the call
 * context is the tag. See shared/notes/grpc-c-core.md, section 4.
 *
 * Ownership: sp_bench__acall_start owns the request copy and the context
 * until sp_bench__acall_next returns that call's completion (or
 * sp_bench__acall_drain frees it at shutdown).
 */
#include "internal.h"
#include "sp_assert.h"

#include <grpc/byte_buffer_reader.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct acall {
    grpc_call *call;
    grpc_byte_buffer *req_bb, *resp_bb;
    grpc_metadata_array im, tm;
    grpc_status_code status;
    grpc_slice details;
    const char *error_string;
    int aux;
    void *user;
};

static void acall_free(struct acall *a)
{
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
}

int sp_bench__acall_start(grpc_completion_queue *cq, grpc_channel *ch, const char *path,
                          const uint8_t *req, size_t len, int timeout_ms, int aux, void *user,
                          struct sp_err *err)
{
    SP_ASSERT(cq != NULL && ch != NULL && path != NULL && timeout_ms > 0);
    struct acall *a = calloc(1, sizeof *a);
    if (!a)
        return sp_err_set(err, SP_ENOMEM, "acall: out of memory");
    gpr_timespec dl =
        gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_millis(timeout_ms, GPR_TIMESPAN));
    a->call = grpc_channel_create_call(ch, NULL, GRPC_PROPAGATE_DEFAULTS, cq,
                                       grpc_slice_from_static_string(path), NULL, dl, NULL);
    grpc_slice s = grpc_slice_from_copied_buffer((const char *) req, len);
    a->req_bb = grpc_raw_byte_buffer_create(&s, 1);
    grpc_slice_unref(s);
    grpc_metadata_array_init(&a->im);
    grpc_metadata_array_init(&a->tm);
    a->details = grpc_empty_slice();
    a->status = GRPC_STATUS_UNKNOWN;
    a->aux = aux;
    a->user = user;
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
    if (grpc_call_start_batch(a->call, ops, 6, a, NULL) != GRPC_CALL_OK) {
        acall_free(a);
        return sp_err_set(err, SP_ESP_UNAVAILABLE, "acall %s: cannot start", path);
    }
    return 0;
}

/* Copies the response into malloc'd memory (NULL when empty). */
static uint8_t *flatten(grpc_byte_buffer *bb, size_t *len)
{
    *len = 0;
    grpc_byte_buffer_reader r;
    if (!bb || !grpc_byte_buffer_reader_init(&r, bb))
        return NULL;
    grpc_slice s = grpc_byte_buffer_reader_readall(&r);
    grpc_byte_buffer_reader_destroy(&r);
    size_t n = GRPC_SLICE_LENGTH(s);
    uint8_t *out = n ? malloc(n) : NULL;
    if (out) {
        memcpy(out, GRPC_SLICE_START_PTR(s), n);
        *len = n;
    }
    grpc_slice_unref(s);
    return out;
}

int sp_bench__acall_next(grpc_completion_queue *cq, int timeout_ms, struct sp_bench_acall_done *d,
                         struct sp_err *err)
{
    SP_ASSERT(cq != NULL && d != NULL);
    gpr_timespec dl =
        gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_millis(timeout_ms, GPR_TIMESPAN));
    grpc_event ev = grpc_completion_queue_next(cq, dl, NULL);
    if (ev.type != GRPC_OP_COMPLETE)
        return 0; /* timeout (the queue is shut down only by drain) */
    struct acall *a = ev.tag;
    memset(d, 0, sizeof *d);
    d->aux = a->aux;
    d->user = a->user;
    if (a->status == GRPC_STATUS_OK) {
        d->resp = flatten(a->resp_bb, &d->resp_len);
    } else {
        char *msg = grpc_slice_to_c_string(a->details);
        d->code = a->status == GRPC_STATUS_UNAVAILABLE || a->status == GRPC_STATUS_DEADLINE_EXCEEDED
                      ? SP_ESP_UNAVAILABLE
                      : SP_ESP_PROTOCOL;
        sp_err_set(err, d->code, "status %d: %s", (int) a->status, msg);
        gpr_free(msg);
    }
    acall_free(a);
    return 1;
}

void sp_bench__acall_drain(grpc_completion_queue *cq)
{
    grpc_completion_queue_shutdown(cq);
    /* Bounded: every call has a deadline, so every tag comes back. */
    for (;;) {
        grpc_event ev = grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
        if (ev.type == GRPC_QUEUE_SHUTDOWN)
            break;
        if (ev.type == GRPC_OP_COMPLETE)
            acall_free(ev.tag);
    }
    grpc_completion_queue_destroy(cq);
}

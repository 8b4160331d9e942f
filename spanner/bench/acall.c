/*
 * acall.c - asynchronous unary gRPC calls on a completion queue, for the
 * targets' asynchronous interface (bench.h, start/next), on top of
 * spanner/common/rpc.h's sp_rpc_acall_*: each call yields exactly one completion,
 * whose tag is the call's context here. See shared/notes/grpc-c-core.md,
 * section 4.
 *
 * Ownership: sp_bench__acall_start owns the request copy and the context
 * until sp_bench__acall_next returns that call's completion (or
 * sp_bench__acall_drain frees it at shutdown).
 */
#include "internal.h"
#include "rpc.h"
#include "sp_assert.h"

#include <stdlib.h>
#include <string.h>

/* The tag of one call: spanner/common/rpc.h's asynchronous call and what the
 * target attached to it. */
struct acall {
    struct sp_rpc_acall *rpc;
    int aux;
    void *user;
};

int sp_bench__acall_start(grpc_completion_queue *cq, grpc_channel *ch, const char *path,
                          const uint8_t *req, size_t len, int timeout_ms, int aux, void *user,
                          struct sp_err *err)
{
    SP_ASSERT(cq != NULL && ch != NULL && path != NULL && timeout_ms > 0);
    struct acall *a = calloc(1, sizeof *a);
    if (!a)
        return sp_err_set(err, SP_ENOMEM, "acall: out of memory");
    a->aux = aux;
    a->user = user;
    a->rpc = sp_rpc_acall_start(ch, path, req, len, timeout_ms, cq, a);
    if (!a->rpc) {
        free(a);
        return sp_err_set(err, SP_ESP_UNAVAILABLE, "acall %s: cannot start", path);
    }
    return 0;
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
    d->code = sp_rpc_acall_finish(a->rpc, &d->resp, &d->resp_len, err);
    free(a);
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
        if (ev.type == GRPC_OP_COMPLETE) {
            struct acall *a = ev.tag;
            sp_rpc_acall_finish(a->rpc, NULL, NULL, NULL);
            free(a);
        }
    }
    grpc_completion_queue_destroy(cq);
}

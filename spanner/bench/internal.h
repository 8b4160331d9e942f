/*
 * internal.h - helpers shared by the files of spanner/bench; not part of
 * the module's manual (bench.h).
 */
#ifndef SP_BENCH_INTERNAL_H
#define SP_BENCH_INTERNAL_H

#include "bench.h"
#include "rpc.h"

#define SP_BENCH_ECHO_PATH "/spanner.bench.Echo/Echo"

/* Starts an in-process gRPC server on 127.0.0.1 (ephemeral port) that
 * answers SP_BENCH_ECHO_PATH with the request bytes. *addr gets
 * "127.0.0.1:PORT". Stop it with sp_rpc_server_destroy. Returns 0 or
 * SP_EIO / SP_ENOMEM. */
int sp_bench__echo_start(int threads, struct sp_rpc_server **out, char *addr, size_t addr_len,
                         struct sp_err *err);

long long sp_bench__mono_ns(void);

/* Asynchronous unary calls (acall.c), for targets' start/next. */
struct sp_bench_acall_done {
    int code;      /* 0, SP_ESP_UNAVAILABLE (down, deadline) or SP_ESP_PROTOCOL */
    int aux;       /* as given to start (the target's own use) */
    void *user;    /* as given to start */
    uint8_t *resp; /* malloc'd response bytes when code == 0; caller frees */
    size_t resp_len;
};
/* Starts one call on cq; its completion comes from sp_bench__acall_next.
 * Returns 0, SP_ENOMEM or SP_ESP_UNAVAILABLE (not started). */
int sp_bench__acall_start(grpc_completion_queue *cq, grpc_channel *ch, const char *path,
                          const uint8_t *req, size_t len, int timeout_ms, int aux, void *user,
                          struct sp_err *err);
/* Waits up to timeout_ms for one completion: 1 with *d filled (err set
 * when d->code != 0), 0 on timeout. One thread at a time per queue. */
int sp_bench__acall_next(grpc_completion_queue *cq, int timeout_ms, struct sp_bench_acall_done *d,
                         struct sp_err *err);
/* Shuts cq down, frees the calls still in flight (each has a deadline,
 * so this ends), destroys cq. */
void sp_bench__acall_drain(grpc_completion_queue *cq);

#endif /* SP_BENCH_INTERNAL_H */

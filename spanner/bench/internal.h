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

#endif /* SP_BENCH_INTERNAL_H */

/*
 * echo.c - an in-process loopback echo service, and the `echo` target
 * built on it.
 *
 * The echo service is the floor of any gRPC-based target on this machine:
 * one unary round trip through the same gRPC layer (spanner/common/rpc.h) that
 * our servers and clients use, with no disk and no consensus. The `echo`
 * target drives it with the full bench loop, which measures the tool's own
 * overhead; it is also what the tool's tests run without any cluster.
 */
#include "internal.h"
#include "sp_assert.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

long long sp_bench__mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long) ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void echo_handler(void *ctx, struct sp_rpc_call *call, const uint8_t *req, size_t len)
{
    (void) ctx;
    sp_rpc_reply(call, GRPC_STATUS_OK, req, len, NULL);
}

int sp_bench__echo_start(int threads, struct sp_rpc_server **out, char *addr, size_t addr_len,
                         struct sp_err *err)
{
    SP_ASSERT(out != NULL && addr != NULL && threads >= 1);
    struct sp_rpc_server *s = NULL;
    int rc = sp_rpc_server_create("127.0.0.1:0", &s, err);
    if (rc)
        return sp_err_wrap(err, "echo server");
    rc = sp_rpc_server_add_method(s, SP_BENCH_ECHO_PATH, echo_handler, NULL);
    if (rc == 0)
        rc = sp_rpc_server_start(s, threads, err);
    if (rc) {
        sp_rpc_server_destroy(s);
        return sp_err_set(err, rc, "echo server: cannot start");
    }
    snprintf(addr, addr_len, "127.0.0.1:%d", sp_rpc_server_port(s));
    *out = s;
    return 0;
}

/* The echo target: the server lives as long as the connection. */
struct echo_conn {
    struct sp_rpc_server *server;
    grpc_channel *ch;
    grpc_completion_queue *cq; /* asynchronous calls */
    int timeout_ms;
};

static int echo_connect(const char *endpoints, const struct sp_bench_config *cfg, void **conn,
                        struct sp_err *err)
{
    (void) endpoints; /* always in-process */
    struct echo_conn *c = calloc(1, sizeof *c);
    if (!c)
        return sp_err_set(err, SP_ENOMEM, "echo: out of memory");
    char addr[64];
    sp_rpc_init();
    int rc = sp_bench__echo_start(2, &c->server, addr, sizeof addr, err);
    if (rc) {
        sp_rpc_shutdown();
        free(c);
        return rc;
    }
    c->ch = sp_rpc_channel(addr);
    c->cq = grpc_completion_queue_create_for_next(NULL);
    c->timeout_ms = cfg->timeout_ms;
    *conn = c;
    return 0;
}

/* A put carries key and value, a get only the key, as a store's would.
 * Returns the request length; buf holds SP_BENCH_KEY_MAX + 4096 bytes
 * (larger values are cut: the echo measures the transport, not copies). */
static size_t echo_request(uint8_t *buf, enum sp_bench_op kind, const uint8_t *key, size_t key_len,
                           const uint8_t *value, size_t value_len)
{
    size_t vl = kind == SP_BENCH_PUT ? value_len : 0;
    if (vl > 4096)
        vl = 4096;
    memcpy(buf, key, key_len);
    if (vl)
        memcpy(buf + key_len, value, vl);
    return key_len + vl;
}

static int echo_op(void *conn, enum sp_bench_op kind, const uint8_t *key, size_t key_len,
                   const uint8_t *value, size_t value_len, struct sp_bench_op_info *info,
                   struct sp_err *err)
{
    struct echo_conn *c = conn;
    (void) info;
    uint8_t buf[SP_BENCH_KEY_MAX + 4096], *resp = NULL;
    size_t len = echo_request(buf, kind, key, key_len, value, value_len), resp_len = 0;
    int rc = sp_rpc_call(c->ch, SP_BENCH_ECHO_PATH, buf, len, c->timeout_ms, &resp, &resp_len, err);
    if (rc == 0 && resp_len != len)
        rc = sp_err_set(err, SP_ESP_PROTOCOL, "echo: %zu bytes back for %zu", resp_len, len);
    free(resp);
    return rc;
}

static int echo_start(void *conn, enum sp_bench_op kind, const uint8_t *key, size_t key_len,
                      const uint8_t *value, size_t value_len, void *tag, struct sp_err *err)
{
    struct echo_conn *c = conn;
    uint8_t buf[SP_BENCH_KEY_MAX + 4096];
    size_t len = echo_request(buf, kind, key, key_len, value, value_len);
    return sp_bench__acall_start(c->cq, c->ch, SP_BENCH_ECHO_PATH, buf, len, c->timeout_ms,
                                 (int) len, tag, err);
}

static int echo_next(void *conn, int timeout_ms, void **tag, int *code,
                     struct sp_bench_op_info *info, struct sp_err *err)
{
    struct echo_conn *c = conn;
    struct sp_bench_acall_done d;
    (void) info;
    if (!sp_bench__acall_next(c->cq, timeout_ms, &d, err))
        return 0;
    *tag = d.user;
    *code = d.code;
    if (d.code == 0 && d.resp_len != (size_t) d.aux)
        *code = sp_err_set(err, SP_ESP_PROTOCOL, "echo: %zu bytes back for %d", d.resp_len, d.aux);
    free(d.resp);
    return 1;
}

static void echo_close(void *conn)
{
    struct echo_conn *c = conn;
    sp_bench__acall_drain(c->cq);
    grpc_channel_destroy(c->ch);
    sp_rpc_server_destroy(c->server);
    sp_rpc_shutdown();
    free(c);
}

const struct sp_bench_target sp_bench__target_echo = {
    .name = "echo",
    .about = "in-process loopback gRPC echo: the tool's own floor (no disk, no replication)",
    .ops_supported =
        SP_BENCH_BIT(SP_BENCH_PUT) | SP_BENCH_BIT(SP_BENCH_GET) | SP_BENCH_BIT(SP_BENCH_GET_SERIAL),
    .connect = echo_connect,
    .op = echo_op,
    .close = echo_close,
    .start = echo_start,
    .next = echo_next,
};

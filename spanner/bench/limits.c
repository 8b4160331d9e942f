/*
 * limits.c - the machine's floor for a replicated durable write on one
 * host (issue 7): the latency of fdatasync after a small append, and of one
 * loopback gRPC unary round trip through spanner/common/rpc.h. A leader that
 * must fsync its log and hear from one follower (which fsyncs too) cannot
 * commit faster than about fsync + round trip + fsync, whatever the
 * protocol; figures far above that floor point at software, not hardware.
 *
 * A third probe is the disk as three replicas on this one host see it: the
 * latency of the same append and fdatasync while SP_BENCH_FSYNC_WRITERS
 * threads do it at once, each on its own file (every fdatasync is a cache
 * flush of the one device, so they wait for each other).
 *
 * Every probe is bounded by a sample count and by time, whichever first.
 */
#include "internal.h"
#include "sp_assert.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FSYNC_SAMPLES   500
#define FSYNC_BUDGET_NS (5 * 1000000000LL)
#define FSYNC_APPEND    256
#define RPC_WARMUP      50
#define RPC_SAMPLES     3000
#define RPC_BUDGET_NS   (5 * 1000000000LL)

static int fsync_probe(const char *dir, int samples, struct sp_bench_hist *h, struct sp_err *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/spanner-bench-fsync-XXXXXX", dir);
    int fd = mkstemp(path);
    if (fd < 0)
        return sp_err_set(err, SP_EIO, "fsync probe: %s: %s", path, strerror(errno));
    uint8_t buf[FSYNC_APPEND];
    memset(buf, 'x', sizeof buf);
    int rc = 0;
    long long end_ns = sp_bench__mono_ns() + FSYNC_BUDGET_NS;
    for (int i = 0; i < samples && sp_bench__mono_ns() < end_ns; i++) {
        long long t0 = sp_bench__mono_ns();
        if (write(fd, buf, sizeof buf) != (ssize_t) sizeof buf || fdatasync(fd) != 0) {
            rc = sp_err_set(err, SP_EIO, "fsync probe: %s: %s", path, strerror(errno));
            break;
        }
        sp_bench_hist_record(h, (uint64_t) (sp_bench__mono_ns() - t0));
    }
    close(fd);
    unlink(path);
    return rc;
}

struct fsync_writer {
    const char *dir;
    struct sp_bench_hist h;
    int rc;
    struct sp_err err;
};

static void *fsync_writer_run(void *arg)
{
    struct fsync_writer *w = arg;
    w->rc = fsync_probe(w->dir, FSYNC_SAMPLES / SP_BENCH_FSYNC_WRITERS, &w->h, &w->err);
    return NULL;
}

/* SP_BENCH_FSYNC_WRITERS fsync probes at once, their samples merged into h. */
static int fsync_shared_probe(const char *dir, struct sp_bench_hist *h, struct sp_err *err)
{
    struct fsync_writer *w = calloc(SP_BENCH_FSYNC_WRITERS, sizeof *w);
    pthread_t th[SP_BENCH_FSYNC_WRITERS];
    bool started[SP_BENCH_FSYNC_WRITERS] = {false};
    if (!w)
        return sp_err_set(err, SP_ENOMEM, "limits: out of memory");
    int rc = 0;
    for (int i = 0; i < SP_BENCH_FSYNC_WRITERS; i++) {
        w[i].dir = dir;
        sp_bench_hist_init(&w[i].h);
        started[i] = pthread_create(&th[i], NULL, fsync_writer_run, &w[i]) == 0;
        if (!started[i] && rc == 0)
            rc = sp_err_set(err, SP_ENOMEM, "fsync probe: cannot start writer %d", i);
    }
    for (int i = 0; i < SP_BENCH_FSYNC_WRITERS; i++) {
        if (!started[i])
            continue;
        pthread_join(th[i], NULL);
        sp_bench_hist_merge(h, &w[i].h);
        if (w[i].rc && rc == 0) {
            rc = w[i].rc;
            if (err)
                *err = w[i].err;
        }
    }
    free(w);
    return rc;
}

static int rpc_probe(struct sp_bench_hist *h, struct sp_err *err)
{
    struct sp_rpc_server *s = NULL;
    char addr[64];
    sp_rpc_init();
    int rc = sp_bench__echo_start(1, &s, addr, sizeof addr, err);
    if (rc) {
        sp_rpc_shutdown();
        return rc;
    }
    grpc_channel *ch = sp_rpc_channel(addr);
    uint8_t req[8] = "12345678";
    long long end_ns = sp_bench__mono_ns() + RPC_BUDGET_NS;
    /* The warm-up connects the channel; its calls are not recorded. */
    for (int i = 0; rc == 0 && i < RPC_WARMUP + RPC_SAMPLES && sp_bench__mono_ns() < end_ns; i++) {
        uint8_t *resp = NULL;
        size_t resp_len = 0;
        long long t0 = sp_bench__mono_ns();
        rc = sp_rpc_call(ch, SP_BENCH_ECHO_PATH, req, sizeof req, 2000, &resp, &resp_len, err);
        long long latency_ns = sp_bench__mono_ns() - t0;
        free(resp);
        if (rc == 0 && i >= RPC_WARMUP)
            sp_bench_hist_record(h, (uint64_t) latency_ns);
    }
    grpc_channel_destroy(ch);
    sp_rpc_server_destroy(s);
    sp_rpc_shutdown();
    return rc ? sp_err_wrap(err, "loopback rpc probe") : 0;
}

int sp_bench_limits_measure(const char *dir, struct sp_bench_limits *out, struct sp_err *err)
{
    SP_ASSERT(dir != NULL && out != NULL);
    memset(out, 0, sizeof *out);
    struct sp_bench_hist *h = malloc(sizeof *h);
    if (!h)
        return sp_err_set(err, SP_ENOMEM, "limits: out of memory");
    sp_bench_hist_init(h);
    int rc = fsync_probe(dir, FSYNC_SAMPLES, h, err);
    out->fsync_p50_ns = sp_bench_hist_percentile(h, 50);
    out->fsync_p99_ns = sp_bench_hist_percentile(h, 99);
    out->fsync_n = h->count;
    if (rc == 0) {
        sp_bench_hist_init(h);
        rc = fsync_shared_probe(dir, h, err);
        out->fsync_shared_p50_ns = sp_bench_hist_percentile(h, 50);
        out->fsync_shared_p99_ns = sp_bench_hist_percentile(h, 99);
        out->fsync_shared_n = h->count;
    }
    if (rc == 0) {
        sp_bench_hist_init(h);
        rc = rpc_probe(h, err);
        out->rpc_p50_ns = sp_bench_hist_percentile(h, 50);
        out->rpc_p99_ns = sp_bench_hist_percentile(h, 99);
        out->rpc_n = h->count;
    }
    free(h);
    return rc;
}

/*
 * paxoslog.c - the `paxos-log` target: our replicated durable write today,
 * before the transactional store exists. A put is one Propose to a
 * 3-replica paxos-node group (group 1) whose state machine is the log: the
 * proposal (key then value) is committed when a majority has it on disk
 * (fsync on) and the leader answers. Reads are not supported (the log has
 * no key lookup); the `spanner` target will bring them.
 *
 * Endpoints: "1=127.0.0.1:7001,2=127.0.0.1:7002,3=127.0.0.1:7003" for a
 * running group, or "" to start a local one: three paxos-node processes on
 * free loopback ports with data under cfg->dir, stopped by close (and
 * killed with the tool if it dies: sp_proc_spawn sets the death signal).
 *
 * Closed loop: plog_propose follows the leader itself; those internal
 * attempts are not visible, so the table shows no retries for it. Async:
 * proposals go to the believed leader directly and a refusal is a retry
 * the runner counts.
 */
#include "internal.h"
#include "plog_client.h"
#include "procs.h"
#include "sp_assert.h"

#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PLOG_GROUP          1
#define PLOG_REPLICAS       3
#define PLOG_LEADER_WAIT_MS 20000
#define PLOG_PROPOSE_PATH   "/spanner.paxoslog.Log/Propose"

struct plog_conn {
    struct plog_client client;
    grpc_completion_queue *cq; /* asynchronous proposals */
    int timeout_ms;
    int local; /* we started the replicas */
    pid_t pids[PLOG_REPLICAS];
    char dir[PATH_MAX];
};

/* paxos-node next to this binary, else where the build put it. */
static void node_binary(char *out, size_t len)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) {
        self[n] = '\0';
        char *slash = strrchr(self, '/');
        if (slash) {
            *slash = '\0';
            snprintf(out, len, "%.4000s/paxos-node", self);
            if (access(out, X_OK) == 0)
                return;
        }
    }
    snprintf(out, len, "%s", SP_BENCH_PAXOS_NODE);
}

/* Same flags as paxos-bench and scripts/bench-vs-etcd: fsync on (no
 * --nosync), a 2 s lease, TrueTime fixed at 500 us of uncertainty. */
static int start_replica(struct plog_conn *c, const char *bin, const int *ports, int i)
{
    char id[16], listen[32], data[PATH_MAX], log[PATH_MAX], peers[PLOG_REPLICAS][48];
    snprintf(id, sizeof id, "%d", i + 1);
    snprintf(listen, sizeof listen, "127.0.0.1:%d", ports[i]);
    snprintf(data, sizeof data, "%.4000s/n%d", c->dir, i + 1);
    snprintf(log, sizeof log, "%.4000s/n%d.log", c->dir, i + 1);
    char *argv[24] = {
        (char *) bin, "--id", id,     "--listen",      listen, "--data",          data,
        "--lease-ms", "2000", "--tt", "backend=fixed", "--tt", "fixed_eps_us=500"};
    int a = 13;
    for (int j = 0, k = 0; j < PLOG_REPLICAS; j++) {
        if (j == i)
            continue;
        snprintf(peers[k], sizeof peers[k], "%d=127.0.0.1:%d", j + 1, ports[j]);
        argv[a++] = "--peer";
        argv[a++] = peers[k++];
    }
    argv[a] = NULL;
    c->pids[i] = sp_proc_spawn(argv, log);
    return c->pids[i] > 0 ? 0 : SP_EIO;
}

static int start_local(struct plog_conn *c, const struct sp_bench_config *cfg, char *endpoints,
                       size_t len, struct sp_err *err)
{
    char bin[PATH_MAX];
    node_binary(bin, sizeof bin);
    snprintf(c->dir, sizeof c->dir, "%s/spanner-bench-plog-XXXXXX", cfg->dir ? cfg->dir : "/tmp");
    if (!mkdtemp(c->dir))
        return sp_err_set(err, SP_EIO, "paxos-log: cannot create %s", c->dir);
    c->local = 1;
    int ports[PLOG_REPLICAS];
    size_t used = 0;
    for (int i = 0; i < PLOG_REPLICAS; i++) {
        ports[i] = sp_free_tcp_port();
        if (ports[i] < 0)
            return sp_err_set(err, SP_EIO, "paxos-log: no free loopback port");
        used += (size_t) snprintf(endpoints + used, len - used, "%s%d=127.0.0.1:%d", i ? "," : "",
                                  i + 1, ports[i]);
        SP_ASSERT(used < len);
    }
    for (int i = 0; i < PLOG_REPLICAS; i++)
        if (start_replica(c, bin, ports, i))
            return sp_err_set(err, SP_EIO, "paxos-log: cannot start %s (logs in %s)", bin, c->dir);
    return 0;
}

static void stop_local(struct plog_conn *c)
{
    for (int i = 0; i < PLOG_REPLICAS; i++)
        if (c->pids[i] > 0)
            sp_proc_stop(c->pids[i], SIGTERM, 5000);
    if (c->local && c->dir[0]) {
        char cmd[PATH_MAX + 16];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", c->dir);
        if (system(cmd) != 0)
            fprintf(stderr, "paxos-log: could not remove %s\n", c->dir);
    }
}

static int wait_leader(struct plog_conn *c, struct sp_err *err)
{
    long long end_ms = sp_mono_ms() + PLOG_LEADER_WAIT_MS;
    while (sp_mono_ms() < end_ms) {
        if (plog_find_leader(&c->client, PLOG_GROUP) >= 0)
            return 0;
        usleep(50 * 1000);
    }
    return sp_err_set(err, SP_ETIMEDOUT, "paxos-log: no leader for group %d within %d ms",
                      PLOG_GROUP, PLOG_LEADER_WAIT_MS);
}

static int plog_connect(const char *endpoints, const struct sp_bench_config *cfg, void **conn,
                        struct sp_err *err)
{
    struct plog_conn *c = calloc(1, sizeof *c);
    if (!c)
        return sp_err_set(err, SP_ENOMEM, "paxos-log: out of memory");
    char local_eps[256];
    int rc = 0;
    if (!endpoints || !endpoints[0]) {
        rc = start_local(c, cfg, local_eps, sizeof local_eps, err);
        endpoints = local_eps;
    }
    if (rc == 0 && (rc = plog_open(endpoints, &c->client, err)) != 0)
        sp_err_wrap(err, "paxos-log");
    if (rc == 0) {
        rc = wait_leader(c, err);
        if (rc)
            plog_close(&c->client);
    }
    if (rc) {
        stop_local(c);
        free(c);
        return rc;
    }
    c->cq = grpc_completion_queue_create_for_next(NULL);
    c->timeout_ms = cfg->timeout_ms;
    *conn = c;
    return 0;
}

static int plog_op(void *conn, enum sp_bench_op kind, const uint8_t *key, size_t key_len,
                   const uint8_t *value, size_t value_len, struct sp_bench_op_info *info,
                   struct sp_err *err)
{
    struct plog_conn *c = conn;
    (void) info;
    if (kind != SP_BENCH_PUT)
        return sp_err_set(err, SP_EINVAL, "paxos-log: only put is supported");
    uint8_t stack[SP_BENCH_KEY_MAX + 512], *buf = stack;
    size_t len = key_len + value_len;
    if (len > sizeof stack && !(buf = malloc(len)))
        return sp_err_set(err, SP_ENOMEM, "paxos-log: out of memory");
    memcpy(buf, key, key_len);
    memcpy(buf + key_len, value, value_len);
    uint64_t slot;
    int rc = plog_propose(&c->client, PLOG_GROUP, buf, len, c->timeout_ms, &slot, err);
    if (buf != stack)
        free(buf);
    return rc;
}

/*
 * Asynchronous proposals go straight to the node believed to lead (the
 * client's shared guess). A refusal moves the guess to the hinted leader
 * or the next node, as plog_propose does, and comes back as
 * SP_EPAXOS_NOT_LEADER, which the runner retries (counted as a retry).
 */
static void move_leader(struct plog_conn *c, uint32_t i, uint32_t hint_id)
{
    struct plog_client *pc = &c->client;
    uint32_t next = (i + 1) % pc->n;
    for (uint32_t j = 0; j < pc->n; j++)
        if (hint_id != 0 && pc->ids[j] == hint_id && j != i)
            next = j;
    atomic_compare_exchange_strong(&pc->leader, &i, next);
}

static int plog_start(void *conn, enum sp_bench_op kind, const uint8_t *key, size_t key_len,
                      const uint8_t *value, size_t value_len, void *tag, struct sp_err *err)
{
    struct plog_conn *c = conn;
    if (kind != SP_BENCH_PUT)
        return sp_err_set(err, SP_EINVAL, "paxos-log: only put is supported");
    Spanner__Paxoslog__ProposeRequest req = SPANNER__PAXOSLOG__PROPOSE_REQUEST__INIT;
    req.group = PLOG_GROUP;
    req.data.len = key_len + value_len;
    req.data.data = malloc(req.data.len);
    size_t len = spanner__paxoslog__propose_request__get_packed_size(&req);
    uint8_t *buf = malloc(len);
    int rc = SP_ENOMEM;
    if (req.data.data && buf) {
        memcpy(req.data.data, key, key_len);
        memcpy(req.data.data + key_len, value, value_len);
        spanner__paxoslog__propose_request__pack(&req, buf);
        uint32_t i = atomic_load(&c->client.leader) % c->client.n;
        rc = sp_bench__acall_start(c->cq, c->client.ch[i], PLOG_PROPOSE_PATH, buf, len,
                                   c->timeout_ms, (int) i, tag, err);
    } else {
        sp_err_set(err, rc, "paxos-log: out of memory");
    }
    free(req.data.data);
    free(buf);
    return rc;
}

static int propose_reply(struct plog_conn *c, uint32_t i, const uint8_t *resp, size_t len,
                         struct sp_err *err)
{
    Spanner__Paxoslog__ProposeReply *rep =
        spanner__paxoslog__propose_reply__unpack(NULL, len, resp);
    if (!rep)
        return SP_CORRUPT(err, "paxos-log: malformed ProposeReply");
    int rc = 0;
    if (!rep->ok && rep->retryable) {
        move_leader(c, i, rep->leader_hint);
        rc = sp_err_set(err, SP_EPAXOS_NOT_LEADER, "node %u: %s", c->client.ids[i], rep->error);
    } else if (!rep->ok) {
        rc = sp_err_set(err, strstr(rep->error, "unknown") ? SP_ETXN_UNKNOWN : SP_EINVAL,
                        "node %u: %s", c->client.ids[i], rep->error);
    }
    spanner__paxoslog__propose_reply__free_unpacked(rep, NULL);
    return rc;
}

static int plog_next(void *conn, int timeout_ms, void **tag, int *code,
                     struct sp_bench_op_info *info, struct sp_err *err)
{
    struct plog_conn *c = conn;
    struct sp_bench_acall_done d;
    (void) info; /* a refusal is retried by the runner, which counts it */
    if (!sp_bench__acall_next(c->cq, timeout_ms, &d, err))
        return 0;
    SP_ASSERT(d.aux >= 0 && (uint32_t) d.aux < c->client.n);
    *tag = d.user;
    if (d.code) {
        if (d.code == SP_ESP_UNAVAILABLE) /* that node is down: try the next */
            move_leader(c, (uint32_t) d.aux, 0);
        *code = sp_err_wrap(err, "paxos-log node %u", c->client.ids[d.aux]);
    } else {
        *code = propose_reply(c, (uint32_t) d.aux, d.resp, d.resp_len, err);
    }
    free(d.resp);
    return 1;
}

static void plog_target_close(void *conn)
{
    struct plog_conn *c = conn;
    sp_bench__acall_drain(c->cq);
    plog_close(&c->client);
    stop_local(c);
    free(c);
}

const struct sp_bench_target sp_bench__target_paxos_log = {
    .name = "paxos-log",
    .about = "3-replica paxos-node group, Propose = durable replicated write (puts only); "
             "no --endpoints: starts a local group",
    .ops_supported = SP_BENCH_BIT(SP_BENCH_PUT),
    .connect = plog_connect,
    .op = plog_op,
    .close = plog_target_close,
    .start = plog_start,
    .next = plog_next,
};

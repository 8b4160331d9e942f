/*
 * test_paxos_procs.c - the Paxos core across real processes over gRPC on
 * loopback (issue 3): three paxos-node processes commit a stream of
 * entries; kill -9 of the leader; a new leader takes over once the lease
 * has expired; no acknowledged entry is lost; the old leader rejoins and
 * catches up; SIGTERM stops a node cleanly; a corrupt record makes a node
 * refuse to serve.
 */
#include <rocksdb/c.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "plog_client.h"
#include "procs.h"
#include "sp_test.h"
#include "paxos_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* True if the file contains needle. */
static int file_contains(const char *path, const char *needle)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    char line[1024];
    int found = 0;
    while (!found && fgets(line, sizeof line, f))
        found = strstr(line, needle) != NULL;
    fclose(f);
    return found;
}

#define N        3
#define LEASE_MS 1000

struct cluster {
    char dir[64];
    int ports[N];
    pid_t pids[N];
    char endpoints[256];
    struct plog_client c;
};

static void node_start(struct cluster *cl, int i)
{
    char id[16], listen[32], data[128], log[128], lease[16];
    char peers[N - 1][48];
    snprintf(id, sizeof id, "%d", i + 1);
    snprintf(listen, sizeof listen, "127.0.0.1:%d", cl->ports[i]);
    snprintf(data, sizeof data, "%s/n%d", cl->dir, i + 1);
    snprintf(log, sizeof log, "%s/n%d.log", cl->dir, i + 1);
    snprintf(lease, sizeof lease, "%d", LEASE_MS);
    char *argv[32] = {
        PAXOS_NODE_BIN,    "--id",  id,           "--listen", listen, "--data",        data,
        "--voters",        "1,2,3", "--lease-ms", lease,      "--tt", "backend=fixed", "--tt",
        "fixed_eps_us=500"};
    int a = 15;
    for (int j = 0, k = 0; j < N; j++) {
        if (j == i)
            continue;
        snprintf(peers[k], sizeof peers[k], "%d=127.0.0.1:%d", j + 1, cl->ports[j]);
        argv[a++] = "--peer";
        argv[a++] = peers[k++];
    }
    argv[a] = NULL;
    cl->pids[i] = sp_proc_spawn(argv, log);
    assert_true(cl->pids[i] > 0);
}

static int setup(void **state)
{
    static struct cluster cl;
    snprintf(cl.dir, sizeof cl.dir, "/tmp/paxos-procs-XXXXXX");
    if (!mkdtemp(cl.dir))
        return -1;
    char *p = cl.endpoints;
    for (int i = 0; i < N; i++) {
        cl.ports[i] = sp_free_tcp_port();
        p += sprintf(p, "%s%d=127.0.0.1:%d", i ? "," : "", i + 1, cl.ports[i]);
    }
    for (int i = 0; i < N; i++)
        node_start(&cl, i);
    struct sp_err err = {0};
    if (plog_open(cl.endpoints, &cl.c, &err) != 0)
        return -1;
    *state = &cl;
    return 0;
}

static int teardown(void **state)
{
    struct cluster *cl = *state;
    for (int i = 0; i < N; i++)
        sp_proc_stop(cl->pids[i], SIGKILL, 1000);
    plog_close(&cl->c);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", cl->dir);
    return system(cmd) == 0 ? 0 : -1;
}

static int await_leader(struct cluster *cl, int timeout_ms)
{
    long long end = sp_mono_ms() + timeout_ms;
    while (sp_mono_ms() < end) {
        int l = plog_find_leader(&cl->c, 1);
        if (l >= 0)
            return l;
        usleep(50000);
    }
    fail_msg("no leader within %d ms", timeout_ms);
    return -1;
}

struct acked {
    char data[32];
    uint64_t slot;
};

static void propose_stream(struct cluster *cl, const char *prefix, int count, struct acked *out)
{
    for (int i = 0; i < count; i++) {
        snprintf(out[i].data, sizeof out[i].data, "%s%d", prefix, i);
        struct sp_err err = {0};
        int rc =
            plog_propose(&cl->c, 1, out[i].data, strlen(out[i].data), 20000, &out[i].slot, &err);
        if (rc)
            fail_msg("proposal %s: %s", out[i].data, err.msg);
    }
}

struct logcopy {
    int n;
    uint64_t slot[4096];
    char data[4096][32];
};

static void collect(void *ctx, uint64_t slot, uint32_t index, const uint8_t *data, size_t len)
{
    (void) index;
    struct logcopy *l = ctx;
    assert_true(l->n < 4096 && len > 8 && len - 8 < 32);
    l->slot[l->n] = slot;
    memcpy(l->data[l->n], data + 8, len - 8);
    l->data[l->n][len - 8] = '\0';
    l->n++;
}

static uint64_t applied_of(struct cluster *cl, int i)
{
    Spanner__Paxoslog__StatusReply *st;
    if (plog_status(&cl->c, (uint32_t) i, &st, NULL) != 0)
        return 0;
    uint64_t a = st->n_groups ? st->groups[0]->applied : 0;
    spanner__paxoslog__status_reply__free_unpacked(st, NULL);
    return a;
}

/* Waits until every node has applied at least `slot`. */
static void await_applied(struct cluster *cl, uint64_t slot, int timeout_ms)
{
    long long end = sp_mono_ms() + timeout_ms;
    for (int i = 0; i < N; i++)
        while (applied_of(cl, i) < slot) {
            if (sp_mono_ms() > end)
                fail_msg("node %d applied %llu < %llu after %d ms", i + 1,
                         (unsigned long long) applied_of(cl, i), (unsigned long long) slot,
                         timeout_ms);
            usleep(50000);
        }
}

static void check_logs(struct cluster *cl, const struct acked *acked, int n_acked)
{
    static struct logcopy logs[N];
    for (int i = 0; i < N; i++) {
        memset(&logs[i], 0, sizeof logs[i]);
        assert_int_equal(plog_read(&cl->c, (uint32_t) i, 1, collect, &logs[i], NULL), 0);
    }
    /* every replica applied the same sequence */
    for (int i = 1; i < N; i++) {
        assert_int_equal(logs[i].n, logs[0].n);
        for (int k = 0; k < logs[0].n; k++) {
            assert_int_equal(logs[i].slot[k], logs[0].slot[k]);
            assert_string_equal(logs[i].data[k], logs[0].data[k]);
        }
    }
    /* every acknowledged proposal is there, at the slot it was acked with */
    for (int a = 0; a < n_acked; a++) {
        int found = 0;
        for (int k = 0; k < logs[0].n && !found; k++)
            found = logs[0].slot[k] == acked[a].slot && !strcmp(logs[0].data[k], acked[a].data);
        if (!found)
            fail_msg("acknowledged %s at slot %llu is missing", acked[a].data,
                     (unsigned long long) acked[a].slot);
    }
}

static void test_kill_leader_failover_rejoin(void **state)
{
    struct cluster *cl = *state;
    static struct acked acked[500];
    int leader = await_leader(cl, 15000);
    propose_stream(cl, "a", 300, acked);

    sp_proc_stop(cl->pids[leader], SIGKILL, 1000);
    cl->pids[leader] = 0;
    long long t0 = sp_mono_ms();
    propose_stream(cl, "b", 1, acked + 300);
    long long takeover_ms = sp_mono_ms() - t0;
    int next = await_leader(cl, 15000);
    assert_int_not_equal(next, leader);
    print_message("new leader node %d serving %lld ms after kill -9 (lease %d ms)\n", next + 1,
                  takeover_ms, LEASE_MS);
    propose_stream(cl, "c", 199, acked + 301);

    node_start(cl, leader); /* the old leader rejoins and catches up */
    await_applied(cl, acked[499].slot, 30000);
    check_logs(cl, acked, 500);
}

/* SIGTERM stops a node cleanly (exit 0); a garbled hard-state record makes
 * it refuse to start, naming the corruption, while the others serve on. */
static void test_clean_stop_and_corruption(void **state)
{
    struct cluster *cl = *state;
    int victim = (await_leader(cl, 15000) + 1) % N;
    int status = sp_proc_stop(cl->pids[victim], SIGTERM, 10000);
    cl->pids[victim] = 0;
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);

    char path[128];
    snprintf(path, sizeof path, "%s/n%d/db", cl->dir, victim + 1);
    struct paxos_store *s;
    assert_int_equal(paxos_store_open(path, true, &s, NULL), 0);
    uint8_t key[10] = {'P', 0, 0, 0, 0, 0, 0, 0, 1, 'H'};
    char *e = NULL;
    rocksdb_writeoptions_t *wo = rocksdb_writeoptions_create();
    rocksdb_put(paxos_store_db(s), wo, (const char *) key, sizeof key, "garbage", 7, &e);
    rocksdb_writeoptions_destroy(wo);
    assert_null(e);
    paxos_store_close(s);

    char log[128];
    snprintf(log, sizeof log, "%s/n%d.log", cl->dir, victim + 1);
    node_start(cl, victim);
    status = sp_proc_wait_exit(cl->pids[victim], 10000);
    cl->pids[victim] = 0;
    assert_true(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) != 0);
    assert_true(file_contains(log, "refusing to serve"));
    assert_true(file_contains(log, "hard state: bad length 7 or checksum"));

    struct acked more[5];
    propose_stream(cl, "d", 5, more); /* two of three still commit */
}

int main(void)
{
    sp_test_route_asserts();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kill_leader_failover_rejoin),
        cmocka_unit_test(test_clean_stop_and_corruption),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

/*
 * test_cluster.c - a 3-zone cluster of spannerd processes on loopback
 * (issue 5): a transaction across groups commits and strong reads from
 * every zone see it; stale reads respect their bound; a read-write conflict
 * wounds the younger transaction; kill -9 of a leader: a new leader serves
 * within the lease plus an election and no acknowledged write is lost; the
 * restarted node catches up; a Requests call answers each request in it, in
 * order; concurrent requests of one client share calls and each gets its
 * own reply; malformed client input gives clear errors and changes nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "client_int.h"
#include "cluster_fx.h"
#include "procs.h"
#include "rpc.h"
#include "sp_test.h"
#include "txn_codec.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define LEASE_MS 1000

struct fx {
    struct cluster_fx cl;
    struct sp_client *c[3]; /* clients in zones us, eu, asia */
};

static const char *const ZONES[] = {"us", "eu", "asia"};

static sp_micros realtime_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (sp_micros) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int setup(void **state)
{
    static struct fx f;
    if (cluster_fx_up(&f.cl, SPANNER_BIN, 2) != 0)
        return -1;
    for (int z = 0; z < 3; z++) {
        struct sp_client_options o = {.config_path = f.cl.conf, .zone = ZONES[z]};
        struct sp_err err = {0};
        if (sp_client_open(&o, &f.c[z], &err) != 0) {
            fprintf(stderr, "client: %s\n", err.msg);
            return -1;
        }
    }
    for (int i = 0; i < 600; i++) { /* 60 s for chronyd to sync and both leaders */
        if (cluster_fx_leader_of(f.c[0], 0) && cluster_fx_leader_of(f.c[0], 1))
            break;
        usleep(100000);
    }
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    for (int z = 0; z < 3; z++)
        sp_client_close(f->c[z]);
    return cluster_fx_down(&f->cl);
}

static int put2(struct sp_client *c, const char *k1, const char *v1, const char *k2, const char *v2,
                struct sp_commit_info *info, struct sp_err *err)
{
    struct sp_txn *t;
    int rc = sp_txn_begin(c, &t, err);
    if (rc == 0)
        rc = sp_txn_write(t, k1, strlen(k1), v1, strlen(v1), err);
    if (rc == 0 && k2)
        rc = sp_txn_write(t, k2, strlen(k2), v2, strlen(v2), err);
    if (rc == 0)
        return sp_txn_commit(t, info, err);
    sp_txn_abort(t);
    return rc;
}

static void check_read(struct sp_client *c, const struct sp_ro_options *ro, const char *key,
                       const char *want, sp_micros *read_ts)
{
    struct sp_txn *t;
    struct sp_err err = {0};
    struct sp_value v = {0};
    assert_int_equal(sp_ro_begin(c, ro, &t, &err), 0);
    int rc = sp_txn_read(t, key, strlen(key), &v, &err);
    struct sp_commit_info info;
    sp_txn_commit(t, &info, NULL);
    if (rc)
        fail_msg("read %s: %s", key, err.msg);
    if (!want)
        assert_false(v.found);
    else if (!v.found || v.len != strlen(want) || memcmp(v.data, want, v.len))
        fail_msg("read %s: got %.*s, want %s", key, (int) v.len, v.found ? (char *) v.data : "NULL",
                 want);
    if (read_ts)
        *read_ts = info.ts;
    sp_value_clear(&v);
}

/* "A-..." keys live in group 1, "z-..." keys in group 2 (split at 'U'). */
static void test_cross_group_commit_visible_everywhere(void **state)
{
    struct fx *f = *state;
    struct sp_commit_info info;
    struct sp_err err = {0};
    int rc = put2(f->c[0], "A-alice", "90", "z-zoe", "110", &info, &err);
    if (rc)
        fail_msg("commit: %s", err.msg);
    assert_int_equal(info.groups, 2);
    assert_true(info.ts > 0);
    /* the commit record took a Paxos write (at least a majority's fsync) */
    assert_true(info.paxos_us > 0 && info.paxos_us < 10 * 1000 * 1000);
    struct sp_commit_info one;
    assert_int_equal(put2(f->c[0], "A-solo", "1", NULL, NULL, &one, &err), 0);
    assert_int_equal(one.groups, 1);
    assert_true(one.paxos_us > 0 && one.paxos_us < 10 * 1000 * 1000);
    for (int z = 0; z < 3; z++) {
        sp_micros read_ts;
        check_read(f->c[z], NULL, "A-alice", "90", &read_ts);
        assert_true(read_ts >= info.ts); /* strong: at or after the commit */
        check_read(f->c[z], NULL, "z-zoe", "110", NULL);
    }
}

struct rows {
    int n;
    char keys[16][32];
};

static int collect_row(void *ctx, const struct sp_row *r)
{
    struct rows *rs = ctx;
    if (rs->n < 16 && r->key_len < 32) {
        memcpy(rs->keys[rs->n], r->key, r->key_len);
        rs->keys[rs->n][r->key_len] = '\0';
    }
    rs->n++;
    return 0;
}

/* A scan over the whole key space crosses both groups in key order; at a
 * timestamp before a write it does not see that write. */
static void test_scan_across_groups(void **state)
{
    struct fx *f = *state;
    struct sp_commit_info info;
    struct sp_err err = {0};
    assert_int_equal(put2(f->c[0], "S-1", "a", "S-2", "b", &info, &err), 0);
    sp_micros before = info.ts;
    assert_int_equal(put2(f->c[0], "s-3", "c", NULL, NULL, &info, &err), 0);
    struct sp_txn *t;
    struct rows rs = {0};
    assert_int_equal(sp_ro_begin(f->c[1], NULL, &t, &err), 0);
    assert_int_equal(sp_txn_scan(t, "S", 1, "t", 1, 0, collect_row, &rs, &err), 0);
    sp_txn_commit(t, NULL, NULL);
    assert_int_equal(rs.n, 3); /* S-1, S-2 in group 1 ('S' < 'U'), s-3 in group 2 */
    assert_string_equal(rs.keys[0], "S-1");
    assert_string_equal(rs.keys[1], "S-2");
    assert_string_equal(rs.keys[2], "s-3");
    struct sp_ro_options at = {.read_ts = before};
    memset(&rs, 0, sizeof rs);
    assert_int_equal(sp_ro_begin(f->c[2], &at, &t, &err), 0);
    assert_int_equal(sp_txn_scan(t, "S", 1, "t", 1, 0, collect_row, &rs, &err), 0);
    sp_txn_commit(t, NULL, NULL);
    assert_int_equal(rs.n, 2);
    /* a read-write transaction cannot scan (no range locks) */
    assert_int_equal(sp_txn_begin(f->c[0], &t, &err), 0);
    assert_int_equal(sp_txn_scan(t, "S", 1, "t", 1, 0, collect_row, &rs, &err), SP_EINVAL);
    sp_txn_abort(t);
}

static void test_stale_read_bound(void **state)
{
    struct fx *f = *state;
    struct sp_commit_info info;
    struct sp_err err = {0};
    assert_int_equal(put2(f->c[1], "B-stale", "v1", NULL, NULL, &info, &err), 0);
    usleep(300000);
    sp_micros before = realtime_us();
    struct sp_ro_options ro = {.max_staleness_us = 200000};
    sp_micros read_ts;
    check_read(f->c[2], &ro, "B-stale", "v1", &read_ts);
    /* within the bound (the node's clock may lag the client's by eps) */
    assert_true(read_ts >= before - 200000 - 50000);
    /* an exact-timestamp read before the write sees nothing */
    struct sp_ro_options at = {.read_ts = info.ts - 1};
    check_read(f->c[2], &at, "B-stale", NULL, NULL);
}

static void test_conflict_wounds_younger(void **state)
{
    struct fx *f = *state;
    struct sp_err err = {0};
    struct sp_txn *older, *younger;
    struct sp_value v = {0};
    assert_int_equal(sp_txn_begin(f->c[0], &older, &err), 0);
    usleep(2000);
    assert_int_equal(sp_txn_begin(f->c[0], &younger, &err), 0);
    assert_int_equal(sp_txn_read(younger, "C-k", 3, &v, &err), 0); /* shared lock */
    sp_value_clear(&v);
    assert_int_equal(sp_txn_write(older, "C-k", 3, "old", 3, &err), 0);
    struct sp_commit_info info;
    int rc = sp_txn_commit(older, &info, &err); /* needs X: wounds the younger */
    if (rc)
        fail_msg("older commit: %s", err.msg);
    assert_int_equal(sp_txn_write(younger, "C-k", 3, "young", 5, &err), 0);
    rc = sp_txn_commit(younger, &info, &err);
    assert_true(rc == SP_ETXN_WOUNDED || rc == SP_ETXN_ABORTED);
    check_read(f->c[0], NULL, "C-k", "old", NULL);
}

static void test_kill_leader_and_restart(void **state)
{
    struct fx *f = *state;
    struct sp_err err = {0};
    struct sp_commit_info info;
    char key[32], val[32];
    for (int i = 0; i < 20; i++) {
        snprintf(key, sizeof key, "D-%d", i);
        snprintf(val, sizeof val, "v%d", i);
        assert_int_equal(put2(f->c[0], key, val, NULL, NULL, &info, &err), 0);
    }
    uint32_t leader = cluster_fx_leader_of(f->c[0], 0);
    assert_true(leader > 0);
    char pidfile[128];
    snprintf(pidfile, sizeof pidfile, "%s/n%u.pid", f->cl.dir, leader);
    FILE *pf = fopen(pidfile, "r");
    int pid = 0;
    assert_non_null(pf);
    assert_int_equal(fscanf(pf, "%d", &pid), 1);
    fclose(pf);
    kill(pid, SIGKILL);
    long long t0 = sp_mono_ms();
    int rc = SP_ESP_UNAVAILABLE;
    for (int i = 0; i < 50 && rc; i++) /* retried writes until a new leader serves */
        rc = put2(f->c[0], "D-after", "x", NULL, NULL, &info, &err);
    long long took = sp_mono_ms() - t0;
    if (rc)
        fail_msg("no write after the kill: %s", err.msg);
    print_message("group 1 served a write %lld ms after kill -9 of leader %u\n", took, leader);
    assert_true(took < 10 * LEASE_MS);
    for (int i = 0; i < 20; i++) { /* no acknowledged write lost */
        snprintf(key, sizeof key, "D-%d", i);
        snprintf(val, sizeof val, "v%d", i);
        check_read(f->c[1], NULL, key, val, NULL);
    }
    /* restart the node; reading at the last commit timestamp from its zone
     * works once it has caught up */
    char id[16], log[128];
    snprintf(id, sizeof id, "%u", leader);
    snprintf(log, sizeof log, "%s/n%u.restart.log", f->cl.dir, leader);
    char *argv[] = {SPANNERD_BIN, "--config", f->cl.conf, "--node", id, NULL};
    pid_t np = sp_proc_spawn(argv, log);
    struct sp_ro_options at = {.read_ts = info.ts};
    const struct sp_node_conf *n = sp_conf_node(sp__client_conf(f->c[0]), leader);
    check_read(f->c[n->zone], &at, "D-after", "x", NULL);
    sp_proc_stop(np, SIGTERM, 10000);
}

/* ---- coalesced requests (lane.h) ---- */

#define CO_THREADS 24
#define CO_ROUNDS  4

struct co_arg {
    struct sp_client *c;
    pthread_barrier_t *bar;
    int i, failures;
    char why[512];
};

/* Each thread owns one key (in group 1 or 2 by parity): it writes a value
 * of its own, then reads it back strongly, at the commit timestamp and
 * stale, each step at once with the other threads, so that the client
 * shares calls between them. A reply handed to the wrong request shows as
 * another thread's value. */
static void *co_run(void *p)
{
    struct co_arg *a = p;
    char key[16], val[32];
    snprintf(key, sizeof key, "%c-co-%02d", a->i % 2 ? 'z' : 'A', a->i);
    int waits = 0;
    for (int r = 0; r < CO_ROUNDS && !a->failures; r++) {
        snprintf(val, sizeof val, "t%02d-r%d", a->i, r);
        pthread_barrier_wait(a->bar);
        waits++;
        struct sp_commit_info info = {0};
        struct sp_err err = {0};
        if (put2(a->c, key, val, NULL, NULL, &info, &err) != 0) {
            snprintf(a->why, sizeof a->why, "put %s: %s", key, err.msg);
            a->failures++;
            break;
        }
        struct sp_ro_options modes[3] = {
            {.single_group = true}, {.read_ts = info.ts}, {.max_staleness_us = 10 * 1000 * 1000}};
        for (int m = 0; m < 3; m++) {
            pthread_barrier_wait(a->bar);
            waits++;
            struct sp_txn *t;
            struct sp_value v = {0};
            int rc = sp_ro_begin(a->c, &modes[m], &t, &err);
            if (rc == 0) {
                rc = sp_txn_read(t, key, strlen(key), &v, &err);
                sp_txn_commit(t, NULL, NULL);
            }
            bool ok = rc == 0 && v.found && v.len == strlen(val) && memcmp(v.data, val, v.len) == 0;
            if (m == 2 && rc == 0) /* may predate this round's write, never another key's */
                ok = !v.found || (v.len == strlen(val) && memcmp(v.data, val, 4) == 0);
            if (!ok) {
                snprintf(a->why, sizeof a->why, "read %d of %s: rc %d (%s), got %.*s, want %s", m,
                         key, rc, err.msg, v.found ? (int) v.len : 4,
                         v.found ? (char *) v.data : "none", val);
                a->failures++;
            }
            sp_value_clear(&v);
        }
    }
    while (waits++ < CO_ROUNDS * 4) /* the others must not wait for a thread that left */
        pthread_barrier_wait(a->bar);
    return NULL;
}

static void co_run_all(struct sp_client *c, struct sp__lane_stats *st)
{
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, CO_THREADS);
    struct co_arg a[CO_THREADS];
    pthread_t th[CO_THREADS];
    for (int i = 0; i < CO_THREADS; i++) {
        a[i] = (struct co_arg){.c = c, .bar = &bar, .i = i};
        assert_int_equal(pthread_create(&th[i], NULL, co_run, &a[i]), 0);
    }
    int failures = 0;
    for (int i = 0; i < CO_THREADS; i++) {
        pthread_join(th[i], NULL);
        if (a[i].failures && failures++ == 0)
            fprintf(stderr, "coalesced requests: %s\n", a[i].why);
    }
    pthread_barrier_destroy(&bar);
    assert_int_equal(failures, 0);
    sp__client_lane_stats(c, st);
}

static void test_coalesced_requests(void **state)
{
    struct fx *f = *state;
    struct sp__lane_stats st;
    co_run_all(f->c[0], &st); /* coalescing is the default */
    fprintf(stderr,
            "coalesced requests: %llu calls, %llu of them for %llu requests, %llu "
            "timeouts\n",
            (unsigned long long) st.calls, (unsigned long long) st.batched_calls,
            (unsigned long long) st.batched_requests, (unsigned long long) st.timeouts);
    assert_true(st.batched_calls > 0);
    assert_true(st.batched_requests >= 2 * st.batched_calls);
    /* The control: the same load through a client that does not coalesce
     * shares no call at all. */
    struct sp_client *plain;
    struct sp_client_options o = {.config_path = f->cl.conf, .zone = "us", .no_coalesce = true};
    struct sp_err err = {0};
    assert_int_equal(sp_client_open(&o, &plain, &err), 0);
    co_run_all(plain, &st);
    sp_client_close(plain);
    assert_int_equal(st.calls, 0);
    assert_int_equal(st.batched_calls, 0);
}

/* One Requests call to a node: a reply per request, in order, each as the
 * request alone would get it; a malformed, empty or oversized call is
 * refused with a message naming what was wrong. */
static void test_requests_call(void **state)
{
    struct fx *f = *state;
    const struct sp_cluster_conf *conf = sp__client_conf(f->c[0]);
    uint32_t l2 = cluster_fx_leader_of(f->c[0], 1);
    assert_true(l2 != 0);
    const char *addr = NULL; /* a node not leading group 2 */
    for (uint32_t i = 0; i < conf->n_nodes && !addr; i++)
        if (conf->nodes[i].id != l2)
            addr = conf->nodes[i].addr;
    struct sp_commit_info info;
    struct sp_err err = {0};
    assert_int_equal(put2(f->c[0], "A-batch", "b1", "z-batch", "b2", &info, &err), 0);
    /* 0: a strong read of group 2 at a node that does not lead it
     * (NOT_LEADER with a hint); 1: garbage; 2: an exact read of group 1
     * (every node holds a replica of every group). */
    struct txn_key k2 = {"z-batch", 7}, k1 = {"A-batch", 7};
    struct txn_request q0 = {.type = TXN_REQ_RO_READ,
                             .group = conf->groups[1].id,
                             .keys = &k2,
                             .keys_n = 1,
                             .mode = TXN_READ_STRONG_SINGLE};
    struct txn_request q2 = {.type = TXN_REQ_RO_READ,
                             .group = conf->groups[0].id,
                             .keys = &k1,
                             .keys_n = 1,
                             .mode = TXN_READ_EXACT,
                             .read_ts = info.ts};
    ProtobufCBinaryData reqs[3];
    assert_int_equal(sp_request_pack(&q0, &reqs[0].data, &reqs[0].len), 0);
    reqs[1] = (ProtobufCBinaryData){5, (uint8_t *) "\xff\xff\xff\xff\xff"};
    assert_int_equal(sp_request_pack(&q2, &reqs[2].data, &reqs[2].len), 0);
    Spanner__Txn__Requests rq = SPANNER__TXN__REQUESTS__INIT;
    rq.n_requests = 3;
    rq.requests = reqs;
    uint8_t buf[4096], *resp = NULL;
    size_t len = spanner__txn__requests__pack(&rq, buf), rl = 0;
    free(reqs[0].data);
    free(reqs[2].data);
    grpc_channel *ch = sp_rpc_channel(addr);
    const char *path = "/spanner.txn.Spanner/Requests";
    int rc = sp_rpc_call(ch, path, buf, len, 5000, &resp, &rl, &err);
    if (rc)
        fail_msg("Requests call to %s: %s", addr, err.msg);
    Spanner__Txn__Replies *rs = spanner__txn__replies__unpack(NULL, rl, resp);
    free(resp);
    assert_non_null(rs);
    assert_int_equal(rs->n_replies, 3);
    Spanner__Txn__Reply *r[3];
    for (int i = 0; i < 3; i++) {
        r[i] = spanner__txn__reply__unpack(NULL, rs->replies[i].len, rs->replies[i].data);
        assert_non_null(r[i]);
    }
    assert_int_equal(r[0]->status, SP_EPAXOS_NOT_LEADER);
    assert_int_equal(r[0]->leader_hint, l2);
    assert_int_equal(r[1]->status, SP_EINVAL);
    assert_int_equal(r[2]->status, 0);
    assert_int_equal(r[2]->n_values, 1);
    assert_int_equal(r[2]->values[0]->value.len, 2);
    assert_memory_equal(r[2]->values[0]->value.data, "b1", 2);
    for (int i = 0; i < 3; i++)
        spanner__txn__reply__free_unpacked(r[i], NULL);
    spanner__txn__replies__free_unpacked(rs, NULL);
    /* refused: not a Requests message; none in it; more than 64 */
    const uint8_t junk[] = {0xff, 0xff, 0xff};
    assert_int_not_equal(sp_rpc_call(ch, path, junk, sizeof junk, 5000, &resp, &rl, &err), 0);
    assert_non_null(strstr(err.msg, "Requests: malformed message"));
    ProtobufCBinaryData many[65];
    for (int i = 0; i < 65; i++)
        many[i] = (ProtobufCBinaryData){1, (uint8_t *) "x"};
    size_t counts[] = {0, 65};
    for (int b = 0; b < 2; b++) {
        rq.n_requests = counts[b];
        rq.requests = many;
        len = spanner__txn__requests__pack(&rq, buf);
        memset(&err, 0, sizeof err);
        assert_int_not_equal(sp_rpc_call(ch, path, buf, len, 5000, &resp, &rl, &err), 0);
        assert_non_null(strstr(err.msg, "holds no request, or more than 64"));
    }
    grpc_channel_destroy(ch);
}

/* Asynchronous operations (spanner.h, sp_async_*): 200 puts started
 * before any outcome is asked for travel in a handful of shared calls;
 * each comes back once, with its own tag, committed; strong reads of every
 * key then see every put; stale reads from another zone answer (the value,
 * when within their bound, is the one written); bad arguments are refused
 * without an outcome; a client closed with operations in flight cancels
 * them (ASan checks that nothing leaks). */
#define ASYNC_N 200
static void test_async_ops(void **state)
{
    struct fx *f = *state;
    struct sp_client *c = f->c[0];
    struct sp_err err = {0};
    static sp_micros put_ts[ASYNC_N];
    char key[32], val[32];
    for (int i = 0; i < ASYNC_N; i++) { /* both groups: "A-" and "z-" keys */
        snprintf(key, sizeof key, "%c-async-%03d", i % 2 ? 'z' : 'A', i);
        snprintf(val, sizeof val, "v%03d", i);
        if (sp_async_put(c, key, strlen(key), val, strlen(val), (void *) (uintptr_t) (i + 1),
                         &err) != 0)
            fail_msg("async put %d: %s", i, err.msg);
    }
    assert_int_equal(sp_async_pending(c), ASYNC_N);
    struct sp_async_result r;
    for (int got = 0; got < ASYNC_N; got++) {
        if (sp_async_next(c, 20000, &r) != 1)
            fail_msg("async: %d of %d puts came back", got, ASYNC_N);
        int i = (int) (uintptr_t) r.tag - 1;
        assert_true(i >= 0 && i < ASYNC_N);
        assert_int_equal(put_ts[i], 0); /* once each */
        if (r.rc)
            fail_msg("async put %d: %s", i, r.err.msg);
        assert_true(r.info.ts > 0);
        assert_int_equal(r.info.groups, 1);
        put_ts[i] = r.info.ts;
    }
    assert_int_equal(sp_async_pending(c), 0);
    assert_int_equal(sp_async_next(c, 0, &r), 0);
    uint64_t calls, requests;
    sp__client_async_stats(c, &calls, &requests);
    assert_true(requests >= ASYNC_N);
    assert_true(calls <= 20); /* shared: 200 alone would be 200 calls */

    for (int pass = 0; pass < 2; pass++) { /* strong from us, then stale from asia */
        struct sp_client *rc = pass == 0 ? f->c[0] : f->c[2];
        for (int i = 0; i < ASYNC_N; i++) {
            snprintf(key, sizeof key, "%c-async-%03d", i % 2 ? 'z' : 'A', i);
            assert_int_equal(sp_async_get(rc, key, strlen(key), pass == 0 ? 0 : 10 * 1000 * 1000,
                                          (void *) (uintptr_t) (i + 1), &err),
                             0);
        }
        int found = 0;
        for (int got = 0; got < ASYNC_N; got++) {
            if (sp_async_next(rc, 20000, &r) != 1)
                fail_msg("async: %d of %d reads came back", got, ASYNC_N);
            int i = (int) (uintptr_t) r.tag - 1;
            assert_true(i >= 0 && i < ASYNC_N);
            if (r.rc)
                fail_msg("async read %d: %s", i, r.err.msg);
            snprintf(val, sizeof val, "v%03d", i);
            if (pass == 0) { /* strong: after the put returned, it must be seen */
                assert_true(r.value.found);
                assert_true(r.info.ts >= put_ts[i]);
            }
            if (r.value.found) {
                found++;
                assert_int_equal(r.value.len, strlen(val));
                assert_memory_equal(r.value.data, val, r.value.len);
            }
            sp_value_clear(&r.value);
        }
        assert_int_equal(sp_async_pending(rc), 0);
        if (pass == 0)
            assert_int_equal(found, ASYNC_N);
    }

    assert_int_equal(sp_async_get(c, "k", 1, -5, NULL, &err), SP_EINVAL);
    assert_non_null(strstr(err.msg, "max_staleness_us -5 is negative"));
    assert_int_equal(sp_async_put(c, NULL, 3, "v", 1, NULL, &err), SP_EINVAL);
    assert_int_equal(sp_async_pending(c), 0);

    struct sp_client *tmp;
    struct sp_client_options o = {.config_path = f->cl.conf, .zone = "eu"};
    assert_int_equal(sp_client_open(&o, &tmp, &err), 0);
    for (int i = 0; i < 10; i++)
        assert_int_equal(sp_async_put(tmp, "A-async-closed", 14, "x", 1, NULL, &err), 0);
    /* Sends them (at most one outcome comes back from a look). */
    if (sp_async_next(tmp, 0, &r) == 1)
        sp_value_clear(&r.value);
    assert_true(sp_async_pending(tmp) >= 9);
    sp_client_close(tmp);
}

static void test_malformed_input(void **state)
{
    struct fx *f = *state;
    char cmd[512], out[128];
    snprintf(out, sizeof out, "%s/shell.out", f->cl.dir);
    snprintf(cmd, sizeof cmd,
             "printf '%%s\\n' 'garbage' '{\"op\":\"fly\"}' '{\"op\":\"read\",\"key\":\"A-alice\"}' "
             "'{\"op\":\"begin\",\"mode\":\"rw\"}' '{\"op\":\"write\",\"key\":5}' "
             "'{\"op\":\"abort\"}' | %s shell --json --cluster %s > %s",
             SPANNER_BIN, f->cl.dir, out);
    assert_int_equal(system(cmd), 0); /* the shell never dies on input */
    FILE *o = fopen(out, "r");
    assert_non_null(o);
    char line[512];
    int n = 0, bad = 0;
    while (fgets(line, sizeof line, o)) {
        n++;
        bad += strstr(line, "\"ok\":false") != NULL;
    }
    fclose(o);
    assert_int_equal(n, 6);
    assert_int_equal(bad, 4); /* garbage, unknown op, read outside txn, bad key */
    check_read(f->c[0], NULL, "A-alice", "90", NULL); /* nothing changed */
    /* a bad config never starts a node */
    char bad_conf[128];
    snprintf(bad_conf, sizeof bad_conf, "%s/bad.conf", f->cl.dir);
    FILE *b = fopen(bad_conf, "w");
    fputs("{\"zones\": [\"us\"], \"nodes\": [{\"id\": 1, \"zone\": \"mars\", \"addr\": "
          "\"127.0.0.1:1\", \"data\": \"x\"}]}",
          b);
    fclose(b);
    snprintf(cmd, sizeof cmd,
             "%s --config %s --node 1 2>&1 | grep -q 'nodes\\[0\\]: zone \"mars\"'", SPANNERD_BIN,
             bad_conf);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    sp_test_route_asserts();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cross_group_commit_visible_everywhere),
        cmocka_unit_test(test_scan_across_groups),
        cmocka_unit_test(test_stale_read_bound),
        cmocka_unit_test(test_conflict_wounds_younger),
        cmocka_unit_test(test_coalesced_requests),
        cmocka_unit_test(test_async_ops),
        cmocka_unit_test(test_requests_call), /* before the kill: every node up */
        cmocka_unit_test(test_kill_leader_and_restart),
        cmocka_unit_test(test_malformed_input),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

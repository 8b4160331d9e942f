/*
 * test_node.c - the transaction node core (txn/node.c and friends) driven by
 * the deterministic world (world.c), and unit tests of its log records and
 * reply rules.
 *
 * Replay one seed of the randomized tests: TXN_SEED=<seed> (and
 * TXN_VERBOSE=1 for a trace); explore more seeds with TXN_SEEDS=<count>.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sp_test.h"

#include "node_int.h"
#include "world.h"

#include <pthread.h>
#include <rocksdb/c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *xdup_bytes(const void *p, size_t n)
{
    void *q = malloc(n ? n : 1);
    assert_non_null(q);
    if (n)
        memcpy(q, p, n);
    return q;
}

static bool env_seed(uint64_t *seed)
{
    const char *s = getenv("TXN_SEED");
    if (s == NULL || *s == '\0')
        return false;
    *seed = strtoull(s, NULL, 10);
    return true;
}

static bool verbose(void)
{
    const char *s = getenv("TXN_VERBOSE");
    return s != NULL && *s == '1';
}

/* Runs seeds [first, first + n) of params made by `make`; fails on the
 * first violation, naming the seed. */
static void run_seeds(void (*make)(struct w_params *, uint64_t), uint64_t first, uint32_t n)
{
    uint64_t one;
    const char *many = getenv("TXN_SEEDS"); /* explore: more seeds than CI runs */
    if (many != NULL && *many != '\0')
        n = (uint32_t) strtoul(many, NULL, 10);
    if (env_seed(&one)) {
        first = one;
        n = 1;
    }
    struct w_stats total = {0};
    for (uint64_t seed = first; seed < first + n; seed++) {
        struct w_params p;
        make(&p, seed);
        p.verbose = verbose();
        if (p.verbose) {
            sp_log_level = SP_LOG_DEBUG;
            fprintf(stderr, "==== seed %llu\n", (unsigned long long) seed);
        }
        struct w_stats st;
        char why[512];
        int rc = w_run(&p, &st, why, sizeof why);
        if (rc != 0) {
            fprintf(stderr, "FAILED seed %llu (replay: TXN_SEED=%llu): %s\n",
                    (unsigned long long) seed, (unsigned long long) seed, why);
            fail();
        }
        total.commits_ok += st.commits_ok;
        total.commits_2pc_ok += st.commits_2pc_ok;
        total.commits_unknown += st.commits_unknown;
        total.aborts += st.aborts;
        total.ro_ok += st.ro_ok;
        total.reads_at_read_only += st.reads_at_read_only;
        total.crashes += st.crashes;
        total.partitions += st.partitions;
        total.truncations += st.truncations;
        total.steps += st.steps;
    }
    fprintf(stderr,
            "  %u seeds: %u commits (%u 2PC), %u unknown, %u given up, %u read-only (%u group "
            "reads at read-only replicas), %u crashes, %u partitions, %u log truncations, %llu "
            "steps\n",
            n, total.commits_ok, total.commits_2pc_ok, total.commits_unknown, total.aborts,
            total.ro_ok, total.reads_at_read_only, total.crashes, total.partitions,
            total.truncations, (unsigned long long) total.steps);
    assert_true(total.commits_ok > 0);
}

static void make_calm(struct w_params *p, uint64_t seed)
{
    w_params_init(p, seed);
}

static void test_bank_calm(void **state)
{
    (void) state;
    run_seeds(make_calm, 1, 2);
}

/* Lossy network, crashes and restarts, clocks anywhere inside eps. */
static void make_chaos(struct w_params *p, uint64_t seed)
{
    w_params_init(p, seed);
    p->drop_pct = 5;
    p->lease_us = 300 * 1000;
    p->crash_every_us = 800 * 1000;
    p->down_us = 200 * 1000;
    p->run_us = 3000 * 1000;
}

/* Five nodes in three zones, four groups, WAN latency, more loss, wider
 * clocks, more clients. */
static void make_chaos_wide(struct w_params *p, uint64_t seed)
{
    make_chaos(p, seed);
    p->nodes = 5;
    p->groups = 4;
    p->accounts = 12;
    p->clients = 8;
    p->eps_us = 5000;
    p->lat_wan_us = 5000;
    p->jitter_us = 2000;
    p->drop_pct = 10;
    p->read_only = true;
    p->partitions = true;
}

static void test_bank_chaos_wide(void **state)
{
    (void) state;
    run_seeds(make_chaos_wide, 1000, 4);
}

/* One group: every transfer is a single-group commit and every strong read
 * is at LastTS() at the leader (§4.2.2), checked against real time. */
static void make_single_group(struct w_params *p, uint64_t seed)
{
    make_chaos(p, seed);
    p->groups = 1;
    p->accounts = 4;
    p->ro_pct = 40;
    p->run_us = 1500 * 1000;
}

static void test_bank_single_group(void **state)
{
    (void) state;
    run_seeds(make_single_group, 500, 3);
}

static void test_bank_chaos(void **state)
{
    (void) state;
    run_seeds(make_chaos, 100, 6); /* CI; explore with TXN_SEEDS=300 */
}

/*
 * Negative control: without commit wait, a client can be told "committed at
 * s" while s is still ahead of other nodes' clocks; a read-only transaction
 * it starts next, at s_read = now.latest on a node whose clock runs behind,
 * misses the write. Clocks at +-eps make that likely; the checker must find
 * it within a few seeds, or it would not notice the bug it guards against.
 */
static void make_control(struct w_params *p, uint64_t seed)
{
    w_params_init(p, seed);
    p->commit_wait_off = true;
    p->extreme_offsets = true;
    p->eps_us = 10 * 1000;
    p->ro_pct = 50;
    p->stale_pct = 0;
}

static void make_control_on(struct w_params *p, uint64_t seed)
{
    make_control(p, seed);
    p->commit_wait_off = false;
}

static void test_control_commit_wait_off(void **state)
{
    (void) state;
    uint32_t found = 0, seeds = 10;
    char first[512] = "";
    for (uint64_t seed = 1; seed <= seeds; seed++) {
        struct w_params p;
        make_control(&p, seed);
        p.verbose = verbose();
        char why[512];
        if (w_run(&p, NULL, why, sizeof why) == SP_ESIM_VIOLATION && found++ == 0)
            snprintf(first, sizeof first, "%s", why);
    }
    fprintf(stderr, "  commit wait off: violations in %u of %u seeds; first: %s\n", found, seeds,
            found ? first : "none");
    assert_true(found > 0);
}

/* The same world with commit wait on: no violation on those seeds. */
static void test_control_commit_wait_on(void **state)
{
    (void) state;
    run_seeds(make_control_on, 1, 5);
}

/* ---- scripted scenarios (issue 4) -------------------------------------- */

/* Two groups, two accounts: acct00 in group 1 (the coordinator of a
 * transfer from it), acct01 in group 2 (the participant). Scripted clients
 * only; a calm network. */
static struct w_world *scenario_world(uint64_t seed)
{
    struct w_params p;
    w_params_init(&p, seed);
    p.groups = 2;
    p.accounts = 2;
    p.clients = 0;
    p.lease_us = 300 * 1000;
    p.run_us = 1000 * 1000 * 1000; /* scripted clients keep retrying */
    p.verbose = verbose();
    if (p.verbose)
        sp_log_level = SP_LOG_DEBUG;
    struct w_world *w = w_world_create(&p);
    for (int i = 0; i < 200 && (w_world_leader(w, 1) < 0 || w_world_leader(w, 2) < 0); i++)
        assert_int_equal(w_world_run_until(w, w_world_now(w) + 10 * 1000), 0);
    assert_true(w_world_leader(w, 1) >= 0 && w_world_leader(w, 2) >= 0);
    return w;
}

static void run_until_done(struct w_world *w, int op, tt_micros max_us)
{
    tt_micros end = w_world_now(w) + max_us;
    while (!w_world_op_done(w, op) && w_world_now(w) < end) {
        int rc = w_world_run_until(w, w_world_now(w) + 1000);
        if (rc)
            fprintf(stderr, "%s\n", w_world_violation(w));
        assert_int_equal(rc, 0);
    }
    assert_true(w_world_op_done(w, op));
}

static uint32_t prepared_anywhere(struct w_world *w, txn_group_id g)
{
    uint32_t r[W_REPLICAS_MAX], n = w_world_replicas(w, g, r), total = 0;
    for (uint32_t j = 0; j < n; j++)
        if (w_world_up(w, r[j]))
            total += txn_node_prepared_n(w_world_node(w, r[j]), g);
    return total;
}

static void settle_and_check(struct w_world *w)
{
    int rc = w_world_settle(w, 3 * 1000 * 1000);
    if (rc)
        fprintf(stderr, "%s\n", w_world_violation(w));
    assert_int_equal(rc, 0);
}

struct crash_ctx {
    txn_group_id group;
    bool done;
    tt_micros at;
    uint32_t node;
};

/* Crashes the first node seen with a transaction prepared in ctx->group. */
static void crash_when_prepared(struct w_world *w, uint32_t node, void *arg)
{
    struct crash_ctx *c = arg;
    struct txn_node *tn = w_world_node(w, node);
    if (c->done || tn == NULL || !txn_node_is_leader(tn, c->group) ||
        txn_node_prepared_n(tn, c->group) == 0)
        return;
    c->done = true;
    c->at = w_world_now(w);
    c->node = node;
    w_world_crash(w, node);
}

/* From issue 4: "a participant crash ... after prepare". The prepared
 * participant's leader dies with its vote unsent; the next leader re-takes
 * its locks from the log and asks the coordinator; the transfer ends the
 * same way at every replica, never half-applied. */
static void test_participant_crash_after_prepare(void **state)
{
    (void) state;
    struct w_world *w = scenario_world(7);
    struct crash_ctx cc = {.group = 2};
    w_world_set_hook(w, crash_when_prepared, &cc);
    int op = w_world_transfer(w, 0, 1, 30);
    run_until_done(w, op, 3 * 1000 * 1000);
    assert_true(cc.done);
    w_world_set_hook(w, NULL, NULL);
    w_world_restart(w, cc.node);
    settle_and_check(w);
    int rd = w_world_read_all(w);
    run_until_done(w, rd, 2 * 1000 * 1000);
    assert_int_equal(w_world_op_status(w, rd), 0);
    int st = w_world_op_status(w, op);
    int64_t moved = st == 0 ? 30 : 0;
    if (st == SP_ETXN_UNKNOWN || st == SP_ETIMEDOUT)
        moved = 100 - w_world_op_balance(w, rd, 0);
    assert_true(moved == 0 || moved == 30);
    assert_int_equal(w_world_op_balance(w, rd, 0), 100 - moved);
    assert_int_equal(w_world_op_balance(w, rd, 1), 100 + moved);
    assert_int_equal(prepared_anywhere(w, 2), 0);
    w_world_destroy(w);
}

/* Drops the first PREPARE request and crashes the node it was for. */
static bool crash_on_prepare(struct w_world *w, uint32_t node, const struct txn_request *req,
                             void *arg)
{
    struct crash_ctx *c = arg;
    if (c->done || req->type != TXN_REQ_PREPARE)
        return true;
    c->done = true;
    c->node = node;
    w_world_crash(w, node);
    return false;
}

/* From issue 4: "A participant that fails before it prepared aborts". The
 * coordinator times out waiting for the vote and aborts; the client retries
 * and the transfer commits once a new leader serves the participant group. */
static void test_participant_crash_before_prepare(void **state)
{
    (void) state;
    struct w_world *w = scenario_world(11);
    struct crash_ctx cc = {0};
    w_world_set_request_hook(w, crash_on_prepare, &cc);
    int op = w_world_transfer(w, 0, 1, 25);
    run_until_done(w, op, 5 * 1000 * 1000);
    assert_true(cc.done);
    assert_int_equal(w_world_op_status(w, op), 0);
    w_world_restart(w, cc.node);
    settle_and_check(w);
    int rd = w_world_read_all(w);
    run_until_done(w, rd, 2 * 1000 * 1000);
    assert_int_equal(w_world_op_balance(w, rd, 0), 75);
    assert_int_equal(w_world_op_balance(w, rd, 1), 125);
    w_world_destroy(w);
}

/* Crashes the coordinator group's leader right after it applied the commit
 * decision (its own write raises LastTS): commit wait has not passed, so
 * neither the client nor the participants heard of it. */
static void crash_after_decision(struct w_world *w, uint32_t node, void *arg)
{
    struct crash_ctx *c = arg;
    struct txn_node *tn = w_world_node(w, node);
    if (c->done || tn == NULL || !txn_node_is_leader(tn, c->group) ||
        txn_node_last_ts(tn, c->group) == 0)
        return;
    c->done = true;
    c->node = node;
    w_world_crash(w, node);
}

/* From issue 4: "a coordinator crash after logging commit (participants must
 * learn the outcome; nothing half-applied)". */
static void test_coordinator_crash_after_commit(void **state)
{
    (void) state;
    struct w_world *w = scenario_world(13);
    struct crash_ctx cc = {.group = 1};
    w_world_set_hook(w, crash_after_decision, &cc);
    int op = w_world_transfer(w, 0, 1, 40);
    run_until_done(w, op, 3 * 1000 * 1000);
    assert_true(cc.done);
    /* The reply died with the leader; the client asked again (retry set)
     * and the next leader answered from the group's outcome records. */
    assert_int_equal(w_world_op_status(w, op), 0);
    w_world_set_hook(w, NULL, NULL);
    w_world_restart(w, cc.node);
    settle_and_check(w);
    int rd = w_world_read_all(w);
    run_until_done(w, rd, 2 * 1000 * 1000);
    assert_int_equal(w_world_op_status(w, rd), 0);
    assert_int_equal(w_world_op_balance(w, rd, 0), 60);
    assert_int_equal(w_world_op_balance(w, rd, 1), 140);
    /* Every replica of both groups applied it, at the same timestamp. */
    for (uint32_t i = 0; i < 3; i++) {
        assert_int_equal(w_world_peek(w, i, 0, TT_MICROS_MAX), 60);
        assert_int_equal(w_world_peek(w, i, 1, TT_MICROS_MAX), 140);
    }
    w_world_destroy(w);
}

struct block_ctx {
    bool crashed;
    uint32_t node;
    bool had[8];
    tt_micros prepared_at, resolved_at; /* resolved: first replica to apply the outcome */
};

/* Keeps the transfer prepared: once group 2 prepared, the coordinator
 * group's leader dies before deciding (if it was the same node, the
 * participant leader too). Records when a replica of group 2 resolves it. */
static void block_hook(struct w_world *w, uint32_t node, void *arg)
{
    struct block_ctx *b = arg;
    struct txn_node *tn = w_world_node(w, node);
    uint32_t r[W_REPLICAS_MAX], n = w_world_replicas(w, 2, r);
    bool replica = false;
    for (uint32_t j = 0; j < n; j++)
        replica |= r[j] == node;
    if (tn == NULL || !replica)
        return;
    uint32_t prepared = txn_node_prepared_n(tn, 2);
    if (prepared > 0)
        b->had[node] = true;
    if (!b->crashed && prepared > 0) {
        int coord = w_world_leader(w, 1);
        b->crashed = true;
        b->prepared_at = w_world_now(w);
        b->node = coord >= 0 ? (uint32_t) coord : node;
        w_world_crash(w, b->node);
    } else if (b->crashed && b->resolved_at == 0 && prepared == 0 && b->had[node]) {
        b->resolved_at = w_world_now(w);
    }
}

/* From issue 4: "a strong read blocked by a prepared transaction until it
 * resolves". s_read = now.latest is above the prepare timestamp, so t_safe
 * (< prepare ts) holds the read until the outcome is applied. */
static void test_strong_read_blocked_by_prepared(void **state)
{
    (void) state;
    struct w_world *w = scenario_world(17);
    struct block_ctx b = {0};
    w_world_set_hook(w, block_hook, &b);
    int op = w_world_transfer(w, 0, 1, 10);
    for (int i = 0; i < 3000 && !b.crashed; i++)
        assert_int_equal(w_world_run_until(w, w_world_now(w) + 100), 0);
    assert_true(b.crashed);
    assert_int_equal(w_world_run_until(w, w_world_now(w) + 20 * 1000), 0);
    int rd = w_world_read_all(w);
    run_until_done(w, rd, 3 * 1000 * 1000);
    run_until_done(w, op, 3 * 1000 * 1000);
    assert_int_equal(w_world_op_status(w, rd), 0);
    assert_true(b.resolved_at > 0);
    /* Started while the transaction was prepared, served only after it
     * resolved. */
    tt_micros invoke, complete;
    w_world_op_times(w, rd, &invoke, &complete);
    fprintf(stderr, "  read invoked %lld, completed %lld; prepared at %lld, resolved at %lld\n",
            (long long) invoke, (long long) complete, (long long) b.prepared_at,
            (long long) b.resolved_at);
    assert_true(invoke < b.resolved_at && complete > b.resolved_at);
    fprintf(stderr, "  prepared at %lld, resolved %lld us later\n", (long long) b.prepared_at,
            (long long) (b.resolved_at - b.prepared_at));
    w_world_set_hook(w, NULL, NULL);
    w_world_restart(w, b.node);
    settle_and_check(w);
    w_world_destroy(w);
}

/* From issue 4: "reads at a timestamp never change after t_safe passed it".
 * Reads at fixed timestamps are repeated while transfers, crashes and
 * restarts go on, at random replicas; every repetition returns the same
 * balances (and the checker matches each against the acknowledged commits). */
static void test_reads_at_ts_stable(void **state)
{
    (void) state;
    struct w_params p;
    make_chaos(&p, 5);
    p.verbose = verbose();
    struct w_world *w = w_world_create(&p);
    enum { POINTS = 4, REPEATS = 5 };
    tt_micros ts[POINTS];
    int64_t first[POINTS][W_ACCOUNTS_MAX];
    for (int k = 0; k < POINTS; k++) {
        assert_int_equal(w_world_run_until(w, w_world_now(w) + 400 * 1000), 0);
        ts[k] = w_world_now(w) - 50 * 1000;
        int rd = w_world_read_all_at(w, ts[k]);
        run_until_done(w, rd, 3 * 1000 * 1000);
        assert_int_equal(w_world_op_status(w, rd), 0);
        for (uint32_t a = 0; a < p.accounts; a++)
            first[k][a] = w_world_op_balance(w, rd, a);
    }
    for (int r = 0; r < REPEATS; r++) {
        assert_int_equal(w_world_run_until(w, w_world_now(w) + 200 * 1000), 0);
        for (int k = 0; k < POINTS; k++) {
            int rd = w_world_read_all_at(w, ts[k]);
            run_until_done(w, rd, 3 * 1000 * 1000);
            if (w_world_op_status(w, rd) != 0)
                continue; /* a crash may fail a read; it must never differ */
            for (uint32_t a = 0; a < p.accounts; a++)
                assert_int_equal(w_world_op_balance(w, rd, a), first[k][a]);
        }
    }
    settle_and_check(w);
    w_world_destroy(w);
}

/* ---- unit tests: the record codec --------------------------------------- */

static void test_record_roundtrip(void **state)
{
    (void) state;
    int level = sp_log_level;
    sp_log_level = -1; /* the corruption lines below are expected */
    struct txn_write ws[3] = {
        {TXN_WRITE_PUT, "alpha", 5, "one", 3},
        {TXN_WRITE_DELETE, "beta", 4, NULL, 0},
        {TXN_WRITE_PUT, "\0\xff", 2, "", 0},
    };
    for (uint8_t type = TXN__REC_COMMIT; type <= TXN__REC_DECISION; type++) {
        struct txn__rec r = {.type = type, .tag = 77, .id = 0x0102030405060708ull, .ts = 123456};
        r.coord = 9;
        r.parts_n = type == TXN__REC_DECISION ? 2 : 0;
        r.parts[0] = 4;
        r.parts[1] = 5;
        r.writes_n = type == TXN__REC_OUTCOME ? 0 : 3;
        r.writes = ws;
        uint8_t buf[256];
        size_t len = txn__rec_encode(&r, buf, sizeof buf);
        assert_int_equal(len, txn__rec_size(&r));
        struct txn__rec d;
        struct txn_write dw[4];
        assert_int_equal(txn__rec_decode(buf, len, &d, dw, 4, NULL), 0);
        assert_int_equal(d.type, type);
        assert_int_equal(d.tag, 77);
        assert_int_equal(d.id, r.id);
        assert_int_equal(d.ts, 123456);
        assert_int_equal(d.coord, 9);
        assert_int_equal(d.parts_n, r.parts_n);
        assert_int_equal(d.writes_n, r.writes_n);
        for (uint32_t i = 0; i < d.writes_n; i++) {
            assert_int_equal(d.writes[i].kind, ws[i].kind);
            assert_int_equal(d.writes[i].key_len, ws[i].key_len);
            assert_memory_equal(d.writes[i].key, ws[i].key, ws[i].key_len);
            assert_int_equal(d.writes[i].value_len, ws[i].value_len);
        }
        /* Every truncation and every trailing byte is refused. */
        for (size_t cut = 0; cut < len; cut++)
            assert_int_equal(txn__rec_decode(buf, cut, &d, dw, 4, NULL), SP_ECORRUPT);
        buf[len] = 0;
        assert_int_equal(txn__rec_decode(buf, len + 1, &d, dw, 4, NULL), SP_ECORRUPT);
        /* More writes than the caller's array: refused, not overrun. */
        if (r.writes_n)
            assert_int_equal(txn__rec_decode(buf, len, &d, dw, 2, NULL), SP_ECORRUPT);
    }
    /* A PREPARE carries its read locks after the writes; only it may. */
    struct txn_write rk[2] = {{TXN_WRITE_PUT, "r1", 2, NULL, 0}, {TXN_WRITE_PUT, "", 0, NULL, 0}};
    struct txn__rec r = {.type = TXN__REC_PREPARE, .id = 3, .ts = 9, .coord = 1};
    r.writes = ws;
    r.writes_n = 1;
    r.reads = rk;
    r.reads_n = 2;
    uint8_t buf[256];
    size_t len = txn__rec_encode(&r, buf, sizeof buf);
    assert_int_equal(len, txn__rec_size(&r));
    struct txn__rec d;
    struct txn_write dw[4];
    assert_int_equal(txn__rec_decode(buf, len, &d, dw, 4, NULL), 0);
    assert_int_equal(d.writes_n, 1);
    assert_int_equal(d.reads_n, 2);
    assert_memory_equal(d.writes[0].key, "alpha", 5);
    assert_int_equal(d.reads[0].key_len, 2);
    assert_memory_equal(d.reads[0].key, "r1", 2);
    assert_int_equal(d.reads[1].key_len, 0);
    assert_int_equal(txn__rec_decode(buf, len, &d, dw, 2, NULL), SP_ECORRUPT);
    buf[1] = TXN__REC_COMMIT; /* read locks in a COMMIT record */
    assert_int_equal(txn__rec_decode(buf, len, &d, dw, 4, NULL), SP_ECORRUPT);
    sp_log_level = level;
}

static void test_record_corrupt(void **state)
{
    (void) state;
    int level = sp_log_level;
    sp_log_level = -1;
    struct txn_write w = {TXN_WRITE_PUT, "k", 1, "v", 1};
    struct txn__rec r = {.type = TXN__REC_COMMIT, .id = 1, .ts = 5, .writes_n = 1, .writes = &w};
    uint8_t buf[128];
    size_t len = txn__rec_encode(&r, buf, sizeof buf);
    struct txn__rec d;
    struct txn_write dw[2];
    uint8_t bad[128];
    memcpy(bad, buf, len);
    bad[0] ^= 1; /* magic */
    assert_int_equal(txn__rec_decode(bad, len, &d, dw, 2, NULL), SP_ECORRUPT);
    memcpy(bad, buf, len);
    bad[1] = 9; /* type */
    assert_int_equal(txn__rec_decode(bad, len, &d, dw, 2, NULL), SP_ECORRUPT);
    memcpy(bad, buf, len);
    bad[TXN__REC_HEADER_BYTES] = 7; /* write kind */
    assert_int_equal(txn__rec_decode(bad, len, &d, dw, 2, NULL), SP_ECORRUPT);
    memcpy(bad, buf, len);
    bad[34] = 200; /* participants beyond the limit */
    assert_int_equal(txn__rec_decode(bad, len, &d, dw, 2, NULL), SP_ECORRUPT);
    memcpy(bad, buf, len);
    bad[TXN__REC_HEADER_BYTES + 1] = 0xff; /* key length past the end */
    assert_int_equal(txn__rec_decode(bad, len, &d, dw, 2, NULL), SP_ECORRUPT);
    assert_int_equal(txn__rec_decode(NULL, 0, &d, dw, 2, NULL), SP_ECORRUPT);
    /* A BARRIER carries only its tag. */
    struct txn__rec br = {.type = TXN__REC_BARRIER, .tag = 77};
    len = txn__rec_encode(&br, buf, sizeof buf);
    assert_int_equal(txn__rec_decode(buf, len, &d, dw, 2, NULL), 0);
    assert_int_equal(d.type, TXN__REC_BARRIER);
    assert_int_equal(d.tag, 77);
    buf[18] = 1; /* ts */
    assert_int_equal(txn__rec_decode(buf, len, &d, dw, 2, NULL), SP_ECORRUPT);
    sp_log_level = level;
}

/* ---- unit tests: three nodes, driven by hand -------------------------------- */

/*
 * Three nodes hosting groups 1 and 2 (three voters each), with a driver so
 * small that every rule can be stepped exactly: persists complete at once,
 * messages arrive instantly in FIFO order, every clock reads true time
 * +- eps, and time moves only when the test says.
 */
#define SOLO_NODES  3
#define SOLO_SLOTS  4096
#define SOLO_QUEUE  8192
#define SOLO_EPS_US 1000

struct solo_log {
    struct paxos_hard_state hs;
    bool present[SOLO_SLOTS];
    struct paxos_entry e[SOLO_SLOTS];
};

struct solo_node {
    rocksdb_env_t *env;
    struct txn_store *store;
    struct txn_node *n; /* NULL while down */
    struct txn_node_config cfg;
    struct solo_log log[3];
    tt_micros wake_us;
};

struct solo {
    struct solo_node nodes[SOLO_NODES];
    tt_micros now;
    struct txn_node_msg *queue[SOLO_QUEUE];
    uint32_t queue_n;
    struct txn_reply replies[64];
    uint32_t replies_n;
};

/* Every node's clock reads true time + solo_offset_us, |offset| <= eps, so
 * the interval still holds true time; a test steps it to move clocks. */
static tt_micros solo_offset_us;

static struct tt_interval solo_tt(const struct solo *s)
{
    tt_micros c = s->now + solo_offset_us;
    return (struct tt_interval){c - SOLO_EPS_US, c + SOLO_EPS_US};
}

static void solo_persist(struct solo_node *sn, const struct txn_node_persist *p)
{
    struct solo_log *l = &sn->log[p->group];
    assert_int_equal(p->pu.n_msgs, 0);
    if (p->pu.hs_changed)
        l->hs = p->pu.hs;
    for (uint32_t k = 0; k < p->pu.n_entries; k++) {
        struct paxos_entry e = p->pu.entries[k];
        assert_true(e.slot < SOLO_SLOTS);
        if (l->present[e.slot])
            free((void *) l->e[e.slot].data);
        e.data = xdup_bytes(e.data, e.len);
        l->e[e.slot] = e;
        l->present[e.slot] = true;
    }
}

static void solo_take(struct solo *s, struct solo_node *sn, const struct txn_node_update *up)
{
    for (uint32_t i = 0; i < up->persists_n; i++)
        solo_persist(sn, &up->persists[i]);
    for (uint32_t i = 0; i < up->msgs_n; i++) {
        assert_true(s->queue_n < SOLO_QUEUE);
        struct txn_node_msg *m = xdup_bytes(&up->msgs[i], sizeof up->msgs[i]);
        if (m->is_paxos) {
            struct paxos_entry *es = xdup_bytes(m->paxos.entries, sizeof *es * m->paxos.n_entries);
            for (uint32_t k = 0; k < m->paxos.n_entries; k++)
                es[k].data = xdup_bytes(es[k].data, es[k].len);
            m->paxos.entries = es;
        }
        s->queue[s->queue_n++] = m;
    }
    for (uint32_t i = 0; i < up->replies_n && s->replies_n < 64; i++) {
        s->replies[s->replies_n] = up->replies[i];
        s->replies[s->replies_n].values = NULL; /* values die with the step */
        s->replies_n++;
    }
    sn->wake_us = up->wake_us;
}

static void solo_free_msg(struct txn_node_msg *m)
{
    if (m->is_paxos) {
        for (uint32_t k = 0; k < m->paxos.n_entries; k++)
            free((void *) m->paxos.entries[k].data);
        free((void *) m->paxos.entries);
    }
    free(m);
}

/* Steps one event at node i, then its persist completions. */
static void solo_step(struct solo *s, uint32_t i, struct txn_node_event *ev)
{
    struct solo_node *sn = &s->nodes[i];
    if (sn->n == NULL)
        return;
    ev->now = solo_tt(s);
    struct txn_node_update up;
    assert_int_equal(txn_node_step(sn->n, ev, &up), 0);
    uint64_t seqs[16];
    txn_group_id groups[16];
    uint32_t k = up.persists_n;
    assert_true(k <= 16);
    for (uint32_t j = 0; j < k; j++) {
        seqs[j] = up.persists[j].pu.persist_seq;
        groups[j] = up.persists[j].group;
    }
    solo_take(s, sn, &up);
    for (uint32_t j = 0; j < k; j++) {
        struct txn_node_event p = {.type = TXN_NODE_EV_PERSISTED, .group = groups[j]};
        p.persisted.seq = seqs[j];
        solo_step(s, i, &p);
    }
}

/* While set, 2PC messages (votes, queries, decisions, wounds) are lost: a
 * prepared participant stays prepared, its outcome unknown. While
 * solo_hold_2pc is set they are held instead, and solo_release_2pc
 * delivers them. */
static bool solo_lose_2pc, solo_hold_2pc;
/* Node indexes (bit i = node i + 1) cut off from the rest: messages between
 * the two sides are lost. */
static uint32_t solo_cut;
static struct txn_node_msg *solo_held[64];
static uint32_t solo_held_n;

static void solo_drain(struct solo *s)
{
    for (uint32_t rounds = 0; s->queue_n > 0; rounds++) {
        assert_true(rounds < 1000000);
        struct txn_node_msg *m = s->queue[0];
        memmove(s->queue, s->queue + 1, sizeof *s->queue * --s->queue_n);
        uint32_t from = m->is_paxos ? m->paxos.from : m->txn.from;
        if (from != m->to && from >= 1 && m->to >= 1 &&
            ((solo_cut >> (from - 1)) & 1u) != ((solo_cut >> (m->to - 1)) & 1u)) {
            solo_free_msg(m); /* across the partition */
            continue;
        }
        if ((solo_lose_2pc || solo_hold_2pc) && !m->is_paxos && m->txn.type != TXN_MSG_PROMISE) {
            if (solo_hold_2pc && solo_held_n < 64)
                solo_held[solo_held_n++] = m;
            else
                solo_free_msg(m);
            continue;
        }
        struct txn_node_event ev = {.type = m->is_paxos ? TXN_NODE_EV_PAXOS : TXN_NODE_EV_TXN};
        ev.group = m->group;
        if (m->is_paxos)
            ev.paxos = &m->paxos;
        else
            ev.txn = &m->txn;
        solo_step(s, m->to - 1, &ev);
        solo_free_msg(m);
    }
}

static void solo_release_2pc(struct solo *s)
{
    solo_hold_2pc = false;
    for (uint32_t i = 0; i < solo_held_n; i++) {
        assert_true(s->queue_n < SOLO_QUEUE);
        s->queue[s->queue_n++] = solo_held[i];
    }
    solo_held_n = 0;
    solo_drain(s);
}

/* Advances true time by us, ticking every node at its wake-ups on the way. */
static void solo_advance(struct solo *s, tt_micros us)
{
    tt_micros end = s->now + us;
    for (uint32_t rounds = 0;; rounds++) {
        assert_true(rounds < 1000000);
        tt_micros next = end;
        for (uint32_t i = 0; i < SOLO_NODES; i++) {
            struct txn_node_event ev = {.type = TXN_NODE_EV_TICK};
            solo_step(s, i, &ev);
            solo_drain(s);
            tt_micros at = s->nodes[i].wake_us + SOLO_EPS_US; /* now.earliest >= wake */
            if (s->nodes[i].n != NULL && at < next)
                next = at;
        }
        if (s->now >= end)
            break;
        s->now = next > s->now ? next : s->now + 1;
    }
}

static tt_micros solo_retention_us; /* 0: the store's default */
static tt_micros solo_outcome_retention_us; /* 0: the node's default */
static tt_micros solo_gc_period_us;  /* 0: 50 ms */

static void solo_open(struct solo *s, uint32_t i, bool restart)
{
    struct solo_node *sn = &s->nodes[i];
    struct txn_store_config sc;
    txn_store_config_init(&sc);
    if (solo_retention_us)
        sc.retention_us = solo_retention_us;
    sc.env = sn->env;
    sc.sync = false;
    assert_int_equal(txn_store_open("/solo", &sc, &sn->store, NULL), 0);
    struct paxos_durable_state ds[2];
    const struct paxos_durable_state *loaded[2] = {NULL, NULL};
    struct paxos_entry *ents[2] = {NULL, NULL};
    for (uint32_t g = 1; restart && g <= 2; g++) {
        struct solo_log *l = &sn->log[g];
        ents[g - 1] = calloc(SOLO_SLOTS, sizeof **ents);
        ds[g - 1] = (struct paxos_durable_state){.hs = l->hs, .entries = ents[g - 1]};
        for (uint32_t slot = 1; slot < SOLO_SLOTS; slot++)
            if (l->present[slot])
                ents[g - 1][ds[g - 1].n_entries++] = l->e[slot];
        loaded[g - 1] = &ds[g - 1];
    }
    assert_int_equal(txn_node_create(&sn->cfg, sn->store, loaded, &sn->n, NULL), 0);
    free(ents[0]);
    free(ents[1]);
    sn->wake_us = 0;
}

static void solo_crash(struct solo *s, uint32_t i)
{
    struct solo_node *sn = &s->nodes[i];
    txn_node_destroy(sn->n);
    txn_store_close(sn->store);
    sn->n = NULL;
    sn->store = NULL;
}

static struct solo *solo_create(void)
{
    struct solo *s = calloc(1, sizeof *s);
    assert_non_null(s);
    s->now = 2000000000;
    struct paxos_membership m = {.n = SOLO_NODES};
    for (uint32_t i = 0; i < SOLO_NODES; i++)
        m.m[i] = (struct paxos_member){i + 1, PAXOS_VOTER};
    for (uint32_t i = 0; i < SOLO_NODES; i++) {
        struct solo_node *sn = &s->nodes[i];
        sn->env = rocksdb_create_mem_env();
        struct txn_node_config *cfg = &sn->cfg;
        txn_node_config_init(cfg);
        cfg->self = i + 1;
        cfg->vote_timeout_us = 50 * 1000;
        cfg->query_period_us = 10 * 1000;
        cfg->idle_timeout_us = 300 * 1000;
        cfg->gc_period_us = solo_gc_period_us ? solo_gc_period_us : 50 * 1000;
        if (solo_outcome_retention_us)
            cfg->outcome_retention_us = solo_outcome_retention_us;
        for (txn_group_id g = 1; g <= 2; g++) {
            struct txn_node_group_config *gc = &cfg->groups[cfg->groups_n++];
            gc->group = g;
            paxos_config_init(&gc->paxos);
            gc->paxos.self = i + 1;
            gc->paxos.members = m;
            gc->paxos.lease_us = 2 * 1000 * 1000;
            gc->paxos.heartbeat_us = 200 * 1000;
            /* Node 1 times out first (the others much later): it leads both. */
            gc->paxos.election_timeout_us = i == 0 ? 50 * 1000 : 5 * 1000 * 1000;
            gc->paxos.seed = i + 1;
            cfg->directory[cfg->directory_n++] = (struct txn_directory_entry){g, m};
        }
        solo_open(s, i, false);
    }
    solo_advance(s, 500 * 1000);
    assert_true(txn_node_is_leader(s->nodes[0].n, 1) && txn_node_is_leader(s->nodes[0].n, 2));
    return s;
}

static void solo_destroy(struct solo *s)
{
    while (s->queue_n > 0)
        solo_free_msg(s->queue[--s->queue_n]);
    for (uint32_t i = 0; i < SOLO_NODES; i++) {
        struct solo_node *sn = &s->nodes[i];
        if (sn->n != NULL)
            solo_crash(s, i);
        for (int g = 0; g < 3; g++)
            for (uint32_t slot = 0; slot < SOLO_SLOTS; slot++)
                if (sn->log[g].present[slot])
                    free((void *) sn->log[g].e[slot].data);
        rocksdb_env_destroy(sn->env);
    }
    free(s);
}

/* Sends a client request to node i + 1. */
static void solo_request_to(struct solo *s, uint32_t i, struct txn_request *q)
{
    static uint64_t req;
    q->req_id = ++req;
    struct txn_node_event ev = {.type = TXN_NODE_EV_CLIENT, .req = q};
    solo_step(s, i, &ev);
    solo_drain(s);
}

/* Sends a client request to node 1 (the leader of both groups). */
static void solo_request(struct solo *s, struct txn_request *q)
{
    solo_request_to(s, 0, q);
}

static const struct txn_reply *solo_reply(struct solo *s, uint64_t req_id)
{
    for (uint32_t i = 0; i < s->replies_n; i++)
        if (s->replies[i].req_id == req_id)
            return &s->replies[i];
    return NULL;
}

#define LEADER(s) ((s)->nodes[0].n)

static struct txn_write put(const char *k, const char *v)
{
    return (struct txn_write){TXN_WRITE_PUT, k, strlen(k), v, strlen(v)};
}

/* 2PC in the solo cluster: a PREPARE at group 2 (coordinator group 1) with
 * the write w (none if NULL), and group 1's COMMIT with group 2 as its
 * participant. */
static const txn_group_id SOLO_PART = 2;

/* A single-group COMMIT at group 1 with the write w (none if NULL). */
static struct txn_request solo_commit1(txn_id id, tt_micros start_ts, const struct txn_write *w)
{
    struct txn_request c = {.type = TXN_REQ_COMMIT, .group = 1, .id = id, .start_ts = start_ts};
    c.writes = w;
    c.writes_n = w != NULL;
    return c;
}

/* A single-group COMMIT of w at group 1, then us of time: it must have
 * committed. Returns its reply. */
static const struct txn_reply *solo_commit_ok(struct solo *s, txn_id id, const struct txn_write *w,
                                              tt_micros us)
{
    struct txn_request c = solo_commit1(id, s->now, w);
    solo_request(s, &c);
    solo_advance(s, us);
    const struct txn_reply *rep = solo_reply(s, c.req_id);
    assert_non_null(rep);
    assert_int_equal(rep->status, 0);
    return rep;
}

/* A strong single-group read-only read of *k at group 1 (s_read = LastTS()
 * at the leader, as the rules allow). */
static struct txn_request solo_strong_read(const struct txn_key *k)
{
    struct txn_request r = {.type = TXN_REQ_RO_READ, .group = 1, .keys = k, .keys_n = 1};
    r.mode = TXN_READ_STRONG_SINGLE;
    return r;
}

/* A strong single-group read of *k that the leader answers in the same
 * step, with status 0. */
static const struct txn_reply *solo_strong_read_ok(struct solo *s, const struct txn_key *k)
{
    struct txn_request r = solo_strong_read(k);
    solo_request(s, &r);
    const struct txn_reply *rep = solo_reply(s, r.req_id);
    assert_non_null(rep);
    assert_int_equal(rep->status, 0);
    return rep;
}

static struct txn_request solo_prepare(txn_id id, tt_micros start_ts, const struct txn_write *w)
{
    struct txn_request p = {.type = TXN_REQ_PREPARE, .group = 2, .id = id, .start_ts = start_ts};
    p.writes = w;
    p.writes_n = w != NULL;
    p.coord_group = 1;
    return p;
}

static struct txn_request solo_commit(txn_id id, tt_micros start_ts, const struct txn_write *w)
{
    struct txn_request c = solo_commit1(id, start_ts, w);
    c.participants = &SOLO_PART;
    c.participants_n = 1;
    return c;
}

/* From §4.1.2: the commit timestamp s >= TT.now().latest at the commit, > every
 * earlier one; and no reply before TT.after(s), however fast Paxos is. */
static void test_solo_commit_wait(void **state)
{
    (void) state;
    struct solo *s = solo_create();
    struct txn_write w = put("k", "v1");
    struct tt_interval at = solo_tt(s);
    struct txn_request q = solo_commit1(1, s->now, &w);
    solo_request(s, &q);
    while (txn_node_last_ts(LEADER(s), 1) == 0) { /* Paxos chooses and applies it */
        assert_null(solo_reply(s, q.req_id));
        solo_advance(s, 10);
    }
    tt_micros commit_ts = txn_node_last_ts(LEADER(s), 1);
    assert_true(commit_ts >= at.latest);
    while (solo_reply(s, q.req_id) == NULL) {
        assert_false(solo_tt(s).earliest > commit_ts); /* not yet after(s) */
        solo_advance(s, 100);
    }
    const struct txn_reply *r = solo_reply(s, q.req_id);
    assert_int_equal(r->status, 0);
    assert_int_equal(r->ts, commit_ts);
    assert_true(solo_tt(s).earliest > commit_ts);         /* TT.after(s) */
    assert_true(s->now - at.earliest >= 2 * SOLO_EPS_US); /* waited about 2 eps */
    /* A second commit: strictly above the first, and above s_max. */
    struct txn_write w2 = put("k", "v2");
    struct txn_request q2 = q;
    q2.id = 2;
    q2.writes = &w2;
    tt_micros smax = txn_node_s_max(LEADER(s), 1);
    solo_request(s, &q2);
    assert_true(txn_node_last_ts(LEADER(s), 1) > commit_ts);
    assert_true(txn_node_last_ts(LEADER(s), 1) > smax - 1);
    solo_destroy(s);
}

/* R4, commit wait on the read side (§4.1.2: "clients cannot see any data
 * committed by T_i until TT.after(s_i) is true"): replicas apply a commit as
 * soon as it is chosen, while s is still ahead of true time; a read that
 * would return it, at LastTS() = s or at now.latest >= s, waits until
 * TT.after(s) like the commit's own reply. Served early, a strong read
 * started after it (at a lower now.latest on another node) could miss what
 * it saw. */
static void test_solo_reads_wait_for_commit_wait(void **state)
{
    (void) state;
    struct solo *s = solo_create();
    struct txn_write w = put("k", "v1");
    struct txn_request q = solo_commit1(1, s->now, &w);
    solo_request(s, &q);
    while (txn_node_last_ts(LEADER(s), 1) == 0)
        solo_advance(s, 10);
    tt_micros commit_ts = txn_node_last_ts(LEADER(s), 1);
    assert_false(solo_tt(s).earliest > commit_ts); /* applied, commit wait not over */
    struct txn_key k = {"k", 1};
    struct txn_request single = {.type = TXN_REQ_RO_READ, .group = 1, .keys = &k, .keys_n = 1};
    single.mode = TXN_READ_STRONG_SINGLE;
    solo_request(s, &single);
    struct txn_request strong = single;
    strong.mode = TXN_READ_STRONG;
    solo_request(s, &strong);
    while (solo_reply(s, single.req_id) == NULL || solo_reply(s, strong.req_id) == NULL) {
        /* A reply may exist only once TT.after(s). */
        assert_true((solo_reply(s, single.req_id) == NULL && solo_reply(s, strong.req_id) == NULL) ||
                    solo_tt(s).earliest > commit_ts);
        solo_advance(s, 100);
    }
    assert_true(solo_tt(s).earliest > commit_ts);
    assert_int_equal(solo_reply(s, single.req_id)->status, 0);
    assert_int_equal(solo_reply(s, single.req_id)->ts, commit_ts); /* s_read = LastTS() */
    assert_int_equal(solo_reply(s, strong.req_id)->status, 0);
    assert_true(solo_reply(s, strong.req_id)->ts >= commit_ts);
    solo_destroy(s);
}

/* MinNextTS (§4.2.4): an idle group's t_safe follows the promises, and the
 * leader honours them: the next commit is at or above the last promise. */
static void test_solo_min_next_ts(void **state)
{
    (void) state;
    struct solo *s = solo_create();
    tt_micros period = s->nodes[0].cfg.min_next_period_us;
    tt_micros before = txn_node_safe_time(LEADER(s), 2);
    solo_advance(s, period * 5 / 2);
    tt_micros safe = txn_node_safe_time(LEADER(s), 2);
    assert_true(safe > before);
    assert_true(safe >= s->now - period - 20 * 1000); /* within about one period of now */
    assert_true(txn_node_s_max(LEADER(s), 2) >= safe); /* recorded as assigned */
    struct txn_write w = put("x", "1");
    struct txn_request q = {.type = TXN_REQ_COMMIT, .group = 2, .id = 9, .start_ts = s->now};
    q.writes = &w;
    q.writes_n = 1;
    solo_request(s, &q);
    assert_true(txn_node_last_ts(LEADER(s), 2) > safe);
    solo_destroy(s);
}

/* A read held for t_paxos_safe does not wait for the next periodic promise:
 * at the leader the promise is due at once, and a follower asks the leader
 * for one (TXN_MSG_PROMISE_ASK). Control: with the ask lost, the follower's
 * read waits for the period. */
static void test_solo_promise_on_demand(void **state)
{
    (void) state;
    struct solo *s = solo_create();
    tt_micros period = s->nodes[0].cfg.min_next_period_us;
    assert_true(period >= 100 * 1000);
    struct txn_key k = {"k", 1};
    for (uint32_t node = 0; node < 3; node++) {
        solo_advance(s, period / 2); /* between periodic promises */
        tt_micros t = s->now;
        assert_true(txn_node_safe_time(s->nodes[node].n, 1) < t);
        struct txn_request r = {.type = TXN_REQ_RO_READ, .group = 1, .keys = &k, .keys_n = 1};
        r.mode = TXN_READ_EXACT;
        r.read_ts = t;
        solo_request_to(s, node, &r);
        solo_advance(s, 2 * 1000);
        const struct txn_reply *rep = solo_reply(s, r.req_id);
        assert_non_null(rep); /* within 2 ms, not up to a period */
        assert_int_equal(rep->status, 0);
        assert_int_equal(rep->ts, t);
        assert_true(txn_node_safe_time(s->nodes[node].n, 1) >= t);
    }
    /* Control: asks lost (solo_lose_2pc loses every txn message but
     * PROMISE), the follower's read waits for the periodic promise. */
    solo_advance(s, period / 2);
    solo_lose_2pc = true;
    struct txn_request r = {.type = TXN_REQ_RO_READ, .group = 1, .keys = &k, .keys_n = 1};
    r.mode = TXN_READ_EXACT;
    r.read_ts = s->now;
    solo_request_to(s, 1, &r);
    solo_advance(s, 20 * 1000);
    assert_null(solo_reply(s, r.req_id));
    solo_advance(s, period);
    solo_lose_2pc = false;
    assert_non_null(solo_reply(s, r.req_id));
    assert_int_equal(solo_reply(s, r.req_id)->status, 0);
    solo_destroy(s);
}

/* Reads: a strong single-group read is at LastTS(); a read above t_safe
 * waits and, past read_timeout_us, fails with SP_ETXN_NOT_SAFE. */
static void test_solo_reads(void **state)
{
    (void) state;
    struct solo *s = solo_create();
    struct txn_write w = put("k", "v");
    solo_commit_ok(s, 3, &w, 10 * 1000);
    struct txn_key k = {"k", 1};
    const struct txn_reply *rep = solo_strong_read_ok(s, &k);
    assert_int_equal(rep->ts, txn_node_last_ts(LEADER(s), 1)); /* s_read = LastTS() */
    assert_int_equal(rep->values_n, 1);
    struct txn_request r = solo_strong_read(&k); /* the other reads below differ in mode */
    /* Far in the future: held, then refused. */
    struct txn_request f = r;
    f.mode = TXN_READ_EXACT;
    f.read_ts = s->now + 60 * 1000 * 1000;
    solo_request(s, &f);
    assert_null(solo_reply(s, f.req_id));
    solo_advance(s, s->nodes[0].cfg.read_timeout_us + 20 * 1000);
    rep = solo_reply(s, f.req_id);
    assert_non_null(rep);
    assert_int_equal(rep->status, SP_ETXN_NOT_SAFE);
    /* Bounded staleness: served at once, at most the bound behind. */
    struct txn_request b = r;
    b.mode = TXN_READ_STALE;
    b.staleness_us = 100 * 1000;
    solo_request(s, &b);
    rep = solo_reply(s, b.req_id);
    assert_non_null(rep);
    assert_int_equal(rep->status, 0);
    assert_true(rep->ts >= solo_tt(s).latest - 100 * 1000 && rep->ts <= solo_tt(s).latest);
    /* The same read without a step (txn_node_read_stale): the same value,
     * at a timestamp inside the bound and at most t_safe. */
    static struct txn_node_read fast;
    struct tt_interval now = solo_tt(s);
    assert_int_equal(txn_node_read_stale(LEADER(s), &b, now, &fast), 0);
    assert_int_equal(fast.reply.status, 0);
    assert_int_equal(fast.reply.req_id, b.req_id);
    assert_true(fast.reply.ts >= now.latest - 100 * 1000 && fast.reply.ts <= now.earliest);
    assert_true(fast.reply.ts <= txn_node_safe_time(LEADER(s), 1));
    assert_int_equal(fast.reply.values_n, 1);
    assert_int_equal(fast.reply.values[0].kind, TXN_VERSION_VALUE);
    assert_true(fast.reply.values[0].ts > 0 && fast.reply.values[0].ts <= fast.reply.ts);
    assert_int_equal(fast.reply.values[0].value_len, 1);
    assert_memory_equal(fast.reply.values[0].value, "v", 1);
    txn_node_read_clear(&fast);
    /* Not served off the step: a bound t_safe does not meet yet, another
     * mode, a group not hosted here. The step path answers those. */
    struct txn_request z = b;
    z.staleness_us = 0;
    now = solo_tt(s);
    now.latest += 1000 * 1000; /* t_safe cannot be a second ahead here */
    assert_int_equal(txn_node_read_stale(LEADER(s), &z, now, &fast), SP_ETXN_NOT_SAFE);
    assert_int_equal(txn_node_read_stale(LEADER(s), &r, solo_tt(s), &fast), SP_ETXN_NOT_SAFE);
    z = b;
    z.group = 99;
    assert_int_equal(txn_node_read_stale(LEADER(s), &z, solo_tt(s), &fast), SP_ETXN_NOT_SAFE);
    solo_destroy(s);
}

/* What another thread (a gRPC worker) sees of node i's store: the newest
 * version of "k" at t, and the stale read txn_node_read_stale serves. */
struct round_peek {
    struct solo_node *sn;
    tt_micros t;
    struct tt_interval now;
    char value[8];
    tt_micros stale_ts;
};

static void *round_peek_run(void *arg)
{
    struct round_peek *p = arg;
    struct txn_version v;
    assert_int_equal(txn_store_get(p->sn->store, 1, "k", 1, p->t, &v, NULL), 0);
    assert_true(v.kind == TXN_VERSION_VALUE && v.value_len < sizeof p->value);
    memcpy(p->value, v.value, v.value_len);
    p->value[v.value_len] = '\0';
    txn_version_clear(&v);
    struct txn_key k = {"k", 1};
    struct txn_request r = {.type = TXN_REQ_RO_READ, .group = 1, .keys = &k, .keys_n = 1};
    r.mode = TXN_READ_STALE;
    r.staleness_us = 10 * 1000 * 1000;
    static struct txn_node_read out;
    p->stale_ts = 0;
    if (txn_node_read_stale(p->sn->n, &r, p->now, &out) == 0) {
        p->stale_ts = out.reply.ts;
        txn_node_read_clear(&out);
    }
    return NULL;
}

static void round_peek(struct solo *s, uint32_t i, tt_micros t, struct round_peek *p)
{
    *p = (struct round_peek){.sn = &s->nodes[i], .t = t, .now = solo_tt(s)};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, round_peek_run, p), 0);
    pthread_join(th, NULL);
}

/* Apply rounds (txn_node_round_begin/end): what the steps of a round apply
 * reaches the store only at the round's end, and t_safe is published only
 * then, so another thread never reads below a published t_safe what is not
 * in the store; a read the steps serve themselves sees the round's applies;
 * a node destroyed inside a round (a crash) loses its applies and replays
 * them from the log after the restart. (test_mvcc: a sync writes the open
 * batch.) */
static void test_solo_apply_round(void **state)
{
    (void) state;
    solo_gc_period_us = 3600LL * 1000 * 1000; /* GC reads the store, writing the round */
    struct solo *s = solo_create();
    solo_gc_period_us = 0;
    struct txn_write w1 = put("k", "v1"), w2 = put("k", "v2"), w3 = put("k", "v3");
    solo_commit_ok(s, 3, &w1, 10 * 1000);
    solo_advance(s, 300 * 1000); /* heartbeats: every replica applied v1 */
    for (uint32_t i = 0; i < SOLO_NODES; i++)
        txn_node_round_begin(s->nodes[i].n);
    struct round_peek pk;
    round_peek(s, 0, TT_MICROS_MAX - 1, &pk);
    tt_micros published = pk.stale_ts;
    assert_true(published > 0);
    tt_micros t2 = solo_commit_ok(s, 4, &w2, 10 * 1000)->ts;
    solo_advance(s, 300 * 1000); /* the followers learn it is chosen, and apply it */
    assert_true(txn_node_safe_time(LEADER(s), 1) >= t2);
    /* Applied, but in no store yet: other threads see v1, and no stale read
     * is served at or above t2. */
    for (uint32_t i = 0; i < SOLO_NODES; i++) {
        round_peek(s, i, TT_MICROS_MAX - 1, &pk);
        assert_string_equal(pk.value, "v1");
        assert_true(pk.stale_ts < t2);
    }
    /* A strong read the leader's steps serve sees v2 (the read writes the
     * round's batch first). */
    struct txn_key k = {"k", 1};
    const struct txn_reply *rep = solo_strong_read_ok(s, &k);
    assert_true(rep->ts >= t2);
    round_peek(s, 0, TT_MICROS_MAX - 1, &pk);
    assert_string_equal(pk.value, "v2");
    assert_true(pk.stale_ts < t2); /* still not published */
    /* Node 3 crashes inside its round: v2 is lost from its store and comes
     * back from its log after the restart. */
    solo_crash(s, 2);
    solo_open(s, 2, true);
    round_peek(s, 2, TT_MICROS_MAX - 1, &pk);
    assert_string_equal(pk.value, "v1");
    /* The round ends: written and published. */
    assert_int_equal(txn_node_round_end(LEADER(s)), 0);
    assert_int_equal(txn_node_round_end(s->nodes[1].n), 0);
    round_peek(s, 0, TT_MICROS_MAX - 1, &pk);
    assert_string_equal(pk.value, "v2");
    assert_true(pk.stale_ts >= t2);
    solo_commit_ok(s, 5, &w3, 300 * 1000);
    round_peek(s, 2, TT_MICROS_MAX - 1, &pk); /* node 3 replayed v2, then applied v3 */
    assert_string_equal(pk.value, "v3");
    struct txn_version v;
    assert_int_equal(txn_store_get(s->nodes[2].store, 1, "k", 1, t2, &v, NULL), 0);
    assert_int_equal(v.ts, t2);
    assert_memory_equal(v.value, "v2", 2);
    txn_version_clear(&v);
    solo_destroy(s);
}

/* A single-group strong read at the leader (TXN_READ_STRONG_SINGLE) while
 * the group coordinates a 2PC whose commit is in and whose s is not chosen
 * (its participant's vote held): s can be anything above the commit's
 * arrival, so the read takes TT.now().latest at its arrival, not LastTS()
 * (list-append seed 286 in the simulator: a G2-realtime cycle). Without
 * the rule it reads at LastTS(), far below. */
static void test_solo_strong_single_read_while_coordinating(void **state)
{
    (void) state;
    struct solo *s = solo_create();
    struct txn_write w0 = put("x", "0"), wa = put("a", "1"), wb = put("b", "2");
    solo_commit_ok(s, 3, &w0, 300 * 1000);
    tt_micros last = txn_node_last_ts(LEADER(s), 1);
    solo_advance(s, 100 * 1000); /* now.latest is well past LastTS */
    solo_hold_2pc = true;         /* the participant's vote does not arrive */
    struct txn_request p = solo_prepare(4, s->now, &wb);
    struct txn_request c = solo_commit(4, s->now, &wa);
    solo_request(s, &p);
    solo_request(s, &c);
    assert_null(solo_reply(s, c.req_id)); /* undecided */
    struct txn_key k = {"x", 1};
    struct txn_request r = solo_strong_read(&k);
    struct tt_interval at = solo_tt(s);
    solo_request(s, &r);
    solo_advance(s, 50 * 1000); /* t_safe passes now.latest with the next promises */
    const struct txn_reply *rep = solo_reply(s, r.req_id);
    assert_non_null(rep);
    assert_int_equal(rep->status, 0);
    assert_true(last < at.latest);
    assert_true(rep->ts >= at.latest);
    assert_int_equal(rep->values_n, 1);
    /* The vote was held past vote_timeout_us (50 ms): presumed abort. */
    solo_release_2pc(s);
    solo_advance(s, 300 * 1000);
    assert_non_null(solo_reply(s, c.req_id));
    assert_int_equal(solo_reply(s, c.req_id)->status, SP_ETXN_ABORTED);
    solo_destroy(s);
}

/* A single-group strong read at a leader with a write it assigned a
 * timestamp to but has not applied (its followers cut off): the read is at
 * least at that timestamp and waits for the write, then returns it. Without
 * the rule it is answered at once at LastTS() with the older value. */
static void test_solo_strong_single_read_waits_for_assigned(void **state)
{
    (void) state;
    struct solo *s = solo_create();
    struct txn_write w1 = put("k", "old"), w2 = put("k", "new");
    solo_commit_ok(s, 3, &w1, 300 * 1000);
    solo_cut = 6u; /* nodes 2 and 3 are cut off from the leader */
    struct txn_request c2 = solo_commit1(4, s->now, &w2);
    solo_request(s, &c2);
    assert_null(solo_reply(s, c2.req_id)); /* assigned, logged here only */
    struct txn_key k = {"k", 1};
    struct txn_request r = solo_strong_read(&k);
    solo_request(s, &r);
    assert_null(solo_reply(s, r.req_id)); /* not at LastTS(), before the write */
    solo_cut = 0;
    solo_advance(s, 300 * 1000); /* the followers catch up; the write applies */
    const struct txn_reply *cr = solo_reply(s, c2.req_id);
    assert_non_null(cr);
    assert_int_equal(cr->status, 0);
    const struct txn_reply *rep = solo_reply(s, r.req_id);
    assert_non_null(rep);
    assert_int_equal(rep->status, 0);
    assert_true(rep->ts >= cr->ts);
    solo_destroy(s);
}

/* 2PC on one node: the coordinator's s >= the prepare ts and > now.latest at
 * the commit's arrival; the participant applies at s; both groups agree. A
 * participant prepared without a commit survives a restart (state record)
 * and is aborted by the coordinator's presumed abort. */
static void test_solo_two_phase(void **state)
{
    (void) state;
    struct solo *s = solo_create();
    struct txn_write wa = put("a", "1"), wb = put("b", "2");
    struct txn_request p = solo_prepare(5, s->now, &wb);
    solo_request(s, &p);
    assert_int_equal(txn_node_prepared_n(LEADER(s), 2), 1);
    tt_micros prepare_ts = txn_node_safe_time(LEADER(s), 2) + 1; /* t_TM_safe = prepare ts - 1 */
    struct tt_interval arrival = solo_tt(s);
    struct txn_request c = solo_commit(5, s->now, &wa);
    solo_request(s, &c);
    while (solo_reply(s, c.req_id) == NULL)
        solo_advance(s, 200);
    const struct txn_reply *r = solo_reply(s, c.req_id);
    assert_int_equal(r->status, 0);
    assert_true(r->ts >= prepare_ts && r->ts > arrival.latest);
    solo_advance(s, 20 * 1000);
    assert_int_equal(txn_node_prepared_n(LEADER(s), 2), 0);
    assert_int_equal(txn_node_last_ts(LEADER(s), 2), r->ts); /* applied at s */
    assert_int_equal(txn_node_last_ts(LEADER(s), 1), r->ts);

    /* A prepare whose commit never comes, across a restart. */
    struct txn_request p2 = p;
    p2.id = 6;
    solo_request(s, &p2);
    assert_int_equal(txn_node_prepared_n(LEADER(s), 2), 1);
    solo_crash(s, 0);
    solo_advance(s, 1000);
    solo_open(s, 0, true);
    assert_int_equal(txn_node_prepared_n(LEADER(s), 2), 1); /* from its state record */
    solo_advance(s, 4 * 1000 * 1000); /* old lease grants expire; node 1 leads again */
    assert_true(txn_node_is_leader(LEADER(s), 1) && txn_node_is_leader(LEADER(s), 2));
    assert_int_equal(txn_node_prepared_n(LEADER(s), 2), 0); /* presumed abort */
    /* The first transaction's decision, asked again after the restart, comes
     * from its state record: the same commit timestamp. */
    struct txn_request again = c;
    solo_request(s, &again);
    assert_int_equal(solo_reply(s, again.req_id)->status, 0);
    assert_int_equal(solo_reply(s, again.req_id)->ts, r->ts);
    struct txn_key kb = {"b", 1};
    struct txn_request rd = {.type = TXN_REQ_RO_READ, .group = 2, .keys = &kb, .keys_n = 1};
    rd.mode = TXN_READ_STRONG_SINGLE;
    solo_request(s, &rd);
    assert_int_equal(solo_reply(s, rd.req_id)->status, 0);
    assert_int_equal(solo_reply(s, rd.req_id)->ts, r->ts); /* the aborted one wrote nothing */
    solo_destroy(s);
}

/* N6: an old leader, cut off, logs commits at slots that the next leader
 * never uses; a third leader whose phase 1 meets the old one re-proposes
 * them, and Paxos chooses them after the second leader's commit, with
 * lower timestamps (below its MinNextTS promises too). Every replica skips
 * them; the old leader never acknowledged them. They used to fail the
 * monotonicity assertion (N5) or t_safe's. */
static void test_solo_stale_leader_records_skipped(void **state)
{
    (void) state;
    struct solo *s = solo_create();
    struct txn_write w0 = put("k", "v0"), w1 = put("k", "stale1"), w2 = put("j", "stale2");
    struct txn_request c = solo_commit1(70, s->now, &w0);
    solo_request(s, &c);
    solo_advance(s, 10 * 1000);
    assert_int_equal(solo_reply(s, c.req_id)->status, 0);
    /* Node 1 is cut off and logs two commits only it accepts, at two slots. */
    solo_cut = 1u;
    struct txn_request c1 = c, c2 = c;
    c1.id = 71;
    c1.writes = &w1;
    solo_request(s, &c1);
    solo_advance(s, 1000);
    c2.id = 72;
    c2.writes = &w2;
    solo_request(s, &c2);
    /* Its lease ends; node 2 or 3 leads. */
    for (int i = 0; i < 30 && !txn_node_is_leader(s->nodes[1].n, 1) &&
                    !txn_node_is_leader(s->nodes[2].n, 1);
         i++)
        solo_advance(s, 1000 * 1000);
    uint32_t l = txn_node_is_leader(s->nodes[1].n, 1) ? 1 : 2;
    assert_true(txn_node_is_leader(s->nodes[l].n, 1));
    assert_null(solo_reply(s, c1.req_id)); /* never acknowledged */
    assert_null(solo_reply(s, c2.req_id));
    /* The new leader commits once, at the first of those slots. */
    struct txn_write w3 = put("k", "new");
    struct txn_request c3 = c;
    c3.id = 73;
    c3.start_ts = s->now;
    c3.writes = &w3;
    solo_request_to(s, l, &c3);
    while (solo_reply(s, c3.req_id) == NULL)
        solo_advance(s, 500);
    assert_int_equal(solo_reply(s, c3.req_id)->status, 0);
    tt_micros new_ts = solo_reply(s, c3.req_id)->ts;
    /* It dies; node 1 returns and leads with the third replica, whose log
     * and node 1's make the stale second slot chosen after c3. */
    solo_crash(s, l);
    solo_cut = 0;
    solo_advance(s, 3 * 1000 * 1000);
    assert_true(txn_node_is_leader(LEADER(s), 1));
    solo_advance(s, 100 * 1000);
    struct txn_key kk = {"k", 1}, kj = {"j", 1};
    struct txn_key both[2] = {kk, kj};
    struct txn_request rd = {.type = TXN_REQ_READ, .group = 1, .id = 74, .start_ts = s->now};
    rd.keys = both;
    rd.keys_n = 2;
    solo_request(s, &rd);
    solo_advance(s, 1000);
    assert_non_null(solo_reply(s, rd.req_id));
    assert_int_equal(solo_reply(s, rd.req_id)->status, 0);
    assert_true(solo_reply(s, c1.req_id) == NULL || solo_reply(s, c1.req_id)->status != 0);
    assert_true(solo_reply(s, c2.req_id) == NULL || solo_reply(s, c2.req_id)->status != 0);
    assert_int_equal(txn_node_last_ts(LEADER(s), 1), new_ts); /* c3 is the last commit */
    uint32_t other = 3 - l; /* the replica that was neither */
    assert_int_equal(txn_node_last_ts(s->nodes[other].n, 1), new_ts);
    solo_destroy(s);
}

/* R2 and N6: a leader that never logged a record must not promise
 * MinNextTS. Node 1, cut off, logs a PREPARE only it accepts; the next
 * leader logs nothing of its own and its promises lift t_safe above that
 * prepare timestamp at its replicas. It dies; node 1 returns and, with
 * the third replica, would make the stale PREPARE chosen at that slot,
 * applied below t_safe: no record of the newer leader precedes it, so N6
 * did not skip it (the spanner-sim bank seed 226 failure in safetime.c).
 * The new leader now logs a record of its own ballot before promising. */
static void test_solo_promise_needs_own_record(void **state)
{
    (void) state;
    struct solo *s = solo_create();
    solo_cut = 1u;
    struct txn_write w = put("b", "stale");
    struct txn_request p = solo_prepare(90, s->now, &w);
    solo_request(s, &p);
    tt_micros prepare_ts = txn_node_s_max(LEADER(s), 2); /* recorded as assigned (N4) */
    for (int i = 0; i < 30 && !txn_node_is_leader(s->nodes[1].n, 2) &&
                    !txn_node_is_leader(s->nodes[2].n, 2);
         i++)
        solo_advance(s, 1000 * 1000);
    uint32_t l = txn_node_is_leader(s->nodes[1].n, 2) ? 1 : 2;
    uint32_t other = 3 - l;
    assert_true(txn_node_is_leader(s->nodes[l].n, 2));
    solo_advance(s, 100 * 1000); /* promises only */
    assert_true(txn_node_safe_time(s->nodes[other].n, 2) > prepare_ts);
    solo_crash(s, l);
    solo_cut = 0;
    solo_advance(s, 3 * 1000 * 1000);
    assert_true(txn_node_is_leader(LEADER(s), 2));
    solo_advance(s, 100 * 1000);
    /* The stale prepare never took effect anywhere; t_safe moved on. */
    assert_int_equal(txn_node_prepared_n(LEADER(s), 2), 0);
    assert_int_equal(txn_node_prepared_n(s->nodes[other].n, 2), 0);
    assert_true(txn_node_safe_time(s->nodes[other].n, 2) > prepare_ts);
    struct txn_key kb = {"b", 1};
    struct txn_request rd = {.type = TXN_REQ_RO_READ, .group = 2, .keys = &kb, .keys_n = 1};
    rd.mode = TXN_READ_STRONG_SINGLE;
    solo_request(s, &rd);
    solo_advance(s, 10 * 1000);
    assert_non_null(solo_reply(s, rd.req_id));
    assert_int_equal(solo_reply(s, rd.req_id)->status, 0);
    assert_int_equal(solo_reply(s, rd.req_id)->values_n, 1);
    solo_destroy(s);
}

/* R5: a single-group strong read at LastTS() needs the lease. A leader cut
 * off from its group keeps believing it leads after its lease ends; its
 * successor commits meanwhile, and a LastTS() read there would miss that
 * acknowledged commit. */
static void test_solo_strong_single_read_needs_lease(void **state)
{
    (void) state;
    struct solo *s = solo_create();
    solo_cut = 1u; /* node 1, the leader, is cut off */
    for (int i = 0; i < 30 && !txn_node_is_leader(s->nodes[1].n, 1) &&
                    !txn_node_is_leader(s->nodes[2].n, 1);
         i++)
        solo_advance(s, 1000 * 1000);
    uint32_t l = txn_node_is_leader(s->nodes[1].n, 1) ? 1 : 2;
    assert_true(txn_node_is_leader(s->nodes[l].n, 1));
    assert_true(txn_node_is_leader(LEADER(s), 1)); /* in its own view */
    struct txn_write w = put("k", "v");
    struct txn_request c = solo_commit1(80, s->now, &w);
    solo_request_to(s, l, &c);
    while (solo_reply(s, c.req_id) == NULL)
        solo_advance(s, 500);
    assert_int_equal(solo_reply(s, c.req_id)->status, 0);
    struct txn_key k = {"k", 1};
    struct txn_request r = solo_strong_read(&k);
    solo_request(s, &r); /* to node 1 */
    solo_advance(s, 10 * 1000);
    assert_non_null(solo_reply(s, r.req_id));
    assert_int_equal(solo_reply(s, r.req_id)->status, SP_EPAXOS_NOT_LEADER);
    struct txn_request r2 = r;
    solo_request_to(s, l, &r2);
    solo_advance(s, 10 * 1000);
    assert_int_equal(solo_reply(s, r2.req_id)->status, 0);
    assert_int_equal(solo_reply(s, r2.req_id)->ts, solo_reply(s, c.req_id)->ts);
    solo_cut = 0;
    solo_destroy(s);
}

/* P4: a COMMIT or PREPARE naming the keys the transaction read at the group
 * goes ahead only while the transaction still holds their locks there. A
 * leader change empties the lock table: a write under those reads may have
 * committed in between, so the commit is refused rather than logged with
 * stale reads. */
static void test_solo_commit_checks_read_locks(void **state)
{
    (void) state;
    struct solo *s = solo_create();
    struct txn_key ka = {"a", 1}, kc = {"c", 1}, ke = {"e", 1};
    struct txn_write wb = put("b", "1"), wd = put("d", "1"), wf = put("f", "1");
    /* Locks held: the commit goes ahead. */
    struct txn_request rd = {.type = TXN_REQ_READ, .group = 1, .id = 90, .start_ts = s->now};
    rd.keys = &ka;
    rd.keys_n = 1;
    solo_request(s, &rd);
    assert_int_equal(solo_reply(s, rd.req_id)->status, 0);
    struct txn_request c = solo_commit1(90, rd.start_ts, &wb);
    c.keys = &ka;
    c.keys_n = 1;
    solo_request(s, &c);
    solo_advance(s, 10 * 1000);
    assert_int_equal(solo_reply(s, c.req_id)->status, 0);
    /* Reads at both groups, then a leader change (node 1 restarts). */
    struct txn_request rd2 = rd, rd3 = rd;
    rd2.id = 91;
    rd2.keys = &kc;
    solo_request(s, &rd2);
    assert_int_equal(solo_reply(s, rd2.req_id)->status, 0);
    rd3.id = 92;
    rd3.group = 2;
    rd3.keys = &ke;
    solo_request(s, &rd3);
    assert_int_equal(solo_reply(s, rd3.req_id)->status, 0);
    solo_crash(s, 0);
    solo_advance(s, 1000);
    solo_open(s, 0, true);
    solo_advance(s, 4 * 1000 * 1000);
    assert_true(txn_node_is_leader(LEADER(s), 1) && txn_node_is_leader(LEADER(s), 2));
    tt_micros last1 = txn_node_last_ts(LEADER(s), 1);
    struct txn_request c2 = c;
    c2.id = 91;
    c2.keys = &kc;
    c2.writes = &wd;
    solo_request(s, &c2);
    solo_advance(s, 10 * 1000);
    assert_int_equal(solo_reply(s, c2.req_id)->status, SP_ETXN_ABORTED);
    assert_int_equal(txn_node_last_ts(LEADER(s), 1), last1); /* nothing logged */
    struct txn_request p = solo_prepare(92, rd.start_ts, &wf);
    p.keys = &ke;
    p.keys_n = 1;
    solo_request(s, &p);
    solo_advance(s, 1000);
    assert_int_equal(solo_reply(s, p.req_id)->status, SP_ETXN_ABORTED);
    assert_int_equal(txn_node_prepared_n(LEADER(s), 2), 0);
    solo_destroy(s);
}

/* C1 under a clock step: the coordinator's s is above now.latest at the
 * commit's arrival even when its clock has stepped back (inside eps) by
 * the time the last vote comes; it used to fail the C1 assertion. */
static void test_solo_coordinator_clock_steps_back(void **state)
{
    (void) state;
    struct solo *s = solo_create();
    struct txn_write wa = put("a", "1"), wb = put("b", "2");
    solo_hold_2pc = true; /* the vote waits */
    struct txn_request p = solo_prepare(7, s->now, &wb);
    solo_request(s, &p);
    assert_int_equal(txn_node_prepared_n(LEADER(s), 2), 1);
    solo_offset_us = SOLO_EPS_US; /* the clock is ahead when the commit arrives */
    struct tt_interval arrival = solo_tt(s);
    struct txn_request c = solo_commit(7, p.start_ts, &wa);
    solo_request(s, &c);
    solo_offset_us = -SOLO_EPS_US; /* and steps back by 2 eps before the vote */
    solo_release_2pc(s);
    solo_offset_us = 0;
    while (solo_reply(s, c.req_id) == NULL)
        solo_advance(s, 200);
    const struct txn_reply *r = solo_reply(s, c.req_id);
    assert_int_equal(r->status, 0);
    assert_true(r->ts > arrival.latest);
    solo_destroy(s);
}

/* From §4.2.1: wound-wait by start timestamp. An older transaction's write
 * wounds a younger reader (it aborts with a retryable error, and says so on
 * its next request); a younger writer waits for an older reader, until that
 * one commits, aborts or, idle, expires. */
static void test_solo_wound_wait_and_expiry(void **state)
{
    (void) state;
    struct solo *s = solo_create();
    struct txn_key k = {"k", 1};
    struct txn_write w = put("k", "x");
    tt_micros t0 = s->now;
    /* Younger reader, older writer: the reader is wounded. */
    struct txn_request young = {.type = TXN_REQ_READ, .group = 1, .id = 20, .start_ts = t0 + 5};
    young.keys = &k;
    young.keys_n = 1;
    solo_request(s, &young);
    assert_int_equal(solo_reply(s, young.req_id)->status, 0);
    struct txn_request old = solo_commit1(21, t0, &w);
    solo_request(s, &old);
    solo_advance(s, 20 * 1000);
    assert_int_equal(solo_reply(s, old.req_id)->status, 0);
    struct txn_request again = young;
    solo_request(s, &again);
    assert_int_equal(solo_reply(s, again.req_id)->status, SP_ETXN_WOUNDED);

    /* Older reader, younger writer: the writer waits until the idle reader
     * expires (idle_timeout_us), then commits. */
    struct txn_request reader = {.type = TXN_REQ_READ, .group = 1, .id = 30, .start_ts = t0 + 10};
    reader.keys = &k;
    reader.keys_n = 1;
    solo_request(s, &reader);
    assert_int_equal(solo_reply(s, reader.req_id)->status, 0);
    /* Keep-alives hold off the expiry. */
    struct txn_request ka = {.type = TXN_REQ_KEEPALIVE, .group = 1, .id = 30};
    for (int i = 0; i < 4; i++) {
        solo_advance(s, s->nodes[0].cfg.idle_timeout_us / 2);
        solo_request(s, &ka);
        assert_int_equal(solo_reply(s, ka.req_id)->status, 0);
    }
    struct txn_request writer = old;
    writer.id = 31;
    writer.start_ts = t0 + 20;
    solo_request(s, &writer);
    solo_advance(s, 100 * 1000);
    assert_null(solo_reply(s, writer.req_id)); /* waits: younger than the holder */
    solo_advance(s, s->nodes[0].cfg.idle_timeout_us);
    assert_non_null(solo_reply(s, writer.req_id));
    assert_int_equal(solo_reply(s, writer.req_id)->status, 0);
    struct txn_request late = reader;
    solo_request(s, &late);
    assert_int_equal(solo_reply(s, late.req_id)->status, SP_ETXN_ABORTED); /* expired */
    solo_destroy(s);
}

/* P2 across a leader change: a prepared participant keeps its read locks
 * as well as its write locks; the next leader re-takes both from the
 * PREPARE record, also for a participant that only read at that group (its
 * record has no writes; re-taking used to fail an assertion there). A write
 * under a prepared transaction's read waits for the outcome: committed
 * earlier, it could take a timestamp below the transaction's commit
 * timestamp, and the read would have missed it. */
static void test_solo_prepared_read_locks_survive_restart(void **state)
{
    (void) state;
    struct solo *s = solo_create();
    solo_lose_2pc = true; /* the coordinator never decides */
    struct txn_key kr = {"r", 1}, kq = {"q", 1};
    struct txn_write ww = put("w", "1");
    /* T50 reads r at group 2 and prepares with no writes there; T51 reads q
     * and prepares a write of w. */
    struct txn_request rd = {.type = TXN_REQ_READ, .group = 2, .id = 50, .start_ts = s->now};
    rd.keys = &kr;
    rd.keys_n = 1;
    solo_request(s, &rd);
    assert_int_equal(solo_reply(s, rd.req_id)->status, 0);
    struct txn_request rd2 = rd;
    rd2.id = 51;
    rd2.keys = &kq;
    solo_request(s, &rd2);
    assert_int_equal(solo_reply(s, rd2.req_id)->status, 0);
    struct txn_request p = solo_prepare(50, rd.start_ts, NULL);
    solo_request(s, &p);
    struct txn_request p2 = p;
    p2.id = 51;
    p2.writes = &ww;
    p2.writes_n = 1;
    solo_request(s, &p2);
    solo_advance(s, 1000);
    assert_int_equal(txn_node_prepared_n(LEADER(s), 2), 2);
    /* Leadership changes: node 1 restarts and leads again, caught up. */
    solo_crash(s, 0);
    solo_advance(s, 1000);
    solo_open(s, 0, true);
    solo_advance(s, 4 * 1000 * 1000);
    assert_true(txn_node_is_leader(LEADER(s), 1) && txn_node_is_leader(LEADER(s), 2));
    assert_int_equal(txn_node_prepared_n(LEADER(s), 2), 2);
    /* Single-group writes of r and of q wait for the read locks. */
    tt_micros last = txn_node_last_ts(LEADER(s), 2);
    struct txn_write wr = put("r", "x"), wq = put("q", "x");
    struct txn_request c = {.type = TXN_REQ_COMMIT, .group = 2, .id = 60, .start_ts = s->now};
    c.writes = &wr;
    c.writes_n = 1;
    solo_request(s, &c);
    struct txn_request c2 = c;
    c2.id = 61;
    c2.writes = &wq;
    solo_request(s, &c2);
    solo_advance(s, 100 * 1000);
    assert_null(solo_reply(s, c.req_id));
    assert_null(solo_reply(s, c2.req_id));
    assert_int_equal(txn_node_last_ts(LEADER(s), 2), last);
    /* The outcome (presumed abort) ends both; then the writes commit. */
    solo_lose_2pc = false;
    solo_advance(s, 200 * 1000);
    assert_int_equal(txn_node_prepared_n(LEADER(s), 2), 0);
    assert_non_null(solo_reply(s, c.req_id));
    assert_int_equal(solo_reply(s, c.req_id)->status, 0);
    assert_non_null(solo_reply(s, c2.req_id));
    assert_int_equal(solo_reply(s, c2.req_id)->status, 0);
    solo_destroy(s);
}

/* Version GC runs in the node, below the retention window and never above
 * t_safe: a read below the horizon is a clear error, recent ones are served. */
static void test_solo_gc(void **state)
{
    (void) state;
    solo_retention_us = 200 * 1000;
    struct solo *s = solo_create();
    solo_retention_us = 0;
    struct txn_write w1 = put("g", "v1"), w2 = put("g", "v2");
    struct txn_request c = solo_commit1(40, s->now, &w1);
    solo_request(s, &c);
    solo_advance(s, 20 * 1000);
    tt_micros ts1 = solo_reply(s, c.req_id)->ts;
    struct txn_request c2 = c;
    c2.id = 41;
    c2.writes = &w2;
    solo_request(s, &c2);
    solo_advance(s, 1000 * 1000);
    assert_int_equal(solo_reply(s, c2.req_id)->status, 0);
    struct txn_key k = {"g", 1};
    struct txn_request old = {.type = TXN_REQ_RO_READ, .group = 1, .keys = &k, .keys_n = 1};
    old.mode = TXN_READ_EXACT;
    old.read_ts = ts1;
    solo_request(s, &old);
    assert_int_equal(solo_reply(s, old.req_id)->status, SP_ETXN_TOO_OLD);
    struct txn_request recent = old;
    recent.read_ts = s->now - 100 * 1000;
    solo_request(s, &recent);
    assert_int_equal(solo_reply(s, recent.req_id)->status, 0);
    solo_destroy(s);
}

/* ---- answers that are never wrong (txn.h, "Answers") -------------------------- */

/* Advances until group 1's leader node i has applied a commit above `above`;
 * returns its timestamp. */
static tt_micros solo_until_applied(struct solo *s, uint32_t i, tt_micros above)
{
    for (int k = 0; k < 1000 && txn_node_last_ts(s->nodes[i].n, 1) <= above; k++)
        solo_advance(s, 10);
    assert_true(txn_node_last_ts(s->nodes[i].n, 1) > above);
    return txn_node_last_ts(s->nodes[i].n, 1);
}

/* The issue-16 path: a commit is logged and applied, its leader dies inside
 * commit wait, and the client asks the next leader. That leader holds none
 * of the transaction's read locks; it used to answer "aborted" for a
 * transaction that had committed (and whose writes were visible). It now
 * answers from the group's outcome record: committed, at the same s. */
static void test_solo_commit_answered_after_leader_dies(void **state)
{
    (void) state;
    struct solo *s = solo_create();
    struct txn_key ka = {"a", 1};
    struct txn_write wb = put("b", "1");
    struct txn_request rd = {.type = TXN_REQ_READ, .group = 1, .id = 200, .start_ts = s->now};
    rd.keys = &ka;
    rd.keys_n = 1;
    solo_request(s, &rd);
    assert_int_equal(solo_reply(s, rd.req_id)->status, 0);
    struct txn_request c = solo_commit1(200, rd.start_ts, &wb);
    c.keys = &ka;
    c.keys_n = 1;
    solo_request(s, &c);
    tt_micros ts = solo_until_applied(s, 0, 0);
    assert_null(solo_reply(s, c.req_id)); /* inside commit wait */
    solo_crash(s, 0);
    uint32_t l = 0;
    for (int i = 0; i < 30 && l == 0; i++) {
        solo_advance(s, 1000 * 1000);
        l = txn_node_is_leader(s->nodes[1].n, 1) ? 1 : txn_node_is_leader(s->nodes[2].n, 1) ? 2 : 0;
    }
    assert_true(l != 0);
    struct txn_request again = c;
    again.retry = true;
    solo_request_to(s, l, &again);
    solo_advance(s, 10 * 1000);
    const struct txn_reply *r = solo_reply(s, again.req_id);
    assert_non_null(r);
    assert_int_equal(r->status, 0);
    assert_int_equal(r->ts, ts);
    /* A late copy of the first COMMIT, without retry, is answered the same. */
    struct txn_request late = c;
    solo_request_to(s, l, &late);
    assert_int_equal(solo_reply(s, late.req_id)->status, 0);
    assert_int_equal(solo_reply(s, late.req_id)->ts, ts);
    solo_destroy(s);
}

/* A COMMIT repeated at the same leader: while the first is in Paxos, the
 * repeat takes over its answer (the first hears "unknown"); once it is
 * applied, a repeat is answered from the outcome record, and held for
 * commit wait like the first; a late copy of a blind commit is never
 * committed a second time. */
static void test_solo_commit_repeated(void **state)
{
    (void) state;
    struct solo *s = solo_create();
    struct txn_write w = put("k", "v");
    /* In Paxos: followers cut off, so the record is not chosen yet. */
    solo_cut = 1u;
    struct txn_request c = solo_commit1(210, s->now, &w);
    solo_request(s, &c);
    solo_advance(s, 1000);
    assert_null(solo_reply(s, c.req_id));
    struct txn_request again = c;
    again.retry = true;
    solo_request(s, &again);
    assert_non_null(solo_reply(s, c.req_id));
    assert_int_equal(solo_reply(s, c.req_id)->status, SP_ETXN_UNKNOWN);
    assert_null(solo_reply(s, again.req_id));
    solo_cut = 0;
    solo_advance(s, 500 * 1000); /* the next heartbeat carries the record */
    assert_non_null(solo_reply(s, again.req_id));
    assert_int_equal(solo_reply(s, again.req_id)->status, 0);
    tt_micros ts = solo_reply(s, again.req_id)->ts;
    assert_int_equal(txn_node_last_ts(LEADER(s), 1), ts);
    /* Another commit, repeated once applied, inside commit wait: the
     * repeat waits too. */
    struct txn_write w2 = put("k", "v2");
    struct txn_request c2 = solo_commit1(211, s->now, &w2);
    solo_request(s, &c2);
    ts = solo_until_applied(s, 0, ts);
    assert_null(solo_reply(s, c2.req_id));
    struct txn_request third = c2;
    third.retry = true;
    solo_request(s, &third);
    assert_null(solo_reply(s, third.req_id));
    while (solo_reply(s, third.req_id) == NULL) {
        assert_false(solo_tt(s).earliest > ts + 100); /* not held much past after(s) */
        solo_advance(s, 100);
    }
    assert_true(solo_tt(s).earliest > ts); /* TT.after(s) */
    assert_int_equal(solo_reply(s, third.req_id)->status, 0);
    assert_int_equal(solo_reply(s, third.req_id)->ts, ts);
    assert_int_equal(solo_reply(s, c2.req_id)->ts, ts);
    /* A late copy of the first: answered from the log, not committed again. */
    solo_advance(s, 10 * 1000);
    struct txn_request late = c;
    solo_request(s, &late);
    solo_advance(s, 10 * 1000);
    assert_int_equal(solo_reply(s, late.req_id)->status, 0);
    assert_int_equal(solo_reply(s, late.req_id)->ts, solo_reply(s, again.req_id)->ts);
    assert_int_equal(txn_node_last_ts(LEADER(s), 1), ts);
    solo_destroy(s);
}

/* A resent COMMIT that the leader refuses (here: wounded while it waits
 * for a lock) is refused durably: the abort is logged before the answer,
 * so a late copy of the first COMMIT cannot commit the transaction after
 * the client heard "wounded". Without the logged abort that copy, a blind
 * write, would find the locks free and commit. */
static void test_solo_retry_refusal_is_logged(void **state)
{
    (void) state;
    struct solo *s = solo_create();
    tt_micros t0 = s->now;
    struct txn_key kc = {"c", 1}, kd = {"d", 1};
    struct txn_write w[2] = {put("c", "220"), put("d", "220")};
    struct txn_request holder = {.type = TXN_REQ_READ, .group = 1, .id = 230, .start_ts = t0};
    holder.keys = &kd;
    holder.keys_n = 1;
    solo_request(s, &holder);
    assert_int_equal(solo_reply(s, holder.req_id)->status, 0);
    /* 220 (younger) takes c and waits for d. */
    struct txn_request c = solo_commit1(220, t0 + 10, NULL);
    c.writes = w;
    c.writes_n = 2;
    c.retry = true;
    solo_request(s, &c);
    assert_null(solo_reply(s, c.req_id));
    /* 240 (oldest) reads c: 220 is wounded. */
    struct txn_request wounder = {.type = TXN_REQ_READ, .group = 1, .id = 240, .start_ts = t0 - 10};
    wounder.keys = &kc;
    wounder.keys_n = 1;
    solo_request(s, &wounder);
    solo_advance(s, 10 * 1000);
    assert_non_null(solo_reply(s, c.req_id));
    assert_int_equal(solo_reply(s, c.req_id)->status, SP_ETXN_WOUNDED);
    for (txn_id id = 230; id <= 240; id += 10) {
        struct txn_request ab = {.type = TXN_REQ_ABORT, .group = 1, .id = id};
        solo_request(s, &ab);
    }
    solo_advance(s, 10 * 1000);
    tt_micros last = txn_node_last_ts(LEADER(s), 1);
    struct txn_request late = c;
    late.retry = false;
    solo_request(s, &late);
    solo_advance(s, 10 * 1000);
    assert_int_equal(solo_reply(s, late.req_id)->status, SP_ETXN_ABORTED);
    assert_int_equal(txn_node_last_ts(LEADER(s), 1), last);
    struct txn_version v = {0};
    assert_int_equal(txn_store_get(s->nodes[0].store, 1, "c", 1, TT_MICROS_MAX - 1, &v, NULL), 0);
    assert_int_equal(v.kind, TXN_VERSION_ABSENT);
    free(v.value);
    solo_destroy(s);
}

/* Single-group outcomes are forgotten after outcome_retention_us (the GC
 * tick), so the records stay bounded; a repeat after that is a new
 * transaction to the leader. */
static void test_solo_outcomes_forgotten(void **state)
{
    (void) state;
    solo_outcome_retention_us = 200 * 1000;
    struct solo *s = solo_create();
    solo_outcome_retention_us = 0;
    struct txn_write w = put("k", "v");
    const struct txn_reply *r = solo_commit_ok(s, 250, &w, 10 * 1000);
    tt_micros ts = r->ts;
    uint8_t key[9] = {'d'};
    for (int i = 0; i < 8; i++)
        key[1 + i] = (uint8_t) (250ull >> (8 * (7 - i)));
    uint8_t *val = NULL;
    size_t len = 0;
    assert_int_equal(txn_store_state_get(s->nodes[0].store, 1, key, 9, &val, &len, NULL), 0);
    assert_int_equal(len, 8);
    assert_memory_equal(val, &ts, 8);
    free(val);
    solo_advance(s, 600 * 1000); /* retention, then a GC tick (50 ms) */
    for (uint32_t i = 0; i < SOLO_NODES; i++)
        assert_int_equal(txn_node_last_ts(s->nodes[i].n, 1), ts); /* every replica applied it */
    for (uint32_t i = 0; i < SOLO_NODES; i++)
        assert_int_equal(txn_store_state_get(s->nodes[i].store, 1, key, 9, &val, &len, NULL),
                         SP_ENOTFOUND);
    solo_destroy(s);
}

int main(void)
{
    sp_test_route_asserts();
    if (verbose())
        sp_log_level = SP_LOG_DEBUG;
    if (getenv("TXN_TEST") != NULL) /* run one test: TXN_TEST=<name pattern> */
        cmocka_set_test_filter(getenv("TXN_TEST"));
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_record_roundtrip),
        cmocka_unit_test(test_record_corrupt),
        cmocka_unit_test(test_solo_commit_wait),
        cmocka_unit_test(test_solo_min_next_ts),
        cmocka_unit_test(test_solo_promise_on_demand),
        cmocka_unit_test(test_solo_reads_wait_for_commit_wait),
        cmocka_unit_test(test_solo_reads),
        cmocka_unit_test(test_solo_apply_round),
        cmocka_unit_test(test_solo_strong_single_read_while_coordinating),
        cmocka_unit_test(test_solo_strong_single_read_waits_for_assigned),
        cmocka_unit_test(test_solo_two_phase),
        cmocka_unit_test(test_solo_coordinator_clock_steps_back),
        cmocka_unit_test(test_solo_stale_leader_records_skipped),
        cmocka_unit_test(test_solo_promise_needs_own_record),
        cmocka_unit_test(test_solo_strong_single_read_needs_lease),
        cmocka_unit_test(test_solo_commit_checks_read_locks),
        cmocka_unit_test(test_solo_wound_wait_and_expiry),
        cmocka_unit_test(test_solo_gc),
        cmocka_unit_test(test_solo_commit_answered_after_leader_dies),
        cmocka_unit_test(test_solo_commit_repeated),
        cmocka_unit_test(test_solo_retry_refusal_is_logged),
        cmocka_unit_test(test_solo_outcomes_forgotten),
        cmocka_unit_test(test_solo_prepared_read_locks_survive_restart),
        cmocka_unit_test(test_bank_calm),
        cmocka_unit_test(test_bank_chaos),
        cmocka_unit_test(test_bank_chaos_wide),
        cmocka_unit_test(test_bank_single_group),
        cmocka_unit_test(test_control_commit_wait_off),
        cmocka_unit_test(test_control_commit_wait_on),
        cmocka_unit_test(test_participant_crash_before_prepare),
        cmocka_unit_test(test_participant_crash_after_prepare),
        cmocka_unit_test(test_coordinator_crash_after_commit),
        cmocka_unit_test(test_strong_read_blocked_by_prepared),
        cmocka_unit_test(test_reads_at_ts_stable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

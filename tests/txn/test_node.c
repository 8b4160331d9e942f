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

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

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
        total.crashes += st.crashes;
        total.steps += st.steps;
    }
    fprintf(stderr,
            "  %u seeds: %u commits (%u 2PC), %u unknown, %u given up, %u read-only, %u crashes, "
            "%llu steps\n",
            n, total.commits_ok, total.commits_2pc_ok, total.commits_unknown, total.aborts,
            total.ro_ok, total.crashes, (unsigned long long) total.steps);
    assert_true(total.commits_ok > 0);
}

static void make_calm(struct w_params *p, uint64_t seed)
{
    w_params_init(p, seed);
}

static void test_bank_calm(void **state)
{
    (void) state;
    run_seeds(make_calm, 1, 3);
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

static void test_bank_chaos(void **state)
{
    (void) state;
    run_seeds(make_chaos, 100, 10);
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
    for (uint64_t seed = 1; seed <= seeds && found == 0; seed++) {
        struct w_params p;
        make_control(&p, seed);
        p.verbose = verbose();
        char why[512];
        if (w_run(&p, NULL, why, sizeof why) == SP_ESIM_VIOLATION) {
            found++;
            snprintf(first, sizeof first, "%s", why);
        }
    }
    fprintf(stderr, "  commit wait off: violation found: %s\n", found ? first : "none");
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
    uint32_t r[3], n = w_world_replicas(w, g, r), total = 0;
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
    assert_int_equal(w_world_op_status(w, op), SP_ETXN_UNKNOWN); /* the reply died */
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
    tt_micros prepared_at, resolved_at;
};

/* Keeps the transfer prepared: once group 2 prepared, the coordinator
 * group's leader dies before deciding (if it was the same node, the
 * participant leader too). Records when group 2 resolves it. */
static void block_hook(struct w_world *w, uint32_t node, void *arg)
{
    struct block_ctx *b = arg;
    uint32_t prepared = prepared_anywhere(w, 2);
    if (!b->crashed && prepared > 0) {
        int coord = w_world_leader(w, 1);
        b->crashed = true;
        b->prepared_at = w_world_now(w);
        b->node = coord >= 0 ? (uint32_t) coord : node;
        w_world_crash(w, b->node);
    } else if (b->crashed && b->resolved_at == 0 && prepared == 0) {
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
    /* The read was served only after the prepared transaction resolved. */
    assert_true(b.resolved_at <= w_world_now(w));
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

int main(void)
{
    sp_test_route_asserts();
    if (getenv("TXN_TEST") != NULL) /* run one test: TXN_TEST=<name pattern> */
        cmocka_set_test_filter(getenv("TXN_TEST"));
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bank_calm),
        cmocka_unit_test(test_bank_chaos),
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

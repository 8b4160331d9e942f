/*
 * test_safetime.c - safe time and LastTS (Spanner §4.1.3, §4.2.2): with and
 * without prepared transactions, MinNextTS promises, monotonicity under a
 * seeded random log, read-timestamp choices, and the assertions that guard
 * the invariants.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "sp_test.h"
#include "txn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int setup(void **state)
{
    struct txn_safetime *st = NULL;
    assert_int_equal(txn_safetime_create(4, &st, NULL), 0);
    *state = st;
    return 0;
}

static int teardown(void **state)
{
    txn_safetime_destroy(*state);
    return 0;
}

static void test_initial_state(void **state)
{
    struct txn_safetime *st = *state;
    assert_int_equal(txn_safetime_get(st), 0);
    assert_int_equal(txn_safetime_tm_safe(st), TT_MICROS_MAX);
    assert_int_equal(txn_safetime_last_ts(st), 0);
    assert_int_equal(txn_safetime_check_read(st, 0, NULL), 0);
    struct sp_err err = {0};
    assert_int_equal(txn_safetime_check_read(st, 1, &err), SP_ETXN_NOT_SAFE);
    assert_non_null(strstr(err.msg, "not yet safe"));
    struct txn_safetime *bad = NULL;
    assert_int_equal(txn_safetime_create(0, &bad, NULL), SP_EINVAL);
}

static void test_commits_advance_safe_time(void **state)
{
    struct txn_safetime *st = *state;
    txn_safetime_apply_commit(st, 1, 10);
    assert_int_equal(txn_safetime_get(st), 10);
    assert_int_equal(txn_safetime_last_ts(st), 10);
    txn_safetime_apply_other(st, 2); /* e.g. a membership change */
    assert_int_equal(txn_safetime_get(st), 10);
    txn_safetime_apply_commit(st, 3, 20);
    assert_int_equal(txn_safetime_get(st), 20);
    assert_int_equal(txn_safetime_applied_index(st), 3);
    assert_int_equal(txn_safetime_check_read(st, 20, NULL), 0);
    assert_int_equal(txn_safetime_check_read(st, 21, NULL), SP_ETXN_NOT_SAFE);
}

/* From §4.1.3: t_TM_safe = min_i(s_prepare_i) - 1 while transactions are
 * prepared; it holds t_safe back even as other writes advance t_paxos_safe. */
static void test_prepared_holds_safe_time_back(void **state)
{
    struct txn_safetime *st = *state;
    txn_safetime_apply_commit(st, 1, 10);
    assert_int_equal(txn_safetime_apply_prepare(st, 2, 101, 15, NULL), 0);
    assert_int_equal(txn_safetime_paxos_safe(st), 15);
    assert_int_equal(txn_safetime_tm_safe(st), 14);
    assert_int_equal(txn_safetime_get(st), 14);
    txn_safetime_apply_commit(st, 3, 20);
    assert_int_equal(txn_safetime_get(st), 14);
    assert_int_equal(txn_safetime_last_ts(st), 20);
    assert_int_equal(txn_safetime_apply_prepare(st, 4, 102, 25, NULL), 0);
    assert_int_equal(txn_safetime_prepared_n(st), 2);
    assert_int_equal(txn_safetime_get(st), 14);
    assert_int_equal(txn_safetime_check_read(st, 15, NULL), SP_ETXN_NOT_SAFE);
    /* 101 commits at 30 (>= its prepare timestamp): 102 still holds at 24. */
    assert_int_equal(txn_safetime_apply_outcome(st, 5, 101, 30, NULL), 0);
    assert_int_equal(txn_safetime_tm_safe(st), 24);
    assert_int_equal(txn_safetime_get(st), 24);
    assert_int_equal(txn_safetime_last_ts(st), 30);
    /* 102 aborts: nothing holds t_safe below t_paxos_safe any more. */
    assert_int_equal(txn_safetime_apply_outcome(st, 6, 102, 0, NULL), 0);
    assert_int_equal(txn_safetime_tm_safe(st), TT_MICROS_MAX);
    assert_int_equal(txn_safetime_get(st), 30);
    assert_int_equal(txn_safetime_last_ts(st), 30);
}

/* A commit at exactly its prepare timestamp is allowed (s >= s_prepare):
 * t_TM_safe kept t_safe below it. */
static void test_commit_at_prepare_timestamp(void **state)
{
    struct txn_safetime *st = *state;
    assert_int_equal(txn_safetime_apply_prepare(st, 1, 7, 50, NULL), 0);
    assert_int_equal(txn_safetime_apply_outcome(st, 2, 7, 50, NULL), 0);
    assert_int_equal(txn_safetime_get(st), 50);
    assert_int_equal(txn_safetime_last_ts(st), 50);
}

static void test_promises(void **state)
{
    struct txn_safetime *st = *state;
    txn_safetime_apply_commit(st, 1, 10);
    /* An idle group: MinNextTS(1) = 100 lets reads up to 99 proceed. */
    txn_safetime_promise(st, 1, 100);
    assert_int_equal(txn_safetime_get(st), 99);
    assert_int_equal(txn_safetime_last_ts(st), 10); /* a promise is not a write */
    /* A promise for a slot not applied yet waits for it. */
    txn_safetime_promise(st, 3, 200);
    assert_int_equal(txn_safetime_get(st), 99);
    txn_safetime_apply_other(st, 2);
    assert_int_equal(txn_safetime_get(st), 99);
    txn_safetime_apply_commit(st, 3, 150);
    assert_int_equal(txn_safetime_get(st), 199);
    /* An older promise never lowers t_paxos_safe. */
    txn_safetime_promise(st, 2, 120);
    assert_int_equal(txn_safetime_get(st), 199);
    /* Prepared transactions still bound t_safe below a promise. */
    assert_int_equal(txn_safetime_apply_prepare(st, 4, 9, 250, NULL), 0);
    txn_safetime_promise(st, 4, 1000);
    assert_int_equal(txn_safetime_paxos_safe(st), 999);
    assert_int_equal(txn_safetime_get(st), 249);
    /* A write that breaks a promise trips the invariant. */
    expect_assert_failure(txn_safetime_apply_commit(st, 5, 240));
}

static void test_invariant_assertions(void **state)
{
    struct txn_safetime *st = *state;
    txn_safetime_apply_commit(st, 1, 10);
    expect_assert_failure(txn_safetime_apply_commit(st, 2, 10)); /* at t_safe */
    expect_assert_failure(txn_safetime_apply_commit(st, 1, 11)); /* index reused */
    expect_assert_failure(txn_safetime_apply_prepare(st, 2, 5, 9, NULL));
    assert_int_equal(txn_safetime_apply_prepare(st, 2, 5, 20, NULL), 0);
    expect_assert_failure(txn_safetime_apply_outcome(st, 3, 5, 19, NULL)); /* s < prepare */
    assert_int_equal(txn_safetime_prepared_n(st), 1);
}

static void test_errors(void **state)
{
    struct txn_safetime *st = *state;
    assert_int_equal(txn_safetime_apply_prepare(st, 1, 1, 10, NULL), 0);
    assert_int_equal(txn_safetime_apply_prepare(st, 2, 1, 11, NULL), SP_EINVAL);
    assert_int_equal(txn_safetime_apply_prepare(st, 2, 2, 11, NULL), 0);
    assert_int_equal(txn_safetime_apply_prepare(st, 3, 3, 12, NULL), 0);
    assert_int_equal(txn_safetime_apply_prepare(st, 4, 4, 13, NULL), 0);
    struct sp_err err = {0};
    assert_int_equal(txn_safetime_apply_prepare(st, 5, 5, 14, &err), SP_EFULL);
    assert_non_null(strstr(err.msg, "prepared_max=4"));
    assert_int_equal(txn_safetime_apply_outcome(st, 5, 99, 20, NULL), SP_ENOTFOUND);
    assert_int_equal(txn_safetime_get(st), 9);
}

static void test_read_timestamp_choices(void **state)
{
    struct txn_safetime *st = *state;
    struct tt_interval now = {1400, 1500};
    txn_safetime_apply_commit(st, 1, 1000);
    /* §4.2.2: no prepared transactions -> s_read = LastTS(). */
    assert_int_equal(txn_safetime_strong_read_ts(st, now), 1000);
    assert_int_equal(txn_safetime_apply_prepare(st, 2, 8, 1100, NULL), 0);
    assert_int_equal(txn_safetime_strong_read_ts(st, now), 1500);
    assert_int_equal(txn_safetime_apply_outcome(st, 3, 8, 0, NULL), 0);
    /* Bounded staleness: newest servable timestamp within the bound. */
    tt_micros ts = 0;
    assert_int_equal(txn_safetime_stale_read_ts(st, now, 600, &ts, NULL), 0);
    assert_int_equal(ts, 1100);
    struct sp_err err = {0};
    assert_int_equal(txn_safetime_stale_read_ts(st, now, 300, &ts, &err), SP_ETXN_NOT_SAFE);
    assert_non_null(strstr(err.msg, "staleness bound"));
    txn_safetime_promise(st, 3, 5000);
    assert_int_equal(txn_safetime_stale_read_ts(st, now, 0, &ts, NULL), 0);
    assert_int_equal(ts, 1500); /* never a timestamp beyond now.latest */
    /* Safe time ahead of the clock: the read stays at now.earliest, a
     * timestamp certainly passed, when the bound allows it. */
    assert_int_equal(txn_safetime_stale_read_ts(st, now, 200, &ts, NULL), 0);
    assert_int_equal(ts, 1400);
}

static void test_restore(void **state)
{
    struct txn_safetime *st = *state;
    txn_safetime_restore(st, 5, 100);
    assert_int_equal(txn_safetime_applied_index(st), 5);
    assert_int_equal(txn_safetime_get(st), 100);
    assert_int_equal(txn_safetime_last_ts(st), 100);
    assert_int_equal(txn_safetime_restore_prepared(st, 3, 60, NULL), 0);
    assert_int_equal(txn_safetime_get(st), 59);
    assert_int_equal(txn_safetime_apply_outcome(st, 6, 3, 120, NULL), 0);
    assert_int_equal(txn_safetime_get(st), 120);
}

/* A seeded random log from a correct leader: timestamps it assigns only
 * grow, respect its promises and exceed every prepare of a transaction they
 * commit. t_safe must never decrease and must stay below every prepare. */
static void test_random_log_monotonic(void **state)
{
    (void) state;
    const char *env = getenv("TXN_SEED");
    unsigned seed = env ? (unsigned) strtoul(env, NULL, 10) : 777u;
    print_message("safe time random log: seed %u (TXN_SEED=<seed> replays)\n", seed);
    for (int run = 0; run < 200; run++) {
        struct txn_safetime *st = NULL;
        assert_int_equal(txn_safetime_create(8, &st, NULL), 0);
        tt_micros assigned = 0, safe = 0, pts[8];
        txn_id pid[8];
        int pn = 0;
        txn_id next_id = 1;
        uint64_t index = 0;
        for (int step = 0; step < 300; step++) {
            int kind = rand_r(&seed) % 5;
            tt_micros ts = assigned + 1 + rand_r(&seed) % 5;
            if (kind == 0) {
                txn_safetime_apply_commit(st, ++index, ts);
                assigned = ts;
            } else if (kind == 1 && pn < 8) {
                assert_int_equal(txn_safetime_apply_prepare(st, ++index, next_id, ts, NULL), 0);
                pid[pn] = next_id++;
                pts[pn++] = assigned = ts;
            } else if (kind == 2 && pn > 0) {
                int i = rand_r(&seed) % pn;
                tt_micros s = rand_r(&seed) % 3 ? (ts > pts[i] ? ts : pts[i]) : 0;
                if (s > assigned)
                    assigned = s;
                assert_int_equal(txn_safetime_apply_outcome(st, ++index, pid[i], s, NULL), 0);
                pid[i] = pid[pn - 1];
                pts[i] = pts[--pn];
            } else if (kind == 3) {
                /* MinNextTS for the last applied slot, or a future one. */
                txn_safetime_promise(st, index + (uint64_t) (rand_r(&seed) % 2), ts);
                assigned = ts - 1; /* the next assignment is >= ts */
            } else {
                txn_safetime_apply_other(st, ++index);
            }
            tt_micros now_safe = txn_safetime_get(st);
            assert_true(now_safe >= safe);
            safe = now_safe;
            for (int i = 0; i < pn; i++)
                assert_true(safe < pts[i]);
            assert_true(txn_safetime_last_ts(st) <= txn_safetime_paxos_safe(st));
        }
        txn_safetime_destroy(st);
    }
}

int main(void)
{
    sp_test_route_asserts();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_initial_state, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commits_advance_safe_time, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prepared_holds_safe_time_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commit_at_prepare_timestamp, setup, teardown),
        cmocka_unit_test_setup_teardown(test_promises, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invariant_assertions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_timestamp_choices, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restore, setup, teardown),
        cmocka_unit_test(test_random_log_monotonic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

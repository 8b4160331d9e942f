/*
 * test_timestamps.c - the leader's timestamp rules: commit >= now.latest,
 * prepare above everything assigned, coordinator commit >= every prepare and
 * > now.latest at the commit's arrival (not at the decision, which comes
 * after the votes), inside the lease, MinNextTS kept, monotonic across
 * leader changes with disjoint leases, and commit wait: a reply released only
 * once TT.after(s) finds true time past s.
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

static struct txn_ts_bounds bounds(tt_micros earliest, tt_micros latest, tt_micros last)
{
    return (struct txn_ts_bounds){{earliest, latest}, 50, 1000, last};
}

static void test_commit_rules(void **state)
{
    (void) state;
    tt_micros s = 0;
    struct txn_ts_bounds b = bounds(100, 110, 0);
    assert_int_equal(txn_ts_commit(&b, &s, NULL), 0);
    assert_int_equal(s, 110); /* >= now.latest */
    b.last_assigned = 200;
    assert_int_equal(txn_ts_commit(&b, &s, NULL), 0);
    assert_int_equal(s, 201); /* > everything assigned */
    b = bounds(10, 20, 0);
    assert_int_equal(txn_ts_commit(&b, &s, NULL), 0);
    assert_int_equal(s, 50); /* not before the lease */
    assert_int_equal(txn_ts_prepare(&b, &s, NULL), 0);
    assert_int_equal(s, 50);
}

static void test_lease_bounds(void **state)
{
    (void) state;
    tt_micros s = 0;
    struct sp_err err = {0};
    struct txn_ts_bounds b = bounds(990, 1000, 0); /* the lease may be over */
    assert_int_equal(txn_ts_commit(&b, &s, &err), SP_EPAXOS_NO_LEASE);
    assert_non_null(strstr(err.msg, "may be over"));
    b = bounds(900, 910, 999); /* the next timestamp would be 1000 */
    assert_int_equal(txn_ts_prepare(&b, &s, &err), SP_EPAXOS_NO_LEASE);
    assert_non_null(strstr(err.msg, "outside the lease"));
    tt_micros p[] = {1000};
    b = bounds(900, 910, 0);
    assert_int_equal(txn_ts_coordinator_commit(&b, 900, p, 1, &s, NULL), SP_EPAXOS_NO_LEASE);
    b = bounds(900, 998, 0);
    assert_int_equal(txn_ts_min_next(&b, &s, NULL), 0);
    assert_int_equal(s, 998);
    b.now.latest = 999; /* arrived at 999: s = 1000 is past the lease */
    assert_int_equal(txn_ts_coordinator_commit(&b, 999, NULL, 0, &s, NULL), SP_EPAXOS_NO_LEASE);
    assert_int_equal(txn_ts_coordinator_commit(&b, 900, NULL, 0, &s, NULL), 0);
    assert_int_equal(s, 901); /* arrived at 900: s = 901 fits */
    b.now.latest = 1000; /* the lease is checked at the decision, not the arrival */
    assert_int_equal(txn_ts_coordinator_commit(&b, 500, NULL, 0, &s, &err), SP_EPAXOS_NO_LEASE);
    assert_non_null(strstr(err.msg, "may be over"));
}

static void test_coordinator_commit(void **state)
{
    (void) state;
    tt_micros s = 0;
    struct txn_ts_bounds b = bounds(100, 110, 0);
    tt_micros p1[] = {120, 300, 250};
    assert_int_equal(txn_ts_coordinator_commit(&b, 110, p1, 3, &s, NULL), 0);
    assert_int_equal(s, 300); /* >= every prepare */
    tt_micros p2[] = {60, 70};
    assert_int_equal(txn_ts_coordinator_commit(&b, 110, p2, 2, &s, NULL), 0);
    assert_int_equal(s, 111); /* > now.latest at arrival */
    b.last_assigned = 400;
    assert_int_equal(txn_ts_coordinator_commit(&b, 110, p1, 3, &s, NULL), 0);
    assert_int_equal(s, 401); /* > everything assigned */
    /* The votes came in later: now.latest is 210 at the decision, but the
     * bound is the arrival's 110 (§4.2.1), so the commit wait does not
     * start over from the decision. */
    b = bounds(200, 210, 0);
    assert_int_equal(txn_ts_coordinator_commit(&b, 110, p2, 2, &s, NULL), 0);
    assert_int_equal(s, 111);
    tt_micros p3[] = {120, 150};
    assert_int_equal(txn_ts_coordinator_commit(&b, 110, p3, 2, &s, NULL), 0);
    assert_int_equal(s, 150);
}

static void test_min_next_is_kept(void **state)
{
    (void) state;
    tt_micros m = 0, s = 0;
    struct txn_ts_bounds b = bounds(100, 300, 120);
    assert_int_equal(txn_ts_min_next(&b, &m, NULL), 0);
    assert_int_equal(m, 300);
    /* The driver records m - 1 as assigned; TrueTime's latest may shrink
     * when eps does, yet the next timestamp still honours the promise. */
    b = bounds(150, 160, m - 1);
    assert_int_equal(txn_ts_commit(&b, &s, NULL), 0);
    assert_true(s >= m);
}

static void test_commit_wait(void **state)
{
    (void) state;
    assert_false(txn_ts_commit_wait_over((struct tt_interval){110, 120}, 110));
    assert_true(txn_ts_commit_wait_over((struct tt_interval){111, 121}, 110));
}

/* Leaders one after another, each with a lease disjoint in true time from
 * the previous one and a clock within its eps of true time. Every timestamp
 * assigned in the group is larger than all before it, and a commit wait
 * that ends by TT.after(s) ends when true time is already past s. */
static void test_random_leaders_monotonic(void **state)
{
    (void) state;
    const char *env = getenv("TXN_SEED");
    unsigned seed = env ? (unsigned) strtoul(env, NULL, 10) : 31337u;
    print_message("timestamp rules across leaders: seed %u (TXN_SEED=<seed> replays)\n", seed);
    tt_micros true_us = 1000, prev = 0, prev_end = 0;
    long assigned = 0;
    for (int leader = 0; leader < 200; leader++) {
        tt_micros eps = 1 + rand_r(&seed) % 50;
        tt_micros lease_start = true_us + eps, lease_end = lease_start + 200 + rand_r(&seed) % 800;
        /* The new leader may not have applied the old one's last writes. */
        tt_micros last = prev > 0 ? prev - rand_r(&seed) % (prev + 1) : 0;
        for (int op = 0; op < 50; op++) {
            true_us += rand_r(&seed) % 20;
            tt_micros off = (tt_micros) (rand_r(&seed) % (2 * eps + 1)) - eps;
            struct txn_ts_bounds b = {
                {true_us + off - eps, true_us + off + eps}, lease_start, lease_end, last};
            tt_micros s = 0, p[2] = {last + rand_r(&seed) % 30, last + rand_r(&seed) % 30};
            /* A coordinator's commit arrived at some true time after the
             * previous operation ended, read on a clock within eps. */
            tt_micros arrival = prev_end + rand_r(&seed) % (true_us - prev_end + 1);
            tt_micros arrival_latest = arrival + (tt_micros) (rand_r(&seed) % (2 * eps + 1));
            int kind = rand_r(&seed) % 3;
            int rc = kind == 0   ? txn_ts_commit(&b, &s, NULL)
                     : kind == 1 ? txn_ts_prepare(&b, &s, NULL)
                                 : txn_ts_coordinator_commit(&b, arrival_latest, p, 2, &s, NULL);
            if (rc == SP_EPAXOS_NO_LEASE)
                break;
            assert_int_equal(rc, 0);
            assert_true(s > prev);
            if (kind == 2) /* above every commit whose wait ended before it arrived */
                assert_true(s > arrival && s >= p[0] && s >= p[1]);
            prev = last = s;
            assigned++;
            /* Commit wait: advance true time until TT.after(s) holds. */
            for (int i = 0; i < 1000; i++) {
                struct tt_interval now = {true_us + off - eps, true_us + off + eps};
                if (txn_ts_commit_wait_over(now, s))
                    break;
                true_us += 1 + rand_r(&seed) % 5;
            }
            assert_true(true_us > s);
            prev_end = true_us;
        }
        /* Lease disjointness: the next lease starts after this one ends. */
        if (true_us < lease_end + eps)
            true_us = lease_end + eps;
    }
    print_message("  %ld timestamps assigned\n", assigned);
    assert_true(assigned > 1000);
}

int main(void)
{
    sp_test_route_asserts();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_commit_rules),       cmocka_unit_test(test_lease_bounds),
        cmocka_unit_test(test_coordinator_commit), cmocka_unit_test(test_min_next_is_kept),
        cmocka_unit_test(test_commit_wait),        cmocka_unit_test(test_random_leaders_monotonic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

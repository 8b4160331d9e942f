/*
 * test_interval.c - interval arithmetic, TT.after/TT.before edges, the sim
 * backend's bound, monotonic earliest across a backwards step, commit wait,
 * the error table and assertion routing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "sp_test.h"
#include "truetime.h"

#include <string.h>

#define T0 1700000000000000LL /* a plausible epoch time in us */

static struct tt_clock *sim_clock(struct tt_sim_world *w, tt_micros off, double drift,
                                  tt_micros eps, bool brk)
{
    struct tt_sim_params p = {.offset_us = off, .drift_ppm = drift, .eps_us = eps,
                              .break_bound = brk};
    struct tt_clock *c = NULL;
    assert_int_equal(tt_sim_clock_create(w, &p, &c, NULL), 0);
    return c;
}

static void test_after_before_edges(void **state)
{
    (void) state;
    struct tt_interval now = {.earliest = 100, .latest = 120};
    assert_true(tt_interval_after(now, 99));
    assert_false(tt_interval_after(now, 100)); /* t == earliest: not definitely passed */
    assert_false(tt_interval_after(now, 110));
    assert_true(tt_interval_before(now, 121));
    assert_false(tt_interval_before(now, 120)); /* t == latest: may have arrived */
    assert_false(tt_interval_before(now, 110));
    assert_int_equal(tt_interval_eps(now), 10);
    struct tt_interval odd = {.earliest = 100, .latest = 121};
    assert_int_equal(tt_interval_eps(odd), 11); /* rounded up, never down */
}

static void test_sim_contains_true_time(void **state)
{
    (void) state;
    struct tt_sim_world w = {.true_us = T0};
    struct tt_clock *c = sim_clock(&w, 300, 20.0, 1000, false);
    for (int i = 0; i < 1000; i++) {
        w.true_us += 12345;
        struct tt_interval now;
        assert_int_equal(tt_now(c, &now), 0);
        assert_true(now.earliest <= w.true_us && w.true_us <= now.latest);
        assert_true(now.earliest <= now.latest);
    }
    tt_clock_destroy(c);
}

/* Control mode: an offset beyond eps widens the interval to cover it. */
static void test_sim_control_widens(void **state)
{
    (void) state;
    struct tt_sim_world w = {.true_us = T0};
    struct tt_clock *c = sim_clock(&w, 5000, 0, 1000, false);
    struct tt_interval now;
    assert_int_equal(tt_now(c, &now), 0);
    assert_true(now.earliest <= w.true_us && w.true_us <= now.latest);
    assert_true(tt_interval_eps(now) >= 5000);
    tt_clock_destroy(c);
}

/* Fault mode: the same offset is reported with the narrow eps, so the
 * interval misses true time (what the simulator's negative control needs). */
static void test_sim_break_bound_misses(void **state)
{
    (void) state;
    struct tt_sim_world w = {.true_us = T0};
    struct tt_clock *c = sim_clock(&w, 5000, 0, 1000, true);
    struct tt_interval now;
    assert_int_equal(tt_now(c, &now), 0);
    assert_true(now.earliest > w.true_us);
    assert_int_equal(tt_interval_eps(now), 1000);
    tt_clock_destroy(c);
}

static void test_monotonic_earliest_across_backwards_step(void **state)
{
    (void) state;
    struct tt_sim_world w = {.true_us = T0};
    struct tt_clock *c = sim_clock(&w, 0, 0, 500, true);
    struct tt_interval before, after;
    assert_int_equal(tt_now(c, &before), 0);
    tt_sim_clock_step(c, -10 * 1000000LL); /* the clock jumps back 10 s */
    w.true_us += 10;
    assert_int_equal(tt_now(c, &after), 0);
    assert_true(after.earliest >= before.earliest);
    /* shifted, never narrowed */
    assert_true(after.latest - after.earliest >= 2 * 500);
    /* and keeps non-decreasing while the clock catches up */
    tt_micros last = after.earliest;
    for (int i = 0; i < 100; i++) {
        w.true_us += 200000;
        assert_int_equal(tt_now(c, &after), 0);
        assert_true(after.earliest >= last);
        last = after.earliest;
    }
    tt_clock_destroy(c);
}

/* Commit wait returns only once TT.after(s) holds on the same backend. */
static void test_commit_wait_sim(void **state)
{
    (void) state;
    struct tt_sim_world w = {.true_us = T0};
    /* A slow clock (-100 ppm) needs more than one sleep to pass s. */
    struct tt_clock *c = sim_clock(&w, -200, -100.0, 4000, false);
    for (int i = 0; i < 50; i++) {
        struct tt_interval now;
        assert_int_equal(tt_now(c, &now), 0);
        tt_micros s = now.latest + i * 37;
        assert_false(tt_after(c, s));
        tt_micros waited = -1;
        assert_int_equal(tt_commit_wait(c, s, &waited), 0);
        assert_true(tt_after(c, s));
        assert_true(waited > 0);
        /* s was at or above latest, so the wait covers the interval width. */
        assert_true(waited >= 2 * 4000 - 2);
    }
    struct tt_stats st;
    tt_clock_stats(c, &st);
    assert_int_equal(st.commit_waits, 50);
    assert_true(st.commit_wait_max >= 8000);
    tt_clock_destroy(c);
}

/* The fixed backend sleeps on the real clock; check the outcome against the
 * backend, not against a sleep length. */
static void test_commit_wait_fixed(void **state)
{
    (void) state;
    struct tt_config cfg;
    tt_config_init(&cfg);
    assert_int_equal(tt_config_set(&cfg, "backend", "fixed", NULL), 0);
    assert_int_equal(tt_config_set(&cfg, "fixed_eps_us", "2000", NULL), 0);
    struct tt_clock *c;
    assert_int_equal(tt_clock_create(&cfg, &c, NULL), 0);
    for (int i = 0; i < 10; i++) {
        struct tt_interval now;
        assert_int_equal(tt_now(c, &now), 0);
        assert_int_equal(now.latest - now.earliest, 4000);
        tt_micros waited;
        assert_int_equal(tt_commit_wait(c, now.latest, &waited), 0);
        assert_true(tt_after(c, now.latest));
        assert_true(waited >= 3900);
    }
    /* s already passed: no wait at all */
    struct tt_interval now;
    assert_int_equal(tt_now(c, &now), 0);
    tt_micros waited = -1;
    assert_int_equal(tt_commit_wait(c, now.earliest - 1, &waited), 0);
    assert_true(waited < 1000);
    tt_clock_destroy(c);
}

static void test_error_table(void **state)
{
    (void) state;
    assert_string_equal(sp_strerror(SP_OK), "success");
    assert_string_equal(sp_errname(SP_ETT_UNKNOWN), "SP_ETT_UNKNOWN");
    assert_string_equal(sp_strerror(9999), "unknown error 9999");
    struct sp_err e = {0};
    sp_err_set(&e, SP_EIO, "short write");
    sp_err_wrap(&e, "disk");
    sp_err_wrap(&e, "txn %d", 42);
    assert_string_equal(e.msg, "txn 42: disk: short write");
    assert_int_equal(e.code, SP_EIO);
    char big[600];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    sp_err_set(&e, SP_EIO, "%s", big);
    sp_err_wrap(&e, "outer");
    assert_int_equal(strlen(e.msg), SP_ERR_MSG_MAX - 1);
    assert_memory_equal(e.msg, "outer: ", 7); /* the context survives truncation */
}

static void test_assert_routed_to_cmocka(void **state)
{
    (void) state;
    struct tt_interval now;
    expect_assert_failure(tt_now(NULL, &now));
}

int main(void)
{
    sp_test_route_asserts();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_after_before_edges),
        cmocka_unit_test(test_sim_contains_true_time),
        cmocka_unit_test(test_sim_control_widens),
        cmocka_unit_test(test_sim_break_bound_misses),
        cmocka_unit_test(test_monotonic_earliest_across_backwards_step),
        cmocka_unit_test(test_commit_wait_sim),
        cmocka_unit_test(test_commit_wait_fixed),
        cmocka_unit_test(test_error_table),
        cmocka_unit_test(test_assert_routed_to_cmocka),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

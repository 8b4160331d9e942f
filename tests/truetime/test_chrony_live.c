/*
 * test_chrony_live.c - the chrony backend against a real private chronyd
 * pair started and stopped by the test on loopback: the interval contains
 * the system time, eps is what the tracking fields imply, both transports
 * work, and the status goes degraded then unknown when chronyd is killed and
 * recovers when it returns.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "sp_test.h"
#include "truetime.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct live {
    char dir[32];
    struct tt_chrony_pair pair;
};

static tt_micros realtime_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (tt_micros) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int setup(void **state)
{
    static struct live L;
    snprintf(L.dir, sizeof L.dir, "/tmp/tt-live-XXXXXX");
    if (!mkdtemp(L.dir))
        return -1;
    struct sp_err e = {0};
    if (tt_chrony_pair_start(L.dir, &L.pair, &e) != 0) {
        fprintf(stderr, "cannot start chronyd pair: %s\n", e.msg);
        return -1;
    }
    *state = &L;
    return 0;
}

static int teardown(void **state)
{
    struct live *L = *state;
    tt_chrony_pair_stop(&L->pair);
    char cmd[64];
    snprintf(cmd, sizeof cmd, "rm -rf %s", L->dir);
    return system(cmd) == 0 ? 0 : -1;
}

static struct tt_clock *live_clock(struct live *L, bool udp)
{
    struct tt_config c;
    tt_chrony_pair_config(&L->pair, &c);
    if (udp) {
        char addr[32];
        snprintf(addr, sizeof addr, "127.0.0.1:%d", L->pair.client_cmd_port);
        assert_int_equal(tt_config_set(&c, "chrony_udp", addr, NULL), 0);
    }
    c.refresh_ms = 200;
    c.request_timeout_ms = 100;
    c.degraded_after_ms = 1000;
    c.unknown_after_ms = 3000;
    struct tt_clock *clk;
    assert_int_equal(tt_clock_create(&c, &clk, NULL), 0);
    return clk;
}

static void await_status(struct tt_clock *c, enum tt_status want, int seconds)
{
    char reason[256] = "";
    for (int i = 0; i < seconds * 20; i++) {
        if (tt_clock_status(c, reason, sizeof reason) == want)
            return;
        usleep(50000);
    }
    fail_msg("status never became %s within %d s; reason: %s", tt_status_name(want), seconds,
             reason);
}

/* Reads the stratum chronyc itself reports (an independent view of the
 * same daemon), or -1. */
static int chronyc_stratum(const char *sock)
{
    char cmd[200];
    snprintf(cmd, sizeof cmd, "chronyc -h %s -c tracking 2>/dev/null", sock);
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    char line[512] = "";
    char *ok = fgets(line, sizeof line, p);
    pclose(p);
    if (!ok)
        return -1;
    /* CSV: ref id, name, stratum, ... */
    char *f1 = strchr(line, ',');
    char *f2 = f1 ? strchr(f1 + 1, ',') : NULL;
    return f2 ? atoi(f2 + 1) : -1;
}

static void test_interval_and_eps(void **state)
{
    struct live *L = *state;
    struct tt_clock *c = live_clock(L, false);
    await_status(c, TT_SYNCED, 30);
    for (int i = 0; i < 20; i++) {
        struct tt_chrony_tracking t;
        tt_micros age0, age1;
        assert_int_equal(tt_chrony_last_sample(c, &t, &age0), 0);
        tt_micros before = realtime_us();
        struct tt_interval now;
        assert_int_equal(tt_now(c, &now), 0);
        tt_micros after = realtime_us();
        struct tt_chrony_tracking t2;
        assert_int_equal(tt_chrony_last_sample(c, &t2, &age1), 0);
        /* contains the system time read around it */
        assert_true(now.earliest <= after);
        assert_true(now.latest >= before);
        /* eps = ClockBound bound of the sample + 50 ppm * age (same sample) */
        if (memcmp(&t, &t2, sizeof t) == 0 && age1 >= age0) {
            tt_micros base = tt_chrony_base_bound_us(&t);
            tt_micros lo = base + (age0 * 50) / 1000000;
            tt_micros hi = base + (age1 * 50 + 999999) / 1000000;
            tt_micros eps2 = now.latest - now.earliest;
            assert_true(eps2 >= 2 * lo && eps2 <= 2 * hi);
        }
        assert_int_equal(t.leap_status, 0);
        usleep(100000);
    }
    struct tt_chrony_tracking t;
    assert_int_equal(tt_chrony_last_sample(c, &t, NULL), 0);
    assert_int_equal(t.stratum, 9); /* server is local stratum 8 */
    int s = chronyc_stratum(L->pair.socket_path);
    if (s >= 0)
        assert_int_equal(s, t.stratum);
    tt_clock_destroy(c);
}

static void test_udp_transport(void **state)
{
    struct live *L = *state;
    struct tt_clock *c = live_clock(L, true);
    await_status(c, TT_SYNCED, 30);
    struct tt_chrony_tracking t;
    assert_int_equal(tt_chrony_last_sample(c, &t, NULL), 0);
    assert_int_equal(t.stratum, 9);
    tt_clock_destroy(c);
}

static void test_kill_degrade_unknown_recover(void **state)
{
    struct live *L = *state;
    struct tt_clock *c = live_clock(L, false);
    await_status(c, TT_SYNCED, 30);
    struct tt_interval a, b;
    assert_int_equal(tt_now(c, &a), 0);

    tt_chrony_pair_stop_client(&L->pair);
    await_status(c, TT_DEGRADED, 5);
    assert_int_equal(tt_now(c, &b), 0);
    assert_true(tt_interval_eps(b) > tt_interval_eps(a));
    await_status(c, TT_UNKNOWN, 5);
    assert_int_equal(tt_now(c, &b), SP_ETT_UNKNOWN);
    assert_false(tt_after(c, 0));

    struct sp_err e = {0};
    assert_int_equal(tt_chrony_pair_start_client(&L->pair, &e), 0);
    await_status(c, TT_SYNCED, 30);
    assert_int_equal(tt_now(c, &b), 0);
    assert_true(b.earliest >= a.earliest);
    tt_clock_destroy(c);
}

int main(void)
{
    sp_test_route_asserts();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_interval_and_eps),
        cmocka_unit_test(test_udp_transport),
        cmocka_unit_test(test_kill_degrade_unknown_recover),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

/*
 * test_chrony_fake.c - the chrony backend against a fake chronyd on UDP
 * loopback that answers badly on purpose: short replies, wrong sequence
 * numbers, wrong versions, an unsynchronised clock, silence. Each must give a
 * clear status reason and never an interval; a good reply restores it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "chrony_test_util.h"
#include "sp_test.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum fake_mode { GOOD, SHORT, WRONG_SEQ, BAD_VERSION, UNSYNC, SILENT, STALE_REF };

struct fake {
    int fd, port;
    _Atomic int mode;
    _Atomic int stop;
    pthread_t thread;
};

static void answer(struct fake *f, const uint8_t *req, struct sockaddr_in *to, socklen_t tolen)
{
    uint32_t seq = (uint32_t) req[8] << 24 | (uint32_t) req[9] << 16 | req[10] << 8 | req[11];
    struct tt_chrony_tracking t = test_tracking();
    uint8_t buf[TT_CHRONY_PKT_LEN];
    size_t len = sizeof buf;
    int mode = atomic_load(&f->mode);
    if (mode == SILENT)
        return;
    if (mode == UNSYNC)
        t.leap_status = 3;
    /* chronyd's last clock update: just now, or (STALE_REF) an hour ago */
    t.ref_time_s = (double) time(NULL) - (mode == STALE_REF ? 3600 : 0);
    test_build_reply(buf, mode == WRONG_SEQ ? seq + 1 : seq, &t);
    if (mode == SHORT)
        len = 50;
    if (mode == BAD_VERSION)
        buf[0] = 4;
    sendto(f->fd, buf, len, 0, (struct sockaddr *) to, tolen);
}

static void *serve(void *arg)
{
    struct fake *f = arg;
    while (!atomic_load(&f->stop)) {
        struct pollfd p = {.fd = f->fd, .events = POLLIN};
        if (poll(&p, 1, 20) <= 0)
            continue;
        uint8_t req[256];
        struct sockaddr_in from;
        socklen_t fl = sizeof from;
        ssize_t n = recvfrom(f->fd, req, sizeof req, 0, (struct sockaddr *) &from, &fl);
        if (n == TT_CHRONY_PKT_LEN && req[0] == 6 && req[1] == 1)
            answer(f, req, &from, fl);
    }
    return NULL;
}

static int setup(void **state)
{
    static struct fake f;
    memset(&f, 0, sizeof f);
    f.fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    if (f.fd < 0 || bind(f.fd, (struct sockaddr *) &sa, sizeof sa) ||
        getsockname(f.fd, (struct sockaddr *) &sa, &len))
        return -1;
    f.port = ntohs(sa.sin_port);
    pthread_create(&f.thread, NULL, serve, &f);
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    struct fake *f = *state;
    atomic_store(&f->stop, 1);
    pthread_join(f->thread, NULL);
    close(f->fd);
    return 0;
}

static struct tt_clock *fake_clock(struct fake *f)
{
    struct tt_config c;
    tt_config_init(&c);
    char udp[32];
    snprintf(udp, sizeof udp, "127.0.0.1:%d", f->port);
    struct sp_err e = {0};
    assert_int_equal(tt_config_set(&c, "chrony_udp", udp, &e), 0);
    c.refresh_ms = 50;
    c.request_timeout_ms = 30;
    c.degraded_after_ms = 300;
    c.unknown_after_ms = 900;
    struct tt_clock *clk = NULL;
    assert_int_equal(tt_clock_create(&c, &clk, &e), 0);
    return clk;
}

/* Polls status until it equals `want` (bounded: 5 s). */
static void await_status(struct tt_clock *c, enum tt_status want, char *reason, size_t len)
{
    for (int i = 0; i < 500; i++) {
        if (tt_clock_status(c, reason, len) == want)
            return;
        usleep(10000);
    }
    fail_msg("status never became %s; last reason: %s", tt_status_name(want), reason);
}

static void expect_refused(struct fake *f, int mode, const char *what)
{
    atomic_store(&f->mode, mode);
    struct tt_clock *c = fake_clock(f);
    char reason[256];
    usleep(150000); /* a few refresh rounds of the same bad answer */
    assert_int_equal(tt_clock_status(c, reason, sizeof reason), TT_UNKNOWN);
    if (!strstr(reason, what))
        fail_msg("reason \"%s\" does not mention \"%s\"", reason, what);
    struct tt_interval now = {0, 0};
    assert_int_equal(tt_now(c, &now), SP_ETT_UNKNOWN);
    assert_false(tt_after(c, 0));
    assert_false(tt_before(c, TT_MICROS_MAX));
    assert_int_equal(tt_commit_wait(c, 0, NULL), SP_ETT_UNKNOWN);
    struct tt_stats st;
    tt_clock_stats(c, &st);
    assert_int_equal(st.samples_ok, 0);
    assert_true(st.samples_failed >= 1);
    tt_clock_destroy(c);
}

static void test_bad_replies_give_no_interval(void **state)
{
    struct fake *f = *state;
    expect_refused(f, SHORT, "length 50");
    expect_refused(f, WRONG_SEQ, "sequence");
    expect_refused(f, BAD_VERSION, "protocol version 4");
    expect_refused(f, SILENT, "no reply");
    expect_refused(f, UNSYNC, "unsynchronised");
}

static void test_unreachable_socket(void **state)
{
    (void) state;
    struct tt_config c;
    tt_config_init(&c);
    assert_int_equal(tt_config_set(&c, "chrony_socket", "/nonexistent-dir/chronyd.sock", NULL),
                     0);
    struct tt_clock *clk;
    assert_int_equal(tt_clock_create(&c, &clk, NULL), 0);
    char reason[256];
    assert_int_equal(tt_clock_status(clk, reason, sizeof reason), TT_UNKNOWN);
    assert_non_null(strstr(reason, "/nonexistent-dir/chronyd.sock"));
    struct tt_interval now;
    assert_int_equal(tt_now(clk, &now), SP_ETT_UNKNOWN);
    tt_clock_destroy(clk);
}

/* good -> silent: degraded with a widening interval, then unknown; good
 * again: synchronised. Then unsynchronised replies: degraded, widening. */
static void test_degrade_unknown_recover(void **state)
{
    struct fake *f = *state;
    atomic_store(&f->mode, GOOD);
    struct tt_clock *c = fake_clock(f);
    char reason[256];
    await_status(c, TT_SYNCED, reason, sizeof reason);
    struct tt_interval a, b;
    assert_int_equal(tt_now(c, &a), 0);
    assert_true(tt_interval_eps(a) >= 47); /* 12 + 40/2 + 15 from the fake's fields */
    assert_true(tt_interval_eps(a) < 47 + 100);

    atomic_store(&f->mode, SILENT);
    await_status(c, TT_DEGRADED, reason, sizeof reason);
    assert_non_null(strstr(reason, "no reply"));
    assert_int_equal(tt_now(c, &b), 0);
    assert_true(tt_interval_eps(b) > tt_interval_eps(a)); /* widening with age */
    await_status(c, TT_UNKNOWN, reason, sizeof reason);
    assert_int_equal(tt_now(c, &b), SP_ETT_UNKNOWN);

    atomic_store(&f->mode, GOOD);
    await_status(c, TT_SYNCED, reason, sizeof reason);
    assert_int_equal(tt_now(c, &a), 0);
    assert_true(tt_interval_eps(a) < 47 + 100);

    atomic_store(&f->mode, UNSYNC);
    await_status(c, TT_DEGRADED, reason, sizeof reason);
    assert_non_null(strstr(reason, "unsynchronised"));
    usleep(200000);
    assert_int_equal(tt_now(c, &b), 0);
    assert_true(tt_interval_eps(b) > tt_interval_eps(a));

    /* ClockBound's free-running rule: chronyd answering but not updating
     * its own clock for more than 8 update intervals. */
    atomic_store(&f->mode, GOOD);
    await_status(c, TT_SYNCED, reason, sizeof reason);
    atomic_store(&f->mode, STALE_REF);
    await_status(c, TT_DEGRADED, reason, sizeof reason);
    assert_non_null(strstr(reason, "has not updated its clock"));
    tt_clock_destroy(c);
}

int main(void)
{
    sp_test_route_asserts();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_replies_give_no_interval),
        cmocka_unit_test(test_unreachable_socket),
        cmocka_unit_test(test_degrade_unknown_recover),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

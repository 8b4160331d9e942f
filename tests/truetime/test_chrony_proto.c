/*
 * test_chrony_proto.c - the cmdmon tracking codec: chrony's float format
 * against the check vectors in shared/notes/chrony.md, the request layout,
 * and every way a reply can be wrong.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "chrony_test_util.h"
#include "sp_test.h"

#include <string.h>

static void test_float_check_vectors(void **state)
{
    (void) state;
    assert_float_equal(tt_chrony_float_decode(0xf090469bu), 0.001100737, 1e-9);
    assert_float_equal(tt_chrony_float_decode(0x10806666u), 64.2, 1e-5);
    assert_float_equal(tt_chrony_float_decode(0), 0.0, 0);
    /* round trip through the test encoder, negative values included */
    double vals[] = {-0.000012, 1e-9, 3.5, -123.25, 0.25};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++)
        assert_float_equal(tt_chrony_float_decode(test_float_encode(vals[i])), vals[i],
                           fabs(vals[i]) * 1e-6);
}

static void test_request_layout(void **state)
{
    (void) state;
    uint8_t req[TT_CHRONY_PKT_LEN];
    memset(req, 0xAA, sizeof req);
    tt_chrony_encode_request(req, 0x01020304, 7);
    assert_int_equal(req[0], 6);
    assert_int_equal(req[1], 1);
    assert_int_equal(req[2], 0);
    assert_int_equal(req[3], 0);
    assert_int_equal(req[4] << 8 | req[5], 33);
    assert_int_equal(req[6] << 8 | req[7], 7);
    assert_int_equal(req[8], 1);
    assert_int_equal(req[11], 4);
    for (int i = 12; i < TT_CHRONY_PKT_LEN; i++)
        assert_int_equal(req[i], 0); /* padding must be zero */
}

static void test_decode_good_reply(void **state)
{
    (void) state;
    struct tt_chrony_tracking in = test_tracking(), out;
    uint8_t buf[TT_CHRONY_PKT_LEN];
    test_build_reply(buf, 42, &in);
    struct sp_err err = {0};
    assert_int_equal(tt_chrony_decode_reply(buf, sizeof buf, 42, &out, &err), 0);
    assert_int_equal(out.stratum, 9);
    assert_int_equal(out.ref_id, 0x7F000001);
    assert_float_equal(out.root_delay_s, 0.000040, 1e-10);
    assert_float_equal(out.root_dispersion_s, 0.000015, 1e-10);
    assert_float_equal(out.current_correction_s, -0.000012, 1e-10);
    assert_float_equal(out.ref_time_s, 1700000000.0, 1e-3);
    /* ClockBound: 12 + 40/2 + 15 = 47 us */
    assert_int_equal(tt_chrony_base_bound_us(&out), 47);
}

static void expect_error(const uint8_t *buf, size_t len, uint32_t seq, int code, const char *what)
{
    struct tt_chrony_tracking out;
    memset(&out, 0x5A, sizeof out);
    struct tt_chrony_tracking untouched = out;
    struct sp_err err = {0};
    assert_int_equal(tt_chrony_decode_reply(buf, len, seq, &out, &err), code);
    assert_int_equal(err.code, code);
    if (!strstr(err.msg, what))
        fail_msg("error \"%s\" does not mention \"%s\"", err.msg, what);
    assert_memory_equal(&out, &untouched, sizeof out); /* never a bogus sample */
}

static void test_decode_bad_replies(void **state)
{
    (void) state;
    struct tt_chrony_tracking t = test_tracking();
    uint8_t buf[TT_CHRONY_PKT_LEN];
    test_build_reply(buf, 42, &t);
    expect_error(buf, 27, 42, SP_ETT_PROTO, "length 27");
    expect_error(buf, 0, 42, SP_ETT_PROTO, "length 0");
    expect_error(buf, sizeof buf, 43, SP_ETT_SEQ, "sequence 42, expected 43");

    uint8_t bad[TT_CHRONY_PKT_LEN];
    memcpy(bad, buf, sizeof bad);
    bad[0] = 5;
    expect_error(bad, sizeof bad, 42, SP_ETT_PROTO, "protocol version 5");
    memcpy(bad, buf, sizeof bad);
    bad[1] = 1;
    expect_error(bad, sizeof bad, 42, SP_ETT_PROTO, "packet type 1");
    memcpy(bad, buf, sizeof bad);
    test_put16(bad + 8, 19); /* bad length status */
    expect_error(bad, sizeof bad, 42, SP_ETT_STATUS, "status 19");
    memcpy(bad, buf, sizeof bad);
    test_put16(bad + 6, 6); /* reply code of another command */
    expect_error(bad, sizeof bad, 42, SP_ETT_PROTO, "reply code 6");
    t.leap_status = 7;
    test_build_reply(bad, 42, &t);
    expect_error(bad, sizeof bad, 42, SP_ETT_PROTO, "leap_status 7");
    t = test_tracking();
    t.root_dispersion_s = -0.5;
    test_build_reply(bad, 42, &t);
    expect_error(bad, sizeof bad, 42, SP_ETT_PROTO, "root_dispersion");
}

/* A PTP hardware clock through chrony's refclock PHC: ASCII ref id, no
 * network delay; the bound is computed exactly as for an NTP source. */
static void test_decode_refclock_reply(void **state)
{
    (void) state;
    struct tt_chrony_tracking in = test_tracking(), out;
    in.ref_id = 0x50484330; /* "PHC0" */
    in.stratum = 1;
    in.root_delay_s = 0;
    in.root_dispersion_s = 0.000001;
    in.current_correction_s = 0.0000002;
    uint8_t buf[TT_CHRONY_PKT_LEN];
    test_build_reply(buf, 7, &in);
    assert_int_equal(tt_chrony_decode_reply(buf, sizeof buf, 7, &out, NULL), 0);
    assert_int_equal(out.ref_id, 0x50484330);
    assert_int_equal(out.stratum, 1);
    assert_int_equal(tt_chrony_base_bound_us(&out), 2); /* 1.2 us, rounded up */
}

int main(void)
{
    sp_test_route_asserts();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_float_check_vectors),
        cmocka_unit_test(test_request_layout),
        cmocka_unit_test(test_decode_good_reply),
        cmocka_unit_test(test_decode_bad_replies),
        cmocka_unit_test(test_decode_refclock_reply),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

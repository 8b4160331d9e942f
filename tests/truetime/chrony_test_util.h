/*
 * chrony_test_util.h - builds tracking replies for tests (a chrony float
 * encoder and a reply writer), so decode tests and the fake chronyd do not
 * depend on a daemon.
 */
#ifndef CHRONY_TEST_UTIL_H
#define CHRONY_TEST_UTIL_H

#include "chrony_proto.h"

#include <math.h>
#include <string.h>

static inline uint32_t test_float_encode(double v)
{
    for (int exp = -64; exp < 64; exp++) {
        double c = nearbyint(ldexp(v, 25 - exp));
        if (fabs(c) < (1 << 24))
            return ((uint32_t) (exp & 0x7f) << 25) | ((uint32_t) (int32_t) c & 0x1FFFFFFu);
    }
    return 0;
}

static inline void test_put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t) (v >> 8);
    p[1] = (uint8_t) v;
}

static inline void test_put32(uint8_t *p, uint32_t v)
{
    test_put16(p, (uint16_t) (v >> 16));
    test_put16(p + 2, (uint16_t) v);
}

/* A valid 104-byte tracking reply answering `seq`. */
static inline void test_build_reply(uint8_t buf[TT_CHRONY_PKT_LEN], uint32_t seq,
                                    const struct tt_chrony_tracking *t)
{
    memset(buf, 0, TT_CHRONY_PKT_LEN);
    buf[0] = TT_CHRONY_PROTO_VERSION;
    buf[1] = TT_CHRONY_PKT_REPLY;
    test_put16(buf + 4, TT_CHRONY_CMD_TRACKING);
    test_put16(buf + 6, TT_CHRONY_RPY_TRACKING);
    test_put32(buf + 16, seq);
    uint8_t *b = buf + 28;
    test_put32(b, t->ref_id);
    test_put16(b + 24, t->stratum);
    test_put16(b + 26, t->leap_status);
    test_put32(b + 32, (uint32_t) t->ref_time_s);
    test_put32(b + 40, test_float_encode(t->current_correction_s));
    test_put32(b + 44, test_float_encode(t->last_offset_s));
    test_put32(b + 48, test_float_encode(t->rms_offset_s));
    test_put32(b + 52, test_float_encode(t->freq_ppm));
    test_put32(b + 56, test_float_encode(t->resid_freq_ppm));
    test_put32(b + 60, test_float_encode(t->skew_ppm));
    test_put32(b + 64, test_float_encode(t->root_delay_s));
    test_put32(b + 68, test_float_encode(t->root_dispersion_s));
    test_put32(b + 72, test_float_encode(t->last_update_interval_s));
}

static inline struct tt_chrony_tracking test_tracking(void)
{
    struct tt_chrony_tracking t = {0};
    t.ref_id = 0x7F000001;
    t.stratum = 9;
    t.leap_status = 0;
    t.ref_time_s = 1700000000;
    t.current_correction_s = -0.000012;
    t.rms_offset_s = 0.000003;
    t.freq_ppm = -1.5;
    t.skew_ppm = 0.02;
    t.root_delay_s = 0.000040;
    t.root_dispersion_s = 0.000015;
    t.last_update_interval_s = 0.25;
    return t;
}

#endif

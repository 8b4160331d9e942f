/*
 * chrony_proto.c - encode the cmdmon tracking request, decode its reply.
 *
 * Facts from chrony 4.3's candm.h, pktlength.c and util.c (read, not copied):
 * the request must be padded to the length of its reply; res1/res2 must be
 * zero or chronyd silently drops the packet; floats use chrony's own 32-bit
 * format (UTI_FloatNetworkToHost), not IEEE 754.
 */
#include "chrony_proto.h"

#include <math.h>
#include <string.h>

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t) ((p[0] << 8) | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
    return ((uint32_t) p[0] << 24) | ((uint32_t) p[1] << 16) | ((uint32_t) p[2] << 8) | p[3];
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t) (v >> 8);
    p[1] = (uint8_t) v;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t) (v >> 24);
    p[1] = (uint8_t) (v >> 16);
    p[2] = (uint8_t) (v >> 8);
    p[3] = (uint8_t) v;
}

void tt_chrony_encode_request(uint8_t buf[TT_CHRONY_PKT_LEN], uint32_t sequence, uint16_t attempt)
{
    SP_ASSERT(buf != NULL);
    memset(buf, 0, TT_CHRONY_PKT_LEN);
    buf[0] = TT_CHRONY_PROTO_VERSION;
    buf[1] = TT_CHRONY_PKT_REQUEST;
    put16(buf + 4, TT_CHRONY_CMD_TRACKING);
    put16(buf + 6, attempt);
    put32(buf + 8, sequence);
    SP_ASSERT(get32(buf + 8) == sequence);
}

double tt_chrony_float_decode(uint32_t x)
{
    int32_t exp = (int32_t) (x >> 25);
    if (exp >= 64)
        exp -= 128;
    int32_t coef = (int32_t) (x & 0x1FFFFFFu);
    if (coef >= (1 << 24))
        coef -= (1 << 25);
    return ldexp((double) coef, exp - 25);
}

/* The fields that are magnitudes and so can never be negative. */
static int check_nonneg(const char *name, double v, struct sp_err *err)
{
    if (!isfinite(v) || v < 0)
        return sp_err_set(err, SP_ETT_PROTO, "chrony tracking reply: field %s = %g, expected >= 0",
                          name, v);
    return 0;
}

static int decode_header(const uint8_t *buf, size_t len, uint32_t expected_seq,
                         struct sp_err *err)
{
    if (len != TT_CHRONY_PKT_LEN)
        return sp_err_set(err, SP_ETT_PROTO,
                          "chrony tracking reply: length %zu bytes, expected %d", len,
                          TT_CHRONY_PKT_LEN);
    if (buf[0] != TT_CHRONY_PROTO_VERSION)
        return sp_err_set(err, SP_ETT_PROTO,
                          "chrony reply: protocol version %u, expected %d", buf[0],
                          TT_CHRONY_PROTO_VERSION);
    if (buf[1] != TT_CHRONY_PKT_REPLY)
        return sp_err_set(err, SP_ETT_PROTO, "chrony reply: packet type %u, expected %d (reply)",
                          buf[1], TT_CHRONY_PKT_REPLY);
    uint32_t seq = get32(buf + 16);
    if (seq != expected_seq)
        return sp_err_set(err, SP_ETT_SEQ, "chrony reply: sequence %u, expected %u", seq,
                          expected_seq);
    uint16_t status = get16(buf + 8);
    if (status != 0)
        return sp_err_set(err, SP_ETT_STATUS, "chrony reply: status %u (0 is success)", status);
    if (get16(buf + 4) != TT_CHRONY_CMD_TRACKING || get16(buf + 6) != TT_CHRONY_RPY_TRACKING)
        return sp_err_set(err, SP_ETT_PROTO,
                          "chrony reply: command %u / reply code %u, expected %d / %d",
                          get16(buf + 4), get16(buf + 6), TT_CHRONY_CMD_TRACKING,
                          TT_CHRONY_RPY_TRACKING);
    return 0;
}

int tt_chrony_decode_reply(const uint8_t *buf, size_t len, uint32_t expected_seq,
                           struct tt_chrony_tracking *out, struct sp_err *err)
{
    SP_ASSERT(buf != NULL || len == 0);
    SP_ASSERT(out != NULL);
    int rc = decode_header(buf, len, expected_seq, err);
    if (rc)
        return rc;
    const uint8_t *b = buf + 28;
    struct tt_chrony_tracking t = {0};
    t.ref_id = get32(b + 0);
    t.stratum = get16(b + 24);
    t.leap_status = get16(b + 26);
    uint32_t sec_high = get32(b + 28);
    uint32_t sec_low = get32(b + 32);
    uint32_t nsec = get32(b + 36);
    if (sec_high == 0x7fffffffu)
        sec_high = 0;
    t.ref_time_s = ldexp((double) sec_high, 32) + sec_low + nsec / 1e9;
    t.current_correction_s = tt_chrony_float_decode(get32(b + 40));
    t.last_offset_s = tt_chrony_float_decode(get32(b + 44));
    t.rms_offset_s = tt_chrony_float_decode(get32(b + 48));
    t.freq_ppm = tt_chrony_float_decode(get32(b + 52));
    t.resid_freq_ppm = tt_chrony_float_decode(get32(b + 56));
    t.skew_ppm = tt_chrony_float_decode(get32(b + 60));
    t.root_delay_s = tt_chrony_float_decode(get32(b + 64));
    t.root_dispersion_s = tt_chrony_float_decode(get32(b + 68));
    t.last_update_interval_s = tt_chrony_float_decode(get32(b + 72));
    if (t.leap_status > TT_CHRONY_LEAP_UNSYNC)
        return sp_err_set(err, SP_ETT_PROTO, "chrony tracking reply: leap_status %u, expected 0..3",
                          t.leap_status);
    if ((rc = check_nonneg("root_delay", t.root_delay_s, err)) ||
        (rc = check_nonneg("root_dispersion", t.root_dispersion_s, err)) ||
        (rc = check_nonneg("rms_offset", t.rms_offset_s, err)) ||
        (rc = check_nonneg("last_update_interval", t.last_update_interval_s, err)))
        return rc;
    *out = t;
    return 0;
}

tt_micros tt_chrony_base_bound_us(const struct tt_chrony_tracking *t)
{
    SP_ASSERT(t != NULL);
    double s = fabs(t->current_correction_s) + t->root_delay_s / 2 + t->root_dispersion_s;
    SP_ASSERT(isfinite(s) && s >= 0);
    return (tt_micros) ceil(s * 1e6);
}

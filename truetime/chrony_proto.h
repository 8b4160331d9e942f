/*
 * chrony_proto.h - chronyd's cmdmon "tracking" request and reply (protocol
 * version 6, chrony 4.x), encoded and decoded as pure functions so they can be
 * tested without a daemon. Private to truetime/.
 *
 * Layout (all multi-byte fields big-endian; see chrony's candm.h):
 *   request, 104 bytes: 0 version=6, 1 pkt_type=1, 2 res1=0, 3 res2=0,
 *     4 u16 command=33, 6 u16 attempt, 8 u32 sequence, 12..103 zero padding
 *     (chronyd rejects requests shorter than the reply with "bad length").
 *   reply, 104 bytes: 0 version, 1 pkt_type=2, 4 u16 command, 6 u16 reply=5,
 *     8 u16 status (0 = success), 16 u32 sequence, then from offset 28 the
 *     tracking fields listed in struct tt_chrony_tracking.
 */
#ifndef TT_CHRONY_PROTO_H
#define TT_CHRONY_PROTO_H

#include "truetime.h"

#include <stddef.h>
#include <stdint.h>

#define TT_CHRONY_PKT_LEN          104
#define TT_CHRONY_PROTO_VERSION    6
#define TT_CHRONY_PKT_REQUEST      1
#define TT_CHRONY_PKT_REPLY        2
#define TT_CHRONY_CMD_TRACKING     33
#define TT_CHRONY_RPY_TRACKING     5
#define TT_CHRONY_LEAP_UNSYNC      3

_Static_assert(TT_CHRONY_PKT_LEN == 28 + 76, "tracking reply: 28-byte header + 76-byte body");

/* Writes a 104-byte tracking request with `sequence` into buf. */
void tt_chrony_encode_request(uint8_t buf[TT_CHRONY_PKT_LEN], uint32_t sequence, uint16_t attempt);

/*
 * Decodes a reply of `len` bytes. Returns 0 and fills *out, or:
 *   SP_ETT_PROTO  wrong length, version, packet type, command or reply code,
 *                 or a non-finite/negative field where none is possible;
 *   SP_ETT_SEQ    the sequence number is not `expected_seq`;
 *   SP_ETT_STATUS chronyd answered with a non-zero status.
 * err names the field and the value found.
 */
int tt_chrony_decode_reply(const uint8_t *buf, size_t len, uint32_t expected_seq,
                           struct tt_chrony_tracking *out, struct sp_err *err);

/* chrony's 32-bit float: 7-bit signed exponent over a 25-bit signed
 * coefficient; value = coef * 2^(exp - 25). */
double tt_chrony_float_decode(uint32_t x);

#endif /* TT_CHRONY_PROTO_H */

/*
 * mvcc_key.c - the byte encoding of MVCC keys and records (see mvcc.h for the
 * layout and the ordering properties it guarantees) and CRC-32C.
 *
 * Invariants, checked by the encode/decode pairs and by the unit tests:
 *   1. decode(encode(g, k, ts)) == (g, k, ts) for every byte string k.
 *   2. (g1, k1) < (g2, k2) in (numeric, lexicographic) order iff
 *      prefix(g1, k1) < prefix(g2, k2) in byte order.
 *   3. prefix(g, k) is never a proper prefix of prefix(g', k').
 *   4. for one (g, k), ts1 > ts2 iff key(g, k, ts1) < key(g, k, ts2).
 */
#include "mvcc.h"

#include "sp_assert.h"

#include <pthread.h>
#include <string.h>

/* The on-disk sizes are part of the format: a change needs a migration. */
_Static_assert(TXN__HDR_BYTES == 1 + 4, "data record header: type byte + crc32c");
_Static_assert(TXN__META_BYTES == 8 + 4, "meta record: u64 + crc32c");
_Static_assert(TXN__PREFIX_BYTES == 1 + sizeof(txn_group_id), "namespace byte + group");
_Static_assert(TXN__TS_BYTES == sizeof(tt_micros), "inverted timestamp");

/* CRC-32C (Castagnoli), reflected polynomial 0x82F63B78, as iSCSI and
 * RocksDB use. x86-64 CPUs with SSE4.2 have an instruction for it (every
 * record read and written is checksummed, so it shows in profiles); other
 * CPUs use a byte-wise table. */
static uint32_t crc_table[256];
static bool crc_hw;
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int bit = 0; bit < 8; bit++)
            c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        crc_table[i] = c;
    }
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    crc_hw = __builtin_cpu_supports("sse4.2");
#endif
}

static uint32_t crc_by_table(uint32_t c, const uint8_t *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        c = crc_table[(c ^ p[i]) & 0xFF] ^ (c >> 8);
    return c;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
__attribute__((target("sse4.2"))) static uint32_t crc_sse42(uint32_t c, const uint8_t *p, size_t len)
{
    uint64_t c64 = c;
    for (; len >= 8; p += 8, len -= 8) {
        uint64_t w;
        memcpy(&w, p, 8); /* little-endian: the reflected CRC's byte order */
        c64 = __builtin_ia32_crc32di(c64, w);
    }
    c = (uint32_t) c64;
    for (; len > 0; p++, len--)
        c = __builtin_ia32_crc32qi(c, *p);
    return c;
}
#endif

uint32_t txn__crc32c(uint32_t crc, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    SP_ASSERT(p != NULL || len == 0);
    pthread_once(&crc_once, crc_init);
    crc = ~crc;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    if (crc_hw)
        return ~crc_sse42(crc, p, len);
#endif
    return ~crc_by_table(crc, p, len);
}

uint32_t txn__crc32c_table(uint32_t crc, const void *buf, size_t len)
{
    SP_ASSERT(buf != NULL || len == 0);
    pthread_once(&crc_once, crc_init);
    return ~crc_by_table(~crc, buf, len);
}

void txn__put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t) v;
        v >>= 8;
    }
}

uint64_t txn__get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

size_t txn__encode_key_prefix(uint8_t *out, txn_group_id group, const void *key, size_t key_len)
{
    const uint8_t *k = key;
    size_t n = 0;
    SP_ASSERT(out != NULL);
    SP_ASSERT(k != NULL || key_len == 0);
    out[n++] = TXN__NS_DATA;
    txn__put_u64(out + n, group);
    n += 8;
    for (size_t i = 0; i < key_len; i++) {
        out[n++] = k[i];
        if (k[i] == 0x00)
            out[n++] = 0xFF;
    }
    out[n++] = 0x00;
    out[n++] = 0x01;
    SP_ASSERT(n <= TXN__DATA_KEY_MAX(key_len) - TXN__TS_BYTES);
    return n;
}

size_t txn__encode_data_key(uint8_t *out, txn_group_id group, const void *key, size_t key_len,
                            tt_micros ts)
{
    SP_ASSERT(ts >= 0);
    size_t n = txn__encode_key_prefix(out, group, key, key_len);
    txn__put_u64(out + n, UINT64_MAX - (uint64_t) ts);
    return n + TXN__TS_BYTES;
}

void txn__encode_meta_key(uint8_t out[10], txn_group_id group, uint8_t field)
{
    SP_ASSERT(field == TXN__META_APPLIED || field == TXN__META_LAST_TS ||
              field == TXN__META_HORIZON);
    out[0] = TXN__NS_META;
    txn__put_u64(out + 1, group);
    out[9] = field;
}

int txn__decode_data_key(const uint8_t *enc, size_t enc_len, txn_group_id *group, uint8_t *user_key,
                         size_t *user_len, tt_micros *ts)
{
    SP_ASSERT(enc != NULL && user_key != NULL);
    if (enc_len < TXN__PREFIX_BYTES + 2 + TXN__TS_BYTES || enc[0] != TXN__NS_DATA)
        return -1;
    size_t end = enc_len - TXN__TS_BYTES; /* the terminator ends here */
    size_t n = 0;
    size_t i = TXN__PREFIX_BYTES;
    /* Each step consumes one or two bytes, so the loop is bounded by enc_len. */
    while (i < end) {
        if (enc[i] != 0x00) {
            user_key[n++] = enc[i++];
            continue;
        }
        if (i + 1 >= end)
            return -1;
        if (enc[i + 1] == 0x01)
            break;
        if (enc[i + 1] != 0xFF)
            return -1;
        user_key[n++] = 0x00;
        i += 2;
    }
    if (i + 2 != end)
        return -1; /* no terminator, or bytes after it */
    uint64_t inv = txn__get_u64(enc + end);
    if (inv < UINT64_MAX - (uint64_t) INT64_MAX)
        return -1; /* would be a negative timestamp */
    *group = txn__get_u64(enc + 1);
    *user_len = n;
    *ts = (tt_micros) (UINT64_MAX - inv);
    return 0;
}

static uint32_t record_crc(const uint8_t *rkey, size_t rkey_len, uint8_t type, const void *value,
                           size_t len)
{
    uint32_t crc = txn__crc32c(0, rkey, rkey_len);
    crc = txn__crc32c(crc, &type, 1);
    return txn__crc32c(crc, value, len);
}

void txn__encode_value(uint8_t *out, const uint8_t *rkey, size_t rkey_len, uint8_t type,
                       const void *value, size_t len)
{
    SP_ASSERT(type == TXN__TYPE_PUT || type == TXN__TYPE_TOMBSTONE);
    SP_ASSERT(type == TXN__TYPE_PUT || len == 0);
    uint32_t crc = record_crc(rkey, rkey_len, type, value, len);
    out[0] = type;
    out[1] = (uint8_t) (crc >> 24);
    out[2] = (uint8_t) (crc >> 16);
    out[3] = (uint8_t) (crc >> 8);
    out[4] = (uint8_t) crc;
    if (len > 0)
        memcpy(out + TXN__HDR_BYTES, value, len);
}

int txn__decode_value(const uint8_t *rkey, size_t rkey_len, const uint8_t *rec, size_t rec_len,
                      uint8_t *type, const uint8_t **value, size_t *len, struct sp_err *err)
{
    SP_ASSERT(rkey != NULL && type != NULL && value != NULL && len != NULL);
    if (rec == NULL || rec_len < TXN__HDR_BYTES)
        return SP_CORRUPT(err, "mvcc record of %zu bytes is shorter than its header", rec_len);
    if (rec[0] != TXN__TYPE_PUT && rec[0] != TXN__TYPE_TOMBSTONE)
        return SP_CORRUPT(err, "mvcc record has unknown type 0x%02x", rec[0]);
    if (rec[0] == TXN__TYPE_TOMBSTONE && rec_len != TXN__HDR_BYTES)
        return SP_CORRUPT(err, "mvcc tombstone carries %zu value bytes", rec_len - TXN__HDR_BYTES);
    uint32_t stored =
        ((uint32_t) rec[1] << 24) | ((uint32_t) rec[2] << 16) | ((uint32_t) rec[3] << 8) | rec[4];
    uint32_t crc =
        record_crc(rkey, rkey_len, rec[0], rec + TXN__HDR_BYTES, rec_len - TXN__HDR_BYTES);
    if (crc != stored)
        return SP_CORRUPT(err, "mvcc record checksum 0x%08x, expected 0x%08x", stored, crc);
    *type = rec[0];
    *value = rec + TXN__HDR_BYTES;
    *len = rec_len - TXN__HDR_BYTES;
    return 0;
}

size_t txn__encode_state_key(uint8_t *out, txn_group_id group, const void *key, size_t key_len)
{
    SP_ASSERT(out != NULL);
    SP_ASSERT(key != NULL || key_len == 0);
    out[0] = TXN__NS_STATE;
    txn__put_u64(out + 1, group);
    if (key_len)
        memcpy(out + TXN__PREFIX_BYTES, key, key_len);
    return TXN__PREFIX_BYTES + key_len;
}

static uint32_t state_crc(const uint8_t *rkey, size_t rkey_len, const void *value, size_t len)
{
    return txn__crc32c(txn__crc32c(0, rkey, rkey_len), value, len);
}

void txn__encode_state_value(uint8_t *out, const uint8_t *rkey, size_t rkey_len, const void *value,
                             size_t len)
{
    SP_ASSERT(rkey[0] == TXN__NS_STATE);
    uint32_t crc = state_crc(rkey, rkey_len, value, len);
    out[0] = (uint8_t) (crc >> 24);
    out[1] = (uint8_t) (crc >> 16);
    out[2] = (uint8_t) (crc >> 8);
    out[3] = (uint8_t) crc;
    if (len)
        memcpy(out + 4, value, len);
}

int txn__decode_state_value(const uint8_t *rkey, size_t rkey_len, const uint8_t *rec,
                            size_t rec_len, const uint8_t **value, size_t *len, struct sp_err *err)
{
    SP_ASSERT(rkey != NULL && value != NULL && len != NULL);
    if (rec == NULL || rec_len < 4)
        return SP_CORRUPT(err, "state record of %zu bytes is shorter than its header", rec_len);
    uint32_t stored =
        ((uint32_t) rec[0] << 24) | ((uint32_t) rec[1] << 16) | ((uint32_t) rec[2] << 8) | rec[3];
    uint32_t crc = state_crc(rkey, rkey_len, rec + 4, rec_len - 4);
    if (crc != stored)
        return SP_CORRUPT(err, "state record checksum 0x%08x, expected 0x%08x", stored, crc);
    *value = rec + 4;
    *len = rec_len - 4;
    return 0;
}

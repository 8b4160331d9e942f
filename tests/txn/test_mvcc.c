/*
 * test_mvcc.c - the MVCC store: key encoding, seek semantics at version
 * boundaries, tombstones, prefixes and 0x00/0xFF bytes, groups, scans, the
 * value limit, GC and its horizon, corruption detection, a seeded model test.
 *
 * Stores run on RocksDB's in-memory env, except one test on a mkdtemp dir.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "sp_test.h"
#include "mvcc.h"

#include <pthread.h>
#include <rocksdb/c.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct fx {
    rocksdb_env_t *env; /* kept across reopen, like a simulated disk */
    struct txn_store_config cfg;
    struct txn_store *s;
};

static struct txn_store *fx_open(struct fx *f)
{
    struct sp_err err = {0};
    int rc = txn_store_open("/db", &f->cfg, &f->s, &err);
    if (rc)
        fail_msg("open: %s", err.msg);
    return f->s;
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    f->env = rocksdb_create_mem_env();
    txn_store_config_init(&f->cfg);
    f->cfg.env = (struct rocksdb_env_t *) f->env;
    fx_open(f);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    txn_store_close(f->s);
    rocksdb_env_destroy(f->env);
    free(f);
    return 0;
}

static void fx_reopen(struct fx *f)
{
    txn_store_close(f->s);
    f->s = NULL;
    fx_open(f);
}

static int put(struct txn_store *s, txn_group_id g, const void *k, size_t klen, tt_micros ts,
               const char *v)
{
    struct txn_write w = {TXN_WRITE_PUT, k, klen, v, strlen(v)};
    struct txn_apply a = {.group = g, .ts = ts, .writes = &w, .writes_n = 1};
    return txn_store_apply(s, &a, NULL);
}

static int del(struct txn_store *s, txn_group_id g, const void *k, size_t klen, tt_micros ts)
{
    struct txn_write w = {TXN_WRITE_DELETE, k, klen, NULL, 0};
    struct txn_apply a = {.group = g, .ts = ts, .writes = &w, .writes_n = 1};
    return txn_store_apply(s, &a, NULL);
}

#define PUTS(s, g, k, ts, v) assert_int_equal(put((s), (g), (k), strlen(k), (ts), (v)), 0)

/* Asserts the read of (g, k) at t: expect NULL = absent, "" with kind
 * tombstone via expect_ts < 0 ... kept simple: value string or NULL. */
static void expect_read(struct txn_store *s, txn_group_id g, const void *k, size_t klen,
                        tt_micros t, enum txn_version_kind kind, tt_micros ts, const char *value)
{
    struct txn_version v;
    struct sp_err err = {0};
    int rc = txn_store_get(s, g, k, klen, t, &v, &err);
    if (rc)
        fail_msg("get at %lld: %s", (long long) t, err.msg);
    assert_int_equal(v.kind, kind);
    assert_int_equal(v.ts, ts);
    if (kind == TXN_VERSION_VALUE) {
        assert_int_equal(v.value_len, strlen(value));
        assert_memory_equal(v.value, value, v.value_len);
    } else {
        assert_null(v.value);
    }
    txn_version_clear(&v);
}

#define READS(s, g, k, t, kind, ts, v) expect_read((s), (g), (k), strlen(k), (t), (kind), (ts), (v))

/* ---- encoding ---------------------------------------------------------- */

static int cmp_user(txn_group_id g1, const uint8_t *a, size_t al, txn_group_id g2, const uint8_t *b,
                    size_t bl)
{
    if (g1 != g2)
        return g1 < g2 ? -1 : 1;
    size_t n = al < bl ? al : bl;
    int c = memcmp(a, b, n);
    if (c)
        return c < 0 ? -1 : 1;
    return al == bl ? 0 : (al < bl ? -1 : 1);
}

static int cmp_bytes(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
    return cmp_user(0, a, al, 0, b, bl);
}

/* Keys from the alphabet {0x00, 0x01, 0xFE, 0xFF}: the escape's edge cases. */
static size_t random_key(uint8_t *k, unsigned *seed)
{
    static const uint8_t alpha[] = {0x00, 0x01, 0xFE, 0xFF};
    size_t n = (size_t) (rand_r(seed) % 5);
    for (size_t i = 0; i < n; i++)
        k[i] = alpha[rand_r(seed) % 4];
    return n;
}

static void test_encoding_roundtrip_and_order(void **state)
{
    (void) state;
    unsigned seed = 12345;
    uint8_t k1[8], k2[8], e1[64], e2[64], dec[64];
    for (int iter = 0; iter < 20000; iter++) {
        size_t l1 = random_key(k1, &seed), l2 = random_key(k2, &seed);
        txn_group_id g1 = (txn_group_id) (rand_r(&seed) % 3),
                     g2 = (txn_group_id) (rand_r(&seed) % 3);
        tt_micros ts = rand_r(&seed) % 4 == 0 ? INT64_MAX : rand_r(&seed);
        size_t n1 = txn__encode_data_key(e1, g1, k1, l1, ts);
        txn_group_id dg = 99;
        size_t dl = 0;
        tt_micros dts = -1;
        assert_int_equal(txn__decode_data_key(e1, n1, &dg, dec, &dl, &dts), 0);
        assert_int_equal(dg, g1);
        assert_int_equal(dts, ts);
        assert_int_equal(dl, l1);
        assert_memory_equal(dec, k1, l1);
        /* Order of prefixes equals order of (group, key); no prefix of
         * another. */
        size_t p1 = txn__encode_key_prefix(e1, g1, k1, l1);
        size_t p2 = txn__encode_key_prefix(e2, g2, k2, l2);
        int want = cmp_user(g1, k1, l1, g2, k2, l2);
        assert_int_equal(cmp_bytes(e1, p1, e2, p2), want);
        if (want != 0) {
            size_t n = p1 < p2 ? p1 : p2;
            assert_int_not_equal(memcmp(e1, e2, n), 0);
        }
    }
}

/* The standard CRC-32C check value, so records stay readable by any
 * correct implementation. */
static void test_crc32c_check_value(void **state)
{
    (void) state;
    assert_int_equal(txn__crc32c(0, "123456789", 9), 0xE3069283u);
    assert_int_equal(txn__crc32c(txn__crc32c(0, "1234", 4), "56789", 5), 0xE3069283u);
    assert_int_equal(txn__crc32c_table(0, "123456789", 9), 0xE3069283u);
    /* The CPU's instruction (where there is one) and the table agree on
     * every length and alignment, chained or not. */
    uint8_t buf[300];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t) (i * 131 + 7);
    for (size_t off = 0; off < 9; off++)
        for (size_t len = 0; len + off <= sizeof buf; len += 1 + len / 8) {
            uint32_t t = txn__crc32c_table(0, buf + off, len);
            assert_int_equal(txn__crc32c(0, buf + off, len), t);
            size_t half = len / 3;
            assert_int_equal(txn__crc32c(txn__crc32c(0, buf + off, half), buf + off + half,
                                         len - half),
                             t);
        }
}

static void test_encoding_ts_order(void **state)
{
    (void) state;
    uint8_t a[32], b[32];
    const tt_micros ts[] = {0, 1, 2, 255, 256, 1LL << 40, INT64_MAX - 1, INT64_MAX};
    for (size_t i = 0; i + 1 < sizeof ts / sizeof ts[0]; i++) {
        size_t na = txn__encode_data_key(a, 7, "k", 1, ts[i]);
        size_t nb = txn__encode_data_key(b, 7, "k", 1, ts[i + 1]);
        assert_int_equal(na, nb);
        assert_true(memcmp(b, a, na) < 0); /* newer sorts first */
    }
}

static void test_decode_rejects_garbage(void **state)
{
    (void) state;
    uint8_t e[32], dec[32];
    txn_group_id g;
    size_t dl;
    tt_micros ts;
    size_t n = txn__encode_data_key(e, 1, "a", 1, 5);
    assert_int_equal(txn__decode_data_key(e, n - 1, &g, dec, &dl, &ts), -1);
    e[TXN__PREFIX_BYTES + 2] = 0x07; /* terminator 00 01 -> 00 07 */
    assert_int_equal(txn__decode_data_key(e, n, &g, dec, &dl, &ts), -1);
    e[0] = TXN__NS_META;
    assert_int_equal(txn__decode_data_key(e, n, &g, dec, &dl, &ts), -1);
}

/* ---- reads ------------------------------------------------------------- */

static void test_seek_version_boundaries(void **state)
{
    struct fx *f = *state;
    PUTS(f->s, 1, "k", 10, "a");
    PUTS(f->s, 1, "k", 20, "b");
    READS(f->s, 1, "k", 0, TXN_VERSION_ABSENT, 0, NULL);
    READS(f->s, 1, "k", 9, TXN_VERSION_ABSENT, 0, NULL);
    READS(f->s, 1, "k", 10, TXN_VERSION_VALUE, 10, "a");
    READS(f->s, 1, "k", 11, TXN_VERSION_VALUE, 10, "a");
    READS(f->s, 1, "k", 19, TXN_VERSION_VALUE, 10, "a");
    READS(f->s, 1, "k", 20, TXN_VERSION_VALUE, 20, "b");
    READS(f->s, 1, "k", 21, TXN_VERSION_VALUE, 20, "b");
    READS(f->s, 1, "k", INT64_MAX, TXN_VERSION_VALUE, 20, "b");
    /* A neighbour key's versions never leak into this key's reads. */
    READS(f->s, 1, "j", 100, TXN_VERSION_ABSENT, 0, NULL);
    READS(f->s, 1, "l", 100, TXN_VERSION_ABSENT, 0, NULL);
}

static void test_tombstones(void **state)
{
    struct fx *f = *state;
    PUTS(f->s, 1, "k", 10, "a");
    assert_int_equal(del(f->s, 1, "k", 1, 20), 0);
    PUTS(f->s, 1, "k", 30, "c");
    READS(f->s, 1, "k", 19, TXN_VERSION_VALUE, 10, "a");
    READS(f->s, 1, "k", 20, TXN_VERSION_TOMBSTONE, 20, NULL);
    READS(f->s, 1, "k", 29, TXN_VERSION_TOMBSTONE, 20, NULL);
    READS(f->s, 1, "k", 30, TXN_VERSION_VALUE, 30, "c");
    /* Deleting a key that never existed still records a version. */
    assert_int_equal(del(f->s, 1, "n", 1, 5), 0);
    READS(f->s, 1, "n", 5, TXN_VERSION_TOMBSTONE, 5, NULL);
    READS(f->s, 1, "n", 4, TXN_VERSION_ABSENT, 0, NULL);
}

struct batch_peek {
    struct txn_store *s;
    int rc;
    enum txn_version_kind kind;
    struct txn_group_meta meta;
};

static void *batch_peek_run(void *arg)
{
    struct batch_peek *p = arg;
    struct txn_version v;
    p->rc = txn_store_get(p->s, 7, "a", 1, 1000, &v, NULL);
    p->kind = v.kind;
    txn_version_clear(&v);
    if (p->rc == 0)
        p->rc = txn_store_meta(p->s, 7, &p->meta, NULL);
    return NULL;
}

/* What another thread sees of s: group 7's "a" at 1000 and its meta. */
static struct batch_peek batch_peek(struct txn_store *s)
{
    struct batch_peek pk = {.s = s};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, batch_peek_run, &pk), 0);
    pthread_join(th, NULL);
    assert_int_equal(pk.rc, 0);
    return pk;
}

/* Group commit of applies: nothing of an open batch is visible to other
 * threads (data, applied index, LastTS) until the flush, which writes all
 * of it (a read on the batch's own thread writes it first); the
 * batch checks applied indexes against its own earlier applies; after a
 * reopen the store has every flushed apply and none of an unflushed one. */
static void test_apply_batch(void **state)
{
    struct fx *f = *state;
    struct txn_group_meta m;
    struct txn_write w1 = {TXN_WRITE_PUT, "a", 1, "1", 1}, w2 = {TXN_WRITE_PUT, "b", 1, "2", 1};
    struct txn_apply a1 = {.group = 7, .ts = 100, .writes = &w1, .writes_n = 1, .applied_index = 5};
    struct txn_apply a2 = {.group = 7, .ts = 200, .writes = &w2, .writes_n = 1, .applied_index = 6};
    txn_store_apply_begin(f->s);
    assert_int_equal(txn_store_apply(f->s, &a1, NULL), 0);
    assert_int_equal(txn_store_apply(f->s, &a2, NULL), 0);
    assert_int_equal(txn_store_apply(f->s, &a2, NULL), SP_EINVAL); /* 6 <= 6, in the batch */
    struct batch_peek pk = batch_peek(f->s); /* other threads do not see the open batch */
    assert_int_equal(pk.kind, TXN_VERSION_ABSENT);
    assert_int_equal(pk.meta.applied_index, 0);
    assert_int_equal(pk.meta.last_ts, 0);
    assert_int_equal(txn_store_apply_flush(f->s, NULL), 0);
    READS(f->s, 7, "a", 1000, TXN_VERSION_VALUE, 100, "1");
    READS(f->s, 7, "b", 1000, TXN_VERSION_VALUE, 200, "2");
    assert_int_equal(txn_store_meta(f->s, 7, &m, NULL), 0);
    assert_int_equal(m.applied_index, 6);
    assert_int_equal(m.last_ts, 200);
    /* More applies than one batch holds: written as they fill up. */
    txn_store_apply_begin(f->s);
    for (uint64_t i = 0; i < 600; i++) {
        struct txn_apply a = {.group = 7, .ts = 300 + (tt_micros) i, .writes = &w1, .writes_n = 1,
                              .applied_index = 7 + i};
        assert_int_equal(txn_store_apply(f->s, &a, NULL), 0);
    }
    assert_int_equal(txn_store_apply_flush(f->s, NULL), 0);
    assert_int_equal(txn_store_meta(f->s, 7, &m, NULL), 0);
    assert_int_equal(m.applied_index, 606);
    assert_int_equal(m.last_ts, 899);
    /* An unflushed batch is lost with the store, as a crash loses it. */
    struct txn_apply a3 = {.group = 7, .ts = 1000, .writes = &w2, .writes_n = 1,
                           .applied_index = 700};
    txn_store_apply_begin(f->s);
    assert_int_equal(txn_store_apply(f->s, &a3, NULL), 0);
    fx_reopen(f);
    assert_int_equal(txn_store_meta(f->s, 7, &m, NULL), 0);
    assert_int_equal(m.applied_index, 606);
    assert_int_equal(m.last_ts, 899);
    READS(f->s, 7, "b", 2000, TXN_VERSION_VALUE, 200, "2");
    /* A read on the thread that has the batch open sees its applies. */
    txn_store_apply_begin(f->s);
    assert_int_equal(txn_store_apply(f->s, &a3, NULL), 0);
    READS(f->s, 7, "b", 2000, TXN_VERSION_VALUE, 1000, "2");
    assert_int_equal(txn_store_apply_flush(f->s, NULL), 0);
    assert_int_equal(txn_store_meta(f->s, 7, &m, NULL), 0);
    assert_int_equal(m.applied_index, 700);
}

/* One thread with the batches of two stores open (the simulator's nodes
 * share a thread): a read of either store on that thread writes that
 * store's batch, whichever was opened last; txn_store_sync writes the
 * caller's open batch before it syncs; a discarded batch is as if never
 * applied. */
static void test_apply_batches_of_two_stores(void **state)
{
    struct fx *f = *state;
    struct txn_store_config cfg;
    txn_store_config_init(&cfg);
    cfg.in_memory = true;
    cfg.sync = false;
    cfg.wal = false;
    struct txn_store *b = NULL;
    assert_int_equal(txn_store_open("other", &cfg, &b, NULL), 0);
    struct txn_write w1 = {TXN_WRITE_PUT, "a", 1, "1", 1}, w2 = {TXN_WRITE_PUT, "a", 1, "2", 1};
    struct txn_apply a1 = {.group = 7, .ts = 100, .writes = &w1, .writes_n = 1, .applied_index = 5};
    struct txn_apply a2 = {.group = 7, .ts = 200, .writes = &w2, .writes_n = 1, .applied_index = 6};
    txn_store_apply_begin(f->s);
    assert_int_equal(txn_store_apply(f->s, &a1, NULL), 0);
    txn_store_apply_begin(b); /* opened after f->s's */
    assert_int_equal(txn_store_apply(b, &a2, NULL), 0);
    READS(f->s, 7, "a", 1000, TXN_VERSION_VALUE, 100, "1");
    READS(b, 7, "a", 1000, TXN_VERSION_VALUE, 200, "2");
    assert_int_equal(txn_store_apply_flush(b, NULL), 0);
    assert_int_equal(txn_store_apply_flush(f->s, NULL), 0);
    /* A sync inside an open batch covers it (b has no WAL: its sync is a
     * memtable flush, which the in-memory env supports). */
    struct txn_apply a3 = {.group = 7, .ts = 300, .writes = &w2, .writes_n = 1, .applied_index = 7};
    txn_store_apply_begin(b);
    assert_int_equal(txn_store_apply(b, &a3, NULL), 0);
    struct sp_err err = {0};
    if (txn_store_sync(b, &err) != 0)
        fail_msg("sync: %s", err.msg);
    struct batch_peek pk = batch_peek(b); /* written: another thread sees it before any flush */
    assert_int_equal(pk.kind, TXN_VERSION_VALUE);
    assert_int_equal(pk.meta.applied_index, 7);
    assert_int_equal(pk.meta.last_ts, 300);
    assert_int_equal(txn_store_apply_flush(b, NULL), 0); /* nothing left to write */
    assert_int_equal(txn_store_apply(b, &a3, NULL), SP_EINVAL); /* 7 <= 7: it was recorded */
    /* Discarded: neither read nor written, and a new batch can open. */
    struct txn_apply a4 = {.group = 7, .ts = 400, .writes = &w1, .writes_n = 1, .applied_index = 8};
    txn_store_apply_begin(f->s);
    assert_int_equal(txn_store_apply(f->s, &a4, NULL), 0);
    txn_store_apply_discard(f->s);
    READS(f->s, 7, "a", 1000, TXN_VERSION_VALUE, 100, "1");
    txn_store_apply_begin(f->s);
    assert_int_equal(txn_store_apply(f->s, &a4, NULL), 0);
    assert_int_equal(txn_store_apply_flush(f->s, NULL), 0);
    READS(f->s, 7, "a", 1000, TXN_VERSION_VALUE, 400, "1");
    assert_false(txn_store_failed(f->s));
    assert_false(txn_store_failed(b));
    txn_store_close(b);
}

static void test_idempotent_replay(void **state)
{
    struct fx *f = *state;
    PUTS(f->s, 1, "k", 10, "a");
    PUTS(f->s, 1, "k", 10, "a");
    READS(f->s, 1, "k", 10, TXN_VERSION_VALUE, 10, "a");
    struct txn_scan sc;
    assert_int_equal(txn_store_scan(f->s, 1, "", 0, NULL, 0, 100, 10, &sc, NULL), 0);
    assert_int_equal(sc.rows_n, 1);
    txn_scan_clear(&sc);
}

/* Keys that are prefixes of each other, and 0x00 / 0xFF bytes, stay
 * distinct and scan in byte order. */
static const struct {
    const char *k;
    size_t len;
} tricky[] = {
    {"", 0},          {"\x00", 1},      {"\x00\x00", 2}, {"\x00\x01", 2},
    {"\x00\xff", 2},  {"\x01", 1},      {"a", 1},        {"a\x00", 2},
    {"a\x00\x00", 3}, {"a\x00\xff", 3}, {"a\x01", 2},    {"ab", 2},
    {"\xff", 1},      {"\xff\x00", 2},  {"\xff\xff", 2}, {"\xff\xff\xff", 3},
};
#define TRICKY_N (sizeof tricky / sizeof tricky[0])

static void test_prefix_and_escaped_keys(void **state)
{
    struct fx *f = *state;
    char val[16];
    for (size_t i = 0; i < TRICKY_N; i++) {
        snprintf(val, sizeof val, "v%zu", i);
        assert_int_equal(put(f->s, 1, tricky[i].k, tricky[i].len, (tt_micros) (10 + i), val), 0);
    }
    for (size_t i = 0; i < TRICKY_N; i++) {
        snprintf(val, sizeof val, "v%zu", i);
        expect_read(f->s, 1, tricky[i].k, tricky[i].len, 100, TXN_VERSION_VALUE,
                    (tt_micros) (10 + i), val);
        expect_read(f->s, 1, tricky[i].k, tricky[i].len, (tt_micros) (9 + i), TXN_VERSION_ABSENT, 0,
                    NULL);
    }
    struct txn_scan sc;
    assert_int_equal(txn_store_scan(f->s, 1, "", 0, NULL, 0, 100, 100, &sc, NULL), 0);
    assert_int_equal(sc.rows_n, TRICKY_N);
    assert_false(sc.more);
    /* The table above is in byte order already. */
    for (size_t i = 0; i < TRICKY_N; i++) {
        assert_int_equal(sc.rows[i].key_len, tricky[i].len);
        assert_memory_equal(sc.rows[i].key, tricky[i].k, tricky[i].len);
        if (i > 0)
            assert_true(cmp_bytes(sc.rows[i - 1].key, sc.rows[i - 1].key_len, sc.rows[i].key,
                                  sc.rows[i].key_len) < 0);
    }
    txn_scan_clear(&sc);
    /* [a, a\x01): a, a\0, a\0\0, a\0\xff. */
    assert_int_equal(txn_store_scan(f->s, 1, "a", 1, "a\x01", 2, 100, 100, &sc, NULL), 0);
    assert_int_equal(sc.rows_n, 4);
    assert_int_equal(sc.rows[3].key_len, 3);
    txn_scan_clear(&sc);
}

static void test_groups_are_ordered_and_isolated(void **state)
{
    struct fx *f = *state;
    const txn_group_id groups[] = {0, 1, 2, 255, 256, UINT64_MAX - 1, UINT64_MAX};
    char val[32];
    for (size_t i = 0; i < 7; i++) {
        snprintf(val, sizeof val, "g%zu", i);
        PUTS(f->s, groups[i], "k", 10, val);
        PUTS(f->s, groups[i], "\xff\xff", 10, val);
    }
    for (size_t i = 0; i < 7; i++) {
        snprintf(val, sizeof val, "g%zu", i);
        READS(f->s, groups[i], "k", 10, TXN_VERSION_VALUE, 10, val);
        struct txn_scan sc;
        assert_int_equal(txn_store_scan(f->s, groups[i], "", 0, NULL, 0, 10, 100, &sc, NULL), 0);
        assert_int_equal(sc.rows_n, 2); /* never a neighbour group's rows, nor meta */
        assert_memory_equal(sc.rows[0].value, val, strlen(val));
        assert_memory_equal(sc.rows[1].key, "\xff\xff", 2);
        txn_scan_clear(&sc);
    }
    READS(f->s, 3, "k", 10, TXN_VERSION_ABSENT, 0, NULL);
}

static void test_scan_at_timestamp_limit_and_resume(void **state)
{
    struct fx *f = *state;
    char key[8], val[8];
    for (int i = 0; i < 20; i++) {
        snprintf(key, sizeof key, "k%02d", i);
        snprintf(val, sizeof val, "a%02d", i);
        PUTS(f->s, 1, key, 10, val);
        if (i % 3 == 0)
            assert_int_equal(del(f->s, 1, key, 3, 20), 0);
        if (i % 4 == 0)
            PUTS(f->s, 1, key, 30, "new");
    }
    /* At 25: keys with i % 3 != 0 -> 13 rows, in pages of 4. */
    size_t seen = 0;
    uint8_t start[16] = {0};
    size_t start_len = 0;
    for (int page = 0; page < 10; page++) {
        struct txn_scan sc;
        assert_int_equal(txn_store_scan(f->s, 1, start, start_len, NULL, 0, 25, 4, &sc, NULL), 0);
        for (size_t r = 0; r < sc.rows_n; r++, seen++) {
            assert_int_equal(sc.rows[r].ts, 10);
            assert_memory_equal(sc.rows[r].value, "a", 1);
        }
        bool more = sc.more;
        if (more) {
            memcpy(start, sc.resume_key, sc.resume_key_len);
            start_len = sc.resume_key_len;
        }
        txn_scan_clear(&sc);
        if (!more)
            break;
    }
    assert_int_equal(seen, 13);
    struct txn_scan sc;
    assert_int_equal(txn_store_scan(f->s, 1, "k04", 3, "k09", 3, 35, 100, &sc, NULL), 0);
    /* k04 new@30, k05, k07, k08 (k06 deleted) */
    assert_int_equal(sc.rows_n, 4);
    assert_memory_equal(sc.rows[0].value, "new", 3);
    assert_int_equal(sc.rows[0].ts, 30);
    txn_scan_clear(&sc);
    assert_int_equal(txn_store_scan(f->s, 1, "", 0, NULL, 0, 25, 0, &sc, NULL), SP_EINVAL);
}

/* ---- limits ------------------------------------------------------------ */

static void test_value_size_limit(void **state)
{
    struct fx *f = *state;
    size_t max = TXN_VALUE_BYTES_MAX_DEFAULT;
    char *big = malloc(max + 1);
    memset(big, 'x', max + 1);
    struct txn_write w[2] = {{TXN_WRITE_PUT, "ok", 2, "v", 1},
                             {TXN_WRITE_PUT, "big", 3, big, max + 1}};
    struct txn_apply a = {.group = 1, .ts = 10, .writes = w, .writes_n = 2};
    struct sp_err err = {0};
    assert_int_equal(txn_store_apply(f->s, &a, &err), SP_ETXN_TOO_LARGE);
    assert_non_null(strstr(err.msg, "exceeds the limit of 1048576 bytes"));
    /* All or nothing: the valid first write did not land either. */
    READS(f->s, 1, "ok", 10, TXN_VERSION_ABSENT, 0, NULL);
    w[1].value_len = max;
    assert_int_equal(txn_store_apply(f->s, &a, &err), 0);
    struct txn_version v;
    assert_int_equal(txn_store_get(f->s, 1, "big", 3, 10, &v, NULL), 0);
    assert_int_equal(v.value_len, max);
    txn_version_clear(&v);
    free(big);
    /* A configured smaller limit. */
    f->cfg.value_bytes_max = 100;
    fx_reopen(f);
    char v101[102];
    memset(v101, 'y', 101);
    v101[101] = 0;
    assert_int_equal(put(f->s, 1, "s", 1, 20, v101), SP_ETXN_TOO_LARGE);
    v101[100] = 0;
    assert_int_equal(put(f->s, 1, "s", 1, 20, v101), 0);
}

static void test_bad_arguments(void **state)
{
    struct fx *f = *state;
    assert_int_equal(put(f->s, 1, "k", 1, 0, "v"), SP_EINVAL);
    struct txn_version v;
    assert_int_equal(txn_store_get(f->s, 1, "k", 1, -1, &v, NULL), SP_EINVAL);
    char key[TXN_KEY_BYTES_MAX_DEFAULT + 1];
    memset(key, 'k', sizeof key);
    assert_int_equal(put(f->s, 1, key, sizeof key, 5, "v"), SP_ETXN_TOO_LARGE);
    assert_int_equal(put(f->s, 1, key, sizeof key - 1, 5, "v"), 0);
}

/* ---- metadata ---------------------------------------------------------- */

static void test_meta_applied_index_and_last_ts(void **state)
{
    struct fx *f = *state;
    struct txn_write w = {TXN_WRITE_PUT, "k", 1, "v", 1};
    struct txn_apply a = {.group = 3, .ts = 50, .writes = &w, .writes_n = 1, .applied_index = 7};
    assert_int_equal(txn_store_apply(f->s, &a, NULL), 0);
    a = (struct txn_apply){.group = 3, .ts = 60, .applied_index = 8}; /* no writes */
    assert_int_equal(txn_store_apply(f->s, &a, NULL), 0);
    a.applied_index = 8;
    assert_int_equal(txn_store_apply(f->s, &a, NULL), SP_EINVAL);
    fx_reopen(f);
    struct txn_group_meta m;
    assert_int_equal(txn_store_meta(f->s, 3, &m, NULL), 0);
    assert_int_equal(m.applied_index, 8);
    assert_int_equal(m.last_ts, 50); /* an entry without writes is not a write */
    assert_int_equal(m.gc_horizon, 0);
    assert_int_equal(txn_store_meta(f->s, 4, &m, NULL), 0);
    assert_int_equal(m.applied_index, 0);
}

static void raw_put(struct txn_store *s, const void *k, size_t kl, const void *v, size_t vl);

/* ---- state records ----------------------------------------------------- */

struct collected {
    int n;
    char keys[8][8];
};

static int collect(void *ctx, const uint8_t *key, size_t key_len, const uint8_t *value,
                   size_t value_len)
{
    struct collected *c = ctx;
    assert_true(key_len < 8 && c->n < 8);
    memcpy(c->keys[c->n], key, key_len);
    c->keys[c->n][key_len] = 0;
    assert_int_equal(value_len, 2);
    assert_memory_equal(value, "pv", 2);
    c->n++;
    return 0;
}

static void test_state_records_atomic_with_data(void **state)
{
    struct fx *f = *state;
    struct txn_write w = {TXN_WRITE_PUT, "k", 1, "v", 1};
    struct txn_state_write sw[3] = {{"p/2", 3, "pv", 2}, {"p/1", 3, "pv", 2}, {"p/3", 3, "pv", 2}};
    struct txn_apply a = {.group = 5,
                          .ts = 10,
                          .writes = &w,
                          .writes_n = 1,
                          .state = sw,
                          .state_n = 3,
                          .applied_index = 1};
    assert_int_equal(txn_store_apply(f->s, &a, NULL), 0);
    fx_reopen(f);
    uint8_t *v = NULL;
    size_t vl = 0;
    assert_int_equal(txn_store_state_get(f->s, 5, "p/1", 3, &v, &vl, NULL), 0);
    assert_int_equal(vl, 2);
    free(v);
    assert_int_equal(txn_store_state_get(f->s, 6, "p/1", 3, &v, &vl, NULL), SP_ENOTFOUND);
    struct collected c = {0};
    assert_int_equal(txn_store_state_list(f->s, 5, NULL, 0, collect, &c, 8, NULL), 0);
    assert_int_equal(c.n, 3);
    assert_string_equal(c.keys[0], "p/1");
    assert_string_equal(c.keys[2], "p/3");
    memset(&c, 0, sizeof c);
    assert_int_equal(txn_store_state_list(f->s, 5, NULL, 0, collect, &c, 2, NULL), SP_EFULL);
    /* An entry with no timestamp and no data: delete one record, record the
     * index. A too-large state value fails the whole entry. */
    struct txn_state_write del1 = {"p/2", 3, NULL, 0};
    a = (struct txn_apply){.group = 5, .state = &del1, .state_n = 1, .applied_index = 2};
    assert_int_equal(txn_store_apply(f->s, &a, NULL), 0);
    char *big = calloc(1, TXN_VALUE_BYTES_MAX_DEFAULT + 1);
    struct txn_state_write bad[2] = {{"p/4", 3, "pv", 2},
                                     {"p/5", 3, big, TXN_VALUE_BYTES_MAX_DEFAULT + 1}};
    a = (struct txn_apply){.group = 5, .state = bad, .state_n = 2, .applied_index = 3};
    assert_int_equal(txn_store_apply(f->s, &a, NULL), SP_ETXN_TOO_LARGE);
    free(big);
    memset(&c, 0, sizeof c);
    assert_int_equal(txn_store_state_list(f->s, 5, NULL, 0, collect, &c, 8, NULL), 0);
    assert_int_equal(c.n, 2);
    assert_string_equal(c.keys[1], "p/3");
    struct txn_group_meta m;
    assert_int_equal(txn_store_meta(f->s, 5, &m, NULL), 0);
    assert_int_equal(m.applied_index, 2);
    /* A garbled state record is caught. */
    uint8_t rk[16];
    size_t rkl = txn__encode_state_key(rk, 5, "p/3", 3);
    raw_put(f->s, rk, rkl, "\x01\x02\x03\x04pv", 6);
    assert_int_equal(txn_store_state_get(f->s, 5, "p/3", 3, &v, &vl, NULL), SP_ECORRUPT);
    assert_null(v);
    memset(&c, 0, sizeof c);
    assert_int_equal(txn_store_state_list(f->s, 5, NULL, 0, collect, &c, 8, NULL), SP_ECORRUPT);
}

/* Several keys through one iterator: each gets its own newest version <= t,
 * an absent key reads absent, and one key over the limit fails the whole
 * read with every result cleared. */
static void test_get_many(void **state)
{
    struct fx *f = *state;
    assert_int_equal(put(f->s, 1, "a", 1, 10, "A10"), 0);
    assert_int_equal(put(f->s, 1, "a", 1, 30, "A30"), 0);
    assert_int_equal(put(f->s, 1, "b", 1, 20, "B20"), 0);
    assert_int_equal(put(f->s, 2, "c", 1, 5, "C05"), 0); /* another group */
    struct txn_key keys[4] = {{"b", 1}, {"c", 1}, {"a", 1}, {"b", 1}};
    struct txn_version v[4];
    assert_int_equal(txn_store_get_many(f->s, 1, keys, 4, 25, v, NULL), 0);
    assert_int_equal(v[0].kind, TXN_VERSION_VALUE);
    assert_memory_equal(v[0].value, "B20", 3);
    assert_int_equal(v[1].kind, TXN_VERSION_ABSENT);
    assert_int_equal(v[2].ts, 10);
    assert_memory_equal(v[2].value, "A10", 3);
    assert_int_equal(v[3].ts, 20);
    for (int i = 0; i < 4; i++)
        txn_version_clear(&v[i]);
    assert_int_equal(txn_store_get_many(f->s, 1, keys, 0, 25, NULL, NULL), 0);
    char *big = calloc(1, TXN_KEY_BYTES_MAX_DEFAULT + 1);
    struct txn_key bad[2] = {{"a", 1}, {big, TXN_KEY_BYTES_MAX_DEFAULT + 1}};
    struct sp_err err = {0};
    assert_int_equal(txn_store_get_many(f->s, 1, bad, 2, 40, v, &err), SP_ETXN_TOO_LARGE);
    assert_null(v[0].value);
    assert_null(v[1].value);
    assert_non_null(strstr(err.msg, "exceeds the limit"));
    free(big);
}

/* Without RocksDB's log (the simulator's store), a close flushes the
 * memtables: everything applied, directly or in a batch, and the applied
 * index are there after a reopen, and a sync still succeeds. */
static void test_no_wal_close_keeps_applies(void **state)
{
    struct fx *f = *state;
    f->cfg.wal = false;
    f->cfg.sync = false;
    fx_reopen(f);
    assert_int_equal(put(f->s, 1, "a", 1, 10, "A10"), 0);
    txn_store_apply_begin(f->s);
    struct txn_write w = {TXN_WRITE_PUT, "b", 1, "B20", 3};
    struct txn_apply a = {.group = 1, .ts = 20, .writes = &w, .writes_n = 1, .applied_index = 7};
    assert_int_equal(txn_store_apply(f->s, &a, NULL), 0);
    assert_int_equal(txn_store_apply_flush(f->s, NULL), 0);
    assert_int_equal(txn_store_sync(f->s, NULL), 0);
    assert_int_equal(put(f->s, 1, "c", 1, 30, "C30"), 0);
    fx_reopen(f);
    const char *keys[3] = {"a", "b", "c"}, *want[3] = {"A10", "B20", "C30"};
    for (int i = 0; i < 3; i++) {
        struct txn_version v;
        assert_int_equal(txn_store_get(f->s, 1, keys[i], 1, 100, &v, NULL), 0);
        assert_int_equal(v.kind, TXN_VERSION_VALUE);
        assert_int_equal(v.value_len, 3);
        assert_memory_equal(v.value, want[i], 3);
        txn_version_clear(&v);
    }
    struct txn_group_meta m;
    assert_int_equal(txn_store_meta(f->s, 1, &m, NULL), 0);
    assert_int_equal(m.applied_index, 7);
    assert_int_equal(m.last_ts, 30);
}

/* A state record in the open batch: txn_store_state_get_written does not
 * see it and leaves the batch open; txn_store_state_get writes the batch
 * and sees it; afterwards both do. */
static void test_state_get_written_skips_open_batch(void **state)
{
    struct fx *f = *state;
    txn_store_apply_begin(f->s);
    struct txn_state_write sw = {"d1", 2, "pv", 2};
    struct txn_apply a = {.group = 3, .state = &sw, .state_n = 1, .applied_index = 1};
    assert_int_equal(txn_store_apply(f->s, &a, NULL), 0);
    uint8_t *v = NULL;
    size_t vl = 0;
    assert_int_equal(txn_store_state_get_written(f->s, 3, "d1", 2, &v, &vl, NULL), SP_ENOTFOUND);
    assert_null(v);
    /* The first lookup left the batch open: still not there. */
    assert_int_equal(txn_store_state_get_written(f->s, 3, "d1", 2, &v, &vl, NULL), SP_ENOTFOUND);
    assert_int_equal(txn_store_state_get(f->s, 3, "d1", 2, &v, &vl, NULL), 0);
    assert_int_equal(vl, 2);
    free(v);
    assert_int_equal(txn_store_state_get_written(f->s, 3, "d1", 2, &v, &vl, NULL), 0);
    assert_memory_equal(v, "pv", 2);
    free(v);
    assert_int_equal(txn_store_apply_flush(f->s, NULL), 0);
    struct txn_group_meta m;
    assert_int_equal(txn_store_meta(f->s, 3, &m, NULL), 0);
    assert_int_equal(m.applied_index, 1);
}

/* A prefix lists only the records under it, in key order, and the records
 * of a neighbouring group never show (a restart lists only "p" records). */
static void test_state_list_prefix(void **state)
{
    struct fx *f = *state;
    struct txn_state_write sw[5] = {{"d1", 2, "pv", 2},
                                    {"p2", 2, "pv", 2},
                                    {"q1", 2, "pv", 2},
                                    {"p1", 2, "pv", 2},
                                    {"d2", 2, "pv", 2}};
    struct txn_apply a = {.group = 5, .state = sw, .state_n = 5, .applied_index = 1};
    assert_int_equal(txn_store_apply(f->s, &a, NULL), 0);
    struct txn_state_write other = {"p0", 2, "pv", 2};
    a = (struct txn_apply){.group = 6, .state = &other, .state_n = 1, .applied_index = 1};
    assert_int_equal(txn_store_apply(f->s, &a, NULL), 0);
    struct collected c = {0};
    assert_int_equal(txn_store_state_list(f->s, 5, "p", 1, collect, &c, 8, NULL), 0);
    assert_int_equal(c.n, 2);
    assert_string_equal(c.keys[0], "p1");
    assert_string_equal(c.keys[1], "p2");
    memset(&c, 0, sizeof c);
    assert_int_equal(txn_store_state_list(f->s, 5, "d", 1, collect, &c, 8, NULL), 0);
    assert_int_equal(c.n, 2);
    assert_string_equal(c.keys[0], "d1");
    memset(&c, 0, sizeof c);
    assert_int_equal(txn_store_state_list(f->s, 5, "p1", 2, collect, &c, 8, NULL), 0);
    assert_int_equal(c.n, 1);
    memset(&c, 0, sizeof c);
    assert_int_equal(txn_store_state_list(f->s, 5, "x", 1, collect, &c, 8, NULL), 0);
    assert_int_equal(c.n, 0);
    memset(&c, 0, sizeof c);
    assert_int_equal(txn_store_state_list(f->s, 5, NULL, 0, collect, &c, 8, NULL), 0);
    assert_int_equal(c.n, 5);
    memset(&c, 0, sizeof c);
    assert_int_equal(txn_store_state_list(f->s, 5, "p", 1, collect, &c, 1, NULL), SP_EFULL);
}

/* ---- GC ---------------------------------------------------------------- */

/* Counts raw versions of group g in RocksDB. */
static size_t raw_versions(struct txn_store *s, txn_group_id g)
{
    rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
    rocksdb_iterator_t *it = rocksdb_create_iterator(txn__store_db(s), ro);
    uint8_t p[TXN__PREFIX_BYTES];
    p[0] = TXN__NS_DATA;
    txn__put_u64(p + 1, g);
    size_t n = 0;
    for (rocksdb_iter_seek(it, (const char *) p, sizeof p); rocksdb_iter_valid(it);
         rocksdb_iter_next(it)) {
        size_t kl;
        const char *k = rocksdb_iter_key(it, &kl);
        if (kl < sizeof p || memcmp(k, p, sizeof p) != 0)
            break;
        n++;
    }
    rocksdb_iter_destroy(it);
    rocksdb_readoptions_destroy(ro);
    return n;
}

#define RET TXN_RETENTION_US_DEFAULT

static void test_gc_horizon_and_too_old(void **state)
{
    struct fx *f = *state;
    PUTS(f->s, 1, "a", 10, "a10");
    PUTS(f->s, 1, "a", 20, "a20");
    PUTS(f->s, 1, "a", 30, "a30");
    PUTS(f->s, 1, "b", 10, "b10");
    assert_int_equal(del(f->s, 1, "b", 1, 20), 0);
    PUTS(f->s, 1, "c", 40, "c40");
    PUTS(f->s, 2, "a", 10, "other group");
    assert_int_equal(raw_versions(f->s, 1), 6);
    struct txn_gc_stats st;
    assert_int_equal(txn_store_gc(f->s, 1, 25 + RET, TT_MICROS_MAX, &st, NULL), 0);
    assert_int_equal(st.horizon, 25);
    assert_true(st.complete);
    assert_int_equal(st.versions_seen, 6);
    /* a@10 shadowed; b@20 tombstone is newest <= 25 so it and b@10 go. */
    assert_int_equal(st.versions_dropped, 3);
    assert_int_equal(raw_versions(f->s, 1), 3);
    assert_int_equal(raw_versions(f->s, 2), 1);
    READS(f->s, 1, "a", 25, TXN_VERSION_VALUE, 20, "a20");
    READS(f->s, 1, "a", 30, TXN_VERSION_VALUE, 30, "a30");
    READS(f->s, 1, "b", 25, TXN_VERSION_ABSENT, 0, NULL);
    READS(f->s, 1, "c", 45, TXN_VERSION_VALUE, 40, "c40");
    struct txn_version v;
    struct sp_err err = {0};
    assert_int_equal(txn_store_get(f->s, 1, "a", 1, 24, &v, &err), SP_ETXN_TOO_OLD);
    assert_non_null(strstr(err.msg, "below the GC horizon 25"));
    struct txn_scan sc;
    assert_int_equal(txn_store_scan(f->s, 1, "", 0, NULL, 0, 24, 10, &sc, NULL), SP_ETXN_TOO_OLD);
    /* Another group's horizon is its own. */
    READS(f->s, 2, "a", 10, TXN_VERSION_VALUE, 10, "other group");
    /* The horizon survives a restart and never moves back. */
    fx_reopen(f);
    assert_int_equal(txn_store_get(f->s, 1, "a", 1, 24, &v, NULL), SP_ETXN_TOO_OLD);
    assert_int_equal(txn_store_gc(f->s, 1, 5 + RET, TT_MICROS_MAX, &st, NULL), 0);
    assert_int_equal(st.horizon, 25);
    assert_int_equal(st.versions_dropped, 0);
}

static void test_gc_respects_oldest_read(void **state)
{
    struct fx *f = *state;
    PUTS(f->s, 1, "a", 10, "a10");
    PUTS(f->s, 1, "a", 20, "a20");
    PUTS(f->s, 1, "a", 30, "a30");
    struct txn_gc_stats st;
    /* Retention alone would allow 1000; an active read at 15 holds it. */
    assert_int_equal(txn_store_gc(f->s, 1, 1000 + RET, 15, &st, NULL), 0);
    assert_int_equal(st.horizon, 15);
    assert_int_equal(st.versions_dropped, 0);
    READS(f->s, 1, "a", 15, TXN_VERSION_VALUE, 10, "a10");
    /* Retention limits it when it is the smaller bound. */
    assert_int_equal(txn_store_gc(f->s, 1, 22 + RET, TT_MICROS_MAX, &st, NULL), 0);
    assert_int_equal(st.horizon, 22);
    assert_int_equal(st.versions_dropped, 1);
    READS(f->s, 1, "a", 22, TXN_VERSION_VALUE, 20, "a20");
    assert_int_equal(txn_gc_horizon(100, 10, TT_MICROS_MAX), 90);
    assert_int_equal(txn_gc_horizon(100, 10, 50), 50);
    assert_int_equal(txn_gc_horizon(5, 10, TT_MICROS_MAX), 0);
}

static void test_gc_bounded_passes(void **state)
{
    struct fx *f = *state;
    f->cfg.gc_versions_max = 7;
    fx_reopen(f);
    char key[8];
    for (int i = 0; i < 20; i++) {
        snprintf(key, sizeof key, "k%02d", i);
        for (int t = 1; t <= 3; t++)
            PUTS(f->s, 1, key, t * 10, "v");
    }
    struct txn_gc_stats st = {0};
    int calls = 0;
    uint64_t dropped = 0;
    /* Bounded: 60 versions at about 7 per call. */
    for (; calls < 30 && !st.complete; calls++) {
        assert_int_equal(txn_store_gc(f->s, 1, 25 + RET, TT_MICROS_MAX, &st, NULL), 0);
        assert_true(st.versions_seen <= 7 + 3);
        dropped += st.versions_dropped;
    }
    assert_true(st.complete);
    assert_true(calls > 5);
    assert_int_equal(dropped, 20);
    assert_int_equal(raw_versions(f->s, 1), 40);
    READS(f->s, 1, "k13", 25, TXN_VERSION_VALUE, 20, "v");
}

/* ---- corruption -------------------------------------------------------- */

static void raw_put(struct txn_store *s, const void *k, size_t kl, const void *v, size_t vl)
{
    rocksdb_writeoptions_t *wo = rocksdb_writeoptions_create();
    char *rerr = NULL;
    rocksdb_put(txn__store_db(s), wo, k, kl, v, vl, &rerr);
    assert_null(rerr);
    rocksdb_writeoptions_destroy(wo);
}

static void test_corrupt_records_detected(void **state)
{
    struct fx *f = *state;
    PUTS(f->s, 1, "k", 10, "good");
    PUTS(f->s, 1, "m", 10, "good");
    uint8_t key[32];
    size_t kl = txn__encode_data_key(key, 1, "k", 1, 10);
    struct txn_version v;
    struct sp_err err = {0};
    /* Garbage under the key. */
    raw_put(f->s, key, kl, "garbage!", 8);
    assert_int_equal(txn_store_get(f->s, 1, "k", 1, 10, &v, &err), SP_ECORRUPT);
    assert_non_null(strstr(err.msg, "corruption at"));
    struct txn_scan sc;
    assert_int_equal(txn_store_scan(f->s, 1, "", 0, NULL, 0, 10, 10, &sc, NULL), SP_ECORRUPT);
    /* A short record. */
    raw_put(f->s, key, kl, "\x50", 1);
    assert_int_equal(txn_store_get(f->s, 1, "k", 1, 10, &v, NULL), SP_ECORRUPT);
    /* One flipped value byte. */
    uint8_t rec[16];
    txn__encode_value(rec, key, kl, TXN__TYPE_PUT, "good", 4);
    rec[6] ^= 0x01;
    raw_put(f->s, key, kl, rec, TXN__HDR_BYTES + 4);
    assert_int_equal(txn_store_get(f->s, 1, "k", 1, 10, &v, NULL), SP_ECORRUPT);
    /* A valid record moved under another key fails: the crc covers the key. */
    uint8_t key2[32];
    size_t kl2 = txn__encode_data_key(key2, 1, "m", 1, 10);
    txn__encode_value(rec, key, kl, TXN__TYPE_PUT, "good", 4);
    raw_put(f->s, key2, kl2, rec, TXN__HDR_BYTES + 4);
    assert_int_equal(txn_store_get(f->s, 1, "m", 1, 10, &v, NULL), SP_ECORRUPT);
    /* GC stops at a corrupt record rather than guess. */
    struct txn_gc_stats st;
    assert_int_equal(txn_store_gc(f->s, 1, 100 + RET, TT_MICROS_MAX, &st, NULL), SP_ECORRUPT);
}

static void test_corrupt_key_in_scan(void **state)
{
    struct fx *f = *state;
    PUTS(f->s, 1, "k", 10, "good");
    /* A key in group 1's range with no terminator. */
    uint8_t key[16] = {TXN__NS_DATA};
    txn__put_u64(key + 1, 1);
    memcpy(key + TXN__PREFIX_BYTES, "zzzzzzz", 7);
    raw_put(f->s, key, TXN__PREFIX_BYTES + 7, "x", 1);
    struct txn_scan sc;
    assert_int_equal(txn_store_scan(f->s, 1, "", 0, NULL, 0, 10, 10, &sc, NULL), SP_ECORRUPT);
    /* Corrupt metadata is caught when the group is first loaded. */
    uint8_t mk[10];
    txn__encode_meta_key(mk, 9, TXN__META_HORIZON);
    raw_put(f->s, mk, sizeof mk, "bad", 3);
    struct txn_group_meta m;
    assert_int_equal(txn_store_meta(f->s, 9, &m, NULL), SP_ECORRUPT);
}

/* ---- disk -------------------------------------------------------------- */

static void test_on_disk_store(void **state)
{
    (void) state;
    char dir[] = "/tmp/txn-mvcc-XXXXXX";
    assert_non_null(mkdtemp(dir));
    struct txn_store_config cfg;
    txn_store_config_init(&cfg);
    struct txn_store *s = NULL;
    struct sp_err err = {0};
    assert_int_equal(txn_store_open(dir, &cfg, &s, &err), 0);
    PUTS(s, 1, "k", 10, "durable");
    txn_store_close(s);
    assert_int_equal(txn_store_open(dir, &cfg, &s, &err), 0);
    READS(s, 1, "k", 10, TXN_VERSION_VALUE, 10, "durable");
    txn_store_close(s);
    rocksdb_options_t *o = rocksdb_options_create();
    char *rerr = NULL;
    rocksdb_destroy_db(o, dir, &rerr);
    assert_null(rerr);
    rocksdb_options_destroy(o);
    rmdir(dir);
    assert_int_not_equal(access(dir, F_OK), 0);
    /* An unusable path is a clear SP_EIO. */
    assert_int_equal(txn_store_open("/proc/no/such/dir", &cfg, &s, &err), SP_EIO);
    assert_null(s);
}

/* ---- model ------------------------------------------------------------- */

#define M_KEYS     6
#define M_VERSIONS 64
#define M_SEEDS    12
#define M_STEPS    800

struct model_version {
    tt_micros ts;
    bool del;
    char val[8];
};

/* In byte order, so expected scan rows come out sorted. */
static const char *m_keys[M_KEYS] = {"", "\x00", "a", "a\x00", "ab", "\xff"};
static const size_t m_klens[M_KEYS] = {0, 1, 1, 2, 2, 1};

struct model {
    struct model_version v[M_KEYS][M_VERSIONS];
    int n[M_KEYS];
    tt_micros ts, horizon;
};

/* The newest version of key k at or below t, or NULL. */
static const struct model_version *model_at(const struct model *m, int k, tt_micros t)
{
    const struct model_version *found = NULL;
    for (int i = 0; i < m->n[k]; i++)
        if (m->v[k][i].ts <= t)
            found = &m->v[k][i];
    return found;
}

static void model_read(struct fx *f, txn_group_id g, const struct model *m, int k, tt_micros t)
{
    if (t < m->horizon) {
        struct txn_version v;
        assert_int_equal(txn_store_get(f->s, g, m_keys[k], m_klens[k], t, &v, NULL),
                         SP_ETXN_TOO_OLD);
        return;
    }
    const struct model_version *mv = model_at(m, k, t);
    /* GC drops a tombstone that is the newest version <= the horizon: from
     * then on the key reads as absent, which means the same to a reader. */
    if (!mv || (mv->del && mv->ts <= m->horizon))
        expect_read(f->s, g, m_keys[k], m_klens[k], t, TXN_VERSION_ABSENT, 0, NULL);
    else
        expect_read(f->s, g, m_keys[k], m_klens[k], t,
                    mv->del ? TXN_VERSION_TOMBSTONE : TXN_VERSION_VALUE, mv->ts, mv->val);
}

static void model_scan(struct fx *f, txn_group_id g, const struct model *m, tt_micros t)
{
    struct txn_scan sc;
    if (t < m->horizon) {
        assert_int_equal(txn_store_scan(f->s, g, "", 0, NULL, 0, t, 10, &sc, NULL),
                         SP_ETXN_TOO_OLD);
        return;
    }
    assert_int_equal(txn_store_scan(f->s, g, "", 0, NULL, 0, t, 10, &sc, NULL), 0);
    size_t r = 0;
    for (int k = 0; k < M_KEYS; k++) {
        const struct model_version *mv = model_at(m, k, t);
        if (!mv || mv->del)
            continue;
        assert_true(r < sc.rows_n);
        assert_int_equal(sc.rows[r].key_len, m_klens[k]);
        assert_memory_equal(sc.rows[r].key, m_keys[k], m_klens[k]);
        assert_int_equal(sc.rows[r].ts, mv->ts);
        assert_memory_equal(sc.rows[r].value, mv->val, strlen(mv->val));
        r++;
    }
    assert_int_equal(sc.rows_n, r);
    txn_scan_clear(&sc);
}

static void model_write(struct fx *f, txn_group_id g, struct model *m, int k, int step,
                        unsigned *seed)
{
    m->ts += 1 + rand_r(seed) % 3;
    struct model_version *mv = &m->v[k][m->n[k]++];
    mv->ts = m->ts;
    mv->del = rand_r(seed) % 4 == 0;
    snprintf(mv->val, sizeof mv->val, "%d", step);
    assert_int_equal(mv->del ? del(f->s, g, m_keys[k], m_klens[k], m->ts)
                             : put(f->s, g, m_keys[k], m_klens[k], m->ts, mv->val),
                     0);
}

/* GC at a random horizon between the current one and the newest write. */
static void model_gc(struct fx *f, txn_group_id g, struct model *m, unsigned *seed)
{
    tt_micros h = m->horizon + rand_r(seed) % (m->ts - m->horizon + 1);
    struct txn_gc_stats st;
    assert_int_equal(txn_store_gc(f->s, g, h + RET, TT_MICROS_MAX, &st, NULL), 0);
    assert_true(st.complete);
    assert_int_equal(st.horizon, h);
    m->horizon = h;
}

/* Writes, point reads, scans, GC and restarts against a simple model; each
 * seed uses its own group, so groups also stay isolated. */
static void test_random_against_model(void **state)
{
    struct fx *f = *state;
    const char *env = getenv("TXN_SEED");
    unsigned base = env ? (unsigned) strtoul(env, NULL, 10) : 4242u;
    int seeds = env ? 1 : M_SEEDS;
    print_message("mvcc model: base seed %u, %d seeds (TXN_SEED=<seed> replays one)\n", base,
                  seeds);
    static struct model m;
    for (int i = 0; i < seeds; i++) {
        unsigned seed = base + (unsigned) i;
        txn_group_id g = 100 + (txn_group_id) i;
        memset(&m, 0, sizeof m);
        for (int step = 0; step < M_STEPS; step++) {
            int k = rand_r(&seed) % M_KEYS, op = rand_r(&seed) % 100;
            tt_micros t = rand_r(&seed) % (m.ts + 2);
            if (op < 40 && m.n[k] < M_VERSIONS)
                model_write(f, g, &m, k, step, &seed);
            else if (op < 80)
                model_read(f, g, &m, k, t);
            else if (op < 92)
                model_scan(f, g, &m, t);
            else if (op < 99)
                model_gc(f, g, &m, &seed);
            else
                fx_reopen(f);
        }
    }
}

/* ---- reads concurrent with GC ------------------------------------------ */

#define C_VERSIONS 200
#define C_READERS  2

struct conc {
    struct txn_store *s;
    atomic_bool stop;
    atomic_long reads, too_old, wrong;
    unsigned seed;
};

/* Versions of "k" exist at every even timestamp; a read at t sees the one at
 * t rounded down to even, or fails with SP_ETXN_TOO_OLD. Nothing else. */
static void *conc_reader(void *arg)
{
    struct conc *c = arg;
    unsigned seed = c->seed;
    while (!atomic_load(&c->stop)) {
        tt_micros t = 2 + rand_r(&seed) % (2 * C_VERSIONS - 1);
        struct txn_version v;
        int rc = txn_store_get(c->s, 1, "k", 1, t, &v, NULL);
        atomic_fetch_add(&c->reads, 1);
        if (rc == SP_ETXN_TOO_OLD) {
            atomic_fetch_add(&c->too_old, 1);
            continue;
        }
        char want[16];
        snprintf(want, sizeof want, "%lld", (long long) (t & ~1LL));
        if (rc || v.kind != TXN_VERSION_VALUE || v.ts != (t & ~1LL) ||
            v.value_len != strlen(want) || memcmp(v.value, want, v.value_len) != 0)
            atomic_fetch_add(&c->wrong, 1);
        txn_version_clear(&v);
    }
    return NULL;
}

static void test_reads_concurrent_with_gc(void **state)
{
    struct fx *f = *state;
    char val[16];
    for (int i = 1; i <= C_VERSIONS; i++) {
        snprintf(val, sizeof val, "%d", 2 * i);
        PUTS(f->s, 1, "k", 2 * i, val);
    }
    struct conc c = {.s = f->s, .seed = 99};
    pthread_t th[C_READERS];
    for (int i = 0; i < C_READERS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, conc_reader, &c), 0);
    /* The horizon sweeps across the versions while the readers read; each
     * step waits (boundedly) for a few reads to land in between. */
    tt_micros last_h = 0;
    for (tt_micros h = 1; h <= 2 * C_VERSIONS - 20; h += 3) {
        struct txn_gc_stats st;
        assert_int_equal(txn_store_gc(f->s, 1, h + RET, TT_MICROS_MAX, &st, NULL), 0);
        last_h = h;
        long target = atomic_load(&c.reads) + 8;
        for (int spin = 0; spin < 1000000 && atomic_load(&c.reads) < target; spin++)
            sched_yield();
    }
    atomic_store(&c.stop, true);
    for (int i = 0; i < C_READERS; i++)
        pthread_join(th[i], NULL);
    print_message("  %ld concurrent reads, %ld too old, %ld wrong\n", atomic_load(&c.reads),
                  atomic_load(&c.too_old), atomic_load(&c.wrong));
    assert_int_equal(atomic_load(&c.wrong), 0);
    assert_true(atomic_load(&c.too_old) > 0);
    /* Left: the newest version <= the horizon, and every one above it. */
    assert_int_equal(raw_versions(f->s, 1), 1 + (2 * C_VERSIONS - (last_h & ~1LL)) / 2);
}

/* ---- configuration ----------------------------------------------------- */

static void test_in_memory_and_config(void **state)
{
    (void) state;
    struct txn_store_config cfg;
    txn_store_config_init(&cfg);
    cfg.in_memory = true;
    struct txn_store *s = NULL;
    assert_int_equal(txn_store_open("mem", &cfg, &s, NULL), 0);
    PUTS(s, 1, "k", 10, "v");
    READS(s, 1, "k", 10, TXN_VERSION_VALUE, 10, "v");
    txn_store_close(s);
    /* Nothing survives: the env went with the store. */
    assert_int_equal(txn_store_open("mem", &cfg, &s, NULL), 0);
    READS(s, 1, "k", 10, TXN_VERSION_ABSENT, 0, NULL);
    txn_store_close(s);
    struct sp_err err = {0};
    cfg.env = (struct rocksdb_env_t *) 1;
    assert_int_equal(txn_store_open("mem", &cfg, &s, &err), SP_EINVAL);
    assert_non_null(strstr(err.msg, "exclusive"));
    txn_store_config_init(&cfg);
    cfg.value_bytes_max = 0;
    assert_int_equal(txn_store_open("mem", &cfg, &s, &err), SP_EINVAL);
    assert_null(s);
}

static void test_groups_limit(void **state)
{
    struct fx *f = *state;
    f->cfg.groups_max = 2;
    fx_reopen(f);
    PUTS(f->s, 1, "k", 10, "v");
    PUTS(f->s, 2, "k", 10, "v");
    assert_int_equal(put(f->s, 3, "k", 1, 10, "v"), SP_EFULL);
    struct txn_version v;
    struct sp_err err = {0};
    assert_int_equal(txn_store_get(f->s, 3, "k", 1, 10, &v, &err), SP_EFULL);
    assert_non_null(strstr(err.msg, "groups_max=2"));
    READS(f->s, 2, "k", 10, TXN_VERSION_VALUE, 10, "v");
}

int main(void)
{
    sp_test_route_asserts();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encoding_roundtrip_and_order),
        cmocka_unit_test(test_crc32c_check_value),
        cmocka_unit_test(test_encoding_ts_order),
        cmocka_unit_test(test_decode_rejects_garbage),
        cmocka_unit_test_setup_teardown(test_seek_version_boundaries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tombstones, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idempotent_replay, setup, teardown),
        cmocka_unit_test_setup_teardown(test_apply_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_apply_batches_of_two_stores, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prefix_and_escaped_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_groups_are_ordered_and_isolated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scan_at_timestamp_limit_and_resume, setup, teardown),
        cmocka_unit_test_setup_teardown(test_value_size_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_arguments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_meta_applied_index_and_last_ts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_state_records_atomic_with_data, setup, teardown),
        cmocka_unit_test_setup_teardown(test_state_list_prefix, setup, teardown),
        cmocka_unit_test_setup_teardown(test_get_many, setup, teardown),
        cmocka_unit_test_setup_teardown(test_state_get_written_skips_open_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_wal_close_keeps_applies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gc_horizon_and_too_old, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gc_respects_oldest_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gc_bounded_passes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_records_detected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_key_in_scan, setup, teardown),
        cmocka_unit_test(test_on_disk_store),
        cmocka_unit_test_setup_teardown(test_random_against_model, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reads_concurrent_with_gc, setup, teardown),
        cmocka_unit_test(test_in_memory_and_config),
        cmocka_unit_test_setup_teardown(test_groups_limit, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * mvcc_read.c - point reads and range scans at a timestamp.
 *
 * From Spanner §4.1.3: "Every replica tracks a value called safe time ...
 * A replica can satisfy a read at a timestamp t if t <= t_safe." This file
 * answers the read itself; the caller has already checked t against safe
 * time (safetime.c). What is checked here is the other bound: t must not be
 * below the group's GC horizon.
 *
 * Ordering that makes reads safe against a concurrent GC (invariant 3 of
 * mvcc.c): the iterator, and with it an implicit RocksDB snapshot, is
 * created first; only then is the horizon looked up. GC publishes a new
 * horizon before it deletes anything, so if the horizon we read is still
 * <= t, no delete for a horizon above t can be in our snapshot.
 *
 * The newest version <= t of a key is one seek: versions are stored newest
 * first under prefix(key) · ~ts, so seeking to prefix(key) · ~t lands on the
 * first version with ts <= t, if that key still matches the prefix.
 */
#include "mvcc.h"

#include "sp_assert.h"

#include <stdlib.h>
#include <string.h>

void txn_version_clear(struct txn_version *v)
{
    SP_ASSERT(v != NULL);
    free(v->value);
    memset(v, 0, sizeof *v);
}

void txn_scan_clear(struct txn_scan *sc)
{
    SP_ASSERT(sc != NULL);
    for (size_t i = 0; i < sc->rows_n; i++) {
        free(sc->rows[i].key);
        free(sc->rows[i].value);
    }
    free(sc->rows);
    free(sc->resume_key);
    memset(sc, 0, sizeof *sc);
}

static int iter_status(rocksdb_iterator_t *it, struct sp_err *err)
{
    char *rerr = NULL;
    rocksdb_iter_get_error(it, &rerr);
    if (!rerr)
        return 0;
    int rc = sp_err_set(err, SP_EIO, "mvcc read: %s", rerr);
    rocksdb_free(rerr);
    return rc;
}

/* Opens an iterator (taking the snapshot) and then checks the horizon. */
static int read_begin(struct txn_store *s, txn_group_id group, size_t key_len, tt_micros t,
                      rocksdb_iterator_t **it, struct sp_err *err)
{
    if (t < 0)
        return sp_err_set(err, SP_EINVAL, "read at negative timestamp %lld", (long long) t);
    if (key_len > s->cfg.key_bytes_max)
        return sp_err_set(err, SP_ETXN_TOO_LARGE, "key of %zu bytes exceeds the limit of %zu bytes",
                          key_len, s->cfg.key_bytes_max);
    *it = rocksdb_create_iterator(s->db, s->ropts);
    SP_ASSERT(*it != NULL);
    int rc = txn__check_horizon(s, group, t, err);
    if (rc) {
        rocksdb_iter_destroy(*it);
        *it = NULL;
    }
    return rc;
}

static void *dup_bytes(const void *p, size_t n)
{
    void *q = malloc(n ? n : 1);
    if (q && n)
        memcpy(q, p, n);
    return q;
}

/* The iterator is at a RocksDB key that starts with `prefix`; decodes the
 * version there (timestamp from the key, type and value from the record). */
static int version_at(rocksdb_iterator_t *it, size_t prefix_len, struct txn_version *out,
                      struct sp_err *err)
{
    size_t klen = 0, vlen = 0, len = 0;
    const uint8_t *k = (const uint8_t *) rocksdb_iter_key(it, &klen);
    const uint8_t *rec = (const uint8_t *) rocksdb_iter_value(it, &vlen);
    const uint8_t *value = NULL;
    uint8_t type = 0;
    if (klen != prefix_len + TXN__TS_BYTES)
        return SP_CORRUPT(err, "mvcc key of %zu bytes under a %zu-byte prefix", klen, prefix_len);
    int rc = txn__decode_value(k, klen, rec, vlen, &type, &value, &len, err);
    if (rc)
        return rc;
    uint64_t inv = txn__get_u64(k + prefix_len);
    if (inv < UINT64_MAX - (uint64_t) INT64_MAX)
        return SP_CORRUPT(err, "mvcc key carries a negative timestamp");
    memset(out, 0, sizeof *out);
    out->ts = (tt_micros) (UINT64_MAX - inv);
    out->kind = type == TXN__TYPE_PUT ? TXN_VERSION_VALUE : TXN_VERSION_TOMBSTONE;
    if (out->kind == TXN_VERSION_VALUE) {
        out->value = dup_bytes(value, len);
        out->value_len = len;
        if (!out->value)
            return sp_err_set(err, SP_ENOMEM, "mvcc read: out of memory");
    }
    return 0;
}

/* The newest version of key <= t through the iterator `it`. */
static int get_at(rocksdb_iterator_t *it, txn_group_id group, const void *key, size_t key_len,
                  tt_micros t, struct txn_version *out, struct sp_err *err)
{
    int rc = 0;
    uint8_t *buf = malloc(TXN__DATA_KEY_MAX(key_len));
    if (!buf)
        return sp_err_set(err, SP_ENOMEM, "mvcc read: out of memory");
    size_t prefix_len = txn__encode_key_prefix(buf, group, key, key_len);
    size_t seek_len = txn__encode_data_key(buf, group, key, key_len, t);
    rocksdb_iter_seek(it, (const char *) buf, seek_len);
    if (rocksdb_iter_valid(it)) {
        size_t klen = 0;
        const char *k = rocksdb_iter_key(it, &klen);
        /* Prefix-freedom: a match on the prefix is a version of this key. */
        if (klen >= prefix_len && memcmp(k, buf, prefix_len) == 0)
            rc = version_at(it, prefix_len, out, err);
    } else {
        rc = iter_status(it, err);
    }
    SP_ASSERT(rc != 0 || out->ts <= t);
    free(buf);
    if (rc)
        txn_version_clear(out);
    return rc;
}

int txn_store_get(struct txn_store *s, txn_group_id group, const void *key, size_t key_len,
                  tt_micros t, struct txn_version *out, struct sp_err *err)
{
    SP_ASSERT(s != NULL && out != NULL);
    SP_ASSERT(key != NULL || key_len == 0);
    struct txn_key k = {key, key_len};
    return txn_store_get_many(s, group, &k, 1, t, out, err);
}

int txn_store_get_many(struct txn_store *s, txn_group_id group, const struct txn_key *keys,
                       uint32_t n, tt_micros t, struct txn_version *out, struct sp_err *err)
{
    SP_ASSERT(s != NULL && (out != NULL || n == 0) && (keys != NULL || n == 0));
    if (n == 0)
        return 0; /* nothing to read, nothing to check */
    memset(out, 0, sizeof *out * n);
    {
        int orc = txn__reads_own_applies(s, err);
        if (orc)
            return orc;
    }
    size_t key_max = 0;
    for (uint32_t i = 0; i < n; i++) {
        SP_ASSERT(keys[i].key != NULL || keys[i].key_len == 0);
        if (keys[i].key_len > key_max)
            key_max = keys[i].key_len;
    }
    rocksdb_iterator_t *it = NULL;
    int rc = read_begin(s, group, key_max, t, &it, err);
    for (uint32_t i = 0; i < n && rc == 0; i++)
        rc = get_at(it, group, keys[i].key, keys[i].key_len, t, &out[i], err);
    if (it)
        rocksdb_iter_destroy(it);
    if (rc)
        for (uint32_t i = 0; i < n; i++)
            txn_version_clear(&out[i]);
    return rc;
}

/* ---- scan -------------------------------------------------------------- */

struct scan_ctx {
    struct txn_store *s;
    txn_group_id group;
    tt_micros t;
    size_t limit;
    uint8_t *end; /* RocksDB key that bounds the scan (exclusive) */
    size_t end_len;
    uint8_t *buf; /* seek target scratch */
    size_t buf_cap;
    uint8_t *user; /* decoded user key scratch */
    struct txn_scan *out;
};

static int scan_emit(struct scan_ctx *c, const uint8_t *user, size_t user_len,
                     struct txn_version *v)
{
    struct txn_scan *out = c->out;
    SP_ASSERT(out->rows_n < c->limit && v->kind == TXN_VERSION_VALUE);
    struct txn_row *row = &out->rows[out->rows_n];
    row->key = dup_bytes(user, user_len);
    if (!row->key)
        return SP_ENOMEM;
    row->key_len = user_len;
    row->value = v->value; /* ownership moves to the row */
    row->value_len = v->value_len;
    row->ts = v->ts;
    v->value = NULL;
    out->rows_n++;
    return 0;
}

/* Records where the next call starts: `key`, the first key not examined. */
static int scan_set_resume(struct txn_scan *out, const uint8_t *key, size_t len)
{
    out->more = true;
    SP_ASSERT(out->resume_key == NULL);
    out->resume_key = malloc(len ? len : 1);
    if (!out->resume_key)
        return SP_ENOMEM;
    if (len)
        memcpy(out->resume_key, key, len);
    out->resume_key_len = len;
    return 0;
}

/* Grows the scratch buffers to hold an encoded key of enc_len bytes. */
static int scan_reserve(struct scan_ctx *c, size_t enc_len)
{
    size_t need = enc_len + TXN__TS_BYTES + 1;
    if (need <= c->buf_cap)
        return 0;
    uint8_t *b = realloc(c->buf, need), *u = b ? realloc(c->user, need) : NULL;
    if (b)
        c->buf = b;
    if (u)
        c->user = u;
    if (!b || !u)
        return SP_ENOMEM;
    c->buf_cap = need;
    return 0;
}

/* One key: the iterator is at some version of it. Seeks to its newest
 * version <= t, emits it if it is a value, then seeks past the key. Returns
 * 0 to go on, 1 when the row limit stopped the scan, or an error. */
static int scan_key(struct scan_ctx *c, rocksdb_iterator_t *it, struct sp_err *err)
{
    size_t klen = 0, ulen = 0;
    const uint8_t *k = (const uint8_t *) rocksdb_iter_key(it, &klen);
    txn_group_id g = 0;
    tt_micros ts = 0;
    if (scan_reserve(c, klen))
        return sp_err_set(err, SP_ENOMEM, "scan: out of memory");
    if (txn__decode_data_key(k, klen, &g, c->user, &ulen, &ts) != 0 || g != c->group)
        return SP_CORRUPT(err, "scan: undecodable mvcc key of %zu bytes", klen);
    if (c->out->rows_n == c->limit) {
        if (scan_set_resume(c->out, c->user, ulen))
            return sp_err_set(err, SP_ENOMEM, "scan: out of memory");
        return 1;
    }
    size_t prefix_len = klen - TXN__TS_BYTES;
    memcpy(c->buf, k, prefix_len);
    if (ts > c->t) {
        txn__put_u64(c->buf + prefix_len, UINT64_MAX - (uint64_t) c->t);
        rocksdb_iter_seek(it, (const char *) c->buf, prefix_len + TXN__TS_BYTES);
        if (!rocksdb_iter_valid(it))
            return iter_status(it, err);
        k = (const uint8_t *) rocksdb_iter_key(it, &klen);
    }
    if (klen == prefix_len + TXN__TS_BYTES && memcmp(k, c->buf, prefix_len) == 0) {
        struct txn_version v;
        int rc = version_at(it, prefix_len, &v, err);
        if (rc)
            return rc;
        if (v.kind == TXN_VERSION_VALUE && scan_emit(c, c->user, ulen, &v) != 0)
            rc = sp_err_set(err, SP_ENOMEM, "scan: out of memory");
        txn_version_clear(&v);
        if (rc)
            return rc;
    }
    /* prefix · 0xFF x 9 sorts after every version of this key and before the
     * next key (mvcc.h invariant 3). */
    memset(c->buf + prefix_len, 0xFF, TXN__TS_BYTES + 1);
    rocksdb_iter_seek(it, (const char *) c->buf, prefix_len + TXN__TS_BYTES + 1);
    return 0;
}

static bool scan_in_range(const struct scan_ctx *c, rocksdb_iterator_t *it)
{
    if (!rocksdb_iter_valid(it))
        return false;
    size_t klen = 0;
    const char *k = rocksdb_iter_key(it, &klen);
    size_t n = klen < c->end_len ? klen : c->end_len;
    int cmp = memcmp(k, c->end, n);
    return cmp < 0 || (cmp == 0 && klen < c->end_len);
}

static int scan_run(struct scan_ctx *c, rocksdb_iterator_t *it, const void *start, size_t start_len,
                    struct sp_err *err)
{
    int rc = scan_reserve(c, TXN__DATA_KEY_MAX(start_len));
    if (rc)
        return sp_err_set(err, rc, "scan: out of memory");
    size_t n = txn__encode_key_prefix(c->buf, c->group, start, start_len);
    rocksdb_iter_seek(it, (const char *) c->buf, n);
    uint32_t steps = 0;
    while (scan_in_range(c, it)) {
        if (steps == TXN_SCAN_STEPS_MAX) {
            size_t klen = 0, ulen = 0;
            const uint8_t *k = (const uint8_t *) rocksdb_iter_key(it, &klen);
            txn_group_id g;
            tt_micros ts;
            if (txn__decode_data_key(k, klen, &g, c->user, &ulen, &ts) != 0)
                return SP_CORRUPT(err, "scan: undecodable mvcc key");
            if (scan_set_resume(c->out, c->user, ulen))
                return sp_err_set(err, SP_ENOMEM, "scan: out of memory");
            return 0;
        }
        steps++;
        rc = scan_key(c, it, err);
        if (rc == 1)
            return 0;
        if (rc)
            return rc;
    }
    return iter_status(it, err);
}

static int scan_bounds(struct scan_ctx *c, const void *end, size_t end_len)
{
    c->end = malloc(end ? TXN__DATA_KEY_MAX(end_len) : TXN__PREFIX_BYTES);
    if (!c->end)
        return SP_ENOMEM;
    if (end) {
        c->end_len = txn__encode_key_prefix(c->end, c->group, end, end_len);
    } else if (c->group == UINT64_MAX) {
        c->end[0] = TXN__NS_DATA + 1; /* the first key after all data */
        c->end_len = 1;
    } else {
        c->end[0] = TXN__NS_DATA;
        txn__put_u64(c->end + 1, c->group + 1);
        c->end_len = TXN__PREFIX_BYTES;
    }
    return 0;
}

int txn_store_scan(struct txn_store *s, txn_group_id group, const void *start, size_t start_len,
                   const void *end, size_t end_len, tt_micros t, size_t limit, struct txn_scan *out,
                   struct sp_err *err)
{
    SP_ASSERT(s != NULL && out != NULL);
    SP_ASSERT(start != NULL || start_len == 0);
    memset(out, 0, sizeof *out);
    {
        int orc = txn__reads_own_applies(s, err);
        if (orc)
            return orc;
    }
    if (limit == 0 || limit > TXN_SCAN_ROWS_MAX)
        return sp_err_set(err, SP_EINVAL, "scan limit %zu not in 1..%u", limit, TXN_SCAN_ROWS_MAX);
    if (end_len > s->cfg.key_bytes_max)
        return sp_err_set(err, SP_ETXN_TOO_LARGE, "scan end key of %zu bytes over the limit",
                          end_len);
    rocksdb_iterator_t *it = NULL;
    int rc = read_begin(s, group, start_len, t, &it, err);
    if (rc)
        return rc;
    struct scan_ctx c = {.s = s, .group = group, .t = t, .limit = limit, .out = out};
    out->rows = calloc(limit, sizeof *out->rows);
    if (!out->rows || scan_bounds(&c, end, end_len))
        rc = sp_err_set(err, SP_ENOMEM, "scan: out of memory");
    if (!rc)
        rc = scan_run(&c, it, start, start_len, err);
    rocksdb_iter_destroy(it);
    free(c.end);
    free(c.buf);
    free(c.user);
    if (rc)
        txn_scan_clear(out);
    SP_ASSERT(rc != 0 || out->rows_n <= limit);
    return rc;
}

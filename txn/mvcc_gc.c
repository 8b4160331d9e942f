/*
 * mvcc_gc.c - version garbage collection below a horizon.
 *
 * From Spanner §1: "Data is versioned, and each version is automatically
 * timestamped with its commit time; old versions of data are subject to
 * configurable garbage-collection policies; and applications can read data
 * at old timestamps." Issue 4 fixes the policy: a retention window (default
 * one hour), never below the oldest active read; a read below what GC may
 * have removed fails with SP_ETXN_TOO_OLD rather than return a partial
 * history.
 *
 * Rule, per key, with h = the horizon:
 *   versions with ts > h            kept (reads >= h may need any of them)
 *   the newest version with ts <= h kept if a value, dropped if a tombstone
 *                                    (a read >= h sees "absent" either way)
 *   every older version             dropped (shadowed for every read >= h)
 *
 * Ordering (invariant 3 of mvcc.c): the new horizon is written (synced) and
 * published to readers before the first delete. A reader that snapshots
 * before a delete and then sees the old horizon reads below nothing GC'd.
 *
 * A pass walks one group's data in key order and may stop after about
 * cfg.gc_versions_max versions; it stops only at the first version of a key,
 * so the "newest version <= h" of every key is always seen by one pass. The
 * cached resume key says where the next call continues.
 */
#include "mvcc.h"

#include "sp_assert.h"
#include "sp_log.h"

#include <stdlib.h>
#include <string.h>

#define GC_BATCH_DELETES_MAX 1024u /* deletes per WriteBatch */

tt_micros txn_gc_horizon(tt_micros now, tt_micros retention_us, tt_micros oldest_read_ts)
{
    SP_ASSERT(retention_us >= 0);
    tt_micros h = now > INT64_MIN + retention_us ? now - retention_us : 0;
    if (oldest_read_ts < h)
        h = oldest_read_ts;
    return h < 0 ? 0 : h;
}

struct gc_pass {
    struct txn_store *s;
    txn_group_id group;
    tt_micros horizon;
    rocksdb_writebatch_t *batch;
    uint32_t batch_n;
    uint8_t *prev; /* prefix of the key being walked */
    size_t prev_len, prev_cap;
    bool kept; /* its newest version <= horizon has been seen */
    struct txn_gc_stats *stats;
};

static int gc_flush(struct gc_pass *p, struct sp_err *err)
{
    if (p->batch_n == 0)
        return 0;
    char *rerr = NULL;
    rocksdb_write(p->s->db, p->s->wopts, p->batch, &rerr);
    rocksdb_writebatch_clear(p->batch);
    p->batch_n = 0;
    if (!rerr)
        return 0;
    p->s->failed = true;
    int rc = sp_err_set(err, SP_EIO, "group %llu: gc: %s", (unsigned long long) p->group, rerr);
    rocksdb_free(rerr);
    return rc;
}

/* Decides one version. Returns 0, or an error. */
static int gc_version(struct gc_pass *p, const uint8_t *k, size_t klen, const uint8_t *rec,
                      size_t rec_len, struct sp_err *err)
{
    if (klen < TXN__PREFIX_BYTES + 2 + TXN__TS_BYTES)
        return SP_CORRUPT(err, "gc: mvcc key of %zu bytes", klen);
    size_t prefix_len = klen - TXN__TS_BYTES;
    uint64_t inv = txn__get_u64(k + prefix_len);
    tt_micros ts = (tt_micros) (UINT64_MAX - inv);
    if (prefix_len != p->prev_len || memcmp(k, p->prev, prefix_len) != 0) {
        /* Keys written under a larger key_bytes_max than today's still fit. */
        if (prefix_len > p->prev_cap) {
            uint8_t *bigger = realloc(p->prev, prefix_len);
            if (!bigger)
                return sp_err_set(err, SP_ENOMEM, "gc: out of memory");
            p->prev = bigger;
            p->prev_cap = prefix_len;
        }
        memcpy(p->prev, k, prefix_len);
        p->prev_len = prefix_len;
        p->kept = false;
    }
    p->stats->versions_seen++;
    if (ts > p->horizon)
        return 0;
    bool drop = p->kept;
    if (!p->kept) {
        uint8_t type = 0;
        const uint8_t *value = NULL;
        size_t len = 0;
        int rc = txn__decode_value(k, klen, rec, rec_len, &type, &value, &len, err);
        if (rc)
            return rc;
        p->kept = true;
        drop = type == TXN__TYPE_TOMBSTONE;
    }
    if (!drop)
        return 0;
    rocksdb_writebatch_delete(p->batch, (const char *) k, klen);
    p->stats->versions_dropped++;
    if (++p->batch_n < GC_BATCH_DELETES_MAX)
        return 0;
    return gc_flush(p, err);
}

struct gc_resume {
    uint8_t *key; /* moved into the cache; NULL when the pass completed */
    size_t len;
    tt_micros horizon;
};

static void gc_set_resume(struct txn__group *g, void *ctx)
{
    struct gc_resume *r = ctx;
    free(g->gc_resume);
    g->gc_resume = r->key;
    g->gc_resume_len = r->len;
}

/* Copies the cached resume key (the cache keeps its own copy). */
static void gc_get_resume(struct txn__group *g, void *ctx)
{
    struct gc_resume *r = ctx;
    r->key = NULL;
    r->len = 0;
    if (g->gc_resume && (r->key = malloc(g->gc_resume_len)) != NULL) {
        memcpy(r->key, g->gc_resume, g->gc_resume_len);
        r->len = g->gc_resume_len;
    }
}

static void gc_publish_horizon(struct txn__group *g, void *ctx)
{
    const struct gc_resume *r = ctx;
    SP_ASSERT(r->horizon >= g->horizon);
    g->horizon = r->horizon;
}

/* Makes the horizon durable, then visible. Never lowers it. */
static int gc_advance_horizon(struct txn_store *s, txn_group_id group, tt_micros h,
                              struct sp_err *err)
{
    uint8_t key[10], val[TXN__META_BYTES];
    txn__encode_meta_key(key, group, TXN__META_HORIZON);
    txn__encode_meta_value(val, key, (uint64_t) h);
    char *rerr = NULL;
    rocksdb_put(s->db, s->wopts, (const char *) key, sizeof key, (const char *) val, sizeof val,
                &rerr);
    if (rerr) {
        s->failed = true;
        int rc =
            sp_err_set(err, SP_EIO, "group %llu: gc horizon: %s", (unsigned long long) group, rerr);
        rocksdb_free(rerr);
        return rc;
    }
    struct gc_resume r = {.horizon = h};
    txn__group_update(s, group, gc_publish_horizon, &r);
    return 0;
}

/* Walks from the resume point; stops at the group's end or the budget. */
static int gc_walk(struct gc_pass *p, rocksdb_iterator_t *it, struct gc_resume *r,
                   struct sp_err *err)
{
    uint8_t end[TXN__PREFIX_BYTES];
    end[0] = TXN__NS_DATA;
    txn__put_u64(end + 1, p->group);
    if (r->key)
        rocksdb_iter_seek(it, (const char *) r->key, r->len);
    else
        rocksdb_iter_seek(it, (const char *) end, sizeof end);
    free(r->key);
    r->key = NULL;
    r->len = 0;
    /* Bounded: at most gc_versions_max versions, plus the versions of the key
     * in progress when the budget runs out. */
    for (; rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
        size_t klen = 0, vlen = 0;
        const uint8_t *k = (const uint8_t *) rocksdb_iter_key(it, &klen);
        if (klen < TXN__PREFIX_BYTES || memcmp(k, end, TXN__PREFIX_BYTES) != 0)
            break;
        bool new_key = klen != p->prev_len + TXN__TS_BYTES || memcmp(k, p->prev, p->prev_len);
        if (new_key && p->stats->versions_seen >= p->s->cfg.gc_versions_max) {
            if ((r->key = malloc(klen)) == NULL)
                return sp_err_set(err, SP_ENOMEM, "gc: out of memory");
            memcpy(r->key, k, klen);
            r->len = klen;
            return 0;
        }
        const uint8_t *rec = (const uint8_t *) rocksdb_iter_value(it, &vlen);
        int rc = gc_version(p, k, klen, rec, vlen, err);
        if (rc)
            return rc;
    }
    char *rerr = NULL;
    rocksdb_iter_get_error(it, &rerr);
    if (!rerr)
        return 0;
    int rc = sp_err_set(err, SP_EIO, "gc: %s", rerr);
    rocksdb_free(rerr);
    return rc;
}

int txn_store_gc(struct txn_store *s, txn_group_id group, tt_micros now, tt_micros oldest_read_ts,
                 struct txn_gc_stats *stats, struct sp_err *err)
{
    SP_ASSERT(s != NULL && stats != NULL);
    memset(stats, 0, sizeof *stats);
    {
        int orc = txn__reads_own_applies(s, err);
        if (orc)
            return orc;
    }
    if (s->failed)
        return sp_err_set(err, SP_ECLOSED, "mvcc store refuses writes after a failed write");
    struct txn__group g;
    int rc = txn__group_meta(s, group, &g, err);
    if (rc)
        return rc;
    tt_micros h = txn_gc_horizon(now, s->cfg.retention_us, oldest_read_ts);
    if (h < g.horizon)
        h = g.horizon; /* invariant 4: never backwards */
    if (h > g.horizon && (rc = gc_advance_horizon(s, group, h, err)) != 0)
        return rc;
    stats->horizon = h;
    struct gc_pass p = {.s = s, .group = group, .horizon = h, .stats = stats};
    struct gc_resume r = {0};
    txn__group_update(s, group, gc_get_resume, &r);
    p.batch = rocksdb_writebatch_create();
    p.prev_cap = TXN__DATA_KEY_MAX(s->cfg.key_bytes_max);
    p.prev = malloc(p.prev_cap);
    rocksdb_iterator_t *it = rocksdb_create_iterator(s->db, s->ropts);
    rc = p.prev ? gc_walk(&p, it, &r, err) : sp_err_set(err, SP_ENOMEM, "gc: out of memory");
    rocksdb_iter_destroy(it);
    if (!rc)
        rc = gc_flush(&p, err);
    rocksdb_writebatch_destroy(p.batch);
    free(p.prev);
    stats->complete = rc == 0 && r.key == NULL;
    /* On error the resume key is dropped: the next pass starts over. */
    if (rc) {
        free(r.key);
        r.key = NULL;
        r.len = 0;
    }
    txn__group_update(s, group, gc_set_resume, &r);
    SP_DEBUG("group %llu: gc below %lld: %llu of %llu versions dropped%s",
             (unsigned long long) group, (long long) h,
             (unsigned long long) stats->versions_dropped,
             (unsigned long long) stats->versions_seen, stats->complete ? "" : " (partial)");
    return rc;
}

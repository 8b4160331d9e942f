/*
 * mvcc.c - the multi-version store: open/close, group metadata and apply.
 * Reads are in mvcc_read.c, version GC in mvcc_gc.c, the encoding in
 * mvcc_key.c (layout in mvcc.h).
 *
 * From Spanner §2.1: a tablet "implements a bag of the following mappings:
 * (key:string, timestamp:int64) -> string. Unlike Bigtable, Spanner assigns
 * timestamps to data, which is an important way in which Spanner is more
 * like a multi-version database than a key-value store." Every Paxos group
 * applies its log in order, each committed write at its commit timestamp,
 * as one new version; a delete is a version too (a tombstone).
 *
 * Invariants:
 *   1. A version, once written at (group, key, ts), is never rewritten with
 *      different contents: apply is idempotent, and only GC deletes.
 *   2. The data of one apply and the group's metadata (applied index,
 *      LastTS) reach RocksDB in one WriteBatch: after a crash they agree.
 *   3. A read at t >= horizon(group) sees exactly the versions it would see
 *      had GC never run; a read at t < horizon fails with SP_ETXN_TOO_OLD.
 *      (GC publishes the horizon before deleting, readers take their RocksDB
 *      snapshot before looking the horizon up; see mvcc_gc.c.)
 *   4. horizon(group) never decreases, in memory or on disk.
 *   5. After a failed write the store refuses further writes (SP_ECLOSED):
 *      whether the batch reached the disk is unknown, and the Paxos apply
 *      path must restart from the durable applied index.
 *
 * Transitions of a group's metadata:
 *
 *   (unknown) --first use: load meta keys--> cached
 *   cached --txn_store_apply--> applied_index, last_ts advanced (one batch)
 *   cached --txn_store_apply inside begin/flush--> pending in the open batch
 *          --txn_store_apply_flush--> advanced for every apply of it (one batch)
 *   cached --txn_store_gc--> horizon advanced (synced before any delete)
 */
#include "mvcc.h"

#include "sp_assert.h"
#include "sp_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void txn_store_config_init(struct txn_store_config *cfg)
{
    SP_ASSERT(cfg != NULL);
    memset(cfg, 0, sizeof *cfg);
    cfg->value_bytes_max = TXN_VALUE_BYTES_MAX_DEFAULT;
    cfg->key_bytes_max = TXN_KEY_BYTES_MAX_DEFAULT;
    cfg->retention_us = TXN_RETENTION_US_DEFAULT;
    cfg->sync = true;
    cfg->groups_max = TXN_GROUPS_MAX_DEFAULT;
    cfg->gc_versions_max = 1000000;
    cfg->compress = true;
    cfg->wal = true;
}

static int config_check(const struct txn_store_config *cfg, struct sp_err *err)
{
    if (cfg->value_bytes_max == 0 || cfg->value_bytes_max > (256u << 20))
        return sp_err_set(err, SP_EINVAL, "value_bytes_max %zu not in 1..256 MiB",
                          cfg->value_bytes_max);
    if (cfg->key_bytes_max == 0 || cfg->key_bytes_max > (64u << 10))
        return sp_err_set(err, SP_EINVAL, "key_bytes_max %zu not in 1..64 KiB", cfg->key_bytes_max);
    if (cfg->retention_us < 0)
        return sp_err_set(err, SP_EINVAL, "retention_us %lld is negative",
                          (long long) cfg->retention_us);
    if (cfg->groups_max == 0 || cfg->gc_versions_max == 0)
        return sp_err_set(err, SP_EINVAL, "groups_max and gc_versions_max must be positive");
    if (cfg->in_memory && cfg->env != NULL)
        return sp_err_set(err, SP_EINVAL, "in_memory and env are exclusive");
    return 0;
}

static int store_alloc(struct txn_store *s, struct sp_err *err)
{
    s->groups = calloc(s->cfg.groups_max, sizeof *s->groups);
    s->key_buf = malloc(TXN__DATA_KEY_MAX(s->cfg.key_bytes_max));
    s->val_buf = malloc(TXN__HDR_BYTES + s->cfg.value_bytes_max);
    s->opts = rocksdb_options_create();
    s->wopts = rocksdb_writeoptions_create();
    s->ropts = rocksdb_readoptions_create();
    if (!s->groups || !s->key_buf || !s->val_buf || !s->opts || !s->wopts || !s->ropts)
        return sp_err_set(err, SP_ENOMEM, "mvcc store: out of memory");
    rocksdb_options_set_create_if_missing(s->opts, 1);
    /* Point gets of state records (decisions, most of them misses: "was
     * this transaction decided already?") skip SST files by bloom filter. */
    s->table = rocksdb_block_based_options_create();
    if (!s->table)
        return sp_err_set(err, SP_ENOMEM, "mvcc store: out of memory");
    rocksdb_block_based_options_set_filter_policy(s->table, rocksdb_filterpolicy_create_bloom(10));
    rocksdb_options_set_block_based_table_factory(s->opts, s->table);
    /* The same question put to the memtable: a whole-key bloom filter over
     * it (a tenth of its size) answers most misses without a skiplist walk. */
    rocksdb_options_set_memtable_prefix_bloom_size_ratio(s->opts, 0.1);
    rocksdb_options_set_memtable_whole_key_filtering(s->opts, 1);
    if (!s->cfg.compress)
        rocksdb_options_set_compression(s->opts, rocksdb_no_compression);
    if (s->cfg.write_buffer_bytes)
        rocksdb_options_set_write_buffer_size(s->opts, s->cfg.write_buffer_bytes);
    rocksdb_writeoptions_set_sync(s->wopts, s->cfg.sync);
    if (!s->cfg.wal)
        rocksdb_writeoptions_disable_WAL(s->wopts, 1);
    if (s->cfg.in_memory) {
        s->own_env = rocksdb_create_mem_env();
        if (!s->own_env)
            return sp_err_set(err, SP_ENOMEM, "mvcc store: cannot create in-memory env");
        rocksdb_options_set_env(s->opts, s->own_env);
    } else if (s->cfg.env) {
        rocksdb_options_set_env(s->opts, (rocksdb_env_t *) s->cfg.env);
    }
    return 0;
}

int txn_store_open(const char *path, const struct txn_store_config *cfg, struct txn_store **out,
                   struct sp_err *err)
{
    SP_ASSERT(path != NULL && cfg != NULL && out != NULL);
    *out = NULL;
    int rc = config_check(cfg, err);
    if (rc)
        return rc;
    struct txn_store *s = calloc(1, sizeof *s);
    if (!s)
        return sp_err_set(err, SP_ENOMEM, "mvcc store: out of memory");
    s->cfg = *cfg;
    pthread_mutex_init(&s->mu, NULL);
    rc = store_alloc(s, err);
    if (rc)
        goto err_after_alloc;
    /* RocksDB's in-memory env implements only absolute names. */
    char name[4096];
    snprintf(name, sizeof name, "%s%s", cfg->in_memory && path[0] != '/' ? "/" : "", path);
    char *rerr = NULL;
    s->db = rocksdb_open(s->opts, name, &rerr);
    if (rerr) {
        rc = sp_err_set(err, SP_EIO, "mvcc store: open %s: %s", path, rerr);
        rocksdb_free(rerr);
        goto err_after_alloc;
    }
    SP_ASSERT(s->db != NULL);
    *out = s;
    return 0;

err_after_alloc:
    txn_store_close(s);
    return rc;
}

int txn_store_sync(struct txn_store *s, struct sp_err *err)
{
    SP_ASSERT(s != NULL && s->db != NULL);
    if (s->failed)
        return sp_err_set(err, SP_ECLOSED, "mvcc store: an earlier write failed");
    /* The caller's own open batch first: a sync covers every apply made. */
    int orc = txn__reads_own_applies(s, err);
    if (orc)
        return orc;
    char *rerr = NULL;
    if (s->cfg.wal) {
        rocksdb_flush_wal(s->db, 1, &rerr); /* sync: fsync the WAL, every earlier write */
    } else {
        rocksdb_flushoptions_t *fo = rocksdb_flushoptions_create();
        rocksdb_flushoptions_set_wait(fo, 1);
        rocksdb_flush(s->db, fo, &rerr); /* no log: the memtables go to SST files */
        rocksdb_flushoptions_destroy(fo);
    }
    if (rerr) {
        s->failed = true;
        int rc = sp_err_set(err, SP_EIO, "mvcc store: sync: %s", rerr);
        rocksdb_free(rerr);
        return rc;
    }
    return 0;
}

void txn_store_close(struct txn_store *s)
{
    if (!s)
        return;
    if (s->pend_spare) /* a batch never flushed is as if never applied */
        rocksdb_writebatch_destroy(s->pend_spare);
    if (s->db && !s->cfg.wal && !s->failed) {
        /* Without a log, what is not flushed would be lost on reopen. */
        struct sp_err err = {0};
        if (txn_store_sync(s, &err))
            SP_WARN("mvcc store: close without a log: %s", err.msg);
    }
    if (s->db)
        rocksdb_close(s->db);
    if (s->ropts)
        rocksdb_readoptions_destroy(s->ropts);
    if (s->wopts)
        rocksdb_writeoptions_destroy(s->wopts);
    if (s->opts)
        rocksdb_options_destroy(s->opts);
    if (s->table)
        rocksdb_block_based_options_destroy(s->table);
    /* The env must outlive the database that uses it. */
    if (s->own_env)
        rocksdb_env_destroy(s->own_env);
    for (uint32_t i = 0; i < s->groups_n; i++)
        free(s->groups[i].gc_resume);
    free(s->groups);
    free(s->key_buf);
    free(s->val_buf);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

rocksdb_t *txn__store_db(struct txn_store *s)
{
    SP_ASSERT(s != NULL && s->db != NULL);
    return s->db;
}

/* ---- group metadata ---------------------------------------------------- */

void txn__encode_meta_value(uint8_t *out, const uint8_t key[10], uint64_t v)
{
    SP_ASSERT(key[0] == TXN__NS_META);
    txn__put_u64(out, v);
    uint32_t crc = txn__crc32c(txn__crc32c(0, key, 10), out, 8);
    out[8] = (uint8_t) (crc >> 24);
    out[9] = (uint8_t) (crc >> 16);
    out[10] = (uint8_t) (crc >> 8);
    out[11] = (uint8_t) crc;
}

/* Reads one meta field; a missing key reads as 0. */
static int meta_load_field(struct txn_store *s, txn_group_id group, uint8_t field, uint64_t *v,
                           struct sp_err *err)
{
    uint8_t key[10];
    size_t len = 0;
    char *rerr = NULL;
    txn__encode_meta_key(key, group, field);
    char *val = rocksdb_get(s->db, s->ropts, (const char *) key, sizeof key, &len, &rerr);
    if (rerr) {
        int rc = sp_err_set(err, SP_EIO, "group %llu: meta '%c': %s", (unsigned long long) group,
                            field, rerr);
        rocksdb_free(rerr);
        return rc;
    }
    *v = 0;
    if (!val)
        return 0;
    uint8_t expect[TXN__META_BYTES];
    int rc = 0;
    if (len == TXN__META_BYTES) {
        txn__encode_meta_value(expect, key, txn__get_u64((const uint8_t *) val));
        if (memcmp(expect, val, TXN__META_BYTES) == 0)
            *v = txn__get_u64(expect);
        else
            rc = SP_CORRUPT(err, "group %llu: meta '%c' fails its checksum",
                            (unsigned long long) group, field);
    } else {
        rc = SP_CORRUPT(err, "group %llu: meta '%c' is %zu bytes, expected %u",
                        (unsigned long long) group, field, len, TXN__META_BYTES);
    }
    rocksdb_free(val);
    return rc;
}

/* Binary search; returns the index of `group` or where it would go. */
static uint32_t group_find(const struct txn_store *s, txn_group_id group)
{
    uint32_t lo = 0, hi = s->groups_n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (s->groups[mid].id < group)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int group_load(struct txn_store *s, txn_group_id group, struct txn__group *g,
                      struct sp_err *err)
{
    uint64_t applied = 0, last = 0, horizon = 0;
    int rc = meta_load_field(s, group, TXN__META_APPLIED, &applied, err);
    if (!rc)
        rc = meta_load_field(s, group, TXN__META_LAST_TS, &last, err);
    if (!rc)
        rc = meta_load_field(s, group, TXN__META_HORIZON, &horizon, err);
    if (rc)
        return rc;
    if (last > (uint64_t) INT64_MAX || horizon > (uint64_t) INT64_MAX)
        return SP_CORRUPT(err, "group %llu: meta timestamp out of range",
                          (unsigned long long) group);
    memset(g, 0, sizeof *g);
    g->id = group;
    g->applied_index = applied;
    g->last_ts = (tt_micros) last;
    g->horizon = (tt_micros) horizon;
    return 0;
}

int txn__group_meta(struct txn_store *s, txn_group_id group, struct txn__group *out,
                    struct sp_err *err)
{
    SP_ASSERT(s != NULL && out != NULL);
    int rc = 0;
    pthread_mutex_lock(&s->mu);
    uint32_t i = group_find(s, group);
    if (i < s->groups_n && s->groups[i].id == group) {
        *out = s->groups[i];
    } else if (s->groups_n == s->cfg.groups_max) {
        rc = sp_err_set(err, SP_EFULL, "group %llu: store already tracks groups_max=%u groups",
                        (unsigned long long) group, s->cfg.groups_max);
    } else if ((rc = group_load(s, group, out, err)) == 0) {
        memmove(&s->groups[i + 1], &s->groups[i], (s->groups_n - i) * sizeof *s->groups);
        s->groups[i] = *out;
        s->groups_n++;
    }
    pthread_mutex_unlock(&s->mu);
    /* The resume key belongs to the cache; callers get a view without it. */
    out->gc_resume = NULL;
    out->gc_resume_len = 0;
    return rc;
}

void txn__group_update(struct txn_store *s, txn_group_id group,
                       void (*fn)(struct txn__group *, void *), void *ctx)
{
    pthread_mutex_lock(&s->mu);
    uint32_t i = group_find(s, group);
    SP_ASSERT(i < s->groups_n && s->groups[i].id == group);
    fn(&s->groups[i], ctx);
    pthread_mutex_unlock(&s->mu);
}

int txn_store_meta(struct txn_store *s, txn_group_id group, struct txn_group_meta *out,
                   struct sp_err *err)
{
    SP_ASSERT(s != NULL && out != NULL);
    struct txn__group g;
    int rc = txn__reads_own_applies(s, err);
    if (!rc)
        rc = txn__group_meta(s, group, &g, err);
    if (rc)
        return rc;
    out->applied_index = g.applied_index;
    out->last_ts = g.last_ts;
    out->gc_horizon = g.horizon;
    return 0;
}

int txn__check_horizon(struct txn_store *s, txn_group_id group, tt_micros t, struct sp_err *err)
{
    struct txn__group g;
    int rc = txn__group_meta(s, group, &g, err);
    if (rc)
        return rc;
    if (t < g.horizon)
        return sp_err_set(err, SP_ETXN_TOO_OLD,
                          "group %llu: read at %lld is below the GC horizon %lld; "
                          "versions older than the retention window may be gone",
                          (unsigned long long) group, (long long) t, (long long) g.horizon);
    return 0;
}

/* ---- apply ------------------------------------------------------------- */

static int state_check(const struct txn_store *s, const struct txn_apply *a, struct sp_err *err)
{
    if (a->state_n > TXN_STATE_WRITES_MAX || (a->state_n > 0 && !a->state))
        return sp_err_set(err, SP_EINVAL, "group %llu: %zu state writes (max %u)",
                          (unsigned long long) a->group, a->state_n, TXN_STATE_WRITES_MAX);
    for (size_t i = 0; i < a->state_n; i++) {
        const struct txn_state_write *w = &a->state[i];
        if (w->key_len > s->cfg.key_bytes_max || w->value_len > s->cfg.value_bytes_max)
            return sp_err_set(err, SP_ETXN_TOO_LARGE,
                              "state write %zu: key of %zu or value of %zu bytes over the limits "
                              "(%zu, %zu)",
                              i, w->key_len, w->value_len, s->cfg.key_bytes_max,
                              s->cfg.value_bytes_max);
        if ((w->key_len > 0 && !w->key) || (w->value == NULL && w->value_len > 0))
            return sp_err_set(err, SP_EINVAL, "state write %zu: NULL key or value", i);
    }
    return 0;
}

static int apply_check(const struct txn_store *s, const struct txn_apply *a, struct sp_err *err)
{
    if (a->ts < 0 || (a->ts < 1 && a->writes_n > 0))
        return sp_err_set(err, SP_EINVAL, "group %llu: apply of writes at timestamp %lld < 1",
                          (unsigned long long) a->group, (long long) a->ts);
    if (a->writes_n > TXN_BATCH_WRITES_MAX || (a->writes_n > 0 && !a->writes))
        return sp_err_set(err, SP_EINVAL, "group %llu: batch of %zu writes (max %u)",
                          (unsigned long long) a->group, a->writes_n, TXN_BATCH_WRITES_MAX);
    for (size_t i = 0; i < a->writes_n; i++) {
        const struct txn_write *w = &a->writes[i];
        if (w->kind != TXN_WRITE_PUT && w->kind != TXN_WRITE_DELETE)
            return sp_err_set(err, SP_EINVAL, "write %zu: unknown kind %d", i, (int) w->kind);
        if (w->key_len > s->cfg.key_bytes_max)
            return sp_err_set(err, SP_ETXN_TOO_LARGE,
                              "write %zu: key of %zu bytes exceeds the limit of %zu bytes", i,
                              w->key_len, s->cfg.key_bytes_max);
        if (w->kind == TXN_WRITE_PUT && w->value_len > s->cfg.value_bytes_max)
            return sp_err_set(err, SP_ETXN_TOO_LARGE,
                              "write %zu: value of %zu bytes exceeds the limit of %zu bytes "
                              "(value_bytes_max)",
                              i, w->value_len, s->cfg.value_bytes_max);
        if ((w->key_len > 0 && !w->key) ||
            (w->kind == TXN_WRITE_PUT && w->value_len > 0 && !w->value))
            return sp_err_set(err, SP_EINVAL, "write %zu: NULL key or value", i);
    }
    return state_check(s, a, err);
}

static void batch_put_meta(rocksdb_writebatch_t *b, txn_group_id group, uint8_t field, uint64_t v)
{
    uint8_t key[10], val[TXN__META_BYTES];
    txn__encode_meta_key(key, group, field);
    txn__encode_meta_value(val, key, v);
    rocksdb_writebatch_put(b, (const char *) key, sizeof key, (const char *) val, sizeof val);
}

static void batch_put_writes(struct txn_store *s, rocksdb_writebatch_t *b,
                             const struct txn_apply *a)
{
    for (size_t i = 0; i < a->writes_n; i++) {
        const struct txn_write *w = &a->writes[i];
        bool put = w->kind == TXN_WRITE_PUT;
        size_t vlen = put ? w->value_len : 0;
        size_t klen = txn__encode_data_key(s->key_buf, a->group, w->key, w->key_len, a->ts);
        SP_ASSERT(klen <= TXN__DATA_KEY_MAX(s->cfg.key_bytes_max));
        txn__encode_value(s->val_buf, s->key_buf, klen, put ? TXN__TYPE_PUT : TXN__TYPE_TOMBSTONE,
                          put ? w->value : NULL, vlen);
        /* WriteBatch copies both buffers, so the scratch space is reused. */
        rocksdb_writebatch_put(b, (const char *) s->key_buf, klen, (const char *) s->val_buf,
                               TXN__HDR_BYTES + vlen);
    }
}

static void batch_put_state(struct txn_store *s, rocksdb_writebatch_t *b, const struct txn_apply *a)
{
    for (size_t i = 0; i < a->state_n; i++) {
        const struct txn_state_write *w = &a->state[i];
        size_t klen = txn__encode_state_key(s->key_buf, a->group, w->key, w->key_len);
        if (!w->value) {
            rocksdb_writebatch_delete(b, (const char *) s->key_buf, klen);
            continue;
        }
        txn__encode_state_value(s->val_buf, s->key_buf, klen, w->value, w->value_len);
        rocksdb_writebatch_put(b, (const char *) s->key_buf, klen, (const char *) s->val_buf,
                               4 + w->value_len);
    }
}

struct apply_done {
    uint64_t applied_index;
    tt_micros last_ts;
};

static void apply_update(struct txn__group *g, void *ctx)
{
    const struct apply_done *d = ctx;
    SP_ASSERT(d->applied_index == 0 || d->applied_index > g->applied_index);
    if (d->applied_index)
        g->applied_index = d->applied_index;
    if (d->last_ts > g->last_ts)
        g->last_ts = d->last_ts;
}

/* The batch's entry for a->group, added with the cached values; NULL if
 * the batch already spans TXN__PEND_GROUPS_MAX groups. */
static struct txn__pend *pend_get(struct txn_store *s, const struct txn__group *g)
{
    for (uint32_t i = 0; i < s->pend_n; i++)
        if (s->pend[i].group == g->id)
            return &s->pend[i];
    if (s->pend_n == TXN__PEND_GROUPS_MAX)
        return NULL;
    s->pend[s->pend_n] = (struct txn__pend){.group = g->id, .last_ts = g->last_ts};
    return &s->pend[s->pend_n++];
}

static int write_batch(struct txn_store *s, rocksdb_writebatch_t *b, txn_group_id group,
                       tt_micros ts, struct sp_err *err)
{
    char *rerr = NULL;
    rocksdb_write(s->db, s->wopts, b, &rerr);
    if (!rerr)
        return 0;
    s->failed = true;
    int rc = sp_err_set(err, SP_EIO, "group %llu: apply at %lld: %s", (unsigned long long) group,
                        (long long) ts, rerr);
    rocksdb_free(rerr);
    return rc;
}

/* A batch belongs to the thread that opened it: other threads never see
 * it, so their reads never touch the batch. Each thread's token is the
 * address of its copy of this variable; one thread may hold the batches of
 * several stores (the simulator's nodes). */
static _Thread_local char batch_token;

int txn__reads_own_applies(struct txn_store *s, struct sp_err *err)
{
    if (s->pend_wb == NULL || s->batch_owner != &batch_token)
        return 0;
    if (s->failed) /* applies of this thread's were lost: the store is behind them */
        return sp_err_set(err, SP_ECLOSED, "mvcc store: an earlier write failed");
    if (s->pend_applies == 0)
        return 0;
    int rc = txn_store_apply_flush(s, err);
    txn_store_apply_begin(s);
    return rc;
}

void txn_store_apply_begin(struct txn_store *s)
{
    SP_ASSERT(s != NULL && s->pend_wb == NULL);
    /* The WriteBatch is kept between batches: most steps apply nothing. */
    if (s->pend_spare == NULL)
        s->pend_spare = rocksdb_writebatch_create();
    s->pend_wb = s->pend_spare;
    s->pend_n = s->pend_applies = 0;
    s->batch_owner = &batch_token;
}

int txn_store_apply_flush(struct txn_store *s, struct sp_err *err)
{
    SP_ASSERT(s != NULL && s->pend_wb != NULL && s->pend_n <= TXN__PEND_GROUPS_MAX);
    rocksdb_writebatch_t *b = s->pend_wb;
    s->pend_wb = NULL;
    s->batch_owner = NULL;
    int rc = 0;
    if (s->failed && s->pend_applies > 0) {
        rc = sp_err_set(err, SP_ECLOSED, "mvcc store refuses writes after a failed write");
    } else if (s->pend_applies > 0) {
        /* Invariant 2 for the whole batch: each group's applied index and
         * LastTS go in the same WriteBatch as the data, once, last. */
        for (uint32_t i = 0; i < s->pend_n; i++) {
            const struct txn__pend *p = &s->pend[i];
            if (p->applied_index)
                batch_put_meta(b, p->group, TXN__META_APPLIED, p->applied_index);
            if (p->last_ts_changed)
                batch_put_meta(b, p->group, TXN__META_LAST_TS, (uint64_t) p->last_ts);
        }
        rc = write_batch(s, b, s->pend_n ? s->pend[0].group : 0, 0, err);
        for (uint32_t i = 0; i < s->pend_n && rc == 0; i++) {
            struct apply_done done = {s->pend[i].applied_index,
                                      s->pend[i].last_ts_changed ? s->pend[i].last_ts : 0};
            txn__group_update(s, s->pend[i].group, apply_update, &done);
        }
    }
    rocksdb_writebatch_clear(b);
    s->pend_n = s->pend_applies = 0;
    return rc;
}

bool txn_store_failed(const struct txn_store *s)
{
    SP_ASSERT(s != NULL);
    return s->failed;
}

void txn_store_apply_discard(struct txn_store *s)
{
    SP_ASSERT(s != NULL && s->pend_wb != NULL);
    rocksdb_writebatch_clear(s->pend_wb);
    s->pend_wb = NULL;
    s->batch_owner = NULL;
    s->pend_n = s->pend_applies = 0;
}

/* An apply into the open batch: checked against the batch's view of the
 * group, visible at the flush. */
static int apply_pending(struct txn_store *s, const struct txn_apply *a, struct txn__group *g,
                         struct sp_err *err)
{
    struct txn__pend *p = pend_get(s, g);
    if (p == NULL) { /* a batch over many groups: write it, start another */
        int rc = txn_store_apply_flush(s, err);
        txn_store_apply_begin(s);
        if (rc || (rc = txn__group_meta(s, a->group, g, err)))
            return rc;
        p = pend_get(s, g);
        SP_ASSERT(p != NULL);
    }
    uint64_t applied = p->applied_index ? p->applied_index : g->applied_index;
    if (a->applied_index != 0 && a->applied_index <= applied)
        return sp_err_set(err, SP_EINVAL, "group %llu: applied index %llu <= recorded %llu",
                          (unsigned long long) a->group, (unsigned long long) a->applied_index,
                          (unsigned long long) applied);
    batch_put_writes(s, s->pend_wb, a);
    batch_put_state(s, s->pend_wb, a);
    if (a->applied_index)
        p->applied_index = a->applied_index;
    if (a->writes_n > 0 && a->ts > p->last_ts) {
        p->last_ts = a->ts;
        p->last_ts_changed = true;
    }
    if (++s->pend_applies < TXN__PEND_APPLIES_MAX)
        return 0;
    int rc = txn_store_apply_flush(s, err); /* bounds the batch; the caller's flush follows */
    txn_store_apply_begin(s);
    return rc;
}

int txn_store_apply(struct txn_store *s, const struct txn_apply *a, struct sp_err *err)
{
    SP_ASSERT(s != NULL && a != NULL);
    if (s->failed)
        return sp_err_set(err, SP_ECLOSED, "mvcc store refuses writes after a failed write");
    struct txn__group g;
    int rc = apply_check(s, a, err);
    if (!rc)
        rc = txn__group_meta(s, a->group, &g, err);
    if (rc)
        return rc;
    if (s->pend_wb)
        return apply_pending(s, a, &g, err);
    if (a->applied_index != 0 && a->applied_index <= g.applied_index)
        return sp_err_set(err, SP_EINVAL, "group %llu: applied index %llu <= recorded %llu",
                          (unsigned long long) a->group, (unsigned long long) a->applied_index,
                          (unsigned long long) g.applied_index);
    rocksdb_writebatch_t *b = rocksdb_writebatch_create();
    batch_put_writes(s, b, a);
    batch_put_state(s, b, a);
    struct apply_done done = {a->applied_index, a->writes_n > 0 ? a->ts : 0};
    if (done.applied_index)
        batch_put_meta(b, a->group, TXN__META_APPLIED, done.applied_index);
    if (done.last_ts > g.last_ts)
        batch_put_meta(b, a->group, TXN__META_LAST_TS, (uint64_t) done.last_ts);
    rc = write_batch(s, b, a->group, a->ts, err);
    rocksdb_writebatch_destroy(b);
    if (rc)
        return rc;
    /* The cache follows the disk: a reader never sees metadata ahead of it. */
    txn__group_update(s, a->group, apply_update, &done);
    return 0;
}

/*
 * mvcc_state.c - a group's unversioned state records (mvcc.h: namespace
 * 0x03), written only by txn_store_apply in the same WriteBatch as the data.
 *
 * Why they exist: the Paxos log is truncated once its effects are in the
 * store, so anything a layer above must know after a restart (a 2PC
 * participant's prepared transactions, a coordinator's outcomes) has to live
 * in the store and change atomically with the data and the applied index.
 * Records are checksummed like versions; reading one that fails its check
 * goes through SP_CORRUPT.
 */
#include "mvcc.h"

#include "sp_assert.h"

#include <stdlib.h>
#include <string.h>

/* txn__decision_find reads decisions past the open batch, because every
 * decision in it is still in the node's ring of the last ones. */
_Static_assert(TXN__PEND_APPLIES_MAX < TXN_NODE_DECISIONS_MAX,
               "an open batch's decisions must all be in the decision ring");

static int state_get(struct txn_store *s, txn_group_id group, const void *key, size_t key_len,
                     uint8_t **value, size_t *value_len, bool see_batch, struct sp_err *err)
{
    SP_ASSERT(s != NULL && value != NULL && value_len != NULL);
    SP_ASSERT(key != NULL || key_len == 0);
    *value = NULL;
    *value_len = 0;
    if (see_batch) {
        int orc = txn__reads_own_applies(s, err);
        if (orc)
            return orc;
    }
    if (key_len > s->cfg.key_bytes_max)
        return sp_err_set(err, SP_ETXN_TOO_LARGE, "state key of %zu bytes over the limit", key_len);
    uint8_t *rkey = malloc(TXN__PREFIX_BYTES + key_len);
    if (!rkey)
        return sp_err_set(err, SP_ENOMEM, "state: out of memory");
    size_t rlen = txn__encode_state_key(rkey, group, key, key_len), len = 0;
    char *rerr = NULL;
    char *rec = rocksdb_get(s->db, s->ropts, (const char *) rkey, rlen, &len, &rerr);
    int rc = 0;
    const uint8_t *v = NULL;
    size_t vlen = 0;
    if (rerr)
        rc = sp_err_set(err, SP_EIO, "group %llu: state: %s", (unsigned long long) group, rerr);
    else if (!rec)
        rc = sp_err_set(err, SP_ENOTFOUND, "group %llu: no such state record",
                        (unsigned long long) group);
    else
        rc = txn__decode_state_value(rkey, rlen, (const uint8_t *) rec, len, &v, &vlen, err);
    if (!rc && (*value = malloc(vlen ? vlen : 1)) == NULL)
        rc = sp_err_set(err, SP_ENOMEM, "state: out of memory");
    if (!rc) {
        if (vlen)
            memcpy(*value, v, vlen);
        *value_len = vlen;
    }
    rocksdb_free(rerr);
    rocksdb_free(rec);
    free(rkey);
    return rc;
}

int txn_store_state_get(struct txn_store *s, txn_group_id group, const void *key, size_t key_len,
                        uint8_t **value, size_t *value_len, struct sp_err *err)
{
    return state_get(s, group, key, key_len, value, value_len, true, err);
}

int txn_store_state_get_written(struct txn_store *s, txn_group_id group, const void *key,
                                size_t key_len, uint8_t **value, size_t *value_len,
                                struct sp_err *err)
{
    return state_get(s, group, key, key_len, value, value_len, false, err);
}

int txn_store_state_list(struct txn_store *s, txn_group_id group, const void *key_prefix,
                         size_t key_prefix_len,
                         int (*fn)(void *ctx, const uint8_t *key, size_t key_len,
                                   const uint8_t *value, size_t value_len),
                         void *ctx, size_t max, struct sp_err *err)
{
    SP_ASSERT(s != NULL && fn != NULL);
    SP_ASSERT(key_prefix != NULL || key_prefix_len == 0);
    if (key_prefix_len > s->cfg.key_bytes_max)
        return sp_err_set(err, SP_ETXN_TOO_LARGE, "state key prefix of %zu bytes over the limit",
                          key_prefix_len);
    {
        int orc = txn__reads_own_applies(s, err);
        if (orc)
            return orc;
    }
    uint8_t *want = malloc(TXN__PREFIX_BYTES + key_prefix_len);
    if (!want)
        return sp_err_set(err, SP_ENOMEM, "state list: out of memory");
    size_t want_len = txn__encode_state_key(want, group, key_prefix, key_prefix_len);
    rocksdb_iterator_t *it = rocksdb_create_iterator(s->db, s->ropts);
    size_t n = 0;
    int rc = 0;
    for (rocksdb_iter_seek(it, (const char *) want, want_len); rocksdb_iter_valid(it);
         rocksdb_iter_next(it)) {
        size_t klen = 0, rlen = 0, vlen = 0;
        const uint8_t *k = (const uint8_t *) rocksdb_iter_key(it, &klen);
        if (klen < want_len || memcmp(k, want, want_len) != 0)
            break;
        if (n == max) {
            rc = sp_err_set(err, SP_EFULL, "group %llu: more than %zu state records",
                            (unsigned long long) group, max);
            break;
        }
        const uint8_t *rec = (const uint8_t *) rocksdb_iter_value(it, &rlen), *v = NULL;
        rc = txn__decode_state_value(k, klen, rec, rlen, &v, &vlen, err);
        if (!rc)
            rc = fn(ctx, k + TXN__PREFIX_BYTES, klen - TXN__PREFIX_BYTES, v, vlen);
        if (rc)
            break;
        n++;
    }
    char *rerr = NULL;
    rocksdb_iter_get_error(it, &rerr);
    if (rerr && !rc)
        rc =
            sp_err_set(err, SP_EIO, "group %llu: state list: %s", (unsigned long long) group, rerr);
    rocksdb_free(rerr);
    rocksdb_iter_destroy(it);
    free(want);
    SP_ASSERT(n <= max);
    return rc;
}

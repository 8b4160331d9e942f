/*
 * mvcc.h - private to txn/: the on-disk encoding of the MVCC store, exposed
 * to the .c files of txn/ and to the unit tests (which corrupt records on purpose).
 *
 * RocksDB keys (all integers big-endian, so byte order is numeric order):
 *
 *   data:  0x01 · group(8) · escape(user key) · 0x00 0x01 · ~ts(8)
 *   meta:  0x02 · group(8) · field(1)
 *   state: 0x03 · group(8) · state key (raw: nothing follows it)
 *
 * escape() replaces each 0x00 byte of the user key by 0x00 0xFF and the key
 * is terminated by 0x00 0x01. This keeps two properties the read path relies
 * on: byte order of encoded keys equals the order of (group, user key), with
 * a key sorting before every key it is a prefix of; and no encoded key is a
 * prefix of another's, so the versions of one user key are contiguous. ~ts is
 * UINT64_MAX - ts, so the versions of a key sort newest first and a seek to
 * (key, ~t) lands on the newest version <= t.
 *
 * Data values:   type(1) · crc32c(4) · value bytes
 * Meta values:   u64(8) · crc32c(4)
 * State values:  crc32c(4) · value bytes
 * The crc covers the RocksDB key, the type byte and the value, so a record
 * that is garbled or moved under another key fails its check.
 */
#ifndef TXN_MVCC_H
#define TXN_MVCC_H

#include "txn.h"

#include <stddef.h>
#include <stdint.h>

#define TXN__NS_DATA  0x01
#define TXN__NS_META  0x02
#define TXN__NS_STATE 0x03

#define TXN__META_APPLIED 'a'
#define TXN__META_LAST_TS 'l'
#define TXN__META_HORIZON 'h'

#define TXN__TYPE_PUT       0x50 /* 'P' */
#define TXN__TYPE_TOMBSTONE 0x44 /* 'D' */

#define TXN__HDR_BYTES    5u  /* type + crc */
#define TXN__META_BYTES   12u /* u64 + crc */
#define TXN__PREFIX_BYTES 9u  /* namespace + group */
#define TXN__TS_BYTES     8u
/* The encoded size of a data key for a user key of n bytes, at most. */
#define TXN__DATA_KEY_MAX(n) (TXN__PREFIX_BYTES + 2 * (size_t) (n) + 2 + TXN__TS_BYTES)

uint32_t txn__crc32c(uint32_t crc, const void *buf, size_t len);
/* The same CRC by table only: the tests hold the fast path to it. */
uint32_t txn__crc32c_table(uint32_t crc, const void *buf, size_t len);

void txn__put_u64(uint8_t *p, uint64_t v);
uint64_t txn__get_u64(const uint8_t *p);

/* Writes the data-key prefix of (group, key) without the timestamp into out
 * (room for TXN__DATA_KEY_MAX(key_len)) and returns its length. */
size_t txn__encode_key_prefix(uint8_t *out, txn_group_id group, const void *key, size_t key_len);

/* Writes the full data key for (group, key, ts) and returns its length. */
size_t txn__encode_data_key(uint8_t *out, txn_group_id group, const void *key, size_t key_len,
                            tt_micros ts);

/* Writes the 10-byte meta key of (group, field). */
void txn__encode_meta_key(uint8_t out[10], txn_group_id group, uint8_t field);

/* Decodes a data key. On success returns 0 with *group, *ts and the
 * unescaped user key in user_key (room for enc_len bytes) / *user_len. Returns
 * -1 if the bytes are not a well-formed data key. */
int txn__decode_data_key(const uint8_t *enc, size_t enc_len, txn_group_id *group, uint8_t *user_key,
                         size_t *user_len, tt_micros *ts);

/* Encodes a data value record into out (room for TXN__HDR_BYTES + len). */
void txn__encode_value(uint8_t *out, const uint8_t *rkey, size_t rkey_len, uint8_t type,
                       const void *value, size_t len);

/* Checks a data value record stored under rkey. Returns 0 with *type,
 * *value and *len pointing into rec, or SP_ECORRUPT via SP_CORRUPT. */
int txn__decode_value(const uint8_t *rkey, size_t rkey_len, const uint8_t *rec, size_t rec_len,
                      uint8_t *type, const uint8_t **value, size_t *len, struct sp_err *err);

/* Writes the state key of (group, key) into out (room for 9 + key_len). */
size_t txn__encode_state_key(uint8_t *out, txn_group_id group, const void *key, size_t key_len);

/* Encodes a state record into out (room for 4 + len). */
void txn__encode_state_value(uint8_t *out, const uint8_t *rkey, size_t rkey_len, const void *value,
                             size_t len);

/* Checks a state record; on success *value and *len point into rec. */
int txn__decode_state_value(const uint8_t *rkey, size_t rkey_len, const uint8_t *rec,
                            size_t rec_len, const uint8_t **value, size_t *len, struct sp_err *err);

/* ---- the store object, shared by mvcc.c, mvcc_read.c and mvcc_gc.c ---- */

#include <rocksdb/c.h>
#include <pthread.h>

#define TXN__PEND_GROUPS_MAX  64  /* groups with applies in one open batch */
#define TXN__PEND_APPLIES_MAX 256 /* applies in one batch before it is written */

/* Cached metadata of one group; the durable copy is under the meta keys. */
struct txn__group {
    txn_group_id id;
    uint64_t applied_index;
    tt_micros last_ts;
    tt_micros horizon;
    uint8_t *gc_resume; /* RocksDB key the next GC pass starts at; NULL: the start */
    size_t gc_resume_len;
};

struct txn_store {
    struct txn_store_config cfg;
    rocksdb_t *db;
    rocksdb_options_t *opts;
    rocksdb_block_based_table_options_t *table; /* bloom filters for point gets */
    rocksdb_writeoptions_t *wopts;
    rocksdb_readoptions_t *ropts;
    rocksdb_env_t *own_env; /* the in-memory env, when cfg.in_memory */
    /* Guards groups[]: readers look up horizons while apply and GC update
     * them. Never held across a RocksDB write. */
    pthread_mutex_t mu;
    struct txn__group *groups; /* sorted by id; groups_n <= cfg.groups_max */
    uint32_t groups_n;
    /* Open apply batch (txn_store_apply_begin .. txn_store_apply_flush):
     * applies are encoded into pend_wb and become visible, data and meta
     * together, at the flush. pend[] holds each group's applied index and
     * LastTS as of the batch, ahead of the cache. */
    rocksdb_writebatch_t *pend_wb;    /* NULL: no batch open; else pend_spare */
    rocksdb_writebatch_t *pend_spare; /* owned; reused by every batch */
    const void *batch_owner;          /* the opening thread's token (mvcc.c) */
    uint32_t pend_applies;         /* <= TXN__PEND_APPLIES_MAX, then flushed */
    uint32_t pend_n;
    struct txn__pend {
        txn_group_id group;
        uint64_t applied_index; /* 0: unchanged in this batch */
        tt_micros last_ts;      /* max(cached, this batch's) */
        bool last_ts_changed;
    } pend[TXN__PEND_GROUPS_MAX];
    uint8_t *key_buf; /* apply scratch: one encoded key */
    uint8_t *val_buf; /* apply scratch: one encoded record */
    bool failed;      /* a write failed: what is on disk is unknown */
};

/* Copies the cached metadata of `group` into *out, loading it from RocksDB
 * on first use. Errors: SP_EFULL, SP_ECORRUPT, SP_EIO, SP_ENOMEM. */
int txn__group_meta(struct txn_store *s, txn_group_id group, struct txn__group *out,
                    struct sp_err *err);

/* Applies fn to the cached entry of `group` (which must have been loaded)
 * under the store mutex. */
void txn__group_update(struct txn_store *s, txn_group_id group,
                       void (*fn)(struct txn__group *, void *), void *ctx);

/* Every public read calls this first: a read on the thread that has an
 * apply batch open sees that thread's applies (the batch is written, and a
 * new one opened); on other threads it does nothing. Returns the write's
 * error, if any. */
int txn__reads_own_applies(struct txn_store *s, struct sp_err *err);

/* Encodes the meta value for (key, v) into out[TXN__META_BYTES]. */
void txn__encode_meta_value(uint8_t *out, const uint8_t key[10], uint64_t v);

/* Returns SP_ETXN_TOO_OLD if t is below the group's GC horizon. */
int txn__check_horizon(struct txn_store *s, txn_group_id group, tt_micros t, struct sp_err *err);

/* The store's RocksDB handle, for tests that write records directly. */
rocksdb_t *txn__store_db(struct txn_store *s);

#endif /* TXN_MVCC_H */

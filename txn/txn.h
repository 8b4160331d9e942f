/*
 * txn.h - transactions: MVCC storage on RocksDB, the wound-wait lock table and
 * the per-replica safe-time tracker (Spanner §4). This header is the manual.
 *
 * The module is built from pure, self-contained pieces that the 2PC
 * participant/coordinator and the Paxos apply path sit on top of:
 *
 *   txn_store      multi-version data of many Paxos groups in one RocksDB
 *                  (on disk, or on RocksDB's in-memory env for the simulator).
 *                  Every group applies its Paxos log in order, each entry at
 *                  its timestamp, through txn_store_apply(); reads at a
 *                  timestamp find the newest version at or below it with one
 *                  seek; version GC never goes below a horizon that reads
 *                  are refused beneath (SP_ETXN_TOO_OLD).
 *   txn_locks      the lock table of one group leader: shared/exclusive locks
 *                  per key with wound-wait priority (Spanner §4.2.1). No
 *                  threads, no clock: the caller passes `now` and acts on the
 *                  verdicts (grant, wait, wound, expire).
 *   txn_safetime   one replica's safe time t_safe = min(t_paxos_safe,
 *                  t_tm_safe) and LastTS() (Spanner §4.1.3, §4.2.2,
 *                  §4.2.4). Pure.
 *   txn_ts_*       the leader's timestamp rules for commits, prepares,
 *                  coordinator commits and MinNextTS (§4.1.2, §4.2.1). Pure.
 *   txn_node       the node core (last section): hosts the Paxos replicas of
 *                  many groups, applies their logs to the store, runs both
 *                  sides of 2PC and serves reads, as one I/O-free step
 *                  function that the server and the simulator drive.
 *
 * Conventions, for every function below:
 *   - return 0 on success or one SP_E* code from sp_error.h; where an
 *     `struct sp_err *err` parameter exists it may be NULL, and on failure it
 *     receives a message naming the group, key or transaction involved;
 *   - timestamps are tt_micros (microseconds since the Unix epoch, the
 *     TrueTime unit); valid commit timestamps are >= 1, so 0 means "none";
 *   - keys and values are byte strings (any bytes, including 0x00 and 0xFF);
 *     the library copies what it keeps, so input pointers need only live for
 *     the call;
 *   - broken preconditions (NULL where a pointer is required, a protocol
 *     invariant violated by the caller) fail SP_ASSERT, which aborts; they
 *     are bugs, not errors to handle.
 *
 * Threads: a txn_store may be used from many threads at once (reads run in
 * parallel with apply and GC; see each function). txn_locks and txn_safetime
 * are single-threaded objects owned by one group's driver.
 */
#ifndef TXN_H
#define TXN_H

#include "paxos.h"
#include "truetime.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A transaction id, unique per coordinator for the life of the cluster. */
typedef uint64_t txn_id;
/* A Paxos group id (Spanner: one group per set of directories). */
typedef uint64_t txn_group_id;

/* ======================================================================
 * MVCC store
 * ====================================================================== */

struct rocksdb_env_t;
struct txn_store;

#define TXN_VALUE_BYTES_MAX_DEFAULT (1u << 20)             /* 1 MiB */
#define TXN_KEY_BYTES_MAX_DEFAULT   (8u << 10)             /* 8 KiB */
#define TXN_RETENTION_US_DEFAULT    (3600LL * 1000 * 1000) /* 1 hour */
#define TXN_BATCH_WRITES_MAX        65536u                 /* writes in one txn_store_apply */
#define TXN_SCAN_ROWS_MAX           100000u                /* rows one txn_store_scan may return */
#define TXN_SCAN_STEPS_MAX          (4u * TXN_SCAN_ROWS_MAX) /* keys one scan examines */
#define TXN_GROUPS_MAX_DEFAULT      4096u                    /* groups one store tracks */

struct txn_store_config {
    size_t value_bytes_max; /* larger values fail with SP_ETXN_TOO_LARGE; default 1 MiB */
    size_t key_bytes_max;   /* larger keys fail with SP_ETXN_TOO_LARGE; default 8 KiB */
    tt_micros retention_us; /* versions shadowed for longer may be GC'd; default 1 h */
    bool sync;              /* fsync every apply before returning; default true. When
                             * false, applies reach the disk in order (RocksDB's WAL
                             * recovers a prefix) and txn_store_sync makes them durable */
    /* Storage backend. in_memory: the store creates and owns a RocksDB
     * in-memory env (rocksdb_create_mem_env), `path` names the database
     * inside it, and everything is lost on close. env (not owned, must
     * outlive the store): an env the caller keeps across close/reopen, which
     * is how the simulator keeps a node's "disk" across a simulated crash
     * (RocksDB's in-memory env accepts only absolute names: use "/name").
     * Neither: the default disk env. Default: neither. */
    bool in_memory;
    struct rocksdb_env_t *env;
    uint32_t groups_max;      /* distinct groups with cached metadata; default 4096 */
    uint64_t gc_versions_max; /* versions one txn_store_gc call examines; default 1e6 */
    /* RocksDB memtable size; 0 keeps RocksDB's default (64 MiB). The
     * simulator uses a small one so memtables flush and a restart replays
     * a short log instead of everything since the start. */
    size_t write_buffer_bytes;
    /* Snappy-compress SST blocks; default true. The simulator turns it off:
     * its "disk" is memory, and decompression costs it CPU on every read
     * that misses the block cache. */
    bool compress;
    /* RocksDB's write-ahead log; default true. Without it an apply lives
     * only in the memtable until a flush: txn_store_sync and
     * txn_store_close flush the memtables (so a close and reopen keeps
     * every apply), but a process that dies without closing loses what
     * was not flushed. Only the simulator turns it off: its crashes are a
     * close and reopen on an in-memory env, and the log was 9% of its
     * instructions (writing it, then replaying it at every restart). */
    bool wal;
};

/* Fills cfg with the defaults above. */
void txn_store_config_init(struct txn_store_config *cfg);

/*
 * Opens (creating if missing) the store at `path` (a directory on disk, or a
 * name inside the in-memory env). On success *out is owned by the caller and
 * freed with txn_store_close(). cfg is copied.
 * Errors: SP_EINVAL (bad config), SP_EIO (RocksDB refused to open; the
 * message carries RocksDB's text), SP_ENOMEM.
 */
int txn_store_open(const char *path, const struct txn_store_config *cfg, struct txn_store **out,
                   struct sp_err *err);

/* Closes the database and frees the store. NULL is a no-op. Every pointer the
 * store handed out that is documented as store-owned becomes invalid. */
void txn_store_close(struct txn_store *s);

/*
 * Makes every apply so far durable (fsync of the store's log), for stores
 * opened with cfg.sync false: a driver calls it before anything that relies
 * on the store being durable through a slot, e.g. persisting a log
 * truncation below a snapshot the node reported (see snapshot_every).
 * Called on the thread that has an apply batch open (txn_store_apply_begin),
 * it writes that batch first: "every apply so far" includes the open ones.
 * Returns 0, SP_ECLOSED (an earlier write failed), or SP_EIO (the store
 * then refuses further writes, as after a failed apply).
 */
int txn_store_sync(struct txn_store *s, struct sp_err *err);

enum txn_write_kind {
    TXN_WRITE_PUT = 1,    /* a new version with a value */
    TXN_WRITE_DELETE = 2, /* a new version that is a tombstone */
};

/* One write of a batch. Pointers are borrowed for the call. */
struct txn_write {
    enum txn_write_kind kind;
    const void *key;
    size_t key_len;
    const void *value; /* ignored for TXN_WRITE_DELETE */
    size_t value_len;
};

/* One write of a group's unversioned state: small records the layers above
 * keep next to the data and change atomically with it, e.g. a 2PC
 * participant's prepared transactions (which must survive log truncation).
 * value == NULL deletes the record. Pointers are borrowed for the call. */
struct txn_state_write {
    const void *key;
    size_t key_len;
    const void *value;
    size_t value_len;
};

#define TXN_STATE_WRITES_MAX 1024u /* state writes in one txn_store_apply */

/* One Paxos log entry's effect on a group's MVCC data. */
struct txn_apply {
    txn_group_id group;
    tt_micros ts;                        /* commit timestamp of every write; >= 1 if writes_n > 0 */
    const struct txn_write *writes;      /* may be NULL when writes_n == 0; the last
                                          * write to a key in one batch wins */
    size_t writes_n;                     /* <= TXN_BATCH_WRITES_MAX */
    const struct txn_state_write *state; /* may be NULL when state_n == 0 */
    size_t state_n;                      /* <= TXN_STATE_WRITES_MAX */
    /* The Paxos slot being applied, recorded in the same RocksDB WriteBatch
     * as the data so that after a crash "applied through slot N" and the
     * data agree; 0: do not record. Must exceed the recorded one. */
    uint64_t applied_index;
};

/*
 * Applies every write of `a` at timestamp a->ts, its state writes, and the
 * group metadata (applied index; LastTS = max(LastTS, ts) when
 * writes_n > 0), atomically: one RocksDB WriteBatch, synced when cfg.sync.
 * After a crash, replay starts after the recorded applied index
 * (txn_store_meta); writing the same versions again is harmless (a version
 * is a pure function of key, ts and value). Every write is validated before
 * anything is written, so a failed apply changes nothing.
 * Errors: SP_ETXN_TOO_LARGE (a key or value over its limit; the message
 * names the write's index, its size and the limit), SP_EINVAL (ts < 1 with
 * writes, applied_index not increasing, bad kind, too many writes),
 * SP_EFULL (groups_max), SP_ECORRUPT (the group's metadata), SP_EIO
 * (RocksDB write failed; the store then refuses further writes with
 * SP_ECLOSED, since what reached the disk is unknown).
 * Threads: applies must be serialized by the caller (one apply path per
 * store); reads may run concurrently.
 */
int txn_store_apply(struct txn_store *s, const struct txn_apply *a, struct sp_err *err);

/*
 * Group commit of applies. Between txn_store_apply_begin and
 * txn_store_apply_flush, txn_store_apply validates each apply as above
 * (against the applied index and LastTS of the applies before it) and
 * encodes it into one open WriteBatch instead of writing it; the flush
 * writes the batch once, with each group's last applied index and LastTS,
 * and only then updates what txn_store_meta and reads see. So data, state
 * records and applied index still land together or not at all, and the
 * applied index never runs ahead of the data; what is not flushed is not
 * visible to any read (txn_store_get, _scan, _state_get, _meta). A batch
 * is also written, and a new one opened, after TXN__PEND_APPLIES_MAX (256)
 * applies or past 64 groups; a txn_store_apply that does so returns that
 * write's error. One cost per batch rather than per apply: one RocksDB
 * write, one WAL record, one update of each group's meta keys.
 * txn_store_apply_flush returns 0, SP_EIO (the write failed; the store then
 * refuses further writes) or SP_ECLOSED (it had already failed); the batch
 * is closed either way. begin asserts that no batch is open.
 * Threads: as txn_store_apply.
 */
void txn_store_apply_begin(struct txn_store *s);
int txn_store_apply_flush(struct txn_store *s, struct sp_err *err);
/* Closes the open batch without writing it: its applies are lost, as in a
 * crash before the write (what reads and txn_store_meta see is unchanged). */
void txn_store_apply_discard(struct txn_store *s);
/* True once a write failed (the store refuses writes from then on). The
 * apply thread's own reads inside an open batch then fail with SP_ECLOSED:
 * what it applied may be missing. Apply thread only. */
bool txn_store_failed(const struct txn_store *s);

/* Absent and tombstone both mean "no value"; they differ in whether the
 * deletion's timestamp is still known. A tombstone at or below the GC
 * horizon is collected, after which the key reads as absent. */
enum txn_version_kind {
    TXN_VERSION_ABSENT = 0,    /* no version at or below the read timestamp */
    TXN_VERSION_VALUE = 1,     /* a value */
    TXN_VERSION_TOMBSTONE = 2, /* deleted at `ts` */
};

/* The result of a point read. value is malloc'd and owned by the caller:
 * release with txn_version_clear() (also safe on a zeroed struct). */
struct txn_version {
    enum txn_version_kind kind;
    tt_micros ts; /* commit timestamp of the version found; 0 if absent */
    uint8_t *value;
    size_t value_len;
};

void txn_version_clear(struct txn_version *v);

/*
 * Reads the newest version of `key` in `group` with commit timestamp <= t.
 * *out is overwritten (not cleared first: clear it before reusing).
 * Errors: SP_ETXN_TOO_OLD (t below the group's GC horizon: versions the read
 * needs may be gone), SP_ETXN_TOO_LARGE (key over the limit), SP_EINVAL
 * (t < 0), SP_ECORRUPT (the record failed its checksum or did not decode),
 * SP_EFULL (a group beyond groups_max), SP_EIO, SP_ENOMEM.
 * Threads: safe concurrently with other reads, apply and GC; the read sees
 * one consistent RocksDB snapshot.
 */
int txn_store_get(struct txn_store *s, txn_group_id group, const void *key, size_t key_len,
                  tt_micros t, struct txn_version *out, struct sp_err *err);

/* txn_store_get for keys[0..n) at the same t, through one iterator (one
 * RocksDB snapshot for all of them): out[i] is keys[i]'s version. On an
 * error every out[i] is cleared and the first error is returned. n == 0
 * reads nothing and returns 0. */
struct txn_key;
int txn_store_get_many(struct txn_store *s, txn_group_id group, const struct txn_key *keys,
                       uint32_t n, tt_micros t, struct txn_version *out, struct sp_err *err);

/* One row of a scan: the newest non-deleted version <= t of one key. */
struct txn_row {
    uint8_t *key;
    size_t key_len;
    uint8_t *value;
    size_t value_len;
    tt_micros ts;
};

/* Rows in ascending key order. Memory is owned by the caller: release with
 * txn_scan_clear() (also safe on a zeroed struct). */
struct txn_scan {
    struct txn_row *rows;
    size_t rows_n;
    /* True when the scan stopped early (at `limit` rows, or after examining
     * TXN_SCAN_STEPS_MAX keys, most of them deleted): call again with
     * start = resume_key. */
    bool more;
    uint8_t *resume_key; /* set iff more */
    size_t resume_key_len;
};

void txn_scan_clear(struct txn_scan *sc);

/*
 * Scans keys in [start, end) of `group` at timestamp t: for every key, its
 * newest version <= t, skipping keys whose newest version is a tombstone.
 * end == NULL means "to the end of the group". At most `limit` rows
 * (1..TXN_SCAN_ROWS_MAX). *out is overwritten.
 * Errors: as txn_store_get, plus SP_EINVAL (limit out of range).
 */
int txn_store_scan(struct txn_store *s, txn_group_id group, const void *start, size_t start_len,
                   const void *end, size_t end_len, tt_micros t, size_t limit, struct txn_scan *out,
                   struct sp_err *err);

/* Reads one state record of `group`. On success *value is malloc'd and
 * owned by the caller (free()). Errors: SP_ENOTFOUND, SP_ECORRUPT, SP_EIO,
 * SP_ENOMEM, SP_ETXN_TOO_LARGE (key over the limit). */
int txn_store_state_get(struct txn_store *s, txn_group_id group, const void *key, size_t key_len,
                        uint8_t **value, size_t *value_len, struct sp_err *err);

/* As txn_store_state_get, but reads only what is written to RocksDB: the
 * calling thread's open batch (txn_store_apply_begin) is neither seen nor
 * written early. For a caller that itself keeps what it put in the open
 * batch (the coordinator's decision cache), so that a lookup does not cut
 * the batch in two. */
int txn_store_state_get_written(struct txn_store *s, txn_group_id group, const void *key,
                                size_t key_len, uint8_t **value, size_t *value_len,
                                struct sp_err *err);

/* Calls fn for every state record of `group` whose key starts with
 * `key_prefix` (key_prefix_len 0: every record), in key order, at most `max`
 * records; pointers passed to fn are valid only during the call. fn returns
 * 0 to go on or nonzero to stop (that value is returned). Returns 0 when
 * done, SP_EFULL if more than `max` records exist (after visiting `max`),
 * SP_ECORRUPT, SP_EIO, or SP_ETXN_TOO_LARGE (prefix over the key limit).
 * Used at restart, e.g. to re-register prepared transactions with
 * txn_safetime_restore_prepared(); the prefix keeps a restart from reading
 * records it does not need (a group's decisions grow with its history). */
int txn_store_state_list(struct txn_store *s, txn_group_id group, const void *key_prefix,
                         size_t key_prefix_len,
                         int (*fn)(void *ctx, const uint8_t *key, size_t key_len,
                                   const uint8_t *value, size_t value_len),
                         void *ctx, size_t max, struct sp_err *err);

/* A group's metadata as recorded by apply and GC. */
struct txn_group_meta {
    uint64_t applied_index; /* last Paxos slot recorded by txn_store_apply; 0 if none */
    tt_micros last_ts;      /* LastTS(): max commit timestamp applied with writes */
    tt_micros gc_horizon;   /* reads below this fail with SP_ETXN_TOO_OLD */
};

/* Reads a group's metadata (zeros for a group never written).
 * Errors: SP_ECORRUPT, SP_EIO, SP_EFULL (more than groups_max groups). */
int txn_store_meta(struct txn_store *s, txn_group_id group, struct txn_group_meta *out,
                   struct sp_err *err);

struct txn_gc_stats {
    tt_micros horizon;         /* the horizon this call collected below */
    uint64_t versions_seen;    /* versions examined */
    uint64_t versions_dropped; /* versions deleted */
    bool complete;             /* false: stopped at gc_versions_max; call again */
};

/* The horizon GC may collect below:
 *   min(now - retention_us, oldest_read_ts)
 * where oldest_read_ts is the oldest timestamp any active or future read may
 * still use (oldest active read, and the replica's safe time when writes
 * below now - retention may still be applied); TT_MICROS_MAX if none. */
tt_micros txn_gc_horizon(tt_micros now, tt_micros retention_us, tt_micros oldest_read_ts);

/*
 * Collects the versions of `group` that no read at or above the horizon
 * (txn_gc_horizon(now, cfg.retention_us, oldest_read_ts)) can see: for each
 * key, every version older than its newest version <= horizon, and that
 * newest one too if it is a tombstone. The horizon is made durable and
 * visible to readers before any version is deleted, so a read either fails
 * with SP_ETXN_TOO_OLD or sees what it would have seen without GC (except
 * that a collected tombstone reads as absent).
 * The horizon never moves backwards. Work per call is bounded by
 * cfg.gc_versions_max; stats->complete says whether the pass finished (a
 * later call resumes where this one stopped).
 * Errors: SP_ECORRUPT, SP_EIO, SP_EFULL (groups_max), SP_ENOMEM.
 * Threads: serialize with txn_store_apply (one maintenance path per store).
 */
int txn_store_gc(struct txn_store *s, txn_group_id group, tt_micros now, tt_micros oldest_read_ts,
                 struct txn_gc_stats *stats, struct sp_err *err);

/* ======================================================================
 * Lock table (wound-wait)
 * ====================================================================== */

struct txn_locks;

enum txn_lock_mode {
    TXN_LOCK_SHARED = 1,    /* reads of a read-write transaction */
    TXN_LOCK_EXCLUSIVE = 2, /* writes, taken at prepare/commit */
};

enum txn_lock_status {
    TXN_LOCK_GRANTED = 0,
    TXN_LOCK_WAIT = 1, /* queued; a later txn_locks_release() reports the grant */
};

struct txn_locks_config {
    uint32_t locks_max;           /* held + waiting requests in the table; default 65536 */
    uint32_t waiters_per_key_max; /* queued requests on one key; default 64 */
    uint32_t txns_max;            /* transactions known to the table; default 4096 */
    tt_micros idle_timeout_us;    /* see txn_locks_expired(); default 10 s */
};

void txn_locks_config_init(struct txn_locks_config *cfg);

/* Creates an empty table; *out owned by the caller, freed with
 * txn_locks_destroy(). Errors: SP_EINVAL (a zero limit), SP_ENOMEM. */
int txn_locks_create(const struct txn_locks_config *cfg, struct txn_locks **out,
                     struct sp_err *err);
void txn_locks_destroy(struct txn_locks *lt);

/* Who asks: the transaction id and its priority, the start timestamp it was
 * first given (kept across retries so that it eventually becomes the oldest).
 * Lower start_ts = older = higher priority; ties broken by the lower id. */
struct txn_lock_owner {
    txn_id id;
    tt_micros start_ts;
};

/* The verdict of txn_locks_acquire. `wounded` points into the table and
 * stays valid until the next call that modifies the table. */
struct txn_lock_result {
    enum txn_lock_status status;
    const txn_id *wounded; /* younger holders this request wounded, each once */
    uint32_t wounded_n;
};

/*
 * Requests `mode` on `key` for `owner` at time `now` (recorded as the
 * transaction's last activity).
 *
 * From Spanner §4.2.1: "Reads within read-write transactions use
 * wound-wait [33] to avoid deadlocks." When an incompatible holder is
 * younger than the requester, the holder is wounded: it is listed in
 * res->wounded, every later call for it fails with SP_ETXN_WOUNDED, and the
 * driver must abort it (txn_locks_release); it keeps its locks until then,
 * and the requester waits for that. A prepared holder (txn_locks_prepared)
 * is never wounded; the requester waits for its outcome. When an
 * incompatible holder is older, the requester waits. Waiters queue in
 * priority order, and a request is granted at once only if it is compatible
 * with every holder and no older request is queued on the key.
 * Re-requesting a lock already held in the same or a stronger mode is
 * granted; shared -> exclusive is an upgrade (queued if others hold S).
 * Errors: SP_ETXN_WOUNDED (the requester was wounded: abort it),
 * SP_EINVAL (a request of the same transaction is already queued on this key,
 * the owner's start_ts differs from its first request, or it has prepared),
 * SP_EFULL (locks_max, waiters_per_key_max or txns_max reached; nothing
 * changed), SP_ETXN_TOO_LARGE (key over 8 KiB).
 */
int txn_locks_acquire(struct txn_locks *lt, const struct txn_lock_owner *owner, const void *key,
                      size_t key_len, enum txn_lock_mode mode, tt_micros now,
                      struct txn_lock_result *res, struct sp_err *err);

/* A queued request that a release turned into a held lock. `key` points into
 * the table and stays valid until the next call that modifies the table. */
struct txn_lock_grant {
    txn_id id;
    const uint8_t *key;
    size_t key_len;
    enum txn_lock_mode mode;
};

/*
 * Releases every lock and queued request of transaction `id` (commit, abort,
 * wound or expiry) and forgets it. Queued requests that can now be granted
 * are granted in priority order; *grants (may be NULL) is set to an array in
 * the table, valid until the next modifying call, and *grants_n to its
 * length. Granted transactions' last activity becomes `now`. A grant may go
 * to a transaction that is already wounded; the driver aborts it anyway.
 * Releasing an unknown transaction is a no-op (releases are idempotent).
 */
void txn_locks_release(struct txn_locks *lt, txn_id id, tt_micros now,
                       const struct txn_lock_grant **grants, uint32_t *grants_n);

/* Marks `id` prepared (2PC): it can no longer be wounded, since its outcome
 * is now decided by its coordinator, and it never expires. Must be called
 * before the prepare record is logged: the check that it was not wounded and
 * the mark are one step. Errors: SP_ETXN_WOUNDED (abort instead),
 * SP_ENOTFOUND (unknown), SP_EINVAL (it has queued requests). */
int txn_locks_prepared(struct txn_locks *lt, txn_id id, struct sp_err *err);

/* Records client activity (keep-alive). Errors: SP_ENOTFOUND (unknown: it
 * expired or was released), SP_ETXN_WOUNDED (tell the client to abort). */
int txn_locks_keepalive(struct txn_locks *lt, txn_id id, tt_micros now, struct sp_err *err);

/* Fills ids[0..max) with transactions idle for longer than idle_timeout_us at
 * `now`: no activity since, no queued request (a waiting client is blocked
 * on us, not idle) and not prepared. Returns how many were written. The
 * driver aborts them with txn_locks_release(). */
uint32_t txn_locks_expired(const struct txn_locks *lt, tt_micros now, txn_id *ids, uint32_t max);

/* True iff `id` is known and wounded. */
bool txn_locks_is_wounded(const struct txn_locks *lt, txn_id id);

/* Counts for metrics and tests. */
struct txn_locks_stats {
    uint32_t txns;    /* known transactions */
    uint32_t held;    /* held locks */
    uint32_t waiting; /* queued requests */
    uint32_t keys;    /* keys with at least one request */
};
void txn_locks_stats(const struct txn_locks *lt, struct txn_locks_stats *out);

/* Calls fn(ctx, waiter, blocker) for every edge of the waits-for graph: a
 * queued request waits for each incompatible holder of its key and for each
 * request queued ahead of it. For tests and diagnostics; O(requests^2) per
 * key in the worst case. */
void txn_locks_waits_for(const struct txn_locks *lt, void (*fn)(void *, txn_id, txn_id), void *ctx);
/* The edges of the waits-for graph out of one transaction: fn(ctx, waiter,
 * blocker) for each incompatible holder of, and each request queued ahead
 * of, every request `waiter` has queued. O(its requests x their keys'
 * queues), not the whole table. */
void txn_locks_blockers(const struct txn_locks *lt, txn_id waiter,
                        void (*fn)(void *, txn_id, txn_id), void *ctx);
/* The locks `id` holds (granted, not queued) in exactly `mode`: calls
 * fn(ctx, key, key_len) for each, unless fn is NULL, and returns how many.
 * The key bytes are valid until the table's next change. A participant
 * lists its read locks this way to log them with its prepare record. */
uint32_t txn_locks_held(const struct txn_locks *lt, txn_id id, enum txn_lock_mode mode,
                        void (*fn)(void *, const void *, size_t), void *ctx);
/* True iff `id` holds a lock (either mode, granted) on key. */
bool txn_locks_holds(const struct txn_locks *lt, txn_id id, const void *key, size_t key_len);

/* Checks every structural invariant with SP_ASSERT (tests, debug builds). */
void txn_locks_check(const struct txn_locks *lt);

/* ======================================================================
 * Safe time
 * ====================================================================== */

struct txn_safetime;

#define TXN_PREPARED_MAX_DEFAULT 4096u

/* Creates a tracker for one replica of one group, holding at most
 * prepared_max prepared transactions. Start state: nothing applied
 * (t_paxos_safe = 0, LastTS = 0, no prepared transactions). *out is owned by
 * the caller, freed with txn_safetime_destroy(). Errors: SP_EINVAL, SP_ENOMEM. */
int txn_safetime_create(uint32_t prepared_max, struct txn_safetime **out, struct sp_err *err);
void txn_safetime_destroy(struct txn_safetime *st);

/* After a restart, on a fresh tracker: the state recorded with the data
 * (txn_store_meta), before the log after applied_index is replayed.
 * t_paxos_safe restarts at last_ts (conservative). */
void txn_safetime_restore(struct txn_safetime *st, uint64_t applied_index, tt_micros last_ts);
/* After txn_safetime_restore: re-registers a transaction that was prepared
 * but unresolved at applied_index (from the participant's durable state).
 * Errors: SP_EFULL, SP_EINVAL (already registered). */
int txn_safetime_restore_prepared(struct txn_safetime *st, txn_id id, tt_micros prepare_ts,
                                  struct sp_err *err);

/*
 * Log-order events, one per applied Paxos entry; `index` is the entry's slot
 * and must increase. Each asserts the invariant that makes safe time sound:
 * a new version or prepare timestamp is above the current t_safe, so a read
 * already served at t <= t_safe can never change.
 */
/* A committed write (single-group commit) at ts: advances t_paxos_safe and LastTS. */
void txn_safetime_apply_commit(struct txn_safetime *st, uint64_t index, tt_micros ts);
/* A 2PC prepare record at prepare_ts. Errors: SP_EFULL (prepared_max), SP_EINVAL
 * (id already prepared). */
int txn_safetime_apply_prepare(struct txn_safetime *st, uint64_t index, txn_id id,
                               tt_micros prepare_ts, struct sp_err *err);
/* The outcome of a prepared transaction: commit_ts >= its prepare_ts, or 0
 * for abort. Errors: SP_ENOTFOUND (not prepared here). */
int txn_safetime_apply_outcome(struct txn_safetime *st, uint64_t index, txn_id id,
                               tt_micros commit_ts, struct sp_err *err);
/* Any other entry (no timestamp): only advances the applied index. */
void txn_safetime_apply_other(struct txn_safetime *st, uint64_t index);

/*
 * A leader's MinNextTS(n) promise: no Paxos write after slot `index` will have
 * a timestamp below min_next_ts. From Spanner §4.2.4: "A replica can
 * advance t_paxos_safe to MinNextTS(n) - 1 when it has applied through n."
 * If this replica has not applied `index` yet, the promise is kept (one
 * pending promise; a newer one replaces it) and takes effect when it has.
 */
void txn_safetime_promise(struct txn_safetime *st, uint64_t index, tt_micros min_next_ts);

/* t_safe = min(t_paxos_safe, t_tm_safe). Never decreases. */
tt_micros txn_safetime_get(const struct txn_safetime *st);
tt_micros txn_safetime_paxos_safe(const struct txn_safetime *st);
/* One below the smallest prepare timestamp; TT_MICROS_MAX with none prepared. */
tt_micros txn_safetime_tm_safe(const struct txn_safetime *st);
/* LastTS(): the timestamp of the last committed write at the group. */
tt_micros txn_safetime_last_ts(const struct txn_safetime *st);
uint32_t txn_safetime_prepared_n(const struct txn_safetime *st);
uint64_t txn_safetime_applied_index(const struct txn_safetime *st);

/* 0 if a read at t may be served now (t <= t_safe), else SP_ETXN_NOT_SAFE:
 * wait for t_safe to advance (with a timeout) or go to another replica. */
int txn_safetime_check_read(const struct txn_safetime *st, tt_micros t, struct sp_err *err);

/* The read timestamp of a single-group strong read-only transaction, chosen
 * at the group's leader. From Spanner §4.2.2: "If there are no prepared
 * transactions, the assignment s_read = LastTS() trivially satisfies external
 * consistency"; otherwise s_read = TT.now().latest, passed in as now. */
tt_micros txn_safetime_strong_read_ts(const struct txn_safetime *st, struct tt_interval now);

/* Bounded staleness: the newest timestamp this replica can serve without
 * waiting, t_safe, if it is >= now.latest - staleness_us; else
 * SP_ETXN_NOT_SAFE (the replica is too far behind for the bound). The
 * timestamp is never above now.earliest (a promise can put t_safe ahead of
 * true time; a snapshot at a timestamp not yet passed would be ordered
 * after transactions that begin once it is done), unless the bound is
 * tighter than the clock's uncertainty: then now.latest - staleness_us. */
int txn_safetime_stale_read_ts(const struct txn_safetime *st, struct tt_interval now,
                               tt_micros staleness_us, tt_micros *out, struct sp_err *err);

/* The same rule for a given t_safe `safe` (txn_node_read_stale reads the one
 * its node published): false if safe < now.latest - staleness_us, else true
 * with the timestamp in *out. */
bool txn_safetime_stale_ts(tt_micros safe, struct tt_interval now, tt_micros staleness_us,
                           tt_micros *out);

/* ======================================================================
 * Timestamp rules (leader side)
 * ====================================================================== */

/*
 * What a leader knows when it picks a timestamp. Pure inputs; the driver
 * reads them from TrueTime, paxos_lease_get() and its own records, and
 * afterwards reports the chosen timestamp with paxos_note_assigned_ts().
 */
struct txn_ts_bounds {
    /* TT.now() when the timestamp is chosen (the lease is checked against
     * it; a coordinator's commit is bounded below by the commit's arrival
     * instead, passed on its own). */
    struct tt_interval now;
    tt_micros lease_start, lease_end; /* this leader's lease: [start, end) */
    /* The largest timestamp this group has assigned, promised (MinNextTS - 1),
     * logged as a participant's outcome (another group's commit timestamp)
     * or applied: max(paxos_s_max, outcome timestamps proposed,
     * txn_safetime_paxos_safe). */
    tt_micros last_assigned;
};

/*
 * Each function returns 0 and *out, or SP_EPAXOS_NO_LEASE when no timestamp
 * obeying the rules fits before lease_end (or the lease may have ended at
 * now). The rules are asserted on the way out.
 */

/* A single-group commit (Spanner §4.1.2 "Start"): s >= TT.now().latest,
 * s > last_assigned, s inside the lease. */
int txn_ts_commit(const struct txn_ts_bounds *b, tt_micros *out, struct sp_err *err);

/* A participant's prepare timestamp (§4.2.1): above every timestamp the
 * leader assigned, >= now.latest, inside the lease. */
int txn_ts_prepare(const struct txn_ts_bounds *b, tt_micros *out, struct sp_err *err);

/* The coordinator's commit timestamp (§4.2.1): s >= every prepare timestamp,
 * s > TT.now().latest when the commit arrived (arrival_latest), s >
 * last_assigned, inside the lease, the lease still held at b->now. s may be
 * below b->now.latest: the votes came in after the arrival. prepare_ts has
 * prepare_n (<= 4096) entries, borrowed. */
int txn_ts_coordinator_commit(const struct txn_ts_bounds *b, tt_micros arrival_latest,
                              const tt_micros *prepare_ts, size_t prepare_n, tt_micros *out,
                              struct sp_err *err);

/* A MinNextTS promise for the next Paxos write (§4.2.4): the smallest
 * timestamp the leader can still guarantee, max(last_assigned + 1,
 * now.latest). The driver must then treat out - 1 as assigned
 * (paxos_note_assigned_ts), so that every later timestamp keeps it. */
int txn_ts_min_next(const struct txn_ts_bounds *b, tt_micros *out, struct sp_err *err);

/* Commit wait (§4.1.2): true iff clients may see data committed at s, i.e.
 * TT.after(s) held at `now`. No reply before this. */
bool txn_ts_commit_wait_over(struct tt_interval now, tt_micros s);

/* ======================================================================
 * Node core
 *
 * One node hosting replicas of many Paxos groups, as an I/O-free state
 * machine (DESIGN §3): it routes every inbound message to its replica or
 * transaction participant, applies committed entries to the MVCC store,
 * runs both sides of 2PC, and serves reads once safe time allows. The
 * server (spanner/) and the simulator (sim/, tests/txn/world.c) differ only
 * in the environment they plug in:
 *
 *     struct txn_node_update up;
 *     rc = txn_node_step(node, &ev, &up);   // ev carries `now`
 *
 * and then the driver carries out the update, strictly in this order:
 *
 *   1. PERSIST every up.persists[i].pu (a struct paxos_update of group
 *      up.persists[i].group, with n_msgs == n_committed == 0: the node has
 *      moved the messages into up.msgs and applied the committed entries
 *      itself), as paxos.h step 1 describes. Batches of different groups
 *      may share one write (group commit).
 *   2. SEND up.msgs and up.replies only once every batch of this and every
 *      earlier update is durable (persist before send, for all of them:
 *      a vote, an acknowledgement or a reply may rest on step 1), except
 *      Paxos ACCEPT messages, which may leave at once (paxos.h step 2;
 *      txn_node_msg_may_leave_early).
 *   3. REPORT each completed batch with TXN_NODE_EV_PERSISTED (group, seq).
 *   4. Step a TXN_NODE_EV_TICK once now.earliest >= up.wake_us.
 *
 * The core calls txn_store_* on the store it was given (the real RocksDB, or
 * RocksDB on an in-memory env in the simulator): applying committed entries
 * in log order, reading versions, and version GC. It never calls the clock,
 * the network or a random source.
 *
 * Time: commit wait happens inside the node. A commit's reply (and, for 2PC,
 * the decision sent to participants) is held until a step's now satisfies
 * tt_after(s); up.wake_us asks for that step. Reads wait the same way until
 * t_safe >= their timestamp, or read_timeout_us.
 *
 * Memory: every pointer inside a txn_node_update (persist batches, messages,
 * replies and their values) is owned by the node and stays valid until the
 * next txn_node_step() or txn_node_destroy() on it. Pointers inside events
 * are borrowed for the call.
 *
 * Threads: a node is not thread-safe; one thread steps it at a time.
 *
 * Restart: create the node again with the same store and, per group, the
 * Paxos durable state the driver persisted. The node recovers LastTS, the
 * applied index, prepared transactions and coordinator decisions from the
 * store (txn_store_meta, state records) and skips log entries the store
 * already covers when the replicas hand them out again.
 * ====================================================================== */

typedef uint32_t txn_node_id; /* = paxos_node_id, 1..PAXOS_NODE_ID_MAX */

#define TXN_NODE_GROUPS_MAX  16   /* groups one node hosts */
#define TXN_DIRECTORY_MAX    64   /* groups of the cluster a node can address */
#define TXN_PARTICIPANTS_MAX 16   /* groups in one 2PC, coordinator included */
#define TXN_REQ_KEYS_MAX     64   /* keys in one read request */
#define TXN_REQ_WRITES_MAX   256  /* writes one request carries for one group */
#define TXN_NODE_TXNS_MAX    1024 /* read-write transactions active per group */
#define TXN_NODE_WAITS_MAX   1024 /* reads and replies held per node */
/* Coordinator decisions cached per group; all stay in the store as state
 * records (collecting them needs participants' acknowledgements: not yet). */
#define TXN_NODE_DECISIONS_MAX 4096

/* Where the replicas of one group live (for groups this node does not host,
 * too: participants and coordinators address each other's groups). */
struct txn_directory_entry {
    txn_group_id group;
    struct paxos_membership members;
};

struct txn_node_group_config {
    txn_group_id group;
    struct paxos_config paxos; /* paxos.self must equal the node's id */
};

struct txn_node_config {
    txn_node_id self;
    uint32_t zone;
    uint32_t groups_n; /* 1..TXN_NODE_GROUPS_MAX hosted groups */
    struct txn_node_group_config groups[TXN_NODE_GROUPS_MAX];
    uint32_t directory_n; /* every group of the cluster, hosted ones included */
    struct txn_directory_entry directory[TXN_DIRECTORY_MAX];
    tt_micros min_next_period_us;  /* MinNextTS promise period; default 100 ms. A read
                                    * held for t_paxos_safe gets a promise at once
                                    * (TXN_MSG_PROMISE_ASK), so the period bounds only
                                    * how far an idle group's t_safe lags for stale
                                    * reads and GC, and what an idle group costs */
    tt_micros read_timeout_us;     /* a read waiting for t_safe gives up; default 1 s */
    tt_micros vote_timeout_us;     /* coordinator gives up on missing votes; default 1 s */
    tt_micros query_period_us;     /* prepared participant asks the coordinator; 200 ms */
    tt_micros idle_timeout_us;     /* idle read-write transactions expire; default 10 s;
                                    * replaces locks.idle_timeout_us */
    struct txn_locks_config locks; /* per group leader */
    /* Version GC of every hosted group (txn_store_gc, below the store's
     * retention_us and never above t_safe or a held read); default 60 s,
     * 0: off. A pass that stops at gc_versions_max resumes 1 ms later. */
    tt_micros gc_period_us;
    /* The store is each group's snapshot: once a replica has handed out and
     * the node applied slot S, the node reports PAXOS_EV_SNAPSHOT_TAKEN(S)
     * every snapshot_every slots, so the replica may truncate its log below
     * S - paxos.log_keep. The store must be durable through S before that
     * truncation is: a store opened with sync syncs every apply; otherwise
     * the driver calls txn_store_sync before it persists an update with
     * truncate_through > 0. Default 1024; 0: never.
     * Not yet supported: installing a peer's snapshot (paxos_update
     * .snapshot_needed is ignored), so a replica that falls more than
     * log_keep slots behind a truncated log cannot catch up; keep log_keep
     * large (thousands of slots). */
    uint32_t snapshot_every;
    /* How long a single-group commit's outcome stays answerable to a
     * repeated COMMIT (a client that lost the first answer asks again);
     * default 1 h. Must exceed how long a client keeps retrying a commit. */
    tt_micros outcome_retention_us;
    /* Randomness, for future jitter (retries, promise phases); the current
     * core makes no random choice. NULL: a PRNG seeded with seed. */
    uint64_t (*random)(void *ctx);
    void *random_ctx;
    uint64_t seed;
    /* TEST ONLY: reply to clients' commits without waiting for tt_after(s)
     * (participants still learn s only after it). Exists so the harness can
     * prove its checker notices the missing commit wait. */
    bool commit_wait_off;
    /* TEST ONLY: a single-group strong read at the leader does not check
     * that the lease is still held (R5). Exists so the simulator can prove
     * that its deposed-leader fault catches the missing check. */
    bool read_lease_check_off;
};

/* Fills cfg with the defaults above (no groups, self 0). */
void txn_node_config_init(struct txn_node_config *cfg);

/* ---- messages between nodes ------------------------------------------- */

enum txn_msg_type {
    TXN_MSG_VOTE = 1,     /* participant -> coordinator group: prepared at ts, or status */
    TXN_MSG_DECISION = 2, /* coordinator -> participant group: commit at ts, or ts 0 = abort */
    TXN_MSG_QUERY = 3,    /* prepared participant -> coordinator group: outcome? */
    TXN_MSG_PROMISE = 4,  /* leader -> its group's replicas: MinNextTS(index) = ts */
    TXN_MSG_WOUND = 5,    /* participant -> coordinator group: an older transaction waits
                           * for this prepared one; abort it if still undecided */
    TXN_MSG_PROMISE_ASK = 6, /* replica -> its group: a read waits for t_paxos_safe to
                              * reach ts; leader, promise now (not at the period) */
};

/* A transaction message. Addressed to a node and a group there; a node that
 * does not lead `group` ignores what only a leader may act on. */
struct txn_msg {
    enum txn_msg_type type;
    txn_node_id from, to;
    txn_group_id group;      /* the destination group */
    txn_group_id from_group; /* the sender's group */
    txn_id id;               /* the transaction (0 for PROMISE) */
    tt_micros ts;            /* see the types above */
    int32_t status;          /* VOTE: 0 = prepared, else the SP_E* reason to abort */
    uint64_t index;          /* PROMISE: applied position the promise holds after */
};

/* One outbound message; exactly one of paxos / txn is meaningful. */
struct txn_node_msg {
    txn_node_id to;
    bool is_paxos;
    txn_group_id group; /* paxos: the group of the replica addressed */
    struct paxos_msg paxos;
    struct txn_msg txn;
};

/* ---- client requests and replies ---------------------------------------- */

enum txn_req_type {
    /* Read-write transactions, at the leader of `group`. */
    TXN_REQ_READ = 1,    /* locking read of keys (shared locks, wound-wait by start_ts) */
    TXN_REQ_COMMIT = 2,  /* commit: writes for `group`; participants_n == 0 is a
                          * single-group commit, else `group` coordinates 2PC over
                          * participants (the other groups, each sent a PREPARE) */
    TXN_REQ_PREPARE = 3, /* 2PC participant part: writes for `group`, coord_group */
    TXN_REQ_ABORT = 4,   /* release everything the transaction holds at `group` */
    /* Lock-free reads, at any replica of `group` (STRONG_SINGLE: the leader). */
    TXN_REQ_RO_READ = 5,
    /* Keeps an idle read-write transaction alive at `group`'s leader (it
     * expires after idle_timeout_us otherwise). Answered 0, or the status
     * the transaction ended with (SP_ETXN_WOUNDED, SP_ETXN_ABORTED). */
    TXN_REQ_KEEPALIVE = 6,
    /* Lock-free scan of [keys[0], keys[1]) (keys_n == 2; an empty end key
     * means unbounded) at the timestamp `mode` chooses, as RO_READ does, at
     * most scan_limit rows (1..TXN_REQ_SCAN_ROWS_MAX). Values carry their
     * keys; reply.more says the scan stopped early: continue from
     * reply.resume_key, at reply.ts. */
    TXN_REQ_RO_SCAN = 7,
};

#define TXN_REQ_SCAN_ROWS_MAX 1000 /* rows in one scan reply */

enum txn_read_mode {
    TXN_READ_STRONG_SINGLE = 1, /* one-group strong read: s_read = LastTS() at the leader */
    TXN_READ_STRONG = 2,        /* s_read = now.latest here; reply says which (use it
                                 * as TXN_READ_EXACT at the other groups) */
    TXN_READ_EXACT = 3,         /* at read_ts */
    TXN_READ_STALE = 4,         /* newest ts >= now.latest - staleness_us safe here */
};

struct txn_key {
    const void *key;
    size_t key_len;
};

/* A client request. Pointers are borrowed for the step. */
struct txn_request {
    enum txn_req_type type;
    uint32_t client; /* echoed in the reply, for the driver's routing */
    uint64_t req_id; /* echoed in the reply */
    txn_group_id group;
    txn_id id;          /* read-write: unique transaction id */
    tt_micros start_ts; /* read-write: wound-wait priority, kept across retries */
    /* READ, RO_READ: the keys to read. COMMIT, PREPARE: the keys the
     * transaction read at `group` (optional); the leader refuses with
     * SP_ETXN_ABORTED unless it still holds their locks: a leader change or
     * an idle expiry in between lost them, and a write under the reads may
     * have committed since. <= TXN_REQ_KEYS_MAX. */
    uint32_t keys_n;
    const struct txn_key *keys;
    uint32_t writes_n; /* COMMIT, PREPARE: <= TXN_REQ_WRITES_MAX */
    const struct txn_write *writes;
    txn_group_id coord_group; /* PREPARE */
    uint32_t participants_n;  /* COMMIT: other groups, < TXN_PARTICIPANTS_MAX */
    const txn_group_id *participants;
    enum txn_read_mode mode; /* RO_READ */
    tt_micros read_ts;       /* RO_READ EXACT */
    tt_micros staleness_us;  /* RO_READ STALE */
    uint32_t scan_limit;     /* RO_SCAN */
    /* COMMIT: this transaction's COMMIT may have been sent before (an
     * earlier attempt got no answer, or an SP_ETXN_UNKNOWN one), so its
     * outcome must not be guessed. The leader answers from the group's
     * outcome records when the transaction was decided; otherwise any
     * refusal ("aborted", "wounded") is first logged as the transaction's
     * abort decision, so no earlier copy of the COMMIT can commit it
     * afterwards (the first decision in log order wins). See "Answers". */
    bool retry;
};

/* One value read: kind, version timestamp, bytes (owned by the node). */
struct txn_value {
    enum txn_version_kind kind;
    tt_micros ts;
    const uint8_t *value;
    size_t value_len;
    const uint8_t *key; /* RO_SCAN rows only */
    size_t key_len;
};

/*
 * Answers to COMMIT are never wrong (DESIGN §3, "One host"): "aborted"
 * (SP_ETXN_ABORTED, SP_ETXN_WOUNDED) means the transaction can never
 * commit. Every group keeps the outcome of each transaction it committed
 * or aborted by a logged decision (single-group commits included) as a
 * state record, atomically with the data; any caught-up leader answers a
 * repeated COMMIT from it, holding a commit's answer for commit wait as the
 * first leader would have. Single-group outcomes are kept for
 * outcome_retention_us, 2PC decisions until participants acknowledge them
 * (not yet: they stay). A COMMIT arriving while the same transaction's
 * COMMIT is in progress here takes over its answer (the earlier request is
 * answered SP_ETXN_UNKNOWN). A refusal that is not logged is safe only for
 * a COMMIT sent once: a client resending one sets `retry`.
 *
 * A reply. status:
 *   0                     done; ts = commit timestamp (COMMIT) or read
 *                         timestamp (READ: 0, RO_READ: s_read)
 *   SP_EPAXOS_NOT_LEADER  not the leader (or not yet caught up); try
 *                         leader_hint (0: unknown)
 *   SP_ETXN_WOUNDED       wounded by an older transaction: retry it
 *   SP_ETXN_ABORTED       aborted (a participant failed, a vote timed out,
 *                         the transaction expired): retry it
 *   SP_ETXN_UNKNOWN       leadership changed after the commit was logged:
 *                         the outcome is not known here (ask again with
 *                         retry set: a caught-up leader answers from the log)
 *   SP_ETXN_NOT_SAFE      the read waited read_timeout_us for t_safe
 *   SP_ETXN_TOO_OLD, SP_ETXN_TOO_LARGE, SP_EINVAL, SP_EFULL, SP_EIO
 * PREPARE is answered 0 once the participant has taken it (or with the
 * error that refused it); the transaction's outcome comes from the
 * coordinator's answer to COMMIT.
 */
struct txn_reply {
    uint32_t client;
    uint64_t req_id;
    txn_id id;
    int status;
    tt_micros ts;
    /* COMMIT: how long the reply was held after the commit record was
     * applied, until tt_after(ts): the part of commit wait the Paxos write
     * did not hide (Spanner §4.1.2). 0 otherwise. */
    tt_micros commit_wait_us;
    /* COMMIT: from the proposal of the commit record (single-group commit
     * or the coordinator's decision) to its apply at the leader: the Paxos
     * write, commit wait overlapped with it. 0 otherwise. */
    tt_micros paxos_us;
    txn_node_id leader_hint;
    uint32_t values_n; /* READ, RO_READ: one per key, in request order */
    const struct txn_value *values;
    bool more; /* RO_SCAN: stopped early; continue from resume_key */
    const uint8_t *resume_key;
    size_t resume_key_len;
};

/* ---- steps ------------------------------------------------------------ */

enum txn_node_event_type {
    TXN_NODE_EV_PAXOS = 1,     /* a paxos message for the replica of `group` */
    TXN_NODE_EV_TXN = 2,       /* a transaction message */
    TXN_NODE_EV_CLIENT = 3,    /* a client request */
    TXN_NODE_EV_PERSISTED = 4, /* a persist batch of `group` is durable (or failed) */
    TXN_NODE_EV_TICK = 5,
};

struct txn_node_event {
    enum txn_node_event_type type;
    struct tt_interval now; /* TT.now() when the event is stepped */
    txn_group_id group;     /* PAXOS, PERSISTED */
    union {
        const struct paxos_msg *paxos; /* borrowed */
        const struct txn_msg *txn;     /* borrowed */
        const struct txn_request *req; /* borrowed */
        struct {
            uint64_t seq;
            int status;
        } persisted;
    };
};

struct txn_node_persist {
    txn_group_id group;
    struct paxos_update pu; /* persist part only; see the order above */
};

struct txn_node_update {
    uint32_t persists_n;
    const struct txn_node_persist *persists;
    uint32_t msgs_n;
    const struct txn_node_msg *msgs;
    uint32_t replies_n;
    const struct txn_reply *replies;
    tt_micros wake_us; /* step a TICK once now.earliest >= wake_us */
};

struct txn_node;

/*
 * Creates a node over `store` (not owned; must outlive the node). loaded[i]
 * is the Paxos durable state of cfg->groups[i] after a restart, or NULL
 * (loaded itself may be NULL: all fresh). Recovers from the store as the
 * section comment says. *out is owned by the caller.
 * Errors: SP_ECONFIG (bad config; err says which), SP_ECORRUPT (a state
 * record did not decode), SP_EIO, SP_ENOMEM, and paxos_replica_create's.
 */
int txn_node_create(const struct txn_node_config *cfg, struct txn_store *store,
                    const struct paxos_durable_state *const *loaded, struct txn_node **out,
                    struct sp_err *err);
void txn_node_destroy(struct txn_node *n);

/*
 * True for the messages of an update that need not wait for its persists
 * (step 2 above): a leader's Paxos ACCEPT, which promises nothing; its own
 * accept is counted only once PERSISTED (paxos.h step 2). Drivers (spannerd,
 * the simulator) send these at once, so the leader's write overlaps its
 * followers'.
 */
bool txn_node_msg_may_leave_early(const struct txn_node_msg *m);

/*
 * Feeds one event. Always fills *up (possibly empty); the driver carries it
 * out. Returns 0; SP_EINVAL (malformed event: unknown group, bad request
 * sizes; the request, if any, is also answered with SP_EINVAL);
 * SP_EPAXOS_FAILED (a group's persist failed: that group refuses work);
 * SP_EIO / SP_ECORRUPT (the store failed while applying: the node is then
 * failed and refuses every later step with SP_ECLOSED).
 */
int txn_node_step(struct txn_node *n, const struct txn_node_event *ev, struct txn_node_update *up);

/*
 * Apply rounds: group commit of applies across steps. Between
 * txn_node_round_begin and txn_node_round_end, the entries the steps apply
 * go into one open store batch (txn_store_apply_begin) instead of one
 * RocksDB write per step; round_end writes it, once, with each group's
 * applied index and LastTS. A driver brackets what it handles between two
 * Paxos writes: a leader that hears from its followers in many messages
 * then writes its applies once, not once per message.
 *
 * Within a round:
 *   - reads the steps serve on this thread see every apply (the store
 *     writes the open batch before such a read: txn_store_get and the
 *     others);
 *   - t_safe and LastTS are published (txn_node_read_stale) only by
 *     round_end, after the write: another thread never reads below a
 *     published t_safe what is not yet in the store;
 *   - txn_store_sync, on this thread, writes the open batch first, so a
 *     driver that syncs the store before persisting a log truncation
 *     (snapshot_every) covers the round's applies too.
 * A node destroyed (a crash) inside a round loses the round's applies, as
 * a crash loses unsynced ones: the Paxos log still holds them, since no
 * truncation below them was persisted without txn_store_sync.
 *
 * txn_node_round_end returns 0, or SP_EIO / SP_ECLOSED when the write
 * failed: the node is then failed, as after a failed apply in a step.
 * Rounds do not nest; a driver that never opens one gets one write per step.
 */
void txn_node_round_begin(struct txn_node *n);
int txn_node_round_end(struct txn_node *n);

/*
 * Stale reads served without a step, on any thread (TXN_REQ_RO_READ in
 * TXN_READ_STALE mode only). The node publishes each group's t_safe and
 * LastTS at the end of every txn_node_step; txn_node_read_stale chooses
 * s_read from them as a step would (the newest timestamp >= now.latest -
 * staleness_us that is safe here, at most now.earliest), checks R1 and R4
 * (reads.c) the same way, and reads the store at s_read. now is the
 * caller's TT.now().
 *
 * Returns 0 with out->reply filled (status 0, ts = s_read, values_n =
 * keys_n; client, req_id and id echoed); out->reply.values point into *out
 * and stay valid until txn_node_read_clear(out), which the caller must call.
 * Returns SP_ETXN_NOT_SAFE, with nothing to clear, whenever it cannot serve
 * the read at once: another request type or mode, a group not hosted here,
 * t_safe below the bound, commit wait not over, the node failed, a store
 * error. The caller then steps the request as usual, which waits, serves
 * or answers with the precise error.
 *
 * Threads: safe concurrently with txn_node_step on another thread and with
 * other txn_node_read_stale calls; not with txn_node_create/destroy.
 */
struct txn_node_read {
    struct txn_reply reply;
    struct txn_value vals[TXN_REQ_KEYS_MAX];
    struct txn_version versions[TXN_REQ_KEYS_MAX];
};

int txn_node_read_stale(struct txn_node *n, const struct txn_request *req, struct tt_interval now,
                        struct txn_node_read *out);
void txn_node_read_clear(struct txn_node_read *r);

/* Introspection for drivers and tests; group must be hosted here. */
bool txn_node_is_leader(const struct txn_node *n, txn_group_id group);
tt_micros txn_node_safe_time(const struct txn_node *n, txn_group_id group);
tt_micros txn_node_last_ts(const struct txn_node *n, txn_group_id group);
uint32_t txn_node_prepared_n(const struct txn_node *n, txn_group_id group);
/* Highest timestamp the group's leader here assigned or promised (s_max). */
tt_micros txn_node_s_max(const struct txn_node *n, txn_group_id group);
/* How long the leader lease held here lasts past now.latest; 0 if none. */
tt_micros txn_node_lease_left(const struct txn_node *n, txn_group_id group, struct tt_interval now);
/* The group's Paxos commit index and the last slot applied to the store. */
void txn_node_progress(const struct txn_node *n, txn_group_id group, uint64_t *commit,
                       uint64_t *applied);

#endif /* TXN_H */

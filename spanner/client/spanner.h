/*
 * spanner.h - libspanner, the C client of a spanner-c cluster. This header
 * is the manual.
 *
 *     struct sp_client *c;
 *     struct sp_client_options o = {.endpoints = "127.0.0.1:7101", .zone = "eu"};
 *     sp_client_open(&o, &c, &err);
 *
 *     struct sp_txn *t;                       // a read-write transaction
 *     sp_txn_begin(c, &t, &err);
 *     sp_txn_read(t, "alice", 5, &v, &err);  // locking read at the leader
 *     sp_txn_write(t, "alice", 5, "90", 2, &err);
 *     sp_txn_write(t, "bob", 3, "110", 3, &err);
 *     sp_txn_commit(t, &info, &err);          // 2PC if the keys span groups
 *
 *     struct sp_ro_options ro = {.max_staleness_us = 5000000};
 *     sp_ro_begin(c, &ro, &t, &err);          // lock-free, nearest replica
 *     sp_txn_read(t, "alice", 5, &v, &err);
 *     sp_txn_commit(t, &info, &err);          // info.ts = the read timestamp
 *
 * Routing: the client learns the cluster (zones, nodes, key ranges ->
 * groups, replicas) from any endpoint's Directory call or from a cluster
 * config file. Locking reads and commits go to the leader of the key's
 * group (following leader hints); lock-free reads go to the nearest replica
 * that can serve them (same zone first, then by configured latency).
 *
 * Errors (int return, 0 = success; err carries a message):
 *   SP_ETXN_ABORTED, SP_ETXN_WOUNDED   aborted: the transaction can never
 *                                      commit; retry the whole transaction
 *                                      (sp_run_txn does it with backoff)
 *   SP_ETXN_UNKNOWN                    the commit may or may not have taken
 *                                      effect: no leader could answer from
 *                                      the group's log; do not blindly retry
 * A commit whose call is lost (or whose leader loses its lease after
 * logging it) is asked again, at the next leader, with the request marked
 * as possibly sent before: that leader answers from the group's outcome
 * records, or logs its refusal before saying "aborted" (txn.h, "Answers").
 *   SP_ESP_UNAVAILABLE                 no node answered
 *   SP_ETXN_NOT_SAFE, SP_ETXN_TOO_OLD, SP_ETXN_TOO_LARGE, SP_EINVAL
 * A transaction that failed is finished: it is freed by the failing call
 * only if that call says so (commit and abort always free it).
 *
 * Threads: a client may be shared by threads; a transaction belongs to one
 * thread at a time. Threads sharing a client share its gRPC calls too: a
 * lock-free read, or the commit of a transaction that only wrote to one
 * group, that finds two calls to its node under way waits for one of them
 * to return (at most 5 ms) and then goes with every other request queued
 * meanwhile, in one call (up to 64). Each request keeps its own reply,
 * timestamp and outcome; only the number of calls changes. Under load this
 * cuts the CPU per read about threefold on both sides; one thread alone
 * never waits. sp_client_options.no_coalesce turns it off.
 */
#ifndef SPANNER_H
#define SPANNER_H

#include "sp_error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef int64_t sp_micros; /* microseconds since the Unix epoch */

struct sp_client;
struct sp_txn;

struct sp_client_options {
    const char *endpoints;   /* "host:port,host:port": any nodes; or NULL */
    const char *config_path; /* a cluster config file instead of endpoints */
    const char *zone;        /* the client's zone, for nearest-replica reads */
    int timeout_ms;          /* per call; default 10000 */
    /* Concurrent lock-free reads, and concurrent blind writes to one group,
     * from threads sharing this client go to a node in one call when a call
     * to it is already under way (each keeps its own reply and outcome);
     * true turns that off, so every request is its own call. */
    bool no_coalesce;
};

/* Opens a client. Returns 0, SP_EINVAL (no endpoints nor config; err says
 * which), SP_ESP_UNAVAILABLE (no endpoint answered Directory), SP_ECONFIG. */
int sp_client_open(const struct sp_client_options *o, struct sp_client **out, struct sp_err *err);
void sp_client_close(struct sp_client *c);

/* A value read. data is malloc'd (owned by the caller; sp_value_clear). */
struct sp_value {
    bool found;   /* false: absent or deleted at the read timestamp */
    sp_micros ts; /* timestamp of the version read (0 if none) */
    uint8_t *data;
    size_t len;
};
void sp_value_clear(struct sp_value *v);

/* Begins a read-write transaction (priority = its start time). */
int sp_txn_begin(struct sp_client *c, struct sp_txn **out, struct sp_err *err);

struct sp_ro_options {
    sp_micros read_ts;          /* > 0: snapshot read at exactly this time */
    sp_micros max_staleness_us; /* > 0: newest timestamp within the bound */
    /* neither: a strong read-only transaction */
    /* Strong only: the transaction reads keys of one group. Its leader then
     * picks s_read = LastTS() when nothing is prepared (Spanner §4.2.2), so
     * the read does not wait for safe time to pass TT.now().latest. A read
     * of another group fails with SP_EINVAL. */
    bool single_group;
};

/* Begins a read-only transaction: no locks, served by replicas. */
int sp_ro_begin(struct sp_client *c, const struct sp_ro_options *o, struct sp_txn **out,
                struct sp_err *err);

/* Reads key (read-your-writes inside a read-write transaction). In a
 * read-write transaction the read locks key at its group's leader, at most
 * 64 distinct keys per group (SP_EINVAL beyond); the commit names them
 * again and fails with SP_ETXN_ABORTED if a leader no longer holds one (a
 * leader change or an idle expiry in between): retry the transaction. */
int sp_txn_read(struct sp_txn *t, const void *key, size_t klen, struct sp_value *out,
                struct sp_err *err);

/* A row of a scan; pointers valid only during the callback. */
struct sp_row {
    const uint8_t *key, *value;
    size_t key_len, value_len;
    sp_micros ts; /* timestamp of the version */
};
/* Return non-zero to stop the scan (sp_txn_scan then returns that value). */
typedef int (*sp_row_fn)(void *ctx, const struct sp_row *row);

/*
 * Scans [start, end) in key order (end_len 0: to the end of the key space)
 * in a read-only transaction, at its timestamp (the first read or scan
 * fixes it), calling fn for each of at most `limit` rows (0: no limit),
 * across every group the range covers. Read-write transactions cannot
 * scan (no range locks): SP_EINVAL.
 */
int sp_txn_scan(struct sp_txn *t, const void *start, size_t start_len, const void *end,
                size_t end_len, uint64_t limit, sp_row_fn fn, void *ctx, struct sp_err *err);

/* Buffers a write or delete (read-write only; sent at commit). */
int sp_txn_write(struct sp_txn *t, const void *key, size_t klen, const void *val, size_t vlen,
                 struct sp_err *err);
int sp_txn_delete(struct sp_txn *t, const void *key, size_t klen, struct sp_err *err);

struct sp_commit_info {
    sp_micros ts;             /* commit timestamp, or the read timestamp (RO) */
    sp_micros commit_wait_us; /* time the server held the reply (commit wait) */
    sp_micros paxos_us;       /* the commit record's Paxos write at the leader: proposed
                               * -> applied (commit wait overlaps it) */
    uint32_t groups;          /* groups in the commit (2PC if > 1) */
};

/* Keeps a read-write transaction's locks alive at every group it touched
 * (idle transactions expire after 10 s at the leaders). Call it when the
 * application may pause; returns 0, or the status the transaction ended with
 * (SP_ETXN_WOUNDED, SP_ETXN_ABORTED). A no-op for read-only transactions. */
int sp_txn_keepalive(struct sp_txn *t, struct sp_err *err);

/* Commits (read-write) or finishes (read-only); frees t either way. */
int sp_txn_commit(struct sp_txn *t, struct sp_commit_info *info, struct sp_err *err);
/* Aborts and frees t, releasing its locks. */
void sp_txn_abort(struct sp_txn *t);

/* Runs fn in a read-write transaction, retrying aborted/wounded attempts
 * with exponential backoff (keeping the first attempt's priority) up to
 * max_attempts. fn returns 0 to commit, non-zero to abort with that code. */
typedef int (*sp_txn_fn)(void *ctx, struct sp_txn *t, struct sp_err *err);
int sp_run_txn(struct sp_client *c, sp_txn_fn fn, void *ctx, int max_attempts,
               struct sp_commit_info *info, struct sp_err *err);

/*
 * Asynchronous single-key operations, for one thread that keeps many in
 * flight (an event loop) instead of a thread per request. Each start call
 * returns at once; requests to one node share gRPC calls (up to 64 a call,
 * two calls under way per node and kind, the rest queued for the next
 * call), and each operation's outcome comes back from sp_async_next.
 *
 *   sp_async_put  a blind write of one key: a read-write transaction with
 *                 one write, committed in its group by one Paxos write
 *                 (what sp_run_txn with one sp_txn_write does). Outcome:
 *                 info (ts, commit_wait_us, paxos_us; groups = 1).
 *   sp_async_get  a read of one key: strong (max_staleness_us 0: at the
 *                 group's leader, s_read = LastTS() when nothing is
 *                 prepared, as sp_ro_options.single_group) or stale (the
 *                 newest timestamp within max_staleness_us, at the nearest
 *                 replica that can serve it). Outcome: value (info.ts is
 *                 the read timestamp).
 *
 * A start call fails only on bad arguments (SP_EINVAL) or memory
 * (SP_ENOMEM); then no outcome comes. Otherwise exactly one does.
 * sp_async_next sends what was started, then waits up to timeout_ms (0:
 * only looks) for one operation to finish: returns 1 with *out filled
 * (out->value's data is the caller's: sp_value_clear), or 0. Operations
 * make progress only while a thread is inside sp_async_next. Leader hints
 * are followed and unreachable nodes skipped, as the synchronous calls do,
 * up to 12 attempts; an operation that still has no answer ends with
 * SP_ESP_UNAVAILABLE, and a put whose call was lost after it was sent with
 * SP_ETXN_UNKNOWN (it may have committed).
 *
 * Threads: the sp_async_* calls of one client must come from one thread at
 * a time; other threads may use the synchronous calls meanwhile. Closing
 * the client cancels what is still in flight.
 */
struct sp_async_result {
    void *tag; /* as given to the start call */
    int rc;    /* 0, or an SP_E* code with err set */
    struct sp_err err;
    struct sp_value value;      /* sp_async_get */
    struct sp_commit_info info; /* sp_async_put; info.ts for gets too */
};
int sp_async_put(struct sp_client *c, const void *key, size_t klen, const void *val, size_t vlen,
                 void *tag, struct sp_err *err);
int sp_async_get(struct sp_client *c, const void *key, size_t klen, sp_micros max_staleness_us,
                 void *tag, struct sp_err *err);
int sp_async_next(struct sp_client *c, int timeout_ms, struct sp_async_result *out);
/* Operations started whose outcome sp_async_next has not returned yet. */
uint32_t sp_async_pending(const struct sp_client *c);

#endif /* SPANNER_H */

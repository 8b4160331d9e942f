/*
 * round.h - group commit for a node's driver thread: the updates of one
 * driver round share one RocksDB WriteBatch and one fsync; their messages
 * leave only after it (persist before send, paxos.h / txn.h), and then each
 * batch is reported PERSISTED, whose updates form the next round. Used by
 * spannerd and paxos-node. Private to spanner/; driver thread only.
 */
#ifndef SP_ROUND_H
#define SP_ROUND_H

#include "paxos_store.h"

#include <stdbool.h>
#include <stdint.h>

struct sp_round_ops {
    /* Hands one packed message to the network (status 0 only). */
    void (*send)(void *ctx, uint32_t to, const uint8_t *data, size_t len);
    /* The round's write finished with status: send what else waited on it
     * (client replies). May be NULL. */
    void (*written)(void *ctx, int status);
    /* More output waits for a round (client replies). May be NULL. */
    bool (*pending)(void *ctx);
    /* Reports one batch: step PAXOS_EV_PERSISTED (or the node's
     * equivalent); its update may add to the round. */
    void (*persisted)(void *ctx, uint64_t group, uint64_t seq, int status);
    /* Called before a write that persists a log truncation (an update with
     * truncate_through > 0): make the application's state durable through
     * the snapshot it reported (txn_store_sync). Returns 0 or an SP_E*
     * code, which fails the round's write like a failed fsync. May be NULL
     * (the application syncs every apply itself). */
    int (*before_truncate)(void *ctx);
};

struct sp_round_msg {
    uint32_t to;
    size_t len;
    uint8_t *data;
};

struct sp_round_done {
    uint64_t group;
    uint64_t seq;
};

struct sp_round {
    rocksdb_writebatch_t *wb;
    bool dirty, sync, truncates;
    uint32_t max, n_msgs, n_done;
    struct sp_round_msg *msgs;
    struct sp_round_done *done, *scratch;
};

/* max bounds messages and batches per round. Returns 0 or SP_ENOMEM. */
int sp_round_init(struct sp_round *r, uint32_t max);
void sp_round_destroy(struct sp_round *r);

/* Adds the persist part of one update of `group` (nothing if persist_seq is
 * 0). */
void sp_round_persist(struct sp_round *r, uint64_t group, const struct paxos_update *pu);

/* Queues a packed message (owned by the round from now on). False, and the
 * message dropped, when the round is full (Paxos and 2PC resend). */
bool sp_round_msg(struct sp_round *r, uint32_t to, uint8_t *data, size_t len);

/* Ends rounds until nothing waits (at most 64 per call): ops->before_truncate
 * if the round truncates a log, then one write, fsynced if any update asked;
 * then the messages (only if the write succeeded) and ops->written; then
 * ops->persisted for every batch. */
void sp_round_flush(struct sp_round *r, struct paxos_store *store, const struct sp_round_ops *ops,
                    void *ctx);

#endif

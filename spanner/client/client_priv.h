/*
 * client_priv.h - libspanner's client as its own files see it: the client
 * structure and the helpers that client.c (transactions) and async.c
 * (asynchronous single-key operations) share. Private to libspanner.
 */
#ifndef SP_CLIENT_PRIV_H
#define SP_CLIENT_PRIV_H

#include "config.h"
#include "lane.h"
#include "spanner.h"
#include "txn.pb-c.h"
#include "workers.h"

#include <grpc/grpc.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define ATTEMPTS_MAX 12 /* calls one request makes before it gives up */

struct sp_async; /* async.c */

/*
 * The lanes a request may share a Requests call in (lane.h). The rule is
 * that no request in a lane waits for another request of the same lane:
 * lock-free reads wait only for safe time (promises, and prepared
 * transactions whose PREPARE and COMMIT never travel in a lane), and a
 * blind single-group commit holds no lock before it is sent, so the locks
 * it may wait for belong to transactions whose requests are not in a lane
 * or have already been granted. Locking reads, 2PC messages and commits
 * after reads go alone (LANE_NONE).
 */
enum { LANE_READ, LANE_WRITE, LANE_KINDS, LANE_NONE = -1 };

struct sp_client {
    struct sp_cluster_conf conf;
    int zone; /* index in conf.zones, -1 unknown */
    int timeout_ms;
    grpc_channel *ch[SP_NODES_MAX];
    _Atomic uint32_t leader[SP_GROUPS_MAX]; /* guessed leader node per group index */
    bool coalesce;
    struct sp_lane lanes[SP_NODES_MAX][LANE_KINDS]; /* lane.h */
    struct sp_workers workers;                      /* commits' PREPAREs (workers.h) */
    struct sp_async *async;                         /* async.c; NULL until first used */
};

/* Index of node `id` in conf.nodes, or -1. */
int sp__node_index(const struct sp_client *c, uint32_t id);
/* The next voter of group gidx after `node` (round robin). */
uint32_t sp__next_voter(const struct sp_client *c, uint32_t gidx, uint32_t node);
/* `node` did not serve a request for group gidx's leader (unreachable, or
 * NOT_LEADER with leader hint `hint`, 0 for none): the guess moves to the
 * hint, or else to the next voter, unless another request moved it
 * already. */
void sp__leader_moved(struct sp_client *c, uint32_t gidx, uint32_t node, uint32_t hint);
/* A reply's status, with err set from it when not 0. */
int sp__reply_rc(const struct sp_client *c, uint32_t gidx, const Spanner__Txn__Reply *rep,
                 struct sp_err *err);
/* The index of the group holding key. */
uint32_t sp__group_index(const struct sp_client *c, const void *key, size_t klen);
/* Replicas of group gidx, nearest first; returns how many (out holds
 * SP_REPLICAS_MAX * 2). */
uint32_t sp__replicas_by_distance(const struct sp_client *c, uint32_t gidx, uint32_t *out);
/* The single value of a read's reply into out (0, or SP_ESP_PROTOCOL). */
int sp__take_value(Spanner__Txn__Reply *rep, struct sp_value *out, struct sp_err *err);
sp_micros sp__realtime_us(void);
/* A new transaction id: random, never 0. */
uint64_t sp__txn_id_new(void);

/* async.c: cancels and frees what sp_async_* left (sp_client_close). */
void sp__async_close(struct sp_client *c);

#endif

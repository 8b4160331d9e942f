/*
 * plog_client.h - a client of paxos-node's replicated-log service, for the
 * multi-process tests, paxos-ctl and paxos-bench. Private to spanner/.
 *
 * Proposals go to the node believed to lead; a retryable refusal (not the
 * leader, busy, clock unknown) moves on to the hinted leader or the next
 * node until the deadline. Thread-safe: channels are shared, the leader
 * guess is an atomic.
 */
#ifndef SP_PLOG_CLIENT_H
#define SP_PLOG_CLIENT_H

#include "paxoslog.pb-c.h"
#include "rpc.h"

#include <stdatomic.h>
#include <stdint.h>

#define PLOG_NODES_MAX 16

struct plog_client {
    uint32_t n;
    uint32_t ids[PLOG_NODES_MAX];
    char addrs[PLOG_NODES_MAX][64];
    grpc_channel *ch[PLOG_NODES_MAX];
    _Atomic uint32_t leader; /* index into ids */
};

/* endpoints: "1=127.0.0.1:7001,2=127.0.0.1:7002". Returns 0 or SP_EINVAL. */
int plog_open(const char *endpoints, struct plog_client *c, struct sp_err *err);
void plog_close(struct plog_client *c);

/*
 * Proposes data to group; retries retryable refusals until timeout_ms.
 * Returns 0 with *slot; SP_ETIMEDOUT (never accepted: not committed by us),
 * SP_ETXN_UNKNOWN (a node accepted it but the answer was lost or timed out:
 * it may or may not commit), or SP_EINVAL (refused as invalid).
 */
int plog_propose(struct plog_client *c, uint64_t group, const void *data, size_t len,
                 int timeout_ms, uint64_t *slot, struct sp_err *err);

/* Status of node index i. *out is freed with
 * spanner__paxoslog__status_reply__free_unpacked. */
int plog_status(struct plog_client *c, uint32_t i, Spanner__Paxoslog__StatusReply **out,
                struct sp_err *err);

/* Calls fn for each applied proposal of group at node index i, in slot
 * order (data includes the 8-byte proposal id). */
typedef void (*plog_entry_fn)(void *ctx, uint64_t slot, uint32_t index, const uint8_t *data,
                              size_t len);
int plog_read(struct plog_client *c, uint32_t i, uint64_t group, plog_entry_fn fn, void *ctx,
              struct sp_err *err);

/* Index of the node that currently reports itself leader of group, or -1. */
int plog_find_leader(struct plog_client *c, uint64_t group);

#endif

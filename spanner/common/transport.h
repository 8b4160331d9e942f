/*
 * transport.h - node-to-node message transport over gRPC. Private to
 * spanner/.
 *
 * Each node sends packed envelopes (proto/node.proto) to its peers. Per peer
 * there is one bounded FIFO queue and one sender thread that takes whatever
 * is due and sends it as one Batch on a stream that stays open (batching),
 * while new messages keep queueing behind the batch being sent.
 *
 * Emulated WAN: a message to a peer becomes due `delay_us` after it was
 * queued, delay_us being the one-way latency configured between the two
 * nodes' zones (0 = off, the default for real deployments). All messages to
 * one peer share a delay, so FIFO order is due order.
 *
 * Delivery is at most once and may drop (queue full, peer down, call
 * failed): Paxos and 2PC retransmit, so the transport never retries.
 *
 * Threads: sp_transport_send may be called from any thread. on_envelope is
 * called on gRPC worker threads, one batch at a time per worker, in the
 * order of the batch.
 */
#ifndef SP_TRANSPORT_H
#define SP_TRANSPORT_H

#include "rpc.h"
#include "truetime.h"

#include <stdint.h>

#define SP_TRANSPORT_PEERS_MAX 64
#define SP_DELIVER_PATH        "/spanner.node.Node/Deliver"
#define SP_STREAM_PATH         "/spanner.node.Node/Stream"

struct sp_transport_peer {
    uint32_t node;
    char addr[64];
    tt_micros delay_us; /* emulated one-way latency to this peer */
};

typedef void (*sp_envelope_fn)(void *ctx, uint32_t from_node, const uint8_t *env, size_t len);

struct sp_transport_config {
    uint32_t self;
    uint32_t n_peers;
    struct sp_transport_peer peers[SP_TRANSPORT_PEERS_MAX];
    uint32_t queue_max; /* envelopes queued per peer; default 8192 */
    uint32_t batch_max; /* envelopes per Batch; default 512 */
    /* How long a Batch may wait for gRPC to take it (the peer stopped
     * reading: the stream is given up); default 1000 */
    int call_timeout_ms;
    sp_envelope_fn on_envelope;
    void *ctx;
};

struct sp_transport;

struct sp_transport_stats {
    uint64_t sent, dropped_full, dropped_failed, batches, received;
};

void sp_transport_config_init(struct sp_transport_config *cfg);

/* Registers Stream and Deliver on `server` (before it starts) and starts
 * one sender thread per peer. Returns 0, SP_EINVAL (bad config), SP_ENOMEM. */
int sp_transport_create(const struct sp_transport_config *cfg, struct sp_rpc_server *server,
                        struct sp_transport **out, struct sp_err *err);

/* Queues a packed envelope (copied) for `to` and wakes its sender. Returns
 * 0, SP_ENOTFOUND (unknown peer) or SP_EFULL (queue full: dropped). */
int sp_transport_send(struct sp_transport *t, uint32_t to, const uint8_t *env, size_t len);

/* The same without waking the sender: what is queued leaves at the next
 * sp_transport_push (or with a later send). A caller producing several
 * envelopes at once queues them all, then pushes, so that they leave in
 * one Batch per peer rather than the first alone and the rest behind it. */
int sp_transport_queue(struct sp_transport *t, uint32_t to, const uint8_t *env, size_t len);

/* Wakes the sender of every peer with envelopes queued. */
void sp_transport_push(struct sp_transport *t);

void sp_transport_stats(struct sp_transport *t, struct sp_transport_stats *out);

/* Stops the sender threads and closes their streams; drops what is queued.
 * Destroy the rpc server first, so no incoming Batch can reach a freed
 * transport. */
void sp_transport_destroy(struct sp_transport *t);

#endif /* SP_TRANSPORT_H */

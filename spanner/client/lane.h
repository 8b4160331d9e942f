/*
 * lane.h - coalescing of concurrent client requests to one node (client.c).
 *
 * A lane is one node and one kind of request. A request that finds its lane
 * idle (fewer than SP_LANE_INFLIGHT calls under way, nobody queued) goes out
 * alone at once, so a single client pays nothing. One that finds it busy
 * queues; when a call of the lane returns, the oldest queued request takes
 * every queued request (up to SP_LANE_BATCH_MAX) into one Requests call and
 * hands each its own reply. Under load, 64 threads' requests thus cost a
 * few gRPC calls instead of 64, on both sides.
 *
 * A queued request never waits more than SP_LANE_WAIT_US for a call to
 * return: past that it leaves with whatever is queued, whatever is in
 * flight. Callers must only put in a lane requests whose answer does not
 * depend on another request of the same lane being answered first (the
 * server answers a Requests call once its last request is answered); the
 * bound keeps a violation of that rule a delay, not a deadlock.
 */
#ifndef SP_LANE_H
#define SP_LANE_H

#include "sp_error.h"
#include "txn.pb-c.h"
#include "txn_codec.h"

#include <grpc/grpc.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#define SP_LANE_INFLIGHT  2        /* calls under way before requests queue */
#define SP_LANE_BATCH_MAX SP_REQUESTS_MAX
#define SP_LANE_WAIT_US   (5 * 1000)

struct sp_lane_waiter;

struct sp_lane {
    pthread_mutex_t mu;
    struct sp_lane_waiter *head, *tail; /* queued, oldest first */
    uint32_t inflight;                  /* calls under way */
    int promoted;                       /* a queued waiter was told to lead */
    /* statistics, under mu */
    uint64_t calls, batched_calls, batched_requests, timeouts;
};

void sp_lane_init(struct sp_lane *l);
void sp_lane_destroy(struct sp_lane *l);

/* One Requests call of reqs[0..n) (packed Requests, n <= SP_REQUESTS_MAX):
 * 0 with *out (n Replies, in order; free with
 * spanner__txn__replies__free_unpacked), or a transport error, or
 * SP_ESP_PROTOCOL when the answer is not n Replies. */
int sp_requests_call(grpc_channel *ch, const ProtobufCBinaryData *reqs, uint32_t n,
                     int timeout_ms, Spanner__Txn__Replies **out, struct sp_err *err);

/* One request (packed txn Request bytes) to the channel's node through the
 * lane. Returns what sp_rpc_call would for this request alone: 0 with
 * *resp (malloc'd packed Reply, *resp_len bytes) or a transport error. */
int sp_lane_call(struct sp_lane *l, grpc_channel *ch, const uint8_t *req, size_t len,
                 int timeout_ms, uint8_t **resp, size_t *resp_len, struct sp_err *err);

#endif

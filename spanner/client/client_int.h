/*
 * client_int.h - what the spanner CLI needs from libspanner beyond its
 * public header. Private to spanner/.
 */
#ifndef SP_CLIENT_INT_H
#define SP_CLIENT_INT_H

#include "config.h"
#include "spanner.h"
#include "txn.pb-c.h"

/* The cluster as the client knows it (valid while the client is open). */
const struct sp_cluster_conf *sp__client_conf(const struct sp_client *c);

/* Status of node index i (conf.nodes[i]); free *out with
 * spanner__txn__status_reply__free_unpacked. */
int sp__client_status(struct sp_client *c, uint32_t i, Spanner__Txn__StatusReply **out,
                      struct sp_err *err);

/* Calls made through the client's lanes (lane.h), summed over all lanes:
 * calls (each a Request or a Requests call), how many of them carried
 * several requests and how many requests those carried, and how many
 * queued requests left on their own after SP_LANE_WAIT_US. */
struct sp__lane_stats {
    uint64_t calls, batched_calls, batched_requests, timeouts;
};
void sp__client_lane_stats(struct sp_client *c, struct sp__lane_stats *out);

/* Requests calls the asynchronous operations started, and the requests
 * they carried (a request sent again counts again). */
void sp__client_async_stats(struct sp_client *c, uint64_t *calls, uint64_t *requests);

#endif

/*
 * inbox.h - the queue between gRPC worker threads and a node's driver
 * thread. Workers push (copying the bytes); the driver takes everything
 * queued at once, waiting up to a deadline when empty. Bounded: a push to a
 * full or stopped inbox fails and the caller answers UNAVAILABLE. Private
 * to spanner/.
 */
#ifndef SP_INBOX_H
#define SP_INBOX_H

#include "rpc.h"
#include "truetime.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct sp_inbox_item {
    int kind;                  /* the driver's own tag */
    struct sp_rpc_call *call;  /* NULL for one-way messages */
    uint8_t *data;
    size_t len;
    struct sp_inbox_item *next;
};

struct sp_inbox {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct sp_inbox_item *head, *tail;
    uint32_t len, max;
    bool stopped;
};

void sp_inbox_init(struct sp_inbox *ib, uint32_t max);
void sp_inbox_destroy(struct sp_inbox *ib); /* frees what is still queued */

/* Copies data; false (nothing queued) if the inbox is full or stopped. */
bool sp_inbox_push(struct sp_inbox *ib, int kind, struct sp_rpc_call *call, const uint8_t *data,
                   size_t len);

/* Takes every queued item (oldest first), waiting up to wait_us when there
 * is none. *stopped reports sp_inbox_stop. Free with sp_inbox_free. */
struct sp_inbox_item *sp_inbox_take(struct sp_inbox *ib, tt_micros wait_us, bool *stopped);
void sp_inbox_free(struct sp_inbox_item *it);

void sp_inbox_stop(struct sp_inbox *ib);

/* For a node's main(): blocks SIGTERM and SIGINT in the calling thread (call
 * it before any other thread starts, so they inherit the mask) and starts a
 * detached thread that stops the inbox on the first of them. ib must live
 * until the process exits. Returns 0 or SP_ENOMEM. */
int sp_inbox_stop_on_signals(struct sp_inbox *ib);

/*
 * Ready-made handlers that only push: register an RPC method with
 * sp_inbox_rpc_handler, or the transport's envelope callback with
 * sp_inbox_envelope_handler, passing a route (which inbox, which kind) as
 * ctx; the route must outlive the server. A call that cannot be queued is
 * answered UNAVAILABLE at once.
 */
struct sp_inbox_route {
    struct sp_inbox *ib;
    int kind;
};
void sp_inbox_rpc_handler(void *route, struct sp_rpc_call *call, const uint8_t *req, size_t len);
void sp_inbox_envelope_handler(void *route, uint32_t from, const uint8_t *env, size_t len);

#endif

/*
 * rpc.h - a thin layer over the gRPC C core for unary calls (and one-way
 * client streams) carrying protobuf-c bytes. Private to spanner/.
 *
 * Server: register methods by path ("/spanner.node.Node/Deliver") with a
 * handler; the handler gets the request bytes and a call handle, and answers
 * with sp_rpc_reply() either before returning or later from any thread
 * (exactly once per call). Requests are served by `threads` workers on one
 * completion queue; a handler must not block for long (it holds a worker).
 *
 * Client: sp_rpc_call() makes one blocking unary call on a channel. Channels
 * are thread-safe; many threads may call at once.
 *
 * Lifetimes: request bytes passed to a handler are valid until
 * sp_rpc_reply() for that call; response bytes returned by sp_rpc_call() are
 * malloc'd and owned by the caller.
 */
#ifndef SP_RPC_H
#define SP_RPC_H

#include "sp_error.h"

#include <grpc/grpc.h>
#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

#define SP_RPC_METHODS_MAX 16
#define SP_RPC_THREADS_MAX 8
#define SP_RPC_MSG_MAX     (64 << 20) /* largest message either way */

struct sp_rpc_server;
struct sp_rpc_call;

typedef void (*sp_rpc_handler_fn)(void *ctx, struct sp_rpc_call *call, const uint8_t *req,
                                  size_t len);
/* One message of a client stream (valid during the call). */
typedef void (*sp_rpc_stream_fn)(void *ctx, const uint8_t *msg, size_t len);

/* Starts listening on addr ("127.0.0.1:0" picks a port). Methods are
 * registered before start. Returns 0, SP_EIO (cannot bind; err names addr),
 * SP_ENOMEM. */
int sp_rpc_server_create(const char *addr, struct sp_rpc_server **out, struct sp_err *err);
int sp_rpc_server_add_method(struct sp_rpc_server *s, const char *path, sp_rpc_handler_fn fn,
                             void *ctx);
/* A client-streaming method: each message of each stream reaches fn on a
 * worker thread, a stream's messages one at a time and in order. The
 * stream is answered OK when the client ends it; nothing else goes back. */
int sp_rpc_server_add_stream(struct sp_rpc_server *s, const char *path, sp_rpc_stream_fn fn,
                             void *ctx);
int sp_rpc_server_start(struct sp_rpc_server *s, int threads, struct sp_err *err);
int sp_rpc_server_port(const struct sp_rpc_server *s);
/* Stops accepting, cancels calls in flight, joins workers, frees. Calls not
 * yet replied to are cancelled; their later sp_rpc_reply is then a no-op
 * only if made before this returns. Stop callers first. */
void sp_rpc_server_destroy(struct sp_rpc_server *s);

/* Answers a call: status GRPC_STATUS_OK with resp bytes (copied), or an
 * error status with a message (resp ignored). Exactly once per call. */
void sp_rpc_reply(struct sp_rpc_call *call, grpc_status_code status, const uint8_t *resp,
                  size_t len, const char *message);

/* sp_rpc_reply with GRPC_STATUS_OK and the protobuf-c message m, packed. */
void sp_rpc_reply_msg(struct sp_rpc_call *call, const ProtobufCMessage *m);

/* Client side. */
grpc_channel *sp_rpc_channel(const char *target);
/*
 * One unary call with a timeout. Returns 0 with *resp (malloc'd, may be
 * NULL when len 0) and *resp_len; SP_ESP_UNAVAILABLE (peer down, deadline
 * exceeded) or SP_ESP_PROTOCOL (the server answered an error status; err
 * carries its message).
 */
int sp_rpc_call(grpc_channel *ch, const char *path, const uint8_t *req, size_t len, int timeout_ms,
                uint8_t **resp, size_t *resp_len, struct sp_err *err);

/*
 * One unary call that does not block: start posts `tag` on cq (any
 * completion queue: next, or pluck by tag) when the call is over, whatever
 * its outcome;
 * then finish (exactly once, after that event) returns what sp_rpc_call
 * would have and frees the call. start returns NULL when the call could not
 * start (no event comes; count it as SP_ESP_UNAVAILABLE). path must
 * outlive the call (finish names it in errors). cancel makes a
 * started call end soon (its event still comes; finish then reports the
 * call failed). sp_rpc_call is this, waited for.
 */
struct sp_rpc_acall;
struct sp_rpc_acall *sp_rpc_acall_start(grpc_channel *ch, const char *path, const uint8_t *req,
                                        size_t len, int timeout_ms, grpc_completion_queue *cq,
                                        void *tag);
void sp_rpc_acall_cancel(struct sp_rpc_acall *a);
int sp_rpc_acall_finish(struct sp_rpc_acall *a, uint8_t **resp, size_t *resp_len,
                        struct sp_err *err);

/*
 * A one-way stream of messages to a streaming method, for one thread at a
 * time. Opening never fails (a dead peer shows at the first send).
 * sp_rpc_stream_send returns once gRPC has taken the message (not once the
 * peer has it): 0, or SP_ESP_UNAVAILABLE when the stream is over or the
 * message was not taken within timeout_ms (the receiver stopped reading).
 * After an error, close the stream and open another. Close cancels.
 */
struct sp_rpc_stream;
struct sp_rpc_stream *sp_rpc_stream_open(grpc_channel *ch, const char *path);
int sp_rpc_stream_send(struct sp_rpc_stream *st, const uint8_t *msg, size_t len, int timeout_ms,
                       struct sp_err *err);
void sp_rpc_stream_close(struct sp_rpc_stream *st);

/* Reference-counted grpc_init/grpc_shutdown for this process. */
void sp_rpc_init(void);
void sp_rpc_shutdown(void);

#endif /* SP_RPC_H */

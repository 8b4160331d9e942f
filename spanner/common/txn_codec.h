/*
 * txn_codec.h - the node core's messages, requests and replies on the wire
 * (proto/node.proto, proto/txn.proto). Private to spanner/.
 *
 * Decoders validate every count against the core's limits and answer
 * SP_EINVAL with a message naming the field, so a malformed request from a
 * client is a clear error and never reaches the core.
 */
#ifndef SP_TXN_CODEC_H
#define SP_TXN_CODEC_H

#include "paxos_codec.h"
#include "txn.h"

#include <stddef.h>
#include <stdint.h>

/* The client's calls (proto/txn.proto): one Request, or a Requests list of
 * at most SP_REQUESTS_MAX packed Requests answered in one Replies. */
#define SP_REQUEST_PATH  "/spanner.txn.Spanner/Request"
#define SP_REQUESTS_PATH "/spanner.txn.Spanner/Requests"
#define SP_REQUESTS_MAX  64

/* ---- node to node -------------------------------------------------------- */

/* Packs one outbound message of the node core into a malloc'd Envelope. */
int sp_node_msg_pack(const struct txn_node_msg *m, uint8_t **out, size_t *len);

struct sp_node_decoded {
    bool is_paxos;
    uint64_t group;
    struct sp_paxos_decoded paxos; /* is_paxos */
    struct txn_msg txn;            /* !is_paxos */
    void *pb;
};

/* Returns 0, SP_ECORRUPT (not an envelope, or neither/both payloads). */
int sp_node_msg_unpack(const uint8_t *data, size_t len, struct sp_node_decoded *out,
                       struct sp_err *err);
void sp_node_decoded_free(struct sp_node_decoded *d);

/* ---- client requests and replies ---------------------------------------- */

struct sp_request_decoded {
    struct txn_request req;
    struct txn_key keys[TXN_REQ_KEYS_MAX];
    struct txn_write writes[TXN_REQ_WRITES_MAX];
    txn_group_id parts[TXN_PARTICIPANTS_MAX];
    void *pb;
};

/* Returns 0, or SP_EINVAL (err names what is wrong). Pointers in out->req
 * point into out and stay valid until sp_request_decoded_free. */
int sp_request_unpack(const uint8_t *data, size_t len, struct sp_request_decoded *out,
                      struct sp_err *err);
void sp_request_decoded_free(struct sp_request_decoded *d);

/* Client side: packs a request into malloc'd bytes. */
int sp_request_pack(const struct txn_request *req, uint8_t **out, size_t *len);

/* Sets `retry` in an already packed Request (*buf, *len; realloc'd): a
 * COMMIT resent after an earlier copy may have been taken. Appends the
 * field, which protobuf's merge rule (the last value of a scalar field
 * wins) makes the request's value. Returns 0 or SP_ENOMEM. */
int sp_request_mark_retry(uint8_t **buf, size_t *len);

/* Packs a reply (error: message for a non-zero status, may be NULL). */
int sp_reply_pack(const struct txn_reply *r, const char *error, tt_micros commit_wait_us,
                  uint8_t **out, size_t *len);

#endif

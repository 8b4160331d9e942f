/*
 * paxos_codec.h - struct paxos_msg <-> packed Envelope (proto/node.proto).
 * Private to spanner/.
 */
#ifndef SP_PAXOS_CODEC_H
#define SP_PAXOS_CODEC_H

#include "paxos.h"

#include <stddef.h>
#include <stdint.h>

/* Packs msg for group into malloc'd *out / *len. Returns 0 or SP_ENOMEM. */
int sp_paxos_pack(uint64_t group, const struct paxos_msg *msg, uint8_t **out, size_t *len);

/* A decoded envelope. msg and its entries point into memory owned by this
 * object; valid until sp_paxos_decoded_free. */
struct sp_paxos_decoded {
    uint64_t group;
    struct paxos_msg msg;
    struct paxos_entry *entries;
    void *pb; /* the unpacked protobuf message */
};

/* Returns 0, or SP_ECORRUPT (not an envelope, or no paxos message, or a
 * field out of range; err says which). */
int sp_paxos_unpack(const uint8_t *data, size_t len, struct sp_paxos_decoded *out,
                    struct sp_err *err);
void sp_paxos_decoded_free(struct sp_paxos_decoded *d);

/* Decodes an already unpacked Spanner__Paxos__Message (pb_msg; it must
 * outlive *out, whose pb stays NULL so free does not release it). */
int sp_paxos_from_pb(const void *pb_msg, uint64_t group, struct sp_paxos_decoded *out,
                     struct sp_err *err);

#endif /* SP_PAXOS_CODEC_H */

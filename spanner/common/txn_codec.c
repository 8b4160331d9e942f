/*
 * txn_codec.c - see txn_codec.h.
 */
#include "txn_codec.h"
#include "node.pb-c.h"
#include "sp_assert.h"
#include "txn.pb-c.h"

#include <stdlib.h>
#include <string.h>

static int pack_envelope(Spanner__Node__Envelope *env, uint8_t **out, size_t *len)
{
    size_t n = spanner__node__envelope__get_packed_size(env);
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf)
        return SP_ENOMEM;
    size_t w = spanner__node__envelope__pack(env, buf);
    SP_ASSERT(w == n);
    *out = buf;
    *len = n;
    return 0;
}

int sp_node_msg_pack(const struct txn_node_msg *m, uint8_t **out, size_t *len)
{
    SP_ASSERT(m != NULL && out != NULL && len != NULL);
    if (m->is_paxos)
        return sp_paxos_pack(m->group, &m->paxos, out, len);
    const struct txn_msg *t = &m->txn;
    Spanner__Txn__TxnMessage tm = SPANNER__TXN__TXN_MESSAGE__INIT;
    tm.type = (uint32_t) t->type;
    tm.from = t->from;
    tm.to = t->to;
    tm.group = t->group;
    tm.from_group = t->from_group;
    tm.id = t->id;
    tm.ts = t->ts;
    tm.status = t->status;
    tm.index = t->index;
    Spanner__Node__Envelope env = SPANNER__NODE__ENVELOPE__INIT;
    env.group = t->group;
    env.from_node = t->from;
    env.to_node = t->to;
    env.txn = &tm;
    return pack_envelope(&env, out, len);
}

int sp_node_msg_unpack(const uint8_t *data, size_t len, struct sp_node_decoded *out,
                       struct sp_err *err)
{
    SP_ASSERT(out != NULL);
    memset(out, 0, sizeof *out);
    Spanner__Node__Envelope *env = spanner__node__envelope__unpack(NULL, len, data);
    if (!env)
        return SP_CORRUPT(err, "envelope: not a valid Envelope (%zu bytes)", len);
    int rc = 0;
    if ((env->paxos != NULL) == (env->txn != NULL)) {
        rc = SP_CORRUPT(err, "envelope: expected exactly one of paxos, txn");
    } else if (env->paxos) {
        out->is_paxos = true;
        rc = sp_paxos_from_pb(env->paxos, env->group, &out->paxos, err);
    } else {
        const Spanner__Txn__TxnMessage *t = env->txn;
        out->txn = (struct txn_msg){.type = (enum txn_msg_type) t->type, .from = t->from,
                                    .to = t->to, .group = t->group, .from_group = t->from_group,
                                    .id = t->id, .ts = t->ts, .status = t->status,
                                    .index = t->index};
    }
    if (rc) {
        spanner__node__envelope__free_unpacked(env, NULL);
        memset(out, 0, sizeof *out);
        return rc;
    }
    out->group = env->group;
    out->pb = env;
    return 0;
}

void sp_node_decoded_free(struct sp_node_decoded *d)
{
    if (!d)
        return;
    free(d->paxos.entries);
    if (d->pb)
        spanner__node__envelope__free_unpacked(d->pb, NULL);
    memset(d, 0, sizeof *d);
}

static int check_request(const Spanner__Txn__Request *pb, struct sp_err *err)
{
    if (pb->type < TXN_REQ_READ || pb->type > TXN_REQ_RO_SCAN)
        return sp_err_set(err, SP_EINVAL, "request: type %u is not a request type", pb->type);
    if (pb->n_keys > TXN_REQ_KEYS_MAX)
        return sp_err_set(err, SP_EINVAL, "request: %zu keys, at most %d", pb->n_keys,
                          TXN_REQ_KEYS_MAX);
    if (pb->n_writes > TXN_REQ_WRITES_MAX)
        return sp_err_set(err, SP_EINVAL, "request: %zu writes, at most %d", pb->n_writes,
                          TXN_REQ_WRITES_MAX);
    if (pb->n_participants >= TXN_PARTICIPANTS_MAX)
        return sp_err_set(err, SP_EINVAL, "request: %zu participant groups, at most %d",
                          pb->n_participants, TXN_PARTICIPANTS_MAX - 1);
    for (size_t i = 0; i < pb->n_writes; i++)
        if (pb->writes[i]->kind != TXN_WRITE_PUT && pb->writes[i]->kind != TXN_WRITE_DELETE)
            return sp_err_set(err, SP_EINVAL, "request: write %zu: kind %u (1 put, 2 delete)",
                              i, pb->writes[i]->kind);
    bool ro = pb->type == TXN_REQ_RO_READ || pb->type == TXN_REQ_RO_SCAN;
    if (ro && (pb->mode < TXN_READ_STRONG_SINGLE || pb->mode > TXN_READ_STALE))
        return sp_err_set(err, SP_EINVAL, "request: read mode %u (1..4)", pb->mode);
    if (pb->type == TXN_REQ_RO_SCAN &&
        (pb->n_keys != 2 || pb->scan_limit < 1 || pb->scan_limit > TXN_REQ_SCAN_ROWS_MAX))
        return sp_err_set(err, SP_EINVAL,
                          "scan: expected 2 keys (start, end) and a limit of 1..%d rows, got %zu "
                          "keys and %u",
                          TXN_REQ_SCAN_ROWS_MAX, pb->n_keys, pb->scan_limit);
    return 0;
}

int sp_request_unpack(const uint8_t *data, size_t len, struct sp_request_decoded *out,
                      struct sp_err *err)
{
    SP_ASSERT(out != NULL);
    memset(&out->req, 0, sizeof out->req);
    out->pb = NULL;
    Spanner__Txn__Request *pb = spanner__txn__request__unpack(NULL, len, data);
    if (!pb)
        return sp_err_set(err, SP_EINVAL, "request: not a valid Request message (%zu bytes)", len);
    int rc = check_request(pb, err);
    if (rc) {
        spanner__txn__request__free_unpacked(pb, NULL);
        return rc;
    }
    struct txn_request *r = &out->req;
    r->type = (enum txn_req_type) pb->type;
    r->group = pb->group;
    r->id = pb->id;
    r->start_ts = pb->start_ts;
    for (size_t i = 0; i < pb->n_keys; i++)
        out->keys[i] = (struct txn_key){pb->keys[i].data, pb->keys[i].len};
    r->keys_n = (uint32_t) pb->n_keys;
    r->keys = out->keys;
    for (size_t i = 0; i < pb->n_writes; i++)
        out->writes[i] = (struct txn_write){.kind = (enum txn_write_kind) pb->writes[i]->kind,
                                            .key = pb->writes[i]->key.data,
                                            .key_len = pb->writes[i]->key.len,
                                            .value = pb->writes[i]->value.data,
                                            .value_len = pb->writes[i]->value.len};
    r->writes_n = (uint32_t) pb->n_writes;
    r->writes = out->writes;
    r->coord_group = pb->coord_group;
    for (size_t i = 0; i < pb->n_participants; i++)
        out->parts[i] = pb->participants[i];
    r->participants_n = (uint32_t) pb->n_participants;
    r->participants = out->parts;
    r->mode = (enum txn_read_mode) pb->mode;
    r->read_ts = pb->read_ts;
    r->staleness_us = pb->staleness_us;
    r->scan_limit = pb->scan_limit;
    r->retry = pb->retry;
    out->pb = pb;
    return 0;
}

void sp_request_decoded_free(struct sp_request_decoded *d)
{
    if (d && d->pb)
        spanner__txn__request__free_unpacked(d->pb, NULL);
    if (d)
        d->pb = NULL;
}

int sp_request_mark_retry(uint8_t **buf, size_t *len)
{
    /* field 13, wire type 0 (varint): key (13 << 3) | 0, then the value 1 */
    static const uint8_t field[2] = {13 << 3, 1};
    uint8_t *b = realloc(*buf, *len + sizeof field);
    if (!b)
        return SP_ENOMEM;
    memcpy(b + *len, field, sizeof field);
    *buf = b;
    *len += sizeof field;
    return 0;
}

int sp_request_pack(const struct txn_request *r, uint8_t **out, size_t *len)
{
    SP_ASSERT(r != NULL && r->keys_n <= TXN_REQ_KEYS_MAX && r->writes_n <= TXN_REQ_WRITES_MAX);
    ProtobufCBinaryData keys[TXN_REQ_KEYS_MAX];
    Spanner__Txn__Write wr[TXN_REQ_WRITES_MAX], *wp[TXN_REQ_WRITES_MAX];
    uint64_t parts[TXN_PARTICIPANTS_MAX];
    Spanner__Txn__Request pb = SPANNER__TXN__REQUEST__INIT;
    pb.type = (uint32_t) r->type;
    pb.group = r->group;
    pb.id = r->id;
    pb.start_ts = r->start_ts;
    for (uint32_t i = 0; i < r->keys_n; i++)
        keys[i] = (ProtobufCBinaryData){r->keys[i].key_len, (uint8_t *) r->keys[i].key};
    pb.n_keys = r->keys_n;
    pb.keys = keys;
    for (uint32_t i = 0; i < r->writes_n; i++) {
        spanner__txn__write__init(&wr[i]);
        wr[i].kind = (uint32_t) r->writes[i].kind;
        wr[i].key = (ProtobufCBinaryData){r->writes[i].key_len, (uint8_t *) r->writes[i].key};
        wr[i].value =
            (ProtobufCBinaryData){r->writes[i].value_len, (uint8_t *) r->writes[i].value};
        wp[i] = &wr[i];
    }
    pb.n_writes = r->writes_n;
    pb.writes = wp;
    pb.coord_group = r->coord_group;
    SP_ASSERT(r->participants_n < TXN_PARTICIPANTS_MAX);
    for (uint32_t i = 0; i < r->participants_n; i++)
        parts[i] = r->participants[i];
    pb.n_participants = r->participants_n;
    pb.participants = parts;
    pb.mode = (uint32_t) r->mode;
    pb.read_ts = r->read_ts;
    pb.staleness_us = r->staleness_us;
    pb.scan_limit = r->scan_limit;
    pb.retry = r->retry;
    size_t n = spanner__txn__request__get_packed_size(&pb);
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf)
        return SP_ENOMEM;
    spanner__txn__request__pack(&pb, buf);
    *out = buf;
    *len = n;
    return 0;
}

int sp_reply_pack(const struct txn_reply *r, const char *error, tt_micros commit_wait_us,
                  uint8_t **out, size_t *len)
{
    SP_ASSERT(r != NULL && r->values_n <= TXN_REQ_SCAN_ROWS_MAX);
    _Static_assert(TXN_REQ_SCAN_ROWS_MAX >= TXN_REQ_KEYS_MAX, "a reply carries keys or rows");
    /* Up to TXN_REQ_SCAN_ROWS_MAX rows: on the heap, not the stack. */
    Spanner__Txn__Value *vals = calloc(r->values_n ? r->values_n : 1, sizeof *vals);
    Spanner__Txn__Value **vp = calloc(r->values_n ? r->values_n : 1, sizeof *vp);
    if (!vals || !vp) {
        free(vals);
        free(vp);
        return SP_ENOMEM;
    }
    for (uint32_t i = 0; i < r->values_n; i++) {
        spanner__txn__value__init(&vals[i]);
        vals[i].kind = (uint32_t) r->values[i].kind;
        vals[i].ts = r->values[i].ts;
        vals[i].value = (ProtobufCBinaryData){r->values[i].value_len,
                                              (uint8_t *) r->values[i].value};
        vals[i].key = (ProtobufCBinaryData){r->values[i].key_len, (uint8_t *) r->values[i].key};
        vp[i] = &vals[i];
    }
    Spanner__Txn__Reply pb = SPANNER__TXN__REPLY__INIT;
    pb.status = r->status;
    pb.error = (char *) (r->status ? (error ? error : sp_strerror(r->status)) : "");
    pb.id = r->id;
    pb.ts = r->ts;
    pb.leader_hint = r->leader_hint;
    pb.n_values = r->values_n;
    pb.values = vp;
    pb.commit_wait_us = commit_wait_us;
    pb.paxos_us = r->paxos_us;
    pb.more = r->more;
    pb.resume_key = (ProtobufCBinaryData){r->resume_key_len, (uint8_t *) r->resume_key};
    size_t n = spanner__txn__reply__get_packed_size(&pb);
    uint8_t *buf = malloc(n ? n : 1);
    if (buf)
        spanner__txn__reply__pack(&pb, buf);
    free(vals);
    free(vp);
    if (!buf)
        return SP_ENOMEM;
    *out = buf;
    *len = n;
    return 0;
}

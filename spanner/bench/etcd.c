/*
 * etcd.c - the `etcd` target: etcd v3 through its own gRPC API
 * (service etcdserverpb.KV, from the rpc.proto Debian's
 * golang-etcd-server-dev ships; protobuf-c code generated at build time).
 *
 *   put                Put{key, value}
 *   get                Range{key}                       linearizable (etcd's default)
 *   get-serializable   Range{key, serializable = true}  member-local, maybe stale
 *
 * Endpoints: "127.0.0.1:2379,127.0.0.1:22379,..." ("http://" prefixes are
 * accepted). connect asks every member for its Status and sends all
 * requests to the member that is the leader, as etcd's own benchmark does
 * by default and as our paxos-log client does; without a leader it uses
 * the first endpoint that answers. One gRPC channel (one HTTP/2
 * connection) carries every client thread's calls.
 */
#include "internal.h"
#include "rpc.pb-c.h"
#include "sp_assert.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ETCD_PUT_PATH    "/etcdserverpb.KV/Put"
#define ETCD_RANGE_PATH  "/etcdserverpb.KV/Range"
#define ETCD_STATUS_PATH "/etcdserverpb.Maintenance/Status"
#define ETCD_MEMBERS_MAX 16
#define ETCD_STATUS_MS   2000

struct etcd_conn {
    grpc_channel *ch;
    grpc_completion_queue *cq; /* asynchronous calls */
    char addr[128];
    int timeout_ms;
};

/* Status of one member: 0 with its own id and the leader it believes in. */
static int member_status(grpc_channel *ch, uint64_t *self, uint64_t *leader, struct sp_err *err)
{
    Etcdserverpb__StatusRequest req = ETCDSERVERPB__STATUS_REQUEST__INIT;
    uint8_t buf[8], *resp = NULL;
    size_t len = etcdserverpb__status_request__pack(&req, buf), resp_len = 0;
    int rc = sp_rpc_call(ch, ETCD_STATUS_PATH, buf, len, ETCD_STATUS_MS, &resp, &resp_len, err);
    if (rc)
        return rc;
    Etcdserverpb__StatusResponse *st = etcdserverpb__status_response__unpack(NULL, resp_len, resp);
    free(resp);
    if (!st)
        return SP_CORRUPT(err, "etcd: malformed StatusResponse");
    *self = st->header ? st->header->member_id : 0;
    *leader = st->leader;
    etcdserverpb__status_response__free_unpacked(st, NULL);
    return 0;
}

/* Splits endpoints into addrs (without "http://"). Returns the count. */
static int split_endpoints(const char *endpoints, char addrs[][128], int max)
{
    char buf[2048];
    snprintf(buf, sizeof buf, "%s", endpoints ? endpoints : "");
    int n = 0;
    for (char *save, *t = strtok_r(buf, ",", &save); t && n < max; t = strtok_r(NULL, ",", &save)) {
        if (strncmp(t, "http://", 7) == 0)
            t += 7;
        snprintf(addrs[n++], 128, "%s", t);
    }
    return n;
}

static int etcd_connect(const char *endpoints, const struct sp_bench_config *cfg, void **conn,
                        struct sp_err *err)
{
    char addrs[ETCD_MEMBERS_MAX][128];
    int n = split_endpoints(endpoints, addrs, ETCD_MEMBERS_MAX);
    if (n == 0)
        return sp_err_set(err, SP_EINVAL, "etcd: --endpoints HOST:PORT[,...] is required");
    struct etcd_conn *c = calloc(1, sizeof *c);
    if (!c)
        return sp_err_set(err, SP_ENOMEM, "etcd: out of memory");
    sp_rpc_init();
    int chosen = -1, answered = -1;
    struct sp_err last = {0};
    for (int i = 0; i < n && chosen < 0; i++) {
        grpc_channel *ch = sp_rpc_channel(addrs[i]);
        uint64_t self = 0, leader = 0;
        if (member_status(ch, &self, &leader, &last) == 0) {
            if (answered < 0)
                answered = i;
            if (self != 0 && self == leader)
                chosen = i;
        }
        grpc_channel_destroy(ch);
    }
    if (chosen < 0)
        chosen = answered;
    if (chosen < 0) {
        sp_rpc_shutdown();
        free(c);
        sp_err_set(err, last.code ? last.code : SP_ESP_UNAVAILABLE, "%s", last.msg);
        return sp_err_wrap(err, "etcd: no member answered Status (%s)", endpoints);
    }
    snprintf(c->addr, sizeof c->addr, "%s", addrs[chosen]);
    c->ch = sp_rpc_channel(c->addr);
    c->cq = grpc_completion_queue_create_for_next(NULL);
    c->timeout_ms = cfg->timeout_ms;
    *conn = c;
    return 0;
}

/* Encodes the request for kind into malloc'd memory; NULL when out of
 * memory. *path and *reply say where it goes and what comes back. */
static uint8_t *encode(enum sp_bench_op kind, const uint8_t *key, size_t key_len,
                       const uint8_t *value, size_t value_len, size_t *len, const char **path,
                       const ProtobufCMessageDescriptor **reply)
{
    uint8_t *buf;
    if (kind == SP_BENCH_PUT) {
        Etcdserverpb__PutRequest req = ETCDSERVERPB__PUT_REQUEST__INIT;
        req.key = (ProtobufCBinaryData){key_len, (uint8_t *) key};
        req.value = (ProtobufCBinaryData){value_len, (uint8_t *) value};
        *len = etcdserverpb__put_request__get_packed_size(&req);
        if ((buf = malloc(*len)))
            etcdserverpb__put_request__pack(&req, buf);
        *path = ETCD_PUT_PATH;
        *reply = &etcdserverpb__put_response__descriptor;
    } else {
        Etcdserverpb__RangeRequest req = ETCDSERVERPB__RANGE_REQUEST__INIT;
        req.key = (ProtobufCBinaryData){key_len, (uint8_t *) key};
        req.serializable = kind == SP_BENCH_GET_SERIAL;
        *len = etcdserverpb__range_request__get_packed_size(&req);
        if ((buf = malloc(*len)))
            etcdserverpb__range_request__pack(&req, buf);
        *path = ETCD_RANGE_PATH;
        *reply = &etcdserverpb__range_response__descriptor;
    }
    return buf;
}

/* Decodes the answer, as a real client would, so etcd and our targets pay
 * the same client-side costs. */
static int decode(const struct etcd_conn *c, const ProtobufCMessageDescriptor *reply,
                  const uint8_t *resp, size_t resp_len, struct sp_err *err)
{
    ProtobufCMessage *m = protobuf_c_message_unpack(reply, NULL, resp_len, resp);
    if (!m)
        return SP_CORRUPT(err, "etcd %s: malformed %s", c->addr, reply->name);
    protobuf_c_message_free_unpacked(m, NULL);
    return 0;
}

static int etcd_op(void *conn, enum sp_bench_op kind, const uint8_t *key, size_t key_len,
                   const uint8_t *value, size_t value_len, struct sp_bench_op_info *info,
                   struct sp_err *err)
{
    struct etcd_conn *c = conn;
    (void) info; /* no internal retries: the runner retries UNAVAILABLE */
    size_t len, resp_len = 0;
    const char *path;
    const ProtobufCMessageDescriptor *reply;
    uint8_t *req = encode(kind, key, key_len, value, value_len, &len, &path, &reply), *resp = NULL;
    if (!req)
        return sp_err_set(err, SP_ENOMEM, "etcd: out of memory");
    int rc = sp_rpc_call(c->ch, path, req, len, c->timeout_ms, &resp, &resp_len, err);
    free(req);
    if (rc)
        return sp_err_wrap(err, "etcd %s", c->addr);
    rc = decode(c, reply, resp, resp_len, err);
    free(resp);
    return rc;
}

static int etcd_start(void *conn, enum sp_bench_op kind, const uint8_t *key, size_t key_len,
                      const uint8_t *value, size_t value_len, void *tag, struct sp_err *err)
{
    struct etcd_conn *c = conn;
    size_t len;
    const char *path;
    const ProtobufCMessageDescriptor *reply;
    uint8_t *req = encode(kind, key, key_len, value, value_len, &len, &path, &reply);
    if (!req)
        return sp_err_set(err, SP_ENOMEM, "etcd: out of memory");
    int rc =
        sp_bench__acall_start(c->cq, c->ch, path, req, len, c->timeout_ms, (int) kind, tag, err);
    free(req);
    return rc;
}

static int etcd_next(void *conn, int timeout_ms, void **tag, int *code,
                     struct sp_bench_op_info *info, struct sp_err *err)
{
    struct etcd_conn *c = conn;
    struct sp_bench_acall_done d;
    (void) info;
    if (!sp_bench__acall_next(c->cq, timeout_ms, &d, err))
        return 0;
    *tag = d.user;
    *code = d.code;
    if (d.code == 0) {
        const ProtobufCMessageDescriptor *reply = d.aux == SP_BENCH_PUT
                                                      ? &etcdserverpb__put_response__descriptor
                                                      : &etcdserverpb__range_response__descriptor;
        *code = decode(c, reply, d.resp, d.resp_len, err);
    } else {
        sp_err_wrap(err, "etcd %s", c->addr);
    }
    free(d.resp);
    return 1;
}

static void etcd_close(void *conn)
{
    struct etcd_conn *c = conn;
    sp_bench__acall_drain(c->cq);
    grpc_channel_destroy(c->ch);
    sp_rpc_shutdown();
    free(c);
}

const struct sp_bench_target sp_bench__target_etcd = {
    .name = "etcd",
    .about = "etcd v3 over its gRPC API (KV/Put, KV/Range linearizable or serializable), "
             "requests to the leader",
    .ops_supported =
        SP_BENCH_BIT(SP_BENCH_PUT) | SP_BENCH_BIT(SP_BENCH_GET) | SP_BENCH_BIT(SP_BENCH_GET_SERIAL),
    .connect = etcd_connect,
    .op = etcd_op,
    .close = etcd_close,
    .start = etcd_start,
    .next = etcd_next,
};

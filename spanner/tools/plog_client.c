/*
 * plog_client.c - see plog_client.h.
 */
#include "plog_client.h"
#include "sp_assert.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PROPOSE_PATH "/spanner.paxoslog.Log/Propose"
#define STATUS_PATH  "/spanner.paxoslog.Log/Status"
#define READ_PATH    "/spanner.paxoslog.Log/Read"

static long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int plog_open(const char *endpoints, struct plog_client *c, struct sp_err *err)
{
    memset(c, 0, sizeof *c);
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", endpoints);
    for (char *save, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(tok, '=');
        char *end;
        unsigned long id = eq ? strtoul(tok, &end, 10) : 0;
        if (!eq || end != eq || id == 0 || c->n == PLOG_NODES_MAX)
            return sp_err_set(err, SP_EINVAL, "endpoints \"%s\": expected ID=HOST:PORT,...",
                              endpoints);
        c->ids[c->n] = (uint32_t) id;
        snprintf(c->addrs[c->n], sizeof c->addrs[0], "%s", eq + 1);
        c->n++;
    }
    if (c->n == 0)
        return sp_err_set(err, SP_EINVAL, "endpoints: none given");
    sp_rpc_init();
    for (uint32_t i = 0; i < c->n; i++)
        c->ch[i] = sp_rpc_channel(c->addrs[i]);
    return 0;
}

void plog_close(struct plog_client *c)
{
    for (uint32_t i = 0; i < c->n; i++)
        grpc_channel_destroy(c->ch[i]);
    if (c->n)
        sp_rpc_shutdown();
    c->n = 0;
}

static int index_of(const struct plog_client *c, uint32_t id)
{
    for (uint32_t i = 0; i < c->n; i++)
        if (c->ids[i] == id)
            return (int) i;
    return -1;
}

/* One attempt at node i. Returns 0, a retryable SP_EPAXOS_NOT_LEADER with
 * *hint, SP_ESP_UNAVAILABLE, SP_ETXN_UNKNOWN or SP_EINVAL. */
static int propose_once(struct plog_client *c, uint32_t i, const uint8_t *req, size_t rl,
                        int timeout_ms, uint64_t *slot, uint32_t *hint, struct sp_err *err)
{
    uint8_t *resp = NULL;
    size_t resp_len = 0;
    int rc = sp_rpc_call(c->ch[i], PROPOSE_PATH, req, rl, timeout_ms, &resp, &resp_len, err);
    if (rc)
        return rc == SP_ESP_UNAVAILABLE ? SP_ESP_UNAVAILABLE : SP_EINVAL;
    Spanner__Paxoslog__ProposeReply *rep =
        spanner__paxoslog__propose_reply__unpack(NULL, resp_len, resp);
    free(resp);
    if (!rep)
        return sp_err_set(err, SP_ETXN_UNKNOWN, "malformed ProposeReply");
    if (rep->ok) {
        *slot = rep->slot;
        rc = 0;
    } else if (rep->retryable) {
        *hint = rep->leader_hint;
        rc = sp_err_set(err, SP_EPAXOS_NOT_LEADER, "node %u: %s", c->ids[i], rep->error);
    } else if (strstr(rep->error, "unknown")) {
        rc = sp_err_set(err, SP_ETXN_UNKNOWN, "node %u: %s", c->ids[i], rep->error);
    } else {
        rc = sp_err_set(err, SP_EINVAL, "node %u: %s", c->ids[i], rep->error);
    }
    spanner__paxoslog__propose_reply__free_unpacked(rep, NULL);
    return rc;
}

int plog_propose(struct plog_client *c, uint64_t group, const void *data, size_t len,
                 int timeout_ms, uint64_t *slot, struct sp_err *err)
{
    Spanner__Paxoslog__ProposeRequest req = SPANNER__PAXOSLOG__PROPOSE_REQUEST__INIT;
    req.group = group;
    req.data.data = (uint8_t *) data;
    req.data.len = len;
    size_t rl = spanner__paxoslog__propose_request__get_packed_size(&req);
    uint8_t *buf = malloc(rl ? rl : 1);
    SP_ASSERT(buf != NULL);
    spanner__paxoslog__propose_request__pack(&req, buf);
    long long deadline = mono_ms() + timeout_ms;
    int rc = SP_ETIMEDOUT, attempts = 0;
    while (mono_ms() < deadline && attempts++ < 1000) {
        uint32_t i = atomic_load(&c->leader) % c->n, hint = 0;
        int left = (int) (deadline - mono_ms());
        rc = propose_once(c, i, buf, rl, left > 0 ? left : 1, slot, &hint, err);
        if (rc == 0 || rc == SP_ETXN_UNKNOWN || rc == SP_EINVAL)
            break;
        int h = index_of(c, hint);
        uint32_t next = h >= 0 && (uint32_t) h != i ? (uint32_t) h : (i + 1) % c->n;
        atomic_compare_exchange_strong(&c->leader, &i, next);
        if (rc == SP_ESP_UNAVAILABLE || h < 0 || (uint32_t) h == i) {
            struct timespec ts = {0, 20 * 1000 * 1000}; /* no leader known yet */
            nanosleep(&ts, NULL);
        }
        rc = SP_ETIMEDOUT;
    }
    free(buf);
    if (rc == SP_ETIMEDOUT)
        sp_err_set(err, SP_ETIMEDOUT, "propose: no leader accepted it within %d ms", timeout_ms);
    return rc;
}

int plog_status(struct plog_client *c, uint32_t i, Spanner__Paxoslog__StatusReply **out,
                struct sp_err *err)
{
    SP_ASSERT(i < c->n);
    Spanner__Paxoslog__StatusRequest req = SPANNER__PAXOSLOG__STATUS_REQUEST__INIT;
    uint8_t buf[8], *resp = NULL;
    size_t rl = spanner__paxoslog__status_request__pack(&req, buf), resp_len = 0;
    int rc = sp_rpc_call(c->ch[i], STATUS_PATH, buf, rl, 1000, &resp, &resp_len, err);
    if (rc)
        return rc;
    *out = spanner__paxoslog__status_reply__unpack(NULL, resp_len, resp);
    free(resp);
    return *out ? 0 : sp_err_set(err, SP_ESP_PROTOCOL, "malformed StatusReply");
}

int plog_read(struct plog_client *c, uint32_t i, uint64_t group, plog_entry_fn fn, void *ctx,
              struct sp_err *err)
{
    uint64_t from = 1;
    uint32_t from_index = 0;
    for (int page = 0; page < 1000000; page++) {
        Spanner__Paxoslog__LogRequest req = SPANNER__PAXOSLOG__LOG_REQUEST__INIT;
        req.group = group;
        req.from_slot = from;
        req.from_index = from_index;
        req.max = 5000;
        uint8_t buf[64], *resp = NULL;
        size_t rl = spanner__paxoslog__log_request__pack(&req, buf), resp_len = 0;
        int rc = sp_rpc_call(c->ch[i], READ_PATH, buf, rl, 5000, &resp, &resp_len, err);
        if (rc)
            return rc;
        Spanner__Paxoslog__LogReply *rep = spanner__paxoslog__log_reply__unpack(NULL, resp_len, resp);
        free(resp);
        if (!rep)
            return sp_err_set(err, SP_ESP_PROTOCOL, "malformed LogReply");
        size_t n = rep->n_entries;
        for (size_t k = 0; k < n; k++)
            fn(ctx, rep->entries[k]->slot, rep->entries[k]->index, rep->entries[k]->data.data,
               rep->entries[k]->data.len);
        if (n) {
            from = rep->entries[n - 1]->slot;
            from_index = rep->entries[n - 1]->index + 1;
        }
        spanner__paxoslog__log_reply__free_unpacked(rep, NULL);
        if (n < 5000)
            return 0;
    }
    return sp_err_set(err, SP_EFULL, "read: too many pages");
}

int plog_find_leader(struct plog_client *c, uint64_t group)
{
    for (uint32_t i = 0; i < c->n; i++) {
        Spanner__Paxoslog__StatusReply *st;
        if (plog_status(c, i, &st, NULL) != 0)
            continue;
        int found = 0;
        for (size_t g = 0; g < st->n_groups; g++)
            if (st->groups[g]->group == group && st->groups[g]->is_leader)
                found = 1;
        spanner__paxoslog__status_reply__free_unpacked(st, NULL);
        if (found) {
            atomic_store(&c->leader, i);
            return (int) i;
        }
    }
    return -1;
}

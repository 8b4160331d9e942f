/*
 * spanner.c - the `spanner` target: this store through libspanner
 * (spanner/client/spanner.h), one transaction per operation.
 *
 *   put                a read-write transaction with one blind write:
 *                      begin, write, commit (one group: Paxos write + commit
 *                      wait at the leader, no 2PC)
 *   get                a strong read-only transaction: begin, read, finish
 *                      (linearizable, like etcd's default Range)
 *   get-serializable   a stale read-only transaction (max staleness
 *                      STALE_US) served by the nearest replica that can:
 *                      Spanner's answer to etcd's serializable Range
 *   txn1..txn10        a read-write transaction writing one key in each of
 *                      the first N groups (txn_load.h; 2PC when N > 1)
 *   transfer           the bank workload: read two accounts in different
 *                      groups, write both (txn_load.h). setup opens --keys
 *                      accounts; check sums them all in one strong
 *                      read-only transaction after every run
 *
 * Endpoints: "HOST:PORT,..." (any nodes; the client learns the cluster from
 * their Directory), or a cluster directory made by `spanner cluster up`
 * (anything starting with '/' or '.'), whose cluster.conf is read. An
 * optional "@ZONE" suffix sets the client's zone for nearest-replica reads.
 *
 * Aborted or wounded transactions come back as SP_ETXN_ABORTED /
 * SP_ETXN_WOUNDED, which the runner retries and counts.
 */
#include "bench.h"
#include "spanner.h"
#include "client_int.h"
#include "txn_load.h"
#include "sp_assert.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STALE_US (10 * 1000 * 1000)

struct spanner_conn {
    struct sp_client *client;
    uint64_t accounts; /* bank: accounts opened by setup (0: none) */
};

static int spanner_connect(const char *endpoints, const struct sp_bench_config *cfg, void **conn,
                           struct sp_err *err)
{
    char where[1024], conf[1100];
    snprintf(where, sizeof where, "%s", endpoints ? endpoints : "");
    char *at = strrchr(where, '@');
    if (at)
        *at++ = '\0';
    if (!where[0])
        return sp_err_set(err, SP_EINVAL, "spanner: --endpoints HOST:PORT,... or a cluster dir");
    struct sp_client_options o = {
        .zone = at, .timeout_ms = cfg->timeout_ms, .no_coalesce = cfg->no_coalesce != 0};
    if (where[0] == '/' || where[0] == '.') {
        snprintf(conf, sizeof conf, "%s/cluster.conf", where);
        o.config_path = conf;
    } else {
        o.endpoints = where;
    }
    struct spanner_conn *c = calloc(1, sizeof *c);
    if (!c)
        return sp_err_set(err, SP_ENOMEM, "spanner: out of memory");
    int rc = sp_client_open(&o, &c->client, err);
    if (rc) {
        free(c);
        return sp_err_wrap(err, "spanner");
    }
    *conn = c;
    return 0;
}

#define TRANSFER_MAX 100 /* the largest amount one transfer moves */

/* The write transactions of txn_load.h: one attempt each. */
static int spanner_txn_op(struct spanner_conn *c, enum sp_bench_op kind, const uint8_t *key,
                          size_t key_len, const uint8_t *value, size_t value_len,
                          struct sp_bench_op_info *info, struct sp_err *err)
{
    struct sp_commit_info ci = {0};
    int rc;
    if (kind == SP_BENCH_TRANSFER) {
        uint64_t from, to, accounts = c->accounts;
        uint32_t groups = sp__client_conf(c->client)->n_groups;
        if (accounts < 2)
            return sp_err_set(err, SP_EINVAL, "bank: --keys must be at least 2 accounts");
        sp__load_bank_pick(info->rand, accounts, groups, &from, &to);
        rc = sp__load_bank_transfer(c->client, from, to,
                                    (int64_t) (info->rand >> 48) % TRANSFER_MAX + 1, &ci, err);
    } else {
        rc = sp__load_groups_txn(c->client, sp_bench_op_groups(kind), key, key_len, value,
                                 value_len, &ci, err);
    }
    if (rc == 0 && ci.commit_wait_us > 0)
        info->commit_wait_us += (uint64_t) ci.commit_wait_us;
    if (rc == 0 && ci.paxos_us > 0)
        info->paxos_us += (uint64_t) ci.paxos_us;
    return rc;
}

static int spanner_op(void *conn, enum sp_bench_op kind, const uint8_t *key, size_t key_len,
                      const uint8_t *value, size_t value_len, struct sp_bench_op_info *info,
                      struct sp_err *err)
{
    struct spanner_conn *c = conn;
    if (kind != SP_BENCH_PUT && kind != SP_BENCH_GET && kind != SP_BENCH_GET_SERIAL)
        return spanner_txn_op(c, kind, key, key_len, value, value_len, info, err);
    /* whole-transaction retries are the runner's; commit wait is reported */
    struct sp_txn *t = NULL;
    int rc;
    if (kind == SP_BENCH_PUT) {
        rc = sp_txn_begin(c->client, &t, err);
        if (rc == 0)
            rc = sp_txn_write(t, key, key_len, value, value_len, err);
    } else {
        /* A one-key strong read is a single-group read-only transaction:
         * s_read = LastTS() at the leader (Spanner §4.2.2). */
        struct sp_ro_options ro = {.max_staleness_us = kind == SP_BENCH_GET_SERIAL ? STALE_US : 0,
                                   .single_group = kind != SP_BENCH_GET_SERIAL};
        struct sp_value v = {0};
        rc = sp_ro_begin(c->client, &ro, &t, err);
        if (rc == 0)
            rc = sp_txn_read(t, key, key_len, &v, err);
        sp_value_clear(&v);
    }
    if (rc) {
        if (t) /* a failed read or write leaves the transaction to us */
            sp_txn_abort(t);
        return rc;
    }
    struct sp_commit_info ci = {0};
    rc = sp_txn_commit(t, &ci, err); /* frees t either way */
    if (rc == 0 && ci.commit_wait_us > 0)
        info->commit_wait_us += (uint64_t) ci.commit_wait_us;
    if (rc == 0 && ci.paxos_us > 0)
        info->paxos_us += (uint64_t) ci.paxos_us;
    return rc;
}

/* bank: open cfg->keys accounts (once per invocation). */
/* --async: libspanner's asynchronous single-key operations (spanner.h),
 * the same requests as spanner_op's put, get and get-serializable. */
static int spanner_start(void *conn, enum sp_bench_op kind, const uint8_t *key, size_t key_len,
                         const uint8_t *value, size_t value_len, void *tag, struct sp_err *err)
{
    struct spanner_conn *c = conn;
    switch (kind) {
    case SP_BENCH_PUT:
        return sp_async_put(c->client, key, key_len, value, value_len, tag, err);
    case SP_BENCH_GET:
        return sp_async_get(c->client, key, key_len, 0, tag, err);
    case SP_BENCH_GET_SERIAL:
        return sp_async_get(c->client, key, key_len, STALE_US, tag, err);
    default:
        return sp_err_set(err, SP_EINVAL, "spanner: no asynchronous %s", sp_bench_op_name(kind));
    }
}

static int spanner_next(void *conn, int timeout_ms, void **tag, int *code,
                        struct sp_bench_op_info *info, struct sp_err *err)
{
    struct spanner_conn *c = conn;
    struct sp_async_result r;
    if (sp_async_next(c->client, timeout_ms, &r) == 0)
        return 0;
    *tag = r.tag;
    *code = r.rc;
    if (r.rc && err)
        *err = r.err;
    if (r.rc == 0 && r.info.commit_wait_us > 0)
        info->commit_wait_us += (uint64_t) r.info.commit_wait_us;
    if (r.rc == 0 && r.info.paxos_us > 0)
        info->paxos_us += (uint64_t) r.info.paxos_us;
    sp_value_clear(&r.value);
    return 1;
}

static int spanner_setup(void *conn, enum sp_bench_workload w, const struct sp_bench_config *cfg,
                         struct sp_err *err)
{
    struct spanner_conn *c = conn;
    SP_ASSERT(w == SP_BENCH_W_BANK);
    if (cfg->keys < 2)
        return sp_err_set(err, SP_EINVAL, "bank: --keys must be at least 2 accounts");
    int rc = sp__load_bank_open(c->client, cfg->keys, err);
    if (rc)
        return sp_err_wrap(err, "bank: opening %llu accounts", (unsigned long long) cfg->keys);
    c->accounts = cfg->keys;
    return 0;
}

/* bank: every account present, and the total unchanged. */
static int spanner_check(void *conn, enum sp_bench_workload w, const struct sp_bench_config *cfg,
                         struct sp_err *err)
{
    struct spanner_conn *c = conn;
    (void) cfg;
    SP_ASSERT(w == SP_BENCH_W_BANK && c->accounts >= 2);
    int64_t total = 0, want = (int64_t) c->accounts * SP_LOAD_BANK_BALANCE;
    uint64_t found = 0;
    int rc = sp__load_bank_total(c->client, c->accounts, &total, &found, err);
    if (rc)
        return sp_err_wrap(err, "bank: reading the total");
    if (found != c->accounts || total != want)
        return sp_err_set(err, SP_ECORRUPT,
                          "bank invariant violated: %llu of %llu accounts, total %lld, expected "
                          "%lld",
                          (unsigned long long) found, (unsigned long long) c->accounts,
                          (long long) total, (long long) want);
    return 0;
}

static void spanner_close(void *conn)
{
    struct spanner_conn *c = conn;
    sp_client_close(c->client);
    free(c);
}

const struct sp_bench_target sp_bench__target_spanner = {
    .name = "spanner",
    .about = "this store via libspanner: put = 1-write transaction, get = strong read-only, "
             "get-serializable = stale read (10 s) at the nearest replica, txnN = one key in "
             "each of N groups, bank = transfers across groups",
    .ops_supported = SP_BENCH_BIT(SP_BENCH_PUT) | SP_BENCH_BIT(SP_BENCH_GET) |
                     SP_BENCH_BIT(SP_BENCH_GET_SERIAL) | SP_BENCH_BIT(SP_BENCH_TXN1) |
                     SP_BENCH_BIT(SP_BENCH_TXN2) | SP_BENCH_BIT(SP_BENCH_TXN5) |
                     SP_BENCH_BIT(SP_BENCH_TXN10) | SP_BENCH_BIT(SP_BENCH_TRANSFER),
    .connect = spanner_connect,
    .op = spanner_op,
    .close = spanner_close,
    .start = spanner_start,
    .next = spanner_next,
    .async_ops =
        SP_BENCH_BIT(SP_BENCH_PUT) | SP_BENCH_BIT(SP_BENCH_GET) | SP_BENCH_BIT(SP_BENCH_GET_SERIAL),
    .flags = SP_BENCH_F_COMMIT_WAIT,
    .checked = 1u << SP_BENCH_W_BANK,
    .setup = spanner_setup,
    .check = spanner_check,
};

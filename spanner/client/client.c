/*
 * client.c - libspanner; see spanner.h for the manual.
 *
 * A read-write transaction (Spanner §4.2.1) here:
 *   begin      id = random, priority = start time (kept across retries)
 *   read       READ at the leader of the key's group (shared lock there);
 *              the key is named again in that group's COMMIT or PREPARE, so
 *              a leader that no longer holds the lock refuses (txn.h P4)
 *   write      buffered in the transaction, by key (last write wins)
 *   commit     one touched group: COMMIT at its leader. Several: the first
 *              group with writes coordinates; every other touched group
 *              gets PREPARE (its writes, maybe none: its read locks must
 *              hold until the decision) while the coordinator gets COMMIT
 *              with the participant list, collects the participants' votes
 *              and answers after commit wait.
 * A read-only transaction (§4.2.2) picks its timestamp at the first read
 * (strong: at a replica, s_read = its TT.now().latest, or LastTS when the
 * transaction reads one key at its leader; stale: the newest safe time
 * within the bound) and reads everything else at exactly that timestamp.
 */
#include "spanner.h"
#include "client_int.h"
#include "client_priv.h"
#include "config.h"
#include "lane.h"
#include "workers.h"
#include "rpc.h"
#include "sp_assert.h"
#include "txn.h"
#include "txn.pb-c.h"
#include "txn_codec.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define DIRECTORY_PATH "/spanner.txn.Spanner/Directory"
#define WRITES_MAX     4096

struct bw {
    enum txn_write_kind kind;
    uint8_t *key, *val;
    size_t klen, vlen;
    uint32_t gidx;
};

struct sp_txn {
    struct sp_client *c;
    bool ro;
    txn_id id;
    sp_micros start_ts;
    uint32_t touched_n;
    uint32_t touched[TXN_PARTICIPANTS_MAX]; /* group indexes */
    struct bw *writes;
    uint32_t writes_n, writes_cap;
    /* read-write: the keys read under a lock, named again in COMMIT and
     * PREPARE so a leader that lost the locks refuses (txn.h, P4) */
    struct bw *reads;
    uint32_t reads_n, reads_cap;
    /* read-only */
    sp_micros read_ts, staleness_us;
    bool single_group;
    uint32_t ro_gidx; /* single_group: the group of the first read */
};

sp_micros sp__realtime_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (sp_micros) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void nap_ms(int ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

void sp_value_clear(struct sp_value *v)
{
    if (v) {
        free(v->data);
        memset(v, 0, sizeof *v);
    }
}

/* ---- opening ------------------------------------------------------------------ */

static int fetch_directory(struct sp_client *c, const char *endpoints, struct sp_err *err)
{
    char list[1024];
    snprintf(list, sizeof list, "%s", endpoints);
    int rc = sp_err_set(err, SP_EINVAL, "endpoints \"%s\": expected host:port[,host:port...]",
                        endpoints);
    for (char *save, *ep = strtok_r(list, ",", &save); ep; ep = strtok_r(NULL, ",", &save)) {
        grpc_channel *ch = sp_rpc_channel(ep);
        Spanner__Txn__DirectoryRequest req = SPANNER__TXN__DIRECTORY_REQUEST__INIT;
        uint8_t buf[8], *resp = NULL;
        size_t n = spanner__txn__directory_request__pack(&req, buf), rl = 0;
        rc = sp_rpc_call(ch, DIRECTORY_PATH, buf, n, c->timeout_ms, &resp, &rl, err);
        grpc_channel_destroy(ch);
        if (rc)
            continue;
        Spanner__Txn__DirectoryReply *rep = spanner__txn__directory_reply__unpack(NULL, rl, resp);
        free(resp);
        if (!rep)
            return sp_err_set(err, SP_ESP_PROTOCOL, "%s: malformed Directory reply", ep);
        rc = sp_conf_parse(rep->config_json, ep, "/", &c->conf, err);
        spanner__txn__directory_reply__free_unpacked(rep, NULL);
        return rc;
    }
    return rc;
}

int sp_client_open(const struct sp_client_options *o, struct sp_client **out, struct sp_err *err)
{
    SP_ASSERT(o != NULL && out != NULL);
    if (!o->endpoints && !o->config_path)
        return sp_err_set(err, SP_EINVAL, "client: give endpoints or a cluster config path");
    struct sp_client *c = calloc(1, sizeof *c);
    if (!c)
        return sp_err_set(err, SP_ENOMEM, "client: out of memory");
    c->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 10000;
    sp_rpc_init();
    int rc = o->config_path ? sp_conf_load(o->config_path, &c->conf, err)
                            : fetch_directory(c, o->endpoints, err);
    c->zone = -1;
    for (uint32_t z = 0; rc == 0 && o->zone && z < c->conf.n_zones; z++)
        if (strcmp(c->conf.zones[z], o->zone) == 0)
            c->zone = (int) z;
    if (rc == 0 && o->zone && c->zone < 0)
        rc = sp_err_set(err, SP_EINVAL, "client: zone \"%s\" is not a zone of this cluster",
                        o->zone);
    if (rc) {
        sp_rpc_shutdown();
        free(c);
        return rc;
    }
    c->coalesce = !o->no_coalesce;
    sp_workers_init(&c->workers);
    for (uint32_t i = 0; i < c->conf.n_nodes; i++) {
        c->ch[i] = sp_rpc_channel(c->conf.nodes[i].addr);
        for (int k = 0; k < LANE_KINDS; k++)
            sp_lane_init(&c->lanes[i][k]);
    }
    for (uint32_t g = 0; g < c->conf.n_groups; g++)
        atomic_store(&c->leader[g], c->conf.groups[g].voters[0]);
    *out = c;
    return 0;
}

void sp_client_close(struct sp_client *c)
{
    if (!c)
        return;
    sp__async_close(c);
    sp_workers_destroy(&c->workers); /* before the channels its jobs use */
    for (uint32_t i = 0; i < c->conf.n_nodes; i++) {
        grpc_channel_destroy(c->ch[i]);
        for (int k = 0; k < LANE_KINDS; k++)
            sp_lane_destroy(&c->lanes[i][k]);
    }
    sp_rpc_shutdown();
    free(c);
}

/* ---- calls ---------------------------------------------------------------------- */

int sp__node_index(const struct sp_client *c, uint32_t id)
{
    for (uint32_t i = 0; i < c->conf.n_nodes; i++)
        if (c->conf.nodes[i].id == id)
            return (int) i;
    return -1;
}

/* One request to one node, through `lane` unless LANE_NONE. Returns 0 with
 * *rep (free with spanner__txn__reply__free_unpacked), or a transport error. */
static int call(struct sp_client *c, uint32_t node, int lane, const struct txn_request *req,
                Spanner__Txn__Reply **rep, struct sp_err *err)
{
    int ni = sp__node_index(c, node);
    if (ni < 0)
        return sp_err_set(err, SP_ESP_UNAVAILABLE, "node %u is not in the directory", node);
    uint8_t *buf, *resp = NULL;
    size_t len, rl = 0;
    if (sp_request_pack(req, &buf, &len) != 0)
        return sp_err_set(err, SP_ENOMEM, "client: out of memory");
    int rc =
        c->coalesce && lane != LANE_NONE
            ? sp_lane_call(&c->lanes[ni][lane], c->ch[ni], buf, len, c->timeout_ms, &resp, &rl, err)
            : sp_rpc_call(c->ch[ni], SP_REQUEST_PATH, buf, len, c->timeout_ms, &resp, &rl, err);
    free(buf);
    if (rc)
        return rc;
    *rep = spanner__txn__reply__unpack(NULL, rl, resp);
    free(resp);
    return *rep ? 0 : sp_err_set(err, SP_ESP_PROTOCOL, "node %u: malformed reply", node);
}

/* The next voter of group gidx after `node` (round robin). */
uint32_t sp__next_voter(const struct sp_client *c, uint32_t gidx, uint32_t node)
{
    const struct sp_group_conf *g = &c->conf.groups[gidx];
    for (uint32_t i = 0; i < g->n_voters; i++)
        if (g->voters[i] == node)
            return g->voters[(i + 1) % g->n_voters];
    return g->voters[0];
}

void sp__leader_moved(struct sp_client *c, uint32_t gidx, uint32_t node, uint32_t hint)
{
    uint32_t was = node;
    atomic_compare_exchange_strong(&c->leader[gidx], &was,
                                   hint && hint != node ? hint : sp__next_voter(c, gidx, node));
}

/* A reply's status with err set from it when non-zero. */
int sp__reply_rc(const struct sp_client *c, uint32_t gidx, const Spanner__Txn__Reply *rep,
                 struct sp_err *err)
{
    if (rep->status == 0)
        return 0;
    return sp_err_set(err, rep->status, "group %llu: %s",
                      (unsigned long long) c->conf.groups[gidx].id, rep->error);
}

/* The answer to a COMMIT that may have been taken by an earlier call
 * (`lost`): only a commit or a refusal the leader logged (it was sent with
 * retry set, so any refusal is) is an outcome; anything else leaves the
 * outcome unknown. Never "aborted" for a transaction that may commit. */
static int commit_answer(int rc, bool lost, struct sp_err *err)
{
    if (!lost || rc == 0 || rc == SP_ETXN_ABORTED || rc == SP_ETXN_WOUNDED ||
        rc == SP_ETXN_UNKNOWN)
        return rc;
    char why[SP_ERR_MSG_MAX];
    snprintf(why, sizeof why, "%s", err && err->msg[0] ? err->msg : sp_errname(rc));
    return sp_err_set(err, SP_ETXN_UNKNOWN, "commit sent, no answer: outcome unknown (%s)", why);
}

/* Sends req to the leader of group gidx, following hints. A non-zero
 * reply status is returned as the result with err set from the reply.
 * A COMMIT whose call fails without an answer, or that a leader answers
 * SP_ETXN_UNKNOWN, is sent again with retry set, so that the next leader
 * answers from the group's log (txn.h, "Answers"). */
static int to_leader(struct sp_client *c, uint32_t gidx, int lane, const struct txn_request *req0,
                     Spanner__Txn__Reply **out, struct sp_err *err)
{
    int rc = SP_ESP_UNAVAILABLE;
    struct txn_request req = *req0;
    bool commit = req.type == TXN_REQ_COMMIT, lost = commit && req.retry;
    for (int attempt = 0; attempt < ATTEMPTS_MAX; attempt++) {
        uint32_t node = atomic_load(&c->leader[gidx]);
        Spanner__Txn__Reply *rep = NULL;
        rc = call(c, node, lost ? LANE_NONE : lane, &req, &rep, err);
        if (rc == SP_ESP_UNAVAILABLE) {
            lost = lost || commit; /* it may have arrived */
            req.retry = lost;
            sp__leader_moved(c, gidx, node, 0);
            nap_ms(20 << (attempt < 5 ? attempt : 5));
            continue;
        }
        if (rc)
            return commit_answer(rc, lost, err);
        if (commit && rep->status == SP_ETXN_UNKNOWN) { /* ask the next leader */
            lost = req.retry = true;
            sp_err_set(err, SP_ETXN_UNKNOWN, "group %llu: %s",
                       (unsigned long long) c->conf.groups[gidx].id, rep->error);
            spanner__txn__reply__free_unpacked(rep, NULL);
            rc = SP_ETXN_UNKNOWN;
            nap_ms(20 << (attempt < 5 ? attempt : 5));
            continue;
        }
        if (rep->status == SP_EPAXOS_NOT_LEADER) {
            uint32_t given = rep->leader_hint;
            spanner__txn__reply__free_unpacked(rep, NULL);
            sp__leader_moved(c, gidx, node, given);
            if (!given)
                nap_ms(20 << (attempt < 5 ? attempt : 5)); /* election under way */
            rc = SP_EPAXOS_NOT_LEADER;
            continue;
        }
        *out = rep;
        return commit_answer(sp__reply_rc(c, gidx, rep, err), lost, err);
    }
    if (rc == SP_EPAXOS_NOT_LEADER)
        rc = sp_err_set(err, SP_ESP_UNAVAILABLE, "group %llu: no leader found",
                        (unsigned long long) c->conf.groups[gidx].id);
    return commit_answer(rc, lost, err);
}

uint32_t sp__group_index(const struct sp_client *c, const void *key, size_t klen)
{
    const struct sp_group_conf *g = sp_conf_group_for_key(&c->conf, key, klen);
    return (uint32_t) (g - c->conf.groups);
}

/* Replicas of a group ordered nearest first (same zone, then latency). */
uint32_t sp__replicas_by_distance(const struct sp_client *c, uint32_t gidx, uint32_t *out)
{
    const struct sp_group_conf *g = &c->conf.groups[gidx];
    uint32_t n = 0;
    for (uint32_t i = 0; i < g->n_voters; i++)
        out[n++] = g->voters[i];
    for (uint32_t i = 0; i < g->n_read_only; i++)
        out[n++] = g->read_only[i];
    if (c->zone < 0)
        return n;
    for (uint32_t i = 1; i < n; i++) /* insertion sort by latency; n <= 7 */
        for (uint32_t j = i; j > 0; j--) {
            int za = sp_conf_node(&c->conf, out[j - 1])->zone;
            int zb = sp_conf_node(&c->conf, out[j])->zone;
            tt_micros la = za == c->zone ? -1 : c->conf.latency_us[c->zone][za];
            tt_micros lb = zb == c->zone ? -1 : c->conf.latency_us[c->zone][zb];
            if (lb >= la)
                break;
            uint32_t t = out[j];
            out[j] = out[j - 1];
            out[j - 1] = t;
        }
    return n;
}

/* ---- transactions ------------------------------------------------------------ */

uint64_t sp__txn_id_new(void)
{
    static _Atomic uint64_t fallback;
    uint64_t id = 0;
    if (getrandom(&id, sizeof id, 0) != sizeof id || id == 0)
        id = (uint64_t) sp__realtime_us() ^ (atomic_fetch_add(&fallback, 1) + 1) << 40;
    return id ? id : 1;
}

static struct sp_txn *txn_new(struct sp_client *c, bool ro)
{
    struct sp_txn *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->c = c;
    t->ro = ro;
    t->id = sp__txn_id_new();
    t->start_ts = sp__realtime_us();
    return t;
}

int sp_txn_begin(struct sp_client *c, struct sp_txn **out, struct sp_err *err)
{
    SP_ASSERT(c != NULL && out != NULL);
    *out = txn_new(c, false);
    return *out ? 0 : sp_err_set(err, SP_ENOMEM, "client: out of memory");
}

int sp_ro_begin(struct sp_client *c, const struct sp_ro_options *o, struct sp_txn **out,
                struct sp_err *err)
{
    SP_ASSERT(c != NULL && out != NULL);
    if (o && (o->read_ts < 0 || o->max_staleness_us < 0 || (o->read_ts && o->max_staleness_us)))
        return sp_err_set(err, SP_EINVAL, "read-only: give read_ts or max_staleness_us, not both");
    *out = txn_new(c, true);
    if (!*out)
        return sp_err_set(err, SP_ENOMEM, "client: out of memory");
    if (o) {
        (*out)->read_ts = o->read_ts;
        (*out)->staleness_us = o->max_staleness_us;
        (*out)->single_group = o->single_group && !o->read_ts && !o->max_staleness_us;
    }
    return 0;
}

static void touch(struct sp_txn *t, uint32_t gidx)
{
    for (uint32_t i = 0; i < t->touched_n; i++)
        if (t->touched[i] == gidx)
            return;
    SP_ASSERT(t->touched_n < TXN_PARTICIPANTS_MAX);
    t->touched[t->touched_n++] = gidx;
}

int sp__take_value(Spanner__Txn__Reply *rep, struct sp_value *out, struct sp_err *err)
{
    memset(out, 0, sizeof *out);
    if (rep->n_values != 1)
        return sp_err_set(err, SP_ESP_PROTOCOL, "reply carries %zu values, expected 1",
                          rep->n_values);
    const Spanner__Txn__Value *v = rep->values[0];
    out->found = v->kind == TXN_VERSION_VALUE;
    out->ts = v->ts;
    if (out->found) {
        out->data = malloc(v->value.len ? v->value.len : 1);
        if (!out->data)
            return sp_err_set(err, SP_ENOMEM, "client: out of memory");
        memcpy(out->data, v->value.data, v->value.len);
        out->len = v->value.len;
    }
    return 0;
}

/* Read-your-writes: the newest buffered write of key, if any. */
static const struct bw *buffered(const struct sp_txn *t, const void *key, size_t klen)
{
    for (uint32_t i = t->writes_n; i-- > 0;)
        if (t->writes[i].klen == klen && memcmp(t->writes[i].key, key, klen) == 0)
            return &t->writes[i];
    return NULL;
}

/* A free slot at the end of *a (n used, *cap allocated; doubles from
 * `first`), zeroed; NULL (err set) when memory runs out. */
static struct bw *bw_append(struct bw **a, uint32_t n, uint32_t *cap, uint32_t first,
                            struct sp_err *err)
{
    if (n == *cap) {
        uint32_t c = *cap ? *cap * 2 : first;
        struct bw *na = realloc(*a, c * sizeof *na);
        if (!na) {
            sp_err_set(err, SP_ENOMEM, "client: out of memory");
            return NULL;
        }
        *a = na;
        *cap = c;
    }
    memset(&(*a)[n], 0, sizeof **a);
    return &(*a)[n];
}

/* Remembers a locking read of key in group gidx (once per key). A group's
 * COMMIT or PREPARE names at most TXN_REQ_KEYS_MAX of them: SP_EINVAL
 * beyond, rather than a commit that checks only some of its reads. */
static int note_read(struct sp_txn *t, uint32_t gidx, const void *key, size_t klen,
                     struct sp_err *err)
{
    uint32_t in_group = 0;
    for (uint32_t i = 0; i < t->reads_n; i++) {
        const struct bw *r = &t->reads[i];
        if (r->klen == klen && memcmp(r->key, key, klen) == 0)
            return 0;
        in_group += r->gidx == gidx;
    }
    if (in_group == TXN_REQ_KEYS_MAX)
        return sp_err_set(err, SP_EINVAL, "transaction reads more than %d keys in one group",
                          TXN_REQ_KEYS_MAX);
    struct bw *r = bw_append(&t->reads, t->reads_n, &t->reads_cap, 8, err);
    if (!r)
        return SP_ENOMEM;
    r->key = malloc(klen ? klen : 1);
    if (!r->key)
        return sp_err_set(err, SP_ENOMEM, "client: out of memory");
    memcpy(r->key, key, klen);
    r->klen = klen;
    r->gidx = gidx;
    t->reads_n++;
    return 0;
}

/* The keys read under a lock in group gidx, into out[TXN_REQ_KEYS_MAX]. */
static uint32_t group_reads(const struct sp_txn *t, uint32_t gidx, struct txn_key *out)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < t->reads_n; i++)
        if (t->reads[i].gidx == gidx) {
            SP_ASSERT(n < TXN_REQ_KEYS_MAX); /* note_read's bound */
            out[n++] = (struct txn_key){t->reads[i].key, t->reads[i].klen};
        }
    return n;
}

static int rw_read(struct sp_txn *t, const void *key, size_t klen, struct sp_value *out,
                   struct sp_err *err)
{
    const struct bw *w = buffered(t, key, klen);
    if (w) {
        memset(out, 0, sizeof *out);
        out->found = w->kind == TXN_WRITE_PUT;
        if (out->found) {
            out->data = malloc(w->vlen ? w->vlen : 1);
            memcpy(out->data, w->val, w->vlen);
            out->len = w->vlen;
        }
        return 0;
    }
    uint32_t gidx = sp__group_index(t->c, key, klen);
    if (t->touched_n == TXN_PARTICIPANTS_MAX && !buffered(t, key, klen)) {
        bool known = false;
        for (uint32_t i = 0; i < t->touched_n; i++)
            known |= t->touched[i] == gidx;
        if (!known)
            return sp_err_set(err, SP_EINVAL, "transaction touches more than %d groups",
                              TXN_PARTICIPANTS_MAX);
    }
    int rc = note_read(t, gidx, key, klen, err);
    if (rc)
        return rc;
    touch(t, gidx);
    struct txn_key k = {key, klen};
    struct txn_request req = {.type = TXN_REQ_READ,
                              .group = t->c->conf.groups[gidx].id,
                              .id = t->id,
                              .start_ts = t->start_ts,
                              .keys_n = 1,
                              .keys = &k};
    Spanner__Txn__Reply *rep = NULL;
    rc = to_leader(t->c, gidx, LANE_NONE, &req, &rep, err);
    if (rc == 0)
        rc = sp__take_value(rep, out, err);
    if (rep)
        spanner__txn__reply__free_unpacked(rep, NULL);
    return rc;
}

/* A lock-free read: at the nearest replica first, then the next ones. The
 * first read of the transaction fixes its timestamp. */
static int ro_read(struct sp_txn *t, const void *key, size_t klen, struct sp_value *out,
                   struct sp_err *err)
{
    struct sp_client *c = t->c;
    uint32_t gidx = sp__group_index(c, key, klen), order[SP_REPLICAS_MAX * 2];
    uint32_t n = sp__replicas_by_distance(c, gidx, order);
    struct txn_key k = {key, klen};
    struct txn_request req = {.type = TXN_REQ_RO_READ,
                              .group = c->conf.groups[gidx].id,
                              .id = t->id,
                              .keys_n = 1,
                              .keys = &k};
    if (t->single_group && t->read_ts && gidx != t->ro_gidx)
        return sp_err_set(err, SP_EINVAL, "single-group read-only transaction read another group");
    if (t->single_group && !t->read_ts) {
        /* s_read = LastTS() at the leader (§4.2.2) */
        req.mode = TXN_READ_STRONG_SINGLE;
        Spanner__Txn__Reply *rep = NULL;
        int rc = to_leader(c, gidx, LANE_READ, &req, &rep, err);
        if (rc == 0)
            rc = sp__take_value(rep, out, err);
        if (rc == 0) {
            t->read_ts = rep->ts;
            t->ro_gidx = gidx;
        }
        if (rep)
            spanner__txn__reply__free_unpacked(rep, NULL);
        return rc;
    }
    if (t->read_ts) {
        req.mode = TXN_READ_EXACT;
        req.read_ts = t->read_ts;
    } else if (t->staleness_us) {
        req.mode = TXN_READ_STALE;
        req.staleness_us = t->staleness_us;
    } else {
        req.mode = TXN_READ_STRONG; /* s_read = TT.now().latest at the replica */
    }
    int rc = SP_ESP_UNAVAILABLE;
    for (uint32_t i = 0; i < n; i++) {
        Spanner__Txn__Reply *rep = NULL;
        rc = call(c, order[i], LANE_READ, &req, &rep, err);
        if (rc == 0 && rep->status == 0) {
            rc = sp__take_value(rep, out, err);
            if (rc == 0 && !t->read_ts)
                t->read_ts = rep->ts;
        } else if (rc == 0) {
            rc = sp_err_set(err, rep->status, "node %u: %s", order[i], rep->error);
        }
        if (rep)
            spanner__txn__reply__free_unpacked(rep, NULL);
        /* another replica may be caught up, or up at all */
        if (rc != SP_ETXN_NOT_SAFE && rc != SP_ESP_UNAVAILABLE && rc != SP_EPAXOS_NOT_LEADER)
            return rc;
    }
    return rc;
}

/* One scan page of group gidx at the nearest replica that can serve it. */
static int scan_page(struct sp_txn *t, uint32_t gidx, struct txn_key range[2], uint32_t limit,
                     Spanner__Txn__Reply **out, struct sp_err *err)
{
    struct sp_client *c = t->c;
    uint32_t order[SP_REPLICAS_MAX * 2], n = sp__replicas_by_distance(c, gidx, order);
    struct txn_request req = {.type = TXN_REQ_RO_SCAN,
                              .group = c->conf.groups[gidx].id,
                              .id = t->id,
                              .keys_n = 2,
                              .keys = range,
                              .scan_limit = limit};
    if (t->read_ts) {
        req.mode = TXN_READ_EXACT;
        req.read_ts = t->read_ts;
    } else if (t->staleness_us) {
        req.mode = TXN_READ_STALE;
        req.staleness_us = t->staleness_us;
    } else {
        req.mode = TXN_READ_STRONG;
    }
    int rc = SP_ESP_UNAVAILABLE;
    for (uint32_t i = 0; i < n; i++) {
        Spanner__Txn__Reply *rep = NULL;
        rc = call(c, order[i], LANE_READ, &req, &rep, err);
        if (rc == 0 && rep->status == 0) {
            if (!t->read_ts)
                t->read_ts = rep->ts;
            *out = rep;
            return 0;
        }
        if (rc == 0)
            rc = sp_err_set(err, rep->status, "node %u: %s", order[i], rep->error);
        if (rep)
            spanner__txn__reply__free_unpacked(rep, NULL);
        if (rc != SP_ETXN_NOT_SAFE && rc != SP_ESP_UNAVAILABLE && rc != SP_EPAXOS_NOT_LEADER)
            return rc;
    }
    return rc;
}

/* The smaller of two range ends, "" meaning +inf. */
static const char *min_end(const char *a, size_t al, const char *b, size_t bl, size_t *len)
{
    int cmp = memcmp(a, b, al < bl ? al : bl);
    bool a_first = bl == 0 || (al != 0 && (cmp < 0 || (cmp == 0 && al <= bl)));
    *len = a_first ? al : bl;
    return a_first ? a : b;
}

int sp_txn_scan(struct sp_txn *t, const void *start, size_t start_len, const void *end,
                size_t end_len, uint64_t limit, sp_row_fn fn, void *ctx, struct sp_err *err)
{
    SP_ASSERT(t != NULL && fn != NULL);
    if (!t->ro)
        return sp_err_set(err, SP_EINVAL, "scan: only in read-only transactions");
    if (start_len > SP_KEY_MAX * 4 || end_len > SP_KEY_MAX * 4)
        return sp_err_set(err, SP_EINVAL, "scan: range keys longer than %d bytes", SP_KEY_MAX * 4);
    uint8_t cur[SP_KEY_MAX * 4 + 1];
    size_t cur_len = start_len;
    memcpy(cur, start, start_len);
    uint64_t seen = 0;
    for (int pages = 0; pages < 1000000; pages++) {
        if (end_len &&
            (memcmp(cur, end, cur_len < end_len ? cur_len : end_len) > 0 ||
             (memcmp(cur, end, cur_len < end_len ? cur_len : end_len) == 0 && cur_len >= end_len)))
            return 0; /* past the end */
        uint32_t gidx = sp__group_index(t->c, cur, cur_len);
        const struct sp_group_conf *g = &t->c->conf.groups[gidx];
        size_t stop_len;
        const char *stop = min_end(end, end_len, g->end, strlen(g->end), &stop_len);
        struct txn_key range[2] = {{cur, cur_len}, {stop, stop_len}};
        uint64_t want = limit ? limit - seen : TXN_REQ_SCAN_ROWS_MAX;
        Spanner__Txn__Reply *rep = NULL;
        int rc = scan_page(t, gidx, range,
                           (uint32_t) (want < TXN_REQ_SCAN_ROWS_MAX ? want : TXN_REQ_SCAN_ROWS_MAX),
                           &rep, err);
        if (rc)
            return rc;
        for (size_t i = 0; i < rep->n_values && rc == 0; i++) {
            const Spanner__Txn__Value *v = rep->values[i];
            struct sp_row row = {v->key.data, v->value.data, v->key.len, v->value.len, v->ts};
            rc = fn(ctx, &row);
            seen++;
        }
        bool more = rep->more;
        if (more && rep->resume_key.len <= SP_KEY_MAX * 4) {
            memcpy(cur, rep->resume_key.data, rep->resume_key.len);
            cur_len = rep->resume_key.len;
        } else if (more) {
            rc = sp_err_set(err, SP_ESP_PROTOCOL, "scan: resume key too long");
        }
        spanner__txn__reply__free_unpacked(rep, NULL);
        if (rc || (limit && seen >= limit))
            return rc;
        if (!more) {
            if (stop_len == 0 || (stop == (const char *) end && stop_len == end_len))
                return 0; /* the range ended in this group */
            memcpy(cur, stop, stop_len);
            cur_len = stop_len;
        }
    }
    return sp_err_set(err, SP_EFULL, "scan: too many pages");
}

int sp_txn_read(struct sp_txn *t, const void *key, size_t klen, struct sp_value *out,
                struct sp_err *err)
{
    SP_ASSERT(t != NULL && out != NULL);
    if (!key && klen)
        return sp_err_set(err, SP_EINVAL, "read: NULL key");
    return t->ro ? ro_read(t, key, klen, out, err) : rw_read(t, key, klen, out, err);
}

static int buffer_write(struct sp_txn *t, enum txn_write_kind kind, const void *key, size_t klen,
                        const void *val, size_t vlen, struct sp_err *err)
{
    if (t->ro)
        return sp_err_set(err, SP_EINVAL, "write in a read-only transaction");
    if (t->writes_n == WRITES_MAX)
        return sp_err_set(err, SP_EFULL, "transaction: more than %d writes", WRITES_MAX);
    uint32_t gidx = sp__group_index(t->c, key, klen);
    bool known = false;
    for (uint32_t i = 0; i < t->touched_n; i++)
        known |= t->touched[i] == gidx;
    if (!known && t->touched_n == TXN_PARTICIPANTS_MAX)
        return sp_err_set(err, SP_EINVAL, "transaction touches more than %d groups",
                          TXN_PARTICIPANTS_MAX);
    struct bw *w = bw_append(&t->writes, t->writes_n, &t->writes_cap, 16, err);
    if (!w)
        return SP_ENOMEM;
    w->kind = kind;
    w->key = malloc(klen ? klen : 1);
    w->val = malloc(vlen ? vlen : 1);
    if (!w->key || !w->val) {
        free(w->key);
        free(w->val);
        return sp_err_set(err, SP_ENOMEM, "client: out of memory");
    }
    memcpy(w->key, key, klen);
    if (vlen)
        memcpy(w->val, val, vlen);
    w->klen = klen;
    w->vlen = vlen;
    w->gidx = gidx;
    t->writes_n++;
    touch(t, gidx);
    return 0;
}

int sp_txn_write(struct sp_txn *t, const void *key, size_t klen, const void *val, size_t vlen,
                 struct sp_err *err)
{
    SP_ASSERT(t != NULL);
    return buffer_write(t, TXN_WRITE_PUT, key, klen, val, vlen, err);
}

int sp_txn_delete(struct sp_txn *t, const void *key, size_t klen, struct sp_err *err)
{
    SP_ASSERT(t != NULL);
    return buffer_write(t, TXN_WRITE_DELETE, key, klen, NULL, 0, err);
}

static void txn_free(struct sp_txn *t)
{
    for (uint32_t i = 0; i < t->writes_n; i++) {
        free(t->writes[i].key);
        free(t->writes[i].val);
    }
    free(t->writes);
    for (uint32_t i = 0; i < t->reads_n; i++)
        free(t->reads[i].key);
    free(t->reads);
    free(t);
}

/* The writes of group gidx, last write per key only, into out[]. */
static uint32_t group_writes(const struct sp_txn *t, uint32_t gidx, struct txn_write *out)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < t->writes_n && n < TXN_REQ_WRITES_MAX; i++) {
        const struct bw *w = &t->writes[i];
        if (w->gidx != gidx || buffered(t, w->key, w->klen) != w)
            continue;
        out[n++] = (struct txn_write){.kind = w->kind,
                                      .key = w->key,
                                      .key_len = w->klen,
                                      .value = w->val,
                                      .value_len = w->vlen};
    }
    return n;
}

static void release_all(struct sp_txn *t)
{
    for (uint32_t i = 0; i < t->touched_n; i++) {
        struct txn_request req = {.type = TXN_REQ_ABORT,
                                  .group = t->c->conf.groups[t->touched[i]].id,
                                  .id = t->id,
                                  .start_ts = t->start_ts};
        Spanner__Txn__Reply *rep = NULL;
        to_leader(t->c, t->touched[i], LANE_NONE, &req, &rep,
                  NULL); /* best effort: locks also expire */
        if (rep)
            spanner__txn__reply__free_unpacked(rep, NULL);
    }
}

int sp_txn_keepalive(struct sp_txn *t, struct sp_err *err)
{
    SP_ASSERT(t != NULL);
    for (uint32_t i = 0; !t->ro && i < t->touched_n; i++) {
        struct txn_request req = {.type = TXN_REQ_KEEPALIVE,
                                  .group = t->c->conf.groups[t->touched[i]].id,
                                  .id = t->id,
                                  .start_ts = t->start_ts};
        Spanner__Txn__Reply *rep = NULL;
        int rc = to_leader(t->c, t->touched[i], LANE_NONE, &req, &rep, err);
        if (rep)
            spanner__txn__reply__free_unpacked(rep, NULL);
        if (rc)
            return rc;
    }
    return 0;
}

void sp_txn_abort(struct sp_txn *t)
{
    if (!t)
        return;
    if (!t->ro)
        release_all(t);
    txn_free(t);
}

/* The coordinator: the first touched group with writes (else the first). */
static uint32_t pick_coordinator(const struct sp_txn *t)
{
    for (uint32_t i = 0; i < t->touched_n; i++)
        for (uint32_t w = 0; w < t->writes_n; w++)
            if (t->writes[w].gidx == t->touched[i])
                return i;
    return 0;
}

/* One request of a commit: a participant's PREPARE or the coordinator's
 * COMMIT, with its answer. */
struct part {
    uint32_t gidx;
    struct txn_request req;
    struct txn_write ws[TXN_REQ_WRITES_MAX];
    struct txn_key rk[TXN_REQ_KEYS_MAX];
    txn_group_id parts[TXN_PARTICIPANTS_MAX];
    Spanner__Txn__Reply *rep;
    int rc;
    struct sp_err err;
};

static void part_build(struct sp_txn *t, uint32_t i, uint32_t coord, struct part *p)
{
    uint32_t g = t->touched[i];
    p->gidx = g;
    p->req = (struct txn_request){
        .group = t->c->conf.groups[g].id, .id = t->id, .start_ts = t->start_ts};
    if (i == coord) {
        p->req.type = TXN_REQ_COMMIT;
        for (uint32_t k = 0; k < t->touched_n; k++)
            if (k != coord)
                p->parts[p->req.participants_n++] = t->c->conf.groups[t->touched[k]].id;
        p->req.participants = p->parts;
    } else {
        p->req.type = TXN_REQ_PREPARE;
        p->req.coord_group = t->c->conf.groups[t->touched[coord]].id;
    }
    p->req.writes_n = group_writes(t, g, p->ws);
    p->req.writes = p->ws;
    p->req.keys_n = group_reads(t, g, p->rk);
    p->req.keys = p->rk;
}

/* Sends parts[0..n) to node index ni in one Requests call, so the node
 * steps them together and logs them in one round; marks settled[i] for
 * each part answered by a node that leads its group. A NOT_LEADER answer
 * updates the leader guess and leaves the part unsettled. */
static void send_batched(struct sp_client *c, int ni, uint32_t node, struct part **parts,
                         uint32_t n, bool *settled)
{
    ProtobufCBinaryData reqs[TXN_PARTICIPANTS_MAX] = {{0}};
    uint32_t packed = 0;
    while (packed < n &&
           sp_request_pack(&parts[packed]->req, &reqs[packed].data, &reqs[packed].len) == 0)
        packed++;
    Spanner__Txn__Replies *rs = NULL;
    if (packed == n)
        sp_requests_call(c->ch[ni], reqs, n, c->timeout_ms, &rs, NULL);
    for (uint32_t i = 0; rs && i < n; i++) {
        Spanner__Txn__Reply *rep =
            spanner__txn__reply__unpack(NULL, rs->replies[i].len, rs->replies[i].data);
        if (rep && rep->status == SP_EPAXOS_NOT_LEADER) {
            uint32_t given = rep->leader_hint;
            if (given && given != node)
                atomic_store(&c->leader[parts[i]->gidx], given);
            spanner__txn__reply__free_unpacked(rep, NULL);
        } else if (rep) {
            parts[i]->rep = rep;
            parts[i]->rc = sp__reply_rc(c, parts[i]->gidx, rep, &parts[i]->err);
            settled[i] = true;
        }
    }
    if (rs)
        spanner__txn__replies__free_unpacked(rs, NULL);
    for (uint32_t i = 0; i < packed; i++)
        free(reqs[i].data);
}

/* Sends parts[0..n), whose groups' leaders are thought to be `node`: several
 * in one call (send_batched). Any part that is not settled so - the call
 * failed, or the node no longer leads that group - goes on alone through
 * to_leader, which follows hints and retries. */
static void send_parts(struct sp_client *c, uint32_t node, struct part **parts, uint32_t n)
{
    bool settled[TXN_PARTICIPANTS_MAX] = {false};
    int ni = sp__node_index(c, node);
    if (n > 1 && ni >= 0)
        send_batched(c, ni, node, parts, n, settled);
    for (uint32_t i = 0; i < n; i++)
        if (!settled[i])
            parts[i]->rc = to_leader(c, parts[i]->gidx, LANE_NONE, &parts[i]->req, &parts[i]->rep,
                                     &parts[i]->err);
}

/* The PREPAREs that go to one node, on a thread of the client's pool. */
struct node_parts {
    struct sp_client *c;
    uint32_t node, n;
    struct part *p[TXN_PARTICIPANTS_MAX];
    struct sp_job job;
};

static void node_parts_run(void *arg)
{
    struct node_parts *np = arg;
    send_parts(np->c, np->node, np->p, np->n);
}

/*
 * From Spanner §4.2.1: the client "chooses a coordinator group and sends a
 * commit message to each participant's leader with the identity of the
 * coordinator and any buffered writes". The participants' PREPAREs and the
 * coordinator's COMMIT leave together: the coordinator waits for the
 * participants' votes (their prepare records are logged meanwhile), so the
 * client does not wait a round trip between them. A participant that
 * refuses votes no, and the coordinator aborts; one that never hears its
 * PREPARE makes the coordinator abort at its vote timeout.
 */
int sp_txn_commit(struct sp_txn *t, struct sp_commit_info *info, struct sp_err *err)
{
    SP_ASSERT(t != NULL);
    struct sp_commit_info local = {0};
    info = info ? info : &local;
    memset(info, 0, sizeof *info);
    info->groups = t->touched_n;
    if (t->ro || t->touched_n == 0) {
        info->ts = t->read_ts;
        txn_free(t);
        return 0;
    }
    uint32_t coord = pick_coordinator(t);
    struct part *parts = calloc(t->touched_n, sizeof *parts);
    if (!parts) {
        release_all(t);
        txn_free(t);
        return sp_err_set(err, SP_ENOMEM, "client: out of memory");
    }
    /* The PREPAREs go out grouped by the node thought to lead their group,
     * one Requests call per node, each on a thread of the pool (workers.h);
     * the COMMIT goes alone from this thread at the same time, so that a
     * PREPARE sent to a node that no longer leads is answered, and resent,
     * without waiting for the coordinator (which waits for that
     * participant's vote). */
    struct node_parts nodes[TXN_PARTICIPANTS_MAX];
    uint32_t nodes_n = 0;
    for (uint32_t i = 0; i < t->touched_n; i++) {
        part_build(t, i, coord, &parts[i]);
        if (i == coord)
            continue;
        uint32_t node = atomic_load(&t->c->leader[parts[i].gidx]), k = 0;
        while (k < nodes_n && nodes[k].node != node)
            k++;
        if (k == nodes_n)
            nodes[nodes_n++] = (struct node_parts){.c = t->c, .node = node};
        nodes[k].p[nodes[k].n++] = &parts[i];
    }
    for (uint32_t k = 0; k < nodes_n; k++)
        sp_workers_run(&t->c->workers, &nodes[k].job, node_parts_run, &nodes[k]);
    /* A blind write to one group holds no lock yet: it may share a call. */
    int lane = t->touched_n == 1 && t->reads_n == 0 ? LANE_WRITE : LANE_NONE;
    parts[coord].rc = to_leader(t->c, parts[coord].gidx, lane, &parts[coord].req, &parts[coord].rep,
                                &parts[coord].err);
    for (uint32_t k = 0; k < nodes_n; k++)
        sp_workers_wait(&t->c->workers, &nodes[k].job);
    Spanner__Txn__Reply *rep = parts[coord].rep;
    int rc = parts[coord].rc;
    if (rc == SP_ESP_UNAVAILABLE) /* the commit may have been logged */
        rc = sp_err_set(err, SP_ETXN_UNKNOWN, "commit sent, no answer: outcome unknown");
    else if (rc && err)
        *err = parts[coord].err;
    struct sp_err perr = {0};
    int prc = 0;
    for (uint32_t i = 0; i < t->touched_n && prc == 0; i++)
        if (i != coord && parts[i].rc) {
            prc = parts[i].rc;
            perr = parts[i].err;
        }
    if (prc == SP_ESP_UNAVAILABLE)
        sp_err_wrap(&perr, "prepare");
    if (rc == 0) {
        /* Committed: every participant voted yes, whatever its reply said. */
        info->ts = rep->ts;
        info->commit_wait_us = rep->commit_wait_us;
        info->paxos_us = rep->paxos_us;
    } else if (rc != SP_ETXN_UNKNOWN) {
        if (prc && err && rc != SP_ETXN_ABORTED && rc != SP_ETXN_WOUNDED)
            *err = perr; /* the prepare's failure explains more */
        release_all(t);
    }
    for (uint32_t i = 0; i < t->touched_n; i++)
        if (parts[i].rep)
            spanner__txn__reply__free_unpacked(parts[i].rep, NULL);
    free(parts);
    txn_free(t);
    return rc;
}

static bool retryable(int rc)
{
    return rc == SP_ETXN_ABORTED || rc == SP_ETXN_WOUNDED || rc == SP_ESP_UNAVAILABLE;
}

int sp_run_txn(struct sp_client *c, sp_txn_fn fn, void *ctx, int max_attempts,
               struct sp_commit_info *info, struct sp_err *err)
{
    SP_ASSERT(c != NULL && fn != NULL && max_attempts >= 1);
    sp_micros first_start = 0;
    int rc = SP_ETXN_ABORTED;
    for (int attempt = 0; attempt < max_attempts; attempt++) {
        struct sp_txn *t;
        if ((rc = sp_txn_begin(c, &t, err)) != 0)
            return rc;
        /* Keep the first attempt's priority: wound-wait then guarantees the
         * transaction eventually becomes the oldest and commits. */
        if (attempt == 0)
            first_start = t->start_ts;
        t->start_ts = first_start;
        rc = fn(ctx, t, err);
        if (rc) {
            sp_txn_abort(t);
        } else {
            rc = sp_txn_commit(t, info, err);
        }
        if (!retryable(rc))
            return rc;
        int backoff_ms = (10 << (attempt < 6 ? attempt : 6));
        nap_ms(backoff_ms / 2 + (int) (sp__realtime_us() % (backoff_ms / 2 + 1)));
    }
    return rc;
}

/* ---- for the CLI (client_int.h) ----------------------------------------- */

const struct sp_cluster_conf *sp__client_conf(const struct sp_client *c)
{
    return &c->conf;
}

int sp__client_status(struct sp_client *c, uint32_t i, Spanner__Txn__StatusReply **out,
                      struct sp_err *err)
{
    SP_ASSERT(i < c->conf.n_nodes);
    Spanner__Txn__StatusRequest req = SPANNER__TXN__STATUS_REQUEST__INIT;
    uint8_t buf[8], *resp = NULL;
    size_t n = spanner__txn__status_request__pack(&req, buf), rl = 0;
    int rc = sp_rpc_call(c->ch[i], "/spanner.txn.Spanner/Status", buf, n, 2000, &resp, &rl, err);
    if (rc)
        return rc;
    *out = spanner__txn__status_reply__unpack(NULL, rl, resp);
    free(resp);
    return *out ? 0 : sp_err_set(err, SP_ESP_PROTOCOL, "malformed StatusReply");
}

void sp__client_lane_stats(struct sp_client *c, struct sp__lane_stats *out)
{
    memset(out, 0, sizeof *out);
    for (uint32_t i = 0; i < c->conf.n_nodes; i++)
        for (int k = 0; k < LANE_KINDS; k++) {
            struct sp_lane *l = &c->lanes[i][k];
            pthread_mutex_lock(&l->mu);
            out->calls += l->calls;
            out->batched_calls += l->batched_calls;
            out->batched_requests += l->batched_requests;
            out->timeouts += l->timeouts;
            pthread_mutex_unlock(&l->mu);
        }
}

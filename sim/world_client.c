/*
 * world_client.c - the world's clients: the workloads (bank, register,
 * list-append) choosing operations, read-write transactions (reads at the
 * leaders, then a single-group commit or 2PC), read-only transactions
 * (strong, single-group strong, stale or at an exact timestamp), routing to
 * leaders and replicas, timeouts and retries, and the scripted operations
 * tests start (w_world_transfer, w_world_read_all, ...).
 */
#include "world_int.h"

#include <stdlib.h>
#include <string.h>

/* ---- clients ------------------------------------------------------------------------------ */

txn_group_id w_account_group(const struct w_world *w, uint32_t k)
{
    return (txn_group_id) (k % w->p.groups) + 1;
}

size_t w__key_name(const struct w_world *w, uint32_t k, char *buf)
{
    if (w->p.workload == W_BANK)
        return (size_t) snprintf(buf, 16, "acct%02u", k);
    return (size_t) snprintf(buf, 16, "k%u", k);
}

static char *value_str(const struct txn_value *v)
{
    if (v->kind != TXN_VERSION_VALUE)
        return NULL;
    char *s = w__xmalloc(v->value_len + 1);
    if (v->value_len)
        memcpy(s, v->value, v->value_len);
    s[v->value_len] = '\0';
    return s;
}

/* A balance read: never written means the initial balance. */
static int64_t item_balance(const struct w_world *w, const struct w_item *it)
{
    return it->read ? strtoll(it->read, NULL, 10) : w->p.balance;
}

static int new_op(struct w_world *w, enum op_kind kind, bool scripted, uint32_t n_items)
{
    SP_ASSERT(w->ops_n < W_OPS_MAX && n_items <= OP_KEYS_MAX);
    if (w->ops_n == w->ops_cap) {
        w->ops_cap = w->ops_cap ? w->ops_cap * 2 : 256;
        w->ops = realloc(w->ops, sizeof *w->ops * w->ops_cap);
        SP_ASSERT(w->ops != NULL);
    }
    struct w_op *op = &w->ops[w->ops_n];
    memset(op, 0, sizeof *op);
    op->kind = kind;
    op->scripted = scripted;
    op->invoke = w->now;
    op->n_items = n_items;
    op->items = calloc(n_items ? n_items : 1, sizeof *op->items);
    SP_ASSERT(op->items != NULL);
    w->stats.ops_started += !scripted;
    return (int) w->ops_n++;
}

void w__op_free_items(struct w_op *op)
{
    for (uint32_t k = 0; k < op->n_items; k++) {
        free(op->items[k].read);
        free(op->items[k].wrote);
    }
    free(op->items);
    op->items = NULL;
}

void w__client_timer(struct w_world *w, struct w_client *c, tt_micros at)
{
    c->timer_at = at;
    w__push(w, at, W_CLIENT_TIMER, c->idx, NULL, (uint64_t) at);
}

static uint64_t client_send(struct w_world *w, struct w_client *c, uint32_t node,
                            struct txn_request *q)
{
    q->client = c->idx;
    q->req_id = ++w->req_seq;
    w__push(w, w->now + w__latency(w, c->zone, w->nodes[node].zone), W_REQUEST, node,
            w__copy_request(q), 0);
    return q->req_id;
}

/* A replica for a snapshot read: one in the client's zone when one is up
 * (reads from the nearest replica), else any up one. */
static uint32_t read_replica(struct w_world *w, struct w_client *c, txn_group_id g)
{
    uint32_t r[W_REPLICAS_MAX], up[W_REPLICAS_MAX], near[W_REPLICAS_MAX], n_up = 0, n_near = 0;
    uint32_t k = w_world_replicas(w, g, r);
    for (uint32_t j = 0; j < k; j++)
        if (w->nodes[r[j]].up) {
            up[n_up++] = r[j];
            if (w->nodes[r[j]].zone == c->zone)
                near[n_near++] = r[j];
        }
    /* Voting or read-only; clients route around nodes known to be down, as
     * a real client's failure detector would after its first timeout. */
    if (n_near && w->p.faults && w__rnd_below(w, 4) != 0)
        return near[w__rnd_below(w, n_near)];
    return n_up ? up[w__rnd_below(w, n_up)] : r[w__rnd_below(w, k)];
}

/* After NOT_LEADER or a timeout: follow the hint, else try the next replica. */
static void reroute(struct w_world *w, struct w_client *c, txn_group_id g, txn_node_id hint)
{
    if (hint >= 1 && hint <= w->n && w__hosts(w, hint - 1, g)) {
        c->leader[g] = hint - 1;
        return;
    }
    uint32_t r[W_REPLICAS_MAX];
    w_world_replicas(w, g, r);
    uint32_t j = 0;
    while (j < W_VOTERS && r[j] != c->leader[g])
        j++;
    c->leader[g] = r[(j + 1) % W_VOTERS]; /* only voters lead */
}

static void client_next(struct w_world *w, struct w_client *c);

static void op_done(struct w_world *w, struct w_client *c, int status, tt_micros ts)
{
    struct w_op *op = &w->ops[c->op];
    SP_ASSERT(!op->done);
    op->done = true;
    op->status = status;
    op->ts = ts;
    op->complete = w->now;
    c->phase = C_IDLE;
    c->req_lo = w->req_seq + 1;
    c->timer_at = 0;
    if (op->kind == OP_TRANSFER) {
        if (status == 0) {
            w->stats.commits_ok++;
            w->stats.commits_2pc_ok += op->is_2pc;
        } else if (status == SP_ETXN_UNKNOWN) {
            w->stats.commits_unknown++;
        } else {
            w->stats.aborts++;
        }
    } else if (status == 0) {
        w->stats.ro_ok++;
        if (w->p.workload == W_BANK && op->n_items == w->p.accounts && !w->p.no_inline_checks) {
            int64_t sum = 0;
            for (uint32_t k = 0; k < op->n_items; k++)
                sum += item_balance(w, &op->items[k]);
            if (sum != (int64_t) w->p.accounts * w->p.balance)
                w__violate(w, "read-only txn at %lld saw total %lld, not %lld", (long long) ts,
                           (long long) sum, (long long) w->p.accounts * w->p.balance);
        }
    } else {
        w->stats.ro_failed++;
    }
    TRACE(w, "client %u: op %d done: %s ts %lld", c->idx, c->op, sp_errname(status),
          (long long) ts);
    w__history_write(w, op);
    if (c->workload)
        w__client_timer(w, c, w->now + 500 + (tt_micros) w__rnd_below(w, 2000));
}

static void tr_attempt(struct w_world *w, struct w_client *c);
static void ro_attempt(struct w_world *w, struct w_client *c);
static void tr_commit(struct w_world *w, struct w_client *c, bool again);

/* The groups of the current op, in the order its items first use them. */
static void op_groups(struct w_world *w, struct w_client *c)
{
    const struct w_op *op = &w->ops[c->op];
    c->n_groups = 0;
    for (uint32_t k = 0; k < op->n_items; k++) {
        txn_group_id g = w_account_group(w, op->items[k].key);
        uint32_t j = 0;
        while (j < c->n_groups && c->groups[j] != g)
            j++;
        if (j == c->n_groups)
            c->groups[c->n_groups++] = g;
    }
}

/* Ends an attempt that cannot commit: release what it holds, retry later. */
static void tr_fail(struct w_world *w, struct w_client *c, int status)
{
    /* To every replica: whichever leads releases the locks, the rest answer
     * NOT_LEADER (ignored: the replies are stale by then). */
    for (uint32_t k = 0; k < c->n_groups; k++) {
        uint32_t r[W_REPLICAS_MAX];
        uint32_t nr = w_world_replicas(w, c->groups[k], r);
        for (uint32_t j = 0; j < nr; j++) {
            struct txn_request q = {.type = TXN_REQ_ABORT, .group = c->groups[k], .id = c->txn};
            client_send(w, c, r[j], &q);
        }
    }
    c->req_lo = w->req_seq + 1;
    if (c->attempts >= ATTEMPTS_MAX || w->now >= w->p.run_us + GIVE_UP_US) {
        op_done(w, c, status, 0);
        return;
    }
    c->phase = C_BACKOFF;
    w__client_timer(w, c, w->now + 1000 + (tt_micros) w__rnd_below(w, 4000 * c->attempts));
}

/* Does item need its value read before the commit? */
static bool item_reads(const struct w_item *it)
{
    return (it->f & (IT_READ | IT_APPEND | IT_TRANSFER)) != 0;
}

static void tr_attempt(struct w_world *w, struct w_client *c)
{
    struct w_op *op = &w->ops[c->op];
    c->txn = ++w->txn_seq;
    c->attempts++;
    c->req_lo = w->req_seq + 1;
    c->phase = C_READ;
    c->pending = 0;
    for (uint32_t k = 0; k < op->n_items; k++) {
        free(op->items[k].read);
        op->items[k].read = NULL;
    }
    for (uint32_t j = 0; j < c->n_groups; j++) {
        char names[OP_KEYS_MAX][16];
        struct txn_key keys[OP_KEYS_MAX];
        uint32_t n = 0;
        for (uint32_t k = 0; k < op->n_items; k++)
            if (item_reads(&op->items[k]) &&
                w_account_group(w, op->items[k].key) == c->groups[j]) {
                keys[n].key = names[n];
                keys[n].key_len = w__key_name(w, op->items[k].key, names[n]);
                n++;
            }
        c->read_req[j] = 0;
        if (n == 0)
            continue; /* blind writes only: the commit takes the locks */
        struct txn_request q = {.type = TXN_REQ_READ, .id = c->txn, .start_ts = c->start_ts};
        q.group = c->groups[j];
        q.keys = keys;
        q.keys_n = n;
        c->read_req[j] = client_send(w, c, c->leader[c->groups[j]], &q);
        c->pending++;
    }
    if (c->pending == 0) {
        tr_commit(w, c, false);
        return;
    }
    w__client_timer(w, c, w->now + READ_TIMEOUT);
}

/* The value item k writes, from what the attempt read. */
static void item_new_value(struct w_world *w, struct w_op *op, uint32_t k)
{
    struct w_item *it = &op->items[k];
    char buf[32];
    if (it->f & IT_TRANSFER) {
        int64_t v = item_balance(w, it) + (k == 0 ? -op->amount : op->amount);
        snprintf(buf, sizeof buf, "%lld", (long long) v);
        free(it->wrote);
        it->wrote = strdup(buf);
    } else if (it->f & IT_APPEND) {
        size_t old = it->read ? strlen(it->read) : 0;
        snprintf(buf, sizeof buf, "%llu", (unsigned long long) it->element);
        free(it->wrote);
        it->wrote = w__xmalloc(old + strlen(buf) + 2);
        snprintf(it->wrote, old + strlen(buf) + 2, "%s%s%s", old ? it->read : "", old ? "," : "",
                 buf);
    }
    /* IT_WRITE: chosen when the op was made. */
    SP_ASSERT(it->wrote != NULL || !(it->f & (IT_WRITE | IT_APPEND | IT_TRANSFER)));
}

/* Sends the COMMIT (and the participants' PREPAREs), or, `again`, the same
 * COMMIT once more with retry set, as libspanner does after a call that got
 * no answer (txn.h, "Answers"): the leader then answers from the log or
 * logs its refusal first. */
static void tr_commit(struct w_world *w, struct w_client *c, bool again)
{
    struct w_op *op = &w->ops[c->op];
    char names[OP_KEYS_MAX][16];
    struct txn_write ws[OP_KEYS_MAX];
    c->phase = C_COMMIT;
    c->req_lo = w->req_seq + 1;
    op->is_2pc = c->n_groups > 1;
    c->commit_asks = again ? c->commit_asks + 1 : 0;
    for (uint32_t k = 0; k < op->n_items && !again; k++)
        if (op->items[k].f & (IT_APPEND | IT_TRANSFER))
            item_new_value(w, op, k);
    /* Coordinator: the first group. Every other group prepares, also one
     * that was only read (its read locks must hold until the commit). Each
     * group's writes lie together in ws. */
    uint32_t off[W_GROUPS_MAX] = {0}, cnt[W_GROUPS_MAX] = {0}, used = 0;
    for (uint32_t j = 0; j < c->n_groups; j++) {
        off[j] = used;
        cnt[j] = 0;
        for (uint32_t k = 0; k < op->n_items; k++) {
            const struct w_item *it = &op->items[k];
            if (w_account_group(w, it->key) != c->groups[j] ||
                !(it->f & (IT_WRITE | IT_APPEND | IT_TRANSFER)))
                continue;
            struct txn_write *x = &ws[used++];
            x->kind = TXN_WRITE_PUT;
            x->key = names[used - 1];
            x->key_len = w__key_name(w, it->key, names[used - 1]);
            x->value = it->wrote;
            x->value_len = strlen(it->wrote);
            cnt[j]++;
        }
    }
    /* The keys read at each group go along: its leader commits or prepares
     * only while the transaction still holds their locks. */
    char rnames[OP_KEYS_MAX][16];
    struct txn_key rkeys[OP_KEYS_MAX];
    uint32_t roff[W_GROUPS_MAX] = {0}, rcnt[W_GROUPS_MAX] = {0}, rused = 0;
    for (uint32_t j = 0; j < c->n_groups; j++) {
        roff[j] = rused;
        for (uint32_t k = 0; k < op->n_items; k++) {
            const struct w_item *it = &op->items[k];
            if (w_account_group(w, it->key) != c->groups[j] || !item_reads(it))
                continue;
            rkeys[rused].key = rnames[rused];
            rkeys[rused].key_len = w__key_name(w, it->key, rnames[rused]);
            rused++;
            rcnt[j]++;
        }
    }
    struct txn_write *first_ws = &ws[off[0]];
    uint32_t first_n = cnt[0];
    struct txn_request q = {.id = c->txn, .start_ts = c->start_ts};
    c->read_req[0] = 0;
    for (uint32_t j = 1; j < c->n_groups && !again; j++) {
        q.type = TXN_REQ_PREPARE;
        q.group = c->groups[j];
        q.coord_group = c->groups[0];
        q.writes = cnt[j] ? &ws[off[j]] : NULL;
        q.writes_n = cnt[j];
        q.keys = rcnt[j] ? &rkeys[roff[j]] : NULL;
        q.keys_n = rcnt[j];
        /* A participant answers only to refuse (not the leader, or locks
         * lost): the client then learns where the leader is. */
        c->read_req[j] = client_send(w, c, c->leader[c->groups[j]], &q);
    }
    q.type = TXN_REQ_COMMIT;
    q.group = c->groups[0];
    q.coord_group = 0;
    q.writes = first_n ? first_ws : NULL;
    q.writes_n = first_n;
    q.keys = rcnt[0] ? &rkeys[roff[0]] : NULL;
    q.keys_n = rcnt[0];
    q.participants = c->n_groups > 1 ? &c->groups[1] : NULL;
    q.participants_n = c->n_groups - 1;
    q.retry = again;
    op->commit_req = client_send(w, c, c->leader[c->groups[0]], &q);
    c->pending = 1;
    w__client_timer(w, c, w->now + COMMIT_TIMEOUT);
}

/* Index of the group a reply to request id answers, or -1. */
static int reply_group(const struct w_client *c, uint64_t req_id)
{
    for (uint32_t j = 0; j < c->n_groups; j++)
        if (c->read_req[j] == req_id)
            return (int) j;
    return -1;
}

/* The COMMIT got no answer, or "unknown": ask the next leader, with retry
 * set, a few times; then the outcome is unknown. */
static void commit_ask_again(struct w_world *w, struct w_client *c)
{
    if (c->commit_asks >= COMMIT_ASKS_MAX || w->now >= w->p.run_us + GIVE_UP_US) {
        op_done(w, c, SP_ETXN_UNKNOWN, 0);
        return;
    }
    tr_commit(w, c, true);
}

static void tr_reply(struct w_world *w, struct w_client *c, const struct txn_reply *r)
{
    struct w_op *op = &w->ops[c->op];
    if (c->phase == C_COMMIT) {
        int pj = reply_group(c, r->req_id);
        if (pj > 0) { /* a participant's answer to its PREPARE */
            if (r->status == SP_EPAXOS_NOT_LEADER)
                reroute(w, c, c->groups[pj], r->leader_hint);
            return; /* the coordinator's reply decides */
        }
        if (r->status == SP_EPAXOS_NOT_LEADER)
            reroute(w, c, c->groups[0], r->leader_hint);
        bool lost = c->commit_asks > 0; /* an earlier copy may have been taken */
        if (!w->p.client_guesses && r->status != 0 &&
            (r->status == SP_ETXN_UNKNOWN || (lost && r->status == SP_EPAXOS_NOT_LEADER))) {
            commit_ask_again(w, c);
            return;
        }
        if (lost && r->status != 0 && r->status != SP_ETXN_ABORTED &&
            r->status != SP_ETXN_WOUNDED) {
            op_done(w, c, SP_ETXN_UNKNOWN, 0); /* no outcome from the log */
            return;
        }
        if (w->p.client_guesses && r->status == SP_ETXN_UNKNOWN) { /* TEST ONLY: wrong */
            tr_fail(w, c, SP_ETXN_ABORTED);
            return;
        }
        /* Commit wait, seen from outside: the acknowledgement of a commit at
         * s arrives only once s has passed in true time. */
        if (r->status == 0 && !w->p.commit_wait_off && r->ts >= w->now &&
            !w->p.no_inline_checks)
            w__violate(w, "commit at %lld acknowledged at true time %lld", (long long) r->ts,
                       (long long) w->now);
        if (r->status == 0 || r->status == SP_ETXN_UNKNOWN)
            op_done(w, c, r->status, r->ts);
        else
            tr_fail(w, c, r->status);
        return;
    }
    int j = reply_group(c, r->req_id);
    if (j < 0)
        return; /* a commit-phase or older reply */
    if (r->status == SP_EPAXOS_NOT_LEADER)
        reroute(w, c, c->groups[j], r->leader_hint);
    if (r->status != 0) {
        tr_fail(w, c, r->status);
        return;
    }
    uint32_t v = 0;
    for (uint32_t k = 0; k < op->n_items; k++) {
        struct w_item *it = &op->items[k];
        if (!item_reads(it) || w_account_group(w, it->key) != c->groups[j])
            continue;
        SP_ASSERT(v < r->values_n);
        free(it->read);
        it->read = value_str(&r->values[v]);
        it->found = it->read != NULL;
        it->ver = r->values[v].ts;
        v++;
    }
    c->read_req[j] = 0; /* a duplicate reply is ignored */
    if (--c->pending == 0)
        tr_commit(w, c, false);
}

static void ro_send(struct w_world *w, struct w_client *c)
{
    const struct w_op *op = &w->ops[c->op];
    char names[OP_KEYS_MAX][16];
    struct txn_key keys[OP_KEYS_MAX];
    uint32_t n = 0;
    txn_group_id g = c->groups[c->ro_gi];
    for (uint32_t k = 0; k < op->n_items; k++)
        if (w_account_group(w, op->items[k].key) == g) {
            keys[n].key = names[n];
            keys[n].key_len = w__key_name(w, op->items[k].key, names[n]);
            n++;
        }
    struct txn_request q = {.type = TXN_REQ_RO_READ, .group = g, .keys = keys, .keys_n = n};
    q.mode = c->ro_gi == 0 ? c->ro_mode : TXN_READ_EXACT;
    q.read_ts = c->s_read;
    q.staleness_us = 50 * 1000;
    uint32_t node = q.mode == TXN_READ_STRONG_SINGLE ? c->leader[g] : read_replica(w, c, g);
    c->ro_node = node;
    c->read_req[0] = client_send(w, c, node, &q);
    c->pending = 1;
}

static void ro_attempt(struct w_world *w, struct w_client *c)
{
    c->attempts++;
    c->req_lo = w->req_seq + 1;
    c->phase = C_RO;
    c->ro_gi = 0;
    c->s_read = c->fixed_ts;
    if (c->fixed_ts)
        c->ro_mode = TXN_READ_EXACT;
    else if (c->workload && w__rnd_below(w, 100) < w->p.stale_pct)
        c->ro_mode = TXN_READ_STALE;
    else if (c->n_groups == 1)
        c->ro_mode = TXN_READ_STRONG_SINGLE;
    else
        c->ro_mode = TXN_READ_STRONG;
    w->ops[c->op].snapshot = c->ro_mode == TXN_READ_STALE || c->ro_mode == TXN_READ_EXACT;
    w->ops[c->op].single = c->ro_mode == TXN_READ_STRONG_SINGLE;
    ro_send(w, c);
    w__client_timer(w, c, w->now + RO_TIMEOUT);
}

static void ro_reply(struct w_world *w, struct w_client *c, const struct txn_reply *r)
{
    struct w_op *op = &w->ops[c->op];
    if (r->req_id != c->read_req[0])
        return; /* an earlier group's duplicate */
    txn_group_id g = c->groups[c->ro_gi];
    if (r->status != 0) {
        if (r->status == SP_EPAXOS_NOT_LEADER)
            reroute(w, c, g, r->leader_hint);
        if (c->attempts >= ATTEMPTS_MAX || w->now >= w->p.run_us + GIVE_UP_US) {
            c->fixed_ts = 0;
            op_done(w, c, r->status, 0);
            return;
        }
        c->phase = C_BACKOFF;
        w__client_timer(w, c, w->now + 1000 + (tt_micros) w__rnd_below(w, 4000));
        return;
    }
    uint32_t reps[W_REPLICAS_MAX];
    if (w_world_replicas(w, g, reps) > W_VOTERS && reps[W_VOTERS] == c->ro_node)
        w->stats.reads_at_read_only++;
    if (c->ro_gi == 0)
        c->s_read = r->ts;
    SP_ASSERT(r->ts == c->s_read);
    uint32_t v = 0;
    for (uint32_t k = 0; k < op->n_items; k++)
        if (w_account_group(w, op->items[k].key) == g) {
            SP_ASSERT(v < r->values_n);
            struct w_item *it = &op->items[k];
            free(it->read);
            it->read = value_str(&r->values[v]);
            it->found = it->read != NULL;
            it->ver = r->values[v].ts;
            v++;
        }
    if (++c->ro_gi >= c->n_groups) {
        c->fixed_ts = 0;
        op_done(w, c, 0, c->s_read);
        return;
    }
    ro_send(w, c);
}

/* A reply to a request the client no longer waits for. */
bool w__reply_stale(const struct w_client *c, const struct txn_reply *r)
{
    return c->phase == C_IDLE || c->phase == C_BACKOFF || r->req_id < c->req_lo;
}

void w__client_on_reply(struct w_world *w, struct w_client *c, const struct txn_reply *r)
{
    TRACE(w, "client %u: reply %llu (lo %llu, phase %d): %s ts %lld hint %u", c->idx,
          (unsigned long long) r->req_id, (unsigned long long) c->req_lo, (int) c->phase,
          sp_errname(r->status), (long long) r->ts, r->leader_hint);
    if (w__reply_stale(c, r))
        return;
    if (c->phase == C_RO)
        ro_reply(w, c, r);
    else
        tr_reply(w, c, r);
}

void w__client_on_timer(struct w_world *w, struct w_client *c)
{
    struct w_op *op = c->phase == C_IDLE ? NULL : &w->ops[c->op];
    switch (c->phase) {
    case C_IDLE:
        client_next(w, c);
        break;
    case C_BACKOFF:
        if (op->kind == OP_TRANSFER)
            tr_attempt(w, c);
        else
            ro_attempt(w, c);
        break;
    case C_READ:
        for (uint32_t j = 0; j < c->n_groups; j++)
            if (c->read_req[j])
                reroute(w, c, c->groups[j], 0);
        tr_fail(w, c, SP_ETIMEDOUT);
        break;
    case C_COMMIT:
        reroute(w, c, c->groups[0], 0);
        if (w->p.client_guesses) /* TEST ONLY: the wrong answer issue 16 found */
            tr_fail(w, c, SP_ETXN_ABORTED);
        else
            commit_ask_again(w, c);
        break;
    case C_RO:
        reroute(w, c, c->groups[c->ro_gi], 0);
        c->phase = C_BACKOFF;
        c->req_lo = w->req_seq + 1;
        w__client_timer(w, c, w->now + 1000);
        break;
    }
}

static void start_op(struct w_world *w, struct w_client *c, int op)
{
    c->op = op;
    c->attempts = 0;
    c->start_ts = w->now;
    w->ops[op].client = c->idx;
    op_groups(w, c);
    if (w->ops[op].kind == OP_TRANSFER)
        tr_attempt(w, c);
    else
        ro_attempt(w, c);
}

/* k distinct keys drawn from [base, base + n) into out. */
static void pick_keys(struct w_world *w, uint32_t base, uint32_t n, uint32_t k, uint32_t *out)
{
    SP_ASSERT(k <= n);
    for (uint32_t i = 0; i < k; i++) {
        uint32_t key;
        bool dup;
        do {
            key = base + (uint32_t) w__rnd_below(w, n);
            dup = false;
            for (uint32_t j = 0; j < i; j++)
                dup |= out[j] == key;
        } while (dup);
        out[i] = key;
    }
}

/* A workload client picks its next operation. */
static void client_next(struct w_world *w, struct w_client *c)
{
    if (!c->workload || w->stopped || w->now >= w->p.run_us)
        return;
    if (w->init_op >= 0 && !w->ops[w->init_op].done) {
        w__client_timer(w, c, w->now + 10 * 1000); /* transfers wait for the balances */
        return;
    }
    if (w->init_op >= 0 && w->ops[w->init_op].status != 0) {
        /* It failed or may not have applied: write them again (blind,
         * idempotent while no transfer has run). */
        w->init_op = w__init_accounts(w);
        w__client_timer(w, c, w->now + 10 * 1000);
        return;
    }
    if (w->p.txns && w->stats.ops_started >= w->p.txns) {
        w->stopped = true;
        w->p.run_us = w->now; /* retries give up GIVE_UP_US from here */
        return;
    }
    bool ro = w__rnd_below(w, 100) < w->p.ro_pct;
    int op;
    if (w->p.workload == W_BANK) {
        op = new_op(w, ro ? OP_READ : OP_TRANSFER, false, ro ? w->p.accounts : 2);
        struct w_op *o = &w->ops[op];
        if (ro) {
            for (uint32_t k = 0; k < w->p.accounts; k++)
                o->items[k] = (struct w_item){.key = k, .f = IT_READ};
        } else {
            uint32_t ab[2];
            pick_keys(w, 0, w->p.accounts, 2, ab);
            o->items[0] = (struct w_item){.key = ab[0], .f = IT_TRANSFER};
            o->items[1] = (struct w_item){.key = ab[1], .f = IT_TRANSFER};
            o->amount = 1 + (int64_t) w__rnd_below(w, 10);
        }
    } else {
        /* List-append keys rotate: a window of `keys` keys serves
         * LIST_WINDOW operations, so lists stay short. */
        uint32_t base = 0;
        if (w->p.workload == W_LIST_APPEND)
            base = (uint32_t) (w->stats.ops_started / LIST_WINDOW) * w->p.keys;
        uint32_t n = 1 + (uint32_t) w__rnd_below(w, w->p.keys < 3 ? w->p.keys : 3);
        uint32_t keys[4];
        pick_keys(w, base, w->p.keys, n, keys);
        op = new_op(w, ro ? OP_READ : OP_TRANSFER, false, n);
        struct w_op *o = &w->ops[op];
        bool wrote = false;
        for (uint32_t k = 0; k < n; k++) {
            struct w_item *it = &o->items[k];
            it->key = keys[k];
            uint64_t r = w__rnd_below(w, 3);
            if (ro || (r == 0 && !(k == n - 1 && !wrote))) {
                it->f = IT_READ;
                continue;
            }
            wrote = true;
            if (w->p.workload == W_REGISTER) {
                it->f = (uint8_t) (IT_WRITE | (r == 1 ? IT_READ : 0));
                char buf[24];
                snprintf(buf, sizeof buf, "%llu", (unsigned long long) ++w->value_seq);
                it->wrote = strdup(buf);
            } else {
                it->f = (uint8_t) (IT_APPEND | (r == 1 ? IT_READ : 0));
                it->element = ++w->value_seq;
            }
        }
    }
    start_op(w, c, op);
}

static struct w_client *scripted_client(struct w_world *w)
{
    for (uint32_t i = W_CLIENTS_MAX; i < W_SLOTS_CLIENT; i++)
        if (w->clients[i].phase == C_IDLE)
            return &w->clients[i];
    SP_ASSERT(!"no scripted client free");
    return NULL;
}

int w_world_transfer(struct w_world *w, uint32_t a, uint32_t b, int64_t amount)
{
    SP_ASSERT(a < w->p.accounts && b < w->p.accounts && a != b);
    int op = new_op(w, OP_TRANSFER, true, 2);
    w->ops[op].items[0] = (struct w_item){.key = a, .f = IT_TRANSFER};
    w->ops[op].items[1] = (struct w_item){.key = b, .f = IT_TRANSFER};
    w->ops[op].amount = amount;
    start_op(w, scripted_client(w), op);
    return op;
}

static int read_all_op(struct w_world *w)
{
    int op = new_op(w, OP_READ, true, w->p.accounts);
    for (uint32_t k = 0; k < w->p.accounts; k++)
        w->ops[op].items[k] = (struct w_item){.key = k, .f = IT_READ};
    return op;
}

int w_world_read_all(struct w_world *w)
{
    int op = read_all_op(w);
    start_op(w, scripted_client(w), op);
    return op;
}

int w_world_read_all_at(struct w_world *w, tt_micros ts)
{
    SP_ASSERT(ts >= 1);
    int op = read_all_op(w);
    struct w_client *c = scripted_client(w);
    c->fixed_ts = ts;
    start_op(w, c, op);
    return op;
}

/* Bank: one transaction writes every account's initial balance. */
int w__init_accounts(struct w_world *w)
{
    int op = new_op(w, OP_TRANSFER, true, w->p.accounts);
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", (long long) w->p.balance);
    for (uint32_t k = 0; k < w->p.accounts; k++)
        w->ops[op].items[k] = (struct w_item){.key = k, .f = IT_WRITE, .wrote = strdup(buf)};
    start_op(w, scripted_client(w), op);
    return op;
}

void w_world_set_request_hook(struct w_world *w,
                              bool (*fn)(struct w_world *, uint32_t, const struct txn_request *,
                                         void *),
                              void *ctx)
{
    w->req_hook = fn;
    w->req_hook_ctx = ctx;
}

bool w_world_op_done(const struct w_world *w, int op)
{
    return w->ops[op].done;
}

int w_world_op_status(const struct w_world *w, int op)
{
    return w->ops[op].status;
}

int64_t w_world_op_balance(const struct w_world *w, int op, uint32_t account)
{
    const struct w_op *o = &w->ops[op];
    for (uint32_t k = 0; k < o->n_items; k++)
        if (o->items[k].key == account)
            return item_balance(w, &o->items[k]);
    SP_ASSERT(!"account not read by this op");
    return 0;
}

tt_micros w_world_op_ts(const struct w_world *w, int op)
{
    return w->ops[op].ts;
}

void w_world_op_times(const struct w_world *w, int op, tt_micros *invoke, tt_micros *complete)
{
    *invoke = w->ops[op].invoke;
    *complete = w->ops[op].complete;
}

int64_t w_world_peek(struct w_world *w, uint32_t node, uint32_t account, tt_micros t)
{
    char k[16];
    size_t kl = w__key_name(w, account, k);
    struct txn_version v = {0};
    int rc = txn_store_get(w->nodes[node].store, w_account_group(w, account), k, kl, t, &v, NULL);
    SP_ASSERT(rc == 0);
    struct txn_value tv = {.kind = v.kind, .ts = v.ts, .value = v.value, .value_len = v.value_len};
    struct w_item it = {.read = value_str(&tv)};
    int64_t bal = item_balance(w, &it);
    free(it.read);
    txn_version_clear(&v);
    return bal;
}

/*
 * participant.c - read-write transactions at a group leader: locking reads,
 * single-group commits, and the participant side of two-phase commit.
 *
 * From Spanner §4.2.1: "Like Bigtable, writes that occur in a transaction
 * are buffered at the client until commit. ... Reads within read-write
 * transactions use wound-wait [33] to avoid deadlocks. The client issues
 * reads to the leader replica of the appropriate group, which acquires read
 * locks and then reads the most recent data."
 *   "A non-coordinator-participant leader first acquires write locks. It
 * then chooses a prepare timestamp that must be larger than any timestamps
 * it has assigned to previous transactions (to preserve monotonicity), and
 * logs a prepare record through Paxos. Each participant then notifies the
 * coordinator of its prepare timestamp."
 *   "After commit wait, the coordinator sends the commit timestamp to the
 * client and all other participant leaders. Each participant leader logs
 * the transaction's outcome through Paxos. All participants apply at the
 * same timestamp and then release locks."
 *
 * Participant state diagram (leader side; every replica keeps `preps` from
 * the log):
 *
 *   (none) --READ--> ACTIVE (shared locks) --PREPARE--> WAIT_LOCKS
 *   WAIT_LOCKS --granted: prepare ts, log PREPARE--> LOGGING
 *   LOGGING --PREPARE applied: vote--> PREPARED
 *   PREPARED --DECISION msg: log OUTCOME--> (OUTCOME applied) released
 *   WAIT_LOCKS / ACTIVE --wound, expiry, abort decision--> WOUNDED (tombstone)
 *   PREPARED, no decision heard --query_period--> QUERY (and vote again)
 *   PREPARED, an older transaction waits on its locks --> WOUND to the
 *            coordinator, which aborts it if undecided (wound-wait across
 *            2PC: a prepared holder cannot be wounded here)
 *
 * Single-group commit: ACTIVE --COMMIT--> WAIT_LOCKS --granted: commit ts,
 * log COMMIT--> LOGGING --COMMIT applied: release locks, reply after
 * tt_after(s)--> released.
 *
 * Invariants:
 *   P1 A transaction is marked prepared in the lock table (so it can no
 *      longer be wounded) before its COMMIT or PREPARE record is proposed.
 *   P2 A prepared participant never aborts on its own; it keeps its locks,
 *      read and write (both named in its PREPARE record, and re-taken by a
 *      new leader once caught up), until an OUTCOME applies.
 *   P3 Locks are released only after the record that ends the transaction
 *      at this group has been applied here, so a later reader at this
 *      leader sees its writes.
 *   P4 A COMMIT or PREPARE that names the keys the transaction read here
 *      goes ahead only while the transaction still holds their locks.
 *
 * Transition -> function:
 *   READ request              -> txn__on_read()
 *   KEEPALIVE request         -> txn__on_keepalive()
 *   COMMIT (single)           -> txn__on_commit() -> log_with_ts()
 *   PREPARE request           -> txn__on_prepare() -> log_with_ts()
 *   locks granted later       -> txn__locks_granted() -> txn__rw_continue()
 *   wounded by an older txn   -> txn__handle_wounded()
 *   older waiter behind a
 *   prepared younger holder   -> wound_prepared_blockers()
 *   COMMIT applied            -> txn__apply_commit()
 *   PREPARE applied           -> txn__apply_prepare()
 *   DECISION message          -> txn__on_decision_msg()
 *   OUTCOME applied           -> txn__apply_outcome()
 *   caught up as new leader   -> txn__relock_prepared()
 *   no outcome heard          -> txn__participant_tick()
 */
#include "node_int.h"

#define WOUNDED_MAX 256u

/* ---- transaction records --------------------------------------------------- */

struct txn__rw *txn__rw_find(struct txn__group *g, txn_id id)
{
    for (uint32_t i = 0; i < g->rws_hi; i++)
        if (g->rws[i].used && g->rws[i].id == id)
            return &g->rws[i];
    return NULL;
}

/* Finds or creates; NULL when TXN_NODE_TXNS_MAX are active. */
struct txn__rw *txn__rw_get(struct txn_node *n, struct txn__group *g, txn_id id, tt_micros start_ts)
{
    struct txn__rw *t = txn__rw_find(g, id);
    if (t != NULL)
        return t;
    for (uint32_t i = 0; i < TXN_NODE_TXNS_MAX; i++) {
        t = &g->rws[i];
        if (t->used)
            continue;
        memset(t, 0, sizeof *t);
        t->used = true;
        t->id = id;
        t->start_ts = start_ts;
        t->state = TXN__RW_ACTIVE;
        t->deadline_us = n->now.earliest + n->cfg.vote_timeout_us;
        if (i + 1 > g->rws_hi)
            g->rws_hi = i + 1;
        return t;
    }
    return NULL;
}

void txn__rw_free(struct txn_node *n, struct txn__group *g, struct txn__rw *t)
{
    (void) n;
    SP_ASSERT(t->used && t >= g->rws && t < g->rws + g->rws_hi);
    free(t->blob);
    memset(t, 0, sizeof *t);
    while (g->rws_hi > 0 && !g->rws[g->rws_hi - 1].used)
        g->rws_hi--;
}

static void copy_locks(struct txn_node *n, struct txn__group *g, const struct txn_lock_grant *gr,
                       uint32_t k)
{
    /* The table's grant array dies at its next change; continuing a granted
     * transaction may change it, so work from a copy. */
    struct txn_lock_grant *c = txn__arena_dup(&n->arena, gr, sizeof *gr * k);
    txn__locks_granted(n, g, c, k);
}

/* P3: called once the record ending t here has been applied. */
void txn__release(struct txn_node *n, struct txn__group *g, struct txn__rw *t)
{
    SP_ASSERT(t != NULL && t->used);
    if (g->locks == NULL)
        return;
    const struct txn_lock_grant *gr = NULL;
    uint32_t k = 0;
    txn_locks_release(g->locks, t->id, n->now.earliest, &gr, &k);
    if (k)
        copy_locks(n, g, gr, k);
}

/* Aborts t before it logged anything: answer its client, release its locks
 * and keep a tombstone so its next request learns why. */
void txn__rw_abort(struct txn_node *n, struct txn__group *g, struct txn__rw *t, int status)
{
    SP_ASSERT(t->used && status != 0);
    SP_ASSERT(t->state != TXN__RW_LOGGING && t->state != TXN__RW_PREPARED);
    if (t->has_client && t->retry) { /* its COMMIT may have been sent before */
        txn__log_abort(n, g, t, status);
        return;
    }
    SP_DEBUG("txn node %u: group %llu: abort txn %llu in state %d: %s", n->cfg.self,
             (unsigned long long) g->id, (unsigned long long) t->id, t->state, sp_errname(status));
    if (t->has_client)
        txn__reply_status(n, t->client, t->req_id, t->id, status, 0);
    t->has_client = false;
    t->state = TXN__RW_WOUNDED;
    t->abort_status = status;
    t->expire_us = n->now.earliest + n->cfg.idle_timeout_us;
    free(t->blob);
    t->blob = NULL;
    t->keys_n = t->writes_n = 0;
    txn__release(n, g, t);
}

/* Copies the request's keys and writes into one owned blob. */
int txn__rw_copy_request(struct txn__rw *t, const struct txn_request *req)
{
    size_t bytes = sizeof(struct txn_key) * req->keys_n + sizeof(struct txn_write) * req->writes_n;
    for (uint32_t i = 0; i < req->keys_n; i++)
        bytes += req->keys[i].key_len;
    for (uint32_t i = 0; i < req->writes_n; i++)
        bytes += req->writes[i].key_len + req->writes[i].value_len;
    free(t->blob);
    t->blob = malloc(bytes ? bytes : 1);
    if (t->blob == NULL)
        return SP_ENOMEM;
    t->keys = (struct txn_key *) t->blob;
    t->writes = (struct txn_write *) (t->keys + req->keys_n);
    uint8_t *p = (uint8_t *) (t->writes + req->writes_n);
    for (uint32_t i = 0; i < req->keys_n; i++) {
        t->keys[i].key = memcpy(p, req->keys[i].key, req->keys[i].key_len);
        t->keys[i].key_len = req->keys[i].key_len;
        p += req->keys[i].key_len;
    }
    for (uint32_t i = 0; i < req->writes_n; i++) {
        struct txn_write w = req->writes[i];
        w.key = memcpy(p, w.key, w.key_len);
        p += w.key_len;
        if (w.kind != TXN_WRITE_PUT)
            w.value_len = 0;
        w.value = w.value_len ? memcpy(p, w.value, w.value_len) : NULL;
        p += w.value_len;
        t->writes[i] = w;
    }
    SP_ASSERT((size_t) (p - t->blob) == bytes);
    t->keys_n = req->keys_n;
    t->writes_n = req->writes_n;
    return 0;
}

/* ---- locks -------------------------------------------------------------------- */

struct blockers {
    txn_id waiter;
    txn_id ids[64];
    uint32_t n;
};

static void collect_blocker(void *ctx, txn_id waiter, txn_id blocker)
{
    struct blockers *b = ctx;
    if (waiter != b->waiter || b->n == 64)
        return;
    for (uint32_t i = 0; i < b->n; i++)
        if (b->ids[i] == blocker)
            return;
    b->ids[b->n++] = blocker;
}

static bool older(const struct txn__rw *a, const struct txn__rw *b)
{
    return a->start_ts < b->start_ts || (a->start_ts == b->start_ts && a->id < b->id);
}

/*
 * Wound-wait across 2PC: a prepared holder cannot be wounded here (its
 * outcome belongs to its coordinator), so an older waiter would wait for a
 * younger transaction, which can close a cycle through another group. The
 * wound goes to the holder's coordinator instead, which aborts it if it has
 * not decided yet.
 */
static void wound_prepared_blockers(struct txn_node *n, struct txn__group *g, struct txn__rw *t)
{
    struct blockers b = {.waiter = t->id};
    txn_locks_blockers(g->locks, t->id, collect_blocker, &b);
    for (uint32_t i = 0; i < b.n; i++) {
        struct txn__rw *h = txn__rw_find(g, b.ids[i]);
        if (h == NULL || h->role != TXN__ROLE_PART || !older(t, h))
            continue;
        if (h->state != TXN__RW_PREPARED && h->state != TXN__RW_LOGGING)
            continue;
        struct txn_msg m = {.type = TXN_MSG_WOUND, .id = h->id};
        m.from_group = g->id;
        txn__send_group(n, h->coord, &m);
    }
}

/* Requests `mode` on each key; counts waits in t->waits. Returns 0 or the
 * lock table's error (the caller aborts t). Younger holders it wounds are
 * handled after the loop, since aborting them changes the table. */
static int lock_keys(struct txn_node *n, struct txn__group *g, struct txn__rw *t,
                     const struct txn_key *keys, const struct txn_write *writes, uint32_t k,
                     enum txn_lock_mode mode)
{
    txn_id wounded[WOUNDED_MAX] = {0}; /* zeroed: gcc -O2 cannot see wounded_n guards it */
    uint32_t wounded_n = 0;
    struct txn_lock_owner owner = {t->id, t->start_ts};
    int rc = 0;
    t->waits = 0;
    for (uint32_t i = 0; i < k && rc == 0; i++) {
        const void *key = keys ? keys[i].key : writes[i].key;
        size_t len = keys ? keys[i].key_len : writes[i].key_len;
        struct txn_lock_result res;
        rc = txn_locks_acquire(g->locks, &owner, key, len, mode, n->now.earliest, &res, NULL);
        if (rc == SP_EINVAL) /* the same key twice in one request: already queued */
            rc = 0;
        else if (rc == 0 && res.status == TXN_LOCK_WAIT)
            t->waits++;
        for (uint32_t j = 0; rc == 0 && j < res.wounded_n && wounded_n < WOUNDED_MAX; j++)
            wounded[wounded_n++] = res.wounded[j];
    }
    txn__handle_wounded(n, g, wounded, wounded_n);
    if (rc == 0 && t->waits > 0 && t->used && g->preps_n > 0)
        wound_prepared_blockers(n, g, t);
    return rc;
}

int txn__lock_writes(struct txn_node *n, struct txn__group *g, struct txn__rw *t)
{
    return lock_keys(n, g, t, NULL, t->writes, t->writes_n, TXN_LOCK_EXCLUSIVE);
}

void txn__handle_wounded(struct txn_node *n, struct txn__group *g, const txn_id *ids,
                         uint32_t ids_n)
{
    SP_ASSERT(ids_n <= WOUNDED_MAX);
    for (uint32_t i = 0; i < ids_n; i++) {
        struct txn__rw *t = txn__rw_find(g, ids[i]);
        if (t == NULL) {
            txn_locks_release(g->locks, ids[i], n->now.earliest, NULL, NULL);
            continue;
        }
        if (t->state == TXN__RW_WOUNDED || t->state == TXN__RW_LOGGING ||
            t->state == TXN__RW_PREPARED)
            continue; /* already ending, or past the point of being wounded (P1) */
        if (t->role == TXN__ROLE_COORD && t->commit_arrived) {
            txn__coord_decide_abort(n, g, t);
            continue;
        }
        if (t->role == TXN__ROLE_PART) {
            struct txn_msg v = {.type = TXN_MSG_VOTE, .id = t->id, .status = SP_ETXN_WOUNDED};
            v.from_group = g->id;
            txn__send_group(n, t->coord, &v);
        }
        txn__rw_abort(n, g, t, SP_ETXN_WOUNDED);
    }
}

void txn__locks_granted(struct txn_node *n, struct txn__group *g, const struct txn_lock_grant *gr,
                        uint32_t grants_n)
{
    for (uint32_t i = 0; i < grants_n; i++) {
        struct txn__rw *t = txn__rw_find(g, gr[i].id);
        if (t == NULL || t->waits == 0)
            continue;
        t->waits--;
        if (t->waits == 0 && g->locks != NULL)
            txn__rw_continue(n, g, t);
    }
}

/* ---- requests --------------------------------------------------------------------- */

/* Common entry for READ, COMMIT and PREPARE: the transaction record, unless
 * it was wounded (answered) or is busy with another request. */
static struct txn__rw *begin(struct txn_node *n, struct txn__group *g,
                             const struct txn_request *req)
{
    struct txn__rw *t = txn__rw_get(n, g, req->id, req->start_ts);
    int status = 0;
    if (t == NULL)
        status = SP_EFULL;
    else if (t->state == TXN__RW_WOUNDED)
        status = t->abort_status == SP_ETXN_WOUNDED ? SP_ETXN_WOUNDED : SP_ETXN_ABORTED;
    else if (t->state != TXN__RW_ACTIVE || t->has_client)
        status = SP_EINVAL;
    else if (txn__rw_copy_request(t, req))
        status = SP_ENOMEM;
    if (status) {
        txn__reply_status(n, req->client, req->req_id, req->id, status, 0);
        if (req->type == TXN_REQ_PREPARE && t != NULL && t->state == TXN__RW_WOUNDED) {
            struct txn_msg v = {.type = TXN_MSG_VOTE, .id = req->id, .status = status};
            v.from_group = g->id;
            txn__send_group(n, req->coord_group, &v);
        }
        return NULL;
    }
    t->start_ts = t->start_ts ? t->start_ts : req->start_ts;
    t->retry = req->type == TXN_REQ_COMMIT && req->retry;
    t->has_client = req->type != TXN_REQ_PREPARE;
    t->client = req->client;
    t->req_id = req->req_id;
    return t;
}

void txn__on_read(struct txn_node *n, struct txn__group *g, const struct txn_request *req)
{
    struct txn__rw *t = begin(n, g, req);
    if (t == NULL)
        return;
    t->state = TXN__RW_WAIT_READ;
    txn_id id = t->id;
    int rc = lock_keys(n, g, t, t->keys, NULL, t->keys_n, TXN_LOCK_SHARED);
    if (!t->used || t->id != id || t->state != TXN__RW_WAIT_READ)
        return; /* ended while handling wounds */
    if (rc)
        txn__rw_abort(n, g, t, rc);
    else if (t->waits == 0)
        txn__rw_continue(n, g, t);
}

/* P4: COMMIT and PREPARE may name the keys the transaction read here; each
 * must still be locked by it, or its reads may be stale (a new leader's
 * lock table starts empty; an idle transaction's locks expire). 0 or
 * SP_ETXN_ABORTED. */
static int reads_still_locked(const struct txn__group *g, const struct txn__rw *t)
{
    for (uint32_t i = 0; i < t->keys_n; i++)
        if (!txn_locks_holds(g->locks, t->id, t->keys[i].key, t->keys[i].key_len))
            return SP_ETXN_ABORTED;
    return 0;
}

static void commit_role(struct txn__rw *t, const struct txn_request *req)
{
    t->role = req->participants_n ? TXN__ROLE_COORD : TXN__ROLE_SINGLE;
    t->parts_n = req->participants_n;
    for (uint32_t i = 0; i < req->participants_n; i++)
        t->parts[i] = req->participants[i];
}

/* A COMMIT for a transaction whose COMMIT is already being served here (the
 * client resent it after losing the answer): the new request takes over
 * the answer; the old one hears only that its outcome is not known to it. */
static bool commit_repeated(struct txn_node *n, struct txn__rw *t, const struct txn_request *req)
{
    if (!t->has_client || !t->commit_arrived)
        return false;
    txn__reply_status(n, t->client, t->req_id, t->id, SP_ETXN_UNKNOWN, 0);
    t->client = req->client;
    t->req_id = req->req_id;
    t->retry = true;
    return true;
}

void txn__on_commit(struct txn_node *n, struct txn__group *g, const struct txn_request *req)
{
    const struct txn__decision *d = txn__decision_find(n, g, req->id);
    if (d != NULL) { /* a repeated commit: the decision stands */
        txn__answer_decided(n, g, req, d->ts);
        return;
    }
    struct txn__rw *t = txn__rw_find(g, req->id);
    if (t != NULL && commit_repeated(n, t, req))
        return;
    if (t != NULL && t->state == TXN__RW_WOUNDED && req->retry) {
        /* Ended here before it logged anything; an earlier copy of this
         * COMMIT may still reach a later leader: make the end durable. */
        t->has_client = true;
        t->client = req->client;
        t->req_id = req->req_id;
        t->retry = true;
        commit_role(t, req);
        txn__log_abort(n, g, t, t->abort_status ? t->abort_status : SP_ETXN_ABORTED);
        return;
    }
    t = begin(n, g, req);
    if (t == NULL)
        return;
    commit_role(t, req);
    t->commit_arrived = true;
    t->arrival = n->now; /* From §4.2.1: s > TT.now().latest when the commit arrived */
    t->deadline_us = n->now.earliest + n->cfg.vote_timeout_us;
    t->state = TXN__RW_WAIT_LOCKS;
    txn_id id = t->id;
    int rc = reads_still_locked(g, t);
    if (rc == 0)
        rc = txn__lock_writes(n, g, t);
    if (!t->used || t->id != id || t->state != TXN__RW_WAIT_LOCKS)
        return;
    if (rc) {
        if (t->role == TXN__ROLE_COORD)
            txn__coord_decide_abort(n, g, t);
        else
            txn__rw_abort(n, g, t, rc);
    } else if (t->waits == 0) {
        txn__rw_continue(n, g, t);
    }
}

void txn__on_prepare(struct txn_node *n, struct txn__group *g, const struct txn_request *req)
{
    if (txn__prep_find(g, req->id) != NULL) { /* the vote is repeated by the tick */
        txn__reply_status(n, req->client, req->req_id, req->id, 0, 0);
        return;
    }
    struct txn__rw *t = begin(n, g, req);
    if (t == NULL)
        return; /* begin answered the client */
    int rc = reads_still_locked(g, t);
    /* The client hears only that the prepare was taken (or that its read
     * locks are lost); the outcome comes from the coordinator (has_client
     * stays false for PREPARE). */
    txn__reply_status(n, req->client, req->req_id, req->id, rc, 0);
    t->role = TXN__ROLE_PART;
    t->coord = req->coord_group;
    t->state = TXN__RW_WAIT_LOCKS;
    txn_id id = t->id;
    if (rc == 0)
        rc = txn__lock_writes(n, g, t);
    if (!t->used || t->id != id || t->state != TXN__RW_WAIT_LOCKS)
        return;
    if (rc) {
        struct txn_msg v = {.type = TXN_MSG_VOTE, .id = t->id, .status = rc};
        v.from_group = g->id;
        txn__send_group(n, t->coord, &v);
        txn__rw_abort(n, g, t, rc);
    } else if (t->waits == 0) {
        txn__rw_continue(n, g, t);
    }
}

void txn__on_abort(struct txn_node *n, struct txn__group *g, const struct txn_request *req)
{
    struct txn__rw *t = txn__rw_find(g, req->id);
    if (t != NULL && t->state != TXN__RW_LOGGING && t->state != TXN__RW_PREPARED &&
        t->state != TXN__RW_WOUNDED && !(t->role == TXN__ROLE_COORD && t->commit_arrived))
        txn__rw_abort(n, g, t, SP_ETXN_ABORTED);
    txn__reply_status(n, req->client, req->req_id, req->id, 0, 0);
}

void txn__on_keepalive(struct txn_node *n, struct txn__group *g, const struct txn_request *req)
{
    struct txn__rw *t = txn__rw_find(g, req->id);
    int status = 0;
    if (t == NULL)
        status = SP_ETXN_ABORTED; /* expired and forgotten, or never seen here */
    else if (t->state == TXN__RW_WOUNDED)
        status = t->abort_status == SP_ETXN_WOUNDED ? SP_ETXN_WOUNDED : SP_ETXN_ABORTED;
    else if (txn_locks_keepalive(g->locks, req->id, n->now.earliest, NULL) == SP_ETXN_WOUNDED)
        status = SP_ETXN_WOUNDED;
    /* SP_ENOTFOUND from the lock table: it holds no lock yet; nothing to keep. */
    txn__reply_status(n, req->client, req->req_id, req->id, status, 0);
}

/* ---- proceeding once locks are held ------------------------------------------------ */

struct read_locks {
    struct txn_node *n;
    struct txn_write *keys; /* TXN__REC_READS_MAX, in the step's arena */
    uint32_t keys_n;        /* may exceed the capacity: then too many */
};

static void collect_read_lock(void *ctx, const void *key, size_t key_len)
{
    struct read_locks *rl = ctx;
    if (rl->keys_n < TXN__REC_READS_MAX)
        rl->keys[rl->keys_n] =
            (struct txn_write){.kind = TXN_WRITE_PUT,
                               .key = txn__arena_dup(&rl->n->arena, key, key_len),
                               .key_len = key_len};
    rl->keys_n++;
}

/* P2: the read locks a participant holds go into its PREPARE record, so a
 * new leader re-takes them with the write locks. A read lock lost in a
 * leader change after the prepare would let a write under the read commit
 * below the transaction's commit timestamp, which the read did not see. */
static int prepare_reads(struct txn_node *n, struct txn__group *g, struct txn__rw *t,
                         struct txn__rec *rec)
{
    struct read_locks rl = {.n = n};
    rl.keys = txn__arena_alloc(&n->arena, sizeof *rl.keys * TXN__REC_READS_MAX);
    txn_locks_held(g->locks, t->id, TXN_LOCK_SHARED, collect_read_lock, &rl);
    if (rl.keys_n > TXN__REC_READS_MAX)
        return SP_ETXN_TOO_LARGE;
    rec->reads = rl.keys;
    rec->reads_n = rl.keys_n;
    return 0;
}

/* Logs COMMIT (single) or PREPARE (participant) with a fresh timestamp. */
static void log_with_ts(struct txn_node *n, struct txn__group *g, struct txn__rw *t)
{
    bool single = t->role == TXN__ROLE_SINGLE;
    struct txn_ts_bounds b;
    tt_micros ts = 0;
    struct txn__rec rec = {.type = single ? TXN__REC_COMMIT : TXN__REC_PREPARE, .id = t->id};
    int rc = txn_locks_prepared(g->locks, t->id, NULL); /* P1 */
    if (rc == 0 && !single)
        rc = prepare_reads(n, g, t, &rec);
    if (rc == 0)
        rc = txn__ts_bounds(n, g, &b);
    if (rc == 0)
        rc = single ? txn_ts_commit(&b, &ts, NULL) : txn_ts_prepare(&b, &ts, NULL);
    if (rc == 0)
        rc = paxos_note_assigned_ts(g->r, n->now, ts); /* N4 */
    rec.ts = ts;
    rec.coord = t->coord;
    rec.writes_n = t->writes_n;
    rec.writes = t->writes;
    txn_id id = t->id;
    if (rc == 0) {
        SP_ASSERT(ts >= n->now.latest && ts > b.last_assigned); /* §4.1.2 start, monotonic */
        t->state = TXN__RW_LOGGING;
        t->ts = ts;
        t->logging_since_us = n->now.earliest;
        rc = txn__propose(n, g, &rec);
    }
    if (rc == 0 || !t->used || t->id != id)
        return;
    SP_DEBUG("txn node %u: group %llu: txn %llu cannot log: %s", n->cfg.self,
             (unsigned long long) g->id, (unsigned long long) id, sp_errname(rc));
    if (!single) {
        struct txn_msg v = {.type = TXN_MSG_VOTE, .id = t->id, .status = SP_ETXN_ABORTED};
        v.from_group = g->id;
        txn__send_group(n, t->coord, &v);
    }
    t->state = TXN__RW_ACTIVE;
    txn__rw_abort(n, g, t, rc == SP_ETXN_WOUNDED ? rc : SP_ETXN_ABORTED);
}

void txn__rw_continue(struct txn_node *n, struct txn__group *g, struct txn__rw *t)
{
    SP_ASSERT(t->used && t->waits == 0);
    switch (t->state) {
    case TXN__RW_WAIT_READ:
        t->state = TXN__RW_ACTIVE;
        t->has_client = false;
        txn__serve_read(n, g, t->client, t->req_id, t->id, t->keys, t->keys_n, TT_MICROS_MAX);
        break;
    case TXN__RW_WAIT_LOCKS:
        if (t->role == TXN__ROLE_COORD) {
            t->state = TXN__RW_VOTES;
            txn__coord_try_decide(n, g, t);
        } else {
            log_with_ts(n, g, t);
        }
        break;
    default:
        break;
    }
}

/* ---- apply (every replica) ---------------------------------------------------------- */

int txn__apply_commit(struct txn_node *n, struct txn__group *g, uint64_t pos,
                      const struct txn__rec *rec)
{
    SP_ASSERT(rec->type == TXN__REC_COMMIT && rec->ts >= 1);
    /* The outcome is recorded with the data, so any later leader answers a
     * repeated COMMIT (txn.h, "Answers"). */
    struct txn_state_write sw[2];
    txn__outcome_writes(n, rec->id, rec->ts, sw);
    struct txn_apply a = {.group = g->id, .ts = rec->ts, .writes = rec->writes};
    a.writes_n = rec->writes_n;
    a.state = sw;
    a.state_n = 2;
    a.applied_index = pos;
    int rc = txn__store_apply(n, g, &a);
    if (rc)
        return rc;
    txn__decision_add(n, g, rec->id, rec->ts);
    txn_safetime_apply_commit(g->st, pos, rec->ts);
    g->applied = pos;
    struct txn__rw *t = g->leader ? txn__rw_find(g, rec->id) : NULL;
    if (t != NULL && t->state == TXN__RW_LOGGING) {
        txn__release(n, g, t);
        txn__hold_commit_reply(n, g, t, rec->ts);
        txn__rw_free(n, g, t);
    }
    return 0;
}

static void state_key(uint8_t key[9], char kind, txn_id id)
{
    key[0] = (uint8_t) kind;
    for (int i = 0; i < 8; i++)
        key[1 + i] = (uint8_t) (id >> (8 * (7 - i)));
}

int txn__apply_prepare(struct txn_node *n, struct txn__group *g, uint64_t pos,
                       const struct txn__rec *rec, const uint8_t *raw, size_t raw_len)
{
    SP_ASSERT(rec->type == TXN__REC_PREPARE && rec->ts >= 1);
    bool dup = txn__prep_find(g, rec->id) != NULL;
    uint8_t key[9];
    state_key(key, 'p', rec->id);
    /* The record itself is the participant's durable state until the
     * outcome: it survives log truncation and restarts. */
    struct txn_state_write sw = {.key = key, .key_len = 9, .value = raw, .value_len = raw_len};
    struct txn_apply a = {.group = g->id, .state = dup ? NULL : &sw, .state_n = dup ? 0 : 1};
    a.applied_index = pos;
    int rc = txn__store_apply(n, g, &a);
    if (rc)
        return rc;
    g->applied = pos;
    if (dup) {
        txn_safetime_apply_other(g->st, pos);
        return 0;
    }
    rc = txn_safetime_apply_prepare(g->st, pos, rec->id, rec->ts, NULL);
    SP_ASSERT(rc == 0);
    rc = txn__prep_add(g, rec->id, rec->ts, rec->coord, raw, raw_len);
    SP_ASSERT(rc == 0);
    struct txn__rw *t = g->leader ? txn__rw_find(g, rec->id) : NULL;
    if (t != NULL && t->state == TXN__RW_LOGGING) {
        t->state = TXN__RW_PREPARED;
        struct txn_msg v = {.type = TXN_MSG_VOTE, .id = rec->id, .ts = rec->ts};
        v.from_group = g->id;
        txn__send_group(n, rec->coord, &v);
        txn__prep_find(g, rec->id)->next_query_us = n->now.earliest + n->cfg.query_period_us;
    }
    return 0;
}

int txn__apply_outcome(struct txn_node *n, struct txn__group *g, uint64_t pos,
                       const struct txn__rec *rec)
{
    SP_ASSERT(rec->type == TXN__REC_OUTCOME && rec->ts >= 0);
    struct txn__prep *p = txn__prep_find(g, rec->id);
    struct txn_apply a = {.group = g->id, .applied_index = pos};
    struct txn__rec prep;
    struct txn_write *ws = txn__arena_alloc(&n->arena, sizeof *ws * TXN__REC_ENTRIES_MAX);
    uint8_t key[9];
    state_key(key, 'p', rec->id);
    struct txn_state_write sw = {.key = key, .key_len = 9};
    if (p != NULL) {
        int drc = txn__rec_decode(p->rec, p->rec_len, &prep, ws, TXN__REC_ENTRIES_MAX, NULL);
        SP_ASSERT(drc == 0);
        if (rec->ts > 0) { /* From §4.2.1: all participants apply at the same timestamp */
            SP_ASSERT(rec->ts >= p->ts);
            a.ts = rec->ts;
            a.writes = prep.writes;
            a.writes_n = prep.writes_n;
        }
        a.state = &sw;
        a.state_n = 1;
    }
    int rc = txn__store_apply(n, g, &a);
    if (rc)
        return rc;
    g->applied = pos;
    if (p == NULL) {
        txn_safetime_apply_other(g->st, pos); /* a repeated outcome */
        return 0;
    }
    rc = txn_safetime_apply_outcome(g->st, pos, rec->id, rec->ts, NULL);
    SP_ASSERT(rc == 0);
    free(p->rec);
    *p = g->preps[--g->preps_n];
    struct txn__rw *t = g->leader ? txn__rw_find(g, rec->id) : NULL;
    if (t != NULL) {
        txn__release(n, g, t);
        txn__rw_free(n, g, t);
    }
    return 0;
}

/* ---- 2PC messages and timers ------------------------------------------------------- */

void txn__on_decision_msg(struct txn_node *n, struct txn__group *g, const struct txn_msg *m)
{
    struct txn__prep *p = txn__prep_find(g, m->id);
    if (p != NULL) {
        if (m->ts > 0)
            SP_ASSERT(m->ts >= p->ts); /* commit ts >= every prepare ts */
        struct txn__rec rec = {.type = TXN__REC_OUTCOME, .id = m->id, .ts = m->ts};
        /* Another group's timestamp enters this group's log: later ones
         * chosen here must stay above it (txn__ts_bounds). */
        if (m->ts > g->outcome_ts_max)
            g->outcome_ts_max = m->ts;
        if (txn__propose(n, g, &rec) == 0)
            p->next_query_us = n->now.earliest + n->cfg.query_period_us;
        return;
    }
    /* Not prepared (yet): only an abort matters, and only before logging. */
    struct txn__rw *t = txn__rw_find(g, m->id);
    if (m->ts == 0 && t != NULL && t->role == TXN__ROLE_PART &&
        (t->state == TXN__RW_WAIT_LOCKS || t->state == TXN__RW_ACTIVE))
        txn__rw_abort(n, g, t, SP_ETXN_ABORTED);
}

/* A prepared participant's leader asks the coordinator group for the
 * outcome, and repeats its vote in case it was lost (P2). */
void txn__participant_tick(struct txn_node *n, struct txn__group *g, tt_micros *wake)
{
    if (!g->leader || !g->caught_up)
        return;
    for (uint32_t i = 0; i < g->preps_n; i++) {
        struct txn__prep *p = &g->preps[i];
        if (p->next_query_us <= n->now.earliest) {
            struct txn_msg q = {.type = TXN_MSG_QUERY, .id = p->id};
            q.from_group = g->id;
            txn__send_group(n, p->coord, &q);
            struct txn_msg v = {.type = TXN_MSG_VOTE, .id = p->id, .ts = p->ts};
            v.from_group = g->id;
            txn__send_group(n, p->coord, &v);
            p->next_query_us = n->now.earliest + n->cfg.query_period_us;
        }
        if (p->next_query_us < *wake)
            *wake = p->next_query_us;
    }
}

/* N3: a new leader, once caught up, takes the locks of every transaction
 * prepared in the log, the read locks and the write locks its PREPARE
 * record names, so no reader slips past its writes and no writer under its
 * reads (P2). They never conflict: the leader that logged each prepare held
 * all of them at once, together with every earlier prepared transaction's.
 * A transaction whose record names no lock (logged before records carried
 * read locks, by a participant that only read) holds none here. */
void txn__relock_prepared(struct txn_node *n, struct txn__group *g)
{
    SP_ASSERT(g->leader && g->locks != NULL);
    struct txn_write *ws = txn__arena_alloc(&n->arena, sizeof *ws * TXN__REC_ENTRIES_MAX);
    for (uint32_t i = 0; i < g->preps_n; i++) {
        struct txn__prep *p = &g->preps[i];
        struct txn__rec rec;
        int rc = txn__rec_decode(p->rec, p->rec_len, &rec, ws, TXN__REC_ENTRIES_MAX, NULL);
        SP_ASSERT(rc == 0);
        struct txn__rw *t = txn__rw_get(n, g, p->id, p->ts);
        SP_ASSERT(t != NULL && t->state == TXN__RW_ACTIVE);
        t->role = TXN__ROLE_PART;
        t->coord = p->coord;
        rc = lock_keys(n, g, t, NULL, rec.reads, rec.reads_n, TXN_LOCK_SHARED);
        SP_ASSERT(rc == 0 && t->waits == 0); /* prepared lock sets never conflict */
        rc = lock_keys(n, g, t, NULL, rec.writes, rec.writes_n, TXN_LOCK_EXCLUSIVE);
        SP_ASSERT(rc == 0 && t->waits == 0);
        if (rec.reads_n + rec.writes_n > 0) {
            rc = txn_locks_prepared(g->locks, t->id, NULL);
            SP_ASSERT(rc == 0);
        }
        t->state = TXN__RW_PREPARED;
        p->next_query_us = n->now.earliest;
    }
}

struct txn__prep *txn__prep_find(struct txn__group *g, txn_id id)
{
    for (uint32_t i = 0; i < g->preps_n; i++)
        if (g->preps[i].id == id)
            return &g->preps[i];
    return NULL;
}

int txn__prep_add(struct txn__group *g, txn_id id, tt_micros ts, txn_group_id coord,
                  const uint8_t *raw, size_t raw_len)
{
    if (txn__prep_find(g, id) != NULL)
        return SP_EINVAL;
    if (g->preps_n == g->preps_max)
        return SP_EFULL;
    uint8_t *copy = malloc(raw_len);
    if (copy == NULL)
        return SP_ENOMEM;
    memcpy(copy, raw, raw_len);
    g->preps[g->preps_n++] = (struct txn__prep){id, ts, coord, copy, raw_len, 0};
    return 0;
}

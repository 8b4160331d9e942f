/*
 * node.c - one node hosting replicas of many Paxos groups (DESIGN §3): the
 * step function, routing, the apply path and leadership changes.
 *
 * A step runs in three phases, so that nothing is re-entered:
 *   1. dispatch the event (a Paxos message, a transaction message, a client
 *      request, a persist completion, a tick) to its group;
 *   2. drain every group's queue of committed entries, applying each record
 *      in log order; applying may release locks, which may let transactions
 *      proceed and propose new records (whose Paxos updates are absorbed
 *      into the same node update);
 *   3. timers: commit-wait replies and safe-time reads that are now due,
 *      MinNextTS promises, vote and idle timeouts, participants' queries;
 *      and the next wake-up.
 *
 * Invariants:
 *   N1 Persist before send: every Paxos update absorbed in a step is copied
 *      whole (persist batch, messages) into the node update, and the driver
 *      sends nothing of that update until all its batches are durable.
 *   N2 Everything a group applies comes from its log, in log order, at the
 *      record's timestamp; position pos = (slot, k) strictly increases, and
 *      records at or below the store's applied index are skipped (replay
 *      after a restart).
 *   N3 A leader serves read-write work only once caught up: it has applied
 *      every slot its log held when it became leader, so the data it reads
 *      and the prepared transactions it re-locks include every commit of the
 *      leaders before it.
 *   N4 Every timestamp a leader hands out (commit, prepare, MinNextTS) is
 *      recorded with paxos_note_assigned_ts() before anything carries it, so
 *      it is inside the lease and the next one is above it (s_max).
 *   N5 From Spanner §4.1.2: "within each Paxos group, Spanner assigns
 *      timestamps to Paxos writes in monotonically increasing order, even
 *      across leaders". Every replica asserts it on what it applies: the
 *      timestamps leaders assign (COMMIT, PREPARE, DECISION to commit)
 *      strictly increase in log order. (An OUTCOME carries the coordinator's
 *      s, not this group's; prepared-transaction safe time covers it.)
 *   N6 A record proposed by a leader older than the proposer of a record
 *      applied before it (its tag, the proposer's ballot, below tag_max) is
 *      skipped: its position counts as applied, nothing else changes. Paxos
 *      can choose such a record after a newer leader's: an old leader,
 *      partitioned, accepts its own proposals at slots the newer leader,
 *      not seeing them, never used; a later leader whose phase 1 meets that
 *      acceptor must re-propose them, behind the newer leader's records.
 *      Its timestamps are below theirs (N5) and may be below a MinNextTS
 *      promise already applied (t_safe). Skipping is safe: the old proposer
 *      applies the log in the same order, so it skips the record too and
 *      never reports it (no reply, vote or decision leaves for it); for the
 *      transaction it is as if the leader had died before logging it.
 *      tag_max is durable (state record "b", written before the record
 *      that raises it), so every replica, restarted or not, skips the same
 *      records. Skipping protects a promise only once a record of its
 *      leader is in the log before the promised slot: a leader logs a
 *      BARRIER before its first promise if it has logged nothing (R2).
 *
 * Transition -> function:
 *   paxos message / persisted / tick   -> step_paxos()   -> txn__absorb()
 *   committed entry                    -> apply_entry()  -> txn__apply_*()
 *   became leader / lost leadership    -> leadership()
 *   caught up as leader                -> txn__relock_prepared()
 *   snapshot_every slots applied       -> snapshot_tick() (log truncation)
 *   client request                     -> on_client()    -> participant.c,
 *                                         coordinator.c, reads.c
 *   transaction message                -> on_txn_msg()
 */
#include "node_int.h"

#define APPLY_ROUNDS_MAX 1024u /* apply/propose rounds in one step */
#define PERSISTS_MAX     (4u * TXN_NODE_GROUPS_MAX * APPLY_ROUNDS_MAX)
#define OUT_MSGS_MAX     (1u << 20)
/* State records one restart visits: prepared transactions and coordinator
 * decisions (decisions are not collected yet; see txn.h). */
#define RECOVER_RECORDS_MAX (1u << 26)

void txn_node_config_init(struct txn_node_config *cfg)
{
    SP_ASSERT(cfg != NULL);
    memset(cfg, 0, sizeof *cfg);
    cfg->min_next_period_us = 100 * 1000;
    cfg->read_timeout_us = 1000 * 1000;
    cfg->vote_timeout_us = 1000 * 1000;
    cfg->query_period_us = 200 * 1000;
    cfg->idle_timeout_us = 10 * 1000 * 1000;
    cfg->gc_period_us = 60 * 1000 * 1000;
    cfg->snapshot_every = 1024;
    cfg->outcome_retention_us = 3600LL * 1000 * 1000;
    txn_locks_config_init(&cfg->locks);
    cfg->seed = 1;
}

struct txn__group *txn__group_find(struct txn_node *n, txn_group_id id)
{
    for (uint32_t i = 0; i < n->groups_n; i++)
        if (n->groups[i].id == id)
            return &n->groups[i];
    return NULL;
}

const struct txn_directory_entry *txn__directory(const struct txn_node *n, txn_group_id id)
{
    for (uint32_t i = 0; i < n->cfg.directory_n; i++)
        if (n->cfg.directory[i].group == id)
            return &n->cfg.directory[i];
    return NULL;
}

txn_node_id txn__hint(const struct txn__group *g)
{
    return paxos_leader_hint(g->r);
}

/* ---- creation and recovery --------------------------------------------- */

static int validate(const struct txn_node_config *cfg, struct sp_err *err)
{
    if (cfg->self == 0 || cfg->groups_n == 0 || cfg->groups_n > TXN_NODE_GROUPS_MAX ||
        cfg->directory_n > TXN_DIRECTORY_MAX)
        return sp_err_set(err, SP_ECONFIG, "txn node %u: %u groups, %u directory entries",
                          cfg->self, cfg->groups_n, cfg->directory_n);
    for (uint32_t i = 0; i < cfg->groups_n; i++) {
        if (cfg->groups[i].paxos.self != cfg->self)
            return sp_err_set(err, SP_ECONFIG, "txn node %u: group %llu has paxos self %u",
                              cfg->self, (unsigned long long) cfg->groups[i].group,
                              cfg->groups[i].paxos.self);
    }
    if (cfg->min_next_period_us <= 0 || cfg->read_timeout_us <= 0 || cfg->vote_timeout_us <= 0 ||
        cfg->query_period_us <= 0 || cfg->idle_timeout_us <= 0 || cfg->gc_period_us < 0 ||
        cfg->outcome_retention_us <= 0)
        return sp_err_set(err, SP_ECONFIG, "txn node %u: a period is not positive", cfg->self);
    return 0;
}

struct recover_ctx {
    struct txn__group *g;
    int rc;
};

/* State records: "p" + id = a prepared transaction's PREPARE record,
 * "d" + id = a transaction's outcome (8-byte ts, 0 = abort): a coordinator's
 * decision, a single-group commit, or a logged refusal (coordinator.c),
 * "e" + ts + id = when a single-group outcome may be forgotten. */
static int recover_one(void *ctx, const uint8_t *key, size_t key_len, const uint8_t *value,
                       size_t value_len)
{
    struct recover_ctx *rc = ctx;
    if (key_len != 9)
        return 0;
    txn_id id = 0;
    for (int i = 1; i < 9; i++)
        id = (id << 8) | key[i];
    if (key[0] != 'p')
        return 0; /* decisions ('d') are read from the store when asked for */
    struct txn__rec r;
    struct txn_write *ws = malloc(sizeof *ws * TXN__REC_ENTRIES_MAX);
    SP_ASSERT(ws != NULL);
    int e = txn__rec_decode(value, value_len, &r, ws, TXN__REC_ENTRIES_MAX, NULL);
    free(ws);
    if (e || r.type != TXN__REC_PREPARE || r.id != id)
        return SP_ECORRUPT;
    e = txn__prep_add(rc->g, id, r.ts, r.coord, value, value_len);
    if (e == 0)
        e = txn_safetime_restore_prepared(rc->g->st, id, r.ts, NULL);
    return e;
}

/* N6: the durable tag_max, state record "b" (8 bytes), 0 if none yet. */
static const uint8_t TAG_MAX_KEY[1] = {'b'};

static int load_tag_max(struct txn_node *n, struct txn__group *g, struct sp_err *err)
{
    uint8_t *value = NULL;
    size_t len = 0;
    int rc =
        txn_store_state_get(n->store, g->id, TAG_MAX_KEY, sizeof TAG_MAX_KEY, &value, &len, err);
    if (rc == SP_ENOTFOUND)
        return 0;
    if (rc == 0 && len != 8)
        rc = SP_CORRUPT(err, "group %llu: tag_max record of %zu bytes", (unsigned long long) g->id,
                        len);
    if (rc == 0)
        memcpy(&g->tag_max, value, 8);
    free(value);
    return rc;
}

static int group_init(struct txn_node *n, struct txn__group *g,
                      const struct txn_node_group_config *gc,
                      const struct paxos_durable_state *loaded, struct sp_err *err)
{
    g->id = gc->group;
    g->rws = calloc(TXN_NODE_TXNS_MAX, sizeof *g->rws);
    g->preps_max = TXN_PREPARED_MAX_DEFAULT;
    g->preps = calloc(g->preps_max, sizeof *g->preps);
    g->decisions = calloc(TXN_NODE_DECISIONS_MAX, sizeof *g->decisions);
    g->decision_heads = calloc(TXN__DECISION_BUCKETS, sizeof *g->decision_heads);
    g->decision_next = calloc(TXN_NODE_DECISIONS_MAX, sizeof *g->decision_next);
    if (!g->rws || !g->preps || !g->decisions || !g->decision_heads || !g->decision_next)
        return sp_err_set(err, SP_ENOMEM, "txn node: group %llu", (unsigned long long) g->id);
    int rc = txn_safetime_create(g->preps_max, &g->st, err);
    if (rc == 0)
        rc = paxos_replica_create(&gc->paxos, loaded, &g->r, err);
    if (rc)
        return rc;
    struct txn_group_meta meta;
    rc = txn_store_meta(n->store, g->id, &meta, err);
    if (rc)
        return rc;
    txn_safetime_restore(g->st, meta.applied_index, meta.last_ts);
    g->applied = meta.applied_index;
    g->applied_slot = TXN__POS_SLOT(meta.applied_index);
    struct recover_ctx ctx = {g, 0};
    /* Only the PREPARE records: decisions are many and read when asked for. */
    rc = txn_store_state_list(n->store, g->id, "p", 1, recover_one, &ctx, RECOVER_RECORDS_MAX,
                              err);
    if (rc == 0)
        rc = load_tag_max(n, g, err);
    return rc;
}

int txn_node_create(const struct txn_node_config *cfg, struct txn_store *store,
                    const struct paxos_durable_state *const *loaded, struct txn_node **out,
                    struct sp_err *err)
{
    SP_ASSERT(cfg != NULL && store != NULL && out != NULL);
    int rc = validate(cfg, err);
    if (rc)
        return rc;
    struct txn_node *n = calloc(1, sizeof *n);
    if (n == NULL)
        return sp_err_set(err, SP_ENOMEM, "txn node %u", cfg->self);
    n->cfg = *cfg;
    n->cfg.locks.idle_timeout_us = cfg->idle_timeout_us; /* one knob for idle expiry */
    n->store = store;
    n->rng = cfg->seed ? cfg->seed : 1;
    n->waits = calloc(TXN_NODE_WAITS_MAX, sizeof *n->waits);
    if (n->waits == NULL) {
        free(n);
        return sp_err_set(err, SP_ENOMEM, "txn node %u", cfg->self);
    }
    for (uint32_t i = 0; i < cfg->groups_n; i++) {
        n->groups_n++;
        rc = group_init(n, &n->groups[i], &cfg->groups[i], loaded ? loaded[i] : NULL, err);
        if (rc) {
            sp_err_wrap(err, "txn node %u: group %llu", cfg->self,
                        (unsigned long long) cfg->groups[i].group);
            txn_node_destroy(n);
            return rc;
        }
    }
    txn__publish(n);
    *out = n;
    return 0;
}

void txn_node_destroy(struct txn_node *n)
{
    if (n == NULL)
        return;
    if (n->round_open) /* as a crash: the round's applies are lost, the log keeps them */
        txn_store_apply_discard(n->store);
    for (uint32_t i = 0; i < n->groups_n; i++) {
        struct txn__group *g = &n->groups[i];
        for (uint32_t j = 0; g->rws && j < TXN_NODE_TXNS_MAX; j++)
            free(g->rws[j].blob);
        for (uint32_t j = 0; j < g->preps_n; j++)
            free(g->preps[j].rec);
        free(g->rws);
        free(g->preps);
        free(g->decisions);
        free(g->decision_heads);
        free(g->decision_next);
        txn_locks_destroy(g->locks);
        txn_safetime_destroy(g->st);
        paxos_replica_destroy(g->r);
    }
    for (uint32_t i = 0; i < TXN_NODE_WAITS_MAX; i++)
        free(n->waits[i].blob);
    free(n->waits);
    txn__arena_free(&n->arena);
    free(n->persists);
    free(n->msgs);
    free(n->replies);
    free(n);
}

/* ---- building the update ----------------------------------------------- */

static void *grow(void *p, uint32_t *cap, size_t elem, uint32_t need, uint32_t max)
{
    SP_ASSERT(need <= max); /* a bound on every queue */
    if (need <= *cap)
        return p;
    uint32_t c = *cap ? *cap * 2 : 16;
    while (c < need)
        c *= 2;
    void *q = realloc(p, (size_t) c * elem);
    SP_ASSERT(q != NULL);
    *cap = c;
    return q;
}

static struct paxos_entry *copy_entries(struct txn_node *n, const struct paxos_entry *e, uint32_t k)
{
    if (k == 0)
        return NULL;
    struct paxos_entry *c = txn__arena_dup(&n->arena, e, sizeof *e * k);
    for (uint32_t i = 0; i < k; i++)
        c[i].data = txn__arena_dup(&n->arena, e[i].data, e[i].len);
    return c;
}

static void leadership(struct txn_node *n, struct txn__group *g);

/*
 * Takes over one paxos_update of group g: its persist batch and messages go
 * into the node update (copied, since the replica reuses its buffers at the
 * next paxos_step), its committed entries into g's apply queue.
 */
void txn__absorb(struct txn_node *n, struct txn__group *g, const struct paxos_update *pu)
{
    SP_ASSERT(n != NULL && g != NULL && pu != NULL);
    if (pu->persist_seq != 0) {
        n->persists = grow(n->persists, &n->persists_cap, sizeof *n->persists, n->persists_n + 1,
                           PERSISTS_MAX);
        struct txn_node_persist *p = &n->persists[n->persists_n++];
        memset(p, 0, sizeof *p);
        p->group = g->id;
        p->pu.persist_seq = pu->persist_seq;
        p->pu.sync = pu->sync;
        p->pu.hs_changed = pu->hs_changed;
        p->pu.hs = pu->hs;
        p->pu.n_entries = pu->n_entries;
        p->pu.entries = copy_entries(n, pu->entries, pu->n_entries);
        p->pu.truncate_through = pu->truncate_through;
    }
    n->msgs = grow(n->msgs, &n->msgs_cap, sizeof *n->msgs, n->msgs_n + pu->n_msgs, OUT_MSGS_MAX);
    for (uint32_t i = 0; i < pu->n_msgs; i++) {
        struct txn_node_msg *m = &n->msgs[n->msgs_n++];
        memset(m, 0, sizeof *m);
        m->to = pu->msgs[i].to;
        m->is_paxos = true;
        m->group = g->id;
        m->paxos = pu->msgs[i];
        m->paxos.entries = copy_entries(n, pu->msgs[i].entries, pu->msgs[i].n_entries);
    }
    for (uint32_t i = 0; i < pu->n_committed; i++) {
        if (pu->committed[i].slot > g->handed_slot)
            g->handed_slot = pu->committed[i].slot;
        struct txn__pending *q = txn__arena_alloc(&n->arena, sizeof *q);
        q->next = NULL;
        q->e = pu->committed[i];
        q->e.data = txn__arena_dup(&n->arena, pu->committed[i].data, pu->committed[i].len);
        if (g->apply_tail)
            g->apply_tail->next = q;
        else
            g->apply_head = q;
        g->apply_tail = q;
    }
    g->paxos_wake_us = pu->wake_us;
    leadership(n, g);
}

static int step_paxos(struct txn_node *n, struct txn__group *g, const struct paxos_event *ev)
{
    struct paxos_update pu;
    int rc = paxos_step(g->r, ev, &pu);
    txn__absorb(n, g, &pu);
    if (rc == SP_EPAXOS_FAILED)
        g->failed = true;
    return rc;
}

/*
 * Proposes one record through g's replica. The record's timestamp, if any,
 * was recorded with paxos_note_assigned_ts() by the caller (N4).
 */
int txn__propose(struct txn_node *n, struct txn__group *g, const struct txn__rec *rec)
{
    SP_ASSERT(g->leader && rec != NULL);
    struct txn__rec r = *rec;
    r.tag = g->lead_ballot;
    size_t len = txn__rec_size(&r);
    uint8_t *buf = txn__arena_alloc(&n->arena, len);
    txn__rec_encode(&r, buf, len);
    SP_DEBUG("txn node %u: group %llu: propose record %u txn %llu ts %lld", n->cfg.self,
             (unsigned long long) g->id, r.type, (unsigned long long) r.id, (long long) r.ts);
    struct paxos_event ev = {.type = PAXOS_EV_PROPOSE, .now = n->now};
    ev.propose.data = buf;
    ev.propose.len = (uint32_t) len;
    int rc = step_paxos(n, g, &ev);
    if (rc == 0 && r.ts > 0 && r.type != TXN__REC_OUTCOME)
        g->outstanding++; /* a timestamp this leader assigned, not yet applied */
    return rc;
}

void txn__reply(struct txn_node *n, const struct txn_reply *r)
{
    n->replies =
        grow(n->replies, &n->replies_cap, sizeof *n->replies, n->replies_n + 1, OUT_MSGS_MAX);
    n->replies[n->replies_n++] = *r;
}

void txn__reply_status(struct txn_node *n, uint32_t client, uint64_t req_id, txn_id id, int status,
                       txn_node_id hint)
{
    struct txn_reply r = {.client = client, .req_id = req_id, .id = id, .status = status};
    r.leader_hint = hint;
    txn__reply(n, &r);
}

/* Sends m to every replica of `to_group` (its leader acts on it; the others
 * ignore what only a leader may do), which keeps 2PC moving across leader
 * changes without tracking where each group's leader is. */
void txn__send_group(struct txn_node *n, txn_group_id to_group, const struct txn_msg *m)
{
    const struct txn_directory_entry *d = txn__directory(n, to_group);
    SP_ASSERT(d != NULL && d->members.n <= PAXOS_MEMBERS_MAX);
    n->msgs = grow(n->msgs, &n->msgs_cap, sizeof *n->msgs, n->msgs_n + d->members.n, OUT_MSGS_MAX);
    for (uint32_t i = 0; i < d->members.n; i++) {
        struct txn_node_msg *o = &n->msgs[n->msgs_n++];
        memset(o, 0, sizeof *o);
        o->to = d->members.m[i].id;
        o->group = to_group;
        o->txn = *m;
        o->txn.from = n->cfg.self;
        o->txn.to = o->to;
        o->txn.group = to_group;
    }
}

int txn__ts_bounds(struct txn_node *n, struct txn__group *g, struct txn_ts_bounds *b)
{
    SP_ASSERT(b != NULL && g->leader);
    memset(b, 0, sizeof *b);
    b->now = n->now;
    int rc = paxos_lease_get(g->r, n->now, &b->lease_start, &b->lease_end);
    if (rc)
        return rc;
    tt_micros smax = paxos_s_max(g->r);
    tt_micros safe = txn_safetime_paxos_safe(g->st);
    b->last_assigned = smax > safe ? smax : safe;
    if (g->outcome_ts_max > b->last_assigned) /* logged, maybe not applied yet */
        b->last_assigned = g->outcome_ts_max;
    return 0;
}

int txn__store_apply(struct txn_node *n, struct txn__group *g, const struct txn_apply *a)
{
    struct sp_err err = {0};
    int rc = txn_store_apply(n->store, a, &err);
    if (rc) {
        SP_ERROR("txn node %u: group %llu: apply at %llu: %s", n->cfg.self,
                 (unsigned long long) g->id, (unsigned long long) a->applied_index, err.msg);
        n->failed = true;
    }
    return rc;
}

/* ---- leadership ---------------------------------------------------------- */

static void lost_leadership(struct txn_node *n, struct txn__group *g)
{
    for (uint32_t i = 0; i < g->rws_hi; i++) {
        struct txn__rw *t = &g->rws[i];
        if (!t->used)
            continue;
        if (t->has_client) {
            /* A logged commit may still be chosen by the next leader. */
            int st = t->state == TXN__RW_LOGGING ? SP_ETXN_UNKNOWN : SP_EPAXOS_NOT_LEADER;
            txn__reply_status(n, t->client, t->req_id, t->id, st, txn__hint(g));
        }
        free(t->blob);
        memset(t, 0, sizeof *t);
    }
    g->rws_hi = 0;
    txn_locks_destroy(g->locks);
    g->locks = NULL;
    g->outstanding = 0;
}

/* Detects leadership changes after every paxos step. A new leader starts
 * with an empty lock table and waits until caught up (N3). */
static void leadership(struct txn_node *n, struct txn__group *g)
{
    bool now_leader = paxos_is_leader(g->r);
    paxos_ballot b = paxos_leader_ballot(g->r);
    if (g->leader && (!now_leader || b != g->lead_ballot)) {
        g->leader = false;
        lost_leadership(n, g);
    }
    if (!g->leader && now_leader) {
        SP_ASSERT(g->locks == NULL);
        int rc = txn_locks_create(&n->cfg.locks, &g->locks, NULL);
        SP_ASSERT(rc == 0);
        g->leader = true;
        g->caught_up = false;
        g->lead_ballot = b;
        g->lead_slot = paxos_last_slot(g->r);
        g->outstanding = 0;
        g->promise_due_us = 0;
        g->barrier_sent = false;
    }
}

static void check_caught_up(struct txn_node *n, struct txn__group *g)
{
    if (g->leader && !g->caught_up && g->applied_slot >= g->lead_slot) {
        g->caught_up = true;
        txn__relock_prepared(n, g);
    }
}

/* ---- apply ---------------------------------------------------------------- */

/* A record with no effect but its position: applied index and safe time. */
static int apply_noop(struct txn_node *n, struct txn__group *g, uint64_t pos)
{
    struct txn_apply a = {.group = g->id, .applied_index = pos};
    int rc = txn__store_apply(n, g, &a);
    if (rc == 0) {
        g->applied = pos;
        txn_safetime_apply_other(g->st, pos);
    }
    return rc;
}

/* N6: returns 1 if rec is skipped (its position applied as a no-op), 0 to
 * apply it, or an error. Raising tag_max is made durable first, in its own
 * batch: a crash before the record itself is applied replays it with
 * tag == tag_max, which applies. */
static int check_tag(struct txn_node *n, struct txn__group *g, uint64_t pos,
                     const struct txn__rec *rec)
{
    if (rec->tag < g->tag_max) {
        SP_DEBUG("txn node %u: group %llu: skip record %u txn %llu of ballot %llu < %llu",
                 n->cfg.self, (unsigned long long) g->id, rec->type, (unsigned long long) rec->id,
                 (unsigned long long) rec->tag, (unsigned long long) g->tag_max);
        int rc = apply_noop(n, g, pos);
        return rc ? rc : 1;
    }
    if (rec->tag == g->tag_max)
        return 0;
    struct txn_apply a = {.group = g->id};
    uint64_t tag = rec->tag;
    struct txn_state_write sw = {.key = TAG_MAX_KEY, .key_len = sizeof TAG_MAX_KEY};
    sw.value = &tag;
    sw.value_len = sizeof tag;
    a.state = &sw;
    a.state_n = 1;
    int rc = txn__store_apply(n, g, &a);
    if (rc == 0)
        g->tag_max = tag;
    return rc;
}

static int apply_record(struct txn_node *n, struct txn__group *g, uint64_t pos, const uint8_t *p,
                        uint32_t len)
{
    struct txn_write *ws = txn__arena_alloc(&n->arena, sizeof *ws * TXN__REC_ENTRIES_MAX);
    struct txn__rec rec;
    struct sp_err err = {0};
    int rc = txn__rec_decode(p, len, &rec, ws, TXN__REC_ENTRIES_MAX, &err);
    if (rc) {
        SP_ERROR("txn node %u: group %llu: record at %llu: %s", n->cfg.self,
                 (unsigned long long) g->id, (unsigned long long) pos, err.msg);
        n->failed = true;
        return rc;
    }
    SP_DEBUG("txn node %u: group %llu: apply record %u txn %llu ts %lld at %llu:%llu%s",
             n->cfg.self, (unsigned long long) g->id, rec.type, (unsigned long long) rec.id,
             (long long) rec.ts, (unsigned long long) TXN__POS_SLOT(pos),
             (unsigned long long) (pos & TXN__POS_K_MAX), g->leader ? " (leader)" : "");
    rc = check_tag(n, g, pos, &rec);
    if (rc != 0)
        return rc == 1 ? 0 : rc;
    if (g->leader && rec.tag == g->lead_ballot && rec.ts > 0 && g->outstanding > 0 &&
        rec.type != TXN__REC_OUTCOME)
        g->outstanding--;
    bool assigned = rec.type == TXN__REC_COMMIT || rec.type == TXN__REC_PREPARE ||
                    (rec.type == TXN__REC_DECISION && rec.ts > 0);
    if (assigned) {
        SP_ASSERT(rec.ts > g->log_ts_max); /* N5: monotonic across leaders */
        g->log_ts_max = rec.ts;
    }
    switch (rec.type) {
    case TXN__REC_COMMIT:
        return txn__apply_commit(n, g, pos, &rec);
    case TXN__REC_PREPARE:
        return txn__apply_prepare(n, g, pos, &rec, p, len);
    case TXN__REC_OUTCOME:
        return txn__apply_outcome(n, g, pos, &rec);
    case TXN__REC_BARRIER: /* check_tag() raised tag_max; nothing else */
        return apply_noop(n, g, pos);
    default:
        return txn__apply_decision(n, g, pos, &rec);
    }
}

/* One committed entry: each proposal in it is a record at (slot, k); the
 * entry ends with position (slot, K_MAX), which MinNextTS promises name. */
static int apply_entry(struct txn_node *n, struct txn__group *g, const struct paxos_entry *e)
{
    SP_ASSERT(e->slot > 0);
    int rc = 0;
    if (e->type == PAXOS_ENTRY_BATCH) {
        uint32_t off = 0, k = 0, len;
        const uint8_t *p;
        while (rc == 0 && (rc = paxos_batch_next(e->data, e->len, &off, &p, &len)) == 0) {
            SP_ASSERT(k < TXN__POS_K_MAX);
            uint64_t pos = TXN__POS(e->slot, k++);
            if (pos > g->applied) /* N2: skip what the store already has */
                rc = apply_record(n, g, pos, p, len);
        }
        if (rc == SP_ENOTFOUND)
            rc = 0;
    }
    uint64_t end = TXN__POS(e->slot, TXN__POS_K_MAX);
    if (rc == 0 && end > txn_safetime_applied_index(g->st))
        txn_safetime_apply_other(g->st, end);
    if (e->slot > g->applied_slot)
        g->applied_slot = e->slot;
    return rc;
}

static int drain_applies_batched(struct txn_node *n)
{
    for (uint32_t round = 0; round < APPLY_ROUNDS_MAX; round++) {
        bool any = false;
        for (uint32_t i = 0; i < n->groups_n && !n->failed; i++) {
            struct txn__group *g = &n->groups[i];
            while (g->apply_head != NULL && !n->failed) {
                struct txn__pending *q = g->apply_head;
                g->apply_head = q->next;
                if (g->apply_head == NULL)
                    g->apply_tail = NULL;
                int rc = apply_entry(n, g, &q->e);
                if (rc)
                    return rc;
                any = true;
                check_caught_up(n, g);
            }
        }
        if (!any)
            return n->failed ? SP_EIO : 0;
    }
    SP_ASSERT(!"apply rounds exhausted");
    return SP_EIO;
}

/* Writes the open store batch. If the write fails (or one inside the
 * round did) the node is failed: it serves nothing more and publishes no
 * later safe time. */
static int apply_flush(struct txn_node *n)
{
    struct sp_err err = {0};
    int rc = txn_store_apply_flush(n->store, &err);
    n->decisions_unwritten = 0;
    if (rc == 0 && txn_store_failed(n->store)) /* a write inside the round failed */
        rc = sp_err_set(&err, SP_ECLOSED, "an earlier write of the store failed");
    if (rc && !n->failed)
        SP_ERROR("txn node %u: apply: %s", n->cfg.self, err.msg);
    if (rc)
        n->failed = true;
    return rc;
}

/* Every committed entry handed out so far, in one store batch
 * (txn_store_apply_begin/flush): one RocksDB write per drain rather than
 * one per record, or per apply round (txn_node_round_begin) rather than per
 * step. The in-memory state (safe time, LastTS, locks, held replies) runs
 * ahead of the store until the write: reads on this thread write the batch
 * first (txn_store_get and the others), decision lookups read past it
 * (every decision the batch holds is in the ring: n->decisions_unwritten),
 * and t_safe is published only after it. */
static int drain_applies(struct txn_node *n)
{
    if (n->round_open)
        return drain_applies_batched(n);
    txn_store_apply_begin(n->store);
    int rc = drain_applies_batched(n);
    int frc = apply_flush(n);
    return rc ? rc : frc;
}

void txn_node_round_begin(struct txn_node *n)
{
    SP_ASSERT(n != NULL && !n->round_open);
    txn_store_apply_begin(n->store);
    n->round_open = true;
    n->decisions_unwritten = 0;
}

int txn_node_round_end(struct txn_node *n)
{
    SP_ASSERT(n != NULL && n->round_open);
    n->round_open = false;
    int rc = n->failed ? SP_ECLOSED : 0;
    int frc = apply_flush(n);
    txn__publish(n); /* after the write: t_safe covers only what is in the store */
    return rc ? rc : frc;
}

/* ---- dispatch ------------------------------------------------------------- */

static int on_client(struct txn_node *n, const struct txn_request *req)
{
    struct txn__group *g = txn__group_find(n, req->group);
    if (g == NULL || req->keys_n > TXN_REQ_KEYS_MAX || req->writes_n > TXN_REQ_WRITES_MAX ||
        req->participants_n >= TXN_PARTICIPANTS_MAX) {
        txn__reply_status(n, req->client, req->req_id, req->id, SP_EINVAL, 0);
        return SP_EINVAL;
    }
    if (req->type == TXN_REQ_RO_READ || req->type == TXN_REQ_RO_SCAN) {
        txn__on_ro_read(n, g, req);
        return 0;
    }
    if (!g->leader || !g->caught_up) { /* N3 */
        txn__reply_status(n, req->client, req->req_id, req->id, SP_EPAXOS_NOT_LEADER, txn__hint(g));
        return 0;
    }
    switch (req->type) {
    case TXN_REQ_READ:
        txn__on_read(n, g, req);
        break;
    case TXN_REQ_COMMIT:
        txn__on_commit(n, g, req);
        break;
    case TXN_REQ_PREPARE:
        txn__on_prepare(n, g, req);
        break;
    case TXN_REQ_ABORT:
        txn__on_abort(n, g, req);
        break;
    case TXN_REQ_KEEPALIVE:
        txn__on_keepalive(n, g, req);
        break;
    default:
        txn__reply_status(n, req->client, req->req_id, req->id, SP_EINVAL, 0);
        return SP_EINVAL;
    }
    return 0;
}

static int on_txn_msg(struct txn_node *n, const struct txn_msg *m)
{
    struct txn__group *g = txn__group_find(n, m->group);
    if (g == NULL)
        return SP_EINVAL;
    if (m->type == TXN_MSG_PROMISE) {
        txn__on_promise(n, g, m);
        return 0;
    }
    if (!g->leader || !g->caught_up)
        return 0; /* the sender repeats it until a leader acts on it */
    if (m->type == TXN_MSG_VOTE)
        txn__on_vote(n, g, m);
    else if (m->type == TXN_MSG_QUERY)
        txn__on_query(n, g, m);
    else if (m->type == TXN_MSG_WOUND)
        txn__on_wound(n, g, m);
    else if (m->type == TXN_MSG_DECISION)
        txn__on_decision_msg(n, g, m);
    else if (m->type == TXN_MSG_PROMISE_ASK)
        txn__promise_soon(n, g);
    else
        return SP_EINVAL;
    return 0;
}

static int dispatch(struct txn_node *n, const struct txn_node_event *ev)
{
    struct paxos_event pe = {.now = ev->now};
    struct txn__group *g;
    switch (ev->type) {
    case TXN_NODE_EV_PAXOS:
    case TXN_NODE_EV_PERSISTED:
        g = txn__group_find(n, ev->group);
        if (g == NULL)
            return SP_EINVAL;
        if (ev->type == TXN_NODE_EV_PAXOS) {
            pe.type = PAXOS_EV_MESSAGE;
            pe.msg = ev->paxos;
        } else {
            pe.type = PAXOS_EV_PERSISTED;
            pe.persisted.seq = ev->persisted.seq;
            pe.persisted.status = ev->persisted.status;
        }
        return step_paxos(n, g, &pe);
    case TXN_NODE_EV_TXN:
        return on_txn_msg(n, ev->txn);
    case TXN_NODE_EV_CLIENT:
        return on_client(n, ev->req);
    case TXN_NODE_EV_TICK:
        pe.type = PAXOS_EV_TICK;
        for (uint32_t i = 0; i < n->groups_n; i++)
            if (!n->groups[i].failed && n->groups[i].paxos_wake_us <= ev->now.earliest)
                step_paxos(n, &n->groups[i], &pe);
        return 0;
    }
    return SP_EINVAL;
}

/* Lets the replica truncate its log: everything it handed out up to
 * handed_slot is in the store (applied now, or before a restart). */
static void snapshot_tick(struct txn_node *n, struct txn__group *g)
{
    uint32_t every = n->cfg.snapshot_every;
    if (every == 0 || g->apply_head != NULL || g->handed_slot < g->snap_reported + every)
        return;
    SP_ASSERT(g->handed_slot <= g->applied_slot);
    struct paxos_event ev = {.type = PAXOS_EV_SNAPSHOT_TAKEN, .now = n->now};
    ev.snapshot.slot = g->handed_slot;
    int rc = step_paxos(n, g, &ev);
    SP_ASSERT(rc == 0 || rc == SP_EPAXOS_FAILED);
    g->snap_reported = g->handed_slot;
}

static tt_micros expire_idle(struct txn_node *n, struct txn__group *g)
{
    txn_id ids[64];
    uint32_t k = txn_locks_expired(g->locks, n->now.earliest, ids, 64);
    for (uint32_t i = 0; i < k; i++) {
        struct txn__rw *t = txn__rw_find(g, ids[i]);
        if (t != NULL && (t->state == TXN__RW_LOGGING || t->state == TXN__RW_PREPARED))
            continue; /* its record is in Paxos: the locks go when it is applied */
        if (t != NULL)
            txn__rw_abort(n, g, t, SP_ETXN_ABORTED);
        else
            txn_locks_release(g->locks, ids[i], n->now.earliest, NULL, NULL);
    }
    for (uint32_t i = 0; i < g->rws_hi; i++) {
        struct txn__rw *t = &g->rws[i];
        if (t->used && t->state == TXN__RW_WOUNDED && t->expire_us <= n->now.earliest)
            txn__rw_free(n, g, t);
    }
    return n->now.earliest + n->cfg.idle_timeout_us / 4;
}

static void timers(struct txn_node *n, tt_micros *wake)
{
    bool expire = n->expire_due_us <= n->now.earliest;
    tt_micros next_expire = n->now.earliest + n->cfg.idle_timeout_us / 4;
    for (uint32_t i = 0; i < n->groups_n; i++) {
        struct txn__group *g = &n->groups[i];
        if (g->failed)
            continue;
        if (g->paxos_wake_us < *wake)
            *wake = g->paxos_wake_us;
        txn__gc_tick(n, g, wake);
        snapshot_tick(n, g);
        check_caught_up(n, g);
        txn__participant_tick(n, g, wake);
        if (g->leader && g->caught_up) {
            txn__coord_tick(n, g, wake);
            txn__promise_tick(n, g, wake);
            if (expire)
                next_expire = expire_idle(n, g);
        }
    }
    if (expire)
        n->expire_due_us = next_expire;
    if (n->expire_due_us < *wake)
        *wake = n->expire_due_us;
}

int txn_node_step(struct txn_node *n, const struct txn_node_event *ev, struct txn_node_update *up)
{
    SP_ASSERT(n != NULL && ev != NULL && up != NULL);
    SP_ASSERT(ev->now.earliest <= ev->now.latest);
    memset(up, 0, sizeof *up);
    up->wake_us = TT_MICROS_MAX;
    if (n->failed)
        return SP_ECLOSED;
    txn__arena_reset(&n->arena);
    n->persists_n = n->msgs_n = n->replies_n = 0;
    n->now = ev->now;
    int rc = dispatch(n, ev);
    for (uint32_t round = 0; round < 4 && !n->failed; round++) {
        int arc = drain_applies(n);
        if (arc)
            rc = arc;
        if (n->failed)
            break; /* what was applied may not be in the store: serve no read */
        tt_micros wake = TT_MICROS_MAX;
        timers(n, &wake);
        txn__waits_tick(n, &wake);
        up->wake_us = wake;
        bool pending = false;
        for (uint32_t i = 0; i < n->groups_n; i++)
            pending |= n->groups[i].apply_head != NULL;
        if (!pending)
            break;
    }
    if (!n->round_open)
        txn__publish(n);
    up->persists = n->persists;
    up->persists_n = n->persists_n;
    up->msgs = n->msgs;
    up->msgs_n = n->msgs_n;
    up->replies = n->replies;
    up->replies_n = n->replies_n;
    return rc;
}

bool txn_node_msg_may_leave_early(const struct txn_node_msg *m)
{
    SP_ASSERT(m != NULL);
    return m->is_paxos && paxos_msg_may_leave_early(&m->paxos);
}

/* ---- introspection --------------------------------------------------------- */

static const struct txn__group *cgroup(const struct txn_node *n, txn_group_id id)
{
    const struct txn__group *g = txn__group_find((struct txn_node *) n, id);
    SP_ASSERT(g != NULL);
    return g;
}

bool txn_node_is_leader(const struct txn_node *n, txn_group_id group)
{
    const struct txn__group *g = cgroup(n, group);
    return g->leader && g->caught_up;
}

tt_micros txn_node_safe_time(const struct txn_node *n, txn_group_id group)
{
    return txn_safetime_get(cgroup(n, group)->st);
}

tt_micros txn_node_last_ts(const struct txn_node *n, txn_group_id group)
{
    return txn_safetime_last_ts(cgroup(n, group)->st);
}

uint32_t txn_node_prepared_n(const struct txn_node *n, txn_group_id group)
{
    return cgroup(n, group)->preps_n;
}

tt_micros txn_node_s_max(const struct txn_node *n, txn_group_id group)
{
    return paxos_s_max(cgroup(n, group)->r);
}

tt_micros txn_node_lease_left(const struct txn_node *n, txn_group_id group, struct tt_interval now)
{
    tt_micros start, end;
    if (paxos_lease_get(cgroup(n, group)->r, now, &start, &end) != 0)
        return 0;
    return end > now.latest ? end - now.latest : 0;
}

void txn_node_progress(const struct txn_node *n, txn_group_id group, uint64_t *commit,
                       uint64_t *applied)
{
    const struct txn__group *g = cgroup(n, group);
    *commit = paxos_commit_index(g->r);
    *applied = g->applied_slot;
}

/*
 * coordinator.c - the coordinator side of two-phase commit, and commit wait.
 *
 * From Spanner §4.2.1: "The coordinator leader also first acquires write
 * locks, but skips the prepare phase. It chooses a timestamp for the entire
 * transaction after hearing from all other participant leaders. The commit
 * timestamp s must be greater or equal to all prepare timestamps (to
 * satisfy the constraints discussed in Section 4.1.3), greater than
 * TT.now().latest at the time the coordinator received its commit message,
 * and greater than any timestamps the leader has assigned to previous
 * transactions (again, to preserve monotonicity). The coordinator leader
 * then logs a commit record through Paxos (or an abort if it timed out
 * while waiting on the other participants)."
 *   "Before allowing any coordinator replica to apply the commit record,
 * the coordinator leader waits until TT.after(s), so as to obey the
 * commit-wait rule described in Section 4.1.2."
 *
 * Here the coordinator's replicas apply the DECISION record as soon as it
 * is chosen (its writes are invisible to reads until t_safe passes s, and
 * s > now.latest at assignment), and the wait is on the reply: no client
 * and no participant hears of s before tt_after(s) holds at this leader.
 *
 * Coordinator state diagram (leader):
 *
 *   (none) --VOTE before the commit--> ACTIVE (votes kept)
 *   ACTIVE --COMMIT with participants--> WAIT_LOCKS --granted--> VOTES
 *   VOTES --all prepared: s, log DECISION(s)--> LOGGING
 *   VOTES / WAIT_LOCKS --a "no" vote, wound, vote_timeout--> LOGGING (abort)
 *   LOGGING --DECISION applied: release locks; commit-wait, then reply and
 *            tell participants--> released
 *   WOUND (an older transaction waits for this one, prepared elsewhere)
 *            before the decision --> LOGGING (abort)
 *   QUERY for an unknown, finished transaction --> log DECISION(abort)
 *            ("presumed abort": no commit can be logged after it, since the
 *            first decision in log order wins)
 *
 * Invariants:
 *   C1 s >= every prepare ts, s > now.latest at the commit's arrival,
 *      s > every timestamp this leader assigned or logged (outcomes of
 *      other groups' transactions included), s inside the lease (asserted
 *      here and in timestamps.c; recorded with paxos_note_assigned_ts
 *      before the DECISION is proposed). Not s >= now.latest at the
 *      decision: §4.2.1 bounds s by the arrival, so the commit wait
 *      overlaps the participants' prepare rounds.
 *   C2 The first DECISION for a transaction in log order is the outcome;
 *      later ones change nothing. Decisions are state records, so queries
 *      are answered the same after a restart or a leader change.
 *   C3 No reply carrying s leaves before tt_after(s) at a step's now
 *      (the test-only commit_wait_off releases only the client's reply early;
 *      participants still hear of s after tt_after(s), so the negative
 *      control breaks exactly one rule).
 *
 * Transition -> function:
 *   COMMIT with participants  -> txn__on_commit() (participant.c) ->
 *                                txn__coord_try_decide()
 *   VOTE message              -> txn__on_vote()
 *   decide                    -> txn__coord_try_decide(), txn__coord_decide_abort()
 *   DECISION applied          -> txn__apply_decision()
 *   QUERY message             -> txn__on_query()
 *   WOUND message             -> txn__on_wound()
 *   vote timeout              -> txn__coord_tick()
 *   commit wait               -> txn__hold_commit_reply(), reads.c txn__waits_tick()
 */
#include "node_int.h"

/* Decisions live in the group's state records (written atomically with the
 * DECISION's data, so replay and restarts see exactly what was applied);
 * the ring of the last TXN_NODE_DECISIONS_MAX is only a cache in front. */
static void decision_key(uint8_t key[9], txn_id id)
{
    key[0] = 'd';
    for (int i = 0; i < 8; i++)
        key[1 + i] = (uint8_t) (id >> (8 * (7 - i)));
}

static uint32_t *decision_bucket(struct txn__group *g, txn_id id)
{
    return &g->decision_heads[(id * 0x9E3779B97F4A7C15ull >> 32) & (TXN__DECISION_BUCKETS - 1)];
}

void txn__decision_add(struct txn_node *n, struct txn__group *g, txn_id id, tt_micros ts)
{
    n->decisions_unwritten++; /* it may push an unwritten one out of the ring */
    uint32_t slot = g->decisions_next;
    SP_ASSERT(ts >= 0 && slot < TXN_NODE_DECISIONS_MAX);
    if (slot < g->decisions_n) { /* the ring wraps: unlink the oldest */
        uint32_t *p = decision_bucket(g, g->decisions[slot].id);
        while (*p != slot + 1) {
            SP_ASSERT(*p != 0);
            p = &g->decision_next[*p - 1];
        }
        *p = g->decision_next[slot];
    }
    g->decisions[slot] = (struct txn__decision){id, ts};
    uint32_t *head = decision_bucket(g, id);
    g->decision_next[slot] = *head;
    *head = slot + 1;
    g->decisions_next = (slot + 1) % TXN_NODE_DECISIONS_MAX;
    if (g->decisions_n < TXN_NODE_DECISIONS_MAX)
        g->decisions_n++;
}

/* The decision for id, or NULL if none was applied. The pointer is valid
 * until the next txn__decision_add on g. */
const struct txn__decision *txn__decision_find(struct txn_node *n, struct txn__group *g, txn_id id)
{
    /* Newest first: a chain lists later additions first, and the first
     * decision of an id is the only one ever added (C2). */
    for (uint32_t s = *decision_bucket(g, id); s != 0; s = g->decision_next[s - 1])
        if (g->decisions[s - 1].id == id)
            return &g->decisions[s - 1];
    /* Not in the ring, so not in the open batch either while fewer than a
     * ring's worth of decisions were added since the batch was last
     * written (every one it holds was added then): what is written is all
     * there is, and the lookup leaves the batch whole. Past that bound the
     * lookup writes the batch first (txn_store_state_get). */
    uint8_t key[9], *value = NULL;
    size_t len = 0;
    decision_key(key, id);
    int rc;
    if (n->decisions_unwritten < TXN_NODE_DECISIONS_MAX) {
        rc = txn_store_state_get_written(n->store, g->id, key, 9, &value, &len, NULL);
    } else {
        rc = txn_store_state_get(n->store, g->id, key, 9, &value, &len, NULL);
        if (rc == 0 || rc == SP_ENOTFOUND)
            n->decisions_unwritten = 0;
    }
    if (rc != 0 || len != 8) {
        SP_ASSERT(rc == SP_ENOTFOUND || rc == 0); /* an I/O error here is fatal */
        free(value);
        return NULL;
    }
    tt_micros ts;
    memcpy(&ts, value, 8);
    free(value);
    uint32_t slot = g->decisions_next;
    txn__decision_add(n, g, id, ts);
    return &g->decisions[slot];
}

/* ---- outcomes: answers that are never wrong (txn.h, "Answers") -------------------- */

static void put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t) (v >> (8 * (7 - i)));
}

static uint64_t get_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

#define EXPIRY_KEY_BYTES 17 /* "e" + ts + id, big-endian: oldest first */

/* A single-group commit's outcome, written in the same apply as its data:
 * "d" + id as a decision, and "e" + ts + id so that txn__outcomes_gc finds
 * it once outcome_retention_us has passed. Keys and values live in the
 * step's arena. */
void txn__outcome_writes(struct txn_node *n, txn_id id, tt_micros ts, struct txn_state_write sw[2])
{
    SP_ASSERT(ts >= 1);
    uint8_t *d = txn__arena_alloc(&n->arena, 9 + 8);
    decision_key(d, id);
    memcpy(d + 9, &ts, 8);
    uint8_t *e = txn__arena_alloc(&n->arena, EXPIRY_KEY_BYTES);
    e[0] = 'e';
    put_be64(e + 1, (uint64_t) ts);
    put_be64(e + 9, id);
    sw[0] = (struct txn_state_write){.key = d, .key_len = 9, .value = d + 9, .value_len = 8};
    sw[1] = (struct txn_state_write){.key = e, .key_len = EXPIRY_KEY_BYTES, .value = e, .value_len = 1};
}

struct expired {
    uint8_t *keys; /* cap keys of EXPIRY_KEY_BYTES */
    uint32_t n, cap;
    tt_micros before;
};

static int collect_expired(void *ctx, const uint8_t *key, size_t key_len, const uint8_t *value,
                           size_t value_len)
{
    (void) value;
    (void) value_len;
    struct expired *x = ctx;
    if (key_len != EXPIRY_KEY_BYTES)
        return 0;
    if ((tt_micros) get_be64(key + 1) >= x->before || x->n == x->cap)
        return 1; /* in time order: the rest is younger */
    memcpy(x->keys + (size_t) x->n++ * EXPIRY_KEY_BYTES, key, EXPIRY_KEY_BYTES);
    return 0;
}

/* Forgets single-group outcomes older than outcome_retention_us, a bounded
 * number per call (the GC tick calls it every gc period). */
void txn__outcomes_gc(struct txn_node *n, struct txn__group *g)
{
    struct expired x = {.cap = TXN_STATE_WRITES_MAX / 2};
    x.before = n->now.earliest - n->cfg.outcome_retention_us;
    x.keys = txn__arena_alloc(&n->arena, (size_t) x.cap * EXPIRY_KEY_BYTES);
    struct sp_err err = {0};
    int rc = txn_store_state_list(n->store, g->id, "e", 1, collect_expired, &x, x.cap + 1, &err);
    if (rc != 0 && rc != 1 && rc != SP_EFULL) {
        SP_WARN("txn node %u: group %llu: outcome GC: %s", n->cfg.self,
                (unsigned long long) g->id, err.msg);
        return;
    }
    if (x.n == 0)
        return;
    struct txn_state_write *sw = txn__arena_alloc(&n->arena, sizeof *sw * 2 * x.n);
    uint8_t *dk = txn__arena_alloc(&n->arena, (size_t) 9 * x.n);
    for (uint32_t i = 0; i < x.n; i++) {
        const uint8_t *e = x.keys + (size_t) i * EXPIRY_KEY_BYTES;
        decision_key(dk + 9 * i, get_be64(e + 9));
        sw[2 * i] = (struct txn_state_write){.key = e, .key_len = EXPIRY_KEY_BYTES};
        sw[2 * i + 1] = (struct txn_state_write){.key = dk + 9 * i, .key_len = 9};
    }
    struct txn_apply a = {.group = g->id, .state = sw, .state_n = 2 * x.n};
    if (txn__store_apply(n, g, &a) == 0)
        SP_DEBUG("txn node %u: group %llu: forgot %u outcomes", n->cfg.self,
                 (unsigned long long) g->id, x.n);
}

/* Answers a COMMIT from the transaction's recorded outcome: aborted, or
 * committed at ts once tt_after(ts) holds here (the leader that logged it
 * may have died inside commit wait). */
void txn__answer_decided(struct txn_node *n, struct txn__group *g, const struct txn_request *req,
                         tt_micros ts)
{
    struct txn_reply r = {.client = req->client, .req_id = req->req_id, .id = req->id, .ts = ts};
    if (ts == 0) {
        txn__reply_status(n, req->client, req->req_id, req->id, SP_ETXN_ABORTED, 0);
        return;
    }
    if (txn_ts_commit_wait_over(n->now, ts) || n->cfg.commit_wait_off) {
        txn__reply(n, &r);
        return;
    }
    struct txn__wait *w = txn__wait_alloc(n, false);
    if (w == NULL) { /* every slot holds a reply: the client asks again */
        txn__reply_status(n, req->client, req->req_id, req->id, SP_ETXN_UNKNOWN, 0);
        return;
    }
    w->group = g->id;
    w->ts = ts;
    w->reply = r;
    w->held_since_us = n->now.earliest;
    w->has_client = true;
}

/* Refuses t's COMMIT durably: logs its abort decision (the coordinator's
 * participants are named, so they learn it), and answers `status` once it
 * is applied, unless an earlier decision in the log says otherwise. For a
 * COMMIT that may have been sent before (retry): an unlogged "aborted"
 * could be contradicted by an earlier copy committing later. */
void txn__log_abort(struct txn_node *n, struct txn__group *g, struct txn__rw *t, int status)
{
    SP_ASSERT(t->used && t->state != TXN__RW_LOGGING && t->state != TXN__RW_PREPARED);
    SP_DEBUG("txn node %u: group %llu: logs the abort of txn %llu: %s", n->cfg.self,
             (unsigned long long) g->id, (unsigned long long) t->id, sp_errname(status));
    t->state = TXN__RW_LOGGING;
    t->ts = 0;
    t->abort_status = status;
    /* Its locks stay until the record is applied, however long Paxos takes
     * (a leader cut off from its group): not idle, never expired. Fails
     * harmlessly for a transaction that holds no lock yet or still waits. */
    (void) txn_locks_prepared(g->locks, t->id, NULL);
    struct txn__rec rec = {.type = TXN__REC_DECISION, .id = t->id, .ts = 0};
    rec.parts_n = t->role == TXN__ROLE_COORD ? t->parts_n : 0;
    memcpy(rec.parts, t->parts, sizeof *t->parts * rec.parts_n);
    if (txn__propose(n, g, &rec) != 0 && t->has_client) {
        /* Not logged: the outcome stays open; the client asks again. */
        txn__reply_status(n, t->client, t->req_id, t->id, SP_ETXN_UNKNOWN, txn__hint(g));
        t->has_client = false;
    }
}

static void send_decision(struct txn_node *n, struct txn__group *g, txn_group_id to, txn_id id,
                          tt_micros ts)
{
    /* C3: participants too learn s only after commit wait. */
    SP_ASSERT(ts == 0 || txn_ts_commit_wait_over(n->now, ts));
    struct txn_msg m = {.type = TXN_MSG_DECISION, .id = id, .ts = ts};
    m.from_group = g->id;
    txn__send_group(n, to, &m);
}

static void propose_abort(struct txn_node *n, struct txn__group *g, txn_id id,
                          const txn_group_id *parts, uint32_t parts_n)
{
    struct txn__rec rec = {.type = TXN__REC_DECISION, .id = id, .ts = 0};
    SP_ASSERT(parts_n <= TXN_PARTICIPANTS_MAX);
    rec.parts_n = parts_n;
    memcpy(rec.parts, parts, sizeof *parts * parts_n);
    txn__propose(n, g, &rec);
}

void txn__coord_decide_abort(struct txn_node *n, struct txn__group *g, struct txn__rw *t)
{
    SP_ASSERT(t->used && t->role == TXN__ROLE_COORD);
    if (t->state == TXN__RW_LOGGING)
        return;
    SP_DEBUG("txn node %u: group %llu: coordinator aborts txn %llu in state %d with %u/%u votes",
             n->cfg.self, (unsigned long long) g->id, (unsigned long long) t->id, t->state,
             t->votes_n, t->parts_n);
    txn__log_abort(n, g, t, SP_ETXN_ABORTED);
}

static const struct txn__vote *vote_of(const struct txn__rw *t, txn_group_id group)
{
    for (uint32_t i = 0; i < t->votes_n; i++)
        if (t->votes[i].group == group)
            return &t->votes[i];
    return NULL;
}

void txn__coord_try_decide(struct txn_node *n, struct txn__group *g, struct txn__rw *t)
{
    SP_ASSERT(t->used && t->state == TXN__RW_VOTES && t->commit_arrived);
    tt_micros prepare_ts[TXN_PARTICIPANTS_MAX];
    for (uint32_t i = 0; i < t->parts_n; i++) {
        const struct txn__vote *v = vote_of(t, t->parts[i]);
        if (v != NULL && v->status != 0) {
            txn__coord_decide_abort(n, g, t);
            return;
        }
        if (v == NULL)
            return; /* keep waiting, until vote_timeout */
        prepare_ts[i] = v->ts;
    }
    struct txn_ts_bounds b;
    tt_micros s = 0;
    int rc = txn_locks_prepared(g->locks, t->id, NULL);
    /* The lease is checked at the current now; s is bounded below by
     * now.latest at the commit's arrival (C1), not now: the commit wait
     * then overlaps the participants' prepare rounds too. */
    if (rc == 0)
        rc = txn__ts_bounds(n, g, &b);
    if (rc == 0)
        rc = txn_ts_coordinator_commit(&b, t->arrival.latest, prepare_ts, t->parts_n, &s, NULL);
    if (rc == 0)
        rc = paxos_note_assigned_ts(g->r, n->now, s);
    if (rc) {
        SP_DEBUG("txn node %u: group %llu: no commit timestamp for txn %llu: %s", n->cfg.self,
                 (unsigned long long) g->id, (unsigned long long) t->id, sp_errname(rc));
        txn__coord_decide_abort(n, g, t);
        return;
    }
    SP_ASSERT(s > t->arrival.latest && s > b.last_assigned); /* C1 */
    for (uint32_t i = 0; i < t->parts_n; i++)
        SP_ASSERT(s >= prepare_ts[i]); /* C1 */
    struct txn__rec rec = {.type = TXN__REC_DECISION, .id = t->id, .ts = s};
    rec.parts_n = t->parts_n;
    memcpy(rec.parts, t->parts, sizeof t->parts[0] * t->parts_n);
    rec.writes_n = t->writes_n;
    rec.writes = t->writes;
    t->state = TXN__RW_LOGGING;
    t->ts = s;
    t->logging_since_us = n->now.earliest;
    txn__propose(n, g, &rec);
}

void txn__on_vote(struct txn_node *n, struct txn__group *g, const struct txn_msg *m)
{
    const struct txn__decision *d = txn__decision_find(n, g, m->id);
    if (d != NULL) {
        if (d->ts == 0 || txn_ts_commit_wait_over(n->now, d->ts))
            send_decision(n, g, m->from_group, m->id, d->ts);
        return;
    }
    struct txn__rw *t = txn__rw_get(n, g, m->id, m->ts);
    if (t == NULL)
        return; /* full: the participant repeats its vote */
    if (t->state == TXN__RW_WOUNDED) {
        txn_group_id from = m->from_group;
        propose_abort(n, g, m->id, &from, 1);
        return;
    }
    t->role = TXN__ROLE_COORD;
    if (vote_of(t, m->from_group) == NULL && t->votes_n < TXN_PARTICIPANTS_MAX)
        t->votes[t->votes_n++] = (struct txn__vote){m->from_group, m->ts, m->status};
    if (t->state == TXN__RW_VOTES)
        txn__coord_try_decide(n, g, t);
}

/* An older transaction waits for this one, prepared at m->from_group. */
void txn__on_wound(struct txn_node *n, struct txn__group *g, const struct txn_msg *m)
{
    if (txn__decision_find(n, g, m->id) != NULL)
        return; /* decided: the participant learns it by its query */
    struct txn__rw *t = txn__rw_find(g, m->id);
    if (t == NULL || t->state == TXN__RW_WOUNDED) {
        txn_group_id from = m->from_group;
        propose_abort(n, g, m->id, &from, 1);
        return;
    }
    if (t->state == TXN__RW_LOGGING)
        return; /* the decision is already on its way */
    t->role = TXN__ROLE_COORD;
    if (t->commit_arrived) {
        txn__coord_decide_abort(n, g, t);
    } else {
        /* The commit has not arrived: the wound becomes a "no" vote. */
        struct txn__vote *v = (struct txn__vote *) vote_of(t, m->from_group);
        if (v != NULL)
            v->status = SP_ETXN_WOUNDED;
        else if (t->votes_n < TXN_PARTICIPANTS_MAX)
            t->votes[t->votes_n++] = (struct txn__vote){m->from_group, 0, SP_ETXN_WOUNDED};
    }
}

void txn__on_query(struct txn_node *n, struct txn__group *g, const struct txn_msg *m)
{
    const struct txn__decision *d = txn__decision_find(n, g, m->id);
    if (d != NULL) {
        if (d->ts == 0 || txn_ts_commit_wait_over(n->now, d->ts))
            send_decision(n, g, m->from_group, m->id, d->ts);
        return;
    }
    struct txn__rw *t = txn__rw_find(g, m->id);
    if (t != NULL && t->state != TXN__RW_WOUNDED)
        return; /* still deciding; the vote timeout bounds the wait */
    txn_group_id from = m->from_group;
    propose_abort(n, g, m->id, &from, 1);
}

int txn__apply_decision(struct txn_node *n, struct txn__group *g, uint64_t pos,
                        const struct txn__rec *rec)
{
    SP_ASSERT(rec->type == TXN__REC_DECISION && rec->ts >= 0);
    bool first = txn__decision_find(n, g, rec->id) == NULL; /* C2 */
    uint8_t key[9];
    decision_key(key, rec->id);
    struct txn_state_write sw = {.key = key, .key_len = 9, .value = &rec->ts, .value_len = 8};
    struct txn_apply a = {.group = g->id, .applied_index = pos};
    if (first) {
        a.state = &sw;
        a.state_n = 1;
        if (rec->ts > 0) {
            a.ts = rec->ts;
            a.writes = rec->writes;
            a.writes_n = rec->writes_n;
        }
    }
    int rc = txn__store_apply(n, g, &a);
    if (rc)
        return rc;
    g->applied = pos;
    if (first && rec->ts > 0)
        txn_safetime_apply_commit(g->st, pos, rec->ts);
    else
        txn_safetime_apply_other(g->st, pos);
    if (first)
        txn__decision_add(n, g, rec->id, rec->ts);
    /* C2: the outcome is the first decision, whichever record this is. */
    tt_micros outcome = txn__decision_find(n, g, rec->id)->ts;
    if (outcome == 0 && g->leader) /* aborts need no commit wait */
        for (uint32_t i = 0; i < rec->parts_n; i++)
            send_decision(n, g, rec->parts[i], rec->id, 0);
    struct txn__rw *t = g->leader ? txn__rw_find(g, rec->id) : NULL;
    if (t == NULL)
        return 0;
    txn__release(n, g, t);
    if (outcome > 0 && t->state == TXN__RW_LOGGING)
        txn__hold_commit_reply(n, g, t, outcome); /* participants are told with the reply */
    else if (t->has_client && outcome > 0)
        txn__reply_status(n, t->client, t->req_id, t->id, SP_ETXN_UNKNOWN, 0);
    else if (t->has_client)
        txn__reply_status(n, t->client, t->req_id, t->id,
                          t->abort_status ? t->abort_status : SP_ETXN_ABORTED, 0);
    txn__rw_free(n, g, t);
    return 0;
}

/* Coordinator timeouts: a missing vote (or a commit that never came after
 * the votes) ends in an abort decision. */
void txn__coord_tick(struct txn_node *n, struct txn__group *g, tt_micros *wake)
{
    for (uint32_t i = 0; i < g->rws_hi; i++) {
        struct txn__rw *t = &g->rws[i];
        if (!t->used || t->role != TXN__ROLE_COORD)
            continue;
        bool waiting = t->state == TXN__RW_VOTES || t->state == TXN__RW_WAIT_LOCKS ||
                       (t->state == TXN__RW_ACTIVE && !t->commit_arrived);
        if (!waiting)
            continue;
        if (t->deadline_us <= n->now.earliest)
            txn__coord_decide_abort(n, g, t);
        else if (t->deadline_us < *wake)
            *wake = t->deadline_us;
    }
}

/*
 * Commit wait (§4.1.2): "the coordinator leader ensures that clients cannot
 * see any data committed by T_i until TT.after(s_i) is true." The reply (and
 * for 2PC the participants' decision) is held in the node until a step's
 * now passes s; the wait overlapped with the Paxos write.
 */
void txn__hold_commit_reply(struct txn_node *n, struct txn__group *g, struct txn__rw *t,
                            tt_micros s)
{
    SP_ASSERT(s >= 1 && t->used);
    struct txn__wait *w = txn__wait_alloc(n, false);
    /* Bounded: commits in commit wait <= TXN_NODE_WAITS_MAX / 2 per node. */
    SP_ASSERT(w != NULL);
    w->is_read = false;
    w->group = g->id;
    w->ts = s;
    w->reply = (struct txn_reply){.client = t->client, .req_id = t->req_id, .id = t->id};
    w->reply.ts = s;
    if (t->state == TXN__RW_LOGGING && n->now.earliest > t->logging_since_us)
        w->reply.paxos_us = n->now.earliest - t->logging_since_us;
    w->held_since_us = n->now.earliest;
    w->has_client = t->has_client;
    if (n->cfg.commit_wait_off && w->has_client) { /* TEST ONLY: the broken rule */
        txn__reply(n, &w->reply);
        w->has_client = false;
    }
    w->parts_n = t->role == TXN__ROLE_COORD ? t->parts_n : 0;
    if (w->parts_n)
        memcpy(w->parts, t->parts, sizeof t->parts[0] * w->parts_n);
}

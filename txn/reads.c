/*
 * reads.c - lock-free reads at a timestamp (strong read-only transactions,
 * snapshot reads), the waits held in the node (reads until t_safe, replies
 * until commit wait is over), and MinNextTS promises.
 *
 * From Spanner §4.1.3: "Every replica tracks a value called safe time t_safe
 * which is the maximum timestamp at which a replica is up-to-date. A replica
 * can satisfy a read at a timestamp t if t <= t_safe."
 * From Spanner §4.2.2: "If the scope's values are served by a single Paxos
 * group, then the client issues the read-only transaction to that group's
 * leader. ... If there are no prepared transactions, the assignment
 * s_read = LastTS() trivially satisfies external consistency". "If the
 * scope's values are served by multiple Paxos groups ... [Spanner] has the
 * client avoid a negotiation round, and just have its reads execute at
 * s_read = TT.now().latest (which may wait for safe time to advance)."
 * From Spanner §4.2.4: "A replica can advance t_paxos_safe to
 * MinNextTS(n) - 1 when it has applied through n."
 *
 * Read state diagram ("ready": t <= t_safe and TT.after(min(t, LastTS())),
 * R1 and R4):
 *   RO_READ --ready--> served
 *   RO_READ --not ready--> HELD --ready--> served
 *                               --read_timeout_us--> SP_ETXN_NOT_SAFE
 *
 * Invariants:
 *   R1 A read at t is served only when t <= t_safe at this replica, so what
 *      it returns can never change afterwards (every later write or prepare
 *      is above t_safe, asserted in safetime.c).
 *   R2 A leader promises MinNextTS only when every timestamp it assigned is
 *      applied (no outstanding proposal, applied through its last slot); the
 *      promise is recorded as assigned (paxos_note_assigned_ts) so later
 *      timestamps stay above it, and it is inside the lease. And only once a
 *      record of its own ballot is applied (tag_max == its ballot; a leader
 *      that has logged nothing logs a BARRIER first): an older leader's
 *      record, accepted only by replicas its phase 1 did not reach, can be
 *      chosen at a slot after the promised one, below MinNextTS; N6 skips
 *      it at every replica only if a newer leader's record precedes it.
 *   R3 (C3) A held commit reply leaves only once tt_after(s) (the client's
 *      part leaves early under the test-only commit_wait_off).
 *   R5 A single-group strong read at LastTS() is served only by a leader
 *      holding its lease at the request (lease disjointness then rules out
 *      a later leader's commits above LastTS()).
 *   R4 Commit wait on the read side. From Spanner §4.1.2: "the coordinator
 *      leader ensures that clients cannot see any data committed by T_i
 *      until TT.after(s_i) is true." Replicas apply a commit as soon as it
 *      is chosen, while s is still ahead of true time (s >= now.latest at
 *      assignment), so a read at t >= s (a strong read at now.latest, or at
 *      LastTS() = s) could return the data before the commit wait ends; a
 *      later strong read, at an earlier now.latest elsewhere, would then
 *      miss it. So a read at t is served only once TT.after(min(t, LastTS()))
 *      holds here as well: every version it can return is then past its
 *      commit wait.
 *
 * Transition -> function:
 *   RO_READ request          -> txn__on_ro_read()
 *   serve                    -> txn__serve_read()
 *   held read / reply due    -> txn__waits_tick()
 *   promise period           -> txn__promise_tick()
 *   PROMISE message          -> txn__on_promise()
 *   GC period                -> txn__gc_tick() (below min(t_safe, held reads))
 */
#include "node_int.h"

/* Held reads may fill only half of the table, so a commit reply that must
 * wait for commit wait always finds a slot (it cannot be refused: the
 * commit is already logged). */
struct txn__wait *txn__wait_alloc(struct txn_node *n, bool is_read)
{
    uint32_t reads = 0;
    struct txn__wait *free_slot = NULL;
    /* Every slot from waits_hi on is free (wait_free keeps it so). */
    for (uint32_t i = 0; i < n->waits_hi; i++) {
        struct txn__wait *w = &n->waits[i];
        if (w->used)
            reads += w->is_read;
        else if (free_slot == NULL)
            free_slot = w;
    }
    if (free_slot == NULL && n->waits_hi < TXN_NODE_WAITS_MAX)
        free_slot = &n->waits[n->waits_hi];
    if (free_slot == NULL || (is_read && reads >= TXN_NODE_WAITS_MAX / 2))
        return NULL;
    memset(free_slot, 0, sizeof *free_slot);
    uint32_t i = (uint32_t) (free_slot - n->waits);
    if (i + 1 > n->waits_hi)
        n->waits_hi = i + 1;
    free_slot->used = true;
    free_slot->is_read = is_read;
    return free_slot;
}

static void wait_free(struct txn_node *n, struct txn__wait *w)
{
    SP_ASSERT(w->used && w >= n->waits && w < n->waits + n->waits_hi);
    free(w->blob);
    memset(w, 0, sizeof *w);
    while (n->waits_hi > 0 && !n->waits[n->waits_hi - 1].used)
        n->waits_hi--;
}

void txn__serve_read(struct txn_node *n, struct txn__group *g, uint32_t client, uint64_t req_id,
                     txn_id id, const struct txn_key *keys, uint32_t keys_n, tt_micros t)
{
    SP_ASSERT(keys_n <= TXN_REQ_KEYS_MAX && t >= 0);
    struct txn_value *vals = txn__arena_alloc(&n->arena, sizeof *vals * (keys_n ? keys_n : 1));
    struct txn_version vs[TXN_REQ_KEYS_MAX];
    struct txn_reply r = {.client = client, .req_id = req_id, .id = id, .ts = t};
    r.status = txn_store_get_many(n->store, g->id, keys, keys_n, t, vs, NULL);
    for (uint32_t i = 0; i < keys_n && r.status == 0; i++) {
        /* Every field set: the arena does not zero, and a point read carries
         * no key (only scan rows do). */
        vals[i] = (struct txn_value){.kind = vs[i].kind, .ts = vs[i].ts,
                                     .value = txn__arena_dup(&n->arena, vs[i].value,
                                                             vs[i].value_len),
                                     .value_len = vs[i].value_len};
        txn_version_clear(&vs[i]);
    }
    if (r.status == 0) {
        r.values = vals;
        r.values_n = keys_n;
    }
    if (t == TT_MICROS_MAX)
        r.ts = 0; /* a locking read reads the newest version, at no timestamp */
    txn__reply(n, &r);
}

/* Serves a scan of [keys[0], keys[1]) at t (t <= t_safe here, R1). */
static void serve_scan(struct txn_node *n, struct txn__group *g, const struct txn_reply *who,
                       const struct txn_key *keys, uint32_t limit, tt_micros t)
{
    SP_ASSERT(limit >= 1 && limit <= TXN_REQ_SCAN_ROWS_MAX);
    struct txn_reply r = {.client = who->client, .req_id = who->req_id, .id = who->id, .ts = t};
    struct txn_scan sc = {0};
    r.status = txn_store_scan(n->store, g->id, keys[0].key, keys[0].key_len,
                              keys[1].key_len ? keys[1].key : NULL, keys[1].key_len, t, limit, &sc,
                              NULL);
    if (r.status == 0) {
        struct txn_value *vals = txn__arena_alloc(&n->arena, sizeof *vals * (sc.rows_n + 1));
        for (size_t i = 0; i < sc.rows_n; i++) {
            const struct txn_row *row = &sc.rows[i];
            vals[i] = (struct txn_value){.kind = TXN_VERSION_VALUE, .ts = row->ts,
                                         .value = txn__arena_dup(&n->arena, row->value,
                                                                 row->value_len),
                                         .value_len = row->value_len,
                                         .key = txn__arena_dup(&n->arena, row->key, row->key_len),
                                         .key_len = row->key_len};
        }
        r.values = vals;
        r.values_n = (uint32_t) sc.rows_n;
        r.more = sc.more;
        if (sc.more)
            r.resume_key = txn__arena_dup(&n->arena, sc.resume_key, sc.resume_key_len);
        r.resume_key_len = sc.more ? sc.resume_key_len : 0;
    }
    txn_scan_clear(&sc);
    txn__reply(n, &r);
}

static void serve(struct txn_node *n, struct txn__group *g, const struct txn_reply *who,
                  const struct txn_key *keys, uint32_t keys_n, uint32_t scan_limit, tt_micros t)
{
    if (scan_limit)
        serve_scan(n, g, who, keys, scan_limit, t);
    else
        txn__serve_read(n, g, who->client, who->req_id, who->id, keys, keys_n, t);
}

/* R1 and R4: whether a read at t may be served here now. If not only for
 * R4, *wake_us is lowered to when it will be (in now.earliest). */
static bool read_ready(const struct txn_node *n, const struct txn__group *g, tt_micros t,
                       tt_micros *wake_us)
{
    if (txn_safetime_check_read(g->st, t, NULL) != 0)
        return false;
    tt_micros last = txn_safetime_last_ts(g->st);
    tt_micros newest = t < last ? t : last; /* the newest version a read at t can see */
    if (txn_ts_commit_wait_over(n->now, newest))
        return true;
    if (wake_us != NULL && newest + 1 < *wake_us)
        *wake_us = newest + 1; /* now.earliest >= newest + 1 means tt_after(newest) */
    return false;
}

/*
 * §4.2.2's s_read = LastTS() needs "no prepared transactions", and more:
 * no write the group may still commit may get a timestamp below s_read
 * unseen. Otherwise a multi-group read at a later timestamp could see that
 * write while this read, which began after some other transaction
 * completed, would not (a G2-realtime cycle the simulator found).
 *   - Prepared transactions: s_read = TT.now().latest
 *     (txn_safetime_strong_read_ts).
 *   - Writes this leader assigned that are not applied yet: s_read is at
 *     least the largest timestamp it assigned, and the read waits for them.
 *   - A transaction it coordinates whose commit is in and whose s is not
 *     chosen yet: that s is bounded only by the commit's arrival (C1),
 *     which can be long past, so s_read = TT.now().latest and the read
 *     waits for safe time.
 */
static bool coordinating_undecided(const struct txn__group *g)
{
    for (uint32_t i = 0; i < g->rws_hi; i++) {
        const struct txn__rw *t = &g->rws[i];
        if (t->used && t->role == TXN__ROLE_COORD && t->commit_arrived &&
            (t->state == TXN__RW_ACTIVE || t->state == TXN__RW_WAIT_LOCKS ||
             t->state == TXN__RW_VOTES))
            return true;
    }
    return false;
}

/* Chooses s_read for the request, or answers it with an error. */
static int read_ts(struct txn_node *n, struct txn__group *g, const struct txn_request *req,
                   tt_micros *t)
{
    switch (req->mode) {
    case TXN_READ_STRONG_SINGLE: {
        /* LastTS() covers every acknowledged write only at the leader that
         * holds the lease now: a deposed leader cut off from the group still
         * believes it leads, while its successor commits (R5). */
        if (!g->leader || !g->caught_up ||
            (!n->cfg.read_lease_check_off && paxos_lease_get(g->r, n->now, NULL, NULL) != 0))
            return SP_EPAXOS_NOT_LEADER;
        if (coordinating_undecided(g)) {
            *t = n->now.latest;
        } else {
            *t = txn_safetime_strong_read_ts(g->st, n->now);
            tt_micros smax = paxos_s_max(g->r);
            if (g->outstanding > 0 && smax > *t)
                *t = smax;
        }
        /* An idle group's LastTS may have fallen below the GC horizon. The
         * data is the same at any timestamp in [LastTS, t_safe] (nothing was
         * applied in between), and GC never passes t_safe, so read at the
         * horizon instead of failing with SP_ETXN_TOO_OLD. (Right after a
         * restart t_safe restarts at LastTS, below the horizon: the read then
         * waits for the next MinNextTS promise.) */
        struct txn_group_meta meta;
        int rc = txn_store_meta(n->store, g->id, &meta, NULL);
        if (rc == 0 && meta.gc_horizon > *t)
            *t = meta.gc_horizon;
        return rc;
    }
    case TXN_READ_STRONG:
        *t = n->now.latest;
        return 0;
    case TXN_READ_EXACT:
        *t = req->read_ts;
        return req->read_ts >= 0 ? 0 : SP_EINVAL;
    case TXN_READ_STALE:
        if (req->staleness_us < 0)
            return SP_EINVAL;
        return txn_safetime_stale_read_ts(g->st, n->now, req->staleness_us, t, NULL);
    }
    return SP_EINVAL;
}

static void want_promise(struct txn_node *n, struct txn__group *g, tt_micros t, tt_micros *wake);

void txn__on_ro_read(struct txn_node *n, struct txn__group *g, const struct txn_request *req)
{
    tt_micros t = 0;
    bool scan = req->type == TXN_REQ_RO_SCAN;
    if (scan && (req->keys_n != 2 || req->scan_limit < 1 ||
                 req->scan_limit > TXN_REQ_SCAN_ROWS_MAX)) {
        txn__reply_status(n, req->client, req->req_id, req->id, SP_EINVAL, 0);
        return;
    }
    uint32_t limit = scan ? req->scan_limit : 0;
    struct txn_reply who = {.client = req->client, .req_id = req->req_id, .id = req->id};
    int rc = read_ts(n, g, req, &t);
    if (rc) {
        txn__reply_status(n, req->client, req->req_id, req->id, rc, txn__hint(g));
        return;
    }
    if (read_ready(n, g, t, NULL)) { /* R1, R4 */
        serve(n, g, &who, req->keys, req->keys_n, limit, t);
        return;
    }
    struct txn__wait *w = txn__wait_alloc(n, true);
    struct txn__rw tmp = {0};
    if (w == NULL || txn__rw_copy_request(&tmp, req)) {
        if (w != NULL)
            wait_free(n, w);
        free(tmp.blob);
        txn__reply_status(n, req->client, req->req_id, req->id, SP_EFULL, 0);
        return;
    }
    w->is_read = true;
    w->group = g->id;
    w->ts = t;
    w->deadline_us = n->now.earliest + n->cfg.read_timeout_us;
    w->reply = (struct txn_reply){.client = req->client, .req_id = req->req_id, .id = req->id};
    w->blob = tmp.blob;
    w->keys = tmp.keys;
    w->keys_n = tmp.keys_n;
    w->scan_limit = limit;
    want_promise(n, g, t, NULL); /* txn__waits_tick asks again while it waits */
}

static void release_commit(struct txn_node *n, struct txn__wait *w)
{
    /* C3: no reply before tt_after(s). */
    SP_ASSERT(txn_ts_commit_wait_over(n->now, w->ts));
    tt_micros held = n->now.earliest - w->held_since_us;
    w->reply.commit_wait_us = held > 0 ? held : 0;
    if (w->has_client)
        txn__reply(n, &w->reply);
    struct txn_msg m = {.type = TXN_MSG_DECISION, .id = w->reply.id, .ts = w->ts};
    m.from_group = w->group;
    for (uint32_t i = 0; i < w->parts_n; i++)
        txn__send_group(n, w->parts[i], &m);
    wait_free(n, w);
}

void txn__waits_tick(struct txn_node *n, tt_micros *wake)
{
    for (uint32_t i = 0; i < n->waits_hi; i++) {
        struct txn__wait *w = &n->waits[i];
        if (!w->used)
            continue;
        if (!w->is_read) {
            if (txn_ts_commit_wait_over(n->now, w->ts))
                release_commit(n, w);
            else if (w->ts + 1 < *wake)
                *wake = w->ts + 1; /* now.earliest >= s + 1 means tt_after(s) */
            continue;
        }
        struct txn__group *g = txn__group_find(n, w->group);
        SP_ASSERT(g != NULL);
        tt_micros ready_us = TT_MICROS_MAX;
        if (read_ready(n, g, w->ts, &ready_us)) {
            serve(n, g, &w->reply, w->keys, w->keys_n, w->scan_limit, w->ts);
            wait_free(n, w);
        } else if (w->deadline_us <= n->now.earliest) {
            SP_DEBUG("txn node %u: group %llu: read at %lld timed out: t_safe %lld, paxos safe "
                     "%lld, %u prepared, applied %llu, leader %d",
                     n->cfg.self, (unsigned long long) g->id, (long long) w->ts,
                     (long long) txn_safetime_get(g->st),
                     (long long) txn_safetime_paxos_safe(g->st), txn_safetime_prepared_n(g->st),
                     (unsigned long long) TXN__POS_SLOT(txn_safetime_applied_index(g->st)),
                     (int) g->leader);
            txn__reply_status(n, w->reply.client, w->reply.req_id, w->reply.id, SP_ETXN_NOT_SAFE,
                              0);
            wait_free(n, w);
        } else {
            if (w->deadline_us < *wake)
                *wake = w->deadline_us;
            if (ready_us < *wake)
                *wake = ready_us;
            want_promise(n, g, w->ts, wake);
        }
    }
}

/* ---- MinNextTS ------------------------------------------------------------------ */

/* R2: whether a record of this leader's ballot is applied (tag_max, N6). If
 * none is, proposes a BARRIER, once per leadership, and says no. */
static bool own_record_applied(struct txn_node *n, struct txn__group *g)
{
    if (g->tag_max >= g->lead_ballot)
        return g->tag_max == g->lead_ballot; /* above: a newer leader logged */
    if (!g->barrier_sent) {
        struct txn__rec rec = {.type = TXN__REC_BARRIER};
        int rc = txn__propose(n, g, &rec);
        if (rc)
            SP_DEBUG("txn node %u: group %llu: no barrier: %s", n->cfg.self,
                     (unsigned long long) g->id, sp_errname(rc));
        g->barrier_sent = rc == 0;
    }
    return false;
}

/*
 * MinNextTS on demand. Promises leave every min_next_period_us, long enough
 * that an idle group costs little; a read held because t_paxos_safe is below
 * its timestamp does not wait for the next one. At the leader it makes the
 * next promise due at once (at most one per PROMISE_GAP_US); at another
 * replica it asks the leader with TXN_MSG_PROMISE_ASK, again every
 * ask_gap() while the read still waits (an ask may be lost). A promise
 * cannot help a read that prepared transactions hold (t_TM_safe): none is
 * asked for then.
 */
#define PROMISE_GAP_US 1000

static tt_micros ask_gap(const struct txn_node *n)
{
    tt_micros gap = n->cfg.min_next_period_us / 4;
    return gap > PROMISE_GAP_US ? gap : PROMISE_GAP_US;
}

void txn__promise_soon(struct txn_node *n, struct txn__group *g)
{
    if (g->promise_wanted)
        return; /* due already; txn__promise_tick retries until it is sent */
    g->promise_wanted = true;
    tt_micros at = g->promise_sent_us + PROMISE_GAP_US;
    if (at < n->now.earliest)
        at = n->now.earliest;
    if (at < g->promise_due_us)
        g->promise_due_us = at;
}

static void want_promise(struct txn_node *n, struct txn__group *g, tt_micros t, tt_micros *wake)
{
    if (txn_safetime_paxos_safe(g->st) >= t)
        return;
    if (g->leader && g->caught_up) {
        txn__promise_soon(n, g); /* promise_tick sends it, in this step or at wake */
        if (wake != NULL && g->promise_due_us < *wake)
            *wake = g->promise_due_us;
        return;
    }
    tt_micros next = g->promise_asked_us + ask_gap(n);
    if (g->promise_asked_us == 0 || next <= n->now.earliest) {
        g->promise_asked_us = n->now.earliest;
        struct txn_msg m = {.type = TXN_MSG_PROMISE_ASK, .ts = t};
        m.from_group = g->id;
        txn__send_group(n, g->id, &m);
        next = n->now.earliest + ask_gap(n);
    }
    if (wake != NULL && next < *wake)
        *wake = next;
}

void txn__promise_tick(struct txn_node *n, struct txn__group *g, tt_micros *wake)
{
    SP_ASSERT(g->leader && g->caught_up);
    if (g->promise_due_us <= n->now.earliest) {
        /* R2: only with nothing assigned and unapplied, and a record of
         * this leader applied. */
        if (g->outstanding == 0 && g->apply_head == NULL &&
            g->applied_slot == paxos_last_slot(g->r) && own_record_applied(n, g)) {
            struct txn_ts_bounds b;
            tt_micros mn = 0;
            int rc = txn__ts_bounds(n, g, &b);
            if (rc == 0)
                rc = txn_ts_min_next(&b, &mn, NULL);
            if (rc == 0)
                rc = paxos_note_assigned_ts(g->r, n->now, mn - 1);
            if (rc)
                SP_DEBUG("txn node %u: group %llu: no promise: %s (mn %lld, lease [%lld, %lld))",
                         n->cfg.self, (unsigned long long) g->id, sp_errname(rc), (long long) mn,
                         (long long) b.lease_start, (long long) b.lease_end);
            if (rc == 0) {
                SP_ASSERT(mn > b.last_assigned && mn < b.lease_end);
                /* "Applied through slot n" (n >= the slot of own_record_applied). */
                uint64_t index = g->applied_slot ? TXN__POS(g->applied_slot, TXN__POS_K_MAX) : 0;
                struct txn_msg m = {.type = TXN_MSG_PROMISE, .ts = mn, .index = index};
                m.from_group = g->id;
                txn__send_group(n, g->id, &m);
                g->promise_sent_us = n->now.earliest;
                g->promise_wanted = false;
            }
        }
        /* Still wanted (not possible yet: writes in flight): try again soon. */
        g->promise_due_us = n->now.earliest + (g->promise_wanted ? PROMISE_GAP_US
                                                                 : n->cfg.min_next_period_us);
    }
    if (g->promise_due_us < *wake)
        *wake = g->promise_due_us;
}

void txn__on_promise(struct txn_node *n, struct txn__group *g, const struct txn_msg *m)
{
    (void) n;
    SP_ASSERT(m->type == TXN_MSG_PROMISE);
    if (m->ts >= 1)
        txn_safetime_promise(g->st, m->index, m->ts);
}

/* ---- version GC -------------------------------------------------------------- */

/* The oldest timestamp a read here may still use: held reads, and t_safe
 * (a read may arrive at any t <= t_safe, and writes above it may still be
 * applied). The store never collects at or above it. */
static tt_micros oldest_read_ts(const struct txn_node *n, const struct txn__group *g)
{
    tt_micros oldest = txn_safetime_get(g->st);
    for (uint32_t i = 0; i < n->waits_hi; i++) {
        const struct txn__wait *w = &n->waits[i];
        if (w->used && w->is_read && w->group == g->id && w->ts < oldest)
            oldest = w->ts;
    }
    return oldest;
}

void txn__gc_tick(struct txn_node *n, struct txn__group *g, tt_micros *wake)
{
    if (n->cfg.gc_period_us == 0)
        return;
    if (g->gc_due_us == 0)
        g->gc_due_us = n->now.earliest + n->cfg.gc_period_us;
    if (g->gc_due_us <= n->now.earliest) {
        struct txn_gc_stats stats = {0};
        struct sp_err err = {0};
        int rc = txn_store_gc(n->store, g->id, n->now.earliest, oldest_read_ts(n, g), &stats, &err);
        if (rc)
            SP_WARN("txn node %u: group %llu: version GC: %s", n->cfg.self,
                    (unsigned long long) g->id, err.msg);
        SP_DEBUG("txn node %u: group %llu: GC below %lld dropped %llu of %llu versions",
                 n->cfg.self, (unsigned long long) g->id, (long long) stats.horizon,
                 (unsigned long long) stats.versions_dropped,
                 (unsigned long long) stats.versions_seen);
        txn__outcomes_gc(n, g);
        bool more = rc == 0 && !stats.complete;
        g->gc_due_us = n->now.earliest + (more ? 1000 : n->cfg.gc_period_us);
    }
    if (g->gc_due_us < *wake)
        *wake = g->gc_due_us;
}

/* ---- stale reads off the stepping thread ------------------------------------ */

/* Called at the end of every step: what txn_node_read_stale may rely on.
 * t_safe only grows (R1), so a published value is never ahead of the
 * node's, and every version at or below it is in the store by then: the
 * apply that let t_safe pass it wrote the store first. */
void txn__publish(struct txn_node *n)
{
    /* A failed node's safe time may be ahead of its store (drain_applies):
     * say failed first, and publish no safe time after that. */
    atomic_store_explicit(&n->pub_failed, n->failed, memory_order_seq_cst);
    for (uint32_t i = 0; i < n->groups_n && !n->failed; i++) {
        struct txn__group *g = &n->groups[i];
        atomic_store_explicit(&g->pub_last_ts, txn_safetime_last_ts(g->st), memory_order_relaxed);
        atomic_store_explicit(&g->pub_safe, txn_safetime_get(g->st), memory_order_release);
    }
}

void txn_node_read_clear(struct txn_node_read *r)
{
    SP_ASSERT(r != NULL && r->reply.values_n <= TXN_REQ_KEYS_MAX);
    for (uint32_t i = 0; i < r->reply.values_n; i++)
        txn_version_clear(&r->versions[i]);
    r->reply.values_n = 0;
    r->reply.values = NULL;
}

int txn_node_read_stale(struct txn_node *n, const struct txn_request *req, struct tt_interval now,
                        struct txn_node_read *out)
{
    SP_ASSERT(n != NULL && req != NULL && out != NULL && now.earliest <= now.latest);
    memset(&out->reply, 0, sizeof out->reply);
    if (req->type != TXN_REQ_RO_READ || req->mode != TXN_READ_STALE || req->staleness_us < 0 ||
        req->keys_n > TXN_REQ_KEYS_MAX ||
        atomic_load_explicit(&n->pub_failed, memory_order_acquire))
        return SP_ETXN_NOT_SAFE;
    /* groups_n and the ids are fixed at txn_node_create: safe to search. */
    const struct txn__group *g = txn__group_find(n, req->group);
    if (g == NULL)
        return SP_ETXN_NOT_SAFE;
    tt_micros safe = atomic_load_explicit(&g->pub_safe, memory_order_acquire);
    tt_micros last = atomic_load_explicit(&g->pub_last_ts, memory_order_relaxed);
    /* read_ts() for TXN_READ_STALE, then read_ready(): t <= t_safe (R1) by
     * construction, and commit wait over for the newest version a read at t
     * can see (R4). A LastTS newer than the t_safe read with it only makes
     * the check stricter. Too far behind: the step path waits or says
     * SP_ETXN_NOT_SAFE. */
    tt_micros t = 0;
    if (!txn_safetime_stale_ts(safe, now, req->staleness_us, &t) || t < 0 ||
        !txn_ts_commit_wait_over(now, t < last ? t : last))
        return SP_ETXN_NOT_SAFE;
    out->reply = (struct txn_reply){.client = req->client, .req_id = req->req_id, .id = req->id,
                                    .ts = t};
    int rc = txn_store_get_many(n->store, g->id, req->keys, req->keys_n, t, out->versions, NULL);
    if (rc) /* every version cleared; e.g. SP_ETXN_TOO_OLD: the step path answers it */
        return SP_ETXN_NOT_SAFE;
    out->reply.values_n = req->keys_n;
    for (uint32_t i = 0; i < req->keys_n; i++) {
        const struct txn_version *v = &out->versions[i];
        out->vals[i] = (struct txn_value){.kind = v->kind, .ts = v->ts, .value = v->value,
                                          .value_len = v->value_len};
    }
    out->reply.values = out->vals;
    SP_ASSERT(out->reply.values_n == req->keys_n);
    return 0;
}

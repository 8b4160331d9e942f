/*
 * replica.c - one multi-Paxos replica: creation, recovery, the step
 * dispatcher, the in-memory log and the update a step builds.
 *
 * Design notes
 * ============
 * The replica is a pure state machine (DESIGN.md §3): every input is an
 * event carrying TT.now(), every output goes into a struct paxos_update that
 * the driver carries out (persist, then send, then report completion).
 * Nothing here blocks, sleeps, reads a clock or draws randomness except
 * through cfg.random.
 *
 * Invariants (checked by SP_ASSERT/SP_DASSERT where cheap):
 *   I1  hs.base_slot <= applied <= hs.commit <= last, and every slot in
 *       (base_slot, commit] is present and chosen.
 *   I2  hs.promised never decreases; an accept or promise is answered only
 *       at a ballot >= hs.promised (Paxos Made Simple §2.2, P1a).
 *   I3  A message in update N is sent only after N's persist is durable, so
 *       no peer ever observes a promise, accept or grant that a crash could
 *       undo (etcd/raft: persist before send).
 *   I4  The log holds at most cfg.log_max slots: last - base_slot <= log_max.
 *   I5  The leader's own accept/promise/grant counts toward a quorum only
 *       once PAXOS_EV_PERSISTED reported its persist_seq.
 *   I6  After a failed persist the replica refuses every event (sticky
 *       error, as an LMDB transaction).
 *
 * States (of this replica's role; membership decides if it may vote):
 *
 *              election timeout, no valid grant, and a majority
 *              answered yes to a pre-vote (PRECANDIDATE)
 *     FOLLOWER ---------------------------------> CANDIDATE
 *        ^  ^                                      |   |
 *        |  |  higher ballot seen / timeout again  |   | promises from a
 *        |  +--------------------------------------+   | majority (in every
 *        |                                             | config seen)
 *        |   higher ballot seen, removed, abdicate     v
 *        +-------------------------------------------- LEADER
 *
 *     any state --(persist failed)--> FAILED (absorbing)
 *
 * Transitions and the functions that perform them:
 *     FOLLOWER -> PRECANDIDATE   election.c   prevote_start()
 *     PRECANDIDATE -> CANDIDATE  election.c   paxos__campaign_check()
 *     CANDIDATE -> LEADER        election.c   paxos__campaign_check()
 *     * -> FOLLOWER              election.c   paxos__step_down()
 *     LEADER -> FOLLOWER         election.c   paxos_abdicate()
 *     * -> FAILED                replica.c    paxos__set_failed()
 *
 * Lamport, "Paxos Made Simple" §3: a new leader runs phase 1 once for all
 * instances it does not know to be chosen, then only phase 2 per command.
 * That is what this replica does: one phase 1 per ballot for all open
 * slots, then phase 2 per slot.
 */
#include "paxos_int.h"

#include "sp_assert.h"
#include "sp_log.h"

#include <stdlib.h>
#include <string.h>

#define ARENA_BLOCK_MIN (64u * 1024u)

void paxos_config_init(struct paxos_config *cfg)
{
    SP_ASSERT(cfg != NULL);
    memset(cfg, 0, sizeof *cfg);
    cfg->lease_us = 10 * 1000 * 1000;
    cfg->heartbeat_us = cfg->lease_us / 5;
    cfg->election_timeout_us = cfg->lease_us / 2;
    cfg->inflight_max = 32;
    cfg->batch_bytes_max = 1u << 20;
    cfg->msg_entries_max = 4 * cfg->inflight_max;
    cfg->log_max = 4096;
    cfg->log_keep = 64;
    cfg->seed = 1;
}

static int validate_membership(const struct paxos_membership *c, struct sp_err *err)
{
    if (c->n == 0 || c->n > PAXOS_MEMBERS_MAX)
        return sp_err_set(err, SP_ECONFIG, "paxos: membership of %u nodes", c->n);
    uint32_t voters = 0;
    for (uint32_t i = 0; i < c->n; i++) {
        if (c->m[i].id == 0 || c->m[i].id > PAXOS_NODE_ID_MAX)
            return sp_err_set(err, SP_ECONFIG, "paxos: node id %u out of range", c->m[i].id);
        if (c->m[i].role != PAXOS_VOTER && c->m[i].role != PAXOS_READ_ONLY)
            return sp_err_set(err, SP_ECONFIG, "paxos: node %u has no role", c->m[i].id);
        for (uint32_t j = 0; j < i; j++)
            if (c->m[j].id == c->m[i].id)
                return sp_err_set(err, SP_ECONFIG, "paxos: node %u listed twice", c->m[i].id);
        voters += c->m[i].role == PAXOS_VOTER;
    }
    if (voters == 0)
        return sp_err_set(err, SP_ECONFIG, "paxos: membership without voters");
    return 0;
}

static int validate_config(const struct paxos_config *cfg, struct sp_err *err)
{
    if (cfg->self == 0 || cfg->self > PAXOS_NODE_ID_MAX)
        return sp_err_set(err, SP_ECONFIG, "paxos: self id %u out of range", cfg->self);
    if (cfg->lease_us <= 0 || cfg->heartbeat_us <= 0 || cfg->heartbeat_us * 2 > cfg->lease_us)
        return sp_err_set(err, SP_ECONFIG, "paxos: heartbeat_us must be in (0, lease_us/2]");
    if (cfg->election_timeout_us <= 0)
        return sp_err_set(err, SP_ECONFIG, "paxos: timeouts must be positive");
    if (cfg->inflight_max == 0 || cfg->msg_entries_max < cfg->inflight_max)
        return sp_err_set(err, SP_ECONFIG, "paxos: need 0 < inflight_max <= msg_entries_max");
    if (cfg->log_max < 2 * cfg->msg_entries_max || cfg->log_keep >= cfg->log_max / 2)
        return sp_err_set(err, SP_ECONFIG,
                          "paxos: need log_max >= 2*msg_entries_max, "
                          "log_keep < log_max/2");
    if (cfg->batch_bytes_max == 0 || cfg->batch_bytes_max > PAXOS_PAYLOAD_MAX)
        return sp_err_set(err, SP_ECONFIG, "paxos: batch_bytes_max out of range");
    return 0;
}

static int load_entries(struct paxos_replica *r, const struct paxos_durable_state *ld,
                        struct sp_err *err)
{
    for (uint32_t i = 0; i < ld->n_entries; i++) {
        const struct paxos_entry *e = &ld->entries[i];
        if (e->slot <= r->hs.base_slot || e->slot > r->hs.base_slot + r->cfg.log_max)
            return sp_err_set(err, SP_EINVAL, "paxos: loaded slot %llu outside the log",
                              (unsigned long long) e->slot);
        if (paxos__slot_put(r, e->slot, e->ballot, e->type, e->data, e->len) != 0)
            return sp_err_set(err, SP_ENOMEM, "paxos: loading slot %llu",
                              (unsigned long long) e->slot);
    }
    /* The commit index is written without sync, so it may be ahead of
     * nothing but may lag; clamp it to the contiguous present prefix. */
    paxos_slot c = r->hs.base_slot;
    while (c < r->hs.commit && paxos__slot_get(r, c + 1) != NULL)
        c++;
    r->hs.commit = c;
    for (paxos_slot s = r->hs.base_slot + 1; s <= c; s++)
        paxos__slot_get(r, s)->chosen = true;
    SP_ASSERT(r->hs.commit <= r->last || r->hs.commit == r->hs.base_slot);
    return 0;
}

static int replica_init(struct paxos_replica *r, const struct paxos_durable_state *ld,
                        struct sp_err *err)
{
    r->log = calloc(r->cfg.log_max, sizeof *r->log);
    r->dirty = calloc(r->cfg.log_max, sizeof *r->dirty);
    r->queue = calloc(PAXOS_PROPOSE_MAX, sizeof *r->queue);
    r->camp.n_recov = r->cfg.msg_entries_max;
    r->camp.recov = calloc(r->camp.n_recov, sizeof *r->camp.recov);
    if (!r->log || !r->dirty || !r->queue || !r->camp.recov)
        return sp_err_set(err, SP_ENOMEM, "paxos: allocating replica");
    r->prng = r->cfg.seed ^ ((uint64_t) r->cfg.self << 32);
    if (ld != NULL && ld->hs.base_membership.n > 0) {
        int rc = validate_membership(&ld->hs.base_membership, err);
        if (rc != 0)
            return sp_err_wrap(err, "loaded state");
        r->hs = ld->hs;
        r->last = r->hs.base_slot;
        rc = load_entries(r, ld, err);
        if (rc != 0)
            return rc;
    } else {
        r->hs.base_membership = r->cfg.members;
    }
    paxos__config_rebuild(r);
    r->applied = r->hs.base_slot;
    r->snapshot_slot = r->hs.base_slot;
    r->next_slot = r->last + 1;
    for (uint32_t i = 0; i < r->hs.base_membership.n; i++)
        paxos__peer_index(r, r->hs.base_membership.m[i].id);
    paxos__peer_index(r, r->cfg.self);
    return 0;
}

int paxos_replica_create(const struct paxos_config *cfg, const struct paxos_durable_state *loaded,
                         struct paxos_replica **out, struct sp_err *err)
{
    SP_ASSERT(cfg != NULL && out != NULL);
    *out = NULL;
    int rc = validate_config(cfg, err);
    if (rc != 0)
        return rc;
    if (loaded == NULL || loaded->hs.base_membership.n == 0) {
        rc = validate_membership(&cfg->members, err);
        if (rc != 0)
            return rc;
        if (!paxos__is_member(&cfg->members, cfg->self))
            return sp_err_set(err, SP_ECONFIG, "paxos: self %u not in bootstrap membership",
                              cfg->self);
    }
    struct paxos_replica *r = calloc(1, sizeof *r);
    if (r == NULL)
        return sp_err_set(err, SP_ENOMEM, "paxos: allocating replica");
    r->cfg = *cfg;
    rc = replica_init(r, loaded, err);
    if (rc != 0) {
        paxos_replica_destroy(r);
        return rc;
    }
    /* election_due_us stays 0: the first event sets it relative to its now. */
    *out = r;
    return 0;
}

static void arena_reset(struct paxos_replica *r)
{
    struct paxos__arena_block *b = r->arena;
    while (b != NULL) {
        struct paxos__arena_block *next = b->next;
        free(b);
        b = next;
    }
    r->arena = NULL;
}

void paxos_replica_destroy(struct paxos_replica *r)
{
    if (r == NULL)
        return;
    arena_reset(r);
    if (r->log != NULL)
        for (uint32_t i = 0; i < r->cfg.log_max; i++)
            free(r->log[i].data);
    if (r->queue != NULL)
        paxos__queue_free(r);
    if (r->camp.recov != NULL)
        paxos__campaign_free(r);
    free(r->camp.recov);
    free(r->queue);
    free(r->dirty);
    free(r->log);
    free(r->msgs);
    free(r);
}

/* Allocates from the per-step arena; the memory lives until the next step.
 * Allocation failure is fatal: the core has no way to continue a step
 * half-done without breaking the persist-before-send contract. */
void *paxos__alloc(struct paxos_replica *r, size_t size)
{
    size = (size + 15u) & ~(size_t) 15u;
    struct paxos__arena_block *b = r->arena;
    if (b == NULL || b->cap - b->used < size) {
        size_t cap = size > ARENA_BLOCK_MIN ? size : ARENA_BLOCK_MIN;
        b = malloc(sizeof *b + cap);
        SP_ASSERT(b != NULL);
        b->next = r->arena;
        b->used = 0;
        b->cap = cap;
        r->arena = b;
    }
    void *p = b->mem + b->used;
    b->used += size;
    SP_DASSERT(b->used <= b->cap);
    return p;
}

struct paxos_msg *paxos__msg(struct paxos_replica *r, enum paxos_msg_type type, paxos_node_id to)
{
    SP_ASSERT(to != 0);
    if (r->n_msgs == r->cap_msgs) {
        uint32_t cap = r->cap_msgs ? 2 * r->cap_msgs : 16;
        SP_ASSERT(cap <= PAXOS__MSGS_MAX);
        struct paxos_msg *m = realloc(r->msgs, cap * sizeof *m);
        SP_ASSERT(m != NULL);
        r->msgs = m;
        r->cap_msgs = cap;
    }
    struct paxos_msg *m = &r->msgs[r->n_msgs++];
    memset(m, 0, sizeof *m);
    m->type = type;
    m->from = r->cfg.self;
    m->to = to;
    m->promised = r->hs.promised;
    m->commit = r->hs.commit;
    return m;
}

struct paxos__slot *paxos__slot_get(struct paxos_replica *r, paxos_slot s)
{
    if (s <= r->hs.base_slot || s > r->last)
        return NULL;
    SP_DASSERT(s - r->hs.base_slot <= r->cfg.log_max);
    struct paxos__slot *e = &r->log[s % r->cfg.log_max];
    return e->present ? e : NULL;
}

/* Stores (b, value) at slot s and marks it for persisting in this step.
 * Returns SP_ERANGE if s lies outside the log window (I4). */
int paxos__slot_put(struct paxos_replica *r, paxos_slot s, paxos_ballot b, uint8_t type,
                    const uint8_t *data, uint32_t len)
{
    if (s <= r->hs.base_slot || s > r->hs.base_slot + r->cfg.log_max)
        return SP_ERANGE;
    SP_ASSERT(len <= PAXOS_PAYLOAD_MAX && (len == 0 || data != NULL));
    struct paxos__slot *e = &r->log[s % r->cfg.log_max];
    uint8_t *copy = NULL;
    if (len > 0) {
        copy = malloc(len);
        SP_ASSERT(copy != NULL);
        memcpy(copy, data, len);
    }
    free(e->data);
    memset(e, 0, sizeof *e);
    e->present = true;
    e->ballot = b;
    e->type = type;
    e->len = len;
    e->data = copy;
    if (s > r->last)
        r->last = s;
    e->dirty_gen = r->gen;
    SP_ASSERT(r->n_dirty < r->cfg.log_max);
    r->dirty[r->n_dirty++] = s;
    r->sync_needed = true;
    return 0;
}

void paxos__hs_changed(struct paxos_replica *r, bool sync)
{
    r->hs_dirty = true;
    r->sync_needed |= sync;
}

/* The persist_seq the current step's persist will carry. */
uint64_t paxos__pending_seq(const struct paxos_replica *r)
{
    return r->last_seq + 1;
}

bool paxos__durable(const struct paxos_replica *r, uint64_t seq)
{
    return seq != 0 && seq <= r->durable_seq;
}

uint64_t paxos__random(struct paxos_replica *r)
{
    if (r->cfg.random != NULL)
        return r->cfg.random(r->cfg.random_ctx);
    /* splitmix64: small, seedable, good enough for jitter. */
    uint64_t z = (r->prng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Index of node id in the peer table, adding it if there is room; -1 if the
 * table is full (PAXOS_NODES_MAX distinct nodes). */
int paxos__peer_index(struct paxos_replica *r, paxos_node_id id)
{
    SP_ASSERT(id != 0);
    for (uint32_t i = 0; i < r->n_peers; i++)
        if (r->peers[i].id == id)
            return (int) i;
    if (r->n_peers == PAXOS_NODES_MAX)
        return -1;
    memset(&r->peers[r->n_peers], 0, sizeof r->peers[0]);
    r->peers[r->n_peers].id = id;
    return (int) r->n_peers++;
}

/* Copies slot s into *e with its payload in the arena (valid for this step's
 * update even if the slot is overwritten or truncated later in the step). */
void paxos__entry_out(const struct paxos_replica *r, paxos_slot s, struct paxos_entry *e)
{
    const struct paxos__slot *sl = &r->log[s % r->cfg.log_max];
    SP_ASSERT(sl->present);
    e->slot = s;
    e->ballot = sl->ballot;
    e->type = sl->type;
    e->len = sl->len;
    e->data = NULL;
    if (sl->len > 0) {
        uint8_t *d = paxos__alloc((struct paxos_replica *) r, sl->len);
        memcpy(d, sl->data, sl->len);
        e->data = d;
    }
}

/* Moves the commit index over the chosen prefix (I1). */
void paxos__advance_commit(struct paxos_replica *r)
{
    paxos_slot c = r->hs.commit;
    uint32_t steps = 0;
    for (;;) {
        struct paxos__slot *e = paxos__slot_get(r, c + 1);
        if (e == NULL || !e->chosen)
            break;
        c++;
        SP_ASSERT(++steps <= r->cfg.log_max);
        if (e->type == PAXOS_ENTRY_CONFIG)
            paxos__config_committed(r, c);
    }
    if (c != r->hs.commit) {
        r->hs.commit = c;
        paxos__hs_changed(r, false);
    }
    SP_DASSERT(r->hs.commit >= r->applied);
}

void paxos__set_failed(struct paxos_replica *r)
{
    SP_ERROR("paxos %u: persist failed; replica refuses further work", r->cfg.self);
    r->failed = true;
    r->state = PAXOS__FOLLOWER;
    r->lease_end_us = 0;
}

void paxos__step_begin(struct paxos_replica *r, struct tt_interval now)
{
    SP_ASSERT(now.earliest <= now.latest);
    arena_reset(r);
    r->gen++;
    r->now = now;
    r->hs_dirty = false;
    r->sync_needed = false;
    r->truncate_through = 0;
    r->n_dirty = 0;
    r->n_msgs = 0;
    r->snapshot_needed = false;
}

static void emit_committed(struct paxos_replica *r, struct paxos_update *up)
{
    SP_ASSERT(r->applied <= r->hs.commit);
    uint64_t n = r->hs.commit - r->applied;
    SP_ASSERT(n <= r->cfg.log_max);
    if (n == 0)
        return;
    struct paxos_entry *out = paxos__alloc(r, n * sizeof *out);
    for (uint64_t i = 0; i < n; i++)
        paxos__entry_out(r, r->applied + 1 + i, &out[i]);
    up->committed = out;
    up->n_committed = (uint32_t) n;
    r->applied = r->hs.commit;
}

static void emit_persist(struct paxos_replica *r, struct paxos_update *up)
{
    uint32_t n = 0;
    struct paxos_entry *out = NULL;
    if (r->n_dirty > 0)
        out = paxos__alloc(r, r->n_dirty * sizeof *out);
    for (uint32_t i = 0; i < r->n_dirty; i++) {
        paxos_slot s = r->dirty[i];
        struct paxos__slot *e = paxos__slot_get(r, s);
        /* Written twice in one step, or truncated since: persist once. */
        if (e == NULL || e->dirty_gen != r->gen)
            continue;
        e->dirty_gen = 0;
        paxos__entry_out(r, s, &out[n++]);
    }
    up->entries = out;
    up->n_entries = n;
    up->truncate_through = r->truncate_through;
    up->hs_changed = r->hs_dirty;
    up->hs = r->hs;
    if (n > 0 || r->hs_dirty || r->truncate_through > 0) {
        up->persist_seq = ++r->last_seq;
        up->sync = r->sync_needed || n > 0;
    }
}

static tt_micros wake_time(const struct paxos_replica *r)
{
    if (r->state == PAXOS__LEADER)
        return r->heartbeat_due_us;
    return r->election_due_us;
}

void paxos__step_end(struct paxos_replica *r, struct paxos_update *up)
{
    memset(up, 0, sizeof *up);
    emit_committed(r, up);
    emit_persist(r, up);
    up->msgs = r->msgs;
    up->n_msgs = r->n_msgs;
    up->snapshot_needed = r->snapshot_needed;
    up->snapshot_from = r->snapshot_from;
    up->snapshot_slot = r->snapshot_slot_wanted;
    up->wake_us = wake_time(r);
    SP_ASSERT(up->n_msgs <= PAXOS__MSGS_MAX);
}

static void on_message(struct paxos_replica *r, const struct paxos_msg *m)
{
    SP_ASSERT(m != NULL);
    if (m->to != r->cfg.self || m->from == r->cfg.self || m->from == 0) {
        SP_DEBUG("paxos %u: dropping misrouted message %u->%u", r->cfg.self, m->from, m->to);
        return;
    }
    /* Whoever knows more chosen slots than we do can teach us (rate-limited
     * per peer). Without a leader this is the only way a lagging replica
     * learns, e.g., that it was made a voter (harness, seed 1027468). ACCEPT
     * is left to learn_commit(), which usually needs no catch-up at all. */
    if (m->commit > r->hs.commit && m->type != PAXOS_MSG_ACCEPT && m->type != PAXOS_MSG_CATCHUP)
        paxos__request_catchup(r, m->from);
    switch (m->type) {
    case PAXOS_MSG_PREPARE:
        paxos__on_prepare(r, m);
        break;
    case PAXOS_MSG_PROMISE:
        paxos__on_promise(r, m);
        break;
    case PAXOS_MSG_ACCEPT:
        paxos__on_accept(r, m);
        break;
    case PAXOS_MSG_ACCEPTED:
        paxos__on_accepted(r, m);
        break;
    case PAXOS_MSG_CATCHUP_REQ:
        paxos__on_catchup_req(r, m);
        break;
    case PAXOS_MSG_CATCHUP:
        paxos__on_catchup(r, m);
        break;
    case PAXOS_MSG_SNAPSHOT:
        paxos__on_snapshot_msg(r, m);
        break;
    case PAXOS_MSG_RELEASE:
        paxos__on_release(r, m);
        break;
    case PAXOS_MSG_PREVOTE:
        paxos__on_prevote(r, m);
        break;
    case PAXOS_MSG_PREVOTE_REPLY:
        paxos__on_prevote_reply(r, m);
        break;
    default:
        SP_DEBUG("paxos %u: unknown message type %d", r->cfg.self, (int) m->type);
    }
}

static int dispatch(struct paxos_replica *r, const struct paxos_event *ev)
{
    switch (ev->type) {
    case PAXOS_EV_MESSAGE:
        on_message(r, ev->msg);
        return 0;
    case PAXOS_EV_TICK:
        return 0;
    case PAXOS_EV_PERSISTED:
        if (ev->persisted.status != 0) {
            paxos__set_failed(r);
            return SP_EPAXOS_FAILED;
        }
        SP_ASSERT(ev->persisted.seq <= r->last_seq);
        if (ev->persisted.seq > r->durable_seq)
            r->durable_seq = ev->persisted.seq;
        return 0;
    case PAXOS_EV_PROPOSE:
        return paxos__propose(r, ev->propose.data, ev->propose.len);
    case PAXOS_EV_CHANGE:
        return paxos__change(r, ev->change.op, ev->change.node, ev->change.role);
    case PAXOS_EV_SNAPSHOT_TAKEN:
        return paxos__snapshot_taken(r, ev->snapshot.slot);
    case PAXOS_EV_SNAPSHOT_INSTALLED:
        return paxos__snapshot_installed(r, ev->snapshot.slot);
    }
    return SP_EINVAL;
}

/* The invariants of the file comment, checked after every step in debug
 * and sanitizer builds (SP_DASSERT). I1 is checked on the newest slots only
 * so the check stays O(1) per step. */
static void check_invariants(struct paxos_replica *r)
{
    SP_DASSERT(r->hs.base_slot <= r->applied && r->applied <= r->hs.commit);
    SP_DASSERT(r->hs.commit <= r->last || r->hs.commit == r->hs.base_slot);
    SP_DASSERT(r->last - r->hs.base_slot <= r->cfg.log_max); /* I4 */
    paxos_slot lo = r->hs.commit > r->hs.base_slot + 8 ? r->hs.commit - 8 : r->hs.base_slot;
    for (paxos_slot s = lo + 1; s <= r->hs.commit; s++) {
        const struct paxos__slot *e = paxos__slot_get(r, s);
        SP_DASSERT(e != NULL && e->chosen); /* I1 */
    }
    SP_DASSERT(r->queue_len <= PAXOS_PROPOSE_MAX);
    /* The broken test variants may break these; the harness must see it. */
    if (r->state == PAXOS__LEADER && r->cfg.test_flags == 0) {
        SP_DASSERT(r->leader_ballot == r->hs.promised);
        SP_DASSERT(r->next_slot - 1 - r->hs.commit <= r->cfg.msg_entries_max); /* R2 */
        SP_DASSERT(r->next_slot > r->last || r->last == r->hs.base_slot);
    }
    SP_DASSERT(!r->failed || r->state == PAXOS__FOLLOWER); /* I6 */
}

int paxos_step(struct paxos_replica *r, const struct paxos_event *ev, struct paxos_update *up)
{
    SP_ASSERT(r != NULL && ev != NULL && up != NULL);
    paxos__step_begin(r, ev->now);
    if (r->failed) {
        paxos__step_end(r, up);
        return SP_EPAXOS_FAILED;
    }
    int rc = dispatch(r, ev);
    if (!r->failed) {
        /* Every event may have moved time or durability forward: let each
         * concept react, in dependency order. */
        paxos__campaign_check(r);
        paxos__lease_check(r);
        paxos__leader_commit(r);
        paxos__advance_commit(r);
        paxos__election_tick(r);
        paxos__leader_tick(r);
        paxos__flush(r);
    }
    check_invariants(r);
    paxos__step_end(r, up);
    return rc;
}

bool paxos_msg_may_leave_early(const struct paxos_msg *m)
{
    SP_ASSERT(m != NULL);
    return m->type == PAXOS_MSG_ACCEPT;
}

bool paxos_is_leader(const struct paxos_replica *r)
{
    return r->state == PAXOS__LEADER && !r->failed;
}

paxos_ballot paxos_leader_ballot(const struct paxos_replica *r)
{
    return r->leader_ballot;
}

paxos_node_id paxos_leader_hint(const struct paxos_replica *r)
{
    return PAXOS_BALLOT_NODE(r->leader_ballot);
}

paxos_slot paxos_commit_index(const struct paxos_replica *r)
{
    return r->hs.commit;
}

paxos_slot paxos_last_slot(const struct paxos_replica *r)
{
    return r->last;
}

paxos_ballot paxos_promised(const struct paxos_replica *r)
{
    return r->hs.promised;
}

bool paxos_failed(const struct paxos_replica *r)
{
    return r->failed;
}

/*
 * replication.c - phase 2: proposals, batching, accepts and commit.
 *
 * Design notes
 * ============
 * From Lamport, "Paxos Made Simple" §2.2, phase 2: "(a) If the proposer
 * receives a response to its prepare requests (numbered n) from a majority
 * of acceptors, then it sends an accept request to each of those acceptors
 * for a proposal numbered n with a value v ... (b) If an acceptor receives
 * an accept request for a proposal numbered n, it accepts the proposal
 * unless it has already responded to a prepare request having a number
 * greater than n." In §3 a leader that finished phase 1 for all instances
 * runs phase 2 for many instances at once; we bound that by
 * cfg.inflight_max.
 *
 * Invariants:
 *   R1  The leader proposes at most one value per slot per ballot; a slot it
 *       proposes is above every slot recovered in phase 1.
 *   R2  Pipelining is bounded: next_slot - 1 - commit <= msg_entries_max
 *       always, and new proposals are taken only while it is below
 *       inflight_max (asserted in paxos__flush).
 *   R3  Slot s is decided chosen only when s == commit + 1 and a majority of
 *       the voters of the configuration governing s durably accepted
 *       (ballot, value) — followers' ACCEPTED replies are sent after their
 *       persist; our own accept counts after PAXOS_EV_PERSISTED (I5).
 *   R4  A follower learns "slot s chosen" from the leader's commit index only
 *       if it holds s under the leader's ballot (the leader proposes one
 *       value per slot per ballot); otherwise it asks for catch-up.
 *   R5  An acceptor accepts only slots within msg_entries_max of its commit,
 *       so any PROMISE fits one message; farther slots wait for catch-up.
 *   R6  A chosen entry is never overwritten.
 *
 * States of a slot at the leader:
 *
 *   free --propose/recover--> proposed (acks=0) --ACCEPTED from voters-->
 *   proposed (acks) --majority && s == commit+1--> chosen --> applied
 *
 * Transitions → functions:
 *   PROPOSE event → paxos__propose (queue) → paxos__flush (batch, slot)
 *   ACCEPT  → paxos__on_accept (acceptor);  ACCEPTED → paxos__on_accepted
 *   quorum  → paxos__leader_commit;  heartbeat/resend → paxos__leader_tick
 *
 * Batching: queued proposals are packed into one PAXOS_ENTRY_BATCH entry as
 * repeated (u32 length, bytes), up to cfg.batch_bytes_max, when the window
 * has room; paxos_batch_next() unpacks them.
 */
#include "paxos_int.h"

#include "sp_assert.h"
#include "sp_log.h"

#include <stdlib.h>
#include <string.h>

void paxos__queue_free(struct paxos_replica *r)
{
    SP_ASSERT(r->queue_len <= PAXOS_PROPOSE_MAX);
    for (uint32_t i = 0; i < r->queue_len; i++) {
        struct paxos__proposal *p = &r->queue[(r->queue_head + i) % PAXOS_PROPOSE_MAX];
        free(p->data);
        p->data = NULL;
    }
    r->queue_head = 0;
    r->queue_len = 0;
}

int paxos__propose(struct paxos_replica *r, const void *data, uint32_t len)
{
    if (len == 0 || len > r->cfg.batch_bytes_max - 4 || data == NULL)
        return SP_EINVAL;
    if (r->state != PAXOS__LEADER)
        return SP_EPAXOS_NOT_LEADER;
    if (r->queue_len == PAXOS_PROPOSE_MAX)
        return SP_EPAXOS_BUSY;
    struct paxos__proposal *p = &r->queue[(r->queue_head + r->queue_len) % PAXOS_PROPOSE_MAX];
    p->data = malloc(len);
    SP_ASSERT(p->data != NULL);
    memcpy(p->data, data, len);
    p->len = len;
    r->queue_len++;
    return 0;
}

/* Stores value in the next slot under our ballot; flush sends it. */
void paxos__propose_entry(struct paxos_replica *r, uint8_t type, const uint8_t *data, uint32_t len)
{
    SP_ASSERT(r->state == PAXOS__LEADER);
    SP_ASSERT(r->leader_ballot == r->hs.promised || r->cfg.test_flags != 0); /* R1 */
    paxos_slot s = r->next_slot++;
    SP_ASSERT(paxos__slot_put(r, s, r->leader_ballot, type, data, len) == 0);
    paxos__slot_get(r, s)->self_seq = paxos__pending_seq(r);
    if (r->unsent_from == 0)
        r->unsent_from = s;
}

static bool window_open(const struct paxos_replica *r)
{
    paxos_slot inflight = r->next_slot - 1 - r->hs.commit;
    SP_ASSERT(inflight <= r->cfg.msg_entries_max); /* R2 */
    return inflight < r->cfg.inflight_max && r->next_slot <= r->hs.base_slot + r->cfg.log_max;
}

static void propose_batch(struct paxos_replica *r)
{
    uint32_t n = 0, bytes = 0;
    while (n < r->queue_len) {
        const struct paxos__proposal *p = &r->queue[(r->queue_head + n) % PAXOS_PROPOSE_MAX];
        if (n > 0 && bytes + 4 + p->len > r->cfg.batch_bytes_max)
            break;
        bytes += 4 + p->len;
        n++;
    }
    SP_ASSERT(n > 0 && bytes <= r->cfg.batch_bytes_max);
    uint8_t *buf = paxos__alloc(r, bytes);
    uint32_t off = 0;
    for (uint32_t i = 0; i < n; i++) {
        struct paxos__proposal *p = &r->queue[r->queue_head];
        buf[off] = (uint8_t) p->len;
        buf[off + 1] = (uint8_t) (p->len >> 8);
        buf[off + 2] = (uint8_t) (p->len >> 16);
        buf[off + 3] = (uint8_t) (p->len >> 24);
        memcpy(buf + off + 4, p->data, p->len);
        off += 4 + p->len;
        free(p->data);
        p->data = NULL;
        r->queue_head = (r->queue_head + 1) % PAXOS_PROPOSE_MAX;
        r->queue_len--;
    }
    SP_ASSERT(off == bytes);
    paxos__propose_entry(r, PAXOS_ENTRY_BATCH, buf, bytes);
}

void paxos__flush(struct paxos_replica *r)
{
    if (r->state != PAXOS__LEADER) {
        r->unsent_from = 0;
        return;
    }
    uint32_t batches = 0;
    while (r->queue_len > 0 && window_open(r)) {
        propose_batch(r);
        SP_ASSERT(++batches <= r->cfg.inflight_max);
    }
    if (r->unsent_from == 0)
        return;
    uint32_t targets = paxos__targets(r);
    for (uint32_t p = 0; p < r->n_peers; p++)
        if (targets & (1u << p))
            paxos__send_accept(r, (int) p, r->unsent_from, r->next_slot - 1, false);
    r->unsent_from = 0;
}

/* Sends one ACCEPT to peer with our slots in [lo, hi] (at most
 * msg_entries_max), skipping slots it acknowledged if only_unacked. An
 * empty ACCEPT is the heartbeat; every ACCEPT carries the commit index and
 * a lease request. */
void paxos__send_accept(struct paxos_replica *r, int peer, paxos_slot lo, paxos_slot hi,
                        bool only_unacked)
{
    SP_ASSERT(r->state == PAXOS__LEADER && peer >= 0 && (uint32_t) peer < r->n_peers);
    struct paxos_msg *m = paxos__msg(r, PAXOS_MSG_ACCEPT, r->peers[peer].id);
    m->ballot = r->leader_ballot;
    m->lease_start_us = paxos__lease_request(r);
    m->commit = r->hs.commit;
    if (lo > hi)
        return;
    SP_ASSERT(hi - lo < r->cfg.msg_entries_max + (uint64_t) r->cfg.inflight_max);
    struct paxos_entry *es = paxos__alloc(r, (size_t) (hi - lo + 1) * sizeof *es);
    uint32_t n = 0;
    for (paxos_slot s = lo; s <= hi && n < r->cfg.msg_entries_max; s++) {
        struct paxos__slot *e = paxos__slot_get(r, s);
        if (e == NULL || e->ballot != r->leader_ballot)
            continue;
        if (only_unacked && (e->acks & (1u << peer)))
            continue;
        paxos__entry_out(r, s, &es[n++]);
    }
    m->entries = es;
    m->n_entries = n;
}

static bool same_value(const struct paxos__slot *e, const struct paxos_entry *v)
{
    return e->type == v->type && e->len == v->len &&
           (v->len == 0 || memcmp(e->data, v->data, v->len) == 0);
}

/* Accepts one entry of an ACCEPT at ballot b; true if we hold it now. */
static bool accept_one(struct paxos_replica *r, paxos_ballot b, const struct paxos_entry *v)
{
    SP_ASSERT(v->slot != 0 && b != 0);
    struct paxos__slot *e = paxos__slot_get(r, v->slot);
    if (e != NULL && e->chosen) /* R6: ack only what we would report anyway */
        return same_value(e, v);
    if (v->slot <= r->hs.commit || v->slot > r->hs.commit + r->cfg.msg_entries_max)
        return false; /* R5 */
    if (paxos__slot_put(r, v->slot, b, v->type, v->data, v->len) != 0)
        return false;
    return true;
}

/* R4: learn which of our slots the leader's commit index covers. */
static void learn_commit(struct paxos_replica *r, const struct paxos_msg *m)
{
    paxos_slot hi = m->commit < r->last ? m->commit : r->last;
    SP_ASSERT(hi <= r->hs.commit || hi - r->hs.commit <= r->cfg.log_max);
    for (paxos_slot s = r->hs.commit + 1; s <= hi; s++) {
        struct paxos__slot *e = paxos__slot_get(r, s);
        if (e != NULL && e->ballot == m->ballot)
            e->chosen = true;
    }
    paxos__advance_commit(r);
    if (r->hs.commit < m->commit)
        paxos__request_catchup(r, m->from);
}

void paxos__on_accept(struct paxos_replica *r, const struct paxos_msg *m)
{
    SP_ASSERT(m->type == PAXOS_MSG_ACCEPT && m->ballot != 0);
    bool any_ballot = (r->cfg.test_flags & PAXOS_TEST_ACCEPT_ANY_BALLOT) != 0;
    if (m->ballot < r->hs.promised && !any_ballot) {
        struct paxos_msg *out = paxos__msg(r, PAXOS_MSG_ACCEPTED, m->from);
        out->ballot = m->ballot;
        out->reject = PAXOS_REJECT_STALE;
        return;
    }
    if (m->ballot > r->hs.promised) {
        r->hs.promised = m->ballot;
        paxos__hs_changed(r, true);
    }
    if (m->ballot == r->hs.promised)
        paxos__follow(r, m->ballot);
    SP_ASSERT(m->n_entries <= r->cfg.msg_entries_max);
    struct paxos_entry *acks = m->n_entries ? paxos__alloc(r, m->n_entries * sizeof *acks) : NULL;
    uint32_t n = 0;
    for (uint32_t i = 0; i < m->n_entries; i++) {
        if (!accept_one(r, m->ballot, &m->entries[i]))
            continue;
        memset(&acks[n], 0, sizeof acks[n]);
        acks[n].slot = m->entries[i].slot;
        acks[n].ballot = m->ballot;
        n++;
    }
    learn_commit(r, m);
    struct paxos_msg *out = paxos__msg(r, PAXOS_MSG_ACCEPTED, m->from);
    out->ballot = m->ballot;
    out->entries = acks;
    out->n_entries = n;
    if (m->lease_start_us != 0 && paxos__grant_lease(r, m->ballot)) {
        out->lease_start_us = m->lease_start_us;
        out->lease_granted = true;
        out->grant_earliest_us = r->now.earliest;
    }
}

void paxos__on_accepted(struct paxos_replica *r, const struct paxos_msg *m)
{
    SP_ASSERT(m->type == PAXOS_MSG_ACCEPTED);
    if (m->promised > r->seen_ballot)
        r->seen_ballot = m->promised;
    if (r->state != PAXOS__LEADER || m->ballot != r->leader_ballot)
        return;
    if (m->reject != PAXOS_REJECT_NONE) {
        if (m->promised > r->leader_ballot)
            paxos__step_down(r, m->promised);
        return;
    }
    int p = paxos__peer_index(r, m->from);
    if (p < 0)
        return;
    paxos__on_lease_reply(r, p, m);
    SP_ASSERT(m->n_entries <= r->cfg.msg_entries_max);
    for (uint32_t i = 0; i < m->n_entries; i++) {
        paxos_slot s = m->entries[i].slot;
        struct paxos__slot *e = paxos__slot_get(r, s);
        if (s <= r->hs.commit || e == NULL || e->ballot != r->leader_ballot)
            continue;
        e->acks |= 1u << p;
        if (s > r->peers[p].match)
            r->peers[p].match = s;
    }
}

/* R3: decide slots chosen in order, each under its own configuration. */
void paxos__leader_commit(struct paxos_replica *r)
{
    int self = paxos__peer_index(r, r->cfg.self);
    SP_ASSERT(self >= 0);
    uint32_t steps = 0;
    while (r->state == PAXOS__LEADER && r->hs.commit + 1 < r->next_slot) {
        struct paxos__slot *e = paxos__slot_get(r, r->hs.commit + 1);
        if (e == NULL)
            break;
        if (!e->chosen) {
            uint32_t bits = e->acks;
            if (e->ballot == r->leader_ballot && paxos__durable(r, e->self_seq))
                bits |= 1u << self;
            if (e->ballot != r->leader_ballot || !paxos__quorum(r, &r->config, bits))
                break;
            e->chosen = true;
        }
        paxos__advance_commit(r); /* may change r->config or step us down */
        SP_ASSERT(++steps <= r->cfg.log_max);
    }
}

/* Heartbeat: renews the lease, carries the commit index, and resends what a
 * peer has not acknowledged (lost messages are recovered here). */
void paxos__leader_tick(struct paxos_replica *r)
{
    if (r->state != PAXOS__LEADER || r->now.earliest < r->heartbeat_due_us)
        return;
    uint32_t targets = paxos__targets(r);
    for (uint32_t p = 0; p < r->n_peers; p++)
        if (targets & (1u << p))
            paxos__send_accept(r, (int) p, r->hs.commit + 1, r->next_slot - 1, true);
    r->heartbeat_due_us = r->now.earliest + r->cfg.heartbeat_us;
    SP_ASSERT(r->heartbeat_due_us > r->now.earliest);
}

int paxos_batch_next(const uint8_t *data, uint32_t len, uint32_t *off, const uint8_t **p,
                     uint32_t *n)
{
    SP_ASSERT(off != NULL && p != NULL && n != NULL);
    if (*off == len)
        return SP_ENOTFOUND;
    if (*off > len || len - *off < 4)
        return SP_CORRUPT(NULL, "paxos: batch truncated at %u of %u", *off, len);
    const uint8_t *h = data + *off;
    uint32_t k =
        (uint32_t) h[0] | (uint32_t) h[1] << 8 | (uint32_t) h[2] << 16 | (uint32_t) h[3] << 24;
    if (k == 0 || k > len - *off - 4)
        return SP_CORRUPT(NULL, "paxos: batch item of %u bytes at %u of %u", k, *off, len);
    *p = h + 4;
    *n = k;
    *off += 4 + k;
    return 0;
}

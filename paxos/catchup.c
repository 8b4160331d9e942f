/*
 * catchup.c - bringing lagging or restarted replicas up to date, snapshots
 * and log truncation.
 *
 * Design notes
 * ============
 * A replica that misses ACCEPTs (loss, partition, restart) has a gap below
 * the leader's commit index. It asks any peer for chosen entries from its
 * first unknown slot (CATCHUP_REQ); the peer answers with chosen entries
 * (CATCHUP), or, if it already truncated them, with the slot of its
 * application snapshot (SNAPSHOT). The core never moves snapshot bytes: it
 * asks the driver (update.snapshot_needed), the application transfers and
 * installs its state, and the driver reports PAXOS_EV_SNAPSHOT_INSTALLED.
 *
 * From Lamport, "Paxos Made Simple" §3: "a new leader ... might not know
 * what commands have been chosen"; learners find out from other replicas.
 * Spanner §2.1 keeps a log per tablet and snapshots of applied state; a log
 * prefix may go only once the state it produced is durable elsewhere.
 *
 * Invariants:
 *   C1  Only chosen entries travel in CATCHUP; the receiver stores them as
 *       chosen. Overwriting our merely accepted value at such a slot is safe:
 *       any value accepted at a higher ballot than the chosen one equals it
 *       (P2c), so phase 1 can never report something that contradicts it.
 *   C2  Truncation: entries <= t are dropped only when the application said
 *       its snapshot is durable at s >= t + log_keep, and t <= commit.
 *   C3  Requests are rate-limited to one per peer per heartbeat_us, so a
 *       lagging replica cannot flood the group.
 *   C4  A leader that learns a slot was chosen with a value other than its
 *       own proposal there steps down at once: a higher ballot chose it, and
 *       if the leader kept going its commit index would cover that slot
 *       while followers still hold its own proposal under its ballot, which
 *       R4 would make them take as chosen (harness, seed 5006978).
 *
 *   lagging --CATCHUP_REQ--> peer --CATCHUP (chosen)--> lagging: commit up
 *                                --SNAPSHOT(slot)-----> lagging: needs app
 *   driver: fetch + install --SNAPSHOT_INSTALLED--> base = slot, commit = slot
 *
 * Transitions → functions:
 *   gap seen      → paxos__request_catchup
 *   CATCHUP_REQ   → paxos__on_catchup_req;  CATCHUP → paxos__on_catchup
 *   SNAPSHOT      → paxos__on_snapshot_msg; installed → paxos__snapshot_installed
 *   app snapshot  → paxos__snapshot_taken (truncation)
 */
#include "paxos_int.h"

#include "sp_assert.h"
#include "sp_log.h"

#include <stdlib.h>
#include <string.h>

void paxos__request_catchup(struct paxos_replica *r, paxos_node_id from)
{
    int p = paxos__peer_index(r, from);
    if (p < 0 || from == r->cfg.self)
        return;
    struct paxos__peer *peer = &r->peers[p];
    /* C3. catchup_sent_us == 0 means "never", so the first one goes out. */
    if (peer->catchup_sent_us != 0 && r->now.earliest < peer->catchup_sent_us + r->cfg.heartbeat_us)
        return;
    peer->catchup_sent_us = r->now.earliest;
    struct paxos_msg *m = paxos__msg(r, PAXOS_MSG_CATCHUP_REQ, from);
    m->slot = r->hs.commit + 1;
    SP_ASSERT(m->slot > r->hs.base_slot);
}

void paxos__on_catchup_req(struct paxos_replica *r, const struct paxos_msg *m)
{
    SP_ASSERT(m->type == PAXOS_MSG_CATCHUP_REQ);
    if (m->slot <= r->hs.base_slot) {
        if (r->snapshot_slot < r->hs.base_slot || r->snapshot_slot > r->hs.commit)
            return;
        struct paxos_msg *out = paxos__msg(r, PAXOS_MSG_SNAPSHOT, m->from);
        out->slot = r->snapshot_slot;
        paxos__config_after(r, r->snapshot_slot, &out->membership);
        return;
    }
    if (m->slot > r->hs.commit)
        return; /* we know nothing it lacks */
    paxos_slot hi = r->hs.commit;
    if (hi - m->slot + 1 > r->cfg.msg_entries_max)
        hi = m->slot + r->cfg.msg_entries_max - 1;
    uint32_t n = (uint32_t) (hi - m->slot + 1);
    struct paxos_entry *es = paxos__alloc(r, n * sizeof *es);
    for (uint32_t i = 0; i < n; i++)
        paxos__entry_out(r, m->slot + i, &es[i]);
    struct paxos_msg *out = paxos__msg(r, PAXOS_MSG_CATCHUP, m->from);
    out->slot = m->slot;
    out->entries = es;
    out->n_entries = n;
    SP_ASSERT(out->commit == r->hs.commit);
}

static bool same_value(const struct paxos__slot *e, const struct paxos_entry *v)
{
    SP_ASSERT(e->present);
    return e->type == v->type && e->len == v->len &&
           (v->len == 0 || memcmp(e->data, v->data, v->len) == 0);
}

void paxos__on_catchup(struct paxos_replica *r, const struct paxos_msg *m)
{
    SP_ASSERT(m->type == PAXOS_MSG_CATCHUP);
    SP_ASSERT(m->n_entries <= r->cfg.msg_entries_max);
    paxos_slot before = r->hs.commit;
    for (uint32_t i = 0; i < m->n_entries; i++) {
        const struct paxos_entry *v = &m->entries[i];
        if (v->slot <= r->hs.commit)
            continue;
        struct paxos__slot *e = paxos__slot_get(r, v->slot);
        if (e != NULL && e->chosen)
            continue; /* R6 */
        if (e != NULL && r->state == PAXOS__LEADER && e->ballot == r->leader_ballot &&
            !same_value(e, v))
            paxos__step_down(r, v->ballot); /* C4 */
        if (paxos__slot_put(r, v->slot, v->ballot, v->type, v->data, v->len) != 0)
            break; /* beyond our window: the next request continues */
        paxos__slot_get(r, v->slot)->chosen = true; /* C1 */
    }
    paxos__advance_commit(r);
    if (r->hs.commit > before && r->hs.commit < m->commit) {
        /* Progress, and more to come: ask again at once. */
        int p = paxos__peer_index(r, m->from);
        if (p >= 0)
            r->peers[p].catchup_sent_us = 0;
        paxos__request_catchup(r, m->from);
    }
}

void paxos__on_snapshot_msg(struct paxos_replica *r, const struct paxos_msg *m)
{
    SP_ASSERT(m->type == PAXOS_MSG_SNAPSHOT);
    if (m->slot <= r->hs.commit || m->membership.n == 0 || m->membership.n > PAXOS_MEMBERS_MAX)
        return;
    r->snapshot_needed = true;
    r->snapshot_from = m->from;
    r->snapshot_slot_wanted = m->slot;
    r->snapshot_membership = m->membership;
    SP_INFO("paxos %u: need snapshot at slot %llu from %u", r->cfg.self,
            (unsigned long long) m->slot, m->from);
}

/* Drops slots (base_slot, t] from memory and, via the update, from disk. */
static void truncate_through(struct paxos_replica *r, paxos_slot t,
                             const struct paxos_membership *after)
{
    SP_ASSERT(t > r->hs.base_slot);
    SP_ASSERT(t - r->hs.base_slot <= r->cfg.log_max);
    for (paxos_slot s = r->hs.base_slot + 1; s <= t; s++) {
        struct paxos__slot *e = &r->log[s % r->cfg.log_max];
        free(e->data);
        memset(e, 0, sizeof *e);
    }
    r->hs.base_slot = t;
    r->hs.base_membership = *after;
    if (r->last < t)
        r->last = t;
    r->truncate_through = t;
    paxos__hs_changed(r, true);
}

int paxos__snapshot_taken(struct paxos_replica *r, paxos_slot slot)
{
    if (slot > r->applied || slot < r->hs.base_slot)
        return SP_EINVAL;
    if (slot > r->snapshot_slot)
        r->snapshot_slot = slot;
    if (slot <= r->cfg.log_keep || slot - r->cfg.log_keep <= r->hs.base_slot)
        return 0;
    paxos_slot t = slot - r->cfg.log_keep; /* C2 */
    SP_ASSERT(t <= r->hs.commit);
    struct paxos_membership after;
    paxos__config_after(r, t, &after);
    truncate_through(r, t, &after);
    return 0;
}

int paxos__snapshot_installed(struct paxos_replica *r, paxos_slot slot)
{
    if (slot == 0 || slot != r->snapshot_slot_wanted)
        return SP_EINVAL;
    if (slot <= r->hs.commit) {
        r->snapshot_slot_wanted = 0;
        return 0; /* caught up by entries meanwhile */
    }
    SP_ASSERT(r->snapshot_membership.n > 0);
    if (r->state != PAXOS__FOLLOWER)
        paxos__step_down(r, r->hs.promised);
    if (slot - r->hs.base_slot > r->cfg.log_max) {
        /* Everything we hold is below the snapshot: drop it wholesale. */
        for (uint32_t i = 0; i < r->cfg.log_max; i++) {
            free(r->log[i].data);
            memset(&r->log[i], 0, sizeof r->log[i]);
        }
        r->hs.base_slot = slot - 1;
        r->last = slot - 1;
    }
    truncate_through(r, slot, &r->snapshot_membership);
    r->hs.commit = slot;
    r->applied = slot;
    r->snapshot_slot = slot;
    r->snapshot_slot_wanted = 0;
    paxos__config_rebuild(r);
    paxos__advance_commit(r);
    SP_ASSERT(r->hs.commit >= slot);
    return 0;
}

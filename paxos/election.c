/*
 * election.c - phase 1 (leader election by ballots) and timed leader leases.
 *
 * Design notes
 * ============
 * From Lamport, "Paxos Made Simple" §2.2, phase 1: "(a) A proposer selects
 * a proposal number n and sends a prepare request with number n to a
 * majority of acceptors. (b) If an acceptor receives a prepare request with
 * number n greater than that of any prepare request to which it has already
 * responded, then it responds to the request with a promise not to accept
 * any more proposals numbered less than n and with the highest-numbered
 * proposal (if any) that it has accepted."
 *
 * Multi-Paxos runs that once per ballot for every open slot at once: the
 * PREPARE names the first slot the candidate does not know to be chosen
 * (commit + 1) and each PROMISE carries every value the acceptor accepted
 * from there on. For each slot the candidate keeps the value with the
 * highest ballot; slots nobody reported below the highest reported slot
 * become no-ops (Paxos Made Simple §3 fills such gaps with a special no-op
 * command that leaves the state unchanged).
 *
 * From Spanner §4.1.1: "Spanner's Paxos implementation uses timed leases to
 * make leadership long-lived (10 seconds by default). A potential leader
 * sends requests for timed lease votes; upon receiving a quorum of lease
 * votes the leader knows it has a lease. A replica extends its lease vote
 * implicitly on a successful write, and the leader requests lease-vote
 * extensions if they are near expiration." And: "For each Paxos group,
 * each Paxos leader's lease interval is disjoint from every other leader's.
 * ... a Paxos leader can abdicate by releasing its slaves from their lease
 * votes ... before abdicating, a leader must wait until TT.after(smax) is
 * true."
 *
 * Lease rules, all judged with TrueTime intervals, never local time:
 *   L1  A lease request carries start = the leader's now.earliest when it
 *       sent it. Once a majority of voters granted that request the leader
 *       holds the lease until end = start + lease_us, and uses it only while
 *       now.latest < end: true time is then below end.
 *   L2  A grantor records grant_expiry = its now.latest + lease_us when it
 *       grants (>= every end a leader can derive from that grant, since
 *       start <= true send time <= true grant time <= now.latest). It treats
 *       the grant as possibly valid while now.earliest <= grant_expiry, and
 *       meanwhile neither promises nor grants to any other ballot, nor
 *       campaigns itself. The grant is in the hard state, so it survives a
 *       crash (persisted before the reply leaves, I3).
 *   L3  Hence lease intervals of different leaders are disjoint: a new
 *       leader's quorum intersects the old one in a grantor that waited for
 *       its old grant to expire before granting again. The exposed lease
 *       start is the max of the grantors' now.earliest, which is above the
 *       old lease's end for that intersecting grantor.
 *   L4  The leader refuses to assign timestamps outside [start, end) and
 *       abdicates only once tt_after(s_max).
 *   L5  Only a leader (phase 1 done) asks for lease votes, on its ACCEPTs.
 *       A PREPARE is refused while a grant to another ballot may be valid,
 *       and an acceptor that promised b refuses lease votes to ballots < b;
 *       so the new leader's phase 1 ends only after every lease of the old
 *       one expired, and no old lease can be renewed afterwards. Granting at
 *       PREPARE time instead would let split votes block every candidate
 *       for a whole lease.
 *   L6  Across membership changes the same argument needs quorums that
 *       intersect; membership.c (M6) keeps that true.
 *   L7  A replica answers PREVOTE and PREPARE only from voters of its own
 *       configuration, and any replica that hears of a higher commit index
 *       asks the sender for catch-up (replica.c). A replica removed from the group
 *       hears from no leader, so it would otherwise campaign for ever with
 *       its stale configuration and keep deposing the real leader (harness,
 *       seed 1778).
 *   L8  A replica that is not a voter in its own view asks a random peer for
 *       catch-up at each election timeout: when every new voter lags behind
 *       the change that promoted it, nobody else would ever tell them and no
 *       leader could be elected (harness, seed 8016278 at a high change
 *       rate).
 *
 * Pre-vote (as Raft's §9.6): before raising any ballot, a would-be
 * candidate asks the voters whether they would promise; they say yes only if
 * no lease they granted may be valid and the ballot beats their promise.
 * Without it a replica cut off from the leader campaigns again and again,
 * its ever higher ballots make the healthy leader step down when it returns,
 * and the group livelocks (found by the harness, seed 149).
 *
 * States of one candidacy:
 *
 *   FOLLOWER --timeout, own grant expired--> PRECANDIDATE (PREVOTE)
 *   PRECANDIDATE --majority said yes-------> CANDIDATE (ballot b, PREPARE)
 *   CANDIDATE --majority in every config--> LEADER (re-propose recovered)
 *   CANDIDATE --STALE reject--------------> FOLLOWER (next ballot higher)
 *   PRE/CANDIDATE --timeout---------------> PRECANDIDATE (try again)
 *   LEADER --higher ballot / abdicate-----> FOLLOWER
 *
 * Transitions → functions:
 *   timeout → paxos__election_tick → prevote_start
 *   PREVOTE → paxos__on_prevote;  yes from a majority → campaign_start
 *   PREPARE → paxos__on_prepare;  PROMISE → paxos__on_promise
 *   quorum  → paxos__campaign_check → become_leader
 *   lease   → paxos__lease_request / paxos__on_lease_reply / paxos__lease_check
 *   step down → paxos__step_down;  abdicate → paxos_abdicate
 */
#include "paxos_int.h"

#include "sp_assert.h"
#include "sp_log.h"

#include <stdlib.h>
#include <string.h>

void paxos__reset_election_timer(struct paxos_replica *r)
{
    tt_micros t = r->cfg.election_timeout_us;
    SP_ASSERT(t > 0);
    tt_micros jitter = (tt_micros) (paxos__random(r) % (uint64_t) t);
    r->election_due_us = r->now.earliest + t + jitter;
}

/* True if a lease we granted to a ballot other than b may still be valid (L2). */
static bool grant_blocks(const struct paxos_replica *r, paxos_ballot b)
{
    if (r->cfg.test_flags & PAXOS_TEST_GRANT_OVERLAP)
        return false;
    return r->hs.grant_ballot != 0 && r->hs.grant_ballot != b &&
           r->now.earliest <= r->hs.grant_expiry_us;
}

/* Grants (or extends) a lease vote to ballot b, which is >= promised. */
bool paxos__grant_lease(struct paxos_replica *r, paxos_ballot b)
{
    SP_ASSERT(b != 0);
    SP_ASSERT(b >= r->hs.promised || (r->cfg.test_flags & PAXOS_TEST_ACCEPT_ANY_BALLOT));
    if (grant_blocks(r, b))
        return false;
    tt_micros expiry = r->now.latest + r->cfg.lease_us;
    /* A renewal never shortens the grant, even if our eps shrank since. */
    if (r->hs.grant_ballot == b && r->hs.grant_expiry_us > expiry)
        expiry = r->hs.grant_expiry_us;
    r->hs.grant_ballot = b;
    r->hs.grant_expiry_us = expiry;
    paxos__hs_changed(r, true);
    SP_ASSERT(r->hs.grant_expiry_us > r->now.latest);
    return true;
}

void paxos__campaign_free(struct paxos_replica *r)
{
    for (uint32_t i = 0; i < r->camp.n_recov; i++) {
        free(r->camp.recov[i].data);
        memset(&r->camp.recov[i], 0, sizeof r->camp.recov[i]);
    }
    r->camp.recov_last = 0;
    r->camp.ballot = 0;
}

static void recov_merge(struct paxos_replica *r, paxos_slot s, paxos_ballot b, uint8_t type,
                        const uint8_t *data, uint32_t len)
{
    if (s < r->camp.from || s - r->camp.from >= r->camp.n_recov)
        return;
    struct paxos__recov *v = &r->camp.recov[s - r->camp.from];
    if (v->present && v->ballot >= b)
        return;
    free(v->data);
    v->data = NULL;
    if (len > 0) {
        v->data = malloc(len);
        SP_ASSERT(v->data != NULL);
        memcpy(v->data, data, len);
    }
    v->present = true;
    v->ballot = b;
    v->type = type;
    v->len = len;
    if (s > r->camp.recov_last)
        r->camp.recov_last = s;
}

/* Sends PREPARE to every member of c not yet asked. */
static void prepare_members(struct paxos_replica *r, const struct paxos_membership *c)
{
    for (uint32_t i = 0; i < c->n; i++) {
        int p = paxos__peer_index(r, c->m[i].id);
        if (p < 0 || c->m[i].id == r->cfg.self || (r->camp.prepared & (1u << p)))
            continue;
        r->camp.prepared |= 1u << p;
        struct paxos_msg *m = paxos__msg(r, PAXOS_MSG_PREPARE, c->m[i].id);
        m->ballot = r->camp.ballot;
        m->slot = r->camp.from;
    }
}

static paxos_ballot next_ballot(const struct paxos_replica *r)
{
    paxos_ballot hi = r->hs.promised > r->seen_ballot ? r->hs.promised : r->seen_ballot;
    paxos_ballot b = PAXOS_BALLOT(PAXOS_BALLOT_ROUND(hi) + 1, r->cfg.self);
    SP_ASSERT(b > hi);
    return b;
}

static void campaign_start(struct paxos_replica *r)
{
    SP_ASSERT(r->state != PAXOS__LEADER);
    paxos__campaign_free(r);
    paxos__queue_free(r);
    r->state = PAXOS__CANDIDATE;
    r->leader_ballot = 0;
    r->lease_end_us = 0;
    r->camp.ballot = next_ballot(r);
    r->camp.from = r->hs.commit + 1;
    r->camp.promised = 0;
    r->camp.prepared = 0;
    r->camp.config = r->config;
    /* Our own promise: durable with this step's persist. No lease vote yet:
     * leases are requested only by a leader (L5), so a failed candidacy
     * blocks nobody. */
    r->hs.promised = r->camp.ballot;
    paxos__hs_changed(r, true);
    r->camp.self_seq = paxos__pending_seq(r);
    SP_ASSERT(r->last - r->hs.commit <= r->camp.n_recov);
    for (paxos_slot s = r->camp.from; s <= r->last; s++) {
        struct paxos__slot *e = paxos__slot_get(r, s);
        if (e != NULL)
            recov_merge(r, s, e->ballot, e->type, e->data, e->len);
    }
    SP_INFO("paxos %u: campaigning with ballot %llu from slot %llu", r->cfg.self,
            (unsigned long long) r->camp.ballot, (unsigned long long) r->camp.from);
    prepare_members(r, &r->camp.config);
    paxos__reset_election_timer(r);
}

static void prevote_start(struct paxos_replica *r)
{
    paxos__queue_free(r);
    if (r->state == PAXOS__CANDIDATE)
        paxos__campaign_free(r);
    r->state = PAXOS__PRECANDIDATE;
    r->lease_end_us = 0;
    r->camp.prevoted = 0;
    r->camp.ballot = next_ballot(r);
    for (uint32_t i = 0; i < r->config.n; i++) {
        if (r->config.m[i].id == r->cfg.self || r->config.m[i].role != PAXOS_VOTER)
            continue;
        struct paxos_msg *m = paxos__msg(r, PAXOS_MSG_PREVOTE, r->config.m[i].id);
        m->ballot = r->camp.ballot;
        m->slot = r->hs.commit + 1;
    }
    paxos__reset_election_timer(r);
}

void paxos__on_prevote(struct paxos_replica *r, const struct paxos_msg *m)
{
    SP_ASSERT(m->type == PAXOS_MSG_PREVOTE);
    struct paxos_msg *out = paxos__msg(r, PAXOS_MSG_PREVOTE_REPLY, m->from);
    out->ballot = m->ballot;
    if (!paxos__is_voter(&r->config, m->from))
        out->reject = PAXOS_REJECT_NOT_VOTER; /* L7 */
    else if (m->ballot <= r->hs.promised)
        out->reject = PAXOS_REJECT_STALE;
    else if (grant_blocks(r, m->ballot) || r->state == PAXOS__LEADER)
        out->reject = PAXOS_REJECT_LEASE;
}

void paxos__on_prevote_reply(struct paxos_replica *r, const struct paxos_msg *m)
{
    if (m->promised > r->seen_ballot)
        r->seen_ballot = m->promised;
    if (r->state != PAXOS__PRECANDIDATE || m->ballot != r->camp.ballot || m->reject != 0)
        return;
    int p = paxos__peer_index(r, m->from);
    if (p >= 0)
        r->camp.prevoted |= 1u << p;
}

void paxos__election_tick(struct paxos_replica *r)
{
    if (r->election_due_us == 0)
        paxos__reset_election_timer(r);
    if (r->state == PAXOS__LEADER || r->now.earliest < r->election_due_us)
        return;
    if (!paxos__is_voter(&r->config, r->cfg.self)) {
        /* L8: no leader heard for a while and we cannot campaign: ask a peer
         * what we missed; we may have been made a voter meanwhile. */
        uint32_t p = (uint32_t) (paxos__random(r) % r->n_peers);
        if (r->peers[p].id != r->cfg.self)
            paxos__request_catchup(r, r->peers[p].id);
        paxos__reset_election_timer(r);
        return;
    }
    /* L2: while a lease we granted may be valid we may not lead either. */
    if (grant_blocks(r, 0)) {
        r->election_due_us = r->hs.grant_expiry_us + 1 +
                             (tt_micros) (paxos__random(r) % (uint64_t) r->cfg.heartbeat_us);
        return;
    }
    prevote_start(r);
}

static void reply_prepare(struct paxos_replica *r, const struct paxos_msg *m, uint8_t reject)
{
    struct paxos_msg *out = paxos__msg(r, PAXOS_MSG_PROMISE, m->from);
    out->ballot = m->ballot;
    out->reject = reject;
    out->slot = m->slot;
    if (reject != PAXOS_REJECT_NONE)
        return;
    uint32_t n = 0;
    for (paxos_slot s = m->slot; s <= r->last; s++)
        n += paxos__slot_get(r, s) != NULL;
    SP_ASSERT(n <= r->cfg.msg_entries_max);
    struct paxos_entry *es = n ? paxos__alloc(r, n * sizeof *es) : NULL;
    uint32_t i = 0;
    for (paxos_slot s = m->slot; s <= r->last; s++)
        if (paxos__slot_get(r, s) != NULL)
            paxos__entry_out(r, s, &es[i++]);
    SP_ASSERT(i == n);
    out->entries = es;
    out->n_entries = n;
}

void paxos__on_prepare(struct paxos_replica *r, const struct paxos_msg *m)
{
    SP_ASSERT(m->type == PAXOS_MSG_PREPARE);
    if (!paxos__is_voter(&r->config, m->from)) {
        reply_prepare(r, m, PAXOS_REJECT_NOT_VOTER); /* L7 */
        return;
    }
    if (m->ballot < r->hs.promised) {
        reply_prepare(r, m, PAXOS_REJECT_STALE);
        return;
    }
    if (grant_blocks(r, m->ballot)) {
        reply_prepare(r, m, PAXOS_REJECT_LEASE);
        return;
    }
    /* Our reply must carry every value we accepted from m->slot on; if we
     * truncated some, or they do not fit one message, the candidate must
     * catch up first. */
    if (m->slot <= r->hs.base_slot ||
        (r->last >= m->slot && r->last - m->slot + 1 > r->cfg.msg_entries_max)) {
        reply_prepare(r, m, PAXOS_REJECT_BEHIND);
        return;
    }
    if (m->ballot > r->hs.promised) {
        paxos__step_down(r, m->ballot);
        r->hs.promised = m->ballot;
        paxos__hs_changed(r, true);
    }
    paxos__reset_election_timer(r);
    reply_prepare(r, m, PAXOS_REJECT_NONE);
}

static void promise_merge(struct paxos_replica *r, int p, const struct paxos_msg *m)
{
    SP_ASSERT(m->n_entries <= r->cfg.msg_entries_max);
    for (uint32_t i = 0; i < m->n_entries; i++) {
        const struct paxos_entry *e = &m->entries[i];
        recov_merge(r, e->slot, e->ballot, e->type, e->data, e->len);
        struct paxos_membership c;
        if (e->type == PAXOS_ENTRY_CONFIG && paxos_config_decode(e->data, e->len, &c) == 0)
            prepare_members(r, &c); /* M4: its voters must answer too */
    }
    r->camp.promised |= 1u << p;
}

void paxos__on_promise(struct paxos_replica *r, const struct paxos_msg *m)
{
    SP_ASSERT(m->type == PAXOS_MSG_PROMISE);
    if (m->promised > r->seen_ballot)
        r->seen_ballot = m->promised;
    if (r->state != PAXOS__CANDIDATE || m->ballot != r->camp.ballot)
        return;
    int p = paxos__peer_index(r, m->from);
    if (p < 0)
        return;
    switch (m->reject) {
    case PAXOS_REJECT_NONE:
        promise_merge(r, p, m);
        break;
    case PAXOS_REJECT_STALE:
        if (m->promised > r->camp.ballot)
            paxos__step_down(r, m->promised);
        break;
    case PAXOS_REJECT_BEHIND:
    case PAXOS_REJECT_NOT_VOTER:
        paxos__request_catchup(r, m->from);
        break;
    default:
        break; /* LEASE: wait; the timer retries after expiry */
    }
}

/* Every configuration whose majority phase 1 needs (M4) has one. */
static bool phase1_quorum(struct paxos_replica *r, uint32_t bits)
{
    if (!paxos__quorum(r, &r->camp.config, bits))
        return false;
    SP_ASSERT(r->camp.recov_last < r->camp.from + r->camp.n_recov);
    for (paxos_slot s = r->camp.from; s <= r->camp.recov_last; s++) {
        const struct paxos__recov *v = &r->camp.recov[s - r->camp.from];
        struct paxos_membership c;
        if (!v->present || v->type != PAXOS_ENTRY_CONFIG)
            continue;
        if (paxos_config_decode(v->data, v->len, &c) != 0 || !paxos__quorum(r, &c, bits))
            return false;
    }
    return true;
}

static void become_leader(struct paxos_replica *r)
{
    paxos_ballot b = r->camp.ballot;
    SP_ASSERT(r->state == PAXOS__CANDIDATE && b == r->hs.promised);
    r->state = PAXOS__LEADER;
    r->leader_ballot = b;
    r->change_slot = 0;
    r->s_max = 0;
    memset(r->rounds, 0, sizeof r->rounds);
    r->round_next = 0;
    r->lease_end_us = 0;
    r->lease_config_ok = false;
    paxos_slot hi = r->camp.recov_last > r->hs.commit ? r->camp.recov_last : r->hs.commit;
    SP_ASSERT(hi - r->hs.commit <= r->camp.n_recov);
    /* Re-propose every open slot under our ballot: the highest-ballot value
     * recovered, or a no-op for a gap (Paxos Made Simple §3). */
    for (paxos_slot s = r->hs.commit + 1; s <= hi; s++) {
        const struct paxos__recov *v = &r->camp.recov[s - r->camp.from];
        bool use = v->present && !(r->cfg.test_flags & PAXOS_TEST_SKIP_RECOVERY);
        uint8_t type = use ? v->type : PAXOS_ENTRY_NOOP;
        SP_ASSERT(paxos__slot_put(r, s, b, type, v->data, use ? v->len : 0) == 0);
        struct paxos__slot *e = paxos__slot_get(r, s);
        e->self_seq = paxos__pending_seq(r);
        if (type == PAXOS_ENTRY_CONFIG)
            r->change_slot = s;
    }
    r->next_slot = hi + 1;
    paxos__campaign_free(r);
    SP_INFO("paxos %u: leader with ballot %llu, open slots up to %llu", r->cfg.self,
            (unsigned long long) b, (unsigned long long) hi);
    r->heartbeat_due_us = r->now.earliest; /* announce at once */
    for (uint32_t i = 0; i < r->n_peers; i++)
        r->peers[i].match = 0;
}

void paxos__campaign_check(struct paxos_replica *r)
{
    int self = paxos__peer_index(r, r->cfg.self);
    SP_ASSERT(self >= 0);
    if (r->state == PAXOS__PRECANDIDATE &&
        paxos__quorum(r, &r->config, r->camp.prevoted | (1u << self)))
        campaign_start(r);
    if (r->state != PAXOS__CANDIDATE)
        return;
    uint32_t bits = r->camp.promised;
    if (paxos__durable(r, r->camp.self_seq))
        bits |= 1u << self;
    if (phase1_quorum(r, bits))
        become_leader(r);
}

void paxos__step_down(struct paxos_replica *r, paxos_ballot seen)
{
    if (seen > r->seen_ballot)
        r->seen_ballot = seen;
    if (r->state == PAXOS__FOLLOWER)
        return;
    SP_INFO("paxos %u: stepping down (saw ballot %llu)", r->cfg.self, (unsigned long long) seen);
    if (r->state == PAXOS__CANDIDATE)
        paxos__campaign_free(r);
    paxos__queue_free(r);
    r->state = PAXOS__FOLLOWER;
    r->lease_end_us = 0;
    r->change_slot = 0;
    r->leader_ballot = 0;
    paxos__reset_election_timer(r);
}

/* We heard from leader b (b >= promised): follow it. */
void paxos__follow(struct paxos_replica *r, paxos_ballot b)
{
    SP_ASSERT(b != 0);
    if (r->state != PAXOS__FOLLOWER && !(r->state == PAXOS__LEADER && r->leader_ballot == b))
        paxos__step_down(r, b);
    r->leader_ballot = b;
    paxos__reset_election_timer(r);
}

void paxos__on_release(struct paxos_replica *r, const struct paxos_msg *m)
{
    SP_ASSERT(m->type == PAXOS_MSG_RELEASE);
    if (m->ballot == 0 || m->ballot != r->hs.grant_ballot)
        return;
    r->hs.grant_ballot = 0;
    r->hs.grant_expiry_us = 0;
    paxos__hs_changed(r, true);
    if (r->leader_ballot == m->ballot && r->state == PAXOS__FOLLOWER) {
        /* The leader left on purpose: elect a successor soon, not after a
         * full election timeout. */
        r->leader_ballot = 0;
        r->election_due_us =
            r->now.earliest + (tt_micros) (paxos__random(r) % (uint64_t) r->cfg.heartbeat_us);
    }
}

/* ---- the leader's side of leases ---------------------------------------- */

/* Returns the lease start to put into outgoing messages, opening a new
 * renewal round (and extending our own grant) at most every heartbeat/2. */
tt_micros paxos__lease_request(struct paxos_replica *r)
{
    SP_ASSERT(r->state == PAXOS__LEADER);
    uint32_t last = (r->round_next + PAXOS_LEASE_ROUNDS - 1) % PAXOS_LEASE_ROUNDS;
    struct paxos__lease_round *lr = &r->rounds[last];
    if (lr->start_us != 0 && lr->start_us + r->cfg.heartbeat_us / 2 > r->now.earliest)
        return lr->start_us;
    lr = &r->rounds[r->round_next];
    r->round_next = (r->round_next + 1) % PAXOS_LEASE_ROUNDS;
    /* Our own vote cannot be blocked: we promised our ballot, so any grant
     * to another ballot expired before we campaigned (L2). Only the broken
     * test variants get here without it. */
    bool self = paxos__grant_lease(r, r->leader_ballot);
    SP_ASSERT(self || r->cfg.test_flags != 0);
    lr->start_us = r->now.earliest;
    lr->granted = 0;
    lr->self_seq = self ? paxos__pending_seq(r) : 0;
    lr->config_slot = r->config_slot;
    lr->grant_max_us = r->now.earliest;
    return lr->start_us;
}

void paxos__on_lease_reply(struct paxos_replica *r, int peer, const struct paxos_msg *m)
{
    SP_ASSERT(peer >= 0 && peer < PAXOS_NODES_MAX);
    if (r->state != PAXOS__LEADER || m->ballot != r->leader_ballot || !m->lease_granted)
        return;
    for (uint32_t i = 0; i < PAXOS_LEASE_ROUNDS; i++) {
        struct paxos__lease_round *lr = &r->rounds[i];
        if (lr->start_us == 0 || lr->start_us != m->lease_start_us)
            continue;
        lr->granted |= 1u << peer;
        if (m->grant_earliest_us > lr->grant_max_us)
            lr->grant_max_us = m->grant_earliest_us;
    }
}

void paxos__lease_check(struct paxos_replica *r)
{
    if (r->state != PAXOS__LEADER)
        return;
    int self = paxos__peer_index(r, r->cfg.self);
    SP_ASSERT(self >= 0);
    for (uint32_t i = 0; i < PAXOS_LEASE_ROUNDS; i++) {
        struct paxos__lease_round *lr = &r->rounds[i];
        uint32_t bits = lr->granted;
        if (paxos__durable(r, lr->self_seq))
            bits |= 1u << self;
        if (lr->start_us == 0 || !paxos__quorum(r, &r->config, bits))
            continue;
        tt_micros end = lr->start_us + r->cfg.lease_us;
        if (end > r->lease_end_us) {
            /* A lease that lapsed starts afresh (L3); a live one extends. */
            if (r->lease_end_us == 0 || r->now.latest >= r->lease_end_us)
                r->lease_start_us = lr->grant_max_us;
            r->lease_end_us = end;
        }
        if (lr->config_slot == r->config_slot)
            r->lease_config_ok = true; /* M6 */
        lr->start_us = 0;
    }
}

int paxos_lease_get(const struct paxos_replica *r, struct tt_interval now, tt_micros *start_us,
                    tt_micros *end_us)
{
    SP_ASSERT(r != NULL && now.earliest <= now.latest);
    if (!paxos_is_leader(r))
        return SP_EPAXOS_NOT_LEADER;
    if (r->lease_end_us == 0 || now.latest >= r->lease_end_us)
        return SP_EPAXOS_NO_LEASE;
    if (start_us)
        *start_us = r->lease_start_us;
    if (end_us)
        *end_us = r->lease_end_us;
    return 0;
}

int paxos_note_assigned_ts(struct paxos_replica *r, struct tt_interval now, tt_micros ts)
{
    tt_micros start, end;
    int rc = paxos_lease_get(r, now, &start, &end);
    if (rc != 0)
        return rc;
    if (ts < start || ts >= end)
        return SP_EPAXOS_NO_LEASE;
    if (ts > r->s_max)
        r->s_max = ts;
    SP_ASSERT(r->s_max < end);
    return 0;
}

tt_micros paxos_s_max(const struct paxos_replica *r)
{
    return r->s_max;
}

int paxos_abdicate(struct paxos_replica *r, struct tt_interval now, struct paxos_update *up)
{
    SP_ASSERT(r != NULL && up != NULL);
    paxos__step_begin(r, now);
    int rc = 0;
    if (r->failed)
        rc = SP_EPAXOS_FAILED;
    else if (r->state != PAXOS__LEADER)
        rc = SP_EPAXOS_NOT_LEADER;
    else if (!tt_interval_after(now, r->s_max) && !(r->cfg.test_flags & PAXOS_TEST_EARLY_ABDICATE))
        rc = SP_EPAXOS_BUSY; /* L4: a successor could pick a ts below s_max */
    if (rc == 0) {
        paxos_ballot b = r->leader_ballot;
        for (uint32_t i = 0; i < r->config.n; i++)
            if (r->config.m[i].id != r->cfg.self)
                paxos__msg(r, PAXOS_MSG_RELEASE, r->config.m[i].id)->ballot = b;
        if (r->hs.grant_ballot == b) {
            r->hs.grant_ballot = 0;
            r->hs.grant_expiry_us = 0;
            paxos__hs_changed(r, true);
        }
        paxos__step_down(r, b);
        SP_ASSERT(r->state == PAXOS__FOLLOWER && r->lease_end_us == 0);
    }
    paxos__step_end(r, up);
    return rc;
}

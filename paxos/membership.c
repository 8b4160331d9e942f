/*
 * membership.c - configurations, quorums and membership change.
 *
 * Design notes
 * ============
 * A configuration (struct paxos_membership) lists voters and read-only
 * replicas. It changes only through a PAXOS_ENTRY_CONFIG log entry.
 *
 * Invariants:
 *   M1  The configuration in effect for slot s is the one set by the last
 *       CONFIG entry at a slot < s (or the base configuration). A config
 *       entry at slot k therefore governs slots k+1, k+2, ...
 *   M2  The leader decides slot s chosen only when s == commit + 1, i.e.
 *       after every CONFIG entry below s is itself chosen (replication.c),
 *       so the quorum it counts for s is the right one.
 *   M3  One change at a time: a new change is refused while a CONFIG entry
 *       is in (commit, last], and each change adds, removes or re-roles
 *       exactly one node, so a majority of the old and a majority of the new
 *       voters always intersect (Ongaro's single-server change argument).
 *   M4  Phase 1 needs a majority of the configuration in effect at its first
 *       open slot AND of every configuration named by a CONFIG entry found
 *       among the open slots (election.c). A candidate that lags behind
 *       committed changes thus still meets each quorum that may have chosen
 *       a value it has not heard of.
 *   M5  Read-only replicas are never counted: quorum() looks only at voters.
 *   M6  Leases across changes: a lease granted by a majority of C(k-1) may
 *       still be valid after C(k) and C(k+1) are chosen, and majorities of
 *       C(k-1) and C(k+1) need not intersect, so a C(k+1) leader could get a
 *       lease that overlaps it (the harness found this, seed 2829 with
 *       frequent changes). Hence the leader proposes a change only after a
 *       lease round it began under the current configuration reached a
 *       majority of it (lease_config_ok). That round's grants outlast every
 *       older round's lease, and its grantors intersect every majority of
 *       the next configuration, so those grantors block the next leader.
 *
 * States of a change:
 *
 *     none --paxos__change()--> proposed (change_slot = k)
 *       ^                            |
 *       |     slot k chosen          v
 *       +--- paxos__config_committed(): config = entry k; leader removed
 *            or demoted steps down
 *
 * From Lamport, "Paxos Made Simple" §3: "we can allow the leader to get
 * alpha commands ahead by letting the set of servers that execute instance
 * i+alpha of the consensus algorithm be specified by the state after
 * execution of the ith state machine command." Here alpha is 1, and M2 is
 * what keeps the pipeline safe with alpha 1.
 */
#include "paxos_int.h"

#include "sp_assert.h"
#include "sp_log.h"

#include <string.h>

#define CONFIG_WIRE_BYTES (4u + 8u * PAXOS_MEMBERS_MAX)

bool paxos__is_member(const struct paxos_membership *c, paxos_node_id id)
{
    SP_ASSERT(c->n <= PAXOS_MEMBERS_MAX);
    for (uint32_t i = 0; i < c->n; i++)
        if (c->m[i].id == id)
            return true;
    return false;
}

bool paxos__is_voter(const struct paxos_membership *c, paxos_node_id id)
{
    SP_ASSERT(c->n <= PAXOS_MEMBERS_MAX);
    for (uint32_t i = 0; i < c->n; i++)
        if (c->m[i].id == id)
            return c->m[i].role == PAXOS_VOTER;
    return false;
}

/* True if the peers in `bits` include a strict majority of c's voters. */
bool paxos__quorum(struct paxos_replica *r, const struct paxos_membership *c, uint32_t bits)
{
    uint32_t voters = 0, have = 0;
    SP_ASSERT(c->n > 0 && c->n <= PAXOS_MEMBERS_MAX);
    bool count_all = (r->cfg.test_flags & PAXOS_TEST_COUNT_READ_ONLY) != 0;
    for (uint32_t i = 0; i < c->n; i++) {
        if (c->m[i].role != PAXOS_VOTER && !count_all)
            continue;
        voters++;
        int p = paxos__peer_index(r, c->m[i].id);
        if (p >= 0 && (bits & (1u << p)))
            have++;
    }
    SP_ASSERT(voters > 0);
    return have > voters / 2;
}

uint32_t paxos__member_bits(struct paxos_replica *r, const struct paxos_membership *c)
{
    uint32_t bits = 0;
    for (uint32_t i = 0; i < c->n; i++) {
        int p = paxos__peer_index(r, c->m[i].id);
        if (p >= 0)
            bits |= 1u << p;
    }
    return bits;
}

static void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t) v;
    p[1] = (uint8_t) (v >> 8);
    p[2] = (uint8_t) (v >> 16);
    p[3] = (uint8_t) (v >> 24);
}

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
}

/* Encodes c as: u32 n, then n times (u32 id, u32 role), little-endian. */
uint32_t paxos__config_encode(const struct paxos_membership *c, uint8_t *buf, uint32_t cap)
{
    SP_ASSERT(c->n <= PAXOS_MEMBERS_MAX);
    SP_ASSERT(cap >= CONFIG_WIRE_BYTES);
    put_u32(buf, c->n);
    for (uint32_t i = 0; i < c->n; i++) {
        put_u32(buf + 4 + 8 * i, c->m[i].id);
        put_u32(buf + 8 + 8 * i, (uint32_t) c->m[i].role);
    }
    return 4 + 8 * c->n;
}

int paxos_config_decode(const uint8_t *data, uint32_t len, struct paxos_membership *out)
{
    SP_ASSERT(out != NULL);
    memset(out, 0, sizeof *out);
    if (data == NULL || len < 4)
        return SP_CORRUPT(NULL, "paxos: config entry of %u bytes", len);
    uint32_t n = get_u32(data);
    if (n == 0 || n > PAXOS_MEMBERS_MAX || len != 4 + 8 * n)
        return SP_CORRUPT(NULL, "paxos: config entry with %u members in %u bytes", n, len);
    out->n = n;
    for (uint32_t i = 0; i < n; i++) {
        out->m[i].id = get_u32(data + 4 + 8 * i);
        out->m[i].role = (enum paxos_role) get_u32(data + 8 + 8 * i);
        if (out->m[i].role != PAXOS_VOTER && out->m[i].role != PAXOS_READ_ONLY)
            return SP_CORRUPT(NULL, "paxos: config entry with role %u", out->m[i].role);
    }
    return 0;
}

static void config_from_slot(struct paxos_replica *r, paxos_slot s, struct paxos_membership *out)
{
    struct paxos__slot *e = paxos__slot_get(r, s);
    SP_ASSERT(e != NULL && e->type == PAXOS_ENTRY_CONFIG);
    /* A config entry that was chosen but does not decode means our log is
     * corrupt; continuing would count the wrong quorums. */
    SP_ASSERT(paxos_config_decode(e->data, e->len, out) == 0);
    for (uint32_t i = 0; i < out->n; i++)
        paxos__peer_index(r, out->m[i].id);
}

/* Recomputes r->config (M1) from the base and the chosen prefix. */
void paxos__config_rebuild(struct paxos_replica *r)
{
    r->config = r->hs.base_membership;
    r->config_slot = r->hs.commit; /* conservative: asks for a fresh round */
    SP_ASSERT(r->hs.commit - r->hs.base_slot <= r->cfg.log_max);
    for (paxos_slot s = r->hs.base_slot + 1; s <= r->hs.commit; s++) {
        struct paxos__slot *e = paxos__slot_get(r, s);
        SP_ASSERT(e != NULL);
        if (e->type == PAXOS_ENTRY_CONFIG)
            config_from_slot(r, s, &r->config);
    }
}

/* The configuration in effect after slot s, which must be chosen (s <=
 * commit), i.e. the one governing slot s + 1 (M1). */
void paxos__config_after(struct paxos_replica *r, paxos_slot s, struct paxos_membership *out)
{
    SP_ASSERT(s >= r->hs.base_slot && s <= r->hs.commit);
    *out = r->hs.base_membership;
    for (paxos_slot i = r->hs.base_slot + 1; i <= s; i++) {
        struct paxos__slot *e = paxos__slot_get(r, i);
        SP_ASSERT(e != NULL && e->chosen);
        if (e->type == PAXOS_ENTRY_CONFIG)
            config_from_slot(r, i, out);
    }
}

/* Peer bits of every node that should hear from the leader: the members of
 * the current configuration and of a proposed one, except ourselves. */
uint32_t paxos__targets(struct paxos_replica *r)
{
    uint32_t bits = paxos__member_bits(r, &r->config);
    if (r->change_slot != 0) {
        struct paxos__slot *e = paxos__slot_get(r, r->change_slot);
        struct paxos_membership c;
        if (e != NULL && e->type == PAXOS_ENTRY_CONFIG &&
            paxos_config_decode(e->data, e->len, &c) == 0)
            bits |= paxos__member_bits(r, &c);
    }
    int self = paxos__peer_index(r, r->cfg.self);
    SP_ASSERT(self >= 0);
    return bits & ~(1u << self);
}

/* Slot s, a CONFIG entry, was just chosen: it governs every later slot. */
void paxos__config_committed(struct paxos_replica *r, paxos_slot s)
{
    config_from_slot(r, s, &r->config);
    r->config_slot = s;
    r->lease_config_ok = false; /* M6 */
    SP_INFO("paxos %u: configuration of %u members in effect after slot %llu", r->cfg.self,
            r->config.n, (unsigned long long) s);
    if (r->change_slot != 0 && r->change_slot <= s)
        r->change_slot = 0;
    if (r->state == PAXOS__LEADER && !paxos__is_voter(&r->config, r->cfg.self))
        paxos__step_down(r, r->hs.promised);
}

static int apply_change(struct paxos_membership *c, enum paxos_change_op op, paxos_node_id node,
                        enum paxos_role role)
{
    uint32_t i = 0;
    while (i < c->n && c->m[i].id != node)
        i++;
    bool found = i < c->n;
    switch (op) {
    case PAXOS_CHANGE_ADD:
        if (found || c->n == PAXOS_MEMBERS_MAX || node == 0 || node > PAXOS_NODE_ID_MAX)
            return SP_EINVAL;
        c->m[c->n].id = node;
        c->m[c->n].role = role;
        c->n++;
        break;
    case PAXOS_CHANGE_REMOVE:
        if (!found)
            return SP_EINVAL;
        c->m[i] = c->m[c->n - 1];
        c->n--;
        break;
    case PAXOS_CHANGE_ROLE:
        if (!found || c->m[i].role == role)
            return SP_EINVAL;
        c->m[i].role = role;
        break;
    default:
        return SP_EINVAL;
    }
    for (uint32_t j = 0; j < c->n; j++)
        if (c->m[j].role == PAXOS_VOTER)
            return 0;
    return SP_EINVAL; /* no voter would be left */
}

/* Proposes a one-step membership change (M3). */
int paxos__change(struct paxos_replica *r, enum paxos_change_op op, paxos_node_id node,
                  enum paxos_role role)
{
    if (r->state != PAXOS__LEADER)
        return SP_EPAXOS_NOT_LEADER;
    if (op != PAXOS_CHANGE_REMOVE && role != PAXOS_VOTER && role != PAXOS_READ_ONLY)
        return SP_EINVAL;
    if (r->next_slot - 1 - r->hs.commit >= r->cfg.inflight_max)
        return SP_EPAXOS_BUSY;
    for (paxos_slot s = r->hs.commit + 1; s < r->next_slot; s++) {
        struct paxos__slot *e = paxos__slot_get(r, s);
        if (e != NULL && e->type == PAXOS_ENTRY_CONFIG)
            return SP_EPAXOS_BUSY; /* M3 */
    }
    if (r->change_slot != 0 || !r->lease_config_ok)
        return SP_EPAXOS_BUSY; /* M3; M6: wait for a lease round under this config */
    struct paxos_membership next = r->config;
    int rc = apply_change(&next, op, node, role);
    if (rc != 0)
        return rc;
    uint8_t buf[CONFIG_WIRE_BYTES];
    uint32_t len = paxos__config_encode(&next, buf, sizeof buf);
    for (uint32_t i = 0; i < next.n; i++)
        if (paxos__peer_index(r, next.m[i].id) < 0)
            return SP_EINVAL;
    r->change_slot = r->next_slot;
    paxos__propose_entry(r, PAXOS_ENTRY_CONFIG, buf, len);
    SP_ASSERT(r->change_slot < r->next_slot);
    return 0;
}

const struct paxos_membership *paxos_membership(const struct paxos_replica *r)
{
    return &r->config;
}

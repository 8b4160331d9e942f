/*
 * paxos_codec.c - encode and decode Paxos messages for the wire.
 *
 * Every field of struct paxos_msg travels; decode checks the bounds the core
 * relies on (a message present, membership size) and reports a violation as
 * corruption rather than hand the core a message it cannot trust.
 */
#include "paxos_codec.h"
#include "node.pb-c.h"
#include "sp_assert.h"

#include <stdlib.h>
#include <string.h>

int sp_paxos_pack(uint64_t group, const struct paxos_msg *m, uint8_t **out, size_t *len)
{
    SP_ASSERT(m != NULL && out != NULL && len != NULL);
    SP_ASSERT(m->membership.n <= PAXOS_MEMBERS_MAX);
    Spanner__Paxos__Entry *ents = calloc(m->n_entries ? m->n_entries : 1, sizeof *ents);
    Spanner__Paxos__Entry **eptr = calloc(m->n_entries ? m->n_entries : 1, sizeof *eptr);
    Spanner__Paxos__Member mem[PAXOS_MEMBERS_MAX];
    Spanner__Paxos__Member *memp[PAXOS_MEMBERS_MAX];
    if (!ents || !eptr) {
        free(ents);
        free(eptr);
        return SP_ENOMEM;
    }
    for (uint32_t i = 0; i < m->n_entries; i++) {
        spanner__paxos__entry__init(&ents[i]);
        ents[i].slot = m->entries[i].slot;
        ents[i].ballot = m->entries[i].ballot;
        ents[i].type = m->entries[i].type;
        ents[i].data.data = (uint8_t *) m->entries[i].data;
        ents[i].data.len = m->entries[i].len;
        eptr[i] = &ents[i];
    }
    for (uint32_t i = 0; i < m->membership.n; i++) {
        spanner__paxos__member__init(&mem[i]);
        mem[i].id = m->membership.m[i].id;
        mem[i].role = (uint32_t) m->membership.m[i].role;
        memp[i] = &mem[i];
    }
    Spanner__Paxos__Membership ms = SPANNER__PAXOS__MEMBERSHIP__INIT;
    ms.n_members = m->membership.n;
    ms.members = memp;
    Spanner__Paxos__Message pm = SPANNER__PAXOS__MESSAGE__INIT;
    pm.type = (uint32_t) m->type;
    pm.from = m->from;
    pm.to = m->to;
    pm.ballot = m->ballot;
    pm.promised = m->promised;
    pm.reject = m->reject;
    pm.slot = m->slot;
    pm.commit = m->commit;
    pm.lease_start_us = m->lease_start_us;
    pm.lease_granted = m->lease_granted;
    pm.grant_earliest_us = m->grant_earliest_us;
    pm.n_entries = m->n_entries;
    pm.entries = eptr;
    pm.membership = m->membership.n ? &ms : NULL;
    Spanner__Node__Envelope env = SPANNER__NODE__ENVELOPE__INIT;
    env.group = group;
    env.from_node = m->from;
    env.to_node = m->to;
    env.paxos = &pm;
    size_t n = spanner__node__envelope__get_packed_size(&env);
    uint8_t *buf = malloc(n ? n : 1);
    int rc = SP_ENOMEM;
    if (buf) {
        size_t w = spanner__node__envelope__pack(&env, buf);
        SP_ASSERT(w == n);
        *out = buf;
        *len = n;
        rc = 0;
    }
    free(ents);
    free(eptr);
    return rc;
}

static int decode_membership(const Spanner__Paxos__Membership *ms, struct paxos_membership *out,
                             struct sp_err *err)
{
    memset(out, 0, sizeof *out);
    if (!ms)
        return 0;
    if (ms->n_members > PAXOS_MEMBERS_MAX)
        return SP_CORRUPT(err, "paxos envelope: %zu members, at most %d", ms->n_members,
                          PAXOS_MEMBERS_MAX);
    for (size_t i = 0; i < ms->n_members; i++) {
        out->m[i].id = ms->members[i]->id;
        out->m[i].role = (enum paxos_role) ms->members[i]->role;
    }
    out->n = (uint32_t) ms->n_members;
    return 0;
}

int sp_paxos_from_pb(const void *pb_msg, uint64_t group, struct sp_paxos_decoded *out,
                     struct sp_err *err)
{
    const Spanner__Paxos__Message *pm = pb_msg;
    SP_ASSERT(out != NULL);
    memset(out, 0, sizeof *out);
    /* Unknown message types are the core's to ignore (a newer peer may send
     * them); only a missing message or type 0 is malformed here. */
    if (!pm || pm->type == 0)
        return SP_CORRUPT(err, "paxos envelope: missing message or message type 0");
    if (pm->n_entries > 0) {
        out->entries = calloc(pm->n_entries, sizeof *out->entries);
        if (!out->entries)
            return SP_ENOMEM;
    }
    int rc = decode_membership(pm->membership, &out->msg.membership, err);
    if (rc) {
        free(out->entries);
        memset(out, 0, sizeof *out);
        return rc;
    }
    for (size_t i = 0; i < pm->n_entries; i++) {
        const Spanner__Paxos__Entry *e = pm->entries[i];
        out->entries[i] = (struct paxos_entry){.slot = e->slot, .ballot = e->ballot,
                                               .type = (uint8_t) e->type,
                                               .len = (uint32_t) e->data.len,
                                               .data = e->data.data};
    }
    struct paxos_msg *m = &out->msg;
    m->type = (enum paxos_msg_type) pm->type;
    m->from = pm->from;
    m->to = pm->to;
    m->ballot = pm->ballot;
    m->promised = pm->promised;
    m->reject = (uint8_t) pm->reject;
    m->slot = pm->slot;
    m->commit = pm->commit;
    m->lease_start_us = pm->lease_start_us;
    m->lease_granted = pm->lease_granted;
    m->grant_earliest_us = pm->grant_earliest_us;
    m->n_entries = (uint32_t) pm->n_entries;
    m->entries = out->entries;
    out->group = group;
    return 0;
}

int sp_paxos_unpack(const uint8_t *data, size_t len, struct sp_paxos_decoded *out,
                    struct sp_err *err)
{
    SP_ASSERT(out != NULL);
    memset(out, 0, sizeof *out);
    Spanner__Node__Envelope *env = spanner__node__envelope__unpack(NULL, len, data);
    if (!env)
        return SP_CORRUPT(err, "paxos envelope: not a valid Envelope (%zu bytes)", len);
    int rc = sp_paxos_from_pb(env->paxos, env->group, out, err);
    if (rc) {
        spanner__node__envelope__free_unpacked(env, NULL);
        return rc;
    }
    out->pb = env;
    return 0;
}

void sp_paxos_decoded_free(struct sp_paxos_decoded *d)
{
    if (!d)
        return;
    free(d->entries);
    if (d->pb)
        spanner__node__envelope__free_unpacked(d->pb, NULL);
    memset(d, 0, sizeof *d);
}

/*
 * test_paxos_unit.c - one test per rule of the Paxos core, driven by hand:
 * each test decides which message reaches whom and when each persist
 * completes, so the rule under test is exercised exactly.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "paxos.h"
#include "sp_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NN      6    /* node ids 1..5 (index 0 unused) */
#define OUT_MAX 512  /* messages in flight in a test */
#define EPS_US  1000 /* every node's clock error bound */
#define T0      1000000000

struct store {
    struct paxos_hard_state hs;
    bool has_hs;
    struct paxos_entry e[128]; /* by slot; data owned */
};

struct fx {
    struct paxos_replica *r[NN];
    struct paxos_config cfg[NN];
    tt_micros now[NN];
    struct paxos_msg out[OUT_MAX]; /* entries and data owned */
    uint32_t n_out;
    struct store disk[NN];
    bool auto_persist[NN];
    uint64_t pending_seq[NN]; /* persist not yet reported, when !auto */
    paxos_slot committed[NN];
    paxos_slot snapshot_wanted[NN]; /* last update.snapshot_slot asked for */
    struct paxos_entry last_committed[NN];
    int last_rc;
};

static uint64_t zero_random(void *ctx)
{
    (void) ctx;
    return 0;
}

static struct tt_interval iv(tt_micros mid)
{
    struct tt_interval i = {mid - EPS_US, mid + EPS_US};
    return i;
}

static struct paxos_entry *dup_entries(const struct paxos_entry *src, uint32_t n)
{
    if (n == 0)
        return NULL;
    struct paxos_entry *es = calloc(n, sizeof *es);
    assert_non_null(es);
    for (uint32_t i = 0; i < n; i++) {
        es[i] = src[i];
        if (src[i].len > 0) {
            uint8_t *d = malloc(src[i].len);
            memcpy(d, src[i].data, src[i].len);
            es[i].data = d;
        }
    }
    return es;
}

static void free_msg_entries(struct paxos_msg *m)
{
    for (uint32_t i = 0; i < m->n_entries; i++)
        free((void *) m->entries[i].data);
    free((void *) m->entries);
    m->entries = NULL;
    m->n_entries = 0;
}

static void store_apply(struct store *st, const struct paxos_update *up)
{
    if (up->hs_changed) {
        st->hs = up->hs;
        st->has_hs = true;
    }
    for (uint32_t i = 0; i < up->n_entries; i++) {
        const struct paxos_entry *e = &up->entries[i];
        assert_true(e->slot < 128);
        free((void *) st->e[e->slot].data);
        struct paxos_entry *c = dup_entries(e, 1);
        st->e[e->slot] = *c;
        free(c);
    }
}

static void step(struct fx *f, paxos_node_id id, struct paxos_event *ev);

static void handle(struct fx *f, paxos_node_id id, const struct paxos_update *up)
{
    for (uint32_t i = 0; i < up->n_msgs; i++) {
        assert_true(f->n_out < OUT_MAX);
        f->out[f->n_out] = up->msgs[i];
        f->out[f->n_out].entries = dup_entries(up->msgs[i].entries, up->msgs[i].n_entries);
        f->n_out++;
    }
    for (uint32_t i = 0; i < up->n_committed; i++) {
        assert_int_equal(up->committed[i].slot, f->committed[id] + 1);
        f->committed[id] = up->committed[i].slot;
    }
    store_apply(&f->disk[id], up);
    if (up->snapshot_needed)
        f->snapshot_wanted[id] = up->snapshot_slot;
    if (up->persist_seq == 0)
        return;
    if (!f->auto_persist[id]) {
        f->pending_seq[id] = up->persist_seq;
        return;
    }
    struct paxos_event ev = {.type = PAXOS_EV_PERSISTED};
    ev.persisted.seq = up->persist_seq;
    step(f, id, &ev);
}

static void step(struct fx *f, paxos_node_id id, struct paxos_event *ev)
{
    ev->now = iv(f->now[id]);
    struct paxos_update up;
    int rc = paxos_step(f->r[id], ev, &up);
    if (ev->type != PAXOS_EV_PERSISTED)
        f->last_rc = rc;
    handle(f, id, &up);
}

static void tick(struct fx *f, paxos_node_id id)
{
    struct paxos_event ev = {.type = PAXOS_EV_TICK};
    step(f, id, &ev);
}

/* Reports the pending persist of a node whose auto_persist is off. */
static void persisted(struct fx *f, paxos_node_id id)
{
    struct paxos_event ev = {.type = PAXOS_EV_PERSISTED};
    ev.persisted.seq = f->pending_seq[id];
    step(f, id, &ev);
}

/* Delivers (in order) every queued message from `from` to `to` of `type`
 * (0 = any), repeating until none is left; drops nothing else. */
static uint32_t deliver(struct fx *f, paxos_node_id from, paxos_node_id to, int type)
{
    uint32_t delivered = 0;
    for (uint32_t round = 0; round < 64; round++) {
        uint32_t i = 0;
        while (i < f->n_out &&
               !((from == 0 || f->out[i].from == from) && (to == 0 || f->out[i].to == to) &&
                 (type == 0 || (int) f->out[i].type == type)))
            i++;
        if (i == f->n_out)
            return delivered;
        struct paxos_msg m = f->out[i];
        memmove(&f->out[i], &f->out[i + 1], (f->n_out - i - 1) * sizeof m);
        f->n_out--;
        if (f->r[m.to] != NULL) {
            struct paxos_event ev = {.type = PAXOS_EV_MESSAGE, .msg = &m};
            step(f, m.to, &ev);
        }
        free_msg_entries(&m);
        delivered++;
    }
    fail_msg("deliver: message storm");
    return delivered;
}

static void drop_all(struct fx *f)
{
    for (uint32_t i = 0; i < f->n_out; i++)
        free_msg_entries(&f->out[i]);
    f->n_out = 0;
}

/* n voters (ids 1..n) plus read-only ids n+1..n+ro; node 1 is eager to
 * lead, the others never time out on their own. */
static struct fx *fx_new(uint32_t n, uint32_t ro)
{
    struct fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    for (paxos_node_id id = 1; id <= n + ro; id++) {
        struct paxos_config *c = &f->cfg[id];
        paxos_config_init(c);
        c->self = id;
        c->lease_us = 10000000;
        c->heartbeat_us = 1000000;
        c->election_timeout_us = id == 1 ? 1000 : 1000000000;
        c->inflight_max = 4;
        c->msg_entries_max = 16;
        c->log_max = 64;
        c->log_keep = 4;
        c->random = zero_random;
        c->members.n = n + ro;
        for (uint32_t k = 0; k < n + ro; k++) {
            c->members.m[k].id = k + 1;
            c->members.m[k].role = k < n ? PAXOS_VOTER : PAXOS_READ_ONLY;
        }
        struct sp_err err = {0};
        assert_int_equal(paxos_replica_create(c, NULL, &f->r[id], &err), 0);
        f->now[id] = T0;
        f->auto_persist[id] = true;
        tick(f, id);
    }
    return f;
}

static void fx_free(struct fx *f)
{
    drop_all(f);
    for (int id = 0; id < NN; id++) {
        paxos_replica_destroy(f->r[id]);
        for (int s = 0; s < 128; s++)
            free((void *) f->disk[id].e[s].data);
    }
    free(f);
}

/* Elects `id` with the help of the voters in `voters` (bitmask of ids). */
static void elect(struct fx *f, paxos_node_id id, uint32_t voters)
{
    f->now[id] += 2 * f->cfg[id].election_timeout_us + 1;
    tick(f, id);
    for (paxos_node_id v = 1; v < NN; v++)
        if (voters & (1u << v)) {
            deliver(f, id, v, PAXOS_MSG_PREVOTE);
            deliver(f, v, id, PAXOS_MSG_PREVOTE_REPLY);
        }
    for (paxos_node_id v = 1; v < NN; v++)
        if (voters & (1u << v)) {
            deliver(f, id, v, PAXOS_MSG_PREPARE);
            deliver(f, v, id, PAXOS_MSG_PROMISE);
        }
    assert_true(paxos_is_leader(f->r[id]));
}

static void propose(struct fx *f, paxos_node_id id, const char *s)
{
    struct paxos_event ev = {.type = PAXOS_EV_PROPOSE};
    ev.propose.data = s;
    ev.propose.len = (uint32_t) strlen(s);
    step(f, id, &ev);
}

/* Finds the newest queued ACCEPT from->to carrying slot; NULL if none. */
static const struct paxos_entry *queued_entry(struct fx *f, paxos_node_id from, paxos_node_id to,
                                              paxos_slot slot)
{
    const struct paxos_entry *found = NULL;
    for (uint32_t i = 0; i < f->n_out; i++) {
        const struct paxos_msg *m = &f->out[i];
        if (m->from != from || m->to != to || m->type != PAXOS_MSG_ACCEPT)
            continue;
        for (uint32_t k = 0; k < m->n_entries; k++)
            if (m->entries[k].slot == slot)
                found = &m->entries[k];
    }
    return found;
}

static bool batch_has(const struct paxos_entry *e, const char *want)
{
    uint32_t off = 0, n;
    const uint8_t *p;
    if (e == NULL || e->type != PAXOS_ENTRY_BATCH)
        return false;
    while (paxos_batch_next(e->data, e->len, &off, &p, &n) == 0)
        if (n == strlen(want) && memcmp(p, want, n) == 0)
            return true;
    return false;
}

/* Restarts node id from exactly what it persisted. */
static void restart(struct fx *f, paxos_node_id id)
{
    paxos_replica_destroy(f->r[id]);
    f->r[id] = NULL;
    struct paxos_entry es[128];
    struct paxos_durable_state ds = {.hs = f->disk[id].hs, .entries = es};
    for (int s = 1; s < 128; s++)
        if (f->disk[id].e[s].slot != 0 && f->disk[id].e[s].slot > ds.hs.base_slot)
            es[ds.n_entries++] = f->disk[id].e[s];
    struct sp_err err = {0};
    assert_int_equal(
        paxos_replica_create(&f->cfg[id], f->disk[id].has_hs ? &ds : NULL, &f->r[id], &err), 0);
    f->committed[id] = f->disk[id].hs.base_slot;
    tick(f, id);
}

/* Gives the leader a lease: its heartbeat reaches `voter` and comes back. */
static void lease_via(struct fx *f, paxos_node_id leader, paxos_node_id voter)
{
    deliver(f, leader, voter, PAXOS_MSG_ACCEPT);
    deliver(f, voter, leader, PAXOS_MSG_ACCEPTED);
    assert_int_equal(paxos_lease_get(f->r[leader], iv(f->now[leader]), NULL, NULL), 0);
}

/* Phase 1 recovers the highest-ballot accepted value and fills gaps with
 * no-ops (Paxos Made Simple §2.2 and §3). */
static void test_phase1_recovers_accepted_values(void **state)
{
    (void) state;
    struct fx *f = fx_new(3, 0);
    elect(f, 1, 1u << 2 | 1u << 3);
    drop_all(f);
    propose(f, 1, "A"); /* slot 1: reaches nobody */
    drop_all(f);
    propose(f, 1, "B"); /* slot 2: reaches node 2 only */
    deliver(f, 1, 2, PAXOS_MSG_ACCEPT);
    drop_all(f);
    assert_int_equal(paxos_last_slot(f->r[2]), 2);
    /* Node 2 granted node 1 a lease through that ACCEPT; let it expire. */
    f->now[2] += f->cfg[1].lease_us + 3 * EPS_US;
    elect(f, 3, 1u << 2);
    const struct paxos_entry *s1 = queued_entry(f, 3, 2, 1);
    const struct paxos_entry *s2 = queued_entry(f, 3, 2, 2);
    assert_non_null(s1);
    assert_non_null(s2);
    assert_int_equal(s1->type, PAXOS_ENTRY_NOOP);
    assert_true(batch_has(s2, "B"));
    assert_int_equal(s2->ballot, paxos_leader_ballot(f->r[3]));
    /* They commit once node 2 accepts them under the new ballot. */
    deliver(f, 3, 2, PAXOS_MSG_ACCEPT);
    deliver(f, 2, 3, PAXOS_MSG_ACCEPTED);
    assert_int_equal(paxos_commit_index(f->r[3]), 2);
    fx_free(f);
}

/* Of two different values reported for one slot, phase 1 keeps the one
 * accepted under the higher ballot (P2c in Paxos Made Simple §2.2). */
static void test_phase1_highest_ballot_wins(void **state)
{
    (void) state;
    struct fx *f = fx_new(5, 0);
    elect(f, 1, 1u << 2 | 1u << 4 | 1u << 5);
    drop_all(f);
    propose(f, 1, "A");
    deliver(f, 1, 2, PAXOS_MSG_ACCEPT); /* node 2: (b1, A) */
    drop_all(f);
    for (paxos_node_id id = 2; id <= 5; id++)
        f->now[id] += f->cfg[1].lease_us + 3 * EPS_US; /* grants to b1 expire */
    elect(f, 3, 1u << 4 | 1u << 5);
    drop_all(f);
    propose(f, 3, "B");
    deliver(f, 3, 4, PAXOS_MSG_ACCEPT); /* node 4: (b3, B) at slot 1 */
    drop_all(f);
    assert_true(paxos_leader_ballot(f->r[3]) > paxos_leader_ballot(f->r[1]));
    for (paxos_node_id id = 2; id <= 5; id++)
        f->now[id] += f->cfg[1].lease_us + 3 * EPS_US;
    elect(f, 5, 1u << 2 | 1u << 4);
    const struct paxos_entry *e = queued_entry(f, 5, 2, 1);
    assert_true(batch_has(e, "B"));
    assert_false(batch_has(e, "A"));
    fx_free(f);
}

/* A slot is chosen only with a majority of voters' durable accepts; the
 * leader's own accept counts only after PAXOS_EV_PERSISTED. */
static void test_no_commit_without_majority(void **state)
{
    (void) state;
    struct fx *f = fx_new(5, 0);
    elect(f, 1, 1u << 2 | 1u << 3 | 1u << 4 | 1u << 5);
    drop_all(f);
    f->auto_persist[1] = false;
    propose(f, 1, "X");
    deliver(f, 1, 2, PAXOS_MSG_ACCEPT);
    deliver(f, 2, 1, PAXOS_MSG_ACCEPTED);
    deliver(f, 1, 3, PAXOS_MSG_ACCEPT);
    deliver(f, 3, 1, PAXOS_MSG_ACCEPTED);
    assert_int_equal(paxos_commit_index(f->r[1]), 0); /* 2 of 5, own not durable */
    persisted(f, 1);
    assert_int_equal(paxos_commit_index(f->r[1]), 1); /* 3 of 5 */
    assert_int_equal(f->committed[1], 1);
    fx_free(f);
}

/* Spanner §4.1.1: no promise to another ballot while a granted lease may
 * be valid, judged with TrueTime, and the grant survives a restart. */
static void test_lease_grant_refusal(void **state)
{
    (void) state;
    struct fx *f = fx_new(3, 0);
    elect(f, 1, 1u << 2 | 1u << 3);
    lease_via(f, 1, 2);
    drop_all(f);
    struct paxos_msg prep = {
        .type = PAXOS_MSG_PREPARE, .from = 3, .to = 2, .slot = 1, .ballot = PAXOS_BALLOT(99, 3)};
    struct paxos_event ev = {.type = PAXOS_EV_MESSAGE, .msg = &prep};
    step(f, 2, &ev);
    assert_int_equal(f->n_out, 1);
    assert_int_equal(f->out[0].reject, PAXOS_REJECT_LEASE);
    drop_all(f);
    restart(f, 2);
    drop_all(f);
    f->now[2] = T0 + f->cfg[1].lease_us; /* earliest still <= grant expiry */
    step(f, 2, &ev);
    assert_int_equal(f->out[0].reject, PAXOS_REJECT_LEASE);
    drop_all(f);
    f->now[2] = T0 + f->cfg[1].lease_us + 2 * EPS_US + 1; /* earliest > expiry */
    step(f, 2, &ev);
    assert_int_equal(f->out[0].type, PAXOS_MSG_PROMISE);
    assert_int_equal(f->out[0].reject, PAXOS_REJECT_NONE);
    assert_int_equal(paxos_promised(f->r[2]), PAXOS_BALLOT(99, 3));
    fx_free(f);
}

/* Timestamps stay inside the lease; abdication waits for tt_after(s_max). */
static void test_abdicate_only_after_s_max(void **state)
{
    (void) state;
    struct fx *f = fx_new(3, 0);
    elect(f, 1, 1u << 2 | 1u << 3);
    lease_via(f, 1, 2);
    drop_all(f);
    tt_micros now = f->now[1], start, end;
    assert_int_equal(paxos_lease_get(f->r[1], iv(now), &start, &end), 0);
    assert_true(start <= now && end > now);
    assert_int_equal(paxos_note_assigned_ts(f->r[1], iv(now), end), SP_EPAXOS_NO_LEASE);
    assert_int_equal(paxos_note_assigned_ts(f->r[1], iv(now), start - 1), SP_EPAXOS_NO_LEASE);
    tt_micros ts = now + 5000;
    assert_int_equal(paxos_note_assigned_ts(f->r[1], iv(now), ts), 0);
    assert_int_equal(paxos_s_max(f->r[1]), ts);
    struct paxos_update up;
    assert_int_equal(paxos_abdicate(f->r[1], iv(now), &up), SP_EPAXOS_BUSY);
    assert_int_equal(paxos_abdicate(f->r[1], iv(ts + EPS_US), &up), SP_EPAXOS_BUSY);
    assert_true(paxos_is_leader(f->r[1]));
    assert_int_equal(paxos_abdicate(f->r[1], iv(ts + EPS_US + 1), &up), 0);
    assert_false(paxos_is_leader(f->r[1]));
    assert_int_equal(up.n_msgs, 2);
    assert_int_equal(up.msgs[0].type, PAXOS_MSG_RELEASE);
    assert_int_equal(paxos_lease_get(f->r[1], iv(ts + EPS_US + 1), NULL, NULL),
                     SP_EPAXOS_NOT_LEADER);
    fx_free(f);
}

/* Read-only replicas get the log but never count toward a quorum, and
 * never campaign. */
static void test_read_only_never_counted(void **state)
{
    (void) state;
    struct fx *f = fx_new(3, 2); /* voters 1..3, read-only 4, 5 */
    elect(f, 1, 1u << 2);
    drop_all(f);
    propose(f, 1, "R");
    deliver(f, 1, 4, PAXOS_MSG_ACCEPT);
    deliver(f, 1, 5, PAXOS_MSG_ACCEPT);
    deliver(f, 4, 1, PAXOS_MSG_ACCEPTED);
    deliver(f, 5, 1, PAXOS_MSG_ACCEPTED);
    assert_int_equal(paxos_commit_index(f->r[1]), 0); /* 1 voter + 2 read-only */
    deliver(f, 1, 2, PAXOS_MSG_ACCEPT);
    deliver(f, 2, 1, PAXOS_MSG_ACCEPTED);
    assert_int_equal(paxos_commit_index(f->r[1]), 1);
    drop_all(f);
    f->now[1] += f->cfg[1].heartbeat_us;
    tick(f, 1); /* the heartbeat carries the commit index */
    deliver(f, 1, 4, PAXOS_MSG_ACCEPT);
    assert_int_equal(f->committed[4], 1);
    drop_all(f);
    f->now[4] += 3 * f->cfg[4].election_timeout_us;
    tick(f, 4);
    for (uint32_t i = 0; i < f->n_out; i++) /* it may ask for catch-up (L8) */
        assert_int_not_equal(f->out[i].type, PAXOS_MSG_PREVOTE);
    fx_free(f);
}

static void change(struct fx *f, paxos_node_id id, enum paxos_change_op op, paxos_node_id node)
{
    struct paxos_event ev = {.type = PAXOS_EV_CHANGE};
    ev.change.op = op;
    ev.change.node = node;
    ev.change.role = PAXOS_VOTER;
    step(f, id, &ev);
}

/* One membership change at a time, each through a log entry; the new
 * configuration governs the slots after it. */
static void test_membership_one_change_at_a_time(void **state)
{
    (void) state;
    struct fx *f = fx_new(3, 0);
    change(f, 2, PAXOS_CHANGE_ADD, 4);
    assert_int_equal(f->last_rc, SP_EPAXOS_NOT_LEADER);
    elect(f, 1, 1u << 2 | 1u << 3);
    change(f, 1, PAXOS_CHANGE_ADD, 4);
    assert_int_equal(f->last_rc, SP_EPAXOS_BUSY); /* M6: no lease round yet */
    lease_via(f, 1, 2);
    drop_all(f);
    change(f, 1, PAXOS_CHANGE_REMOVE, 9);
    assert_int_equal(f->last_rc, SP_EINVAL);
    change(f, 1, PAXOS_CHANGE_ADD, 4);
    assert_int_equal(f->last_rc, 0);
    change(f, 1, PAXOS_CHANGE_ADD, 5);
    assert_int_equal(f->last_rc, SP_EPAXOS_BUSY); /* the first is not chosen yet */
    assert_int_equal(paxos_membership(f->r[1])->n, 3);
    deliver(f, 1, 2, PAXOS_MSG_ACCEPT);
    deliver(f, 2, 1, PAXOS_MSG_ACCEPTED);
    assert_int_equal(paxos_commit_index(f->r[1]), 1);
    assert_int_equal(paxos_membership(f->r[1])->n, 4);
    drop_all(f);
    change(f, 1, PAXOS_CHANGE_ADD, 5);
    assert_int_equal(f->last_rc, SP_EPAXOS_BUSY); /* M6: lease round under {1,2,3,4} */
    f->now[1] += f->cfg[1].heartbeat_us;
    tick(f, 1);
    deliver(f, 1, 2, PAXOS_MSG_ACCEPT);
    deliver(f, 2, 1, PAXOS_MSG_ACCEPTED);
    deliver(f, 1, 3, PAXOS_MSG_ACCEPT);
    deliver(f, 3, 1, PAXOS_MSG_ACCEPTED);
    drop_all(f);
    change(f, 1, PAXOS_CHANGE_ADD, 5);
    assert_int_equal(f->last_rc, 0);
    /* Slot 2 is governed by {1,2,3,4}: two voters besides us are needed. */
    deliver(f, 1, 2, PAXOS_MSG_ACCEPT);
    deliver(f, 2, 1, PAXOS_MSG_ACCEPTED);
    assert_int_equal(paxos_commit_index(f->r[1]), 1);
    deliver(f, 1, 3, PAXOS_MSG_ACCEPT);
    deliver(f, 3, 1, PAXOS_MSG_ACCEPTED);
    assert_int_equal(paxos_commit_index(f->r[1]), 2);
    assert_int_equal(paxos_membership(f->r[1])->n, 5);
    fx_free(f);
}

/* Queued proposals are batched into one entry when the window opens. */
static void test_batching_and_window(void **state)
{
    (void) state;
    struct fx *f = fx_new(3, 0);
    elect(f, 1, 1u << 2 | 1u << 3);
    drop_all(f);
    const char *first[] = {"a", "b", "c", "d"};
    for (int i = 0; i < 4; i++)
        propose(f, 1, first[i]);
    assert_int_equal(paxos_last_slot(f->r[1]), 4); /* inflight_max = 4 */
    propose(f, 1, "x");
    propose(f, 1, "y");
    propose(f, 1, "z");
    assert_int_equal(paxos_last_slot(f->r[1]), 4); /* window full: queued */
    deliver(f, 1, 2, PAXOS_MSG_ACCEPT);
    deliver(f, 2, 1, PAXOS_MSG_ACCEPTED);
    assert_int_equal(paxos_commit_index(f->r[1]), 4);
    assert_int_equal(paxos_last_slot(f->r[1]), 5);
    const struct paxos_entry *e = queued_entry(f, 1, 3, 5);
    assert_true(batch_has(e, "x") && batch_has(e, "y") && batch_has(e, "z"));
    fx_free(f);
}

/* After a failed persist the replica refuses all work, for good. */
static void test_failed_persist_is_sticky(void **state)
{
    (void) state;
    struct fx *f = fx_new(3, 0);
    elect(f, 1, 1u << 2 | 1u << 3);
    struct paxos_event ev = {.type = PAXOS_EV_PERSISTED};
    ev.persisted.seq = 1;
    ev.persisted.status = SP_EIO;
    struct paxos_update up;
    ev.now = iv(f->now[1]);
    assert_int_equal(paxos_step(f->r[1], &ev, &up), SP_EPAXOS_FAILED);
    assert_true(paxos_failed(f->r[1]));
    assert_false(paxos_is_leader(f->r[1]));
    propose(f, 1, "late");
    assert_int_equal(f->last_rc, SP_EPAXOS_FAILED);
    tick(f, 1);
    assert_int_equal(f->last_rc, SP_EPAXOS_FAILED);
    fx_free(f);
}

/* A restarted replica comes back with its promise and accepted entries. */
static void test_restart_from_durable_state(void **state)
{
    (void) state;
    struct fx *f = fx_new(3, 0);
    elect(f, 1, 1u << 2 | 1u << 3);
    drop_all(f);
    propose(f, 1, "kept");
    deliver(f, 1, 2, PAXOS_MSG_ACCEPT);
    drop_all(f);
    paxos_ballot b = paxos_promised(f->r[2]);
    restart(f, 2);
    assert_int_equal(paxos_promised(f->r[2]), b);
    assert_int_equal(paxos_last_slot(f->r[2]), 1);
    fx_free(f);
}

static void snapshot_event(struct fx *f, paxos_node_id id, enum paxos_event_type type,
                           paxos_slot slot)
{
    struct paxos_event ev = {.type = type};
    ev.snapshot.slot = slot;
    step(f, id, &ev);
}

/* A replica that missed entries the leader already truncated is offered
 * the leader's snapshot, installs it, then catches up on the rest. */
static void test_catchup_through_snapshot(void **state)
{
    (void) state;
    struct fx *f = fx_new(3, 0);
    elect(f, 1, 1u << 2);
    drop_all(f);
    char v[8];
    for (int i = 0; i < 12; i++) {
        snprintf(v, sizeof v, "v%d", i);
        propose(f, 1, v);
        deliver(f, 1, 2, PAXOS_MSG_ACCEPT);
        deliver(f, 2, 1, PAXOS_MSG_ACCEPTED);
        drop_all(f); /* node 3 hears nothing */
    }
    assert_int_equal(paxos_commit_index(f->r[1]), 12);
    snapshot_event(f, 1, PAXOS_EV_SNAPSHOT_TAKEN, 13); /* not yet applied */
    assert_int_equal(f->last_rc, SP_EINVAL);
    snapshot_event(f, 1, PAXOS_EV_SNAPSHOT_TAKEN, 10); /* truncates <= 6 */
    assert_int_equal(f->last_rc, 0);
    assert_int_equal(f->disk[1].hs.base_slot, 10 - f->cfg[1].log_keep);
    f->now[1] += f->cfg[1].heartbeat_us;
    tick(f, 1);
    deliver(f, 1, 3, PAXOS_MSG_ACCEPT);      /* node 3 learns it lags */
    deliver(f, 3, 1, PAXOS_MSG_CATCHUP_REQ); /* from slot 1: truncated */
    deliver(f, 1, 3, PAXOS_MSG_SNAPSHOT);
    assert_int_equal(f->snapshot_wanted[3], 10);
    snapshot_event(f, 3, PAXOS_EV_SNAPSHOT_INSTALLED, 9); /* not the one offered */
    assert_int_equal(f->last_rc, SP_EINVAL);
    snapshot_event(f, 3, PAXOS_EV_SNAPSHOT_INSTALLED, 10);
    assert_int_equal(f->last_rc, 0);
    assert_int_equal(paxos_commit_index(f->r[3]), 10);
    f->committed[3] = 10; /* the app holds 1..10 through the snapshot */
    f->now[3] += f->cfg[1].heartbeat_us;
    f->now[1] += f->cfg[1].heartbeat_us;
    tick(f, 1);
    deliver(f, 1, 3, PAXOS_MSG_ACCEPT);
    deliver(f, 3, 1, PAXOS_MSG_CATCHUP_REQ);
    deliver(f, 1, 3, PAXOS_MSG_CATCHUP);
    assert_int_equal(paxos_commit_index(f->r[3]), 12);
    assert_int_equal(f->committed[3], 12);
    fx_free(f);
}

/* C4: a leader told that one of its open slots was chosen with another
 * value (by a higher ballot it has not heard of) steps down at once, so its
 * commit index never vouches for its own stale proposal there. */
static void test_leader_steps_down_on_foreign_chosen_value(void **state)
{
    (void) state;
    struct fx *f = fx_new(3, 0);
    elect(f, 1, 1u << 2 | 1u << 3);
    drop_all(f);
    propose(f, 1, "mine");
    drop_all(f);
    const uint8_t theirs[] = {6, 0, 0, 0, 't', 'h', 'e', 'i', 'r', 's'};
    struct paxos_entry e = {.slot = 1,
                            .ballot = PAXOS_BALLOT(7, 3),
                            .type = PAXOS_ENTRY_BATCH,
                            .len = sizeof theirs,
                            .data = theirs};
    struct paxos_msg m = {.type = PAXOS_MSG_CATCHUP,
                          .from = 3,
                          .to = 1,
                          .slot = 1,
                          .commit = 1,
                          .n_entries = 1,
                          .entries = &e};
    struct paxos_event ev = {.type = PAXOS_EV_MESSAGE, .msg = &m};
    step(f, 1, &ev);
    assert_false(paxos_is_leader(f->r[1]));
    assert_int_equal(paxos_commit_index(f->r[1]), 1);
    assert_int_equal(f->committed[1], 1);
    fx_free(f);
}

static void test_config_and_decode_errors(void **state)
{
    (void) state;
    struct paxos_config c;
    paxos_config_init(&c);
    c.self = 4;
    c.members.n = 1;
    c.members.m[0] = (struct paxos_member){.id = 1, .role = PAXOS_VOTER};
    struct paxos_replica *r = NULL;
    struct sp_err err = {0};
    assert_int_equal(paxos_replica_create(&c, NULL, &r, &err), SP_ECONFIG);
    c.self = 1;
    c.heartbeat_us = c.lease_us;
    assert_int_equal(paxos_replica_create(&c, NULL, &r, &err), SP_ECONFIG);
    assert_null(r);
    const uint8_t bad[] = {9, 0, 0, 0, 'a'};
    uint32_t off = 0, n;
    const uint8_t *p;
    assert_int_equal(paxos_batch_next(bad, sizeof bad, &off, &p, &n), SP_ECORRUPT);
    struct paxos_membership m;
    assert_int_equal(paxos_config_decode(bad, sizeof bad, &m), SP_ECORRUPT);
}

int main(void)
{
    sp_test_route_asserts();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_phase1_recovers_accepted_values),
        cmocka_unit_test(test_phase1_highest_ballot_wins),
        cmocka_unit_test(test_no_commit_without_majority),
        cmocka_unit_test(test_lease_grant_refusal),
        cmocka_unit_test(test_abdicate_only_after_s_max),
        cmocka_unit_test(test_read_only_never_counted),
        cmocka_unit_test(test_membership_one_change_at_a_time),
        cmocka_unit_test(test_batching_and_window),
        cmocka_unit_test(test_failed_persist_is_sticky),
        cmocka_unit_test(test_restart_from_durable_state),
        cmocka_unit_test(test_catchup_through_snapshot),
        cmocka_unit_test(test_leader_steps_down_on_foreign_chosen_value),
        cmocka_unit_test(test_config_and_decode_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

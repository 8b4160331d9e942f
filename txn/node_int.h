/*
 * node_int.h - private to txn/: the node core's state, shared by node.c,
 * participant.c, coordinator.c, reads.c and records.c. Nothing outside txn/
 * includes it.
 */
#ifndef TXN_NODE_INT_H
#define TXN_NODE_INT_H

#include "txn.h"

#include "sp_assert.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* ---- arena: per-step memory handed out in updates ---------------------- */

struct txn__chunk;

/* A bump allocator reset at the start of every step, which is what makes
 * "valid until the next step" true for everything in an update. */
struct txn__arena {
    struct txn__chunk *head;
};

void *txn__arena_alloc(struct txn__arena *a, size_t n);
void *txn__arena_dup(struct txn__arena *a, const void *p, size_t n);
void txn__arena_reset(struct txn__arena *a);
void txn__arena_free(struct txn__arena *a);

/* ---- log records (records.c) ------------------------------------------- */

/*
 * Every proposal a group makes through Paxos is one record. The group
 * applies records in log order; a record's position is
 * TXN__POS(slot, k) for the k-th proposal of the entry at `slot`.
 */
#define TXN__REC_MAGIC     0xA7u
#define TXN__POS_SHIFT     16
#define TXN__POS_K_MAX     0xFFFFu /* records per entry; the last k is the entry's end */
#define TXN__POS(slot, k)  (((uint64_t) (slot) << TXN__POS_SHIFT) | (uint64_t) (k))
#define TXN__POS_SLOT(pos) ((pos) >> TXN__POS_SHIFT)

enum txn__rec_type {
    TXN__REC_COMMIT = 1,   /* single-group commit: writes at ts */
    TXN__REC_PREPARE = 2,  /* participant prepared at ts; writes kept until the outcome */
    TXN__REC_OUTCOME = 3,  /* participant learnt the outcome: commit at ts, or ts 0 = abort */
    TXN__REC_DECISION = 4, /* coordinator decided: commit at ts (its own writes), or 0 */
    TXN__REC_BARRIER = 5,  /* a new leader's first record, no ts: raises tag_max (N6, R2) */
};

struct txn__rec {
    uint8_t type; /* enum txn__rec_type */
    uint64_t tag; /* proposer's leader ballot: tells a leader its own records */
    txn_id id;
    tt_micros ts;       /* see the types; >= 1 except OUTCOME/DECISION abort */
    txn_group_id coord; /* PREPARE: the coordinator group */
    uint32_t parts_n;   /* DECISION: participant groups */
    txn_group_id parts[TXN_PARTICIPANTS_MAX];
    uint32_t writes_n;
    const struct txn_write *writes; /* borrowed (encode) / into the input (decode) */
    /* PREPARE: the keys the participant holds read (shared) locks on, so a
     * new leader re-takes them with the write locks (N3, P2); only key and
     * key_len are meaningful. Decoded into the same array, after the writes. */
    uint32_t reads_n;
    const struct txn_write *reads;
};

/* Read keys one PREPARE record carries; a participant holding more read
 * locks than this refuses to prepare. Decode buffers hold
 * TXN__REC_ENTRIES_MAX entries (writes and reads). */
#define TXN__REC_READS_MAX   256u
#define TXN__REC_ENTRIES_MAX (TXN_REQ_WRITES_MAX + TXN__REC_READS_MAX)

/* Header bytes before the participants and writes. */
#define TXN__REC_HEADER_BYTES (1 + 1 + 8 + 8 + 8 + 8 + 4 + 4)

size_t txn__rec_size(const struct txn__rec *r);
/* Encodes r into buf (cap >= txn__rec_size(r)); returns the bytes written. */
size_t txn__rec_encode(const struct txn__rec *r, uint8_t *buf, size_t cap);
/* Decodes; r->writes and r->reads point into ws (capacity ws_cap, for both;
 * TXN__REC_ENTRIES_MAX holds any record), whose keys and values point into
 * data. Errors: SP_ECORRUPT (through SP_CORRUPT). */
int txn__rec_decode(const uint8_t *data, size_t len, struct txn__rec *r, struct txn_write *ws,
                    uint32_t ws_cap, struct sp_err *err);

/* ---- per-transaction state at a group leader --------------------------- */

/*
 * A read-write transaction as one group's leader sees it. States:
 *
 *   ACTIVE ----READ----> WAIT_READ ---granted---> ACTIVE (reply values)
 *     |  \
 *     |   COMMIT (single) / COMMIT (coordinator) / PREPARE (participant)
 *     v
 *   WAIT_LOCKS --granted--> [VOTES (coordinator)] --> LOGGING --applied-->
 *        released (COMMIT, DECISION) or PREPARED (participant)
 *   PREPARED --OUTCOME applied--> released
 *   any state before LOGGING --wound / expiry / abort--> WOUNDED (tombstone)
 */
enum txn__rw_state {
    TXN__RW_ACTIVE = 1,
    TXN__RW_WAIT_READ,
    TXN__RW_WAIT_LOCKS,
    TXN__RW_VOTES,
    TXN__RW_LOGGING,
    TXN__RW_PREPARED,
    TXN__RW_WOUNDED, /* ended before logging (wound, expiry, abort): a tombstone */
};

enum txn__rw_role {
    TXN__ROLE_NONE = 0,
    TXN__ROLE_SINGLE,
    TXN__ROLE_COORD,
    TXN__ROLE_PART,
};

struct txn__vote {
    txn_group_id group;
    tt_micros ts;
    int32_t status;
};

struct txn__rw {
    bool used;
    txn_id id;
    tt_micros start_ts;
    enum txn__rw_state state;
    enum txn__rw_role role;
    uint32_t waits;      /* lock requests still queued */
    tt_micros expire_us; /* tombstones are forgotten after this */
    int abort_status;    /* tombstones: why it ended (answered to later requests);
                          * a logged refusal: what its client hears */
    bool retry;          /* the COMMIT served may have been sent before (txn_request.retry) */
    /* The client request being served (READ or COMMIT), 0 if none. */
    bool has_client;
    uint32_t client;
    uint64_t req_id;
    /* The request's keys or writes, owned (one malloc). */
    uint8_t *blob;
    uint32_t keys_n;
    struct txn_key *keys;
    uint32_t writes_n;
    struct txn_write *writes;
    txn_group_id coord;
    /* Coordinator: participants, votes, arrival time of the commit. */
    uint32_t parts_n;
    txn_group_id parts[TXN_PARTICIPANTS_MAX];
    uint32_t votes_n;
    struct txn__vote votes[TXN_PARTICIPANTS_MAX];
    bool commit_arrived;
    struct tt_interval arrival;
    tt_micros deadline_us;
    tt_micros ts; /* chosen commit or prepare timestamp */
    tt_micros logging_since_us; /* LOGGING: now.earliest when the record was proposed */
};

/* A transaction prepared at this replica (from the log; every replica). */
struct txn__prep {
    txn_id id;
    tt_micros ts;
    txn_group_id coord;
    uint8_t *rec; /* the encoded PREPARE record (holds the writes), owned */
    size_t rec_len;
    tt_micros next_query_us;
};

struct txn__decision {
    txn_id id;
    tt_micros ts; /* 0 = abort */
};

#define TXN__DECISION_BUCKETS (2 * TXN_NODE_DECISIONS_MAX) /* a power of two */

/* A committed entry waiting to be applied, copied into the step's arena. */
struct txn__pending {
    struct txn__pending *next;
    struct paxos_entry e;
};

struct txn__group {
    txn_group_id id;
    /* t_safe and LastTS as of the end of the last step, for stale reads
     * served on other threads (txn_node_read_stale). Stored LastTS first,
     * then t_safe (release); read t_safe first (acquire), then LastTS. */
    _Atomic tt_micros pub_last_ts, pub_safe;
    struct paxos_replica *r;
    struct txn_safetime *st;
    struct txn_locks *locks; /* leader only */
    bool leader, caught_up;
    paxos_ballot lead_ballot;
    paxos_slot lead_slot; /* last slot when it became leader */
    uint64_t applied;     /* position of the last record applied */
    paxos_slot applied_slot;
    paxos_slot handed_slot;   /* highest slot the replica handed out since start */
    paxos_slot snap_reported; /* last PAXOS_EV_SNAPSHOT_TAKEN */
    uint32_t outstanding;     /* own timestamped proposals not yet applied */
    tt_micros log_ts_max;     /* highest leader-assigned ts applied since start (N5) */
    tt_micros outcome_ts_max; /* highest commit ts this node proposed in an OUTCOME */
    uint64_t tag_max;         /* highest proposer ballot applied (N6); durable, state "b" */
    bool barrier_sent;        /* leader: proposed its BARRIER (R2) */
    tt_micros paxos_wake_us;
    tt_micros promise_due_us;
    tt_micros promise_sent_us; /* leader: its last MinNextTS promise */
    bool promise_wanted;       /* leader: a held read waits for one (txn__promise_soon) */
    tt_micros promise_asked_us; /* replica: last TXN_MSG_PROMISE_ASK it sent */
    tt_micros gc_due_us;
    bool failed;
    struct txn__rw *rws; /* TXN_NODE_TXNS_MAX */
    uint32_t rws_hi;     /* every used rws[i] has i < rws_hi: scans stop there */
    struct txn__prep *preps;
    uint32_t preps_n, preps_max;
    struct txn__decision *decisions; /* a ring cache of the state records */
    uint32_t decisions_n, decisions_next;
    /* Hash index over the ring: chains of ring slot + 1 (0 ends a chain). */
    uint32_t *decision_heads; /* TXN__DECISION_BUCKETS */
    uint32_t *decision_next;  /* per ring slot */
    struct txn__pending *apply_head, *apply_tail;
};

/* A reply held for commit wait, or a read held until t_safe >= ts. */
struct txn__wait {
    bool used;
    bool is_read;
    txn_group_id group;
    tt_micros ts;           /* commit wait: until tt_after(ts); read: t_safe >= ts */
    tt_micros deadline_us;  /* reads only */
    tt_micros held_since_us; /* commit: now.earliest when the hold began */
    uint32_t scan_limit;     /* read: > 0 for a scan of [keys[0], keys[1]) */
    struct txn_reply reply; /* commit: complete; read: client, req_id */
    bool has_client;        /* commit: reply to a client (else only participants) */
    uint32_t parts_n;       /* commit: participants told after the wait */
    txn_group_id parts[TXN_PARTICIPANTS_MAX];
    uint8_t *blob; /* read: the keys, owned */
    uint32_t keys_n;
    struct txn_key *keys;
};

struct txn_node {
    struct txn_node_config cfg;
    struct txn_store *store;
    uint64_t rng;
    bool failed;
    _Atomic bool pub_failed; /* failed, for txn_node_read_stale */
    /* An apply round is open (txn_node_round_begin): the store's batch stays
     * open across steps, and nothing is published until its end. */
    bool round_open;
    /* Decisions added to the rings (txn__decision_add) since the open batch
     * was last known written: while below TXN_NODE_DECISIONS_MAX, every
     * decision in the open batch is still in its group's ring. */
    uint32_t decisions_unwritten;
    struct tt_interval now; /* of the step in progress */
    uint32_t groups_n;
    struct txn__group groups[TXN_NODE_GROUPS_MAX];
    struct txn__wait *waits; /* TXN_NODE_WAITS_MAX */
    uint32_t waits_hi;       /* every used waits[i] has i < waits_hi */
    tt_micros expire_due_us;
    /* The update being built. */
    struct txn__arena arena;
    struct txn_node_persist *persists;
    uint32_t persists_n, persists_cap;
    struct txn_node_msg *msgs;
    uint32_t msgs_n, msgs_cap;
    struct txn_reply *replies;
    uint32_t replies_n, replies_cap;
};

/* node.c */
struct txn__group *txn__group_find(struct txn_node *n, txn_group_id id);
const struct txn_directory_entry *txn__directory(const struct txn_node *n, txn_group_id id);
void txn__absorb(struct txn_node *n, struct txn__group *g, const struct paxos_update *pu);
int txn__propose(struct txn_node *n, struct txn__group *g, const struct txn__rec *rec);
void txn__reply(struct txn_node *n, const struct txn_reply *r);
void txn__reply_status(struct txn_node *n, uint32_t client, uint64_t req_id, txn_id id, int status,
                       txn_node_id hint);
void txn__send_group(struct txn_node *n, txn_group_id to_group, const struct txn_msg *m);
int txn__ts_bounds(struct txn_node *n, struct txn__group *g, struct txn_ts_bounds *b);
int txn__store_apply(struct txn_node *n, struct txn__group *g, const struct txn_apply *a);
txn_node_id txn__hint(const struct txn__group *g);

/* participant.c: read-write transactions at a leader, participant side. */
struct txn__rw *txn__rw_find(struct txn__group *g, txn_id id);
struct txn__rw *txn__rw_get(struct txn_node *n, struct txn__group *g, txn_id id,
                            tt_micros start_ts);
void txn__rw_free(struct txn_node *n, struct txn__group *g, struct txn__rw *t);
void txn__rw_abort(struct txn_node *n, struct txn__group *g, struct txn__rw *t, int status);
int txn__rw_copy_request(struct txn__rw *t, const struct txn_request *req);
int txn__lock_writes(struct txn_node *n, struct txn__group *g, struct txn__rw *t);
void txn__on_read(struct txn_node *n, struct txn__group *g, const struct txn_request *req);
void txn__on_commit(struct txn_node *n, struct txn__group *g, const struct txn_request *req);
void txn__on_prepare(struct txn_node *n, struct txn__group *g, const struct txn_request *req);
void txn__on_abort(struct txn_node *n, struct txn__group *g, const struct txn_request *req);
void txn__on_keepalive(struct txn_node *n, struct txn__group *g, const struct txn_request *req);
void txn__on_decision_msg(struct txn_node *n, struct txn__group *g, const struct txn_msg *m);
void txn__locks_granted(struct txn_node *n, struct txn__group *g, const struct txn_lock_grant *gr,
                        uint32_t grants_n);
void txn__release(struct txn_node *n, struct txn__group *g, struct txn__rw *t);
void txn__handle_wounded(struct txn_node *n, struct txn__group *g, const txn_id *ids,
                         uint32_t ids_n);
void txn__rw_continue(struct txn_node *n, struct txn__group *g, struct txn__rw *t);
int txn__apply_commit(struct txn_node *n, struct txn__group *g, uint64_t pos,
                      const struct txn__rec *rec);
int txn__apply_prepare(struct txn_node *n, struct txn__group *g, uint64_t pos,
                       const struct txn__rec *rec, const uint8_t *raw, size_t raw_len);
int txn__apply_outcome(struct txn_node *n, struct txn__group *g, uint64_t pos,
                       const struct txn__rec *rec);
void txn__relock_prepared(struct txn_node *n, struct txn__group *g);
void txn__participant_tick(struct txn_node *n, struct txn__group *g, tt_micros *wake);
struct txn__prep *txn__prep_find(struct txn__group *g, txn_id id);
int txn__prep_add(struct txn__group *g, txn_id id, tt_micros ts, txn_group_id coord,
                  const uint8_t *raw, size_t raw_len);

/* coordinator.c */
void txn__coord_try_decide(struct txn_node *n, struct txn__group *g, struct txn__rw *t);
void txn__coord_decide_abort(struct txn_node *n, struct txn__group *g, struct txn__rw *t);
void txn__on_vote(struct txn_node *n, struct txn__group *g, const struct txn_msg *m);
void txn__on_query(struct txn_node *n, struct txn__group *g, const struct txn_msg *m);
void txn__on_wound(struct txn_node *n, struct txn__group *g, const struct txn_msg *m);
int txn__apply_decision(struct txn_node *n, struct txn__group *g, uint64_t pos,
                        const struct txn__rec *rec);
void txn__coord_tick(struct txn_node *n, struct txn__group *g, tt_micros *wake);
const struct txn__decision *txn__decision_find(struct txn_node *n, struct txn__group *g, txn_id id);
void txn__decision_add(struct txn_node *n, struct txn__group *g, txn_id id, tt_micros ts);
void txn__hold_commit_reply(struct txn_node *n, struct txn__group *g, struct txn__rw *t,
                            tt_micros s);
void txn__answer_decided(struct txn_node *n, struct txn__group *g, const struct txn_request *req,
                         tt_micros ts);
void txn__log_abort(struct txn_node *n, struct txn__group *g, struct txn__rw *t, int status);
void txn__outcome_writes(struct txn_node *n, txn_id id, tt_micros ts, struct txn_state_write sw[2]);
void txn__outcomes_gc(struct txn_node *n, struct txn__group *g);

/* reads.c */
void txn__on_ro_read(struct txn_node *n, struct txn__group *g, const struct txn_request *req);
void txn__serve_read(struct txn_node *n, struct txn__group *g, uint32_t client, uint64_t req_id,
                     txn_id id, const struct txn_key *keys, uint32_t keys_n, tt_micros t);
void txn__waits_tick(struct txn_node *n, tt_micros *wake);
void txn__promise_tick(struct txn_node *n, struct txn__group *g, tt_micros *wake);
void txn__on_promise(struct txn_node *n, struct txn__group *g, const struct txn_msg *m);
void txn__promise_soon(struct txn_node *n, struct txn__group *g);
struct txn__wait *txn__wait_alloc(struct txn_node *n, bool is_read);
void txn__publish(struct txn_node *n);
void txn__gc_tick(struct txn_node *n, struct txn__group *g, tt_micros *wake);

#endif /* TXN_NODE_INT_H */

/*
 * paxos.h - one replica of one multi-Paxos group, as an I/O-free state
 * machine. This header is the manual.
 *
 * The replica never touches the network, the disk, the clock or a random
 * source. A driver (the server, the simulator, a test) owns all of those and
 * feeds the replica one event at a time:
 *
 *     struct paxos_update up;
 *     rc = paxos_step(r, &ev, &up);     // ev carries `now` as a TT interval
 *
 * and then carries out the update, strictly in this order:
 *
 *   1. PERSIST. Write up.hs (if up.hs_changed), up.entries (overwrite by
 *      slot), and delete entries with slot <= up.truncate_through, as ONE
 *      atomic batch, after every earlier update's batch. If up.sync, the
 *      batch must be durable (fsync) before step 2.
 *   2. SEND up.msgs. Persist before send: a message may promise something
 *      (a vote, an accept, a lease grant) that is only true once step 1 is
 *      durable. The messages of update N leave only after the batches of N
 *      and of every earlier update are durable, even when N itself has
 *      nothing to persist (its messages may repeat an earlier promise).
 *      One exception a driver may take: an ACCEPT (sent only by a leader)
 *      promises nothing, so it may leave before step 1 is durable, and the
 *      leader's disk write then overlaps its followers' (Raft's leader does
 *      the same with AppendEntries, Ongaro's thesis §10.2.1). This is safe
 *      because the leader counts its own accept only after step 3 (R3 in
 *      replication.c), its commit index counts only durable accepts, and
 *      after a restart it can lead again only under a higher ballot.
 *   3. REPORT completion with a PAXOS_EV_PERSISTED event carrying
 *      up.persist_seq (skip if up.persist_seq == 0). The leader counts its
 *      own accept, promise and lease grant only after this event. If the
 *      write failed, report it with a non-zero status: the replica enters
 *      its failed state and refuses all further work (SP_EPAXOS_FAILED).
 *   4. APPLY up.committed in order (they are chosen, gap-free, ascending).
 *   5. If up.snapshot_needed, fetch the application snapshot named there
 *      and, once installed durably, report PAXOS_EV_SNAPSHOT_INSTALLED.
 *   6. Call paxos_step with a PAXOS_EV_TICK at or after up.wake_us.
 *
 * Steps 3..6 may be done in any order relative to each other; step 2 never
 * before step 1.
 *
 * Memory: every pointer inside a paxos_update (entries, messages, payloads)
 * is owned by the replica and stays valid until the next call of
 * paxos_step() or paxos_replica_destroy() on the same replica. Copy what you
 * need to keep. Pointers inside events are borrowed only for the duration of
 * the call.
 *
 * Threads: a replica is not thread-safe; one thread steps it at a time.
 * Different replicas are independent.
 *
 * Durable state: see struct paxos_hard_state and struct paxos_durable_state.
 * A driver that restarts gives back exactly what it persisted (the synced
 * batches, in order) to paxos_replica_create(). After a restart the replica
 * hands out the committed entries again from hs.base_slot + 1; the
 * application skips those its own durable state already covers, and
 * reports its durable snapshot again (PAXOS_EV_SNAPSHOT_TAKEN) once the
 * replica has handed out that slot, so peers can be offered it.
 *
 * Membership: a change goes through the log (PAXOS_EV_CHANGE, one at a
 * time). A brand-new node is created with cfg.members = the configuration
 * that adds it, as READ_ONLY; it catches up (entries or a snapshot) and is
 * promoted to VOTER by a second change only afterwards, so it never votes
 * with a configuration history it has not learned. A removed node stops
 * hearing from the leader; it learns of its removal through catch-up and
 * then stays quiet, and the driver may destroy it.
 *
 * Snapshots: the application keeps its last reported durable snapshot until
 * it reports a newer one. When update.snapshot_needed names (node, slot),
 * the driver fetches exactly that snapshot from that node's application;
 * if the node no longer has it, the driver gives up and the replica asks
 * again later.
 */
#ifndef PAXOS_H
#define PAXOS_H

#include "truetime.h"

#include <stdbool.h>
#include <stdint.h>

typedef uint64_t paxos_slot;   /* log position, first slot is 1 */
typedef uint64_t paxos_ballot; /* (round << 16) | node id; 0 = none */
typedef uint32_t paxos_node_id;

#define PAXOS_BALLOT(round, node) (((paxos_ballot) (round) << 16) | ((node) % 0x10000u))
#define PAXOS_BALLOT_NODE(b)      ((paxos_node_id) ((b) % 0x10000u))
#define PAXOS_BALLOT_ROUND(b)     ((b) >> 16)

/* Limits. Node ids must be in 1..PAXOS_NODE_ID_MAX (they go into ballots). */
#define PAXOS_MEMBERS_MAX  7  /* members of one configuration */
#define PAXOS_NODES_MAX    16 /* distinct nodes a replica ever talks to */
#define PAXOS_NODE_ID_MAX  0xffffu
#define PAXOS_PAYLOAD_MAX  (16u << 20) /* one entry's payload, bytes */
#define PAXOS_PROPOSE_MAX  4096        /* queued proposals not yet in an entry */
#define PAXOS_LEASE_ROUNDS 8           /* outstanding lease requests tracked */

enum paxos_role {
    PAXOS_VOTER = 1,     /* votes, counts in every quorum, may lead */
    PAXOS_READ_ONLY = 2, /* gets the log asynchronously; never in a quorum */
};

struct paxos_member {
    paxos_node_id id;
    enum paxos_role role;
};

/* A configuration: the members of the group. The order is irrelevant. */
struct paxos_membership {
    uint32_t n;
    struct paxos_member m[PAXOS_MEMBERS_MAX];
};

enum paxos_entry_type {
    PAXOS_ENTRY_NOOP = 1,   /* fills a gap found during phase 1; no payload */
    PAXOS_ENTRY_BATCH = 2,  /* application proposals, see paxos_batch_next() */
    PAXOS_ENTRY_CONFIG = 3, /* a struct paxos_membership, see paxos_config_decode() */
};

/* A log entry as it crosses the API. `data` is borrowed (see Memory above). */
struct paxos_entry {
    paxos_slot slot;
    paxos_ballot ballot; /* ballot under which it was accepted */
    uint8_t type;        /* enum paxos_entry_type */
    uint32_t len;
    const uint8_t *data;
};

/*
 * What the driver must persist, and give back on restart. Every field is
 * plain data so a storage layer can encode it field by field.
 */
struct paxos_hard_state {
    paxos_ballot promised; /* highest ballot promised or accepted (phase 1b) */
    paxos_slot commit;     /* every slot <= commit is chosen and in the log or
                            * the snapshot; may lag after a crash (it is
                            * written without sync) */
    /* The lease this replica granted last (Spanner §4.1.1): to ballot
     * grant_ballot, possibly valid while now.earliest <= grant_expiry_us.
     * Durable so a restarted replica still honours it. */
    paxos_ballot grant_ballot;
    tt_micros grant_expiry_us;
    /* Entries with slot <= base_slot are gone from the log; the application
     * holds a durable snapshot covering them. base_membership is the
     * configuration in effect for slot base_slot + 1. */
    paxos_slot base_slot;
    struct paxos_membership base_membership;
};

/* What a driver hands to paxos_replica_create() on restart. */
struct paxos_durable_state {
    struct paxos_hard_state hs;
    uint32_t n_entries;                /* entries with slot > hs.base_slot */
    const struct paxos_entry *entries; /* any order; borrowed for the call */
};

/* Deliberately broken behaviours, for the harness's negative controls only.
 * A production config must leave test_flags at 0. */
enum paxos_test_flag {
    PAXOS_TEST_ACCEPT_ANY_BALLOT = 1u << 0, /* accept without checking promised */
    PAXOS_TEST_GRANT_OVERLAP = 1u << 1,     /* promise/grant despite a valid grant */
    PAXOS_TEST_EARLY_ABDICATE = 1u << 2,    /* abdicate without waiting for s_max */
    PAXOS_TEST_COUNT_READ_ONLY = 1u << 3,   /* count read-only replicas in quorums */
    PAXOS_TEST_SKIP_RECOVERY = 1u << 4,     /* phase 1 ignores reported values */
};

struct paxos_config {
    paxos_node_id self;
    /* The bootstrap configuration, used only when no durable state is given
     * (hs.base_membership.n == 0); afterwards the log is the authority. */
    struct paxos_membership members;
    tt_micros lease_us;            /* leader lease length; default 10 s */
    tt_micros heartbeat_us;        /* leader heartbeat, lease renewal and resend
                                    * of unacknowledged accepts; lease/5 */
    tt_micros election_timeout_us; /* follower patience, plus 0..100% jitter;
                                    * lease/2 */
    uint32_t inflight_max;         /* leader: slots proposed but not chosen; 32 */
    uint32_t batch_bytes_max;      /* proposals batched into one entry; 1 MiB */
    uint32_t msg_entries_max;      /* entries per message; 4 * inflight_max */
    uint32_t log_max;              /* entries held in memory; 4096 */
    uint32_t log_keep;             /* entries kept below a snapshot; 64 */
    /* Randomness (election jitter). If random is NULL a PRNG seeded with
     * `seed` is used. Either way it is deterministic given the events. */
    uint64_t (*random)(void *ctx);
    void *random_ctx;
    uint64_t seed;
    uint32_t test_flags; /* enum paxos_test_flag; 0 in production */
};

/* Fills cfg with defaults (self 0, no members). */
void paxos_config_init(struct paxos_config *cfg);

enum paxos_msg_type {
    PAXOS_MSG_PREPARE = 1,        /* phase 1a; slot = first slot not known chosen */
    PAXOS_MSG_PROMISE = 2,        /* phase 1b: ok with accepted entries, or reject */
    PAXOS_MSG_ACCEPT = 3,         /* phase 2a; also heartbeat, commit and renewal */
    PAXOS_MSG_ACCEPTED = 4,       /* phase 2b: entries name the acked slots */
    PAXOS_MSG_CATCHUP_REQ = 5,    /* "send me chosen entries from slot" */
    PAXOS_MSG_CATCHUP = 6,        /* chosen entries */
    PAXOS_MSG_SNAPSHOT = 7,       /* "entries truncated: fetch my snapshot at slot" */
    PAXOS_MSG_RELEASE = 8,        /* abdicating leader releases its lease grants */
    PAXOS_MSG_PREVOTE = 9,        /* "would you promise ballot?"; changes nothing */
    PAXOS_MSG_PREVOTE_REPLY = 10, /* reject == 0: yes */
};

enum paxos_reject {
    PAXOS_REJECT_NONE = 0,
    PAXOS_REJECT_STALE = 1,     /* ballot below promised; see msg.promised */
    PAXOS_REJECT_LEASE = 2,     /* a lease granted to another ballot may be valid */
    PAXOS_REJECT_BEHIND = 3,    /* candidate's log is too far behind; catch up */
    PAXOS_REJECT_NOT_VOTER = 4, /* sender is not a voter in our configuration */
};

/*
 * One message. The driver routes it to replica `to` of the same group and
 * delivers it as a PAXOS_EV_MESSAGE; it may drop, delay, duplicate or
 * reorder messages (the protocol tolerates all four) but must not alter
 * them. A transport encodes every field.
 */
struct paxos_msg {
    enum paxos_msg_type type;
    paxos_node_id from;
    paxos_node_id to;
    paxos_ballot ballot;   /* the sender's (leader's/candidate's) ballot, or the
                            * ballot being answered */
    paxos_ballot promised; /* replies: the sender's promised ballot */
    uint8_t reject;        /* enum paxos_reject; 0 = ok */
    paxos_slot slot;       /* PREPARE/CATCHUP_REQ: first slot; SNAPSHOT: slot */
    paxos_slot commit;     /* the sender's commit index */
    /* Leases: a request carries the leader's now.earliest when it sent it;
     * a reply echoes it with lease_granted and the grantor's now.earliest. */
    tt_micros lease_start_us;
    bool lease_granted;
    tt_micros grant_earliest_us;
    uint32_t n_entries;
    const struct paxos_entry *entries;
    struct paxos_membership membership; /* SNAPSHOT: config after `slot` */
};

enum paxos_event_type {
    PAXOS_EV_MESSAGE = 1,
    PAXOS_EV_TICK = 2,
    PAXOS_EV_PERSISTED = 3,         /* persist_seq done (status 0) or failed */
    PAXOS_EV_PROPOSE = 4,           /* application payload to replicate */
    PAXOS_EV_CHANGE = 5,            /* membership change request */
    PAXOS_EV_SNAPSHOT_TAKEN = 6,    /* app has a durable snapshot up to slot */
    PAXOS_EV_SNAPSHOT_INSTALLED = 7 /* app installed a peer's snapshot at slot */
};

enum paxos_change_op {
    PAXOS_CHANGE_ADD = 1,    /* add node with role */
    PAXOS_CHANGE_REMOVE = 2, /* remove node */
    PAXOS_CHANGE_ROLE = 3,   /* change node's role */
};

struct paxos_event {
    enum paxos_event_type type;
    struct tt_interval now; /* TT.now() when the event is stepped */
    union {
        const struct paxos_msg *msg; /* MESSAGE; borrowed */
        struct {
            uint64_t seq; /* an update's persist_seq */
            int status;   /* 0, or the storage error */
        } persisted;
        struct {
            const void *data; /* borrowed; copied into the replica */
            uint32_t len;     /* 1..batch_bytes_max - 4 */
        } propose;
        struct {
            enum paxos_change_op op;
            paxos_node_id node;
            enum paxos_role role;
        } change;
        struct {
            paxos_slot slot;
        } snapshot;
    };
};

/* The output of one step. All pointers: see Memory in the file comment. */
struct paxos_update {
    uint64_t persist_seq; /* 0: nothing to persist (hs, entries, truncate) */
    bool sync;            /* the persist must be durable before sending */
    bool hs_changed;
    struct paxos_hard_state hs;
    uint32_t n_entries; /* entries to write, overwriting by slot */
    const struct paxos_entry *entries;
    paxos_slot truncate_through; /* delete entries <= this; 0: none */

    uint32_t n_msgs; /* to send after the persist above is durable */
    const struct paxos_msg *msgs;

    uint32_t n_committed; /* newly chosen entries, ascending, gap-free */
    const struct paxos_entry *committed;

    bool snapshot_needed; /* fetch the app snapshot from node at slot */
    paxos_node_id snapshot_from;
    paxos_slot snapshot_slot;

    tt_micros wake_us; /* step a TICK once now.earliest >= wake_us */
};

struct paxos_replica;

/*
 * Creates a replica. `loaded` is NULL for a brand-new replica (it starts
 * from cfg->members) or what the driver persisted before (restart). The
 * replica copies everything it needs from cfg and loaded.
 * Returns 0 and *out (owned by the caller; free with paxos_replica_destroy),
 * SP_ECONFIG (bad config: self not a member of the bootstrap config, limits
 * out of range; err says which), SP_EINVAL (loaded state inconsistent),
 * SP_ENOMEM.
 */
int paxos_replica_create(const struct paxos_config *cfg, const struct paxos_durable_state *loaded,
                         struct paxos_replica **out, struct sp_err *err);
void paxos_replica_destroy(struct paxos_replica *r);

/*
 * Feeds one event. Always fills *up (possibly empty), even on error; the
 * driver must carry it out. Returns:
 *   0
 *   SP_EPAXOS_NOT_LEADER  PROPOSE/CHANGE on a replica that is not the leader
 *                         (see paxos_leader_hint for where to go)
 *   SP_EPAXOS_BUSY        PROPOSE with PAXOS_PROPOSE_MAX proposals queued;
 *                         CHANGE while another change is not yet chosen, the
 *                         in-flight window is full, or no lease round begun
 *                         under the current configuration has completed yet
 *                         (retry after the next heartbeat)
 *   SP_EINVAL             bad event: zero or oversized payload
 *                         (> batch_bytes_max - 4); a change that is not
 *                         exactly one add/remove/re-role or leaves no
 *                         voter; SNAPSHOT_TAKEN at a slot not yet handed out
 *                         in update.committed or below hs.base_slot;
 *                         SNAPSHOT_INSTALLED at a slot the replica did not
 *                         ask for
 *   SP_EPAXOS_FAILED      the replica failed earlier (a persist failed); it
 *                         refuses all work, forever
 * An event rejected with an error has no effect of its own (apart from
 * entering the failed state); the step still does what any step does when
 * time has passed (timeouts, heartbeats), so carry out *up regardless.
 */
int paxos_step(struct paxos_replica *r, const struct paxos_event *ev, struct paxos_update *up);

/* Step 2's exception: true for exactly the messages a driver may send
 * before the update's persist is durable (an ACCEPT). */
bool paxos_msg_may_leave_early(const struct paxos_msg *m);

/* True if r completed phase 1 at its ballot and has not stepped down. */
bool paxos_is_leader(const struct paxos_replica *r);

/* The ballot of the leader r last heard from or is (0: unknown). */
paxos_ballot paxos_leader_ballot(const struct paxos_replica *r);
paxos_node_id paxos_leader_hint(const struct paxos_replica *r);

/*
 * The leader's lease (Spanner §4.1.1) as a TrueTime interval: r may act as
 * lease holder for timestamps in [start_us, end_us). Valid at `now` only if
 * now.latest < end_us. Returns 0, SP_EPAXOS_NOT_LEADER, or
 * SP_EPAXOS_NO_LEASE (no lease, or it may have expired at `now`).
 */
int paxos_lease_get(const struct paxos_replica *r, struct tt_interval now, tt_micros *start_us,
                    tt_micros *end_us);

/*
 * Records that the leader assigned timestamp ts (s_max = max of them).
 * Refuses timestamps outside the lease: returns 0, SP_EPAXOS_NOT_LEADER, or
 * SP_EPAXOS_NO_LEASE (lease not valid at now, or ts outside [start, end)).
 */
int paxos_note_assigned_ts(struct paxos_replica *r, struct tt_interval now, tt_micros ts);
tt_micros paxos_s_max(const struct paxos_replica *r);

/*
 * Voluntary step-down. Allowed only once tt_after(s_max) holds at `now`, so
 * the next leader's timestamps are above every timestamp this one gave out.
 * On success r stops leading at once and *up carries RELEASE messages that
 * let grantors drop their grant early. Always fills *up, to be carried out
 * exactly like a paxos_step() update. Returns 0, SP_EPAXOS_NOT_LEADER,
 * SP_EPAXOS_BUSY (s_max not yet in the past; retry after s_max), or
 * SP_EPAXOS_FAILED.
 */
int paxos_abdicate(struct paxos_replica *r, struct tt_interval now, struct paxos_update *up);

/* Introspection, for drivers and tests. */
paxos_slot paxos_commit_index(const struct paxos_replica *r);
paxos_slot paxos_last_slot(const struct paxos_replica *r);
paxos_ballot paxos_promised(const struct paxos_replica *r);
bool paxos_failed(const struct paxos_replica *r);
/* The configuration in effect for the next slot to be chosen; owned by r,
 * valid until the next paxos_step()/paxos_abdicate() on r. */
const struct paxos_membership *paxos_membership(const struct paxos_replica *r);

/*
 * Iterates the proposals packed into a PAXOS_ENTRY_BATCH payload:
 *     uint32_t off = 0; const uint8_t *p; uint32_t n;
 *     while (paxos_batch_next(e->data, e->len, &off, &p, &n) == 0) use(p, n);
 * Returns 0 with the next proposal (pointing into data), SP_ENOTFOUND at
 * the end, or SP_ECORRUPT if the payload is malformed.
 */
int paxos_batch_next(const uint8_t *data, uint32_t len, uint32_t *off, const uint8_t **p,
                     uint32_t *n);

/* Decodes a PAXOS_ENTRY_CONFIG payload. Returns 0 or SP_ECORRUPT. */
int paxos_config_decode(const uint8_t *data, uint32_t len, struct paxos_membership *out);

#endif /* PAXOS_H */

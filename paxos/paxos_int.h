/*
 * paxos_int.h - the replica's private state, shared by the core files:
 *
 *   replica.c      create/destroy, the step dispatcher, the update being
 *                  built (arena, messages, persists), the in-memory log
 *   election.c     phase 1, ballots, leader leases, abdication
 *   replication.c  phase 2: proposals, batching, accept, commit
 *   catchup.c      catch-up of lagging replicas, snapshots, truncation
 *   membership.c   configurations, quorums, membership change
 */
#ifndef PAXOS_INT_H
#define PAXOS_INT_H

#include "paxos.h"

#include <stddef.h>

/* One slot of the in-memory log. */
struct paxos__slot {
    bool present;        /* an accepted (or chosen) value is held */
    bool chosen;         /* known chosen (committed or learned) */
    uint8_t type;        /* enum paxos_entry_type */
    paxos_ballot ballot; /* accepted under this ballot */
    uint32_t len;
    uint8_t *data;      /* owned, malloc'ed; NULL when len == 0 */
    uint64_t self_seq;  /* persist_seq that makes our accept durable */
    uint32_t acks;      /* leader: peer-index bits of voters that accepted */
    uint64_t dirty_gen; /* == r->gen when written in the current step */
};

/* Peers are every node ever seen in a configuration; indexes are stable. */
struct paxos__peer {
    paxos_node_id id;
    paxos_slot match;          /* leader: highest slot it acknowledged (progress) */
    tt_micros catchup_sent_us; /* last catch-up we sent it / asked it for */
};

/* A value recovered in phase 1 for one open slot (highest ballot wins). */
struct paxos__recov {
    bool present;
    uint8_t type;
    paxos_ballot ballot;
    uint32_t len;
    uint8_t *data; /* owned */
};

struct paxos__campaign {
    paxos_ballot ballot;
    struct paxos_membership config; /* in effect at `from` */
    paxos_slot from;                /* first open slot: commit + 1 at start */
    uint32_t promised;              /* peer bits of voters that promised */
    uint32_t prepared;              /* peer bits PREPARE was sent to */
    uint32_t prevoted;              /* PRECANDIDATE: peer bits that said yes */
    uint64_t self_seq;              /* our own promise is durable at this seq */
    tt_micros lease_start_us;       /* our now.earliest when PREPARE went out */
    tt_micros grant_max_us;         /* max grantor now.earliest among grants */
    uint32_t granted;               /* peer bits that granted the lease */
    uint32_t n_recov;               /* capacity = msg_entries_max */
    struct paxos__recov *recov;     /* recov[i] is slot from + i */
    paxos_slot recov_last;          /* highest slot with a recovered value */
};

/* One outstanding lease request (renewal round) of the leader. */
struct paxos__lease_round {
    tt_micros start_us;     /* leader's now.earliest when sent; 0 = unused */
    uint32_t granted;       /* peer bits */
    uint64_t self_seq;      /* our own grant is durable at this seq */
    tt_micros grant_max_us; /* max grantor now.earliest */
    paxos_slot config_slot; /* r->config_slot when the round started */
};

enum paxos__state { PAXOS__FOLLOWER = 0, PAXOS__PRECANDIDATE, PAXOS__CANDIDATE, PAXOS__LEADER };

/* A growable array of T, reset every step. */
struct paxos__arena_block {
    struct paxos__arena_block *next;
    size_t used, cap;
    unsigned char mem[];
};

struct paxos__proposal {
    uint32_t len;
    uint8_t *data; /* owned */
};

struct paxos_replica {
    struct paxos_config cfg;
    uint64_t prng; /* used when cfg.random is NULL */
    bool failed;
    enum paxos__state state;

    struct paxos_hard_state hs;
    struct paxos_membership config; /* in effect for slot hs.commit + 1 */
    paxos_slot config_slot;         /* slot of the CONFIG entry behind it */

    /* The log: slots base_slot+1 .. last, ring of log_max, slot % log_max. */
    struct paxos__slot *log;
    paxos_slot last;          /* highest slot present (>= hs.base_slot) */
    paxos_slot applied;       /* highest slot handed out in update.committed */
    paxos_slot snapshot_slot; /* app's durable snapshot covers <= this */

    struct paxos__peer peers[PAXOS_NODES_MAX];
    uint32_t n_peers;

    /* Leadership as seen from here. */
    paxos_ballot leader_ballot; /* ballot of the leader we follow or are */
    paxos_ballot seen_ballot;   /* highest ballot seen anywhere */
    tt_micros election_due_us;  /* campaign once now.earliest passes this */
    struct paxos__campaign camp;

    /* Leader only. */
    paxos_slot next_slot;          /* next slot to propose */
    struct paxos__proposal *queue; /* PAXOS_PROPOSE_MAX ring */
    uint32_t queue_head, queue_len;
    struct paxos__lease_round rounds[PAXOS_LEASE_ROUNDS];
    uint32_t round_next;
    tt_micros lease_start_us, lease_end_us; /* end 0: no lease */
    bool lease_config_ok;                   /* a round begun under `config` reached its quorum */
    tt_micros s_max;
    tt_micros heartbeat_due_us;
    paxos_slot change_slot; /* slot of an unchosen CONFIG entry; 0 none */
    paxos_slot unsent_from; /* first slot proposed this step; 0 none */

    /* Durability of our own writes. */
    uint64_t durable_seq; /* highest persist_seq reported done */
    uint64_t last_seq;    /* highest persist_seq handed out */

    /* The update being built during one step. */
    uint64_t gen; /* step counter, for slot dirty marks */
    struct tt_interval now;
    struct paxos__arena_block *arena;
    bool hs_dirty, sync_needed;
    paxos_slot truncate_through;
    paxos_slot *dirty; /* slots written this step */
    uint32_t n_dirty;
    struct paxos_msg *msgs; /* growable */
    uint32_t n_msgs, cap_msgs;
    bool snapshot_needed;
    paxos_node_id snapshot_from;
    paxos_slot snapshot_slot_wanted; /* offered by a peer; 0 none */
    struct paxos_membership snapshot_membership;
};

#define PAXOS__MSGS_MAX 4096 /* messages in one update */

/* replica.c */
void *paxos__alloc(struct paxos_replica *r, size_t size);
struct paxos_msg *paxos__msg(struct paxos_replica *r, enum paxos_msg_type type, paxos_node_id to);
struct paxos__slot *paxos__slot_get(struct paxos_replica *r, paxos_slot s);
int paxos__slot_put(struct paxos_replica *r, paxos_slot s, paxos_ballot b, uint8_t type,
                    const uint8_t *data, uint32_t len);
void paxos__hs_changed(struct paxos_replica *r, bool sync);
uint64_t paxos__pending_seq(const struct paxos_replica *r);
bool paxos__durable(const struct paxos_replica *r, uint64_t seq);
uint64_t paxos__random(struct paxos_replica *r);
int paxos__peer_index(struct paxos_replica *r, paxos_node_id id);
void paxos__entry_out(const struct paxos_replica *r, paxos_slot s, struct paxos_entry *e);
void paxos__advance_commit(struct paxos_replica *r);
void paxos__set_failed(struct paxos_replica *r);
void paxos__step_begin(struct paxos_replica *r, struct tt_interval now);
void paxos__step_end(struct paxos_replica *r, struct paxos_update *up);

/* election.c */
void paxos__election_tick(struct paxos_replica *r);
void paxos__on_prepare(struct paxos_replica *r, const struct paxos_msg *m);
void paxos__on_promise(struct paxos_replica *r, const struct paxos_msg *m);
void paxos__on_release(struct paxos_replica *r, const struct paxos_msg *m);
void paxos__on_prevote(struct paxos_replica *r, const struct paxos_msg *m);
void paxos__on_prevote_reply(struct paxos_replica *r, const struct paxos_msg *m);
void paxos__campaign_check(struct paxos_replica *r);
void paxos__campaign_free(struct paxos_replica *r);
void paxos__step_down(struct paxos_replica *r, paxos_ballot seen);
void paxos__follow(struct paxos_replica *r, paxos_ballot b);
void paxos__reset_election_timer(struct paxos_replica *r);
bool paxos__grant_lease(struct paxos_replica *r, paxos_ballot b);
tt_micros paxos__lease_request(struct paxos_replica *r);
void paxos__on_lease_reply(struct paxos_replica *r, int peer, const struct paxos_msg *m);
void paxos__lease_check(struct paxos_replica *r);

/* replication.c */
int paxos__propose(struct paxos_replica *r, const void *data, uint32_t len);
void paxos__flush(struct paxos_replica *r);
void paxos__on_accept(struct paxos_replica *r, const struct paxos_msg *m);
void paxos__on_accepted(struct paxos_replica *r, const struct paxos_msg *m);
void paxos__leader_commit(struct paxos_replica *r);
void paxos__leader_tick(struct paxos_replica *r);
void paxos__send_accept(struct paxos_replica *r, int peer, paxos_slot lo, paxos_slot hi,
                        bool only_unacked);
void paxos__propose_entry(struct paxos_replica *r, uint8_t type, const uint8_t *data, uint32_t len);
void paxos__queue_free(struct paxos_replica *r);

/* catchup.c */
void paxos__request_catchup(struct paxos_replica *r, paxos_node_id from);
void paxos__on_catchup_req(struct paxos_replica *r, const struct paxos_msg *m);
void paxos__on_catchup(struct paxos_replica *r, const struct paxos_msg *m);
void paxos__on_snapshot_msg(struct paxos_replica *r, const struct paxos_msg *m);
int paxos__snapshot_taken(struct paxos_replica *r, paxos_slot slot);
int paxos__snapshot_installed(struct paxos_replica *r, paxos_slot slot);

/* membership.c */
void paxos__config_after(struct paxos_replica *r, paxos_slot s, struct paxos_membership *out);
bool paxos__is_voter(const struct paxos_membership *c, paxos_node_id id);
bool paxos__is_member(const struct paxos_membership *c, paxos_node_id id);
bool paxos__quorum(struct paxos_replica *r, const struct paxos_membership *c, uint32_t bits);
uint32_t paxos__member_bits(struct paxos_replica *r, const struct paxos_membership *c);
uint32_t paxos__targets(struct paxos_replica *r);
int paxos__change(struct paxos_replica *r, enum paxos_change_op op, paxos_node_id node,
                  enum paxos_role role);
uint32_t paxos__config_encode(const struct paxos_membership *c, uint8_t *buf, uint32_t cap);
void paxos__config_committed(struct paxos_replica *r, paxos_slot s);
void paxos__config_rebuild(struct paxos_replica *r);

#endif /* PAXOS_INT_H */

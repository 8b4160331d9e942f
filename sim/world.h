/*
 * world.h - a deterministic world for transaction nodes (txn_node): N nodes
 * in zones, each with an in-memory RocksDB txn_store and its Paxos durable
 * state kept by the world, a simulated network, disks and clocks, clients
 * running a bank workload, a history and its checkers. One seed, one run.
 * The seed of the later simulator (sim/); nothing in it is specific to one
 * test, and scenario tests drive it through the functions below.
 *
 * Model
 *   time     one virtual true time (us). Node i's clock reads true + offset_i
 *            with |offset_i| <= eps and reports [c - eps, c + eps], which
 *            always holds true time.
 *   network  per zone-pair latency plus jitter (messages reorder), drop
 *            probability between nodes, partitions (a cut set of nodes).
 *            Client <-> node messages are not dropped, but vanish with a
 *            crashed node (clients time out).
 *   disk     every update's persist batches complete after a latency, in
 *            order; then its messages and replies leave (persist before
 *            send) and the node gets TXN_NODE_EV_PERSISTED. A crash loses
 *            queued batches and a random suffix of the written but unsynced
 *            ones (paxos_update.sync == false); the store (in-memory RocksDB
 *            env kept across the crash) keeps what it applied.
 *   clients  bank transfers between accounts spread over groups (single
 *            group commits and 2PC), and read-only transactions reading all
 *            accounts at one timestamp (strong, or bounded staleness).
 *
 * The simulator (spanner-sim, sim_main.c) runs the same world with more:
 * workloads register and list-append besides bank, a history in the
 * checker's JSON-lines format (sim/README.md), and faults chosen by a mask
 * (crash, pause, partitions of several shapes, leader kill, message loss,
 * duplication, reordering, slow links, slow disks and torn unsynced writes,
 * clock steps and widening inside the reported eps, a deposed leader cut off
 * from its group but not from clients, and the negative control: clocks
 * outside their eps).
 *
 * Checkers (w_world_check, and continuously for totals):
 *   total      every read-only transaction sees the constant total;
 *   external   if T1's commit reply came before T2 started (true time),
 *              ts(T1) < ts(T2); if a write's reply came before a read-only
 *              transaction started, s_read >= its ts;
 *   snapshot   a read at t returning version v of k: no acknowledged commit
 *              wrote k in (v, t]; two reads of k at t agree;
 *   stuck      after the heal, no node holds a prepared transaction and
 *              every account reads back (w_world_settle).
 *
 * Reproduce: the failure message names the seed; TXN_SEED=<seed> replays
 * one seed and TXN_VERBOSE=1 traces it.
 */
#ifndef TXN_WORLD_H
#define TXN_WORLD_H

#include "txn.h"

#include <stdbool.h>
#include <stdint.h>

#include <stdio.h>

#define W_NODES_MAX    9
#define W_GROUPS_MAX   8
#define W_CLIENTS_MAX  32
#define W_ACCOUNTS_MAX 32
#define W_REPLICAS_MAX 4 /* per group: 3 voters and, with read_only, one more */

enum w_workload {
    W_BANK = 0,     /* transfers between accounts; read-only txns read them all */
    W_REGISTER,     /* reads and blind writes of unique values, 1-3 keys */
    W_LIST_APPEND,  /* reads of whole lists and appends of unique values */
};

/* Faults (w_params.faults). With none set, the older knobs below
 * (crash_every_us, partitions, drop_pct) drive the chaos instead. */
enum w_fault {
    W_F_CRASH = 1u << 0,     /* a node crashes, restarts after a while */
    W_F_PAUSE = 1u << 1,     /* a node stops taking steps (GC pause, VM stall) */
    W_F_PARTITION = 1u << 2, /* one node, halves, one zone, or a bridge */
    W_F_LEADER = 1u << 3,    /* the leader of a random group crashes */
    W_F_DROP = 1u << 4,      /* a window of node <-> node message loss */
    W_F_DUP = 1u << 5,       /* a window of duplicated messages */
    W_F_REORDER = 1u << 6,   /* a window of 10x jitter */
    W_F_SLOW = 1u << 7,      /* a window where one zone pair's links are 10x slower */
    W_F_DISK = 1u << 8,      /* slow disks; crashes keep, drop or garble unsynced writes */
    W_F_CLOCK = 1u << 9,     /* clock steps and eps widening, inside the reported eps */
    W_F_CLOCK_BAD = 1u << 10, /* negative control: a clock outside its reported eps */
    W_F_DEPOSE = 1u << 11,   /* a group's leader is cut off from its peers, not from
                              * clients, for longer than its lease */
    W_F_ALL = ((1u << 12) - 1) & ~W_F_CLOCK_BAD, /* every fault but the negative control */
};

/* One fault of a schedule: kind (one enum w_fault bit) at at_us after the
 * start, at node (0-based; -1 any; for W_F_LEADER and W_F_DEPOSE the group
 * id, -1 any). */
struct w_scheduled {
    tt_micros at_us;
    uint32_t kind;
    int node;
};

/* Parses a schedule "300ms:crash:2,1s:partition,1500ms:leader:1" (times in
 * ms, s or us; nodes 1-based, groups for leader) into out[0..*n). 0, or -1
 * with the bad item in bad. */
int w_schedule_parse(const char *s, struct w_scheduled *out, uint32_t max, uint32_t *n, char *bad,
                     size_t bad_len);

/* Parses "crash,partition,..." ("all", "none"); 0 or -1 naming the bad item. */
int w_faults_parse(const char *s, uint32_t *out, char *bad, size_t bad_len);
/* Writes the names of the faults in mask to buf ("none" for 0). */
const char *w_faults_format(uint32_t mask, char *buf, size_t len);

struct w_params {
    uint64_t seed;
    uint32_t nodes;   /* 3..W_NODES_MAX; every group has 3 voters */
    bool read_only;   /* every group also has a read-only replica (nodes >= 4);
                       * snapshot and strong reads go to any replica */
    uint32_t zones;   /* nodes are spread round-robin over zones */
    uint32_t groups;  /* 1..W_GROUPS_MAX */
    uint32_t clients; /* 0..W_CLIENTS_MAX */
    uint32_t accounts;
    int64_t balance;       /* initial balance of each account */
    tt_micros eps_us;      /* clock uncertainty */
    bool extreme_offsets;  /* offsets of +-eps (else uniform in [-eps, eps]) */
    tt_micros lat_zone_us; /* one-way latency inside a zone */
    tt_micros lat_wan_us;  /* between zones */
    tt_micros jitter_us;
    tt_micros disk_us;
    uint32_t drop_pct;        /* node <-> node loss during chaos */
    tt_micros crash_every_us; /* mean gap between faults in chaos; 0: none */
    bool partitions;          /* faults are crashes or partitions, half each */
    tt_micros down_us;        /* how long a crashed node stays down */
    tt_micros lease_us;
    tt_micros run_us;     /* clients issue operations until then */
    uint32_t ro_pct;      /* share of read-only transactions */
    uint32_t stale_pct;   /* share of those at bounded staleness */
    bool commit_wait_off; /* negative control */
    bool read_lease_check_off; /* negative control: txn_node_config's, on every node */
    /* negative control: a client whose COMMIT got no answer (or "unknown")
     * guesses "aborted" and runs the transaction again, instead of asking
     * again with retry set (the wrong answer of issue 16) */
    bool client_guesses;
    bool verbose;
    /* ---- the simulator's additions (w_params_init leaves them off) ---- */
    enum w_workload workload;
    uint32_t keys;       /* register and list-append: keys in use at a time */
    uint64_t txns;       /* > 0: clients start this many operations, then stop
                          * (run_us is ignored) */
    uint32_t faults;     /* enum w_fault mask */
    tt_micros fault_every_us; /* mean gap between fault starts */
    bool init_accounts;  /* bank: a first transaction writes every balance */
    bool no_inline_checks; /* leave checking to the history checker */
    /* Faults at fixed times (after the start), besides the random ones. */
    const struct w_scheduled *schedule;
    uint32_t schedule_n;
    FILE *history;       /* every operation as a JSON line, or NULL */
    FILE *log;           /* faults and node events, one line each, or NULL */
};

void w_params_init(struct w_params *p, uint64_t seed);

struct w_stats {
    uint64_t events, steps;
    uint32_t commits_ok, commits_2pc_ok, commits_unknown, aborts;
    uint32_t ro_ok, ro_failed;
    uint32_t reads_at_read_only; /* group reads served by a read-only replica */
    uint32_t crashes, partitions;
    uint32_t pauses, leader_kills, clock_faults, clock_bad, net_faults, disk_faults;
    uint32_t deposed;     /* leaders cut off from their group (W_F_DEPOSE) */
    uint32_t garbled;     /* unsynced writes torn by a crash */
    uint64_t msgs_duplicated;
    uint64_t ops_started;
    uint32_t truncations; /* Paxos log truncations after snapshots */
    uint64_t msgs_sent, msgs_dropped;
    tt_micros end_us;
};

struct w_world;

struct w_world *w_world_create(const struct w_params *p);
void w_world_destroy(struct w_world *w);
/* Runs until true time t (clients act only before params.run_us).
 * Returns 0 or SP_ESIM_VIOLATION. */
int w_world_run_until(struct w_world *w, tt_micros t);
/* Heals faults, lets clients finish, waits until no prepared transaction
 * remains anywhere, and checks the history. 0 or SP_ESIM_VIOLATION. */
int w_world_settle(struct w_world *w, tt_micros max_us);
int w_world_check(struct w_world *w);
const char *w_world_violation(const struct w_world *w);
const struct w_stats *w_world_stats(const struct w_world *w);
tt_micros w_world_now(const struct w_world *w);

/* Writes the history lines still owed: operations still in flight as
 * "unknown" (their writes may or may not have taken effect), and the
 * commits the client gave up on, with the timestamp (or the abort) a reply
 * that came after the client left told. w_world_settle calls it; call it
 * for a run cut short. */
void w_world_flush_history(struct w_world *w);

/* Runs one seed end to end: chaos, settle, check. */
int w_run(const struct w_params *p, struct w_stats *stats, char *why, size_t why_len);

/* ---- for scripted scenarios --------------------------------------------- */

void w_world_crash(struct w_world *w, uint32_t node);
void w_world_restart(struct w_world *w, uint32_t node);
bool w_world_up(const struct w_world *w, uint32_t node);
/* Cuts every link between nodes in bitmask a and the others. */
void w_world_partition(struct w_world *w, uint32_t a);
void w_world_heal(struct w_world *w);
struct txn_node *w_world_node(struct w_world *w, uint32_t node);
/* Index of an up node leading group g (caught up), or -1. */
int w_world_leader(struct w_world *w, txn_group_id g);
/* Nodes holding a replica of g (count, <= W_REPLICAS_MAX; 0-based node
 * indexes; the first 3 are voters, a 4th is read-only). */
uint32_t w_world_replicas(const struct w_world *w, txn_group_id g, uint32_t *nodes);
/* Called after every node step (tests inject faults at exact points). */
void w_world_set_hook(struct w_world *w, void (*fn)(struct w_world *, uint32_t node, void *),
                      void *ctx);
/* Group of account k; the group ids are 1..groups. */
txn_group_id w_account_group(const struct w_world *w, uint32_t account);

/* A scripted transfer of amount from account a to b, by a fresh client
 * slot; w_world_op_done/op_status report its end. Returns a handle. */
int w_world_transfer(struct w_world *w, uint32_t a, uint32_t b, int64_t amount);
/* A scripted read-only transaction over all accounts: strong (mode
 * TXN_READ_STRONG, or TXN_READ_STRONG_SINGLE when groups == 1). */
int w_world_read_all(struct w_world *w);
/* A read-only transaction over all accounts at exact timestamp ts, at
 * random replicas. */
int w_world_read_all_at(struct w_world *w, tt_micros ts);
/* Called before a client request is delivered to a node; returning false
 * drops it (a test crashes the node there, for instance). */
void w_world_set_request_hook(struct w_world *w,
                              bool (*fn)(struct w_world *, uint32_t node,
                                         const struct txn_request *, void *),
                              void *ctx);
bool w_world_op_done(const struct w_world *w, int op);
int w_world_op_status(const struct w_world *w, int op);
/* Values read by a finished read-all op (balance of account k). */
int64_t w_world_op_balance(const struct w_world *w, int op, uint32_t account);
tt_micros w_world_op_ts(const struct w_world *w, int op);
/* True times at which the op was invoked and completed. */
void w_world_op_times(const struct w_world *w, int op, tt_micros *invoke, tt_micros *complete);
/* Reads account k's newest committed version at a node's store directly. */
int64_t w_world_peek(struct w_world *w, uint32_t node, uint32_t account, tt_micros t);

#endif /* TXN_WORLD_H */

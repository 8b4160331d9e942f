/*
 * world_int.h - private to sim/world*.c: the world's structures (events,
 * nodes with their Paxos logs and disk queues, operations, clients, the
 * world itself) and the internal functions (w__*) that one file of the
 * world calls in another. Only sim/world*.c include it; tests and
 * spanner-sim use world.h.
 *
 * The world, by concern:
 *   world.c          create and destroy, the event queue and the loop that
 *                    runs it, settle, and the public glue (params, stats,
 *                    hooks, leader lookup);
 *   world_clock.c    each node's clock: offset, drift, its TrueTime interval;
 *   world_net.c      the network: latency, cuts, sending batches, delivering
 *                    messages and requests, and the deep copies they travel as;
 *   world_disk.c     nodes and their disks: configuration, stepping, updates
 *                    (persist before send), the Paxos log as persisted, the
 *                    apply rounds, crash and restart;
 *   world_faults.c   fault parsing, scheduling, the start and end of every kind;
 *   world_client.c   the clients: workloads, transactions, read-only reads,
 *                    routing, retries, the scripted operations;
 *   world_history.c  the history lines, late replies, w_world_check.
 */
#ifndef SIM_WORLD_INT_H
#define SIM_WORLD_INT_H

#include "world.h"

#include "sp_assert.h"

#include <stdlib.h>
#include <string.h>

#define W_EVENTS_MAX   (1u << 21) /* queued events; a runaway is a bug */
#define W_STEPS_MAX    (1u << 23) /* node steps in one run */
#define W_OPS_MAX      (1u << 24)
#define W_SCRIPTED     16
#define W_SLOTS_CLIENT (W_CLIENTS_MAX + W_SCRIPTED)
#define W_VOTERS       3 /* voters per group; a read-only replica may follow */
#define READ_TIMEOUT   (300 * 1000)
#define RO_TIMEOUT     (1500 * 1000)
#define COMMIT_TIMEOUT (1500 * 1000)
#define ATTEMPTS_MAX   200
#define COMMIT_ASKS_MAX 4 /* a COMMIT sent again, with retry set, after no answer */
#define GIVE_UP_US     (1000 * 1000) /* after run_us, failed attempts are not retried */
#define OP_KEYS_MAX    W_ACCOUNTS_MAX /* keys one operation touches */
#define LIST_WINDOW    256            /* list-append: operations per key window */
#define W_DEFERRED_MAX 65536          /* unknown outcomes awaiting a late reply */

enum w_kind {
    W_DELIVER = 1,
    W_REQUEST,
    W_REPLY,
    W_DISK_DONE,
    W_TICK,
    W_CLIENT_TIMER,
    W_CRASH,
    W_RESTART,
    W_HEAL,
    W_FAULT,    /* the fault scheduler: start one */
    W_FAULT_END /* arg: the enum w_fault that ends */
};

struct w_event {
    tt_micros at;
    uint64_t seq;
    enum w_kind kind;
    uint32_t node, epoch;
    void *ptr;
    uint64_t arg;
};

/* One node's Paxos durable state for one group, as persisted. */
struct w_plog {
    struct paxos_hard_state hs;
    struct paxos_entry *slots; /* indexed by slot; data owned; len 0 + data NULL = absent */
    bool *present;
    size_t cap;
    paxos_slot truncated; /* every slot <= this has been dropped */
};

struct w_batch {
    struct w_batch *next;
    uint32_t persists_n;
    struct txn_node_persist *persists; /* deep copies */
    uint32_t msgs_n;
    struct txn_node_msg **msgs;
    uint32_t replies_n;
    struct txn_reply **replies;
};

struct w_unsynced {
    struct w_unsynced *next;
    txn_group_id group;
    struct paxos_update pu; /* entries owned */
};

struct w_node {
    txn_node_id id;
    uint32_t zone;
    bool up;
    uint32_t epoch;
    tt_micros offset_us; /* at offset_t0; drifts by drift_ppm since */
    tt_micros offset_t0;
    int32_t drift_ppm;
    tt_micros eps_us;    /* the uncertainty this node's TrueTime reports */
    tt_micros floor_us;  /* earliest never goes backwards (as truetime.c) */
    bool clock_bad;      /* the negative control: offset outside eps */
    tt_micros paused_until;
    uint32_t disk_slow;  /* disk latency multiplier (1: normal) */
    struct rocksdb_env_t *env;
    struct txn_store *store;
    struct txn_node *tn;
    struct w_plog plog[W_GROUPS_MAX + 1]; /* by group id */
    struct w_batch *queue, *queue_tail;
    /* Written but not synced (paxos_update.sync == false): folded into plog
     * by the next synced write; a crash keeps only a random prefix. */
    struct w_unsynced *unsynced, *unsynced_tail;
    uint32_t unsynced_n;
    tt_micros disk_free_at;
    tt_micros tick_at;
    bool round_open; /* an apply round (txn_node_round_begin) since the last disk write */
};

enum op_kind { OP_TRANSFER = 1, OP_READ = 2 };

/* What an operation does to one key. */
enum item_f {
    IT_READ = 1,     /* read (recorded) */
    IT_WRITE = 2,    /* register: blind write of a unique value */
    IT_APPEND = 4,   /* list-append: read the list, write it with one more */
    IT_TRANSFER = 8, /* bank: read the balance, write it +- amount */
};

struct w_item {
    uint32_t key;
    uint8_t f;        /* enum item_f bits */
    bool found;       /* the read found a value (else null) */
    tt_micros ver;    /* version read */
    char *read;       /* value read (owned; NULL: none) */
    char *wrote;      /* register value / appended element / new balance (owned) */
    uint64_t element; /* list-append: the appended value */
};

struct w_op {
    enum op_kind kind;
    bool done, scripted, is_2pc;
    bool snapshot; /* a read at a chosen past timestamp (stale or exact) */
    bool single;   /* a strong read of one group, at its LastTS() */
    bool logged;
    bool deferred; /* unknown: its history line waits for a late reply */
    uint64_t commit_req; /* the last COMMIT request's id */
    tt_micros late_ts;   /* a commit reply that came after the client gave up */
    bool late_abort;
    int status;
    tt_micros invoke, complete, ts;
    uint32_t client;
    int64_t amount; /* bank: moved from item 0 to item 1 */
    uint32_t n_items;
    struct w_item *items;
};

enum c_phase { C_IDLE = 0, C_READ, C_COMMIT, C_RO, C_BACKOFF };

struct w_client {
    uint32_t idx;
    bool workload;
    enum c_phase phase;
    int op;
    txn_id txn;
    tt_micros start_ts;
    uint32_t attempts;
    uint32_t commit_asks; /* times the current COMMIT went again (retry set) */
    uint64_t req_lo; /* replies to older requests are stale */
    uint32_t pending;
    tt_micros timer_at;
    uint32_t leader[W_GROUPS_MAX + 1]; /* node index guessed to lead each group */
    uint32_t zone;
    /* The current operation's groups, in first-use order; reads per group. */
    uint32_t n_groups;
    txn_group_id groups[W_GROUPS_MAX];
    uint64_t read_req[W_GROUPS_MAX];
    uint32_t ro_gi; /* index of the group a read-only op reads next */
    tt_micros s_read;
    enum txn_read_mode ro_mode;
    tt_micros fixed_ts; /* read-all at an exact timestamp, 0: strong or stale */
    uint32_t ro_node;   /* where the current group read went */
};

struct w_world {
    struct w_params p;
    uint64_t rng;
    tt_micros now;
    uint64_t seq, req_seq, txn_seq;
    struct w_event *heap;
    uint32_t heap_n, heap_cap;
    uint32_t n;
    struct w_node nodes[W_NODES_MAX];
    uint32_t cut_a, cut_b; /* links between a node of a and one of b are cut */
    /* W_F_DEPOSE: links between the deposed leader (a bit mask) and the
     * other replicas of its group are cut; its clients still reach it. */
    uint32_t depose_a, depose_b;
    txn_group_id depose_g;
    bool chaos;
    bool stopped;          /* clients start no new operation */
    int init_op;           /* bank: the op writing the initial balances, or -1 */
    struct w_event current; /* the event being run */
    uint32_t deferred[W_DEFERRED_MAX]; /* unknown ops whose line waits */
    uint32_t deferred_n;
    bool history_final;
    bool clock_bad_ever;    /* some clock left its bound (negative control) */
    tt_micros pair_us[W_NODES_MAX][W_NODES_MAX]; /* one-way latency per zone pair */
    uint64_t value_seq;    /* unique register values and list elements */
    /* Fault windows in progress (enum w_fault bits) and their parameters. */
    uint32_t active;
    uint32_t slow_za, slow_zb;
    uint32_t fault_at[16]; /* per fault kind (bit index): its window's node */
    struct w_client clients[W_SLOTS_CLIENT];
    struct w_op *ops;
    uint32_t ops_n, ops_cap;
    struct w_stats stats;
    void (*hook)(struct w_world *, uint32_t, void *);
    void *hook_ctx;
    bool (*req_hook)(struct w_world *, uint32_t, const struct txn_request *, void *);
    void *req_hook_ctx;
    char violation[512];
};

/* ---- utilities --------------------------------------------------------------- */

static inline uint64_t w__rnd(struct w_world *w)
{
    uint64_t x = w->rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return w->rng = x;
}

static inline uint64_t w__rnd_below(struct w_world *w, uint64_t n)
{
    SP_ASSERT(n > 0);
    return w__rnd(w) % n;
}

static inline void *w__xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    SP_ASSERT(p != NULL);
    return p;
}

static inline void *w__xdup(const void *src, size_t len)
{
    if (len == 0 || src == NULL)
        return NULL;
    void *p = w__xmalloc(len);
    memcpy(p, src, len);
    return p;
}

/* Records the run's first violation, with the seed and the time (world.c). */
void w__violate(struct w_world *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The event log (params.log): faults and outcomes, one line each, on
 * virtual time only, so a seed's log is byte-identical run to run. */
void w__wlog(struct w_world *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define TRACE(w, ...)                                                                              \
    do {                                                                                           \
        if ((w)->p.verbose) {                                                                      \
            fprintf(stderr, "[%9lld] ", (long long) (w)->now);                                     \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
        }                                                                                          \
    } while (0)


/* ---- world.c: the event queue ------------------------------------------------------- */

/* Queues an event at `at` (not before now), for node (its current epoch). */
void w__push(struct w_world *w, tt_micros at, enum w_kind kind, uint32_t node, void *ptr,
             uint64_t arg);

/* ---- world_clock.c ---------------------------------------------------------------- */

void w__clock_set(struct w_world *w, uint32_t i, tt_micros offset, tt_micros eps);
struct tt_interval w__node_now(struct w_world *w, uint32_t i);
tt_micros w__true_at(struct w_world *w, uint32_t i, tt_micros t);

/* ---- world_net.c ------------------------------------------------------------------ */

tt_micros w__latency(struct w_world *w, uint32_t za, uint32_t zb);
struct paxos_entry *w__copy_entries(const struct paxos_entry *e, uint32_t n);
void w__free_entries(struct paxos_entry *e, uint32_t n);
struct txn_node_msg *w__copy_msg(const struct txn_node_msg *m);
void w__free_msg(struct txn_node_msg *m);
struct txn_reply *w__copy_reply(const struct txn_reply *r);
void w__free_reply(struct txn_reply *r);
struct txn_request *w__copy_request(const struct txn_request *q);
/* Sends a batch's messages and replies (it is durable) and frees it. */
void w__send_batch(struct w_world *w, uint32_t i, struct w_batch *b);
/* Frees what an event owns (a message, request or reply). */
void w__free_event(struct w_event *e);
/* Hands a W_DELIVER or W_REQUEST event to its node. */
void w__deliver(struct w_world *w, struct w_event *e);

/* ---- world_disk.c ----------------------------------------------------------------- */

void w__plog_free(struct w_plog *l);
/* Does node hold a replica of group g? */
bool w__hosts(const struct w_world *w, uint32_t node, txn_group_id g);
void w__step_node(struct w_world *w, uint32_t i, struct txn_node_event *ev);
void w__free_batch(struct w_batch *b, bool msgs_sent);
/* The node's oldest queued disk batch completes (W_DISK_DONE). */
void w__disk_done(struct w_world *w, uint32_t i);
int w__node_open(struct w_world *w, uint32_t i);

/* ---- world_client.c --------------------------------------------------------------- */

size_t w__key_name(const struct w_world *w, uint32_t k, char *buf);
void w__op_free_items(struct w_op *op);
void w__client_timer(struct w_world *w, struct w_client *c, tt_micros at);
bool w__reply_stale(const struct w_client *c, const struct txn_reply *r);
void w__client_on_reply(struct w_world *w, struct w_client *c, const struct txn_reply *r);
void w__client_on_timer(struct w_world *w, struct w_client *c);
int w__init_accounts(struct w_world *w);

/* ---- world_history.c -------------------------------------------------------------- */

void w__history_write(struct w_world *w, struct w_op *op);
void w__late_reply(struct w_world *w, const struct txn_reply *r);
void w__history_fault(struct w_world *w, const char *what, int node, const char *detail);

/* ---- world_faults.c --------------------------------------------------------------- */

/* The older chaos (params.crash_every_us, without a fault mask). */
void w__schedule_crash(struct w_world *w);
void w__on_crash_event(struct w_world *w);
/* The fault mask (params.faults) and the schedule (params.schedule). */
void w__schedule_fault(struct w_world *w);
void w__on_fault(struct w_world *w);
void w__on_scheduled_fault(struct w_world *w, uint64_t arg);
void w__on_fault_end(struct w_world *w, uint32_t kind, uint32_t v);
void w__faults_heal(struct w_world *w);

#endif /* SIM_WORLD_INT_H */

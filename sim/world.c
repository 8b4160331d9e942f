/*
 * world.c - the deterministic world of world.h: event queue, network, disks,
 * clocks, node lifecycle (crash, restart), clients (bank workload), history
 * and checkers.
 *
 * Every random choice comes from one xorshift generator seeded by
 * params.seed, and events at equal times run in insertion order, so a seed
 * replays exactly.
 */
#include "world.h"

#include "sp_assert.h"

#include <rocksdb/c.h>
#include <stdarg.h>
#include <stdio.h>
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

static uint64_t rnd(struct w_world *w)
{
    uint64_t x = w->rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return w->rng = x;
}

static uint64_t rnd_below(struct w_world *w, uint64_t n)
{
    SP_ASSERT(n > 0);
    return rnd(w) % n;
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    SP_ASSERT(p != NULL);
    return p;
}

static void *xdup(const void *src, size_t len)
{
    if (len == 0 || src == NULL)
        return NULL;
    void *p = xmalloc(len);
    memcpy(p, src, len);
    return p;
}

static void violate(struct w_world *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void violate(struct w_world *w, const char *fmt, ...)
{
    if (w->violation[0] != '\0')
        return;
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(w->violation, sizeof w->violation, "seed %llu t=%lld: %s",
             (unsigned long long) w->p.seed, (long long) w->now, msg);
}

/* The event log (params.log): faults and outcomes, one line each, on
 * virtual time only, so a seed's log is byte-identical run to run. */
static void wlog(struct w_world *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void wlog(struct w_world *w, const char *fmt, ...)
{
    if (w->p.log == NULL)
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(w->p.log, "%lld ", (long long) w->now);
    vfprintf(w->p.log, fmt, ap);
    fputc('\n', w->p.log);
    va_end(ap);
}

#define TRACE(w, ...)                                                                              \
    do {                                                                                           \
        if ((w)->p.verbose) {                                                                      \
            fprintf(stderr, "[%9lld] ", (long long) (w)->now);                                     \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
        }                                                                                          \
    } while (0)

void w_params_init(struct w_params *p, uint64_t seed)
{
    memset(p, 0, sizeof *p);
    p->seed = seed;
    p->nodes = 3;
    p->zones = 3;
    p->groups = 3;
    p->clients = 4;
    p->accounts = 6;
    p->balance = 100;
    p->eps_us = 2000;
    p->lat_zone_us = 200;
    p->lat_wan_us = 1000;
    p->jitter_us = 300;
    p->disk_us = 100;
    p->lease_us = 1000 * 1000;
    p->run_us = 1500 * 1000;
    p->ro_pct = 30;
    p->stale_pct = 20;
}

/* ---- event queue ---------------------------------------------------------------- */

static bool ev_less(const struct w_event *a, const struct w_event *b)
{
    return a->at < b->at || (a->at == b->at && a->seq < b->seq);
}

/* Queues e as it is (its epoch too), after every event queued before it
 * for the same time. */
static void push_event(struct w_world *w, struct w_event e)
{
    SP_ASSERT(w->heap_n < W_EVENTS_MAX);
    if (w->heap_n == w->heap_cap) {
        w->heap_cap = w->heap_cap ? w->heap_cap * 2 : 1024;
        w->heap = realloc(w->heap, sizeof *w->heap * w->heap_cap);
        SP_ASSERT(w->heap != NULL);
    }
    e.seq = ++w->seq;
    uint32_t i = w->heap_n++;
    while (i > 0 && ev_less(&e, &w->heap[(i - 1) / 2])) {
        w->heap[i] = w->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    w->heap[i] = e;
}

static void push(struct w_world *w, tt_micros at, enum w_kind kind, uint32_t node, void *ptr,
                 uint64_t arg)
{
    struct w_event e = {at < w->now ? w->now : at, 0, kind, node, 0, ptr, arg};
    if (node < w->n)
        e.epoch = w->nodes[node].epoch;
    push_event(w, e);
}

static struct w_event pop(struct w_world *w)
{
    SP_ASSERT(w->heap_n > 0);
    struct w_event top = w->heap[0];
    struct w_event last = w->heap[--w->heap_n];
    uint32_t i = 0;
    for (;;) {
        uint32_t c = 2 * i + 1;
        if (c >= w->heap_n)
            break;
        if (c + 1 < w->heap_n && ev_less(&w->heap[c + 1], &w->heap[c]))
            c++;
        if (!ev_less(&w->heap[c], &last))
            break;
        w->heap[i] = w->heap[c];
        i = c;
    }
    if (w->heap_n > 0)
        w->heap[i] = last;
    return top;
}

/* ---- clocks and network ------------------------------------------------------------ */

/* Node i's clock offset from true time now. It drifts at drift_ppm; a
 * correct clock turns back before leaving its reported eps (a clock whose
 * fault mode is on does not: clock_bad). */
static tt_micros clock_offset(struct w_world *w, uint32_t i)
{
    struct w_node *nd = &w->nodes[i];
    tt_micros off = nd->offset_us + (w->now - nd->offset_t0) * nd->drift_ppm / 1000000;
    if (!nd->clock_bad && (off > nd->eps_us || off < -nd->eps_us)) {
        off = off > 0 ? nd->eps_us : -nd->eps_us;
        nd->offset_us = off;
        nd->offset_t0 = w->now;
        nd->drift_ppm = -nd->drift_ppm;
    }
    return off;
}

static void clock_set(struct w_world *w, uint32_t i, tt_micros offset, tt_micros eps)
{
    struct w_node *nd = &w->nodes[i];
    nd->offset_us = offset;
    nd->offset_t0 = w->now;
    nd->eps_us = eps;
}

/* Node i's TrueTime now. As truetime.c, earliest never goes backwards: a
 * clock stepped back shifts the interval up rather than narrowing it. */
static struct tt_interval node_now(struct w_world *w, uint32_t i)
{
    struct w_node *nd = &w->nodes[i];
    tt_micros c = w->now + clock_offset(w, i);
    struct tt_interval iv = {c - nd->eps_us, c + nd->eps_us};
    if (iv.earliest < nd->floor_us) {
        iv.latest += nd->floor_us - iv.earliest;
        iv.earliest = nd->floor_us;
    }
    nd->floor_us = iv.earliest;
    /* The control: a correct clock's interval holds true time (a clock left
     * outside its bound leaves a floor above true time for a while). */
    SP_ASSERT(nd->clock_bad || w->clock_bad_ever || (iv.earliest <= w->now && w->now <= iv.latest));
    return iv;
}

/* True time at which node i's now.earliest reaches t (at the current
 * offset; a tick that comes early just finds nothing due). */
static tt_micros true_at(struct w_world *w, uint32_t i, tt_micros t)
{
    return t - clock_offset(w, i) + w->nodes[i].eps_us;
}

static tt_micros latency(struct w_world *w, uint32_t za, uint32_t zb)
{
    tt_micros base = za == zb ? w->p.lat_zone_us : w->pair_us[za][zb];
    tt_micros jitter = w->p.jitter_us * ((w->active & W_F_REORDER) ? 10 : 1);
    if ((w->active & W_F_SLOW) &&
        ((za == w->slow_za && zb == w->slow_zb) || (za == w->slow_zb && zb == w->slow_za)))
        base *= 10;
    return base + (tt_micros) rnd_below(w, (uint64_t) jitter + 1);
}

static bool cut_between(const struct w_world *w, uint32_t a, uint32_t b)
{
    uint32_t ma = 1u << a, mb = 1u << b;
    return ((w->cut_a & ma) && (w->cut_b & mb)) || ((w->cut_a & mb) && (w->cut_b & ma)) ||
           ((w->depose_a & ma) && (w->depose_b & mb)) || ((w->depose_a & mb) && (w->depose_b & ma));
}

/* ---- deep copies ---------------------------------------------------------------- */

static struct paxos_entry *copy_entries(const struct paxos_entry *e, uint32_t n)
{
    if (n == 0)
        return NULL;
    struct paxos_entry *c = xdup(e, sizeof *e * n);
    for (uint32_t i = 0; i < n; i++)
        c[i].data = xdup(e[i].data, e[i].len);
    return c;
}

static void free_entries(struct paxos_entry *e, uint32_t n)
{
    for (uint32_t i = 0; e && i < n; i++)
        free((void *) e[i].data);
    free(e);
}

static struct txn_node_msg *copy_msg(const struct txn_node_msg *m)
{
    struct txn_node_msg *c = xdup(m, sizeof *m);
    if (m->is_paxos)
        c->paxos.entries = copy_entries(m->paxos.entries, m->paxos.n_entries);
    return c;
}

static void free_msg(struct txn_node_msg *m)
{
    if (m->is_paxos)
        free_entries((struct paxos_entry *) m->paxos.entries, m->paxos.n_entries);
    free(m);
}

static struct txn_reply *copy_reply(const struct txn_reply *r)
{
    struct txn_reply *c = xdup(r, sizeof *r);
    struct txn_value *v = r->values_n ? xdup(r->values, sizeof *v * r->values_n) : NULL;
    for (uint32_t i = 0; i < r->values_n; i++)
        v[i].value = xdup(r->values[i].value, r->values[i].value_len);
    c->values = v;
    return c;
}

static void free_reply(struct txn_reply *r)
{
    for (uint32_t i = 0; i < r->values_n; i++)
        free((void *) r->values[i].value);
    free((void *) r->values);
    free(r);
}

/* A request and everything it points to, in one allocation. */
static struct txn_request *copy_request(const struct txn_request *q)
{
    size_t bytes = sizeof *q + sizeof(struct txn_key) * q->keys_n +
                   sizeof(struct txn_write) * q->writes_n +
                   sizeof(txn_group_id) * q->participants_n;
    for (uint32_t i = 0; i < q->keys_n; i++)
        bytes += q->keys[i].key_len;
    for (uint32_t i = 0; i < q->writes_n; i++)
        bytes += q->writes[i].key_len + q->writes[i].value_len;
    uint8_t *blob = xmalloc(bytes);
    struct txn_request *c = (struct txn_request *) blob;
    *c = *q;
    struct txn_key *keys = (struct txn_key *) (c + 1);
    struct txn_write *ws = (struct txn_write *) (keys + q->keys_n);
    txn_group_id *parts = (txn_group_id *) (ws + q->writes_n);
    uint8_t *p = (uint8_t *) (parts + q->participants_n);
    for (uint32_t i = 0; i < q->keys_n; i++) {
        keys[i].key = memcpy(p, q->keys[i].key, q->keys[i].key_len);
        keys[i].key_len = q->keys[i].key_len;
        p += q->keys[i].key_len;
    }
    for (uint32_t i = 0; i < q->writes_n; i++) {
        ws[i] = q->writes[i];
        ws[i].key = memcpy(p, q->writes[i].key, q->writes[i].key_len);
        p += q->writes[i].key_len;
        ws[i].value =
            q->writes[i].value_len ? memcpy(p, q->writes[i].value, q->writes[i].value_len) : NULL;
        p += q->writes[i].value_len;
    }
    if (q->participants_n)
        memcpy(parts, q->participants, sizeof *parts * q->participants_n);
    c->keys = keys;
    c->writes = ws;
    c->participants = parts;
    SP_ASSERT((size_t) (p - blob) == bytes);
    return c;
}

/* ---- Paxos durable state ------------------------------------------------------------ */

static void plog_put(struct w_plog *l, const struct paxos_entry *e)
{
    if (e->slot >= l->cap) {
        size_t cap = l->cap ? l->cap : 64;
        while (cap <= e->slot)
            cap *= 2;
        l->slots = realloc(l->slots, sizeof *l->slots * cap);
        l->present = realloc(l->present, sizeof *l->present * cap);
        SP_ASSERT(l->slots && l->present);
        memset(l->present + l->cap, 0, sizeof *l->present * (cap - l->cap));
        l->cap = cap;
    }
    if (l->present[e->slot])
        free((void *) l->slots[e->slot].data);
    l->slots[e->slot] = *e;
    l->slots[e->slot].data = xdup(e->data, e->len);
    l->present[e->slot] = true;
}

static void plog_apply(struct w_plog *l, const struct paxos_update *pu)
{
    if (pu->hs_changed)
        l->hs = pu->hs;
    for (uint32_t i = 0; i < pu->n_entries; i++)
        plog_put(l, &pu->entries[i]);
    /* From the last truncation on: each slot is dropped once, not every
     * time (a loop from slot 1 made long runs quadratic). */
    for (paxos_slot s = l->truncated + 1; s <= pu->truncate_through && s < l->cap; s++) {
        if (l->present[s]) {
            free((void *) l->slots[s].data);
            l->present[s] = false;
        }
    }
    if (pu->truncate_through > l->truncated)
        l->truncated = pu->truncate_through;
}

static void plog_free(struct w_plog *l)
{
    for (size_t s = 0; s < l->cap; s++)
        if (l->present[s])
            free((void *) l->slots[s].data);
    free(l->slots);
    free(l->present);
    memset(l, 0, sizeof *l);
}

/* ---- nodes ------------------------------------------------------------------------------ */

uint32_t w_world_replicas(const struct w_world *w, txn_group_id g, uint32_t *nodes)
{
    SP_ASSERT(g >= 1 && g <= w->p.groups);
    uint32_t k = W_VOTERS + (w->p.read_only ? 1 : 0);
    SP_ASSERT(k <= W_REPLICAS_MAX && k <= w->n);
    for (uint32_t j = 0; j < k; j++)
        nodes[j] = (uint32_t) ((g - 1 + j) % w->n);
    return k;
}

static bool hosts(const struct w_world *w, uint32_t node, txn_group_id g)
{
    uint32_t r[W_REPLICAS_MAX];
    uint32_t k = w_world_replicas(w, g, r);
    for (uint32_t j = 0; j < k; j++)
        if (r[j] == node)
            return true;
    return false;
}

static void node_config(const struct w_world *w, uint32_t i, struct txn_node_config *cfg)
{
    txn_node_config_init(cfg);
    cfg->self = w->nodes[i].id;
    cfg->zone = w->nodes[i].zone;
    cfg->seed = w->p.seed * 31 + i + 1;
    cfg->commit_wait_off = w->p.commit_wait_off;
    cfg->read_lease_check_off = w->p.read_lease_check_off;
    cfg->query_period_us = 20 * 1000;
    cfg->vote_timeout_us = 200 * 1000;
    cfg->read_timeout_us = 1000 * 1000;
    cfg->idle_timeout_us = 1000 * 1000;
    /* Version GC: every 300 ms in the scripted tests; every 3 s in the
     * simulator's long runs, where each pass walks a group's versions (and
     * the tombstones of earlier passes) and cost 14% of the run at 300 ms. */
    cfg->gc_period_us = (w->p.txns ? 3000 : 300) * 1000;
    cfg->snapshot_every = 32; /* logs are truncated during the runs */
    for (txn_group_id g = 1; g <= w->p.groups; g++) {
        struct txn_directory_entry *d = &cfg->directory[cfg->directory_n++];
        uint32_t r[W_REPLICAS_MAX];
        uint32_t k = w_world_replicas(w, g, r);
        d->group = g;
        d->members.n = k;
        for (uint32_t j = 0; j < k; j++)
            d->members.m[j] = (struct paxos_member){w->nodes[r[j]].id,
                                                    j < W_VOTERS ? PAXOS_VOTER : PAXOS_READ_ONLY};
        if (!hosts(w, i, g))
            continue;
        struct txn_node_group_config *gc = &cfg->groups[cfg->groups_n++];
        gc->group = g;
        paxos_config_init(&gc->paxos);
        gc->paxos.self = cfg->self;
        gc->paxos.members = d->members;
        gc->paxos.lease_us = w->p.lease_us;
        gc->paxos.heartbeat_us = w->p.lease_us / 10;
        gc->paxos.election_timeout_us = w->p.lease_us / 3;
        gc->paxos.seed = cfg->seed + g;
        /* Below the last snapshot the log keeps more slots than a node misses
         * while down or cut off (snapshots are not transferred yet, see
         * txn.h): 256 in the scripted tests, whose short runs then still
         * truncate logs; 1536 in the simulator's long runs with many clients
         * (it must stay below log_max / 2). */
        gc->paxos.log_keep = w->p.txns ? 1536 : 256;
    }
}

static void schedule_tick(struct w_world *w, uint32_t i, tt_micros wake_us)
{
    struct w_node *nd = &w->nodes[i];
    if (wake_us == TT_MICROS_MAX)
        return;
    tt_micros at = true_at(w, i, wake_us);
    if (at < w->now)
        at = w->now;
    if (nd->tick_at > w->now && nd->tick_at <= at)
        return; /* an earlier tick is pending */
    nd->tick_at = at;
    push(w, at, W_TICK, i, NULL, (uint64_t) at);
}

static void send_batch(struct w_world *w, uint32_t i, struct w_batch *b);

/* Carries out a node update: its persists become one disk batch, and its
 * messages and replies leave only once it and every earlier batch are
 * durable (persist before send), except those that may leave at once
 * (txn_node_msg_may_leave_early), which go now, as spannerd sends them. */
static void handle_update(struct w_world *w, uint32_t i, const struct txn_node_update *up)
{
    struct w_node *nd = &w->nodes[i];
    struct w_batch *early = NULL;
    struct w_batch *b = calloc(1, sizeof *b);
    SP_ASSERT(b != NULL);
    b->persists_n = up->persists_n;
    b->persists = up->persists_n ? xdup(up->persists, sizeof *up->persists * up->persists_n) : NULL;
    for (uint32_t k = 0; k < up->persists_n; k++)
        b->persists[k].pu.entries =
            copy_entries(up->persists[k].pu.entries, up->persists[k].pu.n_entries);
    b->msgs = xmalloc(sizeof *b->msgs * (up->msgs_n + 1));
    for (uint32_t k = 0; k < up->msgs_n; k++) {
        if (!txn_node_msg_may_leave_early(&up->msgs[k])) {
            b->msgs[b->msgs_n++] = copy_msg(&up->msgs[k]);
            continue;
        }
        if (early == NULL) {
            early = calloc(1, sizeof *early);
            SP_ASSERT(early != NULL);
            early->msgs = xmalloc(sizeof *early->msgs * up->msgs_n);
        }
        early->msgs[early->msgs_n++] = copy_msg(&up->msgs[k]);
    }
    if (early != NULL)
        send_batch(w, i, early);
    b->replies_n = up->replies_n;
    b->replies = xmalloc(sizeof *b->replies * (up->replies_n + 1));
    for (uint32_t k = 0; k < up->replies_n; k++)
        b->replies[k] = copy_reply(&up->replies[k]);
    if (b->persists_n == 0 && nd->queue == NULL) {
        send_batch(w, i, b);
    } else {
        if (nd->queue_tail)
            nd->queue_tail->next = b;
        else
            nd->queue = b;
        nd->queue_tail = b;
        /* Batches complete in order; one without persists only waits for
         * the ones before it. */
        tt_micros start = nd->disk_free_at > w->now ? nd->disk_free_at : w->now;
        nd->disk_free_at = start + (b->persists_n ? w->p.disk_us * nd->disk_slow : 0);
        push(w, nd->disk_free_at, W_DISK_DONE, i, NULL, 0);
    }
    schedule_tick(w, i, up->wake_us);
}

static void step_node(struct w_world *w, uint32_t i, struct txn_node_event *ev)
{
    struct w_node *nd = &w->nodes[i];
    SP_ASSERT(nd->up && w->stats.steps < W_STEPS_MAX);
    ev->now = node_now(w, i);
    /* As spannerd's driver: the steps between two of the node's disk
     * writes are one apply round, written by end_round. */
    if (!nd->round_open) {
        txn_node_round_begin(nd->tn);
        nd->round_open = true;
    }
    struct txn_node_update up;
    int rc = txn_node_step(nd->tn, ev, &up);
    w->stats.steps++;
    TRACE(w, "node %u step %d group %llu -> rc %d, %u persists, %u msgs, %u replies, wake %lld",
          nd->id, (int) ev->type, (unsigned long long) ev->group, rc, up.persists_n, up.msgs_n,
          up.replies_n,
          (long long) (up.wake_us == TT_MICROS_MAX ? -1 : up.wake_us - ev->now.earliest));
    if (rc == SP_EIO || rc == SP_ECORRUPT || rc == SP_ECLOSED)
        violate(w, "node %u failed: %s", nd->id, sp_errname(rc));
    handle_update(w, i, &up);
    if (w->hook)
        w->hook(w, i, w->hook_ctx);
}

static void free_batch(struct w_batch *b, bool msgs_sent)
{
    for (uint32_t k = 0; k < b->persists_n; k++)
        free_entries((struct paxos_entry *) b->persists[k].pu.entries, b->persists[k].pu.n_entries);
    free(b->persists);
    if (!msgs_sent) {
        for (uint32_t k = 0; k < b->msgs_n; k++)
            free_msg(b->msgs[k]);
        for (uint32_t k = 0; k < b->replies_n; k++)
            free_reply(b->replies[k]);
    }
    free(b->msgs);
    free(b->replies);
    free(b);
}

static void send_batch(struct w_world *w, uint32_t i, struct w_batch *b)
{
    struct w_node *nd = &w->nodes[i];
    for (uint32_t k = 0; k < b->msgs_n; k++) {
        struct txn_node_msg *m = b->msgs[k];
        uint32_t to = m->to - 1;
        SP_ASSERT(to < w->n);
        w->stats.msgs_sent++;
        /* Legacy chaos drops all the time; the fault mask in windows. */
        uint32_t drop_pct = w->p.faults ? ((w->active & W_F_DROP) ? w->p.drop_pct : 0)
                                        : (w->chaos ? w->p.drop_pct : 0);
        bool drop = cut_between(w, i, to) || (to != i && drop_pct && rnd_below(w, 100) < drop_pct);
        if (drop) {
            w->stats.msgs_dropped++;
            free_msg(m);
            continue;
        }
        tt_micros lat = to == i ? 1 : latency(w, nd->zone, w->nodes[to].zone);
        if ((w->active & W_F_DUP) && to != i && rnd_below(w, 100) < 10) {
            w->stats.msgs_duplicated++;
            push(w, w->now + latency(w, nd->zone, w->nodes[to].zone), W_DELIVER, to, copy_msg(m),
                 0);
        }
        push(w, w->now + lat, W_DELIVER, to, m, 0);
    }
    for (uint32_t k = 0; k < b->replies_n; k++)
        push(w, w->now + latency(w, nd->zone, nd->zone), W_REPLY, b->replies[k]->client,
             b->replies[k], 0);
    free_batch(b, true);
}

/* Folds the first `keep` unsynced writes into the durable log, drops the rest. */
static void fold_unsynced(struct w_node *nd, uint32_t keep)
{
    SP_ASSERT(keep <= nd->unsynced_n);
    for (uint32_t k = 0; nd->unsynced != NULL; k++) {
        struct w_unsynced *u = nd->unsynced;
        nd->unsynced = u->next;
        if (k < keep)
            plog_apply(&nd->plog[u->group], &u->pu);
        free_entries((struct paxos_entry *) u->pu.entries, u->pu.n_entries);
        free(u);
    }
    nd->unsynced_tail = NULL;
    nd->unsynced_n = 0;
}

/* One persist batch is written: synced ones make every earlier write durable
 * too (the disk writes in order); unsynced ones wait. Takes the entries. */
static void persist_one(struct w_node *nd, struct txn_node_persist *p)
{
    if (p->pu.sync) {
        fold_unsynced(nd, nd->unsynced_n);
        plog_apply(&nd->plog[p->group], &p->pu);
        return;
    }
    struct w_unsynced *u = calloc(1, sizeof *u);
    SP_ASSERT(u != NULL && nd->unsynced_n < W_EVENTS_MAX);
    u->group = p->group;
    u->pu = p->pu;
    p->pu.entries = NULL; /* moved */
    p->pu.n_entries = 0;
    if (nd->unsynced_tail)
        nd->unsynced_tail->next = u;
    else
        nd->unsynced = u;
    nd->unsynced_tail = u;
    nd->unsynced_n++;
}

/* Writes the node's open apply round: before its next Paxos write, which
 * may persist a log truncation below what the round applied. */
static void end_round(struct w_world *w, uint32_t i)
{
    struct w_node *nd = &w->nodes[i];
    if (!nd->round_open)
        return;
    nd->round_open = false;
    int rc = txn_node_round_end(nd->tn);
    if (rc)
        violate(w, "node %u failed: apply round: %s", nd->id, sp_errname(rc));
}

static void disk_done(struct w_world *w, uint32_t i)
{
    struct w_node *nd = &w->nodes[i];
    struct w_batch *b = nd->queue;
    if (b == NULL)
        return;
    end_round(w, i);
    nd->queue = b->next;
    if (nd->queue == NULL)
        nd->queue_tail = NULL;
    for (uint32_t k = 0; k < b->persists_n; k++) {
        w->stats.truncations += b->persists[k].pu.truncate_through > 0;
        persist_one(nd, &b->persists[k]);
    }
    uint32_t np = b->persists_n;
    struct txn_node_persist done[TXN_NODE_GROUPS_MAX * 8];
    SP_ASSERT(np <= sizeof done / sizeof done[0]);
    if (np)
        memcpy(done, b->persists, sizeof *done * np);
    for (uint32_t k = 0; k < np; k++)
        done[k].pu.entries = NULL;
    send_batch(w, i, b);
    for (uint32_t k = 0; k < np && nd->up; k++) {
        struct txn_node_event ev = {.type = TXN_NODE_EV_PERSISTED, .group = done[k].group};
        ev.persisted.seq = done[k].pu.persist_seq;
        step_node(w, i, &ev);
    }
}

static int node_open(struct w_world *w, uint32_t i)
{
    struct w_node *nd = &w->nodes[i];
    struct txn_store_config sc;
    txn_store_config_init(&sc);
    sc.env = nd->env;
    sc.sync = false;               /* the in-memory env has nothing to sync */
    sc.retention_us = 1000 * 1000; /* GC runs during the runs (gc_period_us below) */
    sc.write_buffer_bytes = 256 << 10;
    sc.compress = false;           /* the disk is memory: spare the CPU */
    sc.wal = false;                /* a crash here is a close, which flushes */
    struct sp_err err = {0};
    int rc = txn_store_open("/db", &sc, &nd->store, &err);
    SP_ASSERT(rc == 0);
    struct txn_node_config cfg;
    node_config(w, i, &cfg);
    struct paxos_durable_state ds[TXN_NODE_GROUPS_MAX];
    const struct paxos_durable_state *loaded[TXN_NODE_GROUPS_MAX];
    struct paxos_entry *ents[TXN_NODE_GROUPS_MAX];
    for (uint32_t k = 0; k < cfg.groups_n; k++) {
        struct w_plog *l = &nd->plog[cfg.groups[k].group];
        ents[k] = xmalloc(sizeof **ents * (l->cap + 1));
        ds[k] = (struct paxos_durable_state){.hs = l->hs, .entries = ents[k]};
        for (size_t s = l->hs.base_slot + 1; s < l->cap; s++)
            if (l->present[s])
                ents[k][ds[k].n_entries++] = l->slots[s];
        loaded[k] = l->hs.base_membership.n ? &ds[k] : NULL;
    }
    rc = txn_node_create(&cfg, nd->store, loaded, &nd->tn, &err);
    for (uint32_t k = 0; k < cfg.groups_n; k++)
        free(ents[k]);
    if (rc)
        violate(w, "node %u restart: %s", nd->id, err.msg);
    nd->up = rc == 0;
    nd->tick_at = 0;
    if (nd->up)
        push(w, w->now, W_TICK, i, NULL, (uint64_t) w->now);
    nd->tick_at = w->now;
    return rc;
}

void w_world_crash(struct w_world *w, uint32_t i)
{
    struct w_node *nd = &w->nodes[i];
    if (!nd->up)
        return;
    TRACE(w, "crash node %u", nd->id);
    nd->up = false;
    nd->epoch++;
    while (nd->queue) {
        struct w_batch *b = nd->queue;
        nd->queue = b->next;
        free_batch(b, false);
    }
    nd->queue_tail = NULL;
    nd->disk_free_at = 0;
    uint32_t keep;
    if (w->p.faults & W_F_DISK) {
        /* Each unsynced write was kept, lost or torn. Recovery (RocksDB's
         * point-in-time WAL replay) stops at the first lost or torn record,
         * whose checksum or sequence fails: what survives is a prefix. */
        keep = 0;
        while (keep < nd->unsynced_n) {
            uint64_t r = rnd_below(w, 3);
            if (r == 2)
                w->stats.garbled++;
            if (r != 0)
                break;
            keep++;
        }
    } else {
        /* SQLite test6 style: a random prefix of the unsynced writes survived. */
        keep = (uint32_t) rnd_below(w, nd->unsynced_n + 1);
    }
    wlog(w, "crash node %u (%u of %u unsynced writes survive)", nd->id, keep, nd->unsynced_n);
    fold_unsynced(nd, keep);
    txn_node_destroy(nd->tn); /* an open apply round is lost, as in a crash */
    nd->tn = NULL;
    nd->round_open = false;
    txn_store_close(nd->store);
    nd->store = NULL;
    w->stats.crashes++;
}

void w_world_restart(struct w_world *w, uint32_t i)
{
    if (w->nodes[i].up)
        return;
    TRACE(w, "restart node %u", w->nodes[i].id);
    wlog(w, "restart node %u", w->nodes[i].id);
    node_open(w, i);
}

bool w_world_up(const struct w_world *w, uint32_t i)
{
    return w->nodes[i].up;
}

void w_world_partition(struct w_world *w, uint32_t a)
{
    w->cut_a = a;
    w->cut_b = ((1u << w->n) - 1) & ~a;
}

void w_world_heal(struct w_world *w)
{
    if (w->cut_a | w->cut_b)
        wlog(w, "heal");
    w->cut_a = w->cut_b = 0;
}

struct txn_node *w_world_node(struct w_world *w, uint32_t i)
{
    return w->nodes[i].up ? w->nodes[i].tn : NULL;
}

int w_world_leader(struct w_world *w, txn_group_id g)
{
    uint32_t r[W_REPLICAS_MAX];
    w_world_replicas(w, g, r);
    for (uint32_t j = 0; j < W_VOTERS; j++)
        if (w->nodes[r[j]].up && txn_node_is_leader(w->nodes[r[j]].tn, g))
            return (int) r[j];
    return -1;
}

void w_world_set_hook(struct w_world *w, void (*fn)(struct w_world *, uint32_t, void *), void *ctx)
{
    w->hook = fn;
    w->hook_ctx = ctx;
}

tt_micros w_world_now(const struct w_world *w)
{
    return w->now;
}

const char *w_world_violation(const struct w_world *w)
{
    return w->violation[0] ? w->violation : NULL;
}

const struct w_stats *w_world_stats(const struct w_world *w)
{
    return &w->stats;
}

/* ---- clients ------------------------------------------------------------------------------ */

txn_group_id w_account_group(const struct w_world *w, uint32_t k)
{
    return (txn_group_id) (k % w->p.groups) + 1;
}

static size_t key_name(const struct w_world *w, uint32_t k, char *buf)
{
    if (w->p.workload == W_BANK)
        return (size_t) snprintf(buf, 16, "acct%02u", k);
    return (size_t) snprintf(buf, 16, "k%u", k);
}

static char *value_str(const struct txn_value *v)
{
    if (v->kind != TXN_VERSION_VALUE)
        return NULL;
    char *s = xmalloc(v->value_len + 1);
    if (v->value_len)
        memcpy(s, v->value, v->value_len);
    s[v->value_len] = '\0';
    return s;
}

/* A balance read: never written means the initial balance. */
static int64_t item_balance(const struct w_world *w, const struct w_item *it)
{
    return it->read ? strtoll(it->read, NULL, 10) : w->p.balance;
}

static int new_op(struct w_world *w, enum op_kind kind, bool scripted, uint32_t n_items)
{
    SP_ASSERT(w->ops_n < W_OPS_MAX && n_items <= OP_KEYS_MAX);
    if (w->ops_n == w->ops_cap) {
        w->ops_cap = w->ops_cap ? w->ops_cap * 2 : 256;
        w->ops = realloc(w->ops, sizeof *w->ops * w->ops_cap);
        SP_ASSERT(w->ops != NULL);
    }
    struct w_op *op = &w->ops[w->ops_n];
    memset(op, 0, sizeof *op);
    op->kind = kind;
    op->scripted = scripted;
    op->invoke = w->now;
    op->n_items = n_items;
    op->items = calloc(n_items ? n_items : 1, sizeof *op->items);
    SP_ASSERT(op->items != NULL);
    w->stats.ops_started += !scripted;
    return (int) w->ops_n++;
}

static void op_free_items(struct w_op *op)
{
    for (uint32_t k = 0; k < op->n_items; k++) {
        free(op->items[k].read);
        free(op->items[k].wrote);
    }
    free(op->items);
    op->items = NULL;
}

static void client_timer(struct w_world *w, struct w_client *c, tt_micros at)
{
    c->timer_at = at;
    push(w, at, W_CLIENT_TIMER, c->idx, NULL, (uint64_t) at);
}

static uint64_t client_send(struct w_world *w, struct w_client *c, uint32_t node,
                            struct txn_request *q)
{
    q->client = c->idx;
    q->req_id = ++w->req_seq;
    push(w, w->now + latency(w, c->zone, w->nodes[node].zone), W_REQUEST, node, copy_request(q),
         0);
    return q->req_id;
}

/* A replica for a snapshot read: one in the client's zone when one is up
 * (reads from the nearest replica), else any up one. */
static uint32_t read_replica(struct w_world *w, struct w_client *c, txn_group_id g)
{
    uint32_t r[W_REPLICAS_MAX], up[W_REPLICAS_MAX], near[W_REPLICAS_MAX], n_up = 0, n_near = 0;
    uint32_t k = w_world_replicas(w, g, r);
    for (uint32_t j = 0; j < k; j++)
        if (w->nodes[r[j]].up) {
            up[n_up++] = r[j];
            if (w->nodes[r[j]].zone == c->zone)
                near[n_near++] = r[j];
        }
    /* Voting or read-only; clients route around nodes known to be down, as
     * a real client's failure detector would after its first timeout. */
    if (n_near && w->p.faults && rnd_below(w, 4) != 0)
        return near[rnd_below(w, n_near)];
    return n_up ? up[rnd_below(w, n_up)] : r[rnd_below(w, k)];
}

/* After NOT_LEADER or a timeout: follow the hint, else try the next replica. */
static void reroute(struct w_world *w, struct w_client *c, txn_group_id g, txn_node_id hint)
{
    if (hint >= 1 && hint <= w->n && hosts(w, hint - 1, g)) {
        c->leader[g] = hint - 1;
        return;
    }
    uint32_t r[W_REPLICAS_MAX];
    w_world_replicas(w, g, r);
    uint32_t j = 0;
    while (j < W_VOTERS && r[j] != c->leader[g])
        j++;
    c->leader[g] = r[(j + 1) % W_VOTERS]; /* only voters lead */
}

static void client_next(struct w_world *w, struct w_client *c);
static void history_write(struct w_world *w, struct w_op *op);
static int init_accounts(struct w_world *w);

static void op_done(struct w_world *w, struct w_client *c, int status, tt_micros ts)
{
    struct w_op *op = &w->ops[c->op];
    SP_ASSERT(!op->done);
    op->done = true;
    op->status = status;
    op->ts = ts;
    op->complete = w->now;
    c->phase = C_IDLE;
    c->req_lo = w->req_seq + 1;
    c->timer_at = 0;
    if (op->kind == OP_TRANSFER) {
        if (status == 0) {
            w->stats.commits_ok++;
            w->stats.commits_2pc_ok += op->is_2pc;
        } else if (status == SP_ETXN_UNKNOWN) {
            w->stats.commits_unknown++;
        } else {
            w->stats.aborts++;
        }
    } else if (status == 0) {
        w->stats.ro_ok++;
        if (w->p.workload == W_BANK && op->n_items == w->p.accounts && !w->p.no_inline_checks) {
            int64_t sum = 0;
            for (uint32_t k = 0; k < op->n_items; k++)
                sum += item_balance(w, &op->items[k]);
            if (sum != (int64_t) w->p.accounts * w->p.balance)
                violate(w, "read-only txn at %lld saw total %lld, not %lld", (long long) ts,
                        (long long) sum, (long long) w->p.accounts * w->p.balance);
        }
    } else {
        w->stats.ro_failed++;
    }
    TRACE(w, "client %u: op %d done: %s ts %lld", c->idx, c->op, sp_errname(status),
          (long long) ts);
    history_write(w, op);
    if (c->workload)
        client_timer(w, c, w->now + 500 + (tt_micros) rnd_below(w, 2000));
}

static void tr_attempt(struct w_world *w, struct w_client *c);
static void ro_attempt(struct w_world *w, struct w_client *c);
static void tr_commit(struct w_world *w, struct w_client *c, bool again);

/* The groups of the current op, in the order its items first use them. */
static void op_groups(struct w_world *w, struct w_client *c)
{
    const struct w_op *op = &w->ops[c->op];
    c->n_groups = 0;
    for (uint32_t k = 0; k < op->n_items; k++) {
        txn_group_id g = w_account_group(w, op->items[k].key);
        uint32_t j = 0;
        while (j < c->n_groups && c->groups[j] != g)
            j++;
        if (j == c->n_groups)
            c->groups[c->n_groups++] = g;
    }
}

/* Ends an attempt that cannot commit: release what it holds, retry later. */
static void tr_fail(struct w_world *w, struct w_client *c, int status)
{
    /* To every replica: whichever leads releases the locks, the rest answer
     * NOT_LEADER (ignored: the replies are stale by then). */
    for (uint32_t k = 0; k < c->n_groups; k++) {
        uint32_t r[W_REPLICAS_MAX];
        uint32_t nr = w_world_replicas(w, c->groups[k], r);
        for (uint32_t j = 0; j < nr; j++) {
            struct txn_request q = {.type = TXN_REQ_ABORT, .group = c->groups[k], .id = c->txn};
            client_send(w, c, r[j], &q);
        }
    }
    c->req_lo = w->req_seq + 1;
    if (c->attempts >= ATTEMPTS_MAX || w->now >= w->p.run_us + GIVE_UP_US) {
        op_done(w, c, status, 0);
        return;
    }
    c->phase = C_BACKOFF;
    client_timer(w, c, w->now + 1000 + (tt_micros) rnd_below(w, 4000 * c->attempts));
}

/* Does item need its value read before the commit? */
static bool item_reads(const struct w_item *it)
{
    return (it->f & (IT_READ | IT_APPEND | IT_TRANSFER)) != 0;
}

static void tr_attempt(struct w_world *w, struct w_client *c)
{
    struct w_op *op = &w->ops[c->op];
    c->txn = ++w->txn_seq;
    c->attempts++;
    c->req_lo = w->req_seq + 1;
    c->phase = C_READ;
    c->pending = 0;
    for (uint32_t k = 0; k < op->n_items; k++) {
        free(op->items[k].read);
        op->items[k].read = NULL;
    }
    for (uint32_t j = 0; j < c->n_groups; j++) {
        char names[OP_KEYS_MAX][16];
        struct txn_key keys[OP_KEYS_MAX];
        uint32_t n = 0;
        for (uint32_t k = 0; k < op->n_items; k++)
            if (item_reads(&op->items[k]) &&
                w_account_group(w, op->items[k].key) == c->groups[j]) {
                keys[n].key = names[n];
                keys[n].key_len = key_name(w, op->items[k].key, names[n]);
                n++;
            }
        c->read_req[j] = 0;
        if (n == 0)
            continue; /* blind writes only: the commit takes the locks */
        struct txn_request q = {.type = TXN_REQ_READ, .id = c->txn, .start_ts = c->start_ts};
        q.group = c->groups[j];
        q.keys = keys;
        q.keys_n = n;
        c->read_req[j] = client_send(w, c, c->leader[c->groups[j]], &q);
        c->pending++;
    }
    if (c->pending == 0) {
        tr_commit(w, c, false);
        return;
    }
    client_timer(w, c, w->now + READ_TIMEOUT);
}

/* The value item k writes, from what the attempt read. */
static void item_new_value(struct w_world *w, struct w_op *op, uint32_t k)
{
    struct w_item *it = &op->items[k];
    char buf[32];
    if (it->f & IT_TRANSFER) {
        int64_t v = item_balance(w, it) + (k == 0 ? -op->amount : op->amount);
        snprintf(buf, sizeof buf, "%lld", (long long) v);
        free(it->wrote);
        it->wrote = strdup(buf);
    } else if (it->f & IT_APPEND) {
        size_t old = it->read ? strlen(it->read) : 0;
        snprintf(buf, sizeof buf, "%llu", (unsigned long long) it->element);
        free(it->wrote);
        it->wrote = xmalloc(old + strlen(buf) + 2);
        snprintf(it->wrote, old + strlen(buf) + 2, "%s%s%s", old ? it->read : "", old ? "," : "",
                 buf);
    }
    /* IT_WRITE: chosen when the op was made. */
    SP_ASSERT(it->wrote != NULL || !(it->f & (IT_WRITE | IT_APPEND | IT_TRANSFER)));
}

/* Sends the COMMIT (and the participants' PREPAREs), or, `again`, the same
 * COMMIT once more with retry set, as libspanner does after a call that got
 * no answer (txn.h, "Answers"): the leader then answers from the log or
 * logs its refusal first. */
static void tr_commit(struct w_world *w, struct w_client *c, bool again)
{
    struct w_op *op = &w->ops[c->op];
    char names[OP_KEYS_MAX][16];
    struct txn_write ws[OP_KEYS_MAX];
    c->phase = C_COMMIT;
    c->req_lo = w->req_seq + 1;
    op->is_2pc = c->n_groups > 1;
    c->commit_asks = again ? c->commit_asks + 1 : 0;
    for (uint32_t k = 0; k < op->n_items && !again; k++)
        if (op->items[k].f & (IT_APPEND | IT_TRANSFER))
            item_new_value(w, op, k);
    /* Coordinator: the first group. Every other group prepares, also one
     * that was only read (its read locks must hold until the commit). Each
     * group's writes lie together in ws. */
    uint32_t off[W_GROUPS_MAX] = {0}, cnt[W_GROUPS_MAX] = {0}, used = 0;
    for (uint32_t j = 0; j < c->n_groups; j++) {
        off[j] = used;
        cnt[j] = 0;
        for (uint32_t k = 0; k < op->n_items; k++) {
            const struct w_item *it = &op->items[k];
            if (w_account_group(w, it->key) != c->groups[j] ||
                !(it->f & (IT_WRITE | IT_APPEND | IT_TRANSFER)))
                continue;
            struct txn_write *x = &ws[used++];
            x->kind = TXN_WRITE_PUT;
            x->key = names[used - 1];
            x->key_len = key_name(w, it->key, names[used - 1]);
            x->value = it->wrote;
            x->value_len = strlen(it->wrote);
            cnt[j]++;
        }
    }
    /* The keys read at each group go along: its leader commits or prepares
     * only while the transaction still holds their locks. */
    char rnames[OP_KEYS_MAX][16];
    struct txn_key rkeys[OP_KEYS_MAX];
    uint32_t roff[W_GROUPS_MAX] = {0}, rcnt[W_GROUPS_MAX] = {0}, rused = 0;
    for (uint32_t j = 0; j < c->n_groups; j++) {
        roff[j] = rused;
        for (uint32_t k = 0; k < op->n_items; k++) {
            const struct w_item *it = &op->items[k];
            if (w_account_group(w, it->key) != c->groups[j] || !item_reads(it))
                continue;
            rkeys[rused].key = rnames[rused];
            rkeys[rused].key_len = key_name(w, it->key, rnames[rused]);
            rused++;
            rcnt[j]++;
        }
    }
    struct txn_write *first_ws = &ws[off[0]];
    uint32_t first_n = cnt[0];
    struct txn_request q = {.id = c->txn, .start_ts = c->start_ts};
    c->read_req[0] = 0;
    for (uint32_t j = 1; j < c->n_groups && !again; j++) {
        q.type = TXN_REQ_PREPARE;
        q.group = c->groups[j];
        q.coord_group = c->groups[0];
        q.writes = cnt[j] ? &ws[off[j]] : NULL;
        q.writes_n = cnt[j];
        q.keys = rcnt[j] ? &rkeys[roff[j]] : NULL;
        q.keys_n = rcnt[j];
        /* A participant answers only to refuse (not the leader, or locks
         * lost): the client then learns where the leader is. */
        c->read_req[j] = client_send(w, c, c->leader[c->groups[j]], &q);
    }
    q.type = TXN_REQ_COMMIT;
    q.group = c->groups[0];
    q.coord_group = 0;
    q.writes = first_n ? first_ws : NULL;
    q.writes_n = first_n;
    q.keys = rcnt[0] ? &rkeys[roff[0]] : NULL;
    q.keys_n = rcnt[0];
    q.participants = c->n_groups > 1 ? &c->groups[1] : NULL;
    q.participants_n = c->n_groups - 1;
    q.retry = again;
    op->commit_req = client_send(w, c, c->leader[c->groups[0]], &q);
    c->pending = 1;
    client_timer(w, c, w->now + COMMIT_TIMEOUT);
}

/* Index of the group a reply to request id answers, or -1. */
static int reply_group(const struct w_client *c, uint64_t req_id)
{
    for (uint32_t j = 0; j < c->n_groups; j++)
        if (c->read_req[j] == req_id)
            return (int) j;
    return -1;
}

/* The COMMIT got no answer, or "unknown": ask the next leader, with retry
 * set, a few times; then the outcome is unknown. */
static void commit_ask_again(struct w_world *w, struct w_client *c)
{
    if (c->commit_asks >= COMMIT_ASKS_MAX || w->now >= w->p.run_us + GIVE_UP_US) {
        op_done(w, c, SP_ETXN_UNKNOWN, 0);
        return;
    }
    tr_commit(w, c, true);
}

static void tr_reply(struct w_world *w, struct w_client *c, const struct txn_reply *r)
{
    struct w_op *op = &w->ops[c->op];
    if (c->phase == C_COMMIT) {
        int pj = reply_group(c, r->req_id);
        if (pj > 0) { /* a participant's answer to its PREPARE */
            if (r->status == SP_EPAXOS_NOT_LEADER)
                reroute(w, c, c->groups[pj], r->leader_hint);
            return; /* the coordinator's reply decides */
        }
        if (r->status == SP_EPAXOS_NOT_LEADER)
            reroute(w, c, c->groups[0], r->leader_hint);
        bool lost = c->commit_asks > 0; /* an earlier copy may have been taken */
        if (!w->p.client_guesses && r->status != 0 &&
            (r->status == SP_ETXN_UNKNOWN || (lost && r->status == SP_EPAXOS_NOT_LEADER))) {
            commit_ask_again(w, c);
            return;
        }
        if (lost && r->status != 0 && r->status != SP_ETXN_ABORTED &&
            r->status != SP_ETXN_WOUNDED) {
            op_done(w, c, SP_ETXN_UNKNOWN, 0); /* no outcome from the log */
            return;
        }
        if (w->p.client_guesses && r->status == SP_ETXN_UNKNOWN) { /* TEST ONLY: wrong */
            tr_fail(w, c, SP_ETXN_ABORTED);
            return;
        }
        /* Commit wait, seen from outside: the acknowledgement of a commit at
         * s arrives only once s has passed in true time. */
        if (r->status == 0 && !w->p.commit_wait_off && r->ts >= w->now &&
            !w->p.no_inline_checks)
            violate(w, "commit at %lld acknowledged at true time %lld", (long long) r->ts,
                    (long long) w->now);
        if (r->status == 0 || r->status == SP_ETXN_UNKNOWN)
            op_done(w, c, r->status, r->ts);
        else
            tr_fail(w, c, r->status);
        return;
    }
    int j = reply_group(c, r->req_id);
    if (j < 0)
        return; /* a commit-phase or older reply */
    if (r->status == SP_EPAXOS_NOT_LEADER)
        reroute(w, c, c->groups[j], r->leader_hint);
    if (r->status != 0) {
        tr_fail(w, c, r->status);
        return;
    }
    uint32_t v = 0;
    for (uint32_t k = 0; k < op->n_items; k++) {
        struct w_item *it = &op->items[k];
        if (!item_reads(it) || w_account_group(w, it->key) != c->groups[j])
            continue;
        SP_ASSERT(v < r->values_n);
        free(it->read);
        it->read = value_str(&r->values[v]);
        it->found = it->read != NULL;
        it->ver = r->values[v].ts;
        v++;
    }
    c->read_req[j] = 0; /* a duplicate reply is ignored */
    if (--c->pending == 0)
        tr_commit(w, c, false);
}

static void ro_send(struct w_world *w, struct w_client *c)
{
    const struct w_op *op = &w->ops[c->op];
    char names[OP_KEYS_MAX][16];
    struct txn_key keys[OP_KEYS_MAX];
    uint32_t n = 0;
    txn_group_id g = c->groups[c->ro_gi];
    for (uint32_t k = 0; k < op->n_items; k++)
        if (w_account_group(w, op->items[k].key) == g) {
            keys[n].key = names[n];
            keys[n].key_len = key_name(w, op->items[k].key, names[n]);
            n++;
        }
    struct txn_request q = {.type = TXN_REQ_RO_READ, .group = g, .keys = keys, .keys_n = n};
    q.mode = c->ro_gi == 0 ? c->ro_mode : TXN_READ_EXACT;
    q.read_ts = c->s_read;
    q.staleness_us = 50 * 1000;
    uint32_t node = q.mode == TXN_READ_STRONG_SINGLE ? c->leader[g] : read_replica(w, c, g);
    c->ro_node = node;
    c->read_req[0] = client_send(w, c, node, &q);
    c->pending = 1;
}

static void ro_attempt(struct w_world *w, struct w_client *c)
{
    c->attempts++;
    c->req_lo = w->req_seq + 1;
    c->phase = C_RO;
    c->ro_gi = 0;
    c->s_read = c->fixed_ts;
    if (c->fixed_ts)
        c->ro_mode = TXN_READ_EXACT;
    else if (c->workload && rnd_below(w, 100) < w->p.stale_pct)
        c->ro_mode = TXN_READ_STALE;
    else if (c->n_groups == 1)
        c->ro_mode = TXN_READ_STRONG_SINGLE;
    else
        c->ro_mode = TXN_READ_STRONG;
    w->ops[c->op].snapshot = c->ro_mode == TXN_READ_STALE || c->ro_mode == TXN_READ_EXACT;
    w->ops[c->op].single = c->ro_mode == TXN_READ_STRONG_SINGLE;
    ro_send(w, c);
    client_timer(w, c, w->now + RO_TIMEOUT);
}

static void ro_reply(struct w_world *w, struct w_client *c, const struct txn_reply *r)
{
    struct w_op *op = &w->ops[c->op];
    if (r->req_id != c->read_req[0])
        return; /* an earlier group's duplicate */
    txn_group_id g = c->groups[c->ro_gi];
    if (r->status != 0) {
        if (r->status == SP_EPAXOS_NOT_LEADER)
            reroute(w, c, g, r->leader_hint);
        if (c->attempts >= ATTEMPTS_MAX || w->now >= w->p.run_us + GIVE_UP_US) {
            c->fixed_ts = 0;
            op_done(w, c, r->status, 0);
            return;
        }
        c->phase = C_BACKOFF;
        client_timer(w, c, w->now + 1000 + (tt_micros) rnd_below(w, 4000));
        return;
    }
    uint32_t reps[W_REPLICAS_MAX];
    if (w_world_replicas(w, g, reps) > W_VOTERS && reps[W_VOTERS] == c->ro_node)
        w->stats.reads_at_read_only++;
    if (c->ro_gi == 0)
        c->s_read = r->ts;
    SP_ASSERT(r->ts == c->s_read);
    uint32_t v = 0;
    for (uint32_t k = 0; k < op->n_items; k++)
        if (w_account_group(w, op->items[k].key) == g) {
            SP_ASSERT(v < r->values_n);
            struct w_item *it = &op->items[k];
            free(it->read);
            it->read = value_str(&r->values[v]);
            it->found = it->read != NULL;
            it->ver = r->values[v].ts;
            v++;
        }
    if (++c->ro_gi >= c->n_groups) {
        c->fixed_ts = 0;
        op_done(w, c, 0, c->s_read);
        return;
    }
    ro_send(w, c);
}

/* A reply to a request the client no longer waits for. */
static bool reply_stale(const struct w_client *c, const struct txn_reply *r)
{
    return c->phase == C_IDLE || c->phase == C_BACKOFF || r->req_id < c->req_lo;
}

static void client_on_reply(struct w_world *w, struct w_client *c, const struct txn_reply *r)
{
    TRACE(w, "client %u: reply %llu (lo %llu, phase %d): %s ts %lld hint %u", c->idx,
          (unsigned long long) r->req_id, (unsigned long long) c->req_lo, (int) c->phase,
          sp_errname(r->status), (long long) r->ts, r->leader_hint);
    if (reply_stale(c, r))
        return;
    if (c->phase == C_RO)
        ro_reply(w, c, r);
    else
        tr_reply(w, c, r);
}

static void client_on_timer(struct w_world *w, struct w_client *c)
{
    struct w_op *op = c->phase == C_IDLE ? NULL : &w->ops[c->op];
    switch (c->phase) {
    case C_IDLE:
        client_next(w, c);
        break;
    case C_BACKOFF:
        if (op->kind == OP_TRANSFER)
            tr_attempt(w, c);
        else
            ro_attempt(w, c);
        break;
    case C_READ:
        for (uint32_t j = 0; j < c->n_groups; j++)
            if (c->read_req[j])
                reroute(w, c, c->groups[j], 0);
        tr_fail(w, c, SP_ETIMEDOUT);
        break;
    case C_COMMIT:
        reroute(w, c, c->groups[0], 0);
        if (w->p.client_guesses) /* TEST ONLY: the wrong answer issue 16 found */
            tr_fail(w, c, SP_ETXN_ABORTED);
        else
            commit_ask_again(w, c);
        break;
    case C_RO:
        reroute(w, c, c->groups[c->ro_gi], 0);
        c->phase = C_BACKOFF;
        c->req_lo = w->req_seq + 1;
        client_timer(w, c, w->now + 1000);
        break;
    }
}

static void start_op(struct w_world *w, struct w_client *c, int op)
{
    c->op = op;
    c->attempts = 0;
    c->start_ts = w->now;
    w->ops[op].client = c->idx;
    op_groups(w, c);
    if (w->ops[op].kind == OP_TRANSFER)
        tr_attempt(w, c);
    else
        ro_attempt(w, c);
}

/* k distinct keys drawn from [base, base + n) into out. */
static void pick_keys(struct w_world *w, uint32_t base, uint32_t n, uint32_t k, uint32_t *out)
{
    SP_ASSERT(k <= n);
    for (uint32_t i = 0; i < k; i++) {
        uint32_t key;
        bool dup;
        do {
            key = base + (uint32_t) rnd_below(w, n);
            dup = false;
            for (uint32_t j = 0; j < i; j++)
                dup |= out[j] == key;
        } while (dup);
        out[i] = key;
    }
}

/* A workload client picks its next operation. */
static void client_next(struct w_world *w, struct w_client *c)
{
    if (!c->workload || w->stopped || w->now >= w->p.run_us)
        return;
    if (w->init_op >= 0 && !w->ops[w->init_op].done) {
        client_timer(w, c, w->now + 10 * 1000); /* transfers wait for the balances */
        return;
    }
    if (w->init_op >= 0 && w->ops[w->init_op].status != 0) {
        /* It failed or may not have applied: write them again (blind,
         * idempotent while no transfer has run). */
        w->init_op = init_accounts(w);
        client_timer(w, c, w->now + 10 * 1000);
        return;
    }
    if (w->p.txns && w->stats.ops_started >= w->p.txns) {
        w->stopped = true;
        w->p.run_us = w->now; /* retries give up GIVE_UP_US from here */
        return;
    }
    bool ro = rnd_below(w, 100) < w->p.ro_pct;
    int op;
    if (w->p.workload == W_BANK) {
        op = new_op(w, ro ? OP_READ : OP_TRANSFER, false, ro ? w->p.accounts : 2);
        struct w_op *o = &w->ops[op];
        if (ro) {
            for (uint32_t k = 0; k < w->p.accounts; k++)
                o->items[k] = (struct w_item){.key = k, .f = IT_READ};
        } else {
            uint32_t ab[2];
            pick_keys(w, 0, w->p.accounts, 2, ab);
            o->items[0] = (struct w_item){.key = ab[0], .f = IT_TRANSFER};
            o->items[1] = (struct w_item){.key = ab[1], .f = IT_TRANSFER};
            o->amount = 1 + (int64_t) rnd_below(w, 10);
        }
    } else {
        /* List-append keys rotate: a window of `keys` keys serves
         * LIST_WINDOW operations, so lists stay short. */
        uint32_t base = 0;
        if (w->p.workload == W_LIST_APPEND)
            base = (uint32_t) (w->stats.ops_started / LIST_WINDOW) * w->p.keys;
        uint32_t n = 1 + (uint32_t) rnd_below(w, w->p.keys < 3 ? w->p.keys : 3);
        uint32_t keys[4];
        pick_keys(w, base, w->p.keys, n, keys);
        op = new_op(w, ro ? OP_READ : OP_TRANSFER, false, n);
        struct w_op *o = &w->ops[op];
        bool wrote = false;
        for (uint32_t k = 0; k < n; k++) {
            struct w_item *it = &o->items[k];
            it->key = keys[k];
            uint64_t r = rnd_below(w, 3);
            if (ro || (r == 0 && !(k == n - 1 && !wrote))) {
                it->f = IT_READ;
                continue;
            }
            wrote = true;
            if (w->p.workload == W_REGISTER) {
                it->f = (uint8_t) (IT_WRITE | (r == 1 ? IT_READ : 0));
                char buf[24];
                snprintf(buf, sizeof buf, "%llu", (unsigned long long) ++w->value_seq);
                it->wrote = strdup(buf);
            } else {
                it->f = (uint8_t) (IT_APPEND | (r == 1 ? IT_READ : 0));
                it->element = ++w->value_seq;
            }
        }
    }
    start_op(w, c, op);
}

static struct w_client *scripted_client(struct w_world *w)
{
    for (uint32_t i = W_CLIENTS_MAX; i < W_SLOTS_CLIENT; i++)
        if (w->clients[i].phase == C_IDLE)
            return &w->clients[i];
    SP_ASSERT(!"no scripted client free");
    return NULL;
}

int w_world_transfer(struct w_world *w, uint32_t a, uint32_t b, int64_t amount)
{
    SP_ASSERT(a < w->p.accounts && b < w->p.accounts && a != b);
    int op = new_op(w, OP_TRANSFER, true, 2);
    w->ops[op].items[0] = (struct w_item){.key = a, .f = IT_TRANSFER};
    w->ops[op].items[1] = (struct w_item){.key = b, .f = IT_TRANSFER};
    w->ops[op].amount = amount;
    start_op(w, scripted_client(w), op);
    return op;
}

static int read_all_op(struct w_world *w)
{
    int op = new_op(w, OP_READ, true, w->p.accounts);
    for (uint32_t k = 0; k < w->p.accounts; k++)
        w->ops[op].items[k] = (struct w_item){.key = k, .f = IT_READ};
    return op;
}

int w_world_read_all(struct w_world *w)
{
    int op = read_all_op(w);
    start_op(w, scripted_client(w), op);
    return op;
}

int w_world_read_all_at(struct w_world *w, tt_micros ts)
{
    SP_ASSERT(ts >= 1);
    int op = read_all_op(w);
    struct w_client *c = scripted_client(w);
    c->fixed_ts = ts;
    start_op(w, c, op);
    return op;
}

/* Bank: one transaction writes every account's initial balance. */
static int init_accounts(struct w_world *w)
{
    int op = new_op(w, OP_TRANSFER, true, w->p.accounts);
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", (long long) w->p.balance);
    for (uint32_t k = 0; k < w->p.accounts; k++)
        w->ops[op].items[k] = (struct w_item){.key = k, .f = IT_WRITE, .wrote = strdup(buf)};
    start_op(w, scripted_client(w), op);
    return op;
}

void w_world_set_request_hook(struct w_world *w,
                              bool (*fn)(struct w_world *, uint32_t, const struct txn_request *,
                                         void *),
                              void *ctx)
{
    w->req_hook = fn;
    w->req_hook_ctx = ctx;
}

bool w_world_op_done(const struct w_world *w, int op)
{
    return w->ops[op].done;
}

int w_world_op_status(const struct w_world *w, int op)
{
    return w->ops[op].status;
}

int64_t w_world_op_balance(const struct w_world *w, int op, uint32_t account)
{
    const struct w_op *o = &w->ops[op];
    for (uint32_t k = 0; k < o->n_items; k++)
        if (o->items[k].key == account)
            return item_balance(w, &o->items[k]);
    SP_ASSERT(!"account not read by this op");
    return 0;
}

tt_micros w_world_op_ts(const struct w_world *w, int op)
{
    return w->ops[op].ts;
}

void w_world_op_times(const struct w_world *w, int op, tt_micros *invoke, tt_micros *complete)
{
    *invoke = w->ops[op].invoke;
    *complete = w->ops[op].complete;
}

int64_t w_world_peek(struct w_world *w, uint32_t node, uint32_t account, tt_micros t)
{
    char k[16];
    size_t kl = key_name(w, account, k);
    struct txn_version v = {0};
    int rc = txn_store_get(w->nodes[node].store, w_account_group(w, account), k, kl, t, &v, NULL);
    SP_ASSERT(rc == 0);
    struct txn_value tv = {.kind = v.kind, .ts = v.ts, .value = v.value, .value_len = v.value_len};
    struct w_item it = {.read = value_str(&tv)};
    int64_t bal = item_balance(w, &it);
    free(it.read);
    txn_version_clear(&v);
    return bal;
}

/* ---- the history (sim/README.md's format) ------------------------------------------ */

static void json_list(FILE *f, const char *s)
{
    fputc('[', f);
    if (s != NULL)
        fputs(s, f); /* "1,5,9": decimal elements, comma-separated */
    fputc(']', f);
}

static void history_write(struct w_world *w, struct w_op *op)
{
    FILE *f = w->p.history;
    if (f == NULL || op->logged)
        return;
    if (op->status == SP_ETXN_UNKNOWN && !op->deferred && !w->history_final) {
        /* The client gave up on the commit; its reply may still come. */
        op->deferred = true;
        SP_ASSERT(w->deferred_n < W_DEFERRED_MAX);
        w->deferred[w->deferred_n++] = (uint32_t) (op - w->ops);
        return;
    }
    op->logged = true;
    if (op->status == SP_ETXN_UNKNOWN && op->late_abort)
        op->status = SP_ETXN_ABORTED; /* the coordinator said so, after the client left */
    bool rw = op->kind == OP_TRANSFER;
    if (!rw && op->status != 0)
        return; /* a failed read-only transaction had no effect and saw nothing */
    const char *outcome = op->status == 0                 ? "ok"
                          : op->status == SP_ETXN_UNKNOWN ? "unknown"
                                                          : "aborted";
    fprintf(f, "{\"id\":%u,\"client\":%u,\"zone\":%u,\"mode\":\"%s\",", (unsigned) (op - w->ops),
            op->client, w->clients[op->client].zone, rw ? "rw" : "ro");
    if (op->snapshot)
        fputs("\"snapshot\":true,", f);
    if (op->single)
        fputs("\"single_group\":true,", f);
    fprintf(f, "\"invoke_us\":%lld,\"complete_us\":%lld,", (long long) op->invoke,
            (long long) op->complete);
    if (op->status == 0)
        fprintf(f, "\"ts\":%lld,", (long long) op->ts);
    else if (op->status == SP_ETXN_UNKNOWN && op->late_ts > 0)
        fprintf(f, "\"ts\":%lld,", (long long) op->late_ts); /* the simulator knows it */
    if (op->late_ts > 0 || op->late_abort)
        fputs("\"late_reply\":true,", f);
    fputs("\"ops\":[", f);
    bool first = true;
    char name[16];
    /* Reads first (the read phase), then the writes; reads only when the
     * transaction committed (an aborted one's reads promise nothing). */
    for (uint32_t k = 0; k < op->n_items && op->status == 0; k++) {
        const struct w_item *it = &op->items[k];
        if (!(it->f & (IT_READ | IT_TRANSFER)))
            continue;
        key_name(w, it->key, name);
        fprintf(f, "%s{\"f\":\"r\",\"key\":\"%s\",\"value\":", first ? "" : ",", name);
        if (w->p.workload == W_LIST_APPEND)
            json_list(f, it->read);
        else if (it->read)
            fprintf(f, "\"%s\"", it->read);
        else
            fputs("null", f);
        fputc('}', f);
        first = false;
    }
    for (uint32_t k = 0; k < op->n_items && rw; k++) {
        const struct w_item *it = &op->items[k];
        if (!(it->f & (IT_WRITE | IT_APPEND | IT_TRANSFER)) || it->wrote == NULL)
            continue;
        key_name(w, it->key, name);
        if (it->f & IT_APPEND)
            fprintf(f, "%s{\"f\":\"append\",\"key\":\"%s\",\"value\":%llu}", first ? "" : ",",
                    name, (unsigned long long) it->element);
        else
            fprintf(f, "%s{\"f\":\"w\",\"key\":\"%s\",\"value\":\"%s\"}", first ? "" : ",", name,
                    it->wrote);
        first = false;
    }
    fprintf(f, "],\"outcome\":\"%s\"}\n", outcome);
}

/* A reply to a commit whose client already gave up (timed out: outcome
 * unknown) still tells what happened: the history line gets it. */
static void late_reply(struct w_world *w, const struct txn_reply *r)
{
    for (uint32_t k = 0; k < w->deferred_n; k++) {
        struct w_op *op = &w->ops[w->deferred[k]];
        if (op->commit_req != r->req_id || op->logged)
            continue;
        if (r->status == 0 && r->ts > 0)
            op->late_ts = r->ts;
        else if (r->status == SP_ETXN_ABORTED || r->status == SP_ETXN_WOUNDED)
            op->late_abort = true;
        return;
    }
}

void w_world_flush_history(struct w_world *w)
{
    w->history_final = true;
    for (uint32_t i = 0; i < w->ops_n; i++) {
        struct w_op *op = &w->ops[i];
        if (op->logged)
            continue;
        if (!op->done) {
            op->complete = w->now;
            op->status = SP_ETXN_UNKNOWN;
        }
        history_write(w, op);
    }
}

/* A fault, in the history: a line the checker counts and skips. */
static void history_fault(struct w_world *w, const char *what, int node, const char *detail)
{
    wlog(w, "fault %s node %d %s", what, node, detail ? detail : "");
    if (w->p.history == NULL)
        return;
    fprintf(w->p.history, "{\"fault\":\"%s\",\"at_us\":%lld", what, (long long) w->now);
    if (node >= 0)
        fprintf(w->p.history, ",\"node\":%d", node);
    if (detail)
        fprintf(w->p.history, ",\"detail\":\"%s\"", detail);
    fputs("}\n", w->p.history);
}

/* ---- checkers ------------------------------------------------------------------------- */

static bool op_writes(const struct w_op *t, uint32_t key)
{
    for (uint32_t k = 0; k < t->n_items; k++)
        if (t->items[k].key == key && (t->items[k].f & (IT_WRITE | IT_APPEND | IT_TRANSFER)))
            return true;
    return false;
}

/* External consistency and snapshot checks over the whole history. */
int w_world_check(struct w_world *w)
{
    for (uint32_t i = 0; i < w->ops_n && !w->violation[0]; i++) {
        const struct w_op *t1 = &w->ops[i];
        if (!t1->done || t1->status != 0 || t1->kind != OP_TRANSFER)
            continue;
        for (uint32_t j = 0; j < w->ops_n && !w->violation[0]; j++) {
            const struct w_op *t2 = &w->ops[j];
            if (!t2->done || t2->status != 0 || t1->complete >= t2->invoke)
                continue;
            bool stale = t2->kind == OP_READ && t2->snapshot;
            if (t2->kind == OP_TRANSFER && t1->ts >= t2->ts)
                violate(w,
                        "external consistency: txn op %u (ts %lld) replied at %lld before op "
                        "%u started at %lld, yet got ts %lld",
                        i, (long long) t1->ts, (long long) t1->complete, j, (long long) t2->invoke,
                        (long long) t2->ts);
            if (t2->kind == OP_READ && !stale && t1->ts > t2->ts)
                violate(w,
                        "read-only op %u at s_read %lld started at %lld, after the commit of "
                        "op %u at ts %lld was acknowledged (at %lld): it misses that write",
                        j, (long long) t2->ts, (long long) t2->invoke, i, (long long) t1->ts,
                        (long long) t1->complete);
        }
    }
    /* Snapshot: a read at t of version v misses no acknowledged write in (v, t]. */
    for (uint32_t i = 0; i < w->ops_n && !w->violation[0]; i++) {
        const struct w_op *r = &w->ops[i];
        if (r->kind != OP_READ || !r->done || r->status != 0)
            continue;
        for (uint32_t j = 0; j < w->ops_n; j++) {
            const struct w_op *t = &w->ops[j];
            if (t->kind != OP_TRANSFER || !t->done || t->status != 0)
                continue;
            for (uint32_t k = 0; k < r->n_items; k++) {
                const struct w_item *it = &r->items[k];
                if (op_writes(t, it->key) && t->ts > it->ver && t->ts <= r->ts)
                    violate(w,
                            "read op %u at %lld returned key %u at version %lld, but op %u "
                            "committed it at %lld",
                            i, (long long) r->ts, it->key, (long long) it->ver, j,
                            (long long) t->ts);
            }
        }
    }
    return w->violation[0] ? SP_ESIM_VIOLATION : 0;
}

/* ---- the run loop -------------------------------------------------------------------- */

static void free_event(struct w_event *e)
{
    if (e->kind == W_DELIVER)
        free_msg(e->ptr);
    else if (e->kind == W_REQUEST)
        free(e->ptr);
    else if (e->kind == W_REPLY)
        free_reply(e->ptr);
}

static void schedule_crash(struct w_world *w)
{
    if (w->p.crash_every_us > 0)
        push(w,
             w->now + w->p.crash_every_us / 2 +
                 (tt_micros) rnd_below(w, (uint64_t) w->p.crash_every_us),
             W_CRASH, UINT32_MAX, NULL, 0);
}

static void on_crash_event(struct w_world *w)
{
    if (!w->chaos || w->now >= w->p.run_us)
        return;
    bool all_up = true;
    for (uint32_t i = 0; i < w->n; i++)
        all_up &= w->nodes[i].up;
    /* One fault at a time keeps every group a majority: a crash, or (if
     * partitions are on) one node cut off from all others. */
    if (all_up && (w->cut_a | w->cut_b) == 0) {
        uint32_t victim = (uint32_t) rnd_below(w, w->n);
        if (w->p.partitions && rnd_below(w, 2) == 0) {
            TRACE(w, "partition node %u away", victim + 1);
            w_world_partition(w, 1u << victim);
            w->stats.partitions++;
            push(w, w->now + w->p.down_us, W_HEAL, victim, NULL, 0);
        } else {
            w_world_crash(w, victim);
            push(w, w->now + w->p.down_us, W_RESTART, victim, NULL, 0);
        }
    }
    schedule_crash(w);
}

/* ---- faults (params.faults) ---------------------------------------------------- */

static const char *const fault_names[] = {"crash", "pause", "partition", "leader",
                                          "drop",  "dup",   "reorder",   "slow",
                                          "disk",  "clock", "clock-bad", "depose"};
#define FAULT_KINDS (sizeof fault_names / sizeof fault_names[0])
_Static_assert(FAULT_KINDS <= 16, "fault_at has a slot per fault kind");

int w_faults_parse(const char *s, uint32_t *out, char *bad, size_t bad_len)
{
    uint32_t m = 0;
    const char *p = s;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t) (e - p) : strlen(p);
        bool ok = false;
        if (n == 3 && strncmp(p, "all", 3) == 0) {
            m |= W_F_ALL;
            ok = true;
        } else if (n == 4 && strncmp(p, "none", 4) == 0) {
            ok = true;
        }
        for (size_t k = 0; k < FAULT_KINDS && !ok; k++)
            if (strlen(fault_names[k]) == n && strncmp(p, fault_names[k], n) == 0) {
                m |= 1u << k;
                ok = true;
            }
        if (!ok) {
            snprintf(bad, bad_len, "%.*s", (int) n, p);
            return -1;
        }
        p += n + (e != NULL);
    }
    *out = m;
    return 0;
}

int w_schedule_parse(const char *s, struct w_scheduled *out, uint32_t max, uint32_t *n, char *bad,
                     size_t bad_len)
{
    *n = 0;
    const char *p = s;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t) (e - p) : strlen(p);
        char item[96];
        snprintf(item, sizeof item, "%.*s", (int) len, p);
        snprintf(bad, bad_len, "%s", item);
        char *colon = strchr(item, ':');
        if (colon == NULL || *n >= max)
            return -1;
        *colon = '\0';
        char *unit;
        long long t = strtoll(item, &unit, 10);
        long long mul = strcmp(unit, "ms") == 0 ? 1000 : strcmp(unit, "s") == 0 ? 1000000
                        : strcmp(unit, "us") == 0                        ? 1
                                                                         : -1;
        if (unit == item || mul < 0 || t < 0)
            return -1;
        char *name = colon + 1, *node = strchr(name, ':');
        int nd = -1;
        if (node) {
            *node++ = '\0';
            char *end;
            long v = strtol(node, &end, 10);
            if (*end || end == node || v < 1 || v > 64)
                return -1;
            nd = (int) v;
        }
        uint32_t kind = 0;
        if (w_faults_parse(name, &kind, bad, bad_len) || kind == 0 || (kind & (kind - 1)) != 0) {
            snprintf(bad, bad_len, "%.*s", (int) len, p);
            return -1;
        }
        /* Nodes are 1-based on the command line; leader and depose name a group. */
        bool group = kind == W_F_LEADER || kind == W_F_DEPOSE;
        out[(*n)++] = (struct w_scheduled){t * mul, kind, group ? nd : nd - (nd > 0)};
        p += len + (e != NULL);
    }
    return 0;
}

const char *w_faults_format(uint32_t mask, char *buf, size_t len)
{
    size_t o = 0;
    buf[0] = '\0';
    for (size_t k = 0; k < FAULT_KINDS; k++)
        if (mask & (1u << k))
            o += (size_t) snprintf(buf + o, o < len ? len - o : 0, "%s%s", o ? "," : "",
                                   fault_names[k]);
    if (o == 0)
        snprintf(buf, len, "none");
    return buf;
}

#define STRUCTURAL (W_F_CRASH | W_F_PAUSE | W_F_PARTITION | W_F_LEADER | W_F_DEPOSE)

static tt_micros fault_length(struct w_world *w)
{
    return w->p.down_us / 2 + (tt_micros) rnd_below(w, (uint64_t) w->p.down_us + 1);
}

static void schedule_fault(struct w_world *w)
{
    tt_micros gap = w->p.fault_every_us;
    push(w, w->now + gap / 2 + (tt_micros) rnd_below(w, (uint64_t) gap + 1), W_FAULT, UINT32_MAX,
         NULL, 0);
}

static void fault_end_at(struct w_world *w, uint32_t kind, uint32_t node, tt_micros len)
{
    push(w, w->now + len, W_FAULT_END, node, NULL, kind);
}

/* A random bipartition: a nonempty proper subset of the nodes. */
static uint32_t random_half(struct w_world *w)
{
    uint32_t all = (1u << w->n) - 1, m;
    do
        m = (uint32_t) rnd_below(w, all + 1);
    while (m == 0 || m == all);
    return m;
}

static void start_partition(struct w_world *w)
{
    uint32_t all = (1u << w->n) - 1;
    char detail[64];
    uint64_t shape = rnd_below(w, 4);
    if (shape == 0) { /* one node alone */
        uint32_t v = (uint32_t) rnd_below(w, w->n);
        w_world_partition(w, 1u << v);
        snprintf(detail, sizeof detail, "node %u alone", v + 1);
    } else if (shape == 1 || w->p.zones < 2) { /* two halves */
        w_world_partition(w, random_half(w));
        snprintf(detail, sizeof detail, "halves %#x|%#x", w->cut_a, w->cut_b);
    } else if (shape == 2) { /* one zone cut off */
        uint32_t z = (uint32_t) rnd_below(w, w->p.zones), m = 0;
        for (uint32_t i = 0; i < w->n; i++)
            if (w->nodes[i].zone == z)
                m |= 1u << i;
        w_world_partition(w, m);
        snprintf(detail, sizeof detail, "zone %u cut off", z);
    } else { /* a bridge: two sides that only one node connects */
        uint32_t bridge = (uint32_t) rnd_below(w, w->n);
        uint32_t a = random_half(w) & ~(1u << bridge);
        w->cut_a = a;
        w->cut_b = all & ~a & ~(1u << bridge);
        snprintf(detail, sizeof detail, "bridge node %u between %#x and %#x", bridge + 1, w->cut_a,
                 w->cut_b);
    }
    w->stats.partitions++;
    history_fault(w, "partition", -1, detail);
}

/*
 * A deposed leader: the leader of group g (a random one, or the schedule's)
 * loses every link to the other replicas of g, both ways, while clients
 * still reach it. Its peers' lease grants run out, they elect a successor,
 * and that one commits; the old leader hears of no higher ballot, so it
 * still believes it leads and keeps answering the clients whose leader
 * guess is stale. Only its lease (R5 in txn/reads.c) stops it from serving
 * a single-group strong read at its LastTS(), below the successor's
 * commits. The window lasts 3 leases and more: the peers' grants expire
 * within a lease, an election takes under another, and the successor's
 * commits and a stale client's read then have a lease or more to meet.
 * Returns the deposed node, or -1 when g has no leader now.
 */
static int start_depose(struct w_world *w, int group, tt_micros *len)
{
    txn_group_id g = (txn_group_id) (1 + rnd_below(w, w->p.groups));
    if (group >= 1 && (uint32_t) group <= w->p.groups)
        g = (txn_group_id) group;
    /* The leader holding the lease: an earlier deposed one may still
     * believe it leads too, until it hears of its successor. */
    uint32_t r[W_REPLICAS_MAX], peers = 0;
    uint32_t k = w_world_replicas(w, g, r);
    int l = -1;
    for (uint32_t j = 0; j < W_VOTERS && l < 0; j++)
        if (w->nodes[r[j]].up && txn_node_is_leader(w->nodes[r[j]].tn, g) &&
            txn_node_lease_left(w->nodes[r[j]].tn, g, node_now(w, r[j])) > 0)
            l = (int) r[j];
    if (l < 0)
        return -1;
    char names[32] = "";
    size_t o = 0;
    for (uint32_t j = 0; j < k; j++)
        if (r[j] != (uint32_t) l) {
            peers |= 1u << r[j];
            o += (size_t) snprintf(names + o, o < sizeof names ? sizeof names - o : 0, "%s%u",
                                   o ? "," : "", r[j] + 1);
        }
    SP_ASSERT(peers != 0 && (peers & (1u << l)) == 0);
    w->depose_a = 1u << l;
    w->depose_b = peers;
    w->depose_g = g;
    *len += 3 * w->p.lease_us;
    w->stats.deposed++;
    char detail[128];
    snprintf(detail, sizeof detail, "group %llu leader cut from nodes %s for %lld us",
             (unsigned long long) g, names, (long long) *len);
    history_fault(w, "depose", l + 1, detail);
    return l;
}

static void start_fault(struct w_world *w, uint32_t kind, int node);

static void on_fault(struct w_world *w)
{
    if (!w->chaos || w->stopped || w->now >= w->p.run_us)
        return;
    schedule_fault(w);
    /* A deposed leader weighs three: it is the one fault that tests the
     * lease rule of strong reads (R5), and needs a long quiet window. */
    uint32_t kinds[FAULT_KINDS + 2], nk = 0;
    for (uint32_t k = 0; k < FAULT_KINDS; k++)
        for (uint32_t c = 0; c < ((1u << k) == W_F_DEPOSE ? 3u : 1u); c++)
            if (w->p.faults & (1u << k))
                kinds[nk++] = 1u << k;
    uint32_t kind = kinds[rnd_below(w, nk)];
    if (w->active & kind)
        return;
    /* One structural fault at a time, so most groups keep a majority most
     * of the time; network and clock windows overlap them. */
    if ((kind & STRUCTURAL) && (w->active & STRUCTURAL))
        return;
    start_fault(w, kind, -1);
}

/* A fault of the schedule (params.schedule): it starts whatever else is
 * going on, unless the same kind is still in progress. */
static void on_scheduled_fault(struct w_world *w, uint64_t arg)
{
    uint32_t kind = (uint32_t) (arg & 0xffffffffu);
    int node = (int) (arg >> 32) - 1;
    if (!w->chaos || (w->active & kind)) {
        wlog(w, "scheduled fault %#x skipped: %s", kind,
             w->chaos ? "the same kind is in progress" : "settling");
        return;
    }
    start_fault(w, kind, node);
}

/* Starts fault `kind` at node (-1: a random one; leader: of a random group). */
static void start_fault(struct w_world *w, uint32_t kind, int node)
{
    uint32_t v = (uint32_t) rnd_below(w, w->n);
    if (node >= 0 && (uint32_t) node < w->n)
        v = (uint32_t) node;
    tt_micros len = fault_length(w);
    char detail[64];
    switch (kind) {
    case W_F_CRASH:
    case W_F_LEADER:
        if (kind == W_F_LEADER) {
            txn_group_id g = (txn_group_id) (1 + rnd_below(w, w->p.groups));
            int l = w_world_leader(w, node >= 1 && (uint32_t) node <= w->p.groups
                                          ? (txn_group_id) node /* the schedule names a group */
                                          : g);
            if (l < 0)
                return;
            v = (uint32_t) l;
            w->stats.leader_kills++;
        }
        history_fault(w, kind == W_F_LEADER ? "leader" : "crash", (int) v + 1, NULL);
        w_world_crash(w, v);
        break;
    case W_F_PAUSE:
        w->nodes[v].paused_until = w->now + len;
        w->stats.pauses++;
        history_fault(w, "pause", (int) v + 1, NULL);
        break;
    case W_F_PARTITION:
        start_partition(w);
        break;
    case W_F_DROP:
    case W_F_DUP:
    case W_F_REORDER:
        w->stats.net_faults++;
        history_fault(w, kind == W_F_DROP ? "drop" : kind == W_F_DUP ? "dup" : "reorder", -1,
                      NULL);
        break;
    case W_F_SLOW:
        w->slow_za = (uint32_t) rnd_below(w, w->p.zones ? w->p.zones : 1);
        w->slow_zb = (uint32_t) rnd_below(w, w->p.zones ? w->p.zones : 1);
        w->stats.net_faults++;
        snprintf(detail, sizeof detail, "zones %u-%u", w->slow_za, w->slow_zb);
        history_fault(w, "slow", -1, detail);
        break;
    case W_F_DISK:
        w->nodes[v].disk_slow = 20;
        w->stats.disk_faults++;
        history_fault(w, "disk-slow", (int) v + 1, NULL);
        break;
    case W_F_CLOCK: {
        /* A step and a wider reported eps; the offset stays inside it. */
        tt_micros eps = w->p.eps_us * (tt_micros) (2 + rnd_below(w, 3));
        clock_set(w, v, (tt_micros) rnd_below(w, (uint64_t) (2 * eps + 1)) - eps, eps);
        w->stats.clock_faults++;
        snprintf(detail, sizeof detail, "eps %lld offset %lld", (long long) eps,
                 (long long) w->nodes[v].offset_us);
        history_fault(w, "clock", (int) v + 1, detail);
        break;
    }
    case W_F_CLOCK_BAD: {
        /* The negative control: the clock is off by more than its eps. */
        tt_micros e = w->nodes[v].eps_us;
        tt_micros off = e * (tt_micros) (2 + rnd_below(w, 4)) * (rnd_below(w, 2) ? 1 : -1);
        w->nodes[v].clock_bad = true;
        w->clock_bad_ever = true;
        clock_set(w, v, off, e);
        w->stats.clock_bad++;
        snprintf(detail, sizeof detail, "offset %lld outside eps %lld", (long long) off,
                 (long long) e);
        history_fault(w, "clock-bad", (int) v + 1, detail);
        break;
    }
    case W_F_DEPOSE: {
        int l = start_depose(w, node, &len);
        if (l < 0)
            return;
        v = (uint32_t) l;
        break;
    }
    default:
        return;
    }
    w->active |= kind;
    w->fault_at[__builtin_ctz(kind)] = v;
    fault_end_at(w, kind, v, len);
}

static void on_fault_end(struct w_world *w, uint32_t kind, uint32_t v)
{
    if (!(w->active & kind))
        return; /* healed already (settle) */
    w->active &= ~kind;
    switch (kind) {
    case W_F_CRASH:
    case W_F_LEADER:
        w_world_restart(w, v);
        break;
    case W_F_PAUSE:
        wlog(w, "resume node %u", v + 1);
        break;
    case W_F_PARTITION:
        w_world_heal(w);
        break;
    case W_F_DEPOSE: {
        /* Who believes it leads, as the cut heals: the old leader and,
         * once elected, its successor. */
        char who[64] = "";
        size_t o = 0;
        uint32_t r[W_REPLICAS_MAX];
        uint32_t k = w_world_replicas(w, w->depose_g, r);
        for (uint32_t j = 0; j < k && o < sizeof who; j++)
            if (w->nodes[r[j]].up && txn_node_is_leader(w->nodes[r[j]].tn, w->depose_g))
                o += (size_t) snprintf(who + o, sizeof who - o, " %u", r[j] + 1);
        w->depose_a = w->depose_b = 0;
        wlog(w, "node %u rejoins group %llu; leaders:%s", v + 1,
             (unsigned long long) w->depose_g, o ? who : " none");
        break;
    }
    case W_F_DISK:
        w->nodes[v].disk_slow = 1;
        wlog(w, "disk of node %u normal", v + 1);
        break;
    case W_F_CLOCK:
    case W_F_CLOCK_BAD: {
        tt_micros e = w->p.eps_us;
        w->nodes[v].clock_bad = false;
        clock_set(w, v, (tt_micros) rnd_below(w, (uint64_t) (2 * e + 1)) - e, e);
        wlog(w, "clock of node %u back inside eps", v + 1);
        break;
    }
    default:
        wlog(w, "end of fault %#x", kind);
        break;
    }
}

/* Ends every fault window now (settle). */
static void faults_heal(struct w_world *w)
{
    for (uint32_t k = 0; k < FAULT_KINDS; k++) {
        uint32_t kind = 1u << k;
        if (kind != W_F_CRASH && kind != W_F_LEADER) /* settle restarts every node */
            on_fault_end(w, kind, w->fault_at[k]);
    }
    for (uint32_t i = 0; i < w->n; i++)
        w->nodes[i].paused_until = 0;
}

static void deliver(struct w_world *w, struct w_event *e)
{
    struct w_node *nd = &w->nodes[e->node];
    if (!nd->up) {
        free_event(e);
        return;
    }
    struct txn_node_event ev = {0};
    if (e->kind == W_REQUEST && w->req_hook && !w->req_hook(w, e->node, e->ptr, w->req_hook_ctx)) {
        free_event(e);
        return;
    }
    if (!nd->up) { /* the hook may have crashed it */
        free_event(e);
        return;
    }
    if (e->kind == W_REQUEST) {
        ev.type = TXN_NODE_EV_CLIENT;
        ev.req = e->ptr;
    } else {
        struct txn_node_msg *m = e->ptr;
        ev.type = m->is_paxos ? TXN_NODE_EV_PAXOS : TXN_NODE_EV_TXN;
        ev.group = m->group;
        if (m->is_paxos)
            ev.paxos = &m->paxos;
        else
            ev.txn = &m->txn;
    }
    step_node(w, e->node, &ev);
    free_event(e);
}

static void run_event(struct w_world *w, struct w_event *e)
{
    w->stats.events++;
    struct w_node *nd = e->node < w->n ? &w->nodes[e->node] : NULL;
    bool node_event = e->kind == W_DELIVER || e->kind == W_REQUEST || e->kind == W_DISK_DONE ||
                      e->kind == W_TICK;
    if (nd && node_event && nd->paused_until > w->now) {
        /* A paused node takes no step: its input waits, in order. */
        struct w_event later = *e;
        later.at = nd->paused_until;
        push_event(w, later);
        return;
    }
    switch (e->kind) {
    case W_DELIVER:
    case W_REQUEST:
        deliver(w, e);
        break;
    case W_REPLY:
        /* Only a reply the client no longer waits for can be a late one. */
        if (w->deferred_n > 0 && reply_stale(&w->clients[e->node], e->ptr))
            late_reply(w, e->ptr);
        client_on_reply(w, &w->clients[e->node], e->ptr);
        free_event(e);
        break;
    case W_DISK_DONE:
        if (nd->up && e->epoch == nd->epoch)
            disk_done(w, e->node);
        break;
    case W_TICK:
        if (nd->up && e->epoch == nd->epoch && (tt_micros) e->arg == nd->tick_at) {
            struct txn_node_event ev = {.type = TXN_NODE_EV_TICK};
            step_node(w, e->node, &ev);
        }
        break;
    case W_CLIENT_TIMER:
        if (w->clients[e->node].timer_at == (tt_micros) e->arg)
            client_on_timer(w, &w->clients[e->node]);
        break;
    case W_CRASH:
        on_crash_event(w);
        break;
    case W_RESTART:
        w_world_restart(w, e->node);
        break;
    case W_HEAL:
        w_world_heal(w);
        break;
    case W_FAULT:
        if (e->arg)
            on_scheduled_fault(w, e->arg);
        else
            on_fault(w);
        break;
    case W_FAULT_END:
        on_fault_end(w, (uint32_t) e->arg, e->node);
        break;
    }
}

int w_world_run_until(struct w_world *w, tt_micros t)
{
    while (w->heap_n > 0 && w->heap[0].at <= t && !w->violation[0]) {
        struct w_event e = pop(w);
        SP_ASSERT(e.at >= w->now);
        w->now = e.at;
        w->current = e; /* what it owns stays reachable if a step never returns */
        run_event(w, &e);
    }
    if (!w->violation[0] && w->now < t)
        w->now = t;
    w->stats.end_us = w->now;
    return w->violation[0] ? SP_ESIM_VIOLATION : 0;
}

struct w_world *w_world_create(const struct w_params *p)
{
    SP_ASSERT(p->nodes >= W_VOTERS + (p->read_only ? 1 : 0) && p->nodes <= W_NODES_MAX);
    SP_ASSERT(p->groups >= 1 && p->groups <= W_GROUPS_MAX && p->clients <= W_CLIENTS_MAX);
    SP_ASSERT(p->accounts >= 2 && p->accounts <= W_ACCOUNTS_MAX);
    struct w_world *w = calloc(1, sizeof *w);
    SP_ASSERT(w != NULL);
    w->p = *p;
    w->rng = p->seed * 0x9E3779B97F4A7C15ull + 1;
    w->n = p->nodes;
    w->now = 1000 * 1000 * 1000; /* virtual epoch: timestamps stay positive */
    w->chaos = true;
    for (uint32_t i = 0; i < w->n; i++) {
        struct w_node *nd = &w->nodes[i];
        nd->id = i + 1;
        nd->zone = i % (p->zones ? p->zones : 1);
        tt_micros e = p->eps_us;
        nd->offset_us = p->extreme_offsets ? (i % 2 ? -e : e)
                                           : (tt_micros) rnd_below(w, (uint64_t) (2 * e + 1)) - e;
        nd->offset_t0 = w->now;
        nd->eps_us = e;
        nd->disk_slow = 1;
        if (p->faults & W_F_CLOCK)
            nd->drift_ppm = (int32_t) rnd_below(w, 401) - 200; /* +-200 ppm */
        nd->env = rocksdb_create_mem_env();
        SP_ASSERT(nd->env != NULL);
    }
    /* Zone pairs differ: each gets lat_wan_us x [0.5, 2) (a seed's geography). */
    uint32_t zones = p->zones ? p->zones : 1;
    for (uint32_t a = 0; a < zones && a < W_NODES_MAX; a++)
        for (uint32_t b = a; b < zones && b < W_NODES_MAX; b++) {
            tt_micros l = a == b      ? p->lat_zone_us
                          : !p->txns ? p->lat_wan_us /* scripted tests: one WAN latency */
                                     : p->lat_wan_us / 2 +
                                           (tt_micros) rnd_below(w, (uint64_t) (3 * p->lat_wan_us / 2) + 1);
            w->pair_us[a][b] = w->pair_us[b][a] = l;
        }
    for (uint32_t i = 0; i < w->n; i++)
        node_open(w, i);
    for (uint32_t i = 0; i < W_SLOTS_CLIENT; i++) {
        struct w_client *c = &w->clients[i];
        c->idx = i;
        c->zone = i % (p->zones ? p->zones : 1);
        c->workload = i < p->clients;
        for (txn_group_id g = 1; g <= p->groups; g++)
            c->leader[g] = (uint32_t) (g - 1) % w->n;
        if (c->workload)
            client_timer(w, c, w->now + 300 * 1000 + (tt_micros) rnd_below(w, 10000));
    }
    if (p->txns)
        w->p.run_us = TT_MICROS_MAX / 4; /* until txns operations started */
    else
        w->p.run_us += w->now;
    if (w->p.keys == 0)
        w->p.keys = 8;
    w->init_op = -1;
    if (p->workload == W_BANK && p->init_accounts)
        w->init_op = init_accounts(w);
    for (uint32_t k = 0; k < p->schedule_n; k++) /* arg: kind, node + 1 */
        push(w, w->now + p->schedule[k].at_us, W_FAULT, UINT32_MAX, NULL,
             (uint64_t) p->schedule[k].kind | (uint64_t) (p->schedule[k].node + 1) << 32);
    if (p->down_us == 0 && p->schedule_n)
        w->p.down_us = 300 * 1000;
    if (p->faults) {
        if (w->p.fault_every_us == 0)
            w->p.fault_every_us = 300 * 1000;
        if (w->p.down_us == 0)
            w->p.down_us = 300 * 1000;
        if (w->p.drop_pct == 0)
            w->p.drop_pct = 10;
        schedule_fault(w);
    } else {
        schedule_crash(w);
    }
    return w;
}

void w_world_destroy(struct w_world *w)
{
    if (w == NULL)
        return;
    while (w->heap_n > 0) {
        struct w_event e = pop(w);
        free_event(&e);
    }
    free(w->heap);
    for (uint32_t i = 0; i < w->n; i++) {
        w_world_crash(w, i);
        for (uint32_t g = 0; g <= W_GROUPS_MAX; g++)
            plog_free(&w->nodes[i].plog[g]);
        rocksdb_env_destroy(w->nodes[i].env);
    }
    for (uint32_t i = 0; i < w->ops_n; i++)
        op_free_items(&w->ops[i]);
    free(w->ops);
    free(w);
}

static bool quiet(struct w_world *w)
{
    for (uint32_t i = 0; i < W_SLOTS_CLIENT; i++)
        if (w->clients[i].phase != C_IDLE)
            return false;
    for (uint32_t i = 0; i < w->n; i++)
        for (txn_group_id g = 1; g <= w->p.groups; g++)
            if (w->nodes[i].up && hosts(w, i, g) && txn_node_prepared_n(w->nodes[i].tn, g) != 0)
                return false;
    return true;
}

int w_world_settle(struct w_world *w, tt_micros max_us)
{
    w->chaos = false;
    faults_heal(w);
    w_world_heal(w);
    for (uint32_t i = 0; i < w->n; i++)
        w_world_restart(w, i);
    tt_micros deadline = w->now + max_us;
    if (w->now < w->p.run_us)
        w->p.run_us = w->now; /* clients stop starting operations */
    while (!quiet(w) && w->now < deadline && !w->violation[0])
        w_world_run_until(w, w->now + 10 * 1000);
    if (!w->violation[0] && !quiet(w)) {
        char what[256] = "";
        size_t len = 0;
        for (uint32_t i = 0; i < W_SLOTS_CLIENT && len < 200; i++)
            if (w->clients[i].phase != C_IDLE)
                len += (size_t) snprintf(what + len, sizeof what - len, " client %u phase %d", i,
                                         (int) w->clients[i].phase);
        for (uint32_t i = 0; i < w->n && len < 200; i++)
            for (txn_group_id g = 1; g <= w->p.groups && len < 200; g++)
                if (hosts(w, i, g) && txn_node_prepared_n(w->nodes[i].tn, g))
                    len += (size_t) snprintf(
                        what + len, sizeof what - len, " node %u group %llu: %u prepared", i + 1,
                        (unsigned long long) g, txn_node_prepared_n(w->nodes[i].tn, g));
        violate(w, "not settled after %lld us:%s", (long long) max_us, what);
    }
    /* A final strong read must see the constant total (checked in op_done);
     * it may retry for GIVE_UP_US from here. */
    w->p.run_us = w->now;
    w->stopped = true;
    if (w->p.workload == W_BANK) {
        int op = w_world_read_all(w);
        while (!w->ops[op].done && w->now < deadline + max_us && !w->violation[0])
            w_world_run_until(w, w->now + 10 * 1000);
        if (!w->violation[0] && w->ops[op].status != 0)
            violate(w, "final read-only transaction failed: %s", sp_errname(w->ops[op].status));
    }
    w_world_flush_history(w); /* the unknown outcomes, with what late replies said */
    if (w->p.no_inline_checks)
        return w->violation[0] ? SP_ESIM_VIOLATION : 0;
    return w_world_check(w);
}

int w_run(const struct w_params *p, struct w_stats *stats, char *why, size_t why_len)
{
    struct w_world *w = w_world_create(p);
    int rc = w_world_run_until(w, w->p.run_us);
    if (rc == 0)
        rc = w_world_settle(w, 5 * 1000 * 1000);
    if (stats)
        *stats = w->stats;
    if (why && why_len)
        snprintf(why, why_len, "%s", w->violation);
    w_world_destroy(w);
    return rc;
}

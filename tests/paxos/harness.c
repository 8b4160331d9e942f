/*
 * harness.c - the deterministic world of harness.h: event queue, network,
 * disk, clocks, application, and the safety checkers.
 *
 * Every random choice comes from one xorshift generator seeded by
 * params.seed, and events at equal times are ordered by insertion, so a
 * seed replays exactly.
 */
#include "harness.h"

#include "sp_assert.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define H_EVENTS_MAX  (1u << 20) /* queued events; a runaway is a bug */
#define H_SLOTS_MAX   (1u << 20)
#define H_CONFIGS_MAX 4096

enum h_kind { H_DELIVER = 1, H_DISK_DONE, H_TICK, H_CLIENT, H_FAULT, H_RESTART, H_SNAP_INSTALL };

struct h_event {
    tt_micros at;
    uint64_t seq;
    enum h_kind kind;
    uint32_t node;
    uint32_t epoch;
    void *ptr;
    uint64_t arg;
};

/* A stored entry (disk or app), owning its bytes. */
struct h_sentry {
    bool present;
    paxos_ballot ballot;
    uint8_t type;
    uint32_t len;
    uint8_t *data;
};

struct h_store {
    struct paxos_hard_state hs;
    bool has_hs;
    struct h_sentry *slots; /* indexed by slot */
    size_t cap;
};

/* One update's persist and messages, deep-copied. */
struct h_batch {
    struct h_batch *next;
    uint64_t seq;
    bool sync, hs_changed;
    struct paxos_hard_state hs;
    uint32_t n_entries;
    struct paxos_entry *entries;
    paxos_slot truncate;
    uint32_t n_msgs;
    struct paxos_msg *msgs;
};

struct h_node {
    paxos_node_id id;
    uint32_t zone;
    bool up;
    uint32_t epoch;     /* bumped by a crash; stale events are ignored */
    tt_micros eps_us;   /* the bound the clock reports */
    tt_micros swing_us; /* |offset| <= swing: eps, or more with bad clocks */
    tt_micros phase_us; /* where on its drift cycle the clock starts */
    int64_t drift_ppm;  /* how fast the offset moves, 0..200 ppm */
    struct paxos_replica *r;
    struct h_store disk;                      /* durable */
    struct h_batch *unsynced, *unsynced_tail; /* written, not synced */
    struct h_batch *queue, *queue_tail;       /* not yet written */
    tt_micros disk_free_at;
    tt_micros tick_at;
    /* The application. */
    uint64_t *app; /* hash per slot */
    size_t app_cap;
    paxos_slot applied;      /* app state covers slots <= applied */
    paxos_slot snap;         /* durable app snapshot */
    paxos_slot core_applied; /* last slot the core handed us since restart */
    bool snap_announced;
    paxos_slot snap_wanted;
    /* Lease epoch currently observed at this node. */
    int epoch_idx;
};

struct h_acc {
    paxos_ballot ballot;
    uint64_t hash;
    uint32_t nodes; /* bits */
};

struct h_slotinfo {
    uint64_t chosen; /* hash, 0 unknown */
    uint64_t committed;
    uint32_t n_acc, cap_acc;
    struct h_acc *acc;
};

struct h_lease {
    uint32_t node;
    paxos_ballot ballot;
    tt_micros first_true, start, end;
    bool abdicated;
};

struct h_world {
    struct h_params p;
    uint64_t rng;
    tt_micros now;
    uint64_t seq;
    struct h_event *heap;
    uint32_t n_heap, cap_heap;
    uint32_t n;
    struct h_node nodes[H_NODES_MAX];
    uint64_t cut; /* bit from * H_NODES_MAX + to: that link drops everything */
    bool chaos;
    struct h_slotinfo *slots;
    size_t cap_slots;
    paxos_slot max_chosen;
    struct h_lease *leases;
    uint32_t n_leases, cap_leases;
    struct {
        paxos_slot slot; /* committed CONFIG entry; 0 for the bootstrap */
        struct paxos_membership m;
    } configs[H_CONFIGS_MAX];
    uint32_t n_configs;
    paxos_slot commit_max; /* every slot <= this is committed somewhere */
    uint64_t events;
    uint64_t proposal_id;
    struct h_result stats;  /* coverage counters */
    tt_micros ts_max;       /* highest timestamp any leader assigned */
    paxos_ballot ts_ballot; /* ... and the ballot that assigned it */
    uint32_t markers_seen;  /* bits of final proposals committed */
    paxos_slot marker_slot_max;
    char violation[256];
};

/* ---- utilities ----------------------------------------------------------- */

static uint64_t rnd(struct h_world *w)
{
    uint64_t x = w->rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return w->rng = x;
}

static uint64_t rnd_below(struct h_world *w, uint64_t n)
{
    SP_ASSERT(n > 0);
    return rnd(w) % n;
}

static uint64_t node_random(void *ctx)
{
    return rnd(ctx);
}

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    SP_ASSERT(p != NULL);
    return p;
}

static void *xdup(const void *src, size_t len)
{
    if (len == 0)
        return NULL;
    void *p = malloc(len);
    SP_ASSERT(p != NULL);
    memcpy(p, src, len);
    return p;
}

static void violate(struct h_world *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void violate(struct h_world *w, const char *fmt, ...)
{
    if (w->violation[0] != '\0')
        return;
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(w->violation, sizeof w->violation, "t=%lld: %s", (long long) w->now, msg);
}

#define TRACE(w, ...)                                                                              \
    do {                                                                                           \
        if ((w)->p.verbose) {                                                                      \
            fprintf(stderr, "[%9lld] ", (long long) (w)->now);                                     \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
        }                                                                                          \
    } while (0)

static uint64_t entry_hash(uint8_t type, const uint8_t *data, uint32_t len)
{
    uint64_t h = 1469598103934665603ull ^ type;
    for (uint32_t i = 0; i < len; i++)
        h = (h ^ data[i]) * 1099511628211ull;
    return h | 1;
}

/* ---- event queue: a binary heap ordered by (at, seq) --------------------- */

static bool ev_less(const struct h_event *a, const struct h_event *b)
{
    return a->at < b->at || (a->at == b->at && a->seq < b->seq);
}

static void push(struct h_world *w, tt_micros at, enum h_kind kind, uint32_t node, void *ptr,
                 uint64_t arg)
{
    SP_ASSERT(w->n_heap < H_EVENTS_MAX);
    if (w->n_heap == w->cap_heap) {
        w->cap_heap = w->cap_heap ? 2 * w->cap_heap : 256;
        w->heap = realloc(w->heap, w->cap_heap * sizeof *w->heap);
        SP_ASSERT(w->heap != NULL);
    }
    struct h_event e = {.at = at < w->now ? w->now : at,
                        .seq = w->seq++,
                        .kind = kind,
                        .node = node,
                        .epoch = node < w->n ? w->nodes[node].epoch : 0,
                        .ptr = ptr,
                        .arg = arg};
    uint32_t i = w->n_heap++;
    while (i > 0 && ev_less(&e, &w->heap[(i - 1) / 2])) {
        w->heap[i] = w->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    w->heap[i] = e;
}

static struct h_event pop(struct h_world *w)
{
    SP_ASSERT(w->n_heap > 0);
    struct h_event top = w->heap[0], last = w->heap[--w->n_heap];
    uint32_t i = 0;
    for (;;) {
        uint32_t c = 2 * i + 1;
        if (c >= w->n_heap)
            break;
        if (c + 1 < w->n_heap && ev_less(&w->heap[c + 1], &w->heap[c]))
            c++;
        if (!ev_less(&w->heap[c], &last))
            break;
        w->heap[i] = w->heap[c];
        i = c;
    }
    if (w->n_heap > 0)
        w->heap[i] = last;
    return top;
}

/* ---- clocks ---------------------------------------------------------------- */

/* The clock's offset from true time at true time t: a triangle wave of
 * amplitude swing_us that moves at drift_ppm, so the clock drifts and
 * turns but never runs backwards (1 + drift > 0). */
static tt_micros clock_offset(const struct h_node *nd, tt_micros t)
{
    tt_micros a = nd->swing_us;
    if (a == 0)
        return 0;
    tt_micros u =
        (nd->phase_us + t / 1000000 * nd->drift_ppm + (t % 1000000) * nd->drift_ppm / 1000000) %
        (4 * a);
    return u < 2 * a ? u - a : 3 * a - u;
}

static struct tt_interval node_now(const struct h_world *w, const struct h_node *nd)
{
    tt_micros c = w->now + clock_offset(nd, w->now);
    struct tt_interval iv = {c - nd->eps_us, c + nd->eps_us};
    /* The bound holds, unless the test breaks it on purpose. */
    SP_ASSERT(w->p.bad_clocks || (iv.earliest <= w->now && w->now <= iv.latest));
    return iv;
}

static void clock_init(struct h_world *w, struct h_node *nd)
{
    nd->eps_us = w->p.eps_max_us / 4 + (tt_micros) rnd_below(w, (uint64_t) w->p.eps_max_us);
    if (nd->eps_us > w->p.eps_max_us)
        nd->eps_us = w->p.eps_max_us;
    nd->swing_us = w->p.bad_clocks ? 4 * nd->eps_us : nd->eps_us;
    nd->phase_us = (tt_micros) rnd_below(w, (uint64_t) (4 * nd->swing_us));
    nd->drift_ppm = (int64_t) rnd_below(w, 201);
}

/* ---- messages ---------------------------------------------------------------- */

static struct paxos_entry *copy_entries(const struct paxos_entry *src, uint32_t n)
{
    if (n == 0)
        return NULL;
    struct paxos_entry *es = xcalloc(n, sizeof *es);
    for (uint32_t i = 0; i < n; i++) {
        es[i] = src[i];
        es[i].data = xdup(src[i].data, src[i].len);
    }
    return es;
}

static void free_entries(struct paxos_entry *es, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        free((void *) es[i].data);
    free(es);
}

static struct paxos_msg *copy_msg(const struct paxos_msg *m)
{
    struct paxos_msg *c = xcalloc(1, sizeof *c);
    *c = *m;
    c->entries = copy_entries(m->entries, m->n_entries);
    return c;
}

static void free_msg(struct paxos_msg *m)
{
    free_entries((struct paxos_entry *) m->entries, m->n_entries);
    free(m);
}

static int node_index(const struct h_world *w, paxos_node_id id)
{
    for (uint32_t i = 0; i < w->n; i++)
        if (w->nodes[i].id == id)
            return (int) i;
    return -1;
}

static tt_micros latency(struct h_world *w, uint32_t a, uint32_t b)
{
    static const tt_micros zone_us[3][3] = {
        {300, 8000, 20000}, {8000, 300, 12000}, {20000, 12000, 300}};
    tt_micros base = zone_us[w->nodes[a].zone][w->nodes[b].zone];
    return base + (tt_micros) rnd_below(w, (uint64_t) base + 5000);
}

static void send_msg(struct h_world *w, uint32_t from, const struct paxos_msg *m)
{
    int to = node_index(w, m->to);
    if (to < 0)
        return;
    bool cut = (w->cut >> (from * H_NODES_MAX + (uint32_t) to)) & 1u;
    w->stats.msgs_sent++;
    if (cut || (w->chaos && rnd_below(w, 100) < w->p.drop_pct)) {
        w->stats.msgs_dropped++;
        return;
    }
    uint32_t copies = (w->chaos && rnd_below(w, 100) < w->p.dup_pct) ? 2 : 1;
    w->stats.msgs_duplicated += copies - 1;
    for (uint32_t i = 0; i < copies; i++)
        push(w, w->now + latency(w, from, (uint32_t) to), H_DELIVER, (uint32_t) to, copy_msg(m), 0);
}

/* ---- disk ------------------------------------------------------------------ */

static void store_put(struct h_store *st, const struct paxos_entry *e)
{
    SP_ASSERT(e->slot < H_SLOTS_MAX);
    if (e->slot >= st->cap) {
        size_t cap = st->cap ? st->cap : 256;
        while (cap <= e->slot)
            cap *= 2;
        st->slots = realloc(st->slots, cap * sizeof *st->slots);
        SP_ASSERT(st->slots != NULL);
        memset(st->slots + st->cap, 0, (cap - st->cap) * sizeof *st->slots);
        st->cap = cap;
    }
    struct h_sentry *s = &st->slots[e->slot];
    free(s->data);
    s->present = true;
    s->ballot = e->ballot;
    s->type = e->type;
    s->len = e->len;
    s->data = xdup(e->data, e->len);
}

static void store_apply(struct h_store *st, const struct h_batch *b)
{
    if (b->hs_changed) {
        st->hs = b->hs;
        st->has_hs = true;
    }
    for (paxos_slot s = 1; s <= b->truncate && s < st->cap; s++) {
        free(st->slots[s].data);
        memset(&st->slots[s], 0, sizeof st->slots[s]);
    }
    for (uint32_t i = 0; i < b->n_entries; i++)
        store_put(st, &b->entries[i]);
}

static void store_free(struct h_store *st)
{
    for (size_t i = 0; i < st->cap; i++)
        free(st->slots[i].data);
    free(st->slots);
    memset(st, 0, sizeof *st);
}

static void batch_free(struct h_batch *b)
{
    free_entries(b->entries, b->n_entries);
    for (uint32_t i = 0; i < b->n_msgs; i++)
        free_entries((struct paxos_entry *) b->msgs[i].entries, b->msgs[i].n_entries);
    free(b->msgs);
    free(b);
}

static struct h_slotinfo *slotinfo(struct h_world *w, paxos_slot s)
{
    SP_ASSERT(s < H_SLOTS_MAX);
    if (s >= w->cap_slots) {
        size_t cap = w->cap_slots ? w->cap_slots : 256;
        while (cap <= s)
            cap *= 2;
        w->slots = realloc(w->slots, cap * sizeof *w->slots);
        SP_ASSERT(w->slots != NULL);
        memset(w->slots + w->cap_slots, 0, (cap - w->cap_slots) * sizeof *w->slots);
        w->cap_slots = cap;
    }
    return &w->slots[s];
}

/* The configuration governing slot s: the last committed CONFIG entry
 * below s (M1). Known once every slot below s is committed somewhere. */
static const struct paxos_membership *config_for(const struct h_world *w, paxos_slot s)
{
    SP_ASSERT(w->n_configs > 0 && s <= w->commit_max + 1);
    uint32_t k = w->n_configs - 1;
    while (k > 0 && w->configs[k].slot >= s)
        k--;
    return &w->configs[k].m;
}

/* True if the nodes in `bits` (bit = node index) hold a majority of c's
 * voters. */
static bool majority(const struct paxos_membership *c, uint32_t bits)
{
    uint32_t voters = 0, have = 0;
    for (uint32_t i = 0; i < c->n; i++) {
        if (c->m[i].role != PAXOS_VOTER)
            continue;
        voters++;
        have += (bits >> (c->m[i].id - 1)) & 1u;
    }
    return voters > 0 && have > voters / 2;
}

/* A value with a majority of durable accepts under slot s's configuration
 * is chosen; it must be the one value ever chosen there. */
static void check_chosen(struct h_world *w, paxos_slot s, const struct h_acc *a)
{
    struct h_slotinfo *si = slotinfo(w, s);
    if (!majority(config_for(w, s), a->nodes))
        return;
    if (si->chosen != 0 && si->chosen != a->hash)
        violate(w, "slot %llu: two different values chosen (second at ballot %llu)",
                (unsigned long long) s, (unsigned long long) a->ballot);
    si->chosen = a->hash;
    if (s > w->max_chosen)
        w->max_chosen = s;
}

static struct h_acc *acc_record(struct h_slotinfo *si, paxos_ballot b, uint64_t h)
{
    for (uint32_t i = 0; i < si->n_acc; i++)
        if (si->acc[i].ballot == b)
            return &si->acc[i];
    SP_ASSERT(si->n_acc < 4096);
    if (si->n_acc == si->cap_acc) {
        si->cap_acc = si->cap_acc ? 2 * si->cap_acc : 4;
        si->acc = realloc(si->acc, si->cap_acc * sizeof *si->acc);
        SP_ASSERT(si->acc != NULL);
    }
    struct h_acc *a = &si->acc[si->n_acc++];
    a->ballot = b;
    a->hash = h;
    a->nodes = 0;
    return a;
}

/* Checker "chosen": node accepted e durably. Which nodes count depends on
 * the slot's configuration, so the verdict waits until that is known. */
static void note_accepted(struct h_world *w, uint32_t node, const struct paxos_entry *e)
{
    struct h_slotinfo *si = slotinfo(w, e->slot);
    uint64_t h = entry_hash(e->type, e->data, e->len);
    struct h_acc *a = acc_record(si, e->ballot, h);
    if (a->hash != h) {
        violate(w, "slot %llu ballot %llu: two values accepted", (unsigned long long) e->slot,
                (unsigned long long) e->ballot);
        return;
    }
    a->nodes |= 1u << node;
    if (e->slot <= w->commit_max + 1)
        check_chosen(w, e->slot, a);
}

/* Slot s was committed for the first time, with value h: every slot below
 * is committed, so its configuration is known now. */
static void first_commit(struct h_world *w, paxos_slot s, const struct paxos_entry *e, uint64_t h)
{
    SP_ASSERT(s == w->commit_max + 1);
    struct h_slotinfo *si = slotinfo(w, s);
    for (uint32_t k = 0; k < si->n_acc; k++)
        check_chosen(w, s, &si->acc[k]);
    if (si->chosen != h)
        violate(w, "slot %llu committed a value without a majority of accepts",
                (unsigned long long) s);
    w->commit_max = s;
    if (e->type == PAXOS_ENTRY_CONFIG) {
        SP_ASSERT(w->n_configs < H_CONFIGS_MAX);
        w->configs[w->n_configs].slot = s;
        SP_ASSERT(paxos_config_decode(e->data, e->len, &w->configs[w->n_configs].m) == 0);
        w->n_configs++;
    }
    /* Accepts of the next slot may be judged now. */
    struct h_slotinfo *next = slotinfo(w, s + 1);
    for (uint32_t k = 0; k < next->n_acc; k++)
        check_chosen(w, s + 1, &next->acc[k]);
}

static void step_node(struct h_world *w, uint32_t i, struct paxos_event *ev);

static void disk_done(struct h_world *w, uint32_t i, struct h_batch *b)
{
    struct h_node *nd = &w->nodes[i];
    SP_ASSERT(nd->queue == b);
    nd->queue = b->next;
    if (nd->queue == NULL)
        nd->queue_tail = NULL;
    b->next = NULL;
    for (uint32_t k = 0; k < b->n_entries; k++)
        note_accepted(w, i, &b->entries[k]);
    for (uint32_t k = 0; k < b->n_msgs; k++) {
        send_msg(w, i, &b->msgs[k]);
        free_entries((struct paxos_entry *) b->msgs[k].entries, b->msgs[k].n_entries);
    }
    free(b->msgs);
    b->msgs = NULL;
    b->n_msgs = 0;
    uint64_t seq = b->seq;
    if (b->sync) {
        for (struct h_batch *u = nd->unsynced; u != NULL;) {
            struct h_batch *next = u->next;
            store_apply(&nd->disk, u);
            batch_free(u);
            u = next;
        }
        nd->unsynced = nd->unsynced_tail = NULL;
        store_apply(&nd->disk, b);
        batch_free(b);
    } else {
        if (nd->unsynced_tail)
            nd->unsynced_tail->next = b;
        else
            nd->unsynced = b;
        nd->unsynced_tail = b;
    }
    if (seq != 0) {
        struct paxos_event ev = {.type = PAXOS_EV_PERSISTED};
        ev.persisted.seq = seq;
        step_node(w, i, &ev);
    }
}

static void enqueue_batch(struct h_world *w, uint32_t i, const struct paxos_update *up)
{
    struct h_node *nd = &w->nodes[i];
    struct h_batch *b = xcalloc(1, sizeof *b);
    b->seq = up->persist_seq;
    b->sync = up->sync;
    b->hs_changed = up->hs_changed;
    b->hs = up->hs;
    b->n_entries = up->n_entries;
    b->entries = copy_entries(up->entries, up->n_entries);
    b->truncate = up->truncate_through;
    b->n_msgs = up->n_msgs;
    b->msgs = xcalloc(up->n_msgs, sizeof *b->msgs);
    for (uint32_t k = 0; k < up->n_msgs; k++) {
        b->msgs[k] = up->msgs[k];
        b->msgs[k].entries = copy_entries(up->msgs[k].entries, up->msgs[k].n_entries);
    }
    /* Nothing to write: still behind earlier batches (persist before send). */
    tt_micros lat = up->persist_seq ? 200 + (tt_micros) rnd_below(w, up->sync ? 3000 : 300) : 0;
    tt_micros at = w->now + lat;
    if (at < nd->disk_free_at)
        at = nd->disk_free_at;
    nd->disk_free_at = at;
    if (nd->queue_tail)
        nd->queue_tail->next = b;
    else
        nd->queue = b;
    nd->queue_tail = b;
    push(w, at, H_DISK_DONE, i, b, 0);
}

/* ---- the application ------------------------------------------------------- */

static void app_set(struct h_node *nd, paxos_slot s, uint64_t h)
{
    SP_ASSERT(s < H_SLOTS_MAX);
    if (s >= nd->app_cap) {
        size_t cap = nd->app_cap ? nd->app_cap : 256;
        while (cap <= s)
            cap *= 2;
        nd->app = realloc(nd->app, cap * sizeof *nd->app);
        SP_ASSERT(nd->app != NULL);
        memset(nd->app + nd->app_cap, 0, (cap - nd->app_cap) * sizeof *nd->app);
        nd->app_cap = cap;
    }
    nd->app[s] = h;
}

static void note_markers(struct h_world *w, paxos_slot s, const struct paxos_entry *e);

/* Checker "commit": entries arrive gap-free and equal the chosen value. */
static void app_apply(struct h_world *w, uint32_t i, const struct paxos_entry *e)
{
    struct h_node *nd = &w->nodes[i];
    uint64_t h = entry_hash(e->type, e->data, e->len);
    if (e->slot != nd->core_applied + 1)
        violate(w, "node %u: committed slot %llu after %llu", nd->id, (unsigned long long) e->slot,
                (unsigned long long) nd->core_applied);
    nd->core_applied = e->slot;
    struct h_slotinfo *si = slotinfo(w, e->slot);
    if (si->committed == 0) {
        first_commit(w, e->slot, e, h);
        note_markers(w, e->slot, e);
        si->committed = h;
    } else if (si->committed != h) {
        violate(w, "node %u: slot %llu committed a value another node did not", nd->id,
                (unsigned long long) e->slot);
    }
    if (e->slot <= nd->applied) {
        if (nd->app[e->slot] != h)
            violate(w, "node %u: slot %llu re-applied with another value", nd->id,
                    (unsigned long long) e->slot);
        return;
    }
    if (e->slot != nd->applied + 1)
        violate(w, "node %u: app gap before slot %llu", nd->id, (unsigned long long) e->slot);
    app_set(nd, e->slot, h);
    nd->applied = e->slot;
}

/* ---- leases ------------------------------------------------------------------ */

static void lease_check_overlap(struct h_world *w, uint32_t idx)
{
    const struct h_lease *a = &w->leases[idx];
    for (uint32_t k = 0; k < w->n_leases; k++) {
        const struct h_lease *b = &w->leases[k];
        if (k == idx || b->ballot == a->ballot)
            continue;
        if (a->first_true < b->end && b->first_true < a->end)
            violate(w,
                    "leases overlap: node %u ballot %llu [%lld,%lld) and node %u ballot %llu "
                    "[%lld,%lld)",
                    w->nodes[a->node].id, (unsigned long long) a->ballot, (long long) a->first_true,
                    (long long) a->end, w->nodes[b->node].id, (unsigned long long) b->ballot,
                    (long long) b->first_true, (long long) b->end);
        /* The exposed intervals, in which timestamps are assigned, must be
         * ordered too (L3), unless the earlier leader abdicated (then
         * TT.after(s_max) orders the timestamps, checked in assign_ts). */
        const struct h_lease *early = a->first_true < b->first_true ? a : b;
        const struct h_lease *late = early == a ? b : a;
        if (!early->abdicated && late->start < early->end)
            violate(w, "lease of ballot %llu starts at %lld, before %lld when ballot %llu's ended",
                    (unsigned long long) late->ballot, (long long) late->start,
                    (long long) early->end, (unsigned long long) early->ballot);
    }
}

/* Checker "lease": records the lease r claims at its own now. */
static void observe_lease(struct h_world *w, uint32_t i)
{
    struct h_node *nd = &w->nodes[i];
    tt_micros start, end;
    if (paxos_lease_get(nd->r, node_now(w, nd), &start, &end) != 0) {
        nd->epoch_idx = -1;
        return;
    }
    if (end <= w->now)
        violate(w, "node %u believes a lease that ended in true time", nd->id);
    paxos_ballot b = paxos_leader_ballot(nd->r);
    struct h_lease *l = nd->epoch_idx >= 0 ? &w->leases[nd->epoch_idx] : NULL;
    if (l != NULL && l->ballot == b && !l->abdicated) {
        if (end <= l->end)
            return;
        l->end = end;
    } else {
        if (w->n_leases == w->cap_leases) {
            w->cap_leases = w->cap_leases ? 2 * w->cap_leases : 16;
            w->leases = realloc(w->leases, w->cap_leases * sizeof *w->leases);
            SP_ASSERT(w->leases != NULL);
        }
        nd->epoch_idx = (int) w->n_leases;
        w->leases[w->n_leases++] = (struct h_lease){
            .node = i, .ballot = b, .first_true = w->now, .start = start, .end = end};
        TRACE(w, "node %u: lease ballot %llu [%lld, %lld)", nd->id, (unsigned long long) b,
              (long long) start, (long long) end);
    }
    lease_check_overlap(w, (uint32_t) nd->epoch_idx);
}

/* ---- driving a replica ----------------------------------------------------- */

static void schedule_tick(struct h_world *w, uint32_t i, tt_micros wake_us)
{
    struct h_node *nd = &w->nodes[i];
    /* The node's earliest reaches wake_us at true = wake - offset + eps. */
    tt_micros at = wake_us - clock_offset(nd, w->now) + nd->eps_us;
    if (at <= w->now)
        at = w->now + 1;
    if (nd->tick_at > w->now && nd->tick_at <= at)
        return;
    nd->tick_at = at;
    push(w, at, H_TICK, i, NULL, 0);
}

static void handle_update(struct h_world *w, uint32_t i, const struct paxos_update *up)
{
    struct h_node *nd = &w->nodes[i];
    for (uint32_t k = 0; k < up->n_committed; k++)
        app_apply(w, i, &up->committed[k]);
    if (up->persist_seq != 0 || up->n_msgs > 0)
        enqueue_batch(w, i, up);
    if (up->snapshot_needed && nd->snap_wanted != up->snapshot_slot) {
        int from = node_index(w, up->snapshot_from);
        nd->snap_wanted = up->snapshot_slot;
        if (from >= 0)
            push(w, w->now + 5000, H_SNAP_INSTALL, i, NULL,
                 ((uint64_t) from << 40) | up->snapshot_slot);
    }
    schedule_tick(w, i, up->wake_us);
}

static void step_node(struct h_world *w, uint32_t i, struct paxos_event *ev)
{
    struct h_node *nd = &w->nodes[i];
    SP_ASSERT(nd->up);
    ev->now = node_now(w, nd);
    struct paxos_update up;
    int rc = paxos_step(nd->r, ev, &up);
    SP_ASSERT(rc != SP_EPAXOS_FAILED);
    handle_update(w, i, &up);
    observe_lease(w, i);
    /* The application takes a durable snapshot every few entries and tells
     * the core, which may then truncate its log. */
    if (nd->applied >= nd->snap + w->p.snapshot_every && nd->applied <= nd->core_applied) {
        nd->snap = nd->applied;
        nd->snap_announced = false;
    }
    if (!nd->snap_announced && nd->snap > 0 && nd->snap <= nd->core_applied) {
        nd->snap_announced = true;
        struct paxos_event se = {.type = PAXOS_EV_SNAPSHOT_TAKEN};
        se.snapshot.slot = nd->snap;
        step_node(w, i, &se);
    }
}

/* ---- nodes: create, crash, restart ----------------------------------------- */

static void node_config(const struct h_world *w, uint32_t i, struct paxos_config *cfg)
{
    paxos_config_init(cfg);
    cfg->self = w->nodes[i].id;
    /* The bootstrap configuration: voters, then read-only replicas. A spare
     * is not in it; it boots knowing only that plus itself as read-only, as
     * paxos.h says a brand-new node does, and joins once a change adds it. */
    uint32_t members = w->p.voters + w->p.read_only;
    cfg->members.n = members;
    for (uint32_t k = 0; k < members; k++) {
        cfg->members.m[k].id = w->nodes[k].id;
        cfg->members.m[k].role = k < w->p.voters ? PAXOS_VOTER : PAXOS_READ_ONLY;
    }
    if (i >= members) {
        cfg->members.m[cfg->members.n].id = w->nodes[i].id;
        cfg->members.m[cfg->members.n++].role = PAXOS_READ_ONLY;
    }
    cfg->lease_us = w->p.lease_us;
    cfg->heartbeat_us = w->p.heartbeat_us;
    cfg->election_timeout_us = w->p.election_timeout_us;
    cfg->inflight_max = 8;
    cfg->msg_entries_max = 32;
    cfg->log_max = 256;
    cfg->log_keep = 8;
    cfg->batch_bytes_max = 256;
    cfg->random = node_random;
    cfg->random_ctx = (void *) w; /* node_random draws from the world's generator */
    cfg->test_flags = w->p.test_flags;
}

static void node_start(struct h_world *w, uint32_t i)
{
    struct h_node *nd = &w->nodes[i];
    struct paxos_config cfg;
    node_config(w, i, &cfg);
    struct paxos_durable_state ds;
    memset(&ds, 0, sizeof ds);
    struct paxos_entry *es = NULL;
    if (nd->disk.has_hs) {
        ds.hs = nd->disk.hs;
        es = xcalloc(nd->disk.cap, sizeof *es);
        for (size_t s = ds.hs.base_slot + 1; s < nd->disk.cap; s++) {
            const struct h_sentry *se = &nd->disk.slots[s];
            if (!se->present)
                continue;
            es[ds.n_entries++] = (struct paxos_entry){.slot = s,
                                                      .ballot = se->ballot,
                                                      .type = se->type,
                                                      .len = se->len,
                                                      .data = se->data};
        }
        ds.entries = es;
    }
    struct sp_err err = {0};
    int rc = paxos_replica_create(&cfg, nd->disk.has_hs ? &ds : NULL, &nd->r, &err);
    free(es);
    if (rc != 0) {
        fprintf(stderr, "harness: replica create: %s\n", err.msg);
        SP_ASSERT(rc == 0);
    }
    nd->up = true;
    nd->core_applied = nd->disk.has_hs ? nd->disk.hs.base_slot : 0;
    nd->snap_announced = false;
    nd->snap_wanted = 0;
    nd->epoch_idx = -1;
    nd->tick_at = 0;
    nd->disk_free_at = w->now;
    struct paxos_event ev = {.type = PAXOS_EV_TICK};
    step_node(w, i, &ev);
}

void h_world_crash(struct h_world *w, uint32_t i)
{
    SP_ASSERT(i < w->n);
    struct h_node *nd = &w->nodes[i];
    if (!nd->up)
        return;
    TRACE(w, "node %u: crash", nd->id);
    w->stats.crashes++;
    nd->up = false;
    nd->epoch++;
    paxos_replica_destroy(nd->r);
    nd->r = NULL;
    for (struct h_batch *b = nd->queue; b != NULL;) {
        struct h_batch *next = b->next;
        batch_free(b);
        b = next;
    }
    nd->queue = nd->queue_tail = NULL;
    /* Written but unsynced: a random prefix survives, the rest is lost. */
    uint32_t n = 0;
    for (struct h_batch *b = nd->unsynced; b != NULL; b = b->next)
        n++;
    uint32_t keep = (uint32_t) rnd_below(w, n + 1);
    for (struct h_batch *b = nd->unsynced; b != NULL; keep = keep ? keep - 1 : 0) {
        struct h_batch *next = b->next;
        if (keep > 0)
            store_apply(&nd->disk, b);
        batch_free(b);
        b = next;
    }
    nd->unsynced = nd->unsynced_tail = NULL;
    nd->applied = nd->snap; /* the app keeps only its durable snapshot */
    nd->epoch_idx = -1;
}

void h_world_restart(struct h_world *w, uint32_t i)
{
    SP_ASSERT(i < w->n);
    if (w->nodes[i].up)
        return;
    TRACE(w, "node %u: restart", w->nodes[i].id);
    clock_init(w, &w->nodes[i]);
    node_start(w, i);
}

void h_world_partition(struct h_world *w, uint32_t a)
{
    TRACE(w, "partition %#x", a);
    w->stats.partitions++;
    for (uint32_t i = 0; i < w->n; i++)
        for (uint32_t j = 0; j < w->n; j++)
            if (((a >> i) & 1u) != ((a >> j) & 1u))
                w->cut |= 1ull << (i * H_NODES_MAX + j);
}

void h_world_cut_link(struct h_world *w, uint32_t a, uint32_t b)
{
    SP_ASSERT(a < w->n && b < w->n);
    TRACE(w, "cut link %u-%u", w->nodes[a].id, w->nodes[b].id);
    w->stats.partitions++;
    w->cut |= 1ull << (a * H_NODES_MAX + b) | 1ull << (b * H_NODES_MAX + a);
}

void h_world_heal(struct h_world *w)
{
    TRACE(w, "heal");
    w->cut = 0;
}

struct h_world *h_world_create(const struct h_params *p)
{
    SP_ASSERT(p->voters >= 1 && p->voters + p->read_only + p->spares <= H_NODES_MAX);
    struct h_world *w = xcalloc(1, sizeof *w);
    w->p = *p;
    w->rng = p->seed * 0x9e3779b97f4a7c15ull + 0x1234567;
    if (w->rng == 0)
        w->rng = 1;
    w->n = p->voters + p->read_only + p->spares;
    w->now = 1000 * 1000 * 1000; /* virtual epoch: 1000 s */
    for (uint32_t i = 0; i < w->n; i++) {
        w->nodes[i].id = i + 1;
        w->nodes[i].zone = i % 3;
        clock_init(w, &w->nodes[i]);
    }
    struct paxos_config cfg;
    node_config(w, 0, &cfg);
    w->configs[0].slot = 0;
    w->configs[0].m = cfg.members;
    w->n_configs = 1;
    for (uint32_t i = 0; i < w->n; i++)
        node_start(w, i);
    return w;
}

void h_world_destroy(struct h_world *w)
{
    if (w == NULL)
        return;
    while (w->n_heap > 0) {
        struct h_event e = pop(w);
        if (e.kind == H_DELIVER)
            free_msg(e.ptr);
    }
    for (uint32_t i = 0; i < w->n; i++) {
        h_world_crash(w, i);
        store_free(&w->nodes[i].disk);
        free(w->nodes[i].app);
    }
    for (size_t s = 0; s < w->cap_slots; s++)
        free(w->slots[s].acc);
    free(w->slots);
    free(w->leases);
    free(w->heap);
    free(w);
}

/* ---- clients ----------------------------------------------------------------- */

#define H_MARKERS 5

/* Final proposals are "M<k>"; note when one is first committed. */
static void note_markers(struct h_world *w, paxos_slot s, const struct paxos_entry *e)
{
    if (e->type != PAXOS_ENTRY_BATCH)
        return;
    uint32_t off = 0, n;
    const uint8_t *p;
    while (paxos_batch_next(e->data, e->len, &off, &p, &n) == 0) {
        if (n == 2 && p[0] == 'M' && p[1] >= '0' && p[1] < '0' + H_MARKERS) {
            w->markers_seen |= 1u << (p[1] - '0');
            if (s > w->marker_slot_max)
                w->marker_slot_max = s;
        }
    }
}

int h_world_leader(struct h_world *w)
{
    int best = -1;
    paxos_ballot best_b = 0;
    for (uint32_t i = 0; i < w->n; i++) {
        struct h_node *nd = &w->nodes[i];
        if (!nd->up || !paxos_is_leader(nd->r))
            continue;
        if (paxos_lease_get(nd->r, node_now(w, nd), NULL, NULL) != 0)
            continue;
        if (paxos_leader_ballot(nd->r) > best_b) {
            best_b = paxos_leader_ballot(nd->r);
            best = (int) i;
        }
    }
    return best;
}

bool h_world_propose(struct h_world *w, const void *data, uint32_t len)
{
    int i = h_world_leader(w);
    if (i < 0)
        return false;
    struct paxos_event ev = {.type = PAXOS_EV_PROPOSE};
    ev.propose.data = data;
    ev.propose.len = len;
    struct h_node *nd = &w->nodes[i];
    ev.now = node_now(w, nd);
    struct paxos_update up;
    int rc = paxos_step(nd->r, &ev, &up);
    handle_update(w, (uint32_t) i, &up);
    observe_lease(w, (uint32_t) i);
    return rc == 0;
}

/* A client round: propose, assign a timestamp in the lease, rarely abdicate. */
static void abdicate(struct h_world *w, uint32_t i)
{
    struct h_node *nd = &w->nodes[i];
    struct paxos_update up;
    if (paxos_abdicate(nd->r, node_now(w, nd), &up) == 0) {
        TRACE(w, "node %u: abdicates", nd->id);
        w->stats.abdications++;
        if (nd->epoch_idx >= 0) {
            w->leases[nd->epoch_idx].abdicated = true;
            if (w->leases[nd->epoch_idx].end > w->now)
                w->leases[nd->epoch_idx].end = w->now;
        }
        nd->epoch_idx = -1;
    }
    handle_update(w, i, &up);
}

/* Checker "timestamps": a leader assigns now.latest inside its lease; the
 * timestamps of successive leaders must increase (Spanner §4.1.1: disjoint
 * leases and abdication after TT.after(s_max)). */
static void assign_ts(struct h_world *w, uint32_t i)
{
    struct h_node *nd = &w->nodes[i];
    struct tt_interval now = node_now(w, nd);
    tt_micros end;
    if (paxos_lease_get(nd->r, now, NULL, &end) != 0 || now.latest >= end)
        return;
    SP_ASSERT(paxos_note_assigned_ts(nd->r, now, now.latest) == 0);
    paxos_ballot b = paxos_leader_ballot(nd->r);
    if (now.latest < w->ts_max || (b != w->ts_ballot && now.latest == w->ts_max))
        violate(w, "node %u ballot %llu assigned ts %lld <= %lld of ballot %llu", nd->id,
                (unsigned long long) b, (long long) now.latest, (long long) w->ts_max,
                (unsigned long long) w->ts_ballot);
    w->ts_max = now.latest;
    w->ts_ballot = b;
}

/* Asks the leader for one membership change among the world's nodes:
 * add a removed node back as read-only, promote or remove a read-only one,
 * demote a voter while more than two remain. The core refuses a second
 * change while one is pending (SP_EPAXOS_BUSY), which is fine here. */
static void change_membership(struct h_world *w, uint32_t leader)
{
    const struct paxos_membership *c = &w->configs[w->n_configs - 1].m;
    uint32_t i = (uint32_t) rnd_below(w, w->n), voters = 0;
    int role = 0;
    for (uint32_t k = 0; k < c->n; k++) {
        voters += c->m[k].role == PAXOS_VOTER;
        if (c->m[k].id == w->nodes[i].id)
            role = (int) c->m[k].role;
    }
    struct paxos_event ev = {.type = PAXOS_EV_CHANGE};
    ev.change.node = w->nodes[i].id;
    ev.change.role = PAXOS_READ_ONLY;
    if (role == 0)
        ev.change.op = PAXOS_CHANGE_ADD;
    else if (role == PAXOS_READ_ONLY && rnd_below(w, 2) == 0)
        ev.change.op = PAXOS_CHANGE_REMOVE;
    else if (role == PAXOS_READ_ONLY)
        ev.change.op = PAXOS_CHANGE_ROLE, ev.change.role = PAXOS_VOTER;
    else if (voters > 2)
        ev.change.op = PAXOS_CHANGE_ROLE;
    else
        return;
    struct h_node *nd = &w->nodes[leader];
    ev.now = node_now(w, nd);
    struct paxos_update up;
    int rc = paxos_step(nd->r, &ev, &up);
    TRACE(w, "node %u: change op %d node %u role %d: %d", nd->id, (int) ev.change.op,
          ev.change.node, (int) ev.change.role, rc);
    w->stats.changes += rc == 0;
    handle_update(w, leader, &up);
}

/* A client round: propose, then assign a timestamp or, rarely, abdicate. */
static void client(struct h_world *w)
{
    char buf[32];
    int len = snprintf(buf, sizeof buf, "p%llu", (unsigned long long) ++w->proposal_id);
    h_world_propose(w, buf, (uint32_t) len);
    int i = h_world_leader(w);
    if (i < 0)
        return;
    /* Changes come in bursts of three; the core must take one at a time. */
    for (int k = 0; k < 3 && w->chaos && w->p.membership && rnd_below(w, 100) < w->p.change_pct;
         k++)
        change_membership(w, (uint32_t) i);
    if (w->chaos && rnd_below(w, 100) < 3) {
        /* The early-abdicate control gives out a timestamp first, as a
         * leader racing a step-down would. */
        if (w->p.test_flags & PAXOS_TEST_EARLY_ABDICATE)
            assign_ts(w, (uint32_t) i);
        abdicate(w, (uint32_t) i);
    } else {
        assign_ts(w, (uint32_t) i);
    }
}

static void snap_install(struct h_world *w, uint32_t i, uint32_t from, paxos_slot slot)
{
    struct h_node *nd = &w->nodes[i], *src = &w->nodes[from];
    nd->snap_wanted = 0;
    if (src->applied < slot)
        return; /* the source lost it; the core will ask again */
    for (paxos_slot s = 1; s <= slot; s++) {
        if (s <= nd->applied && nd->app[s] != src->app[s])
            violate(w, "node %u: snapshot disagrees with applied slot %llu", nd->id,
                    (unsigned long long) s);
        if (s > nd->applied)
            app_set(nd, s, src->app[s]);
    }
    if (slot > nd->applied)
        nd->applied = slot;
    if (slot > nd->snap)
        nd->snap = slot;
    struct paxos_event ev = {.type = PAXOS_EV_SNAPSHOT_INSTALLED};
    ev.snapshot.slot = slot;
    paxos_slot before = nd->core_applied;
    ev.now = node_now(w, nd);
    struct paxos_update up;
    if (paxos_step(nd->r, &ev, &up) == 0 && paxos_commit_index(nd->r) >= slot && slot > before) {
        nd->core_applied = slot;
        w->stats.snapshots_installed++;
    }
    handle_update(w, i, &up);
    observe_lease(w, i);
}

/* ---- the event loop ---------------------------------------------------------- */

static void fault(struct h_world *w)
{
    uint64_t k = rnd_below(w, 10);
    uint32_t i = (uint32_t) rnd_below(w, w->n);
    if (k < 4) {
        h_world_crash(w, i);
        push(w, w->now + 100000 + (tt_micros) rnd_below(w, 2000000), H_RESTART, i, NULL, 0);
    } else if (k < 6) {
        uint32_t all = (1u << w->n) - 1, cut = (uint32_t) rnd_below(w, all - 1) + 1;
        h_world_partition(w, cut);
    } else if (k < 8) {
        h_world_cut_link(w, i, (uint32_t) rnd_below(w, w->n));
    } else {
        h_world_heal(w);
    }
}

static void process(struct h_world *w, struct h_event e)
{
    struct h_node *nd = e.node < w->n ? &w->nodes[e.node] : NULL;
    switch (e.kind) {
    case H_DELIVER: {
        if (nd->up) {
            struct paxos_event ev = {.type = PAXOS_EV_MESSAGE, .msg = e.ptr};
            step_node(w, e.node, &ev);
        }
        free_msg(e.ptr);
        break;
    }
    case H_DISK_DONE:
        if (nd->up && e.epoch == nd->epoch)
            disk_done(w, e.node, e.ptr);
        break;
    case H_TICK:
        if (nd->up && e.epoch == nd->epoch && e.at == nd->tick_at) {
            struct paxos_event ev = {.type = PAXOS_EV_TICK};
            step_node(w, e.node, &ev);
        }
        break;
    case H_CLIENT:
        client(w);
        push(w, w->now + w->p.propose_every_us, H_CLIENT, UINT32_MAX, NULL, 0);
        break;
    case H_FAULT:
        if (!w->chaos)
            break;
        fault(w);
        push(w, w->now + (tt_micros) rnd_below(w, 2 * (uint64_t) w->p.fault_every_us), H_FAULT,
             UINT32_MAX, NULL, 0);
        break;
    case H_RESTART:
        if (w->chaos)
            h_world_restart(w, e.node);
        break;
    case H_SNAP_INSTALL:
        if (nd->up && e.epoch == nd->epoch)
            snap_install(w, e.node, (uint32_t) (e.arg >> 40), e.arg & ((1ull << 40) - 1));
        break;
    }
}

int h_world_run_until(struct h_world *w, tt_micros t)
{
    while (w->n_heap > 0 && w->heap[0].at <= t && w->violation[0] == '\0') {
        struct h_event e = pop(w);
        SP_ASSERT(e.at >= w->now);
        w->now = e.at;
        w->events++;
        process(w, e);
    }
    if (w->violation[0] == '\0' && w->now < t)
        w->now = t;
    return w->violation[0] ? SP_ESIM_VIOLATION : 0;
}

tt_micros h_world_now(const struct h_world *w)
{
    return w->now;
}

const char *h_world_violation(const struct h_world *w)
{
    return w->violation;
}

paxos_slot h_world_min_applied(const struct h_world *w)
{
    const struct paxos_membership *c = &w->configs[w->n_configs - 1].m;
    paxos_slot m = UINT64_MAX;
    for (uint32_t k = 0; k < c->n; k++) {
        const struct h_node *nd = &w->nodes[c->m[k].id - 1];
        if (nd->up && nd->applied < m)
            m = nd->applied;
    }
    return m;
}

void h_params_init(struct h_params *p, uint64_t seed)
{
    memset(p, 0, sizeof *p);
    p->seed = seed;
    p->voters = 3;
    p->lease_us = 1000000;
    p->heartbeat_us = 100000;
    p->election_timeout_us = 300000;
    p->eps_max_us = 20000;
    p->chaos_us = 4000000;
    p->heal_us = 8000000;
    p->drop_pct = 5;
    p->dup_pct = 3;
    p->fault_every_us = 400000;
    p->propose_every_us = 30000;
    p->snapshot_every = 16;
    p->change_pct = 10;
}

/* After the heal: propose the markers until all are committed everywhere. */
static int liveness(struct h_world *w, struct h_result *res)
{
    tt_micros healed = w->now, deadline = w->now + w->p.heal_us;
    for (uint32_t i = 0; i < w->n; i++)
        h_world_restart(w, i);
    while (w->now < deadline) {
        for (uint32_t k = 0; k < H_MARKERS; k++) {
            char m[2] = {'M', (char) ('0' + k)};
            if (!(w->markers_seen & (1u << k)))
                h_world_propose(w, m, 2);
        }
        if (h_world_run_until(w, w->now + 50000) != 0)
            return SP_ESIM_VIOLATION;
        if (w->markers_seen == (1u << H_MARKERS) - 1 &&
            h_world_min_applied(w) >= w->marker_slot_max) {
            w->stats.recover_us = w->now - healed;
            return 0;
        }
    }
    for (uint32_t i = 0; i < w->n && w->p.verbose; i++) {
        const struct h_node *nd = &w->nodes[i];
        const struct paxos_membership *c = paxos_membership(nd->r);
        char roles[64] = "";
        for (uint32_t k = 0; k < c->n; k++)
            snprintf(roles + strlen(roles), sizeof roles - strlen(roles), "%u%s ", c->m[k].id,
                     c->m[k].role == PAXOS_VOTER ? "v" : "r");
        TRACE(w, "node %u: commit %llu promised %llu leader %llu config {%s}", nd->id,
              (unsigned long long) paxos_commit_index(nd->r),
              (unsigned long long) paxos_promised(nd->r),
              (unsigned long long) paxos_leader_ballot(nd->r), roles);
    }
    int leader = h_world_leader(w);
    violate(w, "liveness: after heal, leader %d, markers %#x, min applied %llu of %llu", leader,
            w->markers_seen, (unsigned long long) h_world_min_applied(w),
            (unsigned long long) w->marker_slot_max);
    (void) res;
    return SP_ESIM_VIOLATION;
}

int h_run(const struct h_params *p, struct h_result *res)
{
    memset(res, 0, sizeof *res);
    struct h_world *w = h_world_create(p);
    tt_micros t0 = w->now;
    w->chaos = true;
    push(w, t0 + 1000, H_CLIENT, UINT32_MAX, NULL, 0);
    push(w, t0 + p->fault_every_us, H_FAULT, UINT32_MAX, NULL, 0);
    int rc = h_world_run_until(w, t0 + p->chaos_us);
    if (rc == 0) {
        w->chaos = false;
        h_world_heal(w);
        rc = liveness(w, res);
    }
    *res = w->stats;
    res->ok = rc == 0;
    snprintf(res->what, sizeof res->what, "%s", w->violation);
    res->events = w->events;
    res->committed = w->max_chosen;
    for (uint32_t k = 0; k < w->n_leases; k++) {
        bool dup = false;
        for (uint32_t j = 0; j < k; j++)
            dup |= w->leases[j].ballot == w->leases[k].ballot;
        res->leaders += !dup;
    }
    res->end_us = w->now - t0;
    h_world_destroy(w);
    return rc;
}

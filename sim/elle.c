/*
 * elle.c - check 3: black-box strict serializability of list-append
 * histories, without trusting timestamps.
 *
 * Design notes
 * ============
 * After Kingsbury & Alvaro, "Elle: Inferring Isolation Anomalies from
 * Experimental Observations" (VLDB 2020), and Adya's thesis (1999) for the
 * phenomena. Every append writes a value unique to its key and every read
 * returns the key's whole list, so the version order of a key is recoverable:
 * every read must be a prefix of the longest list read (else
 * "incompatible-order"), and that longest list is the order of the versions
 * that anyone observed.
 *
 * Per key with observed order v1..vL written by w1..wL, and per ok read R that
 * returned the first l elements:
 *   ww  w_i -> w_{i+1}           (consecutive versions, distinct writers)
 *   wr  w_l -> R                 (R observed w_l's append)
 *   rw  R -> w_j, j the first index >= l+1 with w_j != R  (R missed it)
 * Consecutive edges suffice: longer ones follow by transitivity along ww.
 * Real-time (rt) edges, for strictness: T1 -> T2 when T1 completed before T2
 * was invoked. Listing them pairwise is quadratic, so they run through a
 * chain of virtual nodes C_1 -> C_2 -> ... -> C_n, one per ok transaction in
 * completion order: T -> C_(its rank), and C_j -> T2 where j is the last
 * transaction completed before T2's invocation. A path T1 -> ... -> T2 through
 * the chain exists iff T1 completed before T2 was invoked: O(n) edges, the
 * same reachability as the transitive reduction. Only ok transactions are rt
 * sources (an unknown one's effective completion is unknown); unknown ones
 * that were observed are still nodes and rt targets. Snapshot reads are
 * never rt targets (they may read the past by design).
 *
 * Anomalies (Adya's names, Elle's realtime variants):
 *   G0        a cycle of ww edges only (write cycle)
 *   G1a       an ok transaction read a value appended by an aborted one
 *   G1b       a read ended at a value its writer later followed with another
 *             append to the same key (intermediate read)
 *   G1c       a cycle of ww and wr edges, at least one wr
 *   G-single  a cycle with exactly one rw edge (read skew)
 *   G2        a cycle with two or more rw edges (write skew and friends)
 *   X-realtime  the same, where the cycle needs at least one rt edge
 * plus "incompatible-order", "duplicate-elements", "garbage-read" and
 * "ts-edge-order" (a ww/wr/rw edge whose timestamps run backwards), and
 * "cycle-unclassified" / "cycle-too-long" when the graph is cyclic but the
 * bounded search could not isolate or print a cycle (never a silent pass).
 *
 * Cycle search: Tarjan's SCC (iterative) over the edge types of a class;
 * inside each non-trivial component, for a bounded number of edges of the
 * class's required type u -> v, a 0-1 BFS from v back to u using the
 * class's permitted types (virtual chain hops cost 0), so the cycle found is
 * the shortest through that edge. Cost O(V + E) per class plus the bounded
 * searches; a valid history stops after one SCC pass over the full graph.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "sim_int.h"
#include "sp_assert.h"

enum { E_WW = 1, E_WR = 2, E_RW = 4, E_RT = 8, E_RTIN = 16 };
#define E_DEP               (E_WW | E_WR | E_RW)
#define E_ALL               (E_DEP | E_RT)
#define COMPS_PER_CLASS_MAX 64
#define CYCLE_MAX           4096 /* nodes printed/kept of one cycle */

struct edge {
    uint32_t src, dst, key;
    uint8_t type;
};

struct graph {
    const struct sim_history *h;
    struct sim_report *r;
    uint32_t nreal, nnodes;
    struct edge *e; /* sorted by src: CSR */
    size_t ne, ecap;
    uint32_t *off; /* edges of node u: e[off[u]..off[u+1]) */
    size_t cycles; /* cycles reported */
};

struct append {
    uint32_t txn, opi, pos;
    uint32_t next; /* value of the txn's next append to the key, SIM_NULL if none */
};

struct elle {
    struct graph g;
    struct append *ap;
    size_t nap;
    struct sim_map amap; /* (key, value) -> index into ap */
    uint32_t *longest;   /* key -> global op index + 1 of its longest ok read */
    uint8_t *read_ok;    /* per global op: a prefix of the longest (edges allowed) */
};

static bool live(const struct sim_history *h, uint32_t t)
{
    return t != UINT32_MAX && h->txns[t].outcome != SIM_ABORTED;
}

static int add_edge(struct graph *g, uint32_t s, uint32_t d, uint8_t type, uint32_t key)
{
    SP_ASSERT(s < g->nnodes && d < g->nnodes);
    if (s == d)
        return 0;
    if (g->ne == g->ecap) {
        size_t c = g->ecap ? g->ecap * 2 : 1024;
        struct edge *n = realloc(g->e, c * sizeof *n);
        if (!n)
            return SP_ENOMEM;
        g->e = n;
        g->ecap = c;
    }
    g->e[g->ne++] = (struct edge){s, d, key, type};
    return 0;
}

/* A dependency edge, and check that commit timestamps agree with it. */
/* Whether t has a timestamp to hold an edge to: a commit's, or an ok
 * read-only transaction's (which may be 0, the initial state). */
static bool placed(const struct sim_txn *t)
{
    return t->ts > 0 || (t->outcome == SIM_OK && t->mode == SIM_RO);
}

static int add_dep(struct graph *g, uint32_t s, uint32_t d, uint8_t type, uint32_t key)
{
    const struct sim_history *h = g->h;
    if (s == d || !live(h, s) || !live(h, d))
        return 0;
    const struct sim_txn *a = &h->txns[s], *b = &h->txns[d];
    bool bad = false;
    if (placed(a) && placed(b)) {
        if (type == E_WW)
            bad = a->ts >= b->ts;
        else if (type == E_WR)
            bad = b->mode == SIM_RO ? a->ts > b->ts : a->ts >= b->ts;
        else
            bad = a->mode == SIM_RO ? b->ts <= a->ts : b->ts < a->ts;
    }
    if (bad) {
        char x[SIM_NAME_MAX], y[SIM_NAME_MAX];
        static const char *tn[] = {"", "ww", "wr", "", "rw"};
        sim__anomaly(g->r, SIM_CHECK_GRAPH, "ts-edge-order", a->line,
                     "%s (ts %" PRId64 ") -%s on key %s-> %s (ts %" PRId64
                     "): timestamp order disagrees with the dependency",
                     sim__txn_name(h, s, x, sizeof x), a->ts, tn[type], sim__str(h, key),
                     sim__txn_name(h, d, y, sizeof y), b->ts);
    }
    return add_edge(g, s, d, type, key);
}

/* Orders the edges by source with a counting sort (O(V + E), stable: the
 * order edges were added in, so searches are deterministic). */
static int finish_graph(struct graph *g)
{
    g->off = calloc((size_t) g->nnodes + 1, sizeof *g->off);
    struct edge *sorted = malloc((g->ne + 1) * sizeof *sorted);
    if (!g->off || !sorted) {
        free(sorted);
        return SP_ENOMEM;
    }
    for (size_t i = 0; i < g->ne; i++)
        g->off[g->e[i].src + 1]++;
    for (uint32_t u = 0; u < g->nnodes; u++)
        g->off[u + 1] += g->off[u];
    for (size_t i = 0; i < g->ne; i++) /* off[u] advances to off[u+1] ... */
        sorted[g->off[g->e[i].src]++] = g->e[i];
    for (uint32_t u = g->nnodes; u > 0; u--) /* ... and is shifted back */
        g->off[u] = g->off[u - 1];
    g->off[0] = 0;
    free(g->e);
    g->e = sorted;
    g->ecap = g->ne + 1;
    return 0;
}

/* ---- observations: appends, longest reads, per-read anomalies --------------- */

static int link_appends(struct elle *x, uint32_t *stamp, uint32_t *prev, struct sp_err *err);

/* Indexes every append by (key, value) and links each to its transaction's
 * next append to the same key (for G1b), in one pass: O(m). */
static int index_appends(struct elle *x, struct sp_err *err)
{
    const struct sim_history *h = x->g.h;
    uint32_t *stamp = calloc((size_t) h->str.n + 1, sizeof *stamp);
    uint32_t *prev = malloc(((size_t) h->str.n + 1) * sizeof *prev);
    x->ap = malloc((h->nops + 1) * sizeof *x->ap);
    int rc = stamp && prev && x->ap && !sim__map_init(&x->amap, h->nops)
                 ? link_appends(x, stamp, prev, err)
                 : sp_err_set(err, SP_ENOMEM, "graph: out of memory");
    free(stamp);
    free(prev);
    return rc;
}

static int link_appends(struct elle *x, uint32_t *stamp, uint32_t *prev, struct sp_err *err)
{
    const struct sim_history *h = x->g.h;
    char a[SIM_NAME_MAX], b[SIM_NAME_MAX];
    for (uint32_t t = 0; t < h->ntxns; t++) {
        const struct sim_txn *tx = &h->txns[t];
        for (uint32_t i = 0; i < tx->op_n; i++) {
            const struct sim_op *op = &h->ops[tx->op_off + i];
            if (op->f != SIM_F_APPEND)
                continue;
            uint32_t *slot = sim__map_put(&x->amap, sim__kv(op->key, op->val), (uint32_t) x->nap);
            if (!slot)
                return sp_err_set(err, SP_ENOMEM, "graph: out of memory");
            if (*slot != x->nap)
                return sp_err_set(err, SP_EINVAL,
                                  "list-append: value %s appended twice to key %s (%s, %s)",
                                  sim__str(h, op->val), sim__str(h, op->key),
                                  sim__txn_name(h, x->ap[*slot].txn, a, sizeof a),
                                  sim__txn_name(h, t, b, sizeof b));
            if (stamp[op->key] == t + 1) /* link the txn's previous append to it */
                x->ap[prev[op->key]].next = op->val;
            stamp[op->key] = t + 1, prev[op->key] = (uint32_t) x->nap;
            x->ap[x->nap++] = (struct append){t, i, UINT32_MAX, SIM_NULL};
        }
    }
    return 0;
}

static uint32_t appender(const struct elle *x, uint32_t key, uint32_t val)
{
    uint32_t i = sim__map_get(&x->amap, sim__kv(key, val));
    return i == UINT32_MAX ? UINT32_MAX : x->ap[i].txn;
}

/* Finds each key's longest ok read and numbers the versions in it. */
static int version_orders(struct elle *x, struct sp_err *err)
{
    const struct sim_history *h = x->g.h;
    x->longest = calloc((size_t) h->str.n + 1, sizeof *x->longest);
    x->read_ok = calloc(h->nops + 1, 1);
    if (!x->longest || !x->read_ok)
        return sp_err_set(err, SP_ENOMEM, "graph: out of memory");
    for (uint32_t t = 0; t < h->ntxns; t++) {
        const struct sim_txn *tx = &h->txns[t];
        for (uint32_t i = 0; i < tx->op_n && tx->outcome == SIM_OK; i++) {
            uint32_t gi = tx->op_off + i, *l = &x->longest[h->ops[gi].key];
            if (h->ops[gi].f == SIM_F_READ &&
                (!*l || h->ops[*l - 1].list_len < h->ops[gi].list_len))
                *l = gi + 1;
        }
    }
    char a[SIM_NAME_MAX];
    for (uint32_t k = 1; k <= h->str.n; k++) {
        if (!x->longest[k])
            continue;
        const struct sim_op *op = &h->ops[x->longest[k] - 1];
        for (uint32_t p = 0; p < op->list_len; p++) {
            uint32_t i = sim__map_get(&x->amap, sim__kv(k, h->elems[op->list_off + p]));
            if (i == UINT32_MAX)
                continue; /* garbage: reported per read */
            if (x->ap[i].pos != UINT32_MAX) {
                sim__anomaly(x->g.r, SIM_CHECK_GRAPH, "duplicate-elements", 0,
                             "key %s: value %s appears twice in a list read (%s appended it)",
                             sim__str(h, k), sim__str(h, h->elems[op->list_off + p]),
                             sim__txn_name(h, x->ap[i].txn, a, sizeof a));
                continue;
            }
            x->ap[i].pos = p;
        }
    }
    return 0;
}

static uint32_t reader_of(const struct sim_history *h, uint32_t gi)
{
    uint32_t lo = 0, hi = (uint32_t) h->ntxns; /* txns' op ranges are ascending */
    while (hi - lo > 1) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (h->txns[mid].op_off <= gi)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

/* The per-read phenomena that need no cycle: G1a, G1b, garbage, order. */
static void check_read(struct elle *x, uint32_t t, uint32_t gi)
{
    const struct sim_history *h = x->g.h;
    const struct sim_op *op = &h->ops[gi], *lo = &h->ops[x->longest[op->key] - 1];
    const uint32_t *l = h->elems + op->list_off, *ll = h->elems + lo->list_off;
    char a[SIM_NAME_MAX], b[SIM_NAME_MAX];
    bool prefix = true;
    for (uint32_t p = 0; p < op->list_len; p++) {
        prefix = prefix && l[p] == ll[p];
        uint32_t w = appender(x, op->key, l[p]);
        if (w == UINT32_MAX)
            sim__anomaly(x->g.r, SIM_CHECK_GRAPH, "garbage-read", h->txns[t].line,
                         "%s read %s in key %s, which no transaction appended",
                         sim__txn_name(h, t, a, sizeof a), sim__str(h, l[p]), sim__str(h, op->key));
        else if (h->txns[w].outcome == SIM_ABORTED)
            sim__anomaly(x->g.r, SIM_CHECK_GRAPH, "G1a", h->txns[t].line,
                         "%s read %s in key %s, appended by aborted %s",
                         sim__txn_name(h, t, a, sizeof a), sim__str(h, l[p]), sim__str(h, op->key),
                         sim__txn_name(h, w, b, sizeof b));
    }
    if (!prefix)
        sim__anomaly(x->g.r, SIM_CHECK_GRAPH, "incompatible-order", h->txns[t].line,
                     "key %s: the list %s read is not a prefix of the longest one, read by %s",
                     sim__str(h, op->key), sim__txn_name(h, t, a, sizeof a),
                     sim__txn_name(h, reader_of(h, (uint32_t) (lo - h->ops)), b, sizeof b));
    x->read_ok[gi] = prefix;
    if (op->list_len == 0)
        return;
    uint32_t last = l[op->list_len - 1], w = appender(x, op->key, last);
    if (w == UINT32_MAX || w == t)
        return;
    uint32_t ai = sim__map_get(&x->amap, sim__kv(op->key, last));
    if (x->ap[ai].next != SIM_NULL && h->txns[w].outcome != SIM_ABORTED)
        sim__anomaly(x->g.r, SIM_CHECK_GRAPH, "G1b", h->txns[t].line,
                     "%s read key %s ending at %s, an intermediate state of %s, which "
                     "appended %s after it",
                     sim__txn_name(h, t, a, sizeof a), sim__str(h, op->key), sim__str(h, last),
                     sim__txn_name(h, w, b, sizeof b), sim__str(h, x->ap[ai].next));
}

/* True if `val` first appears at position p of the key's longest list. */
static bool first_at(const struct elle *x, uint32_t key, uint32_t val, uint32_t p)
{
    uint32_t i = sim__map_get(&x->amap, sim__kv(key, val));
    return i != UINT32_MAX && x->ap[i].pos == p;
}

/* ww edges along each key's longest list; wr and rw edges per read. */
static int dependency_edges(struct elle *x)
{
    const struct sim_history *h = x->g.h;
    int rc = 0;
    for (uint32_t k = 1; k <= h->str.n && rc == 0; k++) {
        if (!x->longest[k])
            continue;
        const struct sim_op *op = &h->ops[x->longest[k] - 1];
        const uint32_t *l = h->elems + op->list_off;
        for (uint32_t p = 0; p + 1 < op->list_len && rc == 0; p++)
            if (first_at(x, k, l[p], p) && first_at(x, k, l[p + 1], p + 1)) /* not a duplicate */
                rc = add_dep(&x->g, appender(x, k, l[p]), appender(x, k, l[p + 1]), E_WW, k);
    }
    for (uint32_t t = 0; t < h->ntxns && rc == 0; t++) {
        const struct sim_txn *tx = &h->txns[t];
        for (uint32_t i = 0; i < tx->op_n && tx->outcome == SIM_OK && rc == 0; i++) {
            uint32_t gi = tx->op_off + i;
            const struct sim_op *op = &h->ops[gi];
            if (op->f != SIM_F_READ || !x->read_ok[gi])
                continue;
            const struct sim_op *lo = &h->ops[x->longest[op->key] - 1];
            const uint32_t *ll = h->elems + lo->list_off;
            if (op->list_len > 0)
                rc = add_dep(&x->g, appender(x, op->key, ll[op->list_len - 1]), t, E_WR, op->key);
            /* The first later version by another transaction: bounded by t's appends. */
            for (uint32_t p = op->list_len; p < lo->list_len && rc == 0; p++) {
                uint32_t w = appender(x, op->key, ll[p]);
                if (w == t)
                    continue;
                rc = add_dep(&x->g, t, w, E_RW, op->key);
                break;
            }
        }
    }
    return rc;
}

/* The virtual completion chain (see the notes at the top). */
static int realtime_edges(struct graph *g)
{
    const struct sim_history *h = g->h;
    uint32_t n = 0, *by_c = malloc(((size_t) g->nreal + 1) * sizeof *by_c);
    int64_t *c = malloc(((size_t) g->nreal + 1) * sizeof *c);
    int rc = by_c && c ? 0 : SP_ENOMEM;
    for (uint32_t t = 0; t < g->nreal && rc == 0; t++) {
        c[t] = h->txns[t].complete_us;
        if (h->txns[t].outcome == SIM_OK)
            by_c[n++] = t;
    }
    if (rc == 0)
        rc = sim__sort_by(by_c, n, c);
    for (uint32_t k = 0; k < n && rc == 0; k++) {
        rc = add_edge(g, by_c[k], g->nreal + k, E_RT, 0);
        if (rc == 0 && k + 1 < n)
            rc = add_edge(g, g->nreal + k, g->nreal + k + 1, E_RT, 0);
    }
    for (uint32_t t = 0; t < g->nreal && rc == 0; t++) {
        if (h->txns[t].outcome == SIM_ABORTED || h->txns[t].snapshot)
            continue;            /* snapshot reads promise no real-time order */
        uint32_t lo = 0, hi = n; /* count of ok txns completed before t's invocation */
        while (lo < hi) {
            uint32_t mid = lo + (hi - lo) / 2;
            if (c[by_c[mid]] < h->txns[t].invoke_us)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo > 0)
            rc = add_edge(g, g->nreal + lo - 1, t, E_RT | E_RTIN, 0);
    }
    free(by_c);
    free(c);
    return rc;
}

/* ---- strongly connected components ---------------------------------------- */

struct scc {
    uint32_t *comp; /* node -> component id */
    uint32_t *size; /* component id -> member count */
    uint32_t ncomp;
};

/* Tarjan's algorithm with an explicit stack (recursion would be as deep as
 * the history is long). Only edges whose type is in `mask` count. */
static int tarjan(const struct graph *g, uint8_t mask, struct scc *s)
{
    uint32_t n = g->nnodes, next = 1, sp = 0, cp = 0;
    uint32_t *index = calloc(n, sizeof *index), *low = malloc(n * sizeof *low);
    uint32_t *stack = malloc(n * sizeof *stack), *call = malloc(n * sizeof *call);
    uint32_t *pos = malloc(n * sizeof *pos);
    uint8_t *on = calloc(n, 1);
    s->comp = malloc(n * sizeof *s->comp);
    s->size = calloc(n, sizeof *s->size);
    s->ncomp = 0;
    int rc = index && low && stack && call && pos && on && s->comp && s->size ? 0 : SP_ENOMEM;
    for (uint32_t root = 0; root < n && rc == 0; root++) {
        if (index[root])
            continue;
        call[cp++] = root, pos[root] = g->off[root];
        index[root] = low[root] = next++, stack[sp++] = root, on[root] = 1;
        while (cp > 0) { /* each step advances an edge or pops a node: O(V + E) */
            uint32_t u = call[cp - 1];
            if (pos[u] < g->off[u + 1]) {
                const struct edge *e = &g->e[pos[u]++];
                uint32_t v = e->dst;
                if (!(e->type & mask))
                    continue;
                if (!index[v]) {
                    call[cp++] = v, pos[v] = g->off[v];
                    index[v] = low[v] = next++, stack[sp++] = v, on[v] = 1;
                } else if (on[v] && index[v] < low[u]) {
                    low[u] = index[v];
                }
                continue;
            }
            cp--;
            if (cp > 0 && low[u] < low[call[cp - 1]])
                low[call[cp - 1]] = low[u];
            if (low[u] != index[u])
                continue;
            uint32_t v;
            do {
                v = stack[--sp];
                on[v] = 0;
                s->comp[v] = s->ncomp;
                s->size[s->ncomp]++;
            } while (v != u);
            s->ncomp++;
        }
    }
    free(index), free(low), free(stack), free(call), free(pos), free(on);
    return rc;
}

static void scc_free(struct scc *s)
{
    free(s->comp);
    free(s->size);
    memset(s, 0, sizeof *s);
}

/* ---- shortest cycle through an edge ------------------------------------------ */

struct bfs {
    uint32_t *dist;   /* UINT32_MAX = unseen; reset through `touched` */
    uint32_t *parent; /* edge index into g->e that reached the node */
    uint32_t *touched;
    size_t ntouched;
    uint32_t *dq; /* ring deque for 0-1 BFS */
    size_t dqcap;
};

static void bfs_reset(struct bfs *b)
{
    for (size_t i = 0; i < b->ntouched; i++)
        b->dist[b->touched[i]] = UINT32_MAX;
    b->ntouched = 0;
}

/* 0-1 BFS from `from` to `to` inside component `c`, over `path` edges; a hop
 * into a virtual node costs 0, into a transaction 1. Returns the distance or
 * UINT32_MAX; parents are left in b for the path. */
static uint32_t bfs(const struct graph *g, const struct scc *s, struct bfs *b, uint32_t c,
                    uint8_t path, uint32_t from, uint32_t to)
{
    bfs_reset(b);
    size_t head = 0, len = 0;
    b->dist[from] = 0, b->touched[b->ntouched++] = from, b->parent[from] = UINT32_MAX;
    b->dq[head] = from, len = 1;
    while (len > 0) { /* a node is expanded once per distance improvement: bounded by E */
        uint32_t u = b->dq[head];
        head = (head + 1) % b->dqcap, len--;
        if (u == to)
            return b->dist[u];
        for (uint32_t i = g->off[u]; i < g->off[u + 1]; i++) {
            const struct edge *e = &g->e[i];
            if (!(e->type & path) || s->comp[e->dst] != c)
                continue;
            uint32_t w = e->dst >= g->nreal ? 0 : 1, d = b->dist[u] + w;
            if (b->dist[e->dst] != UINT32_MAX && b->dist[e->dst] <= d)
                continue;
            if (b->dist[e->dst] == UINT32_MAX)
                b->touched[b->ntouched++] = e->dst;
            b->dist[e->dst] = d, b->parent[e->dst] = i;
            SP_ASSERT(len < b->dqcap);
            if (w == 0)
                head = (head + b->dqcap - 1) % b->dqcap, b->dq[head] = e->dst;
            else
                b->dq[(head + len) % b->dqcap] = e->dst;
            len++;
        }
    }
    return UINT32_MAX;
}

struct cycle {
    uint32_t n;
    uint32_t edge[CYCLE_MAX]; /* edge indices, in order around the cycle */
    uint32_t len;             /* transaction hops */
};

/* Collects the cycle: the closing edge u -> v, then v ... u from parents.
 * Hops between two virtual nodes are left out (a real-time hop may cross
 * thousands of them); the walk is bounded by the node count. */
static bool collect(const struct graph *g, const struct bfs *b, uint32_t closing, struct cycle *cy)
{
    uint32_t n = 0, steps = 0, tmp[CYCLE_MAX];
    for (uint32_t u = g->e[closing].src; b->parent[u] != UINT32_MAX; u = g->e[b->parent[u]].src) {
        SP_ASSERT(steps++ <= g->nnodes);
        const struct edge *e = &g->e[b->parent[u]];
        if (e->src >= g->nreal && e->dst >= g->nreal)
            continue;
        if (n == CYCLE_MAX - 1)
            return false;
        tmp[n++] = b->parent[u];
    }
    cy->n = 0;
    cy->edge[cy->n++] = closing;
    while (n > 0)
        cy->edge[cy->n++] = tmp[--n];
    cy->len = 0;
    for (uint32_t i = 0; i < cy->n; i++)
        cy->len += g->e[cy->edge[i]].dst < g->nreal;
    return true;
}

static void name_cycle(const struct graph *g, const struct cycle *cy, char *name, size_t cap)
{
    uint32_t rw = 0, wr = 0, rt = 0;
    for (uint32_t i = 0; i < cy->n; i++) {
        uint8_t t = g->e[cy->edge[i]].type;
        rw += (t & E_RW) != 0, wr += (t & E_WR) != 0, rt += (t & E_RT) != 0;
    }
    const char *base = rw == 0 ? (wr ? "G1c" : "G0") : rw == 1 ? "G-single" : "G2";
    snprintf(name, cap, "%s%s", base, rt ? "-realtime" : "");
}

/* "line 3 -ww(x)-> line 5 -rt-> line 3": virtual chain hops fold into one rt. */
static void describe(const struct graph *g, const struct cycle *cy, char *out, size_t cap)
{
    const struct sim_history *h = g->h;
    size_t used = 0;
    char a[SIM_NAME_MAX];
    uint32_t start = 0; /* begin at a transaction */
    while (start < cy->n && g->e[cy->edge[start]].src >= g->nreal)
        start++;
    SP_ASSERT(start < cy->n);
    used += snprintf(out + used, cap - used, "%s",
                     sim__txn_name(h, g->e[cy->edge[start]].src, a, sizeof a));
    for (uint32_t k = 0; k < cy->n && used < cap; k++) {
        const struct edge *e = &g->e[cy->edge[(start + k) % cy->n]];
        if (e->dst >= g->nreal)
            continue;
        static const char *tn[] = {"", "ww", "wr", "", "rw"};
        if (e->type & E_RT)
            used += snprintf(out + used, cap - used, " -rt-> %s",
                             sim__txn_name(h, e->dst, a, sizeof a));
        else
            used += snprintf(out + used, cap - used, " -%s(%s)-> %s", tn[e->type],
                             sim__str(h, e->key), sim__txn_name(h, e->dst, a, sizeof a));
    }
}

/* ---- anomaly classes ----------------------------------------------------------- */

/* Searched in this order; each wants a cycle through at least one `req` edge
 * using only `path` edges, inside components of the `scc` edge types. */
static const struct cls {
    uint8_t scc, req, path;
} classes[] = {
    {E_WW, E_WW, E_WW},                               /* G0 */
    {E_WW | E_WR, E_WR, E_WW | E_WR},                 /* G1c */
    {E_DEP, E_RW, E_WW | E_WR},                       /* G-single */
    {E_DEP, E_RW, E_DEP},                             /* G2 */
    {E_WW | E_RT, E_RTIN, E_WW | E_RT},               /* G0-realtime */
    {E_WW | E_WR | E_RT, E_RTIN, E_WW | E_WR | E_RT}, /* G1c-realtime */
    {E_ALL, E_RW, E_WW | E_WR | E_RT},                /* G-single-realtime */
    {E_ALL, E_RTIN, E_ALL},                           /* G2-realtime */
};

static void report_cycle(struct graph *g, struct bfs *b, uint32_t closing, struct cycle *cy)
{
    const struct edge *e = &g->e[closing];
    char a[SIM_NAME_MAX];
    if (!collect(g, b, closing, cy)) { /* still a violation, only too long to print */
        g->cycles++;
        sim__anomaly(g->r, SIM_CHECK_GRAPH, "cycle-too-long", UINT64_MAX,
                     "a cycle of more than %d edges through %s (not printed)", CYCLE_MAX,
                     sim__txn_name(g->h, e->src < g->nreal ? e->src : e->dst, a, sizeof a));
        return;
    }
    g->cycles++;
    char name[40], desc[1000];
    name_cycle(g, cy, name, sizeof name);
    describe(g, cy, desc, sizeof desc);
    uint64_t line =
        g->h->txns[g->e[closing].dst < g->nreal ? g->e[closing].dst : g->e[closing].src].line;
    sim__anomaly(g->r, SIM_CHECK_GRAPH, name, ((uint64_t) cy->len << 40) | line,
                 "cycle of %u transactions: %s", cy->len, desc);
}

/* A cycle of two transactions through e, found in O(degree): the reverse
 * dependency edge, or for real-time classes an rt hop back (e's target, ok,
 * completed before e's source was invoked). */
static bool two_cycle(const struct graph *g, const struct cls *k, const struct edge *e)
{
    uint32_t u = e->src, v = e->dst;
    if (u >= g->nreal || v >= g->nreal)
        return false;
    const struct sim_txn *tu = &g->h->txns[u], *tv = &g->h->txns[v];
    if ((k->path & E_RT) && tv->outcome == SIM_OK && tv->complete_us < tu->invoke_us)
        return true;
    for (uint32_t i = g->off[v]; i < g->off[v + 1]; i++)
        if (g->e[i].dst == u && (g->e[i].type & k->path & E_DEP))
            return true;
    return false;
}

/* Candidates: edges of the required type inside one non-trivial component;
 * real-time classes also start from their dependency edges, since the
 * smallest real-time cycles are a dependency plus one rt hop back. */
static bool candidate(const struct cls *k, const struct scc *s, const struct edge *e)
{
    bool want = (e->type & k->req) || ((k->path & E_RT) && (e->type & k->path & E_DEP));
    uint32_t c = s->comp[e->src];
    return want && c == s->comp[e->dst] && s->size[c] >= 2;
}

static int search_class(struct graph *g, const struct cls *k, unsigned tries_max, struct bfs *b,
                        struct cycle *cy)
{
    struct scc s;
    int rc = tarjan(g, k->scc, &s);
    uint8_t *tries = rc ? NULL : calloc(s.ncomp + 1, 1);
    if (!tries) {
        scc_free(&s);
        return SP_ENOMEM;
    }
    /* Pass 1: two-transaction cycles, checked in O(degree) per edge; a
     * few are confirmed and reported. Pass 2, only if none: bounded BFS. */
    size_t found = 0, comps = 0;
    for (size_t i = 0; i < g->ne && found < tries_max; i++) {
        const struct edge *e = &g->e[i];
        if (candidate(k, &s, e) && two_cycle(g, k, e) &&
            bfs(g, &s, b, s.comp[e->src], k->path, e->dst, e->src) != UINT32_MAX)
            found++, report_cycle(g, b, (uint32_t) i, cy);
    }
    for (size_t i = 0; i < g->ne && !found && comps <= COMPS_PER_CLASS_MAX; i++) {
        const struct edge *e = &g->e[i];
        uint32_t c = s.comp[e->src];
        if (!(e->type & k->req) || !candidate(k, &s, e) || tries[c] >= tries_max)
            continue;
        comps += tries[c]++ == 0;
        if (bfs(g, &s, b, c, k->path, e->dst, e->src) != UINT32_MAX)
            report_cycle(g, b, (uint32_t) i, cy);
    }
    free(tries);
    scc_free(&s);
    return 0;
}

/* Names a transaction in a non-trivial component of the full graph. */
static void unclassified(struct graph *g)
{
    struct scc s;
    char a[SIM_NAME_MAX];
    if (tarjan(g, E_ALL, &s) == 0)
        for (uint32_t u = 0; u < g->nreal; u++)
            if (s.size[s.comp[u]] > 1) {
                sim__anomaly(g->r, SIM_CHECK_GRAPH, "cycle-unclassified", UINT64_MAX,
                             "%s is on a cycle of the dependency and real-time graph "
                             "(component of %u nodes) the bounded search did not isolate",
                             sim__txn_name(g->h, u, a, sizeof a), s.size[s.comp[u]]);
                break;
            }
    scc_free(&s);
}

static int search_cycles(struct graph *g, unsigned tries_max, bool *cyclic)
{
    tries_max = tries_max > UINT8_MAX ? UINT8_MAX : tries_max; /* counted in a uint8_t */
    struct scc all;
    int rc = tarjan(g, E_ALL, &all);
    *cyclic = false;
    for (uint32_t c = 0; c < all.ncomp && rc == 0; c++)
        *cyclic = *cyclic || all.size[c] > 1;
    scc_free(&all);
    if (rc || !*cyclic)
        return rc;
    struct bfs b = {0};
    b.dqcap = g->ne + g->nnodes + 1;
    b.dist = malloc(g->nnodes * sizeof *b.dist);
    b.parent = malloc(g->nnodes * sizeof *b.parent);
    b.touched = malloc(g->nnodes * sizeof *b.touched);
    b.dq = malloc(b.dqcap * sizeof *b.dq);
    struct cycle *cy = malloc(sizeof *cy);
    rc = b.dist && b.parent && b.touched && b.dq && cy ? 0 : SP_ENOMEM;
    if (rc == 0)
        memset(b.dist, 0xff, g->nnodes * sizeof *b.dist);
    for (size_t i = 0; i < sizeof classes / sizeof classes[0] && rc == 0; i++)
        rc = search_class(g, &classes[i], tries_max, &b, cy);
    if (rc == 0 && g->cycles == 0) /* the bounded searches missed: never a silent pass */
        unclassified(g);
    free(b.dist), free(b.parent), free(b.touched), free(b.dq), free(cy);
    return rc;
}

/* ---- the check ----------------------------------------------------------------- */

int sim__check_graph(const struct sim_history *h, const struct sim_check_options *o,
                     enum sim_workload w, struct sim_report *r, struct sp_err *err)
{
    if (w != SIM_WORKLOAD_LIST_APPEND) { /* registers do not reveal version orders */
        sim__report_skip(r, SIM_CHECK_GRAPH, "needs a list-append history");
        return 0;
    }
    struct elle x = {.g = {.h = h, .r = r, .nreal = (uint32_t) h->ntxns}};
    uint32_t nok = 0;
    for (size_t t = 0; t < h->ntxns; t++)
        nok += h->txns[t].outcome == SIM_OK;
    x.g.nnodes = x.g.nreal + nok;
    int rc = index_appends(&x, err);
    rc = rc ? rc : version_orders(&x, err);
    for (uint32_t t = 0; t < h->ntxns && rc == 0; t++)
        for (uint32_t i = 0; i < h->txns[t].op_n && h->txns[t].outcome == SIM_OK; i++)
            if (h->ops[h->txns[t].op_off + i].f == SIM_F_READ)
                check_read(&x, t, h->txns[t].op_off + i);
    if (rc == 0 && (dependency_edges(&x) || realtime_edges(&x.g) || finish_graph(&x.g)))
        rc = sp_err_set(err, SP_ENOMEM, "graph: out of memory");
    bool cyclic = false;
    if (rc == 0 && search_cycles(&x.g, o->cycle_tries_max ? o->cycle_tries_max : 16, &cyclic))
        rc = sp_err_set(err, SP_ENOMEM, "graph: out of memory");
    if (rc == 0) {
        char note[160];
        snprintf(note, sizeof note, "%u nodes (%u virtual), %zu edges%s", x.g.nnodes, nok, x.g.ne,
                 cyclic ? ", cyclic" : "");
        sim__report_ran(r, SIM_CHECK_GRAPH, note);
    }
    free(x.ap), free(x.longest), free(x.read_ok), free(x.g.e), free(x.g.off);
    sim__map_free(&x.amap);
    return rc;
}

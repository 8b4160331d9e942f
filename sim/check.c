/*
 * check.c - spanner-check: is a history externally consistent?
 *
 * Design notes
 * ============
 * Input is a history (sim/README.md): one transaction per line with its
 * real-time interval [invoke_us, complete_us], its timestamp ts (commit
 * timestamp of a read-write transaction, read timestamp of a read-only one),
 * its operations and its outcome (ok, aborted, unknown). Four checks run, each
 * independent of the others, each reporting per anomaly name the smallest
 * counter-example found (fewest transactions, then earliest line) and how
 * many instances it saw. Let n = transactions, m = operations, E = list
 * elements read.
 *
 * 1. Timestamp order (this file). From Spanner §4.1.2 (external
 *    consistency): if a read-write T1 completes before T2 is invoked,
 *    ts(T1) < ts(T2); a read-only T2 may share T1's timestamp (it reads at
 *    or below ts). T1 is a writer: the invariant is on commit timestamps.
 *    A read-only T1 may carry a timestamp true time has not reached (a
 *    strong read at TT.now().latest is served as soon as safe time passes
 *    it); that is harmless, since every version it can see is past its
 *    commit wait, and check 2 holds its reads to its timestamp.
 *    Only ok transactions take part (an unknown one has no trusted ts), and
 *    a snapshot read (read-only at a chosen, possibly stale, timestamp) is
 *    never the later T2: Spanner promises it no real-time bound.
 *    Sort by completion and by invocation, then sweep invocations in order
 *    keeping the maximum ts among transactions already completed: one
 *    comparison per transaction. O(n log n). Anomaly: "ts-order".
 *
 * 2. Reads at timestamps (this file). Each read of an ok transaction must
 *    return exactly the newest committed write of its key below the reader's
 *    timestamp (at or below for read-only; for a read-write transaction the
 *    transaction's own earlier write wins: read-your-writes). Versions of
 *    every key are one array sorted by (key, ts); a read is a binary search.
 *    A transaction with outcome unknown may or may not have taken effect:
 *    its writes (when it carries a ts) are "maybe" versions a read may
 *    either see or skip; if one read sees it and another skips it, the
 *    outcome was applied inconsistently ("unknown-inconsistent"). Aborted
 *    writes are never visible. O(m log m + E). Anomalies: "stale-read",
 *    "future-read", "G1a" (aborted write read), "G1b" (a value the writer
 *    overwrote in the same transaction), "garbage-read" (never written),
 *    "read-your-writes", "ts-collision" (two writers of one key at one ts),
 *    "list-order" (a list whose order no timestamp order explains).
 *
 * 3. Black-box serializability (elle.c), after Adya, "Weak Consistency: A
 *    Generalized Theory and Optimistic Implementations for Distributed
 *    Transactions" (MIT PhD thesis, 1999, §3-4: the direct serialization
 *    graph and phenomena G0, G1a, G1b, G1c, G-single, G2) and Kingsbury &
 *    Alvaro, "Elle: Inferring Isolation Anomalies from Experimental
 *    Observations" (VLDB 2020: version orders recovered from list-append
 *    reads; real-time edges for strict serializability). Timestamps are not
 *    trusted here. See elle.c for its own notes.
 *
 * 4. Workload invariants (workload.c): the bank total and no lost
 *    acknowledged write.
 *
 * Files: history.c (streaming load, interning), jsonl.c (the line parser),
 * check.c (report, checks 1 and 2, sim_check), elle.c (check 3),
 * workload.c (check 4), gen.c (valid histories and a stale-read negative
 * control), check_main.c (the command).
 *
 * Exit status contract of spanner-check: 0 valid, 1 violation, 2 bad input.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "sim_int.h"
#include "sp_assert.h"

#define ANOMALY_NAMES_MAX 64
#define DETAIL_MAX        1024
#define NOTE_MAX          160

struct anomaly {
    enum sim_check_id check;
    char name[40];
    uint64_t weight;
    uint64_t count;
    char detail[DETAIL_MAX];
};

struct sim_report {
    enum sim_workload workload;
    size_t ntxns, nok, naborted, nunknown, nfaults;
    bool ran[SIM_CHECK_COUNT];
    char note[SIM_CHECK_COUNT][NOTE_MAX];
    struct anomaly a[ANOMALY_NAMES_MAX];
    size_t na;
    uint64_t dropped; /* anomalies of names beyond the table */
};

static const char *check_titles[SIM_CHECK_COUNT] = {
    "[1] timestamp order (external consistency)",
    "[2] reads at timestamps",
    "[3] serializability (Elle-style dependency cycles)",
    "[4] workload invariants",
};

/* ---- report ---------------------------------------------------------------- */

int sim__anomaly(struct sim_report *r, enum sim_check_id c, const char *name, uint64_t weight,
                 const char *fmt, ...)
{
    SP_ASSERT(c < SIM_CHECK_COUNT && name);
    struct anomaly *a = NULL;
    for (size_t i = 0; i < r->na; i++)
        if (r->a[i].check == c && strcmp(r->a[i].name, name) == 0)
            a = &r->a[i];
    if (!a) {
        if (r->na == ANOMALY_NAMES_MAX) {
            r->dropped++;
            return 0;
        }
        a = &r->a[r->na++];
        memset(a, 0, sizeof *a);
        a->check = c;
        a->weight = UINT64_MAX;
        snprintf(a->name, sizeof a->name, "%s", name);
    }
    a->count++;
    if (weight < a->weight) {
        a->weight = weight;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(a->detail, sizeof a->detail, fmt, ap);
        va_end(ap);
    }
    return 0;
}

const char *sim__txn_name(const struct sim_history *h, uint32_t t, char *buf, size_t cap)
{
    SP_ASSERT(t < h->ntxns);
    const struct sim_txn *x = &h->txns[t];
    if (x->id)
        snprintf(buf, cap, "line %" PRIu64 " (id %s)", x->line, sim__str(h, x->id));
    else
        snprintf(buf, cap, "line %" PRIu64, x->line);
    return buf;
}

void sim__report_ran(struct sim_report *r, enum sim_check_id c, const char *note)
{
    r->ran[c] = true;
    snprintf(r->note[c], sizeof r->note[c], "%s", note ? note : "");
}

void sim__report_skip(struct sim_report *r, enum sim_check_id c, const char *why)
{
    r->ran[c] = false;
    snprintf(r->note[c], sizeof r->note[c], "%s", why);
}

bool sim_report_has(const struct sim_report *r, const char *name)
{
    return sim_report_detail(r, name) != NULL;
}

const char *sim_report_detail(const struct sim_report *r, const char *name)
{
    for (size_t i = 0; i < r->na; i++)
        if (strcmp(r->a[i].name, name) == 0)
            return r->a[i].detail;
    return NULL;
}

size_t sim_report_anomalies(const struct sim_report *r)
{
    return r->na;
}

bool sim_report_ran(const struct sim_report *r, enum sim_check_id c)
{
    return c < SIM_CHECK_COUNT && r->ran[c];
}

void sim_report_free(struct sim_report *r)
{
    free(r);
}

void sim_report_print(const struct sim_report *r, FILE *f)
{
    fprintf(f, "history: %zu transactions (%zu ok, %zu aborted, %zu unknown), workload %s",
            r->ntxns, r->nok, r->naborted, r->nunknown, sim_workload_name(r->workload));
    if (r->nfaults)
        fprintf(f, ", %zu fault records", r->nfaults);
    fputc('\n', f);
    for (int c = 0; c < SIM_CHECK_COUNT; c++) {
        size_t found = 0;
        for (size_t i = 0; i < r->na; i++)
            found += r->a[i].check == (enum sim_check_id) c;
        const char *v = !r->ran[c] ? "skipped" : found ? "VIOLATION" : "ok";
        fprintf(f, "%s: %s%s%s\n", check_titles[c], v, r->note[c][0] ? " - " : "", r->note[c]);
        for (size_t i = 0; i < r->na; i++)
            if (r->a[i].check == (enum sim_check_id) c)
                fprintf(f, "    %s (%" PRIu64 " found; smallest): %s\n", r->a[i].name,
                        r->a[i].count, r->a[i].detail);
    }
    if (r->dropped)
        fprintf(f, "(%" PRIu64 " more anomalies of other kinds not listed)\n", r->dropped);
    fprintf(f, "verdict: %s\n", r->na ? "INVALID" : "valid");
}

/* ---- helpers ----------------------------------------------------------------- */

struct keyed {
    int64_t k;
    uint32_t i;
};

static int cmp_keyed(const void *a, const void *b)
{
    const struct keyed *x = a, *y = b;
    if (x->k != y->k)
        return x->k < y->k ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

int sim__sort_by(uint32_t *idx, size_t n, const int64_t *key)
{
    struct keyed *tmp = malloc((n ? n : 1) * sizeof *tmp);
    if (!tmp)
        return SP_ENOMEM;
    for (size_t i = 0; i < n; i++)
        tmp[i] = (struct keyed){key[idx[i]], idx[i]};
    qsort(tmp, n, sizeof *tmp, cmp_keyed);
    for (size_t i = 0; i < n; i++)
        idx[i] = tmp[i].i;
    free(tmp);
    return 0;
}

int sim_workload_parse(const char *name)
{
    if (strcmp(name, "register") == 0)
        return SIM_WORKLOAD_REGISTER;
    if (strcmp(name, "bank") == 0)
        return SIM_WORKLOAD_BANK;
    if (strcmp(name, "list-append") == 0)
        return SIM_WORKLOAD_LIST_APPEND;
    if (strcmp(name, "auto") == 0)
        return SIM_WORKLOAD_AUTO;
    return -1;
}

const char *sim_workload_name(enum sim_workload w)
{
    static const char *names[] = {"auto", "register", "bank", "list-append"};
    return (unsigned) w < 4 ? names[w] : "?";
}

/* ---- check 1: timestamp order ------------------------------------------------ */

/* One event of the per-key sweep of check_single_group. */
struct kev {
    uint32_t key;
    uint32_t txn;
    int64_t at;    /* a write's completion, a read's invocation */
    uint8_t is_rd; /* writes sort before reads at the same instant: only a
                    * write completed strictly before counts (see below) */
};

static int cmp_kev(const void *a, const void *b)
{
    const struct kev *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    if (x->at != y->at)
        return x->at < y->at ? -1 : 1;
    if (x->is_rd != y->is_rd)
        return x->is_rd ? 1 : -1; /* reads after writes at equal times */
    return x->txn < y->txn ? -1 : x->txn > y->txn;
}

/*
 * Single-group strong reads (Spanner §4.2.2): s_read = LastTS() of the group
 * when nothing is prepared there. That orders the read after every write of
 * the group, not after every earlier commit anywhere, so its timestamp may be
 * below that of an unrelated transaction in another group that completed
 * before it began. What it must satisfy: for every key it reads, any write
 * of that key acknowledged before the read was invoked has ts <= s_read.
 * Per key, writes by completion and reads by invocation are swept together,
 * O(m log m). (Check 3 still places such reads with real-time edges.)
 */
static int check_single_group(const struct sim_history *h, struct sim_report *r, size_t *single,
                              struct sp_err *err)
{
    size_t n = 0, cap = 0;
    struct kev *ev = NULL;
    for (uint32_t t = 0; t < h->ntxns; t++) {
        const struct sim_txn *tx = &h->txns[t];
        if (tx->outcome != SIM_OK || (tx->mode == SIM_RO && !tx->single_group))
            continue;
        *single += tx->single_group;
        for (uint32_t i = 0; i < tx->op_n; i++) {
            const struct sim_op *op = &h->ops[tx->op_off + i];
            bool rd = tx->mode == SIM_RO;
            if (!rd && op->f == SIM_F_READ)
                continue;
            if (sim__grow((void **) &ev, &cap, n + 1, sizeof *ev)) {
                free(ev);
                return sp_err_set(err, SP_ENOMEM, "timestamp order: out of memory");
            }
            ev[n++] = (struct kev){op->key, t, rd ? tx->invoke_us : tx->complete_us, rd};
        }
    }
    if (*single == 0) {
        free(ev);
        return 0;
    }
    qsort(ev, n, sizeof *ev, cmp_kev);
    uint32_t arg = UINT32_MAX; /* newest-ts acknowledged writer of this key so far */
    for (size_t k = 0; k < n; k++) {
        if (k > 0 && ev[k].key != ev[k - 1].key)
            arg = UINT32_MAX;
        const struct sim_txn *tx = &h->txns[ev[k].txn];
        if (!ev[k].is_rd) {
            if (arg == UINT32_MAX || tx->ts > h->txns[arg].ts)
                arg = ev[k].txn;
            continue;
        }
        if (arg == UINT32_MAX || h->txns[arg].complete_us >= tx->invoke_us ||
            h->txns[arg].ts <= tx->ts)
            continue;
        char a[SIM_NAME_MAX], b[SIM_NAME_MAX];
        sim__anomaly(r, SIM_CHECK_TS_ORDER, "ts-order", tx->line,
                     "%s wrote key %s and completed at %" PRId64 " before %s (ro, single group) "
                     "was invoked at %" PRId64 ", but ts %" PRId64 " > ts %" PRId64,
                     sim__txn_name(h, arg, a, sizeof a), sim__str(h, ev[k].key),
                     h->txns[arg].complete_us, sim__txn_name(h, ev[k].txn, b, sizeof b),
                     tx->invoke_us, h->txns[arg].ts, tx->ts);
    }
    free(ev);
    return 0;
}

int sim__check_ts_order(const struct sim_history *h, struct sim_report *r, struct sp_err *err)
{
    size_t n = 0;
    uint32_t *by_c = malloc((h->ntxns + 1) * sizeof *by_c);
    uint32_t *by_i = malloc((h->ntxns + 1) * sizeof *by_i);
    int64_t *c = calloc(h->ntxns + 1, sizeof *c), *inv = calloc(h->ntxns + 1, sizeof *inv);
    if (!by_c || !by_i || !c || !inv) {
        free(by_c), free(by_i), free(c), free(inv);
        return sp_err_set(err, SP_ENOMEM, "timestamp order: out of memory");
    }
    size_t nc = 0; /* by_c: the ok read-write transactions (T1); by_i: every ok one (T2) */
    for (uint32_t t = 0; t < h->ntxns; t++) {
        c[t] = h->txns[t].complete_us;
        inv[t] = h->txns[t].invoke_us;
        if (h->txns[t].outcome == SIM_OK) {
            by_i[n++] = t;
            if (h->txns[t].mode == SIM_RW)
                by_c[nc++] = t;
        }
    }
    if (sim__sort_by(by_c, nc, c) || sim__sort_by(by_i, n, inv)) {
        free(by_c), free(by_i), free(c), free(inv);
        return sp_err_set(err, SP_ENOMEM, "timestamp order: out of memory");
    }
    size_t j = 0;
    uint32_t arg = UINT32_MAX; /* the completed txn with the largest ts so far */
    for (size_t k = 0; k < n; k++) {
        const struct sim_txn *t2 = &h->txns[by_i[k]];
        for (; j < nc && c[by_c[j]] < t2->invoke_us; j++)
            if (arg == UINT32_MAX || h->txns[by_c[j]].ts > h->txns[arg].ts)
                arg = by_c[j];
        /* A snapshot read may lag real time; a single-group read at LastTS()
         * is held to the writes of its own keys (below). */
        if (arg == UINT32_MAX || t2->snapshot || t2->single_group)
            continue;
        const struct sim_txn *t1 = &h->txns[arg];
        if (t1->ts > t2->ts || (t1->ts == t2->ts && t2->mode == SIM_RW)) {
            char a[SIM_NAME_MAX], b[SIM_NAME_MAX];
            sim__anomaly(r, SIM_CHECK_TS_ORDER, "ts-order", t2->line,
                         "%s completed at %" PRId64 " before %s (%s) was invoked at %" PRId64
                         ", but ts %" PRId64 " %s ts %" PRId64,
                         sim__txn_name(h, arg, a, sizeof a), t1->complete_us,
                         sim__txn_name(h, by_i[k], b, sizeof b), t2->mode == SIM_RO ? "ro" : "rw",
                         t2->invoke_us, t1->ts, t1->ts == t2->ts ? "=" : ">", t2->ts);
        }
    }
    free(by_c), free(by_i), free(c), free(inv);
    size_t single = 0;
    int rc = check_single_group(h, r, &single, err);
    char note[NOTE_MAX];
    snprintf(note, sizeof note, "%zu ok transactions (%zu single-group reads held to their keys)",
             n, single);
    sim__report_ran(r, SIM_CHECK_TS_ORDER, note);
    return rc;
}

/* ---- check 2: reads at timestamps --------------------------------------------- */

struct ver {
    uint32_t key;
    uint32_t txn;
    int64_t ts;
    uint32_t seq; /* op index, orders a transaction's appends */
    uint32_t val; /* SIM_NULL for a delete */
    uint8_t maybe;
};

static int cmp_ver(const void *a, const void *b)
{
    const struct ver *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    if (x->ts != y->ts)
        return x->ts < y->ts ? -1 : 1;
    if (x->txn != y->txn)
        return x->txn < y->txn ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* report_read's writer for a list that ended before an expected element. */
#define SIM_NO_WRITER_CLAUSE (UINT32_MAX - 1)

struct reads {
    const struct sim_history *h;
    struct sim_report *r;
    bool lists;    /* list-append semantics */
    struct ver *v; /* sorted by (key, ts, txn, seq) */
    size_t nv;
    uint32_t *first;     /* versions of key k: v[first[k]..first[k+1]) */
    struct sim_map wmap; /* (key, value) -> writer txn, aborted ones too */
    uint8_t *effect;     /* per txn: a read saw an unknown txn's write */
    uint8_t *skip;       /* per txn: a read skipped it */
};

/* Collects the versions: writes of ok and unknown read-write transactions
 * that carry a ts. For registers only a transaction's last write of a key
 * is a version (the earlier ones are intermediate, never visible). */
/* An unknown transaction without a timestamp: it cannot be placed. */
static bool unplaced(const struct sim_txn *t)
{
    return t->outcome == SIM_UNKNOWN && t->ts <= 0;
}

static int build_versions(struct reads *x)
{
    const struct sim_history *h = x->h;
    x->v = malloc((h->nops + 1) * sizeof *x->v);
    if (!x->v || sim__map_init(&x->wmap, h->nops))
        return SP_ENOMEM;
    for (uint32_t t = 0; t < h->ntxns; t++) {
        const struct sim_txn *tx = &h->txns[t];
        for (uint32_t i = 0; i < tx->op_n; i++) {
            const struct sim_op *op = &h->ops[tx->op_off + i];
            if (op->f == SIM_F_READ || (op->f == SIM_F_APPEND) != x->lists)
                continue;
            uint32_t *w = sim__map_put(&x->wmap, sim__kv(op->key, op->val), t);
            if (!w)
                return SP_ENOMEM;
            /* With repeated values (bank balances) prefer, as the writer of a
             * value, an unknown transaction without a ts (it cannot be placed,
             * so a read of its value cannot be proven wrong), then any writer
             * that counts over an aborted one. */
            if (h->txns[*w].outcome == SIM_ABORTED || (unplaced(tx) && !unplaced(&h->txns[*w])))
                *w = t;
            if (tx->outcome == SIM_ABORTED || tx->ts <= 0)
                continue;
            x->v[x->nv++] = (struct ver){op->key, t, tx->ts, i, op->val, tx->outcome != SIM_OK};
        }
    }
    qsort(x->v, x->nv, sizeof *x->v, cmp_ver);
    size_t k = 0;
    for (size_t i = 0; i < x->nv; i++) { /* drop intermediate register writes */
        bool later =
            i + 1 < x->nv && x->v[i + 1].key == x->v[i].key && x->v[i + 1].txn == x->v[i].txn;
        if (x->lists || !later)
            x->v[k++] = x->v[i];
    }
    x->nv = k;
    x->first = calloc((size_t) h->str.n + 2, sizeof *x->first);
    if (!x->first)
        return SP_ENOMEM;
    for (size_t i = 0; i < x->nv; i++)
        x->first[x->v[i].key + 1]++;
    for (size_t key = 1; key <= (size_t) h->str.n + 1; key++)
        x->first[key] += x->first[key - 1];
    return 0;
}

/* Two different ok transactions writing one key at one timestamp cannot both
 * be the newest version at that timestamp. */
static void check_collisions(struct reads *x)
{
    char a[SIM_NAME_MAX], b[SIM_NAME_MAX];
    for (size_t i = 1; i < x->nv; i++) {
        const struct ver *p = &x->v[i - 1], *q = &x->v[i];
        if (p->key == q->key && p->ts == q->ts && p->txn != q->txn && !p->maybe && !q->maybe)
            sim__anomaly(x->r, SIM_CHECK_READS, "ts-collision", x->h->txns[q->txn].line,
                         "%s and %s both wrote key %s at ts %" PRId64,
                         sim__txn_name(x->h, p->txn, a, sizeof a),
                         sim__txn_name(x->h, q->txn, b, sizeof b), sim__str(x->h, q->key), q->ts);
    }
}

/* Index of the first version of `key` not visible at the reader's bound:
 * ts > bound for read-only readers, ts >= bound for read-write ones. */
static size_t upper(const struct reads *x, uint32_t key, int64_t bound, bool ro)
{
    size_t lo = x->first[key], hi = x->first[key + 1];
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        bool visible = ro ? x->v[mid].ts <= bound : x->v[mid].ts < bound;
        if (visible)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* True if transaction w wrote `key` again after op index `seq`. */
static bool overwritten_later(const struct sim_history *h, uint32_t w, uint32_t key, uint32_t val)
{
    const struct sim_txn *t = &h->txns[w];
    bool seen = false;
    for (uint32_t i = 0; i < t->op_n; i++) {
        const struct sim_op *op = &h->ops[t->op_off + i];
        if (op->f == SIM_F_READ || op->key != key)
            continue;
        if (seen)
            return true;
        seen = op->val == val;
    }
    return false;
}

/* Names what a read of `val` that the versions do not explain observed. */
static const char *classify(const struct reads *x, uint32_t reader, uint32_t key, uint32_t val,
                            bool ro, uint32_t *writer)
{
    const struct sim_history *h = x->h;
    *writer = val == SIM_NULL ? UINT32_MAX : sim__map_get(&x->wmap, sim__kv(key, val));
    if (val != SIM_NULL && *writer == UINT32_MAX)
        return "garbage-read";
    if (*writer == UINT32_MAX)
        return "stale-read";
    const struct sim_txn *w = &h->txns[*writer], *t = &h->txns[reader];
    if (w->outcome == SIM_ABORTED)
        return "G1a";
    if (*writer != reader && overwritten_later(h, *writer, key, val))
        return "G1b";
    if (w->ts > t->ts || (!ro && w->ts == t->ts && *writer != reader))
        return "future-read";
    return "stale-read";
}

static void report_read(struct reads *x, const char *name, uint32_t t, uint32_t key,
                        const char *got, const char *want, uint32_t want_txn, uint32_t writer)
{
    const struct sim_history *h = x->h;
    const struct sim_txn *tx = &h->txns[t];
    char a[SIM_NAME_MAX], b[SIM_NAME_MAX + 32], c[SIM_NAME_MAX];
    snprintf(b, sizeof b, "the initial state");
    if (want_txn != UINT32_MAX)
        snprintf(b, sizeof b, "%s (ts %" PRId64 ")", sim__txn_name(h, want_txn, c, sizeof c),
                 h->txns[want_txn].ts);
    char wr[SIM_NAME_MAX + 64] = "no transaction";
    if (writer == SIM_NO_WRITER_CLAUSE)
        snprintf(wr, sizeof wr, "(nothing: the list ended early)");
    else if (writer != UINT32_MAX)
        snprintf(wr, sizeof wr, "%s (ts %" PRId64 ", %s)", sim__txn_name(h, writer, c, sizeof c),
                 h->txns[writer].ts,
                 h->txns[writer].outcome == SIM_OK        ? "ok"
                 : h->txns[writer].outcome == SIM_ABORTED ? "aborted"
                                                          : "unknown");
    sim__anomaly(x->r, SIM_CHECK_READS, name, tx->line,
                 "%s (%s, ts %" PRId64 ") read key %s = %s; expected %s from %s; "
                 "what it read came from %s",
                 sim__txn_name(h, t, a, sizeof a), tx->mode == SIM_RO ? "ro" : "rw", tx->ts,
                 sim__str(h, key), got, want, b, wr);
}

/* Marks the unknown-outcome versions v[lo..hi) a read did not see. */
static void mark_skipped(struct reads *x, size_t lo, size_t hi, uint32_t val)
{
    for (size_t i = lo; i < hi; i++)
        if (x->v[i].maybe && x->v[i].val != val)
            x->skip[x->v[i].txn] = 1;
}

static void check_register_read(struct reads *x, uint32_t t, uint32_t opi)
{
    const struct sim_history *h = x->h;
    const struct sim_txn *tx = &h->txns[t];
    const struct sim_op *op = &h->ops[tx->op_off + opi];
    for (uint32_t i = opi; tx->mode == SIM_RW && i-- > 0;) { /* read-your-writes */
        const struct sim_op *p = &h->ops[tx->op_off + i];
        if (p->key != op->key || p->f == SIM_F_READ)
            continue;
        if (p->val != op->val)
            report_read(x, "read-your-writes", t, op->key, sim__str(h, op->val),
                        sim__str(h, p->val), t, t);
        return;
    }
    bool ro = tx->mode == SIM_RO;
    size_t lo = x->first[op->key], p = upper(x, op->key, tx->ts, ro), e = p;
    while (e > lo && x->v[e - 1].maybe) /* versions [e, p) may or may not exist */
        e--;
    uint32_t want = e > lo ? x->v[e - 1].val : SIM_NULL;
    uint32_t want_txn = e > lo ? x->v[e - 1].txn : UINT32_MAX;
    /* The newest version that explains the value. With repeated values an
     * unknown version may match as well as the ok one below it: then only
     * versions above the match count as skipped, and the match counts as
     * applied only if the ok version does not explain the value. */
    size_t seen = p;
    for (size_t i = p; i-- > e;)
        if (x->v[i].val == op->val) {
            seen = i;
            break;
        }
    if (seen == p && op->val != want) {
        uint32_t writer;
        const char *name = classify(x, t, op->key, op->val, ro, &writer);
        if (writer != UINT32_MAX && h->txns[writer].outcome == SIM_UNKNOWN &&
            h->txns[writer].ts <= 0)
            return; /* an unknown transaction without a ts: it cannot be placed */
        report_read(x, name, t, op->key, sim__str(h, op->val), sim__str(h, want), want_txn, writer);
        return;
    }
    if (seen != p && op->val != want)
        x->effect[x->v[seen].txn] = 1;
    mark_skipped(x, seen == p ? e : seen + 1, p, op->val);
}

/* A read-write transaction's own earlier appends to the key end its list. */
static bool own_appends_match(const struct reads *x, uint32_t t, uint32_t opi, const uint32_t *l,
                              uint32_t len, uint32_t q)
{
    const struct sim_txn *tx = &x->h->txns[t];
    const struct sim_op *op = &x->h->ops[tx->op_off + opi];
    for (uint32_t k = 0; k < opi && tx->mode == SIM_RW; k++) {
        const struct sim_op *p = &x->h->ops[tx->op_off + k];
        if (p->f != SIM_F_APPEND || p->key != op->key)
            continue;
        if (q >= len || l[q] != p->val)
            return false;
        q++;
    }
    return q == len;
}

static void check_list_read(struct reads *x, uint32_t t, uint32_t opi)
{
    const struct sim_history *h = x->h;
    const struct sim_txn *tx = &h->txns[t];
    const struct sim_op *op = &h->ops[tx->op_off + opi];
    const uint32_t *l = h->elems + op->list_off;
    bool ro = tx->mode == SIM_RO;
    size_t i = x->first[op->key], p = upper(x, op->key, tx->ts, ro);
    uint32_t q = 0; /* each pass consumes a list element or a version: bounded */
    while (q < op->list_len) {
        if (i < p && x->v[i].val == l[q]) {
            if (x->v[i].maybe)
                x->effect[x->v[i].txn] = 1;
            i++, q++;
        } else if (i < p && x->v[i].maybe) {
            x->skip[x->v[i++].txn] = 1;
        } else {
            uint32_t w = sim__map_get(&x->wmap, sim__kv(op->key, l[q]));
            if (w == UINT32_MAX || h->txns[w].outcome != SIM_UNKNOWN || h->txns[w].ts > 0)
                break;
            q++; /* an unknown transaction without a ts: it cannot be placed */
        }
    }
    mark_skipped(x, i, p, SIM_NULL);
    while (i < p && x->v[i].maybe)
        i++;
    if (i == p && own_appends_match(x, t, opi, l, op->list_len, q))
        return;
    const char *name = i < p ? "stale-read" : "read-your-writes";
    uint32_t writer = SIM_NO_WRITER_CLAUSE;
    if (q < op->list_len) {
        name = classify(x, t, op->key, l[q], ro, &writer);
        if (strcmp(name, "stale-read") == 0 && i == p)
            name = "list-order";
    } else if (i < p && q > 0 &&
               sim__map_get(&x->wmap, sim__kv(op->key, l[q - 1])) == x->v[i].txn) {
        name = "G1b"; /* ends inside another transaction's run of appends */
    }
    char got[128], want[128];
    snprintf(got, sizeof got, "a list of %u elements whose element %u is %s", op->list_len, q,
             q < op->list_len ? sim__str(h, l[q]) : "missing");
    snprintf(want, sizeof want, "element %u to be %s", q,
             i < p ? sim__str(h, x->v[i].val) : "absent");
    report_read(x, name, t, op->key, got, want, i < p ? x->v[i].txn : UINT32_MAX, writer);
}

int sim__check_reads(const struct sim_history *h, bool lists, struct sim_report *r,
                     struct sp_err *err)
{
    struct reads x = {.h = h, .r = r, .lists = lists};
    int rc = 0;
    x.effect = calloc(h->ntxns + 1, 1);
    x.skip = calloc(h->ntxns + 1, 1);
    if (!x.effect || !x.skip || build_versions(&x)) {
        rc = sp_err_set(err, SP_ENOMEM, "reads: out of memory");
        goto out;
    }
    check_collisions(&x);
    size_t nreads = 0;
    for (uint32_t t = 0; t < h->ntxns && rc == 0; t++) {
        const struct sim_txn *tx = &h->txns[t];
        for (uint32_t i = 0; i < tx->op_n && tx->outcome == SIM_OK; i++) {
            const struct sim_op *op = &h->ops[tx->op_off + i];
            if (op->f != SIM_F_READ)
                continue;
            if (op->is_list != lists && !(lists && op->val == SIM_NULL)) {
                rc = sp_err_set(err, SP_EINVAL,
                                "line %" PRIu64 ": ops[%u]: a %s read must return %s", tx->line, i,
                                lists ? "list-append" : "register",
                                lists ? "a list (or null)" : "a single value");
                break;
            }
            nreads++;
            if (lists)
                check_list_read(&x, t, i);
            else
                check_register_read(&x, t, i);
        }
    }
    char a[SIM_NAME_MAX];
    for (uint32_t t = 0; t < h->ntxns && rc == 0; t++)
        if (x.effect[t] && x.skip[t])
            sim__anomaly(r, SIM_CHECK_READS, "unknown-inconsistent", h->txns[t].line,
                         "%s (outcome unknown, ts %" PRId64 ") is seen by some reads and "
                         "skipped by others above its timestamp",
                         sim__txn_name(h, t, a, sizeof a), h->txns[t].ts);
    char note[NOTE_MAX];
    snprintf(note, sizeof note, "%zu reads against %zu versions", nreads, x.nv);
    sim__report_ran(r, SIM_CHECK_READS, note);
out:
    free(x.v);
    free(x.first);
    free(x.effect);
    free(x.skip);
    sim__map_free(&x.wmap);
    return rc;
}

int sim_check(const struct sim_history *h, const struct sim_check_options *o,
              struct sim_report **out, struct sp_err *err)
{
    SP_ASSERT(h && o && out);
    *out = NULL;
    struct sim_report *r = calloc(1, sizeof *r);
    if (!r)
        return sp_err_set(err, SP_ENOMEM, "out of memory");
    enum sim_workload w = o->workload;
    if (w == SIM_WORKLOAD_AUTO)
        w = h->has_append ? SIM_WORKLOAD_LIST_APPEND : SIM_WORKLOAD_REGISTER;
    r->workload = w;
    r->ntxns = h->ntxns;
    r->nfaults = h->nfaults;
    for (size_t t = 0; t < h->ntxns; t++) {
        r->nok += h->txns[t].outcome == SIM_OK;
        r->naborted += h->txns[t].outcome == SIM_ABORTED;
        r->nunknown += h->txns[t].outcome == SIM_UNKNOWN;
    }
    int rc = sim__check_ts_order(h, r, err);
    rc = rc ? rc : sim__check_reads(h, w == SIM_WORKLOAD_LIST_APPEND, r, err);
    rc = rc ? rc : sim__check_graph(h, o, w, r, err);
    rc = rc ? rc : sim__check_workload(h, o, w, r, err);
    if (rc) {
        free(r);
        return rc;
    }
    *out = r;
    return r->na || r->dropped ? SP_ESIM_VIOLATION : 0;
}

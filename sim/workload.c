/*
 * workload.c - check 4: workload invariants.
 *
 * Bank: the accounts are every key the history touches. A read-only ok
 * transaction that reads every account must see balances summing to the
 * constant total (--bank-total, else the first such read in file order sets
 * it). Balances are integers (JSON integers or decimal strings); null is 0.
 * A read that finds no account at all (every value null: a snapshot from
 * before the accounts were opened) is not held to the total; check 2 still
 * holds it to its timestamp. O(m).
 *
 * No lost acknowledged write, by real time alone (no timestamps): if write W
 * of key k was acknowledged (ok) before read-only R was invoked (R not a
 * snapshot read, which may read the past by design), R must see W
 * or a later write. For lists that means R's list reaches at least W's
 * position in the key's version order (an append no read ever shows has no
 * position and is lost as soon as any later reader exists). For registers,
 * R's value must not come from a writer W' that itself completed before some
 * such W was invoked (W' -> W -> R in real time, so W' cannot be the
 * newest), nor from the initial state. Per key, writes sorted by completion
 * and reads by invocation are swept together keeping the maximum over the
 * writes already acknowledged. O(m log m).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "sim_int.h"
#include "sp_assert.h"

struct ev {
    uint32_t key;
    uint32_t txn;
    int64_t time; /* writes: completion; reads: invocation */
    uint32_t gi;  /* global op index */
};

static int cmp_ev(const void *a, const void *b)
{
    const struct ev *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    if (x->time != y->time)
        return x->time < y->time ? -1 : 1;
    return x->gi < y->gi ? -1 : x->gi > y->gi;
}

struct lost {
    const struct sim_history *h;
    struct sim_report *r;
    bool lists;
    struct ev *w, *rd;
    size_t nw, nr;
    struct sim_map where; /* lists: (key, value) -> position; registers: -> writer */
    uint8_t *has_delete;  /* per key: some live txn deleted it (null is ambiguous) */
};

/* The rank of a read's observation: for lists its length; for registers the
 * completion time of the value's writer (INT64_MIN: initial state). */
static int64_t writer_complete(const struct lost *x, const struct sim_op *op, bool *skip)
{
    *skip = false;
    if (op->val == SIM_NULL) {
        *skip = x->has_delete[op->key];
        return INT64_MIN;
    }
    uint32_t w = sim__map_get(&x->where, sim__kv(op->key, op->val));
    if (w == UINT32_MAX || x->h->txns[w].outcome == SIM_ABORTED) {
        *skip = true; /* garbage and G1a are check 2's */
        return 0;
    }
    return x->h->txns[w].outcome == SIM_UNKNOWN ? INT64_MAX : x->h->txns[w].complete_us;
}

/* Value that a write of `e` must be covered by: list position or invocation. */
static int64_t write_rank(const struct lost *x, const struct ev *e)
{
    const struct sim_op *op = &x->h->ops[e->gi];
    if (!x->lists)
        return x->h->txns[e->txn].invoke_us;
    uint32_t p = sim__map_get(&x->where, sim__kv(op->key, op->val));
    return p == UINT32_MAX ? INT64_MAX : p;
}

static bool read_misses(const struct lost *x, const struct ev *rd, int64_t must)
{
    const struct sim_op *op = &x->h->ops[rd->gi];
    if (x->lists)
        return must >= (int64_t) op->list_len;
    bool skip;
    int64_t wc = writer_complete(x, op, &skip);
    return !skip && wc < must;
}

static void sweep(struct lost *x)
{
    const struct sim_history *h = x->h;
    size_t k = 0; /* advances monotonically: writes and reads are both sorted */
    uint32_t key = 0, arg = UINT32_MAX;
    int64_t must = INT64_MIN;
    for (size_t i = 0; i < x->nr; i++) {
        const struct ev *rd = &x->rd[i];
        if (rd->key != key) {
            key = rd->key, must = INT64_MIN, arg = UINT32_MAX;
            while (k < x->nw && x->w[k].key < key)
                k++;
        }
        /* writes of this key acknowledged before the read's invocation */
        for (; k < x->nw && x->w[k].key == key && x->w[k].time < rd->time; k++)
            if (arg == UINT32_MAX || write_rank(x, &x->w[k]) > must)
                must = write_rank(x, &x->w[k]), arg = (uint32_t) k;
        if (arg == UINT32_MAX || !read_misses(x, rd, must))
            continue;
        char a[SIM_NAME_MAX], b[SIM_NAME_MAX];
        const struct ev *w = &x->w[arg];
        sim__anomaly(x->r, SIM_CHECK_WORKLOAD, "lost-write", h->txns[rd->txn].line,
                     "%s wrote %s to key %s, acknowledged at %" PRId64
                     "; %s, invoked later at %" PRId64 ", does not see it",
                     sim__txn_name(h, w->txn, a, sizeof a), sim__str(h, h->ops[w->gi].val),
                     sim__str(h, rd->key), w->time, sim__txn_name(h, rd->txn, b, sizeof b),
                     rd->time);
    }
}

/* Lists: positions in each key's longest ok read. Registers: the writer of
 * each (key, value), preferring the latest to complete (unknown ones last)
 * so that repeated values never produce a false report. */
static int index_observations(struct lost *x)
{
    const struct sim_history *h = x->h;
    if (sim__map_init(&x->where, h->nops))
        return SP_ENOMEM;
    uint32_t *longest = x->lists ? calloc((size_t) h->str.n + 1, sizeof *longest) : NULL;
    if (x->lists && !longest)
        return SP_ENOMEM;
    for (uint32_t t = 0; t < h->ntxns; t++) {
        const struct sim_txn *tx = &h->txns[t];
        for (uint32_t i = 0; i < tx->op_n; i++) {
            uint32_t gi = tx->op_off + i;
            const struct sim_op *op = &h->ops[gi];
            if (x->lists && op->f == SIM_F_READ && tx->outcome == SIM_OK &&
                (!longest[op->key] || h->ops[longest[op->key] - 1].list_len < op->list_len))
                longest[op->key] = gi + 1;
            if (op->f == SIM_F_DELETE && tx->outcome != SIM_ABORTED)
                x->has_delete[op->key] = 1;
            if (x->lists || op->f != SIM_F_WRITE)
                continue;
            uint32_t *w = sim__map_put(&x->where, sim__kv(op->key, op->val), t);
            if (!w) {
                free(longest);
                return SP_ENOMEM;
            }
            const struct sim_txn *o = &h->txns[*w];
            bool better =
                o->outcome == SIM_ABORTED ||
                (tx->outcome == SIM_UNKNOWN && o->outcome != SIM_UNKNOWN) ||
                (tx->outcome == SIM_OK && o->outcome == SIM_OK && tx->complete_us > o->complete_us);
            if (better && tx->outcome != SIM_ABORTED)
                *w = t;
        }
    }
    for (uint32_t k = 1; x->lists && k <= h->str.n; k++) {
        const struct sim_op *op = longest[k] ? &h->ops[longest[k] - 1] : NULL;
        for (uint32_t p = 0; op && p < op->list_len; p++) {
            uint32_t *slot = sim__map_put(&x->where, sim__kv(k, h->elems[op->list_off + p]), p);
            if (!slot) {
                free(longest);
                return SP_ENOMEM;
            }
        }
    }
    free(longest);
    return 0;
}

static int collect_events(struct lost *x)
{
    const struct sim_history *h = x->h;
    x->w = malloc((h->nops + 1) * sizeof *x->w);
    x->rd = malloc((h->nops + 1) * sizeof *x->rd);
    if (!x->w || !x->rd)
        return SP_ENOMEM;
    for (uint32_t t = 0; t < h->ntxns; t++) {
        const struct sim_txn *tx = &h->txns[t];
        if (tx->outcome != SIM_OK)
            continue;
        for (uint32_t i = 0; i < tx->op_n; i++) {
            uint32_t gi = tx->op_off + i;
            const struct sim_op *op = &h->ops[gi];
            bool write = x->lists ? op->f == SIM_F_APPEND : op->f == SIM_F_WRITE;
            if (write)
                x->w[x->nw++] = (struct ev){op->key, t, tx->complete_us, gi};
            else if (op->f == SIM_F_READ && tx->mode == SIM_RO && !tx->snapshot &&
                     op->is_list == x->lists)
                x->rd[x->nr++] = (struct ev){op->key, t, tx->invoke_us, gi};
        }
    }
    qsort(x->w, x->nw, sizeof *x->w, cmp_ev);
    qsort(x->rd, x->nr, sizeof *x->rd, cmp_ev);
    return 0;
}

static int check_lost(const struct sim_history *h, bool lists, struct sim_report *r,
                      size_t *writes, size_t *reads)
{
    struct lost x = {.h = h, .r = r, .lists = lists};
    x.has_delete = calloc((size_t) h->str.n + 1, 1);
    int rc = x.has_delete ? 0 : SP_ENOMEM;
    rc = rc ? rc : index_observations(&x);
    rc = rc ? rc : collect_events(&x);
    if (rc == 0)
        sweep(&x);
    *writes = x.nw;
    *reads = x.nr;
    free(x.w), free(x.rd), free(x.has_delete);
    sim__map_free(&x.where);
    return rc;
}

/* ---- bank -------------------------------------------------------------------- */

static int balance(const struct sim_history *h, uint32_t t, uint32_t val, int64_t *out,
                   struct sp_err *err)
{
    *out = 0;
    if (val == SIM_NULL)
        return 0;
    const char *s = sim__str(h, val);
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end)
        return sp_err_set(err, SP_EINVAL, "line %" PRIu64 ": bank balance %s is not an integer",
                          h->txns[t].line, s);
    *out = v;
    return 0;
}

static int check_bank(const struct sim_history *h, const struct sim_check_options *o,
                      struct sim_report *r, char *note, size_t note_cap, struct sp_err *err)
{
    uint32_t *stamp = calloc((size_t) h->str.n + 1, sizeof *stamp), naccounts = 0;
    if (!stamp)
        return sp_err_set(err, SP_ENOMEM, "bank: out of memory");
    for (size_t i = 0; i < h->nops; i++)
        if (!stamp[h->ops[i].key]++)
            naccounts++;
    memset(stamp, 0, ((size_t) h->str.n + 1) * sizeof *stamp);
    bool have = o->bank_total_set;
    int64_t total = o->bank_total;
    size_t full = 0, empty = 0;
    int rc = 0;
    for (uint32_t t = 0; t < h->ntxns && rc == 0; t++) {
        const struct sim_txn *tx = &h->txns[t];
        if (tx->outcome != SIM_OK || tx->mode != SIM_RO)
            continue;
        uint32_t distinct = 0, nulls = 0;
        int64_t sum = 0, v;
        for (uint32_t i = 0; i < tx->op_n && rc == 0; i++) {
            const struct sim_op *op = &h->ops[tx->op_off + i];
            if (stamp[op->key] == t + 1)
                continue; /* a second read of an account counts once */
            stamp[op->key] = t + 1, distinct++;
            nulls += op->val == SIM_NULL;
            rc = balance(h, t, op->val, &v, err);
            sum += v;
        }
        if (rc || distinct != naccounts)
            continue;
        if (nulls == distinct) {
            empty++; /* before the bank opened */
            continue;
        }
        full++;
        if (!have)
            have = true, total = sum;
        char a[SIM_NAME_MAX];
        if (sum != total)
            sim__anomaly(r, SIM_CHECK_WORKLOAD, "bank-total", tx->line,
                         "%s read all %u accounts summing to %" PRId64 ", not %" PRId64,
                         sim__txn_name(h, t, a, sizeof a), naccounts, sum, total);
    }
    free(stamp);
    snprintf(note, note_cap,
             "bank total %" PRId64 " (%s) over %zu full reads of %u accounts (%zu before any "
             "account existed)%s",
             total,
             o->bank_total_set ? "given"
             : have            ? "first full read"
                               : "none",
             full, naccounts, empty, full ? "" : ": NOTHING CHECKED");
    return rc;
}

int sim__check_workload(const struct sim_history *h, const struct sim_check_options *o,
                        enum sim_workload w, struct sim_report *r, struct sp_err *err)
{
    int rc = 0;
    char bank[160] = "", note[256];
    size_t writes = 0, reads = 0;
    if (w == SIM_WORKLOAD_BANK)
        rc = check_bank(h, o, r, bank, sizeof bank, err);
    if (rc == 0 && check_lost(h, w == SIM_WORKLOAD_LIST_APPEND, r, &writes, &reads))
        rc = sp_err_set(err, SP_ENOMEM, "workload: out of memory");
    snprintf(note, sizeof note,
             "%s%slost writes: %zu acknowledged writes, %zu strong read-only reads", bank,
             bank[0] ? "; " : "", writes, reads);
    if (rc == 0)
        sim__report_ran(r, SIM_CHECK_WORKLOAD, note);
    return rc;
}

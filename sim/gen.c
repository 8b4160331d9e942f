/*
 * gen.c - a generator of valid histories, for the checker's benchmark and
 * tests (not the simulator: no cluster runs here).
 *
 * Transactions execute serially in timestamp order against an in-memory
 * store, so every check must pass. Each gets a real-time interval around
 * its timestamp, [ts - a, ts + b] with a, b < 4 * the timestamp step, so
 * neighbours overlap in real time while real-time order still implies
 * timestamp order (T1.complete < T2.invoke gives ts1 <= T1.complete <
 * T2.invoke <= ts2). Aborted transactions have no effect and no ts; unknown
 * ones take effect half of the time and then carry their ts.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "sim_int.h"
#include "sp_assert.h"

#define TS_STEP_US 10
#define OPS_MAX    4
#define BANK_START 100

struct gen {
    FILE *f;
    uint64_t rng;
    const struct sim_gen_options *o;
    size_t keys;
    uint64_t *reg;   /* register/bank: value per key (0: never written) */
    uint64_t *prev;  /* register: the value before reg[k] (0: none) */
    size_t nro;      /* read-only transactions so far */
    uint32_t **list; /* list-append: appended values per key */
    uint32_t *len, *cap;
    uint64_t next_val;
};

static uint64_t rnd(struct gen *g)
{
    g->rng ^= g->rng >> 12; /* xorshift64* */
    g->rng ^= g->rng << 25;
    g->rng ^= g->rng >> 27;
    return g->rng * 2685821657736338717ull;
}

static uint64_t below(struct gen *g, uint64_t n)
{
    return rnd(g) % n;
}

static int push(struct gen *g, uint32_t k, uint32_t v)
{
    if (g->len[k] == g->cap[k]) {
        uint32_t c = g->cap[k] ? g->cap[k] * 2 : 8;
        uint32_t *n = realloc(g->list[k], c * sizeof *n);
        if (!n)
            return SP_ENOMEM;
        g->list[k] = n, g->cap[k] = c;
    }
    g->list[k][g->len[k]++] = v;
    return 0;
}

static void print_list(struct gen *g, uint32_t k, uint32_t n, const uint32_t *own, uint32_t nown)
{
    fputc('[', g->f);
    for (uint32_t i = 0; i < n; i++)
        fprintf(g->f, "%s%" PRIu32, i ? "," : "", g->list[k][i]);
    for (uint32_t i = 0; i < nown; i++)
        fprintf(g->f, "%s%" PRIu32, n + i ? "," : "", own[i]);
    fputc(']', g->f);
}

static bool later_write(const uint32_t *keys, uint32_t nw, uint32_t j)
{
    for (uint32_t i = j + 1; i < nw; i++)
        if (keys[i] == keys[j])
            return true;
    return false;
}

/* One list-append or register transaction; `apply` says whether its writes
 * take effect (ok, or unknown that happened). */
static int gen_ops(struct gen *g, bool ro, bool apply)
{
    bool lists = g->o->workload == SIM_WORKLOAD_LIST_APPEND;
    bool stale = ro && g->o->stale_every && ++g->nro % g->o->stale_every == 0;
    uint32_t n = 1 + (uint32_t) below(g, OPS_MAX), keys[OPS_MAX], vals[OPS_MAX], nw = 0;
    int rc = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t k = (uint32_t) below(g, g->keys);
        bool write = !ro && below(g, 2);
        fprintf(g->f, "%s{\"f\":\"%s\",\"key\":\"k%" PRIu32 "\",\"value\":", i ? "," : "",
                write ? (lists ? "append" : "w") : "r", k);
        uint32_t own[OPS_MAX], nown = 0, last = 0;
        for (uint32_t j = 0; j < nw; j++)
            if (keys[j] == k)
                own[nown++] = vals[j], last = vals[j];
        if (write) {
            keys[nw] = k, vals[nw++] = (uint32_t) ++g->next_val;
            fprintf(g->f, lists ? "%" PRIu64 "}" : "\"v%" PRIu64 "\"}", g->next_val);
        } else if (lists) {
            print_list(g, k, g->len[k] - (stale && g->len[k] > 0), own, nown);
            fputc('}', g->f);
        } else if (nown || (stale ? g->prev[k] : g->reg[k])) {
            fprintf(g->f, "\"v%" PRIu64 "\"}",
                    nown    ? (uint64_t) last
                    : stale ? g->prev[k]
                            : g->reg[k]);
        } else {
            fputs("null}", g->f);
        }
    }
    for (uint32_t j = 0; j < nw && apply && rc == 0; j++)
        if (lists)
            rc = push(g, keys[j], vals[j]);
        else if (!later_write(keys, nw, j)) /* only a txn's last write is a version */
            g->prev[keys[j]] = g->reg[keys[j]], g->reg[keys[j]] = vals[j];
    return rc;
}

/* Bank: a transfer between two accounts, or a read-only read of all. */
static void gen_bank(struct gen *g, bool ro, bool apply)
{
    if (ro) {
        for (size_t k = 0; k < g->keys; k++)
            fprintf(g->f, "%s{\"f\":\"r\",\"key\":\"k%zu\",\"value\":\"%" PRId64 "\"}",
                    k ? "," : "", k, (int64_t) g->reg[k]);
        return;
    }
    size_t a = below(g, g->keys), b = (a + 1 + below(g, g->keys - 1)) % g->keys;
    int64_t x = (int64_t) below(g, 10), va = (int64_t) g->reg[a], vb = (int64_t) g->reg[b];
    fprintf(g->f,
            "{\"f\":\"r\",\"key\":\"k%zu\",\"value\":\"%" PRId64 "\"},"
            "{\"f\":\"r\",\"key\":\"k%zu\",\"value\":\"%" PRId64 "\"},"
            "{\"f\":\"w\",\"key\":\"k%zu\",\"value\":\"%" PRId64 "\"},"
            "{\"f\":\"w\",\"key\":\"k%zu\",\"value\":\"%" PRId64 "\"}",
            a, va, b, vb, a, va - x, b, vb + x);
    if (apply)
        g->reg[a] = (uint64_t) (va - x), g->reg[b] = (uint64_t) (vb + x);
}

static int gen_txn(struct gen *g, size_t i)
{
    int64_t ts = 1000000 + (int64_t) i * TS_STEP_US;
    int64_t inv = ts - (int64_t) below(g, 4 * TS_STEP_US);
    int64_t cpl = ts + (int64_t) below(g, 4 * TS_STEP_US);
    uint64_t dice = below(g, 100);
    bool ro = dice < 30, aborted = !ro && dice >= 95, unknown = !ro && dice == 94;
    bool apply = !aborted && (!unknown || below(g, 2));
    const char *out = aborted ? "aborted" : unknown ? "unknown" : "ok";
    fprintf(g->f, "{\"client\":\"gen\",\"zone\":\"z%" PRIu64 "\",\"mode\":\"%s\",", i % 3,
            ro ? "ro" : "rw");
    fprintf(g->f, "\"invoke_us\":%" PRId64 ",\"complete_us\":%" PRId64 ",", inv, cpl);
    if (apply)
        fprintf(g->f, "\"ts\":%" PRId64 ",", ts);
    fputs("\"ops\":[", g->f);
    int rc = 0;
    if (g->o->workload == SIM_WORKLOAD_BANK)
        gen_bank(g, ro, apply);
    else
        rc = gen_ops(g, ro, apply);
    fprintf(g->f, "],\"outcome\":\"%s\"}\n", out);
    return rc;
}

int sim_generate(FILE *f, const struct sim_gen_options *o, struct sp_err *err)
{
    SP_ASSERT(f && o);
    bool bank = o->workload == SIM_WORKLOAD_BANK;
    if (o->workload != SIM_WORKLOAD_REGISTER && !bank && o->workload != SIM_WORKLOAD_LIST_APPEND)
        return sp_err_set(err, SP_EINVAL,
                          "generate: workload must be register, bank or list-append");
    struct gen g = {.f = f, .rng = o->seed * 0x9e3779b97f4a7c15ull + 1, .o = o};
    g.keys = o->keys ? o->keys : bank ? 8 : o->txns / 8 < 4 ? 4 : o->txns / 8;
    if (bank && g.keys < 2)
        return sp_err_set(err, SP_EINVAL, "generate: bank needs at least 2 accounts");
    g.reg = calloc(g.keys, sizeof *g.reg);
    g.prev = calloc(g.keys, sizeof *g.prev);
    g.list = calloc(g.keys, sizeof *g.list);
    g.len = calloc(g.keys, sizeof *g.len);
    g.cap = calloc(g.keys, sizeof *g.cap);
    int rc = g.reg && g.prev && g.list && g.len && g.cap ? 0 : SP_ENOMEM;
    for (size_t k = 0; k < g.keys && bank; k++)
        g.reg[k] = BANK_START;
    if (bank && rc == 0) /* the accounts' opening balances, written before anything */
        for (size_t k = 0; k < g.keys; k++)
            fprintf(f,
                    "{\"client\":\"gen\",\"mode\":\"rw\",\"invoke_us\":%zu,\"complete_us\":%zu,"
                    "\"ts\":%zu,\"ops\":[{\"f\":\"w\",\"key\":\"k%zu\",\"value\":\"%d\"}],"
                    "\"outcome\":\"ok\"}\n",
                    k + 1, k + 1, k + 1, k, BANK_START);
    for (size_t i = 0; i < o->txns && rc == 0; i++)
        rc = gen_txn(&g, i);
    for (size_t k = 0; k < g.keys && g.list; k++)
        free(g.list[k]);
    free(g.reg), free(g.prev), free(g.list), free(g.len), free(g.cap);
    if (rc)
        return sp_err_set(err, rc, "generate: out of memory");
    if (ferror(f))
        return sp_err_set(err, SP_EIO, "generate: write error");
    return 0;
}

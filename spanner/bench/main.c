/*
 * spanner-bench - a load generator with pluggable targets (issue 7).
 *
 *   spanner-bench [--target NAME [--endpoints LIST]]... [--workload put,get,...]
 *                 [--clients 1,64] [--seconds S | --ops N] [--rounds R] [--keys N]
 *                 [--key-size B] [--value-size B] [--serializable] [--no-preload] [--async] [--no-coalesce]
 *                 [--timeout-ms MS] [--seconds-max S] [--seed N] [--dir DIR]
 *                 [--limits] [--json]
 *   spanner-bench --limits [--dir DIR] [--json]
 *   spanner-bench --list | --free-port
 *
 * Every (workload, clients) cell runs on every target in turn, `rounds`
 * times, alternating (A B A B), so slow drifts of a shared machine hit
 * both targets alike. With two targets the table divides the first by the
 * second. See usage() for the rest.
 */
#include "report.h"
#include "procs.h"
#include "sp_assert.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LIST_MAX 16

struct opts {
    struct sp_bench_config cfg;
    int n_targets;
    const char *target_names[SP_BENCH_TARGETS_MAX];
    const char *endpoints[SP_BENCH_TARGETS_MAX];
    int n_workloads, n_clients, rounds, preload, json, limits;
    enum sp_bench_workload workloads[LIST_MAX];
    int clients[LIST_MAX];
};

static void usage(FILE *f)
{
    fprintf(
        f,
        "usage: spanner-bench [--target NAME [--endpoints LIST]]... [options]\n"
        "       spanner-bench --limits [--dir DIR] [--json]\n"
        "       spanner-bench --list | --free-port\n"
        "  --target NAME       spanner, paxos-log, etcd, echo (repeat to compare; the first\n"
        "                      is \"ours\")\n"
        "  --endpoints LIST    for the preceding --target (paxos-log: 1=H:P,2=H:P,...;\n"
        "                      etcd: H:P,H:P,...); paxos-log without it starts a local group\n"
        "  --workload LIST     put, get (linearizable), get-serializable, a (50/50),\n"
        "                      b (95/5), c (reads only) [put]; spanner only: txn1, txn2,\n"
        "                      txn5, txn10 (one key in each of N groups), bank (transfers\n"
        "                      between accounts in different groups, --keys accounts,\n"
        "                      total checked after each run)\n"
        "  --clients LIST      closed-loop client threads, 1..%d [1]\n"
        "  --async             one thread keeps --clients operations in flight instead\n"
        "  --no-coalesce       spanner: no sharing of calls by concurrent requests\n"
        "  --seconds S         per run [5]; --ops N stops a run after N operations\n"
        "  --rounds R          runs per target and cell, alternating targets [1]\n"
        "  --keys N            key-space size [1000]; --key-size B [8]; --value-size B [256]\n"
        "  --serializable      YCSB a/b/c reads are serializable (default linearizable)\n"
        "  --no-preload        do not write every key once before read workloads\n"
        "  --timeout-ms MS     per operation [10000]; --seconds-max S bounds any run [600]\n"
        "  --dir DIR           work directory (local clusters, fsync probe) [$TMPDIR or /tmp]\n"
        "  --limits            measure fdatasync and loopback gRPC latency first\n"
        "  --json              one JSON document on stdout instead of the table\n"
        "  --list              targets this binary knows; --free-port prints a free port\n",
        SP_BENCH_CLIENTS_MAX);
}

/* Splits a comma list; returns the count or -1 if too long. */
static int split(const char *s, char out[][64], int max)
{
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", s);
    int n = 0;
    for (char *save, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (n == max)
            return -1;
        snprintf(out[n++], 64, "%s", t);
    }
    return n;
}

static int parse_workloads(struct opts *o, const char *s)
{
    char items[LIST_MAX][64];
    int n = split(s, items, LIST_MAX);
    for (int i = 0; i < n; i++)
        if (sp_bench_workload_parse(items[i], &o->workloads[i])) {
            fprintf(stderr, "spanner-bench: unknown workload \"%s\"\n", items[i]);
            return -1;
        }
    o->n_workloads = n;
    return n > 0 ? 0 : -1;
}

static int parse_clients(struct opts *o, const char *s)
{
    char items[LIST_MAX][64];
    int n = split(s, items, LIST_MAX);
    for (int i = 0; i < n; i++) {
        o->clients[i] = atoi(items[i]);
        if (o->clients[i] < 1 || o->clients[i] > SP_BENCH_CLIENTS_MAX)
            return -1;
    }
    o->n_clients = n;
    return n > 0 ? 0 : -1;
}

static void list_one(void *ctx, const char *name, const char *about, int built)
{
    (void) ctx;
    printf("%-10s %s%s\n", name, built ? "" : "(not built) ", about);
}

/* Numeric options; -1 if arg is not a whole number. */
static int set_number(struct opts *o, int c, const char *arg)
{
    char *end;
    unsigned long long v = strtoull(arg, &end, 10);
    if (end == arg || *end != '\0' || v > (1ull << 40))
        return -1;
    int small = v > 1000000000ull ? -1 : (int) v; /* ints stay ints; -1 fails the checks */
    switch (c) {
    case 's':
        o->cfg.seconds = small;
        break;
    case 'o':
        o->cfg.ops_total = v;
        o->cfg.seconds = 0;
        break;
    case 'r':
        o->rounds = small;
        break;
    case 'k':
        o->cfg.keys = v;
        break;
    case 'K':
        o->cfg.key_size = (size_t) v;
        break;
    case 'V':
        o->cfg.value_size = (size_t) v;
        break;
    case 'T':
        o->cfg.timeout_ms = small;
        break;
    case 'M':
        o->cfg.seconds_max = small;
        break;
    case 'x':
        o->cfg.seed = v;
        break;
    default:
        return -1;
    }
    return 0;
}

/* One option: 0 to go on, 1 to exit 0 at once (--list, --help), 2 on error. */
static int apply(struct opts *o, int c, const char *arg)
{
    switch (c) {
    case 't':
        if (o->n_targets == SP_BENCH_TARGETS_MAX)
            return 2;
        o->target_names[o->n_targets++] = arg;
        return 0;
    case 'e':
        if (o->n_targets == 0)
            return 2;
        o->endpoints[o->n_targets - 1] = arg;
        return 0;
    case 'w':
        return parse_workloads(o, arg) ? 2 : 0;
    case 'c':
        return parse_clients(o, arg) ? 2 : 0;
    case 'S':
        o->cfg.serializable = 1;
        return 0;
    case 'A':
        o->cfg.async = 1;
        return 0;
    case 'N':
        o->cfg.no_coalesce = 1;
        return 0;
    case 'P':
        o->preload = 0;
        return 0;
    case 'd':
        o->cfg.dir = arg;
        return 0;
    case 'l':
        o->limits = 1;
        return 0;
    case 'j':
        o->json = 1;
        return 0;
    case 'L':
        sp_bench_targets_list(list_one, NULL);
        return 1;
    case 'F':
        printf("%d\n", sp_free_tcp_port());
        return 1;
    case 'h':
        usage(stdout);
        return 1;
    default:
        return arg && set_number(o, c, arg) == 0 ? 0 : 2;
    }
}

/* Returns 0 to go on, 1 to exit 0 at once (--list, --help), 2 on error. */
static int parse_args(struct opts *o, int argc, char **argv)
{
    static const struct option lo[] = {{"target", 1, 0, 't'},
                                       {"endpoints", 1, 0, 'e'},
                                       {"workload", 1, 0, 'w'},
                                       {"clients", 1, 0, 'c'},
                                       {"seconds", 1, 0, 's'},
                                       {"ops", 1, 0, 'o'},
                                       {"rounds", 1, 0, 'r'},
                                       {"keys", 1, 0, 'k'},
                                       {"key-size", 1, 0, 'K'},
                                       {"value-size", 1, 0, 'V'},
                                       {"serializable", 0, 0, 'S'},
                                       {"async", 0, 0, 'A'},
                                       {"no-coalesce", 0, 0, 'N'},
                                       {"no-preload", 0, 0, 'P'},
                                       {"timeout-ms", 1, 0, 'T'},
                                       {"seconds-max", 1, 0, 'M'},
                                       {"seed", 1, 0, 'x'},
                                       {"dir", 1, 0, 'd'},
                                       {"limits", 0, 0, 'l'},
                                       {"json", 0, 0, 'j'},
                                       {"list", 0, 0, 'L'},
                                       {"free-port", 0, 0, 'F'},
                                       {"help", 0, 0, 'h'},
                                       {0, 0, 0, 0}};
    int rc = 0;
    for (int c; rc == 0 && (c = getopt_long(argc, argv, "", lo, NULL)) != -1;)
        rc = apply(o, c, optarg);
    if (rc == 1)
        return 1;
    if (rc || optind != argc || o->rounds < 1 || o->rounds > SP_BENCH_ROUNDS_MAX ||
        o->n_workloads * o->n_clients > SP_BENCH_CELLS_MAX || (o->n_targets == 0 && !o->limits)) {
        usage(stderr);
        return 2;
    }
    return 0;
}

static void defaults(struct opts *o)
{
    memset(o, 0, sizeof *o);
    const char *tmp = getenv("TMPDIR");
    o->cfg = (struct sp_bench_config){.clients = 1,
                                      .seconds = 5,
                                      .seconds_max = 600,
                                      .keys = 1000,
                                      .key_size = 8,
                                      .value_size = 256,
                                      .timeout_ms = 10000,
                                      .seed = 1,
                                      .dir = tmp && tmp[0] ? tmp : "/tmp"};
    o->n_workloads = 1;
    o->workloads[0] = SP_BENCH_W_PUT;
    o->n_clients = 1;
    o->clients[0] = 1;
    o->rounds = 1;
    o->preload = 1;
}

/* Finds and connects every target. Returns 0, or 2 (unknown or not
 * built: the message says which), or 1 (connect failed). */
static int connect_targets(const struct opts *o, const struct sp_bench_target **t, void **conns)
{
    for (int i = 0; i < o->n_targets; i++) {
        const char *why = NULL;
        t[i] = sp_bench_target_find(o->target_names[i], &why);
        if (!t[i]) {
            fprintf(stderr, "spanner-bench: %s\n", why ? why : "unknown target (see --list)");
            return 2;
        }
    }
    for (int i = 0; i < o->n_targets; i++) {
        struct sp_err err = {0};
        if (t[i]->connect(o->endpoints[i] ? o->endpoints[i] : "", &o->cfg, &conns[i], &err)) {
            fprintf(stderr, "spanner-bench: %s\n", err.msg); /* err names the target */
            for (int j = 0; j < i; j++)
                t[j]->close(conns[j]);
            return 1;
        }
    }
    return 0;
}

/* Writes every key once into target i before its first read workload. */
static int preload(const struct opts *o, const struct sp_bench_target *t, void *conn)
{
    struct sp_bench_config cfg = o->cfg;
    cfg.clients = 8; /* enough to be quick, few enough for any store */
    cfg.label = "preload";
    cfg.progress = o->cfg.progress;
    struct sp_bench_result *res = malloc(sizeof *res);
    if (!res)
        return SP_ENOMEM;
    sp_bench_result_init(res);
    struct sp_err err = {0};
    int rc = sp_bench_preload(t, conn, &cfg, res, &err);
    uint64_t done = res->ops[SP_BENCH_PUT], failed = res->errors[SP_BENCH_PUT];
    if (!o->json)
        fprintf(stderr, "preloaded %llu of %llu keys into %s in %.1f s%s%s\n",
                (unsigned long long) done, (unsigned long long) cfg.keys, t->name, res->elapsed_s,
                failed ? "; first error: " : "", failed ? res->first_error : "");
    if (rc)
        fprintf(stderr, "spanner-bench: preload %s: %s\n", t->name, err.msg);
    free(res);
    return rc ? rc : (done == cfg.keys ? 0 : SP_EIO);
}

/* The target's check after a run (bank: the total), counted in res; a
 * failure is an error of the run's write kind. */
static void check_run(const struct sp_bench_config *cfg, const struct sp_bench_target *t,
                      void *conn, struct sp_bench_result *res)
{
    if (!t->check || !(t->checked & (1u << cfg->workload)))
        return;
    struct sp_err err = {0};
    res->checks++;
    if (t->check(conn, cfg->workload, cfg, &err) == 0)
        return;
    res->checks_failed++;
    unsigned ops = sp_bench_workload_ops(cfg->workload, cfg->serializable);
    for (int k = 0; k < SP_BENCH_OPS; k++)
        if ((ops & SP_BENCH_WRITES) & SP_BENCH_BIT(k)) {
            res->errors[k]++;
            break;
        }
    snprintf(res->first_error, sizeof res->first_error, "check after the run: %.200s", err.msg);
}

/* One run of cell c on target i, merged into the cell. */
static int run_one(const struct opts *o, struct sp_bench_cell *c, int round, int i,
                   const struct sp_bench_target *t, void *conn)
{
    struct sp_bench_config cfg = o->cfg;
    char label[96];
    snprintf(label, sizeof label, "%s %s c=%d round %d/%d", t->name,
             sp_bench_workload_name(c->workload), c->clients, round + 1, o->rounds);
    cfg.workload = c->workload;
    cfg.clients = c->clients;
    cfg.label = label;
    cfg.seed = o->cfg.seed + (uint64_t) round;
    struct sp_bench_result *res = malloc(sizeof *res);
    if (!res)
        return SP_ENOMEM;
    sp_bench_result_init(res);
    struct sp_err err = {0};
    int rc = sp_bench_run(t, conn, &cfg, res, &err);
    uint64_t ops = 0, errors = 0;
    for (int k = 0; k < SP_BENCH_OPS; k++) {
        ops += res->ops[k];
        errors += res->errors[k];
    }
    double ops_s = res->elapsed_s > 0 ? (double) ops / res->elapsed_s : 0;
    if (rc) {
        fprintf(stderr, "spanner-bench: %s: %s\n", label, err.msg);
        snprintf(c->res[i]->first_error, sizeof c->res[i]->first_error, "%s", err.msg);
    } else {
        c->round_ops_s[i][c->rounds[i]++] = ops_s;
        check_run(&cfg, t, conn, res);
        sp_bench_result_merge(c->res[i], res);
        if (!o->cfg.progress && !o->json) /* a trace in logs, where there is no progress line */
            fprintf(stderr, "%s: %.0f ops/s, %llu errors\n", label, ops_s,
                    (unsigned long long) errors);
    }
    free(res);
    return rc;
}

/* Per target, across cells. */
struct tstate {
    int preloaded; /* 0 not yet, 1 done, -1 failed: read workloads are skipped */
    int abandoned; /* an operation outlived its timeout: never used (or closed) again */
    unsigned set_up, setup_failed; /* workload bits: target setup done / failed */
};

static int skip(const struct opts *o, const struct tstate *ts, int reads,
                enum sp_bench_workload w)
{
    return ts->abandoned || (o->preload && reads && ts->preloaded < 0) ||
           (ts->setup_failed & (1u << w));
}

/* The target's setup for workload w, once per invocation; the reason it
 * failed goes into res. */
static void setup_once(const struct opts *o, const struct sp_bench_target *t, void *conn,
                       enum sp_bench_workload w, struct tstate *ts, struct sp_bench_result *res)
{
    if (!t->setup || !(t->checked & (1u << w)) || (ts->set_up & (1u << w)) || ts->abandoned)
        return;
    struct sp_bench_config cfg = o->cfg;
    cfg.workload = w;
    struct sp_err err = {0};
    ts->set_up |= 1u << w;
    if (t->setup(conn, w, &cfg, &err) != 0) {
        ts->setup_failed |= 1u << w;
        snprintf(res->first_error, sizeof res->first_error, "not run: setup: %.200s", err.msg);
        fprintf(stderr, "spanner-bench: %s %s: setup: %s\n", t->name, sp_bench_workload_name(w),
                err.msg);
    }
}

/* Runs one cell on every target that supports it, rounds alternating
 * targets; the reason a target is skipped goes into its result. Returns
 * 0 or a fatal code (SP_EINVAL, SP_ENOMEM). */
static int run_cell(const struct opts *o, const struct sp_bench_target **t, void **conns,
                    struct sp_bench_cell *c, struct tstate *ts)
{
    unsigned need = sp_bench_workload_ops(c->workload, o->cfg.serializable);
    int reads = sp_bench_workload_reads(c->workload, o->cfg.serializable);
    for (int i = 0; i < o->n_targets; i++) {
        if ((t[i]->ops_supported & need) != need)
            continue;
        c->res[i] = malloc(sizeof *c->res[i]);
        if (!c->res[i])
            return SP_ENOMEM;
        sp_bench_result_init(c->res[i]);
        if (o->preload && reads && ts[i].preloaded == 0 && !ts[i].abandoned) {
            int rc = preload(o, t[i], conns[i]);
            ts[i].preloaded = rc == 0 ? 1 : -1;
            ts[i].abandoned = rc == SP_ETIMEDOUT;
        }
        setup_once(o, t[i], conns[i], c->workload, &ts[i], c->res[i]);
        if (ts[i].setup_failed & (1u << c->workload))
            continue; /* the reason is in the result already */
        if (skip(o, &ts[i], reads, c->workload))
            snprintf(c->res[i]->first_error, sizeof c->res[i]->first_error, "not run: %s",
                     ts[i].abandoned ? "the target was abandoned (an operation outlived its "
                                       "timeout)"
                                     : "the preload of the key space failed");
    }
    for (int r = 0; r < o->rounds; r++)
        for (int i = 0; i < o->n_targets; i++) {
            if (!c->res[i] || skip(o, &ts[i], reads, c->workload))
                continue;
            int rc = run_one(o, c, r, i, t[i], conns[i]);
            if (rc == SP_ETIMEDOUT)
                ts[i].abandoned = 1;
            else if (rc)
                return rc;
        }
    return 0;
}

static int run_cells(const struct opts *o, const struct sp_bench_target **t, void **conns,
                     struct tstate *ts, struct sp_bench_report *rep)
{
    for (int w = 0; w < o->n_workloads; w++)
        for (int n = 0; n < o->n_clients; n++) {
            SP_ASSERT(rep->n_cells < SP_BENCH_CELLS_MAX);
            struct sp_bench_cell *c = &rep->cells[rep->n_cells++];
            c->workload = o->workloads[w];
            c->clients = o->clients[n];
            int rc = run_cell(o, t, conns, c, ts);
            if (rc)
                return rc;
        }
    return 0;
}

/* 1 if a run that was supported completed no operation at all. */
static int any_empty(const struct sp_bench_report *rep)
{
    for (int i = 0; i < rep->n_cells; i++)
        for (int t = 0; t < rep->n_targets; t++) {
            const struct sp_bench_result *r = rep->cells[i].res[t];
            uint64_t ops = 0;
            for (int k = 0; r && k < SP_BENCH_OPS; k++)
                ops += r->ops[k];
            if (r && ops == 0)
                return 1;
        }
    return 0;
}

int main(int argc, char **argv)
{
    static struct opts o;
    static struct sp_bench_report rep;
    static struct sp_bench_limits limits;
    defaults(&o);
    int rc = parse_args(&o, argc, argv);
    if (rc)
        return rc == 1 ? 0 : 2;
    o.cfg.progress = !o.json && isatty(STDOUT_FILENO);
    rep.cfg = &o.cfg;
    if (o.limits) {
        struct sp_err err = {0};
        if (sp_bench_limits_measure(o.cfg.dir, &limits, &err)) {
            fprintf(stderr, "spanner-bench: limits: %s\n", err.msg);
            return 1;
        }
        rep.limits = &limits;
        if (!o.json)
            sp_bench__print_limits(stdout, &limits);
    }
    const struct sp_bench_target *t[SP_BENCH_TARGETS_MAX];
    void *conns[SP_BENCH_TARGETS_MAX];
    if (o.n_targets > 0) {
        rc = connect_targets(&o, t, conns);
        if (rc)
            return rc;
        rep.n_targets = o.n_targets;
        for (int i = 0; i < o.n_targets; i++) {
            rep.targets[i] = t[i]->name;
            rep.target_flags[i] = t[i]->flags;
        }
        struct tstate ts[SP_BENCH_TARGETS_MAX] = {0};
        rc = run_cells(&o, t, conns, ts, &rep);
        for (int i = 0; i < o.n_targets; i++)
            if (!ts[i].abandoned) /* its stuck threads still use the connection */
                t[i]->close(conns[i]);
    }
    if (o.json)
        sp_bench__print_json(stdout, &rep);
    else if (o.n_targets > 0)
        sp_bench__print_table(stdout, &rep);
    int empty = any_empty(&rep);
    for (int i = 0; i < rep.n_cells; i++)
        for (int j = 0; j < rep.n_targets; j++)
            free(rep.cells[i].res[j]);
    return rc || empty ? 1 : 0;
}

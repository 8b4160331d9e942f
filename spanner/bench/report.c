/*
 * report.c - the final table and --json (see report.h).
 *
 * Throughput of an op kind is its successful operations over the wall
 * time of the runs (rounds add up). Latencies are the merged histogram of
 * every round. A ratio row divides the first target ("ours") by the
 * second: above 1 is better for throughput, below 1 for latency.
 */
#include "report.h"
#include "sp_assert.h"

#include <stdbool.h>
#include <string.h>

static double ms(uint64_t ns)
{
    return (double) ns / 1e6;
}

static double ops_per_s(const struct sp_bench_result *r, int kind)
{
    return r->elapsed_s > 0 ? (double) r->ops[kind] / r->elapsed_s : 0.0;
}

void sp_bench__print_limits(FILE *f, const struct sp_bench_limits *l)
{
    fprintf(f, "machine limits:\n");
    fprintf(f, "  fdatasync of a 256 B append   p50 %7.3f ms   p99 %7.3f ms   (%llu samples)\n",
            ms(l->fsync_p50_ns), ms(l->fsync_p99_ns), (unsigned long long) l->fsync_n);
    fprintf(f, "  the same, %d writers at once   p50 %7.3f ms   p99 %7.3f ms   (%llu samples)\n",
            SP_BENCH_FSYNC_WRITERS, ms(l->fsync_shared_p50_ns), ms(l->fsync_shared_p99_ns),
            (unsigned long long) l->fsync_shared_n);
    fprintf(f, "  loopback gRPC unary echo      p50 %7.3f ms   p99 %7.3f ms   (%llu samples)\n",
            ms(l->rpc_p50_ns), ms(l->rpc_p99_ns), (unsigned long long) l->rpc_n);
    /* Issue 7's reference: a single-client write p50 within 1.5x of this. */
    fprintf(f, "  floor: fdatasync p50 + one round trip p50 = %.3f ms\n",
            ms(l->fsync_p50_ns + l->rpc_p50_ns));
    /* What a put to 3 replicas on this one disk cannot beat: the client's
     * round trip to the leader, the leader's to a follower, and fdatasyncs
     * that flush the one device at the same time (context, not a goal). */
    fprintf(f,
            "  %d replicas on this disk: fdatasync p50 with %d writers + two round trips p50 "
            "= %.3f ms\n",
            SP_BENCH_FSYNC_WRITERS, SP_BENCH_FSYNC_WRITERS,
            ms(l->fsync_shared_p50_ns + 2 * l->rpc_p50_ns));
}

static void row(FILE *f, const struct sp_bench_cell *c, int kind, const char *target,
                const struct sp_bench_result *r)
{
    const struct sp_bench_hist *h = &r->hist[kind];
    fprintf(f, "%-17s %7d %-8s %-12s %10.0f %8.3f %8.3f %8.3f %8.3f %7llu %7llu\n",
            sp_bench_workload_name(c->workload), c->clients, sp_bench_op_name(kind), target,
            ops_per_s(r, kind), ms(sp_bench_hist_percentile(h, 50)),
            ms(sp_bench_hist_percentile(h, 90)), ms(sp_bench_hist_percentile(h, 99)),
            ms(sp_bench_hist_percentile(h, 99.9)), (unsigned long long) r->errors[kind],
            (unsigned long long) r->retries);
}

static double ratio(double a, double b)
{
    return b > 0 ? a / b : 0.0;
}

static void ratio_row(FILE *f, const struct sp_bench_report *rep, const struct sp_bench_cell *c,
                      int kind)
{
    const struct sp_bench_result *a = c->res[0], *b = c->res[1];
    const struct sp_bench_hist *ha = &a->hist[kind], *hb = &b->hist[kind];
    char name[64];
    snprintf(name, sizeof name, "%s/%s", rep->targets[0], rep->targets[1]);
    double q[4] = {50, 90, 99, 99.9};
    fprintf(f, "%-17s %7d %-8s %-12s %9.2fx", sp_bench_workload_name(c->workload), c->clients,
            sp_bench_op_name(kind), name, ratio(ops_per_s(a, kind), ops_per_s(b, kind)));
    for (int i = 0; i < 4; i++)
        fprintf(f, " %7.2fx",
                ratio((double) sp_bench_hist_percentile(ha, q[i]),
                      (double) sp_bench_hist_percentile(hb, q[i])));
    fprintf(f, "\n");
}

/* Shares of the mean latency, per write kind, for targets that report them:
 * the commit record's Paxos write at the leader (proposed -> applied) and
 * the commit wait left after it (Spanner §4.2.1: the leader holds the
 * answer until the commit timestamp has passed on every clock; the wait
 * overlaps the Paxos write, so only what the write did not hide is left).
 * The rest (the client's round trips, queueing, for 2PC the PREPAREs and
 * votes before the commit record) is not broken down. */
static void print_commit_wait(FILE *f, const struct sp_bench_report *r)
{
    for (int i = 0; i < r->n_cells; i++)
        for (int t = 0; t < r->n_targets; t++)
            for (int k = 0; k < SP_BENCH_OPS; k++) {
                const struct sp_bench_result *res = r->cells[i].res[t];
                if (!res || !(r->target_flags[t] & SP_BENCH_F_COMMIT_WAIT) ||
                    !(SP_BENCH_WRITES & SP_BENCH_BIT(k)) || res->ops[k] == 0)
                    continue;
                double mean_us = (double) res->commit_wait_us[k] / (double) res->ops[k];
                double paxos_us = (double) res->paxos_us[k] / (double) res->ops[k];
                double lat_us = sp_bench_hist_mean_ns(&res->hist[k]) / 1e3;
                fprintf(f,
                        "commit wait, %s %s c=%d: mean %.0f us per %s, %.1f%% of its mean "
                        "latency %.0f us; Paxos (commit record) %.0f us, %.1f%%\n",
                        r->targets[t], sp_bench_workload_name(r->cells[i].workload),
                        r->cells[i].clients, mean_us, sp_bench_op_name(k),
                        lat_us > 0 ? 100.0 * mean_us / lat_us : 0.0, lat_us, paxos_us,
                        lat_us > 0 ? 100.0 * paxos_us / lat_us : 0.0);
            }
}

/* The cell of workload w with c clients, or NULL. */
static const struct sp_bench_cell *find_cell(const struct sp_bench_report *r,
                                             enum sp_bench_workload w, int clients)
{
    for (int i = 0; i < r->n_cells; i++)
        if (r->cells[i].workload == w && r->cells[i].clients == clients)
            return &r->cells[i];
    return NULL;
}

/* 2PC growth: p50 of txnN over p50 of txn1 at the same clients (issue 7's
 * goal is at most 1.5x for N = 10; Spanner's Table 4 shows 1.76x). */
static void print_growth(FILE *f, const struct sp_bench_report *r)
{
    for (int i = 0; i < r->n_cells; i++) {
        const struct sp_bench_cell *c = &r->cells[i];
        unsigned need = sp_bench_workload_ops(c->workload, 0);
        int k = 0;
        while (k < SP_BENCH_OPS && need != SP_BENCH_BIT(k))
            k++;
        if (k == SP_BENCH_OPS || sp_bench_op_groups(k) < 2)
            continue;
        const struct sp_bench_cell *one = find_cell(r, SP_BENCH_W_TXN1, c->clients);
        for (int t = 0; one && t < r->n_targets; t++) {
            const struct sp_bench_result *a = c->res[t], *b = one->res[t];
            if (!a || !b || !a->ops[k] || !b->ops[SP_BENCH_TXN1])
                continue;
            double pa = ms(sp_bench_hist_percentile(&a->hist[k], 50));
            double pb = ms(sp_bench_hist_percentile(&b->hist[SP_BENCH_TXN1], 50));
            fprintf(f, "2PC growth, %s c=%d: %s p50 %.3f ms / txn1 p50 %.3f ms = %.2fx\n",
                    r->targets[t], c->clients, sp_bench_op_name(k), pa, pb, pb > 0 ? pa / pb : 0);
        }
    }
}

/* The p50 of op kind k in result r, in ms (0 when it has none). */
static double p50_ms(const struct sp_bench_result *r, int k)
{
    return r && r->ops[k] ? ms(sp_bench_hist_percentile(&r->hist[k], 50)) : 0.0;
}

static void goal(FILE *f, const char *what, double value, bool met)
{
    fprintf(f, "goal: %-62s %6.2fx  %s\n", what, value, met ? "met" : "missed");
}

/* Issue 7's goals, for the figures this run has: this store ("spanner",
 * first target) against etcd (second), and against the machine's floor. */
static void print_goals(FILE *f, const struct sp_bench_report *r)
{
    bool peer = r->n_targets >= 2 && strcmp(r->targets[0], "spanner") == 0 &&
                strcmp(r->targets[1], "etcd") == 0;
    const struct sp_bench_cell *c;
    if (peer && (c = find_cell(r, SP_BENCH_W_PUT, 64)) && c->res[0] && c->res[1] &&
        c->res[1]->ops[SP_BENCH_PUT]) {
        double x = ratio(ops_per_s(c->res[0], SP_BENCH_PUT), ops_per_s(c->res[1], SP_BENCH_PUT));
        goal(f, "puts/s at 64 clients >= 2x etcd's", x, x >= 2.0);
    }
    if (peer && (c = find_cell(r, SP_BENCH_W_PUT, 1)) && c->res[0] && c->res[1] &&
        p50_ms(c->res[1], SP_BENCH_PUT) > 0) {
        double x = p50_ms(c->res[0], SP_BENCH_PUT) / p50_ms(c->res[1], SP_BENCH_PUT);
        goal(f, "put p50 at 1 client <= etcd's", x, x <= 1.0);
    }
    if (peer && (c = find_cell(r, SP_BENCH_W_GET_SER, 64)) && c->res[0] && c->res[1] &&
        c->res[1]->ops[SP_BENCH_GET_SERIAL]) {
        double x = ratio(ops_per_s(c->res[0], SP_BENCH_GET_SERIAL),
                         ops_per_s(c->res[1], SP_BENCH_GET_SERIAL));
        goal(f, "stale reads/s at 64 clients >= 3x etcd serializable gets", x, x >= 3.0);
    }
    if (peer && (c = find_cell(r, SP_BENCH_W_GET, 1)) && c->res[0] && c->res[1] &&
        p50_ms(c->res[1], SP_BENCH_GET) > 0) {
        double x = p50_ms(c->res[0], SP_BENCH_GET) / p50_ms(c->res[1], SP_BENCH_GET);
        goal(f, "strong read p50 at 1 client <= etcd linearizable get's", x, x <= 1.0);
    }
    if (r->limits && r->n_targets >= 1 && strcmp(r->targets[0], "spanner") == 0 &&
        (c = find_cell(r, SP_BENCH_W_PUT, 1)) && p50_ms(c->res[0], SP_BENCH_PUT) > 0) {
        double floor = ms(r->limits->fsync_p50_ns + r->limits->rpc_p50_ns);
        double x = floor > 0 ? p50_ms(c->res[0], SP_BENCH_PUT) / floor : 0.0;
        goal(f, "put p50 at 1 client within 1.5x of the floor", x, x <= 1.5);
    }
    const struct sp_bench_cell *ten, *one;
    for (int t = 0; t < r->n_targets; t++)
        for (int i = 0; i < r->n_cells; i++) {
            ten = &r->cells[i];
            if (ten->workload != SP_BENCH_W_TXN10 ||
                !(one = find_cell(r, SP_BENCH_W_TXN1, ten->clients)) ||
                p50_ms(one->res[t], SP_BENCH_TXN1) <= 0 || p50_ms(ten->res[t], SP_BENCH_TXN10) <= 0)
                continue;
            double x = p50_ms(ten->res[t], SP_BENCH_TXN10) / p50_ms(one->res[t], SP_BENCH_TXN1);
            char what[96];
            snprintf(what, sizeof what, "%s c=%d: 2PC p50 growth 1 -> 10 groups <= 1.5x",
                     r->targets[t], ten->clients);
            goal(f, what, x, x <= 1.5);
        }
}

/* Targets' checks after runs (bank: the total of every account). */
static void print_checks(FILE *f, const struct sp_bench_report *r)
{
    for (int i = 0; i < r->n_cells; i++)
        for (int t = 0; t < r->n_targets; t++) {
            const struct sp_bench_result *res = r->cells[i].res[t];
            if (!res || res->checks == 0)
                continue;
            fprintf(f, "check, %s %s c=%d: %llu of %llu runs %s\n", r->targets[t],
                    sp_bench_workload_name(r->cells[i].workload), r->cells[i].clients,
                    (unsigned long long) (res->checks - res->checks_failed),
                    (unsigned long long) res->checks,
                    res->checks_failed ? "passed; FAILED (see first error)" : "passed");
        }
}

void sp_bench__print_table(FILE *f, const struct sp_bench_report *r)
{
    const struct sp_bench_config *cfg = r->cfg;
    fprintf(f, "\n%zu B keys, %zu B values, key space %llu (uniform), YCSB reads %s, %s%s\n",
            cfg->key_size, cfg->value_size, (unsigned long long) cfg->keys,
            cfg->serializable ? "serializable" : "linearizable",
            cfg->async ? "async (clients = operations in flight from one thread)"
                       : "closed loop (clients = threads)",
            cfg->no_coalesce ? ", spanner: every request its own call (--no-coalesce)" : "");
    fprintf(f, "%-17s %7s %-8s %-12s %10s %8s %8s %8s %8s %7s %7s\n", "workload", "clients", "op",
            "target", "ops/s", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms", "errors", "retries");
    for (int i = 0; i < r->n_cells; i++) {
        const struct sp_bench_cell *c = &r->cells[i];
        unsigned kinds = sp_bench_workload_ops(c->workload, cfg->serializable);
        for (int k = 0; k < SP_BENCH_OPS; k++) {
            if (!(kinds & SP_BENCH_BIT(k)))
                continue;
            for (int t = 0; t < r->n_targets; t++) {
                if (c->res[t])
                    row(f, c, k, r->targets[t], c->res[t]);
                else
                    fprintf(f, "%-17s %7d %-8s %-12s %10s\n", sp_bench_workload_name(c->workload),
                            c->clients, sp_bench_op_name(k), r->targets[t], "n/a");
            }
            /* A ratio needs both figures: no row when either side has none. */
            if (r->n_targets >= 2 && c->res[0] && c->res[1] && c->res[0]->ops[k] &&
                c->res[1]->ops[k])
                ratio_row(f, r, c, k);
        }
    }
    print_commit_wait(f, r);
    print_growth(f, r);
    print_goals(f, r);
    print_checks(f, r);
    for (int i = 0; i < r->n_cells; i++)
        for (int t = 0; t < r->n_targets; t++)
            if (r->cells[i].res[t] && r->cells[i].res[t]->first_error[0])
                fprintf(f, "first error, %s %s c=%d: %s\n", r->targets[t],
                        sp_bench_workload_name(r->cells[i].workload), r->cells[i].clients,
                        r->cells[i].res[t]->first_error);
}

static void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char) *s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

static void json_result(FILE *f, const struct sp_bench_report *r, const struct sp_bench_cell *c,
                        int t, int kind)
{
    const struct sp_bench_result *res = c->res[t];
    const struct sp_bench_hist *h = &res->hist[kind];
    fprintf(f, "{\"workload\":\"%s\",\"clients\":%d,\"op\":\"%s\",\"target\":",
            sp_bench_workload_name(c->workload), c->clients, sp_bench_op_name(kind));
    json_string(f, r->targets[t]);
    fprintf(f, ",\"ops\":%llu,\"seconds\":%.3f,\"ops_per_s\":%.1f,\"rounds_ops_per_s\":[",
            (unsigned long long) res->ops[kind], res->elapsed_s, ops_per_s(res, kind));
    for (int i = 0; i < c->rounds[t]; i++)
        fprintf(f, "%s%.1f", i ? "," : "", c->round_ops_s[t][i]);
    fprintf(f,
            "],\"p50_us\":%.1f,\"p90_us\":%.1f,\"p99_us\":%.1f,\"p999_us\":%.1f,"
            "\"mean_us\":%.1f,\"max_us\":%.1f,\"errors\":%llu,\"retries\":%llu,\"first_error\":",
            sp_bench_hist_percentile(h, 50) / 1e3, sp_bench_hist_percentile(h, 90) / 1e3,
            sp_bench_hist_percentile(h, 99) / 1e3, sp_bench_hist_percentile(h, 99.9) / 1e3,
            sp_bench_hist_mean_ns(h) / 1e3, (double) h->max_ns / 1e3,
            (unsigned long long) res->errors[kind], (unsigned long long) res->retries);
    json_string(f, res->first_error);
    if (res->checks)
        fprintf(f, ",\"checks\":%llu,\"checks_failed\":%llu", (unsigned long long) res->checks,
                (unsigned long long) res->checks_failed);
    if (r->target_flags[t] & SP_BENCH_F_COMMIT_WAIT)
        fprintf(f, ",\"commit_wait_mean_us\":%.1f,\"paxos_mean_us\":%.1f",
                res->ops[kind] ? (double) res->commit_wait_us[kind] / (double) res->ops[kind] : 0.0,
                res->ops[kind] ? (double) res->paxos_us[kind] / (double) res->ops[kind] : 0.0);
    fprintf(f, "}");
}

void sp_bench__print_json(FILE *f, const struct sp_bench_report *r)
{
    const struct sp_bench_config *cfg = r->cfg;
    fprintf(f,
            "{\"tool\":\"spanner-bench\",\"config\":{\"key_size\":%zu,\"value_size\":%zu,"
            "\"keys\":%llu,\"seconds\":%d,\"ops\":%llu,\"serializable\":%s,\"async\":%s,"
            "\"coalesce\":%s,\"timeout_ms\":%d},",
            cfg->key_size, cfg->value_size, (unsigned long long) cfg->keys, cfg->seconds,
            (unsigned long long) cfg->ops_total, cfg->serializable ? "true" : "false",
            cfg->async ? "true" : "false", cfg->no_coalesce ? "false" : "true", cfg->timeout_ms);
    if (r->limits)
        fprintf(f,
                "\"limits\":{\"fdatasync_p50_us\":%.1f,\"fdatasync_p99_us\":%.1f,"
                "\"fdatasync_writers\":%d,\"fdatasync_shared_p50_us\":%.1f,"
                "\"fdatasync_shared_p99_us\":%.1f,"
                "\"rpc_p50_us\":%.1f,\"rpc_p99_us\":%.1f},",
                r->limits->fsync_p50_ns / 1e3, r->limits->fsync_p99_ns / 1e3,
                SP_BENCH_FSYNC_WRITERS, r->limits->fsync_shared_p50_ns / 1e3,
                r->limits->fsync_shared_p99_ns / 1e3, r->limits->rpc_p50_ns / 1e3,
                r->limits->rpc_p99_ns / 1e3);
    fprintf(f, "\"results\":[");
    int first = 1;
    for (int i = 0; i < r->n_cells; i++) {
        const struct sp_bench_cell *c = &r->cells[i];
        unsigned kinds = sp_bench_workload_ops(c->workload, cfg->serializable);
        for (int k = 0; k < SP_BENCH_OPS; k++)
            for (int t = 0; t < r->n_targets; t++) {
                if (!(kinds & SP_BENCH_BIT(k)) || !c->res[t])
                    continue;
                fprintf(f, "%s\n", first ? "" : ",");
                json_result(f, r, c, t, k);
                first = 0;
            }
    }
    fprintf(f, "\n]}\n");
}

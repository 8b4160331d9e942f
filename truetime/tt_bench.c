/*
 * tt-bench - prints what TrueTime costs on this machine:
 *   - tt_now() in ns/call over N calls (chrony backend on a private chronyd
 *     pair, and the fixed backend);
 *   - the current eps from chrony on loopback;
 *   - commit-wait overshoot: how far past the first instant at which
 *     TT.after(s) holds the wake-up lands (p50/p99/max), for s = now.latest.
 * A benchmark, not a test: it asserts nothing about speed.
 *
 *   tt-bench [--calls N] [--waits N] [--json]
 */
#include "truetime.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double now_cost_ns(struct tt_clock *c, long calls)
{
    struct tt_interval now, acc = {0, 0};
    double t0 = mono_s();
    for (long i = 0; i < calls; i++) {
        if (tt_now(c, &now) != 0)
            return -1;
        acc.earliest ^= now.earliest; /* keep the loop from being elided */
    }
    double t1 = mono_s();
    if (acc.earliest == 42)
        fputs("", stderr);
    return (t1 - t0) * 1e9 / (double) calls;
}

static int cmp_micros(const void *a, const void *b)
{
    tt_micros x = *(const tt_micros *) a, y = *(const tt_micros *) b;
    return (x > y) - (x < y);
}

struct overshoot {
    tt_micros p50, p99, max, waited_p50;
};

/* Overshoot = earliest at return - (s + 1): s + 1 is the first value of
 * earliest for which TT.after(s) holds. */
static int measure_overshoot(struct tt_clock *c, int waits, struct overshoot *o)
{
    tt_micros *over = calloc((size_t) waits, sizeof *over);
    tt_micros *waited = calloc((size_t) waits, sizeof *waited);
    int rc = over && waited ? 0 : SP_ENOMEM;
    for (int i = 0; rc == 0 && i < waits; i++) {
        struct tt_interval now, after;
        rc = tt_now(c, &now);
        if (rc == 0)
            rc = tt_commit_wait(c, now.latest, &waited[i]);
        if (rc == 0)
            rc = tt_now(c, &after);
        if (rc == 0)
            over[i] = after.earliest - (now.latest + 1);
    }
    if (rc == 0) {
        qsort(over, (size_t) waits, sizeof *over, cmp_micros);
        qsort(waited, (size_t) waits, sizeof *waited, cmp_micros);
        o->p50 = over[waits / 2];
        o->p99 = over[(waits * 99) / 100];
        o->max = over[waits - 1];
        o->waited_p50 = waited[waits / 2];
    }
    free(over);
    free(waited);
    return rc;
}

static int wait_synced(struct tt_clock *c)
{
    for (int i = 0; i < 120; i++) {
        if (tt_clock_status(c, NULL, 0) == TT_SYNCED)
            return 0;
        struct timespec ts = {0, 250 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return SP_ETT_UNKNOWN;
}

static void report(const char *name, double ns, tt_micros eps, const struct overshoot *o,
                   int json)
{
    if (json)
        printf("{\"backend\":\"%s\",\"tt_now_ns\":%.1f,\"eps_us\":%lld,\"commit_wait_us_p50\":%lld,"
               "\"overshoot_us_p50\":%lld,\"overshoot_us_p99\":%lld,\"overshoot_us_max\":%lld}\n",
               name, ns, (long long) eps, (long long) o->waited_p50, (long long) o->p50,
               (long long) o->p99, (long long) o->max);
    else
        printf("%-22s %10.1f %10lld %14lld %10lld %10lld %10lld\n", name, ns, (long long) eps,
               (long long) o->waited_p50, (long long) o->p50, (long long) o->p99,
               (long long) o->max);
}

static int run(const char *name, struct tt_config *cfg, long calls, int waits, int json)
{
    struct tt_clock *c;
    struct sp_err e = {0};
    if (tt_clock_create(cfg, &c, &e) != 0 || (cfg->backend == TT_BACKEND_CHRONY && wait_synced(c))) {
        fprintf(stderr, "tt-bench: %s: %s\n", name, e.msg[0] ? e.msg : "clock not synchronised");
        return 1;
    }
    struct tt_interval now;
    double ns = now_cost_ns(c, calls);
    struct overshoot o = {0};
    int rc = ns < 0 || tt_now(c, &now) != 0 || measure_overshoot(c, waits, &o) != 0;
    if (rc == 0)
        report(name, ns, tt_interval_eps(now), &o, json);
    else
        fprintf(stderr, "tt-bench: %s: the clock became unknown during the run\n", name);
    tt_clock_destroy(c);
    return rc;
}

int main(int argc, char **argv)
{
    long calls = 10 * 1000 * 1000;
    int waits = 2000, json = 0;
    static const struct option opts[] = {
        {"calls", 1, 0, 'c'}, {"waits", 1, 0, 'w'}, {"json", 0, 0, 'j'}, {0, 0, 0, 0}};
    for (int o; (o = getopt_long(argc, argv, "c:w:j", opts, NULL)) != -1;) {
        if (o == 'c')
            calls = atol(optarg);
        else if (o == 'w')
            waits = atoi(optarg);
        else if (o == 'j')
            json = 1;
        else {
            fprintf(stderr, "usage: tt-bench [--calls N] [--waits N] [--json]\n");
            return 2;
        }
    }
    if (calls < 1 || waits < 1 || waits > 1000000) {
        fprintf(stderr, "tt-bench: --calls must be >= 1 and --waits in [1, 1000000]\n");
        return 2;
    }
    if (!json)
        printf("%-22s %10s %10s %14s %10s %10s %10s\n", "backend", "now ns", "eps us",
               "wait us p50", "over p50", "over p99", "over max");
    char dir[] = "/tmp/tt-bench-XXXXXX";
    struct tt_chrony_pair pair = {0};
    struct sp_err e = {0};
    int rc = 0;
    if (mkdtemp(dir) && tt_chrony_pair_start(dir, &pair, &e) == 0) {
        struct tt_config cfg;
        tt_chrony_pair_config(&pair, &cfg);
        rc |= run("chrony (loopback)", &cfg, calls, waits, json);
        tt_chrony_pair_stop(&pair);
    } else {
        fprintf(stderr, "tt-bench: no chronyd pair (%s); chrony row skipped\n", e.msg);
    }
    struct tt_config fixed;
    tt_config_init(&fixed);
    fixed.backend = TT_BACKEND_FIXED;
    fixed.fixed_eps_us = 4000;
    rc |= run("fixed eps=4ms", &fixed, calls, waits < 500 ? waits : 500, json);
    return rc;
}

/*
 * check_main.c - the spanner-check command.
 *
 *   spanner-check [--workload bank|register|list-append] [--bank-total N] HISTORY
 *   spanner-check --generate N [--workload W] [--seed S] [--keys K] [--stale-every N] OUT
 *
 * Exit status: 0 valid, 1 violation found, 2 bad input or usage.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sim.h"

static int usage(void)
{
    fprintf(stderr, "usage: spanner-check [--workload bank|register|list-append] [--bank-total N] "
                    "HISTORY\n"
                    "       spanner-check --generate N [--workload W] [--seed S] [--keys K] OUT\n"
                    "exit status: 0 valid, 1 violation, 2 bad input or usage\n");
    return 2;
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double) t.tv_sec + (double) t.tv_nsec / 1e9;
}

static bool parse_u64(const char *s, unsigned long long *out)
{
    char *end;
    *out = strtoull(s, &end, 10);
    return *s && !*end && *s != '-';
}

static int generate(const struct sim_gen_options *g, const char *path)
{
    struct sp_err err = {0};
    FILE *f = strcmp(path, "-") == 0 ? stdout : fopen(path, "w");
    if (!f) {
        perror(path);
        return 2;
    }
    int rc = sim_generate(f, g, &err);
    if (f != stdout && fclose(f) && rc == 0)
        rc = sp_err_set(&err, SP_EIO, "%s: close failed", path);
    if (rc)
        fprintf(stderr, "spanner-check: %s\n", err.msg);
    return rc ? 2 : 0;
}

static int check(const struct sim_check_options *o, const char *path)
{
    struct sp_err err = {0};
    struct sim_history *h;
    double t0 = now_s();
    int rc = sim_history_load_path(path, &h, &err);
    if (rc) {
        fprintf(stderr, "spanner-check: %s\n", err.msg);
        return 2;
    }
    double t1 = now_s();
    if (sim_history_size(h) == 0) { /* an empty file is more likely lost than valid */
        fprintf(stderr, "spanner-check: %s: no transactions in the history\n", path);
        sim_history_free(h);
        return 2;
    }
    struct sim_report *r;
    rc = sim_check(h, o, &r, &err);
    double t2 = now_s();
    if (rc && rc != SP_ESIM_VIOLATION) {
        fprintf(stderr, "spanner-check: %s: %s\n", path, err.msg);
        sim_history_free(h);
        return 2;
    }
    sim_report_print(r, stdout);
    printf("time: load %.2f s, check %.2f s (%zu transactions)\n", t1 - t0, t2 - t1,
           sim_history_size(h));
    sim_report_free(r);
    sim_history_free(h);
    return rc ? 1 : 0;
}

int main(int argc, char **argv)
{
    struct sim_check_options o = {.workload = SIM_WORKLOAD_AUTO};
    struct sim_gen_options g = {.seed = 1, .workload = SIM_WORKLOAD_LIST_APPEND};
    bool gen = false, wl_set = false;
    const char *path = NULL;
    unsigned long long u;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--workload") == 0 && v) {
            int w = sim_workload_parse(v);
            if (w < 0)
                return usage();
            o.workload = g.workload = (enum sim_workload) w, wl_set = true, i++;
        } else if (strcmp(a, "--bank-total") == 0 && v) {
            char *end;
            o.bank_total = strtoll(v, &end, 10), o.bank_total_set = true, i++;
            if (!*v || *end)
                return usage();
        } else if (strcmp(a, "--generate") == 0 && v && parse_u64(v, &u)) {
            gen = true, g.txns = (size_t) u, i++;
        } else if (strcmp(a, "--seed") == 0 && v && parse_u64(v, &u)) {
            g.seed = u, i++;
        } else if (strcmp(a, "--stale-every") == 0 && v && parse_u64(v, &u)) {
            g.stale_every = (unsigned) u, i++;
        } else if (strcmp(a, "--keys") == 0 && v && parse_u64(v, &u)) {
            g.keys = (size_t) u, i++;
        } else if (a[0] == '-' && a[1] == '-') {
            return usage();
        } else if (!path) {
            path = a;
        } else {
            return usage();
        }
    }
    if (!path)
        return usage();
    if (gen && !wl_set)
        g.workload = SIM_WORKLOAD_LIST_APPEND;
    return gen ? generate(&g, path) : check(&o, path);
}

/*
 * bench_check.c - times spanner-check's load and checks on a generated
 * valid list-append history of 1,000,000 transactions (label bench). The
 * figure is printed, not asserted: machines differ. The target is
 * well under a minute.
 *
 * SIM_BENCH_TXNS overrides the size; SIM_BENCH_WORKLOAD the workload.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <cmocka.h>

#include "sim.h"
#include "sp_test.h"

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double) t.tv_sec + (double) t.tv_nsec / 1e9;
}

static void bench(void **state)
{
    (void) state;
    const char *n = getenv("SIM_BENCH_TXNS"), *w = getenv("SIM_BENCH_WORKLOAD");
    struct sim_gen_options g = {.seed = 1,
                                .txns = n ? strtoull(n, NULL, 10) : 1000000,
                                .workload = SIM_WORKLOAD_LIST_APPEND};
    if (w && sim_workload_parse(w) > 0)
        g.workload = (enum sim_workload) sim_workload_parse(w);
    struct sp_err err = {0};
    FILE *f = tmpfile();
    assert_non_null(f);
    double t0 = now_s();
    assert_int_equal(sim_generate(f, &g, &err), 0);
    long bytes = ftell(f);
    rewind(f);
    double t1 = now_s();
    struct sim_history *h;
    assert_int_equal(sim_history_load(f, &h, &err), 0);
    fclose(f);
    double t2 = now_s();
    struct sim_check_options o = {.workload = g.workload};
    struct sim_report *r;
    int rc = sim_check(h, &o, &r, &err);
    double t3 = now_s();
    sim_report_print(r, stdout);
    printf("bench: %zu %s transactions (%.0f MB): generate %.2f s, load %.2f s, check %.2f s, "
           "load+check %.2f s\n",
           sim_history_size(h), sim_workload_name(g.workload), (double) bytes / 1e6, t1 - t0,
           t2 - t1, t3 - t2, t3 - t1);
    assert_int_equal(rc, 0);
    sim_report_free(r);
    sim_history_free(h);
}

int main(void)
{
    sp_test_route_asserts();
    const struct CMUnitTest tests[] = {cmocka_unit_test(bench)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}

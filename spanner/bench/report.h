/*
 * report.h - what one spanner-bench invocation measured, and its two
 * renderings: the terminal table (with ours/peer ratios) and --json.
 * Private to spanner/bench.
 */
#ifndef SP_BENCH_REPORT_H
#define SP_BENCH_REPORT_H

#include "bench.h"

#include <stdio.h>

#define SP_BENCH_TARGETS_MAX 4
#define SP_BENCH_ROUNDS_MAX  10
#define SP_BENCH_CELLS_MAX   64

/* One (workload, clients) pair, measured on every target. */
struct sp_bench_cell {
    enum sp_bench_workload workload;
    int clients;
    struct sp_bench_result *res[SP_BENCH_TARGETS_MAX]; /* NULL: target cannot run it */
    double round_ops_s[SP_BENCH_TARGETS_MAX][SP_BENCH_ROUNDS_MAX];
    int rounds[SP_BENCH_TARGETS_MAX];
};

struct sp_bench_report {
    const struct sp_bench_config *cfg; /* shared settings (workload, clients per cell) */
    int n_targets;
    const char *targets[SP_BENCH_TARGETS_MAX];
    unsigned target_flags[SP_BENCH_TARGETS_MAX]; /* SP_BENCH_F_* */
    int n_cells;
    struct sp_bench_cell cells[SP_BENCH_CELLS_MAX];
    const struct sp_bench_limits *limits; /* NULL when not measured */
};

void sp_bench__print_limits(FILE *f, const struct sp_bench_limits *l);
void sp_bench__print_table(FILE *f, const struct sp_bench_report *r);
void sp_bench__print_json(FILE *f, const struct sp_bench_report *r);

#endif /* SP_BENCH_REPORT_H */

/*
 * test_node.c - the transaction node core (txn/node.c and friends) driven by
 * the deterministic world (world.c), and unit tests of its log records and
 * reply rules.
 *
 * Replay one seed of the randomized tests: TXN_SEED=<seed> (and
 * TXN_VERBOSE=1 for a trace); explore more seeds with TXN_SEEDS=<count>.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sp_test.h"

#include "node_int.h"
#include "world.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static bool env_seed(uint64_t *seed)
{
    const char *s = getenv("TXN_SEED");
    if (s == NULL || *s == '\0')
        return false;
    *seed = strtoull(s, NULL, 10);
    return true;
}

static bool verbose(void)
{
    const char *s = getenv("TXN_VERBOSE");
    return s != NULL && *s == '1';
}

/* Runs seeds [first, first + n) of params made by `make`; fails on the
 * first violation, naming the seed. */
static void run_seeds(void (*make)(struct w_params *, uint64_t), uint64_t first, uint32_t n)
{
    uint64_t one;
    const char *many = getenv("TXN_SEEDS"); /* explore: more seeds than CI runs */
    if (many != NULL && *many != '\0')
        n = (uint32_t) strtoul(many, NULL, 10);
    if (env_seed(&one)) {
        first = one;
        n = 1;
    }
    struct w_stats total = {0};
    for (uint64_t seed = first; seed < first + n; seed++) {
        struct w_params p;
        make(&p, seed);
        p.verbose = verbose();
        if (p.verbose) {
            sp_log_level = SP_LOG_DEBUG;
            fprintf(stderr, "==== seed %llu\n", (unsigned long long) seed);
        }
        struct w_stats st;
        char why[512];
        int rc = w_run(&p, &st, why, sizeof why);
        if (rc != 0) {
            fprintf(stderr, "FAILED seed %llu (replay: TXN_SEED=%llu): %s\n",
                    (unsigned long long) seed, (unsigned long long) seed, why);
            fail();
        }
        total.commits_ok += st.commits_ok;
        total.commits_2pc_ok += st.commits_2pc_ok;
        total.commits_unknown += st.commits_unknown;
        total.aborts += st.aborts;
        total.ro_ok += st.ro_ok;
        total.crashes += st.crashes;
        total.steps += st.steps;
    }
    fprintf(stderr,
            "  %u seeds: %u commits (%u 2PC), %u unknown, %u given up, %u read-only, %u crashes, "
            "%llu steps\n",
            n, total.commits_ok, total.commits_2pc_ok, total.commits_unknown, total.aborts,
            total.ro_ok, total.crashes, (unsigned long long) total.steps);
    assert_true(total.commits_ok > 0);
}

static void make_calm(struct w_params *p, uint64_t seed)
{
    w_params_init(p, seed);
}

static void test_bank_calm(void **state)
{
    (void) state;
    run_seeds(make_calm, 1, 3);
}

/* Lossy network, crashes and restarts, clocks anywhere inside eps. */
static void make_chaos(struct w_params *p, uint64_t seed)
{
    w_params_init(p, seed);
    p->drop_pct = 5;
    p->lease_us = 300 * 1000;
    p->crash_every_us = 800 * 1000;
    p->down_us = 200 * 1000;
    p->run_us = 3000 * 1000;
}

static void test_bank_chaos(void **state)
{
    (void) state;
    run_seeds(make_chaos, 100, 10);
}

int main(void)
{
    sp_test_route_asserts();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bank_calm),
        cmocka_unit_test(test_bank_chaos),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

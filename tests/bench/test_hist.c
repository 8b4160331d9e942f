/*
 * test_hist.c - the spanner-bench latency histogram against exact
 * percentiles of known distributions: every reported p50/p90/p99/p99.9
 * must be within 1% (the precision bench.h promises) of the sample at the
 * same rank in the sorted data.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "hist.h"
#include "sp_test.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SAMPLES 200000

static uint64_t samples[SAMPLES];
static struct sp_bench_hist hist, part;

static uint64_t rng = 42;
static double uniform01(void) /* (0, 1), splitmix64 */
{
    uint64_t z = (rng += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    z ^= z >> 31;
    return ((double) (z >> 11) + 0.5) / 9007199254740992.0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
    return (x > y) - (x < y);
}

/* Records samples[0..n), then checks each percentile against the exact
 * sample at rank ceil(q/100 * n). */
static void check_against_exact(size_t n)
{
    sp_bench_hist_init(&hist);
    for (size_t i = 0; i < n; i++)
        sp_bench_hist_record(&hist, samples[i]);
    qsort(samples, n, sizeof samples[0], cmp_u64);
    assert_int_equal(hist.count, n);
    assert_int_equal(hist.min_ns, samples[0]);
    assert_int_equal(hist.max_ns, samples[n - 1]);
    static const double qs[] = {0.1, 1, 10, 50, 90, 99, 99.9, 100};
    for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++) {
        size_t rank = (size_t) ceil(qs[i] / 100.0 * (double) n - 1e-9);
        if (rank < 1)
            rank = 1;
        double exact = (double) samples[rank - 1];
        double got = (double) sp_bench_hist_percentile(&hist, qs[i]);
        if (fabs(got - exact) > 0.01 * exact) {
            print_error("q %.1f: got %.0f ns, exact %.0f ns\n", qs[i], got, exact);
            fail();
        }
    }
}

static void test_bucket_geometry(void **state)
{
    (void) state;
    uint32_t prev = 0;
    for (uint64_t v = 0; v < (UINT64_C(1) << 40); v = v < 4096 ? v + 1 : v + v / 1000 + 1) {
        uint32_t i = sp_bench_hist_index(v);
        assert_true(i >= prev); /* monotonic */
        prev = i;
        uint64_t lo = sp_bench_hist_lower_ns(i), w = sp_bench_hist_width_ns(i);
        assert_true(lo <= v && v < lo + w);
        assert_true(w == 1 || w * 128 <= lo); /* a bucket is at most 1/128 of its values */
    }
    assert_int_equal(sp_bench_hist_index(SP_BENCH_HIST_MAX_NS), SP_BENCH_HIST_BUCKETS - 1);
    assert_int_equal(sp_bench_hist_index(UINT64_MAX), SP_BENCH_HIST_BUCKETS - 1);
}

static void test_uniform(void **state)
{
    (void) state;
    for (size_t i = 0; i < SAMPLES; i++)
        samples[i] = 1 + (uint64_t) (uniform01() * 1e7); /* 1 ns .. 10 ms */
    check_against_exact(SAMPLES);
}

static void test_exponential(void **state)
{
    (void) state;
    for (size_t i = 0; i < SAMPLES; i++) /* mean 2 ms: a long tail */
        samples[i] = (uint64_t) (-log(uniform01()) * 2e6);
    check_against_exact(SAMPLES);
}

static void test_lognormal_wide(void **state)
{
    (void) state;
    for (size_t i = 0; i < SAMPLES; i++) { /* Box-Muller; spans ns to seconds */
        double z = sqrt(-2 * log(uniform01())) * cos(6.283185307179586 * uniform01());
        samples[i] = (uint64_t) exp(13.0 + 2.5 * z);
    }
    check_against_exact(SAMPLES);
}

static void test_bimodal_and_constant(void **state)
{
    (void) state;
    for (size_t i = 0; i < 10000; i++) /* 90% at 100 us, 10% at 10 ms */
        samples[i] = i % 10 == 0 ? 10000000 : 100000;
    check_against_exact(10000);
    for (size_t i = 0; i < 1000; i++)
        samples[i] = 123457;
    check_against_exact(1000);
    assert_int_equal(sp_bench_hist_percentile(&hist, 50), 123457); /* clamped: exact */
}

static void test_merge_equals_recording_all(void **state)
{
    (void) state;
    for (size_t i = 0; i < 50000; i++)
        samples[i] = (uint64_t) (-log(uniform01()) * 5e5);
    sp_bench_hist_init(&part);
    struct sp_bench_hist *other = malloc(sizeof *other);
    assert_non_null(other);
    sp_bench_hist_init(other);
    for (size_t i = 0; i < 50000; i++)
        sp_bench_hist_record(i % 3 ? &part : other, samples[i]);
    sp_bench_hist_merge(&part, other);
    free(other);
    check_against_exact(50000); /* fills hist with all samples */
    assert_int_equal(part.count, hist.count);
    assert_int_equal(part.min_ns, hist.min_ns);
    assert_int_equal(part.max_ns, hist.max_ns);
    assert_memory_equal(part.counts, hist.counts, sizeof hist.counts);
}

static void test_empty_and_overflow(void **state)
{
    (void) state;
    sp_bench_hist_init(&hist);
    assert_int_equal(sp_bench_hist_percentile(&hist, 99), 0);
    assert_true(sp_bench_hist_mean_ns(&hist) == 0.0);
    sp_bench_hist_record(&hist, 1000);
    sp_bench_hist_record(&hist, UINT64_C(1) << 50); /* beyond the range: kept, clamped */
    assert_int_equal(hist.count, 2);
    assert_int_equal(hist.overflow, 1);
    assert_in_range(sp_bench_hist_percentile(&hist, 50), 990, 1010); /* 1000 in a 4 ns bucket */
    assert_true(sp_bench_hist_percentile(&hist, 100) >= SP_BENCH_HIST_MAX_NS / 2);
    expect_assert_failure(sp_bench_hist_percentile(&hist, 101));
}

int main(void)
{
    sp_test_route_asserts();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bucket_geometry),
        cmocka_unit_test(test_uniform),
        cmocka_unit_test(test_exponential),
        cmocka_unit_test(test_lognormal_wide),
        cmocka_unit_test(test_bimodal_and_constant),
        cmocka_unit_test(test_merge_equals_recording_all),
        cmocka_unit_test(test_empty_and_overflow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

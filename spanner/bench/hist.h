/*
 * hist.h - a log-linear latency histogram in the style of HdrHistogram, for
 * spanner-bench. Private to spanner/bench.
 *
 * Layout: values below 256 ns have one bucket each (exact). Above, every
 * power-of-two range [2^k, 2^(k+1)) is split into 128 equal buckets of width
 * 2^(k-7), so a bucket is at most 1/128 of its lower bound wide. A
 * percentile is reported as the middle of its bucket (clamped to the exact
 * min and max), hence within 1/256 (0.4%) of the true sample at that rank:
 * the "~1% precision" we promise, with margin.
 *
 * Range: 0 .. 2^40 ns (about 18 minutes). Larger values are counted in the
 * top bucket and in `overflow`, so a count is never lost.
 *
 * Not thread-safe: each client thread records into its own histogram and
 * the runner merges them after the threads are joined. Fixed size (no
 * allocation), so a histogram can live in any struct.
 */
#ifndef SP_BENCH_HIST_H
#define SP_BENCH_HIST_H

#include <stdint.h>

#define SP_BENCH_HIST_LINEAR  256 /* exact buckets 0..255 */
#define SP_BENCH_HIST_SUB     128 /* buckets per power of two above */
#define SP_BENCH_HIST_TOP_BIT 40  /* values >= 2^40 ns are clamped */
#define SP_BENCH_HIST_BUCKETS                                                                      \
    (SP_BENCH_HIST_LINEAR + (SP_BENCH_HIST_TOP_BIT - 8) * SP_BENCH_HIST_SUB)
#define SP_BENCH_HIST_MAX_NS ((UINT64_C(1) << SP_BENCH_HIST_TOP_BIT) - 1)

struct sp_bench_hist {
    uint64_t count;
    uint64_t overflow; /* values above SP_BENCH_HIST_MAX_NS (clamped) */
    uint64_t min_ns, max_ns;
    double sum_ns;
    uint64_t counts[SP_BENCH_HIST_BUCKETS];
};

void sp_bench_hist_init(struct sp_bench_hist *h);
void sp_bench_hist_record(struct sp_bench_hist *h, uint64_t value_ns);
/* Adds every count of src to dst. */
void sp_bench_hist_merge(struct sp_bench_hist *dst, const struct sp_bench_hist *src);
/*
 * The value at rank ceil(q/100 * count) (q in 0..100; rank at least 1), as
 * the middle of its bucket clamped to [min, max]. 0 for an empty histogram.
 */
uint64_t sp_bench_hist_percentile(const struct sp_bench_hist *h, double q);
double sp_bench_hist_mean_ns(const struct sp_bench_hist *h);

/* Bucket arithmetic, exposed for the unit test. */
uint32_t sp_bench_hist_index(uint64_t value_ns);
uint64_t sp_bench_hist_lower_ns(uint32_t index);
uint64_t sp_bench_hist_width_ns(uint32_t index);

#endif /* SP_BENCH_HIST_H */

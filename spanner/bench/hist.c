/*
 * hist.c - see hist.h for the bucket layout and the precision it gives.
 *
 * Index of a value v >= 256 with highest set bit k (8 <= k < 40):
 *     256 + (k - 8) * 128 + ((v >> (k - 7)) - 128)
 * v >> (k - 7) lies in [128, 256), so each power of two gets 128 buckets.
 */
#include "hist.h"
#include "sp_assert.h"

#include <string.h>

_Static_assert(SP_BENCH_HIST_LINEAR == 2 * SP_BENCH_HIST_SUB,
               "the linear part must end where the first log range starts");

void sp_bench_hist_init(struct sp_bench_hist *h)
{
    SP_ASSERT(h != NULL);
    memset(h, 0, sizeof *h);
    h->min_ns = UINT64_MAX;
}

uint32_t sp_bench_hist_index(uint64_t value_ns)
{
    if (value_ns > SP_BENCH_HIST_MAX_NS)
        value_ns = SP_BENCH_HIST_MAX_NS;
    if (value_ns < SP_BENCH_HIST_LINEAR)
        return (uint32_t) value_ns;
    int k = 63 - __builtin_clzll(value_ns);
    uint32_t sub = (uint32_t) (value_ns >> (k - 7)) - SP_BENCH_HIST_SUB;
    uint32_t index = SP_BENCH_HIST_LINEAR + (uint32_t) (k - 8) * SP_BENCH_HIST_SUB + sub;
    SP_ASSERT(index < SP_BENCH_HIST_BUCKETS);
    return index;
}

uint64_t sp_bench_hist_lower_ns(uint32_t index)
{
    SP_ASSERT(index < SP_BENCH_HIST_BUCKETS);
    if (index < SP_BENCH_HIST_LINEAR)
        return index;
    uint32_t k = 8 + (index - SP_BENCH_HIST_LINEAR) / SP_BENCH_HIST_SUB;
    uint64_t sub = SP_BENCH_HIST_SUB + (index - SP_BENCH_HIST_LINEAR) % SP_BENCH_HIST_SUB;
    return sub << (k - 7);
}

uint64_t sp_bench_hist_width_ns(uint32_t index)
{
    SP_ASSERT(index < SP_BENCH_HIST_BUCKETS);
    if (index < SP_BENCH_HIST_LINEAR)
        return 1;
    uint32_t k = 8 + (index - SP_BENCH_HIST_LINEAR) / SP_BENCH_HIST_SUB;
    return UINT64_C(1) << (k - 7);
}

void sp_bench_hist_record(struct sp_bench_hist *h, uint64_t value_ns)
{
    if (value_ns > SP_BENCH_HIST_MAX_NS)
        h->overflow++;
    h->counts[sp_bench_hist_index(value_ns)]++;
    h->count++;
    h->sum_ns += (double) value_ns;
    if (value_ns < h->min_ns)
        h->min_ns = value_ns;
    if (value_ns > h->max_ns)
        h->max_ns = value_ns;
}

void sp_bench_hist_merge(struct sp_bench_hist *dst, const struct sp_bench_hist *src)
{
    SP_ASSERT(dst != NULL && src != NULL);
    for (uint32_t i = 0; i < SP_BENCH_HIST_BUCKETS; i++)
        dst->counts[i] += src->counts[i];
    dst->count += src->count;
    dst->overflow += src->overflow;
    dst->sum_ns += src->sum_ns;
    if (src->min_ns < dst->min_ns)
        dst->min_ns = src->min_ns;
    if (src->max_ns > dst->max_ns)
        dst->max_ns = src->max_ns;
}

uint64_t sp_bench_hist_percentile(const struct sp_bench_hist *h, double q)
{
    SP_ASSERT(q >= 0.0 && q <= 100.0);
    if (h->count == 0)
        return 0;
    /* ceil without libm; the small epsilon keeps 99.9% of 1000 at 999. */
    double exact = q / 100.0 * (double) h->count - 1e-9;
    uint64_t rank = (uint64_t) exact;
    if ((double) rank < exact)
        rank++;
    if (rank < 1)
        rank = 1;
    uint64_t seen = 0;
    for (uint32_t i = 0; i < SP_BENCH_HIST_BUCKETS; i++) {
        seen += h->counts[i];
        if (seen >= rank) {
            uint64_t mid = sp_bench_hist_lower_ns(i) + sp_bench_hist_width_ns(i) / 2;
            if (mid < h->min_ns)
                mid = h->min_ns;
            if (mid > h->max_ns)
                mid = h->max_ns;
            return mid;
        }
    }
    SP_ASSERT(0 && "counts do not add up to count");
    return h->max_ns;
}

double sp_bench_hist_mean_ns(const struct sp_bench_hist *h)
{
    return h->count ? h->sum_ns / (double) h->count : 0.0;
}

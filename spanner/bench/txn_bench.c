/*
 * spanner-2pc-bench - commit latency of read-write transactions that write
 * one key in each of N groups (N = 1: a single-group commit, one Paxos
 * write; N > 1: two-phase commit across N groups), against a running
 * cluster, one client. Prints p50/p99, mean, and the share of latency the
 * coordinator held the reply for commit wait. The reference is Spanner's
 * Table 4 (17.0 ms mean for 1 participant, 30.0 ms for 10, across zones).
 * A benchmark: it prints figures and asserts nothing about them.
 *
 *   spanner-2pc-bench --cluster DIR [--participants 1,2,5,10] [--txns N]
 */
#include "procs.h"
#include "client_int.h"
#include "txn_load.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TXNS_MAX 100000

static int cmp_ll(const void *a, const void *b)
{
    long long x = *(const long long *) a, y = *(const long long *) b;
    return (x > y) - (x < y);
}

/* One transaction writing a key in each of the first n groups (txn_load.h
 * places them). */
static int one_txn(struct sp_client *c, int n, int i, struct sp_commit_info *info,
                   struct sp_err *err)
{
    char suffix[32], val[32];
    int sl = snprintf(suffix, sizeof suffix, "2pc-%d", i % 100);
    int vl = snprintf(val, sizeof val, "v%d", i);
    return sp__load_groups_txn(c, (uint32_t) n, suffix, (size_t) sl, val, (size_t) vl, info, err);
}

static void measure(struct sp_client *c, int n, int txns)
{
    static long long lat[TXNS_MAX];
    long long wait_sum = 0, lat_sum = 0;
    int ok = 0, failed = 0;
    for (int i = 0; i < txns; i++) {
        struct sp_commit_info info;
        struct sp_err err = {0};
        long long t0 = sp_mono_us();
        if (one_txn(c, n, i, &info, &err) != 0) {
            failed++;
            continue;
        }
        lat[ok] = sp_mono_us() - t0;
        lat_sum += lat[ok++];
        wait_sum += info.commit_wait_us;
    }
    qsort(lat, (size_t) ok, sizeof lat[0], cmp_ll);
    if (ok == 0) {
        printf("%12d %8s\n", n, "all failed");
        return;
    }
    printf("%12d %8d %10.2f %10.2f %10.2f %14.1f%% %7d\n", n, ok, lat[ok / 2] / 1000.0,
           lat[(ok * 99) / 100] / 1000.0, lat_sum / 1000.0 / ok,
           lat_sum ? 100.0 * wait_sum / lat_sum : 0.0, failed);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    const char *cluster = NULL;
    char parts[64] = "1,2,5,10";
    int txns = 200;
    static const struct option opts[] = {{"cluster", 1, 0, 'c'}, {"participants", 1, 0, 'p'},
                                         {"txns", 1, 0, 'n'},    {0, 0, 0, 0}};
    for (int o; (o = getopt_long(argc, argv, "", opts, NULL)) != -1;) {
        if (o == 'c')
            cluster = optarg;
        else if (o == 'p')
            snprintf(parts, sizeof parts, "%s", optarg);
        else if (o == 'n')
            txns = atoi(optarg);
        else
            return 2;
    }
    if (!cluster || txns < 1 || txns > TXNS_MAX) {
        fprintf(stderr, "usage: spanner-2pc-bench --cluster DIR [--participants 1,2,5,10] "
                        "[--txns 1..%d]\n", TXNS_MAX);
        return 2;
    }
    char conf[512];
    snprintf(conf, sizeof conf, "%s/cluster.conf", cluster);
    struct sp_client_options o = {.config_path = conf};
    struct sp_client *c;
    struct sp_err err = {0};
    if (sp_client_open(&o, &c, &err) != 0) {
        fprintf(stderr, "spanner-2pc-bench: %s\n", err.msg);
        return 1;
    }
    int groups = (int) sp__client_conf(c)->n_groups;
    printf("%12s %8s %10s %10s %10s %15s %7s\n", "participants", "txns", "p50 ms", "p99 ms",
           "mean ms", "commit wait", "failed");
    for (char *save, *tok = strtok_r(parts, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        int n = atoi(tok);
        if (n < 1 || n > groups) {
            fprintf(stderr, "spanner-2pc-bench: %d participants, the cluster has %d groups\n", n,
                    groups);
            continue;
        }
        measure(c, n, txns);
    }
    sp_client_close(c);
    return 0;
}

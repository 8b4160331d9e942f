/*
 * paxos-bench - replication throughput and latency of the Paxos core across
 * three paxos-node processes on loopback, fsync on (issue 3's benchmark).
 *
 *   paxos-bench [--seconds S] [--proposers 1,64] [--sizes 256,4096] [--groups G]
 *
 * Prints, next to the machine's fdatasync latency for a small append (the
 * floor of a durable write), committed entries per second and commit
 * latency p50/p99 for each (proposers, entry size). A benchmark: it prints
 * figures and asserts nothing about them.
 */
#include "plog_client.h"
#include "procs.h"
#include "sp_log.h"

#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define NODES          3
#define PROPOSERS_MAX  256
#define LAT_MAX        (1 << 20)

static int cmp_ll(const void *a, const void *b)
{
    long long x = *(const long long *) a, y = *(const long long *) b;
    return (x > y) - (x < y);
}

/* fdatasync of a small append, the floor under every durable write here. */
static void fsync_latency(const char *dir, long long *p50, long long *p99)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/fsync-probe", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    static long long lat[500];
    char buf[256];
    memset(buf, 'x', sizeof buf);
    for (int i = 0; i < 500; i++) {
        long long t0 = sp_mono_us();
        if (write(fd, buf, sizeof buf) != (ssize_t) sizeof buf || fdatasync(fd) != 0)
            break;
        lat[i] = sp_mono_us() - t0;
    }
    close(fd);
    unlink(path);
    qsort(lat, 500, sizeof lat[0], cmp_ll);
    *p50 = lat[250];
    *p99 = lat[495];
}

struct cluster {
    char dir[64];
    int ports[NODES];
    pid_t pids[NODES];
    char endpoints[256];
};

static void start_node(struct cluster *cl, const char *bin, int i, int groups)
{
    char id[16], listen[32], data[128], log[128], peers[NODES][48], g[16];
    snprintf(id, sizeof id, "%d", i + 1);
    snprintf(listen, sizeof listen, "127.0.0.1:%d", cl->ports[i]);
    snprintf(data, sizeof data, "%s/n%d", cl->dir, i + 1);
    snprintf(log, sizeof log, "%s/n%d.log", cl->dir, i + 1);
    snprintf(g, sizeof g, "%d", groups);
    char *argv[32] = {(char *) bin, "--id", id, "--listen", listen, "--data", data,
                      "--groups", g, "--lease-ms", "2000", "--tt", "backend=fixed",
                      "--tt", "fixed_eps_us=500"};
    int a = 15;
    for (int j = 0, k = 0; j < NODES; j++)
        if (j != i) {
            snprintf(peers[k], sizeof peers[k], "%d=127.0.0.1:%d", j + 1, cl->ports[j]);
            argv[a++] = "--peer";
            argv[a++] = peers[k++];
        }
    argv[a] = NULL;
    cl->pids[i] = sp_proc_spawn(argv, log);
}

struct run {
    struct plog_client *c;
    size_t size;
    int groups;
    long long end_us;
    long long *lat; /* this proposer's latencies */
    int n, failed;
};

static void *proposer(void *arg)
{
    struct run *r = arg;
    char *buf = malloc(r->size);
    memset(buf, 'v', r->size);
    unsigned seed = (unsigned) (uintptr_t) r;
    while (sp_mono_us() < r->end_us && r->n < LAT_MAX / PROPOSERS_MAX) {
        uint64_t slot;
        long long t0 = sp_mono_us();
        uint64_t group = 1 + (uint64_t) (rand_r(&seed) % r->groups);
        if (plog_propose(r->c, group, buf, r->size, 10000, &slot, NULL) == 0)
            r->lat[r->n++] = sp_mono_us() - t0;
        else
            r->failed++;
    }
    free(buf);
    return NULL;
}

static void measure(struct plog_client *c, int proposers, size_t size, int groups, int seconds,
                    int json)
{
    static long long lat[LAT_MAX];
    static struct run runs[PROPOSERS_MAX];
    pthread_t th[PROPOSERS_MAX];
    long long t0 = sp_mono_us(), end = t0 + seconds * 1000000LL;
    int per = LAT_MAX / PROPOSERS_MAX;
    for (int i = 0; i < proposers; i++) {
        runs[i] = (struct run){.c = c, .size = size, .groups = groups, .end_us = end,
                               .lat = lat + (size_t) i * per};
        pthread_create(&th[i], NULL, proposer, &runs[i]);
    }
    int total = 0, failed = 0;
    for (int i = 0; i < proposers; i++) {
        pthread_join(th[i], NULL);
        memmove(lat + total, runs[i].lat, (size_t) runs[i].n * sizeof lat[0]);
        total += runs[i].n;
        failed += runs[i].failed;
    }
    double secs = (sp_mono_us() - t0) / 1e6;
    qsort(lat, (size_t) total, sizeof lat[0], cmp_ll);
    long long p50 = total ? lat[total / 2] : 0, p99 = total ? lat[(total * 99) / 100] : 0;
    if (json)
        printf("{\"proposers\":%d,\"size\":%zu,\"groups\":%d,\"entries_per_s\":%.0f,"
               "\"p50_us\":%lld,\"p99_us\":%lld,\"failed\":%d}\n",
               proposers, size, groups, total / secs, p50, p99, failed);
    else
        printf("%10d %8zu %7d %14.0f %10.2f %10.2f %7d\n", proposers, size, groups, total / secs,
               p50 / 1000.0, p99 / 1000.0, failed);
    fflush(stdout);
}

static int parse_list(const char *s, int *out, int max)
{
    int n = 0;
    char buf[128];
    snprintf(buf, sizeof buf, "%s", s);
    for (char *save, *t = strtok_r(buf, ",", &save); t && n < max; t = strtok_r(NULL, ",", &save))
        out[n++] = atoi(t);
    return n;
}

int main(int argc, char **argv)
{
    int seconds = 5, groups = 1, json = 0;
    int props[8] = {1, 64}, sizes[8] = {256, 4096}, np = 2, ns = 2;
    static const struct option opts[] = {{"seconds", 1, 0, 's'}, {"proposers", 1, 0, 'p'},
                                         {"sizes", 1, 0, 'z'},   {"groups", 1, 0, 'g'},
                                         {"json", 0, 0, 'j'},    {0, 0, 0, 0}};
    for (int o; (o = getopt_long(argc, argv, "", opts, NULL)) != -1;) {
        if (o == 's')
            seconds = atoi(optarg);
        else if (o == 'p')
            np = parse_list(optarg, props, 8);
        else if (o == 'z')
            ns = parse_list(optarg, sizes, 8);
        else if (o == 'g')
            groups = atoi(optarg);
        else if (o == 'j')
            json = 1;
        else {
            fprintf(stderr, "usage: paxos-bench [--seconds S] [--proposers 1,64] "
                            "[--sizes 256,4096] [--groups G] [--json]\n");
            return 2;
        }
    }
    for (int i = 0; i < np; i++)
        if (props[i] < 1 || props[i] > PROPOSERS_MAX) {
            fprintf(stderr, "paxos-bench: proposers must be in 1..%d\n", PROPOSERS_MAX);
            return 2;
        }
    if (seconds < 1 || groups < 1 || groups > 64 || np == 0 || ns == 0) {
        fprintf(stderr, "paxos-bench: bad --seconds, --groups, --proposers or --sizes\n");
        return 2;
    }
    char self[PATH_MAX], bin[PATH_MAX + 16];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return 1;
    self[n] = '\0';
    snprintf(bin, sizeof bin, "%.*s/paxos-node", (int) (strrchr(self, '/') - self), self);

    struct cluster cl = {0};
    snprintf(cl.dir, sizeof cl.dir, "/tmp/paxos-bench-XXXXXX");
    if (!mkdtemp(cl.dir))
        return 1;
    long long f50, f99;
    fsync_latency(cl.dir, &f50, &f99);
    char *p = cl.endpoints;
    for (int i = 0; i < NODES; i++) {
        cl.ports[i] = sp_free_tcp_port();
        p += sprintf(p, "%s%d=127.0.0.1:%d", i ? "," : "", i + 1, cl.ports[i]);
    }
    for (int i = 0; i < NODES; i++)
        start_node(&cl, bin, i, groups);
    struct plog_client c;
    struct sp_err err = {0};
    int rc = plog_open(cl.endpoints, &c, &err);
    for (int g = 1; rc == 0 && g <= groups; g++) { /* wait for every group's leader */
        long long end = sp_mono_us() + 20000000;
        while (plog_find_leader(&c, (uint64_t) g) < 0 && sp_mono_us() < end)
            usleep(50000);
    }
    if (!json) {
        printf("paxos-bench: 3 replicas in 3 processes on loopback, fsync on, %d s per row\n",
               seconds);
        printf("fdatasync of a 256 B append: p50 %.3f ms, p99 %.3f ms\n", f50 / 1000.0,
               f99 / 1000.0);
        printf("%10s %8s %7s %14s %10s %10s %7s\n", "proposers", "bytes", "groups", "entries/s",
               "p50 ms", "p99 ms", "failed");
    } else {
        printf("{\"fdatasync_p50_us\":%lld,\"fdatasync_p99_us\":%lld}\n", f50, f99);
    }
    for (int i = 0; rc == 0 && i < np; i++)
        for (int j = 0; j < ns; j++)
            measure(&c, props[i], (size_t) sizes[j], groups, seconds, json);
    if (rc)
        fprintf(stderr, "paxos-bench: %s\n", err.msg);
    plog_close(&c);
    for (int i = 0; i < NODES; i++)
        sp_proc_stop(cl.pids[i], SIGTERM, 5000);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", cl.dir);
    if (system(cmd) != 0)
        rc = 1;
    return rc ? 1 : 0;
}

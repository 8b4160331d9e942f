/*
 * local_cluster.c - `spanner cluster up/down`: a whole cluster on loopback,
 * like `cockroach demo --global`.
 *
 * up:   writes DIR/cluster.conf (zones, nodes on free ports, key ranges
 *       split evenly over groups, every group voting in every zone, leaders
 *       spread over zones, the chosen inter-zone latencies), then forks a
 *       supervisor that detaches (setsid) and
 *         1. starts a private chronyd pair on loopback (TrueTime's source;
 *            the system clock is never touched),
 *         2. waits until that clock is synchronised,
 *         3. starts one spannerd per node,
 *         4. waits for SIGTERM, then stops the nodes and chronyd.
 *       Every child dies with the supervisor (PR_SET_PDEATHSIG), so `down`
 *       stops exactly what `up` started by signalling one pid.
 * down: SIGTERM to the supervisor, wait until it is gone.
 */
#include "local_cluster.h"
#include "config.h"
#include "procs.h"
#include "sp_log.h"
#include "truetime.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *const ZONE_NAMES[] = {"us", "eu", "asia", "sa", "au"};
#define ZONE_NAMES_N 5

struct latency_preset {
    const char *name;
    int ms[ZONE_NAMES_N][ZONE_NAMES_N]; /* one-way */
};

/* Round-trip times between real regions, halved; "global" scaled down 4x
 * so a demo runs in seconds, "global-full" as measured in the wild. */
static const struct latency_preset PRESETS[] = {
    {"none", {{0}}},
    {"regional", {{0, 2, 4, 3, 5}, {2, 0, 3, 4, 5}, {4, 3, 0, 5, 3}, {3, 4, 5, 0, 6}, {5, 5, 3, 6, 0}}},
    {"global", {{0, 10, 20, 15, 25}, {10, 0, 22, 24, 30}, {20, 22, 0, 35, 15}, {15, 24, 35, 0, 40},
                {25, 30, 15, 40, 0}}},
    {"global-full",
     {{0, 40, 80, 60, 100}, {40, 0, 90, 95, 120}, {80, 90, 0, 140, 60}, {60, 95, 140, 0, 160},
      {100, 120, 60, 160, 0}}},
};

static int latency_json(const struct sp_local_opts *o, char *out, size_t cap,
                        struct sp_err *err)
{
    size_t len = (size_t) snprintf(out, cap, "{");
    const struct latency_preset *p = NULL;
    for (size_t i = 0; i < sizeof PRESETS / sizeof PRESETS[0]; i++)
        if (strcmp(o->latency, PRESETS[i].name) == 0)
            p = &PRESETS[i];
    if (p) {
        for (int a = 0; a < o->zones; a++)
            for (int b = a + 1; b < o->zones; b++)
                len += (size_t) snprintf(out + len, cap - len, "%s\"%s-%s\": %d",
                                         len > 1 ? ", " : "", ZONE_NAMES[a], ZONE_NAMES[b],
                                         p->ms[a][b]);
    } else {
        /* "us-eu=40,us-asia=80" */
        char buf[512];
        snprintf(buf, sizeof buf, "%s", o->latency);
        for (char *save, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            char *eq = strchr(t, '=');
            if (!eq)
                return sp_err_set(err, SP_EINVAL,
                                  "--latency \"%s\": expected none, regional, global, "
                                  "global-full or ZONE-ZONE=MS,...",
                                  o->latency);
            *eq = '\0';
            len += (size_t) snprintf(out + len, cap - len, "%s\"%s\": %s", len > 1 ? ", " : "",
                                     t, eq + 1);
        }
    }
    snprintf(out + len, cap - len, "}");
    return 0;
}

/* Evenly spaced split points over the first byte of printable keys. */
static void split_point(int i, int groups, char *out)
{
    if (i == 0 || i == groups) {
        out[0] = '\0';
        return;
    }
    out[0] = (char) ('0' + (('z' - '0' + 1) * i) / groups);
    out[1] = '\0';
}

static int write_config(const struct sp_local_opts *o, const char *chrony_sock,
                        struct sp_err *err)
{
    char path[PATH_MAX], lat[2048];
    int rc = latency_json(o, lat, sizeof lat, err);
    if (rc)
        return rc;
    snprintf(path, sizeof path, "%s/cluster.conf", o->dir);
    FILE *f = fopen(path, "w");
    if (!f)
        return sp_err_set(err, SP_EIO, "cannot write %s: %s", path, strerror(errno));
    fprintf(f, "{\n  \"zones\": [");
    for (int z = 0; z < o->zones; z++)
        fprintf(f, "%s\"%s\"", z ? ", " : "", ZONE_NAMES[z]);
    fprintf(f, "],\n  \"nodes\": [\n");
    int id = 1, n = o->zones * o->nodes_per_zone;
    for (int z = 0; z < o->zones; z++)
        for (int k = 0; k < o->nodes_per_zone; k++, id++)
            fprintf(f, "    {\"id\": %d, \"zone\": \"%s\", \"addr\": \"127.0.0.1:%d\", "
                       "\"data\": \"n%d\"}%s\n",
                    id, ZONE_NAMES[z], sp_free_tcp_port(), id, id < n ? "," : "");
    fprintf(f, "  ],\n  \"groups\": [\n");
    for (int g = 0; g < o->groups; g++) {
        char lo[4], hi[4];
        split_point(g, o->groups, lo);
        split_point(g + 1, o->groups, hi);
        fprintf(f, "    {\"id\": %d, \"start\": \"%s\", \"end\": \"%s\", \"voters\": [", g + 1,
                lo, hi);
        for (int z = 0; z < o->zones; z++)
            fprintf(f, "%s\"%s\"", z ? ", " : "", ZONE_NAMES[z]);
        fprintf(f, "], \"leader\": \"%s\"}%s\n", ZONE_NAMES[g % o->zones],
                g + 1 < o->groups ? "," : "");
    }
    if (o->fixed_eps_us > 0) /* e.g. Spanner's typical 4 ms, to see commit wait at work */
        fprintf(f, "  ],\n  \"truetime\": {\"backend\": \"fixed\", \"fixed_eps_us\": %d},\n",
                o->fixed_eps_us);
    else
        fprintf(f, "  ],\n  \"truetime\": {\"backend\": \"chrony\", \"chrony_socket\": \"%s\"},\n",
                chrony_sock);
    fprintf(f, "  \"latency_ms\": %s,\n  \"lease_ms\": %d,\n  \"min_next_ms\": 100\n}\n", lat,
            o->lease_ms);
    if (fclose(f) != 0)
        return sp_err_set(err, SP_EIO, "cannot write %s", path);
    struct sp_cluster_conf *check = calloc(1, sizeof *check);
    rc = check ? sp_conf_load(path, check, err) : SP_ENOMEM; /* what we wrote must parse */
    free(check);
    return rc;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void) st;
    (void) flag;
    (void) ftw;
    return remove(path);
}

/* Removes the chronyd pair's temporary directory (configs, logs, socket). */
static void remove_tree(const char *dir)
{
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static volatile sig_atomic_t stop_requested;

static void on_term(int sig)
{
    (void) sig;
    stop_requested = 1;
}

static void on_child(int sig)
{
    (void) sig; /* only to wake pause() so dead nodes are reaped */
}

static int wait_clock(const struct tt_chrony_pair *pair)
{
    struct tt_config cfg;
    tt_chrony_pair_config(pair, &cfg);
    struct tt_clock *c;
    if (tt_clock_create(&cfg, &c, NULL) != 0)
        return -1;
    int rc = -1;
    for (int i = 0; i < 300 && !stop_requested && rc != 0; i++) {
        rc = tt_clock_status(c, NULL, 0) == TT_SYNCED ? 0 : -1;
        if (rc)
            usleep(100000);
    }
    tt_clock_destroy(c);
    return rc;
}

/* The detached supervisor: never returns. */
static void supervise(const struct sp_local_opts *o, const char *chrony_dir)
{
    char path[PATH_MAX];
    if (o->foreground) {
        /* A test's child: die with the test, whatever happens to it. */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
    } else {
        setsid();
        snprintf(path, sizeof path, "%s/supervisor.log", o->dir);
        int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
        int nul = open("/dev/null", O_RDONLY);
        dup2(nul, 0);
        dup2(fd, 1);
        dup2(fd, 2);
    }
    signal(SIGTERM, on_term);
    signal(SIGINT, on_term);
    signal(SIGCHLD, on_child);
    struct tt_chrony_pair pair;
    struct sp_err err = {0};
    if (tt_chrony_pair_start(chrony_dir, &pair, &err) != 0 || wait_clock(&pair) != 0) {
        fprintf(stderr, "supervisor: TrueTime source not ready: %s\n", err.msg);
        tt_chrony_pair_stop(&pair);
        remove_tree(chrony_dir);
        _exit(1);
    }
    int n = o->zones * o->nodes_per_zone;
    pid_t pids[SP_NODES_MAX] = {0};
    for (int i = 0; i < n; i++) {
        char id[16], conf[PATH_MAX], log[PATH_MAX];
        snprintf(id, sizeof id, "%d", i + 1);
        snprintf(conf, sizeof conf, "%s/cluster.conf", o->dir);
        snprintf(log, sizeof log, "%s/n%d.log", o->dir, i + 1);
        char *argv[] = {(char *) o->spannerd, "--config", conf, "--node", id, NULL};
        pids[i] = sp_proc_spawn(argv, log);
        snprintf(path, sizeof path, "%s/n%d.pid", o->dir, i + 1);
        FILE *pf = fopen(path, "w");
        if (pf) {
            fprintf(pf, "%d\n", (int) pids[i]);
            fclose(pf);
        }
    }
    snprintf(path, sizeof path, "%s/supervisor.pid", o->dir);
    FILE *pf = fopen(path, "w");
    if (pf) {
        fprintf(pf, "%d\n", (int) getpid());
        fclose(pf);
    }
    fprintf(stderr, "supervisor: %d nodes started\n", n);
    while (!stop_requested) {
        pause(); /* SIGCHLD of a killed node also lands here; nodes are not restarted */
        while (waitpid(-1, NULL, WNOHANG) > 0)
            ;
    }
    for (int i = 0; i < n; i++)
        sp_proc_stop(pids[i], SIGTERM, 10000);
    tt_chrony_pair_stop(&pair);
    remove_tree(chrony_dir);
    unlink(path);
    fprintf(stderr, "supervisor: stopped\n");
    _exit(0);
}

static pid_t read_pid(const char *dir, const char *name)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    int pid = 0;
    if (f) {
        if (fscanf(f, "%d", &pid) != 1)
            pid = 0;
        fclose(f);
    }
    return pid > 0 && kill(pid, 0) == 0 ? pid : 0;
}

int sp_local_up(const struct sp_local_opts *o, struct sp_err *err)
{
    if (o->zones < 1 || o->zones > ZONE_NAMES_N || o->nodes_per_zone < 1 ||
        o->zones * o->nodes_per_zone > SP_NODES_MAX || o->groups < 1 || o->groups > 16)
        return sp_err_set(err, SP_EINVAL, "cluster up: --zones 1..%d, --nodes-per-zone >= 1, "
                                          "--groups 1..16", ZONE_NAMES_N);
    if (mkdir(o->dir, 0755) != 0 && errno != EEXIST)
        return sp_err_set(err, SP_EIO, "cannot create %s: %s", o->dir, strerror(errno));
    if (read_pid(o->dir, "supervisor.pid"))
        return sp_err_set(err, SP_EINVAL, "a cluster is already running in %s (spanner cluster "
                                          "down --dir %s)", o->dir, o->dir);
    /* chronyd's socket path must be short: keep the pair under /tmp. */
    char chrony_dir[] = "/tmp/spanner-chrony-XXXXXX", sock[128];
    if (!mkdtemp(chrony_dir))
        return sp_err_set(err, SP_EIO, "mkdtemp: %s", strerror(errno));
    snprintf(sock, sizeof sock, "%s/run/chronyd.sock", chrony_dir);
    int rc = write_config(o, sock, err);
    if (rc)
        return rc;
    if (o->foreground)
        supervise(o, chrony_dir);
    pid_t pid = fork();
    if (pid < 0)
        return sp_err_set(err, SP_EIO, "fork: %s", strerror(errno));
    if (pid == 0)
        supervise(o, chrony_dir);
    for (int i = 0; i < 600; i++) { /* 60 s */
        if (read_pid(o->dir, "supervisor.pid"))
            return 0;
        if (waitpid(pid, NULL, WNOHANG) == pid)
            return sp_err_set(err, SP_EIO, "cluster up: the supervisor failed; see %s/"
                                           "supervisor.log", o->dir);
        usleep(100000);
    }
    return sp_err_set(err, SP_ETIMEDOUT, "cluster up: nodes not started after 60 s; see %s",
                      o->dir);
}

int sp_local_down(const char *dir, struct sp_err *err)
{
    pid_t pid = read_pid(dir, "supervisor.pid");
    if (!pid)
        return sp_err_set(err, SP_ENOTFOUND, "no cluster is running in %s", dir);
    kill(pid, SIGTERM);
    for (int i = 0; i < 300; i++) { /* 30 s */
        if (kill(pid, 0) != 0)
            return 0;
        usleep(100000);
    }
    kill(pid, SIGKILL); /* its children die with it (PR_SET_PDEATHSIG) */
    return 0;
}

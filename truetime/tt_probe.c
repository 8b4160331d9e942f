/*
 * tt-probe - a live look at TrueTime: starts a private chronyd pair on
 * loopback (or uses the fixed backend), prints the interval, eps and clock
 * status once a second, then shows commit waits.
 *
 *   tt-probe [--seconds N] [--backend chrony|fixed] [--fixed-eps-us E]
 *            [--chrony-socket PATH]
 *
 * With --backend chrony and no --chrony-socket it starts and stops its own
 * chronyd pair in a temporary directory.
 */
#include "truetime.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void usage(FILE *f)
{
    fprintf(f, "usage: tt-probe [--seconds N] [--backend chrony|fixed] [--fixed-eps-us E]\n"
               "                [--chrony-socket PATH]\n");
}

static void fmt_time(tt_micros t, char *buf, size_t len)
{
    time_t s = (time_t) (t / 1000000);
    struct tm tm;
    gmtime_r(&s, &tm);
    char hms[16];
    strftime(hms, sizeof hms, "%H:%M:%S", &tm);
    snprintf(buf, len, "%.8s.%06d", hms, (int) (t % 1000000));
}

static void print_now(struct tt_clock *c)
{
    struct tt_interval now;
    char reason[256], e[40], l[40];
    enum tt_status st = tt_clock_status(c, reason, sizeof reason);
    if (tt_now(c, &now) != 0) {
        printf("  TT.now() refused: status %s (%s)\n", tt_status_name(st), reason);
        return;
    }
    fmt_time(now.earliest, e, sizeof e);
    fmt_time(now.latest, l, sizeof l);
    printf("  TT.now() = [%s, %s] UTC  eps = %6lld us  status = %s (%s)\n", e, l,
           (long long) tt_interval_eps(now), tt_status_name(st), reason);
}

static int wait_synced(struct tt_clock *c, int seconds)
{
    for (int i = 0; i < seconds * 4; i++) {
        if (tt_clock_status(c, NULL, 0) == TT_SYNCED)
            return 0;
        usleep(250000);
    }
    return -1;
}

static void show_commit_waits(struct tt_clock *c)
{
    printf("\nCommit wait (Spanner §4.1.2): pick s = TT.now().latest, then wait until "
           "TT.after(s):\n");
    for (int i = 0; i < 3; i++) {
        struct tt_interval now;
        if (tt_now(c, &now) != 0)
            return;
        tt_micros waited;
        int rc = tt_commit_wait(c, now.latest, &waited);
        struct tt_interval after;
        tt_now(c, &after);
        printf("  s = %lld  waited %5lld us (2*eps = %lld us)  TT.after(s) = %s  rc = %s\n",
               (long long) now.latest, (long long) waited, (long long) (2 * tt_interval_eps(now)),
               tt_interval_after(after, now.latest) ? "true" : "false", sp_errname(rc));
    }
}

int main(int argc, char **argv)
{
    struct tt_config cfg;
    tt_config_init(&cfg);
    struct sp_err err = {0};
    int seconds = 5, own_pair = 1;
    static const struct option opts[] = {{"seconds", 1, 0, 's'},      {"backend", 1, 0, 'b'},
                                         {"fixed-eps-us", 1, 0, 'e'}, {"chrony-socket", 1, 0, 'c'},
                                         {"help", 0, 0, 'h'},         {0, 0, 0, 0}};
    for (int o; (o = getopt_long(argc, argv, "s:b:e:c:h", opts, NULL)) != -1;) {
        int rc = 0;
        if (o == 's')
            seconds = atoi(optarg);
        else if (o == 'b')
            rc = tt_config_set(&cfg, "backend", optarg, &err);
        else if (o == 'e')
            rc = tt_config_set(&cfg, "fixed_eps_us", optarg, &err);
        else if (o == 'c') {
            rc = tt_config_set(&cfg, "chrony_socket", optarg, &err);
            own_pair = 0;
        } else {
            usage(o == 'h' ? stdout : stderr);
            return o == 'h' ? 0 : 2;
        }
        if (rc) {
            fprintf(stderr, "tt-probe: %s\n", err.msg);
            return 2;
        }
    }
    if (seconds < 1 || seconds > 3600) {
        fprintf(stderr, "tt-probe: --seconds must be in [1, 3600]\n");
        return 2;
    }
    struct tt_chrony_pair pair = {0};
    char dir[] = "/tmp/tt-probe-XXXXXX";
    if (cfg.backend == TT_BACKEND_CHRONY && own_pair) {
        if (!mkdtemp(dir) || tt_chrony_pair_start(dir, &pair, &err) != 0) {
            fprintf(stderr, "tt-probe: %s\n", err.msg[0] ? err.msg : "mkdtemp failed");
            return 1;
        }
        printf("Started a private chronyd pair on loopback (server udp/%d, client socket %s)\n",
               pair.server_port, pair.socket_path);
        tt_chrony_pair_config(&pair, &cfg);
    }
    struct tt_clock *c;
    if (tt_clock_create(&cfg, &c, &err) != 0) {
        fprintf(stderr, "tt-probe: %s\n", err.msg);
        tt_chrony_pair_stop(&pair);
        return 1;
    }
    int rc = 0;
    if (cfg.backend == TT_BACKEND_CHRONY) {
        printf("Waiting for chronyd to select its source...\n");
        if (wait_synced(c, 30) != 0) {
            char reason[256];
            tt_clock_status(c, reason, sizeof reason);
            fprintf(stderr, "tt-probe: clock did not synchronise within 30 s: %s\n", reason);
            rc = 1;
        }
    }
    if (rc == 0) {
        printf("\nTrueTime, backend %s, once a second:\n",
               cfg.backend == TT_BACKEND_CHRONY ? "chrony" : "fixed");
        for (int i = 0; i < seconds; i++) {
            print_now(c);
            if (i + 1 < seconds)
                sleep(1);
        }
        show_commit_waits(c);
        struct tt_stats st;
        tt_clock_stats(c, &st);
        printf("\nstats: commit waits %llu, total %lld us, max %lld us; chrony samples ok %llu, "
               "failed %llu\n",
               (unsigned long long) st.commit_waits, (long long) st.commit_wait_us,
               (long long) st.commit_wait_max, (unsigned long long) st.samples_ok,
               (unsigned long long) st.samples_failed);
    }
    tt_clock_destroy(c);
    if (pair.server_pid) {
        tt_chrony_pair_stop(&pair);
        printf("Stopped the chronyd pair.\n");
    }
    return rc;
}

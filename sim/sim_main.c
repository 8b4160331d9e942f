/*
 * spanner-sim - the deterministic simulator: a whole cluster (zones, nodes,
 * Paxos groups, transaction managers, clients) in one thread on virtual
 * time, running the production paxos and txn cores (sim/world.c), under
 * faults, followed by the external-consistency checker (spanner-check's
 * code) over the history it wrote. See sim/README.md.
 *
 *   spanner-sim --seed 7 --txns 10000 --workload list-append --faults all
 *   spanner-sim --seeds 1..200 --txns 300 --faults all
 *
 * Exit status: 0 every seed valid, 1 a violation (the seed is printed with
 * the command that replays it), 2 bad usage.
 */
/* open_memstream and fmemopen: the build defines _GNU_SOURCE */

#include "sim.h"
#include "world.h"

#include "sp_assert.h"
#include "sp_log.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct opts {
    uint64_t seed_lo, seed_hi;
    struct w_params p; /* template; seed set per run */
    const char *history, *log;
    bool quiet;
    bool trace;
    struct w_scheduled schedule[256];
    char replay[512]; /* the options, to print a replay command */
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: spanner-sim [options]\n"
            "  --seed S              one seed (default 1)\n"
            "  --seeds A..B          every seed from A to B\n"
            "  --txns N              operations the clients start (default 1000)\n"
            "  --workload W          bank, register or list-append (default bank)\n"
            "  --faults LIST         crash,pause,partition,leader,drop,dup,reorder,slow,\n"
            "                        disk,clock,depose; all; none (default); clock-bad is\n"
            "                        the negative control (clocks outside their eps)\n"
            "  --zones Z             zones (default 3); nodes are spread over them\n"
            "  --nodes N             nodes, 3..%d (default: max(3, zones), 5 with faults)\n"
            "  --groups G            Paxos groups, 1..%d, 3 replicas each (default 3)\n"
            "  --clients C           clients, spread over the zones (default 8)\n"
            "  --keys K              register/list-append keys in use (default 8)\n"
            "  --accounts A          bank accounts (default 8)\n"
            "  --ro-pct P            share of read-only transactions (default 30)\n"
            "  --stale-pct P         share of those that are stale snapshot reads (default 20)\n"
            "  --eps-us E            TrueTime uncertainty (default 2000)\n"
            "  --wan-us L            one-way latency between zones (default 1000)\n"
            "  --schedule LIST       faults at fixed virtual times, besides --faults:\n"
            "                        e.g. 300ms:crash:2,1s:partition,1500ms:leader:1\n"
            "  --no-commit-wait      negative control: acknowledge commits at once\n"
            "  --read-lease-check-off  negative control: a leader serves single-group\n"
            "                        strong reads without checking its lease\n"
            "  --client-guesses-aborted  negative control: a commit with no answer is\n"
            "                        taken as aborted and the transaction run again\n"
            "  --history FILE        write the history (for --seeds: the first failing seed's)\n"
            "  --log FILE            write the fault/event log (deterministic per seed)\n"
            "  --quiet               one line per seed\n"
            "  --trace               every node step and client reply, to stderr\n",
            W_NODES_MAX, W_GROUPS_MAX);
}

static int num(const char *name, const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-' || v < lo || v > hi) {
        fprintf(stderr, "spanner-sim: %s: \"%s\" is not a number in %" PRIu64 "..%" PRIu64 "\n",
                name, s, lo, hi);
        return -1;
    }
    *out = v;
    return 0;
}

static int parse(int argc, char **argv, struct opts *o)
{
    static const struct option lo[] = {
        {"seed", 1, 0, 's'},      {"seeds", 1, 0, 'S'},     {"txns", 1, 0, 'n'},
        {"workload", 1, 0, 'w'},  {"faults", 1, 0, 'f'},    {"zones", 1, 0, 'z'},
        {"nodes", 1, 0, 'N'},     {"groups", 1, 0, 'g'},    {"clients", 1, 0, 'c'},
        {"keys", 1, 0, 'k'},      {"accounts", 1, 0, 'a'},  {"ro-pct", 1, 0, 'r'},
        {"stale-pct", 1, 0, 't'}, {"eps-us", 1, 0, 'e'},    {"wan-us", 1, 0, 'W'},
        {"no-commit-wait", 0, 0, 'C'}, {"history", 1, 0, 'H'}, {"log", 1, 0, 'L'},
        {"quiet", 0, 0, 'q'},     {"help", 0, 0, 'h'},      {"trace", 0, 0, 'T'},
        {"schedule", 1, 0, 'F'},  {"read-lease-check-off", 0, 0, 'R'},
        {"client-guesses-aborted", 0, 0, 'G'},
        {0, 0, 0, 0}};
    struct w_params *p = &o->p;
    w_params_init(p, 1);
    p->zones = 3;
    p->groups = 3;
    p->clients = 8;
    p->accounts = 8;
    p->keys = 8;
    p->txns = 1000;
    p->lease_us = 300 * 1000;
    p->init_accounts = true;
    p->no_inline_checks = true;
    o->seed_lo = o->seed_hi = 1;
    uint64_t nodes = 0, v;
    size_t rl = 0;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        if (c == '?' || c == ':') {
            fprintf(stderr, "spanner-sim: unknown option or missing value: %s\n",
                    argv[optind - 1]);
            return 2;
        }
        switch (c) {
        case 's':
            if (num("--seed", optarg, 0, UINT64_MAX, &v))
                return 2;
            o->seed_lo = o->seed_hi = v;
            break;
        case 'S': {
            const char *dots = strstr(optarg, "..");
            char a[32];
            if (dots == NULL || (size_t) (dots - optarg) >= sizeof a) {
                fprintf(stderr, "spanner-sim: --seeds: \"%s\" is not A..B\n", optarg);
                return 2;
            }
            memcpy(a, optarg, (size_t) (dots - optarg));
            a[dots - optarg] = '\0';
            if (num("--seeds", a, 0, UINT64_MAX, &o->seed_lo) ||
                num("--seeds", dots + 2, o->seed_lo, UINT64_MAX, &o->seed_hi))
                return 2;
            break;
        }
        case 'n':
            if (num("--txns", optarg, 1, 10u * 1000 * 1000, &p->txns))
                return 2;
            break;
        case 'w': {
            int wl = sim_workload_parse(optarg);
            if (wl == SIM_WORKLOAD_BANK)
                p->workload = W_BANK;
            else if (wl == SIM_WORKLOAD_REGISTER)
                p->workload = W_REGISTER;
            else if (wl == SIM_WORKLOAD_LIST_APPEND)
                p->workload = W_LIST_APPEND;
            else {
                fprintf(stderr,
                        "spanner-sim: --workload: \"%s\" is not bank, register or list-append\n",
                        optarg);
                return 2;
            }
            break;
        }
        case 'f': {
            char bad[64];
            if (w_faults_parse(optarg, &p->faults, bad, sizeof bad)) {
                fprintf(stderr, "spanner-sim: --faults: unknown fault \"%s\" (known: crash, "
                                "pause, partition, leader, drop, dup, reorder, slow, disk, clock, "
                                "depose, clock-bad, all, none)\n",
                        bad);
                return 2;
            }
            break;
        }
        case 'z':
            if (num("--zones", optarg, 1, W_NODES_MAX, &v))
                return 2;
            p->zones = (uint32_t) v;
            break;
        case 'N':
            if (num("--nodes", optarg, 3, W_NODES_MAX, &nodes))
                return 2;
            break;
        case 'g':
            if (num("--groups", optarg, 1, W_GROUPS_MAX, &v))
                return 2;
            p->groups = (uint32_t) v;
            break;
        case 'c':
            if (num("--clients", optarg, 1, W_CLIENTS_MAX, &v))
                return 2;
            p->clients = (uint32_t) v;
            break;
        case 'k':
            if (num("--keys", optarg, 1, 1000000, &v))
                return 2;
            p->keys = (uint32_t) v;
            break;
        case 'a':
            if (num("--accounts", optarg, 2, W_ACCOUNTS_MAX, &v))
                return 2;
            p->accounts = (uint32_t) v;
            break;
        case 'r':
            if (num("--ro-pct", optarg, 0, 100, &v))
                return 2;
            p->ro_pct = (uint32_t) v;
            break;
        case 't':
            if (num("--stale-pct", optarg, 0, 100, &v))
                return 2;
            p->stale_pct = (uint32_t) v;
            break;
        case 'e':
            if (num("--eps-us", optarg, 1, 1000 * 1000, &v))
                return 2;
            p->eps_us = (tt_micros) v;
            break;
        case 'W':
            if (num("--wan-us", optarg, 0, 1000 * 1000, &v))
                return 2;
            p->lat_wan_us = (tt_micros) v;
            break;
        case 'C':
            p->commit_wait_off = true;
            break;
        case 'R':
            p->read_lease_check_off = true;
            break;
        case 'G':
            p->client_guesses = true;
            break;
        case 'H':
            o->history = optarg;
            break;
        case 'L':
            o->log = optarg;
            break;
        case 'q':
            o->quiet = true;
            break;
        case 'T':
            p->verbose = true;
            break;
        case 'F': {
            char bad[96];
            if (w_schedule_parse(optarg, o->schedule, 256, &p->schedule_n, bad, sizeof bad)) {
                fprintf(stderr,
                        "spanner-sim: --schedule: \"%s\" is not TIME:FAULT[:NODE] (TIME in us, "
                        "ms or s; NODE 1-based, a group for leader; at most 256 items)\n",
                        bad);
                return 2;
            }
            p->schedule = o->schedule;
            break;
        }
        case 'h':
            usage(stdout);
            exit(0);
        }
    }
    if (optind < argc) {
        fprintf(stderr, "spanner-sim: unexpected argument \"%s\"\n", argv[optind]);
        return 2;
    }
    if (nodes == 0)
        nodes = p->zones > 3 ? p->zones : (p->faults ? 5 : 3);
    p->nodes = (uint32_t) nodes;
    if (p->keys < 3 && p->workload != W_BANK) {
        fprintf(stderr, "spanner-sim: --keys: at least 3 for %s\n",
                p->workload == W_REGISTER ? "register" : "list-append");
        return 2;
    }
    /* The replay command: every option but the seed and the outputs. */
    o->replay[0] = '\0';
    rl = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool skip = strcmp(a, "--seed") == 0 || strcmp(a, "--seeds") == 0 ||
                    strcmp(a, "--history") == 0 || strcmp(a, "--log") == 0;
        if (skip) {
            i++;
            continue;
        }
        if (strncmp(a, "--seed=", 7) == 0 || strncmp(a, "--seeds=", 8) == 0 ||
            strncmp(a, "--history=", 10) == 0 || strncmp(a, "--log=", 6) == 0 ||
            strcmp(a, "--quiet") == 0 || strcmp(a, "--trace") == 0)
            continue;
        if (rl < sizeof o->replay)
            rl += (size_t) snprintf(o->replay + rl, sizeof o->replay - rl, " %s", a);
    }
    return 0;
}

static double wall_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double) t.tv_sec + (double) t.tv_nsec / 1e9;
}

static enum sim_workload check_workload(enum w_workload w)
{
    return w == W_BANK ? SIM_WORKLOAD_BANK
                       : w == W_REGISTER ? SIM_WORKLOAD_REGISTER : SIM_WORKLOAD_LIST_APPEND;
}

/*
 * An assertion that fails inside the paxos or txn core would abort a real
 * node: a broken invariant, caught where it breaks (e.g. a commit below a
 * timestamp already served, when clocks leave their bound). The simulator
 * turns it into a violation of the seed and checks the history written up
 * to there. The world of that seed is abandoned, not freed. A failed
 * assertion in the simulator itself still aborts.
 */
static jmp_buf invariant_env;
static char invariant_msg[256];
/* Abandoned worlds stay reachable (leak checkers then do not count them). */
static struct w_world *abandoned[4096];
static size_t abandoned_n;

static void on_assert(int result, const char *expr, const char *file, int line)
{
    (void) result;
    const char *base = strrchr(file, '/');
    base = base ? base + 1 : file;
    if (strcmp(base, "world.c") == 0 || strcmp(base, "sim_main.c") == 0)
        return; /* the simulator's own bug: log and abort */
    snprintf(invariant_msg, sizeof invariant_msg, "core invariant failed at %s:%d: %s", base, line,
             expr);
    longjmp(invariant_env, 1);
}

struct result {
    int rc;        /* 0, SP_ESIM_VIOLATION, or an input error of the check */
    char *hist;    /* the history (owned) */
    size_t hist_len;
    uint64_t txns; /* transactions in the history */
    double wall;
};

/* Runs one seed: the world, then the checker over its history. */
static struct result run_seed(const struct opts *o, uint64_t seed, FILE *log)
{
    struct result res = {0};
    struct w_params p = o->p;
    p.seed = seed;
    p.log = log;
    if (getenv("SIM_VERBOSE") != NULL) /* the same as --trace */
        p.verbose = true;
    FILE *hf = open_memstream(&res.hist, &res.hist_len);
    if (hf == NULL) {
        fprintf(stderr, "spanner-sim: open_memstream: %s\n", strerror(errno));
        exit(2);
    }
    p.history = hf;
    double t0 = wall_s();
    struct w_world *volatile w = w_world_create(&p);
    int rc = 0;
    char world_why[512];
    struct w_stats st;
    if (setjmp(invariant_env) == 0) {
        while (rc == 0 && w_world_stats(w)->ops_started < p.txns)
            rc = w_world_run_until(w, w_world_now(w) + 100 * 1000);
        if (rc == 0)
            rc = w_world_settle(w, 30 * 1000 * 1000);
        st = *w_world_stats(w);
        snprintf(world_why, sizeof world_why, "%s",
                 w_world_violation(w) ? w_world_violation(w) : "");
        w_world_destroy(w);
    } else {
        st = *w_world_stats(w); /* w is abandoned: its state is mid-step */
        if (abandoned_n < sizeof abandoned / sizeof abandoned[0])
            abandoned[abandoned_n++] = w;
        w_world_flush_history(w);
        snprintf(world_why, sizeof world_why, "%s (at virtual time %lld)", invariant_msg,
                 (long long) w_world_now(w));
        rc = SP_ESIM_VIOLATION;
    }
    fclose(hf);

    /* The checker, over the history as written. */
    struct sim_history *h = NULL;
    struct sim_report *r = NULL;
    struct sp_err err = {0};
    FILE *in = fmemopen(res.hist, res.hist_len ? res.hist_len : 1, "r");
    int crc = in ? sim_history_load(in, &h, &err) : SP_EIO;
    if (in)
        fclose(in);
    if (crc == 0) {
        struct sim_check_options co = {.workload = check_workload(p.workload)};
        if (p.workload == W_BANK) {
            co.bank_total_set = true;
            co.bank_total = (int64_t) p.accounts * p.balance;
        }
        crc = sim_check(h, &co, &r, &err);
        res.txns = sim_history_size(h);
    }
    res.wall = wall_s() - t0;

    uint64_t rw = st.commits_ok + st.commits_unknown + st.aborts;
    if (o->quiet) {
        printf("seed %" PRIu64 ": %s, %" PRIu64 " txns, %u faults, %.0f txns/wall-s\n", seed,
               rc || crc ? "VIOLATION" : "valid", res.txns,
               st.crashes + st.partitions + st.pauses + st.clock_faults + st.clock_bad +
                   st.net_faults + st.disk_faults + st.deposed,
               res.wall > 0 ? (double) res.txns / res.wall : 0.0);
    } else {
        char fb[160];
        printf("seed %" PRIu64 ": %" PRIu64 " read-write (%u committed, %u of them 2PC; %u "
               "unknown; %u aborted), %u read-only (%u failed)\n",
               seed, rw, st.commits_ok, st.commits_2pc_ok, st.commits_unknown, st.aborts,
               st.ro_ok + st.ro_failed, st.ro_failed);
        printf("  faults (%s): %u crashes (%u leader kills), %u partitions, %u deposed "
               "leaders, %u pauses, %u network windows, %u slow disks, %u torn writes, %u "
               "clock steps, %u clocks outside eps; %" PRIu64 " of %" PRIu64
               " messages dropped, %" PRIu64 " duplicated\n",
               w_faults_format(p.faults, fb, sizeof fb), st.crashes, st.leader_kills,
               st.partitions, st.deposed, st.pauses, st.net_faults, st.disk_faults, st.garbled,
               st.clock_faults, st.clock_bad, st.msgs_dropped, st.msgs_sent, st.msgs_duplicated);
        printf("  %u Paxos log truncations; virtual time %.3f s, wall time %.3f s, %.0f "
               "transactions per wall-second\n",
               st.truncations, (double) (st.end_us - 1000 * 1000 * 1000) / 1e6, res.wall,
               res.wall > 0 ? (double) res.txns / res.wall : 0.0);
    }
    if (rc) {
        printf("  simulation: %s\n", world_why);
        res.rc = SP_ESIM_VIOLATION;
    }
    if (crc == SP_ESIM_VIOLATION || (crc == 0 && !o->quiet) || (crc == 0 && rc)) {
        if (!o->quiet || crc)
            sim_report_print(r, stdout);
    } else if (crc) {
        printf("  checker: cannot check the history: %s\n", err.msg);
    }
    if (crc)
        res.rc = crc == SP_ESIM_VIOLATION ? SP_ESIM_VIOLATION : crc;
    sim_report_free(r);
    sim_history_free(h);
    return res;
}

static int write_file(const char *path, const char *buf, size_t len)
{
    FILE *f = fopen(path, "w");
    if (f == NULL || fwrite(buf, 1, len, f) != len || fclose(f) != 0) {
        fprintf(stderr, "spanner-sim: %s: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct opts o;
    memset(&o, 0, sizeof o);
    int rc = parse(argc, argv, &o);
    if (rc)
        return rc;
    sp_log_level = SP_LOG_ERROR; /* the cores' own logs stay quiet unless SP_LOG says */
    if (getenv("SP_LOG") != NULL)
        sp_log_level_from_env();
    sp_assert_set_handler(on_assert);
    FILE *log = NULL;
    if (o.log && (log = fopen(o.log, "w")) == NULL) {
        fprintf(stderr, "spanner-sim: %s: %s\n", o.log, strerror(errno));
        return 2;
    }
    char fb[160];
    printf("spanner-sim: seeds %" PRIu64 "..%" PRIu64 ", %" PRIu64
           " txns each, workload %s, %u zones, %u nodes, %u groups, %u clients, faults %s%s%s%s\n",
           o.seed_lo, o.seed_hi, o.p.txns, sim_workload_name(check_workload(o.p.workload)),
           o.p.zones, o.p.nodes, o.p.groups, o.p.clients, w_faults_format(o.p.faults, fb, sizeof fb),
           o.p.commit_wait_off ? ", commit wait OFF" : "",
           o.p.read_lease_check_off ? ", read lease check OFF" : "",
           o.p.client_guesses ? ", client guesses aborted" : "");
    uint64_t seeds = 0, bad = 0, txns = 0, first_bad = 0;
    double wall = 0;
    bool saved = false;
    for (uint64_t s = o.seed_lo;; s++) {
        struct result r = run_seed(&o, s, log);
        seeds++;
        txns += r.txns;
        wall += r.wall;
        if (r.rc) {
            if (bad++ == 0)
                first_bad = s;
            printf("  VIOLATION at seed %" PRIu64 "; replay: spanner-sim --seed %" PRIu64
                   "%s --history FILE\n",
                   s, s, o.replay);
        }
        if (o.history && !saved && (r.rc || s == o.seed_hi)) {
            if (write_file(o.history, r.hist, r.hist_len))
                return 2;
            saved = true;
        }
        free(r.hist);
        if (s == o.seed_hi)
            break;
    }
    if (log)
        fclose(log);
    if (seeds > 1 || bad)
        printf("%" PRIu64 " seeds, %" PRIu64 " transactions, %.1f s wall (%.0f txns/wall-s): %" PRIu64
               " with violations%s",
               seeds, txns, wall, wall > 0 ? (double) txns / wall : 0.0, bad,
               bad ? ", first at seed " : "\n");
    if (bad)
        printf("%" PRIu64 "\n", first_bad);
    printf("verdict: %s\n", bad ? "INVALID" : "valid");
    return bad ? 1 : 0;
}

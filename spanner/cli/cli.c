/*
 * spanner - the command-line client.
 *
 *   spanner cluster up --dir D [--zones N] [--nodes-per-zone N] [--groups N]
 *                      [--latency none|regional|global|global-full|Z-Z=MS,...]
 *                      [--lease-ms L]
 *   spanner cluster down --dir D
 *   spanner status [--json]
 *   spanner put KEY VALUE
 *   spanner get KEY [--strong | --stale DURATION | --at TS]
 *   spanner delete KEY
 *   spanner scan START [END] [--limit N] [--strong | --stale DURATION | --at TS]
 *   spanner shell [--json] [--history FILE]
 *
 * Every client command takes --cluster D (a local cluster's directory) or
 * --endpoints HOST:PORT,..., and --zone Z (the client's zone). Errors go to
 * stderr and the exit status is non-zero.
 */
#include "client_int.h"
#include "local_cluster.h"
#include "shell.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct cli {
    const char *cluster, *endpoints, *zone;
    bool json, strong;
    uint64_t limit;
    sp_micros stale_us, at_ts;
    const char *history;
    struct sp_local_opts up;
    char conf_path[PATH_MAX];
    char spannerd[PATH_MAX];
};

static void usage(FILE *f)
{
    fputs("usage:\n"
          "  spanner cluster up --dir D [--zones N] [--nodes-per-zone N] [--groups N]\n"
          "                     [--latency none|regional|global|global-full|Z-Z=MS,...]\n"
          "                     [--lease-ms L] [--fixed-eps-us E] [--foreground]\n"
          "  spanner cluster down --dir D\n"
          "  spanner status [--json]\n"
          "  spanner put KEY VALUE\n"
          "  spanner get KEY [--strong | --stale DURATION | --at TIMESTAMP_US]\n"
          "  spanner delete KEY\n"
          "  spanner scan START [END] [--limit N] [--strong | --stale DURATION | --at TS]\n"
          "  spanner shell [--json] [--history FILE]\n"
          "  spanner bench [--cluster DIR] [spanner-bench options: --workload, --clients, ...]\n"
          "client options: --cluster DIR | --endpoints HOST:PORT,...  [--zone ZONE]\n"
          "durations: 500ms, 5s, 2m; timestamps: microseconds since the Unix epoch\n"
          "TrueTime: a private chronyd pair, or --fixed-eps-us E (system clock +- E us)\n",
          f);
}

static int parse_duration(const char *s, sp_micros *out)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || v < 0)
        return -1;
    double mult = strcmp(end, "ms") == 0  ? 1e3
                  : strcmp(end, "s") == 0 ? 1e6
                  : strcmp(end, "m") == 0 ? 60e6
                  : strcmp(end, "us") == 0 ? 1
                                           : -1;
    if (mult < 0)
        return -1;
    *out = (sp_micros) (v * mult);
    return 0;
}

static int parse_args(int argc, char **argv, struct cli *c)
{
    static const struct option opts[] = {
        {"cluster", 1, 0, 'c'}, {"endpoints", 1, 0, 'e'}, {"zone", 1, 0, 'z'},
        {"json", 0, 0, 'j'},    {"strong", 0, 0, 's'},    {"stale", 1, 0, 'S'},
        {"at", 1, 0, 'a'},      {"history", 1, 0, 'H'},   {"dir", 1, 0, 'd'},
        {"zones", 1, 0, 'Z'},   {"nodes-per-zone", 1, 0, 'n'}, {"groups", 1, 0, 'g'},
        {"latency", 1, 0, 'l'}, {"lease-ms", 1, 0, 'L'},  {"help", 0, 0, 'h'},
        {"foreground", 0, 0, 'F'}, {"fixed-eps-us", 1, 0, 'E'}, {"limit", 1, 0, 'N'},
        {0, 0, 0, 0}};
    for (int o; (o = getopt_long(argc, argv, "+", opts, NULL)) != -1;) {
        char *end = NULL;
        switch (o) {
        case 'c': c->cluster = optarg; break;
        case 'e': c->endpoints = optarg; break;
        case 'z': c->zone = optarg; break;
        case 'j': c->json = true; break;
        case 's': c->strong = true; break;
        case 'H': c->history = optarg; break;
        case 'd': c->up.dir = optarg; c->cluster = optarg; break;
        case 'l': c->up.latency = optarg; break;
        case 'S':
            if (parse_duration(optarg, &c->stale_us)) {
                fprintf(stderr, "spanner: --stale \"%s\": expected a duration like 5s\n", optarg);
                return -1;
            }
            break;
        case 'a':
            c->at_ts = strtoll(optarg, &end, 10);
            if (*end || c->at_ts <= 0) {
                fprintf(stderr, "spanner: --at \"%s\": expected microseconds since the epoch\n",
                        optarg);
                return -1;
            }
            break;
        case 'Z': c->up.zones = atoi(optarg); break;
        case 'n': c->up.nodes_per_zone = atoi(optarg); break;
        case 'g': c->up.groups = atoi(optarg); break;
        case 'L': c->up.lease_ms = atoi(optarg); break;
        case 'F': c->up.foreground = true; break;
        case 'E': c->up.fixed_eps_us = atoi(optarg); break;
        case 'N': c->limit = strtoull(optarg, NULL, 10); break;
        case 'h': usage(stdout); exit(0);
        default: return -1;
        }
    }
    return 0;
}

static int open_client(struct cli *c, struct sp_client **out)
{
    struct sp_client_options o = {.zone = c->zone};
    if (c->endpoints) {
        o.endpoints = c->endpoints;
    } else if (c->cluster) {
        snprintf(c->conf_path, sizeof c->conf_path, "%s/cluster.conf", c->cluster);
        o.config_path = c->conf_path;
    } else {
        fprintf(stderr, "spanner: give --cluster DIR or --endpoints HOST:PORT,...\n");
        return 2;
    }
    struct sp_err err = {0};
    if (sp_client_open(&o, out, &err) != 0) {
        fprintf(stderr, "spanner: %s\n", err.msg);
        return 1;
    }
    return 0;
}

/* ---- status ------------------------------------------------------------------ */

struct view {
    uint32_t leader[SP_GROUPS_MAX];
    int64_t lease_us[SP_GROUPS_MAX];  /* left on the leader's lease */
    uint64_t commit[SP_GROUPS_MAX];   /* the leader's commit index */
    Spanner__Txn__StatusReply *st[SP_NODES_MAX];
};

static void gather(struct sp_client *cl, struct view *v)
{
    const struct sp_cluster_conf *conf = sp__client_conf(cl);
    memset(v, 0, sizeof *v);
    for (uint32_t i = 0; i < conf->n_nodes; i++) {
        if (sp__client_status(cl, i, &v->st[i], NULL) != 0)
            continue;
        for (size_t g = 0; g < v->st[i]->n_groups; g++)
            for (uint32_t k = 0; k < conf->n_groups; k++)
                if (conf->groups[k].id == v->st[i]->groups[g]->group &&
                    v->st[i]->groups[g]->is_leader) {
                    v->leader[k] = v->st[i]->node;
                    v->lease_us[k] = v->st[i]->groups[g]->lease_remaining_us;
                    v->commit[k] = v->st[i]->groups[g]->commit;
                }
    }
}

static void release(struct view *v)
{
    for (uint32_t i = 0; i < SP_NODES_MAX; i++)
        if (v->st[i])
            spanner__txn__status_reply__free_unpacked(v->st[i], NULL);
}

static json_t *status_json(const struct sp_cluster_conf *conf, const struct view *v)
{
    json_t *root = json_object(), *groups = json_array(), *nodes = json_array();
    for (uint32_t k = 0; k < conf->n_groups; k++) {
        const struct sp_node_conf *ln = sp_conf_node(conf, v->leader[k]);
        json_t *g = json_pack("{s:I, s:s, s:s, s:i}", "group", (json_int_t) conf->groups[k].id,
                              "start", conf->groups[k].start, "end", conf->groups[k].end,
                              "leader", (int) v->leader[k]);
        json_object_set_new(g, "leader_zone", ln ? json_string(conf->zones[ln->zone]) : json_null());
        json_object_set_new(g, "lease_remaining_us", json_integer(v->lease_us[k]));
        json_object_set_new(g, "commit", json_integer((json_int_t) v->commit[k]));
        json_t *reps = json_array();
        for (uint32_t i = 0; i < conf->n_nodes; i++)
            for (size_t x = 0; v->st[i] && x < v->st[i]->n_groups; x++) {
                const Spanner__Txn__GroupStatus *gs = v->st[i]->groups[x];
                if (gs->group == conf->groups[k].id)
                    json_array_append_new(
                        reps, json_pack("{s:i, s:b, s:I, s:I, s:i, s:I, s:I}", "node",
                                        (int) v->st[i]->node, "leader", gs->is_leader,
                                        "safe_time", (json_int_t) gs->safe_time, "safe_lag_us",
                                        (json_int_t) gs->safe_lag_us, "prepared",
                                        (int) gs->prepared, "applied", (json_int_t) gs->applied,
                                        "lag_slots",
                                        (json_int_t) (v->commit[k] > gs->applied
                                                          ? v->commit[k] - gs->applied
                                                          : 0)));
            }
        json_object_set_new(g, "replicas", reps);
        json_array_append_new(groups, g);
    }
    for (uint32_t i = 0; i < conf->n_nodes; i++) {
        json_t *n = json_pack("{s:i, s:s, s:s}", "node", (int) conf->nodes[i].id, "zone",
                              conf->zones[conf->nodes[i].zone], "addr", conf->nodes[i].addr);
        json_object_set_new(n, "up", json_boolean(v->st[i] != NULL));
        if (v->st[i]) {
            json_object_set_new(n, "clock", json_string(v->st[i]->clock_status));
            json_object_set_new(n, "eps_us", json_integer(v->st[i]->eps_us));
        }
        json_array_append_new(nodes, n);
    }
    json_object_set_new(root, "groups", groups);
    json_object_set_new(root, "nodes", nodes);
    return root;
}

static void status_table(const struct sp_cluster_conf *conf, const struct view *v)
{
    printf("%-6s %-10s %-7s %-6s %-9s %s\n", "group", "range", "leader", "zone", "lease ms",
           "replicas (node: slots behind, safe-time lag ms, prepared)");
    for (uint32_t k = 0; k < conf->n_groups; k++) {
        const struct sp_node_conf *ln = sp_conf_node(conf, v->leader[k]);
        char range[2 * SP_KEY_MAX + 8];
        snprintf(range, sizeof range, "[%s,%s)", conf->groups[k].start,
                 conf->groups[k].end[0] ? conf->groups[k].end : "inf");
        char leader[16] = "none";
        if (ln)
            snprintf(leader, sizeof leader, "%u", v->leader[k]);
        printf("%-6llu %-10s %-7s %-6s %-9.0f", (unsigned long long) conf->groups[k].id, range,
               leader, ln ? conf->zones[ln->zone] : "-", v->lease_us[k] / 1000.0);
        for (uint32_t i = 0; i < conf->n_nodes; i++)
            for (size_t x = 0; v->st[i] && x < v->st[i]->n_groups; x++)
                if (v->st[i]->groups[x]->group == conf->groups[k].id) {
                    const Spanner__Txn__GroupStatus *gs = v->st[i]->groups[x];
                    printf(" %u:%llu,%.1f,%u", v->st[i]->node,
                           (unsigned long long) (v->commit[k] > gs->applied
                                                     ? v->commit[k] - gs->applied
                                                     : 0),
                           gs->safe_lag_us / 1000.0, gs->prepared);
                }
        printf("\n");
    }
    printf("\n%-6s %-6s %-22s %-8s %s\n", "node", "zone", "address", "eps us", "clock");
    for (uint32_t i = 0; i < conf->n_nodes; i++) {
        const struct sp_node_conf *n = &conf->nodes[i];
        if (!v->st[i])
            printf("%-6u %-6s %-22s %-8s %s\n", n->id, conf->zones[n->zone], n->addr, "-", "DOWN");
        else
            printf("%-6u %-6s %-22s %-8lld %s\n", n->id, conf->zones[n->zone], n->addr,
                   (long long) v->st[i]->eps_us, v->st[i]->clock_status);
    }
}

static int cmd_status(struct cli *c)
{
    struct sp_client *cl;
    int rc = open_client(c, &cl);
    if (rc)
        return rc;
    static struct view v;
    gather(cl, &v);
    const struct sp_cluster_conf *conf = sp__client_conf(cl);
    if (c->json) {
        json_t *j = status_json(conf, &v);
        char *s = json_dumps(j, JSON_COMPACT);
        printf("%s\n", s);
        free(s);
        json_decref(j);
    } else {
        status_table(conf, &v);
    }
    release(&v);
    sp_client_close(cl);
    return 0;
}

/* ---- cluster up / down -------------------------------------------------------- */

static int await_leaders(struct cli *c, int timeout_s)
{
    struct sp_client *cl;
    if (open_client(c, &cl) != 0)
        return 1;
    static struct view v;
    int missing = -1;
    for (int i = 0; i < timeout_s * 5 && missing != 0; i++) {
        gather(cl, &v);
        missing = 0;
        for (uint32_t k = 0; k < sp__client_conf(cl)->n_groups; k++)
            missing += v.leader[k] == 0;
        release(&v);
        if (missing)
            usleep(200000);
    }
    sp_client_close(cl);
    return missing ? 1 : 0;
}

static int cmd_cluster(struct cli *c, int argc, char **argv)
{
    if (argc < 1 || !c->up.dir) {
        fprintf(stderr, "spanner: cluster up|down --dir DIR\n");
        return 2;
    }
    struct sp_err err = {0};
    if (strcmp(argv[0], "down") == 0) {
        if (sp_local_down(c->up.dir, &err) != 0) {
            fprintf(stderr, "spanner: %s\n", err.msg);
            return 1;
        }
        printf("cluster in %s stopped\n", c->up.dir);
        return 0;
    }
    if (strcmp(argv[0], "up") != 0) {
        fprintf(stderr, "spanner: cluster: unknown command \"%s\" (up, down)\n", argv[0]);
        return 2;
    }
    c->up.spannerd = c->spannerd;
    if (sp_local_up(&c->up, &err) != 0) {
        fprintf(stderr, "spanner: %s\n", err.msg);
        return 1;
    }
    if (await_leaders(c, 60) != 0) {
        fprintf(stderr, "spanner: not every group elected a leader within 60 s; see %s/*.log\n",
                c->up.dir);
        return 1;
    }
    printf("cluster up in %s: %d zone(s) x %d node(s), %d group(s), latency %s\n", c->up.dir,
           c->up.zones, c->up.nodes_per_zone, c->up.groups, c->up.latency);
    printf("config: %s/cluster.conf\n", c->up.dir);
    static struct sp_cluster_conf conf;
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/cluster.conf", c->up.dir);
    if (sp_conf_load(path, &conf, NULL) == 0)
        for (uint32_t i = 0; i < conf.n_nodes; i++)
            printf("node %u (%s): %s\n", conf.nodes[i].id, conf.zones[conf.nodes[i].zone],
                   conf.nodes[i].addr);
    printf("try:    spanner status --cluster %s\n        spanner shell --cluster %s --zone us\n",
           c->up.dir, c->up.dir);
    printf("stop:   spanner cluster down --dir %s\n", c->up.dir);
    return 0;
}

/* ---- one-shot commands ---------------------------------------------------------- */

static int report(int rc, const struct sp_err *err)
{
    if (rc)
        fprintf(stderr, "spanner: %s (%s)\n", err->msg, sp_errname(rc));
    return rc ? 1 : 0;
}

static int cmd_put(struct cli *c, int argc, char **argv, bool del)
{
    if (argc != (del ? 1 : 2)) {
        fprintf(stderr, "spanner: %s\n", del ? "delete KEY" : "put KEY VALUE");
        return 2;
    }
    struct sp_client *cl;
    int rc = open_client(c, &cl);
    if (rc)
        return rc;
    struct sp_txn *t;
    struct sp_err err = {0};
    struct sp_commit_info info;
    rc = sp_txn_begin(cl, &t, &err);
    if (rc == 0)
        rc = del ? sp_txn_delete(t, argv[0], strlen(argv[0]), &err)
                 : sp_txn_write(t, argv[0], strlen(argv[0]), argv[1], strlen(argv[1]), &err);
    if (rc == 0)
        rc = sp_txn_commit(t, &info, &err);
    else if (t)
        sp_txn_abort(t);
    if (rc == 0)
        printf("OK commit_ts=%lld commit_wait=%lldus\n", (long long) info.ts,
               (long long) info.commit_wait_us);
    sp_client_close(cl);
    return report(rc, &err);
}

static int cmd_get(struct cli *c, int argc, char **argv)
{
    if (argc != 1) {
        fprintf(stderr, "spanner: get KEY [--strong | --stale DURATION | --at TS]\n");
        return 2;
    }
    struct sp_client *cl;
    int rc = open_client(c, &cl);
    if (rc)
        return rc;
    /* One key is one group: a strong get reads at LastTS() at the leader. */
    struct sp_ro_options ro = {.read_ts = c->at_ts, .max_staleness_us = c->stale_us,
                               .single_group = true};
    struct sp_txn *t;
    struct sp_err err = {0};
    struct sp_value v = {0};
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    rc = sp_ro_begin(cl, &ro, &t, &err);
    if (rc == 0) {
        rc = sp_txn_read(t, argv[0], strlen(argv[0]), &v, &err);
        struct sp_commit_info info;
        sp_txn_commit(t, &info, NULL);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double ms = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
        if (rc == 0)
            printf("%s%.*s%s  (read_ts=%lld version_ts=%lld %.1fms)\n", v.found ? "\"" : "",
                   v.found ? (int) v.len : 4, v.found ? (const char *) v.data : "NULL",
                   v.found ? "\"" : "", (long long) info.ts, (long long) v.ts, ms);
    }
    sp_value_clear(&v);
    sp_client_close(cl);
    return report(rc, &err);
}

struct scan_out {
    uint64_t rows;
};

static int print_row(void *ctx, const struct sp_row *r)
{
    struct scan_out *o = ctx;
    o->rows++;
    printf("%.*s = \"%.*s\"  (version ts %lld)\n", (int) r->key_len, (const char *) r->key,
           (int) r->value_len, (const char *) r->value, (long long) r->ts);
    return 0;
}

static int cmd_scan(struct cli *c, int argc, char **argv)
{
    if (argc < 1 || argc > 2) {
        fprintf(stderr, "spanner: scan START [END] [--limit N] [--strong | --stale D | --at TS]\n");
        return 2;
    }
    struct sp_client *cl;
    int rc = open_client(c, &cl);
    if (rc)
        return rc;
    struct sp_ro_options ro = {.read_ts = c->at_ts, .max_staleness_us = c->stale_us};
    struct sp_txn *t;
    struct sp_err err = {0};
    struct scan_out out = {0};
    rc = sp_ro_begin(cl, &ro, &t, &err);
    if (rc == 0) {
        const char *end = argc > 1 ? argv[1] : "";
        rc = sp_txn_scan(t, argv[0], strlen(argv[0]), end, strlen(end), c->limit, print_row, &out,
                         &err);
        struct sp_commit_info info;
        sp_txn_commit(t, &info, NULL);
        if (rc == 0)
            printf("(%llu rows at read_ts=%lld)\n", (unsigned long long) out.rows,
                   (long long) info.ts);
    }
    sp_client_close(cl);
    return report(rc, &err);
}

/* out = the binary `name` beside this one (argv0 if /proc/self/exe is
 * unreadable: then name is looked up as given). */
static void sibling(const char *argv0, const char *name, char *out, size_t cap)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) {
        snprintf(out, cap, "%s", argv0);
        return;
    }
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    snprintf(out, cap, "%.*s/%s", (int) (slash - self), self, name);
}

/* `spanner bench ...`: runs spanner-bench from this binary's directory with
 * the same arguments, `--cluster DIR` meaning `--target spanner --endpoints
 * DIR` (spanner-bench --help lists the rest). Returns only on failure. */
static int cmd_bench(int argc, char **argv)
{
    char path[PATH_MAX];
    sibling(argv[0], "spanner-bench", path, sizeof path);
    char **nargv = calloc(2 * (size_t) argc + 2, sizeof *nargv); /* --cluster: 2 -> 4 */
    if (!nargv) {
        fprintf(stderr, "spanner bench: out of memory\n");
        return 1;
    }
    int n = 0;
    nargv[n++] = path;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--cluster") == 0 && i + 1 < argc) {
            nargv[n++] = "--target";
            nargv[n++] = "spanner";
            nargv[n++] = "--endpoints";
            nargv[n++] = argv[++i];
            continue;
        }
        nargv[n++] = argv[i];
    }
    nargv[n] = NULL;
    execv(path, nargv);
    fprintf(stderr, "spanner bench: cannot run %s: %s\n", path, strerror(errno));
    free(nargv);
    return 2;
}

int main(int argc, char **argv)
{
    static struct cli c = {.up = {.zones = 3, .nodes_per_zone = 1, .groups = 2,
                                  .latency = "none", .lease_ms = 2000}};
    sibling(argv[0], "spannerd", c.spannerd, sizeof c.spannerd);
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(cmd, "bench") == 0) /* spanner-bench's own options follow */
        return cmd_bench(argc, argv);
    optind = 2;
    /* options may come before or after the positional arguments */
    char *pos[8];
    int npos = 0;
    while (optind < argc) {
        if (parse_args(argc, argv, &c) != 0) {
            usage(stderr);
            return 2;
        }
        if (optind < argc && npos < 8)
            pos[npos++] = argv[optind++];
    }
    if (strcmp(cmd, "cluster") == 0)
        return cmd_cluster(&c, npos, pos);
    if (strcmp(cmd, "status") == 0)
        return cmd_status(&c);
    if (strcmp(cmd, "put") == 0)
        return cmd_put(&c, npos, pos, false);
    if (strcmp(cmd, "delete") == 0)
        return cmd_put(&c, npos, pos, true);
    if (strcmp(cmd, "get") == 0)
        return cmd_get(&c, npos, pos);
    if (strcmp(cmd, "scan") == 0)
        return cmd_scan(&c, npos, pos);
    if (strcmp(cmd, "shell") == 0) {
        struct sp_client *cl;
        int rc = open_client(&c, &cl);
        if (rc)
            return rc;
        rc = sp_shell_run(cl, c.zone, c.json, c.history, stdin, stdout);
        sp_client_close(cl);
        return rc;
    }
    fprintf(stderr, "spanner: unknown command \"%s\"\n", cmd);
    usage(stderr);
    return 2;
}

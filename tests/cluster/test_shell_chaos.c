/*
 * test_shell_chaos.c - list-append transactions through `spanner shell
 * --json` from clients in every zone, while a nemesis kill -9s the leader
 * of a random group every few seconds and restarts it a moment later
 * (issue 16: a commit answered "aborted" whose appends were later read and
 * kept).
 *
 * Each transaction reads one or two lists (space-separated elements) and
 * writes each back with one new element, unique in the run, appended;
 * a quarter of them touch a second group (2PC). At the end every list is
 * read strongly and the answers are checked:
 *   - "aborted" (ok false, not unknown): its element is in no list;
 *   - ok: its element is in the list of every key it appended to;
 *   - "unknown": either; counted both ways and printed;
 *   - no element twice in a list, and every value a transaction read is a
 *     prefix of that key's final list (appends are never lost or reordered).
 * SP_CHAOS_UNKNOWN_IS_ABORTED=1 (a negative control, by hand): the check
 * counts "unknown" answers as "aborted", and fails when one of them
 * committed, as a client that guessed would have.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "client_int.h"
#include "cluster_fx.h"
#include "procs.h"
#include "sp_test.h"

#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#ifdef SP_SANITIZE_BUILD
#define RUN_SECONDS 20
#else
#define RUN_SECONDS 30
#endif
#define CLIENTS     6
#define NODES       3
#define KILL_EVERY_MS   3000
#define RESTART_AFTER_MS 1500
#define TXNS_MAX    100000

static const char *const ZONES[] = {"us", "eu", "asia"};
/* 3 groups split at "I" and "b": A* in group 1 (where most appends go), K0
 * in group 2, c0 in group 3. */
static const char *const MAIN_KEYS[] = {"A0", "A1", "A2", "A3"};
static const char *const SIDE_KEYS[] = {"K0", "c0"};

enum outcome { OUT_NONE, OUT_OK, OUT_ABORTED, OUT_UNKNOWN };

struct txn_rec {
    char elem[24];
    const char *keys[2];
    int keys_n;
    enum outcome out;
    char why[160];
};

static struct {
    struct cluster_fx cl;
    pid_t node_pid[NODES + 1]; /* pids this test started (restarts); 0: cluster up's */
    struct sp_client *c;
    atomic_bool stop, done;
    pthread_mutex_t mu;
    struct txn_rec *txns;
    uint32_t txns_n;
    /* values read: key index and the value, for the prefix check */
    struct seen {
        int key;
        char *value;
    } *reads;
    uint32_t reads_n, reads_cap;
    int kills;
    pthread_t nemesis;
} g;

static const char *ALL_KEYS[6];

static int key_index(const char *k)
{
    for (int i = 0; i < 6; i++)
        if (strcmp(ALL_KEYS[i], k) == 0)
            return i;
    return -1;
}

/* ---- one shell process ---------------------------------------------------- */

struct shell {
    pid_t pid;
    FILE *in, *out;
};

static int shell_open(struct shell *s, const char *zone)
{
    int to[2], from[2];
    /* close-on-exec: no other child (another shell, a restarted node)
     * may hold this shell's stdin open, or it would never see EOF */
    if (pipe2(to, O_CLOEXEC) || pipe2(from, O_CLOEXEC))
        return -1;
    s->pid = fork();
    if (s->pid < 0)
        return -1;
    if (s->pid == 0) {
        dup2(to[0], 0);
        dup2(from[1], 1);
        close(to[0]);
        close(to[1]);
        close(from[0]);
        close(from[1]);
        execl(SPANNER_BIN, SPANNER_BIN, "shell", "--json", "--cluster", g.cl.dir, "--zone", zone,
              (char *) NULL);
        _exit(127);
    }
    close(to[0]);
    close(from[1]);
    s->in = fdopen(to[1], "w");
    s->out = fdopen(from[0], "r");
    return s->in && s->out ? 0 : -1;
}

static void shell_close(struct shell *s)
{
    fclose(s->in);
    int st;
    waitpid(s->pid, &st, 0);
    fclose(s->out);
}

/* One request line, one reply object (NULL if the shell died). */
static json_t *shell_call(struct shell *s, json_t *req)
{
    char *line = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    fprintf(s->in, "%s\n", line);
    fflush(s->in);
    free(line);
    char *buf = NULL;
    size_t cap = 0;
    if (getline(&buf, &cap, s->out) <= 0) {
        free(buf);
        return NULL;
    }
    json_t *rep = json_loads(buf, 0, NULL);
    free(buf);
    return rep;
}

static bool ok(const json_t *rep)
{
    return rep && json_is_true(json_object_get(rep, "ok"));
}

/* ---- clients ---------------------------------------------------------------- */

static void note_read(int key, const char *value)
{
    pthread_mutex_lock(&g.mu);
    if (g.reads_n == g.reads_cap) {
        g.reads_cap = g.reads_cap ? 2 * g.reads_cap : 1024;
        g.reads = realloc(g.reads, sizeof *g.reads * g.reads_cap);
        assert_non_null(g.reads);
    }
    g.reads[g.reads_n++] = (struct seen){key, strdup(value)};
    pthread_mutex_unlock(&g.mu);
}

/* One list-append transaction; its record is filled in. */
static void one_txn(struct shell *s, struct txn_rec *t)
{
    json_t *rep = shell_call(s, json_pack("{s:s, s:s}", "op", "begin", "mode", "rw"));
    bool began = ok(rep);
    json_decref(rep);
    if (!began)
        return;
    for (int i = 0; i < t->keys_n; i++) {
        rep = shell_call(s, json_pack("{s:s, s:s}", "op", "read", "key", t->keys[i]));
        if (!ok(rep)) {
            json_decref(rep);
            json_decref(shell_call(s, json_pack("{s:s}", "op", "abort")));
            return;
        }
        const char *old = json_string_value(json_object_get(rep, "value"));
        note_read(key_index(t->keys[i]), old ? old : "");
        char *val = malloc((old ? strlen(old) : 0) + sizeof t->elem + 2);
        assert_non_null(val);
        sprintf(val, "%s%s%s", old ? old : "", old && *old ? " " : "", t->elem);
        json_decref(rep);
        rep = shell_call(s, json_pack("{s:s, s:s, s:s}", "op", "write", "key", t->keys[i], "value",
                                      val));
        free(val);
        bool w = ok(rep);
        json_decref(rep);
        if (!w) {
            json_decref(shell_call(s, json_pack("{s:s}", "op", "abort")));
            return;
        }
    }
    rep = shell_call(s, json_pack("{s:s}", "op", "commit"));
    if (ok(rep))
        t->out = OUT_OK;
    else if (rep && json_is_true(json_object_get(rep, "unknown")))
        t->out = OUT_UNKNOWN;
    else
        t->out = OUT_ABORTED;
    const char *why = rep ? json_string_value(json_object_get(rep, "error")) : "shell died";
    snprintf(t->why, sizeof t->why, "%s", why ? why : "");
    json_decref(rep);
}

static void *client_run(void *arg)
{
    int id = (int) (intptr_t) arg;
    struct shell s;
    assert_int_equal(shell_open(&s, ZONES[id % 3]), 0);
    unsigned seed = (unsigned) id * 7919u + 1;
    for (int n = 0; !atomic_load(&g.stop); n++) {
        struct txn_rec t = {.keys_n = 1};
        snprintf(t.elem, sizeof t.elem, "c%d-%d", id, n);
        t.keys[0] = MAIN_KEYS[rand_r(&seed) % 4];
        if (rand_r(&seed) % 4 == 0) {
            t.keys[1] = SIDE_KEYS[rand_r(&seed) % 2];
            t.keys_n = 2;
        }
        one_txn(&s, &t);
        if (t.out == OUT_NONE)
            continue;
        pthread_mutex_lock(&g.mu);
        if (g.txns_n < TXNS_MAX)
            g.txns[g.txns_n++] = t;
        pthread_mutex_unlock(&g.mu);
    }
    shell_close(&s);
    return NULL;
}

/* ---- nemesis ------------------------------------------------------------------ */

static uint32_t leader_of(uint32_t gidx)
{
    return cluster_fx_leader_of(g.c, gidx);
}

static pid_t node_pid(uint32_t id)
{
    if (g.node_pid[id])
        return g.node_pid[id];
    char path[128];
    snprintf(path, sizeof path, "%s/n%u.pid", g.cl.dir, id);
    FILE *f = fopen(path, "r");
    int pid = 0;
    if (f) {
        if (fscanf(f, "%d", &pid) != 1)
            pid = 0;
        fclose(f);
    }
    return pid;
}

static void restart(uint32_t id)
{
    char sid[16], log[128];
    snprintf(sid, sizeof sid, "%u", id);
    snprintf(log, sizeof log, "%s/n%u.restart.log", g.cl.dir, id);
    char *argv[] = {SPANNERD_BIN, "--config", g.cl.conf, "--node", sid, NULL};
    g.node_pid[id] = sp_proc_spawn(argv, log);
}

static void *nemesis_run(void *arg)
{
    (void) arg;
    unsigned seed = 12345;
    while (!atomic_load(&g.stop)) {
        usleep(KILL_EVERY_MS * 1000);
        if (atomic_load(&g.stop))
            break;
        uint32_t leader = leader_of(rand_r(&seed) % 3);
        pid_t pid = leader ? node_pid(leader) : 0;
        if (pid <= 0)
            continue;
        kill(pid, SIGKILL);
        if (g.node_pid[leader])
            waitpid(pid, NULL, 0);
        g.kills++;
        usleep(RESTART_AFTER_MS * 1000);
        restart(leader);
    }
    /* The nodes this thread started die with it (procs.h: the parent-death
     * signal follows the thread), so it stays until the test is over. */
    while (!atomic_load(&g.done))
        usleep(10000);
    for (uint32_t id = 1; id <= NODES; id++)
        if (g.node_pid[id])
            sp_proc_stop(g.node_pid[id], SIGTERM, 10000);
    return NULL;
}

/* ---- the test ---------------------------------------------------------------- */

static int setup(void **state)
{
    (void) state;
    for (int i = 0; i < 4; i++)
        ALL_KEYS[i] = MAIN_KEYS[i];
    ALL_KEYS[4] = SIDE_KEYS[0];
    ALL_KEYS[5] = SIDE_KEYS[1];
    if (cluster_fx_up(&g.cl, SPANNER_BIN, 3) != 0)
        return -1;
    struct sp_client_options o = {.config_path = g.cl.conf};
    struct sp_err err = {0};
    if (sp_client_open(&o, &g.c, &err) != 0) {
        fprintf(stderr, "client: %s\n", err.msg);
        return -1;
    }
    for (int i = 0; i < 600 && !(leader_of(0) && leader_of(1) && leader_of(2)); i++)
        usleep(100000);
    pthread_mutex_init(&g.mu, NULL);
    g.txns = calloc(TXNS_MAX, sizeof *g.txns);
    return g.txns ? 0 : -1;
}

static int teardown(void **state)
{
    (void) state;
    sp_client_close(g.c);
    atomic_store(&g.done, true);
    pthread_join(g.nemesis, NULL);
    for (uint32_t i = 0; i < g.reads_n; i++)
        free(g.reads[i].value);
    free(g.reads);
    free(g.txns);
    return cluster_fx_down(&g.cl);
}

/* The final list of a key, read strongly (retried while the cluster heals). */
static char *final_list(const char *key)
{
    struct sp_err err = {0};
    for (int attempt = 0; attempt < 100; attempt++) {
        struct sp_txn *t;
        struct sp_value v = {0};
        if (sp_ro_begin(g.c, NULL, &t, &err) == 0) {
            int rc = sp_txn_read(t, key, strlen(key), &v, &err);
            sp_txn_commit(t, NULL, NULL);
            if (rc == 0) {
                char *s = strndup(v.found ? (const char *) v.data : "", v.found ? v.len : 0);
                sp_value_clear(&v);
                return s;
            }
        }
        usleep(200000);
    }
    fail_msg("final read of %s: %s", key, err.msg);
    return NULL;
}

/* Whether elem is a whole element of the space-separated list. */
static bool in_list(const char *list, const char *elem)
{
    size_t n = strlen(elem);
    for (const char *p = list; (p = strstr(p, elem)) != NULL; p += n)
        if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
            return true;
    return false;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}

/* Elements found more than once in a list (each reported). */
static uint32_t duplicates(const char *key, const char *list)
{
    char *copy = strdup(list), *save = NULL;
    size_t n = 0, cap = 1 + strlen(list) / 2;
    char **e = malloc(sizeof *e * cap);
    assert_true(copy && e);
    for (char *p = strtok_r(copy, " ", &save); p && n < cap; p = strtok_r(NULL, " ", &save))
        e[n++] = p;
    qsort(e, n, sizeof *e, cmp_str);
    uint32_t dup = 0;
    for (size_t i = 1; i < n; i++)
        if (strcmp(e[i - 1], e[i]) == 0) {
            print_error("key %s: element %s twice\n", key, e[i]);
            dup++;
        }
    free(e);
    free(copy);
    return dup;
}

static void test_list_append_under_kills(void **state)
{
    (void) state;
    pthread_t cl[CLIENTS];
    for (int i = 0; i < CLIENTS; i++)
        pthread_create(&cl[i], NULL, client_run, (void *) (intptr_t) i);
    pthread_create(&g.nemesis, NULL, nemesis_run, NULL);
    sleep(RUN_SECONDS);
    atomic_store(&g.stop, true);
    for (int i = 0; i < CLIENTS; i++)
        pthread_join(cl[i], NULL);

    char *final[6];
    for (int k = 0; k < 6; k++)
        final[k] = final_list(ALL_KEYS[k]);
    bool unknown_is_aborted = getenv("SP_CHAOS_UNKNOWN_IS_ABORTED") != NULL;
    uint32_t n_ok = 0, n_aborted = 0, n_unknown = 0, unknown_in = 0, bad = 0;
    for (uint32_t i = 0; i < g.txns_n; i++) {
        const struct txn_rec *t = &g.txns[i];
        int present = 0;
        for (int k = 0; k < t->keys_n; k++)
            present += in_list(final[key_index(t->keys[k])], t->elem);
        if (present != 0 && present != t->keys_n) {
            print_error("txn %s: in %d of its %d lists (atomicity)\n", t->elem, present,
                        t->keys_n);
            bad++;
        }
        enum outcome out = t->out == OUT_UNKNOWN && unknown_is_aborted ? OUT_ABORTED : t->out;
        n_ok += t->out == OUT_OK;
        n_aborted += t->out == OUT_ABORTED;
        n_unknown += t->out == OUT_UNKNOWN;
        unknown_in += t->out == OUT_UNKNOWN && present;
        if (out == OUT_ABORTED && present) {
            print_error("txn %s answered \"aborted\" (%s) but its append is visible\n", t->elem,
                        t->why);
            bad++;
        }
        if (out == OUT_OK && present != t->keys_n) {
            print_error("txn %s answered ok but its append is lost\n", t->elem);
            bad++;
        }
    }
    for (int k = 0; k < 6; k++) /* no element twice */
        bad += duplicates(ALL_KEYS[k], final[k]);
    for (uint32_t i = 0; i < g.reads_n; i++) { /* every read is a prefix of the end */
        const struct seen *r = &g.reads[i];
        size_t n = strlen(r->value);
        const char *f = final[r->key];
        if (n > 0 && (strncmp(f, r->value, n) != 0 || (f[n] != ' ' && f[n] != '\0'))) {
            print_error("key %s: a transaction read \"%.80s...\", not a prefix of the final list\n",
                        ALL_KEYS[r->key], r->value);
            bad++;
        }
    }
    print_message("%u transactions: %u ok, %u aborted, %u unknown (%u of them committed); "
                  "%d leaders killed; %u reads checked\n",
                  g.txns_n, n_ok, n_aborted, n_unknown, unknown_in, g.kills, g.reads_n);
    for (int k = 0; k < 6; k++)
        free(final[k]);
    assert_int_equal(bad, 0);
    assert_true(g.kills >= 3);
    assert_true(n_ok >= 50);
}

int main(void)
{
    sp_test_route_asserts();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_list_append_under_kills),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

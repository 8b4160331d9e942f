/*
 * run.c - the closed-loop runner of spanner-bench (see bench.h).
 *
 * One run: `clients` threads share a connection; each loops
 *
 *     claim an operation number -> pick kind and key -> op() (retrying a
 *     retryable failure up to SP_BENCH_RETRIES_MAX times) -> record the
 *     latency of the whole attempt sequence
 *
 * until the deadline or the operation limit. Latency is what a caller sees,
 * retries included. Each thread records into its own result (no shared
 * cache lines on the hot path but one relaxed counter for the progress
 * line); the results are merged after the join.
 *
 * Bounds: every loop stops at the run's deadline, which is never later
 * than start + seconds_max; an operation in flight at the deadline adds at
 * most (1 + SP_BENCH_RETRIES_MAX) operation timeouts. A target that
 * ignores its timeout does not stretch the bound: once it has passed (plus
 * one more timeout of slack), the run is abandoned. Its stuck clients keep
 * their memory (the run state lives on the heap and is deliberately never
 * freed), the results of the clients that did stop are kept, and the
 * caller gets SP_ETIMEDOUT and must neither use nor close that target
 * again; the process exit ends the stuck threads.
 */
#include "bench.h"
#include "sp_assert.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PROGRESS_EVERY_MS 250

struct shared {
    const struct sp_bench_target *t;
    void *conn;
    const struct sp_bench_config *cfg; /* = &cfg_copy: outlives an abandoned run */
    struct sp_bench_config cfg_copy;
    int preload;                   /* write key n for operation n */
    uint64_t limit;                /* operations to claim at most */
    _Atomic long long deadline_ns; /* monotonic; moved to 0 to stop early */
    _Atomic uint64_t claimed;
    _Atomic int finished; /* threads that left their loop */
};

struct client {
    struct shared *sh;
    uint64_t rng;
    uint8_t *value;
    struct sp_bench_result *res;
    _Atomic uint64_t completed; /* read by the progress line */
    long long finish_ns;        /* when this client left its loop */
    _Atomic int done;           /* set after finish_ns: res may be read */
    pthread_t th;
};

static long long mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long) ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* splitmix64: small, fast, and good enough to spread keys uniformly. */
static uint64_t next_rand(uint64_t *state)
{
    uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static int retryable(int code)
{
    return code == SP_ESP_UNAVAILABLE || code == SP_EPAXOS_NOT_LEADER || code == SP_EPAXOS_BUSY ||
           code == SP_ETXN_ABORTED || code == SP_ETXN_WOUNDED;
}

/* Each workload: its name, the share of reads, and what it writes. */
static const struct {
    const char *name;
    unsigned read_pct;
    enum sp_bench_op write;
} workloads[SP_BENCH_W_COUNT] = {
    [SP_BENCH_W_PUT] = {"put", 0, SP_BENCH_PUT},
    [SP_BENCH_W_GET] = {"get", 100, SP_BENCH_PUT},
    [SP_BENCH_W_GET_SER] = {"get-serializable", 100, SP_BENCH_PUT},
    [SP_BENCH_W_A] = {"a", 50, SP_BENCH_PUT},
    [SP_BENCH_W_B] = {"b", 95, SP_BENCH_PUT},
    [SP_BENCH_W_C] = {"c", 100, SP_BENCH_PUT},
    [SP_BENCH_W_TXN1] = {"txn1", 0, SP_BENCH_TXN1},
    [SP_BENCH_W_TXN2] = {"txn2", 0, SP_BENCH_TXN2},
    [SP_BENCH_W_TXN5] = {"txn5", 0, SP_BENCH_TXN5},
    [SP_BENCH_W_TXN10] = {"txn10", 0, SP_BENCH_TXN10},
    [SP_BENCH_W_BANK] = {"bank", 0, SP_BENCH_TRANSFER},
};

static unsigned read_percent(enum sp_bench_workload w)
{
    SP_ASSERT(w < SP_BENCH_W_COUNT);
    return workloads[w].read_pct;
}

static enum sp_bench_op read_kind(const struct sp_bench_config *cfg)
{
    if (cfg->workload == SP_BENCH_W_GET_SER)
        return SP_BENCH_GET_SERIAL;
    if (cfg->workload == SP_BENCH_W_GET)
        return SP_BENCH_GET;
    return cfg->serializable ? SP_BENCH_GET_SERIAL : SP_BENCH_GET;
}

/* Counts one finished operation (retries included in its latency). */
static void record(struct sp_bench_result *res, enum sp_bench_op kind, int rc, long long latency_ns,
                   const struct sp_bench_op_info *info, const struct sp_err *err)
{
    res->retries += info->retries;
    if (rc == 0) {
        sp_bench_hist_record(&res->hist[kind], (uint64_t) latency_ns);
        res->ops[kind]++;
        res->commit_wait_us[kind] += info->commit_wait_us;
        res->paxos_us[kind] += info->paxos_us;
        return;
    }
    res->errors[kind]++;
    if (!res->first_error[0])
        snprintf(res->first_error, sizeof res->first_error, "%s: %.200s", sp_errname(rc),
                 err->msg[0] ? err->msg : sp_strerror(rc));
}

/* Chooses operation n's kind and key. */
static enum sp_bench_op pick(const struct shared *sh, uint64_t n, uint64_t *rng, uint8_t *key)
{
    const struct sp_bench_config *cfg = sh->cfg;
    enum sp_bench_op kind = sh->preload ? SP_BENCH_PUT : workloads[cfg->workload].write;
    uint64_t k = n;
    if (!sh->preload) {
        uint64_t r = next_rand(rng);
        k = r % cfg->keys;
        if ((r >> 32) % 100 < read_percent(cfg->workload))
            kind = read_kind(cfg);
    }
    sp_bench_key(k, key, cfg->key_size);
    return kind;
}

/* One operation, retries included. Returns its final code. */
static int one_op(struct client *c, enum sp_bench_op kind, const uint8_t *key)
{
    const struct sp_bench_config *cfg = c->sh->cfg;
    struct sp_err err = {0};
    struct sp_bench_op_info info = {.rand = next_rand(&c->rng)};
    long long t0 = mono_ns();
    int rc = 0;
    for (int attempt = 0; attempt <= SP_BENCH_RETRIES_MAX; attempt++) {
        sp_err_clear(&err);
        rc = c->sh->t->op(c->sh->conn, kind, key, cfg->key_size, c->value, cfg->value_size, &info,
                          &err);
        if (rc == 0 || !retryable(rc) || attempt == SP_BENCH_RETRIES_MAX)
            break;
        info.retries++;
    }
    record(c->res, kind, rc, mono_ns() - t0, &info, &err);
    return rc;
}

static void *client_main(void *arg)
{
    struct client *c = arg;
    struct shared *sh = c->sh;
    uint8_t key[SP_BENCH_KEY_MAX];
    while (mono_ns() < atomic_load_explicit(&sh->deadline_ns, memory_order_relaxed)) {
        uint64_t n = atomic_fetch_add_explicit(&sh->claimed, 1, memory_order_relaxed);
        if (n >= sh->limit)
            break;
        enum sp_bench_op kind = pick(sh, n, &c->rng, key);
        one_op(c, kind, key);
        atomic_fetch_add_explicit(&c->completed, 1, memory_order_relaxed);
    }
    c->finish_ns = mono_ns();
    atomic_store(&c->done, 1);
    atomic_fetch_add(&sh->finished, 1);
    return NULL;
}

static void print_progress(const struct sp_bench_config *cfg, uint64_t done, long long start_ns)
{
    double secs = (double) (mono_ns() - start_ns) / 1e9;
    printf("\r\033[K%s  %5.1f s  %9llu ops  %9.0f ops/s", cfg->label ? cfg->label : "", secs,
           (unsigned long long) done, secs > 0 ? (double) done / secs : 0.0);
    fflush(stdout);
}

static void progress_line(const struct shared *sh, struct client *cl, int n, long long start_ns)
{
    uint64_t done = 0;
    for (int i = 0; i < n; i++)
        done += atomic_load_explicit(&cl[i].completed, memory_order_relaxed);
    print_progress(sh->cfg, done, start_ns);
}

/* Waits for the n started clients, drawing the progress line meanwhile.
 * The wait is bounded: clients stop at the deadline plus one operation's
 * retries. Returns how many are still running (stuck in the target). */
static int wait_clients(struct shared *sh, struct client *cl, int n, long long start_ns,
                        long long deadline_ns)
{
    const struct sp_bench_config *cfg = sh->cfg;
    long long slack_ns = (long long) (SP_BENCH_RETRIES_MAX + 2) * cfg->timeout_ms * 1000000LL;
    long long hard_ns = deadline_ns + slack_ns;
    while (atomic_load(&sh->finished) < n && mono_ns() < hard_ns) {
        struct timespec ts = {0, PROGRESS_EVERY_MS * 1000000L};
        nanosleep(&ts, NULL);
        if (cfg->progress)
            progress_line(sh, cl, n, start_ns);
    }
    if (cfg->progress) {
        printf("\r\033[K");
        fflush(stdout);
    }
    /* A client still inside op() past the slack means a target ignored its
     * timeout; joining would hang the tool, and the bound matters more. */
    int stuck = 0;
    for (int i = 0; i < n; i++) {
        if (atomic_load(&cl[i].done)) {
            pthread_join(cl[i].th, NULL);
        } else {
            pthread_detach(cl[i].th);
            stuck++;
        }
    }
    return stuck;
}

static int check_config(const struct sp_bench_config *cfg, struct sp_err *err)
{
    if (cfg->clients < 1 || cfg->clients > SP_BENCH_CLIENTS_MAX)
        return sp_err_set(err, SP_EINVAL, "clients %d: expected 1..%d", cfg->clients,
                          SP_BENCH_CLIENTS_MAX);
    if (cfg->key_size < 1 || cfg->key_size > SP_BENCH_KEY_MAX ||
        cfg->value_size > SP_BENCH_VALUE_MAX)
        return sp_err_set(err, SP_EINVAL, "key size 1..%d, value size 0..%d bytes",
                          SP_BENCH_KEY_MAX, SP_BENCH_VALUE_MAX);
    if (cfg->keys < 1 || (cfg->key_size < 16 && cfg->keys > (UINT64_C(1) << (4 * cfg->key_size))))
        return sp_err_set(err, SP_EINVAL, "key space %llu does not fit %zu-byte keys",
                          (unsigned long long) cfg->keys, cfg->key_size);
    if (cfg->seconds_max < 1 || cfg->timeout_ms < 1 || (cfg->seconds < 1 && cfg->ops_total == 0))
        return sp_err_set(err, SP_EINVAL, "need --seconds or --ops, a positive bound and timeout");
    return 0;
}

/* Starts up to cfg->clients threads; returns how many started (rc set on
 * a failure, after which the started ones are told to stop). */
static int start_clients(struct shared *sh, struct client *cl, int *rc, struct sp_err *err)
{
    const struct sp_bench_config *cfg = sh->cfg;
    int started = 0;
    for (int i = 0; i < cfg->clients; i++) {
        cl[i].sh = sh;
        cl[i].rng = cfg->seed * 1000003u + (uint64_t) i;
        cl[i].res = malloc(sizeof *cl[i].res);
        cl[i].value = malloc(cfg->value_size ? cfg->value_size : 1);
        if (!cl[i].res || !cl[i].value) {
            *rc = sp_err_set(err, SP_ENOMEM, "bench: out of memory");
            break;
        }
        sp_bench_result_init(cl[i].res);
        for (size_t b = 0; b < cfg->value_size; b++)
            cl[i].value[b] = (uint8_t) next_rand(&cl[i].rng);
        if (pthread_create(&cl[i].th, NULL, client_main, &cl[i]) != 0) {
            *rc = sp_err_set(err, SP_ENOMEM, "bench: cannot start client thread %d", i);
            break;
        }
        started++;
    }
    if (*rc) /* stop the ones that started; they are joined by the caller */
        atomic_store(&sh->deadline_ns, 0);
    return started;
}

/* Starts the clients, waits, merges the results of those that stopped.
 * Takes ownership of sh (heap): freed, or kept forever if the run is
 * abandoned (see the top of this file). */
static int run_clients(struct shared *sh, struct sp_bench_result *res, struct sp_err *err)
{
    const struct sp_bench_config *cfg = sh->cfg;
    struct client *cl = calloc((size_t) cfg->clients, sizeof *cl);
    if (!cl) {
        free(sh);
        return sp_err_set(err, SP_ENOMEM, "bench: out of memory");
    }
    int rc = 0;
    long long start_ns = mono_ns(), deadline_ns = atomic_load(&sh->deadline_ns);
    int started = start_clients(sh, cl, &rc, err);
    int stuck = wait_clients(sh, cl, started, start_ns, deadline_ns);
    /* The run lasted until its last client stopped, not until this thread
     * noticed (the wait polls). */
    long long last_ns = start_ns;
    for (int i = 0; i < started; i++)
        if (atomic_load(&cl[i].done) && cl[i].finish_ns > last_ns)
            last_ns = cl[i].finish_ns;
    res->elapsed_s = (double) (last_ns - start_ns) / 1e9;
    for (int i = 0; i < started; i++)
        if (atomic_load(&cl[i].done))
            sp_bench_result_merge(res, cl[i].res);
    if (stuck > 0)
        return sp_err_set(err, SP_ETIMEDOUT,
                          "%s: %d of %d clients still inside an operation %d ms after the run's "
                          "bound; run abandoned",
                          sh->t->name, stuck, started,
                          (SP_BENCH_RETRIES_MAX + 2) * cfg->timeout_ms);
    for (int i = 0; i < cfg->clients; i++) {
        free(cl[i].res);
        free(cl[i].value);
    }
    free(cl);
    free(sh);
    return rc;
}

/* The run state, on the heap so that an abandoned run's threads keep it. */
static struct shared *new_shared(const struct sp_bench_target *t, void *conn,
                                 const struct sp_bench_config *cfg, int preload, uint64_t limit,
                                 int seconds, struct sp_err *err)
{
    struct shared *sh = calloc(1, sizeof *sh);
    if (!sh) {
        sp_err_set(err, SP_ENOMEM, "bench: out of memory");
        return NULL;
    }
    sh->t = t;
    sh->conn = conn;
    sh->cfg_copy = *cfg;
    sh->cfg = &sh->cfg_copy;
    sh->preload = preload;
    sh->limit = limit;
    atomic_store(&sh->deadline_ns, mono_ns() + seconds * 1000000000LL);
    return sh;
}

/* The asynchronous runner: one thread, `clients` operations in flight.
 * Takes ownership of sh like run_clients. */
struct aslot {
    enum sp_bench_op kind;
    int attempts;
    long long t0_ns;
    struct sp_bench_op_info info; /* summed over the operation's attempts */
    uint8_t key[SP_BENCH_KEY_MAX];
};

struct async_run {
    struct shared *sh;
    struct sp_bench_result *res;
    uint8_t *value;
    uint64_t rng;
    int in_flight;
    uint64_t completed;
};

static void async_send(struct async_run *a, struct aslot *s)
{
    const struct sp_bench_config *cfg = a->sh->cfg;
    struct sp_err err = {0};
    int rc = a->sh->t->start(a->sh->conn, s->kind, s->key, cfg->key_size, a->value, cfg->value_size,
                             s, &err);
    if (rc == 0) {
        a->in_flight++;
        SP_ASSERT(a->in_flight <= cfg->clients);
        return;
    }
    /* Could not start: counted now, and the slot idles. */
    record(a->res, s->kind, rc, mono_ns() - s->t0_ns, &s->info, &err);
    a->completed++;
}

/* Starts the next operation in slot s, unless the run is over. */
static void async_issue(struct async_run *a, struct aslot *s)
{
    struct shared *sh = a->sh;
    if (mono_ns() >= atomic_load(&sh->deadline_ns))
        return;
    uint64_t n = atomic_fetch_add(&sh->claimed, 1);
    if (n >= sh->limit)
        return;
    s->kind = pick(sh, n, &a->rng, s->key);
    s->attempts = 0;
    s->info = (struct sp_bench_op_info){.rand = next_rand(&a->rng)};
    s->t0_ns = mono_ns();
    async_send(a, s);
}

static void async_complete(struct async_run *a, struct aslot *s, int code,
                           const struct sp_bench_op_info *info, const struct sp_err *err)
{
    SP_ASSERT(a->in_flight > 0);
    a->in_flight--;
    s->info.retries += info->retries;
    s->info.commit_wait_us += info->commit_wait_us;
    s->info.paxos_us += info->paxos_us;
    if (code != 0 && retryable(code) && s->attempts < SP_BENCH_RETRIES_MAX) {
        s->attempts++;
        s->info.retries++;
        async_send(a, s);
        return;
    }
    record(a->res, s->kind, code, mono_ns() - s->t0_ns, &s->info, err);
    a->completed++;
    async_issue(a, s);
}

static int run_async(struct shared *sh, struct sp_bench_result *res, struct sp_err *err)
{
    const struct sp_bench_config *cfg = sh->cfg;
    struct async_run a = {.sh = sh, .res = res, .rng = cfg->seed * 1000003u};
    struct aslot *slots = calloc((size_t) cfg->clients, sizeof *slots);
    a.value = malloc(cfg->value_size ? cfg->value_size : 1);
    if (!slots || !a.value) {
        free(slots);
        free(a.value);
        free(sh);
        return sp_err_set(err, SP_ENOMEM, "bench: out of memory");
    }
    for (size_t b = 0; b < cfg->value_size; b++)
        a.value[b] = (uint8_t) next_rand(&a.rng);
    long long start_ns = mono_ns(), progress_ns = start_ns;
    long long hard_ns = atomic_load(&sh->deadline_ns) +
                        (long long) (SP_BENCH_RETRIES_MAX + 2) * cfg->timeout_ms * 1000000LL;
    for (int i = 0; i < cfg->clients; i++)
        async_issue(&a, &slots[i]);
    while (a.in_flight > 0 && mono_ns() < hard_ns) {
        void *tag = NULL;
        int code = 0;
        struct sp_err e = {0};
        struct sp_bench_op_info info = {0};
        if (sh->t->next(sh->conn, PROGRESS_EVERY_MS, &tag, &code, &info, &e) == 1)
            async_complete(&a, tag, code, &info, &e);
        if (cfg->progress && mono_ns() >= progress_ns) {
            print_progress(cfg, a.completed, start_ns);
            progress_ns += PROGRESS_EVERY_MS * 1000000LL;
        }
    }
    res->elapsed_s = (double) (mono_ns() - start_ns) / 1e9;
    if (cfg->progress) {
        printf("\r\033[K");
        fflush(stdout);
    }
    /* Only a target that ignores its timeout leaves operations behind.
     * Their tags point into slots, which a later next() could return:
     * abandon the run and keep slots and sh (see the top of this file). */
    if (a.in_flight > 0)
        return sp_err_set(err, SP_ETIMEDOUT,
                          "%s: %d operations still in flight past the run's bound; run abandoned",
                          sh->t->name, a.in_flight);
    free(slots);
    free(a.value);
    free(sh);
    return 0;
}

int sp_bench_run(const struct sp_bench_target *t, void *conn, const struct sp_bench_config *cfg,
                 struct sp_bench_result *res, struct sp_err *err)
{
    SP_ASSERT(t != NULL && cfg != NULL && res != NULL);
    int rc = check_config(cfg, err);
    if (rc)
        return rc;
    unsigned need = sp_bench_workload_ops(cfg->workload, cfg->serializable);
    if ((need & t->ops_supported) != need)
        return sp_err_set(err, SP_EINVAL, "target %s does not support workload %s", t->name,
                          sp_bench_workload_name(cfg->workload));
    if (cfg->async && (!t->start || !t->next))
        return sp_err_set(err, SP_EINVAL, "target %s has no asynchronous interface", t->name);
    if (cfg->async && t->async_ops && (need & t->async_ops) != need)
        return sp_err_set(err, SP_EINVAL,
                          "target %s runs workload %s with client threads only (no --async)",
                          t->name, sp_bench_workload_name(cfg->workload));
    int secs =
        cfg->seconds >= 1 && cfg->seconds < cfg->seconds_max ? cfg->seconds : cfg->seconds_max;
    struct shared *sh =
        new_shared(t, conn, cfg, 0, cfg->ops_total ? cfg->ops_total : UINT64_MAX, secs, err);
    if (!sh)
        return SP_ENOMEM;
    return cfg->async ? run_async(sh, res, err) : run_clients(sh, res, err);
}

int sp_bench_preload(const struct sp_bench_target *t, void *conn, const struct sp_bench_config *cfg,
                     struct sp_bench_result *res, struct sp_err *err)
{
    SP_ASSERT(t != NULL && cfg != NULL && res != NULL);
    int rc = check_config(cfg, err);
    if (rc)
        return rc;
    if (!(t->ops_supported & SP_BENCH_BIT(SP_BENCH_PUT)))
        return sp_err_set(err, SP_EINVAL, "target %s cannot write", t->name);
    /* A preload that cannot finish in this long will not be helped by
     * waiting: the store is too slow or failing, and the run says so. */
    int preload_s =
        cfg->seconds_max < SP_BENCH_PRELOAD_MAX_S ? cfg->seconds_max : SP_BENCH_PRELOAD_MAX_S;
    struct shared *sh = new_shared(t, conn, cfg, 1, cfg->keys, preload_s, err);
    return sh ? run_clients(sh, res, err) : SP_ENOMEM;
}

void sp_bench_result_init(struct sp_bench_result *r)
{
    SP_ASSERT(r != NULL);
    memset(r, 0, sizeof *r);
    for (int k = 0; k < SP_BENCH_OPS; k++)
        sp_bench_hist_init(&r->hist[k]);
}

void sp_bench_result_merge(struct sp_bench_result *dst, const struct sp_bench_result *src)
{
    for (int k = 0; k < SP_BENCH_OPS; k++) {
        sp_bench_hist_merge(&dst->hist[k], &src->hist[k]);
        dst->ops[k] += src->ops[k];
        dst->errors[k] += src->errors[k];
    }
    dst->retries += src->retries;
    dst->checks += src->checks;
    dst->checks_failed += src->checks_failed;
    for (int k = 0; k < SP_BENCH_OPS; k++) {
        dst->commit_wait_us[k] += src->commit_wait_us[k];
        dst->paxos_us[k] += src->paxos_us[k];
    }
    /* Rounds run one after another: their times add up. Client threads of
     * one run overlap: run_clients sets the run's elapsed time itself. */
    dst->elapsed_s += src->elapsed_s;
    if (!dst->first_error[0] && src->first_error[0])
        memcpy(dst->first_error, src->first_error, sizeof dst->first_error);
}

void sp_bench_key(uint64_t i, uint8_t *key, size_t key_size)
{
    static const char hex[] = "0123456789abcdef";
    SP_ASSERT(key_size >= 1 && key_size <= SP_BENCH_KEY_MAX);
    for (size_t b = key_size; b-- > 0;) {
        key[b] = (uint8_t) hex[i & 15];
        i >>= 4;
    }
}

const char *sp_bench_workload_name(enum sp_bench_workload w)
{
    SP_ASSERT(w < SP_BENCH_W_COUNT);
    return workloads[w].name;
}

int sp_bench_workload_parse(const char *s, enum sp_bench_workload *w)
{
    for (int i = 0; i < SP_BENCH_W_COUNT; i++)
        if (strcmp(s, workloads[i].name) == 0) {
            *w = (enum sp_bench_workload) i;
            return 0;
        }
    return SP_EINVAL;
}

unsigned sp_bench_workload_ops(enum sp_bench_workload w, int serializable)
{
    struct sp_bench_config cfg = {.workload = w, .serializable = serializable};
    unsigned pct = read_percent(w), mask = 0;
    if (pct > 0)
        mask |= SP_BENCH_BIT(read_kind(&cfg));
    if (pct < 100)
        mask |= SP_BENCH_BIT(workloads[w].write);
    return mask;
}

int sp_bench_workload_reads(enum sp_bench_workload w, int serializable)
{
    return (sp_bench_workload_ops(w, serializable) &
            (SP_BENCH_BIT(SP_BENCH_GET) | SP_BENCH_BIT(SP_BENCH_GET_SERIAL))) != 0;
}

const char *sp_bench_op_name(enum sp_bench_op op)
{
    static const char *const names[SP_BENCH_OPS] = {
        [SP_BENCH_PUT] = "put",     [SP_BENCH_GET] = "get",     [SP_BENCH_GET_SERIAL] = "get-ser",
        [SP_BENCH_TXN1] = "txn1",   [SP_BENCH_TXN2] = "txn2",   [SP_BENCH_TXN5] = "txn5",
        [SP_BENCH_TXN10] = "txn10", [SP_BENCH_TRANSFER] = "transfer",
    };
    SP_ASSERT(op < SP_BENCH_OPS);
    return names[op];
}

unsigned sp_bench_op_groups(enum sp_bench_op op)
{
    switch (op) {
    case SP_BENCH_TXN1:
        return 1;
    case SP_BENCH_TXN2:
        return 2;
    case SP_BENCH_TXN5:
        return 5;
    case SP_BENCH_TXN10:
        return 10;
    default:
        return 0;
    }
}

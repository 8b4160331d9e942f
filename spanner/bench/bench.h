/*
 * bench.h - spanner-bench: a closed-loop load generator with pluggable
 * targets (issue 7). The manual of the module; everything else in
 * spanner/bench is private to it.
 *
 * A target is a small function table (struct sp_bench_target): connect once
 * per invocation, then op() is called from every client thread at once,
 * run after run, then close. Targets today: paxos-log, etcd, spanner (the
 * store through libspanner) and echo (the tool's own floor). Adding one
 * means writing one table in its own file and listing it in targets.c and
 * CMakeLists.txt; the runner, the histograms and the report need no change
 * (scripts/bench-vs-etcd only needs to know how to start its cluster).
 *
 * A run: `clients` threads, each in a closed loop (issue the next operation
 * when the previous one answered), for `seconds` or until `ops_total`
 * operations, whichever first; a run never outlives `seconds_max`. With
 * `async`, one thread keeps `clients` operations in flight through the
 * target's start/next instead (no thread per client: what a client
 * multiplexing many requests on one connection sees). Keys are
 * drawn uniformly from the key space; every thread has its own PRNG seeded
 * from cfg->seed, so a run's key sequence is reproducible.
 */
#ifndef SP_BENCH_H
#define SP_BENCH_H

#include "hist.h"
#include "sp_error.h"

#include <stddef.h>
#include <stdint.h>

#define SP_BENCH_CLIENTS_MAX   256
#define SP_BENCH_KEY_MAX       1024
#define SP_BENCH_VALUE_MAX     (1 << 20)
#define SP_BENCH_RETRIES_MAX   3  /* runner-level retries of a retryable failure */
#define SP_BENCH_PRELOAD_MAX_S 60 /* bound on writing the key space before reads */

/* Operation kinds a target may support. */
enum sp_bench_op {
    SP_BENCH_PUT,        /* durable, replicated single-key write */
    SP_BENCH_GET,        /* linearizable single-key read */
    SP_BENCH_GET_SERIAL, /* serializable (possibly stale, member-local) read */
    SP_BENCH_TXN1,       /* read-write transaction writing one key in each of 1, */
    SP_BENCH_TXN2,       /*   2, */
    SP_BENCH_TXN5,       /*   5 */
    SP_BENCH_TXN10,      /*   or 10 groups (2PC when more than one) */
    SP_BENCH_TRANSFER,   /* bank: read two accounts in different groups, write both */
    SP_BENCH_OPS
};
/* Op kinds that write (the report shows their commit wait). */
#define SP_BENCH_WRITES                                                                            \
    (SP_BENCH_BIT(SP_BENCH_PUT) | SP_BENCH_BIT(SP_BENCH_TXN1) | SP_BENCH_BIT(SP_BENCH_TXN2) |      \
     SP_BENCH_BIT(SP_BENCH_TXN5) | SP_BENCH_BIT(SP_BENCH_TXN10) | SP_BENCH_BIT(SP_BENCH_TRANSFER))
/* Groups an SP_BENCH_TXN* op writes to (0 for other kinds). */
unsigned sp_bench_op_groups(enum sp_bench_op op);
#define SP_BENCH_BIT(op) (1u << (op))

const char *sp_bench_op_name(enum sp_bench_op op);

/* Workloads: the share of reads and which read. */
enum sp_bench_workload {
    SP_BENCH_W_PUT,     /* 100% put */
    SP_BENCH_W_GET,     /* 100% linearizable get */
    SP_BENCH_W_GET_SER, /* 100% serializable get */
    SP_BENCH_W_A,       /* YCSB A: 50% get, 50% put */
    SP_BENCH_W_B,       /* YCSB B: 95% get, 5% put */
    SP_BENCH_W_C,       /* YCSB C: 100% get */
    SP_BENCH_W_TXN1,    /* 100% txn1 (one group, placed like txnN's keys) */
    SP_BENCH_W_TXN2,    /* 100% txn2: 2PC over 2 groups */
    SP_BENCH_W_TXN5,    /* 100% txn5 */
    SP_BENCH_W_TXN10,   /* 100% txn10 */
    SP_BENCH_W_BANK,    /* 100% transfers; the total is checked after each run */
    SP_BENCH_W_COUNT
};
const char *sp_bench_workload_name(enum sp_bench_workload w);
int sp_bench_workload_parse(const char *s, enum sp_bench_workload *w);
/* Op kinds the workload issues (for the "supported by target" check). */
unsigned sp_bench_workload_ops(enum sp_bench_workload w, int serializable);
/* Whether a workload needs every key written first (it reads). */
int sp_bench_workload_reads(enum sp_bench_workload w, int serializable);

/*
 * A target. The first three functions may not be NULL. `op` must be safe to call from many
 * threads at once on one connection (each call is one operation).
 *
 * connect: endpoints is the --endpoints string for this target (may be ""
 *   when the target can start its own local cluster). opts is the bench
 *   configuration (work dir, timeouts). Returns 0 with *conn, or an SP_E*
 *   code with err set.
 * op: performs one operation. For SP_BENCH_TXN* the key is a suffix the
 *   target places in each group; for SP_BENCH_TRANSFER it is ignored and
 *   info->rand picks the accounts. Returns 0, or an SP_E* code; the runner
 *   retries SP_ESP_UNAVAILABLE, SP_EPAXOS_NOT_LEADER, SP_EPAXOS_BUSY,
 *   SP_ETXN_ABORTED and SP_ETXN_WOUNDED up to SP_BENCH_RETRIES_MAX times,
 *   then counts an error. A target that retries internally (e.g. to
 *   follow a leader) adds those attempts to info->retries; one that knows
 *   its commit wait adds it to info->commit_wait_us. err may be NULL.
 * close: releases the connection (and anything connect started).
 */
struct sp_bench_config;

/* What a target may report about one operation besides its code. The
 * runner zeroes it once per operation; targets add to it on every attempt. */
struct sp_bench_op_info {
    unsigned retries;        /* attempts the target made beyond the first */
    uint64_t commit_wait_us; /* time the server held the answer for commit wait */
    uint64_t paxos_us;       /* time the commit record took in Paxos at the leader */
    uint64_t rand;           /* in: a random word for the target's own choices */
};

struct sp_bench_target {
    const char *name;
    const char *about;
    unsigned ops_supported; /* SP_BENCH_BIT mask */
    int (*connect)(const char *endpoints, const struct sp_bench_config *cfg, void **conn,
                   struct sp_err *err);
    int (*op)(void *conn, enum sp_bench_op kind, const uint8_t *key, size_t key_len,
              const uint8_t *value, size_t value_len, struct sp_bench_op_info *info,
              struct sp_err *err);
    void (*close)(void *conn);
    /*
     * Optional asynchronous interface (both NULL when absent; --async needs
     * it). start begins one operation and returns at once: 0, or an SP_E*
     * code when it could not start. next waits up to timeout_ms for any
     * started operation to finish: returns 1 with *tag (as given to start)
     * and *code (what op would have returned; err set when not 0), or 0
     * on timeout. Every started operation finishes within cfg->timeout_ms.
     * One thread calls start and next on a connection.
     */
    int (*start)(void *conn, enum sp_bench_op kind, const uint8_t *key, size_t key_len,
                 const uint8_t *value, size_t value_len, void *tag, struct sp_err *err);
    int (*next)(void *conn, int timeout_ms, void **tag, int *code, struct sp_bench_op_info *info,
                struct sp_err *err);
    /* Op kinds start takes (SP_BENCH_BIT mask); 0: every kind of
     * ops_supported. --async refuses a workload with other kinds. */
    unsigned async_ops;
    unsigned flags; /* SP_BENCH_F_* */
    /*
     * Optional (NULL when absent), for the workloads in `checked` (bits
     * 1u << workload). setup runs once per workload before its first run
     * on this connection (bank: open every account); check after every run
     * of it (bank: the total must not have changed). Both return 0 or an
     * SP_E* code with err set; a failed check is counted as an error of
     * the run, with err as its message.
     */
    unsigned checked;
    int (*setup)(void *conn, enum sp_bench_workload w, const struct sp_bench_config *cfg,
                 struct sp_err *err);
    int (*check)(void *conn, enum sp_bench_workload w, const struct sp_bench_config *cfg,
                 struct sp_err *err);
};
#define SP_BENCH_F_COMMIT_WAIT 1u /* reports commit wait: the report shows its share */

/* Returns the built target called name, or NULL (unknown, or not built:
 * *not_built is then set to a static reason). */
const struct sp_bench_target *sp_bench_target_find(const char *name, const char **not_built);
/* Names of every target this binary knows (built or not), for --list. */
void sp_bench_targets_list(void (*fn)(void *ctx, const char *name, const char *about, int built),
                           void *ctx);

struct sp_bench_config {
    enum sp_bench_workload workload;
    int serializable;   /* YCSB reads serializable instead of linearizable */
    int clients;        /* 1..SP_BENCH_CLIENTS_MAX: threads, or the window when async */
    int async;          /* one thread keeps `clients` operations in flight */
    int no_coalesce;    /* spanner: every request its own gRPC call (spanner.h) */
    int seconds;        /* run length; 0 with ops_total > 0: until ops_total */
    uint64_t ops_total; /* 0: no count limit */
    int seconds_max;    /* hard bound on any run, including preloads */
    uint64_t keys;      /* key-space size */
    size_t key_size;    /* bytes */
    size_t value_size;  /* bytes */
    int timeout_ms;     /* per operation */
    uint64_t seed;
    int progress;      /* print a progress line (stdout is a tty) */
    const char *dir;   /* work directory (local clusters, fsync probe) */
    const char *label; /* progress-line prefix, e.g. "etcd put c=64" */
};

/* What one run measured. Large (histograms): allocate on the heap. */
struct sp_bench_result {
    struct sp_bench_hist hist[SP_BENCH_OPS]; /* successful operations */
    uint64_t ops[SP_BENCH_OPS];              /* successful operations */
    uint64_t errors[SP_BENCH_OPS];           /* failed after retries */
    uint64_t retries;                        /* runner and target retries */
    uint64_t commit_wait_us[SP_BENCH_OPS];   /* summed over successful operations */
    uint64_t paxos_us[SP_BENCH_OPS];         /* summed over successful operations */
    uint64_t checks, checks_failed;          /* target checks after runs (bank) */
    double elapsed_s;
    char first_error[SP_ERR_MSG_MAX]; /* "" when none */
};

void sp_bench_result_init(struct sp_bench_result *r);
/* Adds src into dst (for several rounds of one cell). */
void sp_bench_result_merge(struct sp_bench_result *dst, const struct sp_bench_result *src);

/*
 * Runs cfg's workload against conn. Blocks for the run: at most
 * cfg->seconds_max, plus (1 + SP_BENCH_RETRIES_MAX) operation timeouts
 * for the operations in flight at the deadline. Returns 0 (the run
 * happened; failures are counted in res), SP_ETIMEDOUT (an operation
 * outlived that bound: the run was abandoned with the results of the
 * clients that stopped; never use or close that connection again),
 * SP_EINVAL (bad config or the
 * target does not support the workload) or SP_ENOMEM (threads).
 */
int sp_bench_run(const struct sp_bench_target *t, void *conn, const struct sp_bench_config *cfg,
                 struct sp_bench_result *res, struct sp_err *err);

/*
 * Writes every key of the key space once (keys 0..keys-1, in order across
 * the client threads), so reads find values. Bounded by cfg->seconds_max
 * and SP_BENCH_PRELOAD_MAX_S, whichever is smaller. Returns as
 * sp_bench_run does.
 */
int sp_bench_preload(const struct sp_bench_target *t, void *conn, const struct sp_bench_config *cfg,
                     struct sp_bench_result *res, struct sp_err *err);

/* Formats key number i into key_size bytes (fixed-width hex, '0'-padded). */
void sp_bench_key(uint64_t i, uint8_t *key, size_t key_size);

/* The machine's floor for a replicated durable write on one host. */
#define SP_BENCH_FSYNC_WRITERS 3 /* the replicas of one group on this host */
struct sp_bench_limits {
    uint64_t fsync_p50_ns, fsync_p99_ns; /* fdatasync after a 256 B append */
    /* the same, while SP_BENCH_FSYNC_WRITERS threads do it at once */
    uint64_t fsync_shared_p50_ns, fsync_shared_p99_ns;
    uint64_t rpc_p50_ns, rpc_p99_ns;         /* loopback gRPC unary echo, 8 B */
    uint64_t fsync_n, fsync_shared_n, rpc_n; /* samples taken */
};
/* Measures all three (about 3-15 s). dir is where the probe files go (use
 * the disk the clusters write to). Returns 0, SP_EIO (err names the file or
 * the server), SP_ENOMEM. */
int sp_bench_limits_measure(const char *dir, struct sp_bench_limits *out, struct sp_err *err);

#endif /* SP_BENCH_H */

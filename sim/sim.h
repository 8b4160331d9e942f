/*
 * sim.h - the simulator module's one public header: transaction histories,
 * the external-consistency checker (spanner-check) and a generator of valid
 * histories for benchmarks.
 *
 * A history is JSON lines, one transaction per line; sim/README.md is the
 * format's specification (it is the contract between the simulator, the real
 * cluster's client `spanner shell --history` and this checker).
 *
 * Use:
 *     struct sim_history *h;
 *     struct sp_err err = {0};
 *     int rc = sim_history_load(f, &h, &err);       // 0 or SP_EINVAL/SP_ENOMEM/SP_EIO
 *     struct sim_check_options o = {.workload = SIM_WORKLOAD_AUTO};
 *     struct sim_report *r;
 *     rc = sim_check(h, &o, &r, &err);             // 0, SP_ESIM_VIOLATION or input error
 *     sim_report_print(r, stdout);
 *     sim_report_free(r);
 *     sim_history_free(h);
 *
 * Threads: none; objects are not shared. Memory: every object returned here
 * is owned by the caller and freed with its _free function; nothing returned
 * points into another object except where a comment says so.
 */
#ifndef SIM_H
#define SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "sp_error.h"

typedef int64_t sim_micros;

/* ---- histories -------------------------------------------------------------- */

struct sim_history;

/* Reads a history from `f` line by line (the file is streamed, never held
 * whole). A line that is not a JSON object, lacks a required field, has a
 * field of the wrong type, or is cut short is an error whose message names
 * the 1-based line number and the problem: "line 7: \"ops\": must be an
 * array". Blank lines are skipped. Returns 0 and sets *out, or SP_EINVAL
 * (malformed input), SP_ENOMEM, SP_EIO (read error); *out is NULL on error. */
int sim_history_load(FILE *f, struct sim_history **out, struct sp_err *err);

/* As sim_history_load, from a path ("-" is stdin). */
int sim_history_load_path(const char *path, struct sim_history **out, struct sp_err *err);

/* Number of transactions (lines that held one). */
size_t sim_history_size(const struct sim_history *h);

void sim_history_free(struct sim_history *h); /* NULL is fine */

/* ---- the checker ------------------------------------------------------------ */

enum sim_workload {
    SIM_WORKLOAD_AUTO = 0,    /* list-append if any op is an append, else register */
    SIM_WORKLOAD_REGISTER,    /* reads and writes of single values */
    SIM_WORKLOAD_BANK,        /* register semantics plus the conserved total */
    SIM_WORKLOAD_LIST_APPEND, /* appends of unique values; reads return whole lists */
};

/* Parses "bank", "register", "list-append"; returns -1 otherwise. */
int sim_workload_parse(const char *name);
const char *sim_workload_name(enum sim_workload w);

struct sim_check_options {
    enum sim_workload workload;
    bool bank_total_set; /* else inferred from the first full read-only read */
    int64_t bank_total;
    /* Bound on the cycles the serializability search examines per anomaly
     * class (each try is one breadth-first search); 0 means the default 16. */
    unsigned cycle_tries_max;
};

/* The checks, in the order they run and print. */
enum sim_check_id {
    SIM_CHECK_TS_ORDER = 0, /* 1: real-time order implies timestamp order */
    SIM_CHECK_READS,        /* 2: reads return the newest write below their ts */
    SIM_CHECK_GRAPH,        /* 3: Elle-style dependency cycles (list-append) */
    SIM_CHECK_WORKLOAD,     /* 4: bank total, no lost acknowledged write */
    SIM_CHECK_COUNT
};

struct sim_report;

/* Runs every check on `h`. Returns 0 when the history is valid,
 * SP_ESIM_VIOLATION when any check found an anomaly, SP_EINVAL when the
 * history cannot be checked under the options (a list-append value appended
 * twice, a bank balance that is not an integer), SP_ENOMEM. On 0 and
 * SP_ESIM_VIOLATION *out is set (caller frees); on other errors it is NULL. */
int sim_check(const struct sim_history *h, const struct sim_check_options *o,
              struct sim_report **out, struct sp_err *err);

/* Prints a verdict per check, each anomaly with its smallest counter-example
 * and the transactions involved (line numbers, ids), and a final verdict. */
void sim_report_print(const struct sim_report *r, FILE *f);

/* True if an anomaly named `name` ("G-single", "stale-read", ...) was found. */
bool sim_report_has(const struct sim_report *r, const char *name);

/* Number of distinct anomaly names found (0 for a valid history). */
size_t sim_report_anomalies(const struct sim_report *r);

/* The counter-example message of anomaly `name`, or NULL if not found. The
 * string lives as long as `r`. */
const char *sim_report_detail(const struct sim_report *r, const char *name);

/* True if check `c` ran (false when it did not apply: graph check on
 * register histories, bank total on other workloads). */
bool sim_report_ran(const struct sim_report *r, enum sim_check_id c);

void sim_report_free(struct sim_report *r); /* NULL is fine */

/* ---- generator -------------------------------------------------------------- */

struct sim_gen_options {
    uint64_t seed;
    size_t txns;
    enum sim_workload workload; /* REGISTER, BANK or LIST_APPEND */
    size_t keys;                /* 0: txns / 8 (at least 4); for bank: accounts */
    /* Negative control: every stale_every-th read-only transaction (0:
     * none) reads one version too old on each key that has history (lists
     * miss their last element, registers return the previous value), as a
     * replica that served a read below its safe time would. REGISTER and
     * LIST_APPEND only. */
    unsigned stale_every;
};

/* Writes a valid history of o->txns transactions to `f`: a serial execution
 * in timestamp order with overlapping real-time intervals, ~4% aborted and
 * ~1% unknown transactions, ~30% read-only. Deterministic for a seed.
 * Returns 0 or SP_EIO / SP_EINVAL. */
int sim_generate(FILE *f, const struct sim_gen_options *o, struct sp_err *err);

#endif /* SIM_H */

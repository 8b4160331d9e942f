/*
 * sim_int.h - private to sim/: the in-memory history the checks share, and
 * small containers (string interning, a uint64 -> uint32 hash map).
 *
 * Strings (keys, values, ids) are interned to dense uint32 ids starting at 1;
 * id 0 is JSON null (a read of a missing key, a delete). Transactions are
 * numbered by their position in the file (0-based); each keeps its line.
 */
#ifndef SIM_INT_H
#define SIM_INT_H

#include <stdint.h>

#include "sim.h"

enum sim_mode { SIM_RW = 0, SIM_RO = 1 };
enum sim_outcome { SIM_OK = 0, SIM_ABORTED, SIM_UNKNOWN };
enum sim_f { SIM_F_READ = 0, SIM_F_WRITE, SIM_F_DELETE, SIM_F_APPEND };

#define SIM_NULL 0u /* value id of JSON null */

struct sim_op {
    uint32_t key;
    uint32_t val;      /* write/append value, register read value; SIM_NULL */
    uint32_t list_off; /* list reads: elements are h->elems[list_off..+list_len) */
    uint32_t list_len;
    uint8_t f;       /* enum sim_f */
    uint8_t is_list; /* a read whose value was a JSON array */
};

struct sim_txn {
    sim_micros invoke_us;
    sim_micros complete_us;
    sim_micros ts; /* 0 when absent */
    uint64_t line;
    uint32_t op_off; /* ops are h->ops[op_off..+op_n) */
    uint32_t op_n;
    uint32_t id; /* interned "id", 0 when absent */
    uint8_t mode;
    uint8_t outcome;
    uint8_t snapshot; /* a read-only txn at a chosen (stale) timestamp */
    uint8_t single_group; /* a strong read of one group at its LastTS() */
};

/* Interned strings: open addressing over offsets into one arena. */
struct sim_strings {
    char *arena;
    size_t arena_len, arena_cap;
    uint64_t *offs; /* offs[id] = arena offset; offs[0] unused */
    uint32_t *lens;
    uint32_t n; /* ids 1..n */
    size_t cap;
    uint64_t *hashes; /* hashes[id] */
    uint64_t *slots;  /* hash table: tag << 32 | id, 0 = empty */
    uint32_t nslots;
};

/* A map from uint64 keys to uint32 values (never UINT32_MAX). Grows. */
struct sim_map {
    uint64_t *keys;
    uint32_t *vals; /* UINT32_MAX = empty */
    size_t n, cap;
};

struct sim_history {
    struct sim_txn *txns;
    size_t ntxns, txns_cap;
    struct sim_op *ops;
    size_t nops, ops_cap;
    uint32_t *elems;
    size_t nelems, elems_cap;
    struct sim_strings str;
    struct sim_map ints; /* integer value -> id of its decimal text (a cache) */
    bool has_append;
    size_t nfaults; /* fault lines (skipped by the checks) */
};

/* Grows *p (elements of `elem` bytes, capacity *cap) to hold `need`. */
int sim__grow(void **p, size_t *cap, size_t need, size_t elem);
/* Returns the id of bytes p[0..n), adding them if new; 0 on ENOMEM. */
uint32_t sim__intern(struct sim_strings *s, const char *p, size_t n);
/* Parses one history line into h (jsonl.c). 0 or SP_EINVAL / SP_ENOMEM. */
int sim__parse_line(struct sim_history *h, const char *buf, size_t n, uint64_t line,
                    struct sp_err *err);

const char *sim__str(const struct sim_history *h, uint32_t id); /* "null" for 0 */

int sim__map_init(struct sim_map *m, size_t expect);
void sim__map_free(struct sim_map *m);
/* Returns a pointer to the value slot for `k`, inserting UINT32_MAX-marked
 * absent slots as `init`; NULL on allocation failure. Valid until next put. */
uint32_t *sim__map_put(struct sim_map *m, uint64_t k, uint32_t init);
/* Returns the value for `k` or UINT32_MAX. */
uint32_t sim__map_get(const struct sim_map *m, uint64_t k);

static inline uint64_t sim__kv(uint32_t key, uint32_t val)
{
    return ((uint64_t) key << 32) | val;
}

/* ---- report building (check.c) ---------------------------------------------- */

/* Records an anomaly for check `c`. `weight` orders counter-examples of the
 * same name: the smallest weight is kept (cycle length, then line). */
int sim__anomaly(struct sim_report *r, enum sim_check_id c, const char *name, uint64_t weight,
                 const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Writes "line N" or "line N (id X)" for txn t into buf. */
const char *sim__txn_name(const struct sim_history *h, uint32_t t, char *buf, size_t cap);
#define SIM_NAME_MAX 96

void sim__report_ran(struct sim_report *r, enum sim_check_id c, const char *note);
void sim__report_skip(struct sim_report *r, enum sim_check_id c, const char *why);

/* The checks; each returns 0 or SP_ENOMEM/SP_EINVAL, anomalies go to r. */
int sim__check_ts_order(const struct sim_history *h, struct sim_report *r, struct sp_err *err);
int sim__check_reads(const struct sim_history *h, bool lists, struct sim_report *r,
                     struct sp_err *err);
int sim__check_graph(const struct sim_history *h, const struct sim_check_options *o,
                     enum sim_workload w, struct sim_report *r, struct sp_err *err);
int sim__check_workload(const struct sim_history *h, const struct sim_check_options *o,
                        enum sim_workload w, struct sim_report *r, struct sp_err *err);

/* Sorts idx[0..n) by key[idx] ascending (ties by idx). 0 or SP_ENOMEM. */
int sim__sort_by(uint32_t *idx, size_t n, const int64_t *key);

#endif /* SIM_INT_H */

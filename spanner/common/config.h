/*
 * config.h - the cluster configuration file (JSON, parsed with jansson).
 * Private to spanner/ (server, CLI, tools).
 *
 * One file describes a whole cluster; every node reads the same file and
 * finds itself by id. Example:
 *
 *   {
 *     "zones": ["us", "eu", "asia"],
 *     "nodes": [
 *       {"id": 1, "zone": "us",   "addr": "127.0.0.1:7101", "data": "n1"},
 *       {"id": 2, "zone": "eu",   "addr": "127.0.0.1:7102", "data": "n2"},
 *       {"id": 3, "zone": "asia", "addr": "127.0.0.1:7103", "data": "n3"}
 *     ],
 *     "groups": [
 *       {"id": 1, "start": "",  "end": "m", "voters": ["us", "eu", "asia"],
 *        "read_only": [], "leader": "us"},
 *       {"id": 2, "start": "m", "end": "",  "voters": ["us", "eu", "asia"],
 *        "leader": "eu"}
 *     ],
 *     "truetime": {"backend": "chrony", "chrony_socket": "/run/chrony/chronyd.sock"},
 *     "latency_ms": {"us-eu": 40, "us-asia": 80, "eu-asia": 90},
 *     "lease_ms": 10000,
 *     "min_next_ms": 100
 *   }
 *
 * Rules (each violation is an error naming the file, the field and what was
 * expected; an invalid file never starts a node):
 *   - zone names are unique; node ids are unique, 1..65535; every node's
 *     zone is declared; addresses are HOST:PORT; relative data paths are
 *     resolved against the config file's directory;
 *   - groups have unique ids; their key ranges [start, end) are sorted,
 *     contiguous, and cover the whole key space ("" as start is -inf, as
 *     end +inf);
 *   - placement lists zones: a group gets one replica in each listed zone,
 *     on the node (group id mod nodes in that zone) of that zone; a zone is
 *     either voting or read-only for a group, not both; 1..7 voters; the
 *     preferred leader zone, if given, is a voting zone;
 *   - "truetime" keys are those of tt_config_set (truetime.h);
 *   - latency_ms pairs name declared zones; the matrix is symmetric and
 *     emulated by the transport (absent pairs: 0; off by default).
 */
#ifndef SP_CONFIG_H
#define SP_CONFIG_H

#include "sp_error.h"
#include "truetime.h"

#include <stddef.h>
#include <stdint.h>

#define SP_ZONES_MAX   16
#define SP_NODES_MAX   64
#define SP_GROUPS_MAX  256
#define SP_REPLICAS_MAX 7
#define SP_NAME_MAX    32
#define SP_ADDR_MAX    64
#define SP_KEY_MAX     256

struct sp_node_conf {
    uint32_t id;
    int zone; /* index into zones */
    char addr[SP_ADDR_MAX];
    char data[512];
};

struct sp_group_conf {
    uint64_t id;
    char start[SP_KEY_MAX]; /* "" = -inf */
    char end[SP_KEY_MAX];   /* "" = +inf */
    uint32_t n_voters, n_read_only;
    uint32_t voters[SP_REPLICAS_MAX];    /* node ids */
    uint32_t read_only[SP_REPLICAS_MAX]; /* node ids */
    int leader_zone;                     /* -1: no preference */
};

struct sp_cluster_conf {
    char path[512];
    uint32_t n_zones, n_nodes, n_groups;
    char zones[SP_ZONES_MAX][SP_NAME_MAX];
    struct sp_node_conf nodes[SP_NODES_MAX];
    struct sp_group_conf groups[SP_GROUPS_MAX]; /* sorted by start */
    struct tt_config tt;
    tt_micros latency_us[SP_ZONES_MAX][SP_ZONES_MAX]; /* one-way */
    tt_micros lease_us;
    tt_micros min_next_us;
};

/* Loads and checks path. Returns 0, SP_ECONFIG (err: "FILE: FIELD: what was
 * expected") or SP_EIO (cannot read the file). */
int sp_conf_load(const char *path, struct sp_cluster_conf *out, struct sp_err *err);

/* The same for text; `name` stands for the file in messages and `base_dir`
 * resolves relative data paths. */
int sp_conf_parse(const char *text, const char *name, const char *base_dir,
                  struct sp_cluster_conf *out, struct sp_err *err);

/* The group whose range holds key (never NULL in a valid config). */
const struct sp_group_conf *sp_conf_group_for_key(const struct sp_cluster_conf *c,
                                                  const void *key, size_t len);
const struct sp_node_conf *sp_conf_node(const struct sp_cluster_conf *c, uint32_t id);
const struct sp_group_conf *sp_conf_group(const struct sp_cluster_conf *c, uint64_t id);
/* One-way emulated latency between two nodes' zones. */
tt_micros sp_conf_latency(const struct sp_cluster_conf *c, uint32_t from, uint32_t to);

#endif /* SP_CONFIG_H */

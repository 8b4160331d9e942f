/*
 * config.c - parse and check the cluster configuration; see config.h.
 *
 * Every error goes through bad(), which prefixes the file name and the JSON
 * path of the offending field ("cluster.conf: groups[1].voters[0]: ...").
 * Unknown keys are errors too: a misspelt option silently ignored is how a
 * cluster ends up with the wrong lease or no latency emulation.
 */
#include "config.h"
#include "sp_assert.h"

#include <errno.h>
#include <jansson.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ctx {
    const char *name;
    struct sp_err *err;
};

static int bad(struct ctx *x, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int bad(struct ctx *x, const char *field, const char *fmt, ...)
{
    char msg[SP_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return sp_err_set(x->err, SP_ECONFIG, "%s: %s: %s", x->name, field, msg);
}

/* Rejects keys of obj not in the NULL-terminated list. */
static int only_keys(struct ctx *x, const char *field, json_t *obj, const char *const *keys)
{
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v)
    {
        int ok = 0;
        for (int i = 0; keys[i] && !ok; i++)
            ok = strcmp(k, keys[i]) == 0;
        if (!ok)
            return bad(x, field, "unknown key \"%s\"", k);
    }
    return 0;
}

static int get_str(struct ctx *x, json_t *obj, const char *key, const char *field, char *out,
                   size_t cap, bool required)
{
    json_t *v = json_object_get(obj, key);
    if (!v) {
        if (required)
            return bad(x, field, "missing \"%s\" (a string)", key);
        out[0] = '\0';
        return 0;
    }
    if (!json_is_string(v) || json_string_length(v) >= cap)
        return bad(x, field, "\"%s\" must be a string shorter than %zu bytes", key, cap);
    snprintf(out, cap, "%s", json_string_value(v));
    return 0;
}

static int get_int(struct ctx *x, json_t *obj, const char *key, const char *field, long long lo,
                   long long hi, long long dflt, long long *out)
{
    json_t *v = json_object_get(obj, key);
    if (!v) {
        *out = dflt;
        return 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return bad(x, field, "\"%s\" must be an integer in [%lld, %lld]", key, lo, hi);
    *out = json_integer_value(v);
    return 0;
}

static int zone_index(const struct sp_cluster_conf *c, const char *name)
{
    for (uint32_t i = 0; i < c->n_zones; i++)
        if (strcmp(c->zones[i], name) == 0)
            return (int) i;
    return -1;
}

static int parse_zones(struct ctx *x, json_t *root, struct sp_cluster_conf *c)
{
    json_t *zs = json_object_get(root, "zones");
    if (!json_is_array(zs) || json_array_size(zs) == 0 || json_array_size(zs) > SP_ZONES_MAX)
        return bad(x, "zones", "expected an array of 1..%d zone names", SP_ZONES_MAX);
    size_t i;
    json_t *z;
    json_array_foreach(zs, i, z)
    {
        char field[32];
        snprintf(field, sizeof field, "zones[%zu]", i);
        if (!json_is_string(z) || json_string_length(z) == 0 ||
            json_string_length(z) >= SP_NAME_MAX)
            return bad(x, field, "expected a zone name of 1..%d bytes", SP_NAME_MAX - 1);
        if (zone_index(c, json_string_value(z)) >= 0)
            return bad(x, field, "zone \"%s\" is declared twice", json_string_value(z));
        snprintf(c->zones[c->n_zones++], SP_NAME_MAX, "%s", json_string_value(z));
    }
    return 0;
}

static int parse_addr(struct ctx *x, const char *field, const char *addr)
{
    const char *colon = strrchr(addr, ':');
    char *end;
    long port = colon ? strtol(colon + 1, &end, 10) : 0;
    if (!colon || colon == addr || *end || port < 1 || port > 65535)
        return bad(x, field, "addr \"%s\": expected HOST:PORT with port 1..65535", addr);
    return 0;
}

static int parse_node(struct ctx *x, json_t *n, size_t i, const char *base,
                      struct sp_cluster_conf *c)
{
    static const char *const keys[] = {"id", "zone", "addr", "data", NULL};
    char field[32], zone[SP_NAME_MAX], data[400];
    snprintf(field, sizeof field, "nodes[%zu]", i);
    if (!json_is_object(n))
        return bad(x, field, "expected an object {id, zone, addr, data}");
    struct sp_node_conf *nc = &c->nodes[c->n_nodes];
    long long id;
    int rc;
    if ((rc = only_keys(x, field, n, keys)) || (rc = get_int(x, n, "id", field, 1, 65535, 0, &id)))
        return rc;
    if (id == 0)
        return bad(x, field, "missing \"id\" (an integer in [1, 65535])");
    if (sp_conf_node(c, (uint32_t) id))
        return bad(x, field, "node id %lld is used twice", id);
    if ((rc = get_str(x, n, "zone", field, zone, sizeof zone, true)) ||
        (rc = get_str(x, n, "addr", field, nc->addr, sizeof nc->addr, true)) ||
        (rc = get_str(x, n, "data", field, data, sizeof data, true)) ||
        (rc = parse_addr(x, field, nc->addr)))
        return rc;
    nc->zone = zone_index(c, zone);
    if (nc->zone < 0)
        return bad(x, field, "zone \"%s\" is not declared in \"zones\"", zone);
    if (data[0] == '/')
        snprintf(nc->data, sizeof nc->data, "%s", data);
    else
        snprintf(nc->data, sizeof nc->data, "%.100s/%.400s", base, data);
    nc->id = (uint32_t) id;
    c->n_nodes++;
    return 0;
}

static int parse_nodes(struct ctx *x, json_t *root, const char *base, struct sp_cluster_conf *c)
{
    json_t *ns = json_object_get(root, "nodes");
    if (!json_is_array(ns) || json_array_size(ns) == 0 || json_array_size(ns) > SP_NODES_MAX)
        return bad(x, "nodes", "expected an array of 1..%d nodes", SP_NODES_MAX);
    size_t i;
    json_t *n;
    json_array_foreach(ns, i, n)
    {
        int rc = parse_node(x, n, i, base, c);
        if (rc)
            return rc;
    }
    return 0;
}

/* Places one replica in each listed zone: node (group id mod nodes in the
 * zone) of that zone, so groups spread over a zone's nodes. */
static int place(struct ctx *x, const char *field, json_t *list, uint64_t gid,
                 const struct sp_cluster_conf *c, uint32_t *out, uint32_t *n, uint32_t *zones_used)
{
    *n = 0;
    if (!list)
        return 0;
    if (!json_is_array(list) || json_array_size(list) > SP_REPLICAS_MAX)
        return bad(x, field, "expected an array of at most %d zone names", SP_REPLICAS_MAX);
    size_t i;
    json_t *z;
    json_array_foreach(list, i, z)
    {
        int zi = json_is_string(z) ? zone_index(c, json_string_value(z)) : -1;
        if (zi < 0)
            return bad(x, field, "entry %zu: expected a zone declared in \"zones\"", i);
        if (*zones_used & (1u << zi))
            return bad(x, field, "zone \"%s\" is listed twice for this group", c->zones[zi]);
        *zones_used |= 1u << zi;
        uint32_t in_zone = 0, pick = 0;
        for (uint32_t k = 0; k < c->n_nodes; k++)
            in_zone += c->nodes[k].zone == zi;
        if (in_zone == 0)
            return bad(x, field, "zone \"%s\" has no nodes", c->zones[zi]);
        for (uint32_t k = 0, seen = 0; k < c->n_nodes; k++)
            if (c->nodes[k].zone == zi && seen++ == gid % in_zone)
                pick = c->nodes[k].id;
        out[(*n)++] = pick;
    }
    return 0;
}

static int parse_group(struct ctx *x, json_t *g, size_t i, struct sp_cluster_conf *c)
{
    static const char *const keys[] = {"id", "start", "end", "voters", "read_only", "leader",
                                       NULL};
    char field[32], leader[SP_NAME_MAX];
    snprintf(field, sizeof field, "groups[%zu]", i);
    if (!json_is_object(g))
        return bad(x, field, "expected an object {id, start, end, voters, read_only, leader}");
    struct sp_group_conf *gc = &c->groups[c->n_groups];
    long long id;
    int rc;
    if ((rc = only_keys(x, field, g, keys)) ||
        (rc = get_int(x, g, "id", field, 1, 1LL << 40, 0, &id)))
        return rc;
    if (id == 0)
        return bad(x, field, "missing \"id\" (a positive integer)");
    if (sp_conf_group(c, (uint64_t) id))
        return bad(x, field, "group id %lld is used twice", id);
    gc->id = (uint64_t) id;
    if ((rc = get_str(x, g, "start", field, gc->start, sizeof gc->start, true)) ||
        (rc = get_str(x, g, "end", field, gc->end, sizeof gc->end, true)) ||
        (rc = get_str(x, g, "leader", field, leader, sizeof leader, false)))
        return rc;
    uint32_t used = 0;
    char vf[48], rf[48];
    snprintf(vf, sizeof vf, "%s.voters", field);
    snprintf(rf, sizeof rf, "%s.read_only", field);
    if ((rc = place(x, vf, json_object_get(g, "voters"), gc->id, c, gc->voters, &gc->n_voters,
                    &used)) ||
        (rc = place(x, rf, json_object_get(g, "read_only"), gc->id, c, gc->read_only,
                    &gc->n_read_only, &used)))
        return rc;
    if (gc->n_voters == 0)
        return bad(x, vf, "expected 1..%d voting zones", SP_REPLICAS_MAX);
    if (gc->n_voters + gc->n_read_only > SP_REPLICAS_MAX)
        return bad(x, field, "at most %d replicas in all", SP_REPLICAS_MAX);
    gc->leader_zone = leader[0] ? zone_index(c, leader) : -1;
    if (leader[0] && (gc->leader_zone < 0 || !(used & (1u << gc->leader_zone))))
        return bad(x, field, "leader \"%s\": expected one of this group's voting zones", leader);
    c->n_groups++;
    return 0;
}

static int cmp_group(const void *a, const void *b)
{
    const struct sp_group_conf *x = a, *y = b;
    return strcmp(x->start, y->start);
}

/* Ranges sorted, contiguous, covering everything: "" .. e1, e1 .. e2, ... "". */
static int check_ranges(struct ctx *x, struct sp_cluster_conf *c)
{
    qsort(c->groups, c->n_groups, sizeof c->groups[0], cmp_group);
    if (c->groups[0].start[0])
        return bad(x, "groups", "no group starts at \"\" (the beginning of the key space)");
    for (uint32_t i = 0; i < c->n_groups; i++) {
        const struct sp_group_conf *g = &c->groups[i];
        const char *next = i + 1 < c->n_groups ? c->groups[i + 1].start : "";
        if (strcmp(g->end, next) != 0)
            return bad(x, "groups",
                       "group %llu ends at \"%s\" but the next range starts at \"%s\": ranges "
                       "must be contiguous and the last must end at \"\"",
                       (unsigned long long) g->id, g->end, next);
        if (g->end[0] && strcmp(g->start, g->end) >= 0)
            return bad(x, "groups", "group %llu: start \"%s\" is not below end \"%s\"",
                       (unsigned long long) g->id, g->start, g->end);
    }
    return 0;
}

static int parse_groups(struct ctx *x, json_t *root, struct sp_cluster_conf *c)
{
    json_t *gs = json_object_get(root, "groups");
    if (!json_is_array(gs) || json_array_size(gs) == 0 || json_array_size(gs) > SP_GROUPS_MAX)
        return bad(x, "groups", "expected an array of 1..%d groups", SP_GROUPS_MAX);
    size_t i;
    json_t *g;
    json_array_foreach(gs, i, g)
    {
        int rc = parse_group(x, g, i, c);
        if (rc)
            return rc;
    }
    return check_ranges(x, c);
}

static int parse_truetime(struct ctx *x, json_t *root, struct sp_cluster_conf *c)
{
    tt_config_init(&c->tt);
    json_t *t = json_object_get(root, "truetime");
    if (!t)
        return 0;
    if (!json_is_object(t))
        return bad(x, "truetime", "expected an object of TrueTime settings");
    const char *k;
    json_t *v;
    json_object_foreach(t, k, v)
    {
        char val[256], field[64];
        snprintf(field, sizeof field, "truetime.%s", k);
        if (json_is_string(v))
            snprintf(val, sizeof val, "%s", json_string_value(v));
        else if (json_is_integer(v))
            snprintf(val, sizeof val, "%lld", (long long) json_integer_value(v));
        else if (json_is_real(v))
            snprintf(val, sizeof val, "%.17g", json_real_value(v));
        else
            return bad(x, field, "expected a string or a number");
        struct sp_err e = {0};
        if (tt_config_set(&c->tt, k, val, &e) != 0)
            return bad(x, field, "%s", e.msg);
    }
    struct sp_err e = {0};
    if (tt_config_validate(&c->tt, &e) != 0)
        return bad(x, "truetime", "%s", e.msg);
    return 0;
}

static int parse_latency(struct ctx *x, json_t *root, struct sp_cluster_conf *c)
{
    json_t *l = json_object_get(root, "latency_ms");
    if (!l)
        return 0;
    if (!json_is_object(l))
        return bad(x, "latency_ms", "expected an object {\"ZONE-ZONE\": milliseconds}");
    const char *k;
    json_t *v;
    json_object_foreach(l, k, v)
    {
        char field[80], a[SP_NAME_MAX], b[SP_NAME_MAX];
        snprintf(field, sizeof field, "latency_ms.%s", k);
        const char *dash = strchr(k, '-');
        if (!dash || (size_t) (dash - k) >= sizeof a || strlen(dash + 1) >= sizeof b)
            return bad(x, field, "expected a key \"ZONE-ZONE\"");
        snprintf(a, sizeof a, "%.*s", (int) (dash - k), k);
        snprintf(b, sizeof b, "%s", dash + 1);
        int za = zone_index(c, a), zb = zone_index(c, b);
        if (za < 0 || zb < 0)
            return bad(x, field, "\"%s\" and \"%s\" must both be declared zones", a, b);
        if (!json_is_number(v) || json_number_value(v) < 0 || json_number_value(v) > 10000)
            return bad(x, field, "expected milliseconds in [0, 10000]");
        tt_micros us = (tt_micros) (json_number_value(v) * 1000.0);
        c->latency_us[za][zb] = c->latency_us[zb][za] = us;
    }
    return 0;
}

static int parse_root(struct ctx *x, json_t *root, const char *base, struct sp_cluster_conf *c)
{
    static const char *const keys[] = {"zones", "nodes", "groups", "truetime", "latency_ms",
                                       "lease_ms", "min_next_ms", NULL};
    if (!json_is_object(root))
        return bad(x, "(top level)", "expected a JSON object");
    long long lease, min_next;
    int rc;
    if ((rc = only_keys(x, "(top level)", root, keys)) || (rc = parse_zones(x, root, c)) ||
        (rc = parse_nodes(x, root, base, c)) || (rc = parse_groups(x, root, c)) ||
        (rc = parse_truetime(x, root, c)) || (rc = parse_latency(x, root, c)) ||
        (rc = get_int(x, root, "lease_ms", "lease_ms", 50, 600000, 10000, &lease)) ||
        (rc = get_int(x, root, "min_next_ms", "min_next_ms", 1, 10000, 100, &min_next)))
        return rc;
    c->lease_us = lease * 1000;
    c->min_next_us = min_next * 1000;
    return 0;
}

int sp_conf_parse(const char *text, const char *name, const char *base_dir,
                  struct sp_cluster_conf *out, struct sp_err *err)
{
    SP_ASSERT(text != NULL && name != NULL && out != NULL);
    memset(out, 0, sizeof *out);
    snprintf(out->path, sizeof out->path, "%s", name);
    struct ctx x = {.name = name, .err = err};
    json_error_t je;
    json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return sp_err_set(err, SP_ECONFIG, "%s: line %d, column %d: %s", name, je.line,
                          je.column, je.text);
    int rc = parse_root(&x, root, base_dir ? base_dir : ".", out);
    json_decref(root);
    return rc;
}

int sp_conf_load(const char *path, struct sp_cluster_conf *out, struct sp_err *err)
{
    SP_ASSERT(path != NULL && out != NULL);
    FILE *f = fopen(path, "r");
    if (!f)
        return sp_err_set(err, SP_EIO, "%s: cannot open: %s", path, strerror(errno));
    char *text = NULL;
    size_t cap = 0, len = 0;
    for (;;) { /* bounded by the file; at most 16 MiB */
        if (len + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 8192;
            char *t = cap <= (16u << 20) ? realloc(text, cap) : NULL;
            if (!t) {
                free(text);
                fclose(f);
                return sp_err_set(err, SP_ECONFIG, "%s: larger than 16 MiB", path);
            }
            text = t;
        }
        size_t n = fread(text + len, 1, 4096, f);
        len += n;
        if (n < 4096)
            break;
    }
    fclose(f);
    text[len] = '\0';
    char dir[512];
    snprintf(dir, sizeof dir, "%s", path);
    int rc = sp_conf_parse(text, path, dirname(dir), out, err);
    free(text);
    return rc;
}

const struct sp_group_conf *sp_conf_group_for_key(const struct sp_cluster_conf *c,
                                                  const void *key, size_t len)
{
    SP_ASSERT(c->n_groups > 0);
    /* ranges are sorted by start: the last group whose start <= key */
    const struct sp_group_conf *hit = &c->groups[0];
    for (uint32_t i = 1; i < c->n_groups; i++) {
        size_t sl = strlen(c->groups[i].start);
        int cmp = memcmp(c->groups[i].start, key, sl < len ? sl : len);
        if (cmp < 0 || (cmp == 0 && sl <= len))
            hit = &c->groups[i];
        else
            break;
    }
    return hit;
}

const struct sp_node_conf *sp_conf_node(const struct sp_cluster_conf *c, uint32_t id)
{
    for (uint32_t i = 0; i < c->n_nodes; i++)
        if (c->nodes[i].id == id)
            return &c->nodes[i];
    return NULL;
}

const struct sp_group_conf *sp_conf_group(const struct sp_cluster_conf *c, uint64_t id)
{
    for (uint32_t i = 0; i < c->n_groups; i++)
        if (c->groups[i].id == id)
            return &c->groups[i];
    return NULL;
}

tt_micros sp_conf_latency(const struct sp_cluster_conf *c, uint32_t from, uint32_t to)
{
    const struct sp_node_conf *a = sp_conf_node(c, from), *b = sp_conf_node(c, to);
    return a && b ? c->latency_us[a->zone][b->zone] : 0;
}

/*
 * history.c - loading a JSON-lines history into flat arrays.
 *
 * The file is streamed: one line is read, parsed with jansson, validated and
 * copied into the history's arrays (transactions, operations, list elements,
 * interned strings), then freed. Memory is therefore proportional to the
 * history's content, not to jansson's object trees. Every rejection names the
 * 1-based line and the field; a last line without its newline that does not
 * parse is reported as truncated. The format is specified in sim/README.md.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "sim_int.h"
#include "sp_assert.h"

/* Bounds that keep sizes in uint32 and stop runaway input early. */
#define OPS_PER_TXN_MAX  (1u << 16)
#define LIST_LEN_MAX     (1u << 24)
#define HISTORY_OPS_MAX  (UINT32_MAX / 2)
#define STRING_BYTES_MAX (1u << 20)

/* ---- growable arrays ------------------------------------------------------- */

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t c = *cap ? *cap : 64;
    while (c < need)
        c *= 2;
    void *q = realloc(*p, c * elem);
    if (!q)
        return SP_ENOMEM;
    *p = q;
    *cap = c;
    return 0;
}

/* ---- string interning ------------------------------------------------------ */

static uint64_t hash_bytes(const char *s, size_t n)
{
    uint64_t x = 1469598103934665603ull; /* FNV-1a, then a final mix */
    for (size_t i = 0; i < n; i++)
        x = (x ^ (unsigned char) s[i]) * 1099511628211ull;
    x ^= x >> 29;
    x *= 0xbf58476d1ce4e5b9ull;
    return x ^ (x >> 32);
}

/* Slots hold (hash tag << 32 | id): a probe that meets another string
 * usually fails on the tag without touching the arena (a cache miss). */
static int strings_rehash(struct sim_strings *s)
{
    uint32_t n = s->nslots ? s->nslots * 2 : 1024;
    uint64_t *slots = calloc(n, sizeof *slots);
    if (!slots)
        return SP_ENOMEM;
    for (uint32_t i = 0; i < s->nslots; i++) {
        if (!s->slots[i])
            continue;
        uint64_t hv = s->hashes[(uint32_t) s->slots[i]], j = hv & (n - 1);
        while (slots[j])
            j = (j + 1) & (n - 1);
        slots[j] = s->slots[i];
    }
    free(s->slots);
    s->slots = slots;
    s->nslots = n;
    return 0;
}

static int strings_add(struct sim_strings *s, const char *p, size_t n, uint64_t hv)
{
    size_t c = s->cap, c2 = s->cap;
    if (grow((void **) &s->offs, &c, s->n + 2, sizeof *s->offs) ||
        grow((void **) &s->hashes, &c2, s->n + 2, sizeof *s->hashes) ||
        grow((void **) &s->lens, &s->cap, s->n + 2, sizeof *s->lens))
        return SP_ENOMEM;
    if (grow((void **) &s->arena, &s->arena_cap, s->arena_len + n + 1, 1))
        return SP_ENOMEM;
    memcpy(s->arena + s->arena_len, p, n);
    s->arena[s->arena_len + n] = '\0';
    s->n++;
    s->offs[s->n] = s->arena_len;
    s->lens[s->n] = (uint32_t) n;
    s->hashes[s->n] = hv;
    s->arena_len += n + 1;
    return 0;
}

/* Returns the id of bytes p[0..n) (adding them if new), or 0 on ENOMEM. */
static uint32_t intern(struct sim_strings *s, const char *p, size_t n)
{
    if ((uint64_t) (s->n + 1) * 2 >= s->nslots && strings_rehash(s))
        return 0;
    uint64_t hv = hash_bytes(p, n), tag = hv >> 32, i = hv & (s->nslots - 1);
    for (uint32_t probes = 0; probes < s->nslots; probes++, i = (i + 1) & (s->nslots - 1)) {
        uint64_t slot = s->slots[i];
        if (!slot)
            break;
        uint32_t id = (uint32_t) slot;
        if (slot >> 32 == tag && s->lens[id] == n && memcmp(s->arena + s->offs[id], p, n) == 0)
            return id;
    }
    SP_ASSERT(!s->slots[i]);
    if (strings_add(s, p, n, hv))
        return 0;
    s->slots[i] = tag << 32 | s->n;
    return s->n;
}

const char *sim__str(const struct sim_history *h, uint32_t id)
{
    if (id == SIM_NULL)
        return "null";
    SP_ASSERT(id <= h->str.n);
    return h->str.arena + h->str.offs[id];
}

/* ---- line parsing ---------------------------------------------------------- */

/* Interns a JSON string or integer (as its decimal text); null is SIM_NULL.
 * Returns 0 or SP_EINVAL (other types) / SP_ENOMEM. */
static int value_id(struct sim_history *h, json_t *v, uint32_t *out, struct sp_err *err,
                    const char *what)
{
    char buf[32];
    const char *p;
    size_t n;
    if (json_is_null(v)) {
        *out = SIM_NULL;
        return 0;
    }
    if (json_is_string(v)) {
        p = json_string_value(v);
        n = json_string_length(v);
    } else if (json_is_integer(v)) {
        n = (size_t) snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        p = buf;
    } else {
        return sp_err_set(err, SP_EINVAL, "%s must be a string, an integer or null", what);
    }
    if (n > STRING_BYTES_MAX)
        return sp_err_set(err, SP_EINVAL, "%s is longer than %u bytes", what, STRING_BYTES_MAX);
    *out = intern(&h->str, p, n);
    return *out ? 0 : sp_err_set(err, SP_ENOMEM, "out of memory interning %s", what);
}

static int parse_list(struct sim_history *h, json_t *arr, struct sim_op *op, struct sp_err *err)
{
    size_t n = json_array_size(arr);
    if (n > LIST_LEN_MAX)
        return sp_err_set(err, SP_EINVAL, "read list longer than %u", LIST_LEN_MAX);
    if (h->nelems + n > UINT32_MAX)
        return sp_err_set(err, SP_EINVAL, "too many list elements in the history");
    if (grow((void **) &h->elems, &h->elems_cap, h->nelems + n, sizeof *h->elems))
        return sp_err_set(err, SP_ENOMEM, "out of memory");
    op->is_list = 1;
    op->list_off = (uint32_t) h->nelems;
    op->list_len = (uint32_t) n;
    for (size_t i = 0; i < n; i++) {
        uint32_t id;
        int rc = value_id(h, json_array_get(arr, i), &id, err, "a list element");
        if (rc)
            return rc;
        if (id == SIM_NULL)
            return sp_err_set(err, SP_EINVAL, "a list element must not be null");
        h->elems[h->nelems++] = id;
    }
    return 0;
}

static int parse_f(const char *f, uint8_t *out)
{
    static const char *names[] = {"r", "w", "d", "append"};
    for (uint8_t i = 0; i < 4; i++)
        if (strcmp(f, names[i]) == 0) {
            *out = i;
            return 0;
        }
    return -1;
}

/* Parses ops[i] into h->ops (already grown); errors are prefixed "ops[i]". */
static int parse_op1(struct sim_history *h, json_t *j, uint8_t mode, struct sp_err *err)
{
    struct sim_op *op = &h->ops[h->nops];
    memset(op, 0, sizeof *op);
    if (!json_is_object(j))
        return sp_err_set(err, SP_EINVAL, "must be an object");
    json_t *f = json_object_get(j, "f"), *key = json_object_get(j, "key");
    if (!json_is_string(f) || parse_f(json_string_value(f), &op->f))
        return sp_err_set(err, SP_EINVAL, "\"f\": must be \"r\", \"w\", \"d\" or \"append\"");
    if (!json_is_string(key) || json_string_length(key) == 0)
        return sp_err_set(err, SP_EINVAL, "\"key\": must be a non-empty string");
    if (mode == SIM_RO && op->f != SIM_F_READ)
        return sp_err_set(err, SP_EINVAL, "a read-only transaction cannot write");
    int rc = value_id(h, key, &op->key, err, "\"key\"");
    json_t *v = json_object_get(j, "value");
    if (rc == 0 && op->f != SIM_F_DELETE && !v)
        rc = sp_err_set(err, SP_EINVAL, "\"value\": missing");
    else if (rc == 0 && op->f == SIM_F_READ && json_is_array(v))
        rc = parse_list(h, v, op, err);
    else if (rc == 0 && op->f != SIM_F_DELETE)
        rc = value_id(h, v, &op->val, err, "\"value\"");
    if (rc == 0 && (op->f == SIM_F_WRITE || op->f == SIM_F_APPEND) && op->val == SIM_NULL)
        rc = sp_err_set(err, SP_EINVAL, "\"value\": a write needs a value (a delete is \"d\")");
    if (rc)
        return rc;
    h->has_append |= op->f == SIM_F_APPEND;
    h->nops++;
    return 0;
}

static int parse_op(struct sim_history *h, json_t *j, size_t i, uint8_t mode, struct sp_err *err)
{
    int rc = parse_op1(h, j, mode, err);
    if (rc)
        sp_err_wrap(err, "ops[%zu]", i);
    return rc;
}

static int get_time(json_t *j, const char *name, bool required, sim_micros *out, struct sp_err *err)
{
    json_t *v = json_object_get(j, name);
    *out = 0;
    if (!v && !required)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return sp_err_set(err, SP_EINVAL, "\"%s\": must be a non-negative integer (microseconds)",
                          name);
    *out = json_integer_value(v);
    return 0;
}

static int parse_header(struct sim_history *h, json_t *j, struct sim_txn *t, struct sp_err *err)
{
    json_t *mode = json_object_get(j, "mode"), *out = json_object_get(j, "outcome");
    const char *m = json_is_string(mode) ? json_string_value(mode) : "";
    const char *o = json_is_string(out) ? json_string_value(out) : "";
    if (strcmp(m, "rw") && strcmp(m, "ro"))
        return sp_err_set(err, SP_EINVAL, "\"mode\": must be \"rw\" or \"ro\"");
    t->mode = strcmp(m, "ro") == 0 ? SIM_RO : SIM_RW;
    if (strcmp(o, "ok") == 0)
        t->outcome = SIM_OK;
    else if (strcmp(o, "aborted") == 0)
        t->outcome = SIM_ABORTED;
    else if (strcmp(o, "unknown") == 0)
        t->outcome = SIM_UNKNOWN;
    else
        return sp_err_set(err, SP_EINVAL,
                          "\"outcome\": must be \"ok\", \"aborted\" or \"unknown\"");
    int rc = get_time(j, "invoke_us", true, &t->invoke_us, err);
    rc = rc ? rc : get_time(j, "complete_us", true, &t->complete_us, err);
    rc = rc ? rc : get_time(j, "ts", false, &t->ts, err);
    if (rc)
        return rc;
    if (t->complete_us < t->invoke_us)
        return sp_err_set(err, SP_EINVAL,
                          "\"complete_us\" %" PRId64 " is before \"invoke_us\" %" PRId64,
                          t->complete_us, t->invoke_us);
    if (t->outcome == SIM_OK && t->ts <= 0)
        return sp_err_set(err, SP_EINVAL, "\"ts\": an ok transaction needs a positive timestamp");
    json_t *id = json_object_get(j, "id");
    if (id && (json_is_string(id) || json_is_integer(id)))
        return value_id(h, id, &t->id, err, "\"id\"");
    if (id)
        return sp_err_set(err, SP_EINVAL, "\"id\": must be a string or an integer");
    return 0;
}

static int parse_txn(struct sim_history *h, json_t *j, uint64_t line, struct sp_err *err)
{
    if (!json_is_object(j))
        return sp_err_set(err, SP_EINVAL, "not a JSON object");
    if (grow((void **) &h->txns, &h->txns_cap, h->ntxns + 1, sizeof *h->txns))
        return sp_err_set(err, SP_ENOMEM, "out of memory");
    struct sim_txn *t = &h->txns[h->ntxns];
    memset(t, 0, sizeof *t);
    t->line = line;
    int rc = parse_header(h, j, t, err);
    if (rc)
        return rc;
    json_t *ops = json_object_get(j, "ops");
    if (!json_is_array(ops))
        return sp_err_set(err, SP_EINVAL, "\"ops\": must be an array");
    size_t n = json_array_size(ops);
    if (n > OPS_PER_TXN_MAX || h->nops + n > HISTORY_OPS_MAX)
        return sp_err_set(err, SP_EINVAL, "\"ops\": too many operations (%zu)", n);
    if (grow((void **) &h->ops, &h->ops_cap, h->nops + n, sizeof *h->ops))
        return sp_err_set(err, SP_ENOMEM, "out of memory");
    t->op_off = (uint32_t) h->nops;
    t->op_n = (uint32_t) n;
    for (size_t i = 0; i < n; i++)
        if ((rc = parse_op(h, json_array_get(ops, i), i, t->mode, err)))
            return rc;
    h->ntxns++;
    return 0;
}

/* ---- loading ---------------------------------------------------------------- */

static bool blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
            return false;
    return true;
}

static int load_line(struct sim_history *h, const char *buf, size_t n, uint64_t line,
                     struct sp_err *err)
{
    bool has_nl = n > 0 && buf[n - 1] == '\n';
    json_error_t je;
    json_t *j = json_loadb(buf, n, JSON_REJECT_DUPLICATES, &je);
    if (!j) {
        if (!has_nl)
            return sp_err_set(err, SP_EINVAL, "line %" PRIu64 ": truncated (no newline, %s)", line,
                              je.text);
        return sp_err_set(err, SP_EINVAL, "line %" PRIu64 ": malformed JSON at column %d: %s", line,
                          je.column, je.text);
    }
    int rc = parse_txn(h, j, line, err);
    json_decref(j);
    if (rc)
        sp_err_wrap(err, "line %" PRIu64, line);
    return rc;
}

int sim_history_load(FILE *f, struct sim_history **out, struct sp_err *err)
{
    SP_ASSERT(f && out);
    *out = NULL;
    struct sim_history *h = calloc(1, sizeof *h);
    if (!h)
        return sp_err_set(err, SP_ENOMEM, "out of memory");
    char *buf = NULL;
    size_t cap = 0;
    ssize_t n;
    uint64_t line = 0;
    int rc = 0;
    while (rc == 0 && (n = getline(&buf, &cap, f)) >= 0) {
        line++;
        if (memchr(buf, '\0', (size_t) n))
            rc = sp_err_set(err, SP_EINVAL, "line %" PRIu64 ": contains a NUL byte", line);
        else if (!blank(buf, (size_t) n))
            rc = load_line(h, buf, (size_t) n, line, err);
    }
    if (rc == 0 && ferror(f))
        rc = sp_err_set(err, SP_EIO, "line %" PRIu64 ": read error: %s", line + 1, strerror(errno));
    free(buf);
    if (rc) {
        sim_history_free(h);
        return rc;
    }
    *out = h;
    return 0;
}

int sim_history_load_path(const char *path, struct sim_history **out, struct sp_err *err)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (!f)
        return sp_err_set(err, SP_EIO, "%s: %s", path, strerror(errno));
    int rc = sim_history_load(f, out, err);
    if (f != stdin)
        fclose(f);
    if (rc)
        sp_err_wrap(err, "%s", path);
    return rc;
}

size_t sim_history_size(const struct sim_history *h)
{
    return h->ntxns;
}

void sim_history_free(struct sim_history *h)
{
    if (!h)
        return;
    free(h->txns);
    free(h->ops);
    free(h->elems);
    free(h->str.arena);
    free(h->str.offs);
    free(h->str.lens);
    free(h->str.slots);
    free(h->str.hashes);
    free(h);
}

/* ---- uint64 -> uint32 map --------------------------------------------------- */

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    return x ^ (x >> 33);
}

int sim__map_init(struct sim_map *m, size_t expect)
{
    size_t cap = 64;
    while (cap < expect * 2)
        cap *= 2;
    m->keys = malloc(cap * sizeof *m->keys);
    m->vals = malloc(cap * sizeof *m->vals);
    m->n = 0;
    m->cap = cap;
    if (!m->keys || !m->vals) {
        sim__map_free(m);
        return SP_ENOMEM;
    }
    memset(m->vals, 0xff, cap * sizeof *m->vals);
    return 0;
}

void sim__map_free(struct sim_map *m)
{
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof *m);
}

static size_t map_slot(const struct sim_map *m, uint64_t k)
{
    size_t i = mix64(k) & (m->cap - 1);
    for (size_t probes = 0; probes < m->cap; probes++, i = (i + 1) & (m->cap - 1))
        if (m->vals[i] == UINT32_MAX || m->keys[i] == k)
            return i;
    SP_ASSERT(0 && "map full");
    return 0;
}

uint32_t *sim__map_put(struct sim_map *m, uint64_t k, uint32_t init)
{
    if ((m->n + 1) * 2 > m->cap) {
        struct sim_map g;
        if (sim__map_init(&g, m->cap))
            return NULL;
        for (size_t i = 0; i < m->cap; i++)
            if (m->vals[i] != UINT32_MAX) {
                size_t s = map_slot(&g, m->keys[i]);
                g.keys[s] = m->keys[i];
                g.vals[s] = m->vals[i];
            }
        g.n = m->n;
        sim__map_free(m);
        *m = g;
    }
    size_t s = map_slot(m, k);
    if (m->vals[s] == UINT32_MAX) {
        SP_ASSERT(init != UINT32_MAX);
        m->keys[s] = k;
        m->vals[s] = init;
        m->n++;
    }
    return &m->vals[s];
}

uint32_t sim__map_get(const struct sim_map *m, uint64_t k)
{
    if (m->cap == 0)
        return UINT32_MAX;
    size_t s = map_slot(m, k);
    return m->vals[s];
}

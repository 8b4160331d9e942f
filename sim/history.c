/*
 * history.c - loading a JSON-lines history into flat arrays.
 *
 * The file is streamed: one line is read and parsed straight into the
 * history's arrays (transactions, operations, list elements, interned
 * strings) by jsonl.c. Memory is therefore proportional to the history's
 * content. Every rejection names the 1-based line and the field; a last line
 * without its newline that does not parse is reported as truncated. The
 * format is specified in sim/README.md.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "sim_int.h"
#include "sp_assert.h"

/* ---- growable arrays ------------------------------------------------------- */

int sim__grow(void **p, size_t *cap, size_t need, size_t elem)
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
    if (sim__grow((void **) &s->offs, &c, s->n + 2, sizeof *s->offs) ||
        sim__grow((void **) &s->hashes, &c2, s->n + 2, sizeof *s->hashes) ||
        sim__grow((void **) &s->lens, &s->cap, s->n + 2, sizeof *s->lens))
        return SP_ENOMEM;
    if (sim__grow((void **) &s->arena, &s->arena_cap, s->arena_len + n + 1, 1))
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
uint32_t sim__intern(struct sim_strings *s, const char *p, size_t n)
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

/* ---- loading ---------------------------------------------------------------- */

static bool blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
            return false;
    return true;
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
            rc = sim__parse_line(h, buf, (size_t) n, line, err);
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
    sim__map_free(&h->ints);
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

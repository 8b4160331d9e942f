/*
 * storage.c - Paxos hard state and accepted entries in RocksDB; see
 * paxos_store.h for the layout.
 *
 * Ordering: one update is one WriteBatch, written with sync when the update
 * asks for it, so a crash leaves either all of an update or none of it, and
 * updates are durable in the order they were persisted (RocksDB's WAL is
 * sequential). That is what paxos.h's step 1 requires.
 */
#include "paxos_store.h"
#include "sp_assert.h"

#include <rocksdb/c.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

struct paxos_store {
    rocksdb_t *db;
    bool owned;
    rocksdb_options_t *opts;
    rocksdb_writeoptions_t *wsync, *wnosync;
    rocksdb_readoptions_t *ro;
};

#define HS_LEN        (4 + 8 * 5 + 4 + PAXOS_MEMBERS_MAX * 8)
#define ENTRY_HDR_LEN (4 + 8 + 1 + 4)

static void be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t) v;
}

static void le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++, v >>= 8)
        p[i] = (uint8_t) v;
}

static uint64_t get_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static void le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++, v >>= 8)
        p[i] = (uint8_t) v;
}

static uint32_t get_le32(const uint8_t *p)
{
    return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
}

static uint32_t checksum(const uint8_t *p, size_t n)
{
    return (uint32_t) crc32(crc32(0L, Z_NULL, 0), p, (uInt) n);
}

/* 'P' group 'H' / 'P' group 'E' slot */
static size_t make_key(uint8_t *k, uint64_t group, char kind, uint64_t slot)
{
    k[0] = 'P';
    be64(k + 1, group);
    k[9] = (uint8_t) kind;
    if (kind == 'H')
        return 10;
    be64(k + 10, slot);
    return 18;
}

static int wrap_common(struct paxos_store *s, bool sync)
{
    s->wsync = rocksdb_writeoptions_create();
    rocksdb_writeoptions_set_sync(s->wsync, sync ? 1 : 0);
    s->wnosync = rocksdb_writeoptions_create();
    s->ro = rocksdb_readoptions_create();
    return 0;
}

int paxos_store_open(const char *path, bool sync, struct paxos_store **out, struct sp_err *err)
{
    SP_ASSERT(path != NULL && out != NULL);
    struct paxos_store *s = calloc(1, sizeof *s);
    if (!s)
        return sp_err_set(err, SP_ENOMEM, "paxos store: out of memory");
    s->opts = rocksdb_options_create();
    rocksdb_options_set_create_if_missing(s->opts, 1);
    char *e = NULL;
    s->db = rocksdb_open(s->opts, path, &e);
    if (e) {
        sp_err_set(err, SP_EIO, "paxos store: open %s: %s", path, e);
        rocksdb_free(e);
        rocksdb_options_destroy(s->opts);
        free(s);
        return SP_EIO;
    }
    s->owned = true;
    wrap_common(s, sync);
    *out = s;
    return 0;
}

int paxos_store_wrap(rocksdb_t *db, bool sync, struct paxos_store **out, struct sp_err *err)
{
    SP_ASSERT(db != NULL && out != NULL);
    struct paxos_store *s = calloc(1, sizeof *s);
    if (!s)
        return sp_err_set(err, SP_ENOMEM, "paxos store: out of memory");
    s->db = db;
    wrap_common(s, sync);
    *out = s;
    return 0;
}

void paxos_store_close(struct paxos_store *s)
{
    if (!s)
        return;
    rocksdb_writeoptions_destroy(s->wsync);
    rocksdb_writeoptions_destroy(s->wnosync);
    rocksdb_readoptions_destroy(s->ro);
    if (s->owned) {
        rocksdb_close(s->db);
        rocksdb_options_destroy(s->opts);
    }
    free(s);
}

rocksdb_t *paxos_store_db(struct paxos_store *s)
{
    return s->db;
}

static void encode_hs(uint8_t *v, const struct paxos_hard_state *hs)
{
    SP_ASSERT(hs->base_membership.n <= PAXOS_MEMBERS_MAX);
    memset(v, 0, HS_LEN);
    le64(v + 4, hs->promised);
    le64(v + 12, hs->commit);
    le64(v + 20, hs->grant_ballot);
    le64(v + 28, (uint64_t) hs->grant_expiry_us);
    le64(v + 36, hs->base_slot);
    le32(v + 44, hs->base_membership.n);
    for (uint32_t i = 0; i < hs->base_membership.n; i++) {
        le32(v + 48 + 8 * i, hs->base_membership.m[i].id);
        le32(v + 52 + 8 * i, (uint32_t) hs->base_membership.m[i].role);
    }
    le32(v, checksum(v + 4, HS_LEN - 4));
}

static int decode_hs(const uint8_t *v, size_t n, struct paxos_hard_state *hs, uint64_t group,
                     struct sp_err *err)
{
    if (n != HS_LEN || get_le32(v) != checksum(v + 4, HS_LEN - 4))
        return SP_CORRUPT(err, "paxos store: group %llu hard state: bad length %zu or checksum",
                          (unsigned long long) group, n);
    memset(hs, 0, sizeof *hs);
    hs->promised = get_le64(v + 4);
    hs->commit = get_le64(v + 12);
    hs->grant_ballot = get_le64(v + 20);
    hs->grant_expiry_us = (tt_micros) get_le64(v + 28);
    hs->base_slot = get_le64(v + 36);
    uint32_t m = get_le32(v + 44);
    if (m > PAXOS_MEMBERS_MAX)
        return SP_CORRUPT(err, "paxos store: group %llu hard state: %u members",
                          (unsigned long long) group, m);
    hs->base_membership.n = m;
    for (uint32_t i = 0; i < m; i++) {
        hs->base_membership.m[i].id = get_le32(v + 48 + 8 * i);
        hs->base_membership.m[i].role = (enum paxos_role) get_le32(v + 52 + 8 * i);
    }
    return 0;
}

static void put_entry(rocksdb_writebatch_t *wb, uint64_t group, const struct paxos_entry *e)
{
    uint8_t k[18];
    size_t kl = make_key(k, group, 'E', e->slot);
    size_t n = ENTRY_HDR_LEN + e->len;
    uint8_t *v = malloc(n);
    SP_ASSERT(v != NULL);
    le64(v + 4, e->ballot);
    v[12] = e->type;
    le32(v + 13, e->len);
    if (e->len)
        memcpy(v + ENTRY_HDR_LEN, e->data, e->len);
    le32(v, checksum(v + 4, n - 4));
    rocksdb_writebatch_put(wb, (const char *) k, kl, (const char *) v, n);
    free(v);
}

void paxos_store_batch_add(rocksdb_writebatch_t *wb, uint64_t group, const struct paxos_update *up)
{
    SP_ASSERT(wb != NULL && up != NULL);
    if (up->persist_seq == 0)
        return;
    if (up->hs_changed) {
        uint8_t k[10], v[HS_LEN];
        size_t kl = make_key(k, group, 'H', 0);
        encode_hs(v, &up->hs);
        rocksdb_writebatch_put(wb, (const char *) k, kl, (const char *) v, HS_LEN);
    }
    if (up->truncate_through > 0) {
        uint8_t lo[18], hi[18];
        make_key(lo, group, 'E', 0);
        make_key(hi, group, 'E', up->truncate_through + 1);
        rocksdb_writebatch_delete_range(wb, (const char *) lo, 18, (const char *) hi, 18);
    }
    for (uint32_t i = 0; i < up->n_entries; i++)
        put_entry(wb, group, &up->entries[i]);
}

int paxos_store_write(struct paxos_store *s, rocksdb_writebatch_t *wb, bool sync,
                      struct sp_err *err)
{
    SP_ASSERT(s != NULL && wb != NULL);
    char *e = NULL;
    rocksdb_write(s->db, sync ? s->wsync : s->wnosync, wb, &e);
    if (e) {
        sp_err_set(err, SP_EIO, "paxos store: write: %s", e);
        rocksdb_free(e);
        return SP_EIO;
    }
    return 0;
}

int paxos_store_persist(struct paxos_store *s, uint64_t group, const struct paxos_update *up,
                        struct sp_err *err)
{
    SP_ASSERT(s != NULL && up != NULL);
    if (up->persist_seq == 0)
        return 0;
    rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
    paxos_store_batch_add(wb, group, up);
    int rc = paxos_store_write(s, wb, up->sync, err);
    rocksdb_writebatch_destroy(wb);
    if (rc)
        sp_err_wrap(err, "group %llu", (unsigned long long) group);
    return rc;
}

static int read_hs(struct paxos_store *s, uint64_t group, struct paxos_hard_state *hs, bool *found,
                   struct sp_err *err)
{
    uint8_t k[10];
    size_t kl = make_key(k, group, 'H', 0), vl = 0;
    char *e = NULL;
    char *v = rocksdb_get(s->db, s->ro, (const char *) k, kl, &vl, &e);
    if (e) {
        sp_err_set(err, SP_EIO, "paxos store: group %llu: read hard state: %s",
                   (unsigned long long) group, e);
        rocksdb_free(e);
        return SP_EIO;
    }
    *found = v != NULL;
    int rc = v ? decode_hs((const uint8_t *) v, vl, hs, group, err) : 0;
    rocksdb_free(v);
    return rc;
}

/* Appends one decoded entry; data offsets are turned into pointers once the
 * arena stops moving. */
static int add_entry(struct paxos_loaded *l, size_t *cap, size_t *arena_len, uint64_t slot,
                     const uint8_t *v, size_t vl, uint64_t group, struct sp_err *err)
{
    if (vl < ENTRY_HDR_LEN || get_le32(v) != checksum(v + 4, vl - 4) ||
        get_le32(v + 13) != vl - ENTRY_HDR_LEN)
        return SP_CORRUPT(err, "paxos store: group %llu slot %llu: bad length %zu or checksum",
                          (unsigned long long) group, (unsigned long long) slot, vl);
    uint32_t n = l->st.n_entries;
    if (n == *cap) {
        *cap = *cap ? *cap * 2 : 64;
        struct paxos_entry *ne = realloc(l->entries, *cap * sizeof *ne);
        if (!ne)
            return SP_ENOMEM;
        l->entries = ne;
    }
    size_t len = vl - ENTRY_HDR_LEN;
    uint8_t *na = realloc(l->arena, *arena_len + len + 1);
    if (!na)
        return SP_ENOMEM;
    l->arena = na;
    memcpy(l->arena + *arena_len, v + ENTRY_HDR_LEN, len);
    l->entries[n] = (struct paxos_entry){.slot = slot,
                                         .ballot = get_le64(v + 4),
                                         .type = v[12],
                                         .len = (uint32_t) len,
                                         .data = (const uint8_t *) (uintptr_t) *arena_len};
    *arena_len += len;
    l->st.n_entries = n + 1;
    return 0;
}

static int read_entries(struct paxos_store *s, uint64_t group, struct paxos_loaded *l,
                        struct sp_err *err)
{
    uint8_t lo[18], hi[18];
    make_key(lo, group, 'E', l->st.hs.base_slot + 1);
    make_key(hi, group, 'F', 0); /* just past every 'E' key of the group */
    rocksdb_iterator_t *it = rocksdb_create_iterator(s->db, s->ro);
    size_t cap = 0, arena_len = 0;
    int rc = 0;
    for (rocksdb_iter_seek(it, (const char *) lo, 18); rc == 0 && rocksdb_iter_valid(it);
         rocksdb_iter_next(it)) {
        size_t kl, vl;
        const uint8_t *k = (const uint8_t *) rocksdb_iter_key(it, &kl);
        if (kl < 10 || memcmp(k, hi, 10) >= 0)
            break;
        if (kl != 18) {
            rc = SP_CORRUPT(err, "paxos store: group %llu: entry key of %zu bytes",
                            (unsigned long long) group, kl);
            break;
        }
        uint64_t slot = 0;
        for (int i = 0; i < 8; i++)
            slot = slot << 8 | k[10 + i];
        const uint8_t *v = (const uint8_t *) rocksdb_iter_value(it, &vl);
        rc = add_entry(l, &cap, &arena_len, slot, v, vl, group, err);
    }
    char *e = NULL;
    rocksdb_iter_get_error(it, &e);
    if (e && rc == 0) {
        rc = sp_err_set(err, SP_EIO, "paxos store: group %llu: scan: %s",
                        (unsigned long long) group, e);
    }
    rocksdb_free(e);
    rocksdb_iter_destroy(it);
    for (uint32_t i = 0; rc == 0 && i < l->st.n_entries; i++)
        l->entries[i].data = l->arena + (uintptr_t) l->entries[i].data;
    return rc;
}

int paxos_store_load(struct paxos_store *s, uint64_t group, struct paxos_loaded *out, bool *found,
                     struct sp_err *err)
{
    SP_ASSERT(s != NULL && out != NULL && found != NULL);
    memset(out, 0, sizeof *out);
    int rc = read_hs(s, group, &out->st.hs, found, err);
    if (rc == 0)
        rc = read_entries(s, group, out, err);
    if (rc == 0 && !*found && out->st.n_entries > 0)
        rc = SP_CORRUPT(err, "paxos store: group %llu: entries without a hard state",
                        (unsigned long long) group);
    if (rc) {
        paxos_store_loaded_free(out);
        return rc;
    }
    out->st.entries = out->entries;
    return 0;
}

void paxos_store_loaded_free(struct paxos_loaded *l)
{
    if (!l)
        return;
    free(l->entries);
    free(l->arena);
    memset(l, 0, sizeof *l);
}

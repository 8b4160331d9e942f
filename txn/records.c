/*
 * records.c - the byte format of the records a group logs through Paxos,
 * and the per-step arena that update memory lives in.
 *
 * Everything a group applies comes from its log (issue 4), so every effect
 * of a transaction on a group is one of four records, and a fifth carries
 * none:
 *
 *   COMMIT    single-group commit: writes at ts              (all replicas apply)
 *   PREPARE   2PC participant: prepared at ts, with writes and the keys it
 *             holds read locks on (kept as a state record until the
 *             outcome, so it survives log truncation)
 *   OUTCOME   2PC participant: commit at ts (apply the kept writes), or abort
 *   DECISION  2PC coordinator: commit at ts with its own writes, or abort;
 *             remembered as a state record to answer participants' queries
 *   BARRIER   a leader that has logged nothing yet, before its first
 *             MinNextTS promise: only its tag matters (N6, R2); no id, ts,
 *             participants or entries
 *
 * Format, little-endian, fixed header then variable parts:
 *   u8 magic, u8 type, u64 tag, u64 id, i64 ts, u64 coord, u32 parts_n,
 *   u32 entries_n, parts_n x u64 group,
 *   entries_n x (u8 kind, u32 key_len, key, u32 value_len, value)
 * An entry is a write (kind PUT or DELETE) or, in a PREPARE only, a read
 * lock (kind READ_KEY, no value); every write comes before every read, so
 * a record without reads is laid out as it was before reads existed.
 * Paxos checksums its entries on disk, so the codec checks only structure:
 * every length against what remains, every count against its limit, and
 * that nothing is left over. A failure goes through SP_CORRUPT.
 */
#include "node_int.h"

_Static_assert(TXN__REC_HEADER_BYTES == 42, "record header layout");

/* Entry kind of a read lock; next to enum txn_write_kind's PUT and DELETE. */
#define REC_READ_KEY 3u
_Static_assert(REC_READ_KEY != TXN_WRITE_PUT && REC_READ_KEY != TXN_WRITE_DELETE, "entry kinds");

/* ---- arena -------------------------------------------------------------- */

struct txn__chunk {
    struct txn__chunk *next;
    size_t used, cap;
    _Alignas(16) uint8_t data[];
};

#define ARENA_CHUNK_BYTES (64u << 10)

void *txn__arena_alloc(struct txn__arena *a, size_t n)
{
    SP_ASSERT(a != NULL);
    n = (n + 15u) & ~(size_t) 15u;
    struct txn__chunk *c = a->head;
    if (c == NULL || c->cap - c->used < n) {
        size_t cap = n > ARENA_CHUNK_BYTES ? n : ARENA_CHUNK_BYTES;
        c = malloc(sizeof *c + cap);
        SP_ASSERT(c != NULL);
        c->next = a->head;
        c->used = 0;
        c->cap = cap;
        a->head = c;
    }
    void *p = c->data + c->used;
    c->used += n;
    SP_ASSERT(c->used <= c->cap);
    return p;
}

void *txn__arena_dup(struct txn__arena *a, const void *p, size_t n)
{
    if (n == 0)
        return NULL;
    void *q = txn__arena_alloc(a, n);
    memcpy(q, p, n);
    return q;
}

/* Keeps one chunk so a quiet step allocates nothing. */
void txn__arena_reset(struct txn__arena *a)
{
    SP_ASSERT(a != NULL);
    struct txn__chunk *c = a->head;
    if (c == NULL)
        return;
    struct txn__chunk *rest = c->next;
    while (rest != NULL) {
        struct txn__chunk *next = rest->next;
        free(rest);
        rest = next;
    }
    c->next = NULL;
    c->used = 0;
}

void txn__arena_free(struct txn__arena *a)
{
    txn__arena_reset(a);
    free(a->head);
    a->head = NULL;
}

/* ---- codec -------------------------------------------------------------- */

static uint8_t *put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t) (v >> (8 * i));
    return p + 4;
}

static uint8_t *put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t) (v >> (8 * i));
    return p + 8;
}

static uint32_t get_u32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v |= (uint32_t) p[i] << (8 * i);
    return v;
}

static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t) p[i] << (8 * i);
    return v;
}

size_t txn__rec_size(const struct txn__rec *r)
{
    SP_ASSERT(r != NULL && r->parts_n <= TXN_PARTICIPANTS_MAX);
    SP_ASSERT(r->writes_n <= TXN_REQ_WRITES_MAX && r->reads_n <= TXN__REC_READS_MAX);
    SP_ASSERT(r->reads_n == 0 || r->type == TXN__REC_PREPARE);
    size_t n = TXN__REC_HEADER_BYTES + 8u * r->parts_n;
    for (uint32_t i = 0; i < r->writes_n; i++) {
        size_t vlen = r->writes[i].kind == TXN_WRITE_PUT ? r->writes[i].value_len : 0;
        n += 1 + 4 + r->writes[i].key_len + 4 + vlen;
    }
    for (uint32_t i = 0; i < r->reads_n; i++)
        n += 1 + 4 + r->reads[i].key_len + 4;
    return n;
}

size_t txn__rec_encode(const struct txn__rec *r, uint8_t *buf, size_t cap)
{
    size_t need = txn__rec_size(r);
    SP_ASSERT(buf != NULL && cap >= need);
    SP_ASSERT(r->type >= TXN__REC_COMMIT && r->type <= TXN__REC_BARRIER);
    uint8_t *p = buf;
    *p++ = TXN__REC_MAGIC;
    *p++ = r->type;
    p = put_u64(p, r->tag);
    p = put_u64(p, r->id);
    p = put_u64(p, (uint64_t) r->ts);
    p = put_u64(p, r->coord);
    p = put_u32(p, r->parts_n);
    p = put_u32(p, r->writes_n + r->reads_n);
    for (uint32_t i = 0; i < r->parts_n; i++)
        p = put_u64(p, r->parts[i]);
    for (uint32_t i = 0; i < r->writes_n; i++) {
        const struct txn_write *w = &r->writes[i];
        size_t vlen = w->kind == TXN_WRITE_PUT ? w->value_len : 0;
        SP_ASSERT(w->key_len <= UINT32_MAX && vlen <= UINT32_MAX);
        *p++ = (uint8_t) w->kind;
        p = put_u32(p, (uint32_t) w->key_len);
        if (w->key_len)
            memcpy(p, w->key, w->key_len);
        p += w->key_len;
        p = put_u32(p, (uint32_t) vlen);
        if (vlen)
            memcpy(p, w->value, vlen);
        p += vlen;
    }
    for (uint32_t i = 0; i < r->reads_n; i++) {
        const struct txn_write *k = &r->reads[i];
        SP_ASSERT(k->key_len <= UINT32_MAX);
        *p++ = (uint8_t) REC_READ_KEY;
        p = put_u32(p, (uint32_t) k->key_len);
        if (k->key_len)
            memcpy(p, k->key, k->key_len);
        p += k->key_len;
        p = put_u32(p, 0);
    }
    SP_ASSERT((size_t) (p - buf) == need); /* paired with txn__rec_size */
    return need;
}

/* Reads one length-prefixed byte string at *off, checked against len. */
static int get_bytes(const uint8_t *data, size_t len, size_t *off, const void **out,
                     size_t *out_len)
{
    if (len - *off < 4)
        return -1;
    uint32_t n = get_u32(data + *off);
    *off += 4;
    if (len - *off < n)
        return -1;
    *out = data + *off;
    *out_len = n;
    *off += n;
    return 0;
}

/* Decodes entries_n entries into ws: the writes, then the reads. */
static int decode_entries(const uint8_t *data, size_t len, size_t off, uint32_t entries_n,
                          struct txn__rec *r, struct txn_write *ws, struct sp_err *err)
{
    uint32_t writes_n = 0;
    for (uint32_t i = 0; i < entries_n; i++) {
        if (off >= len)
            return SP_CORRUPT(err, "txn record: entry %u of %u truncated", i, entries_n);
        uint8_t kind = data[off++];
        if (kind != TXN_WRITE_PUT && kind != TXN_WRITE_DELETE && kind != REC_READ_KEY)
            return SP_CORRUPT(err, "txn record: entry %u has kind %u", i, kind);
        if (kind == REC_READ_KEY ? r->type != TXN__REC_PREPARE : writes_n != i)
            return SP_CORRUPT(err, "txn record: entry %u of kind %u out of place", i, kind);
        writes_n += kind != REC_READ_KEY;
        ws[i].kind = kind == REC_READ_KEY ? TXN_WRITE_PUT : (enum txn_write_kind) kind;
        if (get_bytes(data, len, &off, &ws[i].key, &ws[i].key_len) ||
            get_bytes(data, len, &off, &ws[i].value, &ws[i].value_len))
            return SP_CORRUPT(err, "txn record: entry %u overruns %zu bytes", i, len);
        if (kind != TXN_WRITE_PUT && ws[i].value_len != 0)
            return SP_CORRUPT(err, "txn record: entry %u of kind %u carries a value", i, kind);
    }
    if (off != len)
        return SP_CORRUPT(err, "txn record: %zu bytes left over", len - off);
    if (writes_n > TXN_REQ_WRITES_MAX || entries_n - writes_n > TXN__REC_READS_MAX)
        return SP_CORRUPT(err, "txn record: %u writes, %u reads", writes_n, entries_n - writes_n);
    r->writes = ws;
    r->writes_n = writes_n;
    r->reads = ws + writes_n;
    r->reads_n = entries_n - writes_n;
    return 0;
}

int txn__rec_decode(const uint8_t *data, size_t len, struct txn__rec *r, struct txn_write *ws,
                    uint32_t ws_cap, struct sp_err *err)
{
    SP_ASSERT(r != NULL && (ws != NULL || ws_cap == 0));
    memset(r, 0, sizeof *r);
    if (data == NULL || len < TXN__REC_HEADER_BYTES || data[0] != TXN__REC_MAGIC)
        return SP_CORRUPT(err, "txn record: %zu bytes, no header", len);
    r->type = data[1];
    if (r->type < TXN__REC_COMMIT || r->type > TXN__REC_BARRIER)
        return SP_CORRUPT(err, "txn record: type %u", r->type);
    r->tag = get_u64(data + 2);
    r->id = get_u64(data + 10);
    r->ts = (tt_micros) get_u64(data + 18);
    r->coord = get_u64(data + 26);
    r->parts_n = get_u32(data + 34);
    uint32_t entries_n = get_u32(data + 38);
    if (r->parts_n > TXN_PARTICIPANTS_MAX || entries_n > ws_cap || r->ts < 0)
        return SP_CORRUPT(err, "txn record: %u participants, %u entries, ts %lld", r->parts_n,
                          entries_n, (long long) r->ts);
    if (r->type == TXN__REC_BARRIER && (r->id || r->ts || r->parts_n || entries_n))
        return SP_CORRUPT(err, "txn record: a barrier with a transaction");
    size_t off = TXN__REC_HEADER_BYTES;
    if ((len - off) / 8 < r->parts_n)
        return SP_CORRUPT(err, "txn record: participants overrun %zu bytes", len);
    for (uint32_t i = 0; i < r->parts_n; i++, off += 8)
        r->parts[i] = get_u64(data + off);
    return decode_entries(data, len, off, entries_n, r, ws, err);
}

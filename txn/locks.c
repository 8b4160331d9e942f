/*
 * locks.c - the lock table of one group leader: shared/exclusive locks per
 * key with wound-wait (Spanner §4.2.1). Pure data structure: no threads, no
 * clock, no I/O; the driver passes `now` and acts on what calls return.
 *
 * From Spanner §4.2.1: "Like Bigtable, writes that occur in a transaction are
 * buffered at the client until commit. ... Reads within read-write
 * transactions use wound-wait [33] to avoid deadlocks. The client issues
 * reads to the leader replica of the appropriate group, which acquires read
 * locks and then reads the most recent data." And on commit, each
 * participant leader "acquires write locks".
 *
 * Wound-wait (Rosenkrantz et al. 1978): priority is the transaction's start
 * timestamp, kept across retries; lower = older = higher priority, ties
 * broken by the lower id. When a request conflicts with a holder:
 *   requester older   -> the holder is wounded (it must abort), the
 *                        requester waits for the abort to release the lock;
 *   requester younger -> the requester waits.
 * So a waits-for edge either points from younger to older, or from older to
 * a wounded (aborting) or prepared transaction; prepared transactions hold
 * every lock they need and never wait. Any cycle would need an edge from an
 * older to a younger live, unprepared transaction, which never exists: no
 * deadlock can form. The oldest transaction is never wounded and so always
 * finishes, and since a retry keeps its start timestamp, every transaction
 * eventually becomes the oldest: no starvation.
 *
 * Invariants (txn_locks_check asserts all of them):
 *   1. The holders of a key are pairwise compatible (S with S only), and a
 *      transaction holds at most one lock per key.
 *   2. The waiters of a key are in strict priority order, oldest first, and
 *      a transaction has at most one queued request per key.
 *   3. No lost wake-up: the first waiter of a key conflicts with a holder
 *      (else it would have been granted).
 *   4. Wound-wait: every holder that conflicts with a waiter and is younger
 *      than it is wounded or prepared.
 *   5. A request is granted at once only if it is compatible with every
 *      holder and no older request is queued, so a younger transaction never
 *      overtakes an older waiter (which would create an unwounded
 *      older -> younger edge, breaking 4).
 *   6. Counters match the structure; requests <= locks_max, waiters per key
 *      <= waiters_per_key_max, transactions <= txns_max.
 *
 * Transitions of one request:
 *
 *   acquire --compatible, no older waiter--> HELD
 *   acquire --conflict--> QUEUED (wounding younger conflicting holders)
 *   QUEUED --release of a blocker, in priority order--> HELD  (reported)
 *   HELD/QUEUED --txn_locks_release(txn)--> gone
 *   an upgrade (S held, X wanted) is a QUEUED X request next to the held S;
 *   its grant turns the held S into X.
 *
 * Function per transition: txn_locks_acquire (-> HELD or QUEUED, with
 * wound_holders and must_wait), grant_waiters (QUEUED -> HELD),
 * txn_locks_release (-> gone), txn_locks_prepared (no longer woundable).
 */
#include "txn.h"

#include "sp_assert.h"

#include <stdlib.h>
#include <string.h>

#define LOCK_KEY_BYTES_MAX (8u << 10)

#ifndef TXN__TEST_NO_WOUND
#define TXN__TEST_NO_WOUND 0
#endif

struct lkey;
struct ltxn;

struct lreq {
    struct ltxn *txn;
    struct lkey *key;
    enum txn_lock_mode mode; /* held mode, or the mode wanted while queued */
    bool granted;
    bool upgrade;               /* queued X beside this txn's held S */
    struct lreq *kprev, *knext; /* in the key's holders or waiters list */
    struct lreq *tprev, *tnext; /* in the transaction's list */
};

struct lkey {
    struct lkey *next; /* hash chain */
    uint64_t hash;
    struct lreq *holders;
    struct lreq *waiters; /* oldest first */
    uint32_t holders_n, waiters_n;
    bool marked; /* scratch for release */
    size_t len;
    uint8_t bytes[];
};

struct ltxn {
    struct ltxn *next; /* hash chain */
    txn_id id;
    tt_micros start_ts;
    tt_micros active_us;
    bool wounded, prepared;
    uint32_t waiting_n;
    struct lreq *reqs;
};

struct txn_locks {
    struct txn_locks_config cfg;
    struct lkey **keys;
    uint32_t keys_mask;
    struct ltxn **txns;
    uint32_t txns_mask;
    uint32_t txns_n, reqs_n, held_n, waiting_n, keys_n;
    txn_id *wounded;               /* result scratch, txns_max */
    struct txn_lock_grant *grants; /* result scratch, locks_max */
    struct lkey **touched;         /* release scratch, locks_max */
};

void txn_locks_config_init(struct txn_locks_config *cfg)
{
    SP_ASSERT(cfg != NULL);
    cfg->locks_max = 65536;
    cfg->waiters_per_key_max = 64;
    cfg->txns_max = 4096;
    cfg->idle_timeout_us = 10 * 1000 * 1000;
}

static uint32_t pow2_at_least(uint32_t n)
{
    uint32_t p = 16;
    while (p < n && p < (1u << 30))
        p <<= 1;
    return p;
}

int txn_locks_create(const struct txn_locks_config *cfg, struct txn_locks **out, struct sp_err *err)
{
    SP_ASSERT(cfg != NULL && out != NULL);
    *out = NULL;
    if (!cfg->locks_max || !cfg->waiters_per_key_max || !cfg->txns_max || cfg->idle_timeout_us <= 0)
        return sp_err_set(err, SP_EINVAL, "lock table: every limit must be positive");
    struct txn_locks *lt = calloc(1, sizeof *lt);
    if (!lt)
        return sp_err_set(err, SP_ENOMEM, "lock table: out of memory");
    lt->cfg = *cfg;
    lt->keys_mask = pow2_at_least(cfg->locks_max) - 1;
    lt->txns_mask = pow2_at_least(cfg->txns_max) - 1;
    lt->keys = calloc((size_t) lt->keys_mask + 1, sizeof *lt->keys);
    lt->txns = calloc((size_t) lt->txns_mask + 1, sizeof *lt->txns);
    lt->wounded = calloc(cfg->txns_max, sizeof *lt->wounded);
    lt->grants = calloc(cfg->locks_max, sizeof *lt->grants);
    lt->touched = calloc(cfg->locks_max, sizeof *lt->touched);
    if (!lt->keys || !lt->txns || !lt->wounded || !lt->grants || !lt->touched) {
        txn_locks_destroy(lt);
        return sp_err_set(err, SP_ENOMEM, "lock table: out of memory");
    }
    *out = lt;
    return 0;
}

void txn_locks_destroy(struct txn_locks *lt)
{
    if (!lt)
        return;
    /* Releasing every transaction frees every request and key. */
    for (uint32_t b = 0; lt->txns && b <= lt->txns_mask; b++)
        while (lt->txns[b])
            txn_locks_release(lt, lt->txns[b]->id, 0, NULL, NULL);
    SP_ASSERT(lt->reqs_n == 0 && lt->keys_n == 0);
    free(lt->keys);
    free(lt->txns);
    free(lt->wounded);
    free(lt->grants);
    free(lt->touched);
    free(lt);
}

/* ---- lookup ------------------------------------------------------------ */

static uint64_t key_hash(const void *key, size_t len)
{
    const uint8_t *p = key;
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

static struct lkey **key_slot(const struct txn_locks *lt, const void *key, size_t len, uint64_t h)
{
    struct lkey **pp = &lt->keys[h & lt->keys_mask];
    while (*pp && !((*pp)->hash == h && (*pp)->len == len && memcmp((*pp)->bytes, key, len) == 0))
        pp = &(*pp)->next;
    return pp;
}

static struct ltxn **txn_slot(const struct txn_locks *lt, txn_id id)
{
    struct ltxn **pp = &lt->txns[(id * 0x9E3779B97F4A7C15ull >> 32) & lt->txns_mask];
    while (*pp && (*pp)->id != id)
        pp = &(*pp)->next;
    return pp;
}

/* True iff a is older (higher priority) than b. */
static bool older(const struct ltxn *a, const struct ltxn *b)
{
    return a->start_ts < b->start_ts || (a->start_ts == b->start_ts && a->id < b->id);
}

static bool compatible(enum txn_lock_mode a, enum txn_lock_mode b)
{
    return a == TXN_LOCK_SHARED && b == TXN_LOCK_SHARED;
}

/* Does a request of `t` for `mode` conflict with some holder other than t? */
static bool conflicts_with_holders(const struct lkey *k, const struct ltxn *t,
                                   enum txn_lock_mode mode)
{
    for (const struct lreq *h = k->holders; h; h = h->knext)
        if (h->txn != t && !compatible(h->mode, mode))
            return true;
    return false;
}

static struct lreq *find_req(const struct ltxn *t, const struct lkey *k, bool granted)
{
    for (struct lreq *r = t->reqs; r; r = r->tnext)
        if (r->key == k && r->granted == granted)
            return r;
    return NULL;
}

/* ---- list plumbing ----------------------------------------------------- */

static void klist_remove(struct lreq **head, struct lreq *r)
{
    if (r->kprev)
        r->kprev->knext = r->knext;
    else
        *head = r->knext;
    if (r->knext)
        r->knext->kprev = r->kprev;
    r->kprev = r->knext = NULL;
}

static void klist_push(struct lreq **head, struct lreq *r)
{
    r->kprev = NULL;
    r->knext = *head;
    if (*head)
        (*head)->kprev = r;
    *head = r;
}

/* Inserts a waiter in priority order, oldest first (invariant 2). */
static void waiters_insert(struct lkey *k, struct lreq *r)
{
    struct lreq *prev = NULL, *cur = k->waiters;
    uint32_t steps = 0;
    while (cur && older(cur->txn, r->txn)) {
        SP_ASSERT(++steps <= k->waiters_n);
        prev = cur;
        cur = cur->knext;
    }
    r->kprev = prev;
    r->knext = cur;
    if (cur)
        cur->kprev = r;
    if (prev)
        prev->knext = r;
    else
        k->waiters = r;
    k->waiters_n++;
}

static struct lreq *req_new(struct txn_locks *lt, struct ltxn *t, struct lkey *k,
                            enum txn_lock_mode mode, bool granted)
{
    struct lreq *r = calloc(1, sizeof *r);
    SP_ASSERT(r != NULL); /* table memory is bounded by locks_max */
    r->txn = t;
    r->key = k;
    r->mode = mode;
    r->granted = granted;
    r->tnext = t->reqs;
    if (t->reqs)
        t->reqs->tprev = r;
    t->reqs = r;
    lt->reqs_n++;
    SP_ASSERT(lt->reqs_n <= lt->cfg.locks_max);
    if (granted) {
        klist_push(&k->holders, r);
        k->holders_n++;
        lt->held_n++;
    } else {
        waiters_insert(k, r);
        t->waiting_n++;
        lt->waiting_n++;
    }
    return r;
}

/* Unlinks r from its transaction and key and frees it. */
static void req_free(struct txn_locks *lt, struct lreq *r)
{
    struct ltxn *t = r->txn;
    struct lkey *k = r->key;
    if (r->tprev)
        r->tprev->tnext = r->tnext;
    else
        t->reqs = r->tnext;
    if (r->tnext)
        r->tnext->tprev = r->tprev;
    if (r->granted) {
        klist_remove(&k->holders, r);
        k->holders_n--;
        lt->held_n--;
    } else {
        klist_remove(&k->waiters, r);
        k->waiters_n--;
        t->waiting_n--;
        lt->waiting_n--;
    }
    lt->reqs_n--;
    free(r);
}

/* ---- acquire ----------------------------------------------------------- */

/* Wounds every younger, unprepared holder of k that conflicts with `mode`
 * requested by t; lists the newly wounded in lt->wounded. */
static uint32_t wound_holders(struct txn_locks *lt, struct lkey *k, struct ltxn *t,
                              enum txn_lock_mode mode)
{
    uint32_t n = 0;
    /* Negative control for tests/txn only: with wounding switched off the
     * random schedules must find deadlocks. Never set in the library. */
    if (TXN__TEST_NO_WOUND)
        return 0;
    for (struct lreq *h = k->holders; h; h = h->knext) {
        struct ltxn *victim = h->txn;
        if (victim == t || compatible(h->mode, mode) || !older(t, victim))
            continue;
        if (victim->prepared || victim->wounded)
            continue;
        victim->wounded = true;
        SP_ASSERT(n < lt->cfg.txns_max);
        lt->wounded[n++] = victim->id;
    }
    return n;
}

/* Must the request wait? Invariant 5: it waits if it conflicts with a holder
 * or an older request is queued on the key. */
static bool must_wait(const struct lkey *k, const struct ltxn *t, enum txn_lock_mode mode)
{
    if (conflicts_with_holders(k, t, mode))
        return true;
    return k->waiters && older(k->waiters->txn, t);
}

static struct ltxn *txn_get_or_new(struct txn_locks *lt, const struct txn_lock_owner *o)
{
    struct ltxn **pp = txn_slot(lt, o->id);
    if (*pp)
        return *pp;
    SP_ASSERT(lt->txns_n < lt->cfg.txns_max);
    struct ltxn *t = calloc(1, sizeof *t);
    SP_ASSERT(t != NULL);
    t->id = o->id;
    t->start_ts = o->start_ts;
    *pp = t;
    lt->txns_n++;
    return t;
}

static struct lkey *key_get_or_new(struct txn_locks *lt, const void *key, size_t len)
{
    uint64_t h = key_hash(key, len);
    struct lkey **pp = key_slot(lt, key, len, h);
    if (*pp)
        return *pp;
    struct lkey *k = calloc(1, sizeof *k + len);
    SP_ASSERT(k != NULL);
    k->hash = h;
    k->len = len;
    if (len)
        memcpy(k->bytes, key, len);
    *pp = k;
    lt->keys_n++;
    return k;
}

/* Checks the requester and the limits before anything changes, so that a
 * failed acquire leaves the table as it was. */
static int acquire_check(struct txn_locks *lt, const struct txn_lock_owner *o, const struct ltxn *t,
                         const struct lkey *k, enum txn_lock_mode mode, struct sp_err *err)
{
    if (t && t->wounded)
        return sp_err_set(err, SP_ETXN_WOUNDED, "txn %llu: wounded by an older transaction",
                          (unsigned long long) o->id);
    if (t && t->start_ts != o->start_ts)
        return sp_err_set(err, SP_EINVAL, "txn %llu: start_ts %lld differs from %lld",
                          (unsigned long long) o->id, (long long) o->start_ts,
                          (long long) t->start_ts);
    if (t && t->prepared)
        return sp_err_set(err, SP_EINVAL, "txn %llu: prepared; no new locks",
                          (unsigned long long) o->id);
    if (!t && lt->txns_n == lt->cfg.txns_max)
        return sp_err_set(err, SP_EFULL, "lock table: txns_max=%u transactions", lt->cfg.txns_max);
    if (t && k && find_req(t, k, false))
        return sp_err_set(err, SP_EINVAL, "txn %llu: a request is already queued on this key",
                          (unsigned long long) o->id);
    const struct lreq *held = t && k ? find_req(t, k, true) : NULL;
    if (held && held->mode >= mode)
        return 0; /* re-entrant: nothing new is needed */
    if (lt->reqs_n == lt->cfg.locks_max)
        return sp_err_set(err, SP_EFULL, "lock table: locks_max=%u requests", lt->cfg.locks_max);
    /* A transaction not yet in the table is judged by its priority alone. */
    struct ltxn probe = {.id = o->id, .start_ts = o->start_ts};
    if (k && k->waiters_n == lt->cfg.waiters_per_key_max && must_wait(k, t ? t : &probe, mode))
        return sp_err_set(err, SP_EFULL, "lock table: waiters_per_key_max=%u on one key",
                          lt->cfg.waiters_per_key_max);
    return 0;
}

int txn_locks_acquire(struct txn_locks *lt, const struct txn_lock_owner *owner, const void *key,
                      size_t key_len, enum txn_lock_mode mode, tt_micros now,
                      struct txn_lock_result *res, struct sp_err *err)
{
    SP_ASSERT(lt != NULL && owner != NULL && res != NULL);
    SP_ASSERT(key != NULL || key_len == 0);
    SP_ASSERT(mode == TXN_LOCK_SHARED || mode == TXN_LOCK_EXCLUSIVE);
    memset(res, 0, sizeof *res);
    res->wounded = lt->wounded;
    if (key_len > LOCK_KEY_BYTES_MAX)
        return sp_err_set(err, SP_ETXN_TOO_LARGE, "lock key of %zu bytes over %u", key_len,
                          LOCK_KEY_BYTES_MAX);
    struct ltxn *t = *txn_slot(lt, owner->id);
    struct lkey *k = *key_slot(lt, key, key_len, key_hash(key, key_len));
    int rc = acquire_check(lt, owner, t, k, mode, err);
    if (rc)
        return rc;
    t = txn_get_or_new(lt, owner);
    k = key_get_or_new(lt, key, key_len);
    t->active_us = now;
    struct lreq *held = find_req(t, k, true);
    if (held && held->mode >= mode)
        return 0; /* already held in this or a stronger mode */
    res->wounded_n = wound_holders(lt, k, t, mode);
    if (!must_wait(k, t, mode)) {
        if (held)
            held->mode = mode; /* upgrade with no one in the way */
        else
            req_new(lt, t, k, mode, true);
        return 0;
    }
    struct lreq *r = req_new(lt, t, k, mode, false);
    r->upgrade = held != NULL;
    res->status = TXN_LOCK_WAIT;
    return 0;
}

/* ---- release ----------------------------------------------------------- */

/* Grants queued requests of k in priority order until one conflicts
 * (invariant 3 holds afterwards). Appends grants to lt->grants. */
static void grant_waiters(struct txn_locks *lt, struct lkey *k, tt_micros now, uint32_t *n)
{
    uint32_t steps = 0;
    while (k->waiters && !conflicts_with_holders(k, k->waiters->txn, k->waiters->mode)) {
        SP_ASSERT(++steps <= lt->cfg.waiters_per_key_max);
        struct lreq *w = k->waiters;
        struct ltxn *t = w->txn;
        enum txn_lock_mode mode = w->mode;
        if (w->upgrade) {
            struct lreq *held = find_req(t, k, true);
            SP_ASSERT(held != NULL && held->mode == TXN_LOCK_SHARED);
            req_free(lt, w);
            held->mode = mode;
        } else {
            klist_remove(&k->waiters, w);
            k->waiters_n--;
            t->waiting_n--;
            lt->waiting_n--;
            w->granted = true;
            klist_push(&k->holders, w);
            k->holders_n++;
            lt->held_n++;
        }
        t->active_us = now;
        SP_ASSERT(*n < lt->cfg.locks_max);
        lt->grants[(*n)++] = (struct txn_lock_grant){t->id, k->bytes, k->len, mode};
    }
}

static void key_free_if_empty(struct txn_locks *lt, struct lkey *k)
{
    if (k->holders || k->waiters)
        return;
    struct lkey **pp = key_slot(lt, k->bytes, k->len, k->hash);
    SP_ASSERT(*pp == k);
    *pp = k->next;
    lt->keys_n--;
    free(k);
}

void txn_locks_release(struct txn_locks *lt, txn_id id, tt_micros now,
                       const struct txn_lock_grant **grants, uint32_t *grants_n)
{
    SP_ASSERT(lt != NULL);
    uint32_t n = 0, touched = 0;
    struct ltxn **pp = txn_slot(lt, id);
    struct ltxn *t = *pp;
    if (t) {
        /* First drop every request, then wake each touched key once: a key
         * where t both held S and queued an upgrade is settled only after
         * both are gone. */
        while (t->reqs) {
            struct lkey *k = t->reqs->key;
            if (!k->marked) {
                k->marked = true;
                SP_ASSERT(touched < lt->cfg.locks_max);
                lt->touched[touched++] = k;
            }
            req_free(lt, t->reqs);
        }
        *pp = t->next;
        lt->txns_n--;
        free(t);
        for (uint32_t i = 0; i < touched; i++) {
            lt->touched[i]->marked = false;
            grant_waiters(lt, lt->touched[i], now, &n);
        }
        for (uint32_t i = 0; i < touched; i++)
            key_free_if_empty(lt, lt->touched[i]);
    }
    if (grants)
        *grants = lt->grants;
    if (grants_n)
        *grants_n = n;
}

/* ---- transaction state ------------------------------------------------- */

int txn_locks_prepared(struct txn_locks *lt, txn_id id, struct sp_err *err)
{
    SP_ASSERT(lt != NULL);
    struct ltxn *t = *txn_slot(lt, id);
    if (!t)
        return sp_err_set(err, SP_ENOTFOUND, "txn %llu: unknown to the lock table",
                          (unsigned long long) id);
    if (t->wounded)
        return sp_err_set(err, SP_ETXN_WOUNDED, "txn %llu: wounded before it prepared",
                          (unsigned long long) id);
    if (t->waiting_n)
        return sp_err_set(err, SP_EINVAL, "txn %llu: prepare with %u queued requests",
                          (unsigned long long) id, t->waiting_n);
    t->prepared = true;
    return 0;
}

int txn_locks_keepalive(struct txn_locks *lt, txn_id id, tt_micros now, struct sp_err *err)
{
    SP_ASSERT(lt != NULL);
    struct ltxn *t = *txn_slot(lt, id);
    if (!t)
        return sp_err_set(err, SP_ENOTFOUND, "txn %llu: unknown (expired or released)",
                          (unsigned long long) id);
    if (t->wounded)
        return sp_err_set(err, SP_ETXN_WOUNDED, "txn %llu: wounded by an older transaction",
                          (unsigned long long) id);
    if (now > t->active_us)
        t->active_us = now;
    return 0;
}

uint32_t txn_locks_expired(const struct txn_locks *lt, tt_micros now, txn_id *ids, uint32_t max)
{
    SP_ASSERT(lt != NULL);
    SP_ASSERT(ids != NULL || max == 0);
    uint32_t n = 0;
    for (uint32_t b = 0; b <= lt->txns_mask && n < max; b++)
        for (const struct ltxn *t = lt->txns[b]; t && n < max; t = t->next)
            if (!t->prepared && t->waiting_n == 0 && now - t->active_us > lt->cfg.idle_timeout_us)
                ids[n++] = t->id;
    return n;
}

bool txn_locks_is_wounded(const struct txn_locks *lt, txn_id id)
{
    SP_ASSERT(lt != NULL);
    const struct ltxn *t = *txn_slot(lt, id);
    return t != NULL && t->wounded;
}

void txn_locks_stats(const struct txn_locks *lt, struct txn_locks_stats *out)
{
    SP_ASSERT(lt != NULL && out != NULL);
    out->txns = lt->txns_n;
    out->held = lt->held_n;
    out->waiting = lt->waiting_n;
    out->keys = lt->keys_n;
}

/* ---- diagnostics ------------------------------------------------------- */

void txn_locks_waits_for(const struct txn_locks *lt, void (*fn)(void *, txn_id, txn_id), void *ctx)
{
    SP_ASSERT(lt != NULL && fn != NULL);
    for (uint32_t b = 0; b <= lt->keys_mask; b++) {
        for (const struct lkey *k = lt->keys[b]; k; k = k->next) {
            for (const struct lreq *w = k->waiters; w; w = w->knext) {
                for (const struct lreq *h = k->holders; h; h = h->knext)
                    if (h->txn != w->txn && !compatible(h->mode, w->mode))
                        fn(ctx, w->txn->id, h->txn->id);
                for (const struct lreq *a = k->waiters; a != w; a = a->knext)
                    if (a->txn != w->txn)
                        fn(ctx, w->txn->id, a->txn->id);
            }
        }
    }
}

void txn_locks_blockers(const struct txn_locks *lt, txn_id waiter,
                        void (*fn)(void *, txn_id, txn_id), void *ctx)
{
    SP_ASSERT(lt != NULL && fn != NULL);
    const struct ltxn *t = *txn_slot(lt, waiter);
    if (t == NULL)
        return;
    for (const struct lreq *w = t->reqs; w; w = w->tnext) {
        if (w->granted)
            continue;
        const struct lkey *k = w->key;
        for (const struct lreq *h = k->holders; h; h = h->knext)
            if (h->txn != w->txn && !compatible(h->mode, w->mode))
                fn(ctx, waiter, h->txn->id);
        for (const struct lreq *a = k->waiters; a != w && a; a = a->knext)
            if (a->txn != w->txn)
                fn(ctx, waiter, a->txn->id);
    }
}

bool txn_locks_holds(const struct txn_locks *lt, txn_id id, const void *key, size_t key_len)
{
    SP_ASSERT(lt != NULL && (key != NULL || key_len == 0));
    const struct ltxn *t = *txn_slot(lt, id);
    const struct lkey *k = *key_slot(lt, key, key_len, key_hash(key, key_len));
    return t != NULL && k != NULL && find_req(t, k, true) != NULL;
}

uint32_t txn_locks_held(const struct txn_locks *lt, txn_id id, enum txn_lock_mode mode,
                        void (*fn)(void *, const void *, size_t), void *ctx)
{
    SP_ASSERT(lt != NULL);
    const struct ltxn *t = *txn_slot(lt, id);
    uint32_t n = 0;
    for (const struct lreq *r = t ? t->reqs : NULL; r; r = r->tnext) {
        if (!r->granted || r->mode != mode)
            continue;
        if (fn)
            fn(ctx, r->key->bytes, r->key->len);
        n++;
    }
    return n;
}

static void check_key(const struct lkey *k, uint32_t *held, uint32_t *waiting)
{
    uint32_t nh = 0, nw = 0;
    SP_ASSERT(k->holders || k->waiters);
    for (const struct lreq *h = k->holders; h; h = h->knext, nh++) {
        SP_ASSERT(h->granted && h->key == k && !h->upgrade);
        for (const struct lreq *o = h->knext; o; o = o->knext)
            SP_ASSERT(o->txn != h->txn && compatible(o->mode, h->mode)); /* 1 */
    }
    for (const struct lreq *w = k->waiters; w; w = w->knext, nw++) {
        SP_ASSERT(!w->granted && w->key == k);
        SP_ASSERT(!w->knext || older(w->txn, w->knext->txn)); /* 2 */
        SP_ASSERT(w->upgrade == (find_req(w->txn, k, true) != NULL));
        for (const struct lreq *h = k->holders; h; h = h->knext)
            if (h->txn != w->txn && !compatible(h->mode, w->mode) && older(w->txn, h->txn))
                SP_ASSERT(h->txn->wounded || h->txn->prepared); /* 4 */
    }
    if (k->waiters)
        SP_ASSERT(conflicts_with_holders(k, k->waiters->txn, k->waiters->mode)); /* 3 */
    SP_ASSERT(nh == k->holders_n && nw == k->waiters_n);
    *held += nh;
    *waiting += nw;
}

void txn_locks_check(const struct txn_locks *lt)
{
    SP_ASSERT(lt != NULL);
    uint32_t held = 0, waiting = 0, keys = 0, txns = 0, reqs = 0;
    for (uint32_t b = 0; b <= lt->keys_mask; b++)
        for (const struct lkey *k = lt->keys[b]; k; k = k->next, keys++) {
            SP_ASSERT(!k->marked);
            SP_ASSERT(k->waiters_n <= lt->cfg.waiters_per_key_max);
            check_key(k, &held, &waiting);
        }
    for (uint32_t b = 0; b <= lt->txns_mask; b++)
        for (const struct ltxn *t = lt->txns[b]; t; t = t->next, txns++) {
            uint32_t w = 0;
            for (const struct lreq *r = t->reqs; r; r = r->tnext, reqs++) {
                SP_ASSERT(r->txn == t);
                w += !r->granted;
            }
            SP_ASSERT(w == t->waiting_n);
            SP_ASSERT(!t->prepared || w == 0);
        }
    SP_ASSERT(held == lt->held_n && waiting == lt->waiting_n); /* 6 */
    SP_ASSERT(keys == lt->keys_n && txns == lt->txns_n && reqs == lt->reqs_n);
    SP_ASSERT(reqs == held + waiting && reqs <= lt->cfg.locks_max);
}

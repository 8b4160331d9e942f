/*
 * test_locks.c - the wound-wait lock table: every compatibility case,
 * wound-wait ordering, upgrades, prepared transactions, idle expiry, limits,
 * and a seeded random schedule that proves no deadlock forms and every
 * transaction completes once wounded ones are aborted.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "sp_test.h"
#include "txn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Built a second time as test_txn_locks_control, with locks.c compiled in
 * and wounding switched off: then the random schedules must deadlock. */
#ifndef TXN__TEST_NO_WOUND
#define TXN__TEST_NO_WOUND 0
#endif

#define S TXN_LOCK_SHARED
#define X TXN_LOCK_EXCLUSIVE

static int setup(void **state)
{
    struct txn_locks_config cfg;
    txn_locks_config_init(&cfg);
    struct txn_locks *lt = NULL;
    assert_int_equal(txn_locks_create(&cfg, &lt, NULL), 0);
    *state = lt;
    return 0;
}

static int teardown(void **state)
{
    txn_locks_check(*state);
    txn_locks_destroy(*state);
    return 0;
}

/* Transaction i has id i and start timestamp i * 10: lower i is older. */
static int acq(struct txn_locks *lt, txn_id id, const char *key, enum txn_lock_mode mode,
               struct txn_lock_result *res)
{
    struct txn_lock_owner o = {id, (tt_micros) id * 10};
    int rc = txn_locks_acquire(lt, &o, key, strlen(key), mode, 0, res, NULL);
    txn_locks_check(lt);
    return rc;
}

static void expect_granted(struct txn_locks *lt, txn_id id, const char *key,
                           enum txn_lock_mode mode)
{
    struct txn_lock_result r;
    assert_int_equal(acq(lt, id, key, mode, &r), 0);
    assert_int_equal(r.status, TXN_LOCK_GRANTED);
    assert_int_equal(r.wounded_n, 0);
}

/* Expects WAIT, and exactly `wounded` (0 = none) wounded. */
static void expect_wait(struct txn_locks *lt, txn_id id, const char *key, enum txn_lock_mode mode,
                        txn_id wounded)
{
    struct txn_lock_result r;
    assert_int_equal(acq(lt, id, key, mode, &r), 0);
    assert_int_equal(r.status, TXN_LOCK_WAIT);
    assert_int_equal(r.wounded_n, wounded ? 1 : 0);
    if (wounded)
        assert_int_equal(r.wounded[0], wounded);
}

/* Releases id and expects grants to exactly ids[0..n) in that order. */
static void expect_release(struct txn_locks *lt, txn_id id, const txn_id *ids, uint32_t n)
{
    const struct txn_lock_grant *g = NULL;
    uint32_t gn = 99;
    txn_locks_release(lt, id, 0, &g, &gn);
    txn_locks_check(lt);
    assert_int_equal(gn, n);
    for (uint32_t i = 0; i < n; i++)
        assert_int_equal(g[i].id, ids[i]);
}

/* ---- compatibility ----------------------------------------------------- */

static void test_shared_shared(void **state)
{
    struct txn_locks *lt = *state;
    expect_granted(lt, 1, "k", S);
    expect_granted(lt, 2, "k", S);
    expect_granted(lt, 3, "k", S);
    struct txn_locks_stats st;
    txn_locks_stats(lt, &st);
    assert_int_equal(st.held, 3);
    assert_int_equal(st.keys, 1);
}

static void test_shared_then_exclusive(void **state)
{
    struct txn_locks *lt = *state;
    /* Older holder: the younger requester waits, nobody is wounded. */
    expect_granted(lt, 1, "k", S);
    expect_wait(lt, 2, "k", X, 0);
    expect_release(lt, 1, (txn_id[]){2}, 1);
    /* Younger holder: the older requester wounds it and waits. */
    expect_granted(lt, 5, "j", S);
    expect_wait(lt, 4, "j", X, 5);
    assert_true(txn_locks_is_wounded(lt, 5));
    struct txn_lock_result r;
    assert_int_equal(acq(lt, 5, "other", S, &r), SP_ETXN_WOUNDED);
    expect_release(lt, 5, (txn_id[]){4}, 1);
}

static void test_exclusive_then_shared(void **state)
{
    struct txn_locks *lt = *state;
    expect_granted(lt, 1, "k", X);
    expect_wait(lt, 2, "k", S, 0);
    expect_wait(lt, 3, "k", S, 0);
    /* Both shared waiters are granted together, oldest first. */
    expect_release(lt, 1, (txn_id[]){2, 3}, 2);
    expect_granted(lt, 7, "j", X);
    expect_wait(lt, 6, "j", S, 7);
    expect_release(lt, 7, (txn_id[]){6}, 1);
}

static void test_exclusive_exclusive(void **state)
{
    struct txn_locks *lt = *state;
    expect_granted(lt, 1, "k", X);
    expect_wait(lt, 2, "k", X, 0);
    expect_release(lt, 1, (txn_id[]){2}, 1);
    expect_granted(lt, 9, "j", X);
    expect_wait(lt, 8, "j", X, 9);
    /* A second, even older requester does not wound 9 again. */
    expect_wait(lt, 3, "j", X, 0);
    /* 3 is older than 8, so it is first in line. */
    expect_release(lt, 9, (txn_id[]){3}, 1);
    expect_release(lt, 3, (txn_id[]){8}, 1);
}

static void test_reentrant(void **state)
{
    struct txn_locks *lt = *state;
    expect_granted(lt, 1, "k", X);
    expect_granted(lt, 1, "k", S); /* weaker than held */
    expect_granted(lt, 1, "k", X);
    expect_granted(lt, 2, "j", S);
    expect_granted(lt, 2, "j", S);
    struct txn_locks_stats st;
    txn_locks_stats(lt, &st);
    assert_int_equal(st.held, 2);
}

/* ---- upgrades ---------------------------------------------------------- */

static void test_upgrade_alone(void **state)
{
    struct txn_locks *lt = *state;
    expect_granted(lt, 1, "k", S);
    expect_granted(lt, 1, "k", X);
    expect_wait(lt, 2, "k", S, 0); /* it is exclusive now */
    struct txn_locks_stats st;
    txn_locks_stats(lt, &st);
    assert_int_equal(st.held, 1);
    assert_int_equal(st.waiting, 1);
}

static void test_upgrade_against_younger_shared(void **state)
{
    struct txn_locks *lt = *state;
    expect_granted(lt, 1, "k", S);
    expect_granted(lt, 2, "k", S);
    expect_wait(lt, 1, "k", X, 2);
    const struct txn_lock_grant *g;
    uint32_t n;
    txn_locks_release(lt, 2, 0, &g, &n);
    assert_int_equal(n, 1);
    assert_int_equal(g[0].id, 1);
    assert_int_equal(g[0].mode, X);
    assert_memory_equal(g[0].key, "k", 1);
    txn_locks_check(lt);
}

/* The classic upgrade deadlock (both hold S, both want X) is broken by a
 * wound: the older one's upgrade wounds the younger. */
static void test_upgrade_deadlock_broken(void **state)
{
    struct txn_locks *lt = *state;
    expect_granted(lt, 1, "k", S);
    expect_granted(lt, 2, "k", S);
    expect_wait(lt, 2, "k", X, 0); /* younger waits for older */
    expect_wait(lt, 1, "k", X, 2); /* older wounds younger */
    assert_true(txn_locks_is_wounded(lt, 2));
    expect_release(lt, 2, (txn_id[]){1}, 1);
    struct txn_locks_stats st;
    txn_locks_stats(lt, &st);
    assert_int_equal(st.held, 1);
    assert_int_equal(st.waiting, 0);
}

/* ---- ordering ---------------------------------------------------------- */

static void test_waiters_in_priority_order(void **state)
{
    struct txn_locks *lt = *state;
    expect_granted(lt, 1, "k", X);
    expect_wait(lt, 5, "k", S, 0);
    expect_wait(lt, 3, "k", X, 0);
    expect_wait(lt, 4, "k", S, 0);
    expect_release(lt, 1, (txn_id[]){3}, 1);
    expect_release(lt, 3, (txn_id[]){4, 5}, 2);
}

/* Invariant 5: a younger request never overtakes an older waiter, even when
 * it is compatible with every holder. */
static void test_no_overtaking_an_older_waiter(void **state)
{
    struct txn_locks *lt = *state;
    expect_granted(lt, 5, "k", S);
    expect_wait(lt, 1, "k", X, 5);
    expect_wait(lt, 6, "k", S, 0);
    /* 3 is younger than the waiter 1 too, so it queues behind it. */
    expect_wait(lt, 3, "k", S, 0);
    expect_release(lt, 5, (txn_id[]){1}, 1);
    expect_release(lt, 1, (txn_id[]){3, 6}, 2);
}

/* A request older than every waiter and compatible with the holders is
 * granted at once; the younger waiter keeps waiting. */
static void test_older_compatible_passes_younger_waiter(void **state)
{
    struct txn_locks *lt = *state;
    expect_granted(lt, 1, "k", S);
    expect_wait(lt, 5, "k", X, 0);
    expect_granted(lt, 3, "k", S);
    expect_release(lt, 1, NULL, 0);
    expect_release(lt, 3, (txn_id[]){5}, 1);
}

static void test_tie_broken_by_id(void **state)
{
    struct txn_locks *lt = *state;
    struct txn_lock_owner a = {7, 100}, b = {8, 100};
    struct txn_lock_result r;
    assert_int_equal(txn_locks_acquire(lt, &b, "k", 1, X, 0, &r, NULL), 0);
    assert_int_equal(txn_locks_acquire(lt, &a, "k", 1, X, 0, &r, NULL), 0);
    assert_int_equal(r.status, TXN_LOCK_WAIT);
    assert_int_equal(r.wounded_n, 1); /* same start_ts: lower id is older */
    assert_int_equal(r.wounded[0], 8);
    txn_locks_check(lt);
}

/* ---- prepared, expiry, limits ------------------------------------------ */

static void test_prepared_is_not_wounded(void **state)
{
    struct txn_locks *lt = *state;
    expect_granted(lt, 5, "k", X);
    assert_int_equal(txn_locks_prepared(lt, 5, NULL), 0);
    expect_wait(lt, 1, "k", X, 0); /* waits for the outcome instead */
    assert_false(txn_locks_is_wounded(lt, 5));
    struct txn_lock_result r;
    assert_int_equal(acq(lt, 5, "j", S, &r), SP_EINVAL); /* no new locks after prepare */
    /* A wounded transaction cannot prepare. */
    expect_granted(lt, 9, "w", S);
    expect_wait(lt, 2, "w", X, 9);
    assert_int_equal(txn_locks_prepared(lt, 9, NULL), SP_ETXN_WOUNDED);
    /* Nor one with a queued request. */
    assert_int_equal(txn_locks_prepared(lt, 2, NULL), SP_EINVAL);
    assert_int_equal(txn_locks_prepared(lt, 77, NULL), SP_ENOTFOUND);
    expect_release(lt, 5, (txn_id[]){1}, 1);
    expect_release(lt, 9, (txn_id[]){2}, 1);
}

static void test_idle_expiry_and_keepalive(void **state)
{
    struct txn_locks *lt = *state;
    const tt_micros sec = 1000 * 1000;
    struct txn_lock_owner o1 = {1, 10}, o2 = {2, 20}, o3 = {3, 30}, o4 = {4, 40};
    struct txn_lock_result r;
    assert_int_equal(txn_locks_acquire(lt, &o1, "a", 1, X, 0, &r, NULL), 0);
    assert_int_equal(txn_locks_acquire(lt, &o2, "b", 1, X, 5 * sec, &r, NULL), 0);
    assert_int_equal(txn_locks_acquire(lt, &o3, "a", 1, X, 1 * sec, &r, NULL), 0);
    assert_int_equal(r.status, TXN_LOCK_WAIT);
    assert_int_equal(txn_locks_acquire(lt, &o4, "c", 1, X, 0, &r, NULL), 0);
    assert_int_equal(txn_locks_prepared(lt, 4, NULL), 0);
    txn_id ids[8];
    assert_int_equal(txn_locks_expired(lt, 10 * sec, ids, 8), 0); /* exactly the timeout */
    /* 1 idle; 2 recent; 3 waiting (not idle); 4 prepared (never expires). */
    assert_int_equal(txn_locks_expired(lt, 10 * sec + 1, ids, 8), 1);
    assert_int_equal(ids[0], 1);
    assert_int_equal(txn_locks_keepalive(lt, 1, 10 * sec, NULL), 0);
    assert_int_equal(txn_locks_expired(lt, 15 * sec + 1, ids, 8), 1);
    assert_int_equal(ids[0], 2);
    /* The driver aborts the expired one; the waiter is granted and its
     * activity restarts at the grant. */
    const struct txn_lock_grant *g;
    uint32_t n;
    txn_locks_release(lt, 1, 21 * sec, &g, &n);
    assert_int_equal(n, 1);
    assert_int_equal(txn_locks_expired(lt, 30 * sec, ids, 8), 1); /* 2 only */
    assert_int_equal(txn_locks_expired(lt, 31 * sec + 1, ids, 8), 2);
    assert_int_equal(txn_locks_keepalive(lt, 1, 0, NULL), SP_ENOTFOUND);
    expect_granted(lt, 6, "w", S);
    expect_wait(lt, 5, "w", X, 6);
    assert_int_equal(txn_locks_keepalive(lt, 6, 0, NULL), SP_ETXN_WOUNDED);
}

static void test_limits(void **state)
{
    (void) state;
    struct txn_locks_config cfg;
    txn_locks_config_init(&cfg);
    cfg.locks_max = 5;
    cfg.waiters_per_key_max = 2;
    cfg.txns_max = 4;
    struct txn_locks *lt = NULL;
    assert_int_equal(txn_locks_create(&cfg, &lt, NULL), 0);
    expect_granted(lt, 1, "k", X);
    expect_wait(lt, 2, "k", S, 0);
    expect_wait(lt, 3, "k", S, 0);
    struct txn_lock_result r;
    struct sp_err err = {0};
    struct txn_lock_owner o4 = {4, 40};
    assert_int_equal(txn_locks_acquire(lt, &o4, "k", 1, S, 0, &r, &err), SP_EFULL);
    assert_non_null(strstr(err.msg, "waiters_per_key_max"));
    struct txn_locks_stats st;
    txn_locks_stats(lt, &st);
    assert_int_equal(st.txns, 3); /* a failed acquire changes nothing */
    expect_granted(lt, 4, "j", X);
    struct txn_lock_owner o5 = {5, 50};
    assert_int_equal(txn_locks_acquire(lt, &o5, "m", 1, X, 0, &r, &err), SP_EFULL);
    assert_non_null(strstr(err.msg, "txns_max"));
    expect_granted(lt, 4, "m", X); /* the fifth request */
    assert_int_equal(acq(lt, 4, "n", X, &r), SP_EFULL);
    expect_granted(lt, 4, "m", S); /* re-entrant needs no slot */
    /* Misuse. */
    assert_int_equal(acq(lt, 2, "k", X, &r), SP_EINVAL); /* already queued on k */
    struct txn_lock_owner wrong = {2, 999};
    assert_int_equal(txn_locks_acquire(lt, &wrong, "z", 1, S, 0, &r, NULL), SP_EINVAL);
    txn_locks_check(lt);
    txn_locks_destroy(lt);
    assert_int_equal(txn_locks_create(&(struct txn_locks_config){0}, &lt, NULL), SP_EINVAL);
}

static void test_release_unknown_is_noop(void **state)
{
    struct txn_locks *lt = *state;
    expect_release(lt, 42, NULL, 0);
    expect_granted(lt, 1, "k", S);
    expect_release(lt, 1, NULL, 0);
    expect_release(lt, 1, NULL, 0);
    struct txn_locks_stats st;
    txn_locks_stats(lt, &st);
    assert_int_equal(st.txns + st.held + st.waiting + st.keys, 0);
}

static void test_binary_keys(void **state)
{
    struct txn_locks *lt = *state;
    struct txn_lock_owner a = {1, 10}, b = {2, 20};
    struct txn_lock_result r;
    assert_int_equal(txn_locks_acquire(lt, &a, "\0a", 2, X, 0, &r, NULL), 0);
    assert_int_equal(txn_locks_acquire(lt, &b, "\0b", 2, X, 0, &r, NULL), 0);
    assert_int_equal(r.status, TXN_LOCK_GRANTED); /* different keys */
    assert_int_equal(txn_locks_acquire(lt, &b, "", 0, X, 0, &r, NULL), 0);
    assert_int_equal(txn_locks_acquire(lt, &a, "", 0, S, 0, &r, NULL), 0);
    assert_int_equal(r.status, TXN_LOCK_WAIT);
    assert_int_equal(r.wounded_n, 1);
}

/* ---- randomized schedules ---------------------------------------------- */

#define R_TXNS_MAX 10
#define R_OPS_MAX  5
#define R_STEPS    20000

struct rtxn {
    txn_id id;
    tt_micros start_ts;
    int ops_n, pc;
    char keys[R_OPS_MAX];
    enum txn_lock_mode modes[R_OPS_MAX];
    bool waiting, done, prepared;
    int restarts;
};

/* Totals over all seeds, printed so a run shows the schedules were not
 * trivial (waits, wounds and retries all happen). */
static struct {
    long steps, waits, wounds, restarts, prepares;
} rtotal;

struct rworld {
    struct txn_locks *lt;
    struct rtxn t[R_TXNS_MAX];
    int n;
    bool edge[R_TXNS_MAX][R_TXNS_MAX];
};

static struct rtxn *rfind(struct rworld *w, txn_id id)
{
    for (int i = 0; i < w->n; i++)
        if (w->t[i].id == id)
            return &w->t[i];
    fail_msg("unknown txn %llu", (unsigned long long) id);
    return NULL;
}

static bool rolder(const struct rtxn *a, const struct rtxn *b)
{
    return a->start_ts < b->start_ts || (a->start_ts == b->start_ts && a->id < b->id);
}

static void redge(void *ctx, txn_id from, txn_id to)
{
    struct rworld *w = ctx;
    struct rtxn *a = rfind(w, from), *b = rfind(w, to);
    /* Every edge goes younger -> older, or to a wounded or prepared txn. */
    assert_true(rolder(b, a) || txn_locks_is_wounded(w->lt, to) || b->prepared ||
                TXN__TEST_NO_WOUND);
    assert_true(a->waiting);
    w->edge[a - w->t][b - w->t] = true;
}

struct rblock {
    struct rworld *w;
    txn_id waiter;
    bool row[R_TXNS_MAX];
};

static void rblocker(void *ctx, txn_id waiter, txn_id blocker)
{
    struct rblock *rb = ctx;
    assert_true(waiter == rb->waiter);
    rb->row[rfind(rb->w, blocker) - rb->w->t] = true;
}

static bool rcycle_from(struct rworld *w, int v, int *color)
{
    color[v] = 1;
    for (int u = 0; u < w->n; u++) {
        if (!w->edge[v][u] || txn_locks_is_wounded(w->lt, w->t[u].id))
            continue;
        if (color[u] == 1 || (color[u] == 0 && rcycle_from(w, u, color)))
            return true;
    }
    color[v] = 2;
    return false;
}

/* The waits-for graph minus edges into wounded transactions (which the
 * driver aborts) never has a cycle. Returns true if it has one (only the
 * negative control gets that far). */
static bool rcheck(struct rworld *w)
{
    if (!TXN__TEST_NO_WOUND)
        txn_locks_check(w->lt);
    memset(w->edge, 0, sizeof w->edge);
    txn_locks_waits_for(w->lt, redge, w);
    /* txn_locks_blockers gives each waiter's row of the same graph. */
    for (int v = 0; v < w->n; v++) {
        struct rblock rb = {.w = w, .waiter = w->t[v].id};
        txn_locks_blockers(w->lt, w->t[v].id, rblocker, &rb);
        for (int u = 0; u < w->n; u++)
            assert_int_equal(rb.row[u], w->edge[v][u]);
    }
    int color[R_TXNS_MAX] = {0};
    for (int v = 0; v < w->n; v++) {
        if (color[v] == 0 && rcycle_from(w, v, color)) {
            assert_true(TXN__TEST_NO_WOUND);
            return true;
        }
    }
    return false;
}

static void rgrants(struct rworld *w, const struct txn_lock_grant *g, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        struct rtxn *t = rfind(w, g[i].id);
        assert_true(t->waiting);
        assert_int_equal(g[i].key_len, 1);
        assert_int_equal(g[i].key[0], t->keys[t->pc]);
        assert_int_equal(g[i].mode, t->modes[t->pc]);
        t->waiting = false;
        t->pc++;
    }
}

static void rrelease(struct rworld *w, struct rtxn *t, bool commit)
{
    const struct txn_lock_grant *g;
    uint32_t n;
    txn_locks_release(w->lt, t->id, 0, &g, &n);
    t->waiting = false;
    t->prepared = false;
    t->pc = 0;
    if (commit)
        t->done = true;
    else
        t->restarts++, rtotal.restarts++; /* a retry keeps its start timestamp */
    rgrants(w, g, n);
}

static void rstep_txn(struct rworld *w, struct rtxn *t, unsigned *seed)
{
    if (txn_locks_is_wounded(w->lt, t->id)) {
        rrelease(w, t, false);
        return;
    }
    if (t->pc == t->ops_n) {
        /* Sometimes prepare first and commit on a later step. */
        if (!t->prepared && rand_r(seed) % 2) {
            assert_int_equal(txn_locks_prepared(w->lt, t->id, NULL), 0);
            t->prepared = true;
            rtotal.prepares++;
        } else {
            rrelease(w, t, true);
        }
        return;
    }
    struct txn_lock_owner o = {t->id, t->start_ts};
    struct txn_lock_result r;
    char key = t->keys[t->pc];
    int rc = txn_locks_acquire(w->lt, &o, &key, 1, t->modes[t->pc], 0, &r, NULL);
    assert_int_equal(rc, 0);
    for (uint32_t i = 0; i < r.wounded_n; i++) {
        struct rtxn *v = rfind(w, r.wounded[i]);
        assert_true(rolder(t, v));
        assert_false(v->prepared);
    }
    rtotal.wounds += r.wounded_n;
    if (r.status == TXN_LOCK_GRANTED)
        t->pc++;
    else
        t->waiting = true, rtotal.waits++;
}

static void rinit(struct rworld *w, unsigned *seed)
{
    w->n = 2 + rand_r(seed) % (R_TXNS_MAX - 1);
    int keys = 1 + rand_r(seed) % 4;
    for (int i = 0; i < w->n; i++) {
        struct rtxn *t = &w->t[i];
        memset(t, 0, sizeof *t);
        t->id = 100 + (txn_id) i;
        t->start_ts = rand_r(seed) % (2 * w->n); /* ties happen */
        t->ops_n = 1 + rand_r(seed) % R_OPS_MAX;
        for (int k = 0; k < t->ops_n; k++) {
            t->keys[k] = (char) ('a' + rand_r(seed) % keys);
            t->modes[k] = rand_r(seed) % 2 ? S : X;
        }
    }
}

/* One schedule: steps a random unfinished, non-waiting transaction (or a
 * wounded waiting one, which the driver aborts) until all are done. Returns
 * true if it deadlocked, which only the negative control may. */
static bool run_schedule(unsigned seed)
{
    struct txn_locks_config cfg;
    txn_locks_config_init(&cfg);
    cfg.locks_max = 64;
    cfg.txns_max = 16;
    struct rworld w = {0};
    assert_int_equal(txn_locks_create(&cfg, &w.lt, NULL), 0);
    rinit(&w, &seed);
    int done = 0, step = 0;
    for (; step < R_STEPS && done < w.n; step++) {
        int cand[R_TXNS_MAX], nc = 0;
        for (int i = 0; i < w.n; i++) {
            struct rtxn *t = &w.t[i];
            if (!t->done && (!t->waiting || txn_locks_is_wounded(w.lt, t->id)))
                cand[nc++] = i;
        }
        bool deadlock = nc == 0;
        if (!deadlock) {
            rstep_txn(&w, &w.t[cand[rand_r(&seed) % nc]], &seed);
            deadlock = rcheck(&w);
        }
        if (deadlock && TXN__TEST_NO_WOUND) {
            txn_locks_destroy(w.lt);
            return true;
        }
        if (deadlock)
            fail_msg("seed %u: deadlock at step %d: every live txn waits", seed, step);
        done = 0;
        for (int i = 0; i < w.n; i++)
            done += w.t[i].done;
    }
    rtotal.steps += step;
    if (done < w.n)
        fail_msg("seed %u: %d of %d txns unfinished after %d steps", seed, w.n - done, w.n, step);
    struct txn_locks_stats st;
    txn_locks_stats(w.lt, &st);
    assert_int_equal(st.txns + st.held + st.waiting + st.keys, 0);
    txn_locks_destroy(w.lt);
    return false;
}

static void test_random_schedules_no_deadlock(void **state)
{
    (void) state;
    const char *env = getenv("TXN_SEED");
    unsigned base = env ? (unsigned) strtoul(env, NULL, 10) : 20261127u;
    int seeds = env ? 1 : 2000;
    print_message("random lock schedules: base seed %u, %d seeds (TXN_SEED=<seed> replays one)\n",
                  base, seeds);
    for (int i = 0; i < seeds; i++)
        run_schedule(base + (unsigned) i);
    print_message("  %ld steps, %ld waits, %ld wounds, %ld restarts, %ld prepares\n", rtotal.steps,
                  rtotal.waits, rtotal.wounds, rtotal.restarts, rtotal.prepares);
    /* Many seeds must have exercised waits, wounds and retries; a single
     * replayed seed may be simple. */
    assert_true(seeds == 1 || (rtotal.waits > 0 && rtotal.wounds > 0 && rtotal.restarts > 0));
}

/* The negative control: without wounds, some schedules deadlock, and the
 * checks above see it. Proves the random test could fail. */
static void test_control_without_wounds_deadlocks(void **state)
{
    (void) state;
    int deadlocks = 0;
    for (unsigned seed = 20261127u; seed < 20261127u + 300; seed++)
        deadlocks += run_schedule(seed);
    print_message("negative control: %d of 300 schedules deadlocked without wound-wait\n",
                  deadlocks);
    assert_true(deadlocks > 0);
}

int main(void)
{
    sp_test_route_asserts();
    if (TXN__TEST_NO_WOUND) {
        const struct CMUnitTest control[] = {
            cmocka_unit_test(test_control_without_wounds_deadlocks),
        };
        return cmocka_run_group_tests(control, NULL, NULL);
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_shared_shared, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shared_then_exclusive, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exclusive_then_shared, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exclusive_exclusive, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reentrant, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upgrade_alone, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upgrade_against_younger_shared, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upgrade_deadlock_broken, setup, teardown),
        cmocka_unit_test_setup_teardown(test_waiters_in_priority_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_overtaking_an_older_waiter, setup, teardown),
        cmocka_unit_test_setup_teardown(test_older_compatible_passes_younger_waiter, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_tie_broken_by_id, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prepared_is_not_wounded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idle_expiry_and_keepalive, setup, teardown),
        cmocka_unit_test(test_limits),
        cmocka_unit_test_setup_teardown(test_release_unknown_is_noop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_binary_keys, setup, teardown),
        cmocka_unit_test(test_random_schedules_no_deadlock),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

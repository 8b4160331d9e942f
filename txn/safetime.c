/*
 * safetime.c - one replica's safe time and LastTS() (Spanner §4.1.3, §4.2.2,
 * §4.2.4).
 * Pure: the driver feeds it the group's Paxos log in order and the leader's
 * MinNextTS promises, and asks it which timestamps it may read at.
 *
 * From Spanner §4.1.3: "Every replica tracks a value called safe time t_safe
 * which is the maximum timestamp at which a replica is up-to-date. A replica
 * can satisfy a read at a timestamp t if t <= t_safe.
 *   Define t_safe = min(t_paxos_safe, t_TM_safe), where each Paxos state
 * machine has a safe time t_paxos_safe and each transaction manager has a
 * safe time t_TM_safe. t_paxos_safe is simpler: it is the timestamp of the
 * highest-applied Paxos write. Because timestamps increase monotonically and
 * writes are applied in order, writes will no longer occur at or below
 * t_paxos_safe with respect to Paxos.
 *   t_TM_safe is infinity at a replica if there are zero prepared (but not
 * committed) transactions ... If there are any such transactions, then the
 * state affected by those transactions is indeterminate: a participant
 * replica does not know yet whether such transactions will commit. ... The
 * coordinator leader ensures that the transaction's commit timestamp
 * s_i >= s_prepare_i,g over all participant groups g. Therefore, for every
 * replica in a group g, over all transactions T_i prepared at g,
 * t_TM_safe = min_i(s_prepare_i,g) - 1."
 *
 * From Spanner §4.2.4, for groups without recent writes: "Each Paxos leader
 * advances t_paxos_safe by keeping a threshold above which future writes'
 * timestamps will occur: it maintains a mapping MinNextTS(n) from Paxos
 * sequence number n to the minimum timestamp that may be assigned to Paxos
 * sequence number n + 1. A replica can advance t_paxos_safe to
 * MinNextTS(n) - 1 when it has applied through n."
 *
 * From Spanner §4.2.2: "Define LastTS() to be the timestamp of the last
 * committed write at a Paxos group. If there are no prepared transactions,
 * the assignment s_read = LastTS() trivially satisfies external consistency:
 * the transaction will see the result of the last write, and therefore be
 * ordered after it."
 *
 * Invariants:
 *   1. t_safe never decreases. Every event that adds a version or a prepared
 *      transaction asserts that its timestamp is above the current t_safe,
 *      so a read already served at t <= t_safe cannot change afterwards.
 *   2. t_paxos_safe and LastTS never decrease; LastTS <= t_paxos_safe.
 *   3. prepared[] is sorted by prepare timestamp (then id), so t_TM_safe is
 *      prepared[0].ts - 1; at most prepared_max entries.
 *   4. At most one promise is pending, for a slot not yet applied.
 *
 * Transitions, one per applied log entry (index strictly increasing):
 *   commit record            -> t_paxos_safe, LastTS := max(.., ts)
 *   prepare record           -> prepared += (id, p); t_paxos_safe := max(.., p)
 *   outcome (commit at s)    -> prepared -= id; t_paxos_safe, LastTS := max(.., s)
 *   outcome (abort)          -> prepared -= id
 *   other entry              -> index only
 *   MinNextTS(n) promise     -> t_paxos_safe := max(.., MinNextTS - 1), once
 *                               the replica has applied through n
 */
#include "txn.h"

#include "sp_assert.h"

#include <stdlib.h>
#include <string.h>

struct prepared {
    txn_id id;
    tt_micros ts;
};

struct txn_safetime {
    uint64_t applied_index;
    tt_micros paxos_safe;
    tt_micros last_ts;
    struct prepared *prepared; /* sorted by (ts, id) */
    uint32_t prepared_n, prepared_max;
    bool promise_pending;
    uint64_t promise_index;
    tt_micros promise_ts;
};

int txn_safetime_create(uint32_t prepared_max, struct txn_safetime **out, struct sp_err *err)
{
    SP_ASSERT(out != NULL);
    *out = NULL;
    if (prepared_max == 0)
        return sp_err_set(err, SP_EINVAL, "safe time: prepared_max must be positive");
    struct txn_safetime *st = calloc(1, sizeof *st);
    if (st)
        st->prepared = calloc(prepared_max, sizeof *st->prepared);
    if (!st || !st->prepared) {
        free(st);
        return sp_err_set(err, SP_ENOMEM, "safe time: out of memory");
    }
    st->prepared_max = prepared_max;
    *out = st;
    return 0;
}

void txn_safetime_destroy(struct txn_safetime *st)
{
    if (!st)
        return;
    free(st->prepared);
    free(st);
}

void txn_safetime_restore(struct txn_safetime *st, uint64_t applied_index, tt_micros last_ts)
{
    SP_ASSERT(st != NULL && last_ts >= 0);
    SP_ASSERT(st->applied_index == 0 && st->prepared_n == 0); /* a fresh tracker */
    st->applied_index = applied_index;
    /* Only data writes' timestamps are durable; a prepare record applied
     * after the last one may have raised t_paxos_safe further. Starting
     * lower is conservative: reads wait a little longer, never see less. */
    st->paxos_safe = last_ts;
    st->last_ts = last_ts;
}

tt_micros txn_safetime_tm_safe(const struct txn_safetime *st)
{
    SP_ASSERT(st != NULL);
    return st->prepared_n ? st->prepared[0].ts - 1 : TT_MICROS_MAX;
}

tt_micros txn_safetime_paxos_safe(const struct txn_safetime *st)
{
    SP_ASSERT(st != NULL);
    return st->paxos_safe;
}

tt_micros txn_safetime_get(const struct txn_safetime *st)
{
    tt_micros tm = txn_safetime_tm_safe(st);
    return st->paxos_safe < tm ? st->paxos_safe : tm;
}

tt_micros txn_safetime_last_ts(const struct txn_safetime *st)
{
    SP_ASSERT(st != NULL);
    SP_ASSERT(st->last_ts <= st->paxos_safe);
    return st->last_ts;
}

uint32_t txn_safetime_prepared_n(const struct txn_safetime *st)
{
    SP_ASSERT(st != NULL);
    return st->prepared_n;
}

uint64_t txn_safetime_applied_index(const struct txn_safetime *st)
{
    SP_ASSERT(st != NULL);
    return st->applied_index;
}

/* ---- log-order events -------------------------------------------------- */

static void raise_paxos_safe(struct txn_safetime *st, tt_micros ts)
{
    if (ts > st->paxos_safe)
        st->paxos_safe = ts;
}

/* Every entry goes through here: the index moves, and a pending promise
 * whose slot is now applied takes effect. */
static void advance_index(struct txn_safetime *st, uint64_t index)
{
    SP_ASSERT(index > st->applied_index);
    st->applied_index = index;
    if (st->promise_pending && st->promise_index <= index) {
        raise_paxos_safe(st, st->promise_ts - 1);
        st->promise_pending = false;
    }
}

/* Invariant 1: a new version or prepare at ts must not land at or below a
 * timestamp some replica may already have served a read at. */
static void assert_above_safe(const struct txn_safetime *st, tt_micros ts)
{
    SP_ASSERT(ts >= 1);
    SP_ASSERT(ts > txn_safetime_get(st));
}

void txn_safetime_apply_commit(struct txn_safetime *st, uint64_t index, tt_micros ts)
{
    SP_ASSERT(st != NULL && index > st->applied_index);
    assert_above_safe(st, ts);
    raise_paxos_safe(st, ts);
    if (ts > st->last_ts)
        st->last_ts = ts;
    advance_index(st, index);
}

static uint32_t prepared_find(const struct txn_safetime *st, txn_id id)
{
    uint32_t i = 0;
    while (i < st->prepared_n && st->prepared[i].id != id)
        i++;
    return i;
}

static int prepared_insert(struct txn_safetime *st, txn_id id, tt_micros ts, struct sp_err *err)
{
    if (prepared_find(st, id) < st->prepared_n)
        return sp_err_set(err, SP_EINVAL, "txn %llu: already prepared", (unsigned long long) id);
    if (st->prepared_n == st->prepared_max)
        return sp_err_set(err, SP_EFULL, "txn %llu: prepared_max=%u prepared transactions",
                          (unsigned long long) id, st->prepared_max);
    uint32_t i = st->prepared_n;
    while (i > 0 && (st->prepared[i - 1].ts > ts ||
                     (st->prepared[i - 1].ts == ts && st->prepared[i - 1].id > id))) {
        st->prepared[i] = st->prepared[i - 1];
        i--;
    }
    st->prepared[i] = (struct prepared){id, ts};
    st->prepared_n++;
    return 0;
}

int txn_safetime_restore_prepared(struct txn_safetime *st, txn_id id, tt_micros prepare_ts,
                                  struct sp_err *err)
{
    SP_ASSERT(st != NULL && prepare_ts >= 1);
    /* No assertion against t_safe here: nothing has been served since the
     * restart, and a prepared transaction only lowers t_safe. */
    return prepared_insert(st, id, prepare_ts, err);
}

int txn_safetime_apply_prepare(struct txn_safetime *st, uint64_t index, txn_id id,
                               tt_micros prepare_ts, struct sp_err *err)
{
    SP_ASSERT(st != NULL && index > st->applied_index);
    assert_above_safe(st, prepare_ts);
    int rc = prepared_insert(st, id, prepare_ts, err);
    if (rc)
        return rc;
    /* The prepare record is itself a Paxos write at prepare_ts; t_TM_safe
     * keeps t_safe below it until the outcome is known. */
    raise_paxos_safe(st, prepare_ts);
    advance_index(st, index);
    SP_ASSERT(txn_safetime_get(st) < prepare_ts);
    return 0;
}

int txn_safetime_apply_outcome(struct txn_safetime *st, uint64_t index, txn_id id,
                               tt_micros commit_ts, struct sp_err *err)
{
    SP_ASSERT(st != NULL && commit_ts >= 0);
    SP_ASSERT(index > st->applied_index);
    uint32_t i = prepared_find(st, id);
    if (i == st->prepared_n)
        return sp_err_set(err, SP_ENOTFOUND, "txn %llu: outcome for a transaction not prepared",
                          (unsigned long long) id);
    if (commit_ts) {
        /* From §4.2.1: the commit timestamp is >= every prepare timestamp. */
        SP_ASSERT(commit_ts >= st->prepared[i].ts);
        assert_above_safe(st, commit_ts);
        raise_paxos_safe(st, commit_ts);
        if (commit_ts > st->last_ts)
            st->last_ts = commit_ts;
    }
    memmove(&st->prepared[i], &st->prepared[i + 1],
            (st->prepared_n - i - 1) * sizeof *st->prepared);
    st->prepared_n--;
    advance_index(st, index);
    return 0;
}

void txn_safetime_apply_other(struct txn_safetime *st, uint64_t index)
{
    SP_ASSERT(st != NULL);
    advance_index(st, index);
}

void txn_safetime_promise(struct txn_safetime *st, uint64_t index, tt_micros min_next_ts)
{
    SP_ASSERT(st != NULL && min_next_ts >= 1);
    if (index <= st->applied_index) {
        raise_paxos_safe(st, min_next_ts - 1);
        return;
    }
    /* Not applied through `index` yet. A newer promise subsumes an older
     * pending one only if its slot is not earlier; otherwise keep the one
     * that will take effect sooner. */
    if (!st->promise_pending || index >= st->promise_index) {
        st->promise_pending = true;
        st->promise_index = index;
        st->promise_ts = min_next_ts;
    }
}

/* ---- reads ------------------------------------------------------------- */

int txn_safetime_check_read(const struct txn_safetime *st, tt_micros t, struct sp_err *err)
{
    tt_micros safe = txn_safetime_get(st);
    if (t <= safe)
        return 0;
    return sp_err_set(err, SP_ETXN_NOT_SAFE,
                      "read at %lld is not yet safe at this replica: t_safe = %lld "
                      "(t_paxos_safe %lld, %u prepared)",
                      (long long) t, (long long) safe, (long long) st->paxos_safe, st->prepared_n);
}

tt_micros txn_safetime_strong_read_ts(const struct txn_safetime *st, struct tt_interval now)
{
    SP_ASSERT(st != NULL && now.earliest <= now.latest);
    return st->prepared_n == 0 ? st->last_ts : now.latest;
}

int txn_safetime_stale_read_ts(const struct txn_safetime *st, struct tt_interval now,
                               tt_micros staleness_us, tt_micros *out, struct sp_err *err)
{
    SP_ASSERT(st != NULL && out != NULL && staleness_us >= 0);
    tt_micros safe = txn_safetime_get(st);
    if (!txn_safetime_stale_ts(safe, now, staleness_us, out))
        return sp_err_set(err, SP_ETXN_NOT_SAFE,
                          "replica is %lld us behind now.latest; the staleness bound is %lld us",
                          (long long) (now.latest - safe), (long long) staleness_us);
    return 0;
}

bool txn_safetime_stale_ts(tt_micros safe, struct tt_interval now, tt_micros staleness_us,
                           tt_micros *out)
{
    SP_ASSERT(out != NULL && staleness_us >= 0);
    tt_micros oldest = now.latest - staleness_us;
    if (safe < oldest)
        return false;
    /* A promise can put t_safe ahead of the clock; a snapshot read stays at
     * a timestamp certainly passed (now.earliest), so a transaction that
     * starts after it ends gets a larger timestamp. */
    tt_micros past = now.earliest > oldest ? now.earliest : oldest;
    *out = safe < past ? safe : past;
    return true;
}

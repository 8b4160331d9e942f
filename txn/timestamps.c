/*
 * timestamps.c - how a group leader picks timestamps (Spanner §4.1.2,
 * §4.2.1, §4.2.4). Pure functions of what the leader knows right now.
 *
 * From Spanner §4.1.1: "Spanner depends on the following disjointness
 * invariant: for each Paxos group, each Paxos leader's lease interval is
 * disjoint from every other leader's." From §4.1.2: "Spanner depends on the
 * following monotonicity invariant: within each Paxos group, Spanner assigns
 * timestamps to Paxos writes in monotonically increasing order, even across
 * leaders. A
 * single leader replica can trivially assign timestamps in monotonically
 * increasing order. This invariant is enforced across leaders by making use
 * of the disjointness invariant: a leader must only assign timestamps within
 * the interval of its leader lease."
 *   "Start: The coordinator leader for a write T_i assigns a commit
 * timestamp s_i no less than the value of TT.now().latest, computed after
 * e_i^server. ... Commit Wait: The coordinator leader ensures that clients
 * cannot see any data committed by T_i until TT.after(s_i) is true."
 *
 * From Spanner §4.2.1: each participant leader "chooses a prepare timestamp
 * that must be larger than any timestamps it has assigned to previous
 * transactions (to preserve monotonicity)"; the coordinator's commit
 * timestamp "must be greater or equal to all prepare timestamps ..., greater
 * than TT.now().latest at the time the coordinator received its commit
 * message, and greater than any timestamps the leader has assigned to
 * previous transactions (again, to preserve monotonicity)."
 *
 * Rules, each asserted on every timestamp handed out:
 *   R1 monotonic:  out > last_assigned (the driver then records out, so the
 *                  next call sees it), and across leaders by R2 and lease
 *                  disjointness.
 *   R2 in lease:   lease_start <= out < lease_end, and now.latest < lease_end.
 *   R3 real time:  commit/prepare/promise >= now.latest; a coordinator
 *                  commit > now.latest at the commit's arrival.
 *   R4 2PC:        a coordinator commit >= every prepare timestamp.
 */
#include "txn.h"

#include "sp_assert.h"

#define PREPARES_MAX 4096u

static tt_micros max2(tt_micros a, tt_micros b)
{
    return a > b ? a : b;
}

/* R2: checks the lease and the chosen timestamp against it. */
static int in_lease(const struct txn_ts_bounds *b, tt_micros ts, const char *what,
                    struct sp_err *err)
{
    SP_ASSERT(b->now.earliest <= b->now.latest && b->lease_start <= b->lease_end);
    if (b->now.latest >= b->lease_end)
        return sp_err_set(err, SP_EPAXOS_NO_LEASE,
                          "%s: the lease ending at %lld may be over (now.latest %lld)", what,
                          (long long) b->lease_end, (long long) b->now.latest);
    if (ts >= b->lease_end)
        return sp_err_set(err, SP_EPAXOS_NO_LEASE,
                          "%s: timestamp %lld would fall outside the lease ending at %lld", what,
                          (long long) ts, (long long) b->lease_end);
    return 0;
}

/* The smallest timestamp obeying R1, R2's start and R3 against `latest`. */
static tt_micros floor_at(const struct txn_ts_bounds *b, tt_micros latest)
{
    SP_ASSERT(b->last_assigned >= 0 && b->last_assigned < TT_MICROS_MAX);
    return max2(max2(b->last_assigned + 1, latest), b->lease_start);
}

static tt_micros floor_ts(const struct txn_ts_bounds *b)
{
    return floor_at(b, b->now.latest);
}

/* R1 and R2 checked; R3 is the caller's. */
static int pick_in_lease(const struct txn_ts_bounds *b, tt_micros ts, const char *what,
                         tt_micros *out, struct sp_err *err)
{
    SP_ASSERT(out != NULL);
    int rc = in_lease(b, ts, what, err);
    if (rc)
        return rc;
    SP_ASSERT(ts > b->last_assigned);                     /* R1 */
    SP_ASSERT(ts >= b->lease_start && ts < b->lease_end); /* R2 */
    *out = ts;
    return 0;
}

static int pick(const struct txn_ts_bounds *b, tt_micros ts, const char *what, tt_micros *out,
                struct sp_err *err)
{
    int rc = pick_in_lease(b, ts, what, out, err);
    SP_ASSERT(rc != 0 || *out >= b->now.latest); /* R3 */
    return rc;
}

int txn_ts_commit(const struct txn_ts_bounds *b, tt_micros *out, struct sp_err *err)
{
    SP_ASSERT(b != NULL);
    return pick(b, floor_ts(b), "commit", out, err);
}

int txn_ts_prepare(const struct txn_ts_bounds *b, tt_micros *out, struct sp_err *err)
{
    SP_ASSERT(b != NULL);
    return pick(b, floor_ts(b), "prepare", out, err);
}

int txn_ts_min_next(const struct txn_ts_bounds *b, tt_micros *out, struct sp_err *err)
{
    SP_ASSERT(b != NULL);
    return pick(b, floor_ts(b), "MinNextTS", out, err);
}

/*
 * The real-time bound is the commit's arrival, not the decision: the votes
 * take a round of Paxos writes to come in, and s taken from the clock then
 * would add that time to the commit wait for nothing. External consistency
 * (§4.1.2) needs only s > TT.now().latest at the arrival: a transaction
 * whose commit wait ended before this commit arrived has a timestamp below
 * the true time then, hence below arrival.latest.
 *
 * The clock no longer bounds s from below, so last_assigned must cover
 * every timestamp that can precede this decision in the group's log: what
 * this leader assigned or promised (noted), what it proposed as a
 * participant's outcome (another group's s: txn__ts_bounds counts it), what
 * is applied (paxos_safe); and below lease_start, by lease disjointness,
 * whatever earlier leaders logged.
 */
int txn_ts_coordinator_commit(const struct txn_ts_bounds *b, tt_micros arrival_latest,
                              const tt_micros *prepare_ts, size_t prepare_n, tt_micros *out,
                              struct sp_err *err)
{
    SP_ASSERT(b != NULL && (prepare_ts != NULL || prepare_n == 0));
    SP_ASSERT(prepare_n <= PREPARES_MAX && arrival_latest >= 0);
    tt_micros s = floor_at(b, arrival_latest + 1);
    for (size_t i = 0; i < prepare_n; i++)
        s = max2(s, prepare_ts[i]);
    int rc = pick_in_lease(b, s, "coordinator commit", out, err);
    if (rc)
        return rc;
    SP_ASSERT(*out > arrival_latest); /* R3 */
    for (size_t i = 0; i < prepare_n; i++)
        SP_ASSERT(*out >= prepare_ts[i]); /* R4 */
    return 0;
}

bool txn_ts_commit_wait_over(struct tt_interval now, tt_micros s)
{
    SP_ASSERT(now.earliest <= now.latest);
    return tt_interval_after(now, s);
}

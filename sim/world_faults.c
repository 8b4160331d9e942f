/*
 * world_faults.c - the world's faults: the older chaos of crashes and
 * one-node partitions (params.crash_every_us), and the fault mask
 * (params.faults) and schedule (params.schedule): parsing, scheduling, and
 * the start and end of every kind (sim/README.md's table).
 */
#include "world_int.h"

#include <stdlib.h>
#include <string.h>

/* ---- the older chaos (params.crash_every_us) ------------------------------------------ */

void w__schedule_crash(struct w_world *w)
{
    if (w->p.crash_every_us > 0)
        w__push(w,
                w->now + w->p.crash_every_us / 2 +
                    (tt_micros) w__rnd_below(w, (uint64_t) w->p.crash_every_us),
                W_CRASH, UINT32_MAX, NULL, 0);
}

void w__on_crash_event(struct w_world *w)
{
    if (!w->chaos || w->now >= w->p.run_us)
        return;
    bool all_up = true;
    for (uint32_t i = 0; i < w->n; i++)
        all_up &= w->nodes[i].up;
    /* One fault at a time keeps every group a majority: a crash, or (if
     * partitions are on) one node cut off from all others. */
    if (all_up && (w->cut_a | w->cut_b) == 0) {
        uint32_t victim = (uint32_t) w__rnd_below(w, w->n);
        if (w->p.partitions && w__rnd_below(w, 2) == 0) {
            TRACE(w, "partition node %u away", victim + 1);
            w_world_partition(w, 1u << victim);
            w->stats.partitions++;
            w__push(w, w->now + w->p.down_us, W_HEAL, victim, NULL, 0);
        } else {
            w_world_crash(w, victim);
            w__push(w, w->now + w->p.down_us, W_RESTART, victim, NULL, 0);
        }
    }
    w__schedule_crash(w);
}

/* ---- faults (params.faults) ---------------------------------------------------- */

static const char *const fault_names[] = {"crash", "pause", "partition", "leader",
                                          "drop",  "dup",   "reorder",   "slow",
                                          "disk",  "clock", "clock-bad", "depose"};
#define FAULT_KINDS (sizeof fault_names / sizeof fault_names[0])
_Static_assert(FAULT_KINDS <= 16, "fault_at has a slot per fault kind");

int w_faults_parse(const char *s, uint32_t *out, char *bad, size_t bad_len)
{
    uint32_t m = 0;
    const char *p = s;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t) (e - p) : strlen(p);
        bool ok = false;
        if (n == 3 && strncmp(p, "all", 3) == 0) {
            m |= W_F_ALL;
            ok = true;
        } else if (n == 4 && strncmp(p, "none", 4) == 0) {
            ok = true;
        }
        for (size_t k = 0; k < FAULT_KINDS && !ok; k++)
            if (strlen(fault_names[k]) == n && strncmp(p, fault_names[k], n) == 0) {
                m |= 1u << k;
                ok = true;
            }
        if (!ok) {
            snprintf(bad, bad_len, "%.*s", (int) n, p);
            return -1;
        }
        p += n + (e != NULL);
    }
    *out = m;
    return 0;
}

int w_schedule_parse(const char *s, struct w_scheduled *out, uint32_t max, uint32_t *n, char *bad,
                     size_t bad_len)
{
    *n = 0;
    const char *p = s;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t) (e - p) : strlen(p);
        char item[96];
        snprintf(item, sizeof item, "%.*s", (int) len, p);
        snprintf(bad, bad_len, "%s", item);
        char *colon = strchr(item, ':');
        if (colon == NULL || *n >= max)
            return -1;
        *colon = '\0';
        char *unit;
        long long t = strtoll(item, &unit, 10);
        long long mul = strcmp(unit, "ms") == 0 ? 1000 : strcmp(unit, "s") == 0 ? 1000000
                        : strcmp(unit, "us") == 0                        ? 1
                                                                         : -1;
        if (unit == item || mul < 0 || t < 0)
            return -1;
        char *name = colon + 1, *node = strchr(name, ':');
        int nd = -1;
        if (node) {
            *node++ = '\0';
            char *end;
            long v = strtol(node, &end, 10);
            if (*end || end == node || v < 1 || v > 64)
                return -1;
            nd = (int) v;
        }
        uint32_t kind = 0;
        if (w_faults_parse(name, &kind, bad, bad_len) || kind == 0 || (kind & (kind - 1)) != 0) {
            snprintf(bad, bad_len, "%.*s", (int) len, p);
            return -1;
        }
        /* Nodes are 1-based on the command line; leader and depose name a group. */
        bool group = kind == W_F_LEADER || kind == W_F_DEPOSE;
        out[(*n)++] = (struct w_scheduled){t * mul, kind, group ? nd : nd - (nd > 0)};
        p += len + (e != NULL);
    }
    return 0;
}

const char *w_faults_format(uint32_t mask, char *buf, size_t len)
{
    size_t o = 0;
    buf[0] = '\0';
    for (size_t k = 0; k < FAULT_KINDS; k++)
        if (mask & (1u << k))
            o += (size_t) snprintf(buf + o, o < len ? len - o : 0, "%s%s", o ? "," : "",
                                   fault_names[k]);
    if (o == 0)
        snprintf(buf, len, "none");
    return buf;
}

#define STRUCTURAL (W_F_CRASH | W_F_PAUSE | W_F_PARTITION | W_F_LEADER | W_F_DEPOSE)

static tt_micros fault_length(struct w_world *w)
{
    return w->p.down_us / 2 + (tt_micros) w__rnd_below(w, (uint64_t) w->p.down_us + 1);
}

void w__schedule_fault(struct w_world *w)
{
    tt_micros gap = w->p.fault_every_us;
    w__push(w, w->now + gap / 2 + (tt_micros) w__rnd_below(w, (uint64_t) gap + 1), W_FAULT,
            UINT32_MAX, NULL, 0);
}

static void fault_end_at(struct w_world *w, uint32_t kind, uint32_t node, tt_micros len)
{
    w__push(w, w->now + len, W_FAULT_END, node, NULL, kind);
}

/* A random bipartition: a nonempty proper subset of the nodes. */
static uint32_t random_half(struct w_world *w)
{
    uint32_t all = (1u << w->n) - 1, m;
    do
        m = (uint32_t) w__rnd_below(w, all + 1);
    while (m == 0 || m == all);
    return m;
}

static void start_partition(struct w_world *w)
{
    uint32_t all = (1u << w->n) - 1;
    char detail[64];
    uint64_t shape = w__rnd_below(w, 4);
    if (shape == 0) { /* one node alone */
        uint32_t v = (uint32_t) w__rnd_below(w, w->n);
        w_world_partition(w, 1u << v);
        snprintf(detail, sizeof detail, "node %u alone", v + 1);
    } else if (shape == 1 || w->p.zones < 2) { /* two halves */
        w_world_partition(w, random_half(w));
        snprintf(detail, sizeof detail, "halves %#x|%#x", w->cut_a, w->cut_b);
    } else if (shape == 2) { /* one zone cut off */
        uint32_t z = (uint32_t) w__rnd_below(w, w->p.zones), m = 0;
        for (uint32_t i = 0; i < w->n; i++)
            if (w->nodes[i].zone == z)
                m |= 1u << i;
        w_world_partition(w, m);
        snprintf(detail, sizeof detail, "zone %u cut off", z);
    } else { /* a bridge: two sides that only one node connects */
        uint32_t bridge = (uint32_t) w__rnd_below(w, w->n);
        uint32_t a = random_half(w) & ~(1u << bridge);
        w->cut_a = a;
        w->cut_b = all & ~a & ~(1u << bridge);
        snprintf(detail, sizeof detail, "bridge node %u between %#x and %#x", bridge + 1, w->cut_a,
                 w->cut_b);
    }
    w->stats.partitions++;
    w__history_fault(w, "partition", -1, detail);
}

/*
 * A deposed leader: the leader of group g (a random one, or the schedule's)
 * loses every link to the other replicas of g, both ways, while clients
 * still reach it. Its peers' lease grants run out, they elect a successor,
 * and that one commits; the old leader hears of no higher ballot, so it
 * still believes it leads and keeps answering the clients whose leader
 * guess is stale. Only its lease (R5 in txn/reads.c) stops it from serving
 * a single-group strong read at its LastTS(), below the successor's
 * commits. The window lasts 3 leases and more: the peers' grants expire
 * within a lease, an election takes under another, and the successor's
 * commits and a stale client's read then have a lease or more to meet.
 * Returns the deposed node, or -1 when g has no leader now.
 */
static int start_depose(struct w_world *w, int group, tt_micros *len)
{
    txn_group_id g = (txn_group_id) (1 + w__rnd_below(w, w->p.groups));
    if (group >= 1 && (uint32_t) group <= w->p.groups)
        g = (txn_group_id) group;
    /* The leader holding the lease: an earlier deposed one may still
     * believe it leads too, until it hears of its successor. */
    uint32_t r[W_REPLICAS_MAX], peers = 0;
    uint32_t k = w_world_replicas(w, g, r);
    int l = -1;
    for (uint32_t j = 0; j < W_VOTERS && l < 0; j++)
        if (w->nodes[r[j]].up && txn_node_is_leader(w->nodes[r[j]].tn, g) &&
            txn_node_lease_left(w->nodes[r[j]].tn, g, w__node_now(w, r[j])) > 0)
            l = (int) r[j];
    if (l < 0)
        return -1;
    char names[32] = "";
    size_t o = 0;
    for (uint32_t j = 0; j < k; j++)
        if (r[j] != (uint32_t) l) {
            peers |= 1u << r[j];
            o += (size_t) snprintf(names + o, o < sizeof names ? sizeof names - o : 0, "%s%u",
                                   o ? "," : "", r[j] + 1);
        }
    SP_ASSERT(peers != 0 && (peers & (1u << l)) == 0);
    w->depose_a = 1u << l;
    w->depose_b = peers;
    w->depose_g = g;
    *len += 3 * w->p.lease_us;
    w->stats.deposed++;
    char detail[128];
    snprintf(detail, sizeof detail, "group %llu leader cut from nodes %s for %lld us",
             (unsigned long long) g, names, (long long) *len);
    w__history_fault(w, "depose", l + 1, detail);
    return l;
}

static void start_fault(struct w_world *w, uint32_t kind, int node);

void w__on_fault(struct w_world *w)
{
    if (!w->chaos || w->stopped || w->now >= w->p.run_us)
        return;
    w__schedule_fault(w);
    /* A deposed leader weighs three: it is the one fault that tests the
     * lease rule of strong reads (R5), and needs a long quiet window. */
    uint32_t kinds[FAULT_KINDS + 2], nk = 0;
    for (uint32_t k = 0; k < FAULT_KINDS; k++)
        for (uint32_t c = 0; c < ((1u << k) == W_F_DEPOSE ? 3u : 1u); c++)
            if (w->p.faults & (1u << k))
                kinds[nk++] = 1u << k;
    uint32_t kind = kinds[w__rnd_below(w, nk)];
    if (w->active & kind)
        return;
    /* One structural fault at a time, so most groups keep a majority most
     * of the time; network and clock windows overlap them. */
    if ((kind & STRUCTURAL) && (w->active & STRUCTURAL))
        return;
    start_fault(w, kind, -1);
}

/* A fault of the schedule (params.schedule): it starts whatever else is
 * going on, unless the same kind is still in progress. */
void w__on_scheduled_fault(struct w_world *w, uint64_t arg)
{
    uint32_t kind = (uint32_t) (arg & 0xffffffffu);
    int node = (int) (arg >> 32) - 1;
    if (!w->chaos || (w->active & kind)) {
        w__wlog(w, "scheduled fault %#x skipped: %s", kind,
                w->chaos ? "the same kind is in progress" : "settling");
        return;
    }
    start_fault(w, kind, node);
}

/* Starts fault `kind` at node (-1: a random one; leader: of a random group). */
static void start_fault(struct w_world *w, uint32_t kind, int node)
{
    uint32_t v = (uint32_t) w__rnd_below(w, w->n);
    if (node >= 0 && (uint32_t) node < w->n)
        v = (uint32_t) node;
    tt_micros len = fault_length(w);
    char detail[64];
    switch (kind) {
    case W_F_CRASH:
    case W_F_LEADER:
        if (kind == W_F_LEADER) {
            txn_group_id g = (txn_group_id) (1 + w__rnd_below(w, w->p.groups));
            int l = w_world_leader(w, node >= 1 && (uint32_t) node <= w->p.groups
                                          ? (txn_group_id) node /* the schedule names a group */
                                          : g);
            if (l < 0)
                return;
            v = (uint32_t) l;
            w->stats.leader_kills++;
        }
        w__history_fault(w, kind == W_F_LEADER ? "leader" : "crash", (int) v + 1, NULL);
        w_world_crash(w, v);
        break;
    case W_F_PAUSE:
        w->nodes[v].paused_until = w->now + len;
        w->stats.pauses++;
        w__history_fault(w, "pause", (int) v + 1, NULL);
        break;
    case W_F_PARTITION:
        start_partition(w);
        break;
    case W_F_DROP:
    case W_F_DUP:
    case W_F_REORDER:
        w->stats.net_faults++;
        w__history_fault(w, kind == W_F_DROP ? "drop" : kind == W_F_DUP ? "dup" : "reorder", -1,
                         NULL);
        break;
    case W_F_SLOW:
        w->slow_za = (uint32_t) w__rnd_below(w, w->p.zones ? w->p.zones : 1);
        w->slow_zb = (uint32_t) w__rnd_below(w, w->p.zones ? w->p.zones : 1);
        w->stats.net_faults++;
        snprintf(detail, sizeof detail, "zones %u-%u", w->slow_za, w->slow_zb);
        w__history_fault(w, "slow", -1, detail);
        break;
    case W_F_DISK:
        w->nodes[v].disk_slow = 20;
        w->stats.disk_faults++;
        w__history_fault(w, "disk-slow", (int) v + 1, NULL);
        break;
    case W_F_CLOCK: {
        /* A step and a wider reported eps; the offset stays inside it. */
        tt_micros eps = w->p.eps_us * (tt_micros) (2 + w__rnd_below(w, 3));
        w__clock_set(w, v, (tt_micros) w__rnd_below(w, (uint64_t) (2 * eps + 1)) - eps, eps);
        w->stats.clock_faults++;
        snprintf(detail, sizeof detail, "eps %lld offset %lld", (long long) eps,
                 (long long) w->nodes[v].offset_us);
        w__history_fault(w, "clock", (int) v + 1, detail);
        break;
    }
    case W_F_CLOCK_BAD: {
        /* The negative control: the clock is off by more than its eps. */
        tt_micros e = w->nodes[v].eps_us;
        tt_micros off = e * (tt_micros) (2 + w__rnd_below(w, 4)) * (w__rnd_below(w, 2) ? 1 : -1);
        w->nodes[v].clock_bad = true;
        w->clock_bad_ever = true;
        w__clock_set(w, v, off, e);
        w->stats.clock_bad++;
        snprintf(detail, sizeof detail, "offset %lld outside eps %lld", (long long) off,
                 (long long) e);
        w__history_fault(w, "clock-bad", (int) v + 1, detail);
        break;
    }
    case W_F_DEPOSE: {
        int l = start_depose(w, node, &len);
        if (l < 0)
            return;
        v = (uint32_t) l;
        break;
    }
    default:
        return;
    }
    w->active |= kind;
    w->fault_at[__builtin_ctz(kind)] = v;
    fault_end_at(w, kind, v, len);
}

void w__on_fault_end(struct w_world *w, uint32_t kind, uint32_t v)
{
    if (!(w->active & kind))
        return; /* healed already (settle) */
    w->active &= ~kind;
    switch (kind) {
    case W_F_CRASH:
    case W_F_LEADER:
        w_world_restart(w, v);
        break;
    case W_F_PAUSE:
        w__wlog(w, "resume node %u", v + 1);
        break;
    case W_F_PARTITION:
        w_world_heal(w);
        break;
    case W_F_DEPOSE: {
        /* Who believes it leads, as the cut heals: the old leader and,
         * once elected, its successor. */
        char who[64] = "";
        size_t o = 0;
        uint32_t r[W_REPLICAS_MAX];
        uint32_t k = w_world_replicas(w, w->depose_g, r);
        for (uint32_t j = 0; j < k && o < sizeof who; j++)
            if (w->nodes[r[j]].up && txn_node_is_leader(w->nodes[r[j]].tn, w->depose_g))
                o += (size_t) snprintf(who + o, sizeof who - o, " %u", r[j] + 1);
        w->depose_a = w->depose_b = 0;
        w__wlog(w, "node %u rejoins group %llu; leaders:%s", v + 1,
                (unsigned long long) w->depose_g, o ? who : " none");
        break;
    }
    case W_F_DISK:
        w->nodes[v].disk_slow = 1;
        w__wlog(w, "disk of node %u normal", v + 1);
        break;
    case W_F_CLOCK:
    case W_F_CLOCK_BAD: {
        tt_micros e = w->p.eps_us;
        w->nodes[v].clock_bad = false;
        w__clock_set(w, v, (tt_micros) w__rnd_below(w, (uint64_t) (2 * e + 1)) - e, e);
        w__wlog(w, "clock of node %u back inside eps", v + 1);
        break;
    }
    default:
        w__wlog(w, "end of fault %#x", kind);
        break;
    }
}

/* Ends every fault window now (settle). */
void w__faults_heal(struct w_world *w)
{
    for (uint32_t k = 0; k < FAULT_KINDS; k++) {
        uint32_t kind = 1u << k;
        if (kind != W_F_CRASH && kind != W_F_LEADER) /* settle restarts every node */
            w__on_fault_end(w, kind, w->fault_at[k]);
    }
    for (uint32_t i = 0; i < w->n; i++)
        w->nodes[i].paused_until = 0;
}

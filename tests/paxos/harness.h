/*
 * harness.h - a deterministic world for Paxos replicas: simulated network,
 * disk and clocks under one seed, with safety checkers run after every
 * event. The seed of the later simulator (sim/); nothing in it is specific
 * to one test.
 *
 * Model
 *   time     one virtual true time (microseconds). Each node's clock reads
 *            c = true + offset, the offset drifting at up to 200 ppm back
 *            and forth within [-eps, eps], and reports [c - eps, c + eps],
 *            which therefore always contains true time (params.bad_clocks
 *            lets the offset reach 4 eps: the bound is broken on purpose).
 *   network  per zone-pair latency plus jitter (so messages reorder), drop
 *            and duplicate probabilities, partitions: a node set cut off from
 *            the rest, or single links cut (partial, non-transitive).
 *   disk     every update's batch completes after a latency, in order; then
 *            its messages leave (persist before send) and the replica gets
 *            PAXOS_EV_PERSISTED. A crash loses queued batches and a random
 *            suffix of completed-but-unsynced ones (SQLite test6 style), and
 *            the replica restarts from what is durable.
 *   app      applies committed entries; takes a durable snapshot every few
 *            entries (so the log is truncated and catch-up by snapshot runs).
 *
 * Checkers (after every event; the first violation stops the world):
 *   chosen    at most one value per slot ever reaches a majority of durable
 *             accepts (and one value per (slot, ballot));
 *   commit    every committed entry equals the chosen value; every replica
 *             applies a gap-free sequence, so all sequences are prefixes of
 *             one another;
 *   lease     lease intervals (in true time) of different leader ballots
 *             never overlap; timestamps that successive leaders assign
 *             inside their leases increase (abdication waits for s_max);
 *   liveness  h_run: after the faults heal, a leader is elected and fresh
 *             proposals commit everywhere within params.heal_us.
 *
 * Reproduce a failure: the message names the seed; run the test binary
 * with PAXOS_SEED=<seed> (and PAXOS_VERBOSE=1 for a trace).
 */
#ifndef PAXOS_HARNESS_H
#define PAXOS_HARNESS_H

#include "paxos.h"

#include <stdbool.h>
#include <stdint.h>

#define H_NODES_MAX 7

struct h_params {
    uint64_t seed;
    uint32_t voters;    /* 3 or 5 */
    uint32_t read_only; /* extra read-only replicas */
    uint32_t spares;    /* nodes outside the bootstrap config; changes add them */
    tt_micros lease_us, heartbeat_us, election_timeout_us;
    tt_micros eps_max_us;     /* each node's eps in [eps/4, eps] */
    tt_micros chaos_us;       /* faults are injected in [0, chaos_us) */
    tt_micros heal_us;        /* liveness deadline after the heal */
    uint32_t drop_pct;        /* message loss during chaos, percent */
    uint32_t dup_pct;         /* message duplication during chaos, percent */
    tt_micros fault_every_us; /* mean gap between faults (crash/partition) */
    tt_micros propose_every_us;
    uint32_t snapshot_every; /* app snapshot every N applied entries */
    uint32_t test_flags;     /* passed to every replica (negative controls) */
    bool membership;         /* change the membership during the chaos */
    uint32_t change_pct;     /* chance per client round of a burst of changes */
    bool bad_clocks;         /* negative control: offsets up to 4x the eps reported */
    bool verbose;
};

/* Defaults sized so one seed takes a few milliseconds. */
void h_params_init(struct h_params *p, uint64_t seed);

struct h_result {
    bool ok;
    char what[256]; /* the violation, if !ok */
    uint64_t events;
    uint64_t committed; /* slots chosen */
    uint32_t leaders;   /* distinct leader ballots that held a lease */
    tt_micros end_us;   /* virtual time at the end */
    /* Coverage: how often each fault and recovery path ran. */
    uint32_t crashes, partitions, snapshots_installed, abdications, changes;
    uint64_t msgs_sent, msgs_dropped, msgs_duplicated;
    tt_micros recover_us; /* heal to all markers applied everywhere */
};

/* Runs one seed: chaos, heal, liveness. Returns 0 or SP_ESIM_VIOLATION. */
int h_run(const struct h_params *p, struct h_result *res);

/* ---- the world, for tests that script their own faults ---------------- */

struct h_world;

struct h_world *h_world_create(const struct h_params *p);
void h_world_destroy(struct h_world *w);
/* Processes events up to virtual time t. Returns 0 or SP_ESIM_VIOLATION. */
int h_world_run_until(struct h_world *w, tt_micros t);
tt_micros h_world_now(const struct h_world *w);
const char *h_world_violation(const struct h_world *w);
void h_world_crash(struct h_world *w, uint32_t node);
void h_world_restart(struct h_world *w, uint32_t node);
/* Cuts every link between nodes in set a and nodes outside it (bitmask);
 * cuts add up until h_world_heal. */
void h_world_partition(struct h_world *w, uint32_t a);
/* Cuts the link between nodes a and b both ways (a partial partition). */
void h_world_cut_link(struct h_world *w, uint32_t a, uint32_t b);
void h_world_heal(struct h_world *w);
/* Proposes payload at whichever up node is leader; false if none. */
bool h_world_propose(struct h_world *w, const void *data, uint32_t len);
/* Index of an up node that is leader with a valid lease, or -1. */
int h_world_leader(struct h_world *w);
/* Highest slot every up node has applied. */
paxos_slot h_world_min_applied(const struct h_world *w);

#endif /* PAXOS_HARNESS_H */

/*
 * cluster_fx.h - a local cluster for the multi-process tests: `spanner
 * cluster up --foreground` in a fresh directory under /tmp, and where the
 * nodes say each group's leader is.
 */
#ifndef CLUSTER_FX_H
#define CLUSTER_FX_H

#include "client_int.h"

#include <sys/types.h>

struct cluster_fx {
    char dir[64], conf[96];
    pid_t super; /* the `cluster up` supervisor; stopping it stops its nodes */
};

/* Starts 3 zones (one node each) with `groups` groups, lease 1 s, no
 * emulated latency, and waits for cluster.conf. 0 or -1. */
int cluster_fx_up(struct cluster_fx *f, const char *spanner_bin, int groups);

/* Stops the supervisor (and the nodes it started) and removes the
 * directory. 0 or -1. */
int cluster_fx_down(struct cluster_fx *f);

/* The node leading group gidx, as the nodes report it; 0 if none. */
uint32_t cluster_fx_leader_of(struct sp_client *c, uint32_t gidx);

#endif

/*
 * local_cluster.h - a cluster on loopback for `spanner cluster up/down`.
 * Private to spanner/.
 */
#ifndef SP_LOCAL_CLUSTER_H
#define SP_LOCAL_CLUSTER_H

#include "sp_error.h"

#include <stdbool.h>

struct sp_local_opts {
    const char *dir;      /* cluster directory: config, data, logs, pids */
    const char *spannerd; /* path of the spannerd binary */
    int zones;            /* 1..5: us, eu, asia, sa, au */
    int nodes_per_zone;
    int groups;           /* key ranges split evenly */
    const char *latency;  /* none | regional | global | global-full | ZONE-ZONE=MS,... */
    int lease_ms;
    int fixed_eps_us;  /* > 0: TrueTime backend fixed at this eps instead of chrony */
    bool foreground; /* supervise in this process (tests): dies with its parent */
};

/* Writes DIR/cluster.conf and starts the detached supervisor (chronyd pair,
 * then the nodes). Returns once the nodes are started: 0, SP_EINVAL (bad
 * options, or a cluster already runs in dir), SP_EIO, SP_ETIMEDOUT.
 * With o->foreground the calling process becomes the supervisor and this
 * returns only when it is told to stop (exit status 0). */
int sp_local_up(const struct sp_local_opts *o, struct sp_err *err);

/* Stops what sp_local_up started in dir. 0 or SP_ENOTFOUND. */
int sp_local_down(const char *dir, struct sp_err *err);

#endif

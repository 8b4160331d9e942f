/*
 * cluster_fx.c - see cluster_fx.h.
 */
#include "cluster_fx.h"

#include "procs.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int cluster_fx_up(struct cluster_fx *f, const char *spanner_bin, int groups)
{
    snprintf(f->dir, sizeof f->dir, "/tmp/cluster-test-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    char log[128], ngroups[16];
    snprintf(log, sizeof log, "%s/up.log", f->dir);
    snprintf(f->conf, sizeof f->conf, "%s/cluster.conf", f->dir);
    snprintf(ngroups, sizeof ngroups, "%d", groups);
    char *argv[] = {(char *) spanner_bin, "cluster", "up",        "--foreground", "--dir",
                    f->dir,               "--zones", "3",         "--groups",     ngroups,
                    "--lease-ms",         "1000",    "--latency", "none",         NULL};
    f->super = sp_proc_spawn(argv, log);
    for (int i = 0; i < 300 && access(f->conf, R_OK) != 0; i++)
        usleep(100000);
    return f->super > 0 && access(f->conf, R_OK) == 0 ? 0 : -1;
}

int cluster_fx_down(struct cluster_fx *f)
{
    sp_proc_stop(f->super, SIGTERM, 20000);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    return system(cmd) == 0 ? 0 : -1;
}

uint32_t cluster_fx_leader_of(struct sp_client *c, uint32_t gidx)
{
    const struct sp_cluster_conf *conf = sp__client_conf(c);
    uint32_t leader = 0;
    for (uint32_t i = 0; i < conf->n_nodes; i++) {
        Spanner__Txn__StatusReply *st;
        if (sp__client_status(c, i, &st, NULL) != 0)
            continue;
        for (size_t g = 0; g < st->n_groups; g++)
            if (st->groups[g]->group == conf->groups[gidx].id && st->groups[g]->is_leader)
                leader = st->node;
        spanner__txn__status_reply__free_unpacked(st, NULL);
    }
    return leader;
}

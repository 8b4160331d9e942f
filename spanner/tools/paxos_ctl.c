/*
 * paxos-ctl - talk to paxos-node processes.
 *
 *   paxos-ctl --endpoints 1=H:P,2=H:P,... status
 *   paxos-ctl --endpoints ... propose [--group G] [--count N] [--size B]
 *   paxos-ctl --endpoints ... read --node ID [--group G]
 */
#include "plog_client.h"
#include "sp_log.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f, "usage: paxos-ctl --endpoints ID=HOST:PORT,... status\n"
               "       paxos-ctl --endpoints ... propose [--group G] [--count N] [--size B]\n"
               "       paxos-ctl --endpoints ... read --node ID [--group G]\n");
}

static int cmd_status(struct plog_client *c)
{
    printf("%-5s %-6s %-7s %-6s %-9s %-9s %-9s %-12s %s\n", "node", "group", "leader", "self",
           "commit", "applied", "last", "lease_ms", "clock");
    for (uint32_t i = 0; i < c->n; i++) {
        Spanner__Paxoslog__StatusReply *st;
        struct sp_err err = {0};
        if (plog_status(c, i, &st, &err) != 0) {
            printf("%-5u unreachable: %s\n", c->ids[i], err.msg);
            continue;
        }
        for (size_t g = 0; g < st->n_groups; g++) {
            Spanner__Paxoslog__GroupStatus *gs = st->groups[g];
            printf("%-5u %-6llu %-7u %-6s %-9llu %-9llu %-9llu %-12.1f %s eps=%lldus\n", st->node,
                   (unsigned long long) gs->group, gs->leader, gs->is_leader ? "LEADER" : "-",
                   (unsigned long long) gs->commit, (unsigned long long) gs->applied,
                   (unsigned long long) gs->last, gs->lease_remaining_us / 1000.0,
                   st->clock_status, (long long) st->eps_us);
        }
        spanner__paxoslog__status_reply__free_unpacked(st, NULL);
    }
    return 0;
}

static int cmd_propose(struct plog_client *c, uint64_t group, long count, size_t size)
{
    char *buf = malloc(size);
    int failed = 0;
    for (long i = 0; i < count; i++) {
        memset(buf, 'a' + (int) (i % 26), size);
        snprintf(buf, size, "p%ld", i);
        uint64_t slot;
        struct sp_err err = {0};
        int rc = plog_propose(c, group, buf, size, 5000, &slot, &err);
        if (rc) {
            printf("{\"ok\":false,\"error\":\"%s\"}\n", err.msg);
            failed++;
        } else {
            printf("{\"ok\":true,\"slot\":%llu}\n", (unsigned long long) slot);
        }
    }
    free(buf);
    return failed ? 1 : 0;
}

static void print_entry(void *ctx, uint64_t slot, uint32_t index, const uint8_t *data, size_t len)
{
    (void) ctx;
    printf("%llu.%u %.*s\n", (unsigned long long) slot, index, len > 8 ? (int) (len - 8) : 0,
           len > 8 ? (const char *) data + 8 : "");
}

int main(int argc, char **argv)
{
    const char *endpoints = NULL;
    uint64_t group = 1;
    long count = 1, size = 16;
    uint32_t node = 0;
    static const struct option opts[] = {{"endpoints", 1, 0, 'e'}, {"group", 1, 0, 'g'},
                                         {"count", 1, 0, 'c'},     {"size", 1, 0, 's'},
                                         {"node", 1, 0, 'n'},      {"help", 0, 0, 'h'},
                                         {0, 0, 0, 0}};
    for (int o; (o = getopt_long(argc, argv, "", opts, NULL)) != -1;) {
        switch (o) {
        case 'e': endpoints = optarg; break;
        case 'g': group = strtoull(optarg, NULL, 10); break;
        case 'c': count = atol(optarg); break;
        case 's': size = atol(optarg); break;
        case 'n': node = (uint32_t) atol(optarg); break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!endpoints || optind != argc - 1 || count < 0 || size < 1 || size > (1 << 24)) {
        usage(stderr);
        return 2;
    }
    struct plog_client c;
    struct sp_err err = {0};
    if (plog_open(endpoints, &c, &err) != 0) {
        fprintf(stderr, "paxos-ctl: %s\n", err.msg);
        return 2;
    }
    int rc = 2;
    const char *cmd = argv[optind];
    if (strcmp(cmd, "status") == 0)
        rc = cmd_status(&c);
    else if (strcmp(cmd, "propose") == 0)
        rc = cmd_propose(&c, group, count, (size_t) size);
    else if (strcmp(cmd, "read") == 0) {
        uint32_t i = 0;
        while (i < c.n && c.ids[i] != node)
            i++;
        if (i == c.n)
            fprintf(stderr, "paxos-ctl: read: --node must name one of the endpoints\n");
        else if ((rc = plog_read(&c, i, group, print_entry, NULL, &err)) != 0)
            fprintf(stderr, "paxos-ctl: %s\n", err.msg);
    } else {
        fprintf(stderr, "paxos-ctl: unknown command \"%s\"\n", cmd);
    }
    plog_close(&c);
    return rc;
}

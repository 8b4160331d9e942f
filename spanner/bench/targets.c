/*
 * targets.c - the list of spanner-bench targets. A new target is one
 * table in its own file plus one line here and one in CMakeLists.txt;
 * targets whose dependencies are absent at configure time stay listed, with
 * the reason, so the tool can say why it cannot run them.
 */
#include "bench.h"

#include <string.h>

extern const struct sp_bench_target sp_bench__target_echo;
extern const struct sp_bench_target sp_bench__target_paxos_log;
#ifdef SP_BENCH_HAVE_ETCD
extern const struct sp_bench_target sp_bench__target_etcd;
#define ETCD_TARGET (&sp_bench__target_etcd)
#else
#define ETCD_TARGET NULL
#endif
#ifdef SP_BENCH_HAVE_SPANNER
extern const struct sp_bench_target sp_bench__target_spanner;
#define SPANNER_TARGET (&sp_bench__target_spanner)
#else
#define SPANNER_TARGET NULL
#endif

static const struct {
    const char *name;
    const char *about; /* when not built */
    const struct sp_bench_target *target;
    const char *not_built;
} targets[] = {
    {"paxos-log", NULL, &sp_bench__target_paxos_log, NULL},
    {"etcd", "etcd v3 over its gRPC API", ETCD_TARGET,
     "etcd target not built (golang-etcd-server-dev was not installed when the build was "
     "configured; scripts/bench-vs-etcd installs it)"},
    {"spanner", "the transactional store (spannerd via libspanner)", SPANNER_TARGET,
     "spanner target not built (libspanner, target spanner_client, is not part of this build)"},
    {"echo", NULL, &sp_bench__target_echo, NULL},
};

const struct sp_bench_target *sp_bench_target_find(const char *name, const char **not_built)
{
    for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++)
        if (strcmp(targets[i].name, name) == 0) {
            if (!targets[i].target && not_built)
                *not_built = targets[i].not_built;
            return targets[i].target;
        }
    if (not_built)
        *not_built = NULL;
    return NULL;
}

void sp_bench_targets_list(void (*fn)(void *ctx, const char *name, const char *about, int built),
                           void *ctx)
{
    for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++) {
        const struct sp_bench_target *t = targets[i].target;
        fn(ctx, targets[i].name, t ? t->about : targets[i].about, t != NULL);
    }
}

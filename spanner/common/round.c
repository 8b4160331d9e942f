/*
 * round.c - see round.h.
 */
#include "round.h"
#include "sp_assert.h"
#include "sp_log.h"

#include <rocksdb/c.h>
#include <stdlib.h>
#include <string.h>

int sp_round_init(struct sp_round *r, uint32_t max)
{
    SP_ASSERT(r != NULL && max > 0);
    memset(r, 0, sizeof *r);
    r->max = max;
    r->wb = rocksdb_writebatch_create();
    r->msgs = calloc(max, sizeof *r->msgs);
    r->done = calloc(max, sizeof *r->done);
    r->scratch = calloc(max, sizeof *r->scratch);
    return r->wb && r->msgs && r->done && r->scratch ? 0 : SP_ENOMEM;
}

void sp_round_destroy(struct sp_round *r)
{
    for (uint32_t i = 0; r->msgs && i < r->n_msgs; i++)
        free(r->msgs[i].data);
    free(r->msgs);
    free(r->done);
    free(r->scratch);
    if (r->wb)
        rocksdb_writebatch_destroy(r->wb);
    memset(r, 0, sizeof *r);
}

void sp_round_persist(struct sp_round *r, uint64_t group, const struct paxos_update *pu)
{
    paxos_store_batch_add(r->wb, group, pu);
    if (pu->persist_seq == 0)
        return;
    r->truncates |= pu->truncate_through > 0;
    SP_ASSERT(r->n_done < r->max);
    r->dirty = true;
    r->sync |= pu->sync;
    r->done[r->n_done++] = (struct sp_round_done){group, pu->persist_seq};
}

bool sp_round_msg(struct sp_round *r, uint32_t to, uint8_t *data, size_t len)
{
    if (r->n_msgs == r->max) {
        SP_WARN("round: outbox full, dropping a message (Paxos and 2PC resend)");
        free(data);
        return false;
    }
    r->msgs[r->n_msgs++] = (struct sp_round_msg){to, len, data};
    return true;
}

void sp_round_flush(struct sp_round *r, struct paxos_store *store, const struct sp_round_ops *ops,
                    void *ctx)
{
    SP_ASSERT(r != NULL && ops != NULL && ops->send != NULL && ops->persisted != NULL);
    for (int round = 0; round < 64; round++) {
        bool more = ops->pending && ops->pending(ctx);
        if (!r->n_msgs && !r->n_done && !more)
            return;
        int status = 0;
        struct sp_err err = {0};
        if (r->dirty) {
            /* The application's state first: the log below it is going. */
            if (r->truncates && ops->before_truncate)
                status = ops->before_truncate(ctx);
            if (status == 0) {
                status = paxos_store_write(store, r->wb, r->sync, &err);
                if (status)
                    SP_ERROR("round: %s", err.msg);
            }
            rocksdb_writebatch_clear(r->wb);
        }
        for (uint32_t i = 0; i < r->n_msgs; i++) {
            if (status == 0) /* persist before send */
                ops->send(ctx, r->msgs[i].to, r->msgs[i].data, r->msgs[i].len);
            free(r->msgs[i].data);
        }
        r->n_msgs = 0;
        if (ops->written)
            ops->written(ctx, status);
        uint32_t nd = r->n_done;
        memcpy(r->scratch, r->done, nd * sizeof r->done[0]);
        r->n_done = 0;
        r->dirty = r->sync = r->truncates = false;
        for (uint32_t i = 0; i < nd; i++)
            ops->persisted(ctx, r->scratch[i].group, r->scratch[i].seq, status);
    }
}

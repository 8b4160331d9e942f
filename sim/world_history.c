/*
 * world_history.c - the world's history in sim/README.md's JSON-lines
 * format (operations and fault lines), the unknown outcomes that wait for a
 * late reply, and the in-world checks (w_world_check).
 */
#include "world_int.h"

/* ---- the history (sim/README.md's format) ------------------------------------------ */

static void json_list(FILE *f, const char *s)
{
    fputc('[', f);
    if (s != NULL)
        fputs(s, f); /* "1,5,9": decimal elements, comma-separated */
    fputc(']', f);
}

void w__history_write(struct w_world *w, struct w_op *op)
{
    FILE *f = w->p.history;
    if (f == NULL || op->logged)
        return;
    if (op->status == SP_ETXN_UNKNOWN && !op->deferred && !w->history_final) {
        /* The client gave up on the commit; its reply may still come. */
        op->deferred = true;
        SP_ASSERT(w->deferred_n < W_DEFERRED_MAX);
        w->deferred[w->deferred_n++] = (uint32_t) (op - w->ops);
        return;
    }
    op->logged = true;
    if (op->status == SP_ETXN_UNKNOWN && op->late_abort)
        op->status = SP_ETXN_ABORTED; /* the coordinator said so, after the client left */
    bool rw = op->kind == OP_TRANSFER;
    if (!rw && op->status != 0)
        return; /* a failed read-only transaction had no effect and saw nothing */
    const char *outcome = op->status == 0                 ? "ok"
                          : op->status == SP_ETXN_UNKNOWN ? "unknown"
                                                          : "aborted";
    fprintf(f, "{\"id\":%u,\"client\":%u,\"zone\":%u,\"mode\":\"%s\",", (unsigned) (op - w->ops),
            op->client, w->clients[op->client].zone, rw ? "rw" : "ro");
    if (op->snapshot)
        fputs("\"snapshot\":true,", f);
    if (op->single)
        fputs("\"single_group\":true,", f);
    fprintf(f, "\"invoke_us\":%lld,\"complete_us\":%lld,", (long long) op->invoke,
            (long long) op->complete);
    if (op->status == 0)
        fprintf(f, "\"ts\":%lld,", (long long) op->ts);
    else if (op->status == SP_ETXN_UNKNOWN && op->late_ts > 0)
        fprintf(f, "\"ts\":%lld,", (long long) op->late_ts); /* the simulator knows it */
    if (op->late_ts > 0 || op->late_abort)
        fputs("\"late_reply\":true,", f);
    fputs("\"ops\":[", f);
    bool first = true;
    char name[16];
    /* Reads first (the read phase), then the writes; reads only when the
     * transaction committed (an aborted one's reads promise nothing). */
    for (uint32_t k = 0; k < op->n_items && op->status == 0; k++) {
        const struct w_item *it = &op->items[k];
        if (!(it->f & (IT_READ | IT_TRANSFER)))
            continue;
        w__key_name(w, it->key, name);
        fprintf(f, "%s{\"f\":\"r\",\"key\":\"%s\",\"value\":", first ? "" : ",", name);
        if (w->p.workload == W_LIST_APPEND)
            json_list(f, it->read);
        else if (it->read)
            fprintf(f, "\"%s\"", it->read);
        else
            fputs("null", f);
        fputc('}', f);
        first = false;
    }
    for (uint32_t k = 0; k < op->n_items && rw; k++) {
        const struct w_item *it = &op->items[k];
        if (!(it->f & (IT_WRITE | IT_APPEND | IT_TRANSFER)) || it->wrote == NULL)
            continue;
        w__key_name(w, it->key, name);
        if (it->f & IT_APPEND)
            fprintf(f, "%s{\"f\":\"append\",\"key\":\"%s\",\"value\":%llu}", first ? "" : ",",
                    name, (unsigned long long) it->element);
        else
            fprintf(f, "%s{\"f\":\"w\",\"key\":\"%s\",\"value\":\"%s\"}", first ? "" : ",", name,
                    it->wrote);
        first = false;
    }
    fprintf(f, "],\"outcome\":\"%s\"}\n", outcome);
}

/* A reply to a commit whose client already gave up (timed out: outcome
 * unknown) still tells what happened: the history line gets it. */
void w__late_reply(struct w_world *w, const struct txn_reply *r)
{
    for (uint32_t k = 0; k < w->deferred_n; k++) {
        struct w_op *op = &w->ops[w->deferred[k]];
        if (op->commit_req != r->req_id || op->logged)
            continue;
        if (r->status == 0 && r->ts > 0)
            op->late_ts = r->ts;
        else if (r->status == SP_ETXN_ABORTED || r->status == SP_ETXN_WOUNDED)
            op->late_abort = true;
        return;
    }
}

void w_world_flush_history(struct w_world *w)
{
    w->history_final = true;
    for (uint32_t i = 0; i < w->ops_n; i++) {
        struct w_op *op = &w->ops[i];
        if (op->logged)
            continue;
        if (!op->done) {
            op->complete = w->now;
            op->status = SP_ETXN_UNKNOWN;
        }
        w__history_write(w, op);
    }
}

/* A fault, in the history: a line the checker counts and skips. */
void w__history_fault(struct w_world *w, const char *what, int node, const char *detail)
{
    w__wlog(w, "fault %s node %d %s", what, node, detail ? detail : "");
    if (w->p.history == NULL)
        return;
    fprintf(w->p.history, "{\"fault\":\"%s\",\"at_us\":%lld", what, (long long) w->now);
    if (node >= 0)
        fprintf(w->p.history, ",\"node\":%d", node);
    if (detail)
        fprintf(w->p.history, ",\"detail\":\"%s\"", detail);
    fputs("}\n", w->p.history);
}

/* ---- checkers ------------------------------------------------------------------------- */

static bool op_writes(const struct w_op *t, uint32_t key)
{
    for (uint32_t k = 0; k < t->n_items; k++)
        if (t->items[k].key == key && (t->items[k].f & (IT_WRITE | IT_APPEND | IT_TRANSFER)))
            return true;
    return false;
}

/* External consistency and snapshot checks over the whole history. */
int w_world_check(struct w_world *w)
{
    for (uint32_t i = 0; i < w->ops_n && !w->violation[0]; i++) {
        const struct w_op *t1 = &w->ops[i];
        if (!t1->done || t1->status != 0 || t1->kind != OP_TRANSFER)
            continue;
        for (uint32_t j = 0; j < w->ops_n && !w->violation[0]; j++) {
            const struct w_op *t2 = &w->ops[j];
            if (!t2->done || t2->status != 0 || t1->complete >= t2->invoke)
                continue;
            bool stale = t2->kind == OP_READ && t2->snapshot;
            if (t2->kind == OP_TRANSFER && t1->ts >= t2->ts)
                w__violate(w,
                           "external consistency: txn op %u (ts %lld) replied at %lld before op "
                           "%u started at %lld, yet got ts %lld",
                           i, (long long) t1->ts, (long long) t1->complete, j,
                           (long long) t2->invoke, (long long) t2->ts);
            if (t2->kind == OP_READ && !stale && t1->ts > t2->ts)
                w__violate(w,
                           "read-only op %u at s_read %lld started at %lld, after the commit of "
                           "op %u at ts %lld was acknowledged (at %lld): it misses that write",
                           j, (long long) t2->ts, (long long) t2->invoke, i, (long long) t1->ts,
                           (long long) t1->complete);
        }
    }
    /* Snapshot: a read at t of version v misses no acknowledged write in (v, t]. */
    for (uint32_t i = 0; i < w->ops_n && !w->violation[0]; i++) {
        const struct w_op *r = &w->ops[i];
        if (r->kind != OP_READ || !r->done || r->status != 0)
            continue;
        for (uint32_t j = 0; j < w->ops_n; j++) {
            const struct w_op *t = &w->ops[j];
            if (t->kind != OP_TRANSFER || !t->done || t->status != 0)
                continue;
            for (uint32_t k = 0; k < r->n_items; k++) {
                const struct w_item *it = &r->items[k];
                if (op_writes(t, it->key) && t->ts > it->ver && t->ts <= r->ts)
                    w__violate(w,
                               "read op %u at %lld returned key %u at version %lld, but op %u "
                               "committed it at %lld",
                               i, (long long) r->ts, it->key, (long long) it->ver, j,
                               (long long) t->ts);
            }
        }
    }
    return w->violation[0] ? SP_ESIM_VIOLATION : 0;
}

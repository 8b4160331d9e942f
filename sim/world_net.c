/*
 * world_net.c - the world's network: per zone-pair latency plus jitter (so
 * messages reorder), cut links (partitions and deposed leaders), loss and
 * duplication between nodes; a node's durable batch leaving as messages
 * and client replies; delivery of messages and client requests to nodes;
 * and the deep copies every message, request and reply travels as.
 */
#include "world_int.h"

#include <stdlib.h>
#include <string.h>

/* ---- network ------------------------------------------------------------------------- */

tt_micros w__latency(struct w_world *w, uint32_t za, uint32_t zb)
{
    tt_micros base = za == zb ? w->p.lat_zone_us : w->pair_us[za][zb];
    tt_micros jitter = w->p.jitter_us * ((w->active & W_F_REORDER) ? 10 : 1);
    if ((w->active & W_F_SLOW) &&
        ((za == w->slow_za && zb == w->slow_zb) || (za == w->slow_zb && zb == w->slow_za)))
        base *= 10;
    return base + (tt_micros) w__rnd_below(w, (uint64_t) jitter + 1);
}

static bool cut_between(const struct w_world *w, uint32_t a, uint32_t b)
{
    uint32_t ma = 1u << a, mb = 1u << b;
    return ((w->cut_a & ma) && (w->cut_b & mb)) || ((w->cut_a & mb) && (w->cut_b & ma)) ||
           ((w->depose_a & ma) && (w->depose_b & mb)) || ((w->depose_a & mb) && (w->depose_b & ma));
}

/* ---- deep copies ---------------------------------------------------------------- */

struct paxos_entry *w__copy_entries(const struct paxos_entry *e, uint32_t n)
{
    if (n == 0)
        return NULL;
    struct paxos_entry *c = w__xdup(e, sizeof *e * n);
    for (uint32_t i = 0; i < n; i++)
        c[i].data = w__xdup(e[i].data, e[i].len);
    return c;
}

void w__free_entries(struct paxos_entry *e, uint32_t n)
{
    for (uint32_t i = 0; e && i < n; i++)
        free((void *) e[i].data);
    free(e);
}

struct txn_node_msg *w__copy_msg(const struct txn_node_msg *m)
{
    struct txn_node_msg *c = w__xdup(m, sizeof *m);
    if (m->is_paxos)
        c->paxos.entries = w__copy_entries(m->paxos.entries, m->paxos.n_entries);
    return c;
}

void w__free_msg(struct txn_node_msg *m)
{
    if (m->is_paxos)
        w__free_entries((struct paxos_entry *) m->paxos.entries, m->paxos.n_entries);
    free(m);
}

struct txn_reply *w__copy_reply(const struct txn_reply *r)
{
    struct txn_reply *c = w__xdup(r, sizeof *r);
    struct txn_value *v = r->values_n ? w__xdup(r->values, sizeof *v * r->values_n) : NULL;
    for (uint32_t i = 0; i < r->values_n; i++)
        v[i].value = w__xdup(r->values[i].value, r->values[i].value_len);
    c->values = v;
    return c;
}

void w__free_reply(struct txn_reply *r)
{
    for (uint32_t i = 0; i < r->values_n; i++)
        free((void *) r->values[i].value);
    free((void *) r->values);
    free(r);
}

/* A request and everything it points to, in one allocation. */
struct txn_request *w__copy_request(const struct txn_request *q)
{
    size_t bytes = sizeof *q + sizeof(struct txn_key) * q->keys_n +
                   sizeof(struct txn_write) * q->writes_n +
                   sizeof(txn_group_id) * q->participants_n;
    for (uint32_t i = 0; i < q->keys_n; i++)
        bytes += q->keys[i].key_len;
    for (uint32_t i = 0; i < q->writes_n; i++)
        bytes += q->writes[i].key_len + q->writes[i].value_len;
    uint8_t *blob = w__xmalloc(bytes);
    struct txn_request *c = (struct txn_request *) blob;
    *c = *q;
    struct txn_key *keys = (struct txn_key *) (c + 1);
    struct txn_write *ws = (struct txn_write *) (keys + q->keys_n);
    txn_group_id *parts = (txn_group_id *) (ws + q->writes_n);
    uint8_t *p = (uint8_t *) (parts + q->participants_n);
    for (uint32_t i = 0; i < q->keys_n; i++) {
        keys[i].key = memcpy(p, q->keys[i].key, q->keys[i].key_len);
        keys[i].key_len = q->keys[i].key_len;
        p += q->keys[i].key_len;
    }
    for (uint32_t i = 0; i < q->writes_n; i++) {
        ws[i] = q->writes[i];
        ws[i].key = memcpy(p, q->writes[i].key, q->writes[i].key_len);
        p += q->writes[i].key_len;
        ws[i].value =
            q->writes[i].value_len ? memcpy(p, q->writes[i].value, q->writes[i].value_len) : NULL;
        p += q->writes[i].value_len;
    }
    if (q->participants_n)
        memcpy(parts, q->participants, sizeof *parts * q->participants_n);
    c->keys = keys;
    c->writes = ws;
    c->participants = parts;
    SP_ASSERT((size_t) (p - blob) == bytes);
    return c;
}

void w__send_batch(struct w_world *w, uint32_t i, struct w_batch *b)
{
    struct w_node *nd = &w->nodes[i];
    for (uint32_t k = 0; k < b->msgs_n; k++) {
        struct txn_node_msg *m = b->msgs[k];
        uint32_t to = m->to - 1;
        SP_ASSERT(to < w->n);
        w->stats.msgs_sent++;
        /* Legacy chaos drops all the time; the fault mask in windows. */
        uint32_t drop_pct = w->p.faults ? ((w->active & W_F_DROP) ? w->p.drop_pct : 0)
                                        : (w->chaos ? w->p.drop_pct : 0);
        bool drop =
            cut_between(w, i, to) || (to != i && drop_pct && w__rnd_below(w, 100) < drop_pct);
        if (drop) {
            w->stats.msgs_dropped++;
            w__free_msg(m);
            continue;
        }
        tt_micros lat = to == i ? 1 : w__latency(w, nd->zone, w->nodes[to].zone);
        if ((w->active & W_F_DUP) && to != i && w__rnd_below(w, 100) < 10) {
            w->stats.msgs_duplicated++;
            w__push(w, w->now + w__latency(w, nd->zone, w->nodes[to].zone), W_DELIVER, to,
                    w__copy_msg(m), 0);
        }
        w__push(w, w->now + lat, W_DELIVER, to, m, 0);
    }
    for (uint32_t k = 0; k < b->replies_n; k++)
        w__push(w, w->now + w__latency(w, nd->zone, nd->zone), W_REPLY, b->replies[k]->client,
                b->replies[k], 0);
    w__free_batch(b, true);
}

void w_world_partition(struct w_world *w, uint32_t a)
{
    w->cut_a = a;
    w->cut_b = ((1u << w->n) - 1) & ~a;
}

void w_world_heal(struct w_world *w)
{
    if (w->cut_a | w->cut_b)
        w__wlog(w, "heal");
    w->cut_a = w->cut_b = 0;
}

void w__free_event(struct w_event *e)
{
    if (e->kind == W_DELIVER)
        w__free_msg(e->ptr);
    else if (e->kind == W_REQUEST)
        free(e->ptr);
    else if (e->kind == W_REPLY)
        w__free_reply(e->ptr);
}

void w__deliver(struct w_world *w, struct w_event *e)
{
    struct w_node *nd = &w->nodes[e->node];
    if (!nd->up) {
        w__free_event(e);
        return;
    }
    struct txn_node_event ev = {0};
    if (e->kind == W_REQUEST && w->req_hook && !w->req_hook(w, e->node, e->ptr, w->req_hook_ctx)) {
        w__free_event(e);
        return;
    }
    if (!nd->up) { /* the hook may have crashed it */
        w__free_event(e);
        return;
    }
    if (e->kind == W_REQUEST) {
        ev.type = TXN_NODE_EV_CLIENT;
        ev.req = e->ptr;
    } else {
        struct txn_node_msg *m = e->ptr;
        ev.type = m->is_paxos ? TXN_NODE_EV_PAXOS : TXN_NODE_EV_TXN;
        ev.group = m->group;
        if (m->is_paxos)
            ev.paxos = &m->paxos;
        else
            ev.txn = &m->txn;
    }
    w__step_node(w, e->node, &ev);
    w__free_event(e);
}

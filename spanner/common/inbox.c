/*
 * inbox.c - see inbox.h.
 */
#include "inbox.h"
#include "sp_assert.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void sp_inbox_init(struct sp_inbox *ib, uint32_t max)
{
    SP_ASSERT(ib != NULL && max > 0);
    memset(ib, 0, sizeof *ib);
    ib->max = max;
    pthread_mutex_init(&ib->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&ib->cv, &ca);
    pthread_condattr_destroy(&ca);
}

void sp_inbox_destroy(struct sp_inbox *ib)
{
    for (struct sp_inbox_item *it = ib->head, *next; it; it = next) {
        next = it->next;
        sp_inbox_free(it);
    }
    ib->head = ib->tail = NULL;
    pthread_cond_destroy(&ib->cv);
    pthread_mutex_destroy(&ib->mu);
}

bool sp_inbox_push(struct sp_inbox *ib, int kind, struct sp_rpc_call *call, const uint8_t *data,
                   size_t len)
{
    struct sp_inbox_item *it = calloc(1, sizeof *it);
    uint8_t *copy = malloc(len ? len : 1);
    SP_ASSERT(it != NULL && copy != NULL);
    if (len)
        memcpy(copy, data, len);
    *it = (struct sp_inbox_item){.kind = kind, .call = call, .data = copy, .len = len};
    pthread_mutex_lock(&ib->mu);
    bool ok = !ib->stopped && ib->len < ib->max;
    if (ok) {
        if (ib->tail)
            ib->tail->next = it;
        else
            ib->head = it;
        ib->tail = it;
        ib->len++;
        pthread_cond_signal(&ib->cv);
    }
    pthread_mutex_unlock(&ib->mu);
    if (!ok) {
        free(copy);
        free(it);
    }
    return ok;
}

struct sp_inbox_item *sp_inbox_take(struct sp_inbox *ib, tt_micros wait_us, bool *stopped)
{
    pthread_mutex_lock(&ib->mu);
    if (!ib->head && !ib->stopped && wait_us > 0) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        long long until = (long long) now.tv_sec * 1000000 + now.tv_nsec / 1000 + wait_us;
        struct timespec ts = {.tv_sec = until / 1000000, .tv_nsec = (until % 1000000) * 1000};
        pthread_cond_timedwait(&ib->cv, &ib->mu, &ts);
    }
    struct sp_inbox_item *list = ib->head;
    ib->head = ib->tail = NULL;
    ib->len = 0;
    *stopped = ib->stopped;
    pthread_mutex_unlock(&ib->mu);
    return list;
}

void sp_inbox_free(struct sp_inbox_item *it)
{
    if (it) {
        free(it->data);
        free(it);
    }
}

void sp_inbox_stop(struct sp_inbox *ib)
{
    pthread_mutex_lock(&ib->mu);
    ib->stopped = true;
    pthread_cond_broadcast(&ib->cv);
    pthread_mutex_unlock(&ib->mu);
}

void sp_inbox_rpc_handler(void *route, struct sp_rpc_call *call, const uint8_t *req, size_t len)
{
    const struct sp_inbox_route *r = route;
    if (!sp_inbox_push(r->ib, r->kind, call, req, len))
        sp_rpc_reply(call, GRPC_STATUS_UNAVAILABLE, NULL, 0, "node stopping or overloaded");
}

void sp_inbox_envelope_handler(void *route, uint32_t from, const uint8_t *env, size_t len)
{
    (void) from;
    const struct sp_inbox_route *r = route;
    sp_inbox_push(r->ib, r->kind, NULL, env, len); /* dropped if full: peers resend */
}

static sigset_t stop_signals;

static void *stop_on_signal(void *ib)
{
    int sig;
    sigwait(&stop_signals, &sig);
    sp_inbox_stop(ib);
    return NULL;
}

int sp_inbox_stop_on_signals(struct sp_inbox *ib)
{
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
    pthread_t t;
    if (pthread_create(&t, NULL, stop_on_signal, ib) != 0)
        return SP_ENOMEM;
    pthread_detach(t);
    return 0;
}

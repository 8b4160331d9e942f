/*
 * workers.c - a pool of threads for short blocking jobs; see workers.h.
 *
 * Invariants, under mu:
 *   - queued is the length of the queue head..tail;
 *   - idle counts threads blocked on `work` with nothing taken;
 *   - a job is run by exactly one thread, once; done is set after it ran.
 * sp_workers_run starts a thread when the queued jobs (counting the new
 * one) outnumber the idle threads, so no job waits for a thread while
 * another could be started.
 */
#include "workers.h"

#include "sp_assert.h"

#include <stdlib.h>
#include <string.h>

void sp_workers_init(struct sp_workers *w)
{
    memset(w, 0, sizeof *w);
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->work, NULL);
    pthread_cond_init(&w->done, NULL);
}

static void *worker(void *arg)
{
    struct sp_workers *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (w->head == NULL && !w->stop) {
            w->idle++;
            pthread_cond_wait(&w->work, &w->mu);
            w->idle--;
        }
        if (w->head == NULL)
            break; /* stopping, nothing left */
        struct sp_job *job = w->head;
        w->head = job->next;
        if (w->head == NULL)
            w->tail = NULL;
        w->queued--;
        pthread_mutex_unlock(&w->mu);
        job->fn(job->arg);
        pthread_mutex_lock(&w->mu);
        job->done = true;
        w->jobs++;
        pthread_cond_broadcast(&w->done);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

/* With mu held: starts one more thread. False if it could not. */
static bool start_thread(struct sp_workers *w)
{
    if (w->n_threads == w->cap) {
        uint32_t cap = w->cap ? 2 * w->cap : 8;
        pthread_t *t = realloc(w->threads, cap * sizeof *t);
        if (!t)
            return false;
        w->threads = t;
        w->cap = cap;
    }
    if (pthread_create(&w->threads[w->n_threads], NULL, worker, w) != 0)
        return false;
    w->n_threads++;
    return true;
}

void sp_workers_run(struct sp_workers *w, struct sp_job *job, void (*fn)(void *), void *arg)
{
    SP_ASSERT(w != NULL && job != NULL && fn != NULL);
    *job = (struct sp_job){.fn = fn, .arg = arg};
    pthread_mutex_lock(&w->mu);
    SP_ASSERT(!w->stop);
    bool started = w->queued + 1 <= w->idle || start_thread(w);
    if (!started && w->n_threads == 0) { /* no thread at all: run it here */
        pthread_mutex_unlock(&w->mu);
        fn(arg);
        pthread_mutex_lock(&w->mu);
        job->done = true;
        w->jobs++;
        pthread_mutex_unlock(&w->mu);
        return;
    }
    /* Otherwise a thread of the pool takes it, at worst once one is free. */
    if (w->tail)
        w->tail->next = job;
    else
        w->head = job;
    w->tail = job;
    w->queued++;
    pthread_cond_signal(&w->work);
    pthread_mutex_unlock(&w->mu);
}

void sp_workers_wait(struct sp_workers *w, struct sp_job *job)
{
    pthread_mutex_lock(&w->mu);
    while (!job->done)
        pthread_cond_wait(&w->done, &w->mu);
    pthread_mutex_unlock(&w->mu);
}

void sp_workers_stats(struct sp_workers *w, uint32_t *threads, uint64_t *jobs)
{
    pthread_mutex_lock(&w->mu);
    *threads = w->n_threads;
    *jobs = w->jobs;
    pthread_mutex_unlock(&w->mu);
}

void sp_workers_destroy(struct sp_workers *w)
{
    pthread_mutex_lock(&w->mu);
    SP_ASSERT(w->head == NULL);
    w->stop = true;
    pthread_cond_broadcast(&w->work);
    pthread_mutex_unlock(&w->mu);
    for (uint32_t i = 0; i < w->n_threads; i++)
        pthread_join(w->threads[i], NULL);
    free(w->threads);
    pthread_cond_destroy(&w->work);
    pthread_cond_destroy(&w->done);
    pthread_mutex_destroy(&w->mu);
}

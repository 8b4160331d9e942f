/*
 * workers.h - a pool of threads that run short blocking jobs for
 * libspanner: the PREPAREs of a commit, one job per node, sent while the
 * committing thread sends the COMMIT (client.c).
 *
 * A job goes to an idle thread of the pool; a thread is started only when
 * none is idle. Starting a thread per job cost 0.15-0.5 ms on this 2-vCPU
 * machine (pthread_create, then the first run of the new thread), and a
 * commit started its jobs one after another, so the PREPAREs of a 10-group
 * commit reached the third node up to 0.8 ms after the COMMIT reached the
 * coordinator, which waits for every vote. Waking an idle thread costs a
 * futex wake. Threads stay until the pool is destroyed, so a pool never has
 * more threads than the most jobs it ever had under way at once.
 *
 * Thread-safe. Private to spanner/.
 */
#ifndef SP_WORKERS_H
#define SP_WORKERS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct sp_job {
    void (*fn)(void *arg);
    void *arg;
    bool done;           /* under the pool's mu */
    struct sp_job *next; /* in the queue */
};

struct sp_workers {
    pthread_mutex_t mu;
    pthread_cond_t work, done;
    struct sp_job *head, *tail; /* queued, oldest first */
    uint32_t queued, idle;      /* jobs not taken yet; threads waiting for one */
    pthread_t *threads;
    uint32_t n_threads, cap;
    bool stop;
    uint64_t jobs; /* jobs run so far, for tests */
};

void sp_workers_init(struct sp_workers *w);

/* Runs fn(arg) on a thread of the pool; job is the caller's until
 * sp_workers_wait returns. If no thread can be started and the pool has
 * none, fn runs on the calling thread before this returns. */
void sp_workers_run(struct sp_workers *w, struct sp_job *job, void (*fn)(void *), void *arg);

/* Waits until job has run. */
void sp_workers_wait(struct sp_workers *w, struct sp_job *job);

/* Threads started and jobs run so far. */
void sp_workers_stats(struct sp_workers *w, uint32_t *threads, uint64_t *jobs);

/* Stops and joins every thread. No job may be queued or running. */
void sp_workers_destroy(struct sp_workers *w);

#endif

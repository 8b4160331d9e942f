/*
 * test_workers.c - the client's thread pool (spanner/client/workers.h): jobs run
 * one after another reuse one thread; jobs under way at once each get a
 * thread of their own (none waits for another to finish); a later burst
 * reuses the threads started for an earlier one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "workers.h"

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#define BURST 4

static atomic_int ran;

static void count(void *arg)
{
    (void) arg;
    atomic_fetch_add(&ran, 1);
}

/* A job of a burst: returns once all BURST jobs of its burst are running
 * at once, or after 5 s (then *met stays 0 and the test fails instead of
 * hanging: that is what a pool that made jobs wait for each other does). */
struct burst {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int running, met;
};

static void meet(void *arg)
{
    struct burst *b = arg;
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += 5;
    pthread_mutex_lock(&b->mu);
    b->running++;
    pthread_cond_broadcast(&b->cv);
    while (b->running < BURST && pthread_cond_timedwait(&b->cv, &b->mu, &dl) == 0) {
    }
    if (b->running >= BURST)
        b->met++;
    pthread_mutex_unlock(&b->mu);
}

static void run_burst(struct sp_workers *w)
{
    struct burst b = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    struct sp_job jobs[BURST];
    for (int i = 0; i < BURST; i++)
        sp_workers_run(w, &jobs[i], meet, &b);
    for (int i = 0; i < BURST; i++)
        sp_workers_wait(w, &jobs[i]);
    assert_int_equal(b.met, BURST);
}

static void test_sequential_jobs_share_a_thread(void **state)
{
    (void) state;
    struct sp_workers w;
    sp_workers_init(&w);
    atomic_store(&ran, 0);
    for (int i = 0; i < 50; i++) {
        struct sp_job job;
        sp_workers_run(&w, &job, count, NULL);
        sp_workers_wait(&w, &job);
        assert_int_equal(atomic_load(&ran), i + 1); /* wait returns after the job ran */
    }
    uint32_t threads;
    uint64_t jobs;
    sp_workers_stats(&w, &threads, &jobs);
    assert_int_equal(jobs, 50);
    assert_int_equal(threads, 1);
    sp_workers_destroy(&w);
}

static void test_concurrent_jobs_get_threads_then_reuse_them(void **state)
{
    (void) state;
    struct sp_workers w;
    sp_workers_init(&w);
    run_burst(&w);
    uint32_t threads;
    uint64_t jobs;
    sp_workers_stats(&w, &threads, &jobs);
    assert_int_equal(threads, BURST);
    for (int i = 0; i < 3; i++)
        run_burst(&w);
    sp_workers_stats(&w, &threads, &jobs);
    assert_int_equal(threads, BURST);
    assert_int_equal(jobs, 4 * BURST);
    sp_workers_destroy(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sequential_jobs_share_a_thread),
        cmocka_unit_test(test_concurrent_jobs_get_threads_then_reuse_them),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

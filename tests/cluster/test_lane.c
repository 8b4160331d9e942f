/*
 * test_lane.c - the client's shared calls (spanner/client/lane.h) against a local
 * gRPC server that echoes each request, one by one (Request) or in a list
 * (Requests): every caller gets its own reply when many threads share
 * calls; a request queued behind calls that do not return leaves on its
 * own after SP_LANE_WAIT_US; a failed shared call fails every request in it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "lane.h"
#include "rpc.h"
#include "txn.pb-c.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SLOW_MS 1500 /* a call that "does not return" for the valve test */

static atomic_int singles, lists, slow_started;

static long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The reply to one request: "ok:" and the request; 'S' first = slow. */
static uint8_t *echo(const uint8_t *req, size_t len, size_t *out_len)
{
    uint8_t *out = malloc(len + 3);
    memcpy(out, "ok:", 3);
    memcpy(out + 3, req, len);
    *out_len = len + 3;
    return out;
}

static void on_one(void *ctx, struct sp_rpc_call *call, const uint8_t *req, size_t len)
{
    (void) ctx;
    atomic_fetch_add(&singles, 1);
    if (len > 0 && req[0] == 'S') {
        atomic_fetch_add(&slow_started, 1);
        usleep(SLOW_MS * 1000);
    } else {
        usleep(2000); /* long enough for others to queue behind it */
    }
    size_t n;
    uint8_t *out = echo(req, len, &n);
    sp_rpc_reply(call, GRPC_STATUS_OK, out, n, NULL);
    free(out);
}

static void on_many(void *ctx, struct sp_rpc_call *call, const uint8_t *req, size_t len)
{
    (void) ctx;
    atomic_fetch_add(&lists, 1);
    /* (on a gRPC worker: no cmocka assertions here; a bad call fails the
     * callers instead) */
    Spanner__Txn__Requests *rq = spanner__txn__requests__unpack(NULL, len, req);
    if (!rq || rq->n_requests < 2 || rq->n_requests > SP_LANE_BATCH_MAX) {
        sp_rpc_reply(call, GRPC_STATUS_INVALID_ARGUMENT, NULL, 0, "bad Requests list");
        if (rq)
            spanner__txn__requests__free_unpacked(rq, NULL);
        return;
    }
    ProtobufCBinaryData out[SP_LANE_BATCH_MAX];
    bool fail = false;
    for (size_t i = 0; i < rq->n_requests; i++) {
        fail |= rq->requests[i].len > 0 && rq->requests[i].data[0] == 'E';
        out[i].data = echo(rq->requests[i].data, rq->requests[i].len, &out[i].len);
    }
    usleep(2000);
    if (fail) {
        sp_rpc_reply(call, GRPC_STATUS_INVALID_ARGUMENT, NULL, 0, "a request the test refuses");
    } else {
        Spanner__Txn__Replies rs = SPANNER__TXN__REPLIES__INIT;
        rs.n_replies = rq->n_requests;
        rs.replies = out;
        sp_rpc_reply_msg(call, &rs.base);
    }
    for (size_t i = 0; i < rq->n_requests; i++)
        free(out[i].data);
    spanner__txn__requests__free_unpacked(rq, NULL);
}

struct fx {
    struct sp_rpc_server *srv;
    grpc_channel *ch;
    struct sp_lane lane;
};

static int setup(void **state)
{
    static struct fx f;
    struct sp_err err = {0};
    sp_rpc_init();
    if (sp_rpc_server_create("127.0.0.1:0", &f.srv, &err) ||
        sp_rpc_server_add_method(f.srv, SP_REQUEST_PATH, on_one, NULL) ||
        sp_rpc_server_add_method(f.srv, SP_REQUESTS_PATH, on_many, NULL) ||
        sp_rpc_server_start(f.srv, 4, &err))
        return -1;
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", sp_rpc_server_port(f.srv));
    f.ch = sp_rpc_channel(addr);
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    grpc_channel_destroy(f->ch);
    sp_rpc_server_destroy(f->srv);
    sp_rpc_shutdown();
    return 0;
}

static int reset(void **state)
{
    struct fx *f = *state;
    sp_lane_init(&f->lane);
    atomic_store(&singles, 0);
    atomic_store(&lists, 0);
    atomic_store(&slow_started, 0);
    return 0;
}

static int finish(void **state)
{
    struct fx *f = *state;
    sp_lane_destroy(&f->lane);
    return 0;
}

struct caller {
    struct fx *f;
    char req[32];
    int rc, wrong;
    long long ms;
    char why[300];
};

static void *call_once(void *p)
{
    struct caller *c = p;
    uint8_t *resp = NULL;
    size_t rl = 0;
    struct sp_err err = {0};
    long long t0 = mono_ms();
    c->rc = sp_lane_call(&c->f->lane, c->f->ch, (const uint8_t *) c->req, strlen(c->req), 10000,
                         &resp, &rl, &err);
    c->ms = mono_ms() - t0;
    if (c->rc == 0)
        c->wrong = rl != strlen(c->req) + 3 || memcmp(resp, "ok:", 3) != 0 ||
                   memcmp(resp + 3, c->req, strlen(c->req)) != 0;
    else
        snprintf(c->why, sizeof c->why, "%s", err.msg);
    free(resp);
    return NULL;
}

#define THREADS 32
#define ROUNDS  20

static void *call_many(void *p)
{
    struct caller *c = p;
    char base[8];
    snprintf(base, sizeof base, "%.7s", c->req);
    for (int r = 0; r < ROUNDS && c->rc == 0 && !c->wrong; r++) {
        snprintf(c->req, sizeof c->req, "%s-%03d", base, r);
        call_once(c);
    }
    return NULL;
}

/* 32 threads, 20 requests each, through one lane: every reply is the
 * caller's own, and most requests went in shared calls. */
static void test_each_caller_gets_its_reply(void **state)
{
    struct fx *f = *state;
    struct caller c[THREADS];
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++) {
        c[i] = (struct caller){.f = f};
        snprintf(c[i].req, sizeof c[i].req, "t%02d", i);
        assert_int_equal(pthread_create(&th[i], NULL, call_many, &c[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        if (c[i].rc || c[i].wrong)
            fail_msg("caller %d: rc %d, wrong reply %d: %s", i, c[i].rc, c[i].wrong, c[i].why);
    }
    struct sp_lane *l = &f->lane;
    fprintf(stderr, "lane: %llu calls, %llu shared by %llu requests, %llu timeouts\n",
            (unsigned long long) l->calls, (unsigned long long) l->batched_calls,
            (unsigned long long) l->batched_requests, (unsigned long long) l->timeouts);
    assert_int_equal(l->calls - l->batched_calls + l->batched_requests, THREADS * ROUNDS);
    assert_int_equal(atomic_load(&singles) + atomic_load(&lists), l->calls);
    assert_int_equal(atomic_load(&lists), l->batched_calls);
    assert_true(l->batched_calls > 0);
    assert_true(l->calls < THREADS * ROUNDS / 2); /* the point: far fewer calls */
}

/* Starts two calls that take SLOW_MS (the lane's limit) and waits until
 * the server holds both. */
static void fill_lane(struct fx *f, struct caller slow[2], pthread_t th[2])
{
    for (int i = 0; i < 2; i++) {
        slow[i] = (struct caller){.f = f};
        snprintf(slow[i].req, sizeof slow[i].req, "S%d", i);
        assert_int_equal(pthread_create(&th[i], NULL, call_once, &slow[i]), 0);
    }
    while (atomic_load(&slow_started) < 2)
        usleep(1000);
}

/* Two calls that take SLOW_MS fill the lane; a third request queues, and
 * leaves on its own after SP_LANE_WAIT_US instead of waiting for them. */
static void test_queued_request_does_not_wait_for_stuck_calls(void **state)
{
    struct fx *f = *state;
    struct caller slow[2], fast = {.f = f};
    pthread_t th[2];
    fill_lane(f, slow, th);
    snprintf(fast.req, sizeof fast.req, "fast");
    call_once(&fast);
    assert_int_equal(fast.rc, 0);
    assert_false(fast.wrong);
    fprintf(stderr, "queued behind two stuck calls: answered in %lld ms\n", fast.ms);
    assert_true(fast.ms < SLOW_MS / 2);
    assert_int_equal(f->lane.timeouts, 1);
    for (int i = 0; i < 2; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(slow[i].rc, 0);
        assert_false(slow[i].wrong);
        assert_true(slow[i].ms >= SLOW_MS);
    }
}

/* A shared call the server refuses fails each request in it, with the
 * server's message. */
static void test_failed_shared_call_fails_each_request(void **state)
{
    struct fx *f = *state;
    struct caller slow[2], q[3];
    pthread_t th[2], tq[3];
    fill_lane(f, slow, th);
    for (int i = 0; i < 3; i++) {
        q[i] = (struct caller){.f = f};
        snprintf(q[i].req, sizeof q[i].req, "%c%d", i == 1 ? 'E' : 'q', i);
        assert_int_equal(pthread_create(&tq[i], NULL, call_once, &q[i]), 0);
    }
    for (int i = 0; i < 3; i++)
        pthread_join(tq[i], NULL);
    /* The refused request fails with the server's message. Queued within
     * the same 5 ms (thread start-up permitting), all three left in one
     * call, and then all three fail with it. */
    assert_int_equal(q[1].rc, SP_ESP_PROTOCOL);
    assert_non_null(strstr(q[1].why, "a request the test refuses"));
    int lists_n = atomic_load(&lists);
    assert_true(lists_n >= 1);
    if (lists_n == 1 && atomic_load(&singles) == 2)
        for (int i = 0; i < 3; i++) {
            assert_int_equal(q[i].rc, SP_ESP_PROTOCOL);
            assert_non_null(strstr(q[i].why, "a request the test refuses"));
        }
    else
        fprintf(stderr, "the three queued requests left in %d lists and %d single calls\n",
                lists_n, atomic_load(&singles) - 2);
    for (int i = 0; i < 2; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(slow[i].rc, 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_each_caller_gets_its_reply, reset, finish),
        cmocka_unit_test_setup_teardown(test_queued_request_does_not_wait_for_stuck_calls, reset,
                                        finish),
        cmocka_unit_test_setup_teardown(test_failed_shared_call_fails_each_request, reset, finish),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

/*
 * tt_chrony.c - the "chrony" backend: the system clock bounded by chronyd's
 * own error estimate, the way AWS ClockBound computes it.
 *
 * A refresher thread asks chronyd for its tracking report about once a
 * second (cmdmon over the Unix command socket, or UDP on localhost; never by
 * running chronyc) and publishes a sample:
 *     base  = |current_correction| + root_delay/2 + root_dispersion
 *     taken = CLOCK_MONOTONIC_COARSE just before the request was sent
 * The hot path (tt_now) reads CLOCK_REALTIME once and the coarse monotonic
 * clock once, and returns
 *     eps = base + max_drift * (age + coarse resolution)
 * where age = now_coarse - taken. Measuring age from before the request, and
 * adding the coarse clock's resolution, only ever overestimates it.
 *
 * Sample publication is a seqlock: one writer (the refresher), any number of
 * lock-free readers. Fields are C11 atomics so there is no data race.
 *
 * States (per clock):
 *
 *     (no sample) --good sample--> SYNCED --no good sample for
 *          |                          ^      degraded_after--> DEGRADED
 *          |                          |                           |
 *          +-------------- good sample ---------------------------+
 *                                               age > unknown_after or
 *     DEGRADED / (no sample) ---------------->  eps > max_eps --> UNKNOWN
 *
 * A reply with leap_status 3 (unsynchronised) is not a good sample: the last
 * good one keeps aging and the interval keeps widening, so an interval is
 * never narrower than what the last trustworthy sample supports. UNKNOWN is
 * not a latch: the next good sample restores SYNCED.
 */
#include "chrony_proto.h"
#include "tt_backend.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

struct chrony_impl {
    /* Seqlock-published sample; written by the refresher only. */
    _Atomic uint32_t seq;
    _Atomic int have;          /* a good sample exists */
    _Atomic tt_micros taken;   /* coarse monotonic time of the sample */
    _Atomic tt_micros base_us; /* bound at the sample, before drift */
    _Atomic int unsync;        /* last reply said leap_status 3 */
    tt_micros coarse_res_us;
    uint64_t drift_ppb;
    tt_micros degraded_after_us, unknown_after_us;

    _Atomic uint64_t ok, failed;

    pthread_mutex_t mu; /* guards the fields below */
    struct tt_chrony_tracking tracking;
    char last_error[SP_ERR_MSG_MAX];
    tt_micros ref_age_us; /* sample realtime - chronyd's last update */

    int fd;
    char client_dir[64];
    uint32_t next_seq;

    pthread_t thread;
    pthread_cond_t cv;
    int stop;
};

static tt_micros coarse_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (tt_micros) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---- transport ------------------------------------------------------- */

static void close_socket(struct chrony_impl *ci)
{
    if (ci->fd >= 0)
        close(ci->fd);
    ci->fd = -1;
    if (ci->client_dir[0]) {
        char path[sizeof ci->client_dir + 8];
        snprintf(path, sizeof path, "%s/c.sock", ci->client_dir);
        unlink(path);
        rmdir(ci->client_dir);
        ci->client_dir[0] = '\0';
    }
}

/* chronyd replies to the sender's address, so a Unix datagram client must
 * bind a path of its own first, in a directory chronyd can reach even when
 * it runs as _chrony (0711 directory, 0666 socket). */
static int open_unix(struct chrony_impl *ci, const char *server, struct sp_err *err)
{
    snprintf(ci->client_dir, sizeof ci->client_dir, "/tmp/tt-chrony-XXXXXX");
    if (!mkdtemp(ci->client_dir)) {
        ci->client_dir[0] = '\0';
        return sp_err_set(err, SP_ETT_UNREACHABLE, "chrony: mkdtemp: %s", strerror(errno));
    }
    chmod(ci->client_dir, 0711);
    struct sockaddr_un local = {.sun_family = AF_UNIX}, remote = {.sun_family = AF_UNIX};
    snprintf(local.sun_path, sizeof local.sun_path, "%s/c.sock", ci->client_dir);
    snprintf(remote.sun_path, sizeof remote.sun_path, "%s", server);
    ci->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (ci->fd < 0 || bind(ci->fd, (struct sockaddr *) &local, sizeof local) < 0)
        return sp_err_set(err, SP_ETT_UNREACHABLE, "chrony: bind %s: %s", local.sun_path,
                          strerror(errno));
    chmod(local.sun_path, 0666);
    if (connect(ci->fd, (struct sockaddr *) &remote, sizeof remote) < 0)
        return sp_err_set(err, SP_ETT_UNREACHABLE, "chrony: connect %s: %s", server,
                          strerror(errno));
    return 0;
}

static int open_udp(struct chrony_impl *ci, const char *host, int port, struct sp_err *err)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t) port)};
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
        return sp_err_set(err, SP_ECONFIG, "chrony: chrony_udp host \"%s\" is not an IPv4 address",
                          host);
    ci->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (ci->fd < 0 || connect(ci->fd, (struct sockaddr *) &sa, sizeof sa) < 0)
        return sp_err_set(err, SP_ETT_UNREACHABLE, "chrony: connect udp %s:%d: %s", host, port,
                          strerror(errno));
    return 0;
}

static int ensure_socket(struct chrony_impl *ci, const struct tt_config *cfg, struct sp_err *err)
{
    if (ci->fd >= 0)
        return 0;
    int rc = cfg->chrony_udp_port ? open_udp(ci, cfg->chrony_host, cfg->chrony_udp_port, err)
                                  : open_unix(ci, cfg->chrony_socket, err);
    if (rc)
        close_socket(ci);
    return rc;
}

/* Waits for the reply to `seq` until `deadline` (monotonic us); replies to
 * earlier requests that arrive late are skipped. */
static int await_reply(struct chrony_impl *ci, uint32_t seq, tt_micros deadline,
                       struct tt_chrony_tracking *out, struct sp_err *err)
{
    int rc = sp_err_set(err, SP_ETT_UNREACHABLE, "chrony: no reply within the request timeout");
    for (int i = 0; i < 16; i++) { /* bounded: at most 16 stale replies */
        tt_micros left = deadline - tt__monotonic_us();
        if (left <= 0)
            break;
        struct pollfd pfd = {.fd = ci->fd, .events = POLLIN};
        int n = poll(&pfd, 1, (int) ((left + 999) / 1000));
        if (n == 0)
            break;
        if (n < 0 && errno == EINTR)
            continue;
        uint8_t buf[TT_CHRONY_PKT_LEN + 64];
        ssize_t got = n > 0 ? recv(ci->fd, buf, sizeof buf, 0) : -1;
        if (got < 0)
            return sp_err_set(err, SP_ETT_UNREACHABLE, "chrony: recv: %s", strerror(errno));
        rc = tt_chrony_decode_reply(buf, (size_t) got, seq, out, err);
        if (rc != SP_ETT_SEQ)
            return rc;
    }
    return rc;
}

/* One tracking request. Returns 0 and *out, or an SP_ETT_* code. */
static int request_tracking(struct chrony_impl *ci, const struct tt_config *cfg,
                            struct tt_chrony_tracking *out, struct sp_err *err)
{
    int rc = ensure_socket(ci, cfg, err);
    if (rc)
        return rc;
    uint32_t seq = ci->next_seq++;
    uint8_t req[TT_CHRONY_PKT_LEN];
    tt_chrony_encode_request(req, seq, 0);
    if (send(ci->fd, req, sizeof req, 0) != (ssize_t) sizeof req) {
        rc = sp_err_set(err, SP_ETT_UNREACHABLE, "chrony: send to %s: %s",
                        cfg->chrony_udp_port ? cfg->chrony_host : cfg->chrony_socket,
                        strerror(errno));
        close_socket(ci); /* chronyd may have restarted: reopen next time */
        return rc;
    }
    tt_micros deadline = tt__monotonic_us() + (tt_micros) cfg->request_timeout_ms * 1000;
    rc = await_reply(ci, seq, deadline, out, err);
    if (rc == SP_ETT_UNREACHABLE)
        close_socket(ci);
    return rc;
}

/* ---- refresher ------------------------------------------------------- */

static void publish(struct chrony_impl *ci, tt_micros taken, tt_micros base)
{
    uint32_t s = atomic_load_explicit(&ci->seq, memory_order_relaxed);
    atomic_store_explicit(&ci->seq, s + 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
    atomic_store_explicit(&ci->taken, taken, memory_order_relaxed);
    atomic_store_explicit(&ci->base_us, base, memory_order_relaxed);
    atomic_store_explicit(&ci->have, 1, memory_order_relaxed);
    atomic_store_explicit(&ci->seq, s + 2, memory_order_release);
}

static void poll_once(struct chrony_impl *ci, const struct tt_config *cfg)
{
    struct tt_chrony_tracking t;
    struct sp_err err = {0};
    tt_micros taken = coarse_us();
    tt_micros sent_rt = tt__realtime_us();
    int rc = request_tracking(ci, cfg, &t, &err);
    if (rc == 0 && t.leap_status == TT_CHRONY_LEAP_UNSYNC)
        rc = sp_err_set(&err, SP_ETT_UNSYNC, "chronyd reports the clock unsynchronised");
    pthread_mutex_lock(&ci->mu);
    if (rc == 0) {
        ci->tracking = t;
        ci->ref_age_us = t.ref_time_s > 0 ? sent_rt - (tt_micros) (t.ref_time_s * 1e6) : 0;
        ci->last_error[0] = '\0';
        publish(ci, taken, tt_chrony_base_bound_us(&t));
    } else {
        snprintf(ci->last_error, sizeof ci->last_error, "%s", err.msg);
    }
    pthread_mutex_unlock(&ci->mu);
    atomic_store(&ci->unsync, rc == SP_ETT_UNSYNC);
    atomic_fetch_add(rc == 0 ? &ci->ok : &ci->failed, 1);
    if (rc)
        SP_DEBUG("truetime: chrony poll failed: %s", err.msg);
}

static void *refresher(void *arg)
{
    struct tt_clock *c = arg;
    struct chrony_impl *ci = c->impl;
    pthread_mutex_lock(&ci->mu);
    while (!ci->stop) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        uint64_t ns = (uint64_t) until.tv_nsec + (uint64_t) c->cfg.refresh_ms * 1000000u;
        until.tv_sec += (time_t) (ns / 1000000000u);
        until.tv_nsec = (long) (ns % 1000000000u);
        while (!ci->stop && pthread_cond_timedwait(&ci->cv, &ci->mu, &until) == 0)
            ;
        if (ci->stop)
            break;
        pthread_mutex_unlock(&ci->mu);
        poll_once(ci, &c->cfg);
        pthread_mutex_lock(&ci->mu);
    }
    pthread_mutex_unlock(&ci->mu);
    return NULL;
}

/* ---- hot path -------------------------------------------------------- */

/* Reads a consistent (have, taken, base) triple. */
static void load_sample(struct chrony_impl *ci, int *have, tt_micros *taken, tt_micros *base)
{
    for (;;) {
        uint32_t s1 = atomic_load_explicit(&ci->seq, memory_order_acquire);
        *have = atomic_load_explicit(&ci->have, memory_order_relaxed);
        *taken = atomic_load_explicit(&ci->taken, memory_order_relaxed);
        *base = atomic_load_explicit(&ci->base_us, memory_order_relaxed);
        atomic_thread_fence(memory_order_acquire);
        uint32_t s2 = atomic_load_explicit(&ci->seq, memory_order_relaxed);
        if (s1 == s2 && !(s1 & 1))
            return;
    }
}

static tt_micros bound_at(const struct chrony_impl *ci, tt_micros base, tt_micros age)
{
    tt_micros grown = (tt_micros) (((uint64_t) age * ci->drift_ppb + 999999999u) / 1000000000u);
    return base + grown;
}

static int chrony_read(struct tt_clock *c, tt_micros *mid, tt_micros *eps)
{
    struct chrony_impl *ci = c->impl;
    tt_micros rt = tt__realtime_us();
    int have;
    tt_micros taken, base;
    load_sample(ci, &have, &taken, &base);
    if (!have)
        return SP_ETT_UNKNOWN;
    tt_micros age = coarse_us() - taken + ci->coarse_res_us;
    tt_micros e = bound_at(ci, base, age);
    if (age > ci->unknown_after_us || e > c->cfg.max_eps_us)
        return SP_ETT_UNKNOWN;
    *mid = rt;
    *eps = e;
    return 0;
}

static enum tt_status chrony_status(struct tt_clock *c, char *reason, size_t len)
{
    struct chrony_impl *ci = c->impl;
    char dummy[1];
    if (!reason || !len) {
        reason = dummy;
        len = sizeof dummy;
    }
    int have;
    tt_micros taken, base;
    load_sample(ci, &have, &taken, &base);
    pthread_mutex_lock(&ci->mu);
    char last[SP_ERR_MSG_MAX];
    snprintf(last, sizeof last, "%s", ci->last_error[0] ? ci->last_error : "ok");
    double upd = ci->tracking.last_update_interval_s;
    tt_micros ref_age = ci->ref_age_us;
    pthread_mutex_unlock(&ci->mu);
    if (!have) {
        snprintf(reason, len, "no good sample from chronyd yet (last: %s)", last);
        return TT_UNKNOWN;
    }
    tt_micros age = coarse_us() - taken + ci->coarse_res_us;
    tt_micros e = bound_at(ci, base, age);
    if (age > ci->unknown_after_us || e > c->cfg.max_eps_us) {
        snprintf(reason, len, "last good sample %.1f s old, eps %lld us (limits %.1f s, %lld us); "
                 "last: %s", age / 1e6, (long long) e, ci->unknown_after_us / 1e6,
                 (long long) c->cfg.max_eps_us, last);
        return TT_UNKNOWN;
    }
    if (age > ci->degraded_after_us || atomic_load(&ci->unsync)) {
        snprintf(reason, len, "no good sample for %.1f s, eps widening to %lld us; last: %s",
                 age / 1e6, (long long) e, last);
        return TT_DEGRADED;
    }
    /* ClockBound: free-running when chronyd has not updated its own clock
     * for more than 8 x its update interval. */
    if (upd > 0 && ref_age > (tt_micros) (8 * upd * 1e6)) {
        snprintf(reason, len, "chronyd has not updated its clock for %.1f s (interval %.1f s)",
                 ref_age / 1e6, upd);
        return TT_DEGRADED;
    }
    snprintf(reason, len, "eps %lld us, sample %.1f s old", (long long) e, age / 1e6);
    return TT_SYNCED;
}

static tt_micros chrony_mono(struct tt_clock *c)
{
    (void) c;
    return tt__monotonic_us();
}

static void chrony_sleep(struct tt_clock *c, tt_micros us)
{
    (void) c;
    tt__sleep_us(us);
}

static void chrony_destroy(struct tt_clock *c)
{
    struct chrony_impl *ci = c->impl;
    pthread_mutex_lock(&ci->mu);
    ci->stop = 1;
    pthread_cond_signal(&ci->cv);
    pthread_mutex_unlock(&ci->mu);
    pthread_join(ci->thread, NULL);
    close_socket(ci);
    pthread_cond_destroy(&ci->cv);
    pthread_mutex_destroy(&ci->mu);
    free(ci);
}

static const struct tt_backend_ops chrony_ops = {
    .name = "chrony",
    .read = chrony_read,
    .status = chrony_status,
    .mono_us = chrony_mono,
    .sleep_us = chrony_sleep,
    .destroy = chrony_destroy,
};

int tt__chrony_init(struct tt_clock *c, struct sp_err *err)
{
    struct chrony_impl *ci = calloc(1, sizeof *ci);
    if (!ci)
        return sp_err_set(err, SP_ENOMEM, "truetime: out of memory");
    ci->fd = -1;
    ci->next_seq = arc4random();
    struct timespec res;
    clock_getres(CLOCK_MONOTONIC_COARSE, &res);
    ci->coarse_res_us = (tt_micros) res.tv_sec * 1000000 + (res.tv_nsec + 999) / 1000;
    ci->drift_ppb = (uint64_t) ceil(c->cfg.max_drift_ppm * 1000.0);
    ci->degraded_after_us = (tt_micros) c->cfg.degraded_after_ms * 1000;
    ci->unknown_after_us = (tt_micros) c->cfg.unknown_after_ms * 1000;
    pthread_mutex_init(&ci->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&ci->cv, &ca);
    pthread_condattr_destroy(&ca);
    c->ops = &chrony_ops;
    c->impl = ci;
    poll_once(ci, &c->cfg); /* first sample synchronously */
    if (pthread_create(&ci->thread, NULL, refresher, c) != 0) {
        close_socket(ci);
        pthread_cond_destroy(&ci->cv);
        pthread_mutex_destroy(&ci->mu);
        free(ci);
        return sp_err_set(err, SP_ENOMEM, "truetime: cannot start the chrony refresher thread");
    }
    return 0;
}

void tt__chrony_stats(struct tt_clock *c, struct tt_stats *out)
{
    struct chrony_impl *ci = c->impl;
    out->samples_ok = atomic_load(&ci->ok);
    out->samples_failed = atomic_load(&ci->failed);
}

int tt_chrony_last_sample(struct tt_clock *c, struct tt_chrony_tracking *out, tt_micros *age_us)
{
    SP_ASSERT(c != NULL && out != NULL);
    if (c->ops != &chrony_ops)
        return SP_EINVAL;
    struct chrony_impl *ci = c->impl;
    int have;
    tt_micros taken, base;
    /* Under the mutex, the sample and the tracking copy are from the same
     * poll (poll_once publishes while holding it). */
    pthread_mutex_lock(&ci->mu);
    load_sample(ci, &have, &taken, &base);
    if (have)
        *out = ci->tracking;
    pthread_mutex_unlock(&ci->mu);
    if (!have)
        return SP_ENOTFOUND;
    if (age_us)
        *age_us = coarse_us() - taken + ci->coarse_res_us;
    return 0;
}

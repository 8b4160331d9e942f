/*
 * truetime.h - the TrueTime interval API (Spanner §3) and its clock backends.
 *
 * From Spanner §3: "TT.now() returns a TTinterval [earliest, latest] that is
 * guaranteed to contain the absolute time during which TT.now() was invoked."
 * TT.after(t) is true if t has definitely passed (t < now.earliest);
 * TT.before(t) is true if t has definitely not arrived (t > now.latest).
 *
 * Times are microseconds since the Unix epoch (tt_micros). A clock is an
 * opaque handle (struct tt_clock) over one backend:
 *
 *   chrony  the system clock, bounded by chronyd's own error estimate read
 *           over its command socket (cmdmon "tracking") by a background
 *           thread about once a second. The bound follows AWS ClockBound:
 *             eps = |current_correction| + root_delay/2 + root_dispersion
 *                   + max_drift * (age of the sample)
 *           tt_now() is one clock_gettime(CLOCK_REALTIME) plus one coarse
 *           monotonic read and arithmetic on the cached sample.
 *   fixed   the system clock +- a configured eps (laptops without chronyd).
 *   sim     a deterministic virtual clock for the simulator: offset, drift
 *           and steps relative to a shared virtual "true time", reporting a
 *           configured eps, plus a fault mode that breaks the bound.
 *
 * Guarantees, whatever the backend:
 *   - earliest <= latest;
 *   - earliest never goes backwards within one clock object, even if the
 *     system clock is stepped back;
 *   - when the backend cannot bound the error (chronyd silent or
 *     unsynchronised for longer than the configured limit), tt_now() fails
 *     with SP_ETT_UNKNOWN rather than return a too-narrow interval. Before
 *     that limit the interval widens with the age of the last good sample
 *     and the status is TT_DEGRADED.
 *
 * Threads: a tt_clock may be used from any number of threads at once; all
 * functions taking `const struct tt_clock *` are lock-free on the hot path.
 */
#ifndef TRUETIME_H
#define TRUETIME_H

#include "sp_assert.h"
#include "sp_error.h"
#include "sp_log.h"

#include <stdbool.h>
#include <stdint.h>

typedef int64_t tt_micros;

#define TT_MICROS_MAX INT64_MAX

struct tt_interval {
    tt_micros earliest;
    tt_micros latest;
};

/* True iff t has definitely passed at the instant `now` was read. */
static inline bool tt_interval_after(struct tt_interval now, tt_micros t)
{
    return t < now.earliest;
}

/* True iff t has definitely not arrived at the instant `now` was read. */
static inline bool tt_interval_before(struct tt_interval now, tt_micros t)
{
    return t > now.latest;
}

/* Half-width of the interval (eps), rounded up. */
static inline tt_micros tt_interval_eps(struct tt_interval now)
{
    return (now.latest - now.earliest + 1) / 2;
}

enum tt_status {
    TT_SYNCED = 0,   /* fresh sample, clock disciplined */
    TT_DEGRADED = 1, /* bound widening with age; still usable */
    TT_UNKNOWN = 2,  /* no trustworthy bound; tt_now() fails */
};

const char *tt_status_name(enum tt_status s);

enum tt_backend_kind { TT_BACKEND_CHRONY = 0, TT_BACKEND_FIXED, TT_BACKEND_SIM };

/*
 * Configuration. Initialise with tt_config_init() (defaults), then override
 * fields directly or by name with tt_config_set(). Strings are copied.
 */
#define TT_PATH_MAX 108 /* sun_path */

struct tt_config {
    enum tt_backend_kind backend; /* default chrony */
    /* chrony: exactly one of socket_path / udp_port is used. */
    char chrony_socket[TT_PATH_MAX]; /* default /var/run/chrony/chronyd.sock */
    char chrony_host[64];            /* UDP host (IPv4 literal); used if udp_port != 0 */
    int chrony_udp_port;             /* 0: use the Unix socket */
    uint32_t refresh_ms;             /* how often to poll chronyd; default 1000 */
    uint32_t request_timeout_ms;     /* one request; default 200 */
    double max_drift_ppm;            /* >= chrony's maxclockerror; default 50 */
    /* degraded after this long without a good sample; default 3 * refresh */
    uint32_t degraded_after_ms;
    /* unknown after this long without a good sample; default 30 s */
    uint32_t unknown_after_ms;
    /* unknown while eps exceeds this; default 250 ms */
    tt_micros max_eps_us;
    /* fixed: the eps to report; default 4 ms (Spanner's typical value) */
    tt_micros fixed_eps_us;
};

void tt_config_init(struct tt_config *cfg);

/*
 * Sets one field from strings, e.g. ("backend", "fixed"), ("max_drift_ppm",
 * "50"), ("chrony_socket", "/run/x.sock"), ("chrony_udp", "127.0.0.1:323"),
 * ("fixed_eps_us", "4000"). Keys: backend, chrony_socket, chrony_udp,
 * refresh_ms, request_timeout_ms, max_drift_ppm, degraded_after_ms,
 * unknown_after_ms, max_eps_us, fixed_eps_us.
 * Returns 0, or SP_ECONFIG with a message naming the key, the value given and
 * what was expected; cfg is unchanged on error.
 */
int tt_config_set(struct tt_config *cfg, const char *key, const char *value, struct sp_err *err);

/* Checks cross-field rules (e.g. degraded_after < unknown_after). */
int tt_config_validate(const struct tt_config *cfg, struct sp_err *err);

struct tt_clock;

/*
 * Creates a clock from cfg (chrony or fixed; use tt_sim_clock_create for
 * sim). For chrony this starts the refresher thread and performs one
 * request synchronously; if that fails the clock is still created, status
 * TT_UNKNOWN, and it recovers when chronyd answers. Returns 0 and *out
 * (owned by the caller, free with tt_clock_destroy), or SP_ECONFIG/SP_ENOMEM
 * with err set.
 */
int tt_clock_create(const struct tt_config *cfg, struct tt_clock **out, struct sp_err *err);
void tt_clock_destroy(struct tt_clock *c);

/*
 * TT.now(). Returns 0 and *out; SP_ETT_UNKNOWN (status unknown: no interval
 * may be used). Never returns an interval narrower than the backend's bound.
 */
int tt_now(struct tt_clock *c, struct tt_interval *out);

/* TT.after(t): t < now.earliest. False when the clock is unknown. */
bool tt_after(struct tt_clock *c, tt_micros t);
/* TT.before(t): t > now.latest. False when the clock is unknown. */
bool tt_before(struct tt_clock *c, tt_micros t);

/*
 * Commit wait (Spanner §4.1.2): sleeps (never spins) until tt_after(s).
 * *waited_us (may be NULL) receives the time spent waiting on the backend's
 * monotonic clock. Returns 0, SP_ETT_UNKNOWN if the clock became unknown
 * while waiting, or SP_ETIMEDOUT after 1000 sleeps without progress.
 */
int tt_commit_wait(struct tt_clock *c, tt_micros s, tt_micros *waited_us);

/* Current status plus a human reason ("no reply from chronyd for 4.2 s").
 * reason may be NULL. */
enum tt_status tt_clock_status(struct tt_clock *c, char *reason, size_t reason_len);

/* Counters for metrics. */
struct tt_stats {
    uint64_t commit_waits;     /* tt_commit_wait calls */
    tt_micros commit_wait_us;  /* total time waited */
    tt_micros commit_wait_max; /* longest single wait */
    uint64_t samples_ok;       /* chrony: good samples */
    uint64_t samples_failed;   /* chrony: failed requests */
};
void tt_clock_stats(struct tt_clock *c, struct tt_stats *out);

/* The chrony fields behind the current bound, for status displays and tests. */
struct tt_chrony_tracking {
    uint32_t ref_id;
    uint16_t stratum;
    uint16_t leap_status; /* 0 normal, 1 insert, 2 delete, 3 unsynchronised */
    double ref_time_s;    /* time of chronyd's last clock update */
    double current_correction_s;
    double last_offset_s;
    double rms_offset_s;
    double freq_ppm;
    double resid_freq_ppm;
    double skew_ppm;
    double root_delay_s;
    double root_dispersion_s;
    double last_update_interval_s;
};

/* chrony only: copies the last good sample and its age. Returns 0,
 * SP_ENOTFOUND if there has been no good sample, SP_EINVAL for other
 * backends. */
int tt_chrony_last_sample(struct tt_clock *c, struct tt_chrony_tracking *out, tt_micros *age_us);

/* The bound ClockBound derives from one tracking sample, in microseconds,
 * before the drift term: |correction| + root_delay/2 + root_dispersion,
 * rounded up. */
tt_micros tt_chrony_base_bound_us(const struct tt_chrony_tracking *t);

/* ---- sim backend ------------------------------------------------------- */

/* The simulator's true time, shared by all simulated clocks of one world.
 * Single-threaded by design. */
struct tt_sim_world {
    tt_micros true_us;
};

struct tt_sim_params {
    tt_micros offset_us;  /* clock - true time at true_us == 0 */
    double drift_ppm;     /* the clock runs (1 + drift_ppm/1e6) as fast */
    tt_micros eps_us;     /* the half-width this clock reports */
    bool break_bound;     /* fault mode: report eps but never widen to cover
                           * offset/drift; the interval can miss true time */
};

/* Creates a simulated clock over `world` (not owned; must outlive it). With
 * break_bound false, the reported interval is widened if necessary so that
 * it always contains world->true_us (the control). tt_commit_wait on a sim
 * clock advances world->true_us instead of sleeping. */
int tt_sim_clock_create(struct tt_sim_world *world, const struct tt_sim_params *p,
                        struct tt_clock **out, struct sp_err *err);
/* Steps the simulated clock by delta_us (negative = backwards). */
void tt_sim_clock_step(struct tt_clock *c, tt_micros delta_us);
/* Replaces the parameters: offset_us holds from the current true time on and
 * drift accrues from it. */
void tt_sim_clock_set(struct tt_clock *c, const struct tt_sim_params *p);

/* ---- a private chronyd pair (tests, demo, local clusters) --------------- */

/*
 * Starts two chronyd processes on loopback that never touch the system clock
 * (-x): a "server" with `local stratum 8`, and a "client" that polls it every
 * 250 ms and exposes its command socket at <dir>/run/chronyd.sock and on UDP
 * 127.0.0.1:<client_cmd_port>. Both run as children of the caller and die
 * with it (PR_SET_PDEATHSIG). `dir` must exist and be short enough for a
 * Unix socket path (<= 80 bytes). Returns 0, SP_EIO (cannot write configs or
 * spawn chronyd; err says which) or SP_ENOTFOUND (chronyd not installed).
 */
struct tt_chrony_pair {
    char dir[84];
    char socket_path[TT_PATH_MAX];
    int server_port;     /* NTP port of the server instance */
    int client_cmd_port; /* cmdmon UDP port of the client instance */
    int server_pid, client_pid;
};

int tt_chrony_pair_start(const char *dir, struct tt_chrony_pair *p, struct sp_err *err);
/* Stops or restarts only the client instance (the one clocks talk to). */
void tt_chrony_pair_stop_client(struct tt_chrony_pair *p);
int tt_chrony_pair_start_client(struct tt_chrony_pair *p, struct sp_err *err);
/* Stops both (SIGTERM, then SIGKILL after 3 s). Idempotent. */
void tt_chrony_pair_stop(struct tt_chrony_pair *p);
/* Fills cfg for a chrony clock on this pair's Unix socket. */
void tt_chrony_pair_config(const struct tt_chrony_pair *p, struct tt_config *cfg);

#endif /* TRUETIME_H */

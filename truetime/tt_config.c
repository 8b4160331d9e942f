/*
 * tt_config.c - TrueTime configuration: defaults, parsing by name, checks.
 *
 * Every error names the key, the value given and what was expected, so a
 * wrong line in a cluster config is found at once.
 */
#include "truetime.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void tt_config_init(struct tt_config *cfg)
{
    SP_ASSERT(cfg != NULL);
    memset(cfg, 0, sizeof *cfg);
    cfg->backend = TT_BACKEND_CHRONY;
    snprintf(cfg->chrony_socket, sizeof cfg->chrony_socket, "%s", "/var/run/chrony/chronyd.sock");
    snprintf(cfg->chrony_host, sizeof cfg->chrony_host, "%s", "127.0.0.1");
    cfg->refresh_ms = 1000;
    cfg->request_timeout_ms = 200;
    cfg->max_drift_ppm = 50.0;
    cfg->degraded_after_ms = 3000;
    cfg->unknown_after_ms = 30000;
    cfg->max_eps_us = 250000;
    cfg->fixed_eps_us = 4000;
}

static int parse_u32(const char *key, const char *v, uint32_t lo, uint32_t hi, uint32_t *out,
                     struct sp_err *err)
{
    char *end;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    if (errno || end == v || *end != '\0' || v[0] == '-' || x < lo || x > hi)
        return sp_err_set(err, SP_ECONFIG,
                          "truetime config: %s = \"%s\": expected an integer in [%u, %u]", key, v,
                          lo, hi);
    *out = (uint32_t) x;
    return 0;
}

static int parse_i64(const char *key, const char *v, int64_t lo, int64_t hi, int64_t *out,
                     struct sp_err *err)
{
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno || end == v || *end != '\0' || x < lo || x > hi)
        return sp_err_set(err, SP_ECONFIG,
                          "truetime config: %s = \"%s\": expected an integer in [%lld, %lld]", key,
                          v, (long long) lo, (long long) hi);
    *out = x;
    return 0;
}

static int parse_backend(const char *v, struct tt_config *c, struct sp_err *err)
{
    if (strcmp(v, "chrony") == 0)
        c->backend = TT_BACKEND_CHRONY;
    else if (strcmp(v, "fixed") == 0)
        c->backend = TT_BACKEND_FIXED;
    else if (strcmp(v, "sim") == 0)
        c->backend = TT_BACKEND_SIM;
    else if (strcmp(v, "ptp") == 0)
        c->backend = TT_BACKEND_CHRONY; /* PTP reaches us through chrony's refclock PHC */
    else
        return sp_err_set(err, SP_ECONFIG,
                          "truetime config: backend = \"%s\": expected chrony, ptp, fixed or sim",
                          v);
    return 0;
}

/* "host:port" with an IPv4 literal host. */
static int parse_udp(const char *v, struct tt_config *c, struct sp_err *err)
{
    const char *colon = strrchr(v, ':');
    uint32_t port = 0; /* set when parse_u32 succeeds; -O3 cannot tell */
    if (!colon || colon == v || (size_t) (colon - v) >= sizeof c->chrony_host ||
        parse_u32("chrony_udp port", colon + 1, 1, 65535, &port, NULL))
        return sp_err_set(err, SP_ECONFIG,
                          "truetime config: chrony_udp = \"%s\": expected HOST:PORT with port in "
                          "[1, 65535], e.g. 127.0.0.1:323",
                          v);
    snprintf(c->chrony_host, sizeof c->chrony_host, "%.*s", (int) (colon - v), v);
    c->chrony_udp_port = (int) port;
    return 0;
}

static int parse_drift(const char *v, struct tt_config *c, struct sp_err *err)
{
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (errno || end == v || *end != '\0' || !isfinite(d) || d < 1.0 || d > 10000.0)
        return sp_err_set(err, SP_ECONFIG,
                          "truetime config: max_drift_ppm = \"%s\": expected a number in [1, "
                          "10000] that is at least chrony's maxclockerror (default 50)",
                          v);
    c->max_drift_ppm = d;
    return 0;
}

int tt_config_set(struct tt_config *cfg, const char *key, const char *value, struct sp_err *err)
{
    SP_ASSERT(cfg != NULL);
    if (!key || !value)
        return sp_err_set(err, SP_ECONFIG, "truetime config: missing key or value");
    struct tt_config c = *cfg;
    int rc;
    if (strcmp(key, "backend") == 0)
        rc = parse_backend(value, &c, err);
    else if (strcmp(key, "chrony_socket") == 0) {
        if (value[0] != '/' || strlen(value) >= sizeof c.chrony_socket)
            return sp_err_set(err, SP_ECONFIG,
                              "truetime config: chrony_socket = \"%s\": expected an absolute "
                              "path shorter than %zu bytes",
                              value, sizeof c.chrony_socket);
        snprintf(c.chrony_socket, sizeof c.chrony_socket, "%s", value);
        c.chrony_udp_port = 0;
        rc = 0;
    } else if (strcmp(key, "chrony_udp") == 0)
        rc = parse_udp(value, &c, err);
    else if (strcmp(key, "refresh_ms") == 0)
        rc = parse_u32(key, value, 10, 60000, &c.refresh_ms, err);
    else if (strcmp(key, "request_timeout_ms") == 0)
        rc = parse_u32(key, value, 1, 10000, &c.request_timeout_ms, err);
    else if (strcmp(key, "max_drift_ppm") == 0)
        rc = parse_drift(value, &c, err);
    else if (strcmp(key, "degraded_after_ms") == 0)
        rc = parse_u32(key, value, 10, 3600000, &c.degraded_after_ms, err);
    else if (strcmp(key, "unknown_after_ms") == 0)
        rc = parse_u32(key, value, 10, 3600000, &c.unknown_after_ms, err);
    else if (strcmp(key, "max_eps_us") == 0)
        rc = parse_i64(key, value, 1, 60000000, &c.max_eps_us, err);
    else if (strcmp(key, "fixed_eps_us") == 0)
        rc = parse_i64(key, value, 0, 60000000, &c.fixed_eps_us, err);
    else
        rc = sp_err_set(err, SP_ECONFIG,
                        "truetime config: unknown key \"%s\" (expected backend, chrony_socket, "
                        "chrony_udp, refresh_ms, request_timeout_ms, max_drift_ppm, "
                        "degraded_after_ms, unknown_after_ms, max_eps_us, fixed_eps_us)",
                        key);
    if (rc == 0)
        *cfg = c;
    return rc;
}

int tt_config_validate(const struct tt_config *cfg, struct sp_err *err)
{
    SP_ASSERT(cfg != NULL);
    if (cfg->degraded_after_ms >= cfg->unknown_after_ms)
        return sp_err_set(err, SP_ECONFIG,
                          "truetime config: degraded_after_ms (%u) must be below "
                          "unknown_after_ms (%u)",
                          cfg->degraded_after_ms, cfg->unknown_after_ms);
    if (cfg->request_timeout_ms > cfg->refresh_ms)
        return sp_err_set(err, SP_ECONFIG,
                          "truetime config: request_timeout_ms (%u) must not exceed refresh_ms "
                          "(%u)",
                          cfg->request_timeout_ms, cfg->refresh_ms);
    if (!(cfg->max_drift_ppm >= 1.0 && cfg->max_drift_ppm <= 10000.0))
        return sp_err_set(err, SP_ECONFIG,
                          "truetime config: max_drift_ppm = %g: expected [1, 10000]",
                          cfg->max_drift_ppm);
    if (cfg->fixed_eps_us < 0 || cfg->max_eps_us <= 0)
        return sp_err_set(err, SP_ECONFIG, "truetime config: eps values must be positive");
    return 0;
}

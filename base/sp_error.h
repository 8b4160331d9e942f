/*
 * sp_error.h - the project's one error table, and error objects that carry a
 * human message each layer wraps.
 *
 * Every function in the project returns int: 0 (SP_OK) for success, or one of
 * the SP_E* codes below. Codes are grouped in ranges, one per module, so a
 * code alone says which layer produced it:
 *
 *     1..99     base (arguments, memory, I/O, corruption)
 *     100..199  truetime
 *     200..299  paxos
 *     300..399  txn
 *     400..499  spanner (server, client, CLI, config)
 *     500..599  sim
 *
 * Codes are stable: they travel on the wire and appear in logs, so a code is
 * never renumbered; new ones are appended inside their range.
 *
 * An error object (struct sp_err) carries the code plus a message that each
 * layer prefixes with its own context, outermost first:
 *     "txn 42: prepare: paxos: disk: short write"
 */
#ifndef SP_ERROR_H
#define SP_ERROR_H

#include <stddef.h>

/* X(name, value, text) */
#define SP_ERROR_TABLE(X)                                                          \
    X(SP_OK, 0, "success")                                                         \
    X(SP_EINVAL, 1, "invalid argument")                                            \
    X(SP_ENOMEM, 2, "out of memory")                                               \
    X(SP_EIO, 3, "I/O error")                                                      \
    X(SP_ECORRUPT, 4, "corrupt data")                                              \
    X(SP_ETIMEDOUT, 5, "timed out")                                                \
    X(SP_ENOTFOUND, 6, "not found")                                                \
    X(SP_EFULL, 7, "queue or buffer full")                                         \
    X(SP_ECLOSED, 8, "object closed or in error state")                            \
    X(SP_ECONFIG, 9, "invalid configuration")                                      \
    X(SP_ERANGE, 10, "value out of range")                                         \
    X(SP_ETT_UNKNOWN, 100, "clock status unknown: no trustworthy time bound")      \
    X(SP_ETT_UNREACHABLE, 101, "chronyd unreachable")                              \
    X(SP_ETT_PROTO, 102, "malformed reply from chronyd")                           \
    X(SP_ETT_SEQ, 103, "reply from chronyd with wrong sequence number")            \
    X(SP_ETT_STATUS, 104, "chronyd refused the request")                           \
    X(SP_ETT_UNSYNC, 105, "chronyd reports the clock unsynchronised")              \
    X(SP_EPAXOS_NOT_LEADER, 200, "not the leader")                                 \
    X(SP_EPAXOS_STALE_BALLOT, 201, "stale ballot")                                 \
    X(SP_EPAXOS_NO_LEASE, 202, "leader lease not held")                            \
    X(SP_EPAXOS_BUSY, 203, "in-flight window full")                                \
    X(SP_EPAXOS_FAILED, 204, "replica failed and refuses work")                    \
    X(SP_ETXN_ABORTED, 300, "transaction aborted (retryable)")                     \
    X(SP_ETXN_WOUNDED, 301, "transaction wounded by an older one (retryable)")     \
    X(SP_ETXN_UNKNOWN, 302, "transaction outcome unknown")                         \
    X(SP_ETXN_TOO_OLD, 303, "read timestamp below the GC horizon")                 \
    X(SP_ETXN_TOO_LARGE, 304, "value larger than the configured limit")            \
    X(SP_ETXN_NOT_SAFE, 305, "timestamp not yet safe at this replica")             \
    X(SP_ESP_UNAVAILABLE, 400, "server unavailable")                               \
    X(SP_ESP_PROTOCOL, 401, "protocol error")                                      \
    X(SP_ESIM_VIOLATION, 500, "consistency violation found")

enum sp_code {
#define SP__ENUM(name, value, text) name = value,
    SP_ERROR_TABLE(SP__ENUM)
#undef SP__ENUM
};

/* Returns a static, never-NULL description of `code` ("unknown error N" is
 * formatted into a thread-local buffer for codes outside the table). */
const char *sp_strerror(int code);

/* Returns the symbolic name of `code` ("SP_EINVAL"), or "SP_E?" if unknown. */
const char *sp_errname(int code);

#define SP_ERR_MSG_MAX 256

/* An error object: a code plus a message. Caller-allocated; zero it (or call
 * sp_err_clear) before first use. The message is always NUL-terminated and
 * truncated, never overflowed, at SP_ERR_MSG_MAX - 1 bytes. */
struct sp_err {
    int code;
    char msg[SP_ERR_MSG_MAX];
};

void sp_err_clear(struct sp_err *e);

/* Sets code and message (printf-style). Returns `code` so callers can write
 * `return sp_err_set(e, SP_EINVAL, "bad %s", what);`. `e` may be NULL, in
 * which case only the code is returned. */
int sp_err_set(struct sp_err *e, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prefixes the existing message with context: "ctx: old message". Keeps the
 * code. Returns the code. `e` may be NULL. */
int sp_err_wrap(struct sp_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif /* SP_ERROR_H */

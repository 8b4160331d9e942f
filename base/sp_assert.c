/*
 * sp_assert.c - assertion failure and corruption reporting.
 */
#include "sp_assert.h"
#include "sp_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static sp_assert_handler_fn handler;

void sp_assert_set_handler(sp_assert_handler_fn fn)
{
    handler = fn;
}

_Noreturn void sp__assert_fail(const char *expr, const char *file, int line)
{
    if (handler) {
        /* cmocka's mock_assert longjmps out of a failed expectation; if a
         * handler ever returns, the failure still stops the process. */
        handler(0, expr, file, line);
    }
    sp__log(SP_LOG_ERROR, file, line, "assertion failed: %s", expr);
    fflush(stderr);
    abort();
}

int sp__corrupt(struct sp_err *e, const char *file, int line, const char *fmt, ...)
{
    char msg[SP_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (SP_LOG_ERROR <= sp_log_level)
        sp__log(SP_LOG_ERROR, file, line, "corruption: %s", msg);
    return sp_err_set(e, SP_ECORRUPT, "corruption at %s:%d: %s", file, line, msg);
}

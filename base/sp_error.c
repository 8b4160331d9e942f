/*
 * sp_error.c - the error table's strings and the error object helpers.
 */
#include "sp_error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *sp_strerror(int code)
{
    static _Thread_local char unknown[40];
    switch (code) {
#define SP__CASE(name, value, text)                                                                \
    case value:                                                                                    \
        return text;
        SP_ERROR_TABLE(SP__CASE)
#undef SP__CASE
    }
    snprintf(unknown, sizeof unknown, "unknown error %d", code);
    return unknown;
}

const char *sp_errname(int code)
{
    switch (code) {
#define SP__CASE(name, value, text)                                                                \
    case value:                                                                                    \
        return #name;
        SP_ERROR_TABLE(SP__CASE)
#undef SP__CASE
    }
    return "SP_E?";
}

void sp_err_clear(struct sp_err *e)
{
    if (e) {
        e->code = SP_OK;
        e->msg[0] = '\0';
    }
}

int sp_err_set(struct sp_err *e, int code, const char *fmt, ...)
{
    if (!e)
        return code;
    e->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    return code;
}

int sp_err_wrap(struct sp_err *e, const char *fmt, ...)
{
    if (!e)
        return SP_EINVAL;
    char prefix[SP_ERR_MSG_MAX];
    char old[SP_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, e->msg, sizeof old);
    const char *rest = old[0] == '\0' ? sp_strerror(e->code) : old;
    /* Truncation at SP_ERR_MSG_MAX is intended: the innermost detail is cut
     * first, the outer context survives. */
    char joined[2 * SP_ERR_MSG_MAX + 4];
    snprintf(joined, sizeof joined, "%s: %s", prefix, rest);
    snprintf(e->msg, sizeof e->msg, "%.*s", (int) sizeof e->msg - 1, joined);
    return e->code;
}

/*
 * sp_log.c - default log sink and level handling.
 */
#include "sp_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int sp_log_level = SP_LOG_WARN;

static void default_sink(void *ctx, int level, const char *file, int line, const char *msg)
{
    (void) ctx;
    const char *base = strrchr(file, '/');
    fprintf(stderr, "%-5s %s:%d: %s\n", sp_log_level_name(level), base ? base + 1 : file, line,
            msg);
}

static sp_log_sink_fn sink = default_sink;
static void *sink_ctx;

void sp_log_set_sink(sp_log_sink_fn fn, void *ctx)
{
    sink = fn ? fn : default_sink;
    sink_ctx = fn ? ctx : NULL;
}

static const char *const names[] = {"ERROR", "WARN", "INFO", "DEBUG", "TRACE"};

const char *sp_log_level_name(int level)
{
    if (level < 0 || level > SP_LOG_TRACE)
        return "?";
    return names[level];
}

int sp_log_level_parse(const char *name)
{
    for (int i = 0; i <= SP_LOG_TRACE; i++)
        if (strcasecmp(name, names[i]) == 0)
            return i;
    return -1;
}

void sp__log(int level, const char *file, int line, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    sink(sink_ctx, level, file, line, msg);
}

void sp_log_level_from_env(void)
{
    const char *v = getenv("SP_LOG");
    int level = v ? sp_log_level_parse(v) : -1;
    if (level >= 0)
        sp_log_level = level;
}

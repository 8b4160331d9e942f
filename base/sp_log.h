/*
 * sp_log.h - the injected logger.
 *
 * SP_LOG(level, fmt, ...) checks the level before evaluating its arguments, so
 * a disabled debug line costs one load and one compare. Lines go to a sink
 * function: the default writes "LEVEL file:line: message" to stderr; the
 * simulator installs one that prefixes virtual time and node id. Cores never
 * printf; they log through this.
 *
 * Threads: the level and sink are plain globals set at start-up, before any
 * thread logs; the default sink writes each line with one fprintf call.
 */
#ifndef SP_LOG_H
#define SP_LOG_H

enum sp_log_level { SP_LOG_ERROR = 0, SP_LOG_WARN, SP_LOG_INFO, SP_LOG_DEBUG, SP_LOG_TRACE };

typedef void (*sp_log_sink_fn)(void *ctx, int level, const char *file, int line, const char *msg);

extern int sp_log_level; /* lines with level > sp_log_level are dropped */

void sp_log_set_sink(sp_log_sink_fn fn, void *ctx); /* NULL restores the default */
const char *sp_log_level_name(int level);
/* Parses "error", "warn", "info", "debug", "trace"; returns -1 otherwise. */
int sp_log_level_parse(const char *name);
/* Sets sp_log_level from the environment variable SP_LOG, if it names a
 * level (programs' start-up; not thread-safe). */
void sp_log_level_from_env(void);

void sp__log(int level, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define SP_LOG(level, ...)                                                                         \
    do {                                                                                           \
        if ((level) <= sp_log_level)                                                               \
            sp__log((level), __FILE__, __LINE__, __VA_ARGS__);                                     \
    } while (0)

#define SP_ERROR(...) SP_LOG(SP_LOG_ERROR, __VA_ARGS__)
#define SP_WARN(...)  SP_LOG(SP_LOG_WARN, __VA_ARGS__)
#define SP_INFO(...)  SP_LOG(SP_LOG_INFO, __VA_ARGS__)
#define SP_DEBUG(...) SP_LOG(SP_LOG_DEBUG, __VA_ARGS__)

#endif /* SP_LOG_H */

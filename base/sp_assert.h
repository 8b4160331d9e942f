/*
 * sp_assert.h - assertions that stay on in production, and a corruption macro.
 *
 * SP_ASSERT(cond)   always compiled in; for cheap checks of arguments and
 *                   state on entry. A failure logs the expression, file and
 *                   line and aborts (Redis keeps its asserts on; so do we:
 *                   a replica that continues past a broken invariant can
 *                   corrupt replicated data).
 * SP_DASSERT(cond)  costly invariant checks; compiled in only when
 *                   SP_DEBUG_ASSERTS is defined (tests and sanitizer builds).
 * SP_CORRUPT(e, fmt, ...)
 *                   every decode or checksum failure goes through here: logs
 *                   file and line where corruption was first seen (SQLite's
 *                   SQLITE_CORRUPT_BKPT) and sets SP_ECORRUPT in error
 *                   object `e`; evaluates to SP_ECORRUPT.
 *
 * Under cmocka, a test installs a handler with sp_assert_set_handler() that
 * forwards to cmocka's mock_assert(), so expect_assert_failure() can catch
 * assertion failures in the code under test; the libraries are built once.
 */
#ifndef SP_ASSERT_H
#define SP_ASSERT_H

#include "sp_error.h"

typedef void (*sp_assert_handler_fn)(int result, const char *expr, const char *file, int line);

/* Installs `fn` as the failure handler (NULL restores log-and-abort). The
 * handler is called only for failed assertions (result == 0). Not thread-safe
 * against concurrent assertion failures; install it before starting threads. */
void sp_assert_set_handler(sp_assert_handler_fn fn);

/* Called on failure; never returns (a test handler leaves by longjmp). */
_Noreturn void sp__assert_fail(const char *expr, const char *file, int line);

#define SP_ASSERT(cond) ((cond) ? (void) 0 : sp__assert_fail(#cond, __FILE__, __LINE__))

#ifdef SP_DEBUG_ASSERTS
#define SP_DASSERT(cond) SP_ASSERT(cond)
#else
#define SP_DASSERT(cond) ((void) sizeof(cond))
#endif

int sp__corrupt(struct sp_err *e, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define SP_CORRUPT(e, ...) sp__corrupt((e), __FILE__, __LINE__, __VA_ARGS__)

#endif /* SP_ASSERT_H */

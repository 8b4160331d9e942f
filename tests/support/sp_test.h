/*
 * sp_test.h - glue between the project's assertions and cmocka.
 *
 * Include after <cmocka.h>. Call sp_test_route_asserts() at the top of main()
 * so a failed SP_ASSERT in code under test reaches cmocka's mock_assert(),
 * which expect_assert_failure() can catch.
 */
#ifndef SP_TEST_H
#define SP_TEST_H

#include "sp_assert.h"

static void sp_test__assert_handler(int result, const char *expr, const char *file, int line)
{
    mock_assert(result, expr, file, line);
}

static inline void sp_test_route_asserts(void)
{
    sp_assert_set_handler(sp_test__assert_handler);
}

#endif /* SP_TEST_H */

/*
 * test_config.c - TrueTime configuration: defaults, every key, and clear
 * errors for invalid values that leave the configuration unchanged.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "sp_test.h"
#include "truetime.h"

#include <string.h>

static void test_defaults(void **state)
{
    (void) state;
    struct tt_config c;
    tt_config_init(&c);
    assert_int_equal(c.backend, TT_BACKEND_CHRONY);
    assert_float_equal(c.max_drift_ppm, 50.0, 0);
    assert_int_equal(c.fixed_eps_us, 4000);
    assert_int_equal(c.refresh_ms, 1000);
    assert_int_equal(tt_config_validate(&c, NULL), 0);
}

static void test_valid_values(void **state)
{
    (void) state;
    struct tt_config c;
    tt_config_init(&c);
    struct sp_err e = {0};
    assert_int_equal(tt_config_set(&c, "backend", "fixed", &e), 0);
    assert_int_equal(c.backend, TT_BACKEND_FIXED);
    assert_int_equal(tt_config_set(&c, "backend", "ptp", &e), 0);
    assert_int_equal(c.backend, TT_BACKEND_CHRONY); /* PTP arrives through chrony */
    assert_int_equal(tt_config_set(&c, "chrony_udp", "127.0.0.1:1323", &e), 0);
    assert_string_equal(c.chrony_host, "127.0.0.1");
    assert_int_equal(c.chrony_udp_port, 1323);
    assert_int_equal(tt_config_set(&c, "chrony_socket", "/run/x.sock", &e), 0);
    assert_int_equal(c.chrony_udp_port, 0);
    assert_int_equal(tt_config_set(&c, "max_drift_ppm", "75.5", &e), 0);
    assert_float_equal(c.max_drift_ppm, 75.5, 0);
    assert_int_equal(tt_config_set(&c, "unknown_after_ms", "5000", &e), 0);
    assert_int_equal(c.unknown_after_ms, 5000);
}

static void expect_rejected(const char *key, const char *value, const char *what)
{
    struct tt_config c, before;
    tt_config_init(&c);
    before = c;
    struct sp_err e = {0};
    assert_int_equal(tt_config_set(&c, key, value, &e), SP_ECONFIG);
    if (!strstr(e.msg, what))
        fail_msg("error \"%s\" does not mention \"%s\"", e.msg, what);
    assert_memory_equal(&c, &before, sizeof c);
}

static void test_invalid_values(void **state)
{
    (void) state;
    expect_rejected("backend", "gps", "backend = \"gps\"");
    expect_rejected("max_drift_ppm", "0.5", "max_drift_ppm = \"0.5\"");
    expect_rejected("max_drift_ppm", "abc", "max_drift_ppm");
    expect_rejected("max_drift_ppm", "nan", "max_drift_ppm");
    expect_rejected("refresh_ms", "-5", "refresh_ms = \"-5\"");
    expect_rejected("refresh_ms", "10x", "refresh_ms = \"10x\"");
    expect_rejected("refresh_ms", "99999999999999999999", "refresh_ms");
    expect_rejected("chrony_udp", "127.0.0.1", "chrony_udp = \"127.0.0.1\"");
    expect_rejected("chrony_udp", "127.0.0.1:70000", "chrony_udp");
    expect_rejected("chrony_socket", "relative.sock", "absolute path");
    expect_rejected("fixed_eps_us", "", "fixed_eps_us");
    expect_rejected("colour", "blue", "unknown key \"colour\"");
}

static void test_cross_field_rules(void **state)
{
    (void) state;
    struct tt_config c;
    tt_config_init(&c);
    c.degraded_after_ms = 5000;
    c.unknown_after_ms = 4000;
    struct sp_err e = {0};
    assert_int_equal(tt_config_validate(&c, &e), SP_ECONFIG);
    assert_non_null(strstr(e.msg, "degraded_after_ms"));
    struct tt_clock *clk = NULL;
    assert_int_equal(tt_clock_create(&c, &clk, &e), SP_ECONFIG); /* never starts */
    assert_null(clk);
    tt_config_init(&c);
    c.request_timeout_ms = 2000;
    assert_int_equal(tt_config_validate(&c, &e), SP_ECONFIG);
    assert_non_null(strstr(e.msg, "request_timeout_ms"));
}

int main(void)
{
    sp_test_route_asserts();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_valid_values),
        cmocka_unit_test(test_invalid_values),
        cmocka_unit_test(test_cross_field_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

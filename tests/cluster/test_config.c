/*
 * test_config.c - the cluster configuration: a full valid file parses into
 * the expected placement, ranges, latencies and TrueTime settings; each kind
 * of mistake is an error naming the file, the field and what was expected.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "config.h"
#include "sp_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const VALID =
    "{\"zones\": [\"us\", \"eu\", \"asia\"],\n"
    " \"nodes\": [\n"
    "  {\"id\": 1, \"zone\": \"us\", \"addr\": \"127.0.0.1:7101\", \"data\": \"n1\"},\n"
    "  {\"id\": 2, \"zone\": \"eu\", \"addr\": \"127.0.0.1:7102\", \"data\": \"/abs/n2\"},\n"
    "  {\"id\": 3, \"zone\": \"asia\", \"addr\": \"127.0.0.1:7103\", \"data\": \"n3\"},\n"
    "  {\"id\": 4, \"zone\": \"us\", \"addr\": \"127.0.0.1:7104\", \"data\": \"n4\"}],\n"
    " \"groups\": [\n"
    "  {\"id\": 2, \"start\": \"m\", \"end\": \"\", \"voters\": [\"us\", \"eu\", \"asia\"],\n"
    "   \"leader\": \"eu\"},\n"
    "  {\"id\": 1, \"start\": \"\", \"end\": \"m\", \"voters\": [\"us\", \"eu\"],\n"
    "   \"read_only\": [\"asia\"], \"leader\": \"us\"}],\n"
    " \"truetime\": {\"backend\": \"fixed\", \"fixed_eps_us\": 2000, \"max_drift_ppm\": 75.5},\n"
    " \"latency_ms\": {\"us-eu\": 40, \"us-asia\": 80.5},\n"
    " \"lease_ms\": 2000}\n";

static struct sp_cluster_conf conf;

static void test_valid(void **state)
{
    (void) state;
    struct sp_err e = {0};
    assert_int_equal(sp_conf_parse(VALID, "c.conf", "/base", &conf, &e), 0);
    assert_int_equal(conf.n_zones, 3);
    assert_int_equal(conf.n_nodes, 4);
    assert_string_equal(conf.nodes[0].data, "/base/n1");
    assert_string_equal(conf.nodes[1].data, "/abs/n2");
    /* groups sorted by start; group 1 = ["", "m") */
    assert_int_equal(conf.groups[0].id, 1);
    assert_int_equal(conf.groups[0].n_voters, 2);
    assert_int_equal(conf.groups[0].n_read_only, 1);
    assert_int_equal(conf.groups[0].read_only[0], 3);
    /* us has nodes 1 and 4: group 1 -> 1 % 2 = index 1 -> node 4; group 2 -> node 1 */
    assert_int_equal(conf.groups[0].voters[0], 4);
    assert_int_equal(conf.groups[1].voters[0], 1);
    assert_int_equal(conf.groups[1].leader_zone, 1);
    assert_int_equal(sp_conf_group_for_key(&conf, "apple", 5)->id, 1);
    assert_int_equal(sp_conf_group_for_key(&conf, "", 0)->id, 1);
    assert_int_equal(sp_conf_group_for_key(&conf, "m", 1)->id, 2);
    assert_int_equal(sp_conf_group_for_key(&conf, "lzzz", 4)->id, 1);
    assert_int_equal(sp_conf_group_for_key(&conf, "zebra", 5)->id, 2);
    assert_int_equal(conf.tt.backend, TT_BACKEND_FIXED);
    assert_int_equal(conf.tt.fixed_eps_us, 2000);
    assert_float_equal(conf.tt.max_drift_ppm, 75.5, 0);
    assert_int_equal(sp_conf_latency(&conf, 1, 2), 40000);
    assert_int_equal(sp_conf_latency(&conf, 3, 1), 80500);
    assert_int_equal(sp_conf_latency(&conf, 2, 3), 0);
    assert_int_equal(sp_conf_latency(&conf, 1, 4), 0);
    assert_int_equal(conf.lease_us, 2000000);
    assert_int_equal(conf.min_next_us, 100000); /* the default */
}

/* Replaces the first occurrence of from with to in VALID and expects an
 * error containing every one of the needles. */
static void expect_bad(const char *from, const char *to, const char *needle)
{
    char text[4096];
    const char *p = strstr(VALID, from);
    assert_non_null(p);
    snprintf(text, sizeof text, "%.*s%s%s", (int) (p - VALID), VALID, to, p + strlen(from));
    struct sp_err e = {0};
    assert_int_equal(sp_conf_parse(text, "c.conf", "/base", &conf, &e), SP_ECONFIG);
    if (!strstr(e.msg, "c.conf: ") || !strstr(e.msg, needle))
        fail_msg("error \"%s\" does not name the file and \"%s\"", e.msg, needle);
}

static void test_errors_name_file_and_field(void **state)
{
    (void) state;
    expect_bad("{\"zones\"", "{\"zones\" 1", "line 1");                       /* syntax */
    expect_bad("\"lease_ms\": 2000", "\"lease_ms\": 1", "lease_ms: \"lease_ms\" must be");
    expect_bad("\"lease_ms\"", "\"lease\"", "unknown key \"lease\"");
    expect_bad("\"zone\": \"eu\"", "\"zone\": \"mars\"", "nodes[1]: zone \"mars\" is not declared");
    expect_bad("\"id\": 2, \"zone\"", "\"id\": 1, \"zone\"", "nodes[1]: node id 1 is used twice");
    expect_bad("127.0.0.1:7103", "127.0.0.1", "nodes[2]: addr \"127.0.0.1\": expected HOST:PORT");
    expect_bad("\"voters\": [\"us\", \"eu\", \"asia\"]", "\"voters\": [\"us\", \"moon\"]",
               "groups[0].voters: entry 1: expected a zone declared");
    expect_bad("\"voters\": [\"us\", \"eu\"]", "\"voters\": [\"us\", \"asia\"]",
               "zone \"asia\" is listed twice");
    expect_bad("\"leader\": \"eu\"", "\"leader\": \"asia2\"", "groups[0]: leader \"asia2\"");
    expect_bad("\"end\": \"m\"", "\"end\": \"k\"", "ends at \"k\" but the next range starts at \"m\"");
    expect_bad("\"start\": \"\", \"end\": \"m\"", "\"start\": \"a\", \"end\": \"m\"",
               "no group starts at \"\"");
    expect_bad("\"fixed_eps_us\": 2000", "\"fixed_eps_us\": -3", "truetime.fixed_eps_us");
    expect_bad("\"backend\": \"fixed\"", "\"backend\": \"sundial\"", "backend = \"sundial\"");
    expect_bad("\"us-eu\": 40", "\"us-mars\": 40", "latency_ms.us-mars");
    expect_bad("\"us-eu\": 40", "\"us-eu\": -1", "expected milliseconds");
    expect_bad("\"zones\": [\"us\", \"eu\", \"asia\"]", "\"zones\": [\"us\", \"us\"]",
               "zones[1]: zone \"us\" is declared twice");
}

static void test_load_file(void **state)
{
    (void) state;
    char dir[] = "/tmp/conf-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof path, "%s/cluster.conf", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(VALID, f);
    fclose(f);
    struct sp_err e = {0};
    assert_int_equal(sp_conf_load(path, &conf, &e), 0);
    char want[96];
    snprintf(want, sizeof want, "%s/n1", dir);
    assert_string_equal(conf.nodes[0].data, want); /* relative to the file */
    unlink(path);
    rmdir(dir);
    assert_int_equal(sp_conf_load(path, &conf, &e), SP_EIO);
    assert_non_null(strstr(e.msg, path));
}

int main(void)
{
    sp_test_route_asserts();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_errors_name_file_and_field),
        cmocka_unit_test(test_load_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

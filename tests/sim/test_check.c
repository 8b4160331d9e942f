/*
 * test_check.c - spanner-check on hand-written histories with one known
 * anomaly each (the checker must name it), on clean ones (it must pass them),
 * and on malformed input (it must name the line).
 *
 * Histories are written with single quotes for readability; q() turns them
 * into JSON. Times: invoke/complete in microseconds; "ts" is the commit or
 * read timestamp.
 */
#include <setjmp.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sim.h"
#include "sp_test.h"

/* Loads and checks `text` (single quotes become double quotes). Returns the
 * load or check code; *out gets the report (NULL on load errors). */
static int run(const char *text, enum sim_workload w, struct sim_report **out, struct sp_err *err)
{
    char *s = strdup(text);
    assert_non_null(s);
    for (char *p = s; *p; p++)
        if (*p == '\'')
            *p = '"';
    FILE *f = fmemopen(s, strlen(s), "r");
    assert_non_null(f);
    struct sim_history *h;
    int rc = sim_history_load(f, &h, err);
    fclose(f);
    free(s);
    *out = NULL;
    if (rc)
        return rc;
    struct sim_check_options o = {.workload = w};
    rc = sim_check(h, &o, out, err);
    sim_history_free(h);
    return rc;
}

/* Asserts the history is a violation that includes anomaly `name`; prints
 * the report so a failing test shows what was found instead. */
static void expect_anomaly(const char *text, enum sim_workload w, const char *name)
{
    struct sp_err err = {0};
    struct sim_report *r;
    int rc = run(text, w, &r, &err);
    if (r)
        sim_report_print(r, stdout);
    else
        printf("error: %s\n", err.msg);
    assert_int_equal(rc, SP_ESIM_VIOLATION);
    assert_true(sim_report_has(r, name));
    sim_report_free(r);
}

static void expect_valid(const char *text, enum sim_workload w)
{
    struct sp_err err = {0};
    struct sim_report *r;
    int rc = run(text, w, &r, &err);
    if (r && rc)
        sim_report_print(r, stdout);
    else if (!r)
        printf("error: %s\n", err.msg);
    assert_int_equal(rc, 0);
    assert_int_equal(sim_report_anomalies(r), 0);
    sim_report_free(r);
}

static void expect_input_error(const char *text, const char *msg_part)
{
    struct sp_err err = {0};
    struct sim_report *r;
    int rc = run(text, SIM_WORKLOAD_AUTO, &r, &err);
    printf("error: %s\n", err.msg);
    assert_int_equal(rc, SP_EINVAL);
    assert_null(r);
    assert_non_null(strstr(err.msg, msg_part));
}

#define RW(inv, cpl, ts, ops, out)                                                                 \
    "{'client':'t','mode':'rw','invoke_us':" #inv ",'complete_us':" #cpl ",'ts':" #ts              \
    ",'ops':[" ops "],'outcome':'" out "'}\n"
#define RO(inv, cpl, ts, ops)                                                                      \
    "{'client':'t','mode':'ro','invoke_us':" #inv ",'complete_us':" #cpl ",'ts':" #ts              \
    ",'ops':[" ops "],'outcome':'ok'}\n"
#define A(k, v)  "{'f':'append','key':'" k "','value':" #v "}"
#define R(k, l)  "{'f':'r','key':'" k "','value':" l "}"
#define W(k, v)  "{'f':'w','key':'" k "','value':'" v "'}"
#define RV(k, v) "{'f':'r','key':'" k "','value':'" v "'}"

/* ---- clean histories ----------------------------------------------------------- */

static void test_clean_list_append(void **state)
{
    (void) state;
    expect_valid(RW(0, 10, 5, A("x", 1) "," A("y", 1), "ok")       /* T1 */
                 RW(20, 30, 25, R("x", "[1]") "," A("x", 2), "ok") /* T2 */
                 RO(15, 40, 26, R("x", "[1,2]") "," R("y", "[1]")) /* T3 */
                 RW(50, 60, 0, A("y", 9), "aborted")               /* no effect */
                 RW(50, 60, 0, A("y", 8), "unknown")               /* not applied */
                 RO(70, 80, 75, R("y", "[1]")),
                 SIM_WORKLOAD_AUTO);
}

static void test_clean_register(void **state)
{
    (void) state;
    expect_valid(RW(0, 10, 5, W("x", "a"), "ok")                                     /* */
                 RW(12, 30, 20, RV("x", "a") "," W("x", "b") "," RV("x", "b"), "ok") /* RYW */
                 RO(31, 40, 35, RV("x", "b") "," R("y", "null"))                     /* */
                 RW(41, 50, 45, "{'f':'d','key':'x'}", "ok")                         /* */
                 RO(51, 60, 55, R("x", "null")),
                 SIM_WORKLOAD_REGISTER);
}

/* Generated histories of each workload pass (the generator executes
 * serially in timestamp order). */
static void test_clean_generated(void **state)
{
    (void) state;
    const enum sim_workload ws[] = {SIM_WORKLOAD_LIST_APPEND, SIM_WORKLOAD_REGISTER,
                                    SIM_WORKLOAD_BANK};
    for (size_t i = 0; i < 3 * 4; i++) { /* three workloads, four seeds */
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        struct sp_err err = {0};
        struct sim_gen_options g = {.seed = 7 + i, .txns = 10000, .workload = ws[i % 3]};
        assert_int_equal(sim_generate(f, &g, &err), 0);
        fclose(f);
        f = fmemopen(buf, len, "r");
        struct sim_history *h;
        assert_int_equal(sim_history_load(f, &h, &err), 0);
        fclose(f);
        struct sim_check_options o = {.workload = ws[i % 3]};
        struct sim_report *r;
        int rc = sim_check(h, &o, &r, &err);
        if (rc)
            sim_report_print(r, stdout), printf("seed %" PRIu64 "\n", g.seed);
        assert_int_equal(rc, 0);
        assert_true(sim_report_ran(r, SIM_CHECK_WORKLOAD));
        sim_report_free(r);
        sim_history_free(h);
        free(buf);
    }
}

/* Negative control at scale: the generator's stale replica reads (one
 * version too old, every 25th read-only transaction) must be caught by the
 * timestamp check, the black-box graph and the lost-write check alike. */
static void test_stale_generated(void **state)
{
    (void) state;
    const enum sim_workload ws[] = {SIM_WORKLOAD_LIST_APPEND, SIM_WORKLOAD_REGISTER};
    for (size_t i = 0; i < 2; i++) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        struct sp_err err = {0};
        struct sim_gen_options g = {
            .seed = 3 + i, .txns = 5000, .workload = ws[i], .stale_every = 25};
        assert_int_equal(sim_generate(f, &g, &err), 0);
        fclose(f);
        f = fmemopen(buf, len, "r");
        struct sim_history *h;
        assert_int_equal(sim_history_load(f, &h, &err), 0);
        fclose(f);
        struct sim_check_options o = {.workload = ws[i]};
        struct sim_report *r;
        assert_int_equal(sim_check(h, &o, &r, &err), SP_ESIM_VIOLATION);
        sim_report_print(r, stdout);
        assert_true(sim_report_has(r, "stale-read"));
        assert_true(sim_report_has(r, "lost-write"));
        if (ws[i] == SIM_WORKLOAD_LIST_APPEND)
            assert_true(sim_report_has(r, "G-single-realtime"));
        sim_report_free(r);
        sim_history_free(h);
        free(buf);
    }
}

/* An unknown transaction may have taken effect: later reads see it. */
static void test_unknown_applied(void **state)
{
    (void) state;
    expect_valid(RW(0, 10, 5, A("x", 1), "unknown") RO(20, 30, 25, R("x", "[1]"))
                     RO(40, 50, 45, R("x", "[1]")),
                 SIM_WORKLOAD_AUTO);
}

/* Repeated values: U2 restores the value U1 replaced; a read of it is
 * explained by U2, so U1 (seen by an earlier read) is not "skipped". */
static void test_unknown_repeated_values(void **state)
{
    (void) state;
    expect_valid(RW(0, 10, 5, W("x", "a"), "ok") RW(0, 20, 10, W("x", "b"), "unknown")
                     RO(0, 30, 12, RV("x", "b")) RW(0, 40, 15, W("x", "a"), "unknown")
                         RO(50, 60, 55, RV("x", "a")),
                 SIM_WORKLOAD_REGISTER);
}

/* Without a ts an unknown write cannot be placed: any read may see it. */
static void test_unknown_without_ts(void **state)
{
    (void) state;
    expect_valid(RW(0, 10, 0, W("x", "a"), "unknown") RO(20, 30, 25, RV("x", "a")),
                 SIM_WORKLOAD_REGISTER);
    expect_valid(RW(0, 10, 0, A("x", 1), "unknown") RO(20, 30, 25, R("x", "[1]")),
                 SIM_WORKLOAD_LIST_APPEND);
}

/* ...but not for one reader and not for a later one. */
static void test_unknown_inconsistent(void **state)
{
    (void) state;
    expect_anomaly(RW(0, 10, 5, W("x", "a"), "unknown") RO(20, 30, 25, RV("x", "a"))
                       RO(40, 50, 45, R("x", "null")),
                   SIM_WORKLOAD_REGISTER, "unknown-inconsistent");
}

/* ---- one anomaly each ---------------------------------------------------------- */

/* T1 completes at 10 with ts 100; T2, invoked at 20, commits at ts 50. */
static void test_ts_order(void **state)
{
    (void) state;
    expect_anomaly(RW(0, 10, 100, W("x", "a"), "ok") RW(20, 30, 50, W("y", "b"), "ok"),
                   SIM_WORKLOAD_REGISTER, "ts-order");
    /* The same with a strong read-only T2: it must read at or above 100. */
    expect_anomaly(RW(0, 10, 100, W("x", "a"), "ok") RO(20, 30, 50, RV("x", "a")),
                   SIM_WORKLOAD_REGISTER, "ts-order");
    /* A read-only T1 whose timestamp (100) true time had not reached when it
     * completed (10): harmless, it wrote nothing; T2 may commit at 50. */
    expect_valid(RW(0, 2, 1, W("x", "a"), "ok") RO(3, 10, 100, RV("x", "a"))
                     RW(20, 30, 50, W("y", "b"), "ok"),
                 SIM_WORKLOAD_REGISTER);
}

/* A single-group strong read at LastTS() is held to the writes of its own
 * keys only: a commit elsewhere (y) at a higher ts before it began is fine,
 * one of a key it read (x) is not. */
static void test_single_group_read(void **state)
{
    (void) state;
    const char *single = "{'mode':'ro','single_group':true,'invoke_us':20,'complete_us':30,"
                         "'ts':10,'ops':[" RV("x", "a") "],'outcome':'ok'}\n";
    char h[1024];
    snprintf(h, sizeof h, "%s%s%s", RW(0, 5, 10, W("x", "a"), "ok"), RW(6, 12, 40, W("y", "b"), "ok"),
             single);
    expect_valid(h, SIM_WORKLOAD_REGISTER);
    snprintf(h, sizeof h, "%s%s%s", RW(0, 5, 10, W("x", "a"), "ok"),
             RW(6, 12, 40, W("x", "b"), "ok"), single);
    expect_anomaly(h, SIM_WORKLOAD_REGISTER, "ts-order");
    expect_input_error("{'mode':'rw','single_group':true,'invoke_us':1,'complete_us':2,'ts':1,"
                       "'ops':[],'outcome':'ok'}\n",
                       "\"single_group\": only a strong read-only");
}

/* A read-only transaction may read the initial state at ts 0 (LastTS() of a
 * group never written); a read-write one may not commit at 0, and a read
 * at 0 that returns a value is wrong. */
static void test_read_at_zero(void **state)
{
    (void) state;
    expect_valid(RO(0, 5, 0, R("x", "null")) RW(6, 10, 8, W("x", "a"), "ok"),
                 SIM_WORKLOAD_REGISTER);
    expect_anomaly(RW(0, 2, 1, W("x", "a"), "ok") RO(3, 5, 0, RV("x", "a")),
                   SIM_WORKLOAD_REGISTER, "future-read");
    expect_input_error(RW(0, 5, 0, W("x", "a"), "ok"), "needs a positive timestamp");
}

/* A fault line is counted and skipped; one that claims to be a transaction
 * too is an error. */
static void test_fault_lines(void **state)
{
    (void) state;
    expect_valid("{'fault':'crash','at_us':3,'node':2}\n" RW(0, 10, 5, W("x", "a"), "ok")
                 "{'fault':'partition','at_us':12,'detail':'halves'}\n" RO(20, 30, 25, RV("x", "a")),
                 SIM_WORKLOAD_REGISTER);
    expect_input_error("{'fault':'crash','mode':'rw'}\n", "a fault line is not a transaction");
}

/* A read-only transaction at ts 30 returns the version of ts 10, not 20. */
static void test_stale_read(void **state)
{
    (void) state;
    expect_anomaly(RW(0, 10, 10, W("x", "a"), "ok") RW(0, 20, 20, W("x", "b"), "ok")
                       RO(0, 40, 30, RV("x", "a")),
                   SIM_WORKLOAD_REGISTER, "stale-read");
}

static void test_read_your_writes(void **state)
{
    (void) state;
    expect_anomaly(RW(0, 10, 10, W("x", "a"), "ok")
                       RW(20, 30, 25, W("x", "b") "," RV("x", "a"), "ok"),
                   SIM_WORKLOAD_REGISTER, "read-your-writes");
}

/* An ok transaction reads an append of an aborted one. */
static void test_g1a(void **state)
{
    (void) state;
    const char *h = RW(0, 10, 0, A("x", 1), "aborted") RO(20, 30, 25, R("x", "[1]"));
    expect_anomaly(h, SIM_WORKLOAD_AUTO, "G1a");
    expect_anomaly(RW(0, 10, 0, W("x", "a"), "aborted") RO(20, 30, 25, RV("x", "a")),
                   SIM_WORKLOAD_REGISTER, "G1a");
}

/* T2 sees x = [1], but T1 appended 1 and then 2 to x. */
static void test_g1b(void **state)
{
    (void) state;
    expect_anomaly(RW(0, 10, 5, A("x", 1) "," A("x", 2), "ok") RO(0, 30, 25, R("x", "[1]"))
                       RO(40, 50, 45, R("x", "[1,2]")),
                   SIM_WORKLOAD_AUTO, "G1b");
}

/* Write cycle: x orders T1 before T2, y orders T2 before T1. */
static void test_g0(void **state)
{
    (void) state;
    expect_anomaly(RW(0, 100, 10, A("x", 1) "," A("y", 1), "ok")
                       RW(0, 100, 20, A("x", 2) "," A("y", 2), "ok")
                           RO(0, 100, 30, R("x", "[1,2]") "," R("y", "[2,1]")),
                   SIM_WORKLOAD_AUTO, "G0");
}

/* Each transaction read the other's append: a wr cycle. */
static void test_g1c(void **state)
{
    (void) state;
    expect_anomaly(RW(0, 100, 10, A("x", 1) "," R("y", "[2]"), "ok")
                       RW(0, 100, 20, A("y", 2) "," R("x", "[1]"), "ok"),
                   SIM_WORKLOAD_AUTO, "G1c");
}

/* Read skew: T2 sees T1's y but not its x. */
static void test_g_single(void **state)
{
    (void) state;
    const char *h = RW(0, 100, 10, A("x", 1) "," A("y", 1), "ok")
        RO(0, 100, 20, R("x", "[]") "," R("y", "[1]")) RO(0, 100, 30, R("x", "[1]"));
    expect_anomaly(h, SIM_WORKLOAD_AUTO, "G-single");
    struct sp_err err = {0};
    struct sim_report *r;
    assert_int_equal(run(h, SIM_WORKLOAD_AUTO, &r, &err), SP_ESIM_VIOLATION);
    assert_false(sim_report_has(r, "G2"));
    assert_false(sim_report_has(r, "G0"));
    assert_non_null(strstr(sim_report_detail(r, "G-single"), "line 1"));
    assert_non_null(strstr(sim_report_detail(r, "G-single"), "line 2"));
    sim_report_free(r);
}

/* Write skew: each read the key the other appended to, and missed it. */
static void test_g2(void **state)
{
    (void) state;
    expect_anomaly(RW(0, 100, 10, R("x", "[]") "," A("y", 1), "ok")
                       RW(0, 100, 20, R("y", "[]") "," A("x", 2), "ok")
                           RO(200, 300, 250, R("x", "[2]") "," R("y", "[1]")),
                   SIM_WORKLOAD_AUTO, "G2");
}

/* T1 appended before T2 was invoked, yet T2 does not see it: serializable
 * (T2 before T1) but not strictly. Timestamps are consistent with the read
 * (ts 5 < 10), so only the real-time edge exposes it, besides check 1. */
static void test_realtime(void **state)
{
    (void) state;
    const char *h =
        RW(0, 10, 10, A("x", 1), "ok") RO(20, 30, 5, R("x", "[]")) RO(40, 50, 45, R("x", "[1]"));
    expect_anomaly(h, SIM_WORKLOAD_AUTO, "G-single-realtime");
    expect_anomaly(h, SIM_WORKLOAD_AUTO, "ts-order");
}

/* Real-time variants of the write and read cycles: each needs the rt edge. */
static void test_realtime_variants(void **state)
{
    (void) state;
    /* x's order says T2 before T1, but T1 finished before T2 began */
    expect_anomaly(RW(0, 10, 5, A("x", 1), "ok") RW(20, 30, 25, A("x", 2), "ok")
                       RO(40, 50, 45, R("x", "[2,1]")),
                   SIM_WORKLOAD_AUTO, "G0-realtime");
    /* T1 read T2's append, yet T1 finished before T2 began */
    expect_anomaly(RW(0, 10, 5, R("x", "[2]"), "ok") RW(20, 30, 25, A("x", 2), "ok"),
                   SIM_WORKLOAD_AUTO, "G1c-realtime");
}

/* Observations no version order explains. */
static void test_list_observations(void **state)
{
    (void) state;
    const char *two = RW(0, 100, 5, A("x", 1), "ok") RW(0, 100, 6, A("x", 2), "ok");
    char buf[1024];
    snprintf(buf, sizeof buf, "%s%s%s", two, RO(200, 300, 250, R("x", "[1,2]")),
             RO(200, 300, 251, R("x", "[2,1]")));
    expect_anomaly(buf, SIM_WORKLOAD_AUTO, "incompatible-order");
    snprintf(buf, sizeof buf, "%s%s", two, RO(200, 300, 250, R("x", "[1,2,1]")));
    expect_anomaly(buf, SIM_WORKLOAD_AUTO, "duplicate-elements");
    snprintf(buf, sizeof buf, "%s%s", two, RO(200, 300, 250, R("x", "[1,2,3]")));
    expect_anomaly(buf, SIM_WORKLOAD_AUTO, "garbage-read");
}

/* Register forms: an intermediate value, two writers at one timestamp. */
static void test_register_anomalies(void **state)
{
    (void) state;
    expect_anomaly(RW(0, 10, 5, W("x", "a") "," W("x", "b"), "ok") RO(20, 30, 25, RV("x", "a")),
                   SIM_WORKLOAD_REGISTER, "G1b");
    expect_anomaly(RW(0, 10, 5, W("x", "a"), "ok") RW(0, 10, 5, W("x", "b"), "ok"),
                   SIM_WORKLOAD_REGISTER, "ts-collision");
    expect_anomaly(RW(0, 10, 5, W("x", "a"), "ok") RO(0, 10, 4, RV("x", "a")),
                   SIM_WORKLOAD_REGISTER, "future-read");
    expect_anomaly(RO(0, 10, 4, RV("x", "zz")), SIM_WORKLOAD_REGISTER, "garbage-read");
}

/* A snapshot read at an old timestamp may miss a write that completed
 * before it began; the same read as a strong read may not. */
static void test_snapshot_read(void **state)
{
    (void) state;
    const char *strong =
        RW(0, 10, 10, A("x", 1), "ok") RO(20, 30, 5, R("x", "[]")) RO(40, 50, 45, R("x", "[1]"));
    expect_anomaly(strong, SIM_WORKLOAD_AUTO, "ts-order");
    expect_valid(
        RW(0, 10, 10, A("x", 1),
           "ok") "{'mode':'ro','snapshot':true,'invoke_us':20,'complete_us':30,'ts':5,"
                 "'ops':[" R("x", "[]") "],'outcome':'ok'}\n" RO(40, 50, 45, R("x", "[1]")),
        SIM_WORKLOAD_AUTO);
    expect_input_error("{'mode':'rw','snapshot':true,'invoke_us':1,'complete_us':2,'ts':1,"
                       "'ops':[],'outcome':'ok'}\n",
                       "\"snapshot\": only a read-only");
}

/* The ts order disagrees with a dependency: T2 read T1's append but T1's
 * commit timestamp is above T2's. */
static void test_ts_edge_order(void **state)
{
    (void) state;
    expect_anomaly(RW(0, 100, 50, A("x", 1), "ok") RW(0, 100, 20, R("x", "[1]"), "ok"),
                   SIM_WORKLOAD_AUTO, "ts-edge-order");
}

/* An acknowledged write is invisible to a read-only transaction invoked
 * after it completed. */
static void test_lost_write(void **state)
{
    (void) state;
    expect_anomaly(RW(0, 10, 5, W("x", "a"), "ok") RW(12, 18, 15, W("x", "b"), "ok")
                       RO(20, 30, 25, RV("x", "a")),
                   SIM_WORKLOAD_REGISTER, "lost-write");
    expect_anomaly(RW(0, 10, 5, A("x", 1), "ok") RO(20, 30, 25, R("x", "[]")), SIM_WORKLOAD_AUTO,
                   "lost-write");
}

static void test_bank_total(void **state)
{
    (void) state;
    const char *h = RW(0, 10, 5, W("a", "50") "," W("b", "50"), "ok")
        RO(20, 30, 25, RV("a", "50") "," RV("b", "50"))
            RW(40, 50, 45, RV("a", "50") "," RV("b", "50") "," W("a", "40") "," W("b", "70"), "ok")
                RO(60, 70, 65, RV("a", "40") "," RV("b", "70"));
    expect_anomaly(h, SIM_WORKLOAD_BANK, "bank-total");
    struct sp_err err = {0};
    struct sim_report *r;
    assert_int_equal(run(h, SIM_WORKLOAD_BANK, &r, &err), SP_ESIM_VIOLATION);
    assert_non_null(strstr(sim_report_detail(r, "bank-total"), "line 4"));
    assert_false(sim_report_has(r, "stale-read"));
    sim_report_free(r);
}

/* ---- malformed input --------------------------------------------------------------- */

static void test_malformed(void **state)
{
    (void) state;
    expect_input_error(RW(0, 10, 5, W("x", "a"), "ok") "{'mode':'rw'\n", "line 2: malformed JSON");
    expect_input_error(RW(0, 10, 5, W("x", "a"), "ok") "\n"
                                                       "{'mode':'rw','invoke_us':1,'complete_us':2,"
                                                       "'outcome':'ok','ts':3}\n",
                       "line 3: \"ops\": must be an array");
    expect_input_error("{'mode':'rx','invoke_us':1,'complete_us':2,'ops':[],'outcome':'ok'}\n",
                       "line 1: \"mode\"");
    expect_input_error(RO(0, 10, 5, W("x", "a")), "line 1: ops[0]: a read-only");
    expect_input_error(RW(0, 10, 0, W("x", "a"), "ok"), "line 1: \"ts\"");
    expect_input_error(RW(9, 1, 5, W("x", "a"), "ok"), "line 1: \"complete_us\"");
    expect_input_error(RW(0, 10, 5, "{'f':'w','key':'x'}", "ok"), "line 1: ops[0]: \"value\"");
    expect_input_error("[1,2]\n", "line 1: not a JSON object");
}

/* The line parser: the JSON it must accept and the JSON it must refuse. */
static void test_json_syntax(void **state)
{
    (void) state;
    /* escapes (\u0041 is A, a surrogate pair), unknown nested fields, an
     * integer and its decimal string as one value */
    expect_valid(
        RW(0, 10, 5, "{'f':'w','key':'x','value':'\\u0041\\ud83d\\ude00'}", "ok")
            RO(20, 30, 25, RV("x", "A\xf0\x9f\x98\x80")) "{'meta':{'a':[1,{'b':null}],'c':true,'d':"
                                                         "-1.5e3},'mode':'rw','ts':40,"
                                                         "'invoke_us':35,'complete_us':45,'ops':[{'"
                                                         "f':'w','key':'y','value':5,"
                                                         "'note':[]}],'outcome':'ok','id':7}\n" RO(
                                                             50, 60, 55, RV("y", "5")),
        SIM_WORKLOAD_REGISTER);
    const char *ok = RW(0, 10, 5, W("x", "a"), "ok");
    char buf[512];
    snprintf(buf, sizeof buf, "%.*s x\n", (int) strlen(ok) - 1, ok);
    expect_input_error(buf, "line 1: malformed JSON");
    expect_input_error("{'mode':'rw','mode':'ro'}\n", "line 1: duplicate field");
    expect_input_error(RW(0, 10, 5, "{'f':'w','key':'x','value':1.5}", "ok"),
                       "must be a string, an integer or null");
    expect_input_error(RW(0, 10, 5, "{'f':'w','key':'x','value':'\\x'}", "ok"),
                       "line 1: malformed JSON");
    expect_input_error(RW(0, 10, 5, "{'f':'w','key':'x','value':'\\ud83d'}", "ok"),
                       "unpaired surrogate");
    expect_input_error(RW(0, 10, 5, "{'f':'w','key':'x','value':01}", "ok"), "leading zero");
    expect_input_error(RW(0, 10, 5, "{'f':'w','key':'x','value':'a\tb'}", "ok"),
                       "control character");
    expect_input_error("{}\n", "line 1: \"mode\"");
    expect_input_error(
        "{'mode':'rw','invoke_us':1,'complete_us':2,'ops':[],'outcome':'ok','ts':tru}\n",
        "line 1: malformed JSON");
    char deep[300] = "{'x':";
    for (int i = 0; i < 100; i++)
        strcat(deep, "[");
    strcat(deep, "\n");
    expect_input_error(deep, "nested too deeply");
}

/* Seeded fuzz of the line parser: random byte edits of a valid history must
 * load or fail with SP_EINVAL, never crash (run under ASan). Prints its
 * seed; SIM_FUZZ_SEED replays one. */
static void test_parser_fuzz(void **state)
{
    (void) state;
    const char *base = RW(0, 10, 5,
                          A("x", 1) ","
                                    "{'f':'w','key':'k\\u00e9','value':'v\\n'}",
                          "ok") RO(20, 30, 25, R("x", "[1]") "," R("y", "null"))
        RW(40, 50, 0, A("y", 2), "unknown");
    const char *env = getenv("SIM_FUZZ_SEED");
    uint64_t seed = env ? strtoull(env, NULL, 10) : 12345, x = seed | 1;
    printf("parser fuzz seed %" PRIu64 "\n", seed);
    static const char alphabet[] = "{}[]\":,\\u0123456789-.eEnulltrfalse ak\n";
    size_t len = strlen(base), ok = 0;
    char *buf = malloc(len + 1);
    for (int iter = 0; iter < 3000; iter++) {
        memcpy(buf, base, len + 1);
        for (char *p = buf; *p; p++)
            *p = *p == '\'' ? '"' : *p;
        for (int k = 0; k < 1 + iter % 4; k++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            size_t at = (size_t) (x % len);
            buf[at] = alphabet[(x >> 32) % (sizeof alphabet - 1)];
        }
        size_t cut = iter % 5 == 0 ? (size_t) ((x >> 16) % len) : len;
        FILE *f = fmemopen(buf, cut ? cut : 1, "r");
        struct sim_history *h = NULL;
        struct sp_err err = {0};
        int rc = sim_history_load(f, &h, &err);
        fclose(f);
        assert_true(rc == 0 || rc == SP_EINVAL);
        if (rc == 0) {
            struct sim_check_options o = {0};
            struct sim_report *r = NULL;
            rc = sim_check(h, &o, &r, &err);
            assert_true(rc == 0 || rc == SP_ESIM_VIOLATION || rc == SP_EINVAL);
            sim_report_free(r);
            ok++;
        }
        sim_history_free(h);
    }
    printf("parser fuzz: %zu of 3000 mutants loaded\n", ok);
    free(buf);
}

static void test_truncated(void **state)
{
    (void) state;
    expect_input_error(
        RW(0, 10, 5, W("x", "a"), "ok")
            RW(20, 30, 25, W("x", "b"), "ok") "{'client':'t','mode':'rw','invoke_us':40,'comp",
        "line 3: truncated");
}

static void test_duplicate_append(void **state)
{
    (void) state;
    expect_input_error(RW(0, 10, 5, A("x", 1), "ok") RW(20, 30, 25, A("x", 1), "ok"),
                       "appended twice");
}

int main(void)
{
    sp_test_route_asserts();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clean_list_append),
        cmocka_unit_test(test_clean_register),
        cmocka_unit_test(test_clean_generated),
        cmocka_unit_test(test_stale_generated),
        cmocka_unit_test(test_unknown_applied),
        cmocka_unit_test(test_unknown_without_ts),
        cmocka_unit_test(test_unknown_repeated_values),
        cmocka_unit_test(test_unknown_inconsistent),
        cmocka_unit_test(test_ts_order),
        cmocka_unit_test(test_single_group_read),
        cmocka_unit_test(test_fault_lines),
        cmocka_unit_test(test_read_at_zero),
        cmocka_unit_test(test_stale_read),
        cmocka_unit_test(test_read_your_writes),
        cmocka_unit_test(test_g1a),
        cmocka_unit_test(test_g1b),
        cmocka_unit_test(test_g0),
        cmocka_unit_test(test_g1c),
        cmocka_unit_test(test_g_single),
        cmocka_unit_test(test_g2),
        cmocka_unit_test(test_realtime),
        cmocka_unit_test(test_ts_edge_order),
        cmocka_unit_test(test_snapshot_read),
        cmocka_unit_test(test_realtime_variants),
        cmocka_unit_test(test_list_observations),
        cmocka_unit_test(test_register_anomalies),
        cmocka_unit_test(test_lost_write),
        cmocka_unit_test(test_bank_total),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_json_syntax),
        cmocka_unit_test(test_parser_fuzz),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_duplicate_append),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

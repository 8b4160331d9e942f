/*
 * test_codec.c - the wire codecs of spanner/: requests, replies and node
 * messages round-trip field by field, and every malformed input is refused
 * with an error naming what is wrong (never handed to the node core).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "sp_test.h"
#include "txn.pb-c.h"
#include "txn_codec.h"

#include <stdlib.h>
#include <string.h>

static void test_request_round_trip(void **state)
{
    (void) state;
    struct txn_key keys[2] = {{"alice", 5}, {"\0bin\xff", 5}};
    struct txn_write ws[2] = {{.kind = TXN_WRITE_PUT, .key = "k", .key_len = 1, .value = "v1",
                               .value_len = 2},
                              {.kind = TXN_WRITE_DELETE, .key = "gone", .key_len = 4}};
    txn_group_id parts[3] = {4, 5, 6};
    struct txn_request in = {.type = TXN_REQ_COMMIT, .group = 3, .id = 0xdeadbeefcafeULL,
                             .start_ts = 1700000000000001LL, .keys_n = 2, .keys = keys,
                             .writes_n = 2, .writes = ws, .participants_n = 3,
                             .participants = parts, .coord_group = 9};
    uint8_t *buf;
    size_t len;
    assert_int_equal(sp_request_pack(&in, &buf, &len), 0);
    static struct sp_request_decoded d;
    assert_int_equal(sp_request_unpack(buf, len, &d, NULL), 0);
    free(buf);
    const struct txn_request *r = &d.req;
    assert_int_equal(r->type, TXN_REQ_COMMIT);
    assert_int_equal(r->group, 3);
    assert_int_equal(r->id, 0xdeadbeefcafeULL);
    assert_int_equal(r->start_ts, 1700000000000001LL);
    assert_int_equal(r->keys_n, 2);
    assert_memory_equal(r->keys[1].key, "\0bin\xff", 5);
    assert_int_equal(r->writes_n, 2);
    assert_int_equal(r->writes[1].kind, TXN_WRITE_DELETE);
    assert_memory_equal(r->writes[0].value, "v1", 2);
    assert_int_equal(r->participants_n, 3);
    assert_int_equal(r->participants[2], 6);
    assert_int_equal(r->coord_group, 9);
    sp_request_decoded_free(&d);
}

/* Packs a hand-made protobuf request and expects unpack to refuse it. */
static void expect_refused(Spanner__Txn__Request *pb, const char *what)
{
    size_t len = spanner__txn__request__get_packed_size(pb);
    uint8_t *buf = malloc(len + 1);
    spanner__txn__request__pack(pb, buf);
    static struct sp_request_decoded d;
    struct sp_err err = {0};
    assert_int_equal(sp_request_unpack(buf, len, &d, &err), SP_EINVAL);
    if (!strstr(err.msg, what))
        fail_msg("\"%s\" does not mention \"%s\"", err.msg, what);
    assert_null(d.pb);
    free(buf);
}

static void test_request_refusals(void **state)
{
    (void) state;
    static struct sp_request_decoded d;
    struct sp_err err = {0};
    const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0x0f};
    assert_int_equal(sp_request_unpack(junk, sizeof junk, &d, &err), SP_EINVAL);
    assert_non_null(strstr(err.msg, "not a valid Request"));

    Spanner__Txn__Request pb = SPANNER__TXN__REQUEST__INIT;
    pb.type = 99;
    expect_refused(&pb, "type 99");

    pb.type = TXN_REQ_READ;
    ProtobufCBinaryData keys[TXN_REQ_KEYS_MAX + 1];
    memset(keys, 0, sizeof keys);
    pb.n_keys = TXN_REQ_KEYS_MAX + 1;
    pb.keys = keys;
    expect_refused(&pb, "65 keys");
    pb.n_keys = 0;

    Spanner__Txn__Write w = SPANNER__TXN__WRITE__INIT, *wp = &w;
    w.kind = 7;
    pb.type = TXN_REQ_COMMIT;
    pb.n_writes = 1;
    pb.writes = &wp;
    expect_refused(&pb, "write 0: kind 7");
    pb.n_writes = 0;

    pb.type = TXN_REQ_RO_READ;
    pb.mode = 9;
    expect_refused(&pb, "read mode 9");
}

static void test_reply_and_node_msgs(void **state)
{
    (void) state;
    struct txn_value vals[2] = {{.kind = TXN_VERSION_VALUE, .ts = 5, .value = (const uint8_t *) "x",
                                 .value_len = 1},
                                {.kind = TXN_VERSION_ABSENT}};
    struct txn_reply r = {.status = 0, .id = 7, .ts = 99, .leader_hint = 2, .values_n = 2,
                          .values = vals};
    uint8_t *buf;
    size_t len;
    assert_int_equal(sp_reply_pack(&r, NULL, 1234, &buf, &len), 0);
    Spanner__Txn__Reply *pb = spanner__txn__reply__unpack(NULL, len, buf);
    free(buf);
    assert_non_null(pb);
    assert_int_equal(pb->ts, 99);
    assert_int_equal(pb->commit_wait_us, 1234);
    assert_int_equal(pb->n_values, 2);
    assert_int_equal(pb->values[0]->kind, TXN_VERSION_VALUE);
    assert_string_equal(pb->error, "");
    spanner__txn__reply__free_unpacked(pb, NULL);

    struct txn_node_msg m = {.to = 3, .is_paxos = false};
    m.txn = (struct txn_msg){.type = TXN_MSG_VOTE, .from = 1, .to = 3, .group = 8,
                             .from_group = 9, .id = 77, .ts = 123, .status = SP_ETXN_ABORTED};
    assert_int_equal(sp_node_msg_pack(&m, &buf, &len), 0);
    struct sp_node_decoded d;
    assert_int_equal(sp_node_msg_unpack(buf, len, &d, NULL), 0);
    free(buf);
    assert_false(d.is_paxos);
    assert_int_equal(d.group, 8);
    assert_int_equal(d.txn.type, TXN_MSG_VOTE);
    assert_int_equal(d.txn.from, 1);
    assert_int_equal(d.txn.to, 3);
    assert_int_equal(d.txn.from_group, 9);
    assert_int_equal(d.txn.id, 77);
    assert_int_equal(d.txn.ts, 123);
    assert_int_equal(d.txn.status, SP_ETXN_ABORTED);
    sp_node_decoded_free(&d);

    struct paxos_entry e = {.slot = 4, .ballot = PAXOS_BALLOT(2, 1), .type = PAXOS_ENTRY_BATCH,
                            .len = 3, .data = (const uint8_t *) "abc"};
    struct txn_node_msg pm = {.to = 2, .is_paxos = true, .group = 5};
    pm.paxos = (struct paxos_msg){.type = PAXOS_MSG_ACCEPT, .from = 1, .to = 2,
                                  .ballot = PAXOS_BALLOT(2, 1), .commit = 3, .n_entries = 1,
                                  .entries = &e, .lease_start_us = 42};
    assert_int_equal(sp_node_msg_pack(&pm, &buf, &len), 0);
    assert_int_equal(sp_node_msg_unpack(buf, len, &d, NULL), 0);
    free(buf);
    assert_true(d.is_paxos);
    assert_int_equal(d.group, 5);
    assert_int_equal(d.paxos.msg.type, PAXOS_MSG_ACCEPT);
    assert_int_equal(d.paxos.msg.lease_start_us, 42);
    assert_int_equal(d.paxos.msg.n_entries, 1);
    assert_memory_equal(d.paxos.msg.entries[0].data, "abc", 3);
    sp_node_decoded_free(&d);

    const uint8_t junk[] = {0x0a, 0xff};
    struct sp_err err = {0};
    sp_log_level = -1; /* the corruption report is expected */
    assert_int_equal(sp_node_msg_unpack(junk, sizeof junk, &d, &err), SP_ECORRUPT);
    assert_non_null(strstr(err.msg, "not a valid Envelope"));
}

int main(void)
{
    sp_test_route_asserts();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_round_trip),
        cmocka_unit_test(test_request_refusals),
        cmocka_unit_test(test_reply_and_node_msgs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

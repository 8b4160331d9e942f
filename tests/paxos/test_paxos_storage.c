/*
 * test_paxos_storage.c - durable Paxos state in RocksDB: what was persisted
 * is exactly what loads back (hard state, entries, truncation, several
 * groups side by side); group-committed updates behave as one; corrupt or
 * truncated records are refused with SP_ECORRUPT, never guessed at.
 */
#include <rocksdb/c.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "sp_test.h"
#include "paxos_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct fx {
    char dir[64];
    struct paxos_store *s;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/paxos-store-XXXXXX");
    if (!mkdtemp(f->dir) || paxos_store_open(f->dir, true, &f->s, NULL) != 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    paxos_store_close(f->s);
    char cmd[100];
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    int rc = system(cmd);
    free(f);
    return rc == 0 ? 0 : -1;
}

static void reopen(struct fx *f)
{
    paxos_store_close(f->s);
    assert_int_equal(paxos_store_open(f->dir, true, &f->s, NULL), 0);
}

static struct paxos_hard_state sample_hs(void)
{
    struct paxos_hard_state hs = {0};
    hs.promised = PAXOS_BALLOT(7, 2);
    hs.commit = 5;
    hs.grant_ballot = PAXOS_BALLOT(7, 2);
    hs.grant_expiry_us = 1700000000123456LL;
    hs.base_slot = 0;
    hs.base_membership.n = 3;
    for (uint32_t i = 0; i < 3; i++)
        hs.base_membership.m[i] = (struct paxos_member){i + 1, PAXOS_VOTER};
    return hs;
}

static void test_round_trip(void **state)
{
    struct fx *f = *state;
    struct paxos_entry e[6];
    char payload[6][16];
    for (int i = 0; i < 6; i++) {
        snprintf(payload[i], sizeof payload[i], "value-%d", i);
        e[i] = (struct paxos_entry){.slot = (paxos_slot) i + 1, .ballot = PAXOS_BALLOT(7, 2),
                                    .type = PAXOS_ENTRY_BATCH,
                                    .len = (uint32_t) strlen(payload[i]),
                                    .data = (const uint8_t *) payload[i]};
    }
    struct paxos_update up = {.persist_seq = 1, .sync = true, .hs_changed = true,
                              .hs = sample_hs(), .n_entries = 6, .entries = e};
    assert_int_equal(paxos_store_persist(f->s, 1, &up, NULL), 0);
    /* another group's state lives beside it and never mixes in */
    struct paxos_update other = {.persist_seq = 1, .sync = true, .hs_changed = true,
                                 .hs = sample_hs(), .n_entries = 1, .entries = e};
    other.hs.promised = PAXOS_BALLOT(1, 1);
    assert_int_equal(paxos_store_persist(f->s, 2, &other, NULL), 0);
    reopen(f);

    struct paxos_loaded l;
    bool found = false;
    assert_int_equal(paxos_store_load(f->s, 1, &l, &found, NULL), 0);
    assert_true(found);
    struct paxos_hard_state want = sample_hs();
    assert_memory_equal(&l.st.hs, &want, sizeof want);
    assert_int_equal(l.st.n_entries, 6);
    for (int i = 0; i < 6; i++) {
        assert_int_equal(l.st.entries[i].slot, i + 1);
        assert_int_equal(l.st.entries[i].ballot, PAXOS_BALLOT(7, 2));
        assert_int_equal(l.st.entries[i].type, PAXOS_ENTRY_BATCH);
        assert_int_equal(l.st.entries[i].len, strlen(payload[i]));
        assert_memory_equal(l.st.entries[i].data, payload[i], strlen(payload[i]));
    }
    paxos_store_loaded_free(&l);
    assert_int_equal(paxos_store_load(f->s, 2, &l, &found, NULL), 0);
    assert_int_equal(l.st.hs.promised, PAXOS_BALLOT(1, 1));
    assert_int_equal(l.st.n_entries, 1);
    paxos_store_loaded_free(&l);
    assert_int_equal(paxos_store_load(f->s, 3, &l, &found, NULL), 0);
    assert_false(found);
    assert_int_equal(l.st.n_entries, 0);
    paxos_store_loaded_free(&l);

    /* truncation through slot 4 after a snapshot; entries above stay */
    struct paxos_update tr = {.persist_seq = 2, .sync = true, .hs_changed = true,
                              .hs = sample_hs(), .truncate_through = 4};
    tr.hs.base_slot = 4;
    assert_int_equal(paxos_store_persist(f->s, 1, &tr, NULL), 0);
    reopen(f);
    assert_int_equal(paxos_store_load(f->s, 1, &l, &found, NULL), 0);
    assert_int_equal(l.st.hs.base_slot, 4);
    assert_int_equal(l.st.n_entries, 2);
    assert_int_equal(l.st.entries[0].slot, 5);
    assert_int_equal(l.st.entries[1].slot, 6);
    paxos_store_loaded_free(&l);
    /* group 2 untouched by group 1's truncation */
    assert_int_equal(paxos_store_load(f->s, 2, &l, &found, NULL), 0);
    assert_int_equal(l.st.n_entries, 1);
    paxos_store_loaded_free(&l);
}

/* Two updates in one group-commit batch land together; an entry rewritten
 * under a higher ballot replaces the old one. */
static void test_group_commit_and_overwrite(void **state)
{
    struct fx *f = *state;
    struct paxos_entry a = {.slot = 1, .ballot = PAXOS_BALLOT(1, 1), .type = PAXOS_ENTRY_BATCH,
                            .len = 3, .data = (const uint8_t *) "old"};
    struct paxos_entry b = {.slot = 1, .ballot = PAXOS_BALLOT(2, 3), .type = PAXOS_ENTRY_BATCH,
                            .len = 3, .data = (const uint8_t *) "new"};
    struct paxos_update u1 = {.persist_seq = 1, .hs_changed = true, .hs = sample_hs(),
                              .n_entries = 1, .entries = &a};
    struct paxos_update u2 = {.persist_seq = 2, .n_entries = 1, .entries = &b};
    struct paxos_update none = {.persist_seq = 0, .hs_changed = true, .hs = sample_hs()};
    none.hs.promised = 999; /* persist_seq 0: must not be written */
    rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
    paxos_store_batch_add(wb, 9, &u1);
    paxos_store_batch_add(wb, 9, &u2);
    paxos_store_batch_add(wb, 9, &none);
    assert_int_equal(rocksdb_writebatch_count(wb), 3);
    assert_int_equal(paxos_store_write(f->s, wb, true, NULL), 0);
    rocksdb_writebatch_destroy(wb);
    reopen(f);
    struct paxos_loaded l;
    bool found;
    assert_int_equal(paxos_store_load(f->s, 9, &l, &found, NULL), 0);
    assert_int_equal(l.st.hs.promised, sample_hs().promised);
    assert_int_equal(l.st.n_entries, 1);
    assert_int_equal(l.st.entries[0].ballot, PAXOS_BALLOT(2, 3));
    assert_memory_equal(l.st.entries[0].data, "new", 3);
    paxos_store_loaded_free(&l);
}

static void put_raw(struct fx *f, const uint8_t *k, size_t kl, const void *v, size_t vl)
{
    rocksdb_writeoptions_t *wo = rocksdb_writeoptions_create();
    char *e = NULL;
    rocksdb_put(paxos_store_db(f->s), wo, (const char *) k, kl, v, vl, &e);
    rocksdb_writeoptions_destroy(wo);
    assert_null(e);
}

static void expect_corrupt(struct fx *f, uint64_t group, const char *what)
{
    struct paxos_loaded l;
    bool found;
    struct sp_err err = {0};
    assert_int_equal(paxos_store_load(f->s, group, &l, &found, &err), SP_ECORRUPT);
    if (!strstr(err.msg, what))
        fail_msg("\"%s\" does not mention \"%s\"", err.msg, what);
    assert_int_equal(l.st.n_entries, 0); /* nothing half-loaded */
}

static void test_corruption_refused(void **state)
{
    struct fx *f = *state;
    struct paxos_entry e = {.slot = 1, .ballot = 5, .type = PAXOS_ENTRY_BATCH, .len = 4,
                            .data = (const uint8_t *) "abcd"};
    struct paxos_update up = {.persist_seq = 1, .sync = true, .hs_changed = true,
                              .hs = sample_hs(), .n_entries = 1, .entries = &e};
    for (uint64_t g = 20; g <= 22; g++)
        assert_int_equal(paxos_store_persist(f->s, g, &up, NULL), 0);

    /* a flipped bit in an entry: checksum */
    uint8_t ek[18] = {'P', 0, 0, 0, 0, 0, 0, 0, 20, 'E', 0, 0, 0, 0, 0, 0, 0, 1};
    size_t vl;
    char *err = NULL;
    rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
    char *v = rocksdb_get(paxos_store_db(f->s), ro, (const char *) ek, 18, &vl, &err);
    rocksdb_readoptions_destroy(ro);
    assert_non_null(v);
    v[vl - 1] ^= 0x01;
    put_raw(f, ek, 18, v, vl);
    rocksdb_free(v);
    expect_corrupt(f, 20, "group 20 slot 1: bad length 21 or checksum");

    /* a truncated entry record */
    ek[8] = 21;
    put_raw(f, ek, 18, "\x01\x02\x03", 3);
    expect_corrupt(f, 21, "group 21 slot 1: bad length 3");

    /* a garbled hard state */
    uint8_t hk[10] = {'P', 0, 0, 0, 0, 0, 0, 0, 22, 'H'};
    put_raw(f, hk, 10, "garbage!", 8);
    expect_corrupt(f, 22, "group 22 hard state: bad length 8 or checksum");
}

int main(void)
{
    sp_test_route_asserts();
    sp_log_level = -1; /* the corruption cases log errors on purpose */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_group_commit_and_overwrite, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corruption_refused, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

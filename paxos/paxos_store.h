/*
 * paxos_store.h - durable Paxos state in RocksDB (library paxos_store; not
 * part of the I/O-free core, whose manual is paxos.h). Include it only where
 * the storage functions are called.
 *
 * This is the driver-side half of paxos.h's persist-before-send rule. It is
 * its own library so the core links no I/O; the server, the multi-process
 * tests and the simulator (on RocksDB's in-memory env) use it.
 *
 * Layout, per group (all integers big-endian in keys, little-endian in
 * values):
 *     'P' group:u64 'H'            -> hard state
 *     'P' group:u64 'E' slot:u64   -> one accepted entry
 * Every value starts with a CRC-32 (zlib) of the rest. A record that fails
 * its check, or has the wrong size, is corruption: load reports it through
 * SP_CORRUPT and the driver must refuse to serve that group rather than
 * guess.
 */
#ifndef PAXOS_STORE_H
#define PAXOS_STORE_H

#include "paxos.h"

#include <stdbool.h>
#include <stdint.h>

/* RocksDB's C API types (rocksdb/c.h declares them the same way), so this
 * header does not pull rocksdb/c.h into its users. */
typedef struct rocksdb_t rocksdb_t;
typedef struct rocksdb_writebatch_t rocksdb_writebatch_t;

struct paxos_store;

/*
 * Opens (creating if missing) a RocksDB at path. sync: every persist with
 * up->sync is fsynced before paxos_store_persist returns (turn off only in
 * benchmarks that say so). Returns 0, SP_EIO (err carries RocksDB's message).
 */
int paxos_store_open(const char *path, bool sync, struct paxos_store **out, struct sp_err *err);

/* Wraps an already open DB (not owned; e.g. shared with the MVCC store). */
int paxos_store_wrap(rocksdb_t *db, bool sync, struct paxos_store **out, struct sp_err *err);
void paxos_store_close(struct paxos_store *s);

/*
 * Persists one update of `group` as one atomic WriteBatch: hard state (if
 * hs_changed), entries (overwrite by slot), deletion of entries <=
 * truncate_through. Synced if up->sync and the store syncs. Does nothing if
 * up->persist_seq == 0. Returns 0 or SP_EIO; after SP_EIO report the failure
 * to the replica (PAXOS_EV_PERSISTED with the status).
 */
int paxos_store_persist(struct paxos_store *s, uint64_t group, const struct paxos_update *up,
                        struct sp_err *err);

/*
 * Group commit: add the persist of one update to a caller's WriteBatch
 * (nothing if up->persist_seq == 0), then write the batch once with
 * paxos_store_write. Several updates, of one or many groups, then share one
 * fsync. The caller reports PAXOS_EV_PERSISTED for each update only after
 * the write returned, and sends their messages only then.
 */
void paxos_store_batch_add(rocksdb_writebatch_t *wb, uint64_t group, const struct paxos_update *up);
int paxos_store_write(struct paxos_store *s, rocksdb_writebatch_t *wb, bool sync,
                      struct sp_err *err);

/*
 * Loads what was persisted for `group`. *out is filled with a durable state
 * (entries sorted by slot, memory owned by *out until
 * paxos_store_loaded_free). *found is false for a group never persisted.
 * Returns 0, SP_ECORRUPT (a record failed its checksum or decoding; err names
 * the key), SP_EIO.
 */
struct paxos_loaded {
    struct paxos_durable_state st;
    struct paxos_entry *entries;
    uint8_t *arena;
};
int paxos_store_load(struct paxos_store *s, uint64_t group, struct paxos_loaded *out, bool *found,
                     struct sp_err *err);
void paxos_store_loaded_free(struct paxos_loaded *l);

/* The raw RocksDB handle (for tests that corrupt records on purpose). */
rocksdb_t *paxos_store_db(struct paxos_store *s);

#endif /* PAXOS_STORE_H */

/*
 * txn_load.h - transaction workloads shared by the benchmark tools
 * (spanner-2pc-bench and spanner-bench's spanner target): keys placed in
 * chosen groups, read-write transactions writing one key in each of N
 * groups, and bank transfers between accounts in different groups with the
 * check of their invariant (the total never changes). Private to spanner/.
 *
 * Placement: group i (index in the client's conf.groups, sorted by start)
 * gets keys  start_i + "!" + tag + suffix. Every group's range begins at its
 * start key and the next group's start is not a prefix-extension of it in
 * the layouts `spanner cluster up` writes, so the key lands in group i;
 * sp__load_group_key checks it against the directory and refuses otherwise
 * (an empty start sorts "!" below every printable split point).
 *
 * Bank: account a (0 <= a < accounts) lives in group a % groups under tag
 * "bank-" and a fixed-width hex suffix; its value is the balance in decimal.
 * A transfer reads both accounts (locking reads at their leaders), moves
 * `amount` from the first to the second (never below zero: a poorer first
 * account moves what it has) and commits: 2PC when the groups differ.
 *
 * Threads: the functions that take a client may be called from many
 * threads at once (the client allows it); each runs its own transaction.
 */
#ifndef SP_TXN_LOAD_H
#define SP_TXN_LOAD_H

#include "config.h"
#include "spanner.h"

#include <stddef.h>
#include <stdint.h>

#define SP_LOAD_KEY_MAX (SP_KEY_MAX + 64)
#define SP_LOAD_BANK_BALANCE 1000 /* every account's opening balance */

/*
 * Writes into out (cap bytes) a key that lies in group index gidx of conf:
 * start + "!" + tag + suffix[0..suffix_len). Returns its length, or -1 when
 * it does not fit or the directory places it in another group.
 */
int sp__load_group_key(const struct sp_cluster_conf *conf, uint32_t gidx, const char *tag,
                       const void *suffix, size_t suffix_len, char *out, size_t cap);

/*
 * One read-write transaction writing value under key start_g + "!t" +
 * suffix in each of the first n groups of the client's directory (n = 1: a
 * single-group commit; n > 1: 2PC, the first group coordinating). Returns
 * what sp_txn_commit returns, or SP_EINVAL when the cluster has fewer than
 * n groups (err says so). info may be NULL.
 */
int sp__load_groups_txn(struct sp_client *c, uint32_t n, const void *suffix, size_t suffix_len,
                        const void *value, size_t value_len, struct sp_commit_info *info,
                        struct sp_err *err);

/* Account a's key (as sp__load_group_key). */
int sp__load_bank_key(const struct sp_cluster_conf *conf, uint64_t a, char *out, size_t cap);

/*
 * Picks the two accounts of a transfer from a random word r: distinct, and
 * in different groups whenever groups > 1. accounts >= 2, groups >= 1.
 */
void sp__load_bank_pick(uint64_t r, uint64_t accounts, uint32_t groups, uint64_t *from,
                        uint64_t *to);

/*
 * Writes every account's opening balance (SP_LOAD_BANK_BALANCE), a group's
 * accounts at most TXN_REQ_WRITES_MAX per transaction. Returns 0 or the
 * first failing commit's code.
 */
int sp__load_bank_open(struct sp_client *c, uint64_t accounts, struct sp_err *err);

/*
 * One transfer of amount from account `from` to account `to`. Returns 0 or
 * the failing call's code (SP_ETXN_ABORTED / SP_ETXN_WOUNDED: retry;
 * SP_ECORRUPT: an account is missing or not a number). info may be NULL.
 */
int sp__load_bank_transfer(struct sp_client *c, uint64_t from, uint64_t to, int64_t amount,
                           struct sp_commit_info *info, struct sp_err *err);

/*
 * Sums every account in one strong read-only transaction. *found counts
 * the accounts read. Returns 0 or the failing read's code. The invariant
 * holds when *total == accounts * SP_LOAD_BANK_BALANCE and *found ==
 * accounts.
 */
int sp__load_bank_total(struct sp_client *c, uint64_t accounts, int64_t *total, uint64_t *found,
                        struct sp_err *err);

#endif /* SP_TXN_LOAD_H */

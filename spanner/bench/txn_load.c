/*
 * txn_load.c - see txn_load.h.
 */
#include "txn_load.h"
#include "client_int.h"
#include "sp_assert.h"
#include "txn.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BANK_TAG        "bank-"
#define BANK_SUFFIX_LEN 12 /* hex digits of an account number */

int sp__load_group_key(const struct sp_cluster_conf *conf, uint32_t gidx, const char *tag,
                       const void *suffix, size_t suffix_len, char *out, size_t cap)
{
    SP_ASSERT(conf != NULL && tag != NULL && out != NULL);
    if (gidx >= conf->n_groups)
        return -1;
    const char *start = conf->groups[gidx].start;
    size_t sl = strlen(start), tl = strlen(tag);
    size_t len = sl + 1 + tl + suffix_len;
    if (len > cap || len > SP_KEY_MAX)
        return -1;
    memcpy(out, start, sl);
    out[sl] = '!';
    memcpy(out + sl + 1, tag, tl);
    if (suffix_len)
        memcpy(out + sl + 1 + tl, suffix, suffix_len);
    if (sp_conf_group_for_key(conf, out, len) != &conf->groups[gidx])
        return -1;
    return (int) len;
}

int sp__load_groups_txn(struct sp_client *c, uint32_t n, const void *suffix, size_t suffix_len,
                        const void *value, size_t value_len, struct sp_commit_info *info,
                        struct sp_err *err)
{
    const struct sp_cluster_conf *conf = sp__client_conf(c);
    if (n < 1 || n > conf->n_groups || n > TXN_PARTICIPANTS_MAX)
        return sp_err_set(err, SP_EINVAL,
                          "a transaction over %u groups: the cluster has %u (at most %d per "
                          "transaction)",
                          n, conf->n_groups, TXN_PARTICIPANTS_MAX);
    struct sp_txn *t;
    int rc = sp_txn_begin(c, &t, err);
    if (rc)
        return rc;
    for (uint32_t g = 0; rc == 0 && g < n; g++) {
        char key[SP_LOAD_KEY_MAX];
        int kl = sp__load_group_key(conf, g, "t", suffix, suffix_len, key, sizeof key);
        rc = kl < 0 ? sp_err_set(err, SP_EINVAL, "no key of group index %u fits", g)
                    : sp_txn_write(t, key, (size_t) kl, value, value_len, err);
    }
    if (rc) {
        sp_txn_abort(t);
        return rc;
    }
    return sp_txn_commit(t, info, err);
}

int sp__load_bank_key(const struct sp_cluster_conf *conf, uint64_t a, char *out, size_t cap)
{
    SP_ASSERT(conf != NULL && conf->n_groups > 0);
    char suffix[BANK_SUFFIX_LEN + 1];
    snprintf(suffix, sizeof suffix, "%0*" PRIx64, BANK_SUFFIX_LEN, a);
    return sp__load_group_key(conf, (uint32_t) (a % conf->n_groups), BANK_TAG, suffix,
                              BANK_SUFFIX_LEN, out, cap);
}

void sp__load_bank_pick(uint64_t r, uint64_t accounts, uint32_t groups, uint64_t *from,
                        uint64_t *to)
{
    SP_ASSERT(accounts >= 2 && groups >= 1 && from != NULL && to != NULL);
    uint64_t a = r % accounts, hi = r >> 32;
    uint64_t holding = groups < accounts ? groups : accounts; /* groups with accounts */
    if (holding <= 1) {
        *to = (a + 1 + hi % (accounts - 1)) % accounts;
    } else {
        /* Another group gb, then one of its accounts gb + k * groups. */
        uint64_t ga = a % groups, gb = (ga + 1 + hi % (holding - 1)) % holding;
        uint64_t in_gb = (accounts - gb + groups - 1) / groups;
        *to = gb + groups * ((hi / (holding - 1)) % in_gb);
        SP_ASSERT(*to < accounts && *to % groups != ga);
    }
    *from = a;
    SP_ASSERT(*from != *to);
}

int sp__load_bank_open(struct sp_client *c, uint64_t accounts, struct sp_err *err)
{
    const struct sp_cluster_conf *conf = sp__client_conf(c);
    char bal[32];
    int bl = snprintf(bal, sizeof bal, "%d", SP_LOAD_BANK_BALANCE);
    uint64_t groups = conf->n_groups;
    for (uint64_t g = 0; g < groups && g < accounts; g++) {
        /* the accounts of group g: g, g + groups, g + 2 groups, ... */
        for (uint64_t a = g; a < accounts;) {
            struct sp_txn *t;
            int rc = sp_txn_begin(c, &t, err);
            for (uint32_t k = 0; rc == 0 && k < TXN_REQ_WRITES_MAX && a < accounts;
                 k++, a += groups) {
                char key[SP_LOAD_KEY_MAX];
                int kl = sp__load_bank_key(conf, a, key, sizeof key);
                rc = kl < 0 ? sp_err_set(err, SP_EINVAL, "account %" PRIu64 ": no key", a)
                            : sp_txn_write(t, key, (size_t) kl, bal, (size_t) bl, err);
            }
            if (rc) {
                if (t)
                    sp_txn_abort(t);
                return rc;
            }
            if ((rc = sp_txn_commit(t, NULL, err)) != 0)
                return rc;
        }
    }
    return 0;
}

/* A balance: a decimal int64 (the whole value). */
static int parse_balance(const struct sp_value *v, int64_t *out)
{
    char buf[32];
    if (!v->found || v->len == 0 || v->len >= sizeof buf)
        return -1;
    memcpy(buf, v->data, v->len);
    buf[v->len] = '\0';
    char *end;
    long long x = strtoll(buf, &end, 10);
    if (*end != '\0')
        return -1;
    *out = x;
    return 0;
}

static int read_account(struct sp_txn *t, const struct sp_cluster_conf *conf, uint64_t a,
                        char *key, int *kl, int64_t *bal, struct sp_err *err)
{
    *kl = sp__load_bank_key(conf, a, key, SP_LOAD_KEY_MAX);
    if (*kl < 0)
        return sp_err_set(err, SP_EINVAL, "account %" PRIu64 ": no key", a);
    struct sp_value v = {0};
    int rc = sp_txn_read(t, key, (size_t) *kl, &v, err);
    if (rc == 0 && parse_balance(&v, bal) != 0)
        rc = sp_err_set(err, SP_ECORRUPT, "account %" PRIu64 " (%.*s): %s", a, *kl, key,
                        v.found ? "balance is not a number" : "missing");
    sp_value_clear(&v);
    return rc;
}

int sp__load_bank_transfer(struct sp_client *c, uint64_t from, uint64_t to, int64_t amount,
                           struct sp_commit_info *info, struct sp_err *err)
{
    SP_ASSERT(from != to && amount >= 0);
    const struct sp_cluster_conf *conf = sp__client_conf(c);
    char kf[SP_LOAD_KEY_MAX], kt[SP_LOAD_KEY_MAX], vf[32], vt[32];
    int lf, lt;
    int64_t bf = 0, bt = 0;
    struct sp_txn *t;
    int rc = sp_txn_begin(c, &t, err);
    if (rc)
        return rc;
    if ((rc = read_account(t, conf, from, kf, &lf, &bf, err)) == 0 &&
        (rc = read_account(t, conf, to, kt, &lt, &bt, err)) == 0) {
        int64_t move = amount < bf ? amount : bf;
        int nf = snprintf(vf, sizeof vf, "%" PRId64, bf - move);
        int nt = snprintf(vt, sizeof vt, "%" PRId64, bt + move);
        if ((rc = sp_txn_write(t, kf, (size_t) lf, vf, (size_t) nf, err)) == 0)
            rc = sp_txn_write(t, kt, (size_t) lt, vt, (size_t) nt, err);
    }
    if (rc) {
        sp_txn_abort(t);
        return rc;
    }
    return sp_txn_commit(t, info, err);
}

struct sum_ctx {
    int64_t total;
    uint64_t found;
    int bad;
};

static int sum_row(void *ctx, const struct sp_row *row)
{
    struct sum_ctx *s = ctx;
    struct sp_value v = {.found = true, .data = (uint8_t *) row->value, .len = row->value_len};
    int64_t b;
    if (parse_balance(&v, &b) != 0) {
        s->bad++;
        return 0;
    }
    s->total += b;
    s->found++;
    return 0;
}

int sp__load_bank_total(struct sp_client *c, uint64_t accounts, int64_t *total, uint64_t *found,
                        struct sp_err *err)
{
    const struct sp_cluster_conf *conf = sp__client_conf(c);
    struct sp_ro_options ro = {0}; /* strong, any groups */
    struct sp_txn *t;
    int rc = sp_ro_begin(c, &ro, &t, err);
    if (rc)
        return rc;
    struct sum_ctx s = {0};
    /* One scan per group over [start!bank-, start!bank.): its accounts only. */
    for (uint32_t g = 0; rc == 0 && g < conf->n_groups && g < accounts; g++) {
        char lo[SP_LOAD_KEY_MAX], hi[SP_LOAD_KEY_MAX];
        int ll = sp__load_group_key(conf, g, BANK_TAG, NULL, 0, lo, sizeof lo);
        int hl = sp__load_group_key(conf, g, "bank.", NULL, 0, hi, sizeof hi);
        if (ll < 0 || hl < 0) {
            rc = sp_err_set(err, SP_EINVAL, "group index %u: no bank range", g);
            break;
        }
        rc = sp_txn_scan(t, lo, (size_t) ll, hi, (size_t) hl, 0, sum_row, &s, err);
    }
    sp_txn_commit(t, NULL, NULL); /* read-only: finishes and frees */
    if (rc == 0 && s.bad)
        rc = sp_err_set(err, SP_ECORRUPT, "%d accounts hold something other than a number", s.bad);
    *total = s.total;
    *found = s.found;
    return rc;
}

/*
 * shell.c - `spanner shell`, see shell.h.
 *
 * Both front ends (prompt and JSON lines) parse a line into an op, run it
 * with exec(), and print the result their own way, so they cannot drift
 * apart. Bad input is answered ({"ok":false,...} or an error line) and the
 * shell goes on: it never dies on input.
 */
#include "shell.h"

#include <ctype.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

enum op_kind { OP_BEGIN, OP_READ, OP_WRITE, OP_DELETE, OP_COMMIT, OP_ABORT, OP_HELP, OP_QUIT };

struct op {
    enum op_kind kind;
    bool ro;
    sp_micros read_ts, staleness_us;
    char key[1024], value[65536];
    size_t klen, vlen;
};

struct result {
    int rc;
    struct sp_err err;
    struct sp_value v;
    struct sp_commit_info info;
};

struct shell {
    struct sp_client *c;
    const char *zone;
    struct sp_txn *t;
    bool ro;
    FILE *history;
    json_t *ops; /* this transaction's operations, for the history */
    sp_micros invoke_us;
    sp_micros last_op_us; /* for keep-alives across a pause at the prompt */
    bool snapshot;   /* read-only at a chosen timestamp (exact or stale) */
    uint64_t txn_no; /* for the history's "id" */
};

static sp_micros now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (sp_micros) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static bool retryable(int rc)
{
    return rc == SP_ETXN_ABORTED || rc == SP_ETXN_WOUNDED || rc == SP_ESP_UNAVAILABLE;
}

static void history_end(struct shell *s, const char *outcome, sp_micros ts)
{
    if (s->history) {
        char id[48];
        snprintf(id, sizeof id, "shell-%d-%llu", (int) getpid(), (unsigned long long) s->txn_no);
        json_t *h = json_pack("{s:s, s:s, s:s?, s:s, s:I, s:I, s:I, s:O, s:s, s:b}", "id", id,
                              "client", "shell", "zone", s->zone, "mode", s->ro ? "ro" : "rw",
                              "invoke_us", (json_int_t) s->invoke_us, "complete_us",
                              (json_int_t) now_us(), "ts", (json_int_t) ts, "ops", s->ops,
                              "outcome", outcome, "snapshot", s->snapshot);
        char *line = json_dumps(h, JSON_COMPACT);
        fprintf(s->history, "%s\n", line);
        fflush(s->history);
        free(line);
        json_decref(h);
    }
    json_decref(s->ops);
    s->ops = NULL;
    s->t = NULL;
}

static void record(struct shell *s, const char *f, const struct op *o, const struct sp_value *v)
{
    if (!s->ops)
        return;
    json_t *op = json_pack("{s:s, s:s#}", "f", f, "key", o->key, (int) o->klen);
    if (strcmp(f, "r") == 0)
        json_object_set_new(op, "value",
                            v->found ? json_stringn((const char *) v->data, v->len) : json_null());
    else if (strcmp(f, "w") == 0)
        json_object_set_new(op, "value", json_stringn(o->value, o->vlen));
    json_array_append_new(s->ops, op);
}

static void exec_begin(struct shell *s, const struct op *o, struct result *r)
{
    if (s->t) {
        r->rc = sp_err_set(&r->err, SP_EINVAL, "a transaction is open: COMMIT or ABORT first");
        return;
    }
    struct sp_ro_options ro = {.read_ts = o->read_ts, .max_staleness_us = o->staleness_us};
    r->rc = o->ro ? sp_ro_begin(s->c, &ro, &s->t, &r->err) : sp_txn_begin(s->c, &s->t, &r->err);
    if (r->rc == 0) {
        s->ro = o->ro;
        s->snapshot = o->ro && (o->read_ts || o->staleness_us);
        s->txn_no++;
        s->ops = json_array();
        s->invoke_us = s->last_op_us = now_us();
    }
}

static void exec(struct shell *s, const struct op *o, struct result *r)
{
    memset(r, 0, sizeof *r);
    if (o->kind == OP_BEGIN) {
        exec_begin(s, o, r);
        return;
    }
    if (!s->t && o->kind != OP_HELP && o->kind != OP_QUIT) {
        r->rc = sp_err_set(&r->err, SP_EINVAL, "no open transaction: BEGIN first");
        return;
    }
    /* A person at the prompt may pause longer than the leaders' idle
     * timeout (10 s): refresh the transaction's locks first. */
    if (!s->ro && now_us() - s->last_op_us > 5 * 1000000 && o->kind != OP_ABORT) {
        r->rc = sp_txn_keepalive(s->t, &r->err);
        if (r->rc) {
            sp_txn_abort(s->t);
            history_end(s, "aborted", 0);
            return;
        }
    }
    s->last_op_us = now_us();
    switch (o->kind) {
    case OP_READ:
        r->rc = sp_txn_read(s->t, o->key, o->klen, &r->v, &r->err);
        if (r->rc == 0)
            record(s, "r", o, &r->v);
        break;
    case OP_WRITE:
        r->rc = sp_txn_write(s->t, o->key, o->klen, o->value, o->vlen, &r->err);
        if (r->rc == 0)
            record(s, "w", o, NULL);
        break;
    case OP_DELETE:
        r->rc = sp_txn_delete(s->t, o->key, o->klen, &r->err);
        if (r->rc == 0)
            record(s, "d", o, NULL);
        break;
    case OP_COMMIT:
        r->rc = sp_txn_commit(s->t, &r->info, &r->err);
        history_end(s, r->rc == 0 ? "ok" : r->rc == SP_ETXN_UNKNOWN ? "unknown" : "aborted",
                    r->info.ts);
        return;
    case OP_ABORT:
        sp_txn_abort(s->t);
        history_end(s, "aborted", 0);
        return;
    default:
        return;
    }
    /* A failed operation ends the transaction: errors are sticky. */
    if (r->rc && s->t && o->kind == OP_READ && retryable(r->rc)) {
        sp_txn_abort(s->t);
        history_end(s, "aborted", 0);
    }
}

/* ---- JSON lines ------------------------------------------------------------- */

static int copy_str(json_t *j, const char *name, char *out, size_t cap, size_t *len,
                    struct sp_err *err)
{
    json_t *v = json_object_get(j, name);
    if (!json_is_string(v) || json_string_length(v) >= cap)
        return sp_err_set(err, SP_EINVAL, "\"%s\" must be a string shorter than %zu bytes", name,
                          cap);
    *len = json_string_length(v);
    memcpy(out, json_string_value(v), *len);
    out[*len] = '\0';
    return 0;
}

static int parse_json_op(const char *line, struct op *o, struct sp_err *err)
{
    json_error_t je;
    json_t *j = json_loads(line, 0, &je);
    if (!json_is_object(j)) {
        json_decref(j);
        return sp_err_set(err, SP_EINVAL, "not a JSON object: %s", j ? "wrong type" : je.text);
    }
    memset(o, 0, sizeof *o);
    const char *op = json_string_value(json_object_get(j, "op"));
    int rc = 0;
    if (!op) {
        rc = sp_err_set(err, SP_EINVAL, "missing \"op\"");
    } else if (strcmp(op, "begin") == 0) {
        o->kind = OP_BEGIN;
        const char *mode = json_string_value(json_object_get(j, "mode"));
        if (!mode || (strcmp(mode, "rw") && strcmp(mode, "ro")))
            rc = sp_err_set(err, SP_EINVAL, "begin: \"mode\" must be \"rw\" or \"ro\"");
        o->ro = mode && strcmp(mode, "ro") == 0;
        json_t *st = json_object_get(j, "max_staleness_ms"), *at = json_object_get(j, "read_ts");
        if (st && (!json_is_integer(st) || json_integer_value(st) < 0 || !o->ro))
            rc = sp_err_set(err, SP_EINVAL, "max_staleness_ms: a non-negative integer (ro only)");
        if (at && (!json_is_integer(at) || json_integer_value(at) <= 0 || !o->ro))
            rc = sp_err_set(err, SP_EINVAL, "read_ts: a positive integer (ro only)");
        o->staleness_us = st ? (sp_micros) json_integer_value(st) * 1000 : 0;
        o->read_ts = at ? (sp_micros) json_integer_value(at) : 0;
    } else if (!strcmp(op, "read") || !strcmp(op, "write") || !strcmp(op, "delete")) {
        o->kind = !strcmp(op, "read") ? OP_READ : !strcmp(op, "write") ? OP_WRITE : OP_DELETE;
        rc = copy_str(j, "key", o->key, sizeof o->key, &o->klen, err);
        if (rc == 0 && o->kind == OP_WRITE)
            rc = copy_str(j, "value", o->value, sizeof o->value, &o->vlen, err);
    } else if (!strcmp(op, "commit")) {
        o->kind = OP_COMMIT;
    } else if (!strcmp(op, "abort")) {
        o->kind = OP_ABORT;
    } else {
        rc = sp_err_set(err, SP_EINVAL, "unknown op \"%s\" (begin, read, write, delete, commit, "
                                        "abort)", op);
    }
    json_decref(j);
    return rc;
}

static void print_json(FILE *out, const struct shell *s, bool was_ro, const struct op *o,
                       const struct result *r)
{
    json_t *j;
    if (r->rc) {
        /* "unknown": the commit may or may not have happened; never
         * retry it blindly (it could apply twice). */
        j = json_pack("{s:b, s:s, s:b}", "ok", 0, "error", r->err.msg[0] ? r->err.msg
                                                                          : sp_strerror(r->rc),
                      "retryable", retryable(r->rc));
        if (r->rc == SP_ETXN_UNKNOWN)
            json_object_set_new(j, "unknown", json_true());
    } else if (o->kind == OP_READ) {
        j = json_pack("{s:b, s:o}", "ok", 1, "value",
                      r->v.found ? json_stringn((const char *) r->v.data, r->v.len) : json_null());
    } else if (o->kind == OP_COMMIT && was_ro) {
        j = json_pack("{s:b, s:I}", "ok", 1, "read_ts", (json_int_t) r->info.ts);
    } else if (o->kind == OP_COMMIT) {
        j = json_pack("{s:b, s:I, s:I}", "ok", 1, "commit_ts", (json_int_t) r->info.ts,
                      "commit_wait_us", (json_int_t) r->info.commit_wait_us);
    } else {
        j = json_pack("{s:b}", "ok", 1);
    }
    (void) s;
    char *line = json_dumps(j, JSON_COMPACT);
    fprintf(out, "%s\n", line);
    fflush(out);
    free(line);
    json_decref(j);
}

/* ---- the prompt --------------------------------------------------------------- */

static char *word(char **p)
{
    while (isspace((unsigned char) **p))
        (*p)++;
    if (!**p)
        return NULL;
    char *start = *p;
    while (**p && !isspace((unsigned char) **p))
        (*p)++;
    if (**p)
        *(*p)++ = '\0';
    return start;
}

static int parse_text_op(char *line, struct op *o, struct sp_err *err)
{
    memset(o, 0, sizeof *o);
    char *p = line, *cmd = word(&p);
    if (!cmd)
        return sp_err_set(err, SP_ENOTFOUND, "empty");
    static const char *const names[] = {"BEGIN", "READ", "WRITE", "DELETE", "COMMIT",
                                        "ABORT", "HELP", "QUIT"};
    int k = -1;
    for (int i = 0; i < 8; i++)
        if (strcasecmp(cmd, names[i]) == 0)
            k = i;
    if (k < 0 && strcasecmp(cmd, "EXIT") == 0)
        k = OP_QUIT;
    if (k < 0)
        return sp_err_set(err, SP_EINVAL, "unknown command \"%s\" (try HELP)", cmd);
    o->kind = (enum op_kind) k;
    char *a = word(&p), *b = word(&p);
    if (o->kind == OP_BEGIN && a) {
        o->ro = strcasecmp(a, "RO") == 0;
        char *c = b ? word(&p) : NULL;
        if (!o->ro || (b && !c))
            return sp_err_set(err, SP_EINVAL, "BEGIN [RO [STALE MS | AT TS]]");
        if (b && strcasecmp(b, "STALE") == 0)
            o->staleness_us = atoll(c) * 1000;
        else if (b && strcasecmp(b, "AT") == 0)
            o->read_ts = atoll(c);
        else if (b)
            return sp_err_set(err, SP_EINVAL, "BEGIN [RO [STALE MS | AT TS]]");
    }
    if ((o->kind == OP_READ || o->kind == OP_DELETE || o->kind == OP_WRITE) && !a)
        return sp_err_set(err, SP_EINVAL, "%s needs a key", names[k]);
    if (o->kind == OP_WRITE && !b)
        return sp_err_set(err, SP_EINVAL, "WRITE KEY VALUE");
    if (a)
        o->klen = (size_t) snprintf(o->key, sizeof o->key, "%s", a);
    if (b && o->kind == OP_WRITE)
        o->vlen = (size_t) snprintf(o->value, sizeof o->value, "%s", b);
    return 0;
}

static void print_text(FILE *out, bool was_ro, const struct op *o, const struct result *r)
{
    if (r->rc) {
        fprintf(out, "ERROR %s: %s%s\n", sp_errname(r->rc), r->err.msg,
                retryable(r->rc)            ? " (retryable)"
                : r->rc == SP_ETXN_UNKNOWN ? " (it may have committed: check before retrying)"
                                           : "");
        return;
    }
    switch (o->kind) {
    case OP_BEGIN:
        fprintf(out, "BEGIN %s\n", o->ro ? "read-only" : "read-write");
        break;
    case OP_READ:
        if (r->v.found)
            fprintf(out, "%s = \"%.*s\"  (version ts %lld)\n", o->key, (int) r->v.len,
                    (const char *) r->v.data, (long long) r->v.ts);
        else
            fprintf(out, "%s = NULL\n", o->key);
        break;
    case OP_COMMIT:
        if (was_ro)
            fprintf(out, "OK read at ts %lld\n", (long long) r->info.ts);
        else
            fprintf(out, "COMMITTED at ts %lld over %u group(s), commit wait %.2f ms\n",
                    (long long) r->info.ts, r->info.groups, r->info.commit_wait_us / 1000.0);
        break;
    case OP_HELP:
        fputs("BEGIN | BEGIN RO [STALE MS | AT TS] | READ K | WRITE K V | DELETE K | COMMIT | "
              "ABORT | QUIT\n",
              out);
        break;
    default:
        fputs("OK\n", out);
    }
}

int sp_shell_run(struct sp_client *c, const char *zone, bool json, const char *history_path,
                 FILE *in, FILE *out)
{
    struct shell s = {.c = c, .zone = zone};
    if (history_path && !(s.history = fopen(history_path, "a"))) {
        fprintf(stderr, "spanner shell: cannot open history %s\n", history_path);
        return 1;
    }
    bool prompt = !json && isatty(fileno(in));
    static char line[1 << 18];
    static struct op o;
    for (;;) {
        if (prompt)
            fputs(s.t ? "spanner(txn)> " : "spanner> ", out), fflush(out);
        if (!fgets(line, sizeof line, in))
            break;
        line[strcspn(line, "\r\n")] = '\0';
        struct result r = {0};
        int prc = json ? parse_json_op(line, &o, &r.err) : parse_text_op(line, &o, &r.err);
        if (prc == SP_ENOTFOUND)
            continue;
        bool was_ro = s.ro;
        if (prc)
            r.rc = prc;
        else
            exec(&s, &o, &r);
        if (json)
            print_json(out, &s, was_ro, &o, &r);
        else
            print_text(out, was_ro, &o, &r);
        sp_value_clear(&r.v);
        if (!prc && o.kind == OP_QUIT)
            break;
    }
    if (s.t) {
        sp_txn_abort(s.t);
        history_end(&s, "aborted", 0);
    }
    if (s.history)
        fclose(s.history);
    return 0;
}

/*
 * jsonl.c - the history line parser: JSON, read straight into the history.
 *
 * A general JSON library builds a tree of allocated nodes per line and frees
 * it again; at a million lines that was most of spanner-check's time. This
 * parser knows the schema (sim/README.md): it walks one line once, interns
 * strings as it meets them and writes operations and list elements into the
 * history's arrays; values of fields it does not know are skipped (nesting
 * bounded by DEPTH_MAX). It accepts exactly RFC 8259 JSON: strings with all
 * escapes (\uXXXX and surrogate pairs become UTF-8), numbers, true, false,
 * null; duplicate known fields are rejected. A syntax error names the
 * column; one that runs into the end of a line without its newline is
 * reported as truncation.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "sim_int.h"
#include "sp_assert.h"

#define DEPTH_MAX        64
#define OPS_PER_TXN_MAX  (1u << 16)
#define LIST_LEN_MAX     (1u << 24)
#define HISTORY_OPS_MAX  (UINT32_MAX / 2)
#define STRING_BYTES_MAX (1u << 20)

struct cur {
    const char *p, *base, *end;
    struct sim_history *h;
    struct sp_err *err;
    bool syntax;   /* the error is a JSON syntax error (message gets a column) */
    char *scratch; /* unescaped strings; valid until the next string */
    size_t scap;
};

enum { J_STR = 1, J_INT, J_NULL, J_ARR, J_OBJ, J_OTHER };

static int syn(struct cur *c, const char *what)
{
    c->syntax = true;
    return sp_err_set(c->err, SP_EINVAL, "%s", c->p >= c->end ? "unexpected end of line" : what);
}

static void ws(struct cur *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\r' || *c->p == '\n'))
        c->p++;
}

static int expect(struct cur *c, char ch)
{
    ws(c);
    if (c->p >= c->end || *c->p != ch) {
        char what[32];
        snprintf(what, sizeof what, "'%c' expected", ch);
        return syn(c, what);
    }
    c->p++;
    return 0;
}

static int hex4(struct cur *c, uint32_t *out)
{
    *out = 0;
    for (int i = 0; i < 4; i++, c->p++) {
        char ch = c->p < c->end ? *c->p : 0;
        int v = ch >= '0' && ch <= '9'   ? ch - '0'
                : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
                : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
                                         : -1;
        if (v < 0)
            return syn(c, "bad \\u escape");
        *out = *out << 4 | (uint32_t) v;
    }
    return 0;
}

static size_t utf8(uint32_t cp, char *o)
{
    if (cp < 0x80)
        return o[0] = (char) cp, 1;
    if (cp < 0x800)
        return o[0] = (char) (0xc0 | cp >> 6), o[1] = (char) (0x80 | (cp & 0x3f)), 2;
    if (cp < 0x10000)
        return o[0] = (char) (0xe0 | cp >> 12), o[1] = (char) (0x80 | ((cp >> 6) & 0x3f)),
               o[2] = (char) (0x80 | (cp & 0x3f)), 3;
    o[0] = (char) (0xf0 | cp >> 18), o[1] = (char) (0x80 | ((cp >> 12) & 0x3f));
    o[2] = (char) (0x80 | ((cp >> 6) & 0x3f)), o[3] = (char) (0x80 | (cp & 0x3f));
    return 4;
}

static int escape(struct cur *c, char *o, size_t *n)
{
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    char ch = ++c->p < c->end ? *c->p : 0;
    const char *k = ch ? strchr(from, ch) : NULL;
    if (k) {
        o[(*n)++] = to[k - from];
        c->p++;
        return 0;
    }
    if (ch != 'u')
        return syn(c, "bad escape");
    c->p++;
    uint32_t cp, lo;
    if (hex4(c, &cp))
        return SP_EINVAL;
    if (cp >= 0xd800 && cp < 0xdc00) { /* a high surrogate needs its low half */
        if (c->end - c->p < 2 || c->p[0] != '\\' || c->p[1] != 'u')
            return syn(c, "unpaired surrogate");
        c->p += 2;
        if (hex4(c, &lo) || lo < 0xdc00 || lo >= 0xe000)
            return syn(c, "unpaired surrogate");
        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
    } else if (cp >= 0xdc00 && cp < 0xe000) {
        return syn(c, "unpaired surrogate");
    }
    *n += utf8(cp, o + *n);
    return 0;
}

/* Parses a string at c->p ('"'); *s stays valid until the next string. */
static int string(struct cur *c, const char **s, size_t *len)
{
    if (c->p >= c->end || *c->p != '"')
        return syn(c, "string expected");
    const char *start = ++c->p;
    while (c->p < c->end && *c->p != '"' && *c->p != '\\' && (unsigned char) *c->p >= 0x20)
        c->p++;
    if (c->p < c->end && *c->p == '"') { /* fast path: no escapes */
        *s = start, *len = (size_t) (c->p++ - start);
        return 0;
    }
    size_t need = (size_t) (c->end - start) + 4, n = (size_t) (c->p - start);
    if (need > c->scap) {
        char *b = realloc(c->scratch, need);
        if (!b)
            return sp_err_set(c->err, SP_ENOMEM, "out of memory");
        c->scratch = b, c->scap = need;
    }
    memcpy(c->scratch, start, n);
    while (c->p < c->end && *c->p != '"') { /* each pass consumes input: bounded */
        if ((unsigned char) *c->p < 0x20)
            return syn(c, "control character in string");
        if (*c->p == '\\') {
            if (escape(c, c->scratch, &n))
                return SP_EINVAL;
        } else {
            c->scratch[n++] = *c->p++;
        }
    }
    if (c->p >= c->end)
        return syn(c, "unterminated string");
    c->p++;
    *s = c->scratch, *len = n;
    return 0;
}

/* Parses a number; *is_int is false for fractions, exponents and overflow. */
static int number(struct cur *c, int64_t *out, bool *is_int)
{
    const char *s = c->p;
    bool neg = c->p < c->end && *c->p == '-';
    c->p += neg;
    if (c->p >= c->end || *c->p < '0' || *c->p > '9')
        return syn(c, "bad number");
    uint64_t v = 0;
    *is_int = true;
    if (*c->p == '0' && c->p + 1 < c->end && c->p[1] >= '0' && c->p[1] <= '9')
        return syn(c, "leading zero in number");
    for (; c->p < c->end && *c->p >= '0' && *c->p <= '9'; c->p++) {
        if (v > (UINT64_MAX - 9) / 10)
            *is_int = false;
        v = v * 10 + (uint64_t) (*c->p - '0');
    }
    if (c->p < c->end && *c->p == '.') {
        *is_int = false;
        if (++c->p >= c->end || *c->p < '0' || *c->p > '9')
            return syn(c, "bad number");
        while (c->p < c->end && *c->p >= '0' && *c->p <= '9')
            c->p++;
    }
    if (c->p < c->end && (*c->p == 'e' || *c->p == 'E')) {
        *is_int = false;
        c->p++;
        if (c->p < c->end && (*c->p == '+' || *c->p == '-'))
            c->p++;
        if (c->p >= c->end || *c->p < '0' || *c->p > '9')
            return syn(c, "bad number");
        while (c->p < c->end && *c->p >= '0' && *c->p <= '9')
            c->p++;
    }
    if (*is_int && v > (uint64_t) INT64_MAX + neg)
        *is_int = false;
    *out = *is_int ? (neg ? (int64_t) (0 - v) : (int64_t) v) : 0;
    (void) s;
    return 0;
}

static int literal(struct cur *c, const char *word)
{
    size_t n = strlen(word);
    if ((size_t) (c->end - c->p) < n || memcmp(c->p, word, n) != 0)
        return syn(c, "invalid literal");
    c->p += n;
    return 0;
}

/* What comes next: J_STR, J_INT (any number), J_NULL, J_ARR, J_OBJ, J_OTHER. */
static int peek(struct cur *c)
{
    ws(c);
    if (c->p >= c->end)
        return 0;
    switch (*c->p) {
    case '"':
        return J_STR;
    case '[':
        return J_ARR;
    case '{':
        return J_OBJ;
    case 'n':
        return J_NULL;
    case 't':
    case 'f':
        return J_OTHER;
    default:
        return *c->p == '-' || (*c->p >= '0' && *c->p <= '9') ? J_INT : 0;
    }
}

static int skip_value(struct cur *c, int depth);

/* Walks an array or object, calling skip_value on members (keys checked). */
static int skip_container(struct cur *c, int depth, char close)
{
    c->p++;
    ws(c);
    if (c->p < c->end && *c->p == close)
        return c->p++, 0;
    for (;;) { /* each member consumes input: bounded by the line */
        const char *s;
        size_t n;
        if (close == '}' && (string(c, &s, &n) || expect(c, ':')))
            return SP_EINVAL;
        if (skip_value(c, depth + 1))
            return SP_EINVAL;
        ws(c);
        if (c->p < c->end && *c->p == ',') {
            c->p++;
            ws(c);
            continue;
        }
        return expect(c, close);
    }
}

static int skip_value(struct cur *c, int depth)
{
    const char *s;
    size_t n;
    int64_t i;
    bool is_int;
    if (depth > DEPTH_MAX)
        return syn(c, "nested too deeply");
    switch (peek(c)) {
    case J_STR:
        return string(c, &s, &n);
    case J_INT:
        return number(c, &i, &is_int);
    case J_NULL:
        return literal(c, "null");
    case J_ARR:
        return skip_container(c, depth, ']');
    case J_OBJ:
        return skip_container(c, depth, '}');
    case J_OTHER:
        return literal(c, *c->p == 't' ? "true" : "false");
    default:
        return syn(c, "value expected");
    }
}

/* ---- the schema ------------------------------------------------------------- */

/* A value of the wrong type: if it is not even valid JSON that is the error
 * reported (a syntax error with its column), else the schema's message. */
static int wrong_type(struct cur *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int wrong_type(struct cur *c, const char *fmt, ...)
{
    if (skip_value(c, 1))
        return SP_EINVAL;
    char msg[SP_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return sp_err_set(c->err, SP_EINVAL, "%s", msg);
}

static bool eq(const char *s, size_t n, const char *name)
{
    return strlen(name) == n && memcmp(s, name, n) == 0;
}

/* Interns a string or an integer (its decimal text); null is SIM_NULL. */
static int scalar(struct cur *c, uint32_t *out, const char *what)
{
    const char *s;
    size_t n;
    char buf[24];
    int64_t v;
    bool is_int;
    int t = peek(c);
    if (t == J_NULL) {
        *out = SIM_NULL;
        return literal(c, "null");
    }
    if (t == J_STR && string(c, &s, &n))
        return SP_EINVAL;
    if (t == J_INT && number(c, &v, &is_int))
        return SP_EINVAL;
    if (t != J_STR && t != J_INT)
        return wrong_type(c, "%s must be a string, an integer or null", what);
    if (t == J_INT && !is_int)
        return sp_err_set(c->err, SP_EINVAL, "%s must be a string, an integer or null", what);
    if (t == J_INT) { /* integers skip hashing their text once seen */
        uint32_t id = sim__map_get(&c->h->ints, (uint64_t) v);
        if (id != UINT32_MAX)
            return *out = id, 0;
        n = (size_t) snprintf(buf, sizeof buf, "%" PRId64, v), s = buf;
        *out = sim__intern(&c->h->str, s, n);
        uint32_t *slot = *out ? sim__map_put(&c->h->ints, (uint64_t) v, *out) : NULL;
        return slot ? 0 : sp_err_set(c->err, SP_ENOMEM, "out of memory");
    }
    if (n > STRING_BYTES_MAX)
        return sp_err_set(c->err, SP_EINVAL, "%s is longer than %u bytes", what, STRING_BYTES_MAX);
    *out = sim__intern(&c->h->str, s, n);
    return *out ? 0 : sp_err_set(c->err, SP_ENOMEM, "out of memory");
}

static int list(struct cur *c, struct sim_op *op)
{
    struct sim_history *h = c->h;
    c->p++; /* '[' */
    op->is_list = 1;
    op->list_off = (uint32_t) h->nelems;
    ws(c);
    bool more = !(c->p < c->end && *c->p == ']');
    c->p += !more;
    while (more) { /* each element consumes input: bounded by the line */
        uint32_t id;
        if (h->nelems - op->list_off >= LIST_LEN_MAX || h->nelems >= UINT32_MAX - 1)
            return sp_err_set(c->err, SP_EINVAL, "\"value\": list too long");
        if (sim__grow((void **) &h->elems, &h->elems_cap, h->nelems + 1, sizeof *h->elems))
            return sp_err_set(c->err, SP_ENOMEM, "out of memory");
        if (scalar(c, &id, "a list element"))
            return SP_EINVAL;
        if (id == SIM_NULL)
            return sp_err_set(c->err, SP_EINVAL, "a list element must not be null");
        h->elems[h->nelems++] = id;
        ws(c);
        more = c->p < c->end && *c->p == ',';
        c->p += more;
        if (!more && expect(c, ']'))
            return SP_EINVAL;
    }
    op->list_len = (uint32_t) (h->nelems - op->list_off);
    return 0;
}

enum { OP_F = 1, OP_KEY = 2, OP_VALUE = 4 };

static int op_field(struct cur *c, struct sim_op *op, unsigned field)
{
    const char *s;
    size_t n;
    static const char *names[] = {"r", "w", "d", "append"};
    switch (field) {
    case OP_F:
        if (peek(c) != J_STR)
            return wrong_type(c, "\"f\": must be a string");
        if (string(c, &s, &n))
            return SP_EINVAL;
        for (uint8_t i = 0; i < 4; i++)
            if (eq(s, n, names[i]))
                return op->f = i, 0;
        return sp_err_set(c->err, SP_EINVAL, "\"f\": must be \"r\", \"w\", \"d\" or \"append\"");
    case OP_KEY:
        if (peek(c) != J_STR)
            return wrong_type(c, "\"key\": must be a non-empty string");
        if (scalar(c, &op->key, "\"key\""))
            return SP_EINVAL;
        return op->key == SIM_NULL || c->h->str.lens[op->key] == 0
                   ? sp_err_set(c->err, SP_EINVAL, "\"key\": must be a non-empty string")
                   : 0;
    case OP_VALUE:
        return peek(c) == J_ARR ? list(c, op) : scalar(c, &op->val, "\"value\"");
    default:
        return skip_value(c, 1);
    }
}

static int op_object(struct cur *c, struct sim_op *op)
{
    unsigned seen = 0;
    if (peek(c) != J_OBJ)
        return wrong_type(c, "must be an object");
    c->p++;
    ws(c);
    bool more = !(c->p < c->end && *c->p == '}');
    c->p += !more;
    while (more) { /* each member consumes input */
        const char *s;
        size_t n;
        ws(c);
        if (string(c, &s, &n))
            return SP_EINVAL;
        unsigned field = eq(s, n, "f")       ? OP_F
                         : eq(s, n, "key")   ? OP_KEY
                         : eq(s, n, "value") ? OP_VALUE
                                             : 0;
        if (field & seen)
            return sp_err_set(c->err, SP_EINVAL, "duplicate field");
        seen |= field;
        if (expect(c, ':') || op_field(c, op, field))
            return SP_EINVAL;
        ws(c);
        more = c->p < c->end && *c->p == ',';
        c->p += more;
        if (!more && expect(c, '}'))
            return SP_EINVAL;
    }
    if (!(seen & OP_F))
        return sp_err_set(c->err, SP_EINVAL, "\"f\": must be \"r\", \"w\", \"d\" or \"append\"");
    if (!(seen & OP_KEY))
        return sp_err_set(c->err, SP_EINVAL, "\"key\": must be a non-empty string");
    if (op->f != SIM_F_DELETE && !(seen & OP_VALUE))
        return sp_err_set(c->err, SP_EINVAL, "\"value\": missing");
    if (op->is_list && op->f != SIM_F_READ)
        return sp_err_set(c->err, SP_EINVAL, "\"value\": only a read returns a list");
    if ((op->f == SIM_F_WRITE || op->f == SIM_F_APPEND) && op->val == SIM_NULL)
        return sp_err_set(c->err, SP_EINVAL,
                          "\"value\": a write needs a value (a delete is \"d\")");
    return 0;
}

static int ops_array(struct cur *c, struct sim_txn *t)
{
    struct sim_history *h = c->h;
    if (peek(c) != J_ARR)
        return wrong_type(c, "\"ops\": must be an array");
    c->p++;
    t->op_off = (uint32_t) h->nops;
    ws(c);
    bool more = !(c->p < c->end && *c->p == ']');
    c->p += !more;
    for (uint32_t i = 0; more; i++) {
        if (i >= OPS_PER_TXN_MAX || h->nops >= HISTORY_OPS_MAX)
            return sp_err_set(c->err, SP_EINVAL, "\"ops\": too many operations");
        if (sim__grow((void **) &h->ops, &h->ops_cap, h->nops + 1, sizeof *h->ops))
            return sp_err_set(c->err, SP_ENOMEM, "out of memory");
        struct sim_op *op = &h->ops[h->nops];
        memset(op, 0, sizeof *op);
        if (op_object(c, op)) {
            if (!c->syntax)
                sp_err_wrap(c->err, "ops[%u]", i);
            return SP_EINVAL;
        }
        h->has_append |= op->f == SIM_F_APPEND;
        h->nops++, t->op_n++;
        ws(c);
        more = c->p < c->end && *c->p == ',';
        c->p += more;
        if (!more && expect(c, ']'))
            return SP_EINVAL;
    }
    return 0;
}

enum {
    T_MODE = 1 << 0,
    T_OUTCOME = 1 << 1,
    T_INVOKE = 1 << 2,
    T_COMPLETE = 1 << 3,
    T_TS = 1 << 4,
    T_OPS = 1 << 5,
    T_ID = 1 << 6,
    T_SNAPSHOT = 1 << 7,
    T_SINGLE = 1 << 8,
    T_FAULT = 1 << 9,
};

#define FAULT_LINE (-1) /* txn_object's answer for a fault record */

static unsigned txn_field_id(const char *s, size_t n)
{
    static const char *names[] = {"mode", "outcome", "invoke_us", "complete_us", "ts",
                                  "ops",  "id",      "snapshot",  "single_group", "fault"};
    for (unsigned i = 0; i < 10; i++)
        if (eq(s, n, names[i]))
            return 1u << i;
    return 0;
}

static int time_field(struct cur *c, const char *name, sim_micros *out)
{
    bool is_int = false;
    int t = peek(c);
    if (t == J_INT && number(c, out, &is_int))
        return SP_EINVAL;
    if (t == J_NULL && strcmp(name, "ts") == 0)
        return *out = 0, literal(c, "null");
    if (t != J_INT)
        return wrong_type(c, "\"%s\": must be a non-negative integer (microseconds)", name);
    if (!is_int || *out < 0)
        return c->syntax
                   ? SP_EINVAL
                   : sp_err_set(c->err, SP_EINVAL,
                                "\"%s\": must be a non-negative integer (microseconds)", name);
    return 0;
}

static int word_field(struct cur *c, const char *name, const char *const *words, uint8_t *out)
{
    const char *s;
    size_t n;
    bool str = peek(c) == J_STR;
    if (!str && skip_value(c, 1))
        return SP_EINVAL;
    if (str && string(c, &s, &n))
        return SP_EINVAL;
    for (uint8_t i = 0; str && words[i]; i++)
        if (eq(s, n, words[i]))
            return *out = i, 0;
    return sp_err_set(c->err, SP_EINVAL, "\"%s\": must be %s", name,
                      words[2] ? "\"ok\", \"aborted\" or \"unknown\"" : "\"rw\" or \"ro\"");
}

static int txn_field(struct cur *c, struct sim_txn *t, unsigned field)
{
    static const char *const modes[] = {"rw", "ro", NULL};
    static const char *const outcomes[] = {"ok", "aborted", "unknown", NULL};
    switch (field) {
    case T_MODE:
        return word_field(c, "mode", modes, &t->mode);
    case T_OUTCOME:
        return word_field(c, "outcome", outcomes, &t->outcome);
    case T_INVOKE:
        return time_field(c, "invoke_us", &t->invoke_us);
    case T_COMPLETE:
        return time_field(c, "complete_us", &t->complete_us);
    case T_TS:
        return time_field(c, "ts", &t->ts);
    case T_OPS:
        return ops_array(c, t);
    case T_ID:
        return scalar(c, &t->id, "\"id\"");
    case T_SNAPSHOT:
        if (peek(c) != J_OTHER)
            return wrong_type(c, "\"snapshot\": must be true or false");
        t->snapshot = *c->p == 't';
        return literal(c, t->snapshot ? "true" : "false");
    case T_SINGLE:
        if (peek(c) != J_OTHER)
            return wrong_type(c, "\"single_group\": must be true or false");
        t->single_group = *c->p == 't';
        return literal(c, t->single_group ? "true" : "false");
    case T_FAULT: {
        const char *s;
        size_t n;
        if (peek(c) != J_STR)
            return wrong_type(c, "\"fault\": must be a string");
        return string(c, &s, &n);
    }
    default:
        return skip_value(c, 1);
    }
}

/* The rules that need the whole object (fields come in any order). */
static int txn_rules(struct cur *c, const struct sim_txn *t, unsigned seen)
{
    if (seen & T_FAULT) {
        if (seen & (T_MODE | T_OPS | T_OUTCOME))
            return sp_err_set(c->err, SP_EINVAL, "\"fault\": a fault line is not a transaction");
        return FAULT_LINE; /* counted, not a transaction */
    }
    if (!(seen & T_MODE))
        return sp_err_set(c->err, SP_EINVAL, "\"mode\": must be \"rw\" or \"ro\"");
    if (!(seen & T_OUTCOME))
        return sp_err_set(c->err, SP_EINVAL,
                          "\"outcome\": must be \"ok\", \"aborted\" or \"unknown\"");
    if (!(seen & T_INVOKE) || !(seen & T_COMPLETE))
        return sp_err_set(c->err, SP_EINVAL,
                          "\"%s\": must be a non-negative integer (microseconds)",
                          seen & T_INVOKE ? "complete_us" : "invoke_us");
    if (!(seen & T_OPS))
        return sp_err_set(c->err, SP_EINVAL, "\"ops\": must be an array");
    if (t->complete_us < t->invoke_us)
        return sp_err_set(c->err, SP_EINVAL,
                          "\"complete_us\" %" PRId64 " is before \"invoke_us\" %" PRId64,
                          t->complete_us, t->invoke_us);
    /* A read-only transaction may read at 0, the initial state (a
     * single-group read of a group nothing was written to yet: LastTS() = 0). */
    if (t->outcome == SIM_OK && (t->ts < 0 || (t->ts == 0 && t->mode == SIM_RW)))
        return sp_err_set(c->err, SP_EINVAL,
                          "\"ts\": an ok transaction needs a positive timestamp (a read-only "
                          "one may read at 0)");
    if (t->snapshot && t->mode != SIM_RO)
        return sp_err_set(c->err, SP_EINVAL, "\"snapshot\": only a read-only transaction");
    if (t->single_group && (t->mode != SIM_RO || t->snapshot))
        return sp_err_set(c->err, SP_EINVAL,
                          "\"single_group\": only a strong read-only transaction");
    for (uint32_t i = 0; i < t->op_n && t->mode == SIM_RO; i++)
        if (c->h->ops[t->op_off + i].f != SIM_F_READ)
            return sp_err_set(c->err, SP_EINVAL, "ops[%u]: a read-only transaction cannot write",
                              i);
    return 0;
}

static int txn_object(struct cur *c, struct sim_txn *t)
{
    unsigned seen = 0;
    if (peek(c) != J_OBJ)
        return c->p < c->end ? sp_err_set(c->err, SP_EINVAL, "not a JSON object")
                             : syn(c, "empty line");
    c->p++;
    ws(c);
    bool more = !(c->p < c->end && *c->p == '}');
    c->p += !more;
    while (more) { /* each member consumes input */
        const char *s;
        size_t n;
        ws(c);
        if (string(c, &s, &n))
            return SP_EINVAL;
        unsigned field = txn_field_id(s, n);
        if (field & seen)
            return sp_err_set(c->err, SP_EINVAL, "duplicate field \"%.*s\"", (int) n, s);
        seen |= field;
        if (expect(c, ':') || txn_field(c, t, field))
            return SP_EINVAL;
        ws(c);
        more = c->p < c->end && *c->p == ',';
        c->p += more;
        if (!more && expect(c, '}'))
            return SP_EINVAL;
    }
    ws(c);
    if (c->p < c->end)
        return syn(c, "trailing characters after the object");
    return txn_rules(c, t, seen);
}

int sim__parse_line(struct sim_history *h, const char *buf, size_t n, uint64_t line,
                    struct sp_err *err)
{
    SP_ASSERT(h && buf);
    bool has_nl = n > 0 && buf[n - 1] == '\n';
    if (sim__grow((void **) &h->txns, &h->txns_cap, h->ntxns + 1, sizeof *h->txns))
        return sp_err_set(err, SP_ENOMEM, "line %" PRIu64 ": out of memory", line);
    struct sim_txn *t = &h->txns[h->ntxns];
    memset(t, 0, sizeof *t);
    t->line = line;
    struct cur c = {.p = buf, .base = buf, .end = buf + n, .h = h, .err = err};
    int rc = txn_object(&c, t);
    free(c.scratch);
    if (rc == FAULT_LINE) {
        h->nfaults++;
        h->nops -= t->op_n;
        return 0;
    }
    if (rc && c.syntax && !has_nl)
        return sp_err_wrap(err, "line %" PRIu64 ": truncated (no newline) at column %td", line,
                           c.p - c.base + 1);
    if (rc && c.syntax)
        return sp_err_wrap(err, "line %" PRIu64 ": malformed JSON at column %td", line,
                           c.p - c.base + 1);
    if (rc)
        return sp_err_wrap(err, "line %" PRIu64, line);
    h->ntxns++;
    return 0;
}

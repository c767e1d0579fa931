/* The audit record grammar in C -- see records.h for the contract.
 *
 * Each function mirrors a Python reference, named in its comment; the tests
 * (tests/unit/test_native.py) compare the two on every corpus and on generated
 * and hostile input, and fuzz/native/ runs this file under ASan/UBSan.
 */
#include "records.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- header: parse.py _LOG_HEADER ------------------------------------------------ */

/* Python's str \s for ASCII: what str.isspace() accepts below 0x80. */
static int is_space(unsigned char c)
{
    return c == ' ' || (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x1f);
}

static int starts_with(const char *s, size_t n, size_t at, const char *lit)
{
    size_t k = strlen(lit);
    return at <= n && n - at >= k && memcmp(s + at, lit, k) == 0;
}

/* A run of \S from *at; declines (returns -1) on a byte the ASCII view cannot classify. */
static int nonspace_run(const char *s, size_t n, size_t *at, ta_span *run)
{
    size_t i = *at;
    run->start = i;
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x80)
            return -1; /* \S of a non-ASCII character: Unicode rules, leave it to Python */
        if (is_space(c))
            break;
        i++;
    }
    run->len = i - run->start;
    *at = i;
    return 0;
}

static int digit_run(const char *s, size_t n, size_t *at, ta_span *run)
{
    size_t i = *at;
    run->start = i;
    while (i < n && s[i] >= '0' && s[i] <= '9')
        i++;
    if (i < n && (unsigned char)s[i] >= 0x80)
        return -1; /* \d matches Unicode digits too: Python's business */
    run->len = i - run->start;
    *at = i;
    return run->len ? 0 : -1;
}

int ta_parse_header(const char *s, size_t n, ta_header *h)
{
    size_t i = 0;
    memset(h, 0, sizeof(*h));
    if (starts_with(s, n, 0, "node=")) {
        i = 5;
        h->has_node = 1;
        if (nonspace_run(s, n, &i, &h->node) < 0)
            return TA_DECLINE;
        if (!starts_with(s, n, i, " type="))
            return TA_DECLINE;
        i += 6;
    } else if (starts_with(s, n, 0, "type=")) {
        i = 5;
    } else {
        return TA_DECLINE; /* a prefix before the header: parse.py _prefixed_header */
    }
    if (nonspace_run(s, n, &i, &h->type) < 0 || h->type.len == 0)
        return TA_DECLINE;
    if (!starts_with(s, n, i, " "))
        return TA_DECLINE;
    i += 1;
    if (starts_with(s, n, i, "msg="))
        i += 4;
    h->end = i;
    return ta_parse_stamp(s, n, h);
}

int ta_parse_stamp(const char *s, size_t n, ta_header *h)
{
    size_t i = h->end;
    if (!starts_with(s, n, i, "audit("))
        return TA_DECLINE;
    i += 6;
    if (digit_run(s, n, &i, &h->sec) < 0 || !starts_with(s, n, i, "."))
        return TA_DECLINE;
    i += 1;
    if (digit_run(s, n, &i, &h->ms) < 0 || !starts_with(s, n, i, ":"))
        return TA_DECLINE;
    i += 1;
    if (digit_run(s, n, &i, &h->serial) < 0 || !starts_with(s, n, i, ")"))
        return TA_DECLINE;
    i += 1;
    if (starts_with(s, n, i, ":"))
        i += 1;
    h->end = i;
    return TA_OK;
}

/* ---- the arena of pairs ---------------------------------------------------------- */

void ta_items_init(ta_items *it)
{
    memset(it, 0, sizeof(*it));
}

void ta_items_clear(ta_items *it)
{
    it->len = 0;
    it->count = 0;
}

void ta_items_free(ta_items *it)
{
    free(it->buf);
    free(it->items);
    ta_items_init(it);
}

static int reserve_bytes(ta_items *it, size_t extra)
{
    if (extra > SIZE_MAX / 2 - it->len)
        return TA_NOMEM;
    if (it->len + extra <= it->cap)
        return TA_OK;
    size_t cap = it->cap ? it->cap : 256;
    while (cap < it->len + extra)
        cap *= 2;
    char *buf = realloc(it->buf, cap);
    if (!buf)
        return TA_NOMEM;
    it->buf = buf;
    it->cap = cap;
    return TA_OK;
}

static int put(ta_items *it, const char *p, size_t k)
{
    if (reserve_bytes(it, k) != TA_OK)
        return TA_NOMEM;
    if (k)
        memcpy(it->buf + it->len, p, k);
    it->len += k;
    return TA_OK;
}

/* Open an item: its name is [prefix][name]; the value is written with put() after. */
static int begin_item(ta_items *it, const char *prefix, const char *name, size_t name_len)
{
    if (it->count == it->icap) {
        size_t icap = it->icap ? it->icap * 2 : 32;
        if (icap > SIZE_MAX / sizeof(ta_item))
            return TA_NOMEM;
        ta_item *items = realloc(it->items, icap * sizeof(ta_item));
        if (!items)
            return TA_NOMEM;
        it->items = items;
        it->icap = icap;
    }
    ta_item *item = &it->items[it->count];
    item->name_off = it->len;
    if (prefix && put(it, prefix, strlen(prefix)) != TA_OK)
        return TA_NOMEM;
    if (put(it, name, name_len) != TA_OK)
        return TA_NOMEM;
    item->name_len = it->len - item->name_off;
    item->value_off = it->len;
    item->value_len = 0;
    it->count++;
    return TA_OK;
}

static void end_item(ta_items *it)
{
    ta_item *item = &it->items[it->count - 1];
    item->value_len = it->len - item->value_off;
}

static int add_pair(ta_items *it, const char *prefix, const char *name, size_t name_len,
                    const char *value, size_t value_len)
{
    if (begin_item(it, prefix, name, name_len) != TA_OK || put(it, value, value_len) != TA_OK)
        return TA_NOMEM;
    end_item(it);
    return TA_OK;
}

/* ---- values.py _trim, _append_keys, _keep_pair ------------------------------------ */

static int is_hex(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static unsigned hex_value(unsigned char c)
{
    if (c <= '9')
        return (unsigned)(c - '0');
    if (c >= 'a')
        return (unsigned)(c - 'a' + 10);
    return (unsigned)(c - 'A' + 10);
}

static int equals(const char *p, size_t k, const char *lit)
{
    return strlen(lit) == k && memcmp(p, lit, k) == 0;
}

static size_t trim(const char *v, size_t k)
{
    if (k && v[k - 1] == ':')
        k--;
    if (k && v[k - 1] == ',')
        k--;
    if (k && v[k - 1] == '\'')
        k--;
    if (k && v[k - 1] == ')' && !equals(v, k, "(none)") && !equals(v, k, "(null)"))
        k--;
    return k;
}

/* _quote_or_hex: how the kernel would log one key: quoted if safe, else upper-case hex. */
static int put_key(ta_items *it, const unsigned char *part, size_t k)
{
    static const char digits[] = "0123456789ABCDEF";
    int safe = 1;
    for (size_t i = 0; i < k; i++) {
        if (part[i] == 0x22 || part[i] < 0x21 || part[i] > 0x7e) {
            safe = 0;
            break;
        }
    }
    if (begin_item(it, NULL, "key", 3) != TA_OK)
        return TA_NOMEM;
    if (safe) {
        if (put(it, "\"", 1) || put(it, (const char *)part, k) || put(it, "\"", 1))
            return TA_NOMEM;
    } else {
        if (k > SIZE_MAX / 4 || reserve_bytes(it, 2 * k) != TA_OK)
            return TA_NOMEM;
        for (size_t i = 0; i < k; i++) {
            it->buf[it->len++] = digits[part[i] >> 4];
            it->buf[it->len++] = digits[part[i] & 15];
        }
    }
    end_item(it);
    return TA_OK;
}

static int append_keys(ta_items *it, const char *v, size_t k)
{
    size_t d = (k && v[k - 1] == '"') ? k - 1 : k; /* a stray quote (values.py doc) */
    int hex = d > 0 && d % 2 == 0;
    for (size_t i = 0; hex && i < d; i++)
        hex = is_hex((unsigned char)v[i]);
    if (!hex)
        return add_pair(it, NULL, "key", 3, v, k);
    /* Decode into a scratch buffer at the arena's end, then emit the parts behind it. */
    size_t bytes = d / 2;
    unsigned char *decoded = malloc(bytes ? bytes : 1);
    if (!decoded)
        return TA_NOMEM;
    size_t used = 0;
    for (size_t i = 0; i < bytes; i++) {
        unsigned char c = (unsigned char)(hex_value((unsigned char)v[2 * i]) << 4 |
                                          hex_value((unsigned char)v[2 * i + 1]));
        if (c == 0)
            break; /* bytes.split(b"\x00", 1)[0] */
        decoded[used++] = c;
    }
    int parts = 0, rc = TA_OK;
    size_t start = 0;
    for (size_t i = 0; i <= used && rc == TA_OK; i++) {
        if (i == used || decoded[i] == 0x01) {
            if (i > start) {
                rc = put_key(it, decoded + start, i - start);
                parts++;
            }
            start = i + 1;
        }
    }
    free(decoded);
    if (rc == TA_OK && parts == 0)
        rc = add_pair(it, NULL, "key", 3, v, k);
    return rc;
}

static int keep_pair(ta_items *it, const char *prefix, const char *name, size_t name_len,
                     const char *v, size_t k, int rule_keys)
{
    if (k == 0)
        return TA_OK;
    char last = v[k - 1];
    if ((last == ':' || last == ',' || last == '\'' || last == ')') && v[0] != '"') {
        k = trim(v, k);
        if (k == 0)
            return TA_OK;
    }
    if (rule_keys && !prefix && equals(name, name_len, "key") && v[0] != '"' && v[0] != '(')
        return append_keys(it, v, k);
    return add_pair(it, prefix, name, name_len, v, k);
}

/* ---- values.py split_fields (the full scan; its fast path gives the same) --------- */

static const char *find_eq(const char *p, size_t k)
{
    return memchr(p, '=', k);
}

/* values.py _avc_token: name SELinux's unlabelled first words. */
static int avc_token(ta_items *it, const char *tok, size_t k, const char *b, size_t n, size_t next)
{
    if (it->count == 0) {
        if (!(k >= 3 && memcmp(tok, "avc", 3) == 0))
            return add_pair(it, NULL, "seresult", 8, tok, k);
        return TA_OK;
    }
    if (it->count == 1 && equals(tok, k, "{")) {
        if (begin_item(it, NULL, "seperms", 7) != TA_OK)
            return TA_NOMEM;
        int first = 1;
        size_t i = next;
        while (i < n) {
            const char *sp = memchr(b + i, ' ', n - i);
            size_t end = sp ? (size_t)(sp - b) : n;
            size_t wl = end - i;
            if (wl) {
                if (b[i] == '}')
                    break;
                if (!first && put(it, ",", 1) != TA_OK)
                    return TA_NOMEM;
                if (put(it, b + i, wl) != TA_OK)
                    return TA_NOMEM;
                first = 0;
            }
            if (!sp)
                break;
            i = end + 1;
        }
        end_item(it);
    }
    return TA_OK;
}

enum { Q_NONE, Q_OLD, Q_NEW };

static int qualifier_of(const char *tok, size_t k)
{
    if (equals(tok, k, "old"))
        return Q_OLD;
    if (equals(tok, k, "new"))
        return Q_NEW;
    return Q_NONE;
}

int ta_split_fields(const char *b, size_t n, int avc, ta_items *it)
{
    int qualifier = Q_NONE;
    size_t i = 0;
    ta_items_clear(it);
    for (;;) {
        const char *sp = i < n ? memchr(b + i, ' ', n - i) : NULL;
        size_t end = sp ? (size_t)(sp - b) : n;
        const char *tok = b + i;
        size_t k = end - i;
        size_t next = end + 1;
        const char *eq = find_eq(tok, k);
        int rc = TA_OK;
        if (!eq) {
            int q = qualifier_of(tok, k);
            if (q != Q_NONE) {
                qualifier = q;
            } else {
                if (k)
                    qualifier = Q_NONE;
                if (avc && k && it->count < 2)
                    rc = avc_token(it, tok, k, b, n, next);
            }
        } else {
            size_t e = (size_t)(eq - tok);
            int skip = 0;
            if (e == 3 && k >= 4 && memcmp(tok, "msg=", 4) == 0) {
                if (k > 4 && tok[4] == 'a') {
                    skip = 1;
                } else if (k > 4 && tok[4] == '\'') {
                    tok += 5;
                    k -= 5;
                    eq = find_eq(tok, k);
                    if (!eq) {
                        qualifier = qualifier_of(tok, k);
                        skip = 1;
                    } else {
                        e = (size_t)(eq - tok);
                    }
                }
            }
            if (!skip) {
                const char *name = tok;
                size_t name_len = e;
                if (name_len && name[0] == '(') {
                    name++;
                    name_len--;
                }
                const char *prefix = NULL;
                if (qualifier != Q_NONE) {
                    if (qualifier == Q_OLD)
                        prefix = "old-";
                    qualifier = Q_NONE;
                }
                rc = keep_pair(it, prefix, name, name_len, tok + e + 1, k - e - 1, !avc);
            }
        }
        if (rc != TA_OK)
            return rc;
        if (!sp)
            return TA_OK;
        i = next;
    }
}

/* ---- values (for the renderer) ------------------------------------------------------ */

int ta_decode_escaped(const unsigned char *v, size_t n, unsigned char *local, size_t local_size,
                      ta_decoded *out)
{
    out->owned = NULL;
    if (n && v[0] == '"') { /* quoted: up to the next quote */
        const unsigned char *close = memchr(v + 1, '"', n - 1);
        out->p = v + 1;
        out->len = close ? (size_t)(close - v - 1) : n - 1;
        return TA_OK;
    }
    int all_hex = n % 2 == 0;
    for (size_t i = 0; i < n && all_hex; i++)
        all_hex = is_hex(v[i]);
    if (!all_hex) {
        for (size_t i = 0; i < n; i++) /* fromhex skips whitespace: leave that to it */
            if (v[i] == ' ' || (v[i] >= '\t' && v[i] <= '\r'))
                return TA_DECLINE;
        out->p = v; /* fromhex fails: the value as logged */
        out->len = n;
        return TA_OK;
    }
    size_t k = n / 2;
    unsigned char *bytes = local;
    if (k > local_size) {
        bytes = out->owned = malloc(k ? k : 1);
        if (!bytes)
            return TA_NOMEM;
    }
    for (size_t i = 0; i < k; i++) {
        bytes[i] = (unsigned char)(hex_value(v[2 * i]) << 4 | hex_value(v[2 * i + 1]));
        if (bytes[i] >= 0x80) {
            free(out->owned);
            out->owned = NULL;
            return TA_DECLINE; /* UTF-8 (or not): the reference decodes it */
        }
    }
    out->p = bytes;
    out->len = k;
    return TA_OK;
}

size_t ta_json_string(const unsigned char *s, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    char *o = out;
    *o++ = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = s[i];
        if (c >= 0x20 && c != '"' && c != '\\') {
            *o++ = (char)c;
            continue;
        }
        *o++ = '\\';
        switch (c) {
        case '"': *o++ = '"'; break;
        case '\\': *o++ = '\\'; break;
        case '\n': *o++ = 'n'; break;
        case '\r': *o++ = 'r'; break;
        case '\t': *o++ = 't'; break;
        case '\b': *o++ = 'b'; break;
        case '\f': *o++ = 'f'; break;
        default:
            *o++ = 'u';
            *o++ = '0';
            *o++ = '0';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 15];
        }
    }
    *o++ = '"';
    return (size_t)(o - out);
}

/* libFuzzer entry point: the renderer's value decoding and JSON escaping (records.c:
 * ta_decode_escaped, ta_json_string) on arbitrary bytes (see fuzz/native/README.md).
 * Decoding must stay inside the input, the local buffer or its own allocation, and
 * never grow the value; the JSON literal must stay within its bound, be printable
 * ASCII, and read back (a small JSON string decoder here) to exactly the bytes. */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../trioaudit/_native/records.h"

static int hexval(char c)
{
    return c <= '9' ? c - '0' : c - 'a' + 10;
}

/* Decode a literal ta_json_string wrote; returns the length, asserting its form. */
static size_t unjson(const char *s, size_t n, unsigned char *out)
{
    assert(n >= 2 && s[0] == '"' && s[n - 1] == '"');
    size_t k = 0;
    for (size_t i = 1; i < n - 1; i++) {
        unsigned char c = (unsigned char)s[i];
        assert(c >= 0x20 && c <= 0x7f && c != '"');
        if (c != '\\') {
            out[k++] = c;
            continue;
        }
        assert(i + 1 < n - 1);
        char e = s[++i];
        switch (e) {
        case '"': out[k++] = '"'; break;
        case '\\': out[k++] = '\\'; break;
        case 'n': out[k++] = '\n'; break;
        case 'r': out[k++] = '\r'; break;
        case 't': out[k++] = '\t'; break;
        case 'b': out[k++] = '\b'; break;
        case 'f': out[k++] = '\f'; break;
        case 'u':
            assert(i + 4 < n - 1 && s[i + 1] == '0' && s[i + 2] == '0');
            out[k++] = (unsigned char)(hexval(s[i + 3]) << 4 | hexval(s[i + 4]));
            assert(out[k - 1] < 0x20);
            i += 4;
            break;
        default:
            assert(0 && "unknown escape");
        }
    }
    return k;
}

static void check_json(const unsigned char *s, size_t n)
{
    char *json = malloc(TA_JSON_STRING_MAX(n));
    unsigned char *back = malloc(n + 1);
    assert(json && back);
    size_t k = ta_json_string(s, n, json);
    assert(k <= TA_JSON_STRING_MAX(n));
    assert(unjson(json, k, back) == n && memcmp(back, s, n) == 0);
    free(json);
    free(back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    const unsigned char *v = data + 1;
    size_t n = size - 1;
    unsigned char local[64];
    ta_decoded d;
    int rc = ta_decode_escaped(v, n, local, data[0] & 1 ? sizeof(local) : 0, &d);
    assert(rc == TA_OK || rc == TA_DECLINE);
    if (rc == TA_OK) {
        assert(d.len <= n);
        int inside = d.p >= v && d.p + d.len <= v + n;
        int in_local = d.p >= local && d.p + d.len <= local + sizeof(local);
        int owned = d.owned && d.p == d.owned;
        assert(inside || in_local || owned);
        if (!inside)
            for (size_t i = 0; i < d.len; i++)
                assert(d.p[i] < 0x80);
        /* The renderer escapes only ASCII (it declines the rest). */
        int ascii = 1;
        for (size_t i = 0; i < d.len && ascii; i++)
            ascii = d.p[i] < 0x80;
        if (ascii)
            check_json(d.p, d.len);
        free(d.owned);
    } else {
        assert(d.owned == NULL);
    }
    /* And the escaping alone, on the input with its high bits cleared. */
    unsigned char *low = malloc(n ? n : 1);
    assert(low);
    for (size_t i = 0; i < n; i++)
        low[i] = v[i] & 0x7f;
    check_json(low, n);
    free(low);
    return 0;
}

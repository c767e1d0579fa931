/* The audit record grammar in C: header and field splitting, no Python.
 *
 * Every function here either gives exactly what the reference Python code gives
 * (trioaudit/_records/parse.py, values.py) or *declines* (returns TA_DECLINE), and
 * the caller then runs the reference code. Declining is always correct; the C code
 * only takes the common forms, and anything unusual (a prefix before the header,
 * non-ASCII in the header, a type name not in the table) goes to Python.
 *
 * Input is attacker-controlled text (file names, argv, comm). Every access is
 * bounds-checked against the explicit length; nothing relies on NUL termination;
 * output goes to a growable arena whose size is checked before every write.
 * Fuzzed under ASan/UBSan (fuzz/native/), see docs/hardening.md.
 */
#ifndef TRIOAUDIT_RECORDS_H
#define TRIOAUDIT_RECORDS_H

#include <stddef.h>

#define TA_OK 0
#define TA_DECLINE 1
#define TA_NOMEM (-1)

/* A piece of the input: [start, start + len). */
typedef struct {
    size_t start;
    size_t len;
} ta_span;

/* The header of an audit.log line: [node=NODE ]type=TYPE [msg=]audit(SEC.MS:SERIAL):? */
typedef struct {
    int has_node;
    ta_span node;
    ta_span type;
    ta_span sec;
    ta_span ms;
    ta_span serial;
    size_t end; /* offset just past the header */
} ta_header;

/* Parse the header of a line (already stripped of trailing CR/LF/NUL). */
int ta_parse_header(const char *s, size_t n, ta_header *out);

/* Parse the stamp audit(SEC.MS:SERIAL):? at h->end (set it first; ta_parse_header sets it
 * after the type) -- on its own, the header of a record the kernel sends over netlink. */
int ta_parse_stamp(const char *s, size_t n, ta_header *out);

/* One (name, value) pair: offsets into the arena. */
typedef struct {
    size_t name_off, name_len;
    size_t value_off, value_len;
} ta_item;

typedef struct {
    char *buf;
    size_t len, cap;
    ta_item *items;
    size_t count, icap;
} ta_items;

void ta_items_init(ta_items *it);
void ta_items_clear(ta_items *it); /* keeps the memory */
void ta_items_free(ta_items *it);

/* Split a record body into pairs (split_fields); avc: the record is AVC/USER_AVC. */
int ta_split_fields(const char *body, size_t n, int avc, ta_items *out);

/* ---- values (for the renderer) ---- */

/* A value as values.decode_value decodes an escaped field: quotes removed, else hex
 * decoded, else the value as logged. p points into the input, or into local (when the
 * decoded bytes fit, local_size >= n / 2 is enough) or into owned (malloc'd: free it). */
typedef struct {
    const unsigned char *p;
    size_t len;
    unsigned char *owned;
} ta_decoded;

/* TA_OK, TA_DECLINE (a byte >= 0x80 after decoding -- the reference decodes UTF-8 --
 * or whitespace, which bytes.fromhex reads differently), or TA_NOMEM. */
int ta_decode_escaped(const unsigned char *v, size_t n, unsigned char *local, size_t local_size,
                      ta_decoded *out);

/* The most bytes ta_json_string writes for n input bytes. */
#define TA_JSON_STRING_MAX(n) (6 * (n) + 2)

/* A JSON string literal of bytes < 0x80, as json.dumps(ensure_ascii=False) writes it:
 * '"', '\\', the short escapes, other C0 as \u00xx (DEL left as is). Writes at most
 * TA_JSON_STRING_MAX(n) bytes to out; returns how many. */
size_t ta_json_string(const unsigned char *s, size_t n, char *out);

#endif

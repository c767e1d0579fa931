# cython: language_level=3, boundscheck=True, wraparound=False, initializedcheck=True
"""The renderer's argv step (PROCTITLE: decode the logged value, split at NUL, JSON
list) in Cython, bounds-checked: the prototype measured against the C of records.c
(docs/design.md, "C, not Cython")."""

cdef bytes HEX = b"0123456789abcdef"

cdef inline int hexval(unsigned char c):
    if c >= 48 and c <= 57:
        return c - 48
    if c >= 97 and c <= 102:
        return c - 87
    if c >= 65 and c <= 70:
        return c - 55
    return -1


def argv_json(const unsigned char[:] v):
    cdef Py_ssize_t n = v.shape[0], i, k, start
    cdef bytearray decoded
    cdef const unsigned char[:] title
    cdef int hi, lo
    cdef unsigned char c
    if n and v[0] == 34:  # quoted
        i = 1
        while i < n and v[i] != 34:
            i += 1
        title = v[1:i]
    else:
        decoded = None
        if n % 2 == 0:
            decoded = bytearray(n // 2)
            for i in range(n // 2):
                hi = hexval(v[2 * i])
                lo = hexval(v[2 * i + 1])
                if hi < 0 or lo < 0:
                    decoded = None
                    break
                decoded[i] = hi << 4 | lo
                if decoded[i] >= 0x80:
                    return None
        title = decoded if decoded is not None else v
    k = title.shape[0]
    while k and title[k - 1] == 0:
        k -= 1
    out = bytearray(b'["')
    for i in range(k):
        c = title[i]
        if c == 0:  # split("\x00")
            out += b'","'
            continue
        if c >= 0x20 and c != 34 and c != 92:
            out.append(c)
        elif c == 34:
            out += b'\\"'
        elif c == 92:
            out += b'\\\\'
        elif c == 10:
            out += b'\\n'
        elif c == 13:
            out += b'\\r'
        elif c == 9:
            out += b'\\t'
        elif c == 8:
            out += b'\\b'
        elif c == 12:
            out += b'\\f'
        else:
            out += b'\\u00'
            out.append(HEX[c >> 4])
            out.append(HEX[c & 15])
    out += b'"]'
    return bytes(out)

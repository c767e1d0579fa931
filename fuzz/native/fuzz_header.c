/* libFuzzer entry point: ta_parse_header on arbitrary bytes (see fuzz/native/README.md). */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>

#include "../../trioaudit/_native/records.h"

static void inside(ta_span span, size_t n)
{
    assert(span.start <= n && span.len <= n - span.start);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ta_header h;
    if (ta_parse_header((const char *)data, size, &h) == TA_OK) {
        assert(h.end <= size);
        if (h.has_node)
            inside(h.node, size);
        inside(h.type, size);
        inside(h.sec, size);
        inside(h.ms, size);
        inside(h.serial, size);
        assert(h.type.len > 0 && h.sec.len > 0 && h.ms.len > 0 && h.serial.len > 0);
    }
    return 0;
}

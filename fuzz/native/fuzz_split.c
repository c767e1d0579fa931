/* libFuzzer entry point: ta_split_fields on arbitrary bytes (see fuzz/native/README.md).
 * The first byte chooses the AVC variant; every item must lie inside the arena and the
 * arena stay within a constant factor of the input. */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../../trioaudit/_native/records.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    static ta_items items; /* reused, as the extension reuses its scratch arena */
    int avc = data[0] & 1;
    int rc = ta_split_fields((const char *)data + 1, size - 1, avc, &items);
    assert(rc == TA_OK);
    assert(items.len <= 4 * size + 16 * items.count + 64);
    for (size_t i = 0; i < items.count; i++) {
        const ta_item *it = &items.items[i];
        assert(it->name_off <= items.len && it->name_len <= items.len - it->name_off);
        assert(it->value_off <= items.len && it->value_len <= items.len - it->value_off);
        /* Empty values are dropped, as in split_fields -- but for an AVC's empty "{ }". */
        assert(it->value_len > 0 ||
               (avc && it->name_len == 7 && memcmp(items.buf + it->name_off, "seperms", 7) == 0));
    }
    return 0;
}

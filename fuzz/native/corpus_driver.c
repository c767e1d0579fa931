/* Runs both entry points over every line of the files named on the command line: the
 * program valgrind's memcheck runs over the corpora (fuzz/native/README.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../trioaudit/_native/records.h"

int main(int argc, char **argv)
{
    ta_items items;
    ta_items_init(&items);
    size_t lines = 0, records = 0, pairs = 0;
    for (int f = 1; f < argc; f++) {
        FILE *in = fopen(argv[f], "rb");
        if (!in) {
            perror(argv[f]);
            return 2;
        }
        char *line = NULL;
        size_t cap = 0;
        ssize_t got;
        while ((got = getline(&line, &cap, in)) != -1) {
            size_t n = (size_t)got;
            while (n && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == '\0'))
                n--;
            /* An exact-size copy, so that memcheck sees any read past the end. */
            char *copy = malloc(n ? n : 1);
            if (!copy)
                return 3;
            memcpy(copy, line, n);
            lines++;
            ta_header h;
            if (ta_parse_header(copy, n, &h) == TA_OK) {
                records++;
                const char *body = copy + h.end;
                size_t len = n - h.end;
                const char *sep = memchr(body, 0x1d, len);
                if (sep)
                    len = (size_t)(sep - body);
                if (ta_split_fields(body, len, 0, &items) != TA_OK ||
                    ta_split_fields(body, len, 1, &items) != TA_OK)
                    return 4;
                pairs += items.count;
            }
            free(copy);
        }
        free(line);
        fclose(in);
    }
    ta_items_free(&items);
    printf("%zu lines, %zu records, %zu pairs\n", lines, records, pairs);
    return 0;
}

/* Bearer-token authentication for `seqlora serve` (see serve.h). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "serve.h"
#include "util/fs.h"

int sl_serve_auth_ok(const char *token, const char *hdr) {
    if (!token) return 1;
    if (!hdr || strncasecmp(hdr, "Bearer ", 7)) return 0;
    const char *given = hdr + 7;
    while (*given == ' ') given++;
    size_t a = strlen(token), b = strlen(given);
    /* constant time in the token's length: every byte is compared */
    unsigned char diff = (unsigned char)(a != b);
    for (size_t i = 0; i < a; i++) diff |= (unsigned char)(token[i] ^ (i < b ? given[i] : 0));
    return diff == 0;
}

int sl_serve_read_token(const char *path, char **token, sl_err *err) {
    char *text = NULL;
    size_t len = 0;
    int rc = sl_fs_read_all(path, &text, &len, err);
    if (rc) return rc;
    text[strcspn(text, "\r\n")] = 0;
    size_t n = strlen(text);
    while (n && (text[n - 1] == ' ' || text[n - 1] == '\t')) text[--n] = 0;
    if (!n) {
        free(text);
        return sl_err_set(err, SL_EUSAGE, "%s: the token file's first line is empty", path);
    }
    *token = text;
    return 0;
}

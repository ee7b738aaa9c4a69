/* rp_fmt_u32: see rp_runtime.h. */
#include "rp_runtime.h"

char *rp_fmt_u32(char *s, uint32_t v, int hex) {
    char digits[10];
    int n = 0;
    do {
        digits[n++] = "0123456789abcdef"[hex ? v & 15u : v % 10u];
        v = hex ? v >> 4 : v / 10u;
    } while (v);
    while (hex && n < 8) digits[n++] = '0';
    while (n) *s++ = digits[--n];
    return s;
}

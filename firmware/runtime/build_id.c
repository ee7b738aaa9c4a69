/* rp_build_id: the GNU build-id note the linker script keeps in flash between _sbuild_id and _ebuild_id. */
#include "rp_runtime.h"

extern const uint8_t _sbuild_id[], _ebuild_id[];

/* ELF note: namesz, descsz, type (4 bytes each), name ("GNU\0") padded to 4, then desc (the id). */
const uint8_t *rp_build_id(uint32_t *len) {
    const uint32_t size = (uint32_t)(_ebuild_id - _sbuild_id);
    const uint32_t *word = (const uint32_t *)(const void *)_sbuild_id;
    uint32_t n = 0;
    const uint8_t *desc = 0;
    if (size >= 12u) {
        const uint32_t offset = 12u + ((word[0] + 3u) & ~3u);
        if (word[2] == 3u /* NT_GNU_BUILD_ID */ && offset + word[1] <= size) {
            desc = _sbuild_id + offset;
            n = word[1];
        }
    }
    if (len) *len = n;
    return desc;
}

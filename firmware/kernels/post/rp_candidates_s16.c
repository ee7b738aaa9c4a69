/* rp_candidates_s16: see include/rp_mbconv.h. */
#include "rp_mbconv.h"

rp_status rp_candidates_s16(const rp_candidates_params *p, const rp_dims *conf_dims, const int16_t *conf,
                            const int16_t *loc, rp_candidate *out, int32_t max, int32_t *count) {
    const int32_t c = conf_dims->c, n = conf_dims->h * conf_dims->w;
    if ((c != 2 && c != 4) || p->prior_base < 0 || p->prior_base + n > 65536) return RP_ERR_ARG;
    for (int32_t i = 0; i < n; i++, conf += c, loc += 4) {
        int32_t bg = conf[0];
        if (c == 4) { /* max-out over the three background channels (numerics §3, heads) */
            if (conf[1] > bg) bg = conf[1];
            if (conf[2] > bg) bg = conf[2];
        }
        const int32_t face = conf[c - 1];
        if (face - bg < p->threshold) continue;
        if (*count < max) {
            rp_candidate *k = &out[*count];
            k->prior = (uint16_t)(p->prior_base + i);
            k->conf_bg = (int16_t)bg;
            k->conf_face = (int16_t)face;
            for (int32_t j = 0; j < 4; j++) k->loc[j] = loc[j];
        }
        ++*count;
    }
    return RP_OK;
}

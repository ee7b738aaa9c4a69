/* rp_mbconv_s8: see include/rp_mbconv.h. */
#include "internal/rp_nn_conv.h"
#include "rp_mbconv.h"

#define RP_MAX_DW_CHANNELS 512

static void pointwise(const rp_layer_weights *l, const int8_t *in, int32_t n, int32_t c_in, int32_t c_out,
                      int8_t *out) {
    rp_nn_pointwise_s8(&l->q, in, n, c_in, l->w, l->bias, c_out, l->act_min, l->act_max, out);
}

rp_status rp_mbconv_s8(const rp_context *ctx, const rp_mbconv_params *p, const rp_dims *in_dims, const int8_t *in,
                       const rp_dims *out_dims, int8_t *out) {
    const int32_t h = in_dims->h, w = in_dims->w, c_in = in_dims->c, hid = p->c_hidden, s = p->stride;
    if ((s != 1 && s != 2) || hid < 1 || hid > RP_MAX_DW_CHANNELS || out_dims->h != (h - 1) / s + 1 ||
        out_dims->w != (w - 1) / s + 1 || ctx->size < rp_mbconv_s8_get_buffer_size(p, in_dims) ||
        (p->add && (s != 1 || out_dims->c != c_in)))
        return RP_ERR_ARG;
    const int32_t wo = out_dims->w, c_out = out_dims->c, row = w * hid;
    int8_t *ring = ctx->buf, *dw_row = ring + 3 * row, *sum_row = dw_row + wo * hid;
    int32_t expanded = 0; /* input rows [0, expanded) have been expanded into ring slot (y % 3) */
    for (int32_t oy = 0; oy < out_dims->h; oy++) {
        const int32_t top = oy * s - 1, last = top + 2 < h - 1 ? top + 2 : h - 1;
        for (; expanded <= last; expanded++)
            pointwise(&p->expand, in + expanded * w * c_in, w, c_in, hid, ring + (expanded % 3) * row);
        const int8_t *rows[3];
        for (int32_t k = 0; k < 3; k++) {
            const int32_t y = top + k;
            rows[k] = (y < 0 || y >= h) ? 0 : ring + (y % 3) * row;
        }
        rp_nn_depthwise3x3_row_s8(&p->dw, rows, w, hid, s, wo, dw_row);
        int8_t *o = out + oy * wo * c_out;
        if (p->add) { /* project beside the input row: in place, o is that very row */
            const rp_dims row_dims = {1, wo, c_out};
            pointwise(&p->project, dw_row, wo, hid, c_out, sum_row);
            rp_add_s8(p->add, &row_dims, in + oy * w * c_in, sum_row, o);
        } else {
            pointwise(&p->project, dw_row, wo, hid, c_out, o);
        }
    }
    return RP_OK;
}

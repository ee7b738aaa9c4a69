/* rp_mbconv_s8: see include/rp_mbconv.h. */
#include <stdint.h>

#include "internal/rp_nn_conv.h"
#include "rp_mbconv.h"

#define RP_MAX_DW_CHANNELS 512

static void pointwise(const rp_layer_weights *l, const int8_t *in, int32_t n, int32_t c_in, int32_t c_out,
                      int8_t *out) {
    rp_nn_pointwise_s8(&l->q, in, n, c_in, l->w, l->bias, c_out, l->act_min, l->act_max, out);
}

/* A 1x1 layer over n pixels: from their wide form (widened into `wide` first) where rp_nn_pointwise_wide_s8 takes
 * the layer (with the layer's records when recs is not 0), from the int8 otherwise. */
static void pointwise_via(const rp_layer_weights *l, int wide_ok, const uint32_t *recs, uint32_t *wide,
                          const int8_t *in, int32_t n, int32_t c_in, int32_t c_out, int8_t *out) {
#if RP_USE_DSP
    if (wide_ok) {
        rp_nn_widen_s8(wide, in, n * c_in);
        rp_nn_pointwise_wide_s8(&l->q, wide, n, c_in, l->w, l->bias, c_out, l->act_min, out, recs);
        return;
    }
#else
    (void)wide_ok, (void)recs, (void)wide;
#endif /* RP_USE_DSP */
    pointwise(l, in, n, c_in, c_out, out);
}

rp_status rp_mbconv_s8(const rp_context *ctx, const rp_mbconv_params *p, const rp_dims *in_dims, const int8_t *in,
                       const rp_dims *out_dims, int8_t *out) {
    const int32_t h = in_dims->h, w = in_dims->w, c_in = in_dims->c, hid = p->c_hidden, s = p->stride;
    if ((s != 1 && s != 2) || hid < 1 || hid > RP_MAX_DW_CHANNELS || out_dims->h != (h - 1) / s + 1 ||
        out_dims->w != (w - 1) / s + 1 || ctx->size < rp_mbconv_s8_get_buffer_size(p, in_dims) ||
        (p->add && (s != 1 || out_dims->c != c_in)))
        return RP_ERR_ARG;
    const int32_t wo = out_dims->w, c_out = out_dims->c, row = w * hid, half = rp_nn_mbconv_half(w, wo, c_in, hid);
    /* the scratch (rp_nn_mbconv_half): the ring, the row area, the residual's row */
    int8_t *ring = ctx->buf, *area = ring + 3 * row, *dw_row = area + half, *sum_row = area + 2 * half;
    uint32_t *wide = (uint32_t *)(void *)area;
    int wide_expand = 0, wide_project = 0;
    const uint32_t *expand_recs = 0, *project_recs = 0;
    uint32_t *dw_recs = 0;
#if RP_USE_DSP
    if (((uintptr_t)area & 3) == 0) { /* the widening reads and writes words */
        wide_expand = ((uintptr_t)in & 3) == 0 &&
                      rp_nn_pointwise_wide_ok(&p->expand.q, c_in, hid, p->expand.act_min, p->expand.act_max);
        wide_project = rp_nn_pointwise_wide_ok(&p->project.q, hid, c_out, p->project.act_min, p->project.act_max);
    }
    if (ctx->size >= rp_mbconv_s8_get_fast_buffer_size(p, in_dims, c_out)) {
        /* the records after the scratch's other parts, made once here rather than once per row */
        const int32_t used = rp_mbconv_s8_get_buffer_size(p, in_dims);
        uint32_t *r = (uint32_t *)(((uintptr_t)ctx->buf + (uintptr_t)used + 3u) & ~(uintptr_t)3u);
        if (wide_expand) {
            rp_nn_pointwise_wide_records(r, &p->expand.q, p->expand.w, p->expand.bias, c_in, hid);
            expand_recs = r;
        }
        r += rp_nn_pointwise_wide_records_bytes(c_in, hid) / 4;
        if (wide_project) {
            rp_nn_pointwise_wide_records(r, &p->project.q, p->project.w, p->project.bias, hid, c_out);
            project_recs = r;
        }
        r += rp_nn_pointwise_wide_records_bytes(hid, c_out) / 4;
        if (rp_nn_depthwise4_records_bytes(hid, s) && rp_nn_depthwise4_records(r, &p->dw, hid)) dw_recs = r;
    }
#endif /* RP_USE_DSP */
    int32_t expanded = 0; /* input rows [0, expanded) have been expanded into ring slot (y % 3) */
    for (int32_t oy = 0; oy < out_dims->h; oy++) {
        const int32_t top = oy * s - 1, last = top + 2 < h - 1 ? top + 2 : h - 1;
        for (; expanded <= last; expanded++)
            pointwise_via(&p->expand, wide_expand, expand_recs, wide, in + expanded * w * c_in, w, c_in, hid,
                          ring + (expanded % 3) * row);
        const int8_t *rows[3];
        for (int32_t k = 0; k < 3; k++) {
            const int32_t y = top + k;
            rows[k] = (y < 0 || y >= h) ? 0 : ring + (y % 3) * row;
        }
        rp_nn_depthwise3x3_row_s8(&p->dw, rows, w, hid, s, wo, dw_row, dw_recs);
        int8_t *o = out + oy * wo * c_out;
        if (p->add) { /* project beside the input row: in place, o is that very row */
            const rp_dims row_dims = {1, wo, c_out};
            pointwise_via(&p->project, wide_project, project_recs, wide, dw_row, wo, hid, c_out, sum_row);
            rp_add_s8(p->add, &row_dims, in + oy * w * c_in, sum_row, o);
        } else {
            pointwise_via(&p->project, wide_project, project_recs, wide, dw_row, wo, hid, c_out, o);
        }
    }
    return RP_OK;
}

/* rp_rnnpool_s8: see include/rp_kernels.h. */
#include "rp_kernels.h"
#include "rp_requantize.h"

/* RNN1 over `steps` int8 pixels, `pitch` elements apart (a patch row: pitch = C; a column: pitch = W*C). */
static void rnn1_run(const rp_fastgrnn_params *p, const int8_t *x, int32_t steps, int32_t pitch, int16_t *h) {
    int16_t v[RP_MAX_HIDDEN + RP_MAX_HIDDEN];
    for (int32_t i = 0; i < p->n_hidden; i++) h[i] = 0;
    for (int32_t t = 0; t < steps; t++, x += pitch) {
        for (int32_t j = 0; j < p->n_in; j++) v[j] = (int16_t)(x[j] * (1 << p->x_shift));
        for (int32_t i = 0; i < p->n_hidden; i++) v[p->n_in + i] = h[i];
        rp_nn_fastgrnn_step(p, v, h);
    }
}

/* RNN2 over the int16 summaries seq[0..steps-1] (dir = +1) or seq[steps-1..0] (dir = -1). */
static void rnn2_run(const rp_fastgrnn_params *p, const int16_t *seq, int32_t steps, int32_t dir, int16_t *h) {
    int16_t v[RP_MAX_HIDDEN + RP_MAX_HIDDEN];
    for (int32_t i = 0; i < p->n_hidden; i++) h[i] = 0;
    for (int32_t t = 0; t < steps; t++) {
        const int16_t *x = seq + (dir > 0 ? t : steps - 1 - t) * p->n_in;
        for (int32_t j = 0; j < p->n_in; j++) v[j] = (int16_t)(x[j] * (1 << p->x_shift));
        for (int32_t i = 0; i < p->n_hidden; i++) v[p->n_in + i] = h[i];
        rp_nn_fastgrnn_step(p, v, h);
    }
}

/* Each RNN1 sequence is shared by several patches (numerics §4.3, dedupe), so it runs once:
 * - row summaries per (stem row, patch column), kept for the last `patch` stem rows in a ring indexed by row % patch;
 * - column summaries per stem column, recomputed for each patch row (a column run spans that patch row only).
 * Scratch: rp_rnnpool_s8_get_buffer_size() bytes, 2-byte aligned. */
rp_status rp_rnnpool_s8(const rp_context *ctx, const rp_rnnpool_params *p, const rp_dims *in_dims, const int8_t *in,
                        const rp_dims *out_dims, int8_t *out) {
    const rp_fastgrnn_params *r1 = p->rnn1, *r2 = p->rnn2;
    const int32_t P = p->patch, S = p->stride, H1 = r1->n_hidden, H2 = r2->n_hidden;
    const int32_t ph = (in_dims->h - P) / S + 1, pw = (in_dims->w - P) / S + 1;
    if (P < 1 || P > RP_MAX_PATCH || S < 1 || S > P || ph < 1 || pw < 1 || r1->n_in != in_dims->c ||
        r2->n_in != H1 || H1 > RP_MAX_HIDDEN || H2 > RP_MAX_HIDDEN || out_dims->h != ph + 1 ||
        out_dims->w != pw + 1 || out_dims->c != 4 * H2 || ctx == 0 || ctx->buf == 0 ||
        ctx->size < rp_rnnpool_s8_get_buffer_size(p, in_dims))
        return RP_ERR_ARG;
    const int32_t c_in = in_dims->c, row_pitch = in_dims->w * c_in, oc = out_dims->c;
    const int32_t used_w = (pw - 1) * S + P;
    int16_t *ring = (int16_t *)ctx->buf;          /* [P][pw][H1] */
    int16_t *col_sum = ring + P * pw * H1;         /* [used_w][H1] */
    int16_t seq[RP_MAX_PATCH * RP_MAX_HIDDEN], q[RP_MAX_HIDDEN];
    int32_t rows_done = 0;                         /* stem rows whose row summaries are in the ring */
    for (int32_t pi = 0; pi < ph; pi++) {
        const int32_t y0 = pi * S;
        for (int32_t y = rows_done > y0 ? rows_done : y0; y < y0 + P; y++)
            for (int32_t pj = 0; pj < pw; pj++)
                rnn1_run(r1, in + (int64_t)y * row_pitch + (int64_t)pj * S * c_in, P, c_in,
                         ring + ((y % P) * pw + pj) * H1);
        rows_done = y0 + P;
        for (int32_t x = 0; x < used_w; x++)
            rnn1_run(r1, in + (int64_t)y0 * row_pitch + (int64_t)x * c_in, P, row_pitch, col_sum + x * H1);
        for (int32_t pj = 0; pj < pw; pj++) {
            int8_t *o = out + ((int64_t)pi * out_dims->w + pj) * oc;
            for (int32_t k = 0; k < 4; k++) { /* rows fwd, rows bwd, cols fwd, cols bwd */
                const int16_t *src = col_sum + pj * S * H1;
                if (k < 2) { /* gather this patch's row summaries out of the ring */
                    for (int32_t r = 0; r < P; r++)
                        for (int32_t i = 0; i < H1; i++) seq[r * H1 + i] = ring[(((y0 + r) % P) * pw + pj) * H1 + i];
                    src = seq;
                }
                rnn2_run(r2, src, P, (k & 1) ? -1 : 1, q);
                for (int32_t i = 0; i < H2; i++)
                    o[k * H2 + i] = (int8_t)rp_clamp(rp_requantize(q[i], p->out_mult, p->out_shift), -128, 127);
            }
        }
    }
    /* Replicate padding (numerics §4.3): last patch row and column copied once more. */
    for (int32_t y = 0; y <= ph; y++) {
        int8_t *row = out + (int64_t)y * out_dims->w * oc;
        const int8_t *src_row = y < ph ? row : row - (int64_t)out_dims->w * oc;
        for (int32_t x = 0; x <= pw; x++) {
            const int8_t *src = src_row + (int64_t)(x < pw ? x : pw - 1) * oc;
            if (src != row + (int64_t)x * oc)
                for (int32_t c = 0; c < oc; c++) row[x * oc + c] = src[c];
        }
    }
    return RP_OK;
}

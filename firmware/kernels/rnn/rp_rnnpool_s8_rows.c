/* rp_rnnpool_s8_rows: see include/rp_kernels.h. */
#include <stdint.h>
#include <string.h>

#include "internal/rp_nn_rnn.h"
#include "internal/rp_requantize.h"
#include "rp_kernels.h"

/* Each RNN1 sequence is shared by several patches (numerics §4.3, dedupe), so it runs once:
 * - row summaries per (stem row, patch column), kept for the last `patch` stem rows in a ring indexed by row % patch;
 * - column summaries per (patch row, stem column), made for the whole patch row first (generic path) or when its
 *   first patch reads the column (fast path, which keeps the last `patch` columns).
 * Both paths share the traversal and the scratch of rp_rnnpool_s8_get_buffer_size (2-byte aligned or more). */

typedef struct {
    const rp_rnnpool_params *p;
    int32_t ph, pw, c_in, row_pitch, oc, out_w;
    const int8_t *in;
    int8_t *out;
    int8_t *row; /* one output row, in the scratch: written to `out` only once the patch row is done */
    int32_t first, end; /* the patch rows to compute */
} job;

/* One summary of a patch into the output row; with shift <= -2 (the face models) one SMMLA, ASR and SSAT each. */
static void write_patch(const job *j, int32_t pj, int32_t k, const int16_t *q, int32_t n) {
    int8_t *o = j->row + pj * j->oc + k * n;
    const int32_t mult = j->p->out_mult, shift = j->p->out_shift;
    if (shift <= -2) {
        const int32_t s = -1 - shift, rnd = 1 << (s - 1);
        if (n == 16) {
#pragma GCC unroll 16
            for (int32_t i = 0; i < 16; i++) o[i] = (int8_t)RP_SSAT(rp_requantize_fast(q[i], mult, rnd, s), 8);
            return;
        }
        for (int32_t i = 0; i < n; i++) o[i] = (int8_t)RP_SSAT(rp_requantize_fast(q[i], mult, rnd, s), 8);
        return;
    }
    for (int32_t i = 0; i < n; i++) o[i] = (int8_t)rp_requantize_clamp(q[i], mult, shift, -128, 127);
}

/* Output row pi leaves the scratch after every read of its patch row: so `out` may lie over `in` (in place). Its
 * last patch is copied once more (the replicate padding's column, numerics §4.3). */
static void flush_row(const job *j, int32_t pi) {
    int8_t *o = j->out + (int64_t)pi * j->out_w * j->oc;
    memcpy(o, j->row, (size_t)(j->pw * j->oc));
    memcpy(o + j->pw * j->oc, j->row + (j->pw - 1) * j->oc, (size_t)j->oc);
}

/* Stem rows whose RNN1 row summaries the patch rows before `first` made (their ring is in the scratch). */
static int32_t rows_before(const job *j) { return j->first ? (j->first - 1) * j->p->stride + j->p->patch : 0; }

/* An RNN1 summary of `steps` pixels from x, `pitch` apart, projected by RNN2's W' into proj (h: scratch). */
RP_INLINE void summary(const rp_nn_grnn *g1, const rp_nn_grnn *g2, const int direct, const int8_t *x, int32_t n_in,
                       int32_t steps, int32_t pitch, int16_t *h, int32_t *proj) {
#if RP_USE_DSP
    if (direct) {
        const int32_t args[5] = {pitch, (int32_t)(intptr_t)(x + steps * pitch), (int32_t)(intptr_t)g1->w,
                                 (int32_t)(intptr_t)proj, (int32_t)(intptr_t)g2->w};
        g1->seq->seq_s8(g1->frame, g1->gate, x, args);
        return;
    }
#else
    (void)direct;
#endif /* RP_USE_DSP */
    rp_nn_fastgrnn_run_s8(g1, x, n_in, steps, pitch, h);
    rp_nn_fastgrnn_project(g2, h, proj);
}

/* The fast path: cells prepared by rp_nn_fastgrnn_prepare (32-bit arithmetic, regrouped weights), and RNN2's input
 * half W2 x computed once per summary instead of once per step: a row summary's projection, kept in a ring of the
 * last `patch` stem rows, serves every patch that reads it, forward and backward; a column summary's, kept for the
 * last `patch` stem columns, serves the patches of its patch row. Not inlined, like run_generic, so that neither
 * path's stack adds to the other's. */
static __attribute__((noinline)) void run_fast(const job *j, rp_nn_grnn *g1, rp_nn_grnn *g2, int32_t *row_proj,
                                               int32_t *col_proj) {
    int32_t frames[2][RP_NN_GRNN16_FRAME]; /* the assembly's, where it runs a cell (internal/rp_nn_rnn.h) */
    rp_nn_grnn16_attach(g1, frames[0]);
    rp_nn_grnn16_attach(g2, frames[1]);
    const int32_t P = j->p->patch, S = j->p->stride, H2 = g2->n_hidden, pw = j->pw;
    int16_t h[RP_MAX_HIDDEN] __attribute__((aligned(4)));
    const int32_t *seq[4][RP_MAX_PATCH]; /* rows forward, rows backward, columns forward, columns backward */
    const int32_t *top[RP_MAX_PATCH];    /* the patch row's row projections, from its top row */
    int32_t rows_done = rows_before(j); /* stem rows whose row projections are in the ring */
#if RP_USE_DSP
    /* The cells' compiled sequences (RP_NN_GRNN16_GATES) called directly, each RNN1 summary projected by RNN2's W'
     * in the same call: what rp_nn_fastgrnn_run_s8, rp_nn_fastgrnn_project and rp_nn_fastgrnn_run_proj would do,
     * without their dispatch and the copy of h. */
    const int direct = g1->seq && rp_nn_grnn16_runs_s8(g1, j->c_in) && g2->seq && rp_nn_grnn16_runs_proj(g2);
    const int32_t s_out = -1 - j->p->out_shift, out_q[3] = {j->p->out_mult, s_out > 0 ? 1 << (s_out - 1) : 0, s_out};
#else
    const int direct = 0;
#endif /* RP_USE_DSP */
    for (int32_t pi = j->first; pi < j->end; pi++) {
        const int32_t y0 = pi * S;
        for (int32_t y = rows_done > y0 ? rows_done : y0; y < y0 + P; y++) {
            const int8_t *row = j->in + (int64_t)y * j->row_pitch;
            int32_t *dst = row_proj + (y % P) * pw * H2;
            for (int32_t pj = 0; pj < pw; pj++)
                summary(g1, g2, direct, row + pj * S * j->c_in, j->c_in, P, j->c_in, h, dst + pj * H2);
        }
        rows_done = y0 + P;
        for (int32_t t = 0; t < P; t++) top[t] = row_proj + ((y0 + t) % P) * pw * H2;
        const int8_t *first = j->in + (int64_t)y0 * j->row_pitch;
        int32_t cols_done = 0; /* stem columns whose projected column summaries are in col_proj */
        for (int32_t pj = 0; pj < pw; pj++) {
            const int32_t x0 = pj * S;
            for (int32_t x = cols_done > x0 ? cols_done : x0; x < x0 + P; x++)
                summary(g1, g2, direct, first + x * j->c_in, j->c_in, P, j->row_pitch, h, col_proj + (x % P) * H2);
            cols_done = x0 + P;
            for (int32_t t = 0, c = x0 % P; t < P; t++, c = c + 1 < P ? c + 1 : 0) {
                seq[0][t] = seq[1][P - 1 - t] = top[t] + pj * H2;
                seq[2][t] = seq[3][P - 1 - t] = col_proj + c * H2;
            }
            for (int32_t k = 0; k < 4; k++) {
#if RP_USE_DSP
                if (direct && j->p->out_shift <= -2) { /* the patch's summary k requantised in the same call */
                    const int32_t args[4] = {(int32_t)(intptr_t)(seq[k] + P), (int32_t)(intptr_t)g2->w,
                                             (int32_t)(intptr_t)(j->row + pj * j->oc + k * H2),
                                             (int32_t)(intptr_t)out_q};
                    g2->seq->seq_proj(g2->frame, g2->gate, seq[k], args);
                    continue;
                }
#endif /* RP_USE_DSP */
                rp_nn_fastgrnn_run_proj(g2, seq[k], P, h);
                write_patch(j, pj, k, h, H2);
            }
        }
        flush_row(j, pi);
    }
}

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

/* The generic path (any hidden size, any requantisation): rp_nn_fastgrnn_step in int64, column summaries for the
 * whole patch row. */
static __attribute__((noinline)) void run_generic(const job *j, int16_t *scratch) {
    const rp_rnnpool_params *p = j->p;
    const rp_fastgrnn_params *r1 = p->rnn1, *r2 = p->rnn2;
    const int32_t P = p->patch, S = p->stride, H1 = r1->n_hidden, H2 = r2->n_hidden, pw = j->pw;
    const int32_t used_w = (pw - 1) * S + P;
    int16_t *ring = scratch;               /* [P][pw][H1] */
    int16_t *col_sum = ring + P * pw * H1; /* [used_w][H1] */
    int16_t seq[RP_MAX_PATCH * RP_MAX_HIDDEN], q[RP_MAX_HIDDEN];
    int32_t rows_done = rows_before(j);
    for (int32_t pi = j->first; pi < j->end; pi++) {
        const int32_t y0 = pi * S;
        for (int32_t y = rows_done > y0 ? rows_done : y0; y < y0 + P; y++)
            for (int32_t pj = 0; pj < pw; pj++)
                rnn1_run(r1, j->in + (int64_t)y * j->row_pitch + (int64_t)pj * S * j->c_in, P, j->c_in,
                         ring + ((y % P) * pw + pj) * H1);
        rows_done = y0 + P;
        for (int32_t x = 0; x < used_w; x++)
            rnn1_run(r1, j->in + (int64_t)y0 * j->row_pitch + (int64_t)x * j->c_in, P, j->row_pitch,
                     col_sum + x * H1);
        for (int32_t pj = 0; pj < pw; pj++) {
            for (int32_t k = 0; k < 4; k++) { /* rows fwd, rows bwd, cols fwd, cols bwd */
                const int16_t *src = col_sum + pj * S * H1;
                if (k < 2) { /* gather this patch's row summaries out of the ring */
                    for (int32_t r = 0; r < P; r++)
                        for (int32_t i = 0; i < H1; i++) seq[r * H1 + i] = ring[(((y0 + r) % P) * pw + pj) * H1 + i];
                    src = seq;
                }
                rnn2_run(r2, src, P, (k & 1) ? -1 : 1, q);
                write_patch(j, pj, k, q, H2);
            }
        }
        flush_row(j, pi);
    }
}

rp_status rp_rnnpool_s8_rows(const rp_context *ctx, const rp_rnnpool_params *p, const rp_dims *in_dims,
                             const int8_t *in, const rp_dims *out_dims, int8_t *out, int32_t first, int32_t end) {
    const rp_fastgrnn_params *r1 = p->rnn1, *r2 = p->rnn2;
    const int32_t P = p->patch, S = p->stride, H1 = r1->n_hidden, H2 = r2->n_hidden;
    if (P < 1 || P > RP_MAX_PATCH || S < 1 || S > P) return RP_ERR_ARG;
    const int32_t ph = (in_dims->h - P) / S + 1, pw = (in_dims->w - P) / S + 1;
    if (ph < 1 || pw < 1 || r1->n_in != in_dims->c || in_dims->c > RP_MAX_HIDDEN || r2->n_in != H1 ||
        H1 > RP_MAX_HIDDEN || H2 > RP_MAX_HIDDEN || out_dims->h != ph + 1 || out_dims->w != pw + 1 ||
        out_dims->c != 4 * H2 || first < 0 || first > end || end > ph || (first == end && end != ph) || ctx == 0 ||
        ctx->buf == 0 ||
        ctx->size < rp_rnnpool_s8_get_buffer_size(p, in_dims))
        return RP_ERR_ARG;
    const int32_t budget = ctx->size - pw * out_dims->c; /* the output row buffer sits at the end */
    const job j = {p,  ph, pw, in_dims->c, in_dims->w * in_dims->c, out_dims->c, out_dims->w, in, out,
                   (int8_t *)ctx->buf + budget, first, end};

    /* Fast-path layout from the first 4-byte boundary (rp_nn_rnnpool_fast_bytes): the row projections [P][pw][H2]
     * int32, the column projections [P][H2] int32, then the two prepared cells (laid out by the call of row 0;
     * a later call takes them as they are, and the same path). */
    const uintptr_t pad = (4 - ((uintptr_t)ctx->buf & 3)) & 3;
    uint8_t *base = (uint8_t *)ctx->buf + pad;
    const int32_t proj_bytes = (P * j.pw + P) * H2 * 4;
    rp_nn_grnn g1, g2;
    int32_t n1 = 0, n2 = 0;
    if ((int32_t)pad + rp_nn_rnnpool_fast_bytes(p, j.pw) <= budget) {
        const int32_t room = budget - (int32_t)pad - proj_bytes;
        n1 = rp_nn_fastgrnn_prepare(r1, RP_NN_GRNN_IN_S8, base + proj_bytes, room, &g1, first > 0);
        n2 = n1 ? rp_nn_fastgrnn_prepare(r2, RP_NN_GRNN_IN_S16, base + proj_bytes + n1, room - n1, &g2, first > 0)
                : 0;
    }
    if (n1 && n2) {
        int32_t *row_proj = (int32_t *)(void *)base;
        run_fast(&j, &g1, &g2, row_proj, row_proj + P * j.pw * H2);
    } else {
        run_generic(&j, (int16_t *)ctx->buf);
    }
    if (end == ph) /* the replicate padding's last row: the last patch row once more */
        memcpy(out + (int64_t)ph * out_dims->w * j.oc, out + (int64_t)(ph - 1) * out_dims->w * j.oc,
               (size_t)(out_dims->w * j.oc));
    return RP_OK;
}

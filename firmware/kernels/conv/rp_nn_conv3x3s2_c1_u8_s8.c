/* rp_nn_conv3x3s2_c1_u8_s8: see include/internal/rp_nn_conv.h. */
#include "internal/rp_dsp.h"
#include "internal/rp_nn_conv.h"
#include "internal/rp_requantize.h"

/* An output pixel next to the padding, the arithmetic of rp_nn_conv_acc_u8: its nine taps x + in_offset, 0 where
 * the window leaves the image (padding contributes 0 after the offset), then every channel over them. */
static void padded_pixel(const rp_conv_params *p, const rp_quant_params *q, const rp_dims *in_dims,
                         const uint8_t *in, const int8_t *filter, const int32_t *bias, int32_t cout, int32_t oy,
                         int32_t ox, int8_t *out) {
    int32_t v[9];
    for (int32_t t = 0; t < 9; t++) {
        const int32_t y = 2 * oy - 1 + t / 3, x = 2 * ox - 1 + t % 3;
        v[t] = y < 0 || y >= in_dims->h || x < 0 || x >= in_dims->w ? 0 : in[y * in_dims->w + x] + p->in_offset;
    }
    for (int32_t o = 0; o < cout; o++) {
        const int8_t *f = filter + 9 * o;
        int32_t acc = bias[o];
        for (int32_t t = 0; t < 9; t++) acc += v[t] * f[t];
        out[o] = (int8_t)rp_requantize_clamp(acc, q->mult[o], q->shift[o], p->act_min, p->act_max);
    }
}

/* One output channel's constants, in the order the DSP loop uses them. */
typedef struct {
#if RP_USE_DSP
    uint32_t k[5]; /* [w0, w2] of rows 0, 1, 2; [w1 of row 0, w1 of row 1]; [0, w1 of row 2] */
#else
    int32_t k[9];
#endif /* RP_USE_DSP */
    int32_t folded; /* bias + in_offset * sum(w): sum (x + in_offset) w = sum x w + that */
    int32_t mult, rnd, s; /* rp_requantize_fast's (shift <= -2) */
} channel;

/* clamp(v, lo, hi); relu: lo = 0, hi = 127 (the face models' stem, ReLU6 at scale 6/127), one USAT. */
RP_INLINE int32_t clamp(int32_t v, int32_t lo, int32_t hi, const int relu) {
    if (relu) return RP_USAT(v, 7);
    return v < lo ? lo : (v > hi ? hi : v);
}

/* Output pixels 1 .. end - 1 of a row whose window rows r0, r1, r2 are all inside the image (end >= 2), every
 * shift <= -2; for cout and relu given as constants where the caller can (the channel loop then unrolls). */
RP_INLINE void interior(const channel *ch, const int32_t cout, const uint8_t *r0, const uint8_t *r1,
                        const uint8_t *r2, int32_t end, int8_t *px, int32_t lo, int32_t hi, const int relu) {
    for (int32_t ox = 1; ox < end; ox++) {
        const int32_t b = 2 * ox - 2; /* x0 - 1 */
#if RP_USE_DSP
        const uint32_t w0 = rp_read_u8x4(r0 + b), w1 = rp_read_u8x4(r1 + b), w2 = rp_read_u8x4(r2 + b);
        const uint32_t odd0 = rp_uxtb16_odd(w0), odd1 = rp_uxtb16_odd(w1), odd2 = rp_uxtb16_odd(w2);
        const uint32_t mid01 = rp_pkhtb(rp_uxtb16_even(w0), rp_uxtb16_even(w1)), even2 = rp_uxtb16_even(w2);
        const channel *c = ch;
#pragma GCC unroll 8
        for (int32_t o = 0; o < cout; o++, c++) {
            int32_t acc = rp_smlad(odd0, c->k[0], c->folded);
            acc = rp_smlad(odd1, c->k[1], acc);
            acc = rp_smlad(odd2, c->k[2], acc);
            acc = rp_smlad(mid01, c->k[3], acc);
            acc = rp_smlatt(even2, c->k[4], acc);
            *px++ = (int8_t)clamp(rp_requantize_fast(acc, c->mult, c->rnd, c->s), lo, hi, relu);
        }
#else
        const uint8_t *a = r0 + b + 1, *d = r1 + b + 1, *e = r2 + b + 1;
        const int32_t x0 = a[0], x1 = a[1], x2 = a[2], x3 = d[0], x4 = d[1], x5 = d[2], x6 = e[0], x7 = e[1],
                      x8 = e[2];
        const channel *c = ch;
#pragma GCC unroll 8
        for (int32_t o = 0; o < cout; o++, c++) {
            const int32_t *t = c->k;
            const int32_t acc = c->folded + x0 * t[0] + x1 * t[1] + x2 * t[2] + x3 * t[3] + x4 * t[4] + x5 * t[5] +
                                x6 * t[6] + x7 * t[7] + x8 * t[8];
            *px++ = (int8_t)clamp(rp_requantize_fast(acc, c->mult, c->rnd, c->s), lo, hi, relu);
        }
#endif /* RP_USE_DSP */
    }
}

#if RP_USE_DSP
/* The face models' stem (four channels, ReLU, every shift <= -2) in assembly: interior() for cout 4 and relu, with
 * the loads by LDM. rec (36 words): the folded biases; per channel the pairs of row 0's odd lanes, of the middle
 * column of rows 0 and 1, of row 1's and row 2's odd lanes, and [0, w1 of row 2] (channel.k 0, 3, 1, 2, 4 of
 * channels 0..3 each); mult and rnd of each; s of each. x: row 0 at output pixel 1's window column x0 - 1 (rows 1
 * and 2 at x + w, x + 2 w); out: its four bytes; args {w, out + 4 (end - 1)}. Per pixel 59 instructions: three
 * LDR, the widening (UXTB16; the middle column of rows 0 and 1 by one PKHTB of the raw words first), 20 SMLAD /
 * SMLATT, seven LDM, rp_requantize_fast, USAT and STRB. */
void rp_nn_stem4_relu(const uint32_t *rec, const uint8_t *x, int8_t *out, const int32_t args[2]);
#define RP_STEM4_MAC(OP, V)                                                                                        \
    "    ldm r0!, {r8-r11}\n"                                                                                        \
    "    " OP " r4, " V ", r8, r4\n"                                                                                 \
    "    " OP " r5, " V ", r9, r5\n"                                                                                 \
    "    " OP " r6, " V ", r10, r6\n"                                                                                \
    "    " OP " r7, " V ", r11, r7\n"
__asm__(RP_ASM_BEGIN(rp_nn_stem4_relu)
        "    ldm r3, {r12, lr}\n"
        "    sub sp, #8\n"
        "    str lr, [sp]\n"
        "    mov lr, r2\n"
        "1:  ldm r0!, {r4-r7}\n"
        "    ldr r2, [r1]\n"
        "    uxtb16 r3, r2, ror #8\n" RP_STEM4_MAC("smlad", "r3")
        "    ldr r3, [r1, r12]\n"
        "    pkhtb r2, r3, r2, asr #16\n"
        "    uxtb16 r2, r2\n" RP_STEM4_MAC("smlad", "r2")
        "    uxtb16 r3, r3, ror #8\n" RP_STEM4_MAC("smlad", "r3")
        "    ldr r2, [r1, r12, lsl #1]\n"
        "    uxtb16 r3, r2, ror #8\n" RP_STEM4_MAC("smlad", "r3")
        "    uxtb16 r2, r2\n" RP_STEM4_MAC("smlatt", "r2")
        "    ldm r0!, {r8-r11}\n"
        "    smmla r4, r4, r8, r9\n"
        "    smmla r5, r5, r10, r11\n"
        "    ldm r0!, {r8-r11}\n"
        "    smmla r6, r6, r8, r9\n"
        "    smmla r7, r7, r10, r11\n"
        "    ldm r0, {r8-r11}\n"
        "    asr r4, r4, r8\n"
        "    asr r5, r5, r9\n"
        "    asr r6, r6, r10\n"
        "    asr r7, r7, r11\n"
        "    usat r4, #7, r4\n"
        "    usat r5, #7, r5\n"
        "    usat r6, #7, r6\n"
        "    usat r7, #7, r7\n"
        "    strb r4, [lr], #1\n"
        "    strb r5, [lr], #1\n"
        "    strb r6, [lr], #1\n"
        "    strb r7, [lr], #1\n"
        "    sub r0, r0, #4 * 32\n"
        "    add r1, r1, #2\n"
        "    ldr r2, [sp]\n"
        "    cmp lr, r2\n"
        "    bne 1b\n"
        "    add sp, #8\n" RP_ASM_END(rp_nn_stem4_relu));
#endif /* RP_USE_DSP */

void rp_nn_conv3x3s2_c1_u8_s8(const rp_conv_params *p, const rp_quant_params *q, const rp_dims *in_dims,
                              const uint8_t *in, const int8_t *filter, const int32_t *bias, const rp_dims *out_dims,
                              int8_t *out, int32_t first, int32_t last) {
    const int32_t w = in_dims->w, wo = out_dims->w, cout = out_dims->c;
    const int32_t lo = p->act_min, hi = p->act_max;
    channel ch[RP_NN_STEM_MAX_OUT];
    int fast = 1; /* every shift <= -2: rp_requantize_fast; else the interior too takes the padded path */
    for (int32_t o = 0; o < cout; o++) {
        const int8_t *f = filter + 9 * o;
        int32_t sum = 0;
        for (int32_t i = 0; i < 9; i++) sum += f[i];
        channel *c = &ch[o];
        c->folded = bias[o] + p->in_offset * sum;
#if RP_USE_DSP
        /* A row's word holds bytes x0 - 1 .. x0 + 2 (x0: the window's first column): its odd lanes [x0, x0 + 2]
         * pair with [w0, w2] of that row; the middle taps x0 + 1 are even lanes' high halves, rows 0 and 1 packed
         * together and row 2's alone (SMLATT). */
        for (int32_t r = 0; r < 3; r++) c->k[r] = (uint16_t)f[3 * r] | (uint32_t)(uint16_t)f[3 * r + 2] << 16;
        c->k[3] = (uint16_t)f[1] | (uint32_t)(uint16_t)f[4] << 16;
        c->k[4] = (uint32_t)(uint16_t)f[7] << 16;
#else
        for (int32_t i = 0; i < 9; i++) c->k[i] = f[i];
#endif /* RP_USE_DSP */
        fast &= q->shift[o] <= -2;
        c->mult = q->mult[o];
        c->s = -1 - q->shift[o];
        c->rnd = fast ? 1 << (c->s - 1) : 0;
    }
    /* Interior columns: x0 = 2 ox - 1 >= 0 and x0 + 2 <= w - 1. */
    const int32_t end = !fast ? 1 : (w - 2) / 2 + 1 < wo ? (w - 2) / 2 + 1 : wo;
    const int relu = lo == 0 && hi == 127;
#if RP_USE_DSP
    uint32_t rec[36]; /* rp_nn_stem4_relu's, for cout 4 */
    int32_t args[2] = {w, 0};
    if (cout == 4)
        for (int32_t o = 0; o < 4; o++) {
            const channel *c = &ch[o];
            const uint32_t k[5] = {c->k[0], c->k[3], c->k[1], c->k[2], c->k[4]};
            rec[o] = (uint32_t)c->folded;
            for (int32_t i = 0; i < 5; i++) rec[4 + 4 * i + o] = k[i];
            rec[24 + 2 * o] = (uint32_t)c->mult, rec[25 + 2 * o] = (uint32_t)c->rnd, rec[32 + o] = (uint32_t)c->s;
        }
#endif /* RP_USE_DSP */
    for (int32_t oy = first; oy < last; oy++) {
        const int32_t y0 = 2 * oy - 1;
        int8_t *row = out + (int64_t)oy * wo * cout;
        int32_t ox = 0;
        if (y0 >= 0 && y0 + 2 < in_dims->h && end > 1) {
            const uint8_t *r0 = in + (int64_t)y0 * w, *r1 = r0 + w, *r2 = r1 + w;
            padded_pixel(p, q, in_dims, in, filter, bias, cout, oy, 0, row);
#if RP_USE_DSP
            args[1] = (int32_t)(intptr_t)(row + end * cout);
#endif /* RP_USE_DSP */
            if (cout == 4 && relu)
#if RP_USE_DSP
                rp_nn_stem4_relu(rec, r0, row + cout, args);
#else
                interior(ch, 4, r0, r1, r2, end, row + cout, 0, 127, 1);
#endif /* RP_USE_DSP */
            else
                interior(ch, cout, r0, r1, r2, end, row + cout, lo, hi, 0);
            ox = end;
        }
        for (; ox < wo; ox++) padded_pixel(p, q, in_dims, in, filter, bias, cout, oy, ox, row + ox * cout);
    }
}

/*
 * kern_avx512_tiles.h - register tile sizes of the vb-16 kernel sets (AVX-512's
 * 32 vector registers), shared by kern_avx512.c and the generic16 set that
 * tests its arithmetic (see kern_tmpl.h for what each size means).
 */
#define KDW_RX 10   /* 2 x 10 accumulators + 2 weights + 1 input */
#define KDWG_KXB 13 /* a 13-wide kernel row in one tile */
#define KDWG_XS 6
#define KPW_RP 6    /* 6 pixels x 4 vectors (64 output channels) */
#define KPW_OB 4
#define KPWG_RC 6
#define KPWG_OB 4

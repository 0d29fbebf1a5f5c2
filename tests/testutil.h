/* testutil.h: what the cmocka tests share: a seeded uniform generator, random tensors and shape literals
 * (SH(2,3,4) is an int64_t[] shape, RND(2,3,4) a fresh random (2,3,4) tensor). Include after <cmocka.h>. */
#pragma once
#include "ops.h"

#include <stdint.h>

static uint64_t mb_test_rng = 0x2545f4914f6cdd1dull; /* a test may reseed it */

static inline float frand(void) /* uniform in [-1, 1), 24 random bits */
{
    mb_test_rng = mb_test_rng * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((mb_test_rng >> 40) / (double)(1 << 24)) * 2.0f - 1.0f;
}

/* a fresh random C-contiguous tensor */
static inline struct mb_tensor rnd(int nd, const int64_t *shape)
{
    struct mb_tensor t;
    char msg[256];
    assert_int_equal(mb_tensor_alloc(&t, nd, shape, msg, sizeof msg), MB_OK);
    for (int64_t i = 0; i < mb_tensor_numel(&t); i++) t.data[i] = frand();
    return t;
}

#define SH(...) ((int64_t[]){__VA_ARGS__})
#define NSH(...) ((int)(sizeof(SH(__VA_ARGS__)) / sizeof(int64_t)))
#define RND(...) rnd(NSH(__VA_ARGS__), SH(__VA_ARGS__))

/*
 * fuzz_npy.c: libFuzzer target for the .npy reader (mb_npy_read_mem, the parser behind mb_npy_read).
 * Any input must give MB_OK with a tensor whose size matches the input, or MB_EINVAL with a message
 * naming the input; never a crash, an out-of-bounds access or a large allocation (tests/test_fuzz_npy.sh
 * runs it under ASan + UBSan with -rss_limit_mb and -malloc_limit_mb).
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mb_tensor t;
    char msg[512];
    enum mb_status s = mb_npy_read_mem(data, size, "fuzz.npy", &t, msg, sizeof msg);
    if (s == MB_OK) {
        /* the data must be exactly what the header claims, and it must be readable */
        int64_t n = mb_tensor_numel(&t);
        if ((size_t)n * sizeof(float) > size) abort();
        volatile float sink = 0;
        for (int64_t i = 0; i < n; i++) sink += t.data[i];
        (void)sink;
        mb_tensor_free(&t);
    } else if (s != MB_EINVAL || t.data || !strstr(msg, "fuzz.npy")) {
        abort();
    }
    return 0;
}

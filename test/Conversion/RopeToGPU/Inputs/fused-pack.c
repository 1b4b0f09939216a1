/* Packs the parameters of a --fuse norm,cache --target cuda kernel with the
 * header mrope-compile writes (--name fused) and prints them, one tensor per
 * line, so that the test can compare them with the JSON ABI. */
#include "fused.h"

#include <stdio.h>

int main(void) {
  uint64_t words[FUSED_NUM_PARAMS];
  /* batch 2, seq 5, 3 q heads, 1 kv head, a cache of 9 tokens at offset 4 */
  int n = fused_pack(words, (void *)0x1000, (const void *)0x2000,
                     (const int64_t *)0x3000, (const void *)0x4000,
                     (const void *)0x5000, (void *)0x6000, 2, 5, 3, 1, 9, 4);
  const int per[] = {11, 11, 9, 5, 5, 11, 1};
  int at = 0;
  printf("n=%d of %d\n", n, FUSED_NUM_PARAMS);
  for (int t = 0; t < 7; ++t) {
    for (int i = 0; i < per[t]; ++i, ++at)
      printf("%s%llu", i ? " " : "", (unsigned long long)words[at]);
    printf("\n");
  }
  return n == FUSED_NUM_PARAMS ? 0 : 1;
}

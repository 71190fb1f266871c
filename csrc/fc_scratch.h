/*
 * fc_scratch.h - the scratch memory of a kernel call, kept per thread between calls.
 *
 * Why: freed blocks of a few hundred KiB and more go back to the OS (glibc trims
 * the heap or unmaps them), and the next call faults every page back in.  On a
 * virtual machine that costs about 0.4 ms per MiB (measured here: an 800 KiB
 * output plus an 800 KiB scratch block took 0.65 ms per call in page faults, as
 * long as the 2x2 transposed convolution computing into them).  So blocks of at
 * least FC_SCRATCH_MIN_BYTES are kept in a small per-thread cache when freed and
 * handed out again by the next call of that thread, up to FC_SCRATCH_KEEP_BYTES
 * per thread; the cache is freed when the thread exits.  Each thread has its
 * own cache, so no lock is taken and kernels stay safe to call from many threads.
 * FASTCONV_KEEP_SCRATCH=0 in the environment (read once) turns the cache off.
 *
 * fc_scratch_alloc / fc_scratch_calloc / fc_scratch_free follow malloc / calloc /
 * free, except that a block must be freed by the thread that allocated it (a
 * kernel's driver frees what it allocated, a task what it allocated).
 */
#ifndef FC_SCRATCH_H
#define FC_SCRATCH_H

#include <stddef.h>

void *fc_scratch_alloc(size_t bytes);
void *fc_scratch_calloc(size_t count, size_t size);
void fc_scratch_free(void *block);

/* Whether freed blocks may be kept for reuse: not when FASTCONV_KEEP_SCRATCH=0.
 * Also decides the Python layer's result blocks (fastconv/_ext/_runtime.pyx). */
int fc_scratch_keeping(void);

#endif /* FC_SCRATCH_H */

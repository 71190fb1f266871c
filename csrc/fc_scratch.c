#include "fc_scratch.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* Smaller blocks stay in glibc's heap anyway; larger ones are worth keeping. */
#define FC_SCRATCH_MIN_BYTES ((size_t)64 << 10)
#define FC_SCRATCH_KEEP_BYTES ((size_t)256 << 20)
#define FC_SCRATCH_SLOTS 8

typedef struct {
    void *block[FC_SCRATCH_SLOTS];
    size_t size[FC_SCRATCH_SLOTS];
    unsigned char busy[FC_SCRATCH_SLOTS];
    size_t kept; /* bytes of all blocks in the slots */
} scratch_cache;

static pthread_key_t cache_key;
static pthread_once_t cache_key_once = PTHREAD_ONCE_INIT;
static int cache_key_ok;

static void cache_destroy(void *arg)
{
    scratch_cache *c = arg;
    for (int i = 0; i < FC_SCRATCH_SLOTS; i++)
        if (!c->busy[i])
            free(c->block[i]);
    /* a busy block (a call interrupted by thread exit) is left to its owner */
    free(c);
}

/* FASTCONV_KEEP_SCRATCH=0 turns the cache off (every block goes back at once). */
int fc_scratch_keeping(void)
{
    const char *keep = getenv("FASTCONV_KEEP_SCRATCH");
    return !(keep && strcmp(keep, "0") == 0);
}

static void make_cache_key(void)
{
    cache_key_ok = fc_scratch_keeping() && pthread_key_create(&cache_key, cache_destroy) == 0;
}

/* This thread's cache, or NULL (no memory for it: plain malloc / free then). */
static scratch_cache *this_cache(void)
{
    pthread_once(&cache_key_once, make_cache_key);
    if (!cache_key_ok)
        return NULL;
    scratch_cache *c = pthread_getspecific(cache_key);
    if (!c && (c = calloc(1, sizeof *c)) != NULL && pthread_setspecific(cache_key, c) != 0) {
        free(c);
        c = NULL;
    }
    return c;
}

/* Blocks start on a cache line.  malloc's blocks are 16-byte aligned, so a
 * kernel's 64-byte vector stores into scratch could each span two lines, as the
 * heap's history had it: a 256-channel 14x14 float32 Winograd call took 1.33 ms
 * (1 thread) where aligned blocks take 1.08 ms. */
#define FC_SCRATCH_ALIGN ((size_t)64)

static void *aligned_block(size_t bytes)
{
    if (bytes > (size_t)-1 - FC_SCRATCH_ALIGN)
        return NULL;
    /* C11 aligned_alloc wants a multiple of the alignment (and not 0) */
    const size_t rounded = (bytes + FC_SCRATCH_ALIGN - 1) / FC_SCRATCH_ALIGN * FC_SCRATCH_ALIGN;
    return aligned_alloc(FC_SCRATCH_ALIGN, rounded ? rounded : FC_SCRATCH_ALIGN);
}

void *fc_scratch_alloc(size_t bytes)
{
    if (bytes < FC_SCRATCH_MIN_BYTES)
        return aligned_block(bytes);
    scratch_cache *c = this_cache();
    if (!c)
        return aligned_block(bytes);
    /* the smallest idle block that fits */
    int best = -1, empty = -1, small = -1;
    for (int i = 0; i < FC_SCRATCH_SLOTS; i++) {
        if (!c->block[i]) {
            empty = empty < 0 ? i : empty;
        } else if (!c->busy[i]) {
            if (c->size[i] >= bytes && (best < 0 || c->size[i] < c->size[best]))
                best = i;
            else if (c->size[i] < bytes && (small < 0 || c->size[i] < c->size[small]))
                small = i;
        }
    }
    if (best >= 0) {
        c->busy[best] = 1;
        return c->block[best];
    }
    /* a new block, in an empty slot or in place of the smallest idle one */
    int slot = empty >= 0 ? empty : small;
    if (slot >= 0 && c->block[slot]) {
        c->kept -= c->size[slot];
        free(c->block[slot]);
        c->block[slot] = NULL;
    }
    void *block = aligned_block(bytes);
    if (block && slot >= 0 && c->kept + bytes <= FC_SCRATCH_KEEP_BYTES) {
        c->block[slot] = block;
        c->size[slot] = bytes;
        c->busy[slot] = 1;
        c->kept += bytes;
    }
    return block;
}

void *fc_scratch_calloc(size_t count, size_t size)
{
    if (size && count > (size_t)-1 / size)
        return NULL;
    void *block = fc_scratch_alloc(count * size);
    if (block)
        memset(block, 0, count * size);
    return block;
}

void fc_scratch_free(void *block)
{
    if (!block)
        return;
    pthread_once(&cache_key_once, make_cache_key);
    scratch_cache *c = cache_key_ok ? pthread_getspecific(cache_key) : NULL;
    if (c)
        for (int i = 0; i < FC_SCRATCH_SLOTS; i++)
            if (c->block[i] == block) {
                c->busy[i] = 0;
                return;
            }
    free(block);
}

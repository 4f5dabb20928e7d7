/* sim_stream.c - the simulator's random stream ids (see sim_int.h); its threads are base/pool's. */
#include "sim_int.h"

/* splitmix64 finaliser: a bijective 64-bit mixer. */
static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

uint64_t nsid__sim_stream(uint64_t purpose, uint64_t a, uint64_t b)
{
    /* Chain the three inputs through a bijective mixer so that no two
     * (purpose, a, b) triples collide in practice. */
    uint64_t h = mix64(purpose * 0x9e3779b97f4a7c15ULL + 0x632be59bd9b4e019ULL);
    h = mix64(h ^ (a + 0x9e3779b97f4a7c15ULL));
    h = mix64(h ^ (b + 0xd1b54a32d192ed03ULL));
    return h;
}

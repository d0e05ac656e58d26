#ifndef CRIC_CRI_ARENA_H
#define CRIC_CRI_ARENA_H

#include "cri/cri.h"

struct cri_arena {
    struct arena_chunk *head;
};

void arena_release(cri_arena *a);

#endif

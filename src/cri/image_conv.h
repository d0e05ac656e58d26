/* Shared protobuf <-> image-domain translation for the image handlers. */
#ifndef CRIC_CRI_IMAGE_CONV_H
#define CRIC_CRI_IMAGE_CONV_H

#include "cri/cri.h"
#include "image/image.h"

Runtime__V1__Image *cri_image(cri_arena *a, const image_info *info);
/* The image reference a (possibly NULL) ImageSpec names ("" when none). */
const char *cri_image_spec_ref(const Runtime__V1__ImageSpec *spec);

#endif

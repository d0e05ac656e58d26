#include "cri/image_conv.h"

static char **strv_copy(cri_arena *a, char **v, size_t n)
{
    char **out = AR_ARRAY(a, char *, n);
    for (size_t i = 0; i < n; i++)
        out[i] = ar_strdup(a, v[i]);
    return out;
}

Runtime__V1__Image *cri_image(cri_arena *a, const image_info *info)
{
    Runtime__V1__Image *im = AR_NEW(a, Runtime__V1__Image);
    runtime__v1__image__init(im);
    im->id = ar_strdup(a, info->id);
    im->repo_tags = strv_copy(a, info->repo_tags, info->n_repo_tags);
    im->n_repo_tags = info->n_repo_tags;
    im->repo_digests = strv_copy(a, info->repo_digests, info->n_repo_digests);
    im->n_repo_digests = info->n_repo_digests;
    im->size = info->size;
    if (info->has_uid) {
        im->uid = AR_NEW(a, Runtime__V1__Int64Value);
        runtime__v1__int64_value__init(im->uid);
        im->uid->value = info->uid;
    }
    im->username = ar_strdup(a, info->username ? info->username : "");
    im->pinned = info->pinned;
    im->spec = AR_NEW(a, Runtime__V1__ImageSpec);
    runtime__v1__image_spec__init(im->spec);
    im->spec->image = ar_strdup(a, info->id);
    size_t n = json_object_size(info->annotations);
    if (n) {
        im->spec->annotations = AR_ARRAY(a, Runtime__V1__ImageSpec__AnnotationsEntry *, n);
        const char *k;
        json_t *v;
        size_t i = 0;
        json_object_foreach(info->annotations, k, v)
        {
            if (!json_is_string(v))
                continue;
            Runtime__V1__ImageSpec__AnnotationsEntry *e =
                AR_NEW(a, Runtime__V1__ImageSpec__AnnotationsEntry);
            runtime__v1__image_spec__annotations_entry__init(e);
            e->key = ar_strdup(a, k);
            e->value = ar_strdup(a, json_string_value(v));
            im->spec->annotations[i++] = e;
        }
        im->spec->n_annotations = i;
    }
    return im;
}

const char *cri_image_spec_ref(const Runtime__V1__ImageSpec *spec)
{
    if (!spec || !spec->image)
        return "";
    return spec->image;
}

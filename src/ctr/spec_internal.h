/* Internals shared by the spec_*.c files (not part of the ctr API). */
#ifndef CRIC_CTR_SPEC_INTERNAL_H
#define CRIC_CTR_SPEC_INTERNAL_H

#include "ctr/spec.h"

#define SPEC_MAX_STRLEN 4096 /* a path, an env entry, an argument */
#define SPEC_MAX_ARGS 4096   /* argv entries and env entries */
#define SPEC_MAX_MOUNTS 1024
#define SPEC_MAX_DEVICES 4096
#define SPEC_MAX_GROUPS 1024         /* supplemental groups */
#define SPEC_ETC_FILE_MAX (4u << 20) /* /etc/passwd, /etc/group in the image */
#define SPEC_SECCOMP_FILE_MAX (1u << 20)

/* The state of one build. */
typedef struct spec_ctx {
    const ctr_spec_input *in;
    const ctr_spec_sandbox *sb;
    const Runtime__V1__ContainerConfig *cfg;
    const Runtime__V1__LinuxContainerSecurityContext *sc; /* NULL when not given */
    const Runtime__V1__LinuxContainerResources *res;      /* NULL when not given */
    const char *cid;                                      /* container id, for messages */
    bool privileged;
    ctr_capset bounding; /* the container's bounding set, once computed */
    json_t *spec;
    json_t *process, *linux;
    ctr_spec_extra *extra;
} spec_ctx;

/* spec.c helpers */
const char *spec_str(const char *s);         /* NULL -> "" */
bool spec_str_ok(const char *s, size_t max); /* non-NULL, at most max bytes */
/* Lexically cleans an absolute path ("/a//b/../c/" -> "/a/c"); -1 if not
 * absolute or too long. out has room for SPEC_MAX_STRLEN + 1 bytes. */
int spec_path_clean(const char *in, char *out);
int spec_extra_add_mkdir(ctr_spec_extra *x, const char *path, bool in_rootfs, cric_err *err);
/* json_array_append_new that reports allocation failure. */
int spec_append(json_t *arr, json_t *v, cric_err *err);
int spec_set(json_t *obj, const char *key, json_t *v, cric_err *err);

/* spec_user.c: process.user and extras uid/gid/additional gids. */
int spec_user(spec_ctx *c, cric_err *err);
/* Opens a file of the rootfs (relative path like "etc/passwd") without ever
 * leaving the rootfs: symlinks resolve inside it; reads at most max bytes
 * (larger files are an error). A missing file gives 0 with *out = NULL. */
int spec_rootfs_read(const char *rootfs, const char *rel, size_t max, char **out, cric_err *err);

/* spec_mounts.c: mounts, image volumes, rootfsPropagation. */
int spec_mounts(spec_ctx *c, cric_err *err);
/* The mount (from a mountinfo file) holding path: its mount point and flags
 * (1 shared, 2 slave). -1 when no line matches or the file is unreadable. */
int spec_mount_propagation(const char *mountinfo, const char *path, int *flags, char *mp,
                           size_t mp_len);

/* spec_linux.c: namespaces, cgroupsPath, resources, devices, sysctls. */
int spec_namespaces(spec_ctx *c, cric_err *err);
int spec_resources(spec_ctx *c, cric_err *err);
int spec_devices(spec_ctx *c, cric_err *err);
int spec_sysctls(spec_ctx *c, cric_err *err);

/* spec_security.c: capabilities, no_new_privs, masked/readonly paths,
 * seccomp, AppArmor, SELinux (ignored). */
int spec_security(spec_ctx *c, cric_err *err);

/* seccomp_default.c: the RuntimeDefault profile for a bounding set. */
json_t *seccomp_default_profile(ctr_capset caps);
/* seccomp_profile.c: loads a Localhost profile (absolute path; JSON in the
 * OCI or Docker form: names/name, archMap, includes/excludes evaluated
 * against caps) and returns the OCI linux.seccomp object. */
int seccomp_profile_load(const char *path, ctr_capset caps, json_t **out, cric_err *err);
/* Converts and validates a parsed profile (exposed for tests). */
int seccomp_profile_convert(const json_t *in, ctr_capset caps, json_t **out, cric_err *err);
/* The SCMP_ARCH_* names of this host: native first. */
json_t *seccomp_host_arches(void);

#endif

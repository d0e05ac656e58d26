/* The daemon's side of cric-pull (see src/pullworker/worker.h): spawns the
 * helper for one job, pins what it announces, records what it finished, and
 * cleans up after it whatever way it ends (done, error, crash, cancel). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "image/reference.h"
#include "image/service.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/helper_path.h"
#include "util/ids.h"
#include "util/log.h"

extern char **environ;

#define HELPER_MSG_MAX (64u << 20) /* a message carries an image config (<= 8 MiB, escaped) */
#define HELPER_POLL_MS 200

static int helper_path(const image_service *s, char *out, size_t cap, cric_err *err)
{
    const char *cfg = s->cfg->image_helper;
    if (cfg && *cfg) {
        snprintf(out, cap, "%s", cfg);
        if (access(out, X_OK) == 0)
            return 0;
        return cric_err_errno(err, errno, "image_pull.helper %s", cfg);
    }
    /* Installed side by side; in the build tree it sits in its own folder. */
    if (helper_path_find("cric-pull", "pullworker", out, cap, err) < 0) {
        err->kind = CRIC_ERR_INTERNAL;
        return cric_err_prefix(err, "the image transfer helper: ");
    }
    return 0;
}

/* What the current image of the job is (between "image" and "recorded"). */
typedef struct cur_image {
    bool active;
    char id[IMGSTORE_ID_MAX];
    char manifest_digest[IMGSTORE_ID_MAX];
    char *config;
    char **chains; /* then the blobs and the config digest: all pinned */
    size_t n_chains;
    char **pinned;
    size_t n_pinned;
    char **blobs;
    size_t n_blobs;
    uint64_t size;
    char tag[1024];
    char digest[1024];
} cur_image;

typedef struct run {
    image_service *s;
    const char *what;
    const char *annotations_json;
    pid_t pid;
    int to_fd;
    cur_image cur;
    char **ids;
    size_t n_ids;
    bool done;
    bool failed;
    cric_err err;
} run;

static void strv_free(char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

/* Drops the current image: its unrecorded layers go unless another pull
 * relies on them. */
static void cur_release(run *r, bool discard)
{
    cur_image *c = &r->cur;
    if (!c->active)
        return;
    if (discard)
        layers_discard_unrecorded(r->s, c->chains, c->n_chains);
    pins_drop(r->s, c->pinned, c->n_pinned);
    strv_free(c->chains, c->n_chains);
    strv_free(c->pinned, c->n_pinned);
    strv_free(c->blobs, c->n_blobs);
    free(c->config);
    memset(c, 0, sizeof(*c));
}

static int fail(run *r, cric_errkind kind, const char *fmt, const char *detail)
{
    if (!r->failed) {
        r->failed = true;
        cric_err_set(&r->err, kind, fmt, detail ? detail : "");
    }
    return -1;
}

static int send_n(run *r, const char *text, size_t len)
{
    while (len > 0) {
        ssize_t n = write(r->to_fd, text, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1; /* the helper is gone: its exit tells why */
        text += n;
        len -= (size_t)n;
    }
    return 0;
}

static int reply(run *r, const char *text)
{
    return send_n(r, text, strlen(text));
}

static char **digest_list(const json_t *a, size_t max, size_t *n)
{
    *n = 0;
    if (!json_is_array(a) || json_array_size(a) > max)
        return NULL;
    char **v = calloc(json_array_size(a) + 1, sizeof(char *));
    for (size_t i = 0; v && i < json_array_size(a); i++) {
        const char *d = json_string_value(json_array_get(a, i));
        if (!d || strlen(d) >= IMGSTORE_ID_MAX || !digest_is_valid(d)) {
            strv_free(v, *n);
            return NULL;
        }
        v[(*n)++] = strdup(d);
    }
    return v;
}

static bool ref_ok(const char *s)
{
    return !*s || (strlen(s) < 1024 && ref_parse(s, &(image_ref){0}, NULL) == 0);
}

/* {"image": {...}}: pin its chains and blobs, then let the helper go on. */
static int on_image(run *r, const json_t *m)
{
    cur_image *c = &r->cur;
    if (c->active)
        return fail(r, CRIC_ERR_INTERNAL, "%s: cric-pull announced two images at once", r->what);
    const char *id = json_string_value(json_object_get(m, "id"));
    const char *md = json_string_value(json_object_get(m, "manifest_digest"));
    const char *config = json_string_value(json_object_get(m, "config"));
    const char *tag = json_string_value(json_object_get(m, "tag"));
    const char *dig = json_string_value(json_object_get(m, "digest"));
    json_t *size = json_object_get(m, "size");
    if (!id || !digest_is_valid(id) || !md || (*md && !digest_is_valid(md)) || !config ||
        strlen(config) != json_string_length(json_object_get(m, "config")) || !tag ||
        !ref_ok(tag) || !dig || !ref_ok(dig) || !json_is_integer(size) ||
        json_integer_value(size) < 0)
        return fail(r, CRIC_ERR_INTERNAL, "%s: cric-pull sent a malformed image", r->what);
    size_t nc = 0, nb = 0;
    char **chains = digest_list(json_object_get(m, "chains"), 256, &nc);
    char **blobs = digest_list(json_object_get(m, "blobs"), 256, &nb);
    if (!chains || !blobs || nb != nc) {
        strv_free(chains, nc);
        strv_free(blobs, nb);
        return fail(r, CRIC_ERR_INTERNAL, "%s: cric-pull sent malformed layers", r->what);
    }
    c->active = true;
    snprintf(c->id, sizeof(c->id), "%s", id);
    snprintf(c->manifest_digest, sizeof(c->manifest_digest), "%s", md);
    snprintf(c->tag, sizeof(c->tag), "%s", tag);
    snprintf(c->digest, sizeof(c->digest), "%s", dig);
    c->config = strdup(config);
    c->size = (uint64_t)json_integer_value(size);
    c->chains = chains;
    c->n_chains = nc;
    c->blobs = blobs;
    c->n_blobs = nb;
    /* Pinned: the chains (no collection of the layers), the blobs and the
     * config (no collection of content the image is about to refer to). */
    c->pinned = calloc(nc + nb + 2, sizeof(char *));
    if (!c->config || !c->pinned)
        return fail(r, CRIC_ERR_RESOURCE, "%s: out of memory", r->what);
    for (size_t i = 0; i < nc; i++)
        c->pinned[c->n_pinned++] = strdup(chains[i]);
    for (size_t i = 0; i < nb; i++)
        c->pinned[c->n_pinned++] = strdup(blobs[i]);
    c->pinned[c->n_pinned++] = strdup(id);
    pins_add(r->s, c->pinned, c->n_pinned);
    return reply(r, "{\"go\":true}\n");
}

/* {"layers": [...]}: every layer exists; record the image. */
static int on_layers(run *r, const json_t *a)
{
    cur_image *c = &r->cur;
    if (!c->active || !json_is_array(a) || json_array_size(a) != c->n_chains)
        return fail(r, CRIC_ERR_INTERNAL, "%s: cric-pull reported layers out of turn", r->what);
    image_layer_row *rows = calloc(c->n_chains + 1, sizeof(*rows));
    if (!rows)
        return fail(r, CRIC_ERR_RESOURCE, "%s: out of memory", r->what);
    for (size_t i = 0; i < c->n_chains; i++) {
        json_t *e = json_array_get(a, i);
        const char *chain = json_string_value(json_object_get(e, "chain"));
        const char *diff = json_string_value(json_object_get(e, "diff"));
        json_t *b = json_object_get(e, "bytes"), *n = json_object_get(e, "inodes");
        if (!chain || strcmp(chain, c->chains[i]) != 0 || !diff || !digest_is_valid(diff) ||
            !json_is_integer(b) || !json_is_integer(n) || json_integer_value(b) < 0 ||
            json_integer_value(n) < 0) {
            free(rows);
            return fail(r, CRIC_ERR_INTERNAL, "%s: cric-pull sent a malformed layer", r->what);
        }
        snprintf(rows[i].chain_id, sizeof(rows[i].chain_id), "%s", chain);
        snprintf(rows[i].diff_id, sizeof(rows[i].diff_id), "%s", diff);
        rows[i].bytes = (uint64_t)json_integer_value(b);
        rows[i].inodes = (uint64_t)json_integer_value(n);
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    char *tags[1] = {c->tag}, *digests[1] = {c->digest};
    image_record rec = {
        .config_json = c->config,
        .annotations_json = (char *)(r->annotations_json ? r->annotations_json : "{}"),
        .size = c->size,
        .created_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec,
        .chain_ids = c->chains,
        .n_layers = c->n_chains,
        .tags = tags,
        .n_tags = c->tag[0] ? 1 : 0,
        .digests = digests,
        .n_digests = c->digest[0] ? 1 : 0,
        .blobs = c->blobs,
        .n_blobs = c->n_blobs,
    };
    snprintf(rec.id, sizeof(rec.id), "%s", c->id);
    snprintf(rec.manifest_digest, sizeof(rec.manifest_digest), "%s", c->manifest_digest);
    cric_err err = {0};
    int rc = image_store_put(r->s->db, &rec, rows, c->n_chains, &err);
    free(rows);
    if (rc < 0) {
        reply(r, "{\"abort\":\"the daemon could not record the image\"}\n");
        cur_release(r, true);
        if (!r->failed) {
            r->failed = true;
            r->err = err;
            cric_err_prefix(&r->err, "%s: ", r->what);
        }
        return -1;
    }
    bool seen = false;
    for (size_t i = 0; i < r->n_ids && !seen; i++)
        seen = strcmp(r->ids[i], c->id) == 0;
    char **v = seen ? r->ids : realloc(r->ids, (r->n_ids + 2) * sizeof(char *));
    if (v && !seen) {
        v[r->n_ids++] = strdup(c->id);
        v[r->n_ids] = NULL;
    }
    if (v)
        r->ids = v;
    cur_release(r, false);
    return reply(r, "{\"recorded\":true}\n");
}

static void on_message(run *r, const char *line, size_t len)
{
    json_t *m = json_loadb(line, len, 0, NULL);
    json_t *v;
    if (!json_is_object(m)) {
        fail(r, CRIC_ERR_INTERNAL, "%s: cric-pull sent something that is not JSON", r->what);
    } else if ((v = json_object_get(m, "image"))) {
        on_image(r, v);
    } else if ((v = json_object_get(m, "layers"))) {
        on_layers(r, v);
    } else if (json_is_true(json_object_get(m, "done"))) {
        r->done = true;
    } else if ((v = json_object_get(m, "error"))) {
        json_int_t k = json_integer_value(json_object_get(v, "kind"));
        const char *msg = json_string_value(json_object_get(v, "msg"));
        if (k <= CRIC_ERR_NONE || k > CRIC_ERR_PERMISSION)
            k = CRIC_ERR_INTERNAL;
        if (!r->failed) {
            r->failed = true;
            cric_err_set(&r->err, (cric_errkind)k, "%s", msg ? msg : "cric-pull failed");
        }
    } else {
        fail(r, CRIC_ERR_INTERNAL, "%s: cric-pull sent an unknown message", r->what);
    }
    json_decref(m);
    if (r->failed)
        kill(r->pid, SIGKILL); /* it has nothing more to say */
}

/* Removes what the helper may have left under its job id. */
static void remove_leftovers(image_service *s, const char *job)
{
    const char *dirs[2] = {s->layers_dir, s->tmp_dir};
    for (int k = 0; k < 2; k++) {
        char prefix[64];
        snprintf(prefix, sizeof(prefix), "%s%s-", k == 0 ? ".tmp-" : "", job);
        int fd = open(dirs[k], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
            continue;
        DIR *d = fdopendir(fd);
        if (!d) {
            close(fd);
            continue;
        }
        struct dirent *de;
        while ((de = readdir(d)))
            if (strncmp(de->d_name, prefix, strlen(prefix)) == 0)
                fs_rm_at(dirfd(d), de->d_name);
        closedir(d);
    }
}

static void describe_exit(run *r, int status)
{
    char why[96];
    if (WIFSIGNALED(status))
        snprintf(why, sizeof(why), "was killed by signal %d", WTERMSIG(status));
    else
        snprintf(why, sizeof(why), "exited with status %d", WEXITSTATUS(status));
    if (!r->failed) {
        r->failed = true;
        cric_err_set(&r->err, CRIC_ERR_INTERNAL,
                     "%s: the image transfer helper cric-pull (pid %d) %s without a result",
                     r->what, (int)r->pid, why);
    }
}

int helper_run(image_service *s, json_t *job, const char *what, const char *annotations_json,
               image_cancel_fn cancelled, void *cancel_ud, char ***ids, size_t *n_ids,
               cric_err *err)
{
    if (ids) {
        *ids = NULL;
        *n_ids = 0;
    }
    char path[PATH_MAX];
    if (helper_path(s, path, sizeof(path), err) < 0)
        return -1;
    char rnd[CRIC_ID_LEN + 1], jobid[17];
    id_random_hex(rnd);
    snprintf(jobid, sizeof(jobid), "%.16s", rnd);
    json_object_set_new(job, "job", json_string(jobid));
    json_object_set_new(job, "config", config_to_json(s->cfg));
    char *text = json_dumps(job, JSON_COMPACT);
    if (!text)
        return cric_err_set(err, CRIC_ERR_RESOURCE, "%s: out of memory", what);

    int in[2] = {-1, -1}, out[2] = {-1, -1};
    if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0) {
        int e = errno;
        explicit_bzero(text, strlen(text));
        free(text);
        for (int i = 0; i < 2; i++) {
            if (in[i] >= 0)
                close(in[i]);
            if (out[i] >= 0)
                close(out[i]);
        }
        return cric_err_errno(err, e, "%s: pipe", what);
    }
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&fa, out[1], STDOUT_FILENO);
    posix_spawnattr_init(&at);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    sigdelset(&all, SIGKILL);
    sigdelset(&all, SIGSTOP);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &all);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    char *argv[] = {"cric-pull", NULL};
    pid_t pid = -1;
    int se = posix_spawn(&pid, path, &fa, &at, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    close(in[0]);
    close(out[1]);
    if (se != 0) {
        explicit_bzero(text, strlen(text));
        free(text);
        close(in[1]);
        close(out[0]);
        return cric_err_errno(err, se, "%s: start %s", what, path);
    }
    run r = {
        .s = s, .what = what, .annotations_json = annotations_json, .pid = pid, .to_fd = in[1]};
    size_t tl = strlen(text);
    text[tl] = '\n'; /* sent with its length */
    if (send_n(&r, text, tl + 1) < 0)
        log_warn("image", "%s: cric-pull took no job (it will tell why)", what);
    explicit_bzero(text, tl + 1); /* it carries credentials */
    free(text);

    /* Serve the helper until it closes stdout. */
    char *buf = NULL;
    size_t len = 0, cap = 0;
    bool gone = false;
    for (;;) {
        struct pollfd p = {.fd = out[0], .events = POLLIN};
        int pr = poll(&p, 1, HELPER_POLL_MS);
        if (pr < 0 && errno == EINTR)
            continue;
        if (!gone && cancelled && cancelled(cancel_ud)) {
            gone = true;
            kill(pid, SIGKILL);
            if (!r.failed) {
                r.failed = true;
                cric_err_set(&r.err, CRIC_ERR_CANCELLED, "%s: pull cancelled by the caller", what);
            }
        }
        if (pr <= 0)
            continue;
        if (len + 65536 > cap) {
            if (cap >= HELPER_MSG_MAX) {
                kill(pid, SIGKILL);
                fail(&r, CRIC_ERR_INTERNAL, "%s: cric-pull sent an oversized message", what);
                break;
            }
            size_t nc = cap ? cap * 2 : 65536 * 2;
            char *nb = realloc(buf, nc);
            if (!nb) {
                kill(pid, SIGKILL);
                fail(&r, CRIC_ERR_RESOURCE, "%s: out of memory", what);
                break;
            }
            buf = nb;
            cap = nc;
        }
        ssize_t n = read(out[0], buf + len, cap - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
        char *nl;
        size_t off = 0;
        while ((nl = memchr(buf + off, '\n', len - off))) {
            on_message(&r, buf + off, (size_t)(nl - (buf + off)));
            off = (size_t)(nl - buf) + 1;
        }
        memmove(buf, buf + off, len - off);
        len -= off;
    }
    free(buf);
    close(out[0]);
    close(in[1]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (!r.done || status != 0)
        describe_exit(&r, status);
    cur_release(&r, true);
    remove_leftovers(s, jobid);
    if (r.failed) {
        *err = r.err;
        strv_free(r.ids, r.n_ids);
        return -1;
    }
    if (ids) {
        *ids = r.ids;
        *n_ids = r.n_ids;
    } else {
        strv_free(r.ids, r.n_ids);
    }
    return 0;
}

/* cric-pull: reads one job from stdin, runs it, reports on stdout (see
 * worker.h). Dies with the daemon (PR_SET_PDEATHSIG). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "image/registry.h"
#include "pullworker/worker.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/log.h"

#define WORKER_REPLY_MAX 4096

int worker_send(worker *w, json_t *msg, cric_err *err)
{
    if (!msg)
        return cric_err_set(err, CRIC_ERR_RESOURCE, "cric-pull: message: out of memory");
    char *text = json_dumps(msg, JSON_COMPACT);
    json_decref(msg);
    if (!text)
        return cric_err_set(err, CRIC_ERR_RESOURCE, "cric-pull: message: out of memory");
    size_t len = strlen(text);
    text[len] = '\n'; /* replaces the NUL: written with its length */
    pthread_mutex_lock(&w->out_mu);
    const char *p = text;
    size_t left = len + 1;
    int rc = 0;
    while (left > 0) {
        ssize_t n = write(STDOUT_FILENO, p, left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = cric_err_errno(err, errno, "cric-pull: write to the daemon");
            break;
        }
        p += n;
        left -= (size_t)n;
    }
    pthread_mutex_unlock(&w->out_mu);
    free(text);
    return rc;
}

int worker_expect(worker *w, const char *want, cric_err *err)
{
    (void)w;
    char line[WORKER_REPLY_MAX];
    if (!fgets(line, sizeof(line), stdin))
        return cric_err_set(err, CRIC_ERR_CANCELLED, "cric-pull: the daemon went away");
    json_t *m = json_loads(line, 0, NULL);
    int rc = 0;
    const char *why = json_string_value(json_object_get(m, "abort"));
    if (json_is_true(json_object_get(m, want)))
        rc = 0;
    else if (why)
        rc = cric_err_set(err, CRIC_ERR_INTERNAL, "%s", why);
    else
        rc = cric_err_set(err, CRIC_ERR_INTERNAL,
                          "cric-pull: unexpected answer from the daemon (want %s, got %.80s)", want,
                          line);
    json_decref(m);
    return rc;
}

/* Reads the job (one line) from stdin. */
static json_t *read_job(cric_err *err)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, stdin);
    if (n <= 0 || (size_t)n > WORKER_JOB_MAX) {
        free(line);
        cric_err_set(err, CRIC_ERR_INVALID, "cric-pull: no job on stdin");
        return NULL;
    }
    json_error_t jerr;
    json_t *job = json_loadb(line, (size_t)n, 0, &jerr);
    explicit_bzero(line, (size_t)n); /* it may carry credentials */
    free(line);
    if (!json_is_object(job)) {
        json_decref(job);
        cric_err_set(err, CRIC_ERR_INVALID, "cric-pull: the job is not a JSON object: %s",
                     jerr.text);
        return NULL;
    }
    return job;
}

static int setup(worker *w, const json_t *job, cric_err *err)
{
    config_defaults(&w->cfg);
    json_t *cfg = json_object_get(job, "config");
    if (cfg) {
        char *text = json_dumps(cfg, JSON_COMPACT);
        int rc = text ? config_merge_json(&w->cfg, text, strlen(text), "job", err) : -1;
        free(text);
        if (rc < 0)
            return cric_err_prefix(err, "cric-pull: ");
    }
    log_setup(w->cfg.log_level, w->cfg.log_format);
    const char *id = json_string_value(json_object_get(job, "job"));
    if (!id || strlen(id) != 16 || strspn(id, "0123456789abcdef") != 16)
        return cric_err_set(err, CRIC_ERR_INVALID, "cric-pull: bad job id");
    snprintf(w->job, sizeof(w->job), "%s", id);
    const char *root = w->cfg.root;
    if (!root || root[0] != '/' || strlen(root) > WORKER_DIR_MAX - 64)
        return cric_err_set(err, CRIC_ERR_INVALID, "cric-pull: bad root");
    snprintf(w->root, sizeof(w->root), "%s", root);
    snprintf(w->content_dir, sizeof(w->content_dir), "%s/content/sha256", root);
    snprintf(w->tmp_dir, sizeof(w->tmp_dir), "%s/content/tmp", root);
    snprintf(w->layers_dir, sizeof(w->layers_dir), "%s/layers", root);
    snprintf(w->lock_path, sizeof(w->lock_path), "%s/layers.lock", root);
    w->max_layer_bytes = w->cfg.image_max_layer_bytes;
    w->max_image_bytes = w->cfg.image_max_image_bytes;
    w->devices = strcmp(w->cfg.image_device_nodes, "all") == 0    ? UNPACK_DEVICES_ALL
                 : strcmp(w->cfg.image_device_nodes, "none") == 0 ? UNPACK_DEVICES_NONE
                                                                  : UNPACK_DEVICES_OCI_DEFAULTS;
    if (fs_mkdir_p(w->content_dir, 0700, err) < 0 || fs_mkdir_p(w->tmp_dir, 0700, err) < 0 ||
        fs_mkdir_p(w->layers_dir, 0700, err) < 0)
        return cric_err_prefix(err, "cric-pull: ");
    w->layers_fd = open(w->layers_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (w->layers_fd < 0)
        return cric_err_errno(err, errno, "cric-pull: open %s", w->layers_dir);
    return 0;
}

int main(int argc, char **argv)
{
    (void)argv;
    /* Die with the daemon; a daemon already gone leaves nothing to do. */
    pid_t parent = getppid();
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        return 1;
    signal(SIGPIPE, SIG_IGN);
    if (argc != 1 || isatty(STDIN_FILENO)) {
        fprintf(stderr, "cric-pull: started by the cric daemon with a job on stdin; not for "
                        "direct use\n");
        return 2;
    }
    worker w = {.layers_fd = -1};
    pthread_mutex_init(&w.out_mu, NULL);
    cric_err err = {0};
    json_t *job = read_job(&err);
    int rc = job ? setup(&w, job, &err) : -1;
    if (rc == 0) {
        const char *op = json_string_value(json_object_get(job, "op"));
        if (op && strcmp(op, "pull") == 0)
            rc = worker_pull(&w, job, &err);
        else if (op && strcmp(op, "import") == 0)
            rc = worker_import(&w, job, &err);
        else
            rc = cric_err_set(&err, CRIC_ERR_INVALID, "cric-pull: unknown job %.40s",
                              op ? op : "(none)");
    }
    json_decref(job);
    cric_err serr = {0};
    if (rc == 0)
        rc = worker_send(&w, json_pack("{s:b}", "done", 1), &serr);
    else {
        for (char *p = err.msg; *p; p++) /* names from hostile archives: keep it ASCII */
            if ((unsigned char)*p >= 0x80 || (unsigned char)*p < 0x20)
                *p = '?';
        worker_send(&w, json_pack("{s:{s:i, s:s}}", "error", "kind", (int)err.kind, "msg", err.msg),
                    &serr);
    }
    if (w.layers_fd >= 0)
        close(w.layers_fd);
    config_free(&w.cfg);
    return rc == 0 ? 0 : 1;
}

/* The sandbox table, its persistence and per-sandbox paths. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pod/record.h"
#include "pod/service_int.h"
#include "store/sandbox_store.h"
#include "pod/infra.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/ids.h"
#include "util/log.h"

int64_t pods_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

double pods_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* ------------------------------------------------------------------ table */

sandbox *pods_sb_new(pod_info *info)
{
    sandbox *sb = calloc(1, sizeof(*sb));
    if (!sb)
        return NULL;
    sb->info = info;
    sb->refs = 1; /* the table's */
    pthread_mutex_init(&sb->op_mu, NULL);
    return sb;
}

void pods_sb_free(sandbox *sb)
{
    pod_info_free(sb->info);
    pthread_mutex_destroy(&sb->op_mu);
    free(sb);
}

void pods_sb_unref(pod_service *s, sandbox *sb)
{
    pthread_mutex_lock(&s->mu);
    bool last = --sb->refs == 0;
    pthread_mutex_unlock(&s->mu);
    if (last)
        pods_sb_free(sb);
}

/* Table lock held. */
int pods_table_add(pod_service *s, sandbox *sb)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        sandbox **items = realloc(s->items, cap * sizeof(*items));
        if (!items)
            return -1;
        s->items = items;
        s->cap = cap;
    }
    s->items[s->n++] = sb;
    return 0;
}

/* Table lock held; drops the table's reference (caller holds another). */
void pods_table_del(pod_service *s, sandbox *sb)
{
    for (size_t i = 0; i < s->n; i++) {
        if (s->items[i] == sb) {
            memmove(&s->items[i], &s->items[i + 1], (s->n - i - 1) * sizeof(*s->items));
            s->n--;
            sb->refs--;
            return;
        }
    }
}

/* Table lock held. Finds one visible sandbox by full id or unique prefix. */
int pods_table_find(pod_service *s, const char *id, sandbox **out, cric_err *err)
{
    if (!id_is_prefix(id))
        return cric_err_set(err, CRIC_ERR_INVALID, "sandbox id %.80s: not a hex id or prefix",
                            id ? id : "");
    size_t len = strlen(id);
    sandbox *found = NULL;
    for (size_t i = 0; i < s->n; i++) {
        sandbox *sb = s->items[i];
        if (sb->creating || strncmp(sb->info->id, id, len) != 0)
            continue;
        if (len == CRIC_ID_LEN) {
            found = sb;
            break;
        }
        if (found)
            return cric_err_set(err, CRIC_ERR_INVALID,
                                "sandbox id prefix %s is ambiguous (%.12s, %.12s, ...)", id,
                                found->info->id, sb->info->id);
        found = sb;
    }
    if (!found)
        return cric_err_set(err, CRIC_ERR_NOT_FOUND, "sandbox %s not found", id);
    *out = found;
    return 0;
}

/* Takes a reference on the sandbox named by id. */
int pods_get(pod_service *s, const char *id, sandbox **out, cric_err *err)
{
    pthread_mutex_lock(&s->mu);
    int rc = pods_table_find(s, id, out, err);
    if (rc == 0)
        (*out)->refs++;
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* ------------------------------------------------------------ persistence */

/* Writes the sandbox row (the info is read under the table lock). */
int pods_persist(pod_service *s, sandbox *sb, cric_err *err)
{
    pthread_mutex_lock(&s->mu);
    json_t *j = record_to_json(sb->info);
    bool ready = sb->info->ready;
    pthread_mutex_unlock(&s->mu);
    if (!j)
        return cric_err_set(err, CRIC_ERR_RESOURCE, "out of memory");
    char *data = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (!data)
        return cric_err_set(err, CRIC_ERR_RESOURCE, "out of memory");
    const pod_info *p = sb->info;
    sandbox_row row = {.id = p->id,
                       .name = p->name,
                       .namespace_ = p->namespace_,
                       .uid = p->uid,
                       .attempt = p->attempt,
                       .state = ready ? POD_STATE_READY : POD_STATE_NOTREADY,
                       .created_at = p->created_at,
                       .data = data};
    int rc = sandbox_store_put(s->db, &row, err);
    free(data);
    return rc;
}

void pods_set_ready(pod_service *s, sandbox *sb, bool ready)
{
    pthread_mutex_lock(&s->mu);
    sb->info->ready = ready;
    pthread_mutex_unlock(&s->mu);
}

/* ------------------------------------------------------------- paths */

void pods_path(const pod_info *p, const char *name, char *buf, size_t size)
{
    snprintf(buf, size, "%s/%s", p->sandbox_dir, name);
}

int pods_read_infra(const pod_info *p, int *pid, unsigned long long *start)
{
    char path[4200];
    pods_path(p, "infra", path, sizeof(path));
    return infra_read_record(path, pid, start);
}

void pods_refresh(pod_service *s, sandbox *sb)
{
    pod_info *p = sb->info;
    if (!p->ready || p->pid_mode != POD_NS_POD || sb->creating || !sb->infra_start)
        return;
    if (infra_start_time(p->infra_pid) == sb->infra_start)
        return;
    p->ready = false;
    log_warn("pod", "sandbox %.12s: infra process %d is gone; sandbox NOTREADY", p->id,
             p->infra_pid);
}

/* Runtime state under <state> (tmpfs on a normal host) only has to survive
 * a crash of cric, not of the machine (the namespaces it describes would be
 * gone too), so files are replaced atomically without the cost of fsync. */
int pods_write_state(const char *path, const char *text, mode_t mode, cric_err *err)
{
    char tmp[4200];
    if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
        return cric_err_set(err, CRIC_ERR_INVALID, "%s: path too long", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0)
        return cric_err_errno(err, errno, "write %s", tmp);
    size_t len = strlen(text), off = 0;
    while (off < len) {
        ssize_t n = write(fd, text + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;
            close(fd);
            unlink(tmp);
            return cric_err_errno(err, e, "write %s", tmp);
        }
        off += (size_t)n;
    }
    if (close(fd) < 0 || rename(tmp, path) < 0) {
        int e = errno;
        unlink(tmp);
        return cric_err_errno(err, e, "write %s", path);
    }
    return 0;
}

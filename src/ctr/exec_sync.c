/* ExecSync: the container's own process (env, user, cwd, capabilities,
 * no_new_privs, ...) with new args, entered one of two ways:
 * - fast path: the container's exec plan (exec_plan.c) applied by the
 *   daemon's own children (enter_direct.c), or by cric-enter (src/enter)
 *   where those could block: they join the init's cgroups and namespaces,
 *   apply the same confinement as the runtime and exec the command;
 * - `<runtime> exec --process P --pid-file F <id>` where the plan does not
 *   apply (exec_plan.c says when) or `exec_fast_path` is off.
 * One fork+exec, no shell: stdout and stderr on pipes, the exit on a pidfd,
 * one poll loop until the deadline. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/syscall.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ctr/ctr_int.h"
#include "ctr/spec_internal.h"
#include "enter/plan.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/log.h"

extern char **environ;

/* How long the runtime gets to reap a killed exec process. */
#define EXEC_REAP_GRACE_MS 2000

#define DRAIN_AFTER_EXIT_MS 200

typedef struct obuf {
    char *data;
    size_t len, cap;
    bool eof;
} obuf;

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads what is there; beyond the cap the bytes are read and dropped. */
static void obuf_read(obuf *b, int fd)
{
    for (;;) {
        char tmp[65536];
        ssize_t n = read(fd, tmp, sizeof(tmp));
        if (n < 0 && errno == EINTR)
            continue;
        if (n == 0 || (n < 0 && errno != EAGAIN)) {
            b->eof = true;
            return;
        }
        if (n < 0)
            return;
        size_t keep = (size_t)n;
        if (b->len + keep > CTR_EXEC_OUTPUT_MAX)
            keep = CTR_EXEC_OUTPUT_MAX - b->len;
        if (keep) {
            if (b->len + keep + 1 > b->cap) {
                size_t cap = b->cap ? b->cap : 4096;
                while (cap < b->len + keep + 1)
                    cap *= 2;
                char *d = realloc(b->data, cap);
                if (!d) {
                    b->eof = true;
                    return;
                }
                b->data = d;
                b->cap = cap;
            }
            memcpy(b->data + b->len, tmp, keep);
            b->len += keep;
        }
        if ((size_t)n < sizeof(tmp))
            return;
    }
}

int ctr_spec_load_locked(ctr_rec *r, cric_err *err)
{
    if (r->spec)
        return 0;
    char path[4200];
    snprintf(path, sizeof(path), "%s/config.json", r->bundle);
    json_error_t jerr;
    r->spec = json_load_file(path, 0, &jerr);
    if (!r->spec)
        return cric_err_set(err, CRIC_ERR_INTERNAL, "container %s: read %s: %s", r->id, path,
                            jerr.text);
    return 0;
}

/* The container's process with argv, as JSON text (the spec is read once). */
static char *process_json(ctr_rec *r, char *const *argv, size_t argc, cric_err *err)
{
    pthread_mutex_lock(&r->spec_mu);
    if (ctr_spec_load_locked(r, err) < 0) {
        pthread_mutex_unlock(&r->spec_mu);
        return NULL;
    }
    json_t *proc = NULL;
    int rc = ctr_spec_exec_process(r->spec, argv, argc, false, &proc, err);
    pthread_mutex_unlock(&r->spec_mu);
    if (rc < 0)
        return NULL;
    char *text = json_dumps(proc, JSON_COMPACT);
    json_decref(proc);
    if (!text)
        cric_err_set(err, CRIC_ERR_RESOURCE, "out of memory");
    return text;
}

static int write_private(const char *path, const char *text, cric_err *err)
{
    _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return cric_err_errno(err, errno, "exec: create %s", path);
    size_t len = strlen(text), off = 0;
    while (off < len) {
        ssize_t n = write(fd, text + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return cric_err_errno(err, errno, "exec: write %s", path);
        off += (size_t)n;
    }
    return 0;
}

/* Kills the exec'd process and lets the runtime reap it: the process is the
 * runtime's child, and killed together with the runtime it would be handed to
 * the container's init, which need not reap (a `sleep` zombie then stays
 * visible in the container). The runtime is killed only if it lingers. */
static void kill_exec(const char *pid_path, pid_t runtime_pid, int *status)
{
    char *text = NULL;
    size_t len = 0;
    cric_err e = {0};
    if (fs_read_file(pid_path, 64, &text, &len, &e) == 0) {
        long pid = strtol(text, NULL, 10);
        if (pid > 1)
            kill((pid_t)pid, SIGKILL);
    }
    free(text);
    for (int waited_ms = 0; waited_ms < EXEC_REAP_GRACE_MS; waited_ms += 10) {
        if (waitpid(runtime_pid, status, WNOHANG) == runtime_pid)
            return;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    kill(runtime_pid, SIGKILL);
    while (waitpid(runtime_pid, status, 0) < 0 && errno == EINTR)
        ;
}

static void join_args(char *buf, size_t size, char *const *argv, size_t argc)
{
    size_t off = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < argc && off + 1 < size; i++) {
        int n = snprintf(buf + off, size - off, "%s%s", i ? " " : "", argv[i]);
        if (n < 0)
            break;
        off += (size_t)n;
    }
    if (off >= size && size > 4)
        strcpy(buf + size - 4, "...");
}

/* ---- fast path (cric-enter: enter_spawn.c) ---- */

/* Timeout: cric-enter kills and reaps the command on SIGTERM; its process
 * group is killed only if it lingers. */
static void kill_enter(pid_t pid, int *status)
{
    kill(pid, SIGTERM);
    for (int waited_ms = 0; waited_ms < EXEC_REAP_GRACE_MS; waited_ms += 5) {
        if (waitpid(pid, status, WNOHANG) == pid)
            return;
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    kill(-pid, SIGKILL);
    while (waitpid(pid, status, 0) < 0 && errno == EINTR)
        ;
}

/* The direct path's command is our child and leads its process group. */
static void kill_direct(pid_t pid, int *status)
{
    kill(-pid, SIGKILL);
    kill(pid, SIGKILL);
    while (waitpid(pid, status, 0) < 0 && errno == EINTR)
        ;
}

/* ---- the runtime's exec ---- */

static int runtime_spawn(ctr_service *s, ctr_rec *r, char *const *argv, size_t argc, int fd1,
                         int fd2, char *proc_path, char *pid_path, size_t path_size, pid_t *pid,
                         cric_err *err)
{
    *pid = -1;
    char *text = process_json(r, argv, argc, err);
    if (!text)
        return -1;
    unsigned char rnd[8];
    if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd)) {
        free(text);
        return cric_err_errno(err, errno, "exec: getrandom");
    }
    char tag[17];
    for (int i = 0; i < 8; i++)
        snprintf(tag + 2 * i, 3, "%02x", rnd[i]);
    snprintf(proc_path, path_size, "%s/%.12s-%s.json", s->exec_dir, r->id, tag);
    snprintf(pid_path, path_size, "%s/%.12s-%s.pid", s->exec_dir, r->id, tag);
    int rc = write_private(proc_path, text, err);
    free(text);
    if (rc < 0) {
        proc_path[0] = '\0';
        return -1;
    }
    const char *args[16];
    size_t n = 0;
    args[n++] = r->runtime;
    if (r->runtime_root && r->runtime_root[0]) {
        args[n++] = "--root";
        args[n++] = r->runtime_root;
    }
    args[n++] = "exec";
    args[n++] = "--process";
    args[n++] = proc_path;
    args[n++] = "--pid-file";
    args[n++] = pid_path;
    args[n++] = r->id;
    args[n] = NULL;
    if (ctr_spawn(NULL, args, -1, fd1, fd2, pid, err) < 0) {
        *pid = -1;
        return cric_err_prefix(err, "container %s: exec", r->id);
    }
    return 0;
}

/* What cric-enter reported: a setup failure is an error; a failed execve is
 * the command's failure (exit 126/127, the reason on stderr, as with the
 * runtime). */
static int enter_report(ctr_rec *r, const obuf *rep, obuf *eb, cric_err *err)
{
    if (!rep->len)
        return 0;
    char msg[600];
    snprintf(msg, sizeof(msg), "%.*s", (int)(rep->len > 512 ? 512 : rep->len), rep->data);
    msg[strcspn(msg, "\n")] = '\0';
    if (strncmp(msg, "exec: ", 6) == 0) {
        const char *m = strchr(msg + 6, ':');
        char line[700];
        int n = snprintf(line, sizeof(line), "exec failed:%s\n", m ? m + 1 : msg + 5);
        if (n > 0 && eb->len + (size_t)n <= CTR_EXEC_OUTPUT_MAX) {
            char *d = realloc(eb->data, eb->len + (size_t)n + 1);
            if (d) {
                memcpy(d + eb->len, line, (size_t)n + 1);
                eb->data = d;
                eb->len += (size_t)n;
            }
        }
        return 0;
    }
    return cric_err_set(err, CRIC_ERR_INTERNAL, "container %s: exec: %s", r->id, msg);
}

int ctr_exec_sync(ctr_service *s, const char *id, char *const *argv, size_t argc, int64_t timeout_s,
                  ctr_exec_result *out, cric_err *err)
{
    memset(out, 0, sizeof(*out));
    if (timeout_s < 0)
        return cric_err_set(err, CRIC_ERR_INVALID, "ExecSync: negative timeout");
    if (ctr_exec_args_check(argv, argc, err) < 0)
        return cric_err_prefix(err, "ExecSync: ");
    ctr_rec *r = NULL;
    if (ctr_get(s, id, &r, err) < 0)
        return -1;
    pthread_mutex_lock(&s->mu);
    int st = r->state;
    pid_t init_pid = r->pid;
    pthread_mutex_unlock(&s->mu);
    int rc = -1;
    char proc_path[4200] = "", pid_path[4200] = "";
    int po[2] = {-1, -1}, pe[2] = {-1, -1}, pr[2] = {-1, -1};
    int pidfd = -1;
    pid_t pid = -1;
    bool fast = false, direct = false;
    obuf ob = {0}, eb = {0}, rep = {.eof = true};
    if (st != CTR_RUNNING) {
        cric_err_set(err, CRIC_ERR_PRECONDITION, "container %s is not running", r->id);
        goto done;
    }
    const char *plan = NULL, *why = NULL;
    const struct enter_plan *parsed = NULL;
    int pl = ctr_exec_plan_get(s, r, &plan, &parsed, &why, err);
    if (pl < 0)
        goto done;
    fast = pl == 1 && init_pid > 0;
    if (!fast)
        log_debug("ctr", "container %.12s: ExecSync through %s exec: %s", r->id, r->runtime,
                  why ? why : "no init pid");
    if (pipe2(po, O_CLOEXEC) < 0 || pipe2(pe, O_CLOEXEC) < 0 ||
        (fast && pipe2(pr, O_CLOEXEC) < 0)) {
        cric_err_errno(err, errno, "container %s: exec: pipe", r->id);
        goto done;
    }
    if (fast) {
        const char *not_direct = NULL;
        int dr = ctr_enter_direct(s, r, init_pid, parsed, argv, argc,
                                  (const int[3]){-1, po[1], pe[1]}, pr[1], &pid, &not_direct, err);
        if (dr < 0)
            goto done;
        direct = dr == 1;
        if (direct) {
            log_debug("ctr", "container %.12s: ExecSync through direct", r->id);
        } else {
            log_debug("ctr", "container %.12s: ExecSync through cric-enter (%s)", r->id,
                      not_direct);
            if (ctr_enter_spawn(s, r, init_pid, plan, argv, argc, (const int[3]){-1, po[1], pe[1]},
                                pr[1], -1, &pid, err) < 0)
                goto done;
        }
        close(pr[1]);
        pr[1] = -1;
        fcntl(pr[0], F_SETFL, O_NONBLOCK);
        rep.eof = false;
    } else if (runtime_spawn(s, r, argv, argc, po[1], pe[1], proc_path, pid_path, sizeof(proc_path),
                             &pid, err) < 0) {
        goto done;
    }
    close(po[1]);
    close(pe[1]);
    po[1] = pe[1] = -1;
    fcntl(po[0], F_SETFL, O_NONBLOCK);
    fcntl(pe[0], F_SETFL, O_NONBLOCK);
    pidfd = pidfd_open(pid, 0);

    int64_t deadline = timeout_s > 0 ? mono_ms() + timeout_s * 1000 : 0;
    int64_t drain_until = 0;
    bool exited = false, timed_out = false;
    int status = 0;
    while (!(ob.eof && eb.eof && rep.eof)) {
        int wait = -1;
        int64_t now = mono_ms();
        if (exited) {
            if (now >= drain_until)
                break; /* something inside keeps the pipes open: stop reading */
            wait = (int)(drain_until - now);
        } else if (deadline) {
            if (now >= deadline) {
                timed_out = true;
                break;
            }
            wait = (int)(deadline - now);
        } else if (pidfd < 0) {
            wait = 100;
        }
        struct pollfd p[4] = {{.fd = ob.eof ? -1 : po[0], .events = POLLIN},
                              {.fd = eb.eof ? -1 : pe[0], .events = POLLIN},
                              {.fd = exited ? -1 : pidfd, .events = POLLIN},
                              {.fd = rep.eof ? -1 : pr[0], .events = POLLIN}};
        int n = poll(p, 4, wait);
        if (n < 0 && errno != EINTR) {
            cric_err_errno(err, errno, "container %s: exec: poll", r->id);
            break;
        }
        if (p[0].revents)
            obuf_read(&ob, po[0]);
        if (p[1].revents)
            obuf_read(&eb, pe[0]);
        if (p[3].revents)
            obuf_read(&rep, pr[0]);
        if (!exited && (p[2].revents || pidfd < 0)) {
            pid_t w = waitpid(pid, &status, WNOHANG);
            if (w == pid) {
                exited = true;
                pid = -1;
                drain_until = mono_ms() + DRAIN_AFTER_EXIT_MS;
            }
        }
    }
    if (timed_out) {
        if (direct)
            kill_direct(pid, &status);
        else if (fast)
            kill_enter(pid, &status);
        else
            kill_exec(pid_path, pid, &status);
        pid = -1;
        char cmd[256];
        join_args(cmd, sizeof(cmd), argv, argc);
        cric_err_set(err, CRIC_ERR_TIMEOUT, "command '%s' timed out after %llds", cmd,
                     (long long)timeout_s);
        goto done;
    }
    if (!exited) {
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
        pid = -1;
    }
    if (fast && enter_report(r, &rep, &eb, err) < 0)
        goto done;
    out->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    out->out = ob.data ? ob.data : strdup("");
    out->out_len = ob.len;
    out->err = eb.data ? eb.data : strdup("");
    out->err_len = eb.len;
    ob.data = eb.data = NULL;
    rc = 0;
done:
    if (pid > 0) {
        int ignored;
        if (direct)
            kill_direct(pid, &ignored);
        else if (fast)
            kill_enter(pid, &ignored);
        else
            kill_exec(pid_path, pid, &ignored);
    }
    if (pidfd >= 0)
        close(pidfd);
    for (int i = 0; i < 2; i++) {
        if (po[i] >= 0)
            close(po[i]);
        if (pe[i] >= 0)
            close(pe[i]);
        if (pr[i] >= 0)
            close(pr[i]);
    }
    if (proc_path[0])
        unlink(proc_path);
    if (pid_path[0])
        unlink(pid_path);
    free(ob.data);
    free(eb.data);
    free(rep.data);
    ctr_rec_unref(s, r);
    return rc;
}

void ctr_exec_result_free(ctr_exec_result *r)
{
    free(r->out);
    free(r->err);
    r->out = r->err = NULL;
}

/* cric: the CRI daemon. `cric [flags]` serves; `cric config [flags]` prints the
 * effective configuration; `cric version` prints the version. */
#include <errno.h>
#include <malloc.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cri/service.h"
#include "daemon/daemon.h"
#include "image/image.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/signals.h"

#define DEFAULT_CONFIG_PATH "/etc/cric/config.json"

static void usage(FILE *to)
{
    fputs("usage: cric [command] [flags]\n"
          "commands:\n"
          "  (none)    run the daemon\n"
          "  config    print the effective configuration as JSON\n"
          "  image import FILE   load an OCI layout or docker-save archive into --root\n"
          "  version   print the version\n"
          "flags:\n"
          "  --config PATH           JSON config file (default " DEFAULT_CONFIG_PATH
          " if present)\n"
          "  --listen PATH           CRI socket (default /run/cric/cric.sock)\n"
          "  --root DIR              persistent data (default /var/lib/cric)\n"
          "  --state DIR             runtime state (default /run/cric)\n"
          "  --log-level LEVEL       debug|info|warn|error\n"
          "  --log-format FORMAT     text|json\n",
          to);
}

typedef struct cli_flags {
    const char *config, *listen, *root, *state, *log_level, *log_format;
} cli_flags;

static int parse_flags(int argc, char **argv, cli_flags *f, cric_err *err)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"listen", required_argument, NULL, 'l'},
        {"root", required_argument, NULL, 'r'},
        {"state", required_argument, NULL, 's'},
        {"log-level", required_argument, NULL, 'L'},
        {"log-format", required_argument, NULL, 'F'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            f->config = optarg;
            break;
        case 'l':
            f->listen = optarg;
            break;
        case 'r':
            f->root = optarg;
            break;
        case 's':
            f->state = optarg;
            break;
        case 'L':
            f->log_level = optarg;
            break;
        case 'F':
            f->log_format = optarg;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            return cric_err_set(err, CRIC_ERR_INVALID, "unknown or incomplete flag %s",
                                argv[optind - 1]);
        }
    }
    return 0;
}

static int set_path_flag(char **dst, const char *flag, const char *v, cric_err *err)
{
    if (v[0] != '/')
        return cric_err_set(err, CRIC_ERR_INVALID, "%s %s: must be an absolute path", flag, v);
    char *d = strdup(v);
    if (!d)
        return cric_err_set(err, CRIC_ERR_RESOURCE, "out of memory");
    free(*dst);
    *dst = d;
    return 0;
}

static int build_config(const cli_flags *f, cric_config *cfg, cric_err *err)
{
    config_defaults(cfg);
    if (f->config) {
        if (config_load_file(cfg, f->config, err) < 0)
            return -1;
    } else if (access(DEFAULT_CONFIG_PATH, F_OK) == 0) {
        if (config_load_file(cfg, DEFAULT_CONFIG_PATH, err) < 0)
            return -1;
    }
    if (f->listen && set_path_flag(&cfg->listen, "--listen", f->listen, err) < 0)
        return -1;
    if (f->root && set_path_flag(&cfg->root, "--root", f->root, err) < 0)
        return -1;
    if (f->state && set_path_flag(&cfg->state, "--state", f->state, err) < 0)
        return -1;
    if (f->log_level && log_level_parse(f->log_level, &cfg->log_level) < 0)
        return cric_err_set(err, CRIC_ERR_INVALID, "--log-level %s: expected debug|info|warn|error",
                            f->log_level);
    if (f->log_format && log_format_parse(f->log_format, &cfg->log_format) < 0)
        return cric_err_set(err, CRIC_ERR_INVALID, "--log-format %s: expected text|json",
                            f->log_format);
    return config_validate(cfg, err);
}

/* The pid recorded in a lock file names a process that is gone. */
static bool lock_owner_gone(const char *pid)
{
    char *end = NULL;
    long v = strtol(pid, &end, 10);
    return end != pid && *end == '\0' && v > 0 && kill((pid_t)v, 0) < 0 && errno == ESRCH;
}

/* Takes an exclusive lock on path and writes our pid into it. A second daemon
 * on the same socket fails here before touching anything, one on the same
 * root after opening its own socket, which it removes on its way out. When the
 * daemon that wrote the lock is dead but the lock is still held, a process
 * it had just forked holds it until it execs or exits: wait for that (10 s at
 * most) instead of refusing to start after a crash. */
static int take_lock(const char *path, const char *what, int *out_fd, cric_err *err)
{
    _cleanup_close_ int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return cric_err_errno(err, errno, "lock %s", path);
    for (int tries = 0; flock(fd, LOCK_EX | LOCK_NB) < 0; tries++) {
        int e = errno;
        char pid[32] = "";
        ssize_t n = pread(fd, pid, sizeof(pid) - 1, 0);
        if (n > 0)
            pid[n] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        if (e == EWOULDBLOCK && tries < 200 && lock_owner_gone(pid)) {
            if (tries == 0)
                log_info("daemon", "lock %s: daemon %s is gone, waiting for its children", path,
                         pid);
            struct timespec ts = {0, 50 * 1000 * 1000};
            nanosleep(&ts, NULL);
            continue;
        }
        if (e == EWOULDBLOCK)
            return cric_err_set(err, CRIC_ERR_EXISTS,
                                "another cric daemon (pid %s) is using this %s (lock %s is held)",
                                pid[0] ? pid : "?", what, path);
        return cric_err_errno(err, e, "lock %s", path);
    }
    char pid[32];
    int n = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
    if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, (size_t)n, 0) != n)
        return cric_err_errno(err, errno, "lock %s: write pid", path);
    *out_fd = TAKE_FD(fd);
    return 0;
}

/* A burst of RPCs (pods coming and going, a list of 500 containers) leaves
 * freed heap that malloc keeps for the next burst (main.c: malloc_tune). Once
 * calls have paused for a whole period it goes back to the kernel, so that an
 * idle daemon is as small after a burst as before it. */
#define TRIM_PERIOD_MS 3000

static void on_trim_timer(uv_timer_t *t)
{
    cric_daemon *d = t->data;
    uint64_t calls = rpc_server_calls(d->rpc);
    if (calls != d->trim_seen_calls) {
        d->trim_seen_calls = calls;
        d->trim_due = true;
    } else if (d->trim_due && rpc_server_idle(d->rpc)) {
        d->trim_due = false;
        malloc_trim(0);
    }
}

static void on_shutdown_done(void *arg)
{
    cric_daemon *d = arg;
    uv_close((uv_handle_t *)&d->trim_timer, NULL);
    uv_close((uv_handle_t *)&d->sig_term, NULL);
    uv_close((uv_handle_t *)&d->sig_int, NULL);
    log_info("daemon", "stopped");
}

static void on_signal(uv_signal_t *h, int signum)
{
    cric_daemon *d = h->data;
    log_info("daemon", "received %s, shutting down", strsignal(signum));
    uv_signal_stop(&d->sig_term);
    uv_signal_stop(&d->sig_int);
    uv_timer_stop(&d->trim_timer);
    daemon_stream_shutdown(d);
    rpc_server_shutdown(d->rpc, on_shutdown_done, d);
}

static int prepare_dirs(const cric_config *cfg, cric_err *err)
{
    char dir[4096];
    if (fs_mkdir_p(cfg->root, 0711, err) < 0 || fs_mkdir_p(cfg->state, 0711, err) < 0)
        return -1;
    snprintf(dir, sizeof(dir), "%s", cfg->listen);
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = '\0';
        if (fs_mkdir_p(dir, 0711, err) < 0)
            return -1;
    }
    return 0;
}

static void load_pod_cidr(cric_daemon *d)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/pod-cidr", d->cfg.state);
    char *text = NULL;
    cric_err err = {0};
    if (fs_read_file(path, 1024, &text, NULL, &err) == 0)
        d->pod_cidr = text;
}

static int run_daemon(cric_daemon *d)
{
    cric_err err = {0};
    if (prepare_dirs(&d->cfg, &err) < 0) {
        log_error("daemon", "%s", err.msg);
        return 1;
    }
    /* The socket first: a client (the kubelet) that connects while we wait
     * for the root lock or recover is served once we are ready instead of
     * being refused and backing off for seconds. */
    char lock[4200];
    snprintf(lock, sizeof(lock), "%s.lock", d->cfg.listen);
    if (take_lock(lock, "socket", &d->socket_lock_fd, &err) < 0 ||
        rpc_listen_socket_open(d->cfg.listen, 0660, &d->listen_sock, &err) < 0) {
        log_error("daemon", "%s", err.msg);
        return 1;
    }
    log_info("daemon", "%s: accepting connections, served once start-up is done", d->cfg.listen);
    snprintf(lock, sizeof(lock), "%s/cric.lock", d->cfg.root);
    if (take_lock(lock, "root", &d->root_lock_fd, &err) < 0) {
        log_error("daemon", "%s", err.msg);
        return 1;
    }
    load_pod_cidr(d);
    if (daemon_services_start(d, &err) < 0) {
        log_error("daemon", "%s", err.msg);
        return 1;
    }

    /* libuv reads this once, when the pool first starts. */
    char workers[16];
    snprintf(workers, sizeof(workers), "%u", d->cfg.workers);
    setenv("UV_THREADPOOL_SIZE", workers, 1);
    signal(SIGPIPE, SIG_IGN);

    if (uv_loop_init(&d->loop) != 0) {
        log_error("daemon", "libuv loop init failed");
        return 1;
    }
    if (daemon_stream_start(d, &err) < 0) {
        log_error("daemon", "%s", err.msg);
        uv_run(&d->loop, UV_RUN_DEFAULT); /* lets a half-made listener close */
        daemon_stream_free(d);
        daemon_services_stop(d);
        uv_loop_close(&d->loop);
        return 1;
    }
    rpc_server_opts opts;
    rpc_server_opts_default(&opts);
    opts.max_recv_msg_size = d->cfg.grpc_max_recv_msg;
    opts.max_send_msg_size = d->cfg.grpc_max_send_msg;
    opts.max_concurrent_streams = d->cfg.grpc_max_streams;
    opts.shutdown_grace_ms = d->cfg.shutdown_grace_ms;
    size_t n_methods = 0;
    const rpc_method *methods = cri_methods(&n_methods);
    if (rpc_server_new(&d->rpc, &d->loop, &opts, methods, n_methods, d, &err) < 0 ||
        rpc_server_listen_socket(d->rpc, &d->listen_sock, &err) < 0) {
        log_error("daemon", "%s", err.msg);
        return 1;
    }
    uv_signal_init(&d->loop, &d->sig_term);
    uv_signal_init(&d->loop, &d->sig_int);
    d->sig_term.data = d->sig_int.data = d;
    uv_signal_start(&d->sig_term, on_signal, SIGTERM);
    uv_signal_start(&d->sig_int, on_signal, SIGINT);
    uv_timer_init(&d->loop, &d->trim_timer);
    d->trim_timer.data = d;
    uv_timer_start(&d->trim_timer, on_trim_timer, TRIM_PERIOD_MS, TRIM_PERIOD_MS);
    uv_unref((uv_handle_t *)&d->trim_timer);

    log_info("daemon", "cric %s serving CRI v1 on %s (root %s, state %s)", CRIC_VERSION,
             d->cfg.listen, d->cfg.root, d->cfg.state);
    malloc_trim(0); /* start-up scratch (config, schema, recovery) goes back to the kernel */
    uv_run(&d->loop, UV_RUN_DEFAULT);

    rpc_server_free(d->rpc);
    d->rpc = NULL;
    daemon_stream_free(d);
    daemon_services_stop(d);
    uv_loop_close(&d->loop);
    return 0;
}

/* A request allocates and frees a few hundred KB (a 500-container list is
 * 200 KB of protobuf). With glibc's defaults each of the 64 workers may get an
 * arena of its own whose pages go back to the kernel after every request and
 * fault in again on the next: page faults were 60% of a ListContainers. One
 * arena per core, and a heap kept up to 4 MiB each, bound what stays mapped
 * after a burst instead. */
static void malloc_tune(void)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    mallopt(M_ARENA_MAX, cores > 1 ? (int)cores : 1);
    mallopt(M_TRIM_THRESHOLD, 4 << 20);
    mallopt(M_MMAP_THRESHOLD, 1 << 20);
}

#define TUNED_ENV "CRIC_MALLOC_TUNED"
#define TCACHE_OFF "glibc.malloc.tcache_count=0"

/* glibc's per-thread malloc caches (tcache) keep freed chunks that no other
 * thread reuses and no trim gives back. With 64 RPC workers they were most of
 * the daemon's heap: RssAnon 6.6 MB after 200 pods with them, 3.7 MB without,
 * and they kept growing through a 2000-pod churn. Only GLIBC_TUNABLES at exec
 * time turns them off, so the daemon runs itself again once with it set, and
 * then gives its children (shims, runtimes, plugins) the environment it got.
 * (Sanitized builds bring their own allocator.) */
static void malloc_thread_caches_off(char **argv)
{
#if !defined(__SANITIZE_ADDRESS__)
    const char *mark = getenv(TUNED_ENV);
    if (mark) {
        /* run through /proc/self/exe, the kernel named us "exe": take the
         * name we were started as back, for ps, pgrep and the journal */
        const char *base = strrchr(argv[0], '/');
        prctl(PR_SET_NAME, base ? base + 1 : argv[0], 0, 0, 0);
        if (mark[0] == '1')
            setenv("GLIBC_TUNABLES", mark + 1, 1);
        else
            unsetenv("GLIBC_TUNABLES");
        unsetenv(TUNED_ENV);
        return;
    }
    const char *orig = getenv("GLIBC_TUNABLES");
    if (orig && strlen(orig) > 1024)
        return;
    char saved[1100], tunables[1100];
    snprintf(saved, sizeof(saved), "%c%s", orig ? '1' : '0', orig ? orig : "");
    snprintf(tunables, sizeof(tunables), "%s%s%s", orig ? orig : "", orig && *orig ? ":" : "",
             TCACHE_OFF);
    if (setenv(TUNED_ENV, saved, 1) == 0 && setenv("GLIBC_TUNABLES", tunables, 1) == 0)
        execv("/proc/self/exe", argv);
    /* no exec: run with the caches, and the environment as it was */
    unsetenv(TUNED_ENV);
    if (orig)
        setenv("GLIBC_TUNABLES", saved + 1, 1);
    else
        unsetenv("GLIBC_TUNABLES");
#else
    (void)argv;
#endif
}

int main(int argc, char **argv)
{
    /* Start from default dispositions whatever the parent left ignored: they
     * would be inherited by every shim, runtime, plugin and container. */
    signals_reset_all();
    if (argc <= 1 || argv[1][0] == '-') /* serving, not a subcommand */
        malloc_thread_caches_off(argv);
    malloc_tune();
    const char *command = NULL;
    if (argc > 1 && argv[1][0] != '-') {
        command = argv[1];
        argv++;
        argc--;
    }
    if (command && strcmp(command, "version") == 0) {
        printf("cric %s (CRI v1)\n", CRIC_VERSION);
        return 0;
    }
    const char *import_file = NULL;
    if (command && strcmp(command, "image") == 0) {
        if (argc < 3 || strcmp(argv[1], "import") != 0) {
            usage(stderr);
            return 2;
        }
        import_file = argv[2];
        argv += 2;
        argc -= 2;
    }
    if (command && strcmp(command, "config") != 0 && !import_file) {
        fprintf(stderr, "cric: unknown command %s\n", command);
        usage(stderr);
        return 2;
    }
    cli_flags flags = {0};
    cric_err err = {0};
    if (parse_flags(argc, argv, &flags, &err) < 0 || optind != argc) {
        fprintf(stderr, "cric: %s\n", err.msg[0] ? err.msg : "unexpected argument");
        usage(stderr);
        return 2;
    }
    cric_daemon d;
    memset(&d, 0, sizeof(d));
    d.root_lock_fd = d.socket_lock_fd = -1;
    d.listen_sock.fd = -1;
    pthread_mutex_init(&d.mu, NULL);
    if (build_config(&flags, &d.cfg, &err) < 0) {
        fprintf(stderr, "cric: %s\n", err.msg);
        config_free(&d.cfg);
        return 2;
    }
    int rc = 0;
    if (import_file) {
        log_setup(d.cfg.log_level, d.cfg.log_format);
        rc = image_import_cli(&d.cfg, import_file);
    } else if (command) {
        json_t *j = config_to_json(&d.cfg);
        char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        puts(s);
        free(s);
        json_decref(j);
    } else {
        log_setup(d.cfg.log_level, d.cfg.log_format);
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        d.started_at_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
        rc = run_daemon(&d);
    }
    rpc_listen_socket_close(&d.listen_sock); /* start-up failed before the server took it */
    if (d.root_lock_fd >= 0)
        close(d.root_lock_fd);
    if (d.socket_lock_fd >= 0)
        close(d.socket_lock_fd);
    free(d.pod_cidr);
    config_free(&d.cfg);
    pthread_mutex_destroy(&d.mu);
    return rc;
}

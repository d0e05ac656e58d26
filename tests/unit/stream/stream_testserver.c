/* stream_testserver: the streaming server with the test-only local backend
 * (local_backend.c), for the Python protocol tests while the daemon's exec
 * and attach need a container service. Reads one request per line on stdin
 * and prints its URL:
 *   exec <flags> <argv...>     flags: any of i (stdin) o (stdout) e (stderr) t (tty), or -
 *   attach <flags>
 *   portforward <port,...|->
 * and "pid" prints the pid of the last exec. Exits on EOF. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "local_backend.h"
#include "stream/ociexec.h"
#include "stream/shimattach.h"

/* --oci RUNTIME ROOT CONTAINER CONFIG WORKDIR: exec through the real OCI
 * runtime into a running container (what the daemon's backend will call). */
typedef struct oci_ctx {
    const char *runtime, *root, *id, *config, *work;
} oci_ctx;

static oci_ctx oci;

static int oci_start(void *ctx, const stream_request *req, stream_proc *out, cric_err *err)
{
    if (req->kind != STREAM_EXEC)
        return cric_err_set(err, CRIC_ERR_UNIMPLEMENTED, "only exec in --oci mode");
    oci_exec_opts o = {.runtime = oci.runtime,
                       .runtime_root = oci.root,
                       .container_id = oci.id,
                       .config_path = oci.config,
                       .argv = req->cmd,
                       .argc = req->n_cmd,
                       .tty = req->tty,
                       .want_stdin = req->stdin_,
                       .work_dir = oci.work};
    int rc = oci_exec_start(&o, out, err);
    if (rc == 0)
        ((tbackend *)ctx)->last_pid = out->pid;
    return rc;
}

static void oci_kill(void *ctx, stream_proc *p)
{
    oci_exec_kill(p);
}

static void oci_release(void *ctx, stream_proc *p)
{
    oci_exec_release(p);
}

/* --shim STATE_DIR: attach through a real cric-shim's fd attach. */
static const char *shim_state;

static int shim_start(void *ctx, const stream_request *req, stream_proc *out, cric_err *err)
{
    if (req->kind != STREAM_ATTACH)
        return local_be_start(ctx, req, out, err);
    return shim_attach_start(shim_state, req, out, err);
}

static int shim_resize(void *ctx, stream_proc *p, uint16_t w, uint16_t h)
{
    return shim_attach_resize(p, w, h);
}

static void shim_release(void *ctx, stream_proc *p)
{
    if (p->kind == STREAM_ATTACH)
        shim_attach_release(p);
    else
        local_be_release(ctx, p);
}

typedef struct ctx {
    uv_loop_t loop;
    uv_async_t stop;
    stream_server *srv;
    tbackend tb;
} ctx;

static void on_down(void *arg)
{
    ctx *c = arg;
    uv_close((uv_handle_t *)&c->stop, NULL);
}

static void on_stop(uv_async_t *a)
{
    ctx *c = a->data;
    stream_server_shutdown(c->srv, on_down, c);
}

static void *loop_main(void *arg)
{
    ctx *c = arg;
    uv_run(&c->loop, UV_RUN_DEFAULT);
    return NULL;
}

static void handle(ctx *c, char *line)
{
    char *words[256];
    size_t n = 0;
    for (char *w = strtok(line, " \t\n"); w && n < 255; w = strtok(NULL, " \t\n"))
        words[n++] = w;
    words[n] = NULL;
    if (n == 0)
        return;
    if (strcmp(words[0], "pid") == 0) {
        printf("%d\n", (int)c->tb.last_pid);
        fflush(stdout);
        return;
    }
    stream_request r = {.id = "c1"};
    int32_t ports[64];
    const char *flags = n > 1 ? words[1] : "-";
    r.stdin_ = strchr(flags, 'i') != NULL;
    r.stdout_ = strchr(flags, 'o') != NULL;
    r.stderr_ = strchr(flags, 'e') != NULL;
    r.tty = strchr(flags, 't') != NULL;
    if (strcmp(words[0], "exec") == 0) {
        r.kind = STREAM_EXEC;
        r.cmd = n > 2 ? &words[2] : NULL;
        r.n_cmd = n > 2 ? n - 2 : 0;
    } else if (strcmp(words[0], "attach") == 0) {
        r.kind = STREAM_ATTACH;
    } else if (strcmp(words[0], "portforward") == 0) {
        r.kind = STREAM_PORTFORWARD;
        r.id = "pod1";
        r.stdin_ = r.stdout_ = r.stderr_ = r.tty = false;
        if (n > 1 && strcmp(words[1], "-") != 0)
            for (char *p = strtok(words[1], ","); p && r.n_ports < 64; p = strtok(NULL, ","))
                ports[r.n_ports++] = atoi(p);
        r.ports = ports;
    } else {
        printf("error unknown request %s\n", words[0]);
        fflush(stdout);
        return;
    }
    char *url = NULL;
    cric_err err = {0};
    if (stream_server_url(c->srv, &r, &url, &err) < 0)
        printf("error %s\n", err.msg);
    else
        printf("%s\n", url);
    fflush(stdout);
    free(url);
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    static ctx c;
    uv_loop_init(&c.loop);
    uv_async_init(&c.loop, &c.stop, on_stop);
    c.stop.data = &c;
    stream_backend be = local_backend(&c.tb);
    if (argc > 6 && strcmp(argv[1], "--oci") == 0) {
        oci = (oci_ctx){argv[2], argv[3], argv[4], argv[5], argv[6]};
        be.start = oci_start;
        be.exec_kill = oci_kill;
        be.release = oci_release;
        argc -= 6;
        argv += 6;
    } else if (argc > 2 && strcmp(argv[1], "--shim") == 0) {
        shim_state = argv[2];
        be.start = shim_start;
        be.resize = shim_resize;
        be.release = shim_release;
        argc -= 2;
        argv += 2;
    }
    cric_config cfg = {.stream_address = "127.0.0.1",
                       .stream_token_ttl_s = 60,
                       .stream_tls_cert = "",
                       .stream_tls_key = ""};
    stream_server_opts o;
    stream_server_opts_from_config(&o, &cfg);
    if (argc > 1)
        o.max_sessions = (unsigned)atoi(argv[1]);
    if (argc > 2)
        o.idle_timeout_s = (unsigned)atoi(argv[2]);
    cric_err err = {0};
    if (stream_server_new(&c.srv, &c.loop, &o, &be, &err) < 0) {
        fprintf(stderr, "stream_testserver: %s\n", err.msg);
        return 1;
    }
    pthread_t t;
    pthread_create(&t, NULL, loop_main, &c);
    printf("ready %s\n", stream_server_base_url(c.srv));
    fflush(stdout);
    char line[8192];
    while (fgets(line, sizeof(line), stdin))
        handle(&c, line);
    uv_async_send(&c.stop);
    pthread_join(t, NULL);
    stream_server_free(c.srv);
    int rc = uv_loop_close(&c.loop);
    return rc == 0 ? 0 : 2;
}

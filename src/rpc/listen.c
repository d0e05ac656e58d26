/* The unix socket listener: refuses a path another live server answers on,
 * replaces a stale socket file, sets the mode, and accepts connections. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "rpc/internal.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/log.h"

/* Is a server accepting on path? A full backlog (EAGAIN) counts as alive. */
static int socket_alive(const char *path, bool *alive, cric_err *err)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    memcpy(sa.sun_path, path, strlen(path) + 1);
    _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return cric_err_errno(err, errno, "socket %s: probe", path);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 || errno == EAGAIN ||
        errno == EINPROGRESS) {
        *alive = true;
        return 0;
    }
    if (errno == ECONNREFUSED || errno == ENOENT) {
        *alive = false;
        return 0;
    }
    return cric_err_errno(err, errno, "socket %s: probe", path);
}

/* Makes path free for bind: creates the parent directory, removes a stale
 * socket, refuses anything else. */
static int prepare_path(const char *path, cric_err *err)
{
    _cleanup_free_ char *dir = strdup(path);
    if (!dir)
        return cric_err_errno(err, ENOMEM, "socket %s", path);
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = '\0';
        if (fs_mkdir_p(dir, 0755, err) < 0)
            return cric_err_prefix(err, "socket %s: ", path);
    }
    struct stat st;
    if (lstat(path, &st) < 0) {
        if (errno == ENOENT)
            return 0;
        return cric_err_errno(err, errno, "socket %s", path);
    }
    if (!S_ISSOCK(st.st_mode))
        return cric_err_set(err, CRIC_ERR_EXISTS, "socket %s: path exists and is not a socket",
                            path);
    bool alive = false;
    if (socket_alive(path, &alive, err) < 0)
        return -1;
    if (alive)
        return cric_err_set(err, CRIC_ERR_EXISTS, "socket %s is in use by another server", path);
    if (unlink(path) < 0 && errno != ENOENT)
        return cric_err_errno(err, errno, "socket %s: remove stale socket", path);
    log_info(RPC_SUBSYS, "removed stale socket %s", path);
    return 0;
}

static void on_connection(uv_stream_t *listener, int status)
{
    rpc_server *s = listener->data;
    if (status < 0) {
        log_warn(RPC_SUBSYS, "listen: %s", uv_strerror(status));
        return;
    }
    rpc_conn_accept(s);
}

int rpc_listen_socket_open(const char *path, unsigned mode, rpc_listen_socket *out, cric_err *err)
{
    *out = (rpc_listen_socket){.fd = -1};
    size_t len = strlen(path);
    if (len == 0 || len >= sizeof(((struct sockaddr_un *)0)->sun_path))
        return cric_err_set(err, CRIC_ERR_INVALID, "socket %s: path must be 1 to %zu bytes", path,
                            sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
    if (prepare_path(path, err) < 0)
        return -1;
    _cleanup_free_ char *copy = strdup(path);
    if (!copy)
        return cric_err_errno(err, ENOMEM, "socket %s", path);
    _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return cric_err_errno(err, errno, "socket %s", path);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    memcpy(sa.sun_path, path, len + 1);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        return cric_err_set(err, errno == EADDRINUSE ? CRIC_ERR_EXISTS : CRIC_ERR_INTERNAL,
                            "socket %s: bind: %s", path, strerror(errno));
    struct stat st;
    if (chmod(path, mode) < 0 || stat(path, &st) < 0) {
        int e = errno;
        unlink(path);
        return cric_err_errno(err, e, "socket %s: chmod %o", path, mode);
    }
    if (listen(fd, SOMAXCONN) < 0) {
        int e = errno;
        unlink(path);
        return cric_err_errno(err, e, "socket %s: listen", path);
    }
    out->fd = TAKE_FD(fd);
    out->path = TAKE_PTR(copy);
    out->dev = st.st_dev;
    out->ino = st.st_ino;
    return 0;
}

/* Removes the socket file at path if it is still the one bound there (dev,
 * ino): a later daemon may have replaced it. */
static void unlink_if_ours(const char *path, dev_t dev, ino_t ino)
{
    struct stat st;
    if (path && lstat(path, &st) == 0 && st.st_dev == dev && st.st_ino == ino)
        unlink(path);
}

void rpc_listen_socket_close(rpc_listen_socket *ls)
{
    if (ls->fd >= 0) {
        unlink_if_ours(ls->path, ls->dev, ls->ino);
        close(ls->fd);
    }
    free(ls->path);
    *ls = (rpc_listen_socket){.fd = -1};
}

int rpc_server_listen_socket(rpc_server *s, rpc_listen_socket *ls, cric_err *err)
{
    if (s->listening || s->shutting_down)
        return cric_err_set(err, CRIC_ERR_PRECONDITION,
                            "socket %s: the server is already listening or shut down", ls->path);
    int r = uv_pipe_open(&s->listener, ls->fd);
    if (r < 0)
        return cric_err_set(err, CRIC_ERR_INTERNAL, "socket %s: %s", ls->path, uv_strerror(r));
    s->listening = true; /* the handle owns the descriptor now, and the server the path */
    s->path = TAKE_PTR(ls->path);
    s->path_dev = ls->dev;
    s->path_ino = ls->ino;
    ls->fd = -1;
    r = uv_listen((uv_stream_t *)&s->listener, SOMAXCONN, on_connection);
    if (r < 0)
        return cric_err_set(err, CRIC_ERR_INTERNAL, "socket %s: listen: %s", s->path,
                            uv_strerror(r));
    log_info(RPC_SUBSYS, "listening on %s", s->path);
    return 0;
}

int rpc_server_listen_unix(rpc_server *s, const char *path, unsigned mode, cric_err *err)
{
    if (s->listening || s->shutting_down)
        return cric_err_set(err, CRIC_ERR_PRECONDITION,
                            "socket %s: the server is already listening or shut down", path);
    rpc_listen_socket ls;
    if (rpc_listen_socket_open(path, mode, &ls, err) < 0)
        return -1;
    int rc = rpc_server_listen_socket(s, &ls, err);
    rpc_listen_socket_close(&ls);
    return rc;
}

/* Removes the socket file if it is still the one this server bound. */
void rpc_server_unlink_socket(rpc_server *s)
{
    unlink_if_ours(s->path, s->path_dev, s->path_ino);
}

/* cric-tls: TLS for the streaming server, in its own process so that the
 * daemon maps no OpenSSL at all. The daemon starts it when streaming.tls_cert
 * is set:
 *
 *   cric-tls CERT KEY LOG_LEVEL LOG_FORMAT
 *   fd 3: the bound, listening TCP socket;  fd 4: a unix socket to the daemon
 *
 * It answers "ok\n" on fd 4 once the certificate and key are loaded (else
 * "error <message>\n" and exit 1). Then it accepts clients; each one gets a
 * thread that does the TLS handshake, makes a socket pair, hands one end to
 * the daemon (SCM_RIGHTS on fd 4) and relays between TLS and the other end.
 * It dies with the daemon (PR_SET_PDEATHSIG) or when fd 4 closes. */
#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "util/log.h"

#define LISTEN_FD 3
#define DAEMON_FD 4
#define MAX_CLIENTS 1024
#define HANDSHAKE_S 10
#define RELAY_BUF 16384

typedef struct proxy {
    SSL_CTX *ctx;
    pthread_mutex_t send_mu;
    atomic_int clients;
} proxy;

typedef struct client {
    proxy *p;
    int fd;
} client;

static void say(const char *line)
{
    size_t n = strlen(line);
    while (n > 0) {
        ssize_t w = write(DAEMON_FD, line, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return;
        line += w;
        n -= (size_t)w;
    }
}

static SSL_CTX *load(const char *cert, const char *key, char *why, size_t whylen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) {
        snprintf(why, whylen, "streaming: TLS context: out of memory");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    char e[256] = "";
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
        ERR_error_string_n(ERR_get_error(), e, sizeof(e));
        snprintf(why, whylen, "streaming.tls_cert %s: %s", cert, e);
    } else if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
        ERR_error_string_n(ERR_get_error(), e, sizeof(e));
        snprintf(why, whylen, "streaming.tls_key %s: %s", key, e);
    } else if (SSL_CTX_check_private_key(ctx) != 1) {
        snprintf(why, whylen, "streaming.tls_key %s does not match the certificate %s", key, cert);
    } else {
        return ctx;
    }
    ERR_clear_error();
    SSL_CTX_free(ctx);
    return NULL;
}

/* Hands fd to the daemon. */
static int send_fd(proxy *p, int fd)
{
    char byte = 'c';
    struct iovec iov = {.iov_base = &byte, .iov_len = 1};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    memset(&u, 0, sizeof(u));
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
                       .msg_controllen = sizeof(u.buf)};
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof(int));
    pthread_mutex_lock(&p->send_mu);
    ssize_t n;
    do
        n = sendmsg(DAEMON_FD, &m, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    pthread_mutex_unlock(&p->send_mu);
    return n == 1 ? 0 : -1;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Relays until both directions ended. tcp is non-blocking (OpenSSL's wants
 * drive the poll), local is blocking for writes (the daemon reads it). */
static void relay(SSL *ssl, int tcp, int local)
{
    uint8_t in[RELAY_BUF], out[RELAY_BUF];
    size_t out_off = 0, out_len = 0;
    bool tls_open = true, local_open = true, shut = false;
    for (;;) {
        bool want_write = false;
        while (tls_open) {
            int n = SSL_read(ssl, in, sizeof(in));
            if (n > 0) {
                if (write_all(local, in, (size_t)n) < 0)
                    return;
                continue;
            }
            int e = SSL_get_error(ssl, n);
            if (e == SSL_ERROR_WANT_READ)
                break;
            if (e == SSL_ERROR_WANT_WRITE) {
                want_write = true;
                break;
            }
            tls_open = false; /* close_notify, EOF or a broken peer */
            shutdown(local, SHUT_WR);
        }
        while (out_len > 0) {
            int n = SSL_write(ssl, out + out_off, (int)out_len);
            if (n > 0) {
                out_off += (size_t)n;
                out_len -= (size_t)n;
                continue;
            }
            int e = SSL_get_error(ssl, n);
            if (e != SSL_ERROR_WANT_WRITE && e != SSL_ERROR_WANT_READ)
                return;
            want_write = want_write || e == SSL_ERROR_WANT_WRITE;
            break;
        }
        if (!local_open && out_len == 0 && !shut) {
            SSL_shutdown(ssl); /* close_notify before the FIN */
            shutdown(tcp, SHUT_WR);
            shut = true;
        }
        if (shut || (!tls_open && !local_open))
            return;
        struct pollfd pf[2] = {
            {.fd = tls_open || want_write ? tcp : -1,
             .events = (short)((tls_open ? POLLIN : 0) | (want_write ? POLLOUT : 0))},
            {.fd = local, .events = (short)(local_open && out_len == 0 ? POLLIN : 0)},
        };
        if (poll(pf, 2, -1) < 0 && errno != EINTR)
            return;
        if (pf[0].revents & (POLLERR | POLLNVAL))
            return;
        if (pf[1].revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t n = read(local, out, sizeof(out));
            if (n > 0) {
                out_off = 0;
                out_len = (size_t)n;
            } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
                local_open = false;
            }
        }
    }
}

static void *client_thread(void *arg)
{
    client *cl = arg;
    proxy *p = cl->p;
    int fd = cl->fd;
    free(cl);
    struct timeval tv = {.tv_sec = HANDSHAKE_S};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    SSL *ssl = SSL_new(p->ctx);
    int sp[2] = {-1, -1};
    if (ssl && SSL_set_fd(ssl, fd) == 1 && SSL_accept(ssl) == 1) {
        struct timeval none = {0};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &none, sizeof(none));
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &none, sizeof(none));
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == 0) {
            int rc = send_fd(p, sp[1]);
            close(sp[1]);
            if (rc < 0)
                exit(0); /* the daemon is gone */
            relay(ssl, fd, sp[0]);
            close(sp[0]);
        }
    } else {
        char why[256] = "";
        ERR_error_string_n(ERR_peek_error(), why, sizeof(why));
        log_info("stream", "TLS from client failed: %s", why[0] ? why : "protocol error");
        ERR_clear_error();
    }
    SSL_free(ssl);
    close(fd);
    atomic_fetch_sub(&p->clients, 1);
    return NULL;
}

/* Ends the process when the daemon closes its end. */
static void *watch_daemon(void *arg)
{
    (void)arg;
    struct pollfd pf = {.fd = DAEMON_FD, .events = POLLRDHUP};
    while (poll(&pf, 1, -1) < 0 && errno == EINTR)
        ;
    exit(0);
}

int main(int argc, char **argv)
{
    pid_t parent = getppid();
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        return 1;
    signal(SIGPIPE, SIG_IGN);
    if (argc != 5) {
        fprintf(stderr, "cric-tls: started by the cric daemon; not for direct use\n");
        return 2;
    }
    log_level level = LOG_LVL_INFO;
    log_format format = LOG_FMT_TEXT;
    log_level_parse(argv[3], &level);
    log_format_parse(argv[4], &format);
    log_setup(level, format);
    proxy p = {.clients = 0};
    pthread_mutex_init(&p.send_mu, NULL);
    char why[700] = "";
    p.ctx = load(argv[1], argv[2], why, sizeof(why));
    if (!p.ctx) {
        char line[800];
        for (char *c = why; *c; c++)
            if (*c == '\n')
                *c = ' ';
        snprintf(line, sizeof(line), "error %s\n", why);
        say(line);
        return 1;
    }
    say("ok\n");
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&at, 256 * 1024);
    pthread_t th;
    if (pthread_create(&th, &at, watch_daemon, NULL) != 0)
        return 1;
    for (;;) {
        int fd = accept4(LISTEN_FD, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE || errno == ENFILE ||
                errno == ENOBUFS || errno == ENOMEM) {
                if (errno == EMFILE || errno == ENFILE)
                    usleep(100000);
                continue;
            }
            log_error("stream", "cric-tls: accept: %s", strerror(errno));
            return 1;
        }
        client *cl = malloc(sizeof(*cl));
        if (!cl || atomic_fetch_add(&p.clients, 1) >= MAX_CLIENTS) {
            if (cl)
                atomic_fetch_sub(&p.clients, 1);
            free(cl);
            close(fd);
            continue;
        }
        cl->p = &p;
        cl->fd = fd;
        if (pthread_create(&th, &at, client_thread, cl) != 0) {
            atomic_fetch_sub(&p.clients, 1);
            free(cl);
            close(fd);
        }
    }
}

/* socket_floor: the least a request/response of a given size can take over a
 * unix socket on this machine, with no HTTP/2, no gRPC and no work on either
 * side: a 1-byte request, the answer written whole by a second thread, read
 * in 64 KiB pieces. What no runtime's ListContainers of that size can beat.
 *
 *   socket_floor [BYTES [CALLS]]   (default 201390 bytes, 2000 calls)
 *   -> JSON: {"bytes":N,"calls":N,"p50_us":..,"p99_us":..}
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef struct peer {
    int fd;
    size_t size;
    char *answer;
} peer;

static double now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static void *serve(void *arg)
{
    peer *p = arg;
    char c;
    while (read(p->fd, &c, 1) == 1)
        for (size_t off = 0; off < p->size;) {
            ssize_t n = write(p->fd, p->answer + off, p->size - off);
            if (n <= 0)
                return NULL;
            off += (size_t)n;
        }
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    size_t size = argc > 1 ? strtoul(argv[1], NULL, 10) : 201390;
    int calls = argc > 2 ? atoi(argv[2]) : 2000;
    int sv[2];
    if (size == 0 || calls <= 0 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        fprintf(stderr, "usage: socket_floor [BYTES [CALLS]]\n");
        return 2;
    }
    peer srv = {.fd = sv[1], .size = size, .answer = calloc(1, size)};
    static char in[65536];
    double *lat = calloc((size_t)calls, sizeof(double));
    pthread_t th;
    if (!srv.answer || !lat || pthread_create(&th, NULL, serve, &srv) != 0)
        return 1;
    for (int i = 0; i < calls; i++) {
        double t0 = now_us();
        if (write(sv[0], "x", 1) != 1)
            return 1;
        for (size_t got = 0; got < size;) {
            ssize_t n = read(sv[0], in, sizeof(in));
            if (n <= 0)
                return 1;
            got += (size_t)n;
        }
        lat[i] = now_us() - t0;
    }
    close(sv[0]);
    pthread_join(th, NULL);
    qsort(lat, (size_t)calls, sizeof(double), cmp_double);
    printf("{\"bytes\":%zu,\"calls\":%d,\"p50_us\":%.1f,\"p99_us\":%.1f}\n", size, calls,
           lat[calls / 2], lat[(size_t)calls * 99 / 100]);
    free(lat);
    free(srv.answer);
    return 0;
}

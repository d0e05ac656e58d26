/* The exit watcher: one thread, one epoll set, one shim watch socket per live
 * container (shim_watch_connect). When a socket turns readable the container
 * has exited (or its shim died): the exit file decides what is recorded. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "ctr/ctr_int.h"
#include "util/log.h"

typedef struct watch_item {
    ctr_rec *rec;
    int fd;
    struct watch_item *prev, *next; /* s->watch_items, under s->mu */
} watch_item;

static void unlink_item(ctr_service *s, watch_item *w) /* s->mu held */
{
    if (w->prev)
        w->prev->next = w->next;
    else
        s->watch_items = w->next;
    if (w->next)
        w->next->prev = w->prev;
}

static void handle_exit(ctr_service *s, watch_item *w)
{
    epoll_ctl(s->epfd, EPOLL_CTL_DEL, w->fd, NULL);
    close(w->fd);
    struct shim_exit ex;
    cric_err err = {0};
    if (shim_read_exit(w->rec->bundle, &ex, &err) == 0)
        ctr_set_exited(s, w->rec, &ex, NULL);
    else
        ctr_set_exited(s, w->rec, NULL, "the container's monitor (cric-shim) died");
    pthread_mutex_lock(&s->mu);
    w->rec->watched = false;
    unlink_item(s, w);
    pthread_mutex_unlock(&s->mu);
    ctr_rec_unref(s, w->rec);
    free(w);
}

static void *watch_main(void *arg)
{
    ctr_service *s = arg;
    struct epoll_event ev[32];
    for (;;) {
        int n = epoll_wait(s->epfd, ev, 32, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            log_error("ctr", "exit watcher: epoll_wait: %s", strerror(errno));
            return NULL;
        }
        for (int i = 0; i < n; i++) {
            if (ev[i].data.ptr == NULL) /* the wake-up eventfd: shut down */
                return NULL;
            handle_exit(s, ev[i].data.ptr);
        }
    }
}

int ctr_watch_start(ctr_service *s, cric_err *err)
{
    s->epfd = epoll_create1(EPOLL_CLOEXEC);
    s->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (s->epfd < 0 || s->wake_fd < 0)
        return cric_err_errno(err, errno, "container exit watcher");
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->wake_fd, &ev) < 0)
        return cric_err_errno(err, errno, "container exit watcher");
    int rc = pthread_create(&s->watch_thread, NULL, watch_main, s);
    if (rc != 0)
        return cric_err_errno(err, rc, "container exit watcher: thread");
    s->watch_running = true;
    return 0;
}

void ctr_watch_stop(ctr_service *s)
{
    if (s->watch_running) {
        uint64_t one = 1;
        if (write(s->wake_fd, &one, sizeof(one)) < 0)
            log_warn("ctr", "exit watcher: wake: %s", strerror(errno));
        pthread_join(s->watch_thread, NULL);
        s->watch_running = false;
    }
    /* Containers still running keep running: only our watches go. */
    pthread_mutex_lock(&s->mu);
    while (s->watch_items) {
        watch_item *w = s->watch_items;
        unlink_item(s, w);
        close(w->fd);
        w->rec->watched = false;
        ctr_rec_unref_locked(w->rec);
        free(w);
    }
    pthread_mutex_unlock(&s->mu);
    if (s->epfd >= 0) {
        close(s->epfd);
        s->epfd = -1;
    }
    if (s->wake_fd >= 0) {
        close(s->wake_fd);
        s->wake_fd = -1;
    }
}

void ctr_watch_add(ctr_service *s, ctr_rec *r)
{
    pthread_mutex_lock(&s->mu);
    if (r->watched || r->removed) {
        pthread_mutex_unlock(&s->mu);
        return;
    }
    r->watched = true;
    r->refs++;
    pthread_mutex_unlock(&s->mu);
    cric_err err = {0};
    int fd = shim_watch_connect(r->bundle, &err);
    watch_item *w = fd >= 0 ? calloc(1, sizeof(*w)) : NULL;
    if (w) {
        w->rec = r;
        w->fd = fd;
        pthread_mutex_lock(&s->mu);
        w->next = s->watch_items;
        if (w->next)
            w->next->prev = w;
        s->watch_items = w;
        struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = w};
        bool ok = epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) == 0;
        if (!ok)
            unlink_item(s, w);
        pthread_mutex_unlock(&s->mu);
        if (ok)
            return;
        free(w);
    }
    if (fd >= 0)
        close(fd);
    else
        log_debug("ctr", "container %s: no exit watch: %s", r->id, err.msg);
    /* no watch: the exit may already be there */
    struct shim_exit ex;
    if (shim_read_exit(r->bundle, &ex, &err) == 0)
        ctr_set_exited(s, r, &ex, NULL);
    else if (shim_check(r->bundle, NULL) == SHIM_LOST)
        ctr_set_exited(s, r, NULL, "the container's monitor (cric-shim) is gone");
    pthread_mutex_lock(&s->mu);
    r->watched = false;
    pthread_mutex_unlock(&s->mu);
    ctr_rec_unref(s, r);
}

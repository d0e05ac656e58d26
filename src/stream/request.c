#include <stdlib.h>
#include <string.h>

#include "stream/request.h"

stream_request *stream_request_dup(const stream_request *r)
{
    stream_request *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    *c = *r;
    c->id = NULL;
    c->cmd = NULL;
    c->ports = NULL;
    c->id = strdup(r->id ? r->id : "");
    c->cmd = calloc(r->n_cmd + 1, sizeof(char *));
    if (r->n_ports) {
        c->ports = calloc(r->n_ports, sizeof(int32_t));
        if (c->ports)
            memcpy(c->ports, r->ports, r->n_ports * sizeof(int32_t));
    }
    if (!c->id || !c->cmd || (r->n_ports && !c->ports)) {
        stream_request_free(c);
        return NULL;
    }
    for (size_t i = 0; i < r->n_cmd; i++) {
        c->cmd[i] = strdup(r->cmd[i]);
        if (!c->cmd[i]) {
            stream_request_free(c);
            return NULL;
        }
    }
    return c;
}

void stream_request_free(stream_request *r)
{
    if (!r)
        return;
    free(r->id);
    if (r->cmd)
        for (size_t i = 0; i < r->n_cmd; i++)
            free(r->cmd[i]);
    free(r->cmd);
    free(r->ports);
    free(r);
}

const char *stream_kind_name(stream_kind k)
{
    switch (k) {
    case STREAM_EXEC:
        return "exec";
    case STREAM_ATTACH:
        return "attach";
    case STREAM_PORTFORWARD:
        return "portforward";
    }
    return "?";
}

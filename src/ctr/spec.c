/* ctr_spec_build: the skeleton of the spec, process (args, env, cwd, tty),
 * hostname and annotations; the other parts live in spec_*.c. */
#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctr/spec_internal.h"
#include "util/cleanup.h"
#include "util/ids.h"
#include "util/log.h"
#include "util/path.h"

#define DEFAULT_PATH_ENV "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

const char *spec_str(const char *s)
{
    return s ? s : "";
}

bool spec_str_ok(const char *s, size_t max)
{
    return s && strnlen(s, max + 1) <= max;
}

int spec_path_clean(const char *in, char *out)
{
    if (!in || in[0] != '/' || strnlen(in, SPEC_MAX_STRLEN + 1) > SPEC_MAX_STRLEN)
        return -1;
    size_t len = 0;
    const char *p = in, *c;
    size_t n;
    while (path_next(&p, &c, &n)) {
        if (n == 1 && c[0] == '.')
            continue;
        if (n == 2 && c[0] == '.' && c[1] == '.') {
            while (len > 0 && out[len - 1] != '/')
                len--;
            if (len > 0)
                len--; /* the slash */
            continue;
        }
        out[len++] = '/';
        memcpy(out + len, c, n);
        len += n;
    }
    if (len == 0)
        out[len++] = '/';
    out[len] = '\0';
    return 0;
}

int spec_extra_add_mkdir(ctr_spec_extra *x, const char *path, bool in_rootfs, cric_err *err)
{
    for (size_t i = 0; i < x->n_mkdirs; i++)
        if (x->mkdirs[i].in_rootfs == in_rootfs && strcmp(x->mkdirs[i].path, path) == 0)
            return 0;
    ctr_spec_dir *n = realloc(x->mkdirs, (x->n_mkdirs + 1) * sizeof(*n));
    if (!n)
        return cric_err_set(err, CRIC_ERR_INTERNAL, "out of memory");
    x->mkdirs = n;
    char *dup = strdup(path);
    if (!dup)
        return cric_err_set(err, CRIC_ERR_INTERNAL, "out of memory");
    x->mkdirs[x->n_mkdirs].path = dup;
    x->mkdirs[x->n_mkdirs].in_rootfs = in_rootfs;
    x->n_mkdirs++;
    return 0;
}

/* jansson refuses strings that are not UTF-8: that is bad input far more
 * often than a failed allocation. */
int spec_append(json_t *arr, json_t *v, cric_err *err)
{
    if (!v || json_array_append_new(arr, v) != 0)
        return cric_err_set(err, CRIC_ERR_INVALID,
                            "a value for the OCI spec is not valid UTF-8 (or out of memory)");
    return 0;
}

int spec_set(json_t *obj, const char *key, json_t *v, cric_err *err)
{
    if (!v || json_object_set_new(obj, key, v) != 0)
        return cric_err_set(err, CRIC_ERR_INVALID,
                            "OCI spec field %.64s: value is not valid UTF-8 (or out of memory)",
                            key);
    return 0;
}

int ctr_spec_exec_process(const json_t *spec, char *const *argv, size_t argc, bool tty,
                          json_t **out, cric_err *err)
{
    *out = NULL;
    const json_t *proc = json_object_get(spec, "process");
    if (!json_is_object(proc))
        return cric_err_set(err, CRIC_ERR_INVALID, "OCI spec has no process");
    if (argc == 0 || argc > SPEC_MAX_ARGS)
        return cric_err_set(err, CRIC_ERR_INVALID, "exec: %s command",
                            argc ? "too long a" : "empty");
    json_t *p = json_deep_copy(proc);
    json_t *args = json_array();
    if (!p || !args) {
        json_decref(p);
        json_decref(args);
        return cric_err_set(err, CRIC_ERR_INTERNAL, "out of memory");
    }
    json_object_set_new(p, "args", args);
    for (size_t i = 0; i < argc; i++) {
        if (!spec_str_ok(argv[i], SPEC_MAX_STRLEN) || (i == 0 && !*argv[i])) {
            json_decref(p);
            return cric_err_set(err, CRIC_ERR_INVALID, "exec: argument %zu empty or too long", i);
        }
        if (spec_append(args, json_string(argv[i]), err)) {
            json_decref(p);
            return -1;
        }
    }
    json_object_set_new(p, "terminal", json_boolean(tty));
    json_object_del(p, "consoleSize");
    *out = p;
    return 0;
}

void ctr_spec_extra_free(ctr_spec_extra *x)
{
    if (!x)
        return;
    free(x->additional_gids);
    free(x->cgroups_path);
    for (size_t i = 0; i < x->n_mkdirs; i++)
        free(x->mkdirs[i].path);
    free(x->mkdirs);
    for (size_t i = 0; i < x->n_image_volumes; i++)
        free(x->image_volumes[i]);
    free(x->image_volumes);
    memset(x, 0, sizeof(*x));
}

/* ---------------------------------------------------------------- signals */

int ctr_signal_from_cri(int s)
{
    /* The CRI Signal enum order (api/cri.proto). */
    static const int map[] = {
        0,       SIGABRT, SIGALRM,   SIGBUS,  SIGCHLD,   SIGCHLD,  SIGCONT, SIGFPE,  SIGHUP,
        SIGILL,  SIGINT,  SIGIO,     SIGABRT, SIGKILL,   SIGPIPE,  SIGIO,   SIGPROF, SIGPWR,
        SIGQUIT, SIGSEGV, SIGSTKFLT, SIGSTOP, SIGSYS,    SIGTERM,  SIGTRAP, SIGTSTP, SIGTTIN,
        SIGTTOU, SIGURG,  SIGUSR1,   SIGUSR2, SIGVTALRM, SIGWINCH, SIGXCPU, SIGXFSZ,
    };
    if (s < 0)
        return -1;
    if ((size_t)s < ARRAY_LEN(map))
        return map[s];
    /* SIGRTMIN (35) .. SIGRTMAX (65) -> kernel 34 .. 64 */
    if (s >= 35 && s <= 65)
        return 34 + (s - 35);
    return -1;
}

int ctr_signal_parse(const char *s)
{
    static const struct {
        const char *name;
        int num;
    } names[] = {
        {"HUP", SIGHUP},       {"INT", SIGINT},     {"QUIT", SIGQUIT}, {"ILL", SIGILL},
        {"TRAP", SIGTRAP},     {"ABRT", SIGABRT},   {"IOT", SIGABRT},  {"BUS", SIGBUS},
        {"FPE", SIGFPE},       {"KILL", SIGKILL},   {"USR1", SIGUSR1}, {"SEGV", SIGSEGV},
        {"USR2", SIGUSR2},     {"PIPE", SIGPIPE},   {"ALRM", SIGALRM}, {"TERM", SIGTERM},
        {"STKFLT", SIGSTKFLT}, {"CHLD", SIGCHLD},   {"CLD", SIGCHLD},  {"CONT", SIGCONT},
        {"STOP", SIGSTOP},     {"TSTP", SIGTSTP},   {"TTIN", SIGTTIN}, {"TTOU", SIGTTOU},
        {"URG", SIGURG},       {"XCPU", SIGXCPU},   {"XFSZ", SIGXFSZ}, {"VTALRM", SIGVTALRM},
        {"PROF", SIGPROF},     {"WINCH", SIGWINCH}, {"IO", SIGIO},     {"POLL", SIGIO},
        {"PWR", SIGPWR},       {"SYS", SIGSYS},
    };
    if (!s || !*s || strlen(s) > 32)
        return -1;
    if (isdigit((unsigned char)s[0])) {
        char *end;
        errno = 0;
        long v = strtol(s, &end, 10);
        if (errno || *end || v < 1 || v > 64)
            return -1;
        return (int)v;
    }
    const char *n = strncasecmp(s, "SIG", 3) == 0 ? s + 3 : s;
    for (size_t i = 0; i < ARRAY_LEN(names); i++)
        if (strcasecmp(n, names[i].name) == 0)
            return names[i].num;
    /* RTMIN, RTMIN+n, RTMAX, RTMAX-n (kernel numbering 34..64) */
    int base, sign;
    const char *rest;
    if (strncasecmp(n, "RTMIN", 5) == 0) {
        base = 34, sign = 1, rest = n + 5;
    } else if (strncasecmp(n, "RTMAX", 5) == 0) {
        base = 64, sign = -1, rest = n + 5;
    } else {
        return -1;
    }
    if (!*rest)
        return base;
    if ((sign > 0 && *rest != '+') || (sign < 0 && *rest != '-'))
        return -1;
    rest++;
    if (!isdigit((unsigned char)*rest))
        return -1;
    char *end;
    long off = strtol(rest, &end, 10);
    if (*end || off < 0 || off > 30)
        return -1;
    return base + sign * (int)off;
}

/* ---------------------------------------------------------------- process */

/* Collects a JSON string array of the image config (Entrypoint, Cmd, Env). */
static int image_strv(spec_ctx *c, const char *key, const json_t **out, cric_err *err)
{
    *out = NULL;
    if (!c->in->image_config)
        return 0;
    const json_t *v = json_object_get(c->in->image_config, key);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_array(v) || json_array_size(v) > SPEC_MAX_ARGS)
        return cric_err_set(err, CRIC_ERR_INVALID, "image config: %s is not a string array", key);
    size_t i;
    const json_t *e;
    json_array_foreach(v, i, e)
    {
        if (!json_is_string(e) || json_string_length(e) > SPEC_MAX_STRLEN ||
            strlen(json_string_value(e)) != json_string_length(e))
            return cric_err_set(err, CRIC_ERR_INVALID, "image config: %s[%zu] is not a string", key,
                                i);
    }
    *out = v;
    return 0;
}

static const char *image_string(spec_ctx *c, const char *key)
{
    if (!c->in->image_config)
        return "";
    const json_t *v = json_object_get(c->in->image_config, key);
    return json_is_string(v) ? json_string_value(v) : "";
}

static int add_strs(json_t *arr, char *const *v, size_t n, cric_err *err)
{
    for (size_t i = 0; i < n; i++) {
        if (!spec_str_ok(v[i], SPEC_MAX_STRLEN))
            return cric_err_set(err, CRIC_ERR_INVALID, "argument %zu is too long", i);
        if (spec_append(arr, json_string(v[i]), err))
            return -1;
    }
    return 0;
}

/* Command/args as containerd merges them (from Docker's rules): a command
 * replaces the image's Entrypoint and drops its Cmd; args replace Cmd; with
 * neither, Entrypoint + Cmd; an Entrypoint of [""] counts as none. */
static int process_args(spec_ctx *c, cric_err *err)
{
    const Runtime__V1__ContainerConfig *cfg = c->cfg;
    if (cfg->n_command > SPEC_MAX_ARGS || cfg->n_args > SPEC_MAX_ARGS)
        return cric_err_set(err, CRIC_ERR_INVALID, "container %s: too many arguments", c->cid);
    const json_t *ep, *cmd;
    if (image_strv(c, "Entrypoint", &ep, err) || image_strv(c, "Cmd", &cmd, err))
        return -1;
    json_t *args = json_array();
    if (spec_set(c->process, "args", args, err))
        return -1;
    if (cfg->n_command > 0) {
        if (add_strs(args, cfg->command, cfg->n_command, err) ||
            add_strs(args, cfg->args, cfg->n_args, err))
            return -1;
    } else {
        bool ep_empty =
            ep && json_array_size(ep) == 1 && json_string_length(json_array_get(ep, 0)) == 0;
        if (ep && !ep_empty && json_array_extend(args, (json_t *)ep) != 0)
            return cric_err_set(err, CRIC_ERR_INTERNAL, "out of memory");
        if (cfg->n_args > 0) {
            if (add_strs(args, cfg->args, cfg->n_args, err))
                return -1;
        } else if (cmd && json_array_extend(args, (json_t *)cmd) != 0) {
            return cric_err_set(err, CRIC_ERR_INTERNAL, "out of memory");
        }
    }
    if (json_array_size(args) == 0)
        return cric_err_set(err, CRIC_ERR_INVALID,
                            "container %s: no command specified (neither in the config nor in "
                            "the image)",
                            c->cid);
    if (json_string_length(json_array_get(args, 0)) == 0)
        return cric_err_set(err, CRIC_ERR_INVALID, "container %s: empty command", c->cid);
    return 0;
}

/* Sets KEY=VALUE in env, replacing an entry with the same key. */
static int env_set(json_t *env, const char *kv, size_t keylen, cric_err *err)
{
    size_t i;
    json_t *e;
    json_array_foreach(env, i, e)
    {
        const char *s = json_string_value(e);
        if (strncmp(s, kv, keylen) == 0 && s[keylen] == '=') {
            if (json_array_set_new(env, i, json_string(kv)) != 0)
                return cric_err_set(err, CRIC_ERR_INTERNAL, "out of memory");
            return 0;
        }
    }
    if (json_array_size(env) >= SPEC_MAX_ARGS)
        return cric_err_set(err, CRIC_ERR_INVALID, "too many environment variables");
    return spec_append(env, json_string(kv), err);
}

static int env_set_kv(json_t *env, const char *entry, cric_err *err)
{
    const char *eq = strchr(entry, '=');
    size_t keylen = eq ? (size_t)(eq - entry) : strlen(entry);
    if (keylen == 0)
        return 0; /* "=x" carries no variable; Docker drops it too */
    if (!eq) {
        /* "KEY" without '=' in an image: an empty value */
        _cleanup_free_ char *s = NULL;
        if (asprintf(&s, "%s=", entry) < 0)
            return cric_err_set(err, CRIC_ERR_INTERNAL, "out of memory");
        return env_set(env, s, keylen, err);
    }
    return env_set(env, entry, keylen, err);
}

/* Env: PATH default, HOSTNAME, TERM for a tty, the image's Env, then the
 * config's envs, each replacing an earlier entry with the same key. */
static int process_env(spec_ctx *c, cric_err *err)
{
    json_t *env = json_array();
    if (spec_set(c->process, "env", env, err))
        return -1;
    if (spec_append(env, json_string(DEFAULT_PATH_ENV), err))
        return -1;
    char host[256] = "";
    const char *hn = spec_str(c->sb->hostname);
    if (!*hn) {
        if (gethostname(host, sizeof(host) - 1) != 0)
            host[0] = '\0';
        hn = host;
    }
    _cleanup_free_ char *h = NULL;
    if (asprintf(&h, "HOSTNAME=%s", hn) < 0)
        return cric_err_set(err, CRIC_ERR_INTERNAL, "out of memory");
    if (env_set_kv(env, h, err))
        return -1;
    if (c->cfg->tty && env_set_kv(env, "TERM=xterm", err))
        return -1;
    const json_t *ienv;
    if (image_strv(c, "Env", &ienv, err))
        return -1;
    size_t i;
    const json_t *e;
    if (ienv)
        json_array_foreach(ienv, i, e)
        {
            if (env_set_kv(env, json_string_value(e), err))
                return -1;
        }
    if (c->cfg->n_envs > SPEC_MAX_ARGS)
        return cric_err_set(err, CRIC_ERR_INVALID, "container %s: too many envs", c->cid);
    for (i = 0; i < c->cfg->n_envs; i++) {
        const Runtime__V1__KeyValue *kv = c->cfg->envs[i];
        const char *key = spec_str(kv->key);
        size_t klen = strnlen(key, SPEC_MAX_STRLEN + 1);
        if (klen == 0 || klen > SPEC_MAX_STRLEN || strchr(key, '='))
            return cric_err_set(err, CRIC_ERR_INVALID,
                                "container %s: env %zu: invalid name \"%.64s\"", c->cid, i, key);
        if (kv->value.len > SPEC_MAX_STRLEN * 32 ||
            (kv->value.len && memchr(kv->value.data, '\0', kv->value.len)))
            return cric_err_set(err, CRIC_ERR_INVALID,
                                "container %s: env %s: value too long or contains NUL", c->cid,
                                key);
        _cleanup_free_ char *s = malloc(klen + 1 + kv->value.len + 1);
        if (!s)
            return cric_err_set(err, CRIC_ERR_INTERNAL, "out of memory");
        memcpy(s, key, klen);
        s[klen] = '=';
        if (kv->value.len)
            memcpy(s + klen + 1, kv->value.data, kv->value.len);
        s[klen + 1 + kv->value.len] = '\0';
        if (env_set(env, s, klen, err))
            return -1;
    }
    return 0;
}

static int process_cwd(spec_ctx *c, cric_err *err)
{
    const char *cwd = spec_str(c->cfg->working_dir);
    if (!*cwd)
        cwd = image_string(c, "WorkingDir");
    if (!*cwd)
        cwd = "/";
    char clean[SPEC_MAX_STRLEN + 1];
    if (spec_path_clean(cwd, clean) != 0)
        return cric_err_set(err, CRIC_ERR_INVALID,
                            "container %s: working dir \"%.256s\" is not an absolute path", c->cid,
                            cwd);
    return spec_set(c->process, "cwd", json_string(clean), err);
}

static int stop_signal(spec_ctx *c, cric_err *err)
{
    int sig = 0;
    if (c->cfg->stop_signal != 0) {
        sig = ctr_signal_from_cri(c->cfg->stop_signal);
        if (sig <= 0)
            return cric_err_set(err, CRIC_ERR_INVALID, "container %s: unknown stop signal %d",
                                c->cid, (int)c->cfg->stop_signal);
    } else {
        const char *s = image_string(c, "StopSignal");
        if (*s) {
            sig = ctr_signal_parse(s);
            if (sig <= 0)
                return cric_err_set(err, CRIC_ERR_INVALID,
                                    "container %s: image StopSignal \"%.32s\" is not a signal",
                                    c->cid, s);
        }
    }
    c->extra->stop_signal = sig > 0 ? sig : SIGTERM;
    return 0;
}

static int annotations(spec_ctx *c, cric_err *err)
{
    json_t *a = json_object();
    if (spec_set(c->spec, "annotations", a, err))
        return -1;
    const char *name = c->cfg->metadata ? spec_str(c->cfg->metadata->name) : "";
    struct {
        const char *k, *v;
    } kv[] = {
        {"io.kubernetes.cri.container-type", "container"},
        {"io.kubernetes.cri.container-name", name},
        {"io.kubernetes.cri.sandbox-id", spec_str(c->sb->id)},
        {"io.kubernetes.cri.sandbox-name", spec_str(c->sb->name)},
        {"io.kubernetes.cri.sandbox-namespace", spec_str(c->sb->namespace_)},
        {"io.kubernetes.cri.sandbox-uid", spec_str(c->sb->uid)},
        {"io.kubernetes.cri.image-name", spec_str(c->in->image_name)},
    };
    for (size_t i = 0; i < ARRAY_LEN(kv); i++)
        if (spec_set(a, kv[i].k, json_string(kv[i].v), err))
            return -1;
    return 0;
}

static int skeleton(spec_ctx *c, cric_err *err)
{
    const ctr_spec_input *in = c->in;
    if (spec_set(c->spec, "ociVersion", json_string("1.0.2"), err))
        return -1;
    c->process = json_object();
    if (spec_set(c->spec, "process", c->process, err))
        return -1;
    c->linux = json_object();
    if (spec_set(c->spec, "linux", c->linux, err))
        return -1;
    if (spec_set(c->process, "terminal", json_boolean(c->cfg->tty), err))
        return -1;
    bool ro = c->sc && c->sc->readonly_rootfs;
    json_t *root = json_pack("{s:s, s:b}", "path", in->rootfs, "readonly", ro);
    if (spec_set(c->spec, "root", root, err))
        return -1;
    /* The pod's hostname, only inside the pod's own UTS namespace. */
    if (*spec_str(c->sb->utsns_path) && *spec_str(c->sb->hostname)) {
        if (!spec_str_ok(c->sb->hostname, 253))
            return cric_err_set(err, CRIC_ERR_INVALID, "sandbox hostname too long");
        if (spec_set(c->spec, "hostname", json_string(c->sb->hostname), err))
            return -1;
    }
    return 0;
}

static int check_input(const ctr_spec_input *in, cric_err *err)
{
    if (!in || !in->cfg || !in->sandbox || !in->host)
        return cric_err_set(err, CRIC_ERR_INVALID, "spec input incomplete");
    if (!in->container_id ||
        !name_is_safe_component(in->container_id, strnlen(in->container_id, 129), 128))
        return cric_err_set(err, CRIC_ERR_INVALID, "invalid container id");
    if (!in->rootfs || in->rootfs[0] != '/' || !spec_str_ok(in->rootfs, SPEC_MAX_STRLEN))
        return cric_err_set(err, CRIC_ERR_INVALID, "container %s: rootfs must be an absolute path",
                            in->container_id);
    if (in->image_config && !json_is_object(in->image_config))
        return cric_err_set(err, CRIC_ERR_INVALID, "container %s: image config is not an object",
                            in->container_id);
    if (in->volumes_dir && *in->volumes_dir && in->volumes_dir[0] != '/')
        return cric_err_set(err, CRIC_ERR_INVALID, "volumes dir must be absolute");
    return 0;
}

int ctr_spec_build(const ctr_spec_input *in, json_t **out, ctr_spec_extra *extras, cric_err *err)
{
    *out = NULL;
    memset(extras, 0, sizeof(*extras));
    if (check_input(in, err))
        return -1;
    spec_ctx c = {
        .in = in,
        .sb = in->sandbox,
        .cfg = in->cfg,
        .cid = in->container_id,
        .extra = extras,
    };
    if (in->cfg->linux) {
        c.sc = in->cfg->linux->security_context;
        c.res = in->cfg->linux->resources;
    }
    c.privileged = c.sc && c.sc->privileged;
    extras->privileged = c.privileged;
    if (c.privileged && !in->sandbox->privileged) {
        cric_err_set(err, CRIC_ERR_PRECONDITION,
                     "container %s: privileged container in a sandbox that is not privileged",
                     c.cid);
        return -1;
    }
    c.spec = json_object();
    if (!c.spec)
        return cric_err_set(err, CRIC_ERR_INTERNAL, "out of memory");
    int rc = 0;
    if (skeleton(&c, err) || process_args(&c, err) || process_env(&c, err) ||
        process_cwd(&c, err) || stop_signal(&c, err) || spec_user(&c, err) ||
        spec_security(&c, err) || spec_namespaces(&c, err) || spec_mounts(&c, err) ||
        spec_devices(&c, err) || spec_resources(&c, err) || spec_sysctls(&c, err) ||
        annotations(&c, err))
        rc = -1;
    if (rc != 0) {
        json_decref(c.spec);
        ctr_spec_extra_free(extras);
        return -1;
    }
    *out = c.spec;
    return 0;
}

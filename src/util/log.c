#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* Written once in log_setup() before threads start; see log.h. */
static struct {
    log_level level;
    log_format format;
} log_settings = {LOG_LVL_INFO, LOG_FMT_TEXT};

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void log_setup(log_level level, log_format format)
{
    log_settings.level = level;
    log_settings.format = format;
}

bool log_enabled(log_level level)
{
    return level >= log_settings.level;
}

void log_current(log_level *level, log_format *format)
{
    *level = log_settings.level;
    *format = log_settings.format;
}

const char *log_level_name(log_level level)
{
    return (unsigned)level < 4 ? level_names[level] : "info";
}

int log_level_parse(const char *s, log_level *out)
{
    for (int i = 0; i < 4; i++) {
        if (strcmp(s, level_names[i]) == 0) {
            *out = (log_level)i;
            return 0;
        }
    }
    if (strcmp(s, "warning") == 0) {
        *out = LOG_LVL_WARN;
        return 0;
    }
    return -1;
}

int log_format_parse(const char *s, log_format *out)
{
    if (strcmp(s, "text") == 0)
        *out = LOG_FMT_TEXT;
    else if (strcmp(s, "json") == 0)
        *out = LOG_FMT_JSON;
    else
        return -1;
    return 0;
}

static size_t json_escape(char *dst, size_t cap, const char *src)
{
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)src; *p && o + 7 < cap; p++) {
        switch (*p) {
        case '"': dst[o++] = '\\'; dst[o++] = '"'; break;
        case '\\': dst[o++] = '\\'; dst[o++] = '\\'; break;
        case '\n': dst[o++] = '\\'; dst[o++] = 'n'; break;
        case '\r': dst[o++] = '\\'; dst[o++] = 'r'; break;
        case '\t': dst[o++] = '\\'; dst[o++] = 't'; break;
        default:
            if (*p < 0x20)
                o += (size_t)snprintf(dst + o, cap - o, "\\u%04x", *p);
            else
                dst[o++] = (char)*p;
        }
    }
    dst[o] = '\0';
    return o;
}

void log_write(log_level level, const char *subsys, const char *fmt, ...)
{
    if (!log_enabled(level))
        return;
    char msg[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);

    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char when[64];
    size_t n = strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(when + n, sizeof(when) - n, ".%06ldZ", ts.tv_nsec / 1000);

    /* One fprintf per line: stdio locks the stream, so lines never interleave. */
    if (log_settings.format == LOG_FMT_JSON) {
        char esc[sizeof(msg) * 2];
        json_escape(esc, sizeof(esc), msg);
        fprintf(stderr, "{\"time\":\"%s\",\"level\":\"%s\",\"subsys\":\"%s\",\"msg\":\"%s\"}\n",
                when, log_level_name(level), subsys ? subsys : "", esc);
    } else {
        fprintf(stderr, "%s %-5s %s: %s\n", when, log_level_name(level), subsys ? subsys : "-",
                msg);
    }
}

/* Structured logging to stderr, as text ("time level subsys: message") or one
 * JSON object per line. The level and format are set once at start-up, before
 * any thread exists, and only read afterwards. */
#ifndef CRIC_UTIL_LOG_H
#define CRIC_UTIL_LOG_H

#include <stdbool.h>

typedef enum { LOG_LVL_DEBUG = 0, LOG_LVL_INFO, LOG_LVL_WARN, LOG_LVL_ERROR } log_level;
typedef enum { LOG_FMT_TEXT = 0, LOG_FMT_JSON } log_format;

void log_setup(log_level level, log_format format);
bool log_enabled(log_level level);
/* The settings, for helper processes that log the same way. */
void log_current(log_level *level, log_format *format);
int log_level_parse(const char *s, log_level *out);
int log_format_parse(const char *s, log_format *out);
const char *log_level_name(log_level level);

void log_write(log_level level, const char *subsys, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define log_debug(sub, ...)                                                                        \
    do {                                                                                           \
        if (log_enabled(LOG_LVL_DEBUG))                                                            \
            log_write(LOG_LVL_DEBUG, sub, __VA_ARGS__);                                            \
    } while (0)
#define log_info(sub, ...) log_write(LOG_LVL_INFO, sub, __VA_ARGS__)
#define log_warn(sub, ...) log_write(LOG_LVL_WARN, sub, __VA_ARGS__)
#define log_error(sub, ...) log_write(LOG_LVL_ERROR, sub, __VA_ARGS__)

#endif

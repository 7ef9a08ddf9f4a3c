/* The log sink: libraries hand messages here, the main decides where they go. */
#include "common/common.h"

static berth_log_sink log_sink;
static enum berth_log_level log_min = BERTH_LOG_WARN;
static void *log_userdata;

void berth_log_set_sink(berth_log_sink sink, enum berth_log_level min, void *userdata)
{
        log_sink = sink;
        log_min = min;
        log_userdata = userdata;
}

void berth_log(enum berth_log_level level, const char *fmt, ...)
{
        if (!log_sink || level < log_min)
                return;
        char buf[1024];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        log_sink(level, buf, log_userdata);
}

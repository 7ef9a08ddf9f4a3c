/* The process attributes of OCI 1.2 that the kernel keeps across execve: process.scheduler
 * (sched_setattr), process.ioPriority (ioprio_set), process.execCPUAffinity (sched_setaffinity,
 * initial when the runtime's child starts, final right before execve) and linux.memoryPolicy
 * (set_mempolicy). Parsed and validated with runc's rules and messages; applied by the child
 * while it still holds its capabilities (SCHED_FIFO/RR and the RT io class need CAP_SYS_NICE).
 */
#include "runtime/internal.h"

#include <linux/ioprio.h>
#include <linux/mempolicy.h>
#include <sched.h>
#include <sys/syscall.h>

#ifndef SCHED_DEADLINE
#define SCHED_DEADLINE 6
#endif
#ifndef MPOL_PREFERRED_MANY
#define MPOL_PREFERRED_MANY 5
#endif
#ifndef MPOL_WEIGHTED_INTERLEAVE
#define MPOL_WEIGHTED_INTERLEAVE 6
#endif

struct name_value {
        const char *name;
        int64_t value;
};

static const struct name_value sched_policies[] = {
    {"SCHED_OTHER", SCHED_OTHER},       {"SCHED_FIFO", SCHED_FIFO}, {"SCHED_RR", SCHED_RR},
    {"SCHED_BATCH", SCHED_BATCH},       {"SCHED_ISO", 4},           {"SCHED_IDLE", SCHED_IDLE},
    {"SCHED_DEADLINE", SCHED_DEADLINE},
};

static const struct name_value sched_flags[] = {
    {"SCHED_FLAG_RESET_ON_FORK", 0x01},  {"SCHED_FLAG_RECLAIM", 0x02},
    {"SCHED_FLAG_DL_OVERRUN", 0x04},     {"SCHED_FLAG_KEEP_POLICY", 0x08},
    {"SCHED_FLAG_KEEP_PARAMS", 0x10},    {"SCHED_FLAG_UTIL_CLAMP_MIN", 0x20},
    {"SCHED_FLAG_UTIL_CLAMP_MAX", 0x40},
};

static const struct name_value io_classes[] = {
    {"IOPRIO_CLASS_RT", IOPRIO_CLASS_RT},
    {"IOPRIO_CLASS_BE", IOPRIO_CLASS_BE},
    {"IOPRIO_CLASS_IDLE", IOPRIO_CLASS_IDLE},
};

static const struct name_value mpol_modes[] = {
    {"MPOL_DEFAULT", MPOL_DEFAULT},
    {"MPOL_PREFERRED", MPOL_PREFERRED},
    {"MPOL_BIND", MPOL_BIND},
    {"MPOL_INTERLEAVE", MPOL_INTERLEAVE},
    {"MPOL_LOCAL", MPOL_LOCAL},
    {"MPOL_PREFERRED_MANY", MPOL_PREFERRED_MANY},
    {"MPOL_WEIGHTED_INTERLEAVE", MPOL_WEIGHTED_INTERLEAVE},
};

static const struct name_value mpol_flags[] = {
    {"MPOL_F_NUMA_BALANCING", MPOL_F_NUMA_BALANCING},
    {"MPOL_F_RELATIVE_NODES", MPOL_F_RELATIVE_NODES},
    {"MPOL_F_STATIC_NODES", MPOL_F_STATIC_NODES},
};

static int lookup(const struct name_value *t, size_t n, const char *name, const char *field,
                  int64_t *ret, struct berth_error **err)
{
        for (size_t i = 0; i < n; i++)
                if (!strcmp(t[i].name, name)) {
                        *ret = t[i].value;
                        return 0;
                }
        return berth_error_setx(err, EINVAL, "config.json: %s: unknown value `%s`", field, name);
}

#define LOOKUP(t, name, field, ret, err) lookup(t, ARRAY_SIZE(t), name, field, ret, err)

static int string_field(json_t *o, const char *key, const char *field, const char **ret,
                        struct berth_error **err)
{
        json_t *v = json_object_get(o, key);
        *ret = NULL;
        if (!v || json_is_null(v))
                return 0;
        if (!json_is_string(v))
                return berth_error_setx(err, EINVAL, "config.json: %s: expected string", field);
        *ret = json_string_value(v);
        return 0;
}

static int int_field(json_t *o, const char *key, const char *field, int64_t min, int64_t max,
                     int64_t *ret, struct berth_error **err)
{
        json_t *v = json_object_get(o, key);
        if (!v || json_is_null(v))
                return 0;
        double d = json_number_value(v);
        if (!json_is_number(v) || d != (double)(int64_t)d)
                return berth_error_setx(err, EINVAL, "config.json: %s: expected integer", field);
        if (d < (double)min || d > (double)max)
                return berth_error_setx(err, EINVAL, "config.json: %s: out of range", field);
        *ret = (int64_t)d;
        return 0;
}

/* OR of the named flags of an array of strings */
static int flag_list(json_t *o, const char *key, const char *field, const struct name_value *t,
                     size_t n, uint64_t *ret, struct berth_error **err)
{
        json_t *a = json_object_get(o, key), *e;
        size_t i;
        *ret = 0;
        if (!a || json_is_null(a))
                return 0;
        if (!json_is_array(a))
                return berth_error_setx(err, EINVAL, "config.json: %s: expected array", field);
        json_array_foreach(a, i, e)
        {
                int64_t v = 0;
                if (!json_is_string(e))
                        return berth_error_setx(
                            err, EINVAL, "config.json: %s: expected array of strings", field);
                if (lookup(t, n, json_string_value(e), field, &v, err) < 0)
                        return -EINVAL;
                *ret |= (uint64_t)v;
        }
        return 0;
}

static int parse_scheduler(json_t *o, struct spec_sched *s, struct berth_error **err)
{
        const char *policy;
        int64_t v = 0;
        if (!json_is_object(o))
                return berth_error_setx(err, EINVAL,
                                        "config.json: process.scheduler: expected object");
        if (string_field(o, "policy", "process.scheduler.policy", &policy, err) < 0)
                return -EINVAL;
        if (!policy)
                return berth_error_setx(err, EINVAL,
                                        "config.json: process.scheduler.policy: required");
        if (LOOKUP(sched_policies, policy, "process.scheduler.policy", &v, err) < 0)
                return -EINVAL;
        s->policy = (int)v;
        int64_t nice = 0, prio = 0, runtime = 0, deadline = 0, period = 0;
        if (int_field(o, "nice", "process.scheduler.nice", -20, 19, &nice, err) < 0 ||
            int_field(o, "priority", "process.scheduler.priority", 0, 99, &prio, err) < 0 ||
            int_field(o, "runtime", "process.scheduler.runtime", 0, INT64_MAX, &runtime, err) < 0 ||
            int_field(o, "deadline", "process.scheduler.deadline", 0, INT64_MAX, &deadline, err) <
                0 ||
            int_field(o, "period", "process.scheduler.period", 0, INT64_MAX, &period, err) < 0 ||
            flag_list(o, "flags", "process.scheduler.flags", sched_flags, ARRAY_SIZE(sched_flags),
                      &s->flags, err) < 0)
                return -EINVAL;
        if (prio && s->policy != SCHED_FIFO && s->policy != SCHED_RR)
                return berth_error_setx(err, EINVAL,
                                        "config.json: process.scheduler.priority can only be "
                                        "specified for SCHED_FIFO or SCHED_RR");
        if (s->policy != SCHED_DEADLINE && (runtime || deadline || period))
                return berth_error_setx(err, EINVAL,
                                        "config.json: process.scheduler runtime/deadline/period "
                                        "can only be specified for SCHED_DEADLINE");
        if (s->policy == SCHED_DEADLINE) {
                /* the kernel's own rule (sched_setattr(2)), stated before anything starts */
                if (!runtime)
                        return berth_error_setx(err, EINVAL,
                                                "config.json: process.scheduler.runtime must be "
                                                "non-zero for SCHED_DEADLINE");
                if (!deadline)
                        deadline = runtime;
                if (!period)
                        period = deadline;
                if (!(runtime <= deadline && deadline <= period))
                        return berth_error_setx(err, EINVAL,
                                                "config.json: process.scheduler: SCHED_DEADLINE "
                                                "needs runtime <= deadline <= period");
        }
        s->set = true;
        s->nice = (int)nice;
        s->priority = (int)prio;
        s->runtime = (uint64_t)runtime;
        s->deadline = (uint64_t)deadline;
        s->period = (uint64_t)period;
        return 0;
}

/* A cpu or node list ("0-3,6"): each number below max; the bits set in mask (max bits). */
static int parse_list(const char *text, const char *field, unsigned max, unsigned long *mask,
                      struct berth_error **err)
{
        const unsigned bits = 8 * sizeof(unsigned long);
        _cleanup_free_ char *copy = xstrdup(text);
        char *save = NULL;
        bool any = false;
        for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                char *end;
                errno = 0;
                unsigned long a = strtoul(t, &end, 10), b = a;
                if (end == t)
                        goto bad;
                if (*end == '-') {
                        char *s2 = end + 1;
                        b = strtoul(s2, &end, 10);
                        if (end == s2)
                                goto bad;
                }
                if (*end || errno || a > b || b >= max)
                        goto bad;
                for (unsigned long i = a; i <= b; i++)
                        mask[i / bits] |= 1ul << (i % bits);
                any = true;
        }
        if (any)
                return 0;
bad:
        return berth_error_setx(err, EINVAL, "config.json: %s: invalid list `%s`", field, text);
}

int spec_parse_process_attrs(json_t *proc, struct spec_process *p, struct berth_error **err)
{
        json_t *o = json_object_get(proc, "scheduler");
        if (o && !json_is_null(o) && parse_scheduler(o, &p->sched, err) < 0)
                return -EINVAL;
        o = json_object_get(proc, "ioPriority");
        if (o && !json_is_null(o)) {
                const char *cls;
                int64_t v = 0, prio = 0;
                if (!json_is_object(o))
                        return berth_error_setx(err, EINVAL,
                                                "config.json: process.ioPriority: expected object");
                if (string_field(o, "class", "process.ioPriority.class", &cls, err) < 0)
                        return -EINVAL;
                if (!cls)
                        return berth_error_setx(err, EINVAL,
                                                "config.json: process.ioPriority.class: required");
                if (LOOKUP(io_classes, cls, "process.ioPriority.class", &v, err) < 0 ||
                    int_field(o, "priority", "process.ioPriority.priority", 0, 7, &prio, err) < 0)
                        return -EINVAL;
                p->ioprio_set = true;
                p->ioprio = (int)IOPRIO_PRIO_VALUE(v, prio);
        }
        o = json_object_get(proc, "execCPUAffinity");
        if (o && !json_is_null(o)) {
                const char *initial, *final;
                if (!json_is_object(o))
                        return berth_error_setx(
                            err, EINVAL, "config.json: process.execCPUAffinity: expected object");
                if (string_field(o, "initial", "process.execCPUAffinity.initial", &initial, err) <
                        0 ||
                    string_field(o, "final", "process.execCPUAffinity.final", &final, err) < 0)
                        return -EINVAL;
                const char *texts[2] = {initial, final};
                const char *fields[2] = {"process.execCPUAffinity.initial",
                                         "process.execCPUAffinity.final"};
                for (int i = 0; i < 2; i++) {
                        if (!texts[i] || !*texts[i])
                                continue;
                        unsigned long *m = xcalloc(CPU_SETSIZE / (8 * sizeof(unsigned long)),
                                                   sizeof(unsigned long));
                        if (parse_list(texts[i], fields[i], CPU_SETSIZE, m, err) < 0) {
                                free(m);
                                return -EINVAL;
                        }
                        p->affinity[i] = m;
                }
        }
        return 0;
}

int spec_parse_memory_policy(json_t *linux_obj, struct spec *s, struct berth_error **err)
{
        json_t *o = json_object_get(linux_obj, "memoryPolicy");
        const char *mode, *nodes;
        int64_t v = 0;
        uint64_t flags;
        if (!o || json_is_null(o))
                return 0;
        if (!json_is_object(o))
                return berth_error_setx(err, EINVAL,
                                        "config.json: linux.memoryPolicy: expected object");
        if (string_field(o, "mode", "linux.memoryPolicy.mode", &mode, err) < 0 ||
            string_field(o, "nodes", "linux.memoryPolicy.nodes", &nodes, err) < 0 ||
            flag_list(o, "flags", "linux.memoryPolicy.flags", mpol_flags, ARRAY_SIZE(mpol_flags),
                      &flags, err) < 0)
                return -EINVAL;
        if (!mode)
                return berth_error_setx(err, EINVAL,
                                        "config.json: linux.memoryPolicy.mode: required");
        if (LOOKUP(mpol_modes, mode, "linux.memoryPolicy.mode", &v, err) < 0)
                return -EINVAL;
        bool no_nodes = v == MPOL_DEFAULT || v == MPOL_LOCAL;
        if (no_nodes && nodes && *nodes)
                return berth_error_setx(err, EINVAL,
                                        "config.json: linux.memoryPolicy: mode `%s` takes no "
                                        "nodes",
                                        mode);
        if (!no_nodes && v != MPOL_PREFERRED && (!nodes || !*nodes))
                return berth_error_setx(
                    err, EINVAL, "config.json: linux.memoryPolicy: mode `%s` needs nodes", mode);
        if ((flags & MPOL_F_STATIC_NODES) && (flags & MPOL_F_RELATIVE_NODES))
                return berth_error_setx(err, EINVAL,
                                        "config.json: linux.memoryPolicy.flags: "
                                        "MPOL_F_STATIC_NODES and MPOL_F_RELATIVE_NODES exclude "
                                        "each other");
        if ((flags & MPOL_F_NUMA_BALANCING) && v != MPOL_BIND && v != MPOL_PREFERRED_MANY)
                return berth_error_setx(err, EINVAL,
                                        "config.json: linux.memoryPolicy.flags: "
                                        "MPOL_F_NUMA_BALANCING needs mode MPOL_BIND or "
                                        "MPOL_PREFERRED_MANY");
        if (nodes && *nodes &&
            parse_list(nodes, "linux.memoryPolicy.nodes", SPEC_MAX_NUMA_NODES, s->mempolicy.nodes,
                       err) < 0)
                return -EINVAL;
        s->mempolicy.set = true;
        s->mempolicy.mode = (int)v;
        s->mempolicy.flags = (unsigned)flags;
        return 0;
}

/* struct sched_attr of sched_setattr(2); glibc has no wrapper */
struct sched_attr_v1 {
        uint32_t size;
        uint32_t sched_policy;
        uint64_t sched_flags;
        int32_t sched_nice;
        uint32_t sched_priority;
        uint64_t sched_runtime;
        uint64_t sched_deadline;
        uint64_t sched_period;
};

static int set_affinity(const unsigned long *mask, const char *which, struct berth_error **err)
{
        if (sched_setaffinity(0, CPU_SETSIZE / 8, (const cpu_set_t *)mask) < 0)
                return berth_error_set(err, errno, "set the %s cpu affinity", which);
        return 0;
}

int process_attrs_initial(const struct spec_process *p, struct berth_error **err)
{
        return p->affinity[0] ? set_affinity(p->affinity[0], "initial", err) : 0;
}

int process_attrs_apply(const struct spec *s, const struct spec_process *p,
                        struct berth_error **err)
{
        if (s && s->mempolicy.set &&
            syscall(SYS_set_mempolicy, s->mempolicy.mode | (int)s->mempolicy.flags,
                    s->mempolicy.nodes, (unsigned long)SPEC_MAX_NUMA_NODES + 1) < 0)
                return berth_error_set(err, errno, "set_mempolicy");
        if (p->sched.set) {
                struct sched_attr_v1 a = {
                    .size = sizeof(a),
                    .sched_policy = (uint32_t)p->sched.policy,
                    .sched_flags = p->sched.flags,
                    .sched_nice = p->sched.nice,
                    .sched_priority = (uint32_t)p->sched.priority,
                    .sched_runtime = p->sched.runtime,
                    .sched_deadline = p->sched.deadline,
                    .sched_period = p->sched.period,
                };
                if (syscall(SYS_sched_setattr, 0, &a, 0) < 0)
                        return berth_error_set(err, errno, "sched_setattr");
        }
        if (p->ioprio_set && syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, p->ioprio) < 0)
                return berth_error_set(err, errno, "ioprio_set");
        return 0;
}

int process_attrs_final(const struct spec_process *p, struct berth_error **err)
{
        return p->affinity[1] ? set_affinity(p->affinity[1], "final", err) : 0;
}

json_t *process_attrs_memory_policy_features(void)
{
        json_t *modes = json_array(), *flags = json_array();
        for (size_t i = 0; i < ARRAY_SIZE(mpol_modes); i++)
                json_array_append_new(modes, json_string(mpol_modes[i].name));
        for (size_t i = 0; i < ARRAY_SIZE(mpol_flags); i++)
                json_array_append_new(flags, json_string(mpol_flags[i].name));
        return json_pack("{s:o, s:o}", "modes", modes, "flags", flags);
}

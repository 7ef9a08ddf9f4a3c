/* cgroup v2 device control: the v1 devices.allow/deny list compiled into a
 * BPF_PROG_TYPE_CGROUP_DEVICE program and attached to the container's cgroup.
 *
 * Rules are checked from the last to the first and the first match decides, which gives the
 * v1 list its meaning (a later rule overrides an earlier one); no match denies.
 */
#include "runtime/internal.h"

#include <linux/bpf.h>
#include <sys/syscall.h>

#define MAX_INSNS 4096

struct prog {
        struct bpf_insn insn[MAX_INSNS];
        size_t n;
};

static void emit(struct prog *p, uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm)
{
        if (p->n < MAX_INSNS)
                p->insn[p->n++] = (struct bpf_insn){
                    .code = code, .dst_reg = dst, .src_reg = src, .off = off, .imm = imm};
}

static uint32_t access_bits(const char *a)
{
        uint32_t b = 0;
        for (; *a; a++)
                b |= *a == 'm'   ? BPF_DEVCG_ACC_MKNOD
                     : *a == 'r' ? BPF_DEVCG_ACC_READ
                                 : BPF_DEVCG_ACC_WRITE;
        return b;
}

/* One rule: a run of "skip to the next rule unless it matches" jumps, then return allow/deny.
 * Returns false when the rule matches everything: what would follow is unreachable, which the
 * verifier refuses. */
static bool emit_rule(struct prog *p, const struct spec_device_rule *r)
{
        size_t jumps[4];
        size_t nj = 0;
        if (r->type != 'a') {
                jumps[nj++] = p->n;
                emit(p, BPF_JMP32 | BPF_JNE | BPF_K, BPF_REG_2, 0, 0,
                     r->type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR);
        }
        uint32_t acc = access_bits(r->access);
        if (acc != (BPF_DEVCG_ACC_MKNOD | BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE)) {
                /* the request must ask for nothing outside the rule's access */
                emit(p, BPF_ALU | BPF_MOV | BPF_X, BPF_REG_1, BPF_REG_3, 0, 0);
                emit(p, BPF_ALU | BPF_AND | BPF_K, BPF_REG_1, 0, 0, (int32_t)~acc);
                jumps[nj++] = p->n;
                emit(p, BPF_JMP32 | BPF_JNE | BPF_K, BPF_REG_1, 0, 0, 0);
        }
        if (r->major >= 0) {
                jumps[nj++] = p->n;
                emit(p, BPF_JMP32 | BPF_JNE | BPF_K, BPF_REG_4, 0, 0, (int32_t)(uint32_t)r->major);
        }
        if (r->minor >= 0) {
                jumps[nj++] = p->n;
                emit(p, BPF_JMP32 | BPF_JNE | BPF_K, BPF_REG_5, 0, 0, (int32_t)(uint32_t)r->minor);
        }
        emit(p, BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, r->allow ? 1 : 0);
        emit(p, BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
        for (size_t i = 0; i < nj; i++)
                p->insn[jumps[i]].off = (int16_t)(p->n - jumps[i] - 1);
        return nj > 0;
}

static int bpf(int cmd, union bpf_attr *attr)
{
        return (int)syscall(SYS_bpf, cmd, attr, sizeof(*attr));
}

int cgroup_bpf_devices(int cgroup_fd, const struct spec_device_rule *rules, size_t n,
                       struct berth_error **err)
{
        _cleanup_free_ struct prog *p = xcalloc(1, sizeof(*p));
        /* r2 = device type, r3 = access, r4 = major, r5 = minor */
        emit(p, BPF_LDX | BPF_W | BPF_MEM, BPF_REG_2, BPF_REG_1, 0, 0);
        emit(p, BPF_ALU | BPF_AND | BPF_K, BPF_REG_2, 0, 0, 0xffff);
        emit(p, BPF_LDX | BPF_W | BPF_MEM, BPF_REG_3, BPF_REG_1, 0, 0);
        emit(p, BPF_ALU | BPF_RSH | BPF_K, BPF_REG_3, 0, 0, 16);
        emit(p, BPF_LDX | BPF_W | BPF_MEM, BPF_REG_4, BPF_REG_1, 4, 0);
        emit(p, BPF_LDX | BPF_W | BPF_MEM, BPF_REG_5, BPF_REG_1, 8, 0);
        bool reachable = true;
        for (size_t i = n; i-- > 0 && reachable;)
                reachable = emit_rule(p, &rules[i]);
        if (reachable) {
                emit(p, BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0);
                emit(p, BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
        }
        if (p->n >= MAX_INSNS)
                return berth_error_setx(err, E2BIG, "cgroup: too many device rules (%zu)", n);

        union bpf_attr load = {
            .prog_type = BPF_PROG_TYPE_CGROUP_DEVICE,
            .insn_cnt = (uint32_t)p->n,
            .insns = (uint64_t)(uintptr_t)p->insn,
            .license = (uint64_t)(uintptr_t) "Apache",
        };
        _cleanup_close_ int prog = bpf(BPF_PROG_LOAD, &load);
        if (prog < 0) {
                /* load again with the verifier's log only to explain the failure: logging
                 * costs time on every successful load */
                int e = errno;
                char log[4096] = "";
                load.log_buf = (uint64_t)(uintptr_t)log;
                load.log_size = sizeof(log);
                load.log_level = 1;
                (void)bpf(BPF_PROG_LOAD, &load);
                return berth_error_set(err, e, "cgroup: load device program%s%.200s",
                                       *log ? ": " : "", log);
        }

        /* programs attached before (an earlier `update`) are detached once the new one is in */
        uint32_t old_ids[64];
        union bpf_attr q = {
            .query.target_fd = (uint32_t)cgroup_fd,
            .query.attach_type = BPF_CGROUP_DEVICE,
            .query.prog_ids = (uint64_t)(uintptr_t)old_ids,
            .query.prog_cnt = ARRAY_SIZE(old_ids),
        };
        uint32_t n_old = bpf(BPF_PROG_QUERY, &q) == 0 ? q.query.prog_cnt : 0;

        union bpf_attr att = {
            .target_fd = (uint32_t)cgroup_fd,
            .attach_bpf_fd = (uint32_t)prog,
            .attach_type = BPF_CGROUP_DEVICE,
            .attach_flags = BPF_F_ALLOW_MULTI,
        };
        if (bpf(BPF_PROG_ATTACH, &att) < 0)
                return berth_error_set(err, errno, "cgroup: attach device program");
        for (uint32_t i = 0; i < n_old && i < ARRAY_SIZE(old_ids); i++) {
                union bpf_attr get = {.prog_id = old_ids[i]};
                _cleanup_close_ int ofd = bpf(BPF_PROG_GET_FD_BY_ID, &get);
                if (ofd < 0)
                        continue;
                union bpf_attr det = {
                    .target_fd = (uint32_t)cgroup_fd,
                    .attach_bpf_fd = (uint32_t)ofd,
                    .attach_type = BPF_CGROUP_DEVICE,
                };
                if (bpf(BPF_PROG_DETACH, &det) < 0)
                        return berth_error_set(err, errno, "cgroup: detach old device program");
        }
        return 0;
}

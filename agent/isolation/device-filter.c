/*
 * mantle-device-filter: attaches a cgroup v2 device filter that keeps a task to its GPUs.
 *
 *     mantle-device-filter <cgroup2 dir> <major> [allowed minor ...]
 *
 * Loads an eBPF program (BPF_PROG_TYPE_CGROUP_DEVICE) that denies character devices <major>:<minor>
 * for every minor below 254 not listed, and allows every other device (NVIDIA's control devices,
 * nvidiactl 195:255 and nvidia-modeset 195:254, stay open: CUDA needs them), then attaches it to the
 * cgroup with BPF_F_ALLOW_MULTI, beside whatever else is attached there or above. The attachment keeps
 * the program alive until the cgroup is removed, so nothing stays running. Raw bpf() syscalls and a
 * hand-assembled program: no libbpf, no clang. Exits 0 when attached; else prints why and exits 1.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MAX_ALLOWED 254
#define FIRST_CONTROL_MINOR 254

static struct bpf_insn insn(__u8 code, __u8 dst, __u8 src, __s16 off, __s32 imm) {
  struct bpf_insn i = {.code = code, .dst_reg = dst, .src_reg = src, .off = off, .imm = imm};
  return i;
}

static int number(const char *text, long max, long *value) {
  char *end;
  errno = 0;
  *value = strtol(text, &end, 10);
  return errno == 0 && end != text && *end == '\0' && *value >= 0 && *value <= max;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s <cgroup2 dir> <major> [allowed minor ...]\n", argv[0]);
    return 2;
  }
  long major;
  if (!number(argv[2], 4095, &major)) {
    fprintf(stderr, "'%s' is not a device major\n", argv[2]);
    return 2;
  }
  int allowed = argc - 3;
  if (allowed > MAX_ALLOWED) {
    fprintf(stderr, "too many allowed minors\n");
    return 2;
  }
  struct bpf_insn prog[16 + MAX_ALLOWED];
  int n = 0;
  /* r1 = struct bpf_cgroup_dev_ctx { u32 access_type (access << 16 | type); u32 major; u32 minor; } */
  prog[n++] = insn(BPF_LDX | BPF_MEM | BPF_W, BPF_REG_2, BPF_REG_1, 0, 0);
  prog[n++] = insn(BPF_ALU64 | BPF_AND | BPF_K, BPF_REG_2, 0, 0, 0xffff);
  prog[n++] = insn(BPF_LDX | BPF_MEM | BPF_W, BPF_REG_3, BPF_REG_1, 4, 0);
  prog[n++] = insn(BPF_LDX | BPF_MEM | BPF_W, BPF_REG_4, BPF_REG_1, 8, 0);
  /* 4 loads, 3 tests, one test per allowed minor, then deny (2 instructions), then allow. */
  int allow = 9 + allowed;
  prog[n] = insn(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_2, 0, allow - n - 1, BPF_DEVCG_DEV_CHAR);
  n++;
  prog[n] = insn(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_3, 0, allow - n - 1, (__s32)major);
  n++;
  prog[n] = insn(BPF_JMP | BPF_JGE | BPF_K, BPF_REG_4, 0, allow - n - 1, FIRST_CONTROL_MINOR);
  n++;
  for (int a = 0; a < allowed; a++) {
    long minor;
    if (!number(argv[3 + a], FIRST_CONTROL_MINOR - 1, &minor)) {
      fprintf(stderr, "'%s' is not a GPU minor (0-253)\n", argv[3 + a]);
      return 2;
    }
    prog[n] = insn(BPF_JMP | BPF_JEQ | BPF_K, BPF_REG_4, 0, allow - n - 1, (__s32)minor);
    n++;
  }
  /* deny */
  prog[n++] = insn(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0);
  prog[n++] = insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
  /* allow */
  prog[n++] = insn(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 1);
  prog[n++] = insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);

  static char log[8192];
  union bpf_attr attr;
  memset(&attr, 0, sizeof attr);
  attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
  attr.insns = (__u64)(unsigned long)prog;
  attr.insn_cnt = (__u32)n;
  attr.license = (__u64)(unsigned long)"Apache-2.0";
  attr.log_buf = (__u64)(unsigned long)log;
  attr.log_size = sizeof log;
  attr.log_level = 1;
  int prog_fd = (int)syscall(SYS_bpf, BPF_PROG_LOAD, &attr, sizeof attr);
  if (prog_fd < 0) {
    fprintf(stderr, "bpf(BPF_PROG_LOAD) failed: %s\n%s", strerror(errno), log);
    return 1;
  }
  int cgroup_fd = open(argv[1], O_RDONLY | O_DIRECTORY);
  if (cgroup_fd < 0) {
    fprintf(stderr, "open %s failed: %s\n", argv[1], strerror(errno));
    return 1;
  }
  memset(&attr, 0, sizeof attr);
  attr.target_fd = (__u32)cgroup_fd;
  attr.attach_bpf_fd = (__u32)prog_fd;
  attr.attach_type = BPF_CGROUP_DEVICE;
  attr.attach_flags = BPF_F_ALLOW_MULTI;
  if (syscall(SYS_bpf, BPF_PROG_ATTACH, &attr, sizeof attr) < 0) {
    fprintf(stderr, "bpf(BPF_PROG_ATTACH) to %s failed: %s\n", argv[1], strerror(errno));
    return 1;
  }
  return 0;
}

"""Which system calls a solution may never make, compiled to a seccomp filter by libseccomp.

Solutions are judged on stdin/stdout or a return value: they never need to trace processes, load
kernel code, mount file systems, create namespaces or talk to the kernel's key and eBPF subsystems,
and those calls are where kernel privilege escalations live. The filter allows everything else and
makes these fail with EPERM (``clone3`` with ENOSYS, so that libc falls back to ``clone``, whose
namespace flags the filter can see). Calls of another architecture's ABI (32-bit ``int 0x80``, x32)
kill the process, so the deny list cannot be bypassed through another table of syscall numbers.

The filter is built here, in the trusted process, with libseccomp (through ``pyseccomp``, a ctypes
binding) and exported as BPF bytes; ``seccomp_loader.py`` installs those bytes inside the sandbox
before the runner starts. Nothing here assembles BPF by hand.
"""

from __future__ import annotations

import errno
import os
import tempfile
from functools import lru_cache

#: denied with EPERM; names this libseccomp does not know are skipped (and reported)
DENIED_SYSCALLS: tuple[str, ...] = (
    # asynchronous I/O rings and eBPF: large kernel attack surface, never needed by a solution
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "bpf",
    "perf_event_open",
    "userfaultfd",
    # looking into or driving other processes
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "kcmp",
    "pidfd_getfd",
    # kernel keyrings
    "keyctl",
    "add_key",
    "request_key",
    # file systems and namespaces
    "mount",
    "umount2",
    "pivot_root",
    "chroot",
    "move_mount",
    "open_tree",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "mount_setattr",
    "unshare",
    "setns",
    "name_to_handle_at",
    "open_by_handle_at",
    "quotactl",
    "quotactl_fd",
    "fanotify_init",
    # the machine itself
    "kexec_load",
    "kexec_file_load",
    "init_module",
    "finit_module",
    "delete_module",
    "reboot",
    "swapon",
    "swapoff",
    "acct",
    "syslog",
    "settimeofday",
    "clock_settime",
    "clock_adjtime",
    "adjtimex",
    "iopl",
    "ioperm",
    "vhangup",
    "lookup_dcookie",
)

#: clone() flags that create namespaces (clone's first argument on x86-64 and arm64)
NAMESPACE_CLONE_FLAGS = {
    "CLONE_NEWNS": 0x00020000,
    "CLONE_NEWCGROUP": 0x02000000,
    "CLONE_NEWUTS": 0x04000000,
    "CLONE_NEWIPC": 0x08000000,
    "CLONE_NEWUSER": 0x10000000,
    "CLONE_NEWPID": 0x20000000,
    "CLONE_NEWNET": 0x40000000,
}

INSTALL_HINT = (
    "pip install pyseccomp (a dependency of thoughtmill) and the libseccomp2 system library "
    "(make sysdeps / apt-get install libseccomp2)"
)


class SeccompUnavailable(Exception):
    """The filter cannot be built on this host (the message says what is missing)."""


@lru_cache(maxsize=1)
def build_filter() -> tuple[bytes, tuple[str, ...]]:
    """The filter as BPF bytes, and the denied names this libseccomp does not know (not covered)."""
    try:
        import pyseccomp
    except (ImportError, OSError, RuntimeError, AttributeError) as exc:  # no or an old libseccomp.so
        raise SeccompUnavailable(f"cannot load libseccomp ({exc}): {INSTALL_HINT}") from exc
    filt = pyseccomp.SyscallFilter(pyseccomp.ALLOW)
    filt.set_attr(pyseccomp.Attr.ACT_BADARCH, pyseccomp.KILL_PROCESS)  # libseccomp's default: the thread
    unknown = []
    for name in DENIED_SYSCALLS:
        try:
            filt.add_rule(pyseccomp.ERRNO(errno.EPERM), name)
        except OSError:
            unknown.append(name)
    for bit in NAMESPACE_CLONE_FLAGS.values():
        filt.add_rule(pyseccomp.ERRNO(errno.EPERM), "clone", pyseccomp.Arg(0, pyseccomp.MASKED_EQ, bit, bit))
    try:
        filt.add_rule(pyseccomp.ERRNO(errno.ENOSYS), "clone3")
    except OSError:
        unknown.append("clone3")
    with tempfile.TemporaryFile() as f:
        filt.export_bpf(f)
        f.flush()
        f.seek(0)
        bpf = f.read()
    if not bpf or len(bpf) % 8:
        raise SeccompUnavailable(f"libseccomp exported a malformed filter ({len(bpf)} bytes)")
    return bpf, tuple(unknown)


def filter_or_reason() -> tuple[bytes | None, str]:
    """(BPF bytes, "") or (None, why not); THOUGHTMILL_SECCOMP=0 switches the filter off."""
    if os.environ.get("THOUGHTMILL_SECCOMP", "1") == "0":
        return None, "switched off by THOUGHTMILL_SECCOMP=0"
    try:
        bpf, _ = build_filter()
    except SeccompUnavailable as exc:
        return None, str(exc)
    return bpf, ""

# ruff: noqa: UP031  (runs in the sandbox on any Python >= 3.8)
"""Executed INSIDE the sandbox, before the runner: installs the seccomp filter the judge built.

The sandbox's command line is ``python -I -S -c <this source> <call> <the runner>``: the filter (BPF
bytes exported by libseccomp in the trusted process, see seccomp_policy.py) arrives base64-encoded in
the call, is installed with ``prctl(PR_SET_NO_NEW_PRIVS)`` + ``prctl(PR_SET_SECCOMP,
SECCOMP_MODE_FILTER)`` and holds for the runner and every process it starts. If it cannot be
installed the sandbox stops here (exit 96) rather than run code without it: the judge only asks for
the filter where its probe saw it work.

Low-level ``_ctypes`` (as the runner uses) instead of ``ctypes``: a few milliseconds less per sandbox.
"""


def _tm_install_seccomp(b64):
    import _ctypes
    import binascii
    import os
    import struct

    class _Char(_ctypes._SimpleCData):
        _type_ = "c"

    class _ULong(_ctypes._SimpleCData):
        _type_ = "L"

    class _Int(_ctypes._SimpleCData):
        _type_ = "i"

    class _Fn(_ctypes.CFuncPtr):
        _flags_ = _ctypes.FUNCFLAG_CDECL | _ctypes.FUNCFLAG_USE_ERRNO
        _restype_ = _Int

    def fail(what):
        os.write(2, ("seccomp: %s failed (errno %d)\n" % (what, _ctypes.get_errno())).encode())
        os._exit(96)

    bpf = binascii.a2b_base64(b64)
    prctl = _Fn(_ctypes.dlsym(_ctypes.dlopen(None, 2), "prctl"))
    insns = (_Char * len(bpf)).from_buffer_copy(bpf)
    head = struct.pack("HP", len(bpf) // 8, _ctypes.addressof(insns))  # struct sock_fprog
    prog = (_Char * len(head)).from_buffer_copy(head)
    if prctl(_ULong(38), _ULong(1), _ULong(0), _ULong(0), _ULong(0)) != 0:  # PR_SET_NO_NEW_PRIVS
        fail("PR_SET_NO_NEW_PRIVS")
    # PR_SET_SECCOMP, SECCOMP_MODE_FILTER
    if prctl(_ULong(22), _ULong(2), _ULong(_ctypes.addressof(prog)), _ULong(0), _ULong(0)) != 0:
        fail("PR_SET_SECCOMP")

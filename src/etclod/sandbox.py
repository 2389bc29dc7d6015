"""Execution layer: what a query worker gives up before it reads a query.

A worker runs untrusted SPARQL (and parses untrusted RDF) in an engine that performs
``SERVICE`` calls itself and parses recursively, so whatever the query checks miss, the
worker itself must not be able to reach out. Before it opens a store it takes, where the
kernel allows:
- **no network**: a new user and network namespace (``unshare(CLONE_NEWUSER|CLONE_NEWNET)``:
  no interface but a loopback that is down), plus a seccomp filter refusing internet and
  raw sockets and io_uring, plus Landlock's TCP rules (ABI 4) refusing every connect;
- **a memory limit**: ``RLIMIT_AS`` (``ETCLOD_WORKER_MAX_MEMORY_MB``);
- **no reading outside** the releases folder, the ontology and the Python libraries:
  Landlock (Linux 5.13+), which also refuses every write.
Each step says whether it holds; :func:`protect` returns the report that ``/health`` and
the Service Description state. Only ctypes and the standard library: no package needed.
"""

from __future__ import annotations

import ctypes
import os
import platform
import resource
import struct
import sys
from dataclasses import dataclass
from pathlib import Path

NOT_AVAILABLE = "not available"

_CLONE_NEWUSER, _CLONE_NEWNET = 0x10000000, 0x40000000
_PR_SET_NO_NEW_PRIVS, _PR_SET_SECCOMP, _SECCOMP_MODE_FILTER = 38, 22, 2
_ARCH = {"x86_64": (0xC000003E, 41), "aarch64": (0xC00000B7, 198)}
"""machine: (AUDIT_ARCH_*, __NR_socket)."""
_NR_IO_URING_SETUP = 425
_LANDLOCK_CREATE_RULESET, _LANDLOCK_ADD_RULE, _LANDLOCK_RESTRICT_SELF = 444, 445, 446
_FS_EXECUTE, _FS_READ_FILE, _FS_READ_DIR = 1 << 0, 1 << 2, 1 << 3
_FS_ALL_BY_ABI = {1: (1 << 13) - 1, 2: (1 << 14) - 1, 3: (1 << 15) - 1, 5: (1 << 16) - 1}


@dataclass(frozen=True)
class Policy:
    """What a worker is allowed: memory (MB, 0: no limit) and the folders it may read."""

    max_memory_mb: int = 0
    read_paths: tuple[str, ...] = ()
    """Folders (the releases, the ontology) readable besides the Python libraries; empty: no
    file-system restriction (the pool's tests, which open stores anywhere)."""


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def limit_memory(max_mb: int) -> str:
    if max_mb <= 0:
        return "no limit (ETCLOD_WORKER_MAX_MEMORY_MB=0)"
    limit = max_mb * 1024 * 1024
    try:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ValueError, OSError) as exc:
        return f"{NOT_AVAILABLE} ({exc})"
    return f"{max_mb} MB of address space (RLIMIT_AS)"


def leave_network() -> str:
    """A new user and network namespace: the process sees no network interface at all.
    Must run while the process has one thread."""
    libc = _libc()
    uid, gid = os.getuid(), os.getgid()
    if libc.unshare(_CLONE_NEWUSER | _CLONE_NEWNET) != 0:
        first = os.strerror(ctypes.get_errno())
        if libc.unshare(_CLONE_NEWNET) != 0:  # root without user namespaces
            return f"{NOT_AVAILABLE} (unshare: {first})"
        return "network namespace"
    try:  # keep our own ids inside (files keep their owner); a failure changes nothing else
        Path("/proc/self/setgroups").write_text("deny")
        Path("/proc/self/uid_map").write_text(f"{uid} {uid} 1")
        Path("/proc/self/gid_map").write_text(f"{gid} {gid} 1")
    except OSError:
        pass
    return "network namespace"


def _filter(code: int, jt: int, jf: int, k: int) -> bytes:
    return struct.pack("HBBI", code, jt, jf, k)


def refuse_sockets() -> str:
    """A seccomp filter: socket(AF_INET | AF_INET6 | AF_PACKET) and io_uring fail with EACCES."""
    machine = platform.machine()
    if machine not in _ARCH or not sys.platform.startswith("linux"):
        return f"{NOT_AVAILABLE} (seccomp filter written for x86_64 and aarch64 Linux only)"
    arch, nr_socket = _ARCH[machine]
    ld, jeq, jge, ret = 0x20, 0x15, 0x35, 0x06
    allow, deny = 0x7FFF0000, 0x00050000 | 13  # SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO | EACCES
    program = [
        _filter(ld, 0, 0, 4),                     # arch
        _filter(jeq, 1, 0, arch),
        _filter(ret, 0, 0, allow),                # another ABI: not ours to judge
        _filter(ld, 0, 0, 0),                     # syscall number
        _filter(jge, 6, 0, 0x40000000),           # x32 calls: refused
        _filter(jeq, 5, 0, _NR_IO_URING_SETUP),
        _filter(jeq, 0, 5, nr_socket),
        _filter(ld, 0, 0, 16),                    # socket's domain (low 32 bits of args[0])
        _filter(jeq, 2, 0, 2),                    # AF_INET
        _filter(jeq, 1, 0, 10),                   # AF_INET6
        _filter(jeq, 0, 1, 17),                   # AF_PACKET
        _filter(ret, 0, 0, deny),
        _filter(ret, 0, 0, allow),
    ]
    code = b"".join(program)
    buffer = ctypes.create_string_buffer(code, len(code))
    prog = struct.pack("HxxxxxxP", len(program), ctypes.addressof(buffer))
    prog_buffer = ctypes.create_string_buffer(prog, len(prog))
    libc = _libc()
    ulong = ctypes.c_ulong
    if libc.prctl(_PR_SET_NO_NEW_PRIVS, ulong(1), ulong(0), ulong(0), ulong(0)) != 0 or \
            libc.prctl(_PR_SET_SECCOMP, ulong(_SECCOMP_MODE_FILTER), ulong(ctypes.addressof(prog_buffer)),
                       ulong(0), ulong(0)) != 0:
        return f"{NOT_AVAILABLE} (seccomp: {os.strerror(ctypes.get_errno())})"
    return "seccomp filter refusing internet sockets"


def _library_paths() -> list[str]:
    found = {sys.prefix, sys.base_prefix, sys.exec_prefix, *sys.path}
    found.update(("/usr/lib", "/usr/lib64", "/lib", "/lib64", "/usr/local/lib"))
    return sorted(p for p in found if p and os.path.isdir(p))


def confine_files(read_paths: tuple[str, ...]) -> tuple[str, bool]:
    """Landlock: reading only under ``read_paths`` and the Python libraries, no writing,
    no TCP connect (ABI 4+). Returns the report and whether TCP is refused too."""
    if not read_paths:
        return "no restriction asked for", False
    libc = _libc()
    libc.syscall.restype = ctypes.c_long
    abi = libc.syscall(_LANDLOCK_CREATE_RULESET, None, ctypes.c_size_t(0), ctypes.c_uint32(1))
    if abi < 1:
        return f"{NOT_AVAILABLE} (Landlock: {os.strerror(ctypes.get_errno())})", False
    handled_fs = _FS_ALL_BY_ABI[max(k for k in _FS_ALL_BY_ABI if k <= abi)]
    net = abi >= 4
    attr = struct.pack("QQQ", handled_fs, 0b11 if net else 0, 0)[: 24 if abi >= 6 else 16 if net else 8]
    attr_buffer = ctypes.create_string_buffer(attr, len(attr))
    ruleset = libc.syscall(_LANDLOCK_CREATE_RULESET, attr_buffer, ctypes.c_size_t(len(attr)), ctypes.c_uint32(0))
    if ruleset < 0:
        return f"{NOT_AVAILABLE} (Landlock ruleset: {os.strerror(ctypes.get_errno())})", False
    try:
        rules = [(p, _FS_READ_FILE | _FS_READ_DIR | _FS_EXECUTE) for p in (*_library_paths(), *read_paths)]
        rules += [(p, _FS_READ_FILE) for p in ("/dev/null", "/dev/urandom")]
        for path, access in rules:
            try:
                fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            except OSError:
                continue
            try:
                if not os.path.isdir(path):
                    access &= _FS_READ_FILE | _FS_EXECUTE
                rule = ctypes.create_string_buffer(struct.pack("=Qi", access, fd), 12)
                libc.syscall(_LANDLOCK_ADD_RULE, ctypes.c_int(ruleset), ctypes.c_int(1), rule, ctypes.c_uint32(0))
            finally:
                os.close(fd)
        libc.prctl(_PR_SET_NO_NEW_PRIVS, ctypes.c_ulong(1), ctypes.c_ulong(0), ctypes.c_ulong(0), ctypes.c_ulong(0))
        if libc.syscall(_LANDLOCK_RESTRICT_SELF, ctypes.c_int(ruleset), ctypes.c_uint32(0)) != 0:
            return f"{NOT_AVAILABLE} (Landlock: {os.strerror(ctypes.get_errno())})", False
    finally:
        os.close(ruleset)
    return f"Landlock ABI {abi}: reads only the releases, the ontology and the Python libraries; writes nothing", net


def protect(policy: Policy) -> dict[str, str]:
    """Apply every protection this host allows to this process; say which hold."""
    memory = limit_memory(policy.max_memory_mb)
    steps = [leave_network(), refuse_sockets()]
    files, tcp_refused = confine_files(policy.read_paths)
    if tcp_refused:
        steps.append("Landlock refusing TCP connect")
    held = [s for s in steps if not s.startswith(NOT_AVAILABLE)]
    return {"network": " + ".join(held) if held else NOT_AVAILABLE + " (" + "; ".join(steps) + ")",
            "memory": memory, "filesystem": files}

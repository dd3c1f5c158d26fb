#!/usr/bin/env python3
"""A target for `leakprobe attach`: threads blocked in epoll_wait, read, accept, recv on a
socket with SO_RCVTIMEO, nanosleep and futex when the attach comes, each through ctypes (the raw libc call: an EINTR comes back as -1,
where Python's own wrappers would retry it and hide it) and one through threading.Event (the
way Python programs wait). Prints "READY <pid>" once every thread is blocked. Then, for each
line "go" on stdin, wakes every waiter the ordinary way (a byte in a pipe, a connection, a
futex wake, an event set; the sleep ends by itself) and prints one line per thread:
"<name> ok <detail>" or "<name> FAIL <detail>", then "ROUND <n> DONE", and blocks them again.
"""
import ctypes
import os
import select
import socket
import struct
import sys
import threading
import time

libc = ctypes.CDLL(None, use_errno=True)
SYS_futex = 202
FUTEX_WAIT_PRIVATE, FUTEX_WAKE_PRIVATE = 128, 129
SLEEP_S = 2

results = []
results_lock = threading.Lock()
blocked = threading.Semaphore(0)


def report(name, ok, detail):
    with results_lock:
        results.append(f"{name} {'ok' if ok else 'FAIL'} {detail}")


class Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


class EpollEvent(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("events", ctypes.c_uint32), ("data", ctypes.c_uint64)]


def epoll_thread(epfd, rfd):
    ev = (EpollEvent * 4)()
    blocked.release()
    n = libc.epoll_wait(epfd, ev, 4, -1)
    err = ctypes.get_errno()
    if n == 1:
        os.read(rfd, 1)
    report("epoll_wait", n == 1, f"returned {n} errno {err}")


def read_thread(rfd):
    buf = ctypes.create_string_buffer(16)
    blocked.release()
    n = libc.read(rfd, buf, 5)
    err = ctypes.get_errno()
    report("read", n == 5 and buf.raw[:5] == b"hello", f"returned {n} errno {err} {buf.raw[:max(n, 0)]!r}")


def recv_timeout_thread(sock):
    buf = ctypes.create_string_buffer(16)
    blocked.release()
    n = libc.recv(sock.fileno(), buf, 4, 0)
    err = ctypes.get_errno()
    report("recv_rcvtimeo", n == 4 and buf.raw[:4] == b"ping", f"returned {n} errno {err}")


def accept_thread(lsock):
    blocked.release()
    fd = libc.accept(lsock.fileno(), None, None)
    err = ctypes.get_errno()
    if fd >= 0:
        os.close(fd)
    report("accept", fd >= 0, f"returned {'a descriptor' if fd >= 0 else fd} errno {err}")


def nanosleep_thread():
    req, rem = Timespec(SLEEP_S, 0), Timespec(0, 0)
    start = time.monotonic()
    blocked.release()
    rc = libc.nanosleep(ctypes.byref(req), ctypes.byref(rem))
    err = ctypes.get_errno()
    took = time.monotonic() - start
    report("nanosleep", rc == 0 and took >= SLEEP_S, f"returned {rc} errno {err} after {took:.2f}s")


def futex_thread(word):
    blocked.release()
    rc = libc.syscall(SYS_futex, ctypes.byref(word), FUTEX_WAIT_PRIVATE, 0, None, None, 0)
    err = ctypes.get_errno()
    report("futex", rc == 0 and word.value == 1, f"returned {rc} errno {err} word {word.value}")


def event_thread(event):
    blocked.release()
    got = event.wait()
    report("event_wait", got is True, f"returned {got}")


def sleep_thread():
    start = time.monotonic()
    blocked.release()
    time.sleep(SLEEP_S)
    took = time.monotonic() - start
    report("time_sleep", took >= SLEEP_S, f"after {took:.2f}s")


def main():
    rounds = 0
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(8)
    while True:
        ep_r, ep_w = os.pipe()
        rd_r, rd_w = os.pipe()
        epfd = libc.epoll_create1(0)
        ev = EpollEvent(select.EPOLLIN, 7)
        libc.epoll_ctl(epfd, 1, ep_r, ctypes.byref(ev))  # EPOLL_CTL_ADD
        near, far = socket.socketpair()
        # A receive timeout: the kernel then answers a stop with EINTR, not a restart code.
        near.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack("ll", 60, 0))
        word = ctypes.c_int(0)
        event = threading.Event()
        threads = [
            threading.Thread(target=epoll_thread, args=(epfd, ep_r)),
            threading.Thread(target=read_thread, args=(rd_r,)),
            threading.Thread(target=accept_thread, args=(lsock,)),
            threading.Thread(target=recv_timeout_thread, args=(near,)),
            threading.Thread(target=nanosleep_thread),
            threading.Thread(target=futex_thread, args=(word,)),
            threading.Thread(target=event_thread, args=(event,)),
            threading.Thread(target=sleep_thread),
        ]
        for t in threads:
            t.start()
        for _ in threads:
            blocked.acquire()
        time.sleep(0.3)  # from "about to block" to blocked in the kernel
        print(f"READY {os.getpid()}" if rounds == 0 else f"BLOCKED {rounds}", flush=True)
        line = sys.stdin.readline()
        if line.strip() != "go":
            os._exit(0)
        started = time.monotonic()
        os.write(ep_w, b"x")
        os.write(rd_w, b"hello")
        far.send(b"ping")
        socket.create_connection(lsock.getsockname()).close()
        word.value = 1
        libc.syscall(SYS_futex, ctypes.byref(word), FUTEX_WAKE_PRIVATE, 1, None, None, 0)
        event.set()
        for t in threads:
            t.join(SLEEP_S + 10)
            if t.is_alive():
                report(t.name, False, "still blocked 10 s after its wake-up")
        rounds += 1
        with results_lock:
            for r in results:
                print(r, flush=True)
            results.clear()
        print(f"ROUND {rounds} DONE in {time.monotonic() - started:.2f}s", flush=True)
        for fd in (ep_r, ep_w, rd_r, rd_w, epfd):
            os.close(fd)
        near.close()
        far.close()


main()

#!/usr/bin/python3
"""The floor for bench/kill_latency.sh: a bare pidfd waiter. It reads PIDs
from stdin, one a line; for each, opens a pidfd, prints "watch PID", and
prints "gone PID" the moment the pidfd polls readable (the process has
exited). Whatever latency this shows is the machine's (scheduling, pipes),
not any monitor's design."""

import os
import select
import sys


def main():
    poller = select.poll()
    poller.register(sys.stdin.fileno(), select.POLLIN)
    fds = {}  # pidfd -> pid
    buf = b""
    out = sys.stdout
    while True:
        for fd, _ in poller.poll():
            if fd == sys.stdin.fileno():
                data = os.read(fd, 4096)
                if not data:
                    return
                buf += data
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    pid = int(line)
                    try:
                        pfd = os.pidfd_open(pid)
                    except ProcessLookupError:
                        out.write("gone %d\n" % pid)
                        out.flush()
                        continue
                    fds[pfd] = pid
                    poller.register(pfd, select.POLLIN)
                    out.write("watch %d\n" % pid)
                    out.flush()
            elif fd in fds:
                out.write("gone %d\n" % fds[fd])
                out.flush()
                poller.unregister(fd)
                os.close(fd)
                del fds[fd]


if __name__ == "__main__":
    try:
        main()
    except (KeyboardInterrupt, BrokenPipeError):
        pass

#!/usr/bin/python3
"""rusage.py CMD [ARGS...]: run CMD and print "user_s sys_s wall_s" of the
child alone, from wait4's rusage (µs resolution, unlike /usr/bin/time's
10 ms). CMD's stdout is a pipe that a thread here reads and drops, as the
next stage of a pipeline would; stderr is kept. Exit status: the child's."""

import os
import subprocess
import sys
import threading
import time

t0 = time.monotonic()
p = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)


def drain():
    while p.stdout.read1(1 << 16):
        pass


reader = threading.Thread(target=drain)
reader.start()
_, status, ru = os.wait4(p.pid, 0)
reader.join()
wall = time.monotonic() - t0
p.returncode = os.waitstatus_to_exitcode(status)
print("%.6f %.6f %.6f" % (ru.ru_utime, ru.ru_stime, wall))
sys.exit(p.returncode if p.returncode >= 0 else 128 - p.returncode)

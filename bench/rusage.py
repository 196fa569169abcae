#!/usr/bin/python3
"""rusage.py CMD [ARGS...]: run CMD (stdout to /dev/null, stderr kept) and
print "user_s sys_s wall_s" of the child alone, from wait4's rusage (µs
resolution, unlike /usr/bin/time's 10 ms). Exit status: the child's."""

import os
import subprocess
import sys
import time

t0 = time.monotonic()
p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
_, status, ru = os.wait4(p.pid, 0)
wall = time.monotonic() - t0
p.returncode = os.waitstatus_to_exitcode(status)
print("%.6f %.6f %.6f" % (ru.ru_utime, ru.ru_stime, wall))
sys.exit(p.returncode if p.returncode >= 0 else 128 - p.returncode)

"""Run a command and print its peak resident memory: ``python bench/maxrss.py -- CMD ...`` -> ``MAXRSS_KB n``.

getrusage(RUSAGE_CHILDREN) after the child has exited is the kernel's own high-water mark of that child, with no
polling and no race; a fresh wrapper process per measurement keeps earlier children out of it.
"""

import resource
import subprocess
import sys

if __name__ == "__main__":
    argv = sys.argv[sys.argv.index("--") + 1:] if "--" in sys.argv else sys.argv[1:]
    code = subprocess.run(argv, stdout=subprocess.DEVNULL).returncode
    print(f"MAXRSS_KB {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}", flush=True)
    sys.exit(code)

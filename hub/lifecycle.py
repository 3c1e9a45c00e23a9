"""Process lifecycle: children that end with their parent, and SIGTERM that runs cleanup.

A command's child processes (the worker beside ``serve``, the import's parsing process) must
not outlive it, however it ends: on Linux the kernel sends them SIGTERM when their parent
dies, even by SIGKILL. And SIGTERM to a command raises ``SystemExit`` in it, so its
``finally`` blocks stop its children and roll back or finish its current batch.
"""

import ctypes
import os
import signal
import sys
import threading
from types import FrameType

PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
SIGTERM_EXIT_STATUS = 128 + signal.SIGTERM  # what a shell reports for a process ended by SIGTERM


def die_with_parent(parent_pid: int) -> None:
    """Have this process receive SIGTERM when ``parent_pid``, its parent, ends (Linux).

    Call it first thing in a child process; elsewhere than Linux it only checks that the
    parent is still there.
    """
    if sys.platform == "linux":
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != parent_pid:  # the parent ended before the kernel could watch it
        os.kill(os.getpid(), signal.SIGTERM)


def exit_on_sigterm() -> None:
    """From now on SIGTERM raises ``SystemExit`` (status 143) in the main thread.

    Only the main thread may set signal handlers: elsewhere (a command run in a test's
    thread) this does nothing.
    """
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _raise_exit)


def _raise_exit(_signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(SIGTERM_EXIT_STATUS)

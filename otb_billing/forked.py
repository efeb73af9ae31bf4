"""Two jobs at once on a 2-core machine: one in a forked child, one here.

`otb bill` spends about as long having Beancount check the would-be ledger as it spends rendering the month's
CSVs; the check needs nothing the rendering makes, so the child checks while this process renders. The child
only computes (it writes nothing) and hands its result back pickled through a pipe.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import pickle
import signal
import sys
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def _die_with(parent: int) -> None:
    """Have the kernel kill this child if the parent dies (Linux): a child left running would keep the repo's lock,
    which it inherited, and the next otb command would be refused until it finished."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)


PR_SET_PDEATHSIG = 1


def beside(work: Callable[[], T], meanwhile: Callable[[], object]) -> T:
    """Run `work()` in a forked child while `meanwhile()` runs in this process; return what `work` returned, or
    raise what it raised. Without fork (or if the child dies or its result cannot be pickled), `work` runs here
    after `meanwhile`, so the answer is the same, only slower."""
    if not hasattr(os, "fork"):
        meanwhile()
        return work()
    sys.stdout.flush()
    sys.stderr.flush()
    read_end, write_end = os.pipe()
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:  # the child: compute, send, leave without running any of the parent's exit handlers
        status = 0
        try:
            _die_with(parent)
            os.close(read_end)
            try:
                payload = pickle.dumps((True, work()))
            except BaseException as exc:  # noqa: BLE001  (handed to the parent, which raises it)
                payload = pickle.dumps((False, exc))
            with os.fdopen(write_end, "wb") as out:
                out.write(payload)
        except BaseException:  # noqa: BLE001  (an unpicklable result: the parent does the work itself)
            status = 1
        finally:
            os._exit(status)
    os.close(write_end)
    try:
        meanwhile()
    except BaseException:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
        os.close(read_end)
        os.waitpid(pid, 0)
        raise
    with os.fdopen(read_end, "rb") as incoming:
        data = incoming.read()
    _, status = os.waitpid(pid, 0)
    if status != 0 or not data:
        return work()
    ok, value = pickle.loads(data)
    if ok:
        return value
    raise value

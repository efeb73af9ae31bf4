"""Two jobs at once on a 2-core machine: one in a forked child, one here.

`otb bill` spends about as long having Beancount check the would-be ledger as it spends rendering the month's
CSVs; the check needs nothing the rendering makes, so the child checks while this process renders. The child
only computes (it writes nothing) and hands its result back pickled through a pipe (`beside`).

`Stream` is the other way round: a child that takes work as this process makes it (the build/ files to create,
while the rendering goes on). `Started` is `beside` cut in two: the child is forked as soon as its work can begin,
and its answer collected once this process has done what it could meanwhile.
"""

from __future__ import annotations

import array
import collections
import contextlib
import ctypes
import fcntl
import itertools
import marshal
import os
import pickle
import signal
import sys
import termios
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

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


def _join_and_exit(status: int) -> None:
    """A child's end: its background() children waited for, then out without the parent's exit handlers."""
    try:
        join_background()
    finally:
        os._exit(status)


def beside(work: Callable[[], T], meanwhile: Callable[[], object]) -> T:
    """Run `work()` in a forked child while `meanwhile()` runs in this process; return what `work` returned, or
    raise what it raised. Without fork (or if the child dies or its result cannot be pickled), `work` runs here
    after `meanwhile`, so the answer is the same, only slower."""
    started = Started(work)
    try:
        meanwhile()
    except BaseException:
        started.cancel()
        raise
    try:
        return started.result()
    except ChildLost:
        return work()


def give_back_memory() -> None:
    """Hand what the C heap holds free back to the system (glibc's malloc_trim), before forking a child that will
    grow: a child's resident size counts every page it shares with this process, freed ones too (10,000 clients,
    read and about to be billed: 29 MiB). Elsewhere, nothing."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).malloc_trim(0)


class Started(Generic[T]):
    """`work()` begun now in a forked child; `result()` waits for it and returns what it returned (or raises what
    it raised). For work whose inputs exist now and whose answer is needed only later, when what this process does
    in between is not one function (`beside` needs both). Without fork, or without room for a child as big as this
    process (memory_to_spare), `work` runs at `result()`, here. A child lost before answering makes `result()`
    raise ChildLost: only the caller knows whether the work can simply be done again (what the child sent
    elsewhere may have got there half sent). `cancel()` stops a child whose answer is no longer wanted."""

    def __init__(self, work: Callable[[], T], nice: int = 0) -> None:
        self._work = work
        self.pid = 0
        if not hasattr(os, "fork") or not memory_to_spare():
            return
        read_end, write_end = os.pipe()

        def body() -> None:
            _lower(nice)
            _write_all(write_end, _outcome(work))

        pid = _fork(body, read_end)  # no answer at all: ChildLost
        os.close(write_end)
        self._read, self.pid = read_end, pid

    def result(self) -> T:
        if not self.pid:
            return self._work()
        pid, self.pid = self.pid, 0
        try:
            with os.fdopen(self._read, "rb") as incoming:
                data = incoming.read()
        finally:
            _, status = os.waitpid(pid, 0)
        if status != 0 or not data:
            raise ChildLost(f"the process it was handed to (pid {pid}) stopped with status {status}")
        return _answer(data)

    def cancel(self) -> None:
        if self.pid:
            pid, self.pid = self.pid, 0
            _stop(pid, self._read)


def _fork(body: Callable[[], None], *close: int) -> int:
    """Fork a child that closes `close` (this process's ends of its pipes), runs `body()` and leaves without this
    process's exit handlers, with status 1 if `body` raised; returns its pid."""
    sys.stdout.flush()
    sys.stderr.flush()
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:
        status = 0
        try:
            _die_with(parent)
            for fd in close:
                os.close(fd)
            body()
        except BaseException:  # noqa: BLE001  (the parent sees no answer)
            status = 1
        finally:
            _join_and_exit(status)
    return pid


def _lower(nice: int) -> None:
    """In a child: run `nice` steps below its parent (work that is not what the command waits for)."""
    if nice:
        with contextlib.suppress(OSError):
            os.nice(nice)


def _outcome(work: Callable[[], Any]) -> bytes:
    """In a child: what `work()` returned, or what it raised, pickled for the parent (_answer)."""
    try:
        return pickle.dumps((True, work()))
    except BaseException as exc:  # noqa: BLE001  (handed to the parent, which raises it)
        return pickle.dumps((False, exc))


def _answer(data: bytes) -> Any:
    ok, value = pickle.loads(data)
    if ok:
        return value
    raise value


def _stop(pid: int, *fds: int) -> None:
    """Kill a child, close our ends of its pipes, and wait for it."""
    with contextlib.suppress(OSError):
        os.kill(pid, signal.SIGKILL)
    for fd in fds:
        os.close(fd)
    os.waitpid(pid, 0)


_BACKGROUND: list[int] = []  # pids of background() children not yet waited for
BACKGROUND_NICE = 10


def background(work: Callable[[], object], size: int = 0, alone: bool = False) -> bool:
    """Run `work()` in a forked child while this process goes on, if there is room for `size` more bytes (the
    pages the child will copy); False (and nothing done) if not. For what only saves later time (a cache file):
    what it raises is ignored, and it dies with this process. join_background() waits for it; every child of
    this module does so before it exits, so none outlives the command. It closes every file it inherited, the
    repo's lock among them: when its parent is killed (a check no change came for), the next command must not
    find the lock held by a child that is still dying. `alone`: not while another is still at work (each holds
    the pages it copies, and a core)."""
    for done in [pid for pid in _BACKGROUND if _ended(pid)]:  # a long run (otb watch) keeps no zombies
        _BACKGROUND.remove(done)
    if not hasattr(os, "fork") or (alone and _BACKGROUND) or not room_for(size):
        return False

    def body() -> None:
        os.closerange(3, _open_max())
        _lower(BACKGROUND_NICE)
        work()

    _BACKGROUND.append(_fork(body))
    return True


def _ended(pid: int) -> bool:
    try:
        return os.waitpid(pid, os.WNOHANG)[0] != 0
    except ChildProcessError:
        return True


def _open_max() -> int:
    try:
        return min(os.sysconf("SC_OPEN_MAX"), 1 << 20)
    except (ValueError, OSError):
        return 4096


def join_background() -> None:
    """Wait for every background() child of this process."""
    while _BACKGROUND:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(_BACKGROUND.pop(), 0)


def memory_to_spare() -> bool:
    """Whether the machine has room for a child that may grow as big as this process, twice over: the memory
    available (MemAvailable of /proc/meminfo, or less if a container's cgroup limit leaves less) against this
    process's resident size. A check beside the rendering is faster but holds Beancount's whole load at the same
    time as this process's peak (10,000 clients: about 300 MB); without room for that, the work is done one thing
    after the other. True where this cannot be known."""
    try:
        resident = _kib_field("/proc/self/status", "VmRSS:") * 1024
    except (OSError, StopIteration, ValueError, IndexError):
        return True
    return room_for(2 * resident)


def room_for(size: int) -> bool:
    """Whether the machine (or this container, by its cgroup limit) has `size` bytes of memory available. True
    where this cannot be known."""
    left = room()
    return left is None or left > size


def room() -> int | None:
    """The bytes of memory available to this process: MemAvailable, or less if a container's cgroup limit leaves
    less; None where this cannot be known."""
    try:
        available = _kib_field("/proc/meminfo", "MemAvailable:") * 1024
    except (OSError, StopIteration, ValueError, IndexError):
        return None
    left = _cgroup_room()
    return min(available, left if left is not None else available)


def _kib_field(path: str, name: str) -> int:
    with open(path, encoding="ascii") as lines:
        return next(int(line.split()[1]) for line in lines if line.startswith(name))


CGROUP_FILES = (  # (limit, usage): cgroup v2, then v1; as a container sees its own
    ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
    ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes"),
)


def _cgroup_room() -> int | None:
    """Bytes left under this process's cgroup memory limit, or None without a limit."""
    for limit_file, usage_file in CGROUP_FILES:
        try:
            with open(limit_file, encoding="ascii") as handle:
                limit = handle.read().strip()
            with open(usage_file, encoding="ascii") as handle:
                usage = int(handle.read().strip())
        except (OSError, ValueError):
            continue
        if limit == "max" or not limit.isdigit() or int(limit) >= 1 << 60:  # v1 writes "no limit" as ~2^63
            return None
        return int(limit) - usage
    return None


class Stream:
    """A forked child that consumes what this process sends it, while this process goes on with its own work.

    `send(obj)` hands the child one marshallable object (framed over a pipe); it does not wait for the child: what
    the pipe cannot take yet is kept and sent on the next `send()` or by `finish()`. `finish()` returns what
    `consume(iterator of the objects sent)` returned in the child, or raises what it raised. Frames of known
    length both ways (an end frame, then the result read by its length), so a copy of a pipe that another fork
    inherited never keeps either side waiting. Without fork, `consume` runs here at `finish()`. If the child dies
    first: with `keep` (everything sent is kept until `finish()`), `consume` runs here over all of it, the same
    answer, only later; without `keep` (for what is too big to keep twice), `finish()` raises ChildLost.
    """

    PIPE_SIZE = 1 << 20  # what Linux lets any process ask for (fs.pipe-max-size)
    BACKLOG = 16 << 20  # bytes not yet in the pipe beyond which send() waits for the child to take some

    def __init__(self, consume: Callable[[Iterator[Any]], Any], keep: bool = True) -> None:
        self._consume = consume
        self._keep = keep
        self._sent: list[Any] = []  # what the fallback consumes here: with `keep`, or without a child
        self._pending: collections.deque[memoryview] = collections.deque()  # frames not yet in the pipe
        self._backlog = 0  # their bytes
        self.most_waiting = 0  # the most bytes ever waiting here (for tests and measurements)
        self._pid = self.pid = 0  # pid: the child's, kept after it is gone
        if not hasattr(os, "fork"):
            return
        data_read, self._data = os.pipe()
        self._result, result_write = os.pipe()
        with contextlib.suppress(OSError, AttributeError):
            fcntl.fcntl(self._data, fcntl.F_SETPIPE_SZ, self.PIPE_SIZE)

        def answer() -> None:  # no answer at all: see finish
            payload = _outcome(lambda: consume(_frames(data_read)))
            _write_all(result_write, len(payload).to_bytes(8, "little") + payload)

        pid = _fork(answer, self._data, self._result)
        os.close(data_read)
        os.close(result_write)
        os.set_blocking(self._data, False)
        self._pid = self.pid = pid

    def send(self, obj: Any) -> None:
        if self._keep or not self._pid:
            self._sent.append(obj)
        if self._pid:
            self._send(marshal.dumps(obj))

    def offer(self, obj: Any, spare: int) -> bool:
        """Send `obj` only if the pipe takes it whole now and still has `spare` bytes free after it; else nothing.
        Never kept for the fallback: for what the child may as well do without (Standby.feed), so that it never
        waits here, nor makes what comes next wait behind it (a child's `arg` sent while the pipe is full stays here
        until finish(), and the child with it)."""
        if not self._pid or self._pending:
            return False
        data = marshal.dumps(obj)
        try:
            size = fcntl.fcntl(self._data, fcntl.F_GETPIPE_SZ)
            unread = array.array("i", [0])
            fcntl.ioctl(self._data, termios.FIONREAD, unread, True)
        except (OSError, AttributeError):
            return False
        if size - unread[0] < 8 + len(data) + spare:
            return False
        self._send(data)
        return True

    def _send(self, data: bytes) -> None:
        self._pending.append(memoryview(len(data).to_bytes(8, "little")))
        self._pending.append(memoryview(data))
        self._backlog += 8 + len(data)
        self.most_waiting = max(self.most_waiting, self._backlog)
        self._push()
        if self._backlog > self.BACKLOG:  # the child lags far behind: wait rather than hold it all here
            os.set_blocking(self._data, True)
            try:
                self._push()
            finally:
                os.set_blocking(self._data, False)

    def _push(self) -> None:
        """Write what the pipe takes now (without waiting, unless the pipe was made blocking)."""
        pending = self._pending
        while pending:
            try:
                done = os.writev(self._data, list(itertools.islice(pending, 64)))
            except BlockingIOError:
                return
            except OSError:  # the child is gone: finish() says so (or consumes what was kept)
                pending.clear()
                self._backlog = 0
                return
            self._backlog -= done
            while done:
                if done >= len(pending[0]):
                    done -= len(pending.popleft())
                else:
                    pending[0] = pending[0][done:]
                    done = 0

    def flush(self) -> None:
        """Put everything sent so far into the pipe, waiting for the child to take it if need be: before this
        process forks one that will also send (each must hand over whole frames), or before such a fork ends."""
        if self._pid and self._pending:
            os.set_blocking(self._data, True)
            try:
                self._push()
            finally:
                os.set_blocking(self._data, False)

    def finish(self) -> Any:
        if not self._pid:
            return self._consume(iter(self._sent))
        pid, self._pid = self._pid, 0
        try:
            os.set_blocking(self._data, True)
            with contextlib.suppress(OSError):
                for part in self._pending:
                    _write_all(self._data, part)
                _write_all(self._data, END)
            self._pending.clear()
            self._backlog = 0
            os.close(self._data)
            size = int.from_bytes(_read_exactly(self._result, 8) or b"\0" * 8, "little")
            data = _read_exactly(self._result, size) if size else b""
        finally:
            os.close(self._result)
            _, status = os.waitpid(pid, 0)
        if status != 0 or not data:
            if not self._keep:
                raise ChildLost(f"the process it was handed to (pid {pid}) stopped with status {status}")
            return self._consume(iter(self._sent))
        return _answer(data)

    def cancel(self) -> None:
        """Stop the child, whatever it was doing."""
        if self._pid:
            pid, self._pid = self._pid, 0
            _stop(pid, self._data, self._result)
        self._sent.clear()


class Standby:
    """A child forked now, while this process is still small, to run `work(arg, ready)` later beside this
    process's own work (`beside`), as `beside()` above does with a child forked then.

    A child forked late starts with every page of a process that has grown (10,000 clients: about 400 MB), and
    the kernel counts them all in its resident size on top of what the work then needs: Beancount's load of the
    ledger made `otb bill`'s check child the largest process of the run (455 MiB). Forked at the start, it holds
    only what it loads. Until `arg` comes, the child runs `prepare()` (what it can do ahead: books/preparse.py)
    and hands its result to `work` as `ready`. `arg` must be marshallable (it goes through a Stream). If the
    child is lost, or there is no room for it then (memory_to_spare), `work(arg, None)` runs here after
    `meanwhile`: the same answer, only later. `cancel()` (a no-op once used) stops a child never needed.

    `held`: the child waits for `release()` (or `arg`) before it prepares, for a caller that knows when a core
    will be free: otb bill reads its YAML and CSVs on both cores first, and bills on one.

    `fed`: what the child does, once prepared, with each item `feed(item)` sends before `arg` (otb bill: the month
    file's bytes as they are rendered, parsed there meanwhile). Only ever a head start too: an item fed is not
    sent when the work runs here, and `fed` failing is no answer (the work must not depend on it).
    """

    def __init__(self, work: Callable[[Any, Any], T], prepare: Callable[[], Any] | None = None,
                 held: bool = False, warm: Callable[[], object] | None = None,
                 fed: Callable[[Any], object] | None = None) -> None:
        self._work = work
        self._held = held
        self._fed = fed

        def consume(items: Iterator[Any]) -> T:
            ready = None
            if warm is not None:  # at once, held or not: imports, say, while the parent is still importing
                with contextlib.suppress(Exception):
                    warm()
            if held:
                next(items, None)  # release()
            if prepare is not None:  # before waiting for `arg`; only ever a head start, so a failure is no answer
                with contextlib.suppress(Exception):
                    ready = prepare()
            arg = next(items)
            while isinstance(arg, tuple) and len(arg) == 2 and arg[0] == FED:
                if fed is not None:
                    with contextlib.suppress(Exception):
                        fed(arg[1])
                arg = next(items)
            return work(arg, ready)

        self._stream: Stream | None = Stream(consume) if hasattr(os, "fork") else None

    def release(self) -> None:
        """Let a `held` child begin its preparations (once; nothing otherwise)."""
        if self._held and self._stream is not None:
            self._held = False
            self._stream.send(RELEASED)

    FEED_SPARE = 64 << 10  # pipe room `feed` leaves for `arg` (otb bill's staged files: under 1 KB)

    def feed(self, item: Any) -> bool:
        """Send the child `item` (marshallable) for its `fed`, if the pipe has room for it now and for `arg`
        after it (Stream.offer); whether it was sent. Nothing without a child or `fed`."""
        if self._fed is None or self._stream is None:
            return False
        self.release()
        return self._stream.offer((FED, item), self.FEED_SPARE)

    def beside(self, arg: Any, meanwhile: Callable[[], object]) -> Any:
        self.release()
        stream, self._stream = self._stream, None
        if stream is None or not memory_to_spare():
            if stream is not None:
                stream.cancel()
            meanwhile()
            return self._work(arg, None)
        stream.send(arg)
        try:
            meanwhile()
        except BaseException:
            stream.cancel()
            raise
        return stream.finish()

    def cancel(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            stream.cancel()


RELEASED = "released"  # what Standby.release() sends
FED = "fed"  # (FED, item): what Standby.feed(item) sends; an `arg` must not look like it


class ChildLost(RuntimeError):
    """A Stream's child died before answering, and what it was sent was not kept."""


END = (2**64 - 1).to_bytes(8, "little")  # the frame length that means: nothing more


def _frames(fd: int) -> Iterator[Any]:
    while True:
        head = _read_exactly(fd, 8)
        if head is None or head == END:
            return
        body = _read_exactly(fd, int.from_bytes(head, "little"))
        if body is None:
            return
        yield marshal.loads(body)


def _read_exactly(fd: int, size: int) -> bytes | None:
    """`size` bytes from `fd`, or None if it ends first."""
    parts, left = [], size
    while left:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            return None
        parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)


def _write_all(fd: int, data: bytes | memoryview) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]

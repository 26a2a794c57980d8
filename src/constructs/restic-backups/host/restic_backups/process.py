"""Children: started to die with this program, stopped with escalating signals, their output teed."""

import ctypes
import signal
import subprocess
import sys
import threading

from .common import S


_libc = None


def _die_with_parent():
    # A child outlives a SIGKILLed parent otherwise: restic would then see end of input and
    # save what it read (tagged unverified, so never used, but better not saved at all).
    global _libc
    try:
        _libc = _libc or ctypes.CDLL(None, use_errno=True)
        _libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:  # noqa: BLE001 - best effort, not on every platform
        pass


def spawn(argv, **kw):
    p = subprocess.Popen(argv, preexec_fn=_die_with_parent, **kw)
    S.children.append(p)
    return p


def reap(p):
    rc = p.wait()
    if p in S.children:
        S.children.remove(p)
    return rc


def stop(p, first=signal.SIGINT):
    """SIGINT lets restic remove its lock; escalate if it does not go."""
    for sig, wait in ((first, 5), (signal.SIGTERM, 3), (signal.SIGKILL, 5)):
        if p.poll() is not None:
            break
        try:
            p.send_signal(sig)
        except ProcessLookupError:
            break
        try:
            p.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
    reap(p) if p.poll() is not None else None


class Tee(threading.Thread):
    """Copies a child's stderr to ours as it comes and keeps it for classification."""

    def __init__(self, stream):
        super().__init__(daemon=True)
        self.stream, self.chunks = stream, []
        self.start()

    def run(self):
        for line in iter(self.stream.readline, b''):
            self.chunks.append(line)
            sys.stderr.buffer.write(line)
            sys.stderr.flush()

    def text(self):
        self.join()
        return b''.join(self.chunks).decode(errors='replace')

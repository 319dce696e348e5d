"""One driver per study folder (not in the deck): the folder's lock file names its owner.

What it relies on, and why:
- The lock file appears whole or not at all, and only one driver makes it: it is written
  under a name of its own, then hard-linked to the lock's name. link() fails if that name
  exists, atomically, on local file systems and on NFS, where an exclusive create was
  not always so; so it works where the folder sits on storage that the nodes share.
- A driver holds flock() on its lock file while it lives, and the kernel lets go when the
  process ends, however it ends (kill -9 included). A second driver on the same host
  tries the same lock: it fails while the owner lives, and it succeeds once the owner is
  dead, and then takes the lock over. Only one can succeed, so two cannot both take it.
- A lock made on another host says nothing of its owner here (flock over a network file
  system is only as good as its locking service), so it is never taken over unasked:
  the line says who holds it, and --take_over takes it once you know that driver is gone.
"""
import fcntl
import json
import os
import socket
import time

from ddpg_extras.run.checks import fail
from ddpg_extras.study.guard import inside
from ddpg_extras.study.stops import held


class FolderLock:
    """`with FolderLock(folder, name, take_over):` owns folder while the block runs, or
    stops with one line that says who owns it. take_over: the command that takes the
    folder over from a driver on another host (with force=True)."""

    def __init__(self, folder, name, take_over, force=False):
        self.folder, self.path = folder, os.path.join(folder, name)
        self.take_over, self.force = take_over, force
        self.fd = self.dead_fd = None
        self.owned = False

    def __enter__(self):
        me = {'host': socket.gethostname(), 'pid': os.getpid(),
              'since': time.strftime('%Y-%m-%d %H:%M:%S %z')}
        mine = '{}.{}.{}'.format(self.path, me['host'], me['pid'])
        inside(self.folder, self.path)  # neither is a link that leads out of the folder
        inside(self.folder, mine)
        try:
            with held():  # a signal meanwhile stops the driver once the lock is its, or not
                self.acquire(me, mine)
        except KeyboardInterrupt:  # (a with statement does not call __exit__ here)
            self.__exit__()
            raise
        return self

    def acquire(self, me, mine):
        try:
            self.fd = os.open(mine, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # until this process ends
            os.write(self.fd, (json.dumps(me) + '\n').encode())
            os.fsync(self.fd)
            self.take(mine, me['host'])
        except OSError as e:
            fail('cannot write the lock {}: {}; a study needs its folder writable'.format(
                self.path, e.strerror or e))
        finally:
            if os.path.exists(mine):
                os.remove(mine)
            if self.dead_fd is not None:
                os.close(self.dead_fd)
            if not self.owned and self.fd is not None:
                os.close(self.fd)
                self.fd = None

    def take(self, mine, host):
        """Link this driver's file to the lock's name; or replace the lock of a driver that
        died on this host (or, forced, of one on another); or stop with one line."""
        for _ in range(3):  # again only where the owner let go in between
            try:
                os.link(mine, self.path)
                self.owned = True
                return
            except FileExistsError:
                pass
            owner = self.owner()
            if owner.get('host') == host:
                alive = self.alive()
                if alive is None:
                    continue
                if not alive:
                    os.replace(mine, self.path)
                    self.owned = True
                    print('took over {} from a study driver that died: {}'.format(
                        self.folder, describe(owner)), flush=True)
                    return
            elif self.force:
                os.replace(mine, self.path)
                self.owned = True
                print('took over {} from {}'.format(self.folder, describe(owner)), flush=True)
                return
            self.refuse(self.owner() or owner, host)
        fail('{} is in use: its lock {} keeps changing hands; try again'.format(
            self.folder, self.path))

    def owner(self):
        """What the lock says of its owner ({} where it says nothing that can be read)."""
        try:
            with open(self.path) as f:
                owner = json.load(f)
            return owner if isinstance(owner, dict) else {}
        except (OSError, ValueError):
            return {}

    def alive(self):
        """Whether the lock's owner, a driver on this host, lives: it holds the flock
        (None: the lock is gone). The flock of a dead one is held here from now on, so
        that no second driver takes the lock over at the same time."""
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return True
        self.dead_fd = fd
        return False

    def refuse(self, owner, host):
        if not owner:
            fail('{} is in use: its lock {} names no owner that can be read; if no study '
                 'driver runs on it, take the folder over with: {}'.format(
                     self.folder, self.path, self.take_over))
        if owner.get('host') == host:
            fail('{} is in use by another study driver: {}; wait for it to end, or stop it '
                 '(kill {})'.format(self.folder, describe(owner), owner.get('pid')))
        fail('{} is in use by a study driver on another host: {}; if that driver is gone '
             '(its machine lost, say), take the folder over with: {}'.format(
                 self.folder, describe(owner), self.take_over))

    def __exit__(self, *exc):
        with held():
            self.release()

    def release(self):
        """Remove the lock, if it is still this driver's, and let go of it."""
        if not self.owned:
            return
        try:
            if os.path.samestat(os.stat(self.path), os.fstat(self.fd)):
                os.remove(self.path)
        except OSError:
            pass  # taken over from another host (--take_over), or the folder is gone
        os.close(self.fd)
        self.fd, self.owned = None, False


def describe(owner):
    return 'host {}, process {}, since {}'.format(owner.get('host'), owner.get('pid'),
                                                  owner.get('since'))

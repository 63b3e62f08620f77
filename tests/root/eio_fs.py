#!/usr/bin/python3
"""A pass-through FUSE filesystem whose fsync of *.log files fails with EIO.

What an NFS client sees when the server runs out of space or quota for data it already
accepted into the page cache: write() succeeded, the error surfaces at fsync. Used by the root
tests as the job's repository: `eio_fs.py BACKING MOUNTPOINT` (runs in the foreground; stop it
by unmounting). Files and directories belong to whoever created them, as on a real filesystem.
"""
import errno
import os
import sys

from fusepy import FUSE, FuseOSError, Operations, fuse_get_context


class EioOnFsync(Operations):
    def __init__(self, root):
        self.root = root

    def _path(self, path):
        return os.path.join(self.root, path.lstrip("/"))

    def _own(self, path):
        uid, gid, _ = fuse_get_context()
        os.lchown(self._path(path), uid, gid)

    def access(self, path, mode):
        if not os.access(self._path(path), mode):
            raise FuseOSError(errno.EACCES)

    def getattr(self, path, fh=None):
        st = os.lstat(self._path(path))
        return {k: getattr(st, k) for k in ("st_atime", "st_ctime", "st_gid", "st_mode", "st_mtime",
                                            "st_nlink", "st_size", "st_uid")}

    def readdir(self, path, fh):
        return [".", ".."] + os.listdir(self._path(path))

    def mkdir(self, path, mode):
        os.mkdir(self._path(path), mode)
        self._own(path)

    def rmdir(self, path):
        os.rmdir(self._path(path))

    def unlink(self, path):
        os.unlink(self._path(path))

    def rename(self, old, new):
        os.rename(self._path(old), self._path(new))

    def chmod(self, path, mode):
        os.chmod(self._path(path), mode)

    def chown(self, path, uid, gid):
        os.lchown(self._path(path), uid, gid)

    def utimens(self, path, times=None):
        os.utime(self._path(path), times)

    def truncate(self, path, length, fh=None):
        os.truncate(self._path(path), length)

    def create(self, path, mode, fi=None):
        fd = os.open(self._path(path), os.O_RDWR | os.O_CREAT | os.O_EXCL, mode)
        self._own(path)
        return fd

    def open(self, path, flags):
        return os.open(self._path(path), flags & ~(os.O_CREAT | os.O_EXCL))

    def read(self, path, size, offset, fh):
        return os.pread(fh, size, offset)

    def write(self, path, data, offset, fh):
        return os.pwrite(fh, data, offset)

    def flush(self, path, fh):
        return 0

    def release(self, path, fh):
        os.close(fh)

    def fsync(self, path, datasync, fh):
        if path.endswith(".log"):
            raise FuseOSError(errno.EIO)
        os.fsync(fh)

    def fsyncdir(self, path, datasync, fh):
        return 0

    def statfs(self, path):
        st = os.statvfs(self._path(path))
        return {k: getattr(st, k) for k in ("f_bavail", "f_bfree", "f_blocks", "f_bsize", "f_favail", "f_ffree",
                                            "f_files", "f_flag", "f_frsize", "f_namemax")}


if __name__ == "__main__":
    FUSE(EioOnFsync(sys.argv[1]), sys.argv[2], foreground=True, allow_other=True, default_permissions=True)

"""Crash-safe file writing and uniform file errors for the saving code.

Every file pykeras saves is first written completely to a temporary file in the destination
directory, flushed to disk, and only then renamed over the destination with `os.replace` (atomic
on POSIX and Windows when both names are on one file system, which the shared directory
guarantees). A save that raises, or a process killed half-way, therefore leaves the previous file
untouched and at most a hidden `.<name>.<random>.tmp` file that is removed on the error path.
"""
import contextlib
import os
import tempfile


class SavedFileError(ValueError):
    """A saved model/weights file could not be read: corrupt, truncated, or not what the model expects."""


def fspath(filepath):
    """`filepath` (str or path-like) as a str; TypeError for anything else."""
    try:
        return os.fspath(filepath)
    except TypeError:
        raise TypeError(f"expected a file path (str or os.PathLike), got {type(filepath).__name__}") from None


def _default_mode(target):
    """Permission bits for the new file: those of the file being replaced, else 0o666 minus umask."""
    try:
        return os.stat(target).st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


@contextlib.contextmanager
def atomic_write(filepath):
    """Context manager yielding a temporary path to write; on success it replaces `filepath`.

    The directory of `filepath` is created if missing. On any exception inside the block the
    temporary file is deleted and the exception propagates; `filepath` is left as it was.
    """
    # Through a symlink, replace the file it points to (and keep the link), as writing in place would.
    filepath = os.path.realpath(os.path.abspath(fspath(filepath)))
    directory = os.path.dirname(filepath)
    if directory:
        os.makedirs(directory, exist_ok=True)
    if os.path.isdir(filepath):
        raise IsADirectoryError(f"cannot save to {filepath}: it is a directory")
    fd, tmp_path = tempfile.mkstemp(prefix="." + os.path.basename(filepath) + ".", suffix=".tmp", dir=directory)
    os.close(fd)
    try:
        yield tmp_path
        _fsync_file(tmp_path)
        os.chmod(tmp_path, _default_mode(filepath))
        os.replace(tmp_path, filepath)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_path)
        raise
    _fsync_dir(directory)


def _fsync_file(path):
    with open(path, "rb+") as f:
        os.fsync(f.fileno())


def _fsync_dir(directory):
    # Makes the rename itself durable; not possible (nor needed) on every platform.
    if not hasattr(os, "O_DIRECTORY"):
        return
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def require_h5py():
    """Imports h5py, or raises an ImportError saying what needs it."""
    try:
        import h5py
    except ImportError as e:  # pragma: no cover - h5py is installed wherever saving is tested
        raise ImportError("Saving and loading Keras .keras/.h5 files needs h5py: pip install h5py") from e
    return h5py


def open_h5_for_reading(filepath):
    """Opens an HDF5 file read-only, turning h5py's errors for missing/corrupt files into clear ones."""
    h5py = require_h5py()
    path = fspath(filepath)
    if not os.path.exists(path):
        raise FileNotFoundError(f"No such file: {path}")
    if os.path.isdir(path):
        raise IsADirectoryError(f"{path} is a directory, not an HDF5 file")
    try:
        return h5py.File(path, "r")
    except OSError as e:
        raise SavedFileError(f"{path} is not a readable HDF5 file (corrupt or truncated?): {e}") from None

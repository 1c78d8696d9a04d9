"""keras.utils.get_file: fetch a file from a URL into the Keras cache once, then reuse it.

Files land in `<cache_dir>/<cache_subdir>/` (cache_dir defaults to $KERAS_HOME, else ~/.keras;
when that is not writable, /tmp/.keras), the same place Keras uses, so a file Keras fetched
already is found without a download. A download is written to a temporary file beside its target
and renamed into place only once it is complete and matches `file_hash`: an interrupted or
corrupt download never leaves a file that a later call would take for the real one. Archives
(tar, tar.gz, tar.bz2, zip) can be extracted; members that would land outside the extraction
directory are refused.
"""
import hashlib
import os
import shutil
import sys
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile

from pykeras.utils.progbar import Progbar

__all__ = ["get_file", "hash_file", "validate_file", "extract_archive", "keras_home"]

# Seconds without data before a download is given up.
DOWNLOAD_TIMEOUT = 60
_CHUNK = 1 << 16


def keras_home():
    """$KERAS_HOME, else ~/.keras (not created here)."""
    return os.path.expanduser(os.environ.get("KERAS_HOME") or os.path.join("~", ".keras"))


def _writable_base(cache_dir):
    base = os.path.expanduser(cache_dir) if cache_dir is not None else keras_home()
    try:
        os.makedirs(base, exist_ok=True)
    except OSError:
        pass
    if os.path.isdir(base) and os.access(base, os.W_OK):
        return base
    return os.path.join("/tmp" if os.path.isdir("/tmp") else tempfile.gettempdir(), ".keras")


def _hash_algorithm(algorithm, file_hash):
    if algorithm == "auto":
        return "sha256" if file_hash is not None and len(file_hash) == 64 else "md5"
    if algorithm not in ("md5", "sha256"):
        raise ValueError(f"hash_algorithm must be 'auto', 'md5' or 'sha256'. Received: hash_algorithm={algorithm!r}")
    return algorithm


def hash_file(fpath, algorithm="sha256", chunk_size=_CHUNK):
    """The hex digest of a file ('md5' or 'sha256'; 'auto' means sha256)."""
    digest = hashlib.new("sha256" if algorithm == "auto" else _hash_algorithm(algorithm, None))
    with open(fpath, "rb") as f:
        for block in iter(lambda: f.read(chunk_size), b""):
            digest.update(block)
    return digest.hexdigest()


def validate_file(fpath, file_hash, algorithm="auto", chunk_size=_CHUNK):
    """Whether the file's md5/sha256 digest is `file_hash` ('auto' picks by the hash's length)."""
    return hash_file(fpath, _hash_algorithm(algorithm, file_hash), chunk_size) == str(file_hash)


def _download(origin, target):
    """Streams `origin` into a temporary file beside `target`, with a progress bar; returns the
    temporary path (the caller validates and renames it). Raises OSError naming the URL."""
    directory = os.path.dirname(target)
    fd, tmp = tempfile.mkstemp(prefix=os.path.basename(target) + ".", suffix=".part", dir=directory)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(origin, timeout=DOWNLOAD_TIMEOUT) as response:
            length = response.headers.get("Content-Length")
            bar = Progbar(int(length) if length and length.isdigit() else None)
            done = 0
            for block in iter(lambda: response.read(_CHUNK), b""):
                out.write(block)
                done += len(block)
                bar.update(done)
            if length and length.isdigit() and done != int(length):
                raise OSError(f"the connection closed after {done} of {length} bytes")
            bar.update(done, finalize=True)
    except urllib.error.HTTPError as e:
        os.remove(tmp)
        raise OSError(f"URL fetch failure on {origin}: HTTP {e.code} {e.reason}") from None
    except urllib.error.URLError as e:
        os.remove(tmp)
        raise OSError(f"URL fetch failure on {origin}: {e.reason}") from None
    except BaseException as e:
        os.remove(tmp)
        if isinstance(e, OSError):
            raise OSError(f"URL fetch failure on {origin}: {e}") from None
        raise
    return tmp


def _inside(root, name):
    root = os.path.realpath(root)
    path = os.path.realpath(os.path.join(root, name))
    return path == root or path.startswith(root + os.sep)


def _extract_tar(path, dest):
    with tarfile.open(path) as archive:
        for member in archive.getmembers():
            link = None
            if member.issym():
                link = os.path.join(os.path.dirname(member.name), member.linkname)
            elif member.islnk():
                link = member.linkname
            if not _inside(dest, member.name) or (link is not None and not _inside(dest, link)):
                raise ValueError(f"get_file: archive {path} has a member outside the extraction directory: {member.name}")
        archive.extractall(dest, **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))


def _extract_zip(path, dest):
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            if not _inside(dest, name):
                raise ValueError(f"get_file: archive {path} has a member outside the extraction directory: {name}")
        archive.extractall(dest)


def extract_archive(file_path, path=".", archive_format="auto"):
    """Extracts a tar or zip archive into `path`; True when it was one of the given formats.
    The members go to a temporary directory first, which is then renamed to `path`."""
    if archive_format is None:
        return False
    formats = ["tar", "zip"] if archive_format == "auto" else (
        [archive_format] if isinstance(archive_format, str) else list(archive_format))
    for fmt in formats:
        if fmt == "tar":
            is_type, extract = tarfile.is_tarfile, _extract_tar
        elif fmt == "zip":
            is_type, extract = zipfile.is_zipfile, _extract_zip
        else:
            raise ValueError(f"archive_format must be 'auto', 'tar', 'zip' or a list of those. Received: {fmt!r}")
        if not is_type(file_path):
            continue
        parent = os.path.dirname(os.path.abspath(path))
        os.makedirs(parent, exist_ok=True)
        tmp = tempfile.mkdtemp(prefix=os.path.basename(path) + ".", suffix=".part", dir=parent)
        try:
            extract(file_path, tmp)
            if os.path.isdir(path):
                shutil.rmtree(path)
            os.replace(tmp, path)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return True
    return False


def get_file(fname=None, origin=None, untar=False, md5_hash=None, file_hash=None, cache_subdir="datasets",
             hash_algorithm="auto", extract=False, archive_format="auto", cache_dir=None, force_download=False):
    """Path of the file at `origin`, downloaded into `<cache_dir>/<cache_subdir>/` unless it is
    there already (and matches `file_hash` when one is given). With `extract=True` (or the older
    `untar=True`) the archive is unpacked and the extraction directory is returned."""
    if origin is None:
        raise ValueError('get_file: please specify the "origin" argument (URL of the file to download).')
    if md5_hash is not None and file_hash is None:
        file_hash, hash_algorithm = md5_hash, "md5"
    algorithm = _hash_algorithm(hash_algorithm, file_hash)
    datadir = os.path.join(_writable_base(cache_dir), cache_subdir)
    os.makedirs(datadir, exist_ok=True)

    name = os.fspath(fname) if fname is not None else ""
    if not name:
        name = os.path.basename(urllib.parse.urlsplit(origin).path)
        if not name:
            raise ValueError(f"get_file: can't parse the file name from the origin {origin!r}; pass `fname`.")
    elif os.sep in name:
        raise ValueError(f"get_file: `fname` must be a file name, not a path (use `cache_dir` for the directory). "
                         f"Received: fname={name}")

    unpack = extract or untar
    if unpack and fname and "." in name:
        target = os.path.join(datadir, name)
        extraction_dir = os.path.join(datadir, name[:name.find(".")] + "_extracted")
    elif unpack:
        target = os.path.join(datadir, name + "_archive")
        extraction_dir = os.path.join(datadir, name)
    else:
        target = os.path.join(datadir, name)

    download = force_download or not os.path.exists(target)
    if not download and file_hash is not None and not validate_file(target, file_hash, algorithm):
        print(f"A local file was found at {target}, but its {algorithm} hash does not match {file_hash}: "
              "downloading it again.", file=sys.stdout)
        download = True

    if download:
        print(f"Downloading data from {origin}", file=sys.stdout)
        tmp = _download(origin, target)
        if file_hash is not None and not validate_file(tmp, file_hash, algorithm):
            got = hash_file(tmp, algorithm)
            os.remove(tmp)
            raise ValueError(f"Incomplete or corrupted file detected: the {algorithm} hash of the file downloaded "
                             f"from {origin} is {got}, not the expected {file_hash}. Nothing was written to {target}.")
        os.replace(tmp, target)

    if unpack:
        if not extract_archive(target, extraction_dir, "tar" if untar else archive_format):
            raise ValueError(f"get_file: {target} is not an archive of the format {archive_format!r}.")
        return extraction_dir
    return target

"""pykeras.utils.get_file against a local HTTP server: download into the cache, reuse, hashes
(md5/sha256, mismatch -> nothing written), re-download of a stale copy, HTTP errors and cut
connections, tar/zip extraction with Keras's directory names, and archives that try to write
outside their directory."""
import hashlib
import http.server
import io
import os
import tarfile
import zipfile

import pytest

from pykeras import utils
from pykeras.utils import file_utils

from file_server import local_http_server

PAYLOAD = bytes(range(256)) * 1000  # a few chunks of the download loop


@pytest.fixture
def served(tmp_path):
    d = tmp_path / "served"
    d.mkdir()
    (d / "data.bin").write_bytes(PAYLOAD)
    return d


@pytest.fixture
def cache(tmp_path):
    return tmp_path / "cache"


def _leftovers(directory):
    return [p for p in os.listdir(directory) if p.endswith(".part")]


def test_downloads_once_into_the_cache(served, cache, capsys):
    with local_http_server(served) as url:
        path = utils.get_file("data.bin", url + "data.bin", cache_dir=str(cache))
    assert path == str(cache / "datasets" / "data.bin")
    assert open(path, "rb").read() == PAYLOAD
    assert "Downloading data from " + url + "data.bin" in capsys.readouterr().out
    # The server is gone: the cached copy is used.
    assert utils.get_file("data.bin", url + "data.bin", cache_dir=str(cache)) == path
    assert "Downloading" not in capsys.readouterr().out
    assert _leftovers(cache / "datasets") == []


def test_name_from_the_url_subdir_and_keras_home(served, tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "home"))
    with local_http_server(served) as url:
        path = utils.get_file(origin=url + "data.bin", cache_subdir="models")
    assert path == str(tmp_path / "home" / "models" / "data.bin")


@pytest.mark.parametrize("algorithm", ["md5", "sha256"])
def test_hash_checked_after_download(served, cache, algorithm):
    good = hashlib.new(algorithm, PAYLOAD).hexdigest()
    with local_http_server(served) as url:
        path = utils.get_file("data.bin", url + "data.bin", file_hash=good, cache_dir=str(cache))
        assert open(path, "rb").read() == PAYLOAD
        bad = "0" * len(good)
        with pytest.raises(ValueError, match=f"Incomplete or corrupted file.*{algorithm} hash.*{bad}"):
            utils.get_file("other.bin", url + "data.bin", file_hash=bad, cache_dir=str(cache))
    assert not (cache / "datasets" / "other.bin").exists()
    assert _leftovers(cache / "datasets") == []
    assert file_utils.validate_file(path, good)
    assert file_utils.hash_file(path, algorithm) == good


def test_stale_cached_copy_is_downloaded_again(served, cache):
    target = cache / "datasets" / "data.bin"
    target.parent.mkdir(parents=True)
    target.write_bytes(b"an older, different file")
    good = hashlib.sha256(PAYLOAD).hexdigest()
    with local_http_server(served) as url:
        utils.get_file("data.bin", url + "data.bin", file_hash=good, cache_dir=str(cache))
    assert target.read_bytes() == PAYLOAD


def test_force_download_replaces_the_copy(served, cache):
    target = cache / "datasets" / "data.bin"
    target.parent.mkdir(parents=True)
    target.write_bytes(b"old")
    with local_http_server(served) as url:
        utils.get_file("data.bin", url + "data.bin", cache_dir=str(cache), force_download=True)
    assert target.read_bytes() == PAYLOAD


def test_http_error_leaves_nothing(served, cache):
    with local_http_server(served) as url:
        with pytest.raises(OSError, match=r"URL fetch failure on .*missing.bin: HTTP 404"):
            utils.get_file("missing.bin", url + "missing.bin", cache_dir=str(cache))
    assert os.listdir(cache / "datasets") == []


class _CutHandler(http.server.BaseHTTPRequestHandler):
    """Promises 1000 bytes and sends 10."""

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "1000")
        self.end_headers()
        self.wfile.write(b"x" * 10)

    def log_message(self, *args):
        pass


def test_cut_connection_leaves_nothing(cache, tmp_path):
    with local_http_server(tmp_path, handler=_CutHandler) as url:
        with pytest.raises(OSError, match="URL fetch failure"):
            utils.get_file("cut.bin", url + "cut.bin", cache_dir=str(cache))
    assert os.listdir(cache / "datasets") == []


def _make_tar(path, members):
    with tarfile.open(path, "w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))


def test_extract_tar_and_zip(served, cache):
    _make_tar(served / "pack.tar.gz", {"pack/a.txt": b"alpha", "pack/sub/b.txt": b"beta"})
    with zipfile.ZipFile(served / "pack.zip", "w") as archive:
        archive.writestr("z/c.txt", b"gamma")
    with local_http_server(served) as url:
        # fname with an extension: the archive keeps it, files go to <stem>_extracted.
        out = utils.get_file("pack.tar.gz", url + "pack.tar.gz", extract=True, cache_dir=str(cache))
        assert out == str(cache / "datasets" / "pack_extracted")
        assert (cache / "datasets" / "pack_extracted" / "pack" / "sub" / "b.txt").read_bytes() == b"beta"
        # No fname: the URL's name is the directory, the archive is stored as <name>_archive.
        out = utils.get_file(origin=url + "pack.zip", extract=True, cache_dir=str(cache))
        assert out == str(cache / "datasets" / "pack.zip")
        assert (cache / "datasets" / "pack.zip_archive").is_file()
        assert (cache / "datasets" / "pack.zip" / "z" / "c.txt").read_bytes() == b"gamma"
        with pytest.raises(ValueError, match="not an archive"):
            utils.get_file("plain", url + "data.bin", extract=True, cache_dir=str(cache))


@pytest.mark.parametrize("kind", ["tar", "zip"])
def test_archive_escaping_its_directory_is_refused(tmp_path, kind):
    archive = tmp_path / f"evil.{kind}"
    if kind == "tar":
        _make_tar(archive, {"ok.txt": b"fine", "../escaped.txt": b"bad"})
    else:
        with zipfile.ZipFile(archive, "w") as z:
            z.writestr("ok.txt", b"fine")
            z.writestr("../escaped.txt", b"bad")
    dest = tmp_path / "out" / "dest"
    with pytest.raises(ValueError, match="outside the extraction directory"):
        file_utils.extract_archive(str(archive), str(dest))
    assert not dest.exists()
    assert not (tmp_path / "out" / "escaped.txt").exists()
    assert os.listdir(tmp_path / "out") == []


def test_tar_symlink_out_of_the_directory_is_refused(tmp_path):
    archive = tmp_path / "link.tar"
    with tarfile.open(archive, "w") as t:
        info = tarfile.TarInfo("link")
        info.type = tarfile.SYMTYPE
        info.linkname = "../../etc/passwd"
        t.addfile(info)
    with pytest.raises(ValueError, match="outside the extraction directory"):
        file_utils.extract_archive(str(archive), str(tmp_path / "dest"))


def test_argument_errors(cache):
    with pytest.raises(ValueError, match="origin"):
        utils.get_file("x")
    with pytest.raises(ValueError, match="not a path"):
        utils.get_file(os.path.join("a", "b.bin"), "http://127.0.0.1:9/b.bin", cache_dir=str(cache))
    with pytest.raises(ValueError, match="file name from the origin"):
        utils.get_file(origin="http://127.0.0.1:9/", cache_dir=str(cache))
    with pytest.raises(ValueError, match="hash_algorithm"):
        utils.get_file("x", "http://127.0.0.1:9/x", file_hash="ab", hash_algorithm="sha1", cache_dir=str(cache))

"""Fetch a named dataset (DRIVE, STARE, ...) when its dataset_root is missing.

Called by the named datasets in `vessels.py` before they look for files. It never hangs a
non-interactive run: without an explicit opt-in (env `PADDLESEG_LITE_DOWNLOAD=1`, or "yes" at an
interactive prompt) it raises a one-line UserError saying where the data goes and how to get it.
Downloads resume from a `.part` file (HTTP Range), are checked against Content-Length and as a zip,
and are extracted into a temporary folder that is renamed into place only when complete; a corrupt
or truncated zip is a UserError saying to download it again, and leaves nothing extracted. The same
extraction serves tools/prepare_dataset.py, with tars too (STARE's archives are tars).
"""
import gzip
import http.client
import os
import shutil
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
import zlib

from paddleseg_lite.utils import logger
from paddleseg_lite.utils.errors import UserError
from paddleseg_lite.utils.progress import Progress

# PaddleSeg's release archives; tests and mirrors may replace entries.
URLS = {
    "DRIVE": "https://bj.bcebos.com/paddleseg/dataset/drive/drive.zip",
    "STARE": "https://bj.bcebos.com/paddleseg/dataset/stare/stare.zip",
    "CHASEDB1": "https://bj.bcebos.com/paddleseg/dataset/chase_db1/chase_db1.zip",
    "HRF": "https://bj.bcebos.com/paddleseg/dataset/hrf/hrf.zip",
}
ENV_OPT_IN = "PADDLESEG_LITE_DOWNLOAD"
CHUNK = 1 << 16
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a local file header; the end record of an empty zip
# What reading a damaged zip raises: a bad header or CRC, a broken or cut-short deflate stream.
CORRUPT_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError)
CORRUPT_TAR_ERRORS = (tarfile.TarError, zlib.error, EOFError, gzip.BadGzipFile)
TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz")


def ensure_dataset(name, dataset_root, extra_hint=""):
    """Return `dataset_root`, downloading the named dataset into it first if it is missing.

    Args:
        name (str): A key of `URLS`, e.g. 'DRIVE'.
        dataset_root (str): Where the data lives (or goes).
        extra_hint (str): Appended to the "not found" message (e.g. other ways to get the data).

    Returns:
        str: dataset_root, now an existing directory.
    """
    if os.path.isdir(dataset_root):
        return dataset_root
    if os.path.exists(dataset_root):
        raise UserError("{}: dataset_root '{}' is a file, not a folder; point it at the data folder".format(
            name, dataset_root))
    url = URLS[name]
    if not _download_allowed(name, dataset_root, url):
        raise UserError("{} data not found at '{}': set {}=1 to download {} there, or unzip it so that "
                        "'{}' holds train_list.txt{}".format(name, dataset_root, ENV_OPT_IN, url,
                                                            dataset_root, extra_hint))
    download_and_extract(url, dataset_root)
    return dataset_root


def _download_allowed(name, dataset_root, url):
    choice = os.environ.get(ENV_OPT_IN, "").strip().lower()
    if choice in ("1", "yes", "true"):
        return True
    if choice in ("0", "no", "false") or os.environ.get("CI") or not _stdin_is_tty():
        return False
    answer = input("{} not found at '{}'. Download {} into it? [y/N] ".format(name, dataset_root, url))
    return answer.strip().lower() in ("y", "yes")


def _stdin_is_tty():
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False


def download_and_extract(url, dataset_root):
    """Download the zip at `url` (resumable) and extract it atomically as `dataset_root`.

    A zip holding a single top-level folder has that folder's content become dataset_root.
    """
    dataset_root = os.path.abspath(dataset_root)
    parent = os.path.dirname(dataset_root)
    os.makedirs(parent, exist_ok=True)
    part = dataset_root + ".zip.part"
    download(url, part)
    try:
        _check_zip(part, url)
        extract_atomically(part, dataset_root)
    except UserError:
        os.remove(part)
        raise
    os.remove(part)
    logger.info("Dataset extracted to {}".format(dataset_root))


def download(url, part):
    """Fetch `url` into `part`, resuming an existing partial file with an HTTP Range request."""
    have = os.path.getsize(part) if os.path.exists(part) else 0
    request = urllib.request.Request(url, headers={"Range": "bytes={}-".format(have)} if have else {})
    try:
        response = urllib.request.urlopen(request, timeout=60)
    except urllib.error.HTTPError as err:
        if err.code == 416 and have:  # nothing left to fetch
            return
        raise UserError("download of {} failed: HTTP {} {}".format(url, err.code, err.reason))
    except (urllib.error.URLError, OSError) as err:
        raise UserError("download of {} failed: {}; check the network and run again".format(url, err))
    with response:
        resumed = response.status == 206
        expected = _expected_total(response, have if resumed else 0)
        got = _stream(response, part, "ab" if resumed else "wb", have if resumed else 0, expected)
    if expected is not None and got != expected:
        raise UserError("download of {} is incomplete ({} of {} bytes, kept in '{}'); run again to "
                        "resume".format(url, got, expected, part))


def _expected_total(response, offset):
    length = response.headers.get("Content-Length")
    return offset + int(length) if length is not None else None


def _stream(response, part, file_mode, done, total):
    """Copy the response body into `part`, with progress (`utils.progress`) on stderr; return the final size."""
    with open(part, file_mode) as f, Progress(total, "download", "MB", scale=1e6, initial=done) as progress:
        while True:
            try:
                chunk = response.read(CHUNK)
            except (OSError, ValueError, http.client.HTTPException):  # connection dropped: the size check reports it
                break
            if not chunk:
                break
            f.write(chunk)
            done += len(chunk)
            progress.update(done)
    return done


def _check_zip(path, url):
    try:
        with zipfile.ZipFile(path) as archive:
            broken = archive.testzip()
    except CORRUPT_ZIP_ERRORS as e:
        broken = str(e)
    else:
        broken = broken and "member '{}' is damaged".format(broken)
    if broken:
        raise UserError("download of {} is not a valid zip ({}); it was deleted, run again".format(url, broken))


def looks_like_zip(path):
    """Whether the file `path` is meant to be a zip: it has a zip's name or starts like one (a truncated
    zip has lost its central directory, so `zipfile.is_zipfile` says no)."""
    if path.lower().endswith(".zip") or zipfile.is_zipfile(path):
        return True
    with open(path, "rb") as f:
        return f.read(4) in ZIP_MAGIC


def extract_atomically(zip_path, dataset_root):
    """Extract `zip_path` into a temporary folder beside dataset_root, then rename it into place.

    Raises:
        UserError: the zip is corrupt or truncated (nothing is left extracted), or has an unsafe path.
    """
    parent = os.path.dirname(os.path.abspath(dataset_root))
    tmp = tempfile.mkdtemp(prefix=".extract-", dir=parent)
    try:
        try:
            with zipfile.ZipFile(zip_path) as archive:
                _check_members(archive, zip_path)
                archive.extractall(tmp)
        except CORRUPT_ZIP_ERRORS as e:
            raise UserError("zip '{}' is corrupt or truncated ({}); download it again".format(zip_path, e))
        entries = [e for e in os.listdir(tmp) if e != "__MACOSX"]
        single = os.path.join(tmp, entries[0]) if len(entries) == 1 else None
        os.rename(single if single and os.path.isdir(single) else tmp, dataset_root)
    finally:
        if os.path.isdir(tmp):
            shutil.rmtree(tmp)


def is_archive(path):
    """Whether the file `path` is a zip or a tar (plain, .tar.gz, .tgz ...), by its name or its content."""
    return looks_like_zip(path) or path.lower().endswith(TAR_SUFFIXES) or tarfile.is_tarfile(path)


def extract_archive(path, dest):
    """Extract the zip or tar `path` as the new folder `dest`, atomically (a zip's single top folder
    becomes dest, see `extract_atomically`; a tar is extracted as it is).

    Raises:
        UserError: the archive is corrupt or truncated, or has an unsafe member path.
    """
    if looks_like_zip(path):
        extract_atomically(path, dest)
        return
    tmp = tempfile.mkdtemp(prefix=".extract-", dir=os.path.dirname(os.path.abspath(dest)))
    try:
        with tarfile.open(path) as archive:
            archive.extractall(tmp, filter="data")  # refuses absolute paths, '..' and links out of tmp
        os.rename(tmp, dest)
    except tarfile.FilterError as e:
        raise UserError("tar '{}' has an unsafe member ({}); refusing to extract".format(path, e))
    except CORRUPT_TAR_ERRORS as e:
        raise UserError("tar '{}' is corrupt or truncated ({}); download it again".format(path, e or "no members"))
    finally:
        if os.path.isdir(tmp):
            shutil.rmtree(tmp)


def _check_members(archive, zip_path):
    for name in archive.namelist():
        if name.startswith("/") or ".." in name.replace("\\", "/").split("/"):
            raise UserError("zip '{}' has an unsafe member path '{}'; refusing to extract".format(zip_path, name))

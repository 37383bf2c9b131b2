"""Output writing: what is left on disk, in a FIFO, a device or a socket, and with which mode.

Regular files and new paths are replaced atomically; a symlink keeps pointing where it
pointed while its target is replaced; devices, FIFOs and sockets are written to in place.
Real special files only: FIFOs, sockets, ptys and device nodes made in the test's own folder
(a copy of /dev/null and /dev/full made with mknod), so a writer that wrongly replaces a
device can never replace the machine's own.
"""

from __future__ import annotations

import io
import os
import socket
import stat
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pytest

from thsources import output
from thsources.errors import ConfigError
from thsources.output import check_writable, format_for_path, render, write_result
from thsources.result import Column, Result

RESULT = Result.from_rows(
    [Column("id", "integer"), Column("ok", "boolean"), Column("x", "float")],
    [(1, True, 0.1 + 0.2), (2, False, None)],
)
CSV = "id,ok,x\n1,true,0.30000000000000004\n2,false,\n"


@pytest.fixture
def umask() -> Iterator[None]:
    saved = os.umask(0o022)
    yield
    os.umask(saved)


def parts(directory: Path) -> list[str]:
    return [n for n in os.listdir(directory) if n.endswith(".part")]


# -- formats ----------------------------------------------------------------------------------


def test_csv_booleans_are_true_and_false_in_the_file(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    write_result(RESULT, "csv", path=target)
    assert target.read_text() == CSV


def test_table_shows_floats_to_six_significant_digits_other_formats_keep_them() -> None:
    res = Result.from_rows(
        [Column("ratio", "float"), Column("big", "float")],
        [(1 / 3, 1234567.891), (2.5, 1e-7)],
    )
    lines = render(res, "table").splitlines()
    assert lines[2].split() == ["0.333333", "1.23457e+06"]
    assert lines[3].split() == ["2.5", "1e-07"]
    assert render(res, "csv").splitlines()[1] == "0.3333333333333333,1234567.891"
    assert render(res, "json").startswith('[{"ratio":0.3333333333333333,"big":1234567.891}')


def test_table_max_rows_cuts_with_a_footer() -> None:
    res = Result.from_rows([Column("n", "integer")], [(i,) for i in range(150)])
    lines = render(res, "table", table_max_rows=100).splitlines()
    assert len(lines) == 2 + 100 + 1
    assert lines[-2].strip() == "99"
    assert lines[-1].startswith("... 50 more rows (150 in all;")
    assert render(res, "table").splitlines()[-1] == "(150 rows)"


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("a.csv", "csv"),
        ("a.JSON", "json"),
        ("a.jsonl", "jsonl"),
        ("a.ndjson", "jsonl"),
        ("a.parquet", "parquet"),
        ("a.txt", "table"),
        ("fifo", "table"),
        ("-", "table"),
    ],
)
def test_format_from_the_suffix(name: str, fmt: str) -> None:
    assert format_for_path(Path(name), None) == fmt


@pytest.mark.parametrize("name", ["a.xlsx", "a.tsv", "a.csv.gz"])
def test_unknown_suffix_is_refused_unless_the_format_is_given(name: str) -> None:
    with pytest.raises(ConfigError, match=r"is not a suffix thsources writes.*--format"):
        format_for_path(Path(name), None)
    assert format_for_path(Path(name), "csv") == "csv"


# -- regular files: atomic, modes kept --------------------------------------------------------


@pytest.mark.parametrize(("mask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_new_file_gets_the_mode_the_umask_gives(
    tmp_path: Path, umask: None, mask: int, mode: int
) -> None:
    os.umask(mask)
    target = tmp_path / "new.csv"
    write_result(RESULT, "csv", path=target)
    assert stat.S_IMODE(target.stat().st_mode) == mode
    assert target.read_text() == CSV


@pytest.mark.parametrize("mode", [0o644, 0o600, 0o664, 0o640])
def test_replaced_file_keeps_its_mode(tmp_path: Path, umask: None, mode: int) -> None:
    os.umask(0o077)
    target = tmp_path / "old.csv"
    target.write_text("old\n")
    target.chmod(mode)
    inode = target.stat().st_ino
    write_result(RESULT, "csv", path=target)
    assert target.read_text() == CSV
    assert stat.S_IMODE(target.stat().st_mode) == mode
    assert target.stat().st_ino != inode  # replaced, not rewritten in place


def _fail_midway(result: Result, fmt: str, stream: IO[bytes], max_rows: int | None) -> None:
    stream.write(b"id,ok,x\n1,tr")
    stream.flush()
    raise RuntimeError("serialisation failed after partial output")


def test_a_write_failing_midway_leaves_the_old_file_and_no_part(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "out.csv"
    target.write_text("old contents\n")
    monkeypatch.setattr(output, "_write", _fail_midway)
    with pytest.raises(RuntimeError, match="after partial output"):
        write_result(RESULT, "csv", path=target)
    assert target.read_text() == "old contents\n"
    assert parts(tmp_path) == []


def test_a_write_failing_midway_leaves_no_new_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(output, "_write", _fail_midway)
    with pytest.raises(RuntimeError):
        write_result(RESULT, "csv", path=tmp_path / "new.csv")
    assert os.listdir(tmp_path) == []


def test_interrupt_midway_leaves_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(*args: Any) -> None:
        args[2].write(b"partial")
        raise KeyboardInterrupt

    target = tmp_path / "out.json"
    target.write_text("[]\n")
    monkeypatch.setattr(output, "_write", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_result(RESULT, "json", path=target)
    assert target.read_text() == "[]\n"
    assert parts(tmp_path) == []


# -- symlinks ---------------------------------------------------------------------------------


def test_symlink_is_kept_and_its_target_replaced(tmp_path: Path, umask: None) -> None:
    real = tmp_path / "data" / "real.csv"
    real.parent.mkdir()
    real.write_text("old\n")
    real.chmod(0o640)
    link = tmp_path / "link.csv"
    link.symlink_to(Path("data") / "real.csv")  # relative, as people write them
    chain = tmp_path / "chain.csv"
    chain.symlink_to(link)
    write_result(RESULT, "csv", path=chain)
    assert chain.is_symlink() and link.is_symlink()
    assert os.readlink(link) == os.path.join("data", "real.csv")
    assert real.read_text() == CSV
    assert stat.S_IMODE(real.stat().st_mode) == 0o640
    assert sorted(os.listdir(tmp_path)) == ["chain.csv", "data", "link.csv"]
    assert os.listdir(real.parent) == ["real.csv"]


def test_dangling_symlink_creates_its_target(tmp_path: Path) -> None:
    link = tmp_path / "link.csv"
    link.symlink_to(tmp_path / "made.csv")
    write_result(RESULT, "csv", path=link)
    assert link.is_symlink()
    assert (tmp_path / "made.csv").read_text() == CSV


# -- devices, FIFOs, sockets: written in place ------------------------------------------------


def _read_fifo(path: Path, into: list[bytes]) -> threading.Thread:
    def reader() -> None:
        with open(path, "rb") as fifo:
            into.append(fifo.read())

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    return thread


def test_fifo_is_written_to_and_stays_a_fifo(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    thread = _read_fifo(fifo, got)
    write_result(RESULT, "csv", path=fifo)
    thread.join(30)
    assert got == [CSV.encode()]
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert os.listdir(tmp_path) == ["pipe"]


def test_symlink_to_a_fifo_like_dev_stdout(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    stdout_link = tmp_path / "stdout"
    stdout_link.symlink_to(fifo)
    check_writable(stdout_link)
    got: list[bytes] = []
    thread = _read_fifo(fifo, got)
    write_result(RESULT, format_for_path(stdout_link, None), path=stdout_link)
    thread.join(30)
    assert got[0].decode().splitlines()[0].split() == ["id", "ok", "x"]
    assert stdout_link.is_symlink() and stat.S_ISFIFO(os.lstat(fifo).st_mode)


def _device(tmp_path: Path, name: str, major: int, minor: int) -> Path:
    """A character device node of the test's own (the same device as /dev/<name>)."""
    node = tmp_path / name
    try:
        os.mknod(node, 0o666 | stat.S_IFCHR, os.makedev(major, minor))
    except PermissionError:
        pytest.skip("making a device node needs root (CI runs as root)")
    return node


def test_a_device_is_written_to_not_replaced(tmp_path: Path) -> None:
    null = _device(tmp_path, "null", 1, 3)
    before = os.lstat(null)
    check_writable(null)
    write_result(RESULT, "csv", path=null)
    after = os.lstat(null)
    assert stat.S_ISCHR(after.st_mode)
    assert (after.st_ino, after.st_rdev) == (before.st_ino, before.st_rdev)
    assert not list(tmp_path.glob(".*part"))


def test_a_full_device_is_a_one_line_error(tmp_path: Path) -> None:
    full = _device(tmp_path, "full", 1, 7)
    with pytest.raises(ConfigError, match=f"cannot write output to {full}: No space left"):
        write_result(RESULT, "csv", path=full)
    assert stat.S_ISCHR(os.lstat(full).st_mode)


def test_pty_is_written_to(tmp_path: Path) -> None:
    master, slave = os.openpty()
    try:
        name = os.ttyname(slave)
        link = tmp_path / "tty"
        link.symlink_to(name)
        write_result(RESULT, "jsonl", path=link)
        got = b""
        while got.count(b"\n") < 2:
            got += os.read(master, 4096)
        assert got.replace(b"\r\n", b"\n") == (
            b'{"id":1,"ok":true,"x":0.30000000000000004}\n{"id":2,"ok":false,"x":null}\n'
        )
        assert stat.S_ISCHR(os.stat(name).st_mode)
    finally:
        os.close(slave)
        os.close(master)


def test_unix_socket_is_written_to() -> None:
    import tempfile

    # A short directory: socket paths are limited to about 100 bytes.
    with tempfile.TemporaryDirectory(dir="/tmp") as short:
        path = Path(short) / "s"
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        server.bind(str(path))
        server.listen(1)
        got: list[bytes] = []

        def accept() -> None:
            conn, _ = server.accept()
            with conn:
                data = b""
                while chunk := conn.recv(4096):
                    data += chunk
                got.append(data)

        thread = threading.Thread(target=accept, daemon=True)
        thread.start()
        try:
            write_result(RESULT, "csv", path=path)
            thread.join(30)
        finally:
            server.close()
        assert got == [CSV.encode()]
        assert stat.S_ISSOCK(os.lstat(path).st_mode)


# -- checks before the query runs -------------------------------------------------------------


def test_permission_denied_is_found_before_the_query(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As root every directory is writable, so the refusal is simulated by os.access."""
    locked = tmp_path / "locked"
    locked.mkdir()
    real_access = os.access

    def access(path: Any, mode: int, **kw: Any) -> bool:
        if Path(path) == locked and mode == os.W_OK:
            return False
        return real_access(path, mode, **kw)

    monkeypatch.setattr(os, "access", access)
    with pytest.raises(ConfigError, match="permission denied"):
        check_writable(locked / "x.csv")
    check_writable(tmp_path / "x.csv")


def test_stream_write_flushes() -> None:
    buf = io.BytesIO()
    write_result(RESULT, "csv", stream=buf)
    assert buf.getvalue().decode() == CSV


def test_a_proc_fd_link_is_written_through_not_replaced(tmp_path: Path) -> None:
    """`-o /dev/stdout >> log` must append to the log, not replace it: a link into
    /proc/self/fd is the descriptor's file, written in place."""
    log = tmp_path / "log.txt"
    log.write_text("earlier lines\n")
    inode = log.stat().st_ino
    fd = os.open(log, os.O_WRONLY | os.O_APPEND)
    try:
        link = tmp_path / "stdout"
        link.symlink_to(f"/proc/self/fd/{fd}")
        check_writable(link)
        write_result(RESULT, "csv", path=link)
    finally:
        os.close(fd)
    assert log.read_text() == "earlier lines\n" + CSV
    assert log.stat().st_ino == inode
    assert link.is_symlink()

"""StorageLock: one holder per path, across processes and within one process."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from feldera_nb.errors import StorageLockedError
from feldera_nb.storage.lock import StorageLock, read_lock_holder

HOLD = """
    import os, sys
    from feldera_nb.storage.lock import StorageLock
    lock = StorageLock(sys.argv[1] if len(sys.argv) > 1 else {path!r})
    print("locked", os.getpid(), flush=True)
    sys.stdin.readline()
"""


def test_second_holder_in_same_process_is_refused(tmp_path: Path) -> None:
    with StorageLock(tmp_path) as lock:
        with pytest.raises(StorageLockedError) as e:
            StorageLock(tmp_path)
        assert e.value.pid == os.getpid()  # type: ignore[attr-defined]
        assert str(tmp_path) in str(e.value) and str(os.getpid()) in str(e.value)
        assert lock.held
    assert not lock.held
    StorageLock(tmp_path).release()


def test_release_is_idempotent_and_frees(tmp_path: Path) -> None:
    lock = StorageLock(tmp_path / "new" / "dir")
    assert (tmp_path / "new" / "dir" / "LOCK").exists()
    lock.release()
    lock.release()
    with StorageLock(tmp_path / "new" / "dir"):
        pass


def test_holder_info(tmp_path: Path) -> None:
    with StorageLock(tmp_path):
        info = read_lock_holder(tmp_path)
        assert info is not None and info["pid"] == os.getpid()


def test_lock_across_processes_and_sigkill_frees_it(tmp_path: Path, child) -> None:
    holder = child(HOLD.format(path=str(tmp_path)))
    pid = int(holder.expect("locked").split()[1])
    assert pid == holder.proc.pid
    with pytest.raises(StorageLockedError) as e:
        StorageLock(tmp_path)
    assert e.value.pid == pid  # type: ignore[attr-defined]
    assert f"pid {pid}" in str(e.value) and str(tmp_path) in str(e.value)
    holder.kill()
    with StorageLock(tmp_path) as lock:
        assert lock.held
        assert read_lock_holder(tmp_path)["pid"] == os.getpid()


def test_child_cannot_take_a_held_lock(tmp_path: Path, child) -> None:
    with StorageLock(tmp_path):
        c = child(
            """
            import sys
            from feldera_nb.errors import StorageLockedError
            from feldera_nb.storage.lock import StorageLock
            try:
                StorageLock(%r)
                print("got it", flush=True)
            except StorageLockedError as e:
                print("refused", e.pid, flush=True)
            """
            % str(tmp_path)
        )
        assert c.expect("refused") == f"refused {os.getpid()}"

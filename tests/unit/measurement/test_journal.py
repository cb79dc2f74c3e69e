"""The hit journal on a full disk: shipped segments are rotated away (by age, or at once when a write fails for
space), and a hit that still cannot be written fails loudly: raised, counted, logged once per run of failures."""
import errno
import logging
import threading
import time
from collections import Counter

import pytest

from services.measurement import journal
from tests.unit.measurement.test_tracking import FakeRedis


def _wait_for(condition, timeout=5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def _disk_full(monkeypatch, sink, fds, mode="raise", times=None):
    """os.write fails for space on the given journal fds (a set, read at each call) `times` times (None: always)."""
    real_write = journal.os.write
    left = [times]

    def write(fd, data):
        if fd in fds() and (left[0] is None or left[0] > 0):
            if left[0] is not None:
                left[0] -= 1
            if mode == "short":
                return real_write(fd, data[:len(data) // 2])
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(journal.os, "write", write)


def test_a_quiet_fully_shipped_segment_is_rotated_and_deleted_once_old(tmp_path):
    fake = FakeRedis()
    sink = journal.JournalSink(fake, tmp_path / "journal", interval=0.001, sync_interval=0.02, rotate_age=0.3)
    for i in range(3):
        sink.record({"uid": f"h{i}", "key": "k"})
    assert sink.flush(timeout=10)
    first = sink._segment
    assert first.exists() and first.stat().st_size > 0  # far under rotate_bytes: only its age rotates it
    assert _wait_for(lambda: not first.exists()), "the shipped segment was never deleted"
    assert sink._segment != first and sink._segment.exists() and sink._sealed == []
    sink.record({"uid": "h3", "key": "k"})
    assert sink.flush(timeout=10)
    assert fake.uids() == ["h0", "h1", "h2", "h3"]  # nothing lost, nothing shipped twice
    sink.close()
    assert list((tmp_path / "journal").iterdir()) == []


def test_a_young_or_unshipped_segment_is_not_rotated_by_age(tmp_path):
    fake = FakeRedis()
    young = journal.JournalSink(fake, tmp_path / "a", interval=0.001, sync_interval=0.02)  # the 60 s default
    young.record({"uid": "y", "key": "k"})
    assert young.flush(timeout=10)
    segment = young._segment
    time.sleep(0.3)
    assert young._segment == segment and segment.exists()
    young.close()
    fake.down = True
    stuck = journal.JournalSink(fake, tmp_path / "b", interval=0.001, sync_interval=0.02, rotate_age=0.0)
    stuck.record({"uid": "s", "key": "k"})
    segment = stuck._segment
    time.sleep(0.3)
    assert stuck._segment == segment and segment.read_bytes().count(b"\n") == 1  # unshipped lines are never dropped
    fake.down = False
    assert stuck.flush(timeout=10)
    stuck.close()
    assert sorted(fake.uids()) == ["s", "y"]


@pytest.mark.parametrize("mode", ["raise", "short"])
def test_on_a_full_disk_a_shipped_segment_is_deleted_and_the_hit_written(tmp_path, monkeypatch, mode):
    fake, failures = FakeRedis(), []
    sink = journal.JournalSink(fake, tmp_path / "journal", interval=0.001, rotate_age=3600,
                               on_write_failure=lambda: failures.append(1))
    sink.record({"uid": "h0", "key": "k"})
    sink.record({"uid": "h1", "key": "k"})
    assert sink.flush(timeout=10)
    full = sink._segment
    full_fd = sink._fd
    _disk_full(monkeypatch, sink, lambda: {full_fd}, mode=mode, times=1)
    sink.record({"uid": "h2", "key": "k"})  # does not raise: the shipped segment made room
    monkeypatch.undo()
    assert not full.exists() and sink._segment != full
    assert sink.flush(timeout=10)
    sink.record({"uid": "h3", "key": "k"})
    assert sink.flush(timeout=10)
    assert fake.uids() == ["h0", "h1", "h2", "h3"] and failures == []
    sink.close()
    assert list((tmp_path / "journal").iterdir()) == []


def test_on_a_full_disk_lines_not_yet_shipped_are_shipped_by_the_request_and_the_hit_written(tmp_path, monkeypatch):
    """The disk fills between two shipping passes: the segment's last lines have not reached Redis yet. The request
    ships them itself, the segment's space is freed and the hit written: nothing fails, nothing is lost or doubled."""
    fake, failures = FakeRedis(), []
    sink = journal.JournalSink(fake, tmp_path / "journal", interval=60.0, sync_interval=60.0, rotate_age=3600,
                               on_write_failure=lambda: failures.append(1))  # the shipper waits: only asked ships
    sink.record({"uid": "h0", "key": "k"})
    sink.record({"uid": "h1", "key": "k"})
    assert sink.pending() > 0 and fake.uids() == []  # not shipped yet
    full = sink._segment
    full_fd = sink._fd
    _disk_full(monkeypatch, sink, lambda: {full_fd})  # that segment's disk stays full
    sink.record({"uid": "h2", "key": "k"})  # does not raise
    monkeypatch.undo()
    assert fake.uids() == ["h0", "h1"] and not full.exists() and sink._segment != full
    sink.ship()
    assert fake.uids() == ["h0", "h1", "h2"] and failures == [] and sink.pending() == 0
    sink.close()


def test_when_rotation_cannot_help_the_hit_fails_is_counted_and_logged_once(tmp_path, monkeypatch, caplog):
    fake, failures = FakeRedis(), []
    fake.down = True  # the segment holds lines Redis has not taken: they are never given up for space
    sink = journal.JournalSink(fake, tmp_path / "journal", interval=0.001, rotate_age=0.0,
                               on_write_failure=lambda: failures.append(1))
    sink.record({"uid": "h0", "key": "k"})
    segment = sink._segment
    _disk_full(monkeypatch, sink, lambda: {sink._fd}, mode="raise")
    with caplog.at_level(logging.WARNING, logger=journal.__name__):
        for i in range(3):
            with pytest.raises(journal.JournalWriteError) as raised:
                sink.record({"uid": f"lost{i}", "key": "k"})
            assert raised.value.errno == errno.ENOSPC
        monkeypatch.undo()
        fake.down = False
        sink.record({"uid": "h1", "key": "k"})  # room again
    assert len(failures) == 3
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "cannot be written" in errors[0].getMessage()  # once per run, not per hit
    assert any("3 hits were lost" in r.getMessage() for r in caplog.records)
    assert segment.exists() or sink._segment != segment
    assert sink.flush(timeout=10)
    assert fake.uids() == ["h0", "h1"]
    sink.close()


def test_a_fresh_empty_segment_on_a_full_disk_fails_the_hit(tmp_path, monkeypatch):
    fake, failures = FakeRedis(), []
    sink = journal.JournalSink(fake, tmp_path / "journal", interval=0.001, on_write_failure=lambda: failures.append(1))
    sink.record({"uid": "h0", "key": "k"})
    assert sink.flush(timeout=10)
    with sink._lock:
        sink._rotate(keep=False)  # as after an age rotation: nothing of this segment to delete
    _disk_full(monkeypatch, sink, lambda: {sink._fd}, mode="short")
    with pytest.raises(journal.JournalWriteError):
        sink.record({"uid": "lost", "key": "k"})
    monkeypatch.undo()
    assert failures == [1] and sink._segment.stat().st_size == 0  # no fragment left behind
    sink.close()


def test_rotations_racing_writes_lose_and_duplicate_nothing(tmp_path, monkeypatch):
    """Writers hitting a full disk now and then (rotating from the request path) while the shipper rotates every
    fully shipped segment: every hit that record() accepted is shipped exactly once, and only those."""
    fake = FakeRedis()
    sink = journal.JournalSink(fake, tmp_path / "journal", interval=0.0, sync_interval=0.01, rotate_age=0.0)
    sink.record({"uid": "first", "key": "k"})
    real_write, calls, calls_lock = journal.os.write, [0], threading.Lock()

    def sometimes_full(fd, data):
        with calls_lock:
            calls[0] += 1
            full = calls[0] % 7 == 0
        if full:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(journal.os, "write", sometimes_full)
    accepted, accepted_lock = ["first"], threading.Lock()

    def writer(n):
        for i in range(300):
            uid = f"w{n}-{i}"
            try:
                sink.record({"uid": uid, "key": "k"})
            except journal.JournalWriteError:
                continue
            with accepted_lock:
                accepted.append(uid)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    monkeypatch.undo()
    assert not any(t.is_alive() for t in threads)
    assert sink.flush(timeout=10)
    shipped = Counter(fake.uids())
    assert shipped == Counter(accepted)  # exactly once each
    assert 300 < len(accepted) < 1201
    sink.close()
    assert list((tmp_path / "journal").iterdir()) == []


def test_a_rotation_from_the_request_path_during_a_shipping_pass_keeps_the_new_segments_offsets(tmp_path, monkeypatch):
    """record() rotates (disk full) while the shipper is between reading the segment and recording how far it got:
    the shipper must not write the old segment's offset onto the new one (that would skip the new hits)."""
    fake = FakeRedis()
    sink = journal.JournalSink(fake, tmp_path / "journal", interval=60.0, rotate_age=3600)  # ships only when asked
    sink.record({"uid": "h0", "key": "k"})
    sink.ship()
    real_ship_file, raced = sink._ship_file, []

    def ship_file_racing_a_full_disk(path, offset, limit=None):
        done = real_ship_file(path, offset, limit)
        if path == sink._segment and not raced:
            old_fd = sink._fd
            _disk_full(monkeypatch, sink, lambda: {old_fd}, times=1)
            sink.record({"uid": "h1", "key": "k"})  # rotates: the old segment is fully shipped
            raced.append(path)
        return done

    monkeypatch.setattr(sink, "_ship_file", ship_file_racing_a_full_disk)
    sink.ship()
    monkeypatch.undo()
    assert raced and not raced[0].exists() and sink._segment != raced[0]
    assert sink.pending() > 0  # h1 waits in the new segment
    sink.ship()
    assert fake.uids() == ["h0", "h1"] and sink.pending() == 0
    sink.close()


def test_the_failures_and_the_backlog_are_in_the_metrics(tmp_path, monkeypatch):
    from services.observability import make_metrics

    metrics = make_metrics(lambda: {})
    fake = FakeRedis()
    fake.down = True
    sink = journal.JournalSink(fake, tmp_path / "journal", interval=0.001,
                               on_write_failure=metrics.journal_write_failures.inc)
    metrics.watch_journal(sink.pending)
    sink.record({"uid": "h0", "key": "k"})
    _disk_full(monkeypatch, sink, lambda: {sink._fd})
    for _ in range(2):
        with pytest.raises(journal.JournalWriteError):
            sink.record({"uid": "lost", "key": "k"})
    monkeypatch.undo()
    text = metrics.render()[0].decode()
    assert "prefix_journal_write_failures_total 2.0" in text
    line = b'{"uid":"h0","key":"k"}\n'  # the one hit Redis has not taken
    assert f"prefix_journal_pending_bytes {float(len(line))}" in text
    fake.down = False
    assert sink.flush(timeout=10)
    assert "prefix_journal_pending_bytes 0.0" in metrics.render()[0].decode()
    sink.close()

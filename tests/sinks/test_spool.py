import json
import os
import signal
import subprocess
import sys
import textwrap

from ingestion.spool import SpoolReader, SpoolWriter


def _lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_append_is_visible_only_after_seal(tmp_path):
    writer = SpoolWriter(tmp_path, max_bytes=1 << 20, max_age_s=3600)
    assert writer.append([{"n": 1}, {"n": 2}]) == 2
    reader = SpoolReader(tmp_path)
    assert reader.pending() == []
    assert reader.recover_orphans() == []  # the live writer still holds its lock
    sealed = writer.seal()
    assert reader.pending() == [sealed]
    assert _lines(sealed) == [{"n": 1}, {"n": 2}]


def test_segments_seal_by_size(tmp_path):
    writer = SpoolWriter(tmp_path, max_bytes=200, max_age_s=3600)
    for n in range(30):
        writer.append([{"n": n, "pad": "x" * 20}])
    writer.seal()
    segments = SpoolReader(tmp_path).pending()
    assert len(segments) > 3
    assert [r["n"] for s in segments for r in _lines(s)] == list(range(30))


def test_mark_loaded_moves_segments_out_of_pending(tmp_path):
    with SpoolWriter(tmp_path) as writer:
        writer.append([{"n": 1}])
    reader = SpoolReader(tmp_path)
    pending = reader.pending()
    reader.mark_loaded(pending)
    assert reader.pending() == []
    assert reader.stats()["loaded_segments"] == 1


def test_killed_writer_leaves_no_torn_record(tmp_path):
    """kill -9 in the middle of a write: what was acknowledged survives, the torn tail goes."""
    script = textwrap.dedent(f"""
        import os, signal, sys
        sys.path.insert(0, {str(os.getcwd())!r})
        from ingestion.spool import SpoolWriter
        w = SpoolWriter({str(tmp_path)!r}, max_age_s=3600)
        w.append([{{"n": n}} for n in range(100)])
        print("acked", flush=True)
        os.write(w._fd, b'{{"n": 100, "half')  # a record cut short by the crash
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert proc.returncode == -signal.SIGKILL
    assert proc.stdout.strip() == "acked"
    reader = SpoolReader(tmp_path)
    sealed = reader.recover_orphans()
    assert len(sealed) == 1
    assert [r["n"] for r in _lines(sealed[0])] == list(range(100))
    assert sealed[0].read_bytes().endswith(b"\n")

"""The `journey` command's own behaviour: messages and exit codes."""

from orchestration.cli import main
from tests.conftest import event, write_lines


def test_import_reports_bad_lines_by_file_and_line(settings, tmp_path, capsys):
    path = write_lines(tmp_path / "mixed.ndjson", [
        event("e1", "message.received", "2026-11-02T09:00:00Z", message_id="m1"),
        "{not json",
        event("e2", "agent.assigned", "2026-11-02T09:00:01Z", agent_id="a1"),
    ])
    assert main(["import", str(path)]) == 0
    out = capsys.readouterr().out
    assert "1 events accepted" in out and "2 lines quarantined" in out
    assert f"{path}:2: invalid JSON" in out
    assert f"{path}:3: properties.team: Field required" in out
    assert main(["import", "--strict", str(path)]) == 1


def test_missing_file_and_bad_setting_are_clear_errors(settings, tmp_path, capsys, monkeypatch):
    assert main(["import", str(tmp_path / "nope.ndjson")]) == 2
    assert "no such file" in capsys.readouterr().err
    monkeypatch.setenv("JOURNEY_TTL_HOURS", "soon")
    assert main(["run"]) == 2
    assert "JOURNEY_TTL_HOURS must be a number" in capsys.readouterr().err

"""The settings package: one place reads the environment, validates it at start-up and
hands each part its section (docs/contract.md §8.2)."""

from __future__ import annotations

import ast
import os
import re
from pathlib import Path

import pytest
import yaml

from ingestion.settings import CollectorConfig, PostgresSettings, Settings, SinkConfig, SmtpSettings
from ingestion.settings.collector import CONFIG_FILE_VARIABLE
from ingestion.settings.source import Source
from tests.support import REPO

HOME = {"JOURNEY_HOME": "/tmp/journey-settings-test"}


def test_defaults_give_every_section():
    settings = Settings.from_env(HOME)
    assert settings.home == Path(HOME["JOURNEY_HOME"])
    assert settings.warehouse == settings.home / "warehouse.duckdb"
    assert settings.serving_db == settings.home / "serving" / "journey.duckdb"
    assert settings.reports_dir == settings.home / "reports"
    assert (settings.ttl_hours, settings.ttl_clock, settings.destination) == (24.0, "watermark", "duckdb")
    assert (settings.segment_max_bytes, settings.segment_max_age_s) == (64 << 20, 5.0)
    assert (settings.load_batch_bytes, settings.duckdb_memory_limit) == (256 << 20, "2GB")
    assert settings.sink == SinkConfig() and settings.sink.kind == "file"
    assert settings.postgres == PostgresSettings(host="localhost", port=5432, user="journey", dbname="journey")
    assert settings.smtp == SmtpSettings() and settings.smtp.host is None


def test_every_section_comes_from_the_one_environment():
    settings = Settings.from_env({
        **HOME, "JOURNEY_WAREHOUSE": "/tmp/w.duckdb", "JOURNEY_STORE_MESSAGE_TEXT": "yes",
        "JOURNEY_SINK": "nats", "JOURNEY_NATS_URL": "tls://broker:4222", "JOURNEY_NATS_FETCH_BATCH": "50",
        "JOURNEY_DESTINATION": "postgres", "JOURNEY_PG_HOST": "db", "JOURNEY_PG_PORT": "6432",
        "JOURNEY_PG_PASSWORD": "pg-secret", "JOURNEY_SMTP_HOST": "mail", "JOURNEY_SMTP_PASSWORD": "smtp-secret",
        "JOURNEY_REPORT_FROM": "j@example.org", "JOURNEY_REPORT_TO": "a@example.org, b@example.org",
    })
    assert settings.warehouse == Path("/tmp/w.duckdb") and settings.store_message_text
    assert (settings.sink.kind, settings.sink.nats_url, settings.sink.nats_fetch_batch) == ("nats", "tls://broker:4222", 50)
    assert (settings.destination, settings.postgres.host, settings.postgres.port) == ("postgres", "db", 6432)
    assert settings.smtp.recipients == ("a@example.org", "b@example.org")
    assert settings.dbt_env() == {"JOURNEY_WAREHOUSE": "/tmp/w.duckdb", "JOURNEY_DUCKDB_MEMORY_LIMIT": "2GB"}
    # Secrets and the sections stay out of the repr `journey run` fingerprints (orchestration/run_state.py).
    assert repr(settings) == repr(Settings.from_env({**HOME, "JOURNEY_WAREHOUSE": "/tmp/w.duckdb",
                                                     "JOURNEY_STORE_MESSAGE_TEXT": "yes",
                                                     "JOURNEY_DESTINATION": "postgres"}))
    assert "secret" not in repr(settings) + repr(settings.postgres) + repr(settings.smtp)


# variable | value | what the error says (each names its variable)
INVALID = """
JOURNEY_TTL_HOURS | soon | JOURNEY_TTL_HOURS must be a number, got 'soon'
JOURNEY_SEGMENT_MAX_AGE_S | 0 | JOURNEY_SEGMENT_MAX_AGE_S must be positive
JOURNEY_TTL_HOURS | nan | JOURNEY_TTL_HOURS must be a finite number, got 'nan'
JOURNEY_SEGMENT_MAX_BYTES | 0.5 | JOURNEY_SEGMENT_MAX_BYTES must be a whole number, got '0.5'
JOURNEY_LOAD_BATCH_BYTES | 0 | JOURNEY_LOAD_BATCH_BYTES must be 1 or more, got '0'
JOURNEY_NATS_REPLICAS | 0 | JOURNEY_NATS_REPLICAS must be 1 or more, got '0'
JOURNEY_TTL_CLOCK | sundial | JOURNEY_TTL_CLOCK must be one of watermark, wall, got 'sundial'
JOURNEY_DESTINATION | oracle | JOURNEY_DESTINATION must be one of duckdb, postgres
JOURNEY_DUCKDB_MEMORY_LIMIT | lots | JOURNEY_DUCKDB_MEMORY_LIMIT must be a size such as 2GB
JOURNEY_SERVING_DB | /tmp/serving/marts.duckdb | JOURNEY_SERVING_DB must not be named marts.duckdb
JOURNEY_SINK | kafka | JOURNEY_SINK must be one of file, nats, got 'kafka'
JOURNEY_NATS_SUBJECT | journey.> | JOURNEY_NATS_SUBJECT must match
JOURNEY_NATS_URL | http://broker | JOURNEY_NATS_URL must start with nats:// or tls://
JOURNEY_PG_PORT | fivefour | JOURNEY_PG_PORT must be a whole number, got 'fivefour'
JOURNEY_PG_PORT |  | JOURNEY_PG_PORT must be a whole number, got ''
JOURNEY_SMTP_PORT | smtp | JOURNEY_SMTP_PORT must be a whole number, got 'smtp'
JOURNEY_SMTP_PORT | 99999 | JOURNEY_SMTP_PORT must be from 1 to 65535, got '99999'
JOURNEY_PG_PORT | -5 | JOURNEY_PG_PORT must be from 1 to 65535, got '-5'
JOURNEY_SMTP_HOST | mail.example.org | JOURNEY_REPORT_FROM and JOURNEY_REPORT_TO are needed too
JOURNEY_HASH_KEY | short | JOURNEY_HASH_KEY must be at least 32 characters
JOURNEY_RECONTACT_WINDOW_DAYS | 0 | JOURNEY_RECONTACT_WINDOW_DAYS must be positive
JOURNEY_SHORT_ABANDON_S | -1 | JOURNEY_SHORT_ABANDON_S must be zero or more, got '-1'
JOURNEY_SERVICE_LEVEL_THRESHOLDS_S | 60,1m | JOURNEY_SERVICE_LEVEL_THRESHOLDS_S must be whole seconds separated by commas
JOURNEY_SERVICE_LEVEL_THRESHOLDS_S | 60,60 | JOURNEY_SERVICE_LEVEL_THRESHOLDS_S must be distinct whole seconds above 0
JOURNEY_SERVICE_LEVEL_THRESHOLDS_S | 0,60 | JOURNEY_SERVICE_LEVEL_THRESHOLDS_S must be distinct whole seconds above 0
JOURNEY_REPORTING_TIMEZONE | Mars/Olympus | JOURNEY_REPORTING_TIMEZONE must be an IANA time zone such as Europe/Amsterdam, got 'Mars/Olympus'
"""


@pytest.mark.parametrize(("name", "value", "message"),
                         [tuple(cell.strip() for cell in row.split("|")) for row in INVALID.strip().splitlines()])
def test_an_invalid_value_fails_at_start_up_naming_its_variable(name, value, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        Settings.from_env({**HOME, name: value})


def test_an_empty_variable_is_unset_except_where_dbt_reads_it_as_set():
    settings = Settings.from_env({**HOME, "JOURNEY_WAREHOUSE": "", "JOURNEY_TTL_HOURS": "", "JOURNEY_SINK": "",
                                  "JOURNEY_PG_HOST": "", "JOURNEY_PG_PASSWORD": ""})
    assert (settings.warehouse, settings.ttl_hours, settings.sink.kind) == (
        settings.home / "warehouse.duckdb", 24.0, "file")
    assert (settings.postgres.host, settings.postgres.password) == ("", "")  # as dbt's env_var('X', default)


def test_dbt_profile_defaults_are_the_settings_defaults():
    """dbt_project/profiles.yml cannot import them; the two copies must agree."""
    profile = (REPO / "dbt_project" / "profiles.yml").read_text()
    defaults = dict(re.findall(r"env_var\('(JOURNEY_[A-Z_]+)', '([^']*)'\)", profile))
    settings = Settings.from_env(HOME)
    pg = PostgresSettings()
    assert defaults == {
        "JOURNEY_WAREHOUSE": "data/warehouse.duckdb",  # relative: for dbt run by hand at the repository root
        "JOURNEY_DUCKDB_MEMORY_LIMIT": settings.duckdb_memory_limit,
        "JOURNEY_PG_HOST": pg.host, "JOURNEY_PG_PORT": str(pg.port), "JOURNEY_PG_USER": pg.user,
        "JOURNEY_PG_PASSWORD": "", "JOURNEY_PG_DBNAME": pg.dbname,
    }
    assert set(settings.dbt_env()) <= set(defaults)


def test_dbt_var_defaults_are_the_settings_defaults():
    """Every run passes the vars; dbt run by hand takes dbt_project.yml's, which must agree."""
    project = yaml.safe_load((REPO / "dbt_project" / "dbt_project.yml").read_text())
    assert project["vars"] == Settings.from_env(HOME).dbt_vars()


def test_the_contract_names_every_variable_the_settings_read():
    source = Source.with_file({}, CONFIG_FILE_VARIABLE)
    Settings.read(source)
    CollectorConfig.read(source)
    contract = (REPO / "docs" / "contract.md").read_text()
    table = contract.split("### 8.2 Configuration", 1)[1].split("### 8.3", 1)[0]
    named = set(re.findall(r"`((?:JOURNEY|DAGSTER)_[A-Z_]+)`", table))
    deployment = (REPO / "docs" / "deployment.md").read_text()
    nats = {name for name in source.asked if name.startswith("JOURNEY_NATS_")}
    assert "JOURNEY_NATS_" in table and all(f"`{name}`" in deployment for name in nats)
    assert source.asked - nats - named == set()
    assert len(source.asked) > 45  # every section was read


def test_nothing_outside_the_settings_package_reads_journey_variables():
    """`os.environ["JOURNEY_…"]`, `os.environ.get("JOURNEY_…")`, `os.getenv("JOURNEY_…")` in the
    shipped code would be a second place that reads the configuration; so would the same
    with a constant that holds the name (`os.environ.get(PASSWORD_VARIABLE)`)."""
    modules = {path: ast.parse(path.read_text()) for package in ("ingestion", "orchestration", "dashboard")
               for path in (REPO / package).rglob("*.py") if "settings" not in path.relative_to(REPO).parts}
    constants = {target.id: node.value.value for tree in modules.values() for node in tree.body
                 if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
                 for target in node.targets if isinstance(target, ast.Name)}

    def name_in(key: ast.expr) -> object:
        return key.value if isinstance(key, ast.Constant) else constants.get(getattr(key, "id", None))

    readers = []
    for path, tree in modules.items():
        for node in ast.walk(tree):
            key = None
            if isinstance(node, ast.Subscript):
                key = node.slice
            elif isinstance(node, ast.Call) and node.args:
                is_get = isinstance(node.func, ast.Attribute) and node.func.attr in {"get", "getenv", "pop"}
                key = node.args[0] if is_get else None
            name = name_in(key) if key is not None else None
            if isinstance(name, str) and name.startswith("JOURNEY_"):
                readers.append(f"{path.relative_to(REPO)}:{node.lineno}: {name}")
    assert readers == []


def test_building_the_settings_leaves_the_environment_alone(monkeypatch):
    monkeypatch.delenv("JOURNEY_WAREHOUSE", raising=False)
    before = dict(os.environ)
    Settings.from_env()
    CollectorConfig.load()
    assert dict(os.environ) == before

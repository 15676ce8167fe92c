import os
import re
import subprocess
import sys

import pytest

from ingestion.settings import CollectorConfig
from ingestion.collector.tokens import TokenError, TokenKeys
from ingestion.settings.source import Source
from tests.support import REPO


def test_file_values_and_environment_precedence(tmp_path):
    path = tmp_path / "collector.toml"
    path.write_text('api_keys = ["from-file"]\ncors_origins = ["https://a.example"]\n'
                    'token_keys = ["k9:' + "s" * 40 + '"]\nspool_max_bytes = 1234\n')
    config = CollectorConfig.load({"JOURNEY_COLLECTOR_CONFIG": str(path), "JOURNEY_API_KEYS": "env-1,env-2"})
    assert config.api_keys == ("env-1", "env-2")            # the environment wins
    assert config.cors_origins == frozenset({"https://a.example"})
    assert config.spool_max_bytes == 1234
    assert list(config.token_keys.keys) == ["k9"] and not config.generated_token_key
    assert "env-1" not in repr(config) and "s" * 40 not in repr(config)  # secrets stay out of logs


def test_an_empty_variable_leaves_the_file_value_and_bad_values_name_their_variable(tmp_path):
    path = tmp_path / "collector.toml"
    path.write_text('cors_origins = "https://a.example, https://b.example"\nmax_body_bytes = "big"\n')
    with pytest.raises(ValueError, match="JOURNEY_MAX_BODY_BYTES must be a whole number, got 'big'"):
        CollectorConfig.load({"JOURNEY_COLLECTOR_CONFIG": str(path)})
    config = CollectorConfig.load({"JOURNEY_COLLECTOR_CONFIG": str(path), "JOURNEY_MAX_BODY_BYTES": "2048",
                                   "JOURNEY_CORS_ORIGINS": ""})
    assert config.max_body_bytes == 2048
    assert config.cors_origins == frozenset({"https://a.example", "https://b.example"})
    assert config.generated_token_key and CollectorConfig.load({}).api_keys == ()


@pytest.mark.parametrize(("variable", "value", "message"), [
    ("JOURNEY_MAX_BODY_BYTES", "-1", "JOURNEY_MAX_BODY_BYTES must be 1 or more, got '-1'"),
    ("JOURNEY_SPOOL_MAX_BYTES", "0", "JOURNEY_SPOOL_MAX_BYTES must be 1 or more, got '0'"),
    ("JOURNEY_TOKEN_TTL_S", "0", "JOURNEY_TOKEN_TTL_S must be 1 or more, got '0'"),
])
def test_a_size_or_duration_below_one_is_refused_naming_its_variable(variable, value, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        CollectorConfig.load({variable: value})


@pytest.mark.parametrize(("toml", "read_as"), [("2.9", "2.9"), ("true", "True")])
def test_a_file_count_that_is_not_whole_is_refused_not_rounded(tmp_path, toml, read_as):
    path = tmp_path / "collector.toml"
    path.write_text(f"max_body_bytes = {toml}\n")
    with pytest.raises(ValueError, match=f"JOURNEY_MAX_BODY_BYTES must be a whole number, got {read_as}$"):
        CollectorConfig.load({"JOURNEY_COLLECTOR_CONFIG": str(path)})


def test_a_key_the_file_misspells_or_that_is_not_the_collectors_is_refused_not_ignored(tmp_path):
    path = tmp_path / "collector.toml"
    path.write_text('api_key = ["from-file"]\ncors_origins = ["https://a.example"]\nhash_key = "' + "h" * 40 + '"\n')
    with pytest.raises(ValueError, match=re.escape(f"JOURNEY_COLLECTOR_CONFIG names {path}, whose keys api_key, "
                                                   "hash_key are not the collector's own settings")):
        CollectorConfig.load({"JOURNEY_COLLECTOR_CONFIG": str(path)})


def test_the_contract_lists_as_the_files_settings_those_the_collector_reads():
    """docs/contract.md §8.2: the rows from JOURNEY_API_KEYS to JOURNEY_COLLECTOR_CONFIG."""
    table = (REPO / "docs" / "contract.md").read_text().split("### 8.2 Configuration", 1)[1]
    rows = table[table.index("| `JOURNEY_API_KEYS`"):table.index("| `JOURNEY_COLLECTOR_CONFIG`")]
    source = Source({})
    CollectorConfig.read(source)
    assert set(re.findall(r"`(JOURNEY_[A-Z_]+)`", rows)) == source.asked


@pytest.mark.parametrize("content", [None, "api_keys = [", b"\xff\xfe"])
def test_a_config_file_that_cannot_be_read_names_the_variable(tmp_path, content):
    path = tmp_path / "collector.toml"
    if isinstance(content, str):
        path.write_text(content)
    elif content is not None:
        path.write_bytes(content)
    with pytest.raises(ValueError, match=f"JOURNEY_COLLECTOR_CONFIG names {path}, which cannot be read as TOML"):
        CollectorConfig.load({"JOURNEY_COLLECTOR_CONFIG": str(path)})


def test_short_or_malformed_token_keys_are_refused():
    with pytest.raises(ValueError, match="shorter than 32 bytes"):
        TokenKeys.parse("k1:short")
    with pytest.raises(ValueError, match="JOURNEY_TOKEN_KEYS: token key 'k1' is shorter than 32 bytes"):
        CollectorConfig.load({"JOURNEY_TOKEN_KEYS": "k1:short"})
    with pytest.raises(ValueError, match="kid:secret"):
        TokenKeys.parse("no-separator-" + "x" * 40)


def test_key_rotation_old_tokens_verify_new_key_signs():
    old = TokenKeys.parse("old:" + "o" * 40)
    token, _ = old.issue({"cid": "c1", "sub": "h:1"})
    rotated = TokenKeys.parse("new:" + "n" * 40 + ",old:" + "o" * 40)
    assert rotated.verify(token)["cid"] == "c1"
    fresh, _ = rotated.issue({"cid": "c2", "sub": "h:2"})
    assert rotated.verify(fresh)["cid"] == "c2"
    with pytest.raises(TokenError, match="unknown key id"):
        old.verify(fresh)


def test_the_collector_refuses_a_bad_setting_in_one_line_naming_it(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "ingestion.collector", "--port", "1"], capture_output=True, text=True,
                          env={**os.environ, "JOURNEY_HOME": str(tmp_path), "JOURNEY_MAX_BODY_BYTES": "0"}, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr == "journey collect: JOURNEY_MAX_BODY_BYTES must be 1 or more, got '0'\n"

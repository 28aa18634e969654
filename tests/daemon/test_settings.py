from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from daemon.settings import Settings, load_settings
from models.errors import ConfigurationError


def test_defaults_name_the_three_topics() -> None:
    settings = Settings()
    assert (settings.input_topic, settings.drafts_topic, settings.deadletter_topic) == (
        "emails.incoming",
        "emails.drafts",
        "emails.deadletter",
    )


def test_precedence_is_overrides_then_env_then_toml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "replyd.toml"
    config.write_text('group_id = "from-toml"\nmax_batch_size = 7\nengine = "echo"\n')
    monkeypatch.setenv("REPLYD_GROUP_ID", "from-env")
    settings = load_settings(config)
    assert settings.group_id == "from-env"
    assert settings.max_batch_size == 7
    settings = load_settings(config, group_id="from-flag", engine=None)
    assert settings.group_id == "from-flag"
    assert settings.engine == "echo"


def test_settings_are_frozen_and_validated(tmp_path: Path) -> None:
    settings = Settings()
    with pytest.raises(ValidationError):
        settings.group_id = "other"  # type: ignore[misc]
    with pytest.raises(ValidationError):
        Settings(bootstrap_servers="no-port")
    with pytest.raises(ValidationError):
        Settings(engine="gpt")  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        Settings(unknown_setting=1)  # type: ignore[call-arg]
    with pytest.raises(ConfigurationError, match="does not exist"):
        load_settings(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("group_id = ")
    with pytest.raises(ConfigurationError, match="not valid TOML"):
        load_settings(bad)


def test_allowed_domains_are_host_names() -> None:
    import pytest
    from pydantic import ValidationError

    from daemon.settings import Settings

    assert Settings(allowed_domains=(" Shop.Example. ", "")).allowed_domains == ("shop.example",)
    for bad in ("com", "https://shop.example", "help@shop.example"):
        with pytest.raises(ValidationError):
            Settings(allowed_domains=(bad,))


def test_the_sasl_password_is_secret_and_no_flag(monkeypatch: pytest.MonkeyPatch) -> None:
    import pytest

    from daemon.cli import build_parser
    from daemon.settings import Settings

    monkeypatch.setenv("REPLYD_SASL_PASSWORD", "hunter2")
    settings = Settings(sasl_mechanism="PLAIN", sasl_username="u",
                        security_protocol="SASL_PLAINTEXT")
    assert "hunter2" not in repr(settings) and "hunter2" not in settings.model_dump_json()
    assert settings.kafka_common()["sasl_plain_password"] == "hunter2"
    with pytest.raises(SystemExit):
        build_parser().parse_args(["run", "--sasl-password", "hunter2"])


def test_engine_keys_are_secrets_from_env_or_toml_and_the_ca_bundle_must_exist(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("REPLYD_ENGINE_API_KEY", "env-key-1")
    config = tmp_path / "replyd.toml"
    config.write_text('reply_engine_api_key = "toml-key-2"\nengine_api_key = "toml-key-0"\n')
    settings = load_settings(config)
    assert settings.engine_api_key is not None and settings.reply_engine_api_key is not None
    assert settings.engine_api_key.get_secret_value() == "env-key-1"  # env over TOML
    assert settings.reply_engine_api_key.get_secret_value() == "toml-key-2"
    for shown in (repr(settings), str(settings), settings.model_dump_json()):
        assert "env-key-1" not in shown and "toml-key-2" not in shown

    bundle = tmp_path / "ca.pem"
    with pytest.raises(ValidationError, match="engine_ca_bundle"):
        Settings(engine_ca_bundle=bundle)
    with pytest.raises(ValidationError, match="engine_ca_bundle"):
        Settings(engine_ca_bundle=tmp_path)  # a folder is no bundle
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    assert Settings(engine_ca_bundle=bundle).engine_ca_bundle == bundle


def test_the_toml_file_is_pydantic_settings_own_source(tmp_path: Path) -> None:
    from pydantic_settings import TomlConfigSettingsSource

    from daemon import settings as module

    config = tmp_path / "replyd.toml"
    config.write_text('tasks = ["reply"]\n')
    seen: list[tuple[str, ...]] = []
    original = Settings.settings_customise_sources

    def spy(*args: object, **kwargs: object) -> tuple[object, ...]:
        sources = original(*args, **kwargs)  # type: ignore[arg-type]
        seen.append(tuple(type(s).__name__ for s in sources))
        return sources

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Settings, "settings_customise_sources", spy)
        assert load_settings(config).tasks == ("reply",)
        assert Settings().tasks != ("reply",)  # only while load_settings builds
    assert seen[0][-1] == TomlConfigSettingsSource.__name__
    assert TomlConfigSettingsSource.__name__ not in seen[1]
    assert module._TOML_FILE.get() is None


def test_a_bad_toml_value_names_its_key(tmp_path: Path) -> None:
    from daemon.cli_args import validation_lines

    config = tmp_path / "replyd.toml"
    config.write_text("max_batch_size = 0\nno_such_setting = 1\n")
    with pytest.raises(ValidationError) as caught:
        load_settings(config)
    lines = validation_lines(caught.value)
    assert ("replyd: --max-batch-size / REPLYD_MAX_BATCH_SIZE: Input should be greater than "
            "or equal to 1 (got 0)") in lines
    assert "replyd: no_such_setting: not a setting (in the --config file?)" in lines
    folder = tmp_path / "folder.toml"
    folder.mkdir()
    with pytest.raises(ConfigurationError, match="does not exist"):
        load_settings(folder)


def test_the_tasks_setting_lists_stages_so_analysis_is_refused() -> None:
    # "analysis" is an adapter task (the joint first stage: analysis="joint"), not a stage.
    with pytest.raises(ValidationError):
        Settings(tasks=("sentiment", "analysis", "reply"))
    assert Settings(analysis="joint").tasks == ("sentiment", "entities", "reply")

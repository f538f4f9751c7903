"""The Prefect blocks: Prefect's standard block checks, secrets that never leak, and configs validated on creation."""

from __future__ import annotations

import os
from importlib.metadata import entry_points

import pytest
from prefect.blocks.core import Block
from prefect.testing.standard_test_suites import BlockStandardTestSuite
from pydantic import SecretStr, ValidationError

from modelswap import Config, ConfigError
from modelswap._presets import PRESETS
from modelswap._redact import redact
from modelswap.tasks import ModelSwapConfig, ModelSwapCredentials, complete

GROQ_KEY = "gsk_" + "A1b2C3d4" * 5
OPENAI_KEY = "sk-proj-" + "Z9y8X7w6" * 5
OTHER_SECRET = "inhouse-token-0123456789"

CONFIG = """\
default: fast
providers:
  local: {preset: vllm, base_url: 'http://127.0.0.1:1/v1'}
models:
  fast: {provider: local, model_id: small}
  big: {provider: local, model_id: large}
"""


class _NoNetworkLogo:
    @pytest.mark.skip(reason="downloads the logo over the network to measure it; the test sandbox has no network")
    def test_has_a_valid_image(self, block: type[Block]) -> None:
        pass


class TestModelSwapCredentialsIsAStandardBlock(_NoNetworkLogo, BlockStandardTestSuite):
    @pytest.fixture
    def block(self) -> type[Block]:
        return ModelSwapCredentials


class TestModelSwapConfigIsAStandardBlock(_NoNetworkLogo, BlockStandardTestSuite):
    @pytest.fixture
    def block(self) -> type[Block]:
        return ModelSwapConfig


def test_the_blocks_have_names_slugs_and_https_urls():
    for block, slug in ((ModelSwapCredentials, "modelswap-credentials"), (ModelSwapConfig, "modelswap-config")):
        assert block.get_block_type_slug() == slug
        assert str(block._logo_url).startswith("https://") and str(block._documentation_url).startswith("https://")


# -- credentials ------------------------------------------------------------------------------------------------


def test_every_preset_key_variable_has_a_field():
    wanted = {preset["api_key_env"] for preset in PRESETS.values() if preset.get("api_key_env")}
    fields = {field.title for name, field in ModelSwapCredentials.model_fields.items() if name != "extra"}
    assert wanted <= fields, f"add fields for {sorted(wanted - fields)}"
    for name, field in ModelSwapCredentials.model_fields.items():
        if name != "extra":
            assert name == field.title.lower()  # groq_api_key <-> GROQ_API_KEY


def _credentials() -> ModelSwapCredentials:
    return ModelSwapCredentials(
        groq_api_key=GROQ_KEY, openai_api_key=OPENAI_KEY, extra={"INHOUSE_TOKEN": OTHER_SECRET},
    )


def test_secrets_never_show_in_repr_str_or_json():
    credentials = _credentials()
    for text in (repr(credentials), str(credentials), credentials.model_dump_json(), str(credentials.model_dump()),
                 str(credentials.model_dump(mode="json"))):
        for secret in (GROQ_KEY, OPENAI_KEY, OTHER_SECRET):
            assert secret not in text
    assert credentials.model_dump(mode="json")["groq_api_key"] == "**********"
    assert credentials.model_dump(mode="json")["extra"] == {"INHOUSE_TOKEN": "**********"}


def test_environ_maps_variable_names_to_secret_values():
    assert _credentials().environ() == {
        "GROQ_API_KEY": GROQ_KEY, "OPENAI_API_KEY": OPENAI_KEY, "INHOUSE_TOKEN": OTHER_SECRET,
    }
    # extra wins over a field naming the same variable; empty values are left out.
    both = ModelSwapCredentials(groq_api_key="gsk_field", extra={"GROQ_API_KEY": "gsk_extra", "EMPTY": ""})
    assert both.environ() == {"GROQ_API_KEY": "gsk_extra"}
    assert ModelSwapCredentials().environ() == {}
    # Once applied, the values are masked wherever modelswap redacts text.
    assert OTHER_SECRET not in redact(f"the server said: bad token {OTHER_SECRET}")


def test_extra_keys_must_be_variable_names_and_errors_do_not_echo_secrets():
    with pytest.raises(ValidationError, match="environment variable names") as caught:
        ModelSwapCredentials(extra={"not a name": OTHER_SECRET})
    assert OTHER_SECRET not in str(caught.value)


def test_applied_sets_the_variables_and_restores_them(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "the-old-value")
    monkeypatch.delenv("GROQ_API_KEY", raising=False)
    monkeypatch.delenv("INHOUSE_TOKEN", raising=False)
    with _credentials().applied() as applied:
        assert set(applied) == {"GROQ_API_KEY", "OPENAI_API_KEY", "INHOUSE_TOKEN"}
        assert os.environ["GROQ_API_KEY"] == GROQ_KEY and os.environ["OPENAI_API_KEY"] == OPENAI_KEY
        assert os.environ["INHOUSE_TOKEN"] == OTHER_SECRET
    assert os.environ["OPENAI_API_KEY"] == "the-old-value"
    assert "GROQ_API_KEY" not in os.environ and "INHOUSE_TOKEN" not in os.environ
    with pytest.raises(RuntimeError), _credentials().applied():
        raise RuntimeError("the flow failed")
    assert os.environ["OPENAI_API_KEY"] == "the-old-value" and "GROQ_API_KEY" not in os.environ


def test_applied_lets_the_core_find_the_key(monkeypatch):
    from modelswap import MissingCredentialsError, load_config

    monkeypatch.delenv("GROQ_API_KEY", raising=False)
    provider = load_config().provider("groq")
    with pytest.raises(MissingCredentialsError):
        provider.api_key()
    with ModelSwapCredentials(groq_api_key=GROQ_KEY).applied():
        assert provider.api_key() == GROQ_KEY


# -- config ----------------------------------------------------------------------------------------------------


def test_config_block_yields_the_config():
    block = ModelSwapConfig(yaml=CONFIG)
    config = block.to_config()
    assert isinstance(config, Config) and config.resolve().model_id == "small"
    assert block.load().resolve("big").model_id == "large"  # `load()` on an instance is to_config()
    assert ModelSwapConfig.load.__func__ is Block.load.__func__  # on the class it is still Prefect's loader


def test_default_model_overrides_the_configs_default():
    assert ModelSwapConfig(yaml=CONFIG, default_model="big").to_config().resolve().model_id == "large"
    assert ModelSwapConfig(yaml=CONFIG, default_model="local/other").to_config().resolve().model_id == "other"
    with pytest.raises(ValidationError, match="default_model: .*unknown model alias 'bgi'. Did you mean 'big'"):
        ModelSwapConfig(yaml=CONFIG, default_model="bgi")


@pytest.mark.parametrize("text, message", [
    (CONFIG.replace("model_id: small", "model_idd: small"), r"<ModelSwapConfig block>:5: models\.fast"),
    (CONFIG.replace("default: fast", "default: fats"), r":1: default: .*did you mean 'fast'"),
    ("providers: [unclosed\n", r"<ModelSwapConfig block>:\d+: not valid YAML"),
    (CONFIG.replace("preset: vllm,", "preset: vllm, api_key: sk-proj-abcdefghijklmnop1234,"), "literal API key"),
])
def test_a_bad_config_fails_on_creation_with_its_line(text, message):
    with pytest.raises(ValidationError, match=message) as caught:
        ModelSwapConfig(yaml=text)
    assert "sk-proj-abcdefghijklmnop1234" not in str(caught.value)


def test_header_variables_are_checked_where_the_config_is_used(monkeypatch):
    monkeypatch.delenv("INHOUSE_TOKEN", raising=False)
    url = "base_url: 'http://127.0.0.1:1/v1'"
    text = CONFIG.replace(url, url + ", headers: {X-Token: '${INHOUSE_TOKEN}'}")
    block = ModelSwapConfig(yaml=text)  # the token may only exist where the flow runs
    with pytest.raises(ConfigError, match="INHOUSE_TOKEN"):
        block.to_config()
    with ModelSwapCredentials(extra={"INHOUSE_TOKEN": OTHER_SECRET}).applied():
        assert dict(block.to_config().providers["local"].headers)["X-Token"] == OTHER_SECRET


def test_a_config_block_is_a_task_config(stub):
    text = f"default: m\nproviders:\n  p: {{kind: openai, base_url: '{stub.base_url}', api_key_required: false}}\n" \
           "models:\n  m: {provider: p, model_id: stub-a}\n  n: {provider: p, model_id: stub-b}\n"
    block = ModelSwapConfig(yaml=text, default_model="n")
    assert complete.fn("hello", "m", config=block)["text"] == "echo:hello"
    assert stub.models == {"stub-a": 1}


def test_the_prefect_collections_entry_point_finds_the_blocks():
    found = [ep for ep in entry_points(group="prefect.collections") if ep.name == "modelswap"]
    if not found:
        pytest.skip("the prefect.collections entry point is not in the installed metadata (reinstall modelswap)")
    module = found[0].load()
    assert module.ModelSwapCredentials is ModelSwapCredentials and module.ModelSwapConfig is ModelSwapConfig


# -- with a Prefect backend ------------------------------------------------------------------------------------


def test_blocks_save_and_load_through_the_prefect_api(prefect_harness):
    _credentials().save("modelswap-test-credentials", overwrite=True)
    loaded = ModelSwapCredentials.load("modelswap-test-credentials")
    assert loaded.environ() == _credentials().environ()
    assert isinstance(loaded.extra["INHOUSE_TOKEN"], SecretStr)

    ModelSwapConfig(yaml=CONFIG, default_model="big").save("modelswap-test-config", overwrite=True)
    block = ModelSwapConfig.load("modelswap-test-config")
    assert block.default_model == "big" and block.load().resolve().model_id == "large"

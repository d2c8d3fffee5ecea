from __future__ import annotations

import re
from pathlib import Path

import pytest
from ai_proxy.config import (
    AzureOpenAIConfig,
    BedrockConfig,
    ConfigError,
    VertexConfig,
    load_config,
)

ROOT = Path(__file__).resolve().parents[2]


def test_defaults() -> None:
    config = load_config(None, environ={})
    assert (config.server.host, config.server.port, config.log.level) == ("0.0.0.0", 3000, "info")
    assert config.providers.gemini.base_url == "https://generativelanguage.googleapis.com"
    assert config.providers.openai.base_url == "https://api.openai.com/v1"
    assert config.providers.anthropic.base_url == "https://api.anthropic.com"
    assert config.providers.gemini.api_key is None


def test_example_config_is_valid_and_documents_every_section() -> None:
    config = load_config(ROOT / "config.example.toml", environ={})
    text = (ROOT / "config.example.toml").read_text()
    for section in type(config).model_fields:
        assert f"[{section}" in text, f"config.example.toml does not document [{section}]"


def test_example_config_s_cloud_sections_are_valid_once_uncommented(tmp_path: Path) -> None:
    text = (ROOT / "config.example.toml").read_text()
    start = text.index("# [providers.bedrock]")
    end = text.index("\n\n", start)
    block = re.sub(r"^# (\[|[a-z_]+ = )", r"\1", text[start:end], flags=re.M)
    path = tmp_path / "clouds.toml"
    path.write_text(text[:start] + block + text[end:])
    config = load_config(path, environ={})
    bedrock, vertex = config.providers.get("bedrock"), config.providers.get("vertex")
    azure = config.providers.get("azure_openai")
    assert isinstance(bedrock, BedrockConfig) and bedrock.enabled
    assert bedrock.region == "us-east-1"
    assert isinstance(vertex, VertexConfig) and vertex.project == "my-project"
    assert isinstance(azure, AzureOpenAIConfig) and azure.deployments == {"gpt-4.1": "gpt41-prod"}


def test_environment_overrides_file(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[server]\nport = 4000\n[providers.gemini]\napi_key = "from-file"\n')
    config = load_config(
        path,
        environ={
            "AI_PROXY_SERVER__PORT": "5000",
            "AI_PROXY_PROVIDERS__GEMINI__API_KEY": "from-env",
            "AI_PROXY_ROUTING__ALIASES": '{"claude-sonnet-4-5": ["gemini/gemini-2.5-pro"]}',
            "AI_PROXY_LOG__LEVEL": "DEBUG",
        },
    )
    assert config.server.port == 5000
    assert config.providers.gemini.api_key == "from-env"
    assert config.routing.aliases == {"claude-sonnet-4-5": ["gemini/gemini-2.5-pro"]}
    assert config.log.level == "debug"


def test_config_path_from_environment(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[server]\nport = 4100\n")
    assert load_config(None, environ={"AI_PROXY_CONFIG": str(path)}).server.port == 4100


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"AI_PROXY_SERVER__PROT": "1"}, "unknown config key 'server.prot'"),
        ({"AI_PROXY_SERVER__PORT": "abc"}, "invalid config key 'server.port'"),
        ({"AI_PROXY_SERVER__PORT": "70000"}, "invalid config key 'server.port'"),
        ({"AI_PROXY_LOG__LEVEL": "loud"}, "invalid config key 'log.level'"),
        ({"AI_PROXY_PROVIDERS__GEMINI__BASE_URL": "ftp://x"}, "providers.gemini.base_url"),
    ],
)
def test_bad_values_name_the_key(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")) as info:
        load_config(None, environ=environ)
    assert "\n" not in str(info.value)


def test_bad_toml_and_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[server\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(path, environ={})
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.toml", environ={})

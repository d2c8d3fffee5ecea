"""Deployment artifacts: each linted by its platform's validator; the Lambda zip proven whole."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import httpx
import pytest
import yaml

from .lambda_support import EVENTS
from .processes import ROOT, child_env, free_port, serve
from .upstream import (
    AUTH_ENV,
    CHUNK_PAUSE_SECONDS,
    CLIENT_HEADERS,
    TEXT_CHUNKS,
    GeminiStub,
    full_text,
    messages_body,
)

BIN = Path(sys.executable).parent
K8S = sorted((ROOT / "deploy/k8s").glob("*.yaml"))


def tool(name: str) -> str:
    path = shutil.which(name, path=str(BIN)) or shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed (pip install -e '.[dev]')")
    return path


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_sam_template_passes_cfn_lint() -> None:
    result = run(tool("cfn-lint"), "template.yaml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_sam_template_grants_only_get_secret_value_on_the_one_secret() -> None:
    class Loader(yaml.SafeLoader):
        pass

    # CloudFormation's short-form tags (!Ref, !Sub, ...) as plain values.
    Loader.add_multi_constructor(
        "!",
        lambda loader, suffix, node: (
            loader.construct_scalar(node) if isinstance(node, yaml.ScalarNode) else None
        ),
    )
    template = yaml.load((ROOT / "template.yaml").read_text(), Loader=Loader)
    functions = {
        name: resource
        for name, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }
    assert set(functions) == {"BufferedFunction", "StreamingFunction"}
    for resource in functions.values():
        (policy,) = resource["Properties"]["Policies"]
        (statement,) = policy["Statement"]
        assert statement["Action"] == "secretsmanager:GetSecretValue"
        assert statement["Resource"].endswith(":secret:${ApiKeysSecretName}-??????")
    streaming = functions["StreamingFunction"]["Properties"]
    assert streaming["FunctionUrlConfig"]["InvokeMode"] == "RESPONSE_STREAM"
    assert streaming["Environment"]["Variables"]["AWS_LAMBDA_EXEC_WRAPPER"] == "/opt/bootstrap"
    assert {"ApiKeysSecretName", "ModelAliasesJson"} <= set(template["Parameters"])
    assert {"BufferedApiUrl", "StreamingFunctionUrl"} <= set(template["Outputs"])


def test_kubernetes_manifests_validate() -> None:
    result = run(tool("kubernetes-validate"), "--strict", *map(str, K8S))
    assert result.returncode == 0, result.stdout + result.stderr


def test_deployment_probes_and_security() -> None:
    deployment = yaml.safe_load((ROOT / "deploy/k8s/deployment.yaml").read_text())
    spec = deployment["spec"]
    assert spec["replicas"] == 3
    pod = spec["template"]["spec"]
    (container,) = pod["containers"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/health/live"
    assert container["readinessProbe"]["httpGet"]["path"] == "/health/ready"
    assert container["startupProbe"]["httpGet"]["path"] == "/health/startup"
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert pod["securityContext"]["runAsNonRoot"] is True
    env = {item["name"]: item for item in container["env"]}
    for provider in ("GEMINI", "OPENAI", "ANTHROPIC"):
        ref = env[f"AI_PROXY_PROVIDERS__{provider}__API_KEY"]["valueFrom"]["secretKeyRef"]
        assert ref["name"] == "ai-proxy-api-keys"
    # Room for the drain period and for in-flight streams to finish after SIGTERM.
    grace = pod["terminationGracePeriodSeconds"]
    drain = float(env["AI_PROXY_SERVER__DRAIN_SECONDS"]["value"])
    streams = float(env["AI_PROXY_SERVER__SHUTDOWN_TIMEOUT_SECONDS"]["value"])
    assert grace > drain + streams


def test_dockerfile_passes_hadolint() -> None:
    result = run(tool("hadolint"), "Dockerfile")
    assert result.returncode == 0, result.stdout + result.stderr


def test_cloudbuild_deploys_with_long_timeout_and_service_account() -> None:
    build = yaml.safe_load((ROOT / "cloudbuild.yaml").read_text())
    deploy = next(step for step in build["steps"] if step["id"] == "deploy")
    args = deploy["args"]
    assert args[:3] == ["run", "deploy", "${_SERVICE}"]
    flags = {arg.split("=", 1)[0] for arg in args if arg.startswith("--")}
    assert {
        "--service-account",
        "--min-instances",
        "--max-instances",
        "--concurrency",
        "--timeout",
        "--set-secrets",
    } <= flags
    assert "--timeout=3600" in args


@pytest.fixture(scope="module")
def lambda_zip() -> Path:
    result = run(sys.executable, "scripts/package.py", "lambda")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "MiB zipped" in result.stdout
    return ROOT / "build/ai-proxy-lambda.zip"


# Runs with `python -I -S`: no site-packages, no PYTHONPATH, no current directory; only the
# standard library and the unpacked bundle.
_INVOKE = textwrap.dedent(
    """
    import json, sys, sysconfig
    bundle = sys.argv[1]
    stdlib = (sysconfig.get_path("stdlib"), sysconfig.get_path("platstdlib"))
    sys.path.insert(0, bundle)
    from ai_proxy_aws_lambda import handler as module

    class Context:
        aws_request_id = "zip-test-request"

    event = json.load(open(sys.argv[2]))
    response = module.handler(event, Context())
    outside = sorted(
        name for name, mod in sys.modules.items()
        if (path := getattr(mod, "__file__", None))
        and not path.startswith((bundle, *stdlib))
    )
    print(json.dumps({"response": response, "outside": outside}))
    """
)


@pytest.mark.slow
def test_lambda_zip_is_self_contained(lambda_zip: Path, tmp_path: Path, gemini: GeminiStub) -> None:
    assert lambda_zip.stat().st_size < 50 * 1024 * 1024
    bundle = tmp_path / "task"
    with zipfile.ZipFile(lambda_zip) as archive:
        archive.extractall(bundle)
        names = set(archive.namelist())
    assert "ai_proxy_aws_lambda/handler.py" in names and "run.sh" in names
    assert not any(name.startswith(("boto3/", "botocore/")) for name in names)
    event_file = tmp_path / "event.json"
    event = json.loads((EVENTS / "lambda_function_url.json").read_text())
    event_file.write_text(json.dumps(event))
    env = child_env(
        {
            **AUTH_ENV,
            "AI_PROXY_PROVIDERS__GEMINI__API_KEY": "key-from-env",
            "AI_PROXY_PROVIDERS__GEMINI__BASE_URL": gemini.base_url,
        }
    )

    result = subprocess.run(
        [sys.executable, "-I", "-S", "-c", _INVOKE, str(bundle), str(event_file)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stderr
    output = json.loads(result.stdout.strip().splitlines()[-1])
    response = output["response"]
    assert response["statusCode"] == 200, response
    assert full_text(response["body"].encode()) == "".join(TEXT_CHUNKS)
    assert output["outside"] == []
    assert gemini.keys_seen == ["key-from-env"]


_IMPORT_AZURE_APP = textwrap.dedent(
    """
    import json, sys, sysconfig
    app_dir = sys.argv[1]
    site = app_dir + "/.python_packages/lib/site-packages"
    stdlib = (sysconfig.get_path("stdlib"), sysconfig.get_path("platstdlib"))
    sys.path[:0] = [app_dir, site]
    import function_app
    (function,) = function_app.app.get_functions()
    outside = sorted(
        name for name, mod in sys.modules.items()
        if (path := getattr(mod, "__file__", None)) and not path.startswith((app_dir, *stdlib))
    )
    print(json.dumps({"route": function.get_trigger().route, "outside": outside,
                      "streams": "azurefunctions.extensions.http.fastapi" in sys.modules}))
    """
)


@pytest.mark.slow
def test_azure_app_folder_is_self_contained(tmp_path: Path) -> None:
    result = run(sys.executable, "scripts/package.py", "azure")
    assert result.returncode == 0, result.stdout + result.stderr
    app_dir = ROOT / "build/azure"
    assert {"function_app.py", "host.json", ".python_packages"} <= {
        path.name for path in app_dir.iterdir()
    }
    env = child_env({**AUTH_ENV, "AI_PROXY_PROVIDERS__GEMINI__API_KEY": "key-from-settings"})

    result = subprocess.run(
        [sys.executable, "-I", "-S", "-c", _IMPORT_AZURE_APP, str(app_dir)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stderr
    output = json.loads(result.stdout.strip().splitlines()[-1])
    assert output == {"route": "{*path}", "outside": [], "streams": True}


@pytest.mark.slow
def test_lambda_streaming_entry_relays_sse_incrementally(
    lambda_zip: Path, tmp_path: Path, gemini: GeminiStub
) -> None:
    """run.sh as the Lambda Web Adapter starts it: uvicorn on $PORT from the unpacked bundle."""
    bundle = tmp_path / "task"
    with zipfile.ZipFile(lambda_zip) as archive:
        archive.extractall(bundle)
    port = free_port()
    env = {
        **AUTH_ENV,
        "LAMBDA_TASK_ROOT": str(bundle),
        "PORT": str(port),
        "PATH": f"{BIN}:/usr/bin:/bin",
        "AI_PROXY_PROVIDERS__GEMINI__API_KEY": "key-from-env",
        "AI_PROXY_PROVIDERS__GEMINI__BASE_URL": gemini.base_url,
    }

    arrivals: list[tuple[float, bytes]] = []
    with (
        serve(["sh", str(bundle / "run.sh")], env, port) as url,
        httpx.stream(
            "POST",
            url + "/v1/messages",
            content=messages_body(stream=True),
            headers=CLIENT_HEADERS,
        ) as response,
    ):
        assert response.status_code == 200
        arrivals.extend((time.monotonic(), chunk) for chunk in response.iter_bytes())

    body = b"".join(chunk for _, chunk in arrivals)
    assert full_text(body) == "".join(TEXT_CHUNKS)
    first_text = next(at for at, chunk in arrivals if b"text_delta" in chunk)
    assert arrivals[-1][0] - first_text >= CHUNK_PAUSE_SECONDS * (len(TEXT_CHUNKS) - 1) * 0.8

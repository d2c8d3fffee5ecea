"""Deployment artifacts: each linted by its platform's validator; the Lambda zip proven whole;
every artifact's SBOM naming exactly the packages inside it, each from the lock."""

from __future__ import annotations

import email.parser
import hashlib
import importlib.resources
import json
import re
import shutil
import subprocess
import sys
import tarfile
import textwrap
import time
import zipfile
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from ai_proxy.config import load_config

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
BUILD = ROOT / "build"
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


def load_template() -> dict[str, Any]:
    """template.yaml with CloudFormation's short-form tags (!Ref, !If, ...) in their long form."""

    class Loader(yaml.SafeLoader):  # type: ignore[misc]  # PyYAML ships no types
        pass

    def long_form(loader: Loader, suffix: str, node: yaml.Node) -> dict[str, Any]:
        value: Any
        if isinstance(node, yaml.ScalarNode):
            value = loader.construct_scalar(node)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        return {suffix if suffix == "Ref" else f"Fn::{suffix}": value}

    Loader.add_multi_constructor("!", long_form)
    template: dict[str, Any] = yaml.load((ROOT / "template.yaml").read_text(), Loader=Loader)
    return template


NO_VALUE = object()  # AWS::NoValue: the key or list item is dropped


def evaluate(node: Any, parameters: dict[str, Any], conditions: dict[str, Any]) -> Any:
    """A template value resolved as CloudFormation would, with these parameter values (pseudo
    parameters included) and the template's Conditions; only the functions the template uses
    where this file looks."""
    if isinstance(node, list):
        items = (evaluate(item, parameters, conditions) for item in node)
        return [item for item in items if item is not NO_VALUE]
    if not isinstance(node, dict):
        return node
    if len(node) != 1 or not next(iter(node)).startswith(("Fn::", "Ref")):
        values = {key: evaluate(value, parameters, conditions) for key, value in node.items()}
        return {key: value for key, value in values.items() if value is not NO_VALUE}
    ((function, argument),) = node.items()
    if function == "Ref":
        return NO_VALUE if argument == "AWS::NoValue" else parameters[argument]
    if function == "Fn::Condition":
        return evaluate(conditions[argument], parameters, conditions)
    if function == "Fn::If":
        name, when_true, when_false = argument
        chosen = when_true if evaluate(conditions[name], parameters, conditions) else when_false
        return evaluate(chosen, parameters, conditions)
    values = evaluate(argument, parameters, conditions)
    if function == "Fn::Join":
        separator, items = values
        return separator.join(items)
    if function == "Fn::Split":
        separator, text = values
        return text.split(separator)
    if function == "Fn::Equals":
        left, right = values
        return left == right
    if function == "Fn::Not":
        (value,) = values
        return not value
    if function == "Fn::And":
        return all(values)
    raise AssertionError(f"{function} is not evaluated here")


def template_parameters(template: dict[str, Any], **values: Any) -> dict[str, Any]:
    """Every parameter at its default (a CommaDelimitedList's Ref is a list), then `values`."""
    parameters: dict[str, Any] = {"AWS::Region": "eu-west-1", "AWS::AccountId": "123456789012"}
    for name, spec in template["Parameters"].items():
        default = spec.get("Default")
        parameters[name] = default.split(",") if spec["Type"] == "CommaDelimitedList" else default
    parameters.update(values)
    return parameters


def sam_functions(template: dict[str, Any]) -> dict[str, Any]:
    return {
        name: resource["Properties"]
        for name, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }


def test_sam_template_grants_get_secret_value_on_the_one_secret_and_bedrock_when_on() -> None:
    template = load_template()
    functions = sam_functions(template)
    assert set(functions) == {"BufferedFunction", "StreamingFunction"}
    for properties in functions.values():
        policy, bedrock = properties["Policies"]
        (statement,) = policy["Statement"]
        assert statement["Action"] == "secretsmanager:GetSecretValue"
        assert statement["Resource"]["Fn::Sub"].endswith(":secret:${ApiKeysSecretName}-??????")
        assert bedrock == {
            "Fn::If": ["BedrockOn", {"Ref": "BedrockInvokePolicy"}, {"Ref": "AWS::NoValue"}]
        }
    streaming = functions["StreamingFunction"]
    assert streaming["FunctionUrlConfig"]["InvokeMode"] == "RESPONSE_STREAM"
    assert streaming["Environment"]["Variables"]["AWS_LAMBDA_EXEC_WRAPPER"] == "/opt/bootstrap"
    assert {"ApiKeysSecretName", "ModelAliasesJson"} <= set(template["Parameters"])
    assert {"BufferedApiUrl", "StreamingFunctionUrl"} <= set(template["Outputs"])


@pytest.mark.parametrize(
    ("subnets", "in_vpc"), [("", False), ("subnet-0123456789abcdef0,subnet-0fedcba987654321", True)]
)
def test_sam_functions_join_a_vpc_only_when_subnets_are_given(subnets: str, in_vpc: bool) -> None:
    template = load_template()
    parameters = template_parameters(
        template,
        RedisSubnetIds=subnets.split(","),
        RedisSecurityGroupIds=["sg-0123456789abcdef0"] if in_vpc else [""],
    )

    assert evaluate(template["Conditions"]["InVpc"], parameters, template["Conditions"]) is in_vpc
    condition, vpc, outside = template["Globals"]["Function"]["VpcConfig"]["Fn::If"]
    assert condition == "InVpc" and outside == {"Ref": "AWS::NoValue"}
    assert vpc == {
        "SubnetIds": {"Ref": "RedisSubnetIds"},
        "SecurityGroupIds": {"Ref": "RedisSecurityGroupIds"},
    }


SONNET = "anthropic.claude-sonnet-4-5-20250929-v1:0"
HAIKU = "anthropic.claude-haiku-4-5-20251001-v1:0"
BEDROCK_ACTIONS = {"bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"}


def bedrock_grant(models: list[str], profiles: list[str]) -> tuple[Any, dict[str, Any] | None]:
    """The Bedrock switch in the functions' environment and the policy document they are given
    (None: no policy), for these BedrockModels and BedrockInferenceProfiles."""
    template = load_template()
    conditions = template["Conditions"]
    parameters = template_parameters(
        template,
        BedrockModels=models,
        BedrockInferenceProfiles=profiles,
        BedrockInvokePolicy="the policy's ARN",  # a resource's Ref
    )
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    switch = evaluate(variables["AI_PROXY_PROVIDERS__BEDROCK__ENABLED"], parameters, conditions)
    policies = [
        evaluate(properties["Policies"][1:], parameters, conditions)
        for properties in sam_functions(template).values()
    ]
    assert policies[0] == policies[1], "both functions get the same Bedrock grant"
    resource = template["Resources"]["BedrockInvokePolicy"]
    assert resource["Type"] == "AWS::IAM::ManagedPolicy"
    if not evaluate(conditions[resource["Condition"]], parameters, conditions):
        assert policies[0] == []
        return switch, None
    assert policies[0] == ["the policy's ARN"]
    return switch, evaluate(resource["Properties"]["PolicyDocument"], parameters, conditions)


def test_sam_bedrock_is_off_and_granted_nothing_by_default() -> None:
    assert bedrock_grant([""], [""]) == ("false", None)
    # Nor do profiles without their models: a profile's calls are served by its model.
    assert bedrock_grant([""], [f"us.{SONNET}"]) == ("false", None)


def test_sam_bedrock_models_are_granted_invoke_and_count_tokens_in_any_region() -> None:
    switch, document = bedrock_grant([SONNET, HAIKU], [""])

    assert switch == "true"
    assert document == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "InvokeModels",
                "Effect": "Allow",
                "Action": [*sorted(BEDROCK_ACTIONS), "bedrock:CountTokens"],
                "Resource": [
                    f"arn:aws:bedrock:*::foundation-model/{SONNET}",
                    f"arn:aws:bedrock:*::foundation-model/{HAIKU}",
                ],
            }
        ],
    }


def test_sam_bedrock_inference_profiles_are_granted_invoke_from_this_region_only() -> None:
    profiles = [f"us.{SONNET}", f"global.{HAIKU}"]

    switch, document = bedrock_grant([SONNET, HAIKU], profiles)

    assert switch == "true" and document is not None
    models, profile_statement = document["Statement"]
    assert models["Resource"] == [
        f"arn:aws:bedrock:*::foundation-model/{SONNET}",
        f"arn:aws:bedrock:*::foundation-model/{HAIKU}",
    ]
    assert profile_statement == {
        "Sid": "InvokeInferenceProfiles",
        "Effect": "Allow",
        "Action": sorted(BEDROCK_ACTIONS),
        "Resource": [
            f"arn:aws:bedrock:*:*:inference-profile/us.{SONNET}",
            f"arn:aws:bedrock:*:*:inference-profile/global.{HAIKU}",
        ],
        "Condition": {"StringEquals": {"aws:RequestedRegion": "eu-west-1"}},
    }


def test_sam_bedrock_actions_are_iam_actions_on_the_resource_types_granted() -> None:
    """Checked against cfn-lint's copy of IAM's action table, since cfn-lint does not look
    inside a managed policy: a misspelt action would be granted nothing, silently."""
    policies = importlib.resources.files("cfnlint") / "data/AdditionalSpecs/Policies.json"
    table = json.loads(policies.read_text())["bedrock"]
    _, document = bedrock_grant([SONNET], [f"us.{SONNET}"])
    assert document is not None
    granted = set()
    for statement in document["Statement"]:
        kinds = {arn.split(":")[5].split("/")[0] for arn in statement["Resource"]}
        for action in statement["Action"]:
            service, name = action.split(":")
            assert service == "bedrock" and name.lower() in table["Actions"], action
            assert kinds <= set(table["Actions"][name.lower()]["Resources"]), action
            granted.add(action)
    assert granted == BEDROCK_ACTIONS | {"bedrock:CountTokens"}


@pytest.mark.parametrize(("switch", "enabled"), [("true", True), ("false", False)])
def test_sam_bedrock_switch_is_valid_config(switch: str, enabled: bool) -> None:
    config = load_config(environ={"AI_PROXY_PROVIDERS__BEDROCK__ENABLED": switch})
    assert config.providers.get("bedrock").model_dump()["enabled"] is enabled


def test_sam_limits_store_settings_are_valid_config() -> None:
    """Every value the template allows makes a valid config; the URL itself travels only in
    the secret (a parameter would show in the console and the stack's events)."""
    template = load_template()
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["AI_PROXY_LIMITS__STORE"] == {"Ref": "LimitsStore"}
    assert variables["AI_PROXY_LIMITS__REDIS_CLUSTER"] == {"Ref": "RedisCluster"}
    assert not any("URL" in name for name in variables)
    assert not any("url" in name.lower() for name in template["Parameters"])
    assert template["Parameters"]["LimitsStore"]["Default"] == "memory"
    for store in template["Parameters"]["LimitsStore"]["AllowedValues"]:
        for cluster in template["Parameters"]["RedisCluster"]["AllowedValues"]:
            environ = {
                "AI_PROXY_LIMITS__STORE": store,
                "AI_PROXY_LIMITS__REDIS_CLUSTER": cluster,
                "AI_PROXY_LIMITS__REDIS_URL": "rediss://user:password@cache.example:6379",
            }
            limits = load_config(environ=environ).limits
            assert (limits.store, limits.redis_cluster) == (store, cluster == "true")


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


def test_deployment_takes_the_redis_url_from_the_secret() -> None:
    deployment = yaml.safe_load((ROOT / "deploy/k8s/deployment.yaml").read_text())
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    env = {item["name"]: item for item in container["env"]}
    assert env["AI_PROXY_LIMITS__REDIS_URL"]["valueFrom"]["secretKeyRef"] == {
        "name": "ai-proxy-api-keys",
        "key": "redis-url",
        "optional": True,
    }
    assert env["AI_PROXY_LIMITS__STORE"]["value"] in ("memory", "redis")


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
    (env_vars,) = (arg for arg in args if arg.startswith("--set-env-vars="))
    assert "AI_PROXY_LIMITS__STORE=${_LIMITS_STORE}" in env_vars.split(",")
    assert build["substitutions"]["_LIMITS_STORE"] == "memory"
    # Every substitution the build uses has a default (Cloud Build refuses an unknown one).
    used = set(re.findall(r"\$\{(_[A-Z_]+)\}", (ROOT / "cloudbuild.yaml").read_text()))
    assert used <= set(build["substitutions"])


def deployed_environment(**substitutions: str) -> dict[str, str]:
    """The Cloud Run service's --set-env-vars as Cloud Build would expand them: these
    substitutions over the file's defaults, which may name built-ins (dynamicSubstitutions)."""
    build = yaml.safe_load((ROOT / "cloudbuild.yaml").read_text())
    values = {"PROJECT_ID": "my-project", **build["substitutions"]}
    values.update(substitutions)

    def expand(text: str) -> str:
        return re.sub(r"\$\{([A-Z_]+)\}", lambda match: expand(values[match[1]]), text)

    deploy = next(step for step in build["steps"] if step["id"] == "deploy")
    (env_vars,) = (arg for arg in deploy["args"] if arg.startswith("--set-env-vars="))
    pairs = expand(env_vars.removeprefix("--set-env-vars=")).split(",")
    return dict(pair.split("=", 1) for pair in pairs)


def deployed_vertex(**substitutions: str) -> tuple[bool, str, str]:
    """providers.vertex (enabled, project, location) of the service deployed with these."""
    environ = deployed_environment(**substitutions)
    vertex = load_config(environ=environ).providers.get("vertex").model_dump()
    return vertex["enabled"], vertex["project"], vertex["location"]


def test_cloudbuild_leaves_vertex_off_by_default() -> None:
    assert deployed_environment()["AI_PROXY_PROVIDERS__VERTEX__ENABLED"] == "false"
    assert deployed_vertex() == (False, "my-project", "global")


def test_cloudbuild_vertex_substitutions_enable_it_in_the_build_project() -> None:
    assert deployed_vertex(_VERTEX="true") == (True, "my-project", "global")
    assert deployed_vertex(
        _VERTEX="true", _VERTEX_PROJECT="models-project", _VERTEX_LOCATION="europe-west4"
    ) == (True, "models-project", "europe-west4")


def test_cloud_docs_link_only_inside_the_repository() -> None:
    """docs/clouds.md and its README section: every link a file of this repository, and no
    web address outside code (example endpoints only)."""
    readme = (ROOT / "README.md").read_text()
    start = readme.index("## Cloud model services")
    section = readme[start : readme.index("\n## ", start + 1)]
    for text, base in ((section, ROOT), ((ROOT / "docs/clouds.md").read_text(), ROOT / "docs")):
        prose = re.sub(r"`[^`\n]*`", "", re.sub(r"(?ms)^```.*?^```", "", text))
        assert not re.findall(r"https?://", prose)
        targets = re.findall(r"\]\(([^)]+)\)", prose)
        for target in targets:
            assert (base / target.split("#")[0]).is_file(), target
    assert "](docs/clouds.md)" in section


def test_cloud_docs_config_examples_are_valid_config(tmp_path: Path) -> None:
    """Each TOML block and each block of AI_PROXY_ variables in docs/clouds.md loads as it is."""
    text = (ROOT / "docs/clouds.md").read_text()
    tables = re.findall(r"```toml\n(.*?)```", text, re.S)
    environments = [
        dict(line.replace("'", "").split("=", 1) for line in lines)
        for block in re.findall(r"```sh\n(.*?)```", text, re.S)
        if (lines := [line for line in block.splitlines() if line.startswith("AI_PROXY_")])
    ]
    assert len(tables) == 4 and len(environments) == 3
    for number, table in enumerate(tables):
        path = tmp_path / f"example-{number}.toml"
        path.write_text(table)
        load_config(path, environ={})
    for environ, name in zip(environments, ("bedrock", "vertex", "azure_openai"), strict=True):
        assert load_config(environ=environ).providers.get(name).model_dump()["enabled"] is True


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


@pytest.fixture(scope="module")
def azure_app() -> Path:
    result = run(sys.executable, "scripts/package.py", "azure")
    assert result.returncode == 0, result.stdout + result.stderr
    return BUILD / "azure"


@pytest.mark.slow
def test_azure_app_folder_is_self_contained(azure_app: Path, tmp_path: Path) -> None:
    app_dir = azure_app
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


# SBOMs (README, "Supply chain"): what each artifact holds, read back from the artifact itself.


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def distributions(metadata_files: dict[str, bytes]) -> set[tuple[str, str]]:
    """(name, version) from each */*.dist-info/METADATA: what an importer of the bundle finds."""
    found = set()
    for text in metadata_files.values():
        metadata = email.parser.BytesHeaderParser().parsebytes(text)
        found.add((normalize(metadata["Name"]), metadata["Version"]))
    return found


def sbom_packages(sbom: Path) -> tuple[set[tuple[str, str]], dict[str, str]]:
    document = json.loads(sbom.read_text())
    assert document["bomFormat"] == "CycloneDX" and document["specVersion"] == "1.6"
    root = document["metadata"]["component"]
    components = [root, *document["components"]]
    packages = {(normalize(c["name"]), c["version"]) for c in components}
    assert len(packages) == len(components), "a package listed twice"
    digests = {}
    for component in components:
        (digest,) = component["hashes"]
        assert digest["alg"] == "SHA-256"
        digests[normalize(component["name"])] = digest["content"]
    return packages, digests


def lock_hashes(lock: str) -> dict[tuple[str, str], set[str]]:
    text = (ROOT / "requirements" / lock).read_text()
    return {
        (normalize(name), version): set(re.findall(r"sha256:([0-9a-f]{64})", hashes))
        for name, version, hashes in re.findall(
            r"^(\S+?)==(\S+) \\\n((?:    --hash=\S+(?: \\)?\n)+)", text, re.M
        )
    }


def assert_sbom_matches(sbom: Path, inside: set[tuple[str, str]], lock: str) -> None:
    packages, digests = sbom_packages(sbom)
    assert packages == inside
    locked = lock_hashes(lock)
    # Everything but the project itself comes from the lock, as the wheel the lock names.
    assert packages - set(locked) == {("ai-proxy", "0.1.0")}
    assert set(locked) - packages == set()
    for name, version in packages - {("ai-proxy", "0.1.0")}:
        assert digests[name] in locked[name, version], name


def assert_checksum(artifact: Path) -> None:
    line = artifact.with_name(artifact.name.split(".")[0] + ".sha256").read_text()
    assert line == f"{hashlib.sha256(artifact.read_bytes()).hexdigest()}  {artifact.name}\n"


@pytest.mark.slow
def test_lambda_sbom_lists_exactly_the_zip_contents(lambda_zip: Path) -> None:
    with zipfile.ZipFile(lambda_zip) as archive:
        metadata = {
            name: archive.read(name)
            for name in archive.namelist()
            if re.fullmatch(r"[^/]+\.dist-info/METADATA", name)
        }
    inside = distributions(metadata)
    assert any(name == "mangum" for name, _ in inside)
    assert_sbom_matches(BUILD / "ai-proxy-lambda.cdx.json", inside, "lambda.txt")
    assert_checksum(lambda_zip)


@pytest.mark.slow
def test_azure_sbom_lists_exactly_the_app_folder_contents(azure_app: Path) -> None:
    site = azure_app / ".python_packages/lib/site-packages"
    metadata = {str(path): path.read_bytes() for path in site.glob("*.dist-info/METADATA")}
    inside = distributions(metadata)
    assert any(name == "azure-keyvault-secrets" for name, _ in inside)
    assert_sbom_matches(BUILD / "ai-proxy-azure.cdx.json", inside, "azure.txt")
    archive = BUILD / "ai-proxy-azure.zip"
    with zipfile.ZipFile(archive) as bundle:
        zipped = {
            name: bundle.read(name)
            for name in bundle.namelist()
            if re.fullmatch(r"\.python_packages/lib/site-packages/[^/]+\.dist-info/METADATA", name)
        }
    assert distributions(zipped) == inside
    assert_checksum(archive)


@pytest.mark.slow
def test_cloud_run_context_carries_the_locks_its_sbom_lists() -> None:
    result = run(sys.executable, "scripts/package.py", "cloudrun")
    assert result.returncode == 0, result.stdout + result.stderr
    archive = BUILD / "ai-proxy-cloudrun.tar.gz"
    with tarfile.open(archive) as context:
        names = set(context.getnames())
        locked = context.extractfile("requirements/gcp.txt")
        assert locked is not None
        assert locked.read() == (ROOT / "requirements/gcp.txt").read_bytes()
    assert {"Dockerfile", "requirements/gateway.txt", "requirements/build.txt"} <= names
    # cloudbuild.yaml builds with EXTRAS=gcp: the image holds gcp.txt and the project.
    inside = set(lock_hashes("gcp.txt")) | {("ai-proxy", "0.1.0")}
    assert_sbom_matches(BUILD / "ai-proxy-cloudrun.cdx.json", inside, "gcp.txt")
    assert_checksum(archive)


@pytest.mark.slow
def test_two_lambda_builds_of_one_commit_are_identical(lambda_zip: Path) -> None:
    first_sbom = (BUILD / "ai-proxy-lambda.cdx.json").read_bytes()
    first_zip = hashlib.sha256(lambda_zip.read_bytes()).hexdigest()

    result = run(sys.executable, "scripts/package.py", "lambda")

    assert result.returncode == 0, result.stdout + result.stderr
    assert (BUILD / "ai-proxy-lambda.cdx.json").read_bytes() == first_sbom
    assert hashlib.sha256(lambda_zip.read_bytes()).hexdigest() == first_zip

"""The deployment files in infra/ against the code they deploy.

No Docker engine or cluster is needed: the files are parsed and compared with what the
code itself declares. The settings classes give the valid environment variables, the
component factories say which settings each process reads, and `services.stack` gives the
command line `assent up` runs for each component. Each check returns the problems it
found, so that a deliberately broken copy can show that the check notices.
"""

import copy
import importlib
import re
import tomllib
import typing
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fnmatch import fnmatch
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from pydantic import SecretStr
from pydantic_settings import BaseSettings, EnvSettingsSource

from assent.cli import build_parser
from services.stack import (
    DATABASE_COMPONENTS,
    Component,
    components_for,
    internal_signing_key,
)
from storage.object_store import StorageSettings

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
K8S = INFRA / "k8s"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
# The top-level packages the project installs: what the image must copy and install.
PACKAGES = [
    pattern.rstrip("*")
    for pattern in PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]
]
# The lock of the server's dependencies alone, which the image installs.
SERVER_LOCK = "requirements-server.lock"

# In containers every component listens on the port `assent up` gives it by default.
BASE_PORT: int = build_parser().parse_args(["up"]).port
# A container is reached through its own network interface, never its loopback.
CONTAINER_HOST = "0.0.0.0"  # noqa: S104
# Objects go to S3 (MinIO) in both deployments, so the local object server is not one of
# the components deployed.
DEPLOYED = components_for({"ASSENT_STORAGE_BACKEND": "s3"})
BY_NAME = {component.name: component for component in DEPLOYED}
Manifest = dict[str, Any]


def port_of(component: Component) -> int:
    return BASE_PORT + component.port_offset


def expected_command(component: Component) -> list[str]:
    # The image puts its virtual environment first on PATH, so its `python` is the
    # interpreter `assent up` runs as sys.executable (dockerfile_problems checks the PATH).
    return component.command(host=CONTAINER_HOST, port=port_of(component), python="python")


# --- which environment variables are settings ---------------------------------------


@cache
def settings_read_by(component: Component) -> tuple[type[BaseSettings], ...]:
    """The settings classes a component's process reads: the ones its factory takes."""
    module_name, _, attribute = component.factory.partition(":")
    factory = getattr(importlib.import_module(module_name), attribute)
    found: list[type[BaseSettings]] = []
    for name, hint in typing.get_type_hints(factory).items():
        if name == "return":
            continue
        for candidate in typing.get_args(hint) or (hint,):
            if isinstance(candidate, type) and issubclass(candidate, BaseSettings):
                found.append(candidate)
    assert found, f"{component.factory} takes no settings"
    return tuple(found)


def _env_names_of_fields(settings: type[BaseSettings], *, secret_only: bool) -> set[str]:
    # pydantic-settings' own reading of prefixes, aliases and populate_by_name: the names
    # it looks up in the environment for each field.
    source = EnvSettingsSource(settings)
    names: set[str] = set()
    for field_name, field in settings.model_fields.items():
        if secret_only and SecretStr not in (
            typing.get_args(field.annotation) or (field.annotation,)
        ):
            continue
        for _key, env_name, _is_complex in source._extract_field_info(field, field_name):
            names.add(env_name.upper())
    return names


def valid_env(components: Iterable[Component]) -> set[str]:
    return {
        name
        for component in components
        for settings in settings_read_by(component)
        for name in _env_names_of_fields(settings, secret_only=False)
    }


def secret_env(components: Iterable[Component]) -> set[str]:
    return {
        name
        for component in components
        for settings in settings_read_by(component)
        for name in _env_names_of_fields(settings, secret_only=True)
    }


def unknown_env(container: str, names: Iterable[str], reads: Iterable[Component]) -> list[str]:
    valid = valid_env(reads)
    return [f"{container}: {name} is not a setting it reads" for name in names if name not in valid]


# --- loading --------------------------------------------------------------------------


def load_compose() -> Manifest:
    loaded: Manifest = yaml.safe_load((INFRA / "compose.yaml").read_text())
    return loaded


def load_k8s() -> list[Manifest]:
    objects: list[Manifest] = []
    for path in sorted(K8S.glob("*.yaml")):
        if path.name != "kustomization.yaml":
            objects.extend(doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None)
    return objects


def load_kustomization() -> Manifest:
    loaded: Manifest = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    return loaded


def internal_key_secret(component: str) -> str:
    return f"assent-{component}-internal-key"


def dotenv_keys(path: Path) -> dict[str, str]:
    pairs = (
        line.split("=", 1)
        for line in path.read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    )
    return {key.strip(): value.strip() for key, value in pairs}


def of_kind(objects: list[Manifest], kind: str) -> dict[str, Manifest]:
    return {item["metadata"]["name"]: item for item in objects if item["kind"] == kind}


# --- compose --------------------------------------------------------------------------


def compose_port(service: Manifest) -> int | None:
    command = service.get("command", [])
    return int(command[command.index("--port") + 1]) if "--port" in command else None


def compose_waits_for(component: Component) -> dict[str, str]:
    """What a component's container must wait for, and in which state."""
    if component is BY_NAME["gateway"]:
        wanted = {name: "service_healthy" for name in BY_NAME if name != "gateway"}
    else:
        wanted = {"postgres": "service_healthy"}
        if StorageSettings in settings_read_by(component):
            wanted["minio"] = "service_healthy"
    return wanted | {"migrate": "service_completed_successfully"}


def compose_service_problems(
    component: Component, service: Manifest, services: dict[str, Manifest]
) -> list[str]:
    name = component.name
    problems: list[str] = []
    if service.get("command") != expected_command(component):
        problems.append(
            f"{name} runs {service.get('command')}, `assent up` runs {expected_command(component)}"
        )
    environment: dict[str, str] = service.get("environment", {})
    problems += unknown_env(name, environment, [component])
    problems += [
        f"{name}: secret {key} is written in compose.yaml instead of taken from .env"
        for key in secret_env([component])
        if key in environment and not str(environment[key]).startswith("${")
    ]
    port = compose_port(service)
    health = " ".join(service.get("healthcheck", {}).get("test", []))
    if f"http://127.0.0.1:{port}/readyz" not in health:
        problems.append(f"{name}'s health check does not ask /readyz on its port {port}")
    needs = service.get("depends_on", {})
    problems += [
        f"{name} does not wait for {needed} ({condition})"
        for needed, condition in compose_waits_for(component).items()
        if needs.get(needed, {}).get("condition") != condition
    ]
    for key, value in environment.items():
        match = re.fullmatch(r"ASSENT_([A-Z]+)_URL", key)
        if not match or match[1].lower() not in BY_NAME:
            continue
        target = match[1].lower()
        address = urlsplit(str(value))
        answering = services.get(address.hostname or "")
        if address.hostname != target or answering is None:
            problems.append(f"{name}: {key}={value} does not name the {target} service")
        elif address.port != compose_port(answering):
            problems.append(
                f"{name}: {key}={value}, but {target} listens on {compose_port(answering)}"
            )
    return problems


def compose_problems(compose: Manifest) -> list[str]:
    services: dict[str, Manifest] = compose["services"]
    missing = {*BY_NAME, "postgres", "minio", "migrate"} - set(services)
    problems = [f"compose has no service {name}" for name in sorted(missing)]
    for name, component in BY_NAME.items():
        if name in services:
            problems += compose_service_problems(component, services[name], services)
    migrate = services.get("migrate", {})
    problems += migrate_command_problems("compose migrate", migrate.get("command", []))
    migrate_env: dict[str, str] = migrate.get("environment", {})
    problems += unknown_env("migrate", migrate_env, DATABASE_COMPONENTS)
    if "ASSENT_DATABASE_URL" not in migrate_env:
        problems.append("migrate is not given ASSENT_DATABASE_URL")
    return problems


def migrate_command_problems(where: str, command: list[str]) -> list[str]:
    try:
        parsed = build_parser().parse_args(command[1:])
    except SystemExit:
        return [f"{where}: {command} is not an `assent` command line"]
    if command[:1] != ["assent"] or parsed.command != "migrate":
        return [f"{where} runs {command}, not `assent migrate`"]
    return []


def test_compose_parses_and_runs_what_assent_up_runs() -> None:
    assert compose_problems(load_compose()) == []


def test_compose_gives_each_service_its_components_settings() -> None:
    services = load_compose()["services"]
    # The merge keys (<<) resolve: the storage users got both shared blocks.
    assert "ASSENT_STORAGE_BACKEND" in services["delivery"]["environment"]
    # Each its own internal token key (another's would be a setting it does not read).
    assert "ASSENT_DELIVERY_INTERNAL_SIGNING_KEY" in services["delivery"]["environment"]
    assert "ASSENT_INTERNAL_PUBLIC_KEYS" in services["delivery"]["environment"]
    # The gateway learns where the store is, for the portal's uploads, but no credentials.
    assert services["gateway"]["environment"]["ASSENT_STORAGE_BACKEND"] == "s3"
    assert "ASSENT_STORAGE_S3_SECRET_ACCESS_KEY" not in services["gateway"]["environment"]
    assert "ASSENT_STORAGE_BACKEND" not in services["licensing"]["environment"]
    assert services["gateway"]["ports"] == [f"{BASE_PORT}:{BASE_PORT}"]


def test_compose_checks_notice_a_wrong_port_command_setting_and_secret() -> None:
    broken = copy.deepcopy(load_compose())
    catalogue = broken["services"]["catalogue"]
    catalogue["command"][catalogue["command"].index("--port") + 1] = "8011"
    broken["services"]["delivery"]["environment"]["ASSENT_DELIVERY_LINK_TTL"] = "60"
    broken["services"]["licensing"]["environment"]["ASSENT_LICENSING_SIGNING_KEY"] = "c2VjcmV0"
    broken["services"]["licensing"]["environment"]["ASSENT_STORAGE_BUCKET"] = "assent"
    del broken["services"]["audit"]["depends_on"]["migrate"]
    broken["services"]["migrate"]["command"] = ["assent", "up"]

    problems = "\n".join(compose_problems(broken))

    assert "catalogue runs" in problems
    assert "ASSENT_CATALOGUE_URL=http://catalogue:8001, but catalogue listens on 8011" in problems
    assert "catalogue's health check does not ask /readyz on its port 8011" in problems
    assert "delivery: ASSENT_DELIVERY_LINK_TTL is not a setting" in problems
    assert "licensing: ASSENT_STORAGE_BUCKET is not a setting it reads" in problems
    assert "secret ASSENT_LICENSING_SIGNING_KEY is written in compose.yaml" in problems
    assert "audit does not wait for migrate" in problems
    assert "compose migrate runs ['assent', 'up'], not `assent migrate`" in problems


def test_env_example_names_every_required_variable_and_holds_no_secret() -> None:
    text = (INFRA / "compose.yaml").read_text()
    required = set(re.findall(r"\$\{([A-Z0-9_]+):\?", text))
    example = dotenv_keys(INFRA / ".env.example")
    assert required - set(example) == set()
    assert {key: value for key, value in example.items() if value} == {}


# --- Kubernetes -----------------------------------------------------------------------


def containers(item: Manifest) -> list[Manifest]:
    found: list[Manifest] = item["spec"]["template"]["spec"]["containers"]
    return found


def container_env(
    container: Manifest, config_maps: dict[str, Manifest]
) -> Iterator[tuple[str, str]]:
    """Each variable a container gets and where from: `literal`, `configmap` or `secret`."""
    for source in container.get("envFrom", []):
        for key in config_maps[source["configMapRef"]["name"]].get("data", {}):
            yield key, "configmap"
    for entry in container.get("env", []):
        yield entry["name"], "secret" if "secretKeyRef" in entry.get("valueFrom", {}) else "literal"


def resolved_port(container: Manifest, port: int | str) -> int | None:
    if isinstance(port, int):
        return port
    return next(
        (p["containerPort"] for p in container.get("ports", []) if p.get("name") == port), None
    )


@dataclass(frozen=True)
class Cluster:
    """The objects of infra/k8s by kind and name."""

    deployments: dict[str, Manifest]
    services: dict[str, Manifest]
    config_maps: dict[str, Manifest]
    autoscalers: dict[str, Manifest]
    jobs: dict[str, Manifest]

    @classmethod
    def of(cls, objects: list[Manifest]) -> "Cluster":
        return cls(
            deployments=of_kind(objects, "Deployment"),
            services=of_kind(objects, "Service"),
            config_maps=of_kind(objects, "ConfigMap"),
            autoscalers=of_kind(objects, "HorizontalPodAutoscaler"),
            jobs=of_kind(objects, "Job"),
        )


def selects(service: Manifest, pod_labels: dict[str, str]) -> bool:
    selector: dict[str, str] = service["spec"]["selector"]
    return selector.items() <= pod_labels.items()


def env_problems(
    where: str, container: Manifest, reads: list[Component], cluster: Cluster
) -> list[str]:
    missing = [
        f"{where}: envFrom {source} names no ConfigMap here"
        for source in container.get("envFrom", [])
        if source.get("configMapRef", {}).get("name") not in cluster.config_maps
    ]
    if missing:
        return missing
    env = list(container_env(container, cluster.config_maps))
    problems = unknown_env(where, (name for name, _ in env), reads)
    secrets = secret_env(reads)
    problems += [
        f"{where}: secret {name} comes from a {origin}, not the Secret"
        for name, origin in env
        if name in secrets and origin != "secret"
    ]
    secret_keys = dotenv_keys(K8S / "secret.env.example")
    # A component's internal token key comes from its own Secret, which no other reads.
    own_keys = {(internal_key_secret(c.name), internal_signing_key(c.name)) for c in reads}
    for entry in container.get("env", []):
        reference = entry.get("valueFrom", {}).get("secretKeyRef")
        if not reference or (reference["name"], reference["key"]) in own_keys:
            continue
        if reference["name"] != "assent" or reference["key"] not in secret_keys:
            problems.append(f"{where}: secret key {reference['key']} is not in secret.env.example")
    return problems


def deployment_problems(name: str, deployment: Manifest, cluster: Cluster) -> list[str]:
    component = BY_NAME.get(name)
    if component is None:
        return [f"Deployment {name} is not a component of the stack"]
    port = port_of(component)
    (container,) = containers(deployment)
    problems: list[str] = []
    if container.get("command") != expected_command(component):
        problems.append(
            f"{name} runs {container.get('command')}, `assent up` runs "
            f"{expected_command(component)}"
        )
    # Its HTTP port, and its metrics port beside (tests/infra/test_traffic.py checks that).
    declared = {p.get("name"): p["containerPort"] for p in container.get("ports", [])}
    if declared.get("http") != port or set(declared) - {"http", "metrics"}:
        problems.append(f"{name} declares ports {declared}, it listens on {port}")
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        get = container.get(probe, {}).get("httpGet", {})
        if get.get("path") != path or resolved_port(container, get.get("port", "")) != port:
            problems.append(f"{name}'s {probe} does not ask {path} on port {port}")
    resources = container.get("resources", {})
    if not (resources.get("requests") and resources.get("limits")):
        problems.append(f"{name} has no resource requests and limits")
    pod = deployment["spec"]["template"]
    if not pod["spec"].get("securityContext", {}).get("runAsNonRoot"):
        problems.append(f"{name} may run as root")
    problems += env_problems(name, container, [component], cluster)
    routed = [s for s in cluster.services.values() if selects(s, pod["metadata"]["labels"])]
    if not routed:
        problems.append(f"no Service routes to {name}")
    problems += [
        f"Service {service['metadata']['name']} misses {name}'s port {port}"
        for service in routed
        for service_port in service["spec"]["ports"]
        if resolved_port(container, service_port.get("targetPort", service_port["port"])) != port
    ]
    return problems


def service_url_problems(cluster: Cluster) -> list[str]:
    """Every ASSENT_<SERVICE>_URL names a Service that routes to that service's pods."""
    problems: list[str] = []
    for config_map in cluster.config_maps.values():
        for key, value in config_map.get("data", {}).items():
            match = re.fullmatch(r"ASSENT_([A-Z]+)_URL", key)
            if not match or match[1].lower() not in BY_NAME:
                continue
            target = match[1].lower()
            address = urlsplit(value)
            service = cluster.services.get(address.hostname or "")
            deployment = cluster.deployments.get(target)
            if service is None or deployment is None:
                problems.append(f"{key}={value} names no Service of {target}")
            elif not selects(service, deployment["spec"]["template"]["metadata"]["labels"]):
                problems.append(
                    f"{key}={value}: Service {address.hostname} does not select {target}"
                )
            elif address.port not in [p["port"] for p in service["spec"]["ports"]]:
                problems.append(
                    f"{key}={value}: Service {address.hostname} has no port {address.port}"
                )
    return problems


def autoscaler_problems(cluster: Cluster) -> list[str]:
    problems: list[str] = []
    scaled = set()
    for name, hpa in cluster.autoscalers.items():
        target = hpa["spec"]["scaleTargetRef"]
        if target.get("kind") != "Deployment" or target.get("name") not in cluster.deployments:
            problems.append(f"HorizontalPodAutoscaler {name} targets {target}, which is not here")
        scaled.add(target.get("name"))
        if not 1 <= hpa["spec"].get("minReplicas", 1) <= hpa["spec"]["maxReplicas"]:
            problems.append(f"HorizontalPodAutoscaler {name} has an empty replica range")
    missing = sorted(set(cluster.deployments) - scaled)
    return problems + [f"{name} has no HorizontalPodAutoscaler" for name in missing]


def k8s_problems(objects: list[Manifest]) -> list[str]:
    unnamed = [
        f"an object lacks apiVersion, kind or metadata.name: {item}"
        for item in objects
        if not (
            item.get("apiVersion") and item.get("kind") and item.get("metadata", {}).get("name")
        )
    ]
    if unnamed:
        return unnamed
    cluster = Cluster.of(objects)
    problems = [
        f"no Deployment for {name}" for name in sorted(set(BY_NAME) - set(cluster.deployments))
    ]
    for name, deployment in cluster.deployments.items():
        problems += deployment_problems(name, deployment, cluster)
    problems += service_url_problems(cluster)
    problems += autoscaler_problems(cluster)
    if len(cluster.jobs) != 1:
        problems.append(f"expected one migration Job, found {sorted(cluster.jobs)}")
    for name, job in cluster.jobs.items():
        (container,) = containers(job)
        problems += migrate_command_problems(f"Job {name}", container.get("command", []))
        problems += env_problems(f"Job {name}", container, list(DATABASE_COMPONENTS), cluster)
    return problems


def test_k8s_manifests_parse_and_agree_with_the_code() -> None:
    assert k8s_problems(load_k8s()) == []


def test_kustomization_lists_every_manifest_and_its_secret_source() -> None:
    kustomization = load_kustomization()
    manifests = {path.name for path in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert sorted(kustomization["resources"]) == sorted(manifests)
    generator, *internal_keys = kustomization["secretGenerator"]
    (source,) = generator["envs"]
    # One Secret per component's internal token key, from a file that stays out of git.
    assert {key["name"]: key["files"] for key in internal_keys} == {
        internal_key_secret(c.name): [f"{internal_signing_key(c.name)}=internal-keys/{c.name}.key"]
        for c in DATABASE_COMPONENTS
    }
    assert "k8s/internal-keys/" in (INFRA / ".gitignore").read_text().split()
    # The real file stays out of git; its example must exist beside it.
    assert (K8S / f"{source}.example").is_file()
    assert f"k8s/{source}" in (INFRA / ".gitignore").read_text().split()
    assert {image["name"] for image in kustomization["images"]} == {
        c["image"]
        for item in load_k8s()
        if item["kind"] in {"Deployment", "Job"}
        for c in containers(item)
    }


def test_secret_example_holds_no_secret() -> None:
    assert {
        key: value for key, value in dotenv_keys(K8S / "secret.env.example").items() if value
    } == {}


def test_k8s_checks_notice_a_broken_copy() -> None:
    broken = copy.deepcopy(load_k8s())
    deployments = of_kind(broken, "Deployment")
    (catalogue,) = containers(deployments["catalogue"])
    catalogue["env"].append({"name": "ASSENT_CATALOGUE_DATABSE_URL", "value": "postgresql://x"})
    catalogue["env"].append({"name": "ASSENT_GATEWAY_GRAPHIQL", "value": "false"})
    catalogue["readinessProbe"]["httpGet"]["path"] = "/healthz"
    (delivery,) = containers(deployments["delivery"])
    delivery["ports"][0]["containerPort"] = 9003
    (audit,) = containers(deployments["audit"])
    audit["env"].append({"name": "ASSENT_AUDIT_SIGNING_KEY", "value": "c2VjcmV0"})
    of_kind(broken, "HorizontalPodAutoscaler")["licensing"]["spec"]["scaleTargetRef"]["name"] = (
        "licencing"
    )
    of_kind(broken, "ConfigMap")["assent-platform"]["data"]["ASSENT_AUDIT_URL"] = (
        "http://audit:8014"
    )

    problems = "\n".join(k8s_problems(broken))

    assert "catalogue: ASSENT_CATALOGUE_DATABSE_URL is not a setting it reads" in problems
    assert "catalogue: ASSENT_GATEWAY_GRAPHIQL is not a setting it reads" in problems
    assert "catalogue's readinessProbe does not ask /readyz on port 8001" in problems
    assert "delivery declares ports {'http': 9003, 'metrics': 9100}, it listens on 8003" in problems
    assert "audit: secret ASSENT_AUDIT_SIGNING_KEY comes from a literal" in problems
    assert "HorizontalPodAutoscaler licensing targets" in problems
    assert "licensing has no HorizontalPodAutoscaler" in problems
    assert "ASSENT_AUDIT_URL=http://audit:8014: Service audit has no port 8014" in problems


def test_k8s_checks_notice_an_object_without_a_name() -> None:
    broken = [*load_k8s(), {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}}]
    assert any("lacks apiVersion, kind or metadata.name" in p for p in k8s_problems(broken))


# --- the settings the checks rely on ----------------------------------------------------


def test_valid_names_come_from_prefixes_and_aliases() -> None:
    catalogue = valid_env([BY_NAME["catalogue"]])
    # Prefixed fields, shared aliases and the storage settings the catalogue's factory takes.
    assert {"ASSENT_CATALOGUE_DATABASE_URL", "ASSENT_DATABASE_URL", "ASSENT_AUDIT_URL"} <= catalogue
    assert "ASSENT_STORAGE_S3_ENDPOINT_URL" in catalogue
    assert "ASSENT_ADMIN_KEY" in valid_env([BY_NAME["gateway"]])
    assert "ASSENT_ADMIN_KEY" not in catalogue
    assert "ASSENT_STORAGE_BUCKET" not in valid_env([BY_NAME["licensing"]])
    assert secret_env([BY_NAME["delivery"]]) >= {
        "ASSENT_DELIVERY_SIGNING_KEY",
        "ASSENT_DELIVERY_WATERMARK_SECRET",
        "ASSENT_DELIVERY_INTERNAL_SIGNING_KEY",
        "ASSENT_STORAGE_S3_SECRET_ACCESS_KEY",
    }


# --- the image --------------------------------------------------------------------------


def dockerfile_problems(text: str) -> list[str]:
    # Continuation lines joined, comments dropped: one instruction per line.
    instructions = [
        line.strip()
        for line in re.sub(r"\\\n", " ", text).splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    problems: list[str] = []
    bases = [line.split()[1] for line in instructions if line.upper().startswith("FROM ")]
    problems += [
        f"base image {base} is not Python 3.11"
        for base in bases
        if not base.startswith("python:3.11")
    ]
    final_from = max(i for i, line in enumerate(instructions) if line.upper().startswith("FROM "))
    final = instructions[final_from:]
    users = [line.split()[1].split(":")[0] for line in final if line.upper().startswith("USER ")]
    if not users or users[-1] in {"root", "0"}:
        problems.append(f"the image runs as root (USER {users[-1] if users else 'unset'})")
    if any(line.upper().startswith("ENTRYPOINT") for line in final):
        problems.append("an ENTRYPOINT would turn the given commands into its arguments")
    if not any(re.match(r"ENV PATH=/opt/venv/bin:", line) for line in final):
        problems.append("the virtual environment is not first on PATH: `python` would be another")
    copied = {
        line.split()[1]
        for line in instructions
        if line.upper().startswith("COPY ") and "--from" not in line
    }
    problems += [
        f"the package {package} is not copied into the build"
        for package in PACKAGES
        if package not in copied
    ]
    # The server's dependencies come pinned and hashed from the lock make lock writes, so
    # the image runs the versions the suite ran; the project alone is installed after them.
    installs = [line for line in instructions if line.upper().startswith("RUN ")]
    if SERVER_LOCK not in copied or not any(
        re.search(rf"pip install --require-hashes -r {re.escape(SERVER_LOCK)}\b", line)
        for line in installs
    ):
        problems.append(f"the dependencies are not installed from {SERVER_LOCK} with hashes")
    if not any(re.search(r"pip install --no-deps \.", line) for line in installs):
        problems.append("the project is installed with dependencies the lock does not pin")
    return problems


def test_dockerfile_is_python_311_and_not_root() -> None:
    assert dockerfile_problems((INFRA / "Dockerfile").read_text()) == []


def test_dockerfile_checks_notice_root_and_another_python() -> None:
    text = (INFRA / "Dockerfile").read_text()
    broken = text.replace("USER 10001:10001", "USER root").replace(
        "python:3.11-slim", "python:3.12-slim"
    )
    broken = broken.replace("COPY storage ./storage\n", "")
    broken = broken.replace("--require-hashes -r requirements-server.lock", "'.[server]'")
    broken = broken.replace("pip install --no-deps .", "pip install .")
    problems = "\n".join(dockerfile_problems(broken))
    assert "base image python:3.12-slim is not Python 3.11" in problems
    assert "the image runs as root (USER root)" in problems
    assert "the package storage is not copied" in problems
    assert "not installed from requirements-server.lock with hashes" in problems
    assert "the project is installed with dependencies the lock does not pin" in problems
    assert "runs as root" in "\n".join(dockerfile_problems(text.replace("USER 10001:10001\n", "")))


def test_build_context_lets_every_package_through() -> None:
    rules = [
        line.strip()
        for line in (INFRA / "Dockerfile.dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    # Everything is left out first, then what the build copies is let back in.
    assert rules[0] == "*"
    let_through = {"!pyproject.toml", "!README.md", f"!{SERVER_LOCK}"}
    assert {f"!{package}/" for package in PACKAGES} | let_through <= set(rules)


def test_installed_package_carries_every_file_the_code_needs() -> None:
    # The image installs the project (not editable): a file under a package that matches
    # no package-data pattern would be missing from it, e.g. a migration template.
    patterns = [
        p for group in PYPROJECT["tool"]["setuptools"]["package-data"].values() for p in group
    ]
    left_out = [
        str(path.relative_to(ROOT))
        for package in PACKAGES
        for path in (ROOT / package).rglob("*")
        if path.is_file()
        and path.suffix not in {".py", ".pyc"}
        and "__pycache__" not in path.parts
        and not any(fnmatch(path.name, pattern) for pattern in patterns)
    ]
    assert left_out == []

"""The cluster's traffic against the code: who may reach whom, what is public, and how.

The NetworkPolicies of infra/k8s are checked against the calls the code makes: each
service admits exactly its callers, derived from the source (a component reaches another
only through the address its settings hold for it, `<service>_url` or `service_urls()`)
and from the outbox (`receivers_of`, the receivers of what a component publishes). A new
call without a rule, or a rule without a call, fails here. The Ingress, the disruption
budgets, the metrics ports and the public addresses are checked against the settings the
same way; compose's presigned links must be reachable from the host without naming a
container. Each check returns its problems, so a broken copy shows that it notices.
"""

import ast
import copy
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit

from services.contracts.events import receivers_of
from services.delivery.config import Settings as DeliverySettings
from services.kit.settings import ServiceSettings
from services.stack import DATABASE_COMPONENTS, STORE_WRITES, Component
from storage.object_store import StorageSettings
from tests.infra.test_infra import (
    BASE_PORT,
    BY_NAME,
    DEPLOYED,
    ROOT,
    Manifest,
    containers,
    load_compose,
    load_k8s,
    of_kind,
    resolved_port,
    selects,
    settings_read_by,
)

NAME_LABEL = "app.kubernetes.io/name"
COMPONENT_LABEL = "app.kubernetes.io/component"
NAMESPACE_LABEL = "kubernetes.io/metadata.name"
# The namespaces of the ingress controller and of Prometheus (README, "Deploying").
INGRESS_NAMESPACE = "namespace:ingress-nginx"
MONITORING_NAMESPACE = "namespace:monitoring"
# PostgreSQL and the object store, when an operator runs them in the namespace.
DATA_STORES = {
    "postgresql": ({"app.kubernetes.io/part-of": "assent", COMPONENT_LABEL: "postgresql"}, 5432),
    "object-store": (
        {"app.kubernetes.io/part-of": "assent", COMPONENT_LABEL: "object-store"},
        9000,
    ),
}
SERVICE_OF_URL = {f"{name}_url": name for name in ServiceSettings().service_urls()}


def pod(component: str) -> str:
    return f"component:{component}"


# --- the calls the code makes ----------------------------------------------------------


def package_of(component: Component) -> Path:
    module = component.factory.partition(":")[0].rsplit(".", 1)[0]
    return ROOT / module.replace(".", "/")


@cache
def direct_calls(component: Component) -> frozenset[str]:
    """The services whose address the component's own code reads from its settings."""
    called: set[str] = set()
    for path in package_of(component).rglob("*.py"):
        if "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr in SERVICE_OF_URL:
                called.add(SERVICE_OF_URL[node.attr])
            elif isinstance(node, ast.Attribute) and node.attr == "service_urls":
                called.update(SERVICE_OF_URL.values())
    return frozenset(called - {component.name})


def calls(component: Component) -> frozenset[str]:
    return direct_calls(component) | receivers_of(component.name)


def callers(name: str) -> set[str]:
    return {pod(caller.name) for caller in DEPLOYED if name in calls(caller)}


# --- what the NetworkPolicies admit ------------------------------------------------------


def peer(entry: Manifest) -> str:
    """`component:<name>` (a pod of ours), `namespace:<name>`, or the entry itself."""
    pods, spaces = entry.get("podSelector"), entry.get("namespaceSelector")
    if pods is not None and spaces is None and set(pods) == {"matchLabels"}:
        labels = pods["matchLabels"]
        if labels.keys() == {NAME_LABEL, COMPONENT_LABEL} and labels[NAME_LABEL] == "assent":
            return pod(labels[COMPONENT_LABEL])
    namespace = (spaces or {}).get("matchLabels", {})
    if (
        pods is None
        and spaces == {"matchLabels": namespace}
        and namespace.keys() == {NAMESPACE_LABEL}
    ):
        return f"namespace:{namespace[NAMESPACE_LABEL]}"
    return f"anything matching {entry}"


def admitted(policies: list[Manifest], labels: dict[str, str], port: int, name: str) -> set[str]:
    """Who may open a connection to a pod with these labels on this port."""
    found: set[str] = set()
    for policy in policies:
        spec = policy["spec"]
        selector = spec["podSelector"]
        if "Ingress" not in spec.get("policyTypes", []) or set(selector) - {"matchLabels"}:
            continue
        if not selector.get("matchLabels", {}).items() <= labels.items():
            continue
        for rule in spec.get("ingress", []):
            ports = [p["port"] for p in rule.get("ports", [])]
            if ports and port not in ports and name not in ports:
                continue
            found.update(peer(entry) for entry in rule.get("from", [{"anyone": True}]))
    return found


def pod_labels(item: Manifest) -> dict[str, str]:
    labels: dict[str, str] = item["spec"]["template"]["metadata"]["labels"]
    return labels


def network_problems(objects: list[Manifest]) -> list[str]:
    policies = list(of_kind(objects, "NetworkPolicy").values())
    problems = []
    if not any(p["spec"]["podSelector"] == {} and not p["spec"].get("ingress") for p in policies):
        problems.append("no NetworkPolicy refuses every connection not admitted")
    for name, deployment in of_kind(objects, "Deployment").items():
        labels = pod_labels(deployment)
        (container,) = containers(deployment)
        http = callers(name) if name != "gateway" else {INGRESS_NAMESPACE}
        for port_name, wanted in (("http", http), ("metrics", {MONITORING_NAMESPACE})):
            port = resolved_port(container, port_name)
            if port is None:
                problems.append(f"{name} declares no {port_name} port")
                continue
            got = admitted(policies, labels, port, port_name)
            problems += [f"{who} cannot reach {name}'s {port_name} port" for who in wanted - got]
            problems += [f"{who} may reach {name}'s {port_name} port" for who in got - wanted]
    (job,) = of_kind(objects, "Job").values()
    users = {
        "postgresql": {pod(c.name) for c in DATABASE_COMPONENTS}
        | {pod(pod_labels(job)[COMPONENT_LABEL])},
        "object-store": {pod(c.name) for c in DEPLOYED if c.secrets >= STORE_WRITES}
        | {INGRESS_NAMESPACE},
    }
    for store, (labels, port) in DATA_STORES.items():
        got = admitted(policies, labels, port, "")
        problems += [f"{who} cannot reach {store}" for who in users[store] - got]
        problems += [f"{who} may reach {store}" for who in got - users[store]]
    return problems


# --- the Ingress, budgets, metrics and public addresses -------------------------------------


def env_of(deployment: Manifest, config_maps: dict[str, Manifest]) -> dict[str, str]:
    (container,) = containers(deployment)
    return {
        key: str(value)
        for source in container.get("envFrom", [])
        for key, value in config_maps[source["configMapRef"]["name"]].get("data", {}).items()
    }


def size_in_bytes(size: str) -> int:
    """ingress-nginx's sizes: `4m` is 4 MiB."""
    match = re.fullmatch(r"(\d+)([kmg]?)", size.lower())
    assert match, f"not a size: {size}"
    power: int = " kmg".index(match[2] or " ")
    return int(match[1]) << (10 * power)


def loopback_public_settings(component: Component) -> Iterator[tuple[str, str]]:
    """Settings whose default is an address of the gateway on loopback (the embedded
    mode's portal, say): in a cluster each must name the public host instead."""
    embedded = f"http://127.0.0.1:{BASE_PORT}/"
    for settings in settings_read_by(component):
        prefix = settings.model_config.get("env_prefix", "")
        for field_name, field in settings.model_fields.items():
            if isinstance(field.default, str) and field.default.startswith(embedded):
                yield prefix + field_name.upper(), field.default.removeprefix(embedded)


def ingress_problems(objects: list[Manifest]) -> list[str]:
    ingresses = list(of_kind(objects, "Ingress").values())
    if len(ingresses) != 1:
        return [f"expected one Ingress, found {len(ingresses)}"]
    (ingress,) = ingresses
    spec, annotations = ingress["spec"], ingress["metadata"].get("annotations", {})
    problems = []
    if not {"cert-manager.io/cluster-issuer", "cert-manager.io/issuer"} & annotations.keys():
        problems.append("the Ingress names no cert-manager issuer")
    tls_hosts = {host for entry in spec.get("tls", []) for host in entry["hosts"]}
    if not all(entry.get("secretName") for entry in spec.get("tls", [])):
        problems.append("a TLS entry of the Ingress names no Secret")
    deployments = of_kind(objects, "Deployment")
    hosts = set()
    for rule in spec["rules"]:
        hosts.add(rule["host"])
        if rule["host"] not in tls_hosts:
            problems.append(f"{rule['host']} is served without TLS")
        for path in rule["http"]["paths"]:
            backend = path["backend"]["service"]
            port = backend["port"].get("name") or backend["port"].get("number")
            service = of_kind(objects, "Service").get(backend["name"])
            if service is None or not selects(service, pod_labels(deployments["gateway"])):
                problems.append(f"the Ingress exposes {backend['name']}, not the gateway")
            elif port not in {
                p.get(key) for p in service["spec"]["ports"] for key in ("name", "port")
            }:
                problems.append(f"the Ingress sends to port {port}, which {backend['name']} lacks")
    body = annotations.get("nginx.ingress.kubernetes.io/proxy-body-size", "1m")
    if size_in_bytes(body) < DeliverySettings().max_request_bytes:
        problems.append(f"the Ingress refuses bodies over {body}, below a trace's limit")
    config_maps = of_kind(objects, "ConfigMap")
    (host,) = hosts or {""}
    for name, deployment in deployments.items():
        env = env_of(deployment, config_maps)
        wanted = dict(loopback_public_settings(BY_NAME[name]))
        if name == "gateway":
            wanted["ASSENT_GATEWAY_PUBLIC_URL"] = ""
        for key, path in wanted.items():
            if env.get(key, "").rstrip("/") != f"https://{host}/{path}".rstrip("/"):
                problems.append(f"{name}: {key}={env.get(key)}, not https://{host}/{path}")
    return problems


def budget_problems(objects: list[Manifest]) -> list[str]:
    budgets = list(of_kind(objects, "PodDisruptionBudget").values())
    scalers = {
        h["spec"]["scaleTargetRef"]["name"]: h
        for h in of_kind(objects, "HorizontalPodAutoscaler").values()
    }
    problems = []
    for name, deployment in of_kind(objects, "Deployment").items():
        mine = [
            b
            for b in budgets
            if b["spec"]["selector"]["matchLabels"].items() <= pod_labels(deployment).items()
        ]
        if len(mine) != 1:
            problems.append(f"{name} has {len(mine)} PodDisruptionBudgets, not one")
            continue
        spec, fewest = mine[0]["spec"], scalers[name]["spec"].get("minReplicas", 1)
        evictable = spec.get("maxUnavailable", fewest - spec.get("minAvailable", fewest))
        if not 1 <= evictable < fewest:
            problems.append(f"{name}'s budget lets {evictable} of {fewest} pods go at once")
    return problems


def metrics_problems(objects: list[Manifest]) -> list[str]:
    config_maps = of_kind(objects, "ConfigMap")
    problems = []
    for name, deployment in of_kind(objects, "Deployment").items():
        env, prefix = env_of(deployment, config_maps), BY_NAME[name].env_prefix
        (container,) = containers(deployment)
        declared = resolved_port(container, "metrics")
        if env.get(prefix + "METRICS_PORT") != str(declared):
            problems.append(
                f"{name} serves metrics on {env.get(prefix + 'METRICS_PORT')}, "
                f"its metrics port is {declared}"
            )
        if env.get(prefix + "METRICS_HOST") != "0.0.0.0":  # noqa: S104
            problems.append(f"{name}'s metrics answer on its loopback only")
    return problems


def resource_problems(objects: list[Manifest]) -> list[str]:
    return [
        f"{item['metadata']['name']} has no {kind} {resource}"
        for item in objects
        if item["kind"] in {"Deployment", "Job"}
        for container in containers(item)
        for kind in ("requests", "limits")
        for resource in ("cpu", "memory")
        if resource not in container.get("resources", {}).get(kind, {})
    ]


def store_address_problems(objects: list[Manifest]) -> list[str]:
    data = of_kind(objects, "ConfigMap")["assent-storage"]["data"]
    settings = StorageSettings.model_validate(
        {key.removeprefix("ASSENT_STORAGE_").lower(): value for key, value in data.items()}
    )
    public = urlsplit(settings.s3_presign_endpoint_url or "https://s3.amazonaws.com")
    host = public.hostname or ""
    if public.scheme != "https" or "." not in host or host.endswith((".svc", ".cluster.local")):
        return [f"links name {public.geturl()}, which buyers cannot reach over HTTPS"]
    return []


def test_each_component_admits_exactly_the_components_that_call_it() -> None:
    assert network_problems(load_k8s()) == []


def test_the_call_graph_is_read_from_the_code() -> None:
    # What the policies are checked against: the gateway calls every service; licensing
    # reads the catalogue; the rest are the outbox's events, the catalogue's notifications
    # among them receiving the catalogue's own.
    assert {name: set(calls(BY_NAME[name])) for name in BY_NAME} == {
        "gateway": {"catalogue", "licensing", "delivery", "audit"},
        "catalogue": {"catalogue", "licensing", "delivery", "audit"},
        "licensing": {"catalogue", "delivery", "audit"},
        "delivery": {"licensing", "audit"},
        "audit": set(),
    }


def test_only_the_gateway_is_public_over_tls_at_the_address_the_settings_give() -> None:
    objects = load_k8s()
    assert ingress_problems(objects) == []
    assert store_address_problems(objects) == []


def test_every_component_survives_a_drain_and_has_requests_and_limits() -> None:
    objects = load_k8s()
    assert budget_problems(objects) == []
    assert resource_problems(objects) == []


def test_metrics_are_served_on_the_declared_port_to_the_scraper() -> None:
    assert metrics_problems(load_k8s()) == []


def test_the_checks_notice_a_broken_copy() -> None:
    broken = copy.deepcopy(load_k8s())
    policies = of_kind(broken, "NetworkPolicy")
    catalogue_rule = policies["catalogue"]["spec"]["ingress"][0]
    catalogue_rule["from"] = catalogue_rule["from"][:1]
    policies["audit"]["spec"]["ingress"].append({"from": [{"podSelector": {}}]})
    policies["metrics"]["spec"]["ingress"][0].pop("ports")
    (ingress,) = of_kind(broken, "Ingress").values()
    ingress["spec"]["rules"][0]["host"] = "www.example.org"
    ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"] = "delivery"
    of_kind(broken, "ConfigMap")["assent-audit"]["data"]["ASSENT_AUDIT_METRICS_PORT"] = "9200"
    broken.remove(of_kind(broken, "PodDisruptionBudget")["delivery"])
    del containers(of_kind(broken, "Job")["assent-migrate"])[0]["resources"]["limits"]

    problems = "\n".join(
        network_problems(broken)
        + ingress_problems(broken)
        + budget_problems(broken)
        + metrics_problems(broken)
        + resource_problems(broken)
    )

    assert "component:licensing cannot reach catalogue's http port" in problems
    assert "anything matching {'podSelector': {}} may reach audit's http port" in problems
    assert "namespace:monitoring may reach gateway's http port" in problems
    assert "www.example.org is served without TLS" in problems
    assert "the Ingress exposes delivery, not the gateway" in problems
    assert (
        "ASSENT_GATEWAY_PUBLIC_URL=https://assent.example.org, not https://www.example" in problems
    )
    assert "audit serves metrics on 9200, its metrics port is 9100" in problems
    assert "delivery has 0 PodDisruptionBudgets" in problems
    assert "assent-migrate has no limits cpu" in problems


# --- compose: links the host can follow ---------------------------------------------------


def compose_link_problems(compose: Manifest) -> list[str]:
    services = compose["services"]
    problems = []
    for name in ("gateway", "catalogue", "delivery", "audit"):
        env = services[name]["environment"]
        value = str(
            env.get(
                "ASSENT_STORAGE_S3_PUBLIC_ENDPOINT_URL",
                env.get("ASSENT_STORAGE_S3_ENDPOINT_URL", ""),
            )
        )
        # ${NAME:-default}: what compose uses while .env leaves it unset.
        default = re.fullmatch(r"\$\{\w+:-(.*)\}", value)
        public = urlsplit(default[1] if default else value)
        published = {str(p).split(":")[-2] for p in services["minio"].get("ports", [])}
        if public.hostname in services or public.hostname not in {"localhost", "127.0.0.1"}:
            problems.append(f"{name}'s links name {public.hostname}, which the host cannot resolve")
        elif str(public.port) not in published:
            problems.append(f"{name}'s links name port {public.port}, which minio does not publish")
    return problems


def test_compose_links_reach_the_store_from_the_host_without_etc_hosts() -> None:
    assert compose_link_problems(load_compose()) == []
    broken = copy.deepcopy(load_compose())
    del broken["services"]["delivery"]["environment"]["ASSENT_STORAGE_S3_PUBLIC_ENDPOINT_URL"]
    assert compose_link_problems(broken) == [
        "delivery's links name minio, which the host cannot resolve"
    ]

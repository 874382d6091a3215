"""JSON Schemas of the custom resources k8s/ uses, from the operators' own CRDs.

The CRDs come from package registries, fetched once into the git-ignored run folder:

- KEDA, CloudNativePG and the Prometheus operator publish theirs in their Go modules
  (`go mod download`, with GOPATH/GOMODCACHE under `.run/go`, so a fresh machine needs only Go);
- Strimzi publishes no CRD files as packages: its model classes (`io.strimzi:api`) and the CRD
  generator Strimzi itself runs come from Maven Central (tools/strimzi-crds/pom.xml) and the
  four CRDs leadflow uses are generated from them with `java`.

Each CRD version's `openAPIV3Schema` becomes a JSON Schema that is strict: an object that lists
its properties accepts no others, unless the CRD marks it `x-kubernetes-preserve-unknown-fields`
(free-form Kafka configuration, for instance). CEL rules (`x-kubernetes-validations`) are not
evaluated. Anything that cannot be fetched raises `CrdUnavailable` with the tool's own output:
callers fail, they never skip.

    python -m leadflow_tools.k8s_schemas      # fetch (idempotent) and list what is cached
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ._paths import repo_root, run_root

# module@version → CRD files inside the module
GO_MODULES: dict[str, tuple[str, ...]] = {
    "github.com/kedacore/keda/v2@v2.16.1": (
        "config/crd/bases/keda.sh_scaledobjects.yaml",
        "config/crd/bases/keda.sh_triggerauthentications.yaml",
    ),
    "github.com/cloudnative-pg/cloudnative-pg@v1.25.1": ("config/crd/bases/postgresql.cnpg.io_clusters.yaml",),
    "github.com/prometheus-operator/prometheus-operator@v0.85.0": (
        "example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml",
        "example/prometheus-operator-crd/monitoring.coreos.com_prometheusrules.yaml",
    ),
}

# Strimzi model class → generated CRD file
STRIMZI_CLASSES: dict[str, str] = {
    "io.strimzi.api.kafka.model.kafka.Kafka": "kafka.strimzi.io_kafkas.yaml",
    "io.strimzi.api.kafka.model.nodepool.KafkaNodePool": "kafka.strimzi.io_kafkanodepools.yaml",
    "io.strimzi.api.kafka.model.topic.KafkaTopic": "kafka.strimzi.io_kafkatopics.yaml",
    "io.strimzi.api.kafka.model.user.KafkaUser": "kafka.strimzi.io_kafkausers.yaml",
}
STRIMZI_POM = Path("tools") / "strimzi-crds" / "pom.xml"

Schema = dict[str, Any]
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: the Kafka CRD alone is 340 kB


class CrdUnavailable(RuntimeError):
    """A CRD could not be fetched or generated; the message carries the tool's output."""


def cache_dir() -> Path:
    return run_root() / "k8s-crds"


def _run(command: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> str:
    try:
        done = subprocess.run(
            command,
            env={**os.environ, **(env or {})},
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise CrdUnavailable(f"{' '.join(command)}: {exc}") from exc
    if done.returncode != 0:
        raise CrdUnavailable(f"{' '.join(command)} exited {done.returncode}:\n{done.stderr.strip()[-4000:]}")
    return done.stdout


def _go_env() -> dict[str, str]:
    gopath = run_root() / "go"
    return {
        "GOPATH": str(gopath),
        "GOMODCACHE": str(gopath / "mod"),
        "GOTOOLCHAIN": "local",
        # the module cache is read-only by default, which makes `rm -rf .run` fail
        "GOFLAGS": "-modcacherw",
        "GO111MODULE": "on",
    }


def _fetch_go_module(module: str, files: tuple[str, ...]) -> list[Path]:
    target = cache_dir() / module.replace("/", "_").replace("@", "_")
    wanted = [target / Path(f).name for f in files]
    if all(p.is_file() for p in wanted):
        return wanted
    if shutil.which("go") is None:
        raise CrdUnavailable(f"`go` is not on PATH: it fetches {module} (its CRDs) from the Go module proxy")
    info = json.loads(_run(["go", "mod", "download", "-json", module], env=_go_env(), cwd=run_root()))
    if info.get("Error"):
        raise CrdUnavailable(f"go mod download {module}: {info['Error']}")
    source = Path(info["Dir"])
    target.mkdir(parents=True, exist_ok=True)
    for name, path in zip(files, wanted, strict=True):
        if not (source / name).is_file():
            raise CrdUnavailable(f"{module} has no {name}")
        shutil.copyfile(source / name, path)
    return wanted


def _generate_strimzi() -> list[Path]:
    target = cache_dir() / "strimzi"
    wanted = [target / name for name in STRIMZI_CLASSES.values()]
    if all(p.is_file() for p in wanted):
        return wanted
    for tool in ("mvn", "java"):
        if shutil.which(tool) is None:
            raise CrdUnavailable(f"`{tool}` is not on PATH: it generates Strimzi's CRDs (tools/strimzi-crds/pom.xml)")
    lib = run_root() / "strimzi-crds" / "lib"
    if not any(lib.glob("crd-generator-*.jar")):
        lib.mkdir(parents=True, exist_ok=True)
        _run(
            [
                "mvn",
                "-q",
                "-B",
                "-Dstyle.color=never",
                "-f",
                str(repo_root() / STRIMZI_POM),
                "dependency:copy-dependencies",
                f"-DoutputDirectory={lib}",
                "-DincludeScope=runtime",
            ]
        )
    scratch = target.with_name("strimzi.partial")
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    _run(
        [
            "java",
            "-cp",
            f"{lib}{os.sep}*",
            "io.strimzi.crdgenerator.CrdGenerator",
            "--crd-api-version",
            "v1",
            "--api-versions",
            "v1",
            "--storage-version",
            "v1",
            "--describe-api-versions",
            "v1",
            "--yaml",
            *(f"{cls}={scratch / name}" for cls, name in STRIMZI_CLASSES.items()),
        ]
    )
    missing = [name for name in STRIMZI_CLASSES.values() if not (scratch / name).is_file()]
    if missing:
        raise CrdUnavailable(f"Strimzi's CRD generator wrote no {missing}")
    shutil.rmtree(target, ignore_errors=True)
    scratch.rename(target)
    return wanted


def fetch_crds() -> list[Path]:
    """The CRD files (fetched or generated when not cached yet)."""
    paths: list[Path] = []
    for module, files in GO_MODULES.items():
        paths += _fetch_go_module(module, files)
    paths += _generate_strimzi()
    return paths


def to_json_schema(node: Any, *, strict: bool = True) -> Any:
    """A structural OpenAPI v3 schema (as CRDs write them) as JSON Schema.

    `strict`: objects with listed `properties` accept no other keys, unless marked
    `x-kubernetes-preserve-unknown-fields`. Subschemas of anyOf/allOf/oneOf/not only restate
    parts of their parent (a structural-schema rule), so they are never made strict.
    """
    if not isinstance(node, dict):
        return node
    out: Schema = {}
    for key, value in node.items():
        if key == "properties":
            out[key] = {name: to_json_schema(sub, strict=strict) for name, sub in value.items()}
        elif key in ("items", "additionalProperties") and isinstance(value, dict):
            out[key] = to_json_schema(value, strict=strict)
        elif key in ("anyOf", "allOf", "oneOf"):
            out[key] = [to_json_schema(sub, strict=False) for sub in value]
        elif key == "not":
            out[key] = to_json_schema(value, strict=False)
        elif key.startswith("x-kubernetes-") or key in ("nullable", "description", "example", "externalDocs"):
            continue
        else:
            out[key] = value
    if node.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out.setdefault("anyOf", [{"type": "integer"}, {"type": "string"}])
    if node.get("nullable") and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    preserve = node.get("x-kubernetes-preserve-unknown-fields") or node.get("x-kubernetes-embedded-resource")
    if strict and "properties" in node and "additionalProperties" not in node and not preserve:
        out["additionalProperties"] = False
    return out


_METADATA: Schema = {
    # the CRDs say only `type: object`; the apiserver checks ObjectMeta, this checks what k8s/ sets
    "type": "object",
    "properties": {
        "name": {"type": "string", "pattern": r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", "maxLength": 253},
        "namespace": {"type": "string"},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
    },
    "required": ["name"],
    "additionalProperties": False,
}


@dataclass(frozen=True)
class CrdSchemas:
    """JSON Schemas by (apiVersion, kind), for every served version of every fetched CRD."""

    schemas: dict[tuple[str, str], Schema]
    sources: dict[tuple[str, str], Path]

    def schema_for(self, api_version: str, kind: str) -> Schema | None:
        return self.schemas.get((api_version, kind))

    def errors(self, obj: dict[str, Any]) -> list[str]:
        """Every schema violation of one rendered object (empty: valid)."""
        import jsonschema

        schema = self.schema_for(str(obj.get("apiVersion")), str(obj.get("kind")))
        if schema is None:
            return [f"no CRD schema for {obj.get('apiVersion')} {obj.get('kind')}"]
        validator = jsonschema.Draft7Validator(schema)
        return [
            f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
            for e in sorted(validator.iter_errors(obj), key=lambda e: list(map(str, e.absolute_path)))
        ]


def load_crd_schemas() -> CrdSchemas:
    schemas: dict[tuple[str, str], Schema] = {}
    sources: dict[tuple[str, str], Path] = {}
    for path in fetch_crds():
        for crd in yaml.load_all(path.read_text(), Loader=_LOADER):
            if not crd or crd.get("kind") != "CustomResourceDefinition":
                continue
            group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
            for version in crd["spec"]["versions"]:
                if not version.get("served", True):
                    continue
                schema = to_json_schema(version["schema"]["openAPIV3Schema"])
                schema.setdefault("properties", {})["metadata"] = _METADATA
                schema["required"] = sorted({*schema.get("required", ()), "apiVersion", "kind", "metadata"})
                key = (f"{group}/{version['name']}", kind)
                schemas[key] = schema
                sources[key] = path
    return CrdSchemas(schemas, sources)


def kustomize_build(directory: Path) -> list[dict[str, Any]]:
    """The objects `kubectl kustomize <directory>` renders (raises CalledProcessError when it fails)."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        raise FileNotFoundError("kubectl is not on PATH: it builds the kustomize overlays")
    done = subprocess.run(
        [kubectl, "kustomize", str(directory)], capture_output=True, text=True, check=False, timeout=120
    )
    if done.returncode != 0:
        raise subprocess.CalledProcessError(done.returncode, done.args, done.stdout, done.stderr)
    return [o for o in yaml.load_all(done.stdout, Loader=_LOADER) if o]


def main() -> int:
    try:
        loaded = load_crd_schemas()
    except CrdUnavailable as exc:
        print(exc, file=sys.stderr)
        return 1
    for (api_version, kind), path in sorted(loaded.sources.items()):
        print(f"{api_version:35} {kind:22} {path.relative_to(run_root())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""A small Kustomize renderer for the subset k8s/ uses, so the tests need no kustomize binary.

Supported kustomization fields: `resources` (files and folders with a kustomization.yaml),
`patches` (strategic-merge patch files, target taken from the patch's kind and name),
`namespace`, and `labels` (`pairs`, `includeTemplates`; selectors are never touched). Anything
else raises, so a manifest change that needs more fails here instead of rendering wrongly.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

Manifest = dict[str, Any]

SUPPORTED_FIELDS = frozenset({"apiVersion", "kind", "resources", "patches", "namespace", "labels"})
# strategic-merge keys of the Kubernetes lists the patches may touch; other lists are replaced
MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "imagePullSecrets": "name",
}
# lists whose merge key depends on where they are (containerPort vs Service port): not supported
AMBIGUOUS_LISTS = frozenset({"ports"})
CLUSTER_SCOPED_KINDS = frozenset(
    {"Namespace", "ClusterRole", "ClusterRoleBinding", "PersistentVolume", "StorageClass"}
)
TEMPLATE_KINDS = frozenset({"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"})


class UnsupportedKustomization(ValueError):
    """The kustomization uses a feature this renderer does not implement."""


def render(folder: Path) -> list[Manifest]:
    """The objects `kustomize build folder` would print, in resource order."""
    kustomization = yaml.safe_load((folder / "kustomization.yaml").read_text(encoding="utf-8"))
    unknown = set(kustomization) - SUPPORTED_FIELDS
    if unknown:
        raise UnsupportedKustomization(f"{folder}: unsupported fields {sorted(unknown)}")
    objects: list[Manifest] = []
    for entry in kustomization.get("resources", []):
        path = (folder / entry).resolve()
        objects += render(path) if path.is_dir() else load_documents(path)
    _check_unique(objects, folder)
    for patch in kustomization.get("patches", []):
        if set(patch) != {"path"}:
            raise UnsupportedKustomization(f"{folder}: only `patches: - path: file` is supported")
        for document in load_documents(folder / patch["path"]):
            target = _find(objects, document, folder)
            merged = strategic_merge(target, document)
            target.clear()
            target.update(merged)
    for entry in kustomization.get("labels", []):
        _apply_labels(objects, entry, folder)
    if "namespace" in kustomization:
        for obj in objects:
            if obj["kind"] not in CLUSTER_SCOPED_KINDS:
                obj["metadata"]["namespace"] = kustomization["namespace"]
    return objects


def load_documents(path: Path) -> list[Manifest]:
    with path.open(encoding="utf-8") as handle:
        return [doc for doc in yaml.safe_load_all(handle) if doc]


def strategic_merge(base: Any, patch: Any, key: str = "") -> Any:
    """Merge `patch` into a copy of `base` the way `kubectl patch --type strategic` does."""
    if isinstance(base, dict) and isinstance(patch, dict):
        if any(str(name).startswith("$") for name in patch):
            raise UnsupportedKustomization(f"patch directives are not supported: {list(patch)}")
        merged = copy.deepcopy(base)
        for name, value in patch.items():
            if value is None:
                merged.pop(name, None)
            elif name in merged:
                merged[name] = strategic_merge(merged[name], value, name)
            else:
                merged[name] = copy.deepcopy(value)
        return merged
    if isinstance(base, list) and isinstance(patch, list):
        if key in AMBIGUOUS_LISTS:
            raise UnsupportedKustomization(f"patching a `{key}` list is not supported")
        if key in MERGE_KEYS:
            return _merge_list(base, patch, MERGE_KEYS[key], key)
    return copy.deepcopy(patch)


def _merge_list(base: list[Any], patch: list[Any], merge_key: str, key: str) -> list[Any]:
    merged = copy.deepcopy(base)
    for item in patch:
        position = next(
            (i for i, old in enumerate(merged) if old.get(merge_key) == item.get(merge_key)), None
        )
        if position is None:
            merged.append(copy.deepcopy(item))
        else:
            merged[position] = strategic_merge(merged[position], item, key)
    return merged


def _find(objects: list[Manifest], patch: Manifest, folder: Path) -> Manifest:
    for obj in objects:
        if obj["kind"] == patch["kind"] and obj["metadata"]["name"] == patch["metadata"]["name"]:
            return obj
    raise UnsupportedKustomization(
        f"{folder}: patch target {patch['kind']}/{patch['metadata']['name']} not found"
    )


def _check_unique(objects: list[Manifest], folder: Path) -> None:
    seen: set[tuple[str, str]] = set()
    for obj in objects:
        identity = (obj["kind"], obj["metadata"]["name"])
        if identity in seen:
            raise ValueError(f"{folder}: {identity} is defined twice")
        seen.add(identity)


def _apply_labels(objects: list[Manifest], entry: dict[str, Any], folder: Path) -> None:
    if set(entry) - {"pairs", "includeTemplates"}:
        raise UnsupportedKustomization(f"{folder}: labels support pairs and includeTemplates only")
    for obj in objects:
        obj["metadata"].setdefault("labels", {}).update(entry["pairs"])
        if entry.get("includeTemplates") and obj["kind"] in TEMPLATE_KINDS:
            template = obj["spec"]["template"].setdefault("metadata", {})
            template.setdefault("labels", {}).update(entry["pairs"])

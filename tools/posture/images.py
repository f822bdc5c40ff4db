"""Images: a tag that means one build, and a digest that cannot move under it."""

from __future__ import annotations

from tools.posture.model import Obj
from tools.posture.registry import check
from tools.posture.workloads import WORKLOADS, per_container


def split_image(image: str) -> tuple[str, str | None, str | None]:
    """``(repository, tag, digest)`` of an image reference (a registry port is not a tag)."""
    named, _, digest = image.partition("@")
    last = named.rsplit("/", 1)[-1]
    if ":" in last:
        repo, _, tag = named.rpartition(":")
        return repo, tag, digest or None
    return named, None, digest or None


def _tag(spec: Obj, c: Obj) -> str | None:
    image = str(c.get("image") or "")
    _, tag, digest = split_image(image)
    if digest:
        return None
    if tag is None:
        return f"image {image} has no tag (it means latest)"
    if tag == "latest":
        return f"image {image} uses the latest tag"
    return None


check(
    "image-tag-fixed",
    severity="high",
    title="Images must name a version, not latest or no tag",
    why="latest (or no tag) is whatever was pushed last: two pods of one workload can run different "
    "code, and a rollback has nothing to go back to.",
    fix="Use a version tag (app:1.4.2), or better a digest.",
    kinds=WORKLOADS,
    checkov=("CKV_K8S_14",),
)(per_container(_tag))


def _digest(spec: Obj, c: Obj) -> str | None:
    image = str(c.get("image") or "")
    return None if split_image(image)[2] else f"image {image} is not pinned by digest"


check(
    "image-digest",
    severity="low",
    title="Images should be pinned by digest",
    why="A tag can be pushed again; only a digest guarantees the bytes that were reviewed are the bytes "
    "that run.",
    fix="Pin the image as repo:tag@sha256:... (devops-agent posture --fix proposes the digest the running "
    "pods report in status.containerStatuses[].imageID).",
    kinds=WORKLOADS,
    checkov=("CKV_K8S_43",),
    fix_action="k8s_pin_image_digest",
)(per_container(_digest))


def _pull_policy(spec: Obj, c: Obj) -> str | None:
    image = str(c.get("image") or "")
    if split_image(image)[2]:
        return None  # a digest cannot change: any pull policy runs the same bytes
    policy = c.get("imagePullPolicy")
    if policy == "Always":
        return None
    return f"imagePullPolicy is {policy or 'unset'} for a tag that can move"


check(
    "image-pull-policy",
    severity="low",
    title="Images pinned by tag only should be pulled Always",
    why="With IfNotPresent a node keeps running the build it pulled first, even after the tag moved; "
    "nodes disagree on what the tag means.",
    fix="Pin the image by digest, or set imagePullPolicy: Always.",
    kinds=WORKLOADS,
    checkov=("CKV_K8S_15",),
)(per_container(_pull_policy))

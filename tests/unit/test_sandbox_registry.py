"""The sandbox's registry resolves a pinned image as a real one does: a tag's own digest only."""

from __future__ import annotations

import pytest

from sandbox.images import CURRENT, get_profile, image_digest, image_id, resolve

pytestmark = pytest.mark.timeout(10)
IMAGE = CURRENT["predictor"]
REPO = IMAGE.rsplit(":", 1)[0]


def test_a_tag_pinned_to_its_own_digest_resolves_to_the_same_build() -> None:
    digest = image_digest(IMAGE)
    assert resolve(f"{IMAGE}@{digest}") == IMAGE and resolve(f"{REPO}@{digest}") == IMAGE
    assert get_profile(f"{IMAGE}@{digest}") is get_profile(IMAGE)
    assert image_id(f"{IMAGE}@{digest}") == image_id(IMAGE) == f"{REPO}@{digest}"


def test_a_digest_of_another_build_is_not_found() -> None:
    other = image_digest(CURRENT["cache"])
    assert resolve(f"{IMAGE}@{other}") is None and get_profile(f"{REPO}@{other}") is None
    assert image_id(f"{IMAGE}@sha256:{'0' * 64}") == ""

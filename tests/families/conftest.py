"""Order only: each family's cases of tests/test_matrix.py run next to its own file's tests, so the models they
share load once (videogen's pipeline cache holds two). Other tests keep their places."""

from __future__ import annotations

import pytest


def _family(item: pytest.Item) -> str | None:
    if item.path.parent.name == "families" and item.path.name.startswith("test_"):
        return item.path.stem.removeprefix("test_")
    params = getattr(getattr(item, "callspec", None), "params", {})
    if item.path.name == "test_matrix.py" and "model" in params:
        import videogen

        return videogen.resolve(params["model"]).family
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    family = {i: _family(item) for i, item in enumerate(items)}
    slots = [i for i in family if family[i] is not None]
    first: dict[str, int] = {}
    for i in slots:
        first.setdefault(family[i], len(first))
    ordered = [items[i] for i in sorted(slots, key=lambda i: first[family[i]])]  # stable: file order within
    for i, item in zip(slots, ordered):
        items[i] = item

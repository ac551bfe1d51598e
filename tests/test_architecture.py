"""The app graph is acyclic: ``ls apps/`` reads as the architecture, each app depending only
on apps below it (docs/architecture.md).

Every way one app can reach another counts: absolute, relative and function-level imports,
dotted paths in strings (``import_string``, ``mock.patch`` targets, settings-like values),
``apps.get_model(...)`` and relation fields naming another app's model by label. Hiding a
dependency behind a string does not remove it.
"""

import ast
import re
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

from django.apps import apps as django_apps

from tests.test_settings import ROOT

APPS_DIR = ROOT / "apps"
RELATION_FIELDS = {"ForeignKey", "OneToOneField", "ManyToManyField"}
MODEL_LABEL = re.compile(r"^([a-z_]+)\.[A-Za-z_]+$")


def app_packages() -> list[str]:
    return sorted(path.name for path in APPS_DIR.iterdir() if (path / "__init__.py").exists())


def label_to_package() -> dict[str, str]:
    """Django app labels (``oauth``) to packages under apps/, from the installed configs;
    model classes may declare another package's label (Meta.app_label)."""
    mapping = {}
    for config in django_apps.get_app_configs():
        if config.name.startswith("apps."):
            mapping[config.label] = config.name.split(".")[1]
    return mapping


def _module_name(path: Path, root: Path) -> list[str]:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return parts[:-1] if parts[-1] == "__init__" else parts


def _string_app(value: str) -> str | None:
    if value.startswith("apps."):
        return value.split(".")[1]
    return None


def references(path: Path, labels: dict[str, str], root: Path = ROOT) -> Iterator[tuple[str, int]]:
    """(app package, line) for every reference to an app in one module."""
    tree = ast.parse(path.read_text(), filename=str(path))
    module = _module_name(path, root)
    package = module if path.name == "__init__.py" else module[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("apps."):
                    yield alias.name.split(".")[1], node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = [*base, *(node.module.split(".") if node.module else [])]
            else:
                target = (node.module or "").split(".")
            if len(target) > 1 and target[0] == "apps":
                yield target[1], node.lineno
            elif target == ["apps"]:
                for alias in node.names:
                    yield alias.name, node.lineno
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if (app := _string_app(node.value)) is not None:
                yield app, node.lineno
        elif isinstance(node, ast.Call):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            strings = [arg.value for arg in node.args if isinstance(arg, ast.Constant) and isinstance(arg.value, str)]
            strings += [
                kw.value.value
                for kw in node.keywords
                if kw.arg == "to" and isinstance(kw.value, ast.Constant) and isinstance(kw.value.value, str)
            ]
            if name == "get_model" and strings:
                label = strings[0].split(".")[0]
                if label in labels:
                    yield labels[label], node.lineno
            elif name in RELATION_FIELDS and strings and (match := MODEL_LABEL.match(strings[0])):
                if match.group(1) in labels:
                    yield labels[match.group(1)], node.lineno


def app_graph() -> dict[str, dict[str, list[str]]]:
    """app -> {app it depends on -> ["path:line", ...]}."""
    labels = label_to_package()
    packages = set(app_packages())
    graph: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for path in sorted(APPS_DIR.rglob("*.py")):
        app = path.relative_to(APPS_DIR).parts[0]
        if app not in packages or "migrations" in path.parts:
            continue
        for target, line in references(path, labels):
            if target != app and target in packages:
                graph[app][target].append(f"{path.relative_to(ROOT)}:{line}")
    return graph


def find_cycle(graph: dict[str, dict[str, list[str]]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph.get(node, {})):
            if state.get(target) == 1:
                return [*stack[stack.index(target) :], target]
            if target not in state and (cycle := visit(target)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_no_import_cycle_between_apps():
    graph = app_graph()
    cycle = find_cycle(graph)
    if cycle:
        evidence = [f"{a} -> {b}: {', '.join(graph[a][b][:3])}" for a, b in zip(cycle, cycle[1:], strict=False)]
        raise AssertionError("apps depend on each other in a cycle:\n" + "\n".join(evidence))


def test_the_cycle_finder_sees_every_kind_of_reference(tmp_path):
    """The detector itself: each way of referring to another app is seen."""
    module = tmp_path / "apps" / "lower" / "probe.py"
    module.parent.mkdir(parents=True)
    (module.parent / "__init__.py").write_text("")
    module.write_text(
        "from ..upper import x\n"
        "def f():\n"
        "    import apps.other.thing\n"
        "    return apps.get_model('oauth', 'Application')\n"
        "target = 'apps.strings.module.attr'\n"
        "field = models.ForeignKey('consent.Consent', on_delete=None)\n"
    )
    found = {app for app, _line in references(module, {"oauth": "oauth", "consent": "consent"}, root=tmp_path)}
    assert found == {"upper", "other", "oauth", "strings", "consent"}
    assert find_cycle({"a": {"b": ["x"]}, "b": {"c": ["y"]}, "c": {"a": ["z"]}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b": ["x"]}, "b": {}}) is None


def documented_layers() -> list[str]:
    """The apps in the order docs/architecture.md's map lists them, bottom first."""
    text = (ROOT / "docs" / "architecture.md").read_text()
    return re.findall(r"^\| `([a-z_]+)` \|", text.split("## The app map", 1)[1].split("\n## ", 1)[0], re.M)


def test_every_app_is_in_the_documented_map_once():
    layers = documented_layers()
    assert sorted(layers) == app_packages(), "docs/architecture.md's map and apps/ differ"


def test_every_dependency_points_to_an_app_listed_before_it():
    """The map is the architecture: an app uses only apps listed before it, so the map can be
    read bottom-up and a new dependency either fits it or changes the document."""
    position = {app: i for i, app in enumerate(documented_layers())}
    upward = [
        f"{app} -> {target} ({evidence[0]})"
        for app, targets in app_graph().items()
        for target, evidence in targets.items()
        if position[target] > position[app]
    ]
    assert not upward, "dependencies on apps listed later in docs/architecture.md:\n" + "\n".join(upward)

# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Imports point one way: core < models < runtime < ros < tools (shared/DESIGN.md).

Every import statement counts, at module level or inside a function:
- core imports the standard library only, so the scheduler runs without ROS or torch;
- models imports core, numpy, scipy, torch and cv2;
- models and runtime never import rclpy or a ROS message package;
- the torch-free modules, and everything the input nodes import, never import torch, so
  camera_input and audio_input start fast and small;
- no module imports itself back through others: the package's import graph has no circle.
"""

import ast
from pathlib import Path
import subprocess
import sys
from typing import Dict, Iterator, List, Mapping, Optional, Sequence, Set, Tuple

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
PACKAGE = 'blastnet_ros'
PACKAGE_DIR = REPO_ROOT / PACKAGE
LAYERS = ('core', 'models', 'runtime', 'ros', 'tools')

STDLIB = frozenset(sys.stdlib_module_names)  # Python >= 3.10

MODELS_THIRD_PARTY = frozenset({'numpy', 'scipy', 'torch', 'cv2'})
ROS_PACKAGES_ALLOWED_BELOW_ROS = frozenset({'ament_index_python'})
TORCH_FREE_MODULES = (
    'blastnet_ros.models.specs',
    'blastnet_ros.models.results',
    'blastnet_ros.models.preprocessing',
    'blastnet_ros.models.audio_features',
    'blastnet_ros.models.cascade',
)
INPUT_NODE_MODULES = (
    'blastnet_ros.ros.camera_input_node',
    'blastnet_ros.ros.audio_input_node',
)


def module_files() -> Dict[str, Path]:
    """Return {dotted module name: file} for every module of the package."""
    modules = {}
    for path in sorted(PACKAGE_DIR.rglob('*.py')):
        parts = path.relative_to(REPO_ROOT).with_suffix('').parts
        if parts[-1] == '__init__':
            parts = parts[:-1]
        modules['.'.join(parts)] = path
    return modules


MODULES = module_files()


def imported_names(module: str, path: Path) -> Iterator[Tuple[str, int]]:
    """Yield (dotted name, line) of everything `module` imports, relative imports resolved.

    `from a.b import c` yields a.b.c where that is a module of the package, else a.b.
    """
    is_package = path.name == '__init__.py'
    for node in ast.walk(ast.parse(path.read_text(encoding='utf-8'), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ''
            if node.level:
                anchor = module.split('.')
                if not is_package:
                    anchor = anchor[:-1]
                anchor = anchor[:len(anchor) - (node.level - 1)]
                base = '.'.join(anchor + ([base] if base else []))
            for alias in node.names:
                candidate = f'{base}.{alias.name}'
                yield (candidate if candidate in MODULES else base), node.lineno


def top_level(name: str) -> str:
    return name.split('.')[0]


def layer_of(module: str) -> str:
    parts = module.split('.')
    return parts[1] if len(parts) > 1 and parts[1] in LAYERS else ''


def is_ros_package(name: str) -> bool:
    top = top_level(name)
    return (top in ('rclpy', 'rosbags', 'launch', 'launch_ros', 'rosidl_runtime_py')
            or top.endswith(('_msgs', '_interfaces', '_srvs')))


def modules_of(layer: str):
    return sorted(name for name in MODULES if layer_of(name) == layer)


def test_the_package_layout_is_found():
    for layer in LAYERS:
        assert modules_of(layer), f'no module found in {PACKAGE}/{layer}'
    for module in TORCH_FREE_MODULES + INPUT_NODE_MODULES:
        assert module in MODULES, f'{module} is missing'


@pytest.mark.parametrize('module', modules_of('core'))
def test_core_imports_the_standard_library_only(module):
    wrong = [f'line {line}: {name}' for name, line in imported_names(module, MODULES[module])
             if top_level(name) not in STDLIB
             and not (top_level(name) == PACKAGE and layer_of(name) == 'core')]
    assert not wrong, f'{module} imports beyond the standard library and core: {wrong}'


@pytest.mark.parametrize('module', modules_of('models'))
def test_models_import_core_numpy_scipy_torch_cv2_only(module):
    wrong = [f'line {line}: {name}' for name, line in imported_names(module, MODULES[module])
             if top_level(name) not in STDLIB | MODELS_THIRD_PARTY
             and not (top_level(name) == PACKAGE and layer_of(name) in ('core', 'models'))]
    assert not wrong, f'{module} imports what models may not: {wrong}'


@pytest.mark.parametrize('module', modules_of('core') + modules_of('models')
                         + modules_of('runtime'))
def test_below_ros_nothing_imports_rclpy_or_messages(module):
    wrong = [f'line {line}: {name}' for name, line in imported_names(module, MODULES[module])
             if is_ros_package(name) and top_level(name) not in ROS_PACKAGES_ALLOWED_BELOW_ROS]
    assert not wrong, f'{module} imports ROS (only blastnet_ros/ros may): {wrong}'


@pytest.mark.parametrize('module', sorted(MODULES))
def test_imports_point_down_the_layers(module):
    own = layer_of(module)
    if not own:
        return  # blastnet_ros/__init__.py
    wrong = [f'line {line}: {name}' for name, line in imported_names(module, MODULES[module])
             if top_level(name) == PACKAGE and layer_of(name)
             and LAYERS.index(layer_of(name)) > LAYERS.index(own)]
    assert not wrong, f'{module} ({own}) imports from a higher layer: {wrong}'


def package_closure(start: str) -> Set[str]:
    """Return `start` and every package module it imports, directly or not (with parents)."""
    seen: Set[str] = set()
    todo = [start]
    while todo:
        module = todo.pop()
        parts = module.split('.')
        for depth in range(1, len(parts) + 1):  # importing a.b.c runs a and a.b first
            name = '.'.join(parts[:depth])
            if name in MODULES and name not in seen:
                seen.add(name)
                todo += [imported for imported, _ in imported_names(name, MODULES[name])
                         if top_level(imported) == PACKAGE]
    return seen


@pytest.mark.parametrize('start', TORCH_FREE_MODULES + INPUT_NODE_MODULES)
def test_torch_free_modules_never_import_torch(start):
    wrong = sorted(f'{module} line {line}' for module in package_closure(start)
                   for name, line in imported_names(module, MODULES[module])
                   if top_level(name) == 'torch')
    assert not wrong, f'{start} reaches torch through: {wrong}'


@pytest.mark.parametrize('module', INPUT_NODE_MODULES)
def test_importing_an_input_node_loads_no_torch(module):
    code = ('import sys, importlib; importlib.import_module(sys.argv[1]); '
            'print(sorted(m for m in sys.modules if m == "torch" or m.startswith("torch.")))')
    result = subprocess.run([sys.executable, '-c', code, module], cwd=REPO_ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == '[]', f'{module} loaded {result.stdout.strip()}'


def test_import_parser_resolves_relative_and_from_imports(tmp_path):
    source = tmp_path / 'probe.py'
    source.write_text('from . import specs\nfrom ..core import input_errors\n'
                      'from blastnet_ros.models import results\nimport torch.nn\n'
                      'def later():\n    import rclpy\n')
    names = [name for name, _ in imported_names('blastnet_ros.models.probe', source)]
    assert names == ['blastnet_ros.models.specs', 'blastnet_ros.core.input_errors',
                     'blastnet_ros.models.results', 'torch.nn', 'rclpy']


def import_graph() -> Dict[str, Set[str]]:
    """Return {module: the package modules its import statements name} for every module."""
    return {module: {name for name, _ in imported_names(module, path)
                     if name in MODULES and name != module}
            for module, path in MODULES.items()}


def find_cycle(graph: Mapping[str, Sequence[str]]) -> Optional[List[str]]:
    """Return one import circle of `graph` as [a, b, ..., a], or None when there is none."""
    done: Set[str] = set()  # modules from which no circle can be reached
    for start in sorted(graph):
        if start in done:
            continue
        path = [start]  # the imports followed from `start`, depth first
        todo = [iter(sorted(graph[start]))]
        while todo:
            following = next(todo[-1], None)
            if following is None:
                done.add(path.pop())
                todo.pop()
            elif following in path:
                return path[path.index(following):] + [following]
            elif following not in done:
                path.append(following)
                todo.append(iter(sorted(graph.get(following, ()))))
    return None


def test_the_package_has_no_import_circle():
    cycle = find_cycle(import_graph())
    assert cycle is None, f'import circle: {" -> ".join(cycle)}'


def test_the_cycle_finder_names_the_circle():
    graph = {'a': ['b'], 'b': ['c', 'd'], 'c': [], 'd': ['e'], 'e': ['b']}
    assert find_cycle(graph) == ['b', 'd', 'e', 'b']
    assert find_cycle({'a': ['b', 'c'], 'b': ['c'], 'c': []}) is None
    assert find_cycle({'a': ['a']}) == ['a', 'a']

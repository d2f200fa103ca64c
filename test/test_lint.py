# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Code style of the whole package: flake8, pep257 docstrings, copyright headers.

flake8 runs through ament_flake8 with setup.cfg's [flake8] section (99 columns), as
`colcon test` would; pep257 through ament_pep257's report on pydocstyle. Where the ament
tools are missing, flake8's and pydocstyle's own APIs run the same checks.
"""

import ast
import contextlib
import logging
import os
from pathlib import Path
import subprocess
import sys

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SETUP_CFG = REPO_ROOT / 'setup.cfg'
# What the checks read, relative to the repository root.
PACKAGE_PATHS = ('blastnet_ros', 'launch', 'setup.py')
TEST_PATHS = ('test',)
SKIPPED_DIRS = {'build', 'install', 'log', '__pycache__'}  # and every hidden folder

COPYRIGHT_LINES = (
    '# Copyright 2026 The blastnet_ros Authors',
    '# SPDX-License-Identifier: Apache-2.0',
)

# pep257 as the project uses it: the pep257 convention, with the class docstring standing
# for __init__ (D107) and magic methods (D105) needing none. Test functions and classes
# are named for what they check and need no docstring; test modules do.
PACKAGE_PEP257_IGNORE = ('D105', 'D107')
TEST_PEP257_IGNORE = ('D101', 'D102', 'D103', 'D105', 'D106', 'D107')


def python_files():
    """Return every .py file of the repository that is ours (not venv, build, install)."""
    found = []
    for folder, dirs, files in os.walk(REPO_ROOT):
        dirs[:] = sorted(d for d in dirs if not d.startswith('.') and d not in SKIPPED_DIRS)
        found += [Path(folder, name) for name in sorted(files) if name.endswith('.py')]
    return found


def test_python_files_are_found():
    names = {path.relative_to(REPO_ROOT).as_posix() for path in python_files()}
    assert {'setup.py', 'test/test_lint.py', 'launch/blastnet.launch.py'} <= names
    assert not any(name.startswith(('.venv/', 'build/', 'install/')) for name in names)


@pytest.mark.linter
def test_flake8():
    try:
        from ament_flake8.main import main_with_errors
    except ImportError:
        errors = _flake8_errors_without_ament()
    else:
        with _in_repo_root():
            _, errors = main_with_errors(
                argv=['--config', str(SETUP_CFG), *PACKAGE_PATHS, *TEST_PATHS])
    assert not errors, f'{len(errors)} flake8 error(s):\n' + '\n'.join(errors)


def _flake8_errors_without_ament():
    result = subprocess.run(
        [sys.executable, '-m', 'flake8', '--config', str(SETUP_CFG),
         *PACKAGE_PATHS, *TEST_PATHS],
        cwd=REPO_ROOT, capture_output=True, text=True)
    return [line for line in result.stdout.splitlines() if line.count(':') >= 3]


@pytest.mark.linter
@pytest.mark.parametrize('paths, ignored', [
    (PACKAGE_PATHS, PACKAGE_PEP257_IGNORE),
    (TEST_PATHS, TEST_PEP257_IGNORE),
], ids=['package', 'tests'])
def test_pep257(paths, ignored):
    errors = _pep257_errors(paths, ignored)
    assert not errors, f'{len(errors)} pep257 error(s):\n' + '\n'.join(errors)


def _pep257_errors(paths, ignored):
    try:
        from ament_pep257.main import generate_pep257_report
    except ImportError:  # ament_pep257 absent, or without its pydocstyle
        pydocstyle = pytest.importorskip(
            'pydocstyle', reason='neither ament_pep257 nor pydocstyle is installed')
        return _pydocstyle_errors(pydocstyle, paths, ignored)
    logging.getLogger('pydocstyle.utils').setLevel(logging.WARNING)  # no line per file
    with _in_repo_root():
        report = generate_pep257_report(
            list(paths), [], '', '', 'pep257', ','.join(ignored), '')
    return [f'{name}:{error["linenumber"]}: {error["message"]}'
            for name, file_errors in report for error in file_errors]


def _pydocstyle_errors(pydocstyle, paths, ignored):
    files = [str(path) for path in python_files()
             if path.relative_to(REPO_ROOT).parts[0] in paths
             or path.relative_to(REPO_ROOT).as_posix() in paths]
    codes = pydocstyle.violations.conventions.pep257 - set(ignored)
    return [str(error) for error in pydocstyle.check(files, select=codes)]


@contextlib.contextmanager
def _in_repo_root():
    previous = os.getcwd()
    os.chdir(REPO_ROOT)
    try:
        yield
    finally:
        os.chdir(previous)


def header_problem(text, name='<text>'):
    """Return what is wrong with the start of a .py file's text, or '' if nothing."""
    if tuple(text.splitlines()[:2]) != COPYRIGHT_LINES:
        return 'does not start with the two copyright lines'
    try:
        docstring = ast.get_docstring(ast.parse(text, name))
    except SyntaxError as error:
        return f'does not parse ({error})'
    return '' if docstring else 'no module docstring after the copyright lines'


@pytest.mark.linter
def test_copyright_headers_and_module_docstrings():
    problems = []
    for path in python_files():
        name = path.relative_to(REPO_ROOT).as_posix()
        problem = header_problem(path.read_text(encoding='utf-8'), name)
        if problem:
            problems.append(f'{name}: {problem}')
    assert not problems, '\n'.join(
        problems + ['every .py file starts with:', *COPYRIGHT_LINES,
                    'then a module docstring'])


@pytest.mark.parametrize('text, problem', [
    ('\n'.join(COPYRIGHT_LINES) + '\n"""A module."""\n', ''),
    ('"""A module."""\n', 'does not start with the two copyright lines'),
    ('# Copyright 2025 Someone\n# SPDX-License-Identifier: MIT\n"""A module."""\n',
     'does not start with the two copyright lines'),
    ('\n' + '\n'.join(COPYRIGHT_LINES) + '\n"""A module."""\n',
     'does not start with the two copyright lines'),
    ('\n'.join(COPYRIGHT_LINES) + '\nimport os\n"""Too late."""\n',
     'no module docstring after the copyright lines'),
])
def test_header_check_tells_good_from_bad(text, problem):
    assert header_problem(text) == problem

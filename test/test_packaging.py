# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The package as ROS sees it: package.xml, setup.py, launch file, RViz config, colcon.

The static checks read the files (ast, XML, YAML). The slow ones build the package for real
with colcon into a temporary folder, run an installed executable, and (where launch_ros is
installed, i.e. on a ROS install, not in the pip venv) launch the three nodes.
"""

import ast
import os
from pathlib import Path
import re
import subprocess
import sys
import time
import xml.etree.ElementTree as ElementTree

import pytest
import yaml

from node_graph import installed_environment, stop_processes

REPO_ROOT = Path(__file__).resolve().parents[1]
PACKAGE = 'blastnet_ros'
LAUNCH_FILE = REPO_ROOT / 'launch' / 'blastnet.launch.py'
PARAMS_FILE = REPO_ROOT / 'config' / 'blastnet.yaml'
RVIZ_FILE = REPO_ROOT / 'config' / 'blastnet.rviz'

CONSOLE_SCRIPTS = {
    'camera_input': 'blastnet_ros.ros.camera_input_node:main',
    'audio_input': 'blastnet_ros.ros.audio_input_node:main',
    'executor': 'blastnet_ros.ros.executor_node:main',
    'blastnet': 'blastnet_ros.tools.cli.main:main',
}
NODE_EXECUTABLES = ('camera_input', 'audio_input', 'executor')
# Python imports that are not ROS packages -> their rosdep keys in package.xml.
THIRD_PARTY_ROSDEP_KEYS = {
    'numpy': 'python3-numpy',
    'scipy': 'python3-scipy',
    'cv2': 'python3-opencv',
    'yaml': 'python3-yaml',
    'matplotlib': 'python3-matplotlib',
    'torch': 'python3-torch',
    'rosbags': 'python3-rosbags-pip',
}
# Optional: imported only when their backend is made (runtime/backends), which then says
# it cannot run where the module is missing, or when `blastnet optimise` runs (pymoo, and
# dask for --dask-scheduler). Not exec_depends: onnxruntime, pymoo and dask come from pip
# (requirements.txt; package.xml says so), TensorRT from JetPack.
OPTIONAL_IMPORTS = {'onnxruntime', 'tensorrt', 'pymoo', 'dask'}
TEST_DEPENDS = {'ament_flake8', 'ament_pep257', 'python3-pytest'}
# A string that is a message type name, 'pkg/msg/Name': a type a node uses by name.
TYPE_NAME = re.compile(r'([a-z][a-z0-9_]*)/msg/[A-Z][A-Za-z0-9]*')


# --- helpers ----------------------------------------------------------------------------

def setup_distribution():
    """Return the Distribution setup.py describes (run up to 'init', nothing built)."""
    import setuptools  # noqa: F401  (provides distutils on Python >= 3.12)
    from distutils.core import run_setup
    previous = os.getcwd()
    os.chdir(REPO_ROOT)
    try:
        return run_setup('setup.py', stop_after='init')
    finally:
        os.chdir(previous)


def console_scripts():
    """Return {name: 'module:function'} of setup.py's console_scripts."""
    entries = setup_distribution().entry_points['console_scripts']
    return dict(tuple(part.strip() for part in entry.split('=', 1)) for entry in entries)


def package_xml():
    return ElementTree.parse(REPO_ROOT / 'package.xml').getroot()


def declared(tag):
    return {element.text.strip() for element in package_xml().findall(tag)}


def imports_of(path):
    """Return the top-level names `path` imports (every import statement)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding='utf-8'), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split('.')[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split('.')[0])
    return names


def shipped_python_files():
    """Return the package's modules and the launch files (what an install runs)."""
    return sorted(REPO_ROOT.joinpath(PACKAGE).rglob('*.py')) + sorted(
        REPO_ROOT.joinpath('launch').glob('*.py'))


def launch_module():
    return ast.parse(LAUNCH_FILE.read_text(encoding='utf-8'), str(LAUNCH_FILE))


def module_constants(tree):
    """Return {name: value} of the module-level `NAME = <constant>` assignments."""
    constants = {}
    for node in tree.body:
        if (isinstance(node, ast.Assign) and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)
                and isinstance(node.value, ast.Constant)):
            constants[node.targets[0].id] = node.value.value
    return constants


def literal(node, constants):
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        return constants.get(node.id)
    return None


def calls_named(tree, name):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            function = node.func
            called = function.id if isinstance(function, ast.Name) else getattr(
                function, 'attr', None)
            if called == name:
                yield node


def launch_nodes():
    """Return [{'package', 'executable', 'name', 'overrides', 'arguments'}] of launch Nodes."""
    tree = launch_module()
    constants = module_constants(tree)
    nodes = []
    for call in calls_named(tree, 'Node'):
        keywords = {keyword.arg: keyword.value for keyword in call.keywords}
        overrides = set()
        if isinstance(keywords.get('parameters'), ast.List):
            for item in keywords['parameters'].elts:
                if isinstance(item, ast.Dict):
                    overrides.update(literal(key, constants) for key in item.keys)
        arguments = []
        if isinstance(keywords.get('arguments'), ast.List):
            arguments = [literal(item, constants) for item in keywords['arguments'].elts]
        nodes.append({
            'package': literal(keywords.get('package'), constants),
            'executable': literal(keywords.get('executable'), constants),
            'name': literal(keywords.get('name'), constants),
            'overrides': overrides,
            'arguments': arguments,
        })
    return nodes


def module_assignment(tree, name):
    """Return the value node of the module-level assignment `name = ...`."""
    for node in tree.body:
        if (isinstance(node, ast.Assign) and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name) and node.targets[0].id == name):
            return node.value
    raise AssertionError(f'{LAUNCH_FILE.name} has no module-level {name}')


def launch_arguments():
    """Return {name: default} of the launch file's ARGUMENTS (None: not a constant)."""
    tree = launch_module()
    constants = module_constants(tree)
    return {literal(entry.elts[0], constants): literal(entry.elts[1], constants)
            for entry in module_assignment(tree, 'ARGUMENTS').elts}


def launch_parameter_arguments():
    """Return {argument: (node, parameter)} of the launch file's NODE_PARAMETER_ARGUMENTS."""
    return ast.literal_eval(module_assignment(launch_module(), 'NODE_PARAMETER_ARGUMENTS'))


def declared_parameters(executable):
    """Return the parameter names node `executable` declares (declare_parameter literals)."""
    module, _ = CONSOLE_SCRIPTS[executable].split(':')
    path = REPO_ROOT.joinpath(*module.split('.')).with_suffix('.py')
    tree = ast.parse(path.read_text(encoding='utf-8'), str(path))
    return {call.args[0].value for call in calls_named(tree, 'declare_parameter')
            if call.args and isinstance(call.args[0], ast.Constant)} | {'use_sim_time'}


def params_sections():
    """Return {YAML key: ros__parameters} of config/blastnet.yaml."""
    document = yaml.safe_load(PARAMS_FILE.read_text())
    return {key: value['ros__parameters'] for key, value in document.items()}


def launch_file_references():
    """Return the package-relative paths the launch file joins onto the share folder."""
    references = []
    for call in calls_named(launch_module(), 'join'):
        parts = [argument.value for argument in call.args[1:]
                 if isinstance(argument, ast.Constant)]
        if len(parts) == len(call.args) - 1 and parts:
            references.append(Path(*parts))
    return references


# --- package.xml --------------------------------------------------------------------------

def test_package_xml_is_format_3_ament_python():
    root = package_xml()
    assert root.tag == 'package' and root.get('format') == '3'
    assert root.findtext('name') == PACKAGE
    assert root.findtext('version') == setup_distribution().metadata.version == '0.1.0'
    assert root.findtext('license') == 'Apache-2.0'
    assert root.findtext('description').strip()
    assert root.find('maintainer').get('email')
    assert root.findtext('export/build_type') == 'ament_python'


def test_package_xml_passes_catkin_pkg_validation():
    package_module = pytest.importorskip('catkin_pkg.package')
    warnings = []
    package = package_module.parse_package(str(REPO_ROOT), warnings=warnings)
    assert package.name == PACKAGE and package.package_format == 3
    assert not warnings


def test_every_import_of_the_shipped_code_is_a_declared_dependency():
    exec_depends = declared('exec_depend') | declared('depend')
    missing = {}
    for path in shipped_python_files():
        for name in (imports_of(path) - set(sys.stdlib_module_names) - {PACKAGE}
                     - OPTIONAL_IMPORTS):
            key = THIRD_PARTY_ROSDEP_KEYS.get(name, name)
            if key not in exec_depends:
                missing.setdefault(key, []).append(path.relative_to(REPO_ROOT).as_posix())
    assert not missing, (
        'imported but not an <exec_depend> of package.xml (for a non-ROS Python package add '
        f'its rosdep key here and to THIRD_PARTY_ROSDEP_KEYS): {missing}')


def test_launch_and_test_dependencies_are_declared():
    exec_depends = declared('exec_depend')
    # ros2launch: the `ros2 launch` command the README gives; launch, launch_ros: imported
    assert {'ros2launch', 'launch', 'launch_ros'} <= exec_depends
    launched = {node['package'] for node in launch_nodes()} - {PACKAGE}
    assert launched == {'rviz2', 'tf2_ros'}
    assert launched <= exec_depends, f'the launch file starts {launched - exec_depends}'
    assert TEST_DEPENDS <= declared('test_depend')


def test_every_message_package_the_nodes_name_is_declared():
    # Types the nodes subscribe to by name ('audio_common_msgs/msg/AudioData') or import
    # with importlib where installed (audio_common_msgs, vision_msgs) are run dependencies
    # on the car, where rosdep installs them.
    exec_depends = declared('exec_depend')
    named = {}
    for path in shipped_python_files():
        tree = ast.parse(path.read_text(encoding='utf-8'), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                match = TYPE_NAME.fullmatch(node.value)
                if match:
                    named.setdefault(match.group(1), set()).add(path.name)
        for call in calls_named(tree, 'import_module'):
            if call.args and isinstance(call.args[0], ast.Constant):
                package = call.args[0].value.split('.')[0]
                if package != PACKAGE:
                    named.setdefault(package, set()).add(path.name)
    assert {'audio_common_msgs', 'sensor_msgs', 'std_msgs'} <= set(named)
    missing = {package: sorted(files) for package, files in named.items()
               if package not in exec_depends}
    assert not missing, f'named in the code but not an <exec_depend>: {missing}'


# --- setup.py -----------------------------------------------------------------------------

def test_console_scripts_are_the_interface_executables():
    assert console_scripts() == CONSOLE_SCRIPTS


@pytest.mark.parametrize('name', sorted(CONSOLE_SCRIPTS))
def test_each_console_script_module_exists_and_has_main(name):
    module, function = console_scripts()[name].split(':')
    path = REPO_ROOT.joinpath(*module.split('.')).with_suffix('.py')
    assert path.is_file(), f'{name}: {path.relative_to(REPO_ROOT)} does not exist'
    tree = ast.parse(path.read_text(encoding='utf-8'), str(path))
    functions = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
    assert function in functions, f'{name}: {module} defines no top-level {function}()'


def test_setup_data_files_exist_and_cover_launch_and_config():
    data_files = setup_distribution().data_files
    installed = {}
    for destination, sources in data_files:
        for source in sources:
            assert (REPO_ROOT / source).is_file(), f'setup.py installs missing {source}'
            installed[source] = destination
    share = f'share/{PACKAGE}'
    assert installed['resource/blastnet_ros'] == 'share/ament_index/resource_index/packages'
    assert installed['package.xml'] == share
    assert installed['launch/blastnet.launch.py'] == f'{share}/launch'
    for name in ('blastnet.yaml', 'tasks.yaml', 'fastdds_loopback.xml', 'blastnet.rviz'):
        assert installed[f'config/{name}'] == f'{share}/config'


# --- launch file ----------------------------------------------------------------------------

def test_launch_file_declares_the_documented_arguments():
    arguments = launch_arguments()
    assert set(arguments) == {
        'namespace', 'params_file', 'camera_topic', 'camera_type', 'audio_topic',
        'audio_type', 'use_sim_time', 'use_audio', 'log_level', 'on_node_exit', 'rviz',
        'publish_camera_tf', 'camera_frame', 'tasks_file'}
    # '' = not given: the params file's value stands (only given arguments are passed on).
    for name in ('namespace', 'camera_topic', 'camera_type', 'audio_topic', 'audio_type',
                 'use_sim_time', 'tasks_file'):
        assert arguments[name] == '', name
    assert arguments['use_audio'] == arguments['rviz'] == 'true'
    assert arguments['publish_camera_tf'] == 'true'
    assert arguments['log_level'] == 'info'
    assert arguments['on_node_exit'] == 'shutdown'


def test_params_file_is_keyed_to_apply_in_any_namespace():
    # A bare `executor:` key matches only /executor: under a namespace the file would be
    # silently ignored. `/**` matches every node, `/**/executor` executor in any namespace.
    sections = params_sections()
    assert set(sections) == {'/**'} | {f'/**/{node}' for node in NODE_EXECUTABLES}
    declared_by = {node: declared_parameters(node) for node in NODE_EXECUTABLES}
    for node in NODE_EXECUTABLES:
        unknown = set(sections[f'/**/{node}']) - declared_by[node]
        assert not unknown, f'/**/{node} sets {unknown}, which {node} does not declare'
    for parameter in sections['/**']:
        users = [node for node in NODE_EXECUTABLES if parameter in declared_by[node]]
        assert users, f'/** sets {parameter}, which no node declares'
    # camera_input reads the detector's results in the format the executor publishes, so
    # both declare result_format and the file sets it for both.
    assert {'tasks_file', 'result_format'} <= set(sections['/**'])
    assert 'result_format' in declared_by['executor'] and \
        'result_format' in declared_by['camera_input']


def test_params_file_topics_are_relative():
    sections = params_sections()
    topics = {name: value for section in sections.values() for name, value in section.items()
              if name.endswith('_topic')}
    assert topics == {'camera_topic': 'camera/image_raw', 'audio_topic': 'audio'}


def test_launch_passes_topic_arguments_to_the_nodes_that_declare_them():
    parameters = launch_parameter_arguments()
    assert parameters == {'camera_topic': ('camera_input', 'camera_topic'),
                          'camera_type': ('camera_input', 'camera_type'),
                          'audio_topic': ('audio_input', 'audio_topic'),
                          'audio_type': ('audio_input', 'audio_type')}
    sections = params_sections()
    for argument, (node, parameter) in parameters.items():
        assert argument in launch_arguments()
        assert parameter in declared_parameters(node)
        assert parameter in sections[f'/**/{node}'], f'{parameter} not in /**/{node}'


def test_launch_starts_rviz_with_the_package_config_and_its_fixed_frame():
    rviz = [node for node in launch_nodes() if node['package'] == 'rviz2']
    assert len(rviz) == 1 and rviz[0]['executable'] == 'rviz2'
    assert rviz[0]['arguments'][0] == '-d'
    frame = [node for node in launch_nodes() if node['package'] == 'tf2_ros']
    assert len(frame) == 1 and frame[0]['executable'] == 'static_transform_publisher'
    constants = module_constants(launch_module())
    config = yaml.safe_load(RVIZ_FILE.read_text())
    assert config['Visualization Manager']['Global Options']['Fixed Frame'] == \
        constants['VIEW_FRAME']


def test_files_the_launch_file_references_exist():
    references = launch_file_references()
    assert Path('config', 'blastnet.yaml') in references
    assert Path('config', 'blastnet.rviz') in references
    for reference in references:
        assert (REPO_ROOT / reference).is_file(), f'launch file references missing {reference}'


def test_launch_file_leaves_networking_alone():
    tree = launch_module()
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.FunctionDef)) and ast.get_docstring(node)}
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.Attribute):
            names.add(node.attr)
        elif (isinstance(node, ast.Constant) and isinstance(node.value, str)
              and id(node) not in docstrings):
            names.add(node.value)
    forbidden = {'SetEnvironmentVariable', 'PushEnvironment', 'environ', 'putenv',
                 'ROS_DOMAIN_ID', 'ROS_LOCALHOST_ONLY', 'ROS_AUTOMATIC_DISCOVERY_RANGE',
                 'FASTDDS_DEFAULT_PROFILES_FILE', 'FASTRTPS_DEFAULT_PROFILES_FILE',
                 'RMW_IMPLEMENTATION'}
    assert not names & forbidden, f'the launch file touches {sorted(names & forbidden)}'


# --- RViz ---------------------------------------------------------------------------------------

def test_rviz_config_shows_the_camera_tasks_debug_images():
    from blastnet_ros.core.task import CAMERA
    from blastnet_ros.ros.result_messages import debug_image_topic
    from blastnet_ros.runtime.config_files import load_task_set

    config = yaml.safe_load(RVIZ_FILE.read_text())
    manager = config['Visualization Manager']
    images = [display for display in manager['Displays']
              if display['Class'] == 'rviz_default_plugins/Image']
    topics = [display['Topic']['Value'] for display in images]
    # Absolute in the file (as RViz stores them); the launch file rewrites them for a
    # namespace. One per camera task of the default task set.
    camera_tasks = [task.name for task in load_task_set().tasks_from(CAMERA)]
    assert camera_tasks == ['detector', 'signs']
    assert topics == ['/' + debug_image_topic(task) for task in camera_tasks]
    for display in images:
        assert display['Enabled'] is True
        assert display['Topic']['Reliability Policy'] == 'Best Effort'
        assert display['Topic']['Depth'] == 1
    # Image displays need no TF; the Fixed Frame is the one the launch file publishes.
    assert not [display for display in manager['Displays']
                if display['Class'] != 'rviz_default_plugins/Image']


# --- colcon build and launch (slow) -----------------------------------------------------

@pytest.mark.slow
def test_colcon_build_installs_executables_launch_and_config(colcon_install):
    prefix = colcon_install / PACKAGE
    for executable in CONSOLE_SCRIPTS:
        path = prefix / 'lib' / PACKAGE / executable
        assert path.is_file() and os.access(path, os.X_OK), f'missing lib/{PACKAGE}/{executable}'
    share = prefix / 'share' / PACKAGE
    expected = ['package.xml', 'launch/blastnet.launch.py', 'config/blastnet.yaml',
                'config/tasks.yaml', 'config/fastdds_loopback.xml', 'config/blastnet.rviz']
    for name in expected:
        assert (share / name).is_file(), f'missing share/{PACKAGE}/{name}'
    marker = prefix / 'share' / 'ament_index' / 'resource_index' / 'packages' / PACKAGE
    assert marker.is_file()


@pytest.mark.slow
def test_installed_blastnet_command_runs(colcon_install, ros_domain_id):
    executable = colcon_install / PACKAGE / 'lib' / PACKAGE / 'blastnet'
    result = subprocess.run(
        [str(executable), '--help'], capture_output=True, text=True, timeout=60,
        env=installed_environment(colcon_install, ros_domain_id))
    assert result.returncode == 0, result.stderr
    assert 'demo' in result.stdout


# --- the launch file, run (where launch_ros is installed) -------------------------------

LAUNCH_RUNNER = (
    'import sys, launch\n'
    'from launch.actions import IncludeLaunchDescription\n'
    'from launch.launch_description_sources import PythonLaunchDescriptionSource\n'
    'service = launch.LaunchService()\n'
    "arguments = [tuple(item.split(':=', 1)) for item in sys.argv[2:]]\n"
    'service.include_launch_description(launch.LaunchDescription([\n'
    '    IncludeLaunchDescription(PythonLaunchDescriptionSource(sys.argv[1]),\n'
    '                             launch_arguments=arguments)]))\n'
    'sys.exit(service.run())\n')


def require_launch_ros():
    pytest.importorskip(
        'launch_ros', reason='launch_ros is not installed (no pip wheel; on a ROS install '
                             'these tests launch the nodes with launch/blastnet.launch.py)')


def tf2_ros_installed():
    from ament_index_python.packages import get_package_prefix, PackageNotFoundError
    try:
        get_package_prefix('tf2_ros')
    except PackageNotFoundError:
        return False
    return True


def load_launch_file():
    """Import launch/blastnet.launch.py as a module (it imports launch and launch_ros)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location('blastnet_launch', LAUNCH_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class LaunchRun:
    """`ros2 launch blastnet_ros blastnet.launch.py ARGUMENTS` from the colcon install."""

    def __init__(self, install_base, domain_id, arguments):
        launch_file = install_base / PACKAGE / 'share' / PACKAGE / 'launch' / LAUNCH_FILE.name
        defaults = {'rviz': 'false',
                    'publish_camera_tf': 'true' if tf2_ros_installed() else 'false'}
        arguments = {**defaults, **arguments}
        self.process = subprocess.Popen(
            [sys.executable, '-c', LAUNCH_RUNNER, str(launch_file)]
            + [f'{name}:={value}' for name, value in arguments.items()],
            env=installed_environment(install_base, domain_id), stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, start_new_session=True)
        self.output = ''

    def check_alive(self):
        if self.process.poll() is not None:
            self.output += self.process.communicate()[0]
            raise AssertionError(f'the launch ended with code {self.process.returncode}:\n'
                                 f'{self.output[-4000:]}')

    def stop(self):
        """Ctrl-C to the launch (its process group); return its output."""
        if self.process.poll() is None:
            stop_processes([self.process], timeout_s=30)
        self.output += self.process.communicate()[0]
        return self.output

    def wait(self, timeout_s):
        """Wait for the launch to end by itself; return its output."""
        try:
            self.output += self.process.communicate(timeout=timeout_s)[0]
        except subprocess.TimeoutExpired:
            self.stop()
            raise AssertionError(f'the launch still ran after {timeout_s} s:\n'
                                 f'{self.output[-4000:]}')
        return self.output


def test_launch_rewrites_the_rviz_topics_for_a_namespace():
    require_launch_ros()
    from blastnet_ros.ros.result_messages import debug_image_topic

    launch_file = load_launch_file()
    assert launch_file.rviz_config(str(RVIZ_FILE), '') == str(RVIZ_FILE)
    copy = Path(launch_file.rviz_config(str(RVIZ_FILE), 'car1'))
    try:
        manager = yaml.safe_load(copy.read_text())['Visualization Manager']
        topics = [display['Topic']['Value'] for display in manager['Displays']]
        assert topics == [f'/car1/{debug_image_topic(task)}' for task in ('detector', 'signs')]
    finally:
        copy.unlink()


@pytest.mark.slow
def test_launch_under_a_namespace_moves_every_node_and_topic(colcon_install, ros_domain_id,
                                                             tmp_path):
    require_launch_ros()
    from node_graph import (changed_params_file, expected_endpoints, get_parameters,
                            outside_namespace, wait_for_endpoints)
    from ros_harness import RosHarness

    # No topic argument is given, so the params file's camera_topic and policy stand.
    params = changed_params_file(tmp_path / 'params.yaml', {
        'camera_input': {'camera_topic': 'my_camera/image_raw'},
        'executor': {'policy': 'edf-block'}})
    run = LaunchRun(colcon_install, ros_domain_id,
                    {'namespace': 'car1', 'params_file': str(params)})
    try:
        with RosHarness(ros_domain_id) as harness:
            observer = harness.node('launch_observer')
            expected = expected_endpoints('/car1', 'my_camera/image_raw', 'audio',
                                          block_trace=False)
            seen = wait_for_endpoints(observer, '/car1', expected, run.check_alive)
            assert not outside_namespace(seen, '/car1')
            names = set(observer.get_node_names_and_namespaces())
            assert {(name, '/car1') for name in NODE_EXECUTABLES} <= names
            assert not {name for name, namespace in names
                        if name in NODE_EXECUTABLES and namespace != '/car1'}
            assert get_parameters(harness, observer, '/car1/executor', ['policy']) == \
                {'policy': 'edf-block'}
    finally:
        output = run.stop()
    assert 'Traceback' not in output, output[-4000:]


@pytest.mark.slow
def test_launch_passes_the_topic_arguments_given_and_leaves_audio_out(
        colcon_install, ros_domain_id):
    require_launch_ros()
    from node_graph import expected_endpoints, wait_for_endpoints
    from ros_harness import RosHarness

    run = LaunchRun(colcon_install, ros_domain_id,
                    {'camera_topic': '/front/image_raw', 'use_audio': 'false',
                     'log_level': 'warn'})
    try:
        with RosHarness(ros_domain_id) as harness:
            observer = harness.node('launch_observer')
            expected = expected_endpoints('', '/front/image_raw', 'audio', block_trace=False)
            del expected['audio_input']
            wait_for_endpoints(observer, '', expected, run.check_alive)
            assert 'audio_input' not in observer.get_node_names()
    finally:
        output = run.stop()
    assert 'Traceback' not in output, output[-4000:]
    # log_level:=warn: the nodes' own lines ('[executor-2] [INFO] ...') are gone.
    node_info = re.compile(r'^\[(camera_input|executor)-\d+\] \[INFO\]', re.MULTILINE)
    assert not node_info.search(output), output[-4000:]
    assert '[executor-' in output   # the node ran


def test_the_tasks_file_argument_reaches_all_three_nodes():
    # the three nodes read one task set: the argument sets the parameter of each
    for node in NODE_EXECUTABLES:
        assert 'tasks_file' in declared_parameters(node), node
    require_launch_ros()
    launch_file = load_launch_file()
    values = {name: '' for name in launch_arguments()}
    values['tasks_file'] = '/tmp/optimised.yaml'
    overrides = launch_file.parameter_overrides(values)
    assert {node: parameters['tasks_file'] for node, parameters in overrides.items()} == {
        node: '/tmp/optimised.yaml' for node in NODE_EXECUTABLES}
    assert launch_file.parameter_overrides({**values, 'tasks_file': ''}) == {}


@pytest.mark.slow
def test_launch_ends_when_a_node_exits(colcon_install, ros_domain_id):
    require_launch_ros()
    # audio_input refuses an audio type it does not know: it exits 2 at start-up.
    run = LaunchRun(colcon_install, ros_domain_id, {'audio_type': 'std_msgs/msg/NoSuchType'})
    output = run.wait(timeout_s=90)
    assert 'audio_input exited with code 2: the graph is incomplete' in output, output[-4000:]


@pytest.mark.slow
def test_launch_respawns_a_node_that_exits_when_asked(colcon_install, ros_domain_id):
    require_launch_ros()
    run = LaunchRun(colcon_install, ros_domain_id,
                    {'audio_type': 'std_msgs/msg/NoSuchType', 'on_node_exit': 'respawn',
                     'use_audio': 'true'})
    try:
        time.sleep(12)   # RESPAWN_DELAY_S is 2 s: a few restarts
        run.check_alive()
    finally:
        output = run.stop()
    starts = [line for line in output.splitlines()
              if 'audio_input' in line and 'process started' in line]
    assert len(starts) >= 2, output[-4000:]

# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Block variants: a shipped model with some of its units replaced by block candidates.

A variant ('yolo_car_blocks') is a model of its own wherever a model name is taken (task
sets, scenarios, the executor, the profiler, the optimiser): the spec of its base model
(models/specs.py), the base network with `replacements` applied
(models/block_candidates.apply_replacements: unit `unit` rebuilt as candidate kind
`candidate`), its own weights <weights dir>/<name>.pt and, once trained, a record in
TRAINING.json. It has no scaled levels: only its full level.

What makes a model name a variant is its recipe file, <weights dir>/<name>.variant.json
(`blastnet search-blocks` writes one):

    {"format": "blastnet_ros block variant 1", "name": "yolo_car_blocks",
     "base": "yolo_car", "replacements": [{"unit": 6, "candidate": "depthwise-separable"}],
     ...}

Further keys (the search's summary) are allowed and left in the file. Rules, each a
BadInputError naming cause and fix: the name is [a-z0-9_]+ (no ':', the level
separator) and not a shipped model's (models/model_catalogue.MODEL_SPECS); the base is a
shipped model; unit indices are whole numbers >= 0, each replaced once; a candidate is a
kind name (whether it applies to the unit is checked when the network is built).

The weights dir is models/weight_files.weights_dir(); tests point it at a folder of
their own with `monkeypatch.setattr(weight_files, 'WEIGHTS_DIR', tmp_path)`, or pass
`folder` to these functions. `known_variants` re-reads the recipes only when the folder's
recipe files change (names, sizes, modification times), so it is cheap per lookup.
Torch-free.
"""

from __future__ import annotations

from dataclasses import dataclass
import json
import os
from pathlib import Path
import re
import tempfile
import threading
from typing import Any, Dict, Mapping, Optional, Tuple

from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.core.levels import LEVEL_SEPARATOR
from blastnet_ros.models.model_catalogue import MODEL_SPECS
from blastnet_ros.models.weight_files import weights_dir

VARIANT_FORMAT = 'blastnet_ros block variant 1'
VARIANT_SUFFIX = '.variant.json'
_NAME = re.compile(r'^[a-z0-9_]+$')
_RECIPE_KEYS = ('format', 'name', 'base', 'replacements')


@dataclass(frozen=True)
class UnitReplacement:
    """Unit `unit` of the base network rebuilt as block candidate kind `candidate`."""

    unit: int
    candidate: str


@dataclass(frozen=True)
class BlockVariant:
    """A model named `name`: model `base` with `replacements` applied. Checked when made."""

    name: str
    base: str
    replacements: Tuple[UnitReplacement, ...]

    def __post_init__(self) -> None:
        check_variant(self)


def check_variant(variant: BlockVariant) -> None:
    """Raise BadInputError where `variant` breaks a rule of the module doc."""
    name, base = variant.name, variant.base
    shipped = ', '.join(sorted(MODEL_SPECS))
    if not isinstance(name, str) or LEVEL_SEPARATOR in name or not _NAME.match(name):
        raise BadInputError(f'block variant name {name!r} is not lower-case letters, digits '
                            f"and _ (':' separates a model from its level)",
                            "name it like 'yolo_car_blocks'")
    if name in MODEL_SPECS:
        raise BadInputError(f"block variant name '{name}' is a shipped model's",
                            f'give the variant a name of its own (shipped: {shipped})')
    if base not in MODEL_SPECS:
        raise BadInputError(f"block variant {name}: base {base!r} is not a shipped model",
                            f'use one of: {shipped}')
    if not isinstance(variant.replacements, tuple):
        raise BadInputError(f'block variant {name}: replacements is a '
                            f'{type(variant.replacements).__name__}, not a tuple',
                            'pass a tuple of UnitReplacement')
    seen = set()
    for replacement in variant.replacements:
        if not isinstance(replacement, UnitReplacement):
            raise BadInputError(f'block variant {name}: a replacement is a '
                                f'{type(replacement).__name__}',
                                'pass UnitReplacement(unit, candidate) values')
        unit, candidate = replacement.unit, replacement.candidate
        if isinstance(unit, bool) or not isinstance(unit, int) or unit < 0:
            raise BadInputError(f'block variant {name}: unit {unit!r} is not a unit index',
                                'give each replacement a whole number unit >= 0')
        if not isinstance(candidate, str) or not candidate:
            raise BadInputError(f'block variant {name}: unit {unit} has candidate '
                                f'{candidate!r}',
                                "name a candidate kind, e.g. 'depthwise-separable'")
        if unit in seen:
            raise BadInputError(f'block variant {name}: unit {unit} is replaced twice',
                                'give each unit one replacement')
        seen.add(unit)


def variant_document(variant: BlockVariant,
                     extra: Mapping[str, Any] = {}) -> Dict[str, Any]:
    """Return the recipe file's JSON content of `variant`, `extra` keys after its own."""
    clashing = sorted(set(extra) & set(_RECIPE_KEYS))
    if clashing:
        raise BadInputError(f"extra keys {', '.join(clashing)} of block variant "
                            f'{variant.name} are the recipe\'s own',
                            'rename them (the search\'s summary goes under keys of its own)')
    return {'format': VARIANT_FORMAT, 'name': variant.name, 'base': variant.base,
            'replacements': [{'unit': r.unit, 'candidate': r.candidate}
                             for r in variant.replacements], **dict(extra)}


def write_variant(variant: BlockVariant, folder: Optional[Path] = None,
                  extra: Mapping[str, Any] = {}) -> Path:
    """Write `variant`'s recipe to <folder>/<name>.variant.json atomically; return the path.

    `folder` defaults to the weights dir; `extra` keys are written beside the recipe's.
    """
    folder = Path(folder) if folder is not None else weights_dir()
    text = json.dumps(variant_document(variant, extra), indent=2) + '\n'
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f'{variant.name}{VARIANT_SUFFIX}'
    handle, temporary = tempfile.mkstemp(prefix=f'.{variant.name}.', suffix='.tmp',
                                         dir=folder)
    try:
        with os.fdopen(handle, 'w', encoding='utf-8') as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
    return path


def read_variant(path: Path) -> BlockVariant:
    """Return the variant of recipe file `path`; BadInputError naming the file otherwise."""
    path = Path(path)
    fix = ('write it again (`blastnet search-blocks`, or models.variants.write_variant) '
           'or remove it')
    try:
        content = json.loads(path.read_text(encoding='utf-8'))
    except FileNotFoundError:
        raise BadInputError(f"block variant recipe '{path}' not found",
                            'give the path of a <name>.variant.json') from None
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise BadInputError(f"block variant recipe '{path}' is not readable JSON ({error})",
                            fix) from None
    if not isinstance(content, dict):
        raise BadInputError(f"block variant recipe '{path}' holds a "
                            f'{type(content).__name__}, not an object', fix)
    if content.get('format') != VARIANT_FORMAT:
        raise BadInputError(f"block variant recipe '{path}' has format "
                            f"{content.get('format')!r}, not '{VARIANT_FORMAT}'", fix)
    missing = [key for key in _RECIPE_KEYS if key not in content]
    if missing:
        raise BadInputError(f"block variant recipe '{path}' lacks {', '.join(missing)}", fix)
    entries = content['replacements']
    if not isinstance(entries, list) or not all(
            isinstance(entry, dict) and set(entry) == {'unit', 'candidate'}
            for entry in entries):
        raise BadInputError(f"block variant recipe '{path}': replacements is not a list of "
                            '{"unit": N, "candidate": KIND}', fix)
    try:
        return BlockVariant(content['name'], content['base'],
                            tuple(UnitReplacement(entry['unit'], entry['candidate'])
                                  for entry in entries))
    except BadInputError as error:
        raise BadInputError(f"block variant recipe '{path}': {error.cause}",
                            f'{error.fix}, then {fix}') from None


_cache_lock = threading.Lock()
_cache: Dict[str, Tuple[Tuple, Dict[str, BlockVariant]]] = {}


def _recipe_files(folder: Path) -> Tuple[Tuple[str, int, int], ...]:
    """Return (file name, size, mtime ns) of every recipe in `folder`, sorted by name."""
    try:
        entries = list(os.scandir(folder))
    except (FileNotFoundError, NotADirectoryError):
        return ()
    files = []
    for entry in entries:
        if entry.name.endswith(VARIANT_SUFFIX) and not entry.name.startswith('.'):
            status = entry.stat()
            files.append((entry.name, status.st_size, status.st_mtime_ns))
    return tuple(sorted(files))


def known_variants(folder: Optional[Path] = None) -> Dict[str, BlockVariant]:
    """Return {name: variant} of every recipe in `folder` (default: the weights dir).

    Raises BadInputError for a recipe that does not read (read_variant) or whose name
    differs from its file's.
    """
    folder = Path(folder) if folder is not None else weights_dir()
    files = _recipe_files(folder)
    key = os.fspath(folder)
    with _cache_lock:
        cached = _cache.get(key)
    if cached is not None and cached[0] == files:
        return dict(cached[1])
    variants = {}
    for file_name, _, _ in files:
        variant = read_variant(folder / file_name)
        stem = file_name[:-len(VARIANT_SUFFIX)]
        if variant.name != stem:
            raise BadInputError(f"block variant recipe '{folder / file_name}' names variant "
                                f"'{variant.name}'",
                                f"name the file {variant.name}{VARIANT_SUFFIX} or the "
                                f"variant '{stem}'")
        variants[variant.name] = variant
    with _cache_lock:
        _cache[key] = (files, variants)
    return dict(variants)


def find_variant(name: str, folder: Optional[Path] = None) -> Optional[BlockVariant]:
    """Return the variant called `name`, or None when no recipe names it."""
    if name in MODEL_SPECS or not isinstance(name, str) or not _NAME.match(name):
        return None
    return known_variants(folder).get(name)


def variant_base(name: str, folder: Optional[Path] = None) -> str:
    """Return the shipped model variant `name` is built from; BadInputError if none is."""
    variant = find_variant(name, folder)
    if variant is None:
        known = ', '.join(sorted(known_variants(folder))) or 'none'
        raise BadInputError(f"'{name}' is not a block variant (known variants: {known})",
                            f'write its recipe {name}{VARIANT_SUFFIX} into the weights '
                            'folder (`blastnet search-blocks`)')
    return variant.base

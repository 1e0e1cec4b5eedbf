"""Read the reviewed catalogue files into a `Catalogue`, or say exactly what is wrong and where.

The catalogue directory holds::

    departments.yaml       departments: [Department, ...]
    datasets/<code>.yaml   one Dataset per file, its code equal to the file's name
    licence_types.yaml     licence_types: [LicenceType, ...]
    materials.yaml         materials: [Material, ...]
    service_items.yaml     service_items: [ServiceItem, ...]
    bundles.yaml           bundles: [Bundle, ...]

A reviewer who breaks a file must learn which file, which key and what is wrong, so every
problem is a `CatalogueError` naming the file (as ``<directory name>/<relative path>``), the key
path inside it (``datasets[0].fields[3].type`` style; a dataset file's keys start at its root,
``fields[3].type``; empty for a YAML syntax error), the message, and the line (and, for a syntax
error, the column) where it is.

Checking runs in two stages, and every problem of a stage is collected before anything is
raised: first each file on its own (YAML syntax, repeated YAML keys, the shape the schema
demands), then, only when every file is sound, the references between entries (a dataset's
department exists, a material's licence type exists, ...). A single problem is raised as a
`CatalogueError`; several as a `CatalogueErrors`, which is a `CatalogueError` carrying the first
problem's attributes and all of them in `errors`. ``except CatalogueError`` catches both.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from catalog.schema import (
    Bundle,
    Catalogue,
    Dataset,
    Department,
    FieldType,
    KeyKind,
    LicenceType,
    Material,
    ServiceItem,
    SubjectKind,
)
from exchange.identifiers import uscc
from exchange.identifiers.errors import IdentifierError
from exchange.settings import get_settings

DATASETS = "datasets"
LIST_FILES: dict[str, tuple[str, type[BaseModel]]] = {
    "departments.yaml": ("departments", Department),
    "licence_types.yaml": ("licence_types", LicenceType),
    "materials.yaml": ("materials", Material),
    "service_items.yaml": ("service_items", ServiceItem),
    "bundles.yaml": ("bundles", Bundle),
}
"""The files holding one list of entries each: file name -> (its one key, the entries' model)."""

KEY_FIELD_TYPES = {KeyKind.RESIDENT: FieldType.RESIDENT_ID, KeyKind.USCC: FieldType.USCC}
"""The field type a dataset's key field must have, by key kind."""

KeyPath = tuple[str | int, ...]

_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""PyYAML's safe loader, through libyaml when it is there (several times faster)."""
_M = TypeVar("_M", bound=BaseModel)


class CatalogueError(ValueError):
    """One problem in the catalogue files: which file, which key, what is wrong."""

    def __init__(
        self,
        file: str,
        key: str,
        message: str,
        *,
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        self.file = file
        self.key = key  # "" when the problem is the file as a whole (or its YAML syntax)
        self.message = message
        self.line = line
        self.column = column
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"{self.file}: {self.key}: " if self.key else f"{self.file}: "
        position = f"line {self.line}" if self.line is not None else ""
        if self.column is not None:
            position += f", column {self.column}"
        return f"{where}{self.message} ({position})" if position else f"{where}{self.message}"

    @property
    def errors(self) -> tuple[CatalogueError, ...]:
        return (self,)


class CatalogueErrors(CatalogueError):
    """Several problems at once; `file`, `key` and `message` are those of the first."""

    def __init__(self, errors: Sequence[CatalogueError]) -> None:
        self._errors = tuple(errors)
        first = self._errors[0]
        super().__init__(first.file, first.key, first.message, line=first.line, column=first.column)

    def __str__(self) -> str:
        lines = "\n".join(f"  {error}" for error in self._errors)
        return f"{len(self._errors)} problems in the catalogue:\n{lines}"

    @property
    def errors(self) -> tuple[CatalogueError, ...]:
        return self._errors


def key_path(parts: Iterable[str | int]) -> str:
    """``("datasets", 0, "fields", 3, "type")`` -> ``datasets[0].fields[3].type``."""
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", part):
            text += f".{part}" if text else part
        else:
            text += f"[{part!r}]"
    return text


def catalogue_files(directory: Path | None = None) -> dict[str, str]:
    """Each catalogue file's path relative to `directory` and the SHA-256 of its bytes."""
    directory = Path(directory or get_settings().catalog_dir)
    paths = [directory / name for name in LIST_FILES]
    paths += (directory / DATASETS).glob("*.yaml")
    return {
        path.relative_to(directory).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(paths)
        if path.is_file()
    }


def load_catalogue(directory: Path | None = None) -> Catalogue:
    """Read, validate and cross-check the catalogue in `directory` (default: the settings').

    Raises `CatalogueError` (or `CatalogueErrors`) naming the file and key of each problem.
    """
    directory = Path(directory or get_settings().catalog_dir)
    reader = _Reader(directory)
    entries = {top: reader.list_file(name, top, model) for name, (top, model) in LIST_FILES.items()}
    entries["datasets"] = reader.dataset_files()
    _raise(reader.errors)

    _raise(list(_cross_check(_Located(**entries))))
    return Catalogue(
        **{kind: tuple(entry.model for entry in found) for kind, found in entries.items()}
    )


def _raise(errors: list[CatalogueError]) -> None:
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise CatalogueErrors(errors)


# --- stage 1: each file on its own -----------------------------------------------------------


@dataclass
class _Document:
    """A parsed YAML file: its data, and its node tree to find the line of a key path."""

    file: str
    data: Any
    root: yaml.Node | None

    def line(self, path: KeyPath) -> int | None:
        """The 1-based line of the deepest node along `path` that exists."""
        node = self.root
        if node is None:
            return None
        line = node.start_mark.line + 1
        for part in path:
            child = _child(node, part)
            if child is None:
                break
            node = child
            line = node.start_mark.line + 1
        return line

    def error(self, path: KeyPath, message: str) -> CatalogueError:
        return CatalogueError(self.file, key_path(path), message, line=self.line(path))


def _child(node: yaml.Node, part: str | int) -> yaml.Node | None:
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
        return node.value[part]
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if key.value == part:
                return value
    return None


class _Entry(NamedTuple):
    """A validated entry and where it came from: its document and its key path there."""

    model: Any
    doc: _Document
    path: KeyPath

    def error(self, *rest: str | int, message: str) -> CatalogueError:
        return self.doc.error((*self.path, *rest), message)


class _Reader:
    """Parses and validates files one by one, collecting every problem it meets."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.errors: list[CatalogueError] = []

    def _display(self, path: Path) -> str:
        return f"{self.directory.name}/{path.relative_to(self.directory).as_posix()}"

    def _parse(self, path: Path) -> _Document | None:
        file = self._display(path)
        if not path.is_file():
            self.errors.append(CatalogueError(file, "", "the file is missing"))
            return None
        try:
            loader = _SafeLoader(path.read_text(encoding="utf-8"))
            try:
                root = loader.get_single_node()
                data = loader.construct_document(root) if root is not None else None
            finally:
                loader.dispose()
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            problem = " ".join(str(p) for p in (exc.context, exc.problem) if p)
            line, column = (mark.line + 1, mark.column + 1) if mark else (None, None)
            error = CatalogueError(
                file, "", f"YAML syntax error: {problem}", line=line, column=column
            )
            self.errors.append(error)
            return None
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            self.errors.append(CatalogueError(file, "", f"unreadable: {exc}"))
            return None
        doc = _Document(file, data, root)
        repeated = list(_repeated_keys(root, ()))
        for key, line in repeated:
            message = f"the key {key[-1]!r} appears twice"
            self.errors.append(CatalogueError(file, key_path(key), message, line=line))
        return None if repeated else doc

    def list_file(self, name: str, top: str, model: type[_M]) -> list[_Entry]:
        """A file holding one mapping ``{top: [entry, ...]}``."""
        doc = self._parse(self.directory / name)
        if doc is None:
            return []
        if not isinstance(doc.data, dict) or set(doc.data) != {top}:
            found = (
                sorted(map(str, doc.data))
                if isinstance(doc.data, dict)
                else type(doc.data).__name__
            )
            self.errors.append(
                doc.error((), f"expected a mapping with the one key {top!r}, got {found}")
            )
            return []
        entries = doc.data[top]
        if not isinstance(entries, list):
            self.errors.append(doc.error((top,), "expected a list of entries"))
            return []
        return [
            entry
            for index, data in enumerate(entries)
            if (entry := self._validate(doc, (top, index), data, model)) is not None
        ]

    def dataset_files(self) -> list[_Entry]:
        """One dataset per file under datasets/, its code the file's name."""
        folder = self.directory / DATASETS
        paths = sorted(folder.glob("*.yaml"))
        if not paths:
            file = self._display(folder)
            self.errors.append(CatalogueError(file, "", "no dataset files (datasets/*.yaml)"))
        entries = []
        for path in paths:
            doc = self._parse(path)
            if doc is None:
                continue
            entry = self._validate(doc, (), doc.data, Dataset)
            if entry is not None and entry.model.code != path.stem:
                message = f"the code {entry.model.code!r} differs from the file name {path.name!r}"
                self.errors.append(entry.error("code", message=message))
            elif entry is not None:
                entries.append(entry)
        return entries

    def _validate(self, doc: _Document, path: KeyPath, data: Any, model: type[_M]) -> _Entry | None:
        try:
            return _Entry(model.model_validate(data), doc, path)
        except ValidationError as exc:
            for problem in exc.errors():
                location = (*path, *problem["loc"])
                self.errors.append(doc.error(location, _message(problem)))
            return None


def _repeated_keys(node: yaml.Node | None, path: KeyPath) -> Iterator[tuple[KeyPath, int]]:
    """Mapping keys that appear twice (PyYAML would silently keep the last): path and line."""
    if isinstance(node, yaml.MappingNode):
        seen: set[Any] = set()
        for key, value in node.value:
            if key.value in seen:
                yield (*path, key.value), key.start_mark.line + 1
            seen.add(key.value)
            yield from _repeated_keys(value, (*path, key.value))
    elif isinstance(node, yaml.SequenceNode):
        for index, value in enumerate(node.value):
            yield from _repeated_keys(value, (*path, index))


def _message(problem: Any) -> str:
    """A pydantic error in a reviewer's words."""
    kind, ctx, value = problem["type"], problem.get("ctx") or {}, problem.get("input")
    if kind in ("enum", "literal_error"):
        return f"{value!r} is not one of {ctx.get('expected')}"
    if kind == "missing":
        return "a required key is missing"
    if kind == "extra_forbidden":
        return f"unknown key {problem['loc'][-1]!r}"
    if kind == "value_error":
        return str(ctx.get("error", problem["msg"]))
    if kind == "string_pattern_mismatch":
        return f"{value!r} does not match the pattern {ctx.get('pattern')}"
    return f"{problem['msg']} (got {value!r})"


# --- stage 2: references between entries -----------------------------------------------------


@dataclass
class _Located:
    """The validated entries of each kind, each with where it came from."""

    departments: list[_Entry]
    datasets: list[_Entry]
    licence_types: list[_Entry]
    materials: list[_Entry]
    service_items: list[_Entry]
    bundles: list[_Entry]


def _cross_check(cat: _Located) -> Iterator[CatalogueError]:
    for entries in vars(cat).values():
        yield from _unique(entries, "code")
    yield from _unique(cat.departments, "uscc")
    yield from _check_departments(cat.departments)
    departments = {entry.model.code for entry in cat.departments}
    datasets = {entry.model.code: entry.model for entry in cat.datasets}
    yield from _check_datasets(cat.datasets, departments)
    yield from _check_licence_types(cat.licence_types, departments, datasets)
    licence_types = {entry.model.code: entry.model for entry in cat.licence_types}
    yield from _check_materials(cat.materials, licence_types, datasets)
    materials = {entry.model.code: entry.model for entry in cat.materials}
    held_for = {code: _held_for(m, licence_types, datasets) for code, m in materials.items()}
    yield from _check_items(cat.service_items, departments, held_for)
    items = {entry.model.code: entry.model for entry in cat.service_items}
    yield from _check_bundles(cat.bundles, items)


def _unique(entries: list[_Entry], attribute: str) -> Iterator[CatalogueError]:
    first: dict[str, _Entry] = {}
    for entry in entries:
        value = getattr(entry.model, attribute)
        if value in first:
            earlier = first[value]
            where = key_path(earlier.path) or earlier.doc.file
            if earlier.doc is not entry.doc:
                where = f"{earlier.doc.file}: {where}"
            message = f"the {attribute} {value!r} is declared twice (first at {where})"
            yield entry.error(attribute, message=message)
        else:
            first[value] = entry


def _check_departments(entries: list[_Entry]) -> Iterator[CatalogueError]:
    for entry in entries:
        department: Department = entry.model
        if problem := _uscc_problem(department.uscc):
            yield entry.error("uscc", message=f"{department.uscc!r} {problem}")
        elif department.uscc[2:8] != department.region:
            message = f"the USCC's region {department.uscc[2:8]} differs from {department.region}"
            yield entry.error("region", message=message)


def _check_datasets(entries: list[_Entry], departments: set[str]) -> Iterator[CatalogueError]:
    for entry in entries:
        dataset: Dataset = entry.model
        if dataset.department not in departments:
            yield entry.error("department", message=_unknown("department", dataset.department))
        index = [f.name for f in dataset.fields].index(dataset.key.field)
        key_type = dataset.fields[index].type
        wanted = KEY_FIELD_TYPES[dataset.key.kind]
        if key_type is not wanted:
            message = (
                f"the key field of a {dataset.key.kind.value}-keyed dataset has type "
                f"{wanted.value!r}, not {key_type.value!r}"
            )
            yield entry.error("fields", index, "type", message=message)
        yield from _check_headers(entry, dataset)


def _check_headers(entry: _Entry, dataset: Dataset) -> Iterator[CatalogueError]:
    """A column header (a field's name or alias) must say which field it is: one field only."""
    owner: dict[str, str] = {f.name: f.name for f in dataset.fields}
    for index, field in enumerate(dataset.fields):
        for position, alias in enumerate(field.aliases):
            if owner.setdefault(alias, field.name) != field.name:
                message = f"the header {alias!r} already names the field {owner[alias]!r}"
                yield entry.error("fields", index, "aliases", position, message=message)


def _check_licence_types(
    entries: list[_Entry], departments: set[str], datasets: dict[str, Dataset]
) -> Iterator[CatalogueError]:
    for entry in entries:
        licence: LicenceType = entry.model
        if problem := _uscc_problem(licence.code[:18]):
            message = (
                f"the first 18 characters {licence.code[:18]!r}, the defining authority's USCC "
                f"(GB/T 36904): {problem}"
            )
            yield entry.error("code", message=message)
        for index, issuer in enumerate(licence.issuers):
            if issuer not in departments:
                yield entry.error("issuers", index, message=_unknown("department", issuer))
        names = [f.name for f in licence.fields]
        for index, name in enumerate(names):
            if name in names[:index]:
                yield entry.error("fields", index, "name", message=f"{name!r} is declared twice")
        if licence.source is not None:
            yield from _check_source(entry, licence, datasets, set(names))


def _check_source(
    entry: _Entry, licence: LicenceType, datasets: dict[str, Dataset], names: set[str]
) -> Iterator[CatalogueError]:
    source = licence.source
    assert source is not None
    dataset = datasets.get(source.dataset)
    if dataset is None:
        yield entry.error("source", "dataset", message=_unknown("dataset", source.dataset))
        return
    if dataset.key.kind.subject_kind is not licence.holder_kind:
        message = (
            f"holders are {licence.holder_kind.value}s but dataset {dataset.code!r} is keyed "
            f"by {dataset.key.kind.value}"
        )
        yield entry.error("holder_kind", message=message)
    fields = {f.name for f in dataset.fields}
    if source.holder_name_field not in fields:
        message = _unknown(f"field of dataset {dataset.code!r}", source.holder_name_field)
        yield entry.error("source", "holder_name_field", message=message)
    for licence_field, dataset_field in source.mapping.items():
        if licence_field not in names:
            message = f"{licence_field!r} is not one of the licence type's fields"
            yield entry.error("source", "mapping", licence_field, message=message)
        if dataset_field not in fields:
            message = _unknown(f"field of dataset {dataset.code!r}", dataset_field)
            yield entry.error("source", "mapping", licence_field, message=message)
    for name, values in source.where.items():
        if name not in fields:
            message = _unknown(f"field of dataset {dataset.code!r}", name)
            yield entry.error("source", "where", name, message=message)
            continue
        allowed = dataset.field(name).values
        for index, value in enumerate(values):
            if allowed and value not in allowed:
                message = f"{value!r} is not one of the values of {dataset.code}.{name}: {allowed}"
                yield entry.error("source", "where", name, index, message=message)


def _check_materials(
    entries: list[_Entry], licence_types: dict[str, LicenceType], datasets: dict[str, Dataset]
) -> Iterator[CatalogueError]:
    for entry in entries:
        material: Material = entry.model
        for index, source in enumerate(material.sources):
            if source.licence_type is not None and source.licence_type not in licence_types:
                message = _unknown("licence type", source.licence_type)
                yield entry.error("sources", index, "licence_type", message=message)
            if source.dataset is None:
                continue
            dataset = datasets.get(source.dataset)
            if dataset is None:
                message = _unknown("dataset", source.dataset)
                yield entry.error("sources", index, "dataset", message=message)
                continue
            known = {f.name for f in dataset.fields}
            for position, name in enumerate(source.fields):
                if name not in known:
                    message = _unknown(f"field of dataset {dataset.code!r}", name)
                    yield entry.error("sources", index, "fields", position, message=message)


def _held_for(
    material: Material, licence_types: dict[str, LicenceType], datasets: dict[str, Dataset]
) -> set[SubjectKind]:
    """The subject kinds the exchange can hold this material for (by its sources' keys)."""
    kinds = set()
    for source in material.sources:
        if source.licence_type in licence_types:
            kinds.add(licence_types[source.licence_type].holder_kind)
        if source.dataset in datasets:
            kinds.add(datasets[source.dataset].key.kind.subject_kind)
    return kinds


def _check_items(
    entries: list[_Entry], departments: set[str], held_for: dict[str, set[SubjectKind]]
) -> Iterator[CatalogueError]:
    """An item's materials exist and, where they have sources, can be held for its subjects.

    A material whose every source belongs to the other subject kind could never be found for
    this item's applicants: that is a mistake. A material without sources fits every item.
    """
    for entry in entries:
        item: ServiceItem = entry.model
        if item.department not in departments:
            yield entry.error("department", message=_unknown("department", item.department))
        for index, code in enumerate(item.materials):
            if code not in held_for:
                yield entry.error("materials", index, message=_unknown("material", code))
            elif held_for[code] and item.subject_kind not in held_for[code]:
                kinds = " and ".join(sorted(kind.value for kind in held_for[code]))
                message = (
                    f"material {code!r} is only held for {kinds} subjects, but the item "
                    f"serves {item.subject_kind.value}s"
                )
                yield entry.error("materials", index, message=message)


def _check_bundles(
    entries: list[_Entry], items: dict[str, ServiceItem]
) -> Iterator[CatalogueError]:
    for entry in entries:
        bundle: Bundle = entry.model
        for stage_index, stage in enumerate(bundle.stages):
            for index, code in enumerate(stage):
                item = items.get(code)
                if item is None:
                    message = _unknown("service item", code)
                    yield entry.error("stages", stage_index, index, message=message)
                elif item.subject_kind is not bundle.subject_kind:
                    message = (
                        f"item {code!r} serves {item.subject_kind.value}s, the bundle "
                        f"{bundle.subject_kind.value}s"
                    )
                    yield entry.error("stages", stage_index, index, message=message)


def _unknown(kind: str, code: str) -> str:
    return f"no {kind} {code!r} in the catalogue"


def _uscc_problem(code: str) -> str | None:
    """What is wrong with a USCC the catalogue declares, if anything. Unlike department data,
    the reviewed catalogue is ours: a bad embedded organisation code is an error here too."""
    try:
        warning = uscc.warning(code)
    except IdentifierError as exc:
        return f"is not a valid USCC (GB 32100): {exc}"
    if warning is not None:
        return "is not a valid USCC: its organisation code fails the GB 11714 check"
    return None

"""The shape of the catalogue: what a reviewed YAML file may declare, checked before it is loaded.

The catalogue is the contract between departments, the exchange and the acceptance platform
(PRODUCT.md, "Catalogue"). Each model here is one kind of entry; `catalog.loader` reads the files
into a `Catalogue` and checks the references between entries (a dataset's department exists, a
material's licence type exists, ...), so a mistake is reported with its file and key before
anything reaches the store.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

Code = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{1,62}$")]
"""A catalogue code for departments, datasets, fields, materials and bundles: lower snake case."""

ItemCode = Annotated[str, StringConstraints(pattern=r"^[0-9A-Z][0-9A-Z-]{5,39}$")]
"""A service item's unified code (一码管理): upper-case letters, digits and hyphens."""

LicenceTypeCode = Annotated[str, StringConstraints(pattern=r"^[0-9A-HJ-NP-RTUW-Y]{18}[0-9]{3}$")]
"""GB/T 36904 licence type code: the defining authority's USCC plus a 3-digit number."""

RegionCode = Annotated[str, StringConstraints(pattern=r"^[0-9]{6}$")]


class _Entry(BaseModel):
    """Catalogue entries are strict: an unknown key in a reviewed file is a mistake, not a note."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_enum_values=False)


_E = TypeVar("_E", bound=_Entry)


class KeyKind(StrEnum):
    """Which identifier keys a dataset's subjects (PRODUCT.md: holder code types)."""

    RESIDENT = "resident"  # GB 11643 resident identity number, holder code type 111
    USCC = "uscc"  # GB 32100 Unified Social Credit Code, holder code type 001

    @property
    def holder_code_type(self) -> str:
        return {KeyKind.RESIDENT: "111", KeyKind.USCC: "001"}[self]

    @property
    def subject_kind(self) -> SubjectKind:
        return {KeyKind.RESIDENT: SubjectKind.PERSON, KeyKind.USCC: SubjectKind.ORGANISATION}[self]


class SubjectKind(StrEnum):
    PERSON = "person"
    ORGANISATION = "organisation"

    @property
    def key_kind(self) -> KeyKind:
        return {SubjectKind.PERSON: KeyKind.RESIDENT, SubjectKind.ORGANISATION: KeyKind.USCC}[self]


class FieldType(StrEnum):
    STRING = "string"
    INTEGER = "integer"
    DECIMAL = "decimal"
    DATE = "date"
    BOOLEAN = "boolean"
    ENUM = "enum"
    RESIDENT_ID = "resident_id"  # a resident ID that is not the key (a spouse, a parent)
    USCC = "uscc"  # a USCC that is not the key (an employer)


class SharingClass(StrEnum):
    """国发〔2016〕51号: sharing is the rule, not sharing the exception."""

    UNCONDITIONAL = "unconditional"  # 无条件共享
    CONDITIONAL = "conditional"  # 有条件共享
    NOT_SHARED = "not_shared"  # 不予共享


class OpenClass(StrEnum):
    """What may be exported to the public (open data)."""

    OPEN = "open"  # 无条件开放
    CONDITIONAL = "conditional"  # 有条件开放
    NOT_OPEN = "not_open"  # 不予开放


class Frequency(StrEnum):
    """Declared update frequency; freshness is judged against it."""

    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    ANNUAL = "annual"

    @property
    def days(self) -> int:
        return {"daily": 1, "weekly": 7, "monthly": 31, "quarterly": 92, "annual": 366}[self.value]


class FileFormat(StrEnum):
    CSV = "csv"
    XLSX = "xlsx"
    PARQUET = "parquet"
    JSONL = "jsonl"


class Encoding(StrEnum):
    UTF8 = "utf-8"
    UTF8_SIG = "utf-8-sig"  # UTF-8 with a byte-order mark, as Excel writes it
    GBK = "gbk"
    GB18030 = "gb18030"


class ItemCategory(StrEnum):
    """The six categories of service items."""

    LICENSING = "licensing"  # 行政许可
    ADJUDICATION = "adjudication"  # 行政裁决
    CONFIRMATION = "confirmation"  # 行政确认
    BENEFIT = "benefit"  # 行政给付
    GUIDANCE = "guidance"  # 行政指导
    OTHER = "other"  # 其他服务


class Department(_Entry):
    code: Code
    name: str = Field(min_length=2)
    name_en: str
    uscc: str = Field(pattern=r"^[0-9A-HJ-NP-RTUW-Y]{18}$")
    region: RegionCode
    description: str = ""


class DatasetField(_Entry):
    name: Code
    title: str = Field(min_length=1, description="the field's Chinese name")
    type: FieldType
    required: bool = False
    sensitive: bool = False
    aliases: tuple[str, ...] = ()
    values: tuple[str, ...] = Field(default=(), description="allowed values of an enum field")
    sharing: SharingClass | None = Field(
        default=None, description="overrides the dataset's sharing class for this field"
    )
    description: str = ""

    @model_validator(mode="after")
    def _enum_has_values(self) -> DatasetField:
        if (self.type is FieldType.ENUM) != bool(self.values):
            raise ValueError("an enum field lists its values, and only an enum field does")
        return self


class DatasetKey(_Entry):
    kind: KeyKind
    field: Code


class Dataset(_Entry):
    code: Code
    name: str
    name_en: str
    description: str
    department: Code
    key: DatasetKey
    fields: tuple[DatasetField, ...] = Field(min_length=2)
    format: FileFormat
    encoding: Encoding | None = Field(default=None, description="declared CSV encoding, if any")
    update_frequency: Frequency
    max_quarantine_rate: float = Field(ge=0.0, le=1.0)
    sharing_class: SharingClass
    open_class: OpenClass
    legal_basis: str = ""
    ignore_unknown_columns: bool = False
    keywords: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> Dataset:
        names = [f.name for f in self.fields]
        if len(set(names)) != len(names):
            repeated = sorted({n for n in names if names.count(n) > 1})
            raise ValueError(f"field names repeat: {repeated}")
        if self.key.field not in names:
            raise ValueError(f"key field {self.key.field!r} is not among the fields")
        restricted = self.sharing_class is not SharingClass.UNCONDITIONAL or any(
            f.sharing not in (None, SharingClass.UNCONDITIONAL) for f in self.fields
        )
        if (restricted or self.open_class is not OpenClass.OPEN) and not self.legal_basis:
            raise ValueError("a restricted sharing or open class needs a legal_basis")
        if self.encoding is not None and self.format is not FileFormat.CSV:
            raise ValueError("only a CSV dataset declares an encoding")
        return self

    def field(self, name: str) -> DatasetField:
        for entry in self.fields:
            if entry.name == name:
                return entry
        raise KeyError(f"dataset {self.code!r} has no field {name!r}")


class LicenceField(_Entry):
    name: Code
    title: str
    type: FieldType = FieldType.STRING


class LicenceSource(_Entry):
    """How a licence is derived from a dataset: one licence per subject of the dataset whose
    record passes `where` (a dataset can hold more than the licence attests: the marriage
    register holds divorces too, and only a marriage earns a 结婚证)."""

    dataset: Code
    holder_name_field: Code
    mapping: dict[Code, Code] = Field(description="licence field -> dataset field")
    where: dict[Code, tuple[str, ...]] = Field(
        default_factory=dict,
        description="dataset field -> the values a record must have to earn the licence",
    )


class LicenceType(_Entry):
    code: LicenceTypeCode
    name: str
    name_en: str
    holder_kind: SubjectKind
    issuers: tuple[Code, ...] = Field(min_length=1, description="issuing department codes")
    validity_years: int | None = Field(default=None, ge=1, description="None: long-term (长期)")
    fields: tuple[LicenceField, ...] = Field(min_length=1)
    source: LicenceSource | None = None
    description: str = ""


class MaterialSource(_Entry):
    """One way the exchange can stand in for a material: a licence type or a dataset's fields."""

    licence_type: LicenceTypeCode | None = None
    dataset: Code | None = None
    fields: tuple[Code, ...] = ()

    @model_validator(mode="after")
    def _one_kind(self) -> MaterialSource:
        if (self.licence_type is None) == (self.dataset is None):
            raise ValueError("a material source names either a licence_type or a dataset")
        if self.dataset is not None and not self.fields:
            raise ValueError("a dataset source lists the fields that stand in for the material")
        if self.licence_type is not None and self.fields:
            raise ValueError("a licence_type source takes no fields")
        return self


class Material(_Entry):
    """A material (申请材料). Satisfied, in order, by its sources; else by a written commitment
    (告知承诺) where allowed; else only the applicant can hand it over."""

    code: Code
    name: str
    sources: tuple[MaterialSource, ...] = ()
    commitment_allowed: bool = False
    description: str = ""

    @property
    def applicant_only(self) -> bool:
        return not self.sources and not self.commitment_allowed


class ServiceItem(_Entry):
    code: ItemCode
    name: str
    category: ItemCategory
    subject_kind: SubjectKind
    department: Code
    legal_basis: str = Field(min_length=2)
    statutory_days: int = Field(ge=1, description="statutory time limit, working days")
    promised_days: int = Field(ge=0, description="promised time limit, working days")
    materials: tuple[Code, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _limits(self) -> ServiceItem:
        if self.promised_days > self.statutory_days:
            raise ValueError("the promised time limit exceeds the statutory one")
        if len(set(self.materials)) != len(self.materials):
            raise ValueError("a material is listed twice")
        return self


class Bundle(_Entry):
    """一件事一次办: items in sequential stages; the items of one stage run in parallel."""

    code: Code
    name: str
    name_en: str
    subject_kind: SubjectKind
    stages: tuple[tuple[ItemCode, ...], ...] = Field(min_length=1)
    sequential_cut: float = Field(
        default=0.7,
        ge=0.7,
        lt=1.0,
        description="share by which a sequence's summed statutory limits are cut (at least 70%)",
    )
    description: str = ""

    @property
    def items(self) -> tuple[str, ...]:
        return tuple(code for stage in self.stages for code in stage)

    @model_validator(mode="after")
    def _no_item_twice(self) -> Bundle:
        if any(not stage for stage in self.stages):
            raise ValueError("a stage is empty")
        if len(set(self.items)) != len(self.items):
            raise ValueError("an item appears twice in the bundle")
        return self


class Catalogue(_Entry):
    """The whole catalogue, as loaded from the files and cross-checked by `catalog.loader`."""

    departments: tuple[Department, ...]
    datasets: tuple[Dataset, ...]
    licence_types: tuple[LicenceType, ...]
    materials: tuple[Material, ...]
    service_items: tuple[ServiceItem, ...]
    bundles: tuple[Bundle, ...]

    def department(self, code: str) -> Department:
        return _find(self.departments, code, "department")

    def dataset(self, code: str) -> Dataset:
        return _find(self.datasets, code, "dataset")

    def licence_type(self, code: str) -> LicenceType:
        return _find(self.licence_types, code, "licence type")

    def material(self, code: str) -> Material:
        return _find(self.materials, code, "material")

    def service_item(self, code: str) -> ServiceItem:
        return _find(self.service_items, code, "service item")

    def bundle(self, code: str) -> Bundle:
        return _find(self.bundles, code, "bundle")


def _find(entries: tuple[_E, ...], code: str, kind: str) -> _E:
    for entry in entries:
        if entry.code == code:  # type: ignore[attr-defined]
            return entry
    raise KeyError(f"no {kind} {code!r} in the catalogue")

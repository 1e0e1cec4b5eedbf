"""Where people live and were born: the city's districts, streets, and birth region codes.

Addresses are built from the city's real districts and well-known streets. A resident ID's first
six digits are the region where the person was registered at birth, and python-stdnum rejects a
code that did not exist in the birth year (330108 滨江区 only from 1996, 330103 下城区 only until
2021, ...), so the codes offered for each birth year are those python-stdnum's own table
(``stdnum/cn/loc.dat``) accepts for that year: a generated ID is then valid by the reference.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
from stdnum.cn import ric
from stdnum.exceptions import ValidationError

PROVINCE_CITY = "浙江省杭州市"


@dataclass(frozen=True)
class District:
    region: str  # the district's current code (USCC registration region, insured region)
    name: str
    population: float  # residents, millions: how often people live and companies register here
    street_names: str  # well-known streets, separated by spaces

    @property
    def streets(self) -> tuple[str, ...]:
        return tuple(self.street_names.split(" "))


DISTRICTS: tuple[District, ...] = (
    District("330102", "上城区", 1.32, "解放路 延安路 庆春路 清泰街 望江路 秋涛路 钱江路 凯旋路"),
    District("330105", "拱墅区", 1.18, "湖墅南路 莫干山路 上塘路 大关路 金华路 东新路 登云路"),
    District("330106", "西湖区", 1.15, "文三路 文二路 教工路 天目山路 古墩路 学院路 保俶路"),
    District("330108", "滨江区", 0.50, "江南大道 滨盛路 长河路 网商路 江虹路 月明路 滨安路"),
    District("330109", "萧山区", 2.00, "市心路 人民路 金城路 通惠路 北干路 山阴路 育才路"),
    District("330110", "余杭区", 1.30, "文一西路 五常大道 良睦路 余杭塘路 荆长路 龙舟路"),
    District("330111", "富阳区", 0.80, "江滨西大道 金桥北路 桂花路 迎宾北路 富春街"),
    District("330112", "临安区", 0.60, "钱王街 衣锦街 城中街 万马路 石镜街"),
    District("330122", "桐庐县", 0.45, "迎春南路 白云源路 富春路 学圣路"),
    District("330127", "淳安县", 0.33, "新安东路 环湖北路 千岛湖大道 新安南路"),
    District("330182", "建德市", 0.44, "新安江路 严州大道 洋溪路 江滨中路"),
)

_COMMUNITY_NAMES = (
    "翠苑 嘉绿苑 金色家园 阳光花园 桂花园 滨江花园 景芳 采荷 朝晖 德加 文鼎苑 星洲花园 丁桥 "
    "良渚文化村 九堡家园 和睦新村 三墩 紫金港 闻涛苑 春江花月 金地自在城 绿园 湖畔居 都市水乡 "
    "蓝色钱江 万家花城 金沙湖 东方郡"
)
COMMUNITIES = tuple(_COMMUNITY_NAMES.split(" "))

#: Hangzhou codes in loc.dat (districts past and present, and former counties).
HANGZHOU_BIRTH_REGIONS = (
    "330102", "330103", "330104", "330105", "330106", "330107", "330108", "330109", "330110",
    "330111", "330112", "330120", "330121", "330122", "330123", "330124", "330125", "330126",
    "330127", "330181", "330182", "330183", "330184", "330185",
)  # fmt: skip

#: Where people who moved to the city were born: other cities of Zhejiang and other provinces.
OTHER_BIRTH_REGIONS = (
    "330203", "330302", "330402", "330502", "330602", "330702", "330802", "331002", "331102",
    "330281", "330681", "330782", "310101", "310104", "320102", "320106", "340102", "340104",
    "360102", "410102", "420102", "430102", "510104", "520102", "350102", "370102", "440103",
    "110101", "110105", "130102", "140105", "210102", "230102", "450102", "500101", "610102",
    "620102", "340221", "341021", "362330", "411421", "421381", "431121", "513030", "522422",
    "330424", "330521", "330624", "330226", "330326", "410422", "510722", "320722", "370725",
    "330220", "330320", "332122", "332124", "332126", "332129", "332221", "332222", "332226",
)  # fmt: skip

#: Share of people born in the city itself; the others moved here.
BORN_IN_CITY = 0.72


def valid_in(code: str, year: int) -> bool:
    """Whether python-stdnum accepts `code` as the birth place of someone born in `year`."""
    try:
        ric.get_birth_place(f"{code}{year:04d}01010000")
    except (ValidationError, KeyError):
        return False
    return True


@cache
def birth_region_table(first_year: int, last_year: int) -> tuple[np.ndarray, np.ndarray]:
    """Codes usable per birth year, for the city and for elsewhere.

    Returns two ``(years, width)`` int arrays padded with -1, where row ``y - first_year`` lists
    the codes valid in year y. Built once with python-stdnum itself, so the rule is its rule.
    """
    tables = []
    for candidates in (HANGZHOU_BIRTH_REGIONS, OTHER_BIRTH_REGIONS):
        rows = [
            [int(code) for code in candidates if valid_in(code, year)]
            for year in range(first_year, last_year + 1)
        ]
        if not all(rows):
            empty = first_year + next(i for i, row in enumerate(rows) if not row)
            raise ValueError(f"no birth region code is valid in {empty}")
        table = np.full((len(rows), max(len(r) for r in rows)), -1, dtype=np.int64)
        for i, row in enumerate(rows):
            table[i, : len(row)] = row
        tables.append(table)
    return tables[0], tables[1]


def draw_birth_regions(
    rng: np.random.Generator, birth_years: np.ndarray, first_year: int, last_year: int
) -> np.ndarray:
    """A birth region code for each person, valid (per python-stdnum) in the person's birth year."""
    city, elsewhere = birth_region_table(first_year, last_year)
    local = rng.random(len(birth_years)) < BORN_IN_CITY
    rows = birth_years - first_year
    codes = np.empty(len(birth_years), dtype=np.int64)
    for table, chosen in ((city, local), (elsewhere, ~local)):
        counts = (table >= 0).sum(axis=1)
        row = rows[chosen]
        column = (rng.random(len(row)) * counts[row]).astype(np.int64)
        codes[chosen] = table[row, column]
    return codes


def district_weights() -> np.ndarray:
    return np.array([d.population for d in DISTRICTS])

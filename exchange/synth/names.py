"""Chinese personal names and ethnic groups, with rough frequencies.

Surname shares follow the published national rankings (王, 李, 张 ... each a few per cent), with
some surnames common in Zhejiang (楼, 应, 俞, 童, 章) added. Given names are drawn from characters
typical of the person's generation and sex, so a woman born in 1950 is more often 秀英 or 桂兰
and a boy born in 2015 more often 梓轩 or 浩宇. Every character is in GBK (a test checks it),
because several departments still export in GBK.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from exchange.synth.columns import join, take, where

SURNAMES: tuple[tuple[str, float], ...] = (
    ("王", 7.1), ("李", 7.0), ("张", 6.7), ("刘", 5.4), ("陈", 4.6), ("杨", 3.1), ("黄", 2.2),
    ("赵", 2.0), ("吴", 1.9), ("周", 1.8), ("徐", 1.6), ("孙", 1.5), ("马", 1.4), ("朱", 1.3),
    ("胡", 1.3), ("郭", 1.2), ("何", 1.2), ("林", 1.1), ("罗", 1.1), ("高", 1.0), ("郑", 1.0),
    ("梁", 0.9), ("谢", 0.8), ("宋", 0.7), ("唐", 0.7), ("许", 0.7), ("韩", 0.6), ("邓", 0.6),
    ("冯", 0.6), ("曹", 0.6), ("彭", 0.6), ("曾", 0.6), ("肖", 0.6), ("田", 0.5), ("董", 0.5),
    ("潘", 0.5), ("袁", 0.5), ("蔡", 0.5), ("蒋", 0.5), ("余", 0.5), ("于", 0.5), ("杜", 0.4),
    ("叶", 0.4), ("程", 0.4), ("魏", 0.4), ("苏", 0.4), ("吕", 0.4), ("丁", 0.4), ("任", 0.4),
    ("卢", 0.4), ("姚", 0.4), ("沈", 0.4), ("钟", 0.4), ("姜", 0.4), ("崔", 0.3), ("谭", 0.3),
    ("陆", 0.3), ("范", 0.3), ("汪", 0.3), ("廖", 0.3), ("石", 0.3), ("金", 0.3), ("韦", 0.3),
    ("贾", 0.3), ("夏", 0.3), ("付", 0.3), ("方", 0.3), ("邹", 0.3), ("熊", 0.3), ("白", 0.3),
    ("孟", 0.3), ("秦", 0.2), ("邱", 0.2), ("侯", 0.2), ("江", 0.2), ("尹", 0.2), ("薛", 0.2),
    ("闫", 0.2), ("段", 0.2), ("雷", 0.2), ("龙", 0.2), ("黎", 0.2), ("史", 0.2), ("陶", 0.2),
    ("贺", 0.2), ("毛", 0.2), ("郝", 0.2), ("顾", 0.2), ("龚", 0.2), ("邵", 0.2), ("万", 0.2),
    ("钱", 0.2), ("严", 0.2), ("戴", 0.2), ("莫", 0.2), ("孔", 0.1), ("向", 0.1), ("常", 0.1),
    ("汤", 0.1), ("葛", 0.1), ("施", 0.1), ("洪", 0.1), ("楼", 0.1), ("童", 0.1), ("应", 0.1),
    ("俞", 0.1), ("章", 0.1), ("屠", 0.05), ("欧阳", 0.05), ("上官", 0.02), ("司马", 0.02),
    ("诸葛", 0.01),
)  # fmt: skip

#: Given-name characters by generation (born before 1970, 1970-1999, from 2000) and sex.
GIVEN_CHARACTERS: dict[tuple[str, bool], str] = {
    ("old", True): "国建华明德志文军平忠林福荣海金成春祥庆宝永根发清水生兴光杰强伟刚勇东新民财",
    ("old", False): "秀英兰珍桂芳凤玉梅华琴淑素丽云娟萍红霞美菊莲月芬彩翠妹香娥仙",
    (
        "middle",
        True,
    ): "伟磊强军勇杰涛斌超明刚平辉鹏华飞鑫波俊峰健宁亮浩凯帆晨林洋阳建龙兵锋振宇达晓海东文志雷",
    (
        "middle",
        False,
    ): "芳娜敏静丽艳娟霞燕萍红玲丹琳婷雪慧颖洁晶倩莉蕾佳欣琴露璐萌婧妍瑶薇蓉晓珊莎怡",
    ("young", True): "子梓浩宇轩博泽睿俊晨铭涵昊杰锦一辰航皓烨诚哲然逸天豪奕嘉宸霖瑞凯文毅晟阳楷铠",
    ("young", False): "梓子涵欣怡诗雨萱思佳可馨语若悦琪彤妍汐依一然淑婉雅梦菲昕玥钰瑶桐璇",
}
GENERATIONS: tuple[tuple[str, int, float], ...] = (
    # (generation, first birth year, share of single-character given names)
    ("old", 0, 0.30),
    ("middle", 1970, 0.25),
    ("young", 2000, 0.08),
)

ETHNICITIES: tuple[tuple[str, float], ...] = (
    ("汉族", 94.0), ("畲族", 1.0), ("回族", 0.8), ("土家族", 0.8), ("苗族", 0.8), ("满族", 0.5),
    ("壮族", 0.5), ("布依族", 0.4), ("侗族", 0.4), ("彝族", 0.3), ("蒙古族", 0.2), ("朝鲜族", 0.1),
    ("维吾尔族", 0.1), ("藏族", 0.1),
)  # fmt: skip


def draw_surnames(rng: np.random.Generator, size: int) -> np.ndarray:
    """Indices into `SURNAMES`, by frequency."""
    weights = np.array([w for _, w in SURNAMES])
    return rng.choice(len(SURNAMES), size=size, p=weights / weights.sum())


def full_names(
    rng: np.random.Generator, surnames: np.ndarray, male: np.ndarray, birth_years: np.ndarray
) -> pa.Array:
    """Full names (surname then given name) for people with the given surname indices."""
    size = len(surnames)
    pools: list[str] = []
    offsets = np.zeros(size, dtype=np.int64)
    lengths = np.zeros(size, dtype=np.int64)
    single = np.zeros(size, dtype=bool)
    draw = rng.random((3, size))
    for position, (generation, first_year, single_share) in enumerate(GENERATIONS):
        last_year = GENERATIONS[position + 1][1] if position + 1 < len(GENERATIONS) else 10_000
        in_generation = (birth_years >= first_year) & (birth_years < last_year)
        for is_male in (True, False):
            chars = GIVEN_CHARACTERS[(generation, is_male)]
            group = in_generation & (male == is_male)
            offsets[group] = sum(len(p) for p in pools)
            lengths[group] = len(chars)
            pools.append(chars)
        single[in_generation] = draw[2][in_generation] < single_share
    characters = [c for pool in pools for c in pool]
    first = take(characters, offsets + (draw[0] * lengths).astype(np.int64))
    second = take(characters, offsets + (draw[1] * lengths).astype(np.int64))
    given = where(single, first, join(first, second))
    return join(take([s for s, _ in SURNAMES], surnames), given)


def draw_ethnicities(rng: np.random.Generator, size: int) -> pa.Array:
    weights = np.array([w for _, w in ETHNICITIES])
    return take(
        [e for e, _ in ETHNICITIES], rng.choice(len(ETHNICITIES), size, p=weights / weights.sum())
    )

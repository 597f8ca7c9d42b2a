"""Whether a column's values look like Chinese personal names (a guess for schema drafts).

No PII detector covers names: a name has no checksum or format. A draft must still never
offer one as a category, so `looks_like_names` flags a text column whose distinct values
are mostly two to four Chinese characters beginning with one of the common surnames
(the hundred most frequent single-character ones and the usual compound ones cover
most of the population). Category words rarely fit: "高中" (high school) does, but a
column needs `NAME_SHARE` of its distinct values to fit, and at least `MIN_NAMES`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

#: The most frequent single-character Chinese surnames.
SURNAMES = frozenset(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
    "苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付傅方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾"
    "毛郝龚邵万钱严覃武戴莫孔向汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关"
)
#: Common two-character (compound) surnames.
COMPOUND_SURNAMES = frozenset(
    {"欧阳", "司马", "诸葛", "上官", "东方", "令狐", "皇甫", "慕容", "司徒"}
)
#: The share of a column's distinct values that must look like names.
NAME_SHARE = 0.8
#: The fewest name-like distinct values a column must hold to be flagged.
MIN_NAMES = 3

_HAN_2_TO_4 = re.compile(r"^[\u4e00-\u9fff]{2,4}$")


def looks_like_name(value: str) -> bool:
    """Two to four Chinese characters starting with a common surname."""
    if not _HAN_2_TO_4.match(value):
        return False
    return value[0] in SURNAMES or (len(value) >= 3 and value[:2] in COMPOUND_SURNAMES)


def looks_like_names(distinct: Sequence[str]) -> bool:
    """Whether a column with these distinct values is most likely a column of names."""
    names = sum(looks_like_name(value) for value in distinct)
    return names >= MIN_NAMES and names >= NAME_SHARE * len(distinct)

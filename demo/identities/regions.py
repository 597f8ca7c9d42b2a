"""Where the synthetic people come from and live: real districts and their codes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

RESIDENT_SHARE = 0.8
"""Share of people living in the region of their ID (the rest moved elsewhere).

Exact per table as drawn; copying people onto other rows (`SHARED_CUSTOMERS`,
`REPEAT_CUSTOMERS`) moves a table's share by a few tenths of a percent."""


@dataclass(frozen=True)
class Region:
    """An administrative district and its 6-digit code (GB/T 2260).

    Attributes:
        province: the province (or municipality) name.
        city: the city name.
        district: the district name.
        code: the district's 6-digit administrative code.
    """

    province: str
    city: str
    district: str
    code: str


REGIONS: tuple[Region, ...] = (
    Region("北京市", "北京市", "东城区", "110101"),
    Region("北京市", "北京市", "西城区", "110102"),
    Region("北京市", "北京市", "朝阳区", "110105"),
    Region("北京市", "北京市", "丰台区", "110106"),
    Region("北京市", "北京市", "海淀区", "110108"),
    Region("天津市", "天津市", "和平区", "120101"),
    Region("上海市", "上海市", "黄浦区", "310101"),
    Region("上海市", "上海市", "徐汇区", "310104"),
    Region("上海市", "上海市", "长宁区", "310105"),
    Region("上海市", "上海市", "浦东新区", "310115"),
    Region("重庆市", "重庆市", "渝中区", "500103"),
    Region("广东省", "广州市", "荔湾区", "440103"),
    Region("广东省", "广州市", "越秀区", "440104"),
    Region("广东省", "广州市", "天河区", "440106"),
    Region("广东省", "深圳市", "罗湖区", "440303"),
    Region("广东省", "深圳市", "福田区", "440304"),
    Region("广东省", "深圳市", "南山区", "440305"),
    Region("浙江省", "杭州市", "上城区", "330102"),
    Region("浙江省", "杭州市", "西湖区", "330106"),
    Region("浙江省", "杭州市", "滨江区", "330108"),
    Region("江苏省", "南京市", "玄武区", "320102"),
    Region("江苏省", "南京市", "秦淮区", "320104"),
    Region("江苏省", "南京市", "鼓楼区", "320106"),
    Region("江苏省", "苏州市", "虎丘区", "320505"),
    Region("江苏省", "苏州市", "吴中区", "320506"),
    Region("四川省", "成都市", "锦江区", "510104"),
    Region("四川省", "成都市", "青羊区", "510105"),
    Region("四川省", "成都市", "武侯区", "510107"),
    Region("湖北省", "武汉市", "江岸区", "420102"),
    Region("湖北省", "武汉市", "武昌区", "420106"),
    Region("湖北省", "武汉市", "洪山区", "420111"),
    Region("陕西省", "西安市", "新城区", "610102"),
    Region("陕西省", "西安市", "碑林区", "610103"),
    Region("陕西省", "西安市", "雁塔区", "610113"),
    Region("湖南省", "长沙市", "芙蓉区", "430102"),
    Region("山东省", "济南市", "历下区", "370102"),
    Region("福建省", "厦门市", "思明区", "350203"),
)


def draw_places(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Each person's home region (of the ID) and region of residence.

    Args:
        rng: the random source.
        n: how many people.

    Returns:
        (home, residence): indices into `REGIONS`; `RESIDENT_SHARE` of the people
        live at home, the others in another region.
    """
    home = rng.integers(0, len(REGIONS), size=n)
    residence = home.copy()
    movers = rng.permutation(n)[: int(np.floor(n * (1 - RESIDENT_SHARE)))]
    # Another region than home: shift by 1..len-1 places.
    residence[movers] = (home[movers] + rng.integers(1, len(REGIONS), len(movers))) % len(REGIONS)
    return home, residence

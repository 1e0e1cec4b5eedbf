"""Words for organisations and institutions: trade names, industries, universities, hospitals.

Kept as small tuples in code (not files) so that the synth has no data to ship and every word is
reviewable; all of it is in GBK (a test checks it).
"""

from __future__ import annotations

from dataclasses import dataclass

#: Characters of trade names (字号); a trade name is two of them.
TRADE_CHARACTERS = (
    "恒瑞华鑫盛达宏信诚泰祥和安康源博远创新隆丰昌科兴联正德海天润金银星辰云峰嘉禾合众益通汇元方圆"
    "中东宇凯腾智航晟锦绿杭浙湖江明阳光启卓越永佳美优品乐福顺"
)


@dataclass(frozen=True)
class Industry:
    word: str  # in the company name: 杭州恒瑞{word}有限公司
    shop: str  # in a sole trader's name: 杭州市西湖区恒瑞{shop}
    scope: str  # 经营范围
    weight: float
    food: bool = False  # holds a food business licence (食品经营许可)
    builds: bool = False  # applies for construction permits (施工许可)


INDUSTRIES: tuple[Industry, ...] = (
    Industry("科技", "电脑店", "技术开发、技术服务、技术咨询、成果转让；计算机软硬件销售", 14),
    Industry("网络科技", "网店", "网络技术开发；信息系统集成服务；数据处理和存储支持服务", 8),
    Industry("贸易", "商行", "日用百货、五金交电、服装鞋帽批发、零售；货物进出口", 14),
    Industry("餐饮管理", "小吃店", "餐饮服务；餐饮管理；食品经营", 9, food=True),
    Industry("食品", "食品店", "食品经营；食用农产品零售；预包装食品销售", 6, food=True),
    Industry("建设", "装修队", "房屋建筑工程施工；市政工程施工；装饰装修", 6, builds=True),
    Industry("房地产开发", "中介所", "房地产开发经营；物业管理；房地产经纪", 2, builds=True),
    Industry("物流", "货运部", "道路货物运输；仓储服务；国内货物运输代理", 5),
    Industry("文化传媒", "广告店", "组织文化艺术交流活动；广告设计、制作、代理；会议及展览服务", 6),
    Industry("企业管理咨询", "咨询部", "企业管理咨询；信息咨询服务；财务咨询", 8),
    Industry("服饰", "服装店", "服装、服饰、针纺织品的设计、批发、零售", 6),
    Industry("机械", "五金店", "通用设备制造；机械零部件加工；机械设备销售", 5),
    Industry("医药", "药店", "药品批发；第二类医疗器械经营", 2),
    Industry("电子商务", "网络店", "互联网销售；电子产品销售；日用品销售", 6),
    Industry("美容美发", "理发店", "理发服务；美容服务；化妆品零售", 3),
)  # fmt: skip

FOOD_ITEMS = (
    "预包装食品销售（含冷藏冷冻食品）",
    "散装食品销售（含冷藏冷冻食品）",
    "热食类食品制售",
    "冷食类食品制售",
    "糕点类食品制售",
    "自制饮品制售",
)

PROJECT_KINDS = ("住宅小区", "科技园研发中心", "商业综合体", "厂房", "办公楼", "安置房")

#: (name, five-digit institution code used in degree certificate numbers, weight)
UNIVERSITIES: tuple[tuple[str, str, float], ...] = (
    ("浙江大学", "10335", 14), ("杭州电子科技大学", "10336", 8), ("浙江工业大学", "10337", 8),
    ("浙江理工大学", "10338", 6), ("浙江中医药大学", "10344", 3), ("浙江师范大学", "10345", 5),
    ("杭州师范大学", "10346", 5), ("浙江工商大学", "10353", 6), ("中国美术学院", "10355", 2),
    ("中国计量大学", "10356", 4), ("浙江财经大学", "10484", 4), ("浙江科技大学", "11057", 3),
    ("复旦大学", "10246", 2), ("上海交通大学", "10248", 2), ("同济大学", "10247", 2),
    ("南京大学", "10284", 2), ("北京大学", "10001", 1), ("清华大学", "10003", 1),
    ("武汉大学", "10486", 2), ("华东师范大学", "10269", 2),
)  # fmt: skip

MAJORS = (
    "计算机科学与技术", "软件工程", "电子信息工程", "机械工程", "土木工程", "临床医学", "法学",
    "会计学", "金融学", "国际经济与贸易", "汉语言文学", "英语", "数学与应用数学", "化学",
    "工商管理", "市场营销", "建筑学", "电气工程及其自动化", "通信工程", "护理学", "新闻学",
    "美术学", "环境工程", "统计学", "物理学",
)  # fmt: skip

HOSPITALS = (
    "浙江大学医学院附属妇产科医院", "杭州市妇产科医院", "浙江省妇幼保健院", "浙江省人民医院",
    "浙江大学医学院附属邵逸夫医院", "杭州市第一人民医院", "浙江大学医学院附属第一医院",
    "杭州市萧山区第一人民医院", "杭州市余杭区妇幼保健院", "杭州市富阳区妇幼保健院",
    "杭州市临安区人民医院", "桐庐县妇幼保健院", "淳安县第一人民医院", "建德市第一人民医院",
)  # fmt: skip

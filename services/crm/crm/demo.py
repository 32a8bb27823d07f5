"""Demo data for `make run`: enterprise customers of two account managers (idempotent)."""

from __future__ import annotations

import asyncio

from sqlalchemy.dialects.postgresql import insert

from backbone.db import make_engine
from crm.domain.uscc import compute_check_char
from crm.models import customers


def _uscc(body17: str) -> str:
    return body17 + compute_check_char(body17)


DEMO_CUSTOMERS = [
    # id, name, USCC body (17 chars), industry, region, manager, tier, key
    ("cus_tj_port", "天津港集团有限公司", "91120000103064001", "logistics", "天津-滨海新区", "am_zhang", "A", False),
    ("cus_tj_bank", "天津农商银行股份有限公司", "91120000MA05JJ4L0", "finance", "天津-河西区", "am_zhang", "A", True),
    ("cus_tj_gov", "天津市和平区政务服务中心", "11120101MB1H61215", "party_government", "天津-和平区", "am_li", "A", True),
    ("cus_tj_hosp", "天津医科大学总医院", "12120000401359321", "healthcare", "天津-和平区", "am_li", "B", False),
    ("cus_tj_mfg", "天津某精密制造有限公司", "91120116MA06C8T0X", "manufacturing", "天津-西青区", "am_zhang", "B", False),
    ("cus_tj_shop", "天津小河鲜餐饮管理有限公司", "92120104MA07L2Q3A", "retail", "天津-南开区", "am_li", "C", False),
]


async def seed_async(database_url: str) -> int:
    engine = make_engine(database_url, pool_size=1)
    rows = [
        {"id": cid, "name": name, "uscc": _uscc(body), "industry": industry, "region": region,
         "account_manager_id": am, "tier": tier, "key_customer": key}
        for cid, name, body, industry, region, am, tier, key in DEMO_CUSTOMERS
    ]
    async with engine.begin() as conn:
        result = await conn.execute(insert(customers).values(rows).on_conflict_do_nothing())
    await engine.dispose()
    return int(result.rowcount or 0)


def seed(database_url: str) -> int:
    return asyncio.run(seed_async(database_url))

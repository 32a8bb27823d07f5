"""CRM demo data for `make run`, the tests and the benchmarks: customers of two account managers (idempotent).

The USCCs are built with `complete_uscc`, so both check characters are right, and each customer's
tier is computed from its factors with the packaged weights, as the API would.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy.dialects.postgresql import insert

from backbone.db import make_engine
from crm.domain.tiering import CustomerFactors, grade_all, load_tiering_config
from crm.domain.uscc import complete_uscc
from crm.models import customers, key_persons

_BIG = {"employees": 12000, "handset_share": 0.85, "informatization_level": 5, "unified_payment": "full",
        "influence": 5}
_MID = {"employees": 600, "handset_share": 0.6, "informatization_level": 3, "unified_payment": "partial",
        "influence": 3}
_SMALL = {"employees": 25, "handset_share": 0.3, "informatization_level": 2, "unified_payment": "none",
          "influence": 1}

# id, name, USCC's first 16 characters, industry, region, account manager, tiering factors
DEMO_CUSTOMERS: list[tuple[str, str, str, str, str, str, dict[str, Any]]] = [
    ("cus_tj_port", "天津港集团有限公司", "9112000010306400", "logistics", "天津-滨海新区", "am_zhang", _BIG),
    ("cus_tj_bank", "天津农商银行股份有限公司", "91120000MA05JJ4L", "finance", "天津-河西区", "am_zhang", _MID),
    ("cus_tj_gov", "天津市和平区政务服务中心", "11120101MB1H6121", "party_government", "天津-和平区", "am_li", _MID),
    ("cus_tj_hosp", "天津医科大学总医院", "1212000040135932", "healthcare", "天津-和平区", "am_li", _MID),
    ("cus_tj_mfg", "天津某精密制造有限公司", "91120116MA06C8T0", "manufacturing", "天津-西青区", "am_zhang", _MID),
    ("cus_tj_shop", "天津小河鲜餐饮管理有限公司", "92120104MA07L2Q3", "retail", "天津-南开区", "am_li", _SMALL),
]

DEMO_KEY_PERSONS = [
    ("kp_tj_port_1", "cus_tj_port", "decision_maker", "王总", "信息中心主任", "13820001234", "wang@tjport.example.cn"),
    ("kp_tj_port_2", "cus_tj_port", "daily_contact", "李工", "网络管理员", "022-25701234", "li.gong@tjport.example.cn"),
]


def customer_rows() -> list[dict[str, Any]]:
    rows = []
    # Graded together: with rank grading configured, the demo customers rank among themselves.
    results = grade_all({cid: CustomerFactors.model_validate({**factors, "industry": industry})
                         for cid, _, _, industry, _, _, factors in DEMO_CUSTOMERS})
    for cid, name, first16, industry, region, am, factors in DEMO_CUSTOMERS:
        result = results[cid]
        rows.append({
            "id": cid, "name": name, "uscc": complete_uscc(first16), "industry": industry, "region": region,
            "account_manager_id": am, "tier": result.tier.value, "key_customer": result.key,
            "tier_score": result.score, "tier_factors": factors, "tier_result": result.model_dump(mode="json"),
            "tier_config_version": load_tiering_config().version,
        })
    return rows


async def seed_async(database_url: str) -> int:
    engine = make_engine(database_url, pool_size=1)
    async with engine.begin() as conn:
        # An upsert: demo rows written by an older seed (other USCCs, no factors) are brought up to date.
        stmt = insert(customers).values(customer_rows())
        result = await conn.execute(stmt.on_conflict_do_update(
            index_elements=[customers.c.id],
            set_={k: stmt.excluded[k] for k in ("name", "uscc", "industry", "region", "tier", "key_customer",
                                                "tier_score", "tier_factors", "tier_result", "tier_config_version")},
        ))
        await conn.execute(insert(key_persons).values([
            {"id": kid, "customer_id": cid, "kind": kind, "name": name, "title": title, "phone": phone,
             "email": email} for kid, cid, kind, name, title, phone, email in DEMO_KEY_PERSONS
        ]).on_conflict_do_nothing())
    await engine.dispose()
    return int(result.rowcount or 0)


def seed(database_url: str) -> int:
    return asyncio.run(seed_async(database_url))

"""/api/v1/products: the product catalogue (data: crm/data/products.yaml) with each JSON Schema."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from backbone.problems import Problem
from crm import access
from crm.api.deps import CatalogueReaderDep, ContextDep
from crm.domain.products import Product, UnknownProduct

router = APIRouter(prefix="/api/v1/products", tags=["products"])


class ProductOut(BaseModel):
    id: str
    name: dict[str, str]
    bearer_mode: str
    business_kinds: list[str]
    platforms: list[str] = Field(description="MAS / ADC for group SMS and mobile mailbox")
    href: str


class ProductDetailOut(ProductOut):
    attributes_schema: dict[str, Any] = Field(description="JSON Schema (2020-12) of an opening's item attributes")
    schemas_by_business_kind: dict[str, dict[str, Any]] = Field(
        description="the effective schema for each business kind (what an order item is validated against)")


def _out(p: Product) -> ProductOut:
    return ProductOut(id=p.id.value, name=p.name.model_dump(), bearer_mode=p.bearer_mode.value,
                      business_kinds=[k.value for k in p.business_kinds], platforms=[x.value for x in p.platforms],
                      href=f"{router.prefix}/{p.id.value}")


@router.get("", response_model=list[ProductOut], summary="The product catalogue")
async def list_products(principal: CatalogueReaderDep, ctx: ContextDep) -> list[ProductOut]:
    access.catalogue_reader(principal)
    return [_out(p) for p in ctx.catalogue]


@router.get("/{product_id}", response_model=ProductDetailOut, summary="A product with its attributes' JSON Schema")
async def get_product(product_id: str, principal: CatalogueReaderDep, ctx: ContextDep) -> ProductDetailOut:
    access.catalogue_reader(principal)
    try:
        p = ctx.catalogue.get(product_id)
    except UnknownProduct as exc:
        raise Problem(404, "Not found", exc.message,
                      errors=[{"field": "product_id", "message": "unknown product"}]) from None
    return ProductDetailOut(**_out(p).model_dump(), attributes_schema=p.schema_for(),
                            schemas_by_business_kind={k.value: p.schema_for(k) for k in p.business_kinds})

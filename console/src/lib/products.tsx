// The product catalogue (names in both languages), loaded once for the roles that may read it.
import { createContext, useContext, useEffect, useState, type ReactNode } from "react";
import { api } from "../api/client";
import type { Product } from "../api/types";
import { useI18n } from "../i18n";
import { useSession } from "./hooks";

const Ctx = createContext<Product[]>([]);

export function ProductsProvider({ children }: { children: ReactNode }) {
  const session = useSession();
  const [products, setProducts] = useState<Product[]>([]);
  const subject = session?.subject;
  useEffect(() => {
    if (!subject) return;
    const controller = new AbortController();
    api.get("crm", "/api/v1/products", { signal: controller.signal }).then(setProducts, () => undefined);
    return () => controller.abort();
  }, [subject]);
  return <Ctx.Provider value={products}>{children}</Ctx.Provider>;
}

export function useProducts() {
  const products = useContext(Ctx);
  const { lang } = useI18n();
  const name = (id: string): string | undefined => {
    const p = products.find((x) => x.id === id);
    if (!p) return undefined;
    return (lang === "zh-CN" ? p.name.zh : p.name.en) ?? p.name.en ?? p.id;
  };
  return { products, name };
}

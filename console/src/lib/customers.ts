import { api } from "../api/client";
import type { Customer, CustomerPage } from "../api/types";

/** The customers the caller may see (an account manager: their own), up to 10 pages of 200. */
export async function fetchMyCustomers(signal?: AbortSignal, manager?: string): Promise<Customer[]> {
  const out: Customer[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const page: CustomerPage = await api.get("crm", "/api/v1/customers", {
      query: { limit: 200, cursor, manager, sort: "name" }, signal,
    });
    out.push(...page.items);
    cursor = page.next_cursor ?? null;
    pages += 1;
  } while (cursor && pages < 10);
  return out;
}

import { api, isApiError } from "../api/client";
import type { WfDefinition } from "../components/WorkflowGraph";
import { learnTitles } from "./labels";

const cache = new Map<string, Promise<WfDefinition | null>>();

/** A workflow version's definition, or null when the role may not read it (403). */
export function fetchWorkflow(id: string, version: number): Promise<WfDefinition | null> {
  const key = `${id}@${version}`;
  let p = cache.get(key);
  if (!p) {
    p = api.get("eoms", "/api/v1/admin/workflows/{workflow_id}/versions/{version}", { path: { workflow_id: id, version } })
      .then((w) => {
        learnTitles(w.definition);
        return w.definition as unknown as WfDefinition;
      })
      .catch((e: unknown) => {
        cache.delete(key);
        if (isApiError(e, 403)) return null;
        throw e;
      });
    cache.set(key, p);
  }
  return p;
}

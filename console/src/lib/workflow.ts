import { api, isApiError } from "../api/client";
import type { WfDefinition } from "../components/WorkflowGraph";

const cache = new Map<string, Promise<WfDefinition | null>>();

/** A workflow version's definition (node titles in zh-CN and en), or null when the caller's roles work
 * none of its nodes (403). */
export function fetchWorkflow(id: string, version: number): Promise<WfDefinition | null> {
  const key = `${id}@${version}`;
  let p = cache.get(key);
  if (!p) {
    p = api.get("eoms", "/api/v1/workflows/{workflow_id}/versions/{version}", { path: { workflow_id: id, version } })
      .then((w) => w.definition as unknown as WfDefinition)
      .catch((e: unknown) => {
        cache.delete(key);
        if (isApiError(e, 403)) return null;
        throw e;
      });
    cache.set(key, p);
  }
  return p;
}

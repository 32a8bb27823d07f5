// Where a refused policy file is wrong: each problem+json error (`rules.3.limit_minutes`) located
// at its rule (index and id) and field, and at its line in the uploaded YAML or JSON.
import { LineCounter, parseDocument, isMap, isSeq, type Node } from "yaml";

export interface LocatedError {
  field: string;
  message: string;
  ruleIndex: number | null;
  ruleId: string | null;
  /** the path inside the rule, e.g. `limit_minutes` or `escalation.0.after_minutes` */
  ruleField: string | null;
  line: number | null;
}

function nodeAt(root: unknown, path: (string | number)[]): Node | null {
  let node = root as Node | null;
  for (const key of path) {
    if (isMap(node)) node = (node.get(key, true) as Node | undefined) ?? null;
    else if (isSeq(node)) node = (node.get(Number(key), true) as Node | undefined) ?? null;
    else return null;
    if (!node) return null;
  }
  return node;
}

export function locateErrors(text: string, errors: { field: string; message: string }[]): LocatedError[] {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc });
  const lineOf = (path: (string | number)[]): number | null => {
    // the deepest node that exists along the path (a missing field: its rule)
    for (let n = path.length; n > 0; n -= 1) {
      const node = nodeAt(doc.contents, path.slice(0, n));
      if (node?.range) return lc.linePos(node.range[0]).line;
    }
    return null;
  };
  return errors.map((e) => {
    const parts = e.field.split(".").map((p) => (/^\d+$/.test(p) ? Number(p) : p));
    let ruleIndex: number | null = null;
    let ruleId: string | null = null;
    let ruleField: string | null = null;
    if (parts[0] === "rules" && typeof parts[1] === "number") {
      ruleIndex = parts[1];
      ruleField = parts.slice(2).join(".") || null;
      const idNode = nodeAt(doc.contents, ["rules", ruleIndex, "id"]);
      const id = idNode && "value" in idNode ? (idNode as { value: unknown }).value : null;
      ruleId = typeof id === "string" ? id : null;
    }
    let line = lineOf(parts);
    if (!ruleId) {
      // a set-level problem naming a rule ("rule 'b' has the same keys as rule 'a'"): point at that rule
      const m = /rule '([^']+)'/.exec(e.message);
      if (m) {
        ruleId = m[1] ?? null;
        const rules = nodeAt(doc.contents, ["rules"]);
        const index = isSeq(rules)
          ? rules.items.findIndex((r) => isMap(r) && r.get("id") === ruleId)
          : -1;
        if (index >= 0) {
          ruleIndex = index;
          line = lineOf(["rules", index, "id"]);
        }
      }
    }
    return { field: e.field, message: e.message, ruleIndex, ruleId, ruleField, line };
  });
}

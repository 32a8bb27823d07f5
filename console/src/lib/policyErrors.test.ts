import { describe, expect, it } from "vitest";
import { locateErrors } from "./policyErrors";

const yaml = `version: "bad-1"
rules:
  - id: ok
    limit_minutes: 10
  - id: broken
    node: resource_check
    limit_minutes: soon
  - id: twin
    node: resource_check
    limit_minutes: 5
`;

describe("locateErrors", () => {
  it("names the rule (index and id), the field inside it and the line", () => {
    const [e, dup] = locateErrors(yaml, [
      { field: "rules.1.limit_minutes", message: "rule 'broken' (#1) field limit_minutes: Input should be a valid number" },
      { field: "rules", message: "rule 'twin' has the same keys as rule 'broken' (...): ambiguous precedence" },
    ]);
    expect(e).toMatchObject({ ruleIndex: 1, ruleId: "broken", ruleField: "limit_minutes", line: 7 });
    expect(dup).toMatchObject({ ruleIndex: 2, ruleId: "twin", ruleField: null, line: 8 });
  });

  it("points a missing field at its rule", () => {
    const [e] = locateErrors(yaml, [{ field: "rules.2.calendar", message: "unknown calendar" }]);
    expect(e).toMatchObject({ ruleIndex: 2, ruleId: "twin", ruleField: "calendar", line: 8 });
  });
});

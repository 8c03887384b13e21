import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { prettyJson } from "../../harness/pretty.js";

describe("prettyJson", () => {
  it("property: parses back to the same value (strings with , and : included)", () => {
    fc.assert(fc.property(fc.jsonValue(), (v) => {
      expect(JSON.parse(prettyJson(v))).toEqual(JSON.parse(JSON.stringify(v)));
    }), { seed: 11, numRuns: 500 });
  });

  it("keeps short objects on one line and breaks long ones", () => {
    expect(prettyJson({ kind: "hlt" })).toBe('{"kind": "hlt"}');
    expect(prettyJson({ disasm: "mov eax,1" })).toBe('{"disasm": "mov eax,1"}');
    const long = Object.fromEntries(Array.from({ length: 20 }, (_, k) => [`r${k}`, "0x0"]));
    expect(prettyJson(long).split("\n")).toHaveLength(22);
  });
});

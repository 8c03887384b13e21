// Suppressions for `hvdiff fuzz --ci`: known findings that do not fail CI. A JSON file
// `{"suppress": [{"signature": "...", "reason": "..."}]}`; a signature may end in `*` to
// match every signature it starts.

import { readFileSync } from "node:fs";
import { Ajv } from "ajv";

export interface Suppression {
  signature: string;
  reason: string;
}

const SCHEMA = {
  type: "object",
  required: ["suppress"],
  additionalProperties: false,
  properties: {
    suppress: {
      type: "array",
      items: {
        type: "object",
        required: ["signature", "reason"],
        additionalProperties: false,
        properties: { signature: { type: "string", minLength: 1 }, reason: { type: "string", minLength: 1 } },
      },
    },
  },
} as const;

const validate = new Ajv({ strict: true }).compile(SCHEMA);

export class SuppressionError extends Error {}

export function readSuppressions(file: string): Suppression[] {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new SuppressionError(`${file}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (e as Error).message}`);
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new SuppressionError(`${file}: invalid JSON: ${(e as Error).message}`);
  }
  if (!validate(v)) {
    const e = validate.errors![0]!;
    const at = e.instancePath === "" ? "" : `${e.instancePath.slice(1).replace(/\//g, ".")}: `;
    throw new SuppressionError(`${file}: ${at}${e.message ?? e.keyword}`);
  }
  return (v as { suppress: Suppression[] }).suppress;
}

export function isSuppressed(signature: string, list: readonly Suppression[]): Suppression | null {
  for (const s of list) {
    if (s.signature.endsWith("*") ? signature.startsWith(s.signature.slice(0, -1)) : signature === s.signature) return s;
  }
  return null;
}

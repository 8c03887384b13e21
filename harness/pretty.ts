// JSON for people: an object or array that fits on one line is written on one line,
// anything larger one member per line. Parses back to the same value as JSON.stringify.

const WIDTH = 100;

/** One-line form with a space after each `,` and `:` between members. */
function flat(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) return `[${value.map(flat).join(", ")}]`;
  const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}: ${flat(v)}`).join(", ")}}`;
}

export function prettyJson(value: unknown, indent = ""): string {
  const line = flat(value);
  if (value === null || typeof value !== "object" || line.length + indent.length <= WIDTH) return line;
  const inner = indent + "  ";
  if (Array.isArray(value)) {
    return `[\n${value.map((v) => inner + prettyJson(v, inner)).join(",\n")}\n${indent}]`;
  }
  const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
  return `{\n${entries.map(([k, v]) => `${inner}${JSON.stringify(k)}: ${prettyJson(v, inner)}`).join(",\n")}\n${indent}}`;
}

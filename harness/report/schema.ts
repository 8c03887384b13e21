// The report file format (one JSON file per signature): the JSON Schema every report is
// validated against before it is written and after it is read. `hvdiff schema report`
// prints it.

export const REPORT_FORMAT = "hvdiff-report/1";

const hex = { type: "string", pattern: "^0x[0-9a-f]+$" } as const;
const bytes = { type: "string", pattern: "^([0-9a-f]{2})*$" } as const;

const configuration = {
  type: "object",
  required: ["name", "description", "cpu"],
  additionalProperties: false,
  properties: {
    name: { type: "string" },
    description: { type: "string" },
    cpu: {
      type: "object",
      required: ["vendor", "fred"],
      additionalProperties: false,
      properties: { vendor: { enum: ["intel", "amd"] }, fred: { type: "boolean" }, plant: { enum: ["cmc-af"] } },
    },
    domctl: { type: "object", additionalProperties: { type: "string" } },
    hvm: { type: "object", additionalProperties: { type: "string" } },
    pv64: { type: "object", additionalProperties: { type: "string" } },
  },
} as const;

const difference = {
  type: "object",
  required: ["path", "a", "b"],
  additionalProperties: false,
  properties: { path: { type: "string" }, a: { type: "string" }, b: { type: "string" } },
} as const;

const decision = {
  type: "object",
  required: ["step", "rip", "rule", "choice"],
  additionalProperties: false,
  properties: { step: { type: "integer", minimum: 0 }, rip: hex, rule: { type: "string" }, choice: { type: "string" } },
} as const;

const item = {
  type: "object",
  required: ["kind", "mode", "ring", "code"],
  additionalProperties: false,
  properties: {
    kind: { type: "string" },
    mode: { enum: ["long64", "compat32", "prot32", "pv64"] },
    ring: { enum: [0, 3] },
    code: bytes,
    switchTo: { enum: ["long64", "compat32"] },
    values: {
      type: "array",
      items: {
        type: "object",
        required: ["at", "size"],
        additionalProperties: false,
        properties: { at: { type: "integer", minimum: 0 }, size: { enum: [4, 8] } },
      },
    },
  },
} as const;

const program = {
  type: "object",
  required: ["start", "items", "maxSteps"],
  additionalProperties: false,
  properties: { start: { enum: ["long64", "compat32", "prot32", "pv64"] }, items: { type: "array", items: item }, maxSteps: { type: "integer", minimum: 1 }, hv: { enum: ["xen-hvm", "xen-pv64"] }, migrate: { enum: ["xen-idt", "xen-fred", "xen-fred-fixed"] } },
} as const;

const domctlOp = { type: "object", required: ["op"], properties: { op: { type: "string" } } } as const;

const domctlProgram = {
  type: "object",
  required: ["arch", "ops"],
  additionalProperties: false,
  properties: {
    arch: { enum: ["x86", "arm64", "arm32"] },
    ops: { type: "array", items: domctlOp },
    altOps: { type: "array", items: domctlOp },
    strategies: { type: "string" },
  },
} as const;

const anyProgram = { anyOf: [program, domctlProgram] } as const;

const domctlOpSide = {
  type: "object",
  required: ["ret", "errno", "explain", "decisions"],
  additionalProperties: false,
  properties: {
    ret: { type: "integer", maximum: 0 },
    errno: { type: ["string", "null"] },
    explain: { type: "string" },
    decisions: {
      type: "array",
      items: {
        type: "object",
        required: ["branch", "why"],
        additionalProperties: false,
        properties: { knob: { type: "string" }, value: { type: "string" }, branch: { type: "string" }, why: { type: "string" } },
      },
    },
    out: { type: "object" },
  },
} as const;

const size = {
  type: "object",
  required: ["items"],
  additionalProperties: false,
  properties: { items: { type: "integer", minimum: 0 }, bytes: { type: "integer", minimum: 0 } },
} as const;

export const REPORT_SCHEMA = {
  $schema: "http://json-schema.org/draft-07/schema#",
  title: "hvdiff report",
  type: "object",
  required: ["format", "tool", "kind", "signature", "pair", "generator", "count", "seeds", "compare", "original", "minimized", "replay"],
  additionalProperties: false,
  properties: {
    format: { const: REPORT_FORMAT },
    tool: {
      type: "object",
      required: ["name", "version"],
      additionalProperties: false,
      properties: { name: { const: "hvdiff" }, version: { type: "string" } },
    },
    kind: { enum: ["divergence", "crash"] },
    signature: { type: "string" },
    pair: { type: "object", required: ["a", "b"], additionalProperties: false, properties: { a: configuration, b: configuration } },
    generator: {
      type: "object",
      required: ["name", "seed"],
      additionalProperties: false,
      properties: { name: { type: "string" }, seed: { type: "string" } },
    },
    count: { type: "integer", minimum: 1 },
    seeds: { type: "array", items: { type: "string" }, minItems: 1 },
    compare: {
      type: "object",
      required: ["prefixed", "scratch"],
      additionalProperties: false,
      properties: {
        prefixed: { type: "boolean" },
        scratch: {
          type: "array",
          items: {
            type: "object",
            required: ["addr", "len"],
            additionalProperties: false,
            properties: { addr: hex, len: { type: "integer", minimum: 1 } },
          },
        },
      },
    },
    original: {
      type: "object",
      required: ["case", "program", "size"],
      additionalProperties: false,
      properties: { case: { type: "object" }, program: anyProgram, size },
    },
    minimized: {
      type: "object",
      required: ["case", "program", "size", "tries"],
      additionalProperties: false,
      properties: { case: { type: "object" }, program: anyProgram, size, tries: { type: "integer", minimum: 0 } },
    },
    diffs: { type: "array", items: difference },
    diffsOmitted: { type: "integer", minimum: 1 },
    first: {
      type: "object",
      required: ["step", "mode", "rip", "bytes", "disasm", "diffs"],
      additionalProperties: false,
      properties: {
        step: { type: "integer", minimum: 0 },
        mode: { type: "string" },
        rip: hex,
        bytes,
        disasm: { type: "string" },
        item: {
          type: "object",
          required: ["index", "kind"],
          additionalProperties: false,
          properties: { index: { type: "integer", minimum: 0 }, kind: { type: "string" } },
        },
        diffs: { type: "array", items: difference },
        diffsOmitted: { type: "integer", minimum: 1 },
      },
    },
    firstOp: {
      type: "object",
      required: ["index", "op", "a", "b"],
      additionalProperties: false,
      properties: { index: { type: "integer", minimum: 0 }, op: domctlOp, a: domctlOpSide, b: domctlOpSide },
    },
    crash: {
      type: "object",
      required: ["side", "configuration", "message", "stack"],
      additionalProperties: false,
      properties: {
        side: { enum: ["a", "b"] },
        configuration: { type: "string" },
        message: { type: "string" },
        stack: { type: "string" },
      },
    },
    decisions: {
      type: "object",
      required: ["a", "b"],
      additionalProperties: false,
      properties: { a: { type: "array", items: decision }, b: { type: "array", items: decision } },
    },
    replay: { type: "string" },
  },
} as const;

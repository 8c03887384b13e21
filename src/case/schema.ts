// JSON Schema (draft 2020-12 subset, as ajv validates it) of one case: the input of
// `hvdiff exec` (cases.md). `hvdiff schema case` prints it for tools outside the project.

const hex64 = { type: "string", pattern: "^0x[0-9a-fA-F]{1,16}$" } as const;
const hexBytes = { type: "string", pattern: "^(\\s*[0-9a-fA-F]{2})*\\s*$" } as const;
const gprs = [
  "rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
  "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15",
] as const;

export const CASE_SCHEMA = {
  $id: "https://hvdiff.invalid/schema/case.json",
  title: "hvdiff case",
  type: "object",
  additionalProperties: false,
  properties: {
    id: { type: ["string", "number"] },
    mode: { enum: ["real16", "prot32", "compat32", "long64"] },
    base: hex64,
    code: hexBytes,
    entry: hex64,
    memory: {
      type: "array",
      items: {
        type: "object",
        additionalProperties: false,
        required: ["addr", "hex"],
        properties: { addr: hex64, hex: hexBytes },
      },
    },
    regs: {
      type: "object",
      additionalProperties: false,
      properties: Object.fromEntries([...gprs, "rflags"].map((r) => [r, hex64])),
    },
    sregs: {
      type: "object",
      additionalProperties: false,
      properties: Object.fromEntries(["cs", "ds", "es", "ss", "fs", "gs"].map((r) => [r, hex64])),
    },
    exceptions: { enum: ["stop", "deliver"] },
    cpu: {
      type: "object",
      additionalProperties: false,
      properties: {
        fred: { type: "boolean" },
        vendor: { enum: ["intel", "amd"] },
      },
    },
    hv: {
      type: "object",
      additionalProperties: false,
      required: ["model"],
      properties: {
        model: { enum: ["xen-hvm", "xen-pv64"] },
        preset: { type: "string" },
        knobs: { type: "object" },
        migrate: {
          type: "object",
          additionalProperties: false,
          required: ["on", "to"],
          properties: { on: { enum: ["suspend"] }, to: { type: "string" } },
        },
      },
    },
    domctl: {
      type: "object",
      required: ["arch", "ops"],
      properties: {
        arch: { enum: ["x86", "arm64", "arm32"] },
        preset: { type: "string" },
        knobs: { type: "object", additionalProperties: { type: "string" } },
        ops: { type: "array", items: { type: "object", required: ["op"] } },
      },
    },
    maxSteps: { type: "integer", minimum: 1, maximum: 1e12 },
    dump: {
      type: "array",
      items: {
        type: "object",
        additionalProperties: false,
        required: ["addr", "len"],
        properties: { addr: hex64, len: { type: "integer", minimum: 0, maximum: 16777216 } },
      },
    },
    ram: { type: "integer", minimum: 2097152, maximum: 4294967296, multipleOf: 4096 },
  },
  // A case runs guest code or a toolstack sequence.
  oneOf: [{ required: ["code", "base"] }, { required: ["domctl"] }],
} as const;

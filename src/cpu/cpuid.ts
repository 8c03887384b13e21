// The CPUID model: what the emulated processor reports, per vendor.
//
// It advertises exactly the features the core implements, so a guest that probes CPUID
// and then uses a feature gets the behaviour it asked about. Leaves (SDM Vol. 2A CPUID;
// AMD APM Vol. 3 Appendix E):
//   0           max basic leaf 7; vendor "GenuineIntel" / "AuthenticAMD"
//   1           signature (Intel family 6 model 0x8F; AMD family 0x19 model 0x01);
//               ECX: CX16 (13), POPCNT (23); EDX: TSC (4), CX8 (8), CMOV (15)
//   7.0         EAX = 1 (max subleaf); EBX: BMI1 (3), which makes F3 0F BC TZCNT
//   7.1         EAX: FRED (17), LKGS (18) when the model has FRED
//   0x80000000  max extended leaf 0x80000008 (AMD repeats the vendor string)
//   0x80000001  ECX: LAHF_LM (0), ABM/LZCNT (5); EDX: LM (29)
//   0x80000002-4 brand string
//   0x80000008  EAX: 40 physical and 48 linear address bits
// A leaf above the maximum returns the highest basic leaf on Intel and zeros on AMD.
// VEX-encoded BMI1 instructions (ANDN, BEXTR, BLS*) are not implemented yet: they end a
// run as `unsupported`, never as #UD.

export type Vendor = "intel" | "amd";

export interface CpuModel {
  readonly vendor: Vendor;
  readonly fred: boolean;
}

export const DEFAULT_CPU_MODEL: CpuModel = { vendor: "intel", fred: false };

/** Features the decoder and executor consult (derived from the leaves below). */
export interface CpuFeatures {
  readonly popcnt: boolean;
  readonly lzcnt: boolean;
  readonly tzcnt: boolean;
  readonly cx16: boolean;
  readonly fred: boolean;
  readonly smap: boolean;
}

export function cpuFeatures(model: CpuModel): CpuFeatures {
  const l1 = cpuid(model, 1, 0);
  const l7 = cpuid(model, 7, 0);
  const l71 = cpuid(model, 7, 1);
  const e1 = cpuid(model, 0x80000001, 0);
  return {
    popcnt: ((l1[2] >>> 23) & 1) === 1,
    cx16: ((l1[2] >>> 13) & 1) === 1,
    tzcnt: ((l7[1] >>> 3) & 1) === 1,
    lzcnt: ((e1[2] >>> 5) & 1) === 1,
    fred: ((l71[0] >>> 17) & 1) === 1,
    smap: ((l7[1] >>> 20) & 1) === 1,
  };
}

const MAX_BASIC = 7;
const MAX_EXTENDED = 0x80000008;

function ascii4(s: string, at: number): number {
  let v = 0;
  for (let i = 0; i < 4; i++) v |= (s.charCodeAt(at + i) & 0xff) << (8 * i);
  return v;
}

function vendorString(v: Vendor): string {
  return v === "intel" ? "GenuineIntel" : "AuthenticAMD";
}

/** CPUID(leaf, subleaf) as [EAX, EBX, ECX, EDX] (unsigned 32-bit numbers). */
export function cpuid(model: CpuModel, leaf: number, subleaf: number): [number, number, number, number] {
  leaf >>>= 0;
  subleaf >>>= 0;
  const vs = vendorString(model.vendor);
  const inRange = leaf <= MAX_BASIC || (leaf >= 0x80000000 && leaf <= MAX_EXTENDED);
  if (!inRange) {
    return model.vendor === "intel" ? cpuid(model, MAX_BASIC, subleaf) : [0, 0, 0, 0];
  }
  const u = (a: number, b: number, c: number, d: number): [number, number, number, number] => [
    a >>> 0, b >>> 0, c >>> 0, d >>> 0,
  ];
  switch (leaf) {
    case 0:
      // EBX, EDX, ECX spell the vendor string in that order.
      return u(MAX_BASIC, ascii4(vs, 0), ascii4(vs, 8), ascii4(vs, 4));
    case 1: {
      const sig = model.vendor === "intel" ? 0x000806f8 : 0x00a00f11;
      const ecx = (1 << 13) | (1 << 23);
      const edx = (1 << 4) | (1 << 8) | (1 << 15);
      return u(sig, 0, ecx, edx);
    }
    case 7:
      if (subleaf === 0) return u(1, 1 << 3, 0, 0);
      if (subleaf === 1) return u(model.fred ? (1 << 17) | (1 << 18) : 0, 0, 0, 0);
      return u(0, 0, 0, 0);
    case 0x80000000:
      return model.vendor === "amd"
        ? u(MAX_EXTENDED, ascii4(vs, 0), ascii4(vs, 8), ascii4(vs, 4))
        : u(MAX_EXTENDED, 0, 0, 0);
    case 0x80000001:
      return u(0, 0, (1 << 0) | (1 << 5), 1 << 29);
    case 0x80000002:
    case 0x80000003:
    case 0x80000004: {
      const brand = `hvdiff virtual CPU (${model.vendor}${model.fred ? ", FRED" : ""})`.padEnd(48, "\0");
      const at = (leaf - 0x80000002) * 16;
      return u(ascii4(brand, at), ascii4(brand, at + 4), ascii4(brand, at + 8), ascii4(brand, at + 12));
    }
    case 0x80000008:
      return u(0x3028, 0, 0, 0);
    default:
      return u(0, 0, 0, 0);
  }
}

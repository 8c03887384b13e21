// The CPUID model: what the emulated processor reports, per vendor.
//
// It advertises the features the core implements, so a guest that probes CPUID and then
// uses a feature gets the behaviour it asked about. Leaves (SDM Vol. 2A CPUID; AMD APM
// Vol. 3 Appendix E):
//   0           max basic leaf 0xD; vendor "GenuineIntel" / "AuthenticAMD"
//   1           signature (Intel family 6 model 0x8F; AMD family 0x19 model 0x01);
//               ECX: CX16 (13), POPCNT (23), XSAVE (26), OSXSAVE (27, = CR4.OSXSAVE);
//               EDX: DE (2) PSE (3) TSC (4) MSR (5) PAE (6) CX8 (8) SEP (11) PGE (13)
//               CMOV (15) PAT (16) PSE-36 (17)
//   7.0         EAX = 1 (max subleaf); EBX: FSGSBASE (0), BMI1 (3, so F3 0F BC is TZCNT),
//               SMEP (7), SMAP (20)
//   7.1         EAX: FRED (17), LKGS (18) when the model has FRED
//   0xD.0       XSAVE state: x87 only (XCR0 bit 0), 576 bytes
//   0x80000000  max extended leaf 0x80000008 (AMD: 0x80000021, and the vendor string)
//   0x80000001  ECX: LAHF_LM (0), ABM/LZCNT (5); EDX: SYSCALL (11), NX (20), Page1GB (26),
//               RDTSCP (27), LM (29)
//   0x80000002-4 brand string
//   0x80000008  EAX: 40 physical and 48 linear address bits
//   0x80000021  AMD: EAX bit 6, NullSelectorClearsBase (a null selector load clears the
//               FS/GS base, as Intel does too)
// A leaf above the maximum returns the highest basic leaf on Intel and zeros on AMD. Not
// implemented although advertised: the XSAVE/XRSTOR instructions and the VEX-encoded BMI1
// instructions; they end a run as `unsupported`, never as #UD.

export type Vendor = "intel" | "amd";

/**
 * A deliberate bug for testing the differential harness (a planted divergence it must
 * find, minimize and replay); never part of a real configuration.
 * `cmc-af`: CMC also complements AF.
 */
export type PlantedBug = "cmc-af";

export interface CpuModel {
  readonly vendor: Vendor;
  readonly fred: boolean;
  readonly plant?: PlantedBug;
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

const MAX_BASIC = 0xd;

function ascii4(s: string, at: number): number {
  let v = 0;
  for (let i = 0; i < 4; i++) v |= (s.charCodeAt(at + i) & 0xff) << (8 * i);
  return v;
}

function vendorString(v: Vendor): string {
  return v === "intel" ? "GenuineIntel" : "AuthenticAMD";
}

/**
 * CPUID(leaf, subleaf) as [EAX, EBX, ECX, EDX] (unsigned 32-bit numbers). `osxsave` is
 * CR4.OSXSAVE, which CPUID.1:ECX[27] reflects.
 */
export function cpuid(model: CpuModel, leaf: number, subleaf: number, osxsave = false): [number, number, number, number] {
  leaf >>>= 0;
  subleaf >>>= 0;
  const vs = vendorString(model.vendor);
  const maxExtended = model.vendor === "amd" ? 0x80000021 : 0x80000008;
  const inRange = leaf <= MAX_BASIC || (leaf >= 0x80000000 && leaf <= maxExtended);
  if (!inRange) {
    return model.vendor === "intel" ? cpuid(model, MAX_BASIC, subleaf, osxsave) : [0, 0, 0, 0];
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
      const ecx = (1 << 13) | (1 << 23) | (1 << 26) | (osxsave ? 1 << 27 : 0);
      const edx = (1 << 2) | (1 << 3) | (1 << 4) | (1 << 5) | (1 << 6) | (1 << 8) | (1 << 11) | (1 << 13) | (1 << 15) | (1 << 16) | (1 << 17);
      return u(sig, 0, ecx, edx);
    }
    case 7:
      if (subleaf === 0) return u(1, (1 << 0) | (1 << 3) | (1 << 7) | (1 << 20), 0, 0);
      if (subleaf === 1) return u(model.fred ? (1 << 17) | (1 << 18) : 0, 0, 0, 0);
      return u(0, 0, 0, 0);
    case 0xd:
      return subleaf === 0 ? u(1, 576, 576, 0) : u(0, 0, 0, 0);
    case 0x80000000:
      return model.vendor === "amd"
        ? u(maxExtended, ascii4(vs, 0), ascii4(vs, 8), ascii4(vs, 4))
        : u(maxExtended, 0, 0, 0);
    case 0x80000001:
      return u(0, 0, (1 << 0) | (1 << 5), (1 << 11) | (1 << 20) | (1 << 26) | (1 << 27) | (1 << 29));
    case 0x80000021:
      return u(1 << 6, 0, 0, 0);
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

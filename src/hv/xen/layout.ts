// The Xen guest ABI structs as the model reads and writes them, in both layouts: native
// ("x86_64", a 64-bit guest) and compat ("x86_32", what Xen uses for a 32-bit guest, e.g.
// when d->arch.has_32bit_shinfo is set). Xen builds its compat structs from the same public
// headers preprocessed with -m32 (xen/include/Makefile; xen/tools/compat-build-header.py), so
// both layouts are computed here from ONE description, DEFS below, copied from the public
// headers (declarations only, comments shortened) and laid out by the C rules of each ABI:
//   - x86_64 (SysV AMD64): long, xen_ulong_t, pointers 8 bytes; uint64_t aligned 8.
//   - x86_32 (SysV i386): long, xen_ulong_t, pointers 4 bytes; uint64_t is 8 bytes but only
//     4-byte aligned inside a struct (Xen's compat headers say so explicitly with
//     uint64_compat_t, __attribute__((aligned(4)))).
//   - XEN_GUEST_HANDLE(T) is `struct { T *p; }` (arch-x86/xen.h): pointer-sized, 8 or 4.
//     Compat handles are 32-bit (compat_handle_t).
// test/hv/xen/layout.test.ts compiles Xen's real headers with gcc -m64/-m32 and compares every
// struct and field listed here.
//
// Field naming (the `hvdiff abi --json` contract, design/cases.md): a field of a nested struct
// or union is named by its C path, `time.tsc_timestamp`, `arch.wc_sec_hi`, `addr.p`, listed
// right after its parent, in declaration order. Members of an anonymous struct/union are named
// as if declared in the parent (C11). An array is one field whose size is the whole array;
// elements of an array of structs are not listed (`shared_info.vcpu_info` is 2048 bytes), but
// offsetOf() accepts indices: offsetOf(abi, "shared_info", "vcpu_info[3].evtchn_pending_sel").
// A typedef of a char array (xen_extraversion_t) is an entry with a size and no fields.

export type Abi = "x86_64" | "x86_32";
export const ABIS: readonly Abi[] = ["x86_64", "x86_32"];

export interface FieldLayout {
  /** The C path: `evtchn_pending_sel`, `arch.cr2`, `time.tsc_timestamp`. */
  readonly name: string;
  readonly offset: number;
  /** Bytes; for an array, the whole array. */
  readonly size: number;
  /** The declared C type as spelled in the header (`xen_ulong_t`, `struct arch_vcpu_info`). */
  readonly ctype: string;
  /** Array length, or undefined when the field is not an array. */
  readonly count?: number;
  /** Size of one element (equals size for a non-array). */
  readonly elemSize: number;
}

export interface StructLayout {
  readonly abi: Abi;
  /** Xen's name: `shared_info` for `struct shared_info`; a typedef name for array typedefs. */
  readonly name: string;
  /** How C spells the type: `struct shared_info`, `xen_extraversion_t`. */
  readonly cname: string;
  readonly size: number;
  readonly align: number;
  /** Every field, parents before their members, in declaration order. */
  readonly fields: readonly FieldLayout[];
}

// ---------------------------------------------------------------------------------------------
// The description. Preprocessor lines understood: `#define NAME NUMBER`, `#ifdef`/`#ifndef`/
// `#if defined(X)`/`#if !defined(X)` with X one of __i386__ / __x86_64__, `#else`, `#endif`.
// Header paths are relative to xen/include/public; checked against Xen 4.17's headers
// (Debian libxen-dev) at __XEN_INTERFACE_VERSION__ = __XEN_LATEST_INTERFACE_VERSION__.

const DEFS = `
/* arch-x86/xen.h */
#define XEN_LEGACY_MAX_VCPUS 32
typedef unsigned long xen_pfn_t;
typedef unsigned long xen_ulong_t;

struct trap_info {
    uint8_t       vector;
    uint8_t       flags;
    uint16_t      cs;
    unsigned long address;
};

struct arch_shared_info {
    unsigned long max_pfn;
    xen_pfn_t     pfn_to_mfn_frame_list_list;
    unsigned long nmi_reason;
    unsigned long p2m_cr3;
    unsigned long p2m_vaddr;
    unsigned long p2m_generation;
#ifdef __i386__
    uint32_t wc_sec_hi;   /* "There's no room for this field in the generic structure." */
#endif
};

#ifdef __x86_64__
/* arch-x86/xen-x86_64.h; a guest built with gcc sees __DECL_REG(x) as a union whose first
   member is the r-name, so only the 64-bit names are listed. */
struct iret_context {
    uint64_t rax, r11, rcx, flags, rip, cs, rflags, rsp, ss;
};

struct cpu_user_regs {
    uint64_t r15;
    uint64_t r14;
    uint64_t r13;
    uint64_t r12;
    uint64_t rbp;
    uint64_t rbx;
    uint64_t r11;
    uint64_t r10;
    uint64_t r9;
    uint64_t r8;
    uint64_t rax;
    uint64_t rcx;
    uint64_t rdx;
    uint64_t rsi;
    uint64_t rdi;
    uint32_t error_code;
    uint32_t entry_vector;
    uint64_t rip;
    uint16_t cs, _pad0[1];
    uint8_t  saved_upcall_mask;
    uint8_t  _pad1[3];
    uint64_t rflags;
    uint64_t rsp;
    uint16_t ss, _pad2[3];
    uint16_t es, _pad3[3];
    uint16_t ds, _pad4[3];
    uint16_t fs, _pad5[3];
    uint16_t gs, _pad6[3];
};

struct arch_vcpu_info {
    unsigned long cr2;
    unsigned long pad;      /* sizeof(vcpu_info_t) == 64 */
};

typedef unsigned long xen_callback_t;
#else
/* arch-x86/xen-x86_32.h */
struct cpu_user_regs {
    uint32_t ebx;
    uint32_t ecx;
    uint32_t edx;
    uint32_t esi;
    uint32_t edi;
    uint32_t ebp;
    uint32_t eax;
    uint16_t error_code;
    uint16_t entry_vector;
    uint32_t eip;
    uint16_t cs;
    uint8_t  saved_upcall_mask;
    uint8_t  _pad0;
    uint32_t eflags;
    uint32_t esp;
    uint16_t ss, _pad1;
    uint16_t es, _pad2;
    uint16_t ds, _pad3;
    uint16_t fs, _pad4;
    uint16_t gs, _pad5;
};

struct arch_vcpu_info {
    unsigned long cr2;
    unsigned long pad[5];   /* sizeof(vcpu_info_t) == 64 */
};

struct xen_callback {
    unsigned long cs;
    unsigned long eip;
};
typedef struct xen_callback xen_callback_t;
#endif

/* xen.h */
typedef uint16_t domid_t;

struct multicall_entry {
    xen_ulong_t op, result;
    xen_ulong_t args[6];
};

struct vcpu_time_info {
    uint32_t version;
    uint32_t pad0;
    uint64_t tsc_timestamp;
    uint64_t system_time;
    uint32_t tsc_to_system_mul;
    int8_t   tsc_shift;
    uint8_t  flags;         /* __XEN_INTERFACE_VERSION__ > 0x040600 */
    uint8_t  pad1[2];
};
typedef struct vcpu_time_info vcpu_time_info_t;

struct vcpu_info {
    uint8_t evtchn_upcall_pending;
    uint8_t evtchn_upcall_mask;   /* XEN_HAVE_PV_UPCALL_MASK is defined on x86 */
    xen_ulong_t evtchn_pending_sel;
    struct arch_vcpu_info arch;
    vcpu_time_info_t time;
};

struct shared_info {
    struct vcpu_info vcpu_info[XEN_LEGACY_MAX_VCPUS];
    xen_ulong_t evtchn_pending[sizeof(xen_ulong_t) * 8];
    xen_ulong_t evtchn_mask[sizeof(xen_ulong_t) * 8];
    uint32_t wc_version;
    uint32_t wc_sec;
    uint32_t wc_nsec;
#if !defined(__i386__)
    uint32_t wc_sec_hi;
#endif
    struct arch_shared_info arch;
};

/* vcpu.h */
struct vcpu_runstate_info {
    int      state;
    uint64_t state_entry_time;
    uint64_t time[4];
};
typedef struct vcpu_runstate_info vcpu_runstate_info_t;

struct vcpu_register_runstate_memory_area {
    union {
        XEN_GUEST_HANDLE(vcpu_runstate_info_t) h;
        struct vcpu_runstate_info *v;
        uint64_t p;
    } addr;
};

struct vcpu_set_singleshot_timer {
    uint64_t timeout_abs_ns;
    uint32_t flags;
};

struct vcpu_register_vcpu_info {
    uint64_t mfn;
    uint32_t offset;
    uint32_t rsvd;
};

struct vcpu_register_time_memory_area {
    union {
        XEN_GUEST_HANDLE(vcpu_time_info_t) h;
        struct vcpu_time_info *v;
        uint64_t p;
    } addr;
};

/* memory.h */
struct xen_add_to_physmap {
    domid_t domid;
    uint16_t    size;
    unsigned int space;
    xen_ulong_t idx;
    xen_pfn_t     gpfn;
};

struct xen_remove_from_physmap {
    domid_t domid;
    xen_pfn_t     gpfn;
};

/* hvm/hvm_op.h */
struct xen_hvm_param {
    domid_t  domid;
    uint16_t pad;
    uint32_t index;
    uint64_t value;
};

struct xen_hvm_evtchn_upcall_vector {
    uint32_t vcpu;
    uint8_t vector;
};

/* event_channel.h */
typedef uint32_t evtchn_port_t;

struct evtchn_alloc_unbound {
    domid_t dom, remote_dom;
    evtchn_port_t port;
};

struct evtchn_bind_interdomain {
    domid_t remote_dom;
    evtchn_port_t remote_port;
    evtchn_port_t local_port;
};

struct evtchn_bind_virq {
    uint32_t virq;
    uint32_t vcpu;
    evtchn_port_t port;
};

struct evtchn_bind_ipi {
    uint32_t vcpu;
    evtchn_port_t port;
};

struct evtchn_close {
    evtchn_port_t port;
};

struct evtchn_send {
    evtchn_port_t port;
};

struct evtchn_status {
    domid_t  dom;
    evtchn_port_t port;
    uint32_t status;
    uint32_t vcpu;
    union {
        struct {
            domid_t dom;
        } unbound;
        struct {
            domid_t dom;
            evtchn_port_t port;
        } interdomain;
        uint32_t pirq;
        uint32_t virq;
    } u;
};

struct evtchn_bind_vcpu {
    evtchn_port_t port;
    uint32_t vcpu;
};

struct evtchn_unmask {
    evtchn_port_t port;
};

/* sched.h */
struct sched_shutdown {
    unsigned int reason;
};

struct sched_poll {
    XEN_GUEST_HANDLE(evtchn_port_t) ports;
    unsigned int nr_ports;
    uint64_t timeout;
};

/* version.h */
typedef char xen_extraversion_t[16];

struct xen_compile_info {
    char compiler[64];
    char compile_by[16];
    char compile_domain[32];
    char compile_date[32];
};

typedef char xen_capabilities_info_t[1024];
typedef char xen_changeset_info_t[64];

struct xen_platform_parameters {
    xen_ulong_t virt_start;
};

struct xen_feature_info {
    unsigned int submap_idx;
    uint32_t     submap;
};

/* callback.h */
struct callback_register {
    uint16_t type;
    uint16_t flags;
    xen_callback_t address;
};

struct callback_unregister {
    uint16_t type;
    uint16_t _unused;
};
`;

// ---------------------------------------------------------------------------------------------
// Scalar types: [size, alignment inside a struct] per ABI.

const LONG: Record<Abi, [number, number]> = { x86_64: [8, 8], x86_32: [4, 4] };
const INT64: Record<Abi, [number, number]> = { x86_64: [8, 8], x86_32: [8, 4] };

function scalar(abi: Abi, name: string): [number, number] | undefined {
  switch (name) {
    case "char": case "signed char": case "unsigned char": case "int8_t": case "uint8_t":
      return [1, 1];
    case "short": case "unsigned short": case "int16_t": case "uint16_t":
      return [2, 2];
    case "int": case "unsigned int": case "unsigned": case "int32_t": case "uint32_t":
      return [4, 4];
    case "long": case "unsigned long":
      return LONG[abi];
    case "long long": case "unsigned long long": case "int64_t": case "uint64_t":
      return INT64[abi];
    default:
      return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// Parsing DEFS (per ABI, after the preprocessor).

type TypeRef =
  | { kind: "named"; name: string }                       // uint32_t, xen_ulong_t, unsigned long
  | { kind: "tagged"; name: string }                      // struct arch_vcpu_info
  | { kind: "record"; union: boolean; members: Member[] } // struct { ... } / union { ... }
  | { kind: "pointer" }                                   // T *name, XEN_GUEST_HANDLE(T)
  | { kind: "handle"; target: string };

interface Member {
  readonly name: string | null; // null: anonymous struct/union
  readonly type: TypeRef;
  readonly ctype: string;
  readonly count: number | undefined;
}

interface Defs {
  readonly structs: Map<string, Member[]>;                  // by tag
  readonly typedefs: Map<string, { type: TypeRef; count: number | undefined }>;
  readonly arrayTypedefs: Set<string>;                      // typedef char x[N]
  readonly order: string[];                                 // entries in definition order
}

function preprocess(abi: Abi, text: string): { lines: string; defines: Map<string, number> } {
  const macros = new Set(abi === "x86_64" ? ["__x86_64__"] : ["__i386__"]);
  const defines = new Map<string, number>();
  const stack: { active: boolean }[] = [];
  const out: string[] = [];
  const active = (): boolean => stack.every((s) => s.active);
  for (const raw of text.replace(/\/\*[\s\S]*?\*\//g, " ").split("\n")) {
    const line = raw.trim();
    const m = /^#\s*(\w+)\s*(.*)$/.exec(line);
    if (m === null) {
      out.push(active() ? line : "");
      continue;
    }
    const [, directive, rest] = m as unknown as [string, string, string];
    const cond = (): boolean => {
      const c = /^(!?)\s*(?:defined\s*\(\s*(\w+)\s*\)|(\w+))$/.exec(rest.trim());
      if (c === null) throw new Error(`layout: unsupported condition '${rest}'`);
      const name = (c[2] ?? c[3]) as string;
      return (c[1] === "!") !== macros.has(name);
    };
    if (directive === "ifdef") stack.push({ active: macros.has(rest.trim()) });
    else if (directive === "ifndef") stack.push({ active: !macros.has(rest.trim()) });
    else if (directive === "if") stack.push({ active: cond() });
    else if (directive === "else") {
      const top = stack[stack.length - 1];
      if (top === undefined) throw new Error("layout: #else without #if");
      top.active = !top.active;
    } else if (directive === "endif") {
      if (stack.pop() === undefined) throw new Error("layout: #endif without #if");
    } else if (directive === "define") {
      const d = /^(\w+)\s+(\d+)$/.exec(rest.trim());
      if (d === null) throw new Error(`layout: unsupported #define '${rest}'`);
      if (active()) defines.set(d[1] as string, Number(d[2]));
    } else throw new Error(`layout: unsupported directive '#${directive}'`);
    out.push("");
  }
  if (stack.length !== 0) throw new Error("layout: unterminated #if");
  return { lines: out.join("\n"), defines };
}

const TYPE_WORDS = new Set(["unsigned", "signed", "char", "short", "int", "long"]);

class Parser {
  private readonly toks: string[];
  private pos = 0;

  constructor(
    text: string,
    private readonly abi: Abi,
    private readonly defines: Map<string, number>,
    private readonly defs: Defs,
  ) {
    this.toks = text.match(/[A-Za-z_]\w*|\d+|[{}[\]();,*]/g) ?? [];
  }

  private peek(): string | undefined {
    return this.toks[this.pos];
  }

  private next(): string {
    const t = this.toks[this.pos++];
    if (t === undefined) throw new Error("layout: unexpected end of DEFS");
    return t;
  }

  private expect(t: string): void {
    const got = this.next();
    if (got !== t) throw new Error(`layout: expected '${t}', got '${got}' (token ${this.pos})`);
  }

  parseAll(): void {
    while (this.peek() !== undefined) {
      if (this.peek() === "typedef") {
        this.next();
        const { type } = this.parseType();
        const name = this.next();
        const count = this.parseCount();
        this.expect(";");
        this.defs.typedefs.set(name, { type, count });
        if (count !== undefined) {
          this.defs.arrayTypedefs.add(name);
          this.defs.order.push(name);
        }
        continue;
      }
      const kw = this.next();
      if (kw !== "struct") throw new Error(`layout: expected a definition, got '${kw}'`);
      const tag = this.next();
      this.expect("{");
      const members = this.parseMembers();
      this.expect(";");
      this.defs.structs.set(tag, members);
      this.defs.order.push(tag);
    }
  }

  private parseMembers(): Member[] {
    const members: Member[] = [];
    while (this.peek() !== "}") {
      const { type, ctype } = this.parseType();
      if (this.peek() === ";" && type.kind === "record") {
        this.next();
        members.push({ name: null, type, ctype, count: undefined });
        continue;
      }
      for (;;) {
        let t = type;
        let ct = ctype;
        if (this.peek() === "*") {
          this.next();
          t = { kind: "pointer" };
          ct = `${ctype} *`;
        }
        const name = this.next();
        members.push({ name, type: t, ctype: ct, count: this.parseCount() });
        const sep = this.next();
        if (sep === ";") break;
        if (sep !== ",") throw new Error(`layout: expected ',' or ';' after '${name}', got '${sep}'`);
      }
    }
    this.expect("}");
    return members;
  }

  private parseType(): { type: TypeRef; ctype: string } {
    const t = this.next();
    if (t === "struct" || t === "union") {
      if (this.peek() === "{") {
        this.next();
        return { type: { kind: "record", union: t === "union", members: this.parseMembers() }, ctype: t };
      }
      if (t === "union") throw new Error("layout: named unions are not supported");
      const tag = this.next();
      return { type: { kind: "tagged", name: tag }, ctype: `struct ${tag}` };
    }
    if (t === "XEN_GUEST_HANDLE") {
      this.expect("(");
      const target = this.next();
      this.expect(")");
      return { type: { kind: "handle", target }, ctype: `XEN_GUEST_HANDLE(${target})` };
    }
    // `unsigned long`, `unsigned int`: C keywords cannot be member names, so every keyword that
    // follows belongs to the type.
    const words = [t];
    while (TYPE_WORDS.has(t) && TYPE_WORDS.has(this.peek() ?? "")) words.push(this.next());
    const name = words.join(" ");
    return { type: { kind: "named", name }, ctype: name };
  }

  private parseCount(): number | undefined {
    if (this.peek() !== "[") return undefined;
    this.next();
    let value = this.parseTerm();
    while (this.peek() === "*") {
      this.next();
      value *= this.parseTerm();
    }
    this.expect("]");
    return value;
  }

  private parseTerm(): number {
    const t = this.next();
    if (/^\d+$/.test(t)) return Number(t);
    if (t === "sizeof") {
      this.expect("(");
      const { type } = this.parseType();
      this.expect(")");
      return sizeType(this.abi, this.defs, type).size;
    }
    const d = this.defines.get(t);
    if (d === undefined) throw new Error(`layout: unknown constant '${t}'`);
    return d;
  }
}

// ---------------------------------------------------------------------------------------------
// Layout.

interface Sized {
  readonly size: number;
  readonly align: number;
  /** For a struct or union: its members, placed. */
  readonly members?: readonly Placed[];
}

interface Placed {
  readonly name: string | null;
  readonly offset: number;
  readonly ctype: string;
  readonly count: number | undefined;
  readonly elem: Sized;
}

function alignUp(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}

function sizeType(abi: Abi, defs: Defs, t: TypeRef): Sized {
  switch (t.kind) {
    case "pointer":
    case "handle":
      return { size: LONG[abi][0], align: LONG[abi][1] };
    case "named": {
      const s = scalar(abi, t.name);
      if (s !== undefined) return { size: s[0], align: s[1] };
      const td = defs.typedefs.get(t.name);
      if (td === undefined) throw new Error(`layout(${abi}): unknown type '${t.name}'`);
      const inner = sizeType(abi, defs, td.type);
      return td.count === undefined ? inner : { size: inner.size * td.count, align: inner.align };
    }
    case "tagged": {
      const members = defs.structs.get(t.name);
      if (members === undefined) throw new Error(`layout(${abi}): unknown struct '${t.name}'`);
      return sizeRecord(abi, defs, false, members);
    }
    case "record":
      return sizeRecord(abi, defs, t.union, t.members);
  }
}

function sizeRecord(abi: Abi, defs: Defs, union: boolean, members: readonly Member[]): Sized {
  let end = 0;
  let align = 1;
  const placed: Placed[] = [];
  for (const m of members) {
    const elem = sizeType(abi, defs, m.type);
    const bytes = elem.size * (m.count ?? 1);
    const offset = union ? 0 : alignUp(end, elem.align);
    placed.push({ name: m.name, offset, ctype: m.ctype, count: m.count, elem });
    end = Math.max(end, offset + bytes);
    align = Math.max(align, elem.align);
  }
  return { size: alignUp(end, align), align, members: placed };
}

function flatten(prefix: string, base: number, s: Sized, out: FieldLayout[]): void {
  for (const p of s.members ?? []) {
    if (p.name === null) {
      flatten(prefix, base + p.offset, p.elem, out); // anonymous: members belong to the parent
      continue;
    }
    const name = prefix + p.name;
    const f: FieldLayout = {
      name,
      offset: base + p.offset,
      size: p.elem.size * (p.count ?? 1),
      ctype: p.ctype,
      elemSize: p.elem.size,
      ...(p.count !== undefined ? { count: p.count } : {}),
    };
    out.push(f);
    if (p.count === undefined && p.elem.members !== undefined) flatten(name + ".", base + p.offset, p.elem, out);
  }
}

interface Entry {
  readonly layout: StructLayout;
  readonly tree: Sized;
}

function build(abi: Abi): Map<string, Entry> {
  const { lines, defines } = preprocess(abi, DEFS);
  const defs: Defs = { structs: new Map(), typedefs: new Map(), arrayTypedefs: new Set(), order: [] };
  new Parser(lines, abi, defines, defs).parseAll();
  const entries = new Map<string, Entry>();
  for (const name of defs.order) {
    const isStruct = !defs.arrayTypedefs.has(name);
    const tree = sizeType(abi, defs, isStruct ? { kind: "tagged", name } : { kind: "named", name });
    const fields: FieldLayout[] = [];
    flatten("", 0, tree, fields);
    const layout: StructLayout = {
      abi,
      name,
      cname: isStruct ? `struct ${name}` : name,
      size: tree.size,
      align: tree.align,
      fields,
    };
    entries.set(name, { layout, tree });
  }
  return entries;
}

const TABLES: Record<Abi, Map<string, Entry>> = { x86_64: build("x86_64"), x86_32: build("x86_32") };

// ---------------------------------------------------------------------------------------------
// API.

/** The structs (and array typedefs) defined for an ABI, in header order. */
export function structNames(abi: Abi): string[] {
  return [...TABLES[abi].keys()];
}

function entry(abi: Abi, struct: string): Entry {
  const e = TABLES[abi].get(struct);
  if (e === undefined) throw new Error(`layout: no struct '${struct}' in the ${abi} ABI`);
  return e;
}

export function layoutOf(abi: Abi, struct: string): StructLayout {
  return entry(abi, struct).layout;
}

export function sizeOf(abi: Abi, struct: string): number {
  return entry(abi, struct).layout.size;
}

/** A listed field by its dotted name (no indices). */
export function fieldOf(abi: Abi, struct: string, field: string): FieldLayout {
  const f = entry(abi, struct).layout.fields.find((x) => x.name === field);
  if (f === undefined) throw new Error(`layout: no field '${field}' in ${abi} ${struct}`);
  return f;
}

/** offsetOf's answers: the models ask for the same few members on every hypercall. */
const OFFSETS = new Map<string, number>();

/** Byte offset of a C member path: `wc_sec`, `arch.wc_sec_hi`, `vcpu_info[3].time.version`,
 *  `time[2]` (like C offsetof, indices allowed on any array). */
export function offsetOf(abi: Abi, struct: string, field: string): number {
  const key = `${abi} ${struct} ${field}`;
  const known = OFFSETS.get(key);
  if (known !== undefined) return known;
  const offset = computeOffset(abi, struct, field);
  OFFSETS.set(key, offset);
  return offset;
}

function computeOffset(abi: Abi, struct: string, field: string): number {
  let node: Sized = entry(abi, struct).tree;
  let offset = 0;
  for (const seg of field.split(".")) {
    const m = /^(\w+)((?:\[\d+\])*)$/.exec(seg);
    if (m === null) throw new Error(`layout: bad field path '${field}'`);
    const p = findMember(node, m[1] as string);
    if (p === undefined) throw new Error(`layout: no field '${field}' in ${abi} ${struct}`);
    offset += p.offset;
    node = p.elem;
    const indices = [...(m[2] as string).matchAll(/\[(\d+)\]/g)].map((x) => Number(x[1]));
    if (indices.length > 1) throw new Error(`layout: '${field}': only one-dimensional arrays exist`);
    if (indices.length === 1) {
      const i = indices[0] as number;
      if (p.count === undefined || i >= p.count) throw new Error(`layout: '${field}': index out of range`);
      offset += i * p.elem.size;
    }
  }
  return offset;
}

function findMember(s: Sized, name: string): Placed | undefined {
  for (const p of s.members ?? []) {
    if (p.name === name) return p;
    if (p.name === null) {
      const inner = findMember(p.elem, name);
      if (inner !== undefined) return { ...inner, offset: p.offset + inner.offset };
    }
  }
  return undefined;
}

export interface AbiJsonStruct {
  size: number;
  fields: Record<string, { offset: number; size: number }>;
}
export type AbiJson = Record<Abi, Record<string, AbiJsonStruct>>;

/** The `hvdiff abi --json` document (design/cases.md): structs in header order, fields in
 *  declaration order, nothing else. */
export function abiJson(): AbiJson {
  const doc = {} as AbiJson;
  for (const abi of ABIS) {
    const structs: Record<string, AbiJsonStruct> = {};
    for (const { layout } of TABLES[abi].values()) {
      const fields: Record<string, { offset: number; size: number }> = {};
      for (const f of layout.fields) fields[f.name] = { offset: f.offset, size: f.size };
      structs[layout.name] = { size: layout.size, fields };
    }
    doc[abi] = structs;
  }
  return doc;
}

// The pv64@1 generator: 64-bit PV guest programs under the Xen PV64 model (src/hv/xen/pv64/),
// for pairs of PV64 configurations (xen-idt, xen-fred, xen-fred-fixed). A program is a bare
// long64 case (`start: "pv64"`, no kit) whose code starts as the guest kernel at CPL 3 on
// Xen's flat selectors. Its items run one after another from BODY: the guest kernel
// registering its syscall callback (callback_op or set_callbacks), stack_switch,
// xen_version, sched_op yield, SCHEDOP_shutdown(SHUTDOWN_suspend) when the case migrates,
// hypercalls by raw SYSCALL with live RCX/R11, HYPERVISOR_iret to user mode with or without
// VGCF_in_syscall (resuming at the next item), user code doing SYSCALL with live,
// recognisable RCX/R11 and storing what it sees afterwards, the sysenter callback and user
// SYSENTER, set_trap_table with random DPLs, and guest exceptions and INT n (user or kernel)
// whose handler resumes at the next item. Every item is
// position-independent (addresses of the hypercall page and of fixed data are absolute;
// the return point of an iret is RIP-relative), so the minimizer may drop any of them.
// The run ends where the last item ends (exit "end"), in the guest's own state: a domain
// crash would leave the processor in Xen's, which differs between the hosts by design.
//
// Fixed, outside the items (the case's `memory`): three syscall callbacks (a Linux-style one
// that returns through the frame with HYPERVISOR_iret flags 0, the same with
// VGCF_in_syscall, and a SYSRET-style one that returns to the RCX it popped), a landing
// pad at WRONG, where a SYSRET-style return lands when the user's RCX was not the return
// address (a FRED host without the fix: spec fred-syscall-pv.md 5.4 (b)); it records RCX/R11
// and ends with UD2; a sysenter callback that returns SYSEXIT-style (to RDX, on the stack in
// RCX) through HYPERVISOR_iret; and one trap handler per vector the trap table may name, which
// records what it was entered with and returns to the address the item left at RESUME.

import { __HYPERVISOR_callback_op, __HYPERVISOR_iret, __HYPERVISOR_sched_op, __HYPERVISOR_set_callbacks, __HYPERVISOR_set_trap_table, __HYPERVISOR_stack_switch, __HYPERVISOR_xen_version } from "../../src/hv/xen/hypercall_numbers.js";
import { hexNumber, formatBytes } from "../../src/case/hex.js";
import { DEFAULT_RAM, type Case } from "../../src/case/case.js";
import { PV64_PRESETS, type Pv64PresetName } from "../../src/hv/policy.js";
import { offsetOf } from "../../src/hv/xen/layout.js";
import { CALLBACKTYPE_syscall, CALLBACKTYPE_sysenter, FLAT_KERNEL_SS, FLAT_RING3_CS64, FLAT_USER_SS, pv64Layout } from "../../src/hv/xen/pv64/guest.js";
import { CALLBACKF_mask_events, CALLBACKOP_register, SCHEDOP_shutdown, SCHEDOP_yield, SHUTDOWN_suspend, VGCF_in_syscall } from "../../src/hv/xen/pv64/hypercall.js";
import type { Item, Program } from "./program.js";
import { KIT } from "./kit/ia32e.js";
import { Emit } from "./emit.js";

export const PV64_GENERATOR = "pv64@1";

/** The RAM of a pv64 case (the case default): the hypercall page is at RAM - 1 MiB - 4 KiB. */
export const PV64_RAM = DEFAULT_RAM;
export const PV64_LAYOUT = pv64Layout(PV64_RAM);
/** Where the items start (the case's base and entry). */
export const PV64_BODY: number = KIT.symbols.BODY;
/** The fixed code (callbacks, landing pad): the case's `memory`. */
export const PV64_FIXED = 0x80000;
export const CB_LINUX = PV64_FIXED;
export const CB_LINUX_IN_SYSCALL = PV64_FIXED + 0x100;
export const CB_SYSRET = PV64_FIXED + 0x200;
export const WRONG = PV64_FIXED + 0x300;
export const CB_SYSENTER = PV64_FIXED + 0x400;
/** The vectors the trap table may name, and their handlers (HANDLER_SIZE bytes each from HANDLERS). */
export const TRAP_VECTORS = [3, 6, 13, 14, 0x80, 0x81] as const;
export const HANDLERS = PV64_FIXED + 0x500;
const HANDLER_SIZE = 0x100;
const handlerAt = (k: number): number => HANDLERS + HANDLER_SIZE * k;
/** Hypercall arguments the items build (struct callback_register, the shutdown reason). */
export const ARGS = 0x90000;
/** Result slots: what user code and the callbacks saw. */
export const RES = 0xa0000;
/** Where the callbacks record RCX/R11 at their entry (one pair: the last entry's). */
export const RES_CB = RES + 0x800;
/** The sysenter callback's record: RCX, R11, RFLAGS at entry. */
export const RES_SYSENTER = RES + 0x840;
/** The trap handlers' records (0x48 bytes each, by TRAP_VECTORS index): RCX, R11, RFLAGS at entry; the frame's RCX, R11, [error code], RIP, CS. */
export const RES_TRAP = RES + 0x900;
/** Where an item that may trap leaves the address its handler resumes at. */
export const RESUME = RES + 0xc00;
/** Stacks: the initial kernel stack (the case's RSP), the one stack_switch sets, the user's. */
export const KSTACK = 0x70000;
export const KSTACK2 = 0x6c000;
export const USTACK = 0x60000;
/** Xen's private area: the top 1 MiB of RAM. Its stack frames differ between hosts by design. */
export const PV64_SCRATCH: readonly { addr: number; len: number }[] = [{ addr: PV64_LAYOUT.host, len: PV64_RAM - PV64_LAYOUT.host }];

const RAX = 0, RCX = 1, RDX = 2, RBX = 3, RSI = 6, RDI = 7, R8 = 8, R10 = 10, R11 = 11;

/** MOV r64, imm64 (`value`: a data immediate the minimizer may zero; addresses are not). */
function mov(e: Emit, r: number, v: bigint | number, value = false): Emit {
  const x = BigInt.asUintN(64, BigInt(v));
  return e.movImm64(r, Number(x & 0xffffffffn), Number(x >> 32n), value);
}

/** CALL or JMP to an absolute address through a register (position-independent). */
function callAbs(e: Emit, target: number): Emit {
  return mov(e, RAX, target).callReg(RAX);
}
function jmpAbs(e: Emit, target: number, via = RAX): Emit {
  return mov(e, via, target).jmpReg(via);
}

/** A hypercall through the hypercall page (its stubs keep RCX/R11): RDI RSI RDX R10 R8. */
function hypercall(e: Emit, nr: number, ...args: (number | bigint)[]): Emit {
  const regs = [RDI, RSI, RDX, R10, R8];
  args.forEach((a, i) => mov(e, regs[i]!, a));
  return callAbs(e, PV64_LAYOUT.hypercallPage + 32 * nr);
}

const code = (): Emit => new Emit(64);

/** The fixed code, as one block at PV64_FIXED: the three syscall callbacks, the landing pad, the sysenter callback and the trap handlers. */
export function fixedCode(): Uint8Array {
  const out = new Uint8Array(HANDLERS + HANDLER_SIZE * TRAP_VECTORS.length - PV64_FIXED).fill(0x90);
  const place = (at: number, bytes: Uint8Array, room: number) => {
    if (bytes.length > room) throw new Error(`pv64@1: fixed code at 0x${at.toString(16)} is ${bytes.length} bytes, room for ${room}`);
    out.set(bytes, at - PV64_FIXED);
  };
  const iret = PV64_LAYOUT.hypercallPage + 32 * __HYPERVISOR_iret;
  const callback = (kind: "linux" | "linux-in-syscall" | "sysret-style"): Uint8Array => {
    // Record RCX/R11 at entry, pop RCX and R11 off the bounce frame (as Linux's
    // xen_entry_SYSCALL_64 does), then HYPERVISOR_iret: to the frame's RIP, or to the RCX popped.
    const c = code().storeReg(RES_CB, RCX).storeReg(RES_CB + 8, R11).popReg(RCX).popReg(R11);
    if (kind === "sysret-style") c.storeStackTop(RCX);
    c.pushImm(kind === "linux-in-syscall" ? VGCF_in_syscall : 0, false);
    return jmpAbs(c, iret, RDX).bytes();
  };
  place(CB_LINUX, callback("linux"), 0x100);
  place(CB_LINUX_IN_SYSCALL, callback("linux-in-syscall"), 0x100);
  place(CB_SYSRET, callback("sysret-style"), 0x100);
  // The landing pad: record that execution came here, and RCX/R11; then UD2 ends the run.
  place(WRONG, code().storeReg(RES + 0x7f0, RCX).storeReg(RES + 0x7f8, R11).ud2().bytes(), 0x100);
  // The sysenter callback: record RCX/R11/RFLAGS, pop RCX and R11 off the bounce frame, make
  // its null RIP/CS/RSP a return to RDX in user mode on the stack the user left in RCX, iret.
  const se = code().storeReg(RES_SYSENTER, RCX).storeReg(RES_SYSENTER + 8, R11).pushf().popReg(RAX).storeReg(RES_SYSENTER + 16, RAX)
    .popReg(RCX).popReg(R11).storeStack(0, RDX);
  mov(se, RAX, FLAT_RING3_CS64).storeStack(8, RAX).storeStack(24, RCX).pushImm(0, false);
  place(CB_SYSENTER, jmpAbs(se, iret, RDX).bytes(), HANDLERS - CB_SYSENTER);
  // The trap handlers.
  TRAP_VECTORS.forEach((vector, k) => {
    const rec = RES_TRAP + 0x48 * k;
    const h = code().storeReg(rec, RCX).storeReg(rec + 8, R11).pushf().popReg(RAX).storeReg(rec + 16, RAX)
      .popReg(RCX).popReg(R11).storeReg(rec + 24, RCX).storeReg(rec + 32, R11);
    if (vector === 13 || vector === 14) h.popReg(RAX).storeReg(rec + 40, RAX);
    h.loadStack(RAX, 0).storeReg(rec + 48, RAX).loadStack(RAX, 8).storeReg(rec + 56, RAX)
      .loadReg(RAX, RESUME).storeStack(0, RAX);
    // A frame from SYSENTER has Xen's null CS 3 and RSP 0: return to user mode on its stack.
    const user = code().storeStackImm(8, FLAT_RING3_CS64).storeStackImm(24, USTACK);
    h.cmpStackImm8(8, 3).jneShort(user.length).append(user).pushImm(0, false);
    place(handlerAt(k), jmpAbs(h, iret, RDX).bytes(), HANDLER_SIZE);
  });
  return out;
}

const FIXED = fixedCode();

/** The case (runner form) of a pv64 program. */
export function pv64Runnable(p: Program, id: string, code: Uint8Array): Case {
  const gprs = Array.from({ length: 16 }, () => ({ lo: 0, hi: 0 }));
  gprs[4] = { lo: KSTACK, hi: 0 };
  const to = p.migrate;
  return {
    id,
    mode: "long64",
    base: PV64_BODY,
    code,
    entry: PV64_BODY,
    memory: [{ addr: PV64_FIXED, bytes: FIXED }],
    gprs,
    rflags: 2,
    sregs: {},
    exceptions: "stop",
    // The PV64 presets' processor (harness/config/config.ts): FRED-capable, used or not by the host.
    cpu: { vendor: "intel", fred: true },
    maxSteps: p.maxSteps,
    dump: [],
    ram: PV64_RAM,
    hv: {
      model: "xen-pv64",
      preset: "xen-idt",
      policy: { ...PV64_PRESETS["xen-idt"] },
      ...(to === undefined ? {} : { migrate: { on: "suspend" as const, to, policy: { ...PV64_PRESETS[to] } } }),
    },
  };
}

/** The case (cases.md) of a pv64 program. */
export function pv64Case(p: Program, id: string, code: Uint8Array): Record<string, unknown> {
  return {
    id,
    mode: "long64",
    base: hexNumber(PV64_BODY),
    code: formatBytes(code),
    regs: { rsp: hexNumber(KSTACK) },
    memory: [{ addr: hexNumber(PV64_FIXED), hex: formatBytes(FIXED) }],
    cpu: { vendor: "intel", fred: true },
    maxSteps: p.maxSteps,
    hv: { model: "xen-pv64", ...(p.migrate === undefined ? {} : { migrate: { on: "suspend", to: p.migrate } }) },
  };
}

/**
 * Recognisable values the user loads into RCX/R11 before its SYSCALL. They are not data
 * values for the minimizer: a report keeps them, so a stale RCX/R11 can be told at a glance.
 */
const USER_RCX = [BigInt(WRONG), 0x1111_0000n, 0xc1c1_0000_0000n];
const USER_R11 = [0x2222n, 0x202n, 0x0d2dn];

export class Pv64Generator {
  private slot = 0;
  constructor(private readonly random: () => number) {}

  private int(n: number): number {
    return Math.floor(this.random() * n);
  }

  private pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }

  private item(kind: string, ring: 0 | 3, c: Emit): Item {
    return { kind, mode: "pv64", ring, code: c.bytes(), ...(c.values.length > 0 ? { values: [...c.values] } : {}) };
  }

  /** The next result slot (16 bytes: RCX then R11, or a return value). */
  private nextSlot(): number {
    const at = RES + 16 * (this.slot % 64);
    this.slot++;
    return at;
  }

  /** Register the syscall callback: callback_op(CALLBACKOP_register) or set_callbacks. */
  private register(): Item {
    const cb = this.pick([CB_LINUX, CB_LINUX, CB_SYSRET, CB_SYSRET, CB_LINUX_IN_SYSCALL]);
    const c = code();
    if (this.random() < 0.7) {
      const flags = this.random() < 0.2 ? CALLBACKF_mask_events : 0;
      c.storeImm32(ARGS + offsetOf("x86_64", "callback_register", "type"), CALLBACKTYPE_syscall | (flags << 16));
      mov(c, RAX, cb).storeReg(ARGS + offsetOf("x86_64", "callback_register", "address"), RAX);
      hypercall(c, __HYPERVISOR_callback_op, CALLBACKOP_register, ARGS);
    } else {
      hypercall(c, __HYPERVISOR_set_callbacks, 0, 0, cb);
    }
    return this.item(cb === CB_SYSRET ? "register-sysret-style" : cb === CB_LINUX ? "register-linux" : "register-linux-in-syscall", 0, c.storeReg(this.nextSlot(), RAX));
  }

  private stackSwitch(): Item {
    return this.item("stack-switch", 0, hypercall(code(), __HYPERVISOR_stack_switch, FLAT_KERNEL_SS, KSTACK2).storeReg(this.nextSlot(), RAX));
  }

  private xenVersion(): Item {
    return this.item("xen-version", 0, hypercall(code(), __HYPERVISOR_xen_version, this.pick([0, 7, 1])).storeReg(this.nextSlot(), RAX));
  }

  private yieldOp(): Item {
    return this.item("sched-yield", 0, hypercall(code(), __HYPERVISOR_sched_op, SCHEDOP_yield, 0).storeReg(this.nextSlot(), RAX));
  }

  /** A hypercall by raw SYSCALL with live RCX/R11 (no hypercall page): what comes back in them. */
  private rawHypercall(suspend: boolean): Item {
    const c = code();
    if (suspend) c.storeImm32(ARGS + 0x40, SHUTDOWN_suspend);
    mov(c, RAX, suspend ? __HYPERVISOR_sched_op : this.pick([__HYPERVISOR_xen_version, __HYPERVISOR_sched_op]));
    mov(c, RDI, suspend ? SCHEDOP_shutdown : 0);
    mov(c, RSI, ARGS + 0x40);
    mov(c, RCX, this.pick(USER_RCX));
    mov(c, R11, this.pick(USER_R11));
    c.raw(this.random() < 0.5 ? 0xf9 : 0xf8).syscall(); // STC or CLC: a flag R11 may show
    const at = this.nextSlot();
    c.storeReg(at, RCX).storeReg(at + 8, R11);
    return this.item(suspend ? "suspend" : "raw-hypercall", 0, c);
  }

  /** SCHEDOP_shutdown(SHUTDOWN_suspend) through the hypercall page. */
  private suspendPage(): Item {
    const c = hypercall(code().storeImm32(ARGS + 0x40, SHUTDOWN_suspend), __HYPERVISOR_sched_op, SCHEDOP_shutdown, ARGS + 0x40).storeReg(this.nextSlot(), RAX);
    return this.item("suspend", 0, c);
  }

  /** HYPERVISOR_iret to user mode at the next item, with flags 0 or VGCF_in_syscall, the kernel's RCX/R11 live. */
  private toUser(): Item {
    const inSyscall = this.random() < 0.4;
    // The frame's RIP: the end of this item (LEA of RIP + the length of the rest).
    const rest = code().pushImm(FLAT_USER_SS, false).pushImm(USTACK, false).pushImm(this.pick([0x202, 0x203, 0x246]), false).pushImm(FLAT_RING3_CS64, false)
      .pushReg(RBX).pushImm(inSyscall ? VGCF_in_syscall : 0, false);
    mov(rest, RCX, 0xc1c1n);
    mov(rest, R11, 0xd2d2n);
    jmpAbs(rest, PV64_LAYOUT.hypercallPage + 32 * __HYPERVISOR_iret, RDX);
    return this.item(inSyscall ? "iret-user-in-syscall" : "iret-user", 0, code().leaRip(RBX, rest.length).append(rest));
  }

  /**
   * User code: RCX/R11 live and recognisable, SYSCALL, then store what it sees in them. With no
   * syscall callback the SYSCALL is a #UD, whose handler resumes right after it.
   */
  private userSyscall(): Item {
    const c = mov(code(), RAX, this.pick([0x27, 0x3c, 0]));
    mov(c, RCX, this.pick(USER_RCX));
    mov(c, R11, this.pick(USER_R11));
    c.raw(this.pick([0xf9, 0xf8, 0xfd])).syscall(); // STC, CLC or STD: flags R11 and the frame may show
    const at = this.nextSlot();
    const tail = code();
    if (this.random() < 0.8) tail.storeReg(at, RCX).storeReg(at + 8, R11);
    return this.resuming("user-syscall", 3, c, tail);
  }

  /** Register the sysenter callback (callback_op), events masked or not. */
  private registerSysenter(): Item {
    const c = code().storeImm32(ARGS + 0x20 + offsetOf("x86_64", "callback_register", "type"), CALLBACKTYPE_sysenter | ((this.random() < 0.2 ? CALLBACKF_mask_events : 0) << 16));
    mov(c, RAX, CB_SYSENTER).storeReg(ARGS + 0x20 + offsetOf("x86_64", "callback_register", "address"), RAX);
    hypercall(c, __HYPERVISOR_callback_op, CALLBACKOP_register, ARGS + 0x20);
    return this.item("register-sysenter", 0, c.storeReg(this.nextSlot(), RAX));
  }

  /** set_trap_table: handlers for a random subset of TRAP_VECTORS, each with a random DPL and maybe the mask-events bit. */
  private trapTable(): Item {
    const table = ARGS + 0x100;
    const c = code();
    let n = 0;
    TRAP_VECTORS.forEach((vector, k) => {
      if (this.random() < 0.3) return;
      const flags = this.int(4) | (this.random() < 0.2 ? 4 : 0);
      const at = table + 16 * n++;
      c.storeImm32(at + offsetOf("x86_64", "trap_info", "vector"), vector | (flags << 8) | (FLAT_RING3_CS64 << 16));
      c.storeImm64(at + offsetOf("x86_64", "trap_info", "address"), handlerAt(k));
    });
    c.storeImm64(table + 16 * n + offsetOf("x86_64", "trap_info", "address"), 0);
    hypercall(c, __HYPERVISOR_set_trap_table, table);
    return this.item("trap-table", 0, c.storeReg(this.nextSlot(), RAX));
  }

  /**
   * `rest` after code that leaves the address after it in `reg` and at RESUME (for a trap
   * handler to return to), then `tail`.
   */
  private resuming(kind: string, ring: 0 | 3, rest: Emit, tail: Emit = code(), reg = RAX): Item {
    const store = code().storeReg(RESUME, reg);
    return this.item(kind, ring, code().leaRip(reg, store.length + rest.length).append(store).append(rest).append(tail));
  }

  /** An exception or INT n, from guest kernel or user mode: the trap table (or its absence) decides. */
  private trap(ring: 0 | 3): Item {
    const forms: [string, number[]][] = [
      ["int80", [0xcd, 0x80]], ["int80-prefixed", [0x66, 0xcd, 0x80]], ["int81", [0xcd, 0x81]], ["int81-prefixed", [0x66, 0xcd, 0x81]],
      ["int3", [0xcc]], ["int-3", [0xcd, 0x03]],
      ["ud2", [0x0f, 0x0b]], ["hlt", [0xf4]], ["pf", [0x48, 0x8b, 0x04, 0x25, 0x00, 0x00, 0x00, 0x40]], // mov rax, [0x40000000]: not mapped
    ];
    const [name, insn] = this.pick(forms);
    const rest = code();
    mov(rest, RCX, this.pick(USER_RCX));
    mov(rest, R11, this.pick(USER_R11));
    return this.resuming(`${ring === 3 ? "user" : "kernel"}-${name}`, ring, rest.raw(...insn));
  }

  /** User SYSENTER, SYSEXIT-style: RDX = where to come back (the item's end), RCX = the user stack, R11 live. */
  private userSysenter(): Item {
    const rest = code();
    mov(rest, RCX, USTACK);
    mov(rest, R11, this.pick(USER_R11));
    rest.raw(this.random() < 0.5 ? 0xf9 : 0xf8).sysenter();
    const at = this.nextSlot();
    // RDX and RESUME (for the #GP of a missing callback) both point after the SYSENTER.
    return this.resuming("user-sysenter", 3, rest, code().storeReg(at, RCX).storeReg(at + 8, R11), RDX);
  }

  /** User code recording RCX/R11 as it finds them (after an iret to user mode). */
  private userRecord(): Item {
    const at = this.nextSlot();
    return this.item("user-record", 3, code().storeReg(at, RCX).storeReg(at + 8, R11));
  }

  /**
   * A program. With `plan`, its items are those kinds in that order (each drawn from its
   * builder until the kind matches: a corpus recipe names what it wants) and the migration is
   * the plan's; otherwise both are drawn.
   */
  program(seed: string, plan?: { items: readonly string[]; migrate?: Pv64PresetName }): Program {
    if (plan !== undefined) {
      const items = plan.items.map((kind) => this.itemOfKind(kind));
      return { generator: PV64_GENERATOR, seed, start: "pv64", items, maxSteps: 2000, hv: "xen-pv64", ...(plan.migrate === undefined ? {} : { migrate: plan.migrate }) };
    }
    // SHUTDOWN_suspend migrates to a host of the other kind, or of the same one (mostly to the
    // legacy host: the commit message's case (d)).
    const migrate: Pv64PresetName | undefined = this.random() < 0.25 ? this.pick(["xen-idt", "xen-idt", "xen-fred", "xen-fred-fixed"] as const) : undefined;
    const items: Item[] = [];
    const kernel: (() => Item)[] = [() => this.stackSwitch(), () => this.xenVersion(), () => this.yieldOp(), () => this.rawHypercall(false), () => this.trap(0)];
    if (migrate !== undefined) kernel.push(() => this.suspendPage(), () => this.rawHypercall(true));
    if (this.random() < 0.9) items.push(this.register());
    if (this.random() < 0.4) items.push(this.registerSysenter());
    if (this.random() < 0.5) items.push(this.trapTable());
    for (let n = this.int(3); n > 0; n--) items.push(this.pick(kernel)());
    if (this.random() < 0.9) {
      items.push(this.toUser());
      if (this.random() < 0.5) items.push(this.userRecord());
      for (let n = 1 + this.int(3); n > 0; n--) {
        const r = this.random();
        items.push(r < 0.6 ? this.userSyscall() : r < 0.75 ? this.userSysenter() : r < 0.9 ? this.trap(3) : this.userRecord());
      }
    }
    return { generator: PV64_GENERATOR, seed, start: "pv64", items, maxSteps: 2000, hv: "xen-pv64", ...(migrate === undefined ? {} : { migrate }) };
  }

  /** An item of `kind`, from the builder that makes that kind (drawn again until it matches). */
  private itemOfKind(kind: string): Item {
    const builder: () => Item =
      kind === "register-sysenter" ? () => this.registerSysenter()
      : kind.startsWith("register-") ? () => this.register()
      : kind === "trap-table" ? () => this.trapTable()
      : kind === "stack-switch" ? () => this.stackSwitch()
      : kind === "xen-version" ? () => this.xenVersion()
      : kind === "sched-yield" ? () => this.yieldOp()
      : kind === "raw-hypercall" ? () => this.rawHypercall(false)
      : kind === "suspend" ? () => (this.random() < 0.5 ? this.suspendPage() : this.rawHypercall(true))
      : kind.startsWith("iret-user") ? () => this.toUser()
      : kind === "user-syscall" ? () => this.userSyscall()
      : kind === "user-sysenter" ? () => this.userSysenter()
      : kind === "user-record" ? () => this.userRecord()
      : kind.startsWith("user-") ? () => this.trap(3)
      : kind.startsWith("kernel-") ? () => this.trap(0)
      : () => { throw new Error(`pv64@1: no item kind ${JSON.stringify(kind)}`); };
    for (let k = 0; k < 1000; k++) {
      const it = builder();
      if (it.kind === kind) return it;
    }
    throw new Error(`pv64@1: no item kind ${JSON.stringify(kind)}`);
  }
}

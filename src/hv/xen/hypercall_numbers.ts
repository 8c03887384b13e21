// Hypercall numbers and names of Xen's public ABI (xen/include/public/xen.h), for the HVM
// and the PV64 models alike.

/** public/xen.h hypercall numbers (0-63 as Xen dispatches them; names for the log). */
export const HYPERCALL_NAMES: Readonly<Record<number, string>> = {
  0: "set_trap_table", 1: "mmu_update", 2: "set_gdt", 3: "stack_switch", 4: "set_callbacks",
  5: "fpu_taskswitch", 6: "sched_op_compat", 7: "platform_op", 8: "set_debugreg", 9: "get_debugreg",
  10: "update_descriptor", 12: "memory_op", 13: "multicall", 14: "update_va_mapping",
  15: "set_timer_op", 16: "event_channel_op_compat", 17: "xen_version", 18: "console_io",
  19: "physdev_op_compat", 20: "grant_table_op", 21: "vm_assist", 22: "update_va_mapping_otherdomain",
  23: "iret", 24: "vcpu_op", 25: "set_segment_base", 26: "mmuext_op", 27: "xsm_op", 28: "nmi_op",
  29: "sched_op", 30: "callback_op", 31: "xenoprof_op", 32: "event_channel_op", 33: "physdev_op",
  34: "hvm_op", 35: "sysctl", 36: "domctl", 37: "kexec_op", 38: "tmem_op", 39: "argo_op",
  40: "xenpmu_op", 41: "dm_op", 42: "hypfs_op",
};

export const __HYPERVISOR_set_trap_table = 0;
export const __HYPERVISOR_mmu_update = 1;
export const __HYPERVISOR_stack_switch = 3;
export const __HYPERVISOR_set_callbacks = 4;
export const __HYPERVISOR_fpu_taskswitch = 5;
export const __HYPERVISOR_memory_op = 12;
export const __HYPERVISOR_xen_version = 17;
export const __HYPERVISOR_vm_assist = 21;
export const __HYPERVISOR_iret = 23;
export const __HYPERVISOR_vcpu_op = 24;
export const __HYPERVISOR_sched_op = 29;
export const __HYPERVISOR_callback_op = 30;
export const __HYPERVISOR_event_channel_op = 32;
export const __HYPERVISOR_hvm_op = 34;

export function hypercallName(nr: number): string {
  return HYPERCALL_NAMES[nr] ?? `hypercall_${nr}`;
}

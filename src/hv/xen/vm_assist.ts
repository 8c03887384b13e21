// do_vm_assist(cmd, type) (xen/common/kernel.c): an HVM domain may only enable or disable
// VMASST_TYPE_runstate_update_flag (HVM_VM_ASSIST_MASK); the model keeps the flag that
// makes runstate updates set XEN_RUNSTATE_UPDATE (KVM: KVM_XEN_ATTR_TYPE_RUNSTATE_UPDATE_FLAG).

import { argU32, type Call } from "./call.js";
import { neg } from "./errno.js";

export const VMASST_CMD_enable = 0;
export const VMASST_CMD_disable = 1;
export const VMASST_TYPE_runstate_update_flag = 5;

export function doVmAssist(c: Call): number {
  const cmd = argU32(c, 0);
  const type = argU32(c, 1);
  if (type >= 64 || type !== VMASST_TYPE_runstate_update_flag) return neg("EINVAL");
  switch (cmd) {
    case VMASST_CMD_enable:
      c.hv.runstateUpdateFlag = true;
      return 0;
    case VMASST_CMD_disable:
      c.hv.runstateUpdateFlag = false;
      return 0;
    default:
      return neg("ENOSYS");
  }
}

// Errno values as Xen's hypercalls and domctls return them (negated): Xen's public
// errno.h uses the Linux numbers (spec domctl.md, header; xen-hvm.md 5.4).

export const ERRNO = {
  EPERM: 1,
  ENOENT: 2,
  ESRCH: 3,
  ENXIO: 6,
  E2BIG: 7,
  EAGAIN: 11,
  ENOMEM: 12,
  EACCES: 13,
  EFAULT: 14,
  EBUSY: 16,
  EEXIST: 17,
  EXDEV: 18,
  ENODEV: 19,
  EINVAL: 22,
  ENOSPC: 28,
  EDOM: 33,
  ENOSYS: 38,
  ENODATA: 61,
  ETIME: 62,
  EOVERFLOW: 75,
  EILSEQ: 84,
  ERESTART: 85,
  EOPNOTSUPP: 95,
} as const;

export type ErrnoName = keyof typeof ERRNO;

const BY_NUMBER: ReadonlyMap<number, ErrnoName> = new Map(
  (Object.keys(ERRNO) as ErrnoName[]).map((n) => [ERRNO[n], n]),
);

/** A return value as a name: -16 -> "-EBUSY"; 0 and positive values -> null. */
export function errnoName(ret: number): string | null {
  if (ret >= 0) return null;
  const n = BY_NUMBER.get(-ret);
  return n === undefined ? `-E${-ret}` : `-${n}`;
}

/** -errno, as a hypercall returns it. */
export function neg(name: ErrnoName): number {
  return -ERRNO[name];
}

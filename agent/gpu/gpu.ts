/** A GPU as the agent offers and hands it out (nvidia.ts detects them; mig.ts adds MIG devices). */
export interface Gpu {
  readonly index: number;
  readonly uuid: string;
  readonly model: string;
  readonly memoryMiB: number;
  readonly pciBusId?: string;
  /** The minor of /dev/nvidia<minor>; the device the devices cgroup and Docker hand out. */
  readonly minor: number;
  /** A MIG device: its GPU (whose index and minor it carries), profile and device number. */
  readonly mig?: { readonly parentUuid: string; readonly profile: string; readonly device: number };
}

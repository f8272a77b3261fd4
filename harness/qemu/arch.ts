// Per-architecture QEMU settings, as data (kunit_tool's model).
export interface Arch {
  name: string;
  qemu: string;
  machine: string;
  /** Kernel console and the agent's result channel, as the guest names them. */
  console: string;
  resultTty: string;
  /** First free PCI slot for the case's devices on the root bus. */
  firstSlot: number;
  extra: string[];
}

export const arches: Record<string, Arch> = {
  x86_64: {
    name: 'x86_64',
    qemu: 'qemu-system-x86_64',
    machine: 'q35',
    console: 'ttyS0',
    resultTty: 'ttyS1',
    firstSlot: 4,
    extra: [],
  },
};

export function hostArch(): Arch {
  return arches.x86_64!;
}

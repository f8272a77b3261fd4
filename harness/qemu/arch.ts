// Per-architecture facts, as data (kunit_tool's model): QEMU, the kernel image, the host packages.
// Only x86_64 is described; every x86 name the harness uses lives here, so a second arch is one entry.
export interface Arch {
  name: string;
  qemu: string;
  /** The Debian package that provides `qemu`. */
  qemuPackage: string;
  machine: string;
  /** Kbuild's image, relative to the object folder. */
  kernelImage: string;
  /** The static libc the guest agent links against (Debian multiarch path). */
  staticLibc: string;
  /** The kernel console, as the guest names it. */
  console: string;
  /** First free PCI slot for the case's devices on the root bus. */
  firstSlot: number;
  extra: string[];
}

export const arches: Record<string, Arch> = {
  x86_64: {
    name: 'x86_64',
    qemu: 'qemu-system-x86_64',
    qemuPackage: 'qemu-system-x86',
    machine: 'q35',
    kernelImage: 'arch/x86/boot/bzImage',
    staticLibc: '/usr/lib/x86_64-linux-gnu/libc.a',
    console: 'ttyS0',
    firstSlot: 4,
    extra: [],
  },
};

export function hostArch(): Arch {
  return arches.x86_64!;
}

// What a case is: devices, the capabilities it needs, its stages and the assertions it reports.
import type { CapabilityName } from '../kernels/capabilities.ts';

export interface CaseDevice {
  /** How the agent is told where this device is: vh.<role>=<bdf>. */
  role: 'dma';
  model: string;
  props?: Record<string, string>;
}

export interface Case {
  name: string;
  summary: string;
  capabilities: CapabilityName[];
  devices: CaseDevice[];
  /** Extra vh.<key>=<value> words for the agent. */
  params: Record<string, string | number>;
  stages: number;
  /** Every assertion the agent must report, in order; one missing is a failure. */
  assertions: string[];
  memoryMiB?: number;
}

export function defineCase(c: Case): Case {
  return c;
}

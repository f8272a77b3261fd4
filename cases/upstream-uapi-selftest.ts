import { defineCase, kselftestPoint, type Kselftest } from './case.ts';
import { A, CASE } from './contract.ts';

/** Upstream's VFIO live update series (v5) ships it; with VFIO_GROUP=n only its iommufd variant can open a device. */
const uapi: Kselftest = { dir: 'vfio', program: 'vfio_pci_liveupdate_uapi_test', args: ['-v', 'iommufd'] };

export default defineCase({
  name: CASE['upstream-uapi-selftest'],
  summary: "the series' own vfio_pci_liveupdate_uapi_test (iommufd variant), built from the kernel tree under test, run on edu behind QEMU's intel-iommu, its KTAP judged test by test",
  capabilities: ['base', 'noiommu-iommufd', 'liveupdate', 'iommu'],
  claims: ['vfio-preserve'],
  mode: 'iommu',
  devices: [{ role: 'dma', model: 'edu', props: { dma_mask: '0xffffffffffffffff' } }],
  params: {},
  kselftests: [uapi],
  stages: [{ assertions: [A.bound_to_vfio_pci, kselftestPoint(uapi)] }],
});

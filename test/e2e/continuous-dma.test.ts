// Reference series v2 (kernels/patches/noiommu-continuous-dma) on upstream's PCI v7 + VFIO v5, which
// --series-base supplies: every handover and lifecycle case but its findings passes with every device claim required,
// the kernel itself refuses what the DMA controls cheat with, and without the base the run stops in one line.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { allCases } from '../../cases/index.ts';
import { run, runSuite, scratch, subtestOf, type SuiteRun } from './cli.ts';
import { continuousDmaSeries, upstreamSeries } from './kernels.ts';
import { validateRunFiles } from '../consumers.ts';

const base = ['--series-base', upstreamSeries];
const required = ['--require', 'vfio-preserve', '--require', 'vfio-reserve', '--require', 'vfio-running'];

describe('without --series-base', () => {
  it('stops before building anything, with one line naming both covers and how to fetch them', async () => {
    const r = await run(['run', 'vfio-handover', '--kernel', continuousDmaSeries]);
    expect(r.exitCode).toBe(2);
    expect(String(r.stdout)).toBe('');
    expect(String(r.stderr).trimEnd().split('\n').filter((l) => !/installing npm/.test(l))).toEqual([
      expect.stringMatching(
        /^vfio-handover: series noiommu-continuous-dma applies on top of PCI live update v7 \(20260710212616\.1351130-1-dmatlack@google\.com\) \+ VFIO live update v5 \(20260714151505\.3466855-1-vipinsh@google\.com\), .* pass --series-base PATH, .*'b4 am 20260710212616\.1351130-1-dmatlack@google\.com', 'b4 am 20260714151505\.3466855-1-vipinsh@google\.com'\)$/,
      ),
    ]);
  });
});

describe.runIf(existsSync(upstreamSeries))(`${continuousDmaSeries} --series-base upstream, every device claim required`, () => {
  let s: SuiteRun;

  beforeAll(async () => {
    s = await runSuite(['--kernel', continuousDmaSeries, ...base, ...required]);
  }, 600_000);

  // Its finding: an iommu-mode device is handed over as upstream hands it, reset (the series keeps only no-IOMMU devices
  // running). A next kernel with kho=off is no longer one: patch 0010 refuses that kexec.
  const findings = ['vfio-handover-iommu'];

  it('passes every case but its finding; only iommufd-handover SKIPs (nothing preserves an iommufd); its reports validate', async () => {
    expect(s.exitCode, `${s.tap}\n${s.stderr}`).toBe(1);
    expect(await validateRunFiles(s.runDir)).toEqual([]);
    const iommufd = expect.stringMatching(/^iommufd-preserve: LIVEUPDATE_SESSION_PRESERVE_FD of the iommufd returned E[A-Z]+$/);
    expect(s.cases.map((c) => [c.name, c.ok, c.skip])).toEqual(allCases.map((c) => [c.name, !findings.includes(c.name), c.name === 'iommufd-handover' ? iommufd : false]));
    // Refused, said, and the device still its owner's: kexec_reboot ok with the errno, stage 2 ok saying no such kernel ran.
    const kho = subtestOf(s.tap, 'lifecycle-kho-off');
    const said = 'the kernel refused the kexec into a kernel booted with kho=off: ENOEXEC';
    expect(kho).toMatch(new RegExp(`^ {4}ok \\d+ - stage1/kexec_reboot(?: # time=\\d+ms)?\\n {6}---\\n {6}expected: .*\\n {6}seen: "${said}"`, 'm'));
    expect(kho).toMatch(/^ {4}ok \d+ - stage1\/device_kept_after_refused_kexec(?: # time=\d+ms)?$/m);
    expect(kho).toMatch(new RegExp(`^ {4}ok \\d+ - stage2/unclaimed_device_stopped\\n {6}---\\n {6}expected: .*\\n {6}seen: "no such kernel ran: ${said}"`, 'm'));
    expect(readFileSync(join(s.runDir, 'lifecycle-kho-off.console.log'), 'utf8')).toMatch(/luo: Refusing kexec: the next kernel's command line turns KHO or LUO off, session \[vh-dma\] holds files/);
    expect(subtestOf(s.tap, 'vfio-handover-iommu')).toMatch(/^ {4}not ok \d+ - stage2\/bus_master_before_open(?: # time=\d+ms)?\n {6}---\n {6}expected: .*\n {6}seen: "PCI_COMMAND 0x0400"/m);
  });

  it('the kernel says what it did: reserved at enumeration, left running at freeze, opened without reset', () => {
    const log = readFileSync(join(s.runDir, 'only-vfio.console.log'), 'utf8');
    const stage2 = log.slice(log.indexOf('Command line:', log.indexOf('Run /init')));
    expect(log).toMatch(/vfio-pci 0000:0\d:00\.0: Left running across Live Update, bus master on/);
    const reserved = stage2.search(/pci 0000:0\d:00\.0: Reserved for vfio-pci until it finishes Live Update/);
    expect(reserved).toBeGreaterThan(0);
    expect(reserved).toBeLessThan(stage2.indexOf('Run /init'));
    expect(stage2).toMatch(/vfio-pci 0000:0\d:00\.0: Opened after Live Update without reset, bus master on/);
    expect(stage2).not.toMatch(/virtio_rng|virtio-pci 0000:0\d:00\.0/);
  });
});

describe.runIf(existsSync(upstreamSeries))(`${continuousDmaSeries}: the retrieved memfd's pages under pressure before the map`, () => {
  it('held, page by page (0009); with numa=off there is nowhere to push them, so neither pressure assertion passes', async () => {
    const held = await run(['run', 'lifecycle-pressure-before-map', '--kernel', continuousDmaSeries, ...base, ...required, '--tap', '--results', scratch()]);
    expect(held.exitCode, `${held.stdout}\n${held.stderr}`).toBe(0);
    expect(String(held.stdout)).toMatch(/# info stage2\/pressure_before_map=.*: 0 moved, 4 not migrated, 0 refused; pages after: node0 x4; each page \(M moved, H held, R refused\): HHHH$/m);
    const off = await run(['run', 'lifecycle-pressure-before-map', '--kernel', continuousDmaSeries, ...base, '--append', 'numa=off', '--tap', '--results', scratch()]);
    const tap = String(off.stdout);
    expect(off.exitCode, `${tap}\n${off.stderr}`).toBe(1);
    expect(tap).toMatch(/^ {4}not ok \d+ - stage2\/pressure_moves_unpinned/m);
    expect(tap).toMatch(/^ {4}not ok \d+ - stage2\/retrieved_pages_stay_put(?: # time=\d+ms)?\n {6}---\n {6}expected: "[^"]*"\n {6}seen: "no pressure applied to 4 of 4 pages .*no other node with memory to move them to\)"/m);
  }, 300_000);
});

describe.runIf(existsSync(upstreamSeries))(`${continuousDmaSeries}: the kernel refuses the DMA cheats' kexec`, () => {
  it('selftest dma-unpreserved and irq-on are caught by the freeze checks (EBUSY, EINVAL)', async () => {
    const r = await run(['selftest', 'dma-unpreserved', 'irq-on', '--kernel', continuousDmaSeries, ...base, '--tap', '--results', scratch()]);
    const tap = String(r.stdout);
    expect(r.exitCode, `${tap}\n${r.stderr}`).toBe(0);
    expect(tap).toMatch(/verdict: "caught by the kernel's freeze check of the device's DMA mappings: the kernel refused the kexec: EBUSY"/);
    expect(tap).toMatch(/verdict: "caught by the kernel's freeze check \(LUO refuses the reboot\): the kernel refused the kexec: EINVAL"/);
  }, 300_000);
});

import { defineCase } from './case.ts';
import { A, CASE } from './contract.ts';

export default defineCase({
  name: CASE.boot,
  summary: 'bare boot: the agent reaches init, reports and powers off (the baseline for every timing)',
  capabilities: ['base'],
  devices: [],
  params: {},
  stages: [{ assertions: [A.agent_runs_as_init] }],
});

import { defineCase } from './case.ts';

export default defineCase({
  name: 'boot',
  summary: 'bare boot: the agent reaches init, reports and powers off (the baseline for every timing)',
  capabilities: ['base'],
  devices: [],
  params: {},
  stages: [{ assertions: ['agent_runs_as_init'] }],
});

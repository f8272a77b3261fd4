/* boot: the bare boot every figure is measured against; the agent reports and powers off. */
#include "agent.h"
#include "ktap.h"
#include <unistd.h>

int case_boot(const struct plan *p)
{
	(void)p;
	ktap_header(1);
	if (getppid() == 1)
		pass(VH_A_AGENT_RUNS_AS_INIT);
	else
		fail_soft(VH_A_AGENT_RUNS_AS_INIT, "boot", 0, "the driver's parent is PID 1", "parent is %d", (int)getppid());
	return ktap_failures() ? 1 : 0;
}

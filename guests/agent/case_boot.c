/* boot: the bare boot every figure is measured against; the agent reports and powers off. */
#include "agent.h"
#include "ktap.h"
#include <unistd.h>

int case_boot(const struct plan *p)
{
	(void)p;
	ktap_header(1);
	if (getppid() == 1)
		pass("agent_runs_as_init");
	else
		fail_soft("agent_runs_as_init", "boot", 0, "the driver's parent is PID 1", "parent is %d", (int)getppid());
	return ktap_failures() ? 1 : 0;
}

/* vfio-handover shell: the case's devices bound to vfio-pci, then an interactive busybox
 * shell on the console for debugging; power-off when it exits. */
#include "agent.h"
#include "ktap.h"
#include "vfio.h"
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

int run_shell(const struct plan *p)
{
	const char *bdfs[] = { p->dma_bdf, p->native_bdf };
	int status;
	pid_t child;

	for (unsigned i = 0; i < sizeof(bdfs) / sizeof(bdfs[0]); i++) {
		if (!bdfs[i][0])
			continue;
		int err = pci_bind_vfio(bdfs[i]);
		printf("vh-agent: %s -> vfio-pci: %s\n", bdfs[i], err ? "failed" : "bound");
	}
	printf("vh-agent: busybox shell; 'exit' powers the VM off\n");
	fflush(stdout);
	child = fork();
	if (child == 0) {
		execl("/bin/busybox", "sh", "-c", "/bin/busybox --install -s /bin && exec /bin/busybox setsid /bin/busybox cttyhack /bin/sh -l", (char *)NULL);
		_exit(127);
	}
	while (child > 0 && waitpid(child, &status, 0) < 0)
		;
	return 0;
}

#include "luo.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/reboot.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/liveupdate.h>
#include <linux/reboot.h>

int luo_open(void)
{
	int fd = open("/dev/liveupdate", O_RDWR | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

int luo_create_session(int luofd, const char *name)
{
	struct liveupdate_ioctl_create_session c = { .size = sizeof(c) };

	snprintf((char *)c.name, sizeof(c.name), "%s", name);
	return ioctl(luofd, LIVEUPDATE_IOCTL_CREATE_SESSION, &c) < 0 ? -errno : c.fd;
}

int luo_retrieve_session(int luofd, const char *name)
{
	struct liveupdate_ioctl_retrieve_session r = { .size = sizeof(r) };

	snprintf((char *)r.name, sizeof(r.name), "%s", name);
	return ioctl(luofd, LIVEUPDATE_IOCTL_RETRIEVE_SESSION, &r) < 0 ? -errno : r.fd;
}

int luo_preserve(int session, int fd, uint64_t token)
{
	struct liveupdate_session_preserve_fd p = { .size = sizeof(p), .fd = fd, .token = token };

	return ioctl(session, LIVEUPDATE_SESSION_PRESERVE_FD, &p) < 0 ? -errno : 0;
}

int luo_retrieve(int session, uint64_t token)
{
	struct liveupdate_session_retrieve_fd r = { .size = sizeof(r), .token = token };

	return ioctl(session, LIVEUPDATE_SESSION_RETRIEVE_FD, &r) < 0 ? -errno : r.fd;
}

int luo_session_name(int session, char *out, size_t cap)
{
	struct liveupdate_session_get_name g = { .size = sizeof(g) };

	if (ioctl(session, LIVEUPDATE_SESSION_GET_NAME, &g) < 0)
		return -errno;
	snprintf(out, cap, "%.*s", (int)sizeof(g.name), (const char *)g.name);
	return 0;
}

int luo_finish(int session)
{
	struct liveupdate_session_finish f = { .size = sizeof(f) };

	return ioctl(session, LIVEUPDATE_SESSION_FINISH, &f) < 0 ? -errno : 0;
}

int kexec_load_next(const char *path, const char *cmdline)
{
	int kfd = open(path, O_RDONLY | O_CLOEXEC);
	int ifd = open("/sys/firmware/initrd", O_RDONLY | O_CLOEXEC);
	long rc;
	int err;

	if (kfd < 0 || ifd < 0) {
		err = -errno;
		if (kfd >= 0)
			close(kfd);
		if (ifd >= 0)
			close(ifd);
		return err;
	}
	rc = syscall(SYS_kexec_file_load, kfd, ifd, strlen(cmdline) + 1, cmdline, 0UL);
	err = rc < 0 ? -errno : 0;
	close(kfd);
	close(ifd);
	return err;
}

int kexec_reboot(void)
{
	sync();
	return reboot(LINUX_REBOOT_CMD_KEXEC) < 0 ? -errno : 0;
}

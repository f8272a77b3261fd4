/* Live Update Orchestrator sessions and the kexec into the next stage. */
#ifndef VH_LUO_H
#define VH_LUO_H
#include <stddef.h>
#include <stdint.h>

/* All return an fd, 0, or -errno. */
int luo_open(void);
int luo_create_session(int luofd, const char *name);
int luo_retrieve_session(int luofd, const char *name);
int luo_preserve(int session, int fd, uint64_t token);
int luo_retrieve(int session, uint64_t token);
int luo_finish(int session);
/* GET_NAME: harmless, and like every session ioctl it waits while LUO serializes the sessions for a kexec. */
int luo_session_name(int session, char *out, size_t cap);

/* kexec_file_load of the image at path with the retained initramfs and the given command line. */
int kexec_load_next(const char *path, const char *cmdline);
/* reboot(LINUX_REBOOT_CMD_KEXEC); returns -errno only if the kernel refused. */
int kexec_reboot(void);

#endif

/*
 * harden.c: start-up hardening, as ssh-agent does it (DESIGN.md,
 * "Secrets"): no core files, no ptrace by other processes of the same
 * user, and standard descriptors on /dev/null once detached.
 */
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "core/harden.h"
#include "core/log.h"

void agent_harden(void)
{
	struct rlimit rl = {0, 0};

	/* A core file would hold whatever secrets were decrypted at the
	   time of the crash. */
	if (setrlimit(RLIMIT_CORE, &rl) != 0)
		log_error("cannot disable core files: %m");
	/* Not dumpable also means other processes of this user cannot
	   ptrace us or read /proc/PID/mem. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
		log_error("cannot clear the dumpable flag: %m");
}

unsigned long agent_raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return 1024;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			getrlimit(RLIMIT_NOFILE, &rl);
	}
	return rl.rlim_cur == RLIM_INFINITY ? (unsigned long)-1
					    : (unsigned long)rl.rlim_cur;
}

void agent_detach_stdio(void)
{
	int fd = open("/dev/null", O_RDWR);

	if (fd < 0)
		return;
	dup2(fd, STDIN_FILENO);
	dup2(fd, STDOUT_FILENO);
	dup2(fd, STDERR_FILENO);
	if (fd > STDERR_FILENO)
		close(fd);
}

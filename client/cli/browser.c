/*
 * browser.c: opening the sign-in address in the user's browser, without
 * ever waiting for the browser.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"

/* The program to run: $BROWSER when set, xdg-open when a display is. */
static const char *browser_program(void)
{
	const char *b = getenv("BROWSER");

	if (b != NULL && b[0] != '\0')
		return b;
	if ((getenv("DISPLAY") != NULL && getenv("DISPLAY")[0] != '\0') ||
	    (getenv("WAYLAND_DISPLAY") != NULL &&
	     getenv("WAYLAND_DISPLAY")[0] != '\0'))
		return "xdg-open";
	return NULL;
}

int open_browser(const char *url)
{
	const char *prog = browser_program();
	pid_t pid;
	int status, fd;

	if (prog == NULL)
		return 0;
	/* Twice forked, so the browser belongs to init and we neither wait
	   for it nor leave a zombie; its output would garble our prompt. */
	if ((pid = fork()) < 0)
		return 0;
	if (pid == 0) {
		setsid();
		if (fork() != 0)
			_exit(0);
		if ((fd = open("/dev/null", O_RDWR)) >= 0) {
			dup2(fd, STDIN_FILENO);
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
			if (fd > STDERR_FILENO)
				close(fd);
		}
		execlp(prog, prog, url, (char *)NULL);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return 1;
}

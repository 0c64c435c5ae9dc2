/*
 * systemd.h: working under systemd without linking libsystemd: socket
 * activation (sd_listen_fds(3): LISTEN_PID, LISTEN_FDS, fd 3) and readiness
 * notification (sd_notify(3): a datagram to $NOTIFY_SOCKET).  Both are
 * no-ops when systemd did not start us.
 */
#ifndef XO_CORE_SYSTEMD_H
#define XO_CORE_SYSTEMD_H

struct agent_err;

/*
 * Takes the listening socket systemd passed, if any: *fd_out is its fd (3)
 * and *path its address (malloc), or -1 and NULL when systemd passed none.
 * 0, or XO_ERR_CONFIG in err when systemd passed something we cannot use
 * (more than one socket, or not a listening Unix stream socket).  The
 * LISTEN_* variables are removed so that children do not inherit them.
 */
int agent_systemd_listen_fd(int *fd_out, char **path, struct agent_err *err);
/* Sends a state ("READY=1", "RELOADING=1", "STOPPING=1") to systemd. */
void agent_systemd_notify(const char *state);

#endif

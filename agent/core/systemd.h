/*
 * systemd.h: working under systemd without linking libsystemd: socket
 * activation (sd_listen_fds(3): LISTEN_PID, LISTEN_FDS, fd 3) and readiness
 * notification (sd_notify(3): a datagram to $NOTIFY_SOCKET).  Both are
 * no-ops when systemd did not start us.
 */
#ifndef XO_AGENT_SYSTEMD_H
#define XO_AGENT_SYSTEMD_H

#include <stddef.h>

/*
 * Takes the listening socket systemd passed, if any: returns its fd (3)
 * with *path set to its address (malloc), -1 when there is none, or -2
 * with err filled when systemd passed something we cannot use (more than
 * one socket, or not a listening Unix stream socket).  The LISTEN_*
 * variables are removed so that children do not inherit them.
 */
int agent_systemd_listen_fd(char **path, char *err, size_t err_len);
/* Sends a state ("READY=1", "RELOADING=1", "STOPPING=1") to systemd. */
void agent_systemd_notify(const char *state);

#endif

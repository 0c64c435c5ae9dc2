/*
 * harden.h: start-up hardening, as ssh-agent's (DESIGN.md, "Secrets").
 */
#ifndef XO_CORE_HARDEN_H
#define XO_CORE_HARDEN_H

/* No core files, not dumpable (so no ptrace or /proc/PID/mem by others
   of the same user). */
void agent_harden(void);
/* Raises the soft limit of open files to the hard one, so that the agent
   can hold as many connections as the system lets it; returns the soft
   limit in force afterwards. */
unsigned long agent_raise_fd_limit(void);
/* stdin, stdout and stderr to /dev/null, once detached. */
void agent_detach_stdio(void);

#endif

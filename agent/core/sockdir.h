/*
 * sockdir.h: where the agent's socket lives (DESIGN.md, "State") and
 * binding it with mode 0600.
 */
#ifndef XO_CORE_SOCKDIR_H
#define XO_CORE_SOCKDIR_H

struct agent_err;

/*
 * The default socket path: $XDG_RUNTIME_DIR/xoauth-agent/agent.PID (the
 * directory 0700 and ours, checked), else a mkdtemp directory under
 * $TMPDIR, returned in *dir (malloc) for removal at exit.  0 or
 * XO_ERR_CONFIG / XO_ERR_NOMEM in err.
 */
int agent_socket_path(char **path, char **dir, struct agent_err *err);
/* Binds and listens on path; *fd_out is the socket.  0 or the error in
   err. */
int agent_socket_bind(const char *path, int *fd_out, struct agent_err *err);

#endif

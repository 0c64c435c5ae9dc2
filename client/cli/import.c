/*
 * import.c: hand the agent a refresh token from another tool.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* Longest refresh token `import` accepts: the protocol's string limit. */
#define IMPORT_MAX (64 * 1024)

int cmd_import(const struct cli *cli, int argc, char *argv[])
{
	struct xo_client *c = NULL;
	char *buf = NULL, *tok;
	const size_t cap = IMPORT_MAX + 2;
	char prompt[300];
	long len;
	size_t i;
	int r = EXIT_AGENT_FAILED, err;

	if (argc != 2 || argv[1][0] == '-')
		return usage(argv[0]);
	if ((buf = malloc(cap)) == NULL) {
		fprintf(stderr, "xoauth: out of memory\n");
		goto out;
	}
	snprintf(prompt, sizeof(prompt),
		 "Paste the refresh token for %s, then press Enter: ", argv[1]);
	if ((len = read_secret_line(prompt, buf, cap)) < 0)
		goto out;
	/* Pasting picks up stray blanks and a CR; a token has neither. */
	while (len > 0 && strchr(" \t\r", buf[len - 1]) != NULL)
		buf[--len] = '\0';
	tok = buf + strspn(buf, " \t");
	if (tok[0] == '\0') {
		fprintf(stderr,
			"xoauth: %s: no refresh token on standard "
			"input (give it as one line, e.g. xoauth "
			"import NAME < token-file)\n",
			argv[1]);
		goto out;
	}
	for (i = 0; tok[i] != '\0'; i++) {
		if ((unsigned char)tok[i] <= 0x20 || tok[i] == 0x7f) {
			fprintf(stderr,
				"xoauth: %s: the refresh token contains "
				"blanks or control characters; give only the "
				"token\n",
				argv[1]);
			goto out;
		}
	}
	if ((r = connect_agent(cli, &c)) != 0)
		goto out;
	if ((err = xo_import(c, argv[1], tok)) != 0) {
		r = report(cli, c, argv[1], err);
		goto out;
	}
	fprintf(stderr, "%s: refresh token imported\n", argv[1]);
	r = 0;
out:
	if (buf != NULL) {
		explicit_bzero(buf, cap);
		free(buf);
	}
	xo_client_free(c);
	return r;
}


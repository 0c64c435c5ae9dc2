/*
 * doctor.c: `xoauth doctor ACCOUNT [--smtp HOST[:PORT]] [--imap
 * HOST[:PORT]]`: asks the agent what is wrong with an account and prints
 * its findings, the worst first, each with what to do on the line below.
 * Exit status: 0 when no problem was found, 1 when one was (or the agent
 * refused), 2 when no agent is reachable.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

/* The prefix of each level, in the order they are printed. */
static const struct {
	int level;
	const char *prefix;
} groups[] = {
    {XO_LEVEL_PROBLEM, "problem"},
    {XO_LEVEL_WARNING, "warning"},
    {XO_LEVEL_INFO, "note"},
    {XO_LEVEL_OK, "ok"},
};

#define NGROUPS (sizeof(groups) / sizeof(groups[0]))
#define INDENT "         "

static void print_group(struct xo_finding *f, size_t n, size_t g, size_t *count)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (f[i].level != groups[g].level)
			continue;
		count[g]++;
		sanitize(f[i].text);
		sanitize(f[i].fix);
		printf("%-9s%s\n", groups[g].prefix, f[i].text);
		if (f[i].fix[0] != '\0')
			printf(INDENT "fix: %s\n", f[i].fix);
	}
}

int cmd_doctor(const struct cli *cli, int argc, char *argv[])
{
	struct xo_finding *findings = NULL;
	struct xo_client *c = NULL;
	const char *account = NULL, *smtp = NULL, *imap = NULL, *value;
	size_t n = 0, g, count[NGROUPS] = {0};
	int i, m, r = EXIT_AGENT_FAILED, err;

	for (i = 1; i < argc; i++) {
		if ((m = option_value(argc, argv, &i, "--smtp", &value)) != 0) {
			if (m < 0 || value[0] == '\0')
				return usage(argv[0]);
			smtp = value;
		} else if ((m = option_value(argc, argv, &i, "--imap",
					     &value)) != 0) {
			if (m < 0 || value[0] == '\0')
				return usage(argv[0]);
			imap = value;
		} else if (argv[i][0] == '-' || account != NULL) {
			return usage(argv[0]);
		} else {
			account = argv[i];
		}
	}
	if (account == NULL)
		return usage(argv[0]);
	if ((r = connect_agent(cli, &c)) != 0)
		goto out;
	if ((err = xo_doctor(c, account, smtp, imap, &findings, &n)) != 0) {
		r = report(cli, c, account, err);
		goto out;
	}
	for (g = 0; g < NGROUPS; g++)
		print_group(findings, n, g, count);
	printf("\n%zu problem%s, %zu warning%s, %zu note%s, %zu ok\n", count[0],
	       count[0] == 1 ? "" : "s", count[1], count[1] == 1 ? "" : "s",
	       count[2], count[2] == 1 ? "" : "s", count[3]);
	r = finish_stdout();
	if (r == 0 && count[0] > 0)
		r = EXIT_AGENT_FAILED;
out:
	xo_findings_free(findings, n);
	xo_client_free(c);
	return r;
}

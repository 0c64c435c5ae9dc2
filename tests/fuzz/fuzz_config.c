/*
 * fuzz_config.c: libFuzzer target for the config parser.
 *
 * xoauth.conf is untrusted text (a dotfile repository, a copy from a web
 * page); agent_config_parse() is a pure function of its bytes, so the
 * fuzzer hands it every input as a whole file.  A parse that succeeds must
 * also survive being freed; one that fails must say why.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "config/config.h"
#include "core/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int quiet;
	struct agent_config *c = NULL;
	char err[1024];
	int r;

	if (!quiet) {
		agent_log_init("fuzz_config", LOG_LEVEL_ERROR, 1);
		quiet = 1;
	}
	err[0] = '\0';
	r = agent_config_parse("fuzz.conf", (const char *)data, size, &c, err,
			       sizeof(err));
	if (r != 0 && (c != NULL || err[0] == '\0'))
		abort(); /* a refusal leaves no config and gives a reason */
	if (r == 0 && c == NULL)
		abort();
	agent_config_free(c);
	return 0;
}

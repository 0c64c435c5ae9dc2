/*
 * The configuration file (xoauth.conf(5)): presets, overrides, and the
 * promise that a bad file gets a message with file, line and key, never a
 * crash.  Each test writes real files into a private temporary directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "unit.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xoauth/xo_errors.h>

#include "config/config.h"
#include "core/log.h"

#define MS_APP "00000000-1111-2222-3333-444444444444"
#define MS_SCOPES                                                              \
	"https://outlook.office.com/IMAP.AccessAsUser.All "                    \
	"https://outlook.office.com/POP.AccessAsUser.All "                     \
	"https://outlook.office.com/SMTP.Send offline_access openid email"

static char tmpdir[256];
static char path[512];
static int file_no;

static int make_tmpdir(void **state)
{
	const char *base = getenv("TMPDIR");

	(void)state;
	/* Keep the load-time warnings out of the test output. */
	agent_log_init("test_config", LOG_LEVEL_ERROR, 1);
	snprintf(tmpdir, sizeof(tmpdir), "%s/xo-config-XXXXXX",
		 base != NULL && base[0] != '\0' ? base : "/tmp");
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int remove_tmpdir(void **state)
{
	char cmd[600];

	(void)state;
	chmod(tmpdir, 0700);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Writes len bytes to a fresh file; returns its path (in a static). */
static const char *write_config_n(const char *text, size_t len)
{
	FILE *f;

	snprintf(path, sizeof(path), "%s/config-%d", tmpdir, ++file_no);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(path, 0600), 0);
	return path;
}

static const char *write_config(const char *text)
{
	return write_config_n(text, strlen(text));
}

static struct agent_config *load_ok(const char *text)
{
	struct agent_config *c = NULL;
	char err[1024] = "";
	int r;

	r = agent_config_load(write_config(text), 1, &c, err, sizeof(err));
	if (r != 0)
		print_error("unexpected error: %s\n", err);
	assert_int_equal(r, 0);
	assert_non_null(c);
	return c;
}

static const struct agent_account_cfg *account(const struct agent_config *c,
					       const char *name)
{
	const struct agent_account_cfg *a = agent_config_find(c, name);

	if (a == NULL)
		print_error("no account %s\n", name);
	assert_non_null(a);
	return a;
}

static void presets_fill_endpoints_scopes_and_flow(void **state)
{
	struct agent_config *c;
	const struct agent_account_cfg *a;

	(void)state;
	c = load_ok("# accounts of one user\n"
		    "[account outlook]\n"
		    "provider = microsoft\n"
		    "client_id = " MS_APP "\n"
		    "\n"
		    "[account work]\n"
		    "provider = microsoft\n"
		    "tenant = organizations\n"
		    "client_id = " MS_APP "\n"
		    "email = alice@contoso.com\n"
		    "[account home]\n"
		    "provider = microsoft\n"
		    "tenant = consumers\n"
		    "client_id = " MS_APP "\n"
		    "[account corp]\n"
		    "provider = microsoft\n"
		    "tenant = 72f988bf-86f1-41af-91ab-2d7cd011db47\n"
		    "client_id = " MS_APP "\n"
		    "[account gmail]\n"
		    "provider = google\n"
		    "client_id = 123.apps.googleusercontent.com\n"
		    "client_secret_cmd = pass show google/secret\n"
		    "[account fm]\n"
		    "provider = fastmail\n"
		    "client_id = fm-client\n"
		    "email = bob@fastmail.com\n");
	assert_int_equal(c->n_accounts, 6);
	assert_string_equal(c->path, path);

	a = account(c, "outlook");
	assert_int_equal(a->line, 2);
	assert_string_equal(a->tenant, "common");
	assert_string_equal(
	    a->authorization_endpoint,
	    "https://login.microsoftonline.com/common/oauth2/v2.0/authorize");
	assert_string_equal(
	    a->token_endpoint,
	    "https://login.microsoftonline.com/common/oauth2/v2.0/token");
	assert_string_equal(
	    a->device_authorization_endpoint,
	    "https://login.microsoftonline.com/common/oauth2/v2.0/"
	    "devicecode");
	assert_string_equal(a->scopes, MS_SCOPES);
	assert_string_equal(a->flow, "device");
	assert_null(a->email);
	assert_null(a->client_secret);
	assert_int_equal(a->needs_discovery, 0);

	a = account(c, "work");
	assert_string_equal(
	    a->token_endpoint,
	    "https://login.microsoftonline.com/organizations/oauth2/v2.0/"
	    "token");
	assert_string_equal(a->email, "alice@contoso.com");

	a = account(c, "home");
	assert_string_equal(
	    a->device_authorization_endpoint,
	    "https://login.microsoftonline.com/consumers/oauth2/v2.0/"
	    "devicecode");

	a = account(c, "corp");
	assert_string_equal(a->token_endpoint,
			    "https://login.microsoftonline.com/"
			    "72f988bf-86f1-41af-91ab-2d7cd011db47/oauth2/v2.0/"
			    "token");

	a = account(c, "gmail");
	assert_string_equal(a->authorization_endpoint,
			    "https://accounts.google.com/o/oauth2/v2/auth");
	assert_string_equal(a->token_endpoint,
			    "https://oauth2.googleapis.com/token");
	assert_string_equal(a->scopes, "https://mail.google.com/ openid email");
	assert_string_equal(a->flow, "browser");
	assert_string_equal(a->client_secret_cmd, "pass show google/secret");
	assert_null(a->tenant);

	a = account(c, "fm");
	assert_string_equal(a->token_endpoint,
			    "https://api.fastmail.com/oauth/refresh");
	assert_string_equal(a->flow, "browser");
	assert_null(a->device_authorization_endpoint);
	agent_config_free(c);
}

static void national_cloud_presets_use_their_own_hosts(void **state)
{
	struct agent_config *c;

	(void)state;
	c = load_ok(
	    "[account gov]\nprovider = microsoft-us-gov\n"
	    "tenant = agency.onmicrosoft.us\nclient_id = x\n"
	    "[account cn]\nprovider = microsoft-china\nclient_id = y\n");
	assert_string_equal(account(c, "gov")->token_endpoint,
			    "https://login.microsoftonline.us/"
			    "agency.onmicrosoft.us/oauth2/v2.0/token");
	assert_non_null(strstr(account(c, "gov")->scopes,
			       "https://outlook.office365.us/SMTP.Send"));
	assert_string_equal(account(c, "cn")->token_endpoint,
			    "https://login.partner.microsoftonline.cn/common/"
			    "oauth2/v2.0/token");
	agent_config_free(c);
}

static void explicit_keys_override_the_preset(void **state)
{
	struct agent_config *c;
	const struct agent_account_cfg *a;

	(void)state;
	c = load_ok("[account work]\n"
		    "provider = microsoft\n"
		    "tenant = contoso.onmicrosoft.com\n"
		    "client_id = " MS_APP "\n"
		    "token_endpoint = https://proxy.example.net/token\n"
		    "scopes =   https://outlook.office365.com/.default   "
		    "offline_access\n"
		    "flow = browser\n"
		    "ca_file = /etc/ssl/corp.pem\n");
	a = account(c, "work");
	assert_string_equal(a->token_endpoint,
			    "https://proxy.example.net/token");
	/* The preset still fills what was not given, with the tenant. */
	assert_string_equal(a->authorization_endpoint,
			    "https://login.microsoftonline.com/"
			    "contoso.onmicrosoft.com/oauth2/v2.0/authorize");
	/* Runs of spaces between scopes collapse to one. */
	assert_string_equal(a->scopes, "https://outlook.office365.com/.default "
				       "offline_access");
	assert_string_equal(a->flow, "browser");
	assert_string_equal(a->ca_file, "/etc/ssl/corp.pem");
	agent_config_free(c);
}

static void issuer_only_account_needs_discovery(void **state)
{
	struct agent_config *c;
	const struct agent_account_cfg *a;

	(void)state;
	c = load_ok("[account local]\n"
		    "provider = generic\n"
		    "issuer = http://127.0.0.1:3000\n"
		    "client_id = demo\n");
	a = account(c, "local");
	assert_int_equal(a->needs_discovery, 1);
	assert_null(a->token_endpoint);
	assert_null(a->scopes);
	/* Discovery may find a device endpoint, so device stays possible. */
	assert_string_equal(a->flow, "device");
	agent_config_free(c);
}

static void generic_with_endpoints_needs_no_discovery(void **state)
{
	struct agent_config *c;
	const struct agent_account_cfg *a;

	(void)state;
	/* provider may be left out: generic is the default. */
	c = load_ok("[account a]\n"
		    "client_id = x\n"
		    "issuer = https://id.example.org\n"
		    "token_endpoint = https://id.example.org/token\n"
		    "authorization_endpoint = https://id.example.org/auth\n"
		    "[account b]\n"
		    "client_id = y\n"
		    "token_endpoint = https://id.example.org/token\n"
		    "device_authorization_endpoint = "
		    "https://id.example.org/device\n");
	a = account(c, "a");
	assert_string_equal(a->provider, "generic");
	assert_int_equal(a->needs_discovery, 0);
	/* No device endpoint can be known: the default falls back. */
	assert_string_equal(a->flow, "browser");
	assert_string_equal(account(c, "b")->flow, "device");
	agent_config_free(c);
}

static void client_credentials_on_microsoft_gets_the_app_scope(void **state)
{
	struct agent_config *c;
	const struct agent_account_cfg *a;

	(void)state;
	c = load_ok("[account relay]\n"
		    "provider = microsoft\n"
		    "tenant = 72f988bf-86f1-41af-91ab-2d7cd011db47\n"
		    "client_id = " MS_APP "\n"
		    "client_secret_cmd = cat /run/credentials/relay\n"
		    "flow = client_credentials\n"
		    "email = noreply@contoso.com\n");
	a = account(c, "relay");
	assert_string_equal(a->scopes,
			    "https://outlook.office365.com/.default");
	assert_string_equal(a->flow, "client_credentials");
	agent_config_free(c);
}

static void paste_flow_gets_the_preset_redirect(void **state)
{
	struct agent_config *c;

	(void)state;
	c = load_ok(
	    "[account m]\nprovider = microsoft\nclient_id = x\n"
	    "flow = paste\n"
	    "[account g]\nprovider = google\nclient_id = y\n"
	    "flow = paste\n"
	    "[account own]\nprovider = google\nclient_id = z\n"
	    "flow = paste\nredirect_uri = https://app.example.com/cb\n");
	assert_string_equal(account(c, "m")->redirect_uri,
			    "https://login.microsoftonline.com/common/oauth2/"
			    "nativeclient");
	assert_string_equal(account(c, "g")->redirect_uri, "http://127.0.0.1");
	assert_string_equal(account(c, "own")->redirect_uri,
			    "https://app.example.com/cb");
	agent_config_free(c);
}

static void agent_section_sets_limits_and_defaults_apply(void **state)
{
	struct agent_config *c;

	(void)state;
	c = load_ok("[agent]\nwait = 0\nmax_connections = 8\n"
		    "idle_timeout = 5\n");
	assert_int_equal(c->wait_default_ms, 0);
	assert_int_equal(c->max_connections, 8);
	assert_int_equal(c->idle_timeout_ms, 5000);
	assert_int_equal(c->n_accounts, 0);
	agent_config_free(c);

	c = load_ok("");
	assert_int_equal(c->wait_default_ms, 10000);
	assert_int_equal(c->max_connections, 0); /* by the fd limit */
	assert_int_equal(c->idle_timeout_ms, 60000);
	assert_int_equal(c->secret_cmd_timeout_ms, 10000);
	assert_int_equal(c->notify_timeout_ms, 30000);
	assert_null(c->notify_cmd);
	agent_config_free(c);
}

static void vault_keys_and_lifetime_are_read(void **state)
{
	struct agent_config *c;

	(void)state;
	c = load_ok("[agent]\nvault = /srv/mail/vault\n"
		    "vault_key_file = /run/credentials/x/vault-key\n"
		    "[account a]\nprovider = microsoft\nclient_id = x\n"
		    "lifetime = 12h\n"
		    "[account b]\nprovider = microsoft\nclient_id = y\n");
	assert_string_equal(c->vault_path, "/srv/mail/vault");
	assert_string_equal(c->vault_key_file, "/run/credentials/x/vault-key");
	assert_int_equal(account(c, "a")->lifetime_s, 12 * 3600);
	assert_int_equal(account(c, "b")->lifetime_s, 0);
	agent_config_free(c);
	c = load_ok("");
	assert_null(c->vault_path);
	assert_null(c->vault_key_file);
	agent_config_free(c);
}

static void durations_take_a_unit_or_seconds(void **state)
{
	static const struct {
		const char *text;
		unsigned long secs; /* 0: refused */
	} cases[] = {
	    {"1", 1},	      {"3600", 3600},	{"90m", 5400},
	    {"12h", 43200},   {"7d", 604800},	{"45s", 45},
	    {"3650d", 3650ul * 86400},
	    {"3651d", 0},     {"0", 0},		{"0h", 0},
	    {"", 0},	      {"h", 0},		{"5 h", 0},
	    {"-5", 0},	      {"+5", 0},	{"5w", 0},
	    {"1hh", 0},	      {"9999999999", 0}, {" 5", 0},
	};
	unsigned long v;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int r = agent_duration_parse(cases[i].text, &v);

		if (cases[i].secs == 0) {
			assert_int_equal(r, XO_ERR_INVALID);
		} else {
			assert_int_equal(r, 0);
			assert_int_equal(v, cases[i].secs);
		}
	}
}

static void command_keys_are_kept_as_written(void **state)
{
	struct agent_config *c;

	(void)state;
	c = load_ok("[agent]\n"
		    "notify_cmd = notify-send \"xoauth $XOAUTH_ACCOUNT\" "
		    "\"$XOAUTH_MESSAGE\"\n"
		    "notify_timeout = 5\n"
		    "secret_cmd_timeout = 3\n"
		    "[account a]\nprovider = microsoft\nclient_id = x\n"
		    "[account b]\nprovider = microsoft\nclient_id = y\n"
		    "notify_cmd = logger -t xoauth \"$XOAUTH_REASON\"\n");
	assert_string_equal(c->notify_cmd,
			    "notify-send \"xoauth $XOAUTH_ACCOUNT\" "
			    "\"$XOAUTH_MESSAGE\"");
	assert_int_equal(c->notify_timeout_ms, 5000);
	assert_int_equal(c->secret_cmd_timeout_ms, 3000);
	assert_null(account(c, "a")->notify_cmd);
	assert_string_equal(account(c, "b")->notify_cmd,
			    "logger -t xoauth \"$XOAUTH_REASON\"");
	agent_config_free(c);
}

static void client_credentials_on_generic_needs_no_tenant(void **state)
{
	struct agent_config *c;
	const struct agent_account_cfg *a;

	(void)state;
	c = load_ok("[account app]\nprovider = generic\nclient_id = app\n"
		    "token_endpoint = http://127.0.0.1:9/token\n"
		    "scopes = mail.send\nflow = client_credentials\n"
		    "client_secret_cmd = cat /run/secret\n"
		    "email = relay@example.com\n");
	a = account(c, "app");
	assert_string_equal(a->flow, "client_credentials");
	assert_string_equal(a->client_secret_cmd, "cat /run/secret");
	assert_string_equal(a->email, "relay@example.com");
	agent_config_free(c);
}

static void layout_variants_are_accepted(void **state)
{
	struct agent_config *c;
	const struct agent_account_cfg *a;
	/* A byte order mark, CRLF, indented keys (inih would read the
	   second as a continuation line), ':' as separator, comments of
	   both kinds, an inline comment, blanks inside the header. */
	static const char text[] = "\xef\xbb\xbf; written on Windows\r\n"
				   "[ account  x ]   # the x account\r\n"
				   "\tprovider = google\r\n"
				   "\tclient_id: abc\r\n"
				   "    email = carol@example.com ; mine\r\n"
				   "\r\n";

	(void)state;
	c = load_ok(text);
	a = account(c, "x");
	assert_int_equal(a->line, 2);
	assert_string_equal(a->client_id, "abc");
	assert_string_equal(a->email, "carol@example.com");
	agent_config_free(c);
}

static void long_account_names_are_not_cut(void **state)
{
	char text[256], name[80];
	struct agent_config *c;

	(void)state;
	memset(name, 'n', 64);
	name[64] = '\0';
	snprintf(text, sizeof(text),
		 "[account %s]\nprovider = google\nclient_id = x\n", name);
	c = load_ok(text);
	assert_string_equal(c->accounts[0].name, name);
	agent_config_free(c);
}

static void loopback_http_is_allowed_and_other_http_is_not(void **state)
{
	static const struct {
		const char *url;
		int ok;
	} cases[] = {
	    {"http://127.0.0.1:8080/token", 1},
	    {"http://127.3.2.1/token", 1},
	    {"http://[::1]:9/token", 1},
	    {"http://localhost/token", 1},
	    {"HTTP://LOCALHOST:1/token", 1},
	    {"https://login.example.com:8443/t?x=1", 1},
	    {"http://128.0.0.1/token", 0},
	    {"http://[::2]/token", 0},
	    {"http://localhost.example.com/token", 0},
	    {"http://127.0.0.1.evil.example/token", 0},
	    {"http://example.com/token", 0},
	    {"https://user:pw@example.com/token", 0},
	    {"https://example.com/token#frag", 0},
	    {"https://example.com:0/token", 0},
	    {"https://example.com:99999/token", 0},
	    {"https:///token", 0},
	    {"ftp://example.com/token", 0},
	    {"example.com/token", 0},
	};
	char text[512], err[1024];
	struct agent_config *c;
	size_t i;
	int r;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(text, sizeof(text),
			 "[account a]\nclient_id = x\ntoken_endpoint = %s\n",
			 cases[i].url);
		c = NULL;
		r = agent_config_parse("t.conf", text, strlen(text), &c, err,
				       sizeof(err));
		if ((r == 0) != cases[i].ok)
			print_error("%s: r=%d %s\n", cases[i].url, r, err);
		assert_int_equal(r == 0, cases[i].ok);
		if (!cases[i].ok) {
			assert_null(c);
			assert_non_null(strstr(err, "t.conf:3: [account a] "
						    "key 'token_endpoint'"));
		}
		agent_config_free(c);
	}
}

/*
 * Each case is a file that must be refused with a message naming the file,
 * the line and (where there is one) the key, and saying what is wrong.
 */
struct error_case {
	const char *behaviour;
	const char *text;
	int line;
	const char *key; /* NULL: the message names no key */
	const char *says;
};

#define MS "[account a]\nprovider = microsoft\nclient_id = " MS_APP "\n"
#define GEN "[account a]\nprovider = generic\nclient_id = x\n"

static const struct error_case error_cases[] = {
    {"unknown_key_suggests_near_miss", MS "tennant = contoso.com\n", 4,
     "tennant", "unknown key (did you mean 'tenant'?)"},
    {"unknown_key_suggests_our_name_for_another_tools",
     GEN "token_url = https://x.example/t\n", 4, "token_url",
     "did you mean 'token_endpoint'?"},
    {"unknown_key_far_from_all_lists_known_keys", MS "colour = blue\n", 4,
     "colour", "known keys: provider, email, client_id"},
    {"unknown_section", "[acount a]\nclient_id = x\n", 1, NULL,
     "unknown section [acount a] (expected [agent] or [account NAME]; "
     "did you mean [account NAME]?)"},
    {"value_missing", "[account a]\nprovider = google\nclient_id =\n", 3,
     "client_id", "value missing"},
    {"unknown_provider_lists_valid_ones", "[account a]\nprovider = hotmail\n",
     2, "provider",
     "unknown provider 'hotmail' (expected one of microsoft, "
     "microsoft-us-gov, microsoft-china, google, yahoo, aol, fastmail, "
     "yandex, generic)"},
    {"redirect_port_not_a_number", MS "redirect_port = 80a\n", 4,
     "redirect_port", "'80a' is not a port"},
    {"redirect_port_zero", MS "redirect_port = 0\n", 4, "redirect_port",
     "is not a port (expected a TCP port from 1 to 65535"},
    {"redirect_port_too_large", MS "redirect_port = 65536\n", 4,
     "redirect_port", "is not a port"},
    {"redirect_port_signed", MS "redirect_port = +80\n", 4, "redirect_port",
     "is not a port"},
    {"unknown_flow", MS "flow = magic\n", 4, "flow",
     "unknown flow 'magic' (expected device, browser, paste or "
     "client_credentials)"},
    {"secret_and_secret_cmd_both_set",
     MS "client_secret = s3cr3t\n\nclient_secret_cmd = pass x\n", 6,
     "client_secret_cmd", "both set"},
    {"missing_client_id", "# comment\n\n[account a]\nprovider = google\n", 3,
     "client_id", "missing"},
    {"generic_without_token_endpoint_or_issuer", "[agent]\nwait = 1\n" GEN, 3,
     "token_endpoint", "neither token_endpoint nor issuer"},
    {"endpoint_over_plain_http_to_a_remote_host",
     GEN "token_endpoint = http://id.example.com/token\n", 4, "token_endpoint",
     "not a loopback address"},
    {"endpoint_not_a_url", GEN "issuer = id.example.com\n", 4, "issuer",
     "is not an https:// URL"},
    {"tenant_on_a_non_microsoft_provider",
     "[account a]\nprovider = google\ntenant = common\nclient_id = x\n", 3,
     "tenant", "only the microsoft providers take a tenant"},
    {"google_refuses_the_device_flow",
     "[account a]\nprovider = google\nclient_id = x\nflow = device\n", 4,
     "flow",
     "Google refuses the device flow for the Gmail scope "
     "https://mail.google.com/"},
    {"google_refusal_says_what_to_use_instead",
     "[account a]\nprovider = google\nclient_id = x\nflow = device\n", 4,
     "flow", "use flow = browser, or flow = paste"},
    {"google_has_no_client_credentials",
     "[account a]\nprovider = google\nclient_id = x\n"
     "client_secret_cmd = c\nflow = client_credentials\n",
     5, "flow", "no client_credentials grant"},
    {"device_flow_without_device_endpoint",
     "[account a]\nprovider = yahoo\nclient_id = x\nflow = device\n", 4, "flow",
     "needs device_authorization_endpoint"},
    {"paste_flow_without_redirect_uri",
     GEN "token_endpoint = https://id.example/t\n"
	 "authorization_endpoint = https://id.example/a\nflow = paste\n",
     6, "flow", "needs redirect_uri"},
    {"client_credentials_without_secret",
     GEN "token_endpoint = https://id.example/t\n"
	 "flow = client_credentials\n",
     5, "flow", "needs client_secret_cmd"},
    {"client_credentials_without_email",
     "[account a]\nprovider = microsoft\ntenant = contoso.com\n"
     "client_id = x\nclient_secret_cmd = c\nflow = client_credentials\n",
     6, "email", "needs the address of the mailbox to send as"},
    {"client_credentials_without_secret_even_with_email",
     GEN "token_endpoint = https://id.example/t\nemail = a@example.com\n"
	 "flow = client_credentials\n",
     6, "flow", "needs client_secret_cmd"},
    {"empty_notify_cmd", MS "notify_cmd =\n", 4, "notify_cmd",
     "value missing (expected a shell command"},
    {"agent_empty_notify_cmd", "[agent]\nnotify_cmd =\n", 2, "notify_cmd",
     "value missing"},
    {"agent_notify_cmd_with_control_character",
     "[agent]\nnotify_cmd = a\001b\n", 2, "notify_cmd",
     "control character 0x01"},
    {"agent_notify_cmd_twice", "[agent]\nnotify_cmd = a\nnotify_cmd = b\n",
     3, "notify_cmd", "set twice (first at line 2)"},
    {"agent_notify_timeout_zero", "[agent]\nnotify_timeout = 0\n", 2,
     "notify_timeout", "from 1 to 3600"},
    {"agent_secret_cmd_timeout_too_long",
     "[agent]\nsecret_cmd_timeout = 3601\n", 2, "secret_cmd_timeout",
     "from 1 to 3600"},
    {"agent_near_miss_of_notify_timeout", "[agent]\nnotify_timout = 5\n", 2,
     "notify_timout", "did you mean 'notify_timeout'?"},
    {"agent_relative_vault", "[agent]\nvault = vault\n", 2, "vault",
     "not an absolute path"},
    {"agent_relative_vault_key_file", "[agent]\nvault_key_file = ~/k\n", 2,
     "vault_key_file", "not an absolute path"},
    {"lifetime_not_a_time", MS "lifetime = 2 weeks\n", 4, "lifetime",
     "'2 weeks' is not a time"},
    {"client_credentials_on_a_shared_microsoft_tenant",
     MS "client_secret_cmd = c\nflow = client_credentials\n", 5, "flow",
     "AADSTS9001023"},
    {"duplicate_key", MS "client_id = other\n", 4, "client_id",
     "set twice (first at line 3)"},
    {"duplicate_account_name", MS "[account a]\nclient_id = y\n", 4, NULL,
     "[account a] appears twice (first at line 1)"},
    {"duplicate_agent_section", "[agent]\nwait = 1\n[agent]\n", 3, NULL,
     "[agent] appears twice (first at line 1)"},
    {"account_name_with_bad_characters", "[account a/b]\n", 1, NULL,
     "bad account name 'a/b'"},
    {"account_name_too_long",
     "[account "
     "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn]\n",
     1, NULL, "expected 1 to 64"},
    {"account_without_name", "[account]\n", 1, NULL,
     "needs a name: [account NAME]"},
    {"header_without_closing_bracket", "[account a\nclient_id = x\n", 1, NULL,
     "without its closing ']'"},
    {"text_after_header", "[account a] extra\n", 1, NULL,
     "text after the section header"},
    {"key_outside_any_section", "client_id = x\n[account a]\n", 1, "client_id",
     "outside any section"},
    {"line_that_is_not_key_value", MS "just some words\n", 4, NULL,
     "not a 'key = value' line"},
    {"first_error_wins", "[account a]\nwords\nprovider = nope\n", 2, NULL,
     "not a 'key = value' line"},
    {"control_character_in_value", MS "email = a\001b@example.com\n", 4,
     "email", "control character 0x01"},
    {"tab_inside_value", MS "scopes = a\tb\n", 4, "scopes",
     "control character 0x09"},
    {"scope_with_a_quote", MS "scopes = a \"b\"\n", 4, "scopes",
     "the scope '\"b\"'"},
    {"bad_tenant", "[account a]\nprovider = microsoft\ntenant = ../x\n", 3,
     "tenant", "expected common, organizations, consumers"},
    {"bad_email", MS "email = alice\n", 4, "email",
     "'alice' is not an e-mail address"},
    {"relative_ca_file", MS "ca_file = certs/ca.pem\n", 4, "ca_file",
     "not an absolute path"},
    {"client_id_with_space", "[account a]\nclient_id = a b\n", 2, "client_id",
     "contains a space"},
    {"agent_unknown_key", "[agent]\nwiat = 5\n", 2, "wiat",
     "did you mean 'wait'?"},
    {"agent_negative_number", "[agent]\nwait = -1\n", 2, "wait",
     "expected a whole number of seconds from 0 to 3600"},
    {"agent_number_out_of_range", "[agent]\nidle_timeout = 99999999999\n", 2,
     "idle_timeout", "out of range"},
    {"agent_zero_connections", "[agent]\nmax_connections = 0\n", 2,
     "max_connections", "from 1 to 1048576"},
    {"line_starting_with_equals", MS "= value\n", 4, NULL, "starts with '='"},
};

static void check_error(const char *behaviour, const char *text, size_t len,
			int line, const char *key, const char *says)
{
	struct agent_config *c = (struct agent_config *)1;
	char err[1024] = "", where[600], k[100];
	const char *file = write_config_n(text, len);
	int r;

	r = agent_config_load(file, 1, &c, err, sizeof(err));
	snprintf(where, sizeof(where), "%s:%d: ", file, line);
	snprintf(k, sizeof(k), "key '%s': ", key != NULL ? key : "");
	if (r != XO_ERR_CONFIG || strncmp(err, where, strlen(where)) != 0 ||
	    (key != NULL && strstr(err, k) == NULL) ||
	    strstr(err, says) == NULL)
		print_error("%s: r=%d, message: %s\n", behaviour, r, err);
	assert_int_equal(r, XO_ERR_CONFIG);
	assert_null(c);
	assert_true(strncmp(err, where, strlen(where)) == 0);
	if (key != NULL)
		assert_non_null(strstr(err, k));
	assert_non_null(strstr(err, says));
	/* A secret never ends up in a message. */
	assert_null(strstr(err, "s3cr3t"));
}

static void bad_files_get_file_line_and_key(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(error_cases) / sizeof(error_cases[0]); i++) {
		const struct error_case *e = &error_cases[i];

		check_error(e->behaviour, e->text, strlen(e->text), e->line,
			    e->key, e->says);
	}
}

/* Parses text as the file t.conf; it must be refused with this message,
   word for word. */
static void refused_with(const char *text, const char *message)
{
	struct agent_config *c = (struct agent_config *)1;
	char err[1024] = "";
	int r;

	r = agent_config_parse("t.conf", text, strlen(text), &c, err,
			       sizeof(err));
	if (r != XO_ERR_CONFIG || strcmp(err, message) != 0)
		print_error("r=%d, message: %s\n", r, err);
	assert_int_equal(r, XO_ERR_CONFIG);
	assert_null(c);
	assert_string_equal(err, message);
}

static struct agent_config *parsed(const char *text)
{
	struct agent_config *c = NULL;
	char err[1024] = "";
	int r;

	r = agent_config_parse("t.conf", text, strlen(text), &c, err,
			       sizeof(err));
	if (r != 0)
		print_error("unexpected error: %s\n", err);
	assert_int_equal(r, 0);
	assert_non_null(c);
	return c;
}

/* The presets say where mail goes out, and a login for a transport on
   another resource asks for that scope too. */
static void presets_fill_the_send_transports(void **state)
{
	struct agent_config *c;
	const struct agent_account_cfg *a;
	char *login = NULL;

	(void)state;
	c = parsed("[account work]\nprovider = microsoft\nclient_id = x\n"
		   "send = auto\n"
		   "[account home]\nprovider = google\nclient_id = y\n"
		   "send = gmail\n"
		   "[account plain]\nprovider = microsoft\nclient_id = z\n");
	a = account(c, "work");
	assert_string_equal(a->send, "auto");
	assert_string_equal(a->smtp, "smtp.office365.com:587");
	assert_string_equal(a->graph_endpoint,
			    "https://graph.microsoft.com/v1.0");
	assert_string_equal(agent_account_send_scope(a),
			    "https://graph.microsoft.com/Mail.Send");
	assert_int_equal(agent_account_login_scopes(a, &login), 0);
	assert_non_null(strstr(login, "/SMTP.Send"));
	assert_non_null(
	    strstr(login, " https://graph.microsoft.com/Mail.Send"));
	free(login);
	/* Gmail's API takes the account's own mail.google.com token. */
	a = account(c, "home");
	assert_string_equal(a->smtp, "smtp.gmail.com:587");
	assert_null(agent_account_send_scope(a));
	assert_int_equal(agent_account_login_scopes(a, &login), 0);
	assert_string_equal(login, a->scopes);
	free(login);
	/* SMTP needs nothing more. */
	a = account(c, "plain");
	assert_string_equal(a->send, "smtp");
	assert_int_equal(agent_account_login_scopes(a, &login), 0);
	assert_null(strstr(login, "graph"));
	free(login);
	agent_config_free(c);
}

static void a_transport_without_its_server_is_refused(void **state)
{
	(void)state;
	refused_with("[account a]\nprovider = generic\nclient_id = x\n"
		     "token_endpoint = https://idp.example/token\n"
		     "send = auto\n",
		     "t.conf:5: [account a] key 'send': send = auto needs "
		     "graph_endpoint (Microsoft Graph, which the microsoft "
		     "providers fill in)");
	refused_with("[account a]\nprovider = generic\nclient_id = x\n"
		     "token_endpoint = https://idp.example/token\n"
		     "send = smtp\n",
		     "t.conf:5: [account a] key 'send': send = smtp needs smtp "
		     "= HOST[:PORT], the SMTP submission server");
	refused_with("[account a]\nprovider = google\nclient_id = x\n"
		     "send = pigeon\n",
		     "t.conf:4: [account a] key 'send': unknown transport "
		     "'pigeon' (expected smtp, graph, gmail or auto)");
	refused_with(
	    "[account a]\nprovider = google\nclient_id = x\n"
	    "smtp = smtp.example.com:99999\n",
	    "t.conf:4: [account a] key 'smtp': 'smtp.example.com:99999' "
	    "is no mail server: the port must be a number from 1 to "
	    "65535 (expected HOST[:PORT] of the SMTP submission "
	    "server, such as smtp.office365.com:587)");
}

/* Where mail for local users goes: plain addresses, kept as "a, b". */
static void local_recipient_takes_plain_addresses(void **state)
{
	struct agent_config *c;

	(void)state;
	c = parsed("[account a]\nprovider = google\nclient_id = x\n"
		   "local_recipient = ops@example.com ,admin@example.org,\n"
		   "[account b]\nprovider = google\nclient_id = y\n");
	assert_string_equal(account(c, "a")->local_recipient,
			    "ops@example.com, admin@example.org");
	assert_null(account(c, "b")->local_recipient);
	agent_config_free(c);
	refused_with("[account a]\nprovider = google\nclient_id = x\n"
		     "local_recipient = root\n",
		     "t.conf:4: [account a] key 'local_recipient': 'root' is "
		     "not an e-mail address (expected the e-mail address (or "
		     "addresses, separated by commas) that mail for a local "
		     "user such as root goes to)");
	refused_with("[account a]\nprovider = google\nclient_id = x\n"
		     "local_recipient = Ops <ops@example.com>\n",
		     "t.conf:4: [account a] key 'local_recipient': 'Ops "
		     "<ops@example.com>' is not an e-mail address (expected "
		     "the e-mail address (or addresses, separated by commas) "
		     "that mail for a local user such as root goes to)");
	refused_with("[account a]\nprovider = google\nclient_id = x\n"
		     "local_recipient = a@b.c,,d@e.f\n",
		     "t.conf:4: [account a] key 'local_recipient': '' is "
		     "not an e-mail address (expected the e-mail address (or "
		     "addresses, separated by commas) that mail for a local "
		     "user such as root goes to)");
}

static void agent_unknown_key_lists_the_agent_keys(void **state)
{
	(void)state;
	refused_with("[agent]\ncolour = blue\n",
		     "t.conf:2: [agent] key 'colour': unknown key (known keys: "
		     "wait, max_connections, idle_timeout, secret_cmd_timeout, "
		     "notify_cmd, notify_timeout, vault, vault_key_file, "
		     "restricted_socket)");
}

static void empty_provider_lists_the_providers(void **state)
{
	(void)state;
	refused_with("[account a]\nprovider =\n",
		     "t.conf:2: [account a] key 'provider': value missing "
		     "(expected one of microsoft, microsoft-us-gov, "
		     "microsoft-china, google, yahoo, aol, fastmail, yandex, "
		     "generic)");
}

static void control_character_in_an_agent_number_is_not_a_number(void **state)
{
	(void)state;
	refused_with("[agent]\nwait = 1\x01\n",
		     "t.conf:2: [agent] key 'wait': '1\\x01' is out of range "
		     "or not a number (expected a whole number of seconds from "
		     "0 to 3600)");
	/* An account's numbers name the character, as its text keys do. */
	refused_with("[account a]\nredirect_port = 1\x01\n",
		     "t.conf:2: [account a] key 'redirect_port': value "
		     "contains the control character 0x01 (expected printable "
		     "text)");
}

static void redirect_port_takes_at_most_five_digits(void **state)
{
	struct agent_config *c;

	(void)state;
	c = parsed(GEN "token_endpoint = https://id.example/t\n"
		       "redirect_port = 08080\n");
	assert_int_equal(c->accounts[0].redirect_port, 8080);
	agent_config_free(c);
	refused_with(GEN "redirect_port = 000080\n",
		     "t.conf:4: [account a] key 'redirect_port': '000080' is "
		     "not a port (expected a TCP port from 1 to 65535 for the "
		     "browser flow's loopback redirect)");
}

static void agent_numbers_take_at_most_nine_digits(void **state)
{
	struct agent_config *c;

	(void)state;
	c = parsed("[agent]\nidle_timeout = 000000005\n");
	assert_int_equal(c->idle_timeout_ms, 5000);
	agent_config_free(c);
	refused_with(
	    "[agent]\nidle_timeout = 0000000005\n",
	    "t.conf:2: [agent] key 'idle_timeout': '0000000005' is out "
	    "of range or not a number (expected a whole number of "
	    "seconds from 1 to 86400)");
}

static void secret_after_secret_cmd_is_the_one_named(void **state)
{
	(void)state;
	refused_with(MS "client_secret_cmd = pass x\nclient_secret = s3cr3t\n",
		     "t.conf:5: [account a] key 'client_secret': client_secret "
		     "and client_secret_cmd are both set (keep one: "
		     "client_secret_cmd keeps the secret out of this file)");
}

static void browser_and_paste_flows_need_an_authorization_endpoint(void **state)
{
	(void)state;
	refused_with(GEN "token_endpoint = https://id.example/t\n"
			 "flow = browser\n",
		     "t.conf:5: [account a] key 'flow': this flow needs "
		     "authorization_endpoint (or issuer, for discovery)");
	refused_with(GEN "token_endpoint = https://id.example/t\n"
			 "flow = paste\n"
			 "redirect_uri = https://app.example/cb\n",
		     "t.conf:5: [account a] key 'flow': this flow needs "
		     "authorization_endpoint (or issuer, for discovery)");
	/* With the token endpoint set there is no discovery, so issuer
	   cannot stand in for the authorization endpoint. */
	refused_with(GEN "issuer = https://id.example\n"
			 "token_endpoint = https://id.example/t\n"
			 "flow = browser\n",
		     "t.conf:6: [account a] key 'flow': this flow needs "
		     "authorization_endpoint (or issuer, for discovery)");
}

static void discovery_may_supply_the_endpoint_a_flow_needs(void **state)
{
	static const char *const flows[] = {"device", "browser", "paste"};
	struct agent_config *c;
	char text[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(flows) / sizeof(flows[0]); i++) {
		snprintf(text, sizeof(text),
			 GEN "issuer = https://id.example\nflow = %s\n"
			     "redirect_uri = https://app.example/cb\n",
			 flows[i]);
		c = parsed(text);
		assert_int_equal(c->accounts[0].needs_discovery, 1);
		assert_string_equal(c->accounts[0].flow, flows[i]);
		agent_config_free(c);
	}
}

static void only_microsoft_presets_take_client_credentials(void **state)
{
	static const char *const providers[] = {"yahoo", "aol", "fastmail",
						"yandex"};
	char text[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(providers) / sizeof(providers[0]); i++) {
		snprintf(text, sizeof(text),
			 "[account a]\nprovider = %s\nclient_id = x\n"
			 "client_secret_cmd = c\nemail = a@example.com\n"
			 "flow = client_credentials\n",
			 providers[i]);
		refused_with(text, "t.conf:6: [account a] key 'flow': only "
				   "Microsoft 365 is known to offer app-only "
				   "(client_credentials) access to mail; use "
				   "browser or paste");
	}
}

static void nul_byte_is_refused_not_truncated(void **state)
{
	static const char text[] = "[account a]\nprovider = google\n"
				   "client_id = x\0y\n";

	(void)state;
	check_error("nul", text, sizeof(text) - 1, 3, NULL, "NUL byte");
}

static void overlong_line_is_refused_with_its_key(void **state)
{
	char text[600];
	int n;

	(void)state;
	n = snprintf(text, sizeof(text),
		     "[account a]\nprovider = google\nclient_id = x\n"
		     "client_secret_cmd = ");
	memset(text + n, 'x', 300);
	memcpy(text + n + 300, "\n", 2);
	check_error("long", text, strlen(text), 4, "client_secret_cmd",
		    "longer than 197 characters");
}

static void missing_file_is_empty_unless_required(void **state)
{
	struct agent_config *c = NULL;
	char missing[600], err[1024] = "";

	(void)state;
	snprintf(missing, sizeof(missing), "%s/no-such-file", tmpdir);
	assert_int_equal(agent_config_load(missing, 0, &c, err, sizeof(err)),
			 0);
	assert_non_null(c);
	assert_null(c->path);
	assert_int_equal(c->n_accounts, 0);
	assert_int_equal(c->max_connections, 0);
	agent_config_free(c);

	c = (struct agent_config *)1;
	assert_int_equal(agent_config_load(missing, 1, &c, err, sizeof(err)),
			 XO_ERR_CONFIG);
	assert_null(c);
	assert_non_null(strstr(err, missing));
	assert_non_null(strstr(err, strerror(ENOENT)));
}

static void unreadable_or_unsafe_files_are_refused(void **state)
{
	struct agent_config *c = NULL;
	char err[1024] = "";
	const char *p;

	(void)state;
	/* A directory. */
	assert_int_equal(agent_config_load(tmpdir, 1, &c, err, sizeof(err)),
			 XO_ERR_CONFIG);
	assert_non_null(strstr(err, tmpdir));
	assert_non_null(strstr(err, "not a regular file"));

	/* Writable by anyone: anyone could add a client_secret_cmd. */
	p = write_config("[agent]\n");
	assert_int_equal(chmod(p, 0666), 0);
	assert_int_equal(agent_config_load(p, 1, &c, err, sizeof(err)),
			 XO_ERR_CONFIG);
	assert_non_null(strstr(err, "writable by everyone"));

	/* No read permission (root reads anyway, so only as a user). */
	if (geteuid() != 0) {
		p = write_config("[agent]\n");
		assert_int_equal(chmod(p, 0000), 0);
		assert_int_equal(agent_config_load(p, 0, &c, err, sizeof(err)),
				 XO_ERR_CONFIG);
		assert_non_null(strstr(err, p));
		assert_non_null(strstr(err, strerror(EACCES)));
	}
	assert_null(c);
}

static void accounts_are_found_by_name_then_email(void **state)
{
	struct agent_config *c;

	(void)state;
	c = load_ok("[account work]\nprovider = google\nclient_id = x\n"
		    "email = Alice@Example.COM\n"
		    "[account bob@example.com]\nprovider = google\n"
		    "client_id = y\n"
		    "[account other]\nprovider = google\nclient_id = z\n"
		    "email = bob@example.com\n");
	assert_string_equal(agent_config_find(c, "work")->name, "work");
	assert_string_equal(agent_config_find(c, "alice@example.com")->name,
			    "work");
	/* A section name beats another account's address. */
	assert_string_equal(agent_config_find(c, "bob@example.com")->name,
			    "bob@example.com");
	/* Names are exact. */
	assert_null(agent_config_find(c, "WORK"));
	assert_null(agent_config_find(c, "nobody"));
	assert_null(agent_config_find(c, NULL));
	agent_config_free(c);
}

static void redirect_port_is_read_for_the_browser_flow(void **state)
{
	struct agent_config *c;

	(void)state;
	c = load_ok("[account a]\nprovider = google\nclient_id = x\n"
		    "redirect_port = 8765\n"
		    "[account b]\nprovider = google\nclient_id = y\n");
	assert_int_equal(c->accounts[0].redirect_port, 8765);
	assert_string_equal(c->accounts[0].flow, "browser");
	assert_int_equal(c->accounts[1].redirect_port, 0);
	agent_config_free(c);
}

static void account_equality_covers_every_setting(void **state)
{
	static const char base[] =
	    "[account a]\nprovider = microsoft\nclient_id = x\n";
	/* Each line changes one setting of account a. */
	static const char *const changes[] = {
	    "email = a@example.com\n",
	    "client_secret = s\n",
	    "client_secret_cmd = c\n",
	    "tenant = consumers\n",
	    "issuer = https://login.microsoftonline.com/common/v2.0\n",
	    "authorization_endpoint = https://x.example/a\n",
	    "token_endpoint = https://x.example/t\n",
	    "device_authorization_endpoint = https://x.example/d\n",
	    "scopes = offline_access\n",
	    "flow = browser\n",
	    "ca_file = /etc/ca.pem\n",
	    "redirect_uri = https://x.example/r\n",
	    "redirect_port = 8765\n",
	};
	struct agent_config *a, *b;
	char text[512];
	size_t i;

	(void)state;
	a = load_ok(base);
	/* The same settings further down the file are still equal. */
	snprintf(text, sizeof(text), "# moved\n\n%s", base);
	b = load_ok(text);
	assert_true(agent_account_cfg_equal(&a->accounts[0], &b->accounts[0]));
	agent_config_free(b);
	for (i = 0; i < sizeof(changes) / sizeof(changes[0]); i++) {
		snprintf(text, sizeof(text), "%s%s", base, changes[i]);
		b = load_ok(text);
		if (agent_account_cfg_equal(&a->accounts[0], &b->accounts[0]))
			print_error("not noticed: %s", changes[i]);
		assert_false(
		    agent_account_cfg_equal(&a->accounts[0], &b->accounts[0]));
		agent_config_free(b);
	}
	/* The notification hook is not a setting of the grant: changing it
	   must not cost the account its tokens on SIGHUP. */
	snprintf(text, sizeof(text), "%snotify_cmd = true\n", base);
	b = load_ok(text);
	assert_true(agent_account_cfg_equal(&a->accounts[0], &b->accounts[0]));
	agent_config_free(b);
	b = load_ok("[account b]\nprovider = microsoft\nclient_id = x\n");
	assert_false(agent_account_cfg_equal(&a->accounts[0], &b->accounts[0]));
	agent_config_free(b);
	b = load_ok("[account a]\nprovider = microsoft-china\nclient_id = x\n");
	assert_false(agent_account_cfg_equal(&a->accounts[0], &b->accounts[0]));
	agent_config_free(b);
	agent_config_free(a);
}

static void default_path_follows_xdg_then_home(void **state)
{
	char buf[512];

	(void)state;
	setenv("HOME", "/home/u", 1);
	setenv("XDG_CONFIG_HOME", "/cfg", 1);
	assert_int_equal(agent_config_default_path(buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/cfg/xoauth/config");
	/* The XDG spec says a relative value is to be ignored. */
	setenv("XDG_CONFIG_HOME", "relative", 1);
	assert_int_equal(agent_config_default_path(buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/home/u/.config/xoauth/config");
	unsetenv("XDG_CONFIG_HOME");
	assert_int_equal(agent_config_default_path(buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/home/u/.config/xoauth/config");
	assert_int_equal(agent_config_default_path(buf, 10), XO_ERR_CONFIG);
}

static void load_without_path_reads_the_default_file(void **state)
{
	struct agent_config *c = NULL;
	char dir[600], err[1024] = "";
	FILE *f;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/xoauth", tmpdir);
	assert_int_equal(mkdir(dir, 0700), 0);
	setenv("XDG_CONFIG_HOME", tmpdir, 1);
	snprintf(dir, sizeof(dir), "%s/xoauth/config", tmpdir);
	f = fopen(dir, "w");
	assert_non_null(f);
	fputs("[account d]\nprovider = google\nclient_id = x\n", f);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(agent_config_load(NULL, 0, &c, err, sizeof(err)), 0);
	assert_string_equal(c->path, dir);
	assert_non_null(agent_config_find(c, "d"));
	agent_config_free(c);
	unsetenv("XDG_CONFIG_HOME");
}

/*
 * A small deterministic fuzz: every truncation of a valid file, and every
 * byte replaced by characters that matter to the parser.  The parser must
 * accept or refuse with a message; the sanitizer build catches the rest.
 */
static void mutated_input_never_crashes(void **state)
{
	static const char good[] =
	    "[agent]\nwait = 5\n"
	    "[account w]\nprovider = microsoft\ntenant = organizations\n"
	    "client_id = " MS_APP "\nclient_secret = q\n"
	    "token_endpoint = http://[::1]:8/t\nscopes = a b\n"
	    "[account g]\nprovider = google\nclient_id = x ; c\n"
	    "flow = paste\nemail = a@b.c\n";
	static const char subst[] = {'\0', '\n', '[', ']', '=',	   ':',	  ';',
				     ' ',  '\t', '@', '{', '\x01', '\xff'};
	char buf[sizeof(good)], err[256];
	struct agent_config *c;
	size_t i, j, n = sizeof(good) - 1;
	int r;

	(void)state;
	for (i = 0; i <= n; i++) {
		c = NULL;
		r = agent_config_parse("f", good, i, &c, err, sizeof(err));
		assert_true(r == 0 || (r == XO_ERR_CONFIG && c == NULL &&
				       strncmp(err, "f:", 2) == 0));
		agent_config_free(c);
	}
	for (i = 0; i < n; i++) {
		for (j = 0; j < sizeof(subst); j++) {
			memcpy(buf, good, sizeof(good));
			buf[i] = subst[j];
			c = NULL;
			r = agent_config_parse("f", buf, n, &c, err,
					       sizeof(err));
			assert_true(r == 0 ||
				    (r == XO_ERR_CONFIG && c == NULL &&
				     strncmp(err, "f:", 2) == 0));
			agent_config_free(c);
		}
	}
	/* Tiny message buffers are honoured. */
	r = agent_config_parse("f", "[x]\n", 4, &c, err, 5);
	assert_int_equal(r, XO_ERR_CONFIG);
	assert_string_equal(err, "f:1:");
	assert_int_equal(agent_config_parse("f", "[x]\n", 4, &c, NULL, 0),
			 XO_ERR_CONFIG);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(presets_fill_endpoints_scopes_and_flow),
	    cmocka_unit_test(national_cloud_presets_use_their_own_hosts),
	    cmocka_unit_test(explicit_keys_override_the_preset),
	    cmocka_unit_test(issuer_only_account_needs_discovery),
	    cmocka_unit_test(generic_with_endpoints_needs_no_discovery),
	    cmocka_unit_test(
		client_credentials_on_microsoft_gets_the_app_scope),
	    cmocka_unit_test(paste_flow_gets_the_preset_redirect),
	    cmocka_unit_test(command_keys_are_kept_as_written),
	    cmocka_unit_test(client_credentials_on_generic_needs_no_tenant),
	    cmocka_unit_test(agent_section_sets_limits_and_defaults_apply),
	    cmocka_unit_test(layout_variants_are_accepted),
	    cmocka_unit_test(long_account_names_are_not_cut),
	    cmocka_unit_test(loopback_http_is_allowed_and_other_http_is_not),
	    cmocka_unit_test(bad_files_get_file_line_and_key),
	    cmocka_unit_test(nul_byte_is_refused_not_truncated),
	    cmocka_unit_test(overlong_line_is_refused_with_its_key),
	    cmocka_unit_test(missing_file_is_empty_unless_required),
	    cmocka_unit_test(unreadable_or_unsafe_files_are_refused),
	    cmocka_unit_test(accounts_are_found_by_name_then_email),
	    cmocka_unit_test(redirect_port_is_read_for_the_browser_flow),
	    cmocka_unit_test(account_equality_covers_every_setting),
	    cmocka_unit_test(default_path_follows_xdg_then_home),
	    cmocka_unit_test(load_without_path_reads_the_default_file),
	    cmocka_unit_test(mutated_input_never_crashes),
	    cmocka_unit_test(vault_keys_and_lifetime_are_read),
	    cmocka_unit_test(durations_take_a_unit_or_seconds),
	    cmocka_unit_test(agent_unknown_key_lists_the_agent_keys),
	    cmocka_unit_test(empty_provider_lists_the_providers),
	    cmocka_unit_test(
		control_character_in_an_agent_number_is_not_a_number),
	    cmocka_unit_test(redirect_port_takes_at_most_five_digits),
	    cmocka_unit_test(agent_numbers_take_at_most_nine_digits),
	    cmocka_unit_test(secret_after_secret_cmd_is_the_one_named),
	    cmocka_unit_test(
		browser_and_paste_flows_need_an_authorization_endpoint),
	    cmocka_unit_test(discovery_may_supply_the_endpoint_a_flow_needs),
	    cmocka_unit_test(only_microsoft_presets_take_client_credentials),
	    cmocka_unit_test(presets_fill_the_send_transports),
	    cmocka_unit_test(a_transport_without_its_server_is_refused),
	    cmocka_unit_test(local_recipient_takes_plain_addresses),
	};
	const struct unit_group groups[] = {
	    UNIT_GROUP("config", tests, make_tmpdir, remove_tmpdir),
	};

	return unit_run(argc, argv, groups, 1);
}

/*
 * reply.c: what a mail server says during the doctor's login, and what a
 * refused SMTP AUTH or IMAP AUTHENTICATE means and how to fix it (where it
 * logs in, HOST[:PORT], is config/pure/mailhost.c's).
 * The strings are Microsoft's and Google's (providers.md 1.1, 2.8, 2.9,
 * 2.10).  Pure: no I/O, no globals.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "doctor/pure/doctor.h"

/* ---- what the server said ---- */

static void keep(char *dst, const char *line)
{
	snprintf(dst, DOCTOR_LINE_MAX, "%s", line);
}

static int starts(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* The JSON of a base64 error challenge into dst (DOCTOR_LINE_MAX),
   control characters replaced; left empty when line is not base64. */
static void decode_challenge(const char *b64, char *dst)
{
	unsigned char bin[DOCTOR_LINE_MAX];
	size_t len = 0, i;

	if (sodium_base642bin(bin, sizeof(bin) - 1, b64, strlen(b64), NULL,
			      &len, NULL, sodium_base64_VARIANT_ORIGINAL) != 0)
		return;
	for (i = 0; i < len; i++)
		dst[i] = bin[i] < 0x20 || bin[i] == 0x7f ? ' ' : (char)bin[i];
	dst[len] = '\0';
}

/* One line the server sent, control characters already replaced. */
static void server_line(struct doctor_heard *h, int imap, const char *line)
{
	const char *sp;

	if (!h->greeted) {
		h->greeted = 1;
		keep(h->greeting, line);
		if (imap && starts(line, "* PREAUTH"))
			h->preauth = 1;
	}
	if (!imap) {
		if (starts(line, "235")) {
			h->auth_ok = 1;
			keep(h->success, line);
		} else if ((starts(line, "250-") || starts(line, "250 ")) &&
			   starts(line + 4, "AUTH")) {
			keep(h->offer, line + 4);
		} else if ((line[0] == '4' || line[0] == '5') &&
			   h->refusal[0] == '\0') {
			keep(h->refusal, line);
		}
		return;
	}
	if (starts(line, "* CAPABILITY") || starts(line, "* OK [CAPABILITY")) {
		keep(h->offer, line + 2);
		return;
	}
	/* The token went with AUTHENTICATE (SASL-IR) or after a bare "+",
	   so a "+ BASE64" now is the server's error challenge (RFC 7628
	   3.2.2; Gmail and Dovecot send one for XOAUTH2 too), to be answered
	   before the tagged NO comes.  libcurl 7.88 ends an XOAUTH2 login
	   there instead (CURLE_LOGIN_DENIED), so this may be all the server
	   says about the token. */
	if (starts(line, "+ ") && h->challenge[0] == '\0') {
		decode_challenge(line + 2, h->challenge);
		return;
	}
	/* A tagged reply: "A002 NO ...", kept without curl's tag, which
	   means nothing to the user. */
	if (line[0] != '*' && line[0] != '+' &&
	    (sp = strchr(line, ' ')) != NULL &&
	    (starts(sp + 1, "NO") || starts(sp + 1, "BAD")) &&
	    h->refusal[0] == '\0')
		keep(h->refusal, sp + 1);
}

void doctor_heard_feed(struct doctor_heard *h, int imap, const char *data,
		       size_t size)
{
	char line[DOCTOR_LINE_MAX];
	size_t i, n;

	while (size > 0) {
		for (n = 0; n < size && data[n] != '\n'; n++)
			;
		for (i = 0; i < n && i < sizeof(line) - 1; i++)
			line[i] =
			    (unsigned char)data[i] < 0x20 || data[i] == 0x7f
				? ' '
				: data[i];
		while (i > 0 && line[i - 1] == ' ')
			i--;
		line[i] = '\0';
		if (i > 0)
			server_line(h, imap, line);
		if (n < size)
			n++;
		data += n;
		size -= n;
	}
}

/* What needs no administrator: mail goes out through Graph instead
   (xoauth.conf(5), send). */
#define SEND_AUTO                                                              \
	"Without an administrator: set send = auto in the account's "          \
	"section (and log in again, to consent to Graph's Mail.Send); "        \
	"'xoauth sendmail' then sends through Microsoft Graph when SMTP AUTH " \
	"is refused."

/* ---- replies ---- */

/* strcasestr(), which C17 lacks. */
static int has(const char *s, const char *needle)
{
	size_t n = strlen(needle);

	for (; *s != '\0'; s++)
		if (strncasecmp(s, needle, n) == 0)
			return 1;
	return 0;
}

/* An enhanced status code ("5.7.3") not followed by another digit, so
   that 5.7.3 does not match 5.7.30. */
static int has_code(const char *s, const char *code)
{
	size_t n = strlen(code);
	const char *p;

	for (p = s; (p = strstr(p, code)) != NULL; p += n)
		if ((p == s || !isdigit((unsigned char)p[-1])) &&
		    !isdigit((unsigned char)p[n]))
			return 1;
	return 0;
}

static void set(struct doctor_cause *out, int level, const char *text,
		const char *fix)
{
	out->level = level;
	snprintf(out->text, sizeof(out->text), "%s", text);
	snprintf(out->fix, sizeof(out->fix), "%s", fix);
}

#define EXO_PS "In Exchange Online PowerShell (Connect-ExchangeOnline) "

void doctor_smtp_reply_cause(const char *reply, const char *email,
			     struct doctor_cause *out)
{
	const char *who = email != NULL && email[0] != '\0' ? email : "ADDRESS";
	char text[DOCTOR_TEXT_MAX], fix[DOCTOR_FIX_MAX];

	memset(out, 0, sizeof(*out));
	if (reply == NULL)
		reply = "";
	if (has_code(reply, "5.7.139") && has(reply, "for the tenant")) {
		snprintf(fix, sizeof(fix),
			 EXO_PS
			 "an Exchange administrator runs: "
			 "Set-TransportConfig "
			 "-SmtpClientAuthenticationDisabled $false (or, "
			 "for this mailbox only: Set-CASMailbox "
			 "-Identity %s -SmtpClientAuthenticationDisabled "
			 "$false). While the tenant uses security "
			 "defaults, SMTP AUTH stays off: turn security "
			 "defaults off (Entra admin center > Properties "
			 "> Manage security defaults) and protect "
			 "sign-ins with Conditional Access instead. "
			 "Changes take up to an hour. " SEND_AUTO,
			 who);
		set(out, PROTO_LEVEL_PROBLEM,
		    "SMTP AUTH is disabled for the tenant: Exchange Online "
		    "refuses authenticated SMTP in the whole organisation (the "
		    "default for tenants made after January 2020)",
		    fix);
		return;
	}
	if (has_code(reply, "5.7.139") && has(reply, "for the mailbox")) {
		snprintf(text, sizeof(text),
			 "SMTP AUTH is disabled for the mailbox %s", who);
		snprintf(fix, sizeof(fix),
			 EXO_PS "an Exchange administrator runs: "
				"Set-CASMailbox -Identity %s "
				"-SmtpClientAuthenticationDisabled $false (or "
				"$null to follow the organisation's setting); "
				"or Microsoft 365 admin center > Users > the "
				"user > Mail > Manage email apps > "
				"Authenticated SMTP. " SEND_AUTO,
			 who);
		set(out, PROTO_LEVEL_PROBLEM, text, fix);
		return;
	}
	if (has_code(reply, "5.7.139") && has(reply, "basic authentication")) {
		set(out, PROTO_LEVEL_PROBLEM,
		    "The server refused basic authentication: a password was "
		    "sent where an OAuth token belongs",
		    "Make the mail program log in with XOAUTH2 and the token "
		    "from 'xoauth token ACCOUNT' (msmtp: auth xoauth2 and "
		    "passwordeval).");
		return;
	}
	if (has_code(reply, "5.7.139") && has(reply, "criteria")) {
		set(out, PROTO_LEVEL_PROBLEM,
		    "The sign-in did not meet the tenant's policies: "
		    "Conditional Access or security defaults block SMTP AUTH",
		    "An administrator looks the sign-in up in the Entra "
		    "sign-in logs; then turns security defaults off (Entra "
		    "admin center > Properties) or excludes the app from the "
		    "Conditional Access policy that blocks it. " SEND_AUTO);
		return;
	}
	if (has_code(reply, "5.7.139")) {
		set(out, PROTO_LEVEL_PROBLEM,
		    "Exchange Online refused SMTP AUTH by policy: SMTP AUTH "
		    "is disabled, or Conditional Access or security defaults "
		    "block it",
		    EXO_PS "check Get-TransportConfig and Get-CASMailbox "
			   "(SmtpClientAuthenticationDisabled must be False), "
			   "and whether security defaults are on. " SEND_AUTO);
		return;
	}
	if (has_code(reply, "5.7.3")) {
		snprintf(fix, sizeof(fix),
			 "Check that scopes include "
			 "https://outlook.office.com/SMTP.Send, then log in "
			 "again; run 'xoauth doctor' without --smtp to see "
			 "the token's claims; check that the mailbox has an "
			 "Exchange Online licence; enable SMTP AUTH for it: "
			 "Set-CASMailbox -Identity %s "
			 "-SmtpClientAuthenticationDisabled $false; for a "
			 "shared mailbox give the token's user Full Access "
			 "and Send As (Add-MailboxPermission, "
			 "Add-RecipientPermission); for Outlook.com use a "
			 "public client (no secret).",
			 who);
		set(out, PROTO_LEVEL_PROBLEM,
		    "Exchange Online rejected the token. Usual causes: the "
		    "token is for another resource or lacks SMTP.Send (scopes "
		    "or audience), the mailbox is not licensed, SMTP AUTH is "
		    "disabled for it, the XOAUTH2 user is not the token's "
		    "user and lacks rights on that mailbox, or the token is "
		    "from a confidential client (Outlook.com)",
		    fix);
		return;
	}
	if (has_code(reply, "5.7.57")) {
		set(out, PROTO_LEVEL_PROBLEM,
		    "The server saw mail from a client that is not "
		    "authenticated (anonymous submission): the AUTH step "
		    "failed or was skipped",
		    "Make the client authenticate with AUTH XOAUTH2 before "
		    "MAIL FROM (port 587 with STARTTLS); look for an AUTH "
		    "error before this one.");
		return;
	}
	if (has_code(reply, "5.7.60") || has(reply, "send as")) {
		snprintf(fix, sizeof(fix),
			 "Send from %s, or give that user Send As on the "
			 "other mailbox: Add-RecipientPermission -Identity "
			 "OTHER -Trustee %s -AccessRights SendAs.",
			 who, who);
		set(out, PROTO_LEVEL_PROBLEM,
		    "The user may not send as this sender (5.7.60): the From "
		    "address is another mailbox",
		    fix);
		return;
	}
	if (has_code(reply, "5.7.30")) {
		set(out, PROTO_LEVEL_PROBLEM,
		    "Basic authentication is retired for SMTP submission at "
		    "Exchange Online",
		    "Log in with XOAUTH2 and the token from 'xoauth token "
		    "ACCOUNT'.");
		return;
	}
	if (has_code(reply, "5.5.127") || has(reply, "expire soon")) {
		set(out, PROTO_LEVEL_PROBLEM,
		    "The server refuses a token that is about to expire",
		    "Ask for a token with more life left: xoauth "
		    "--min-valid 900 token ACCOUNT.");
		return;
	}
	if (has(reply, "Username and Password not accepted") ||
	    has(reply, "BadCredentials")) {
		set(out, PROTO_LEVEL_PROBLEM,
		    "Gmail rejected the token: it lacks the scope "
		    "https://mail.google.com/, or belongs to another user "
		    "than the XOAUTH2 user name",
		    "Ask for https://mail.google.com/ in scopes, set email to "
		    "the Google account's address, then log in again.");
		return;
	}
	if (reply[0] == '4') {
		set(out, PROTO_LEVEL_WARNING, "The server failed temporarily",
		    "Try again later; if it stays, ask the server's "
		    "administrator.");
		return;
	}
	snprintf(text, sizeof(text),
		 "The server refused the login with a reply the doctor does "
		 "not know: %s",
		 reply);
	set(out, PROTO_LEVEL_PROBLEM, text,
	    "Look the reply up with the mail provider; run 'xoauth doctor' "
	    "without --smtp to see the token's claims.");
}

void doctor_imap_reply_cause(const char *reply, const char *email,
			     struct doctor_cause *out)
{
	const char *who = email != NULL && email[0] != '\0' ? email : "ADDRESS";
	char text[DOCTOR_TEXT_MAX], fix[DOCTOR_FIX_MAX];

	memset(out, 0, sizeof(*out));
	if (reply == NULL)
		reply = "";
	if (has(reply, "[UNAVAILABLE]") || has(reply, "temporar")) {
		set(out, PROTO_LEVEL_WARNING, "The server failed temporarily",
		    "Try again later.");
		return;
	}
	if (has(reply, "AUTHENTICATE failed")) {
		/* Exchange Online's words. */
		snprintf(fix, sizeof(fix),
			 "Include https://outlook.office.com/"
			 "IMAP.AccessAsUser.All in scopes and log in again; "
			 "enable IMAP for the mailbox: Set-CASMailbox "
			 "-Identity %s -ImapEnabled $true; check its "
			 "licence; for app-only access register the service "
			 "principal (New-ServicePrincipal) and give it "
			 "Add-MailboxPermission -AccessRights FullAccess; "
			 "for Outlook.com turn IMAP on (Settings > Mail > "
			 "Forwarding and IMAP).",
			 who);
		set(out, PROTO_LEVEL_PROBLEM,
		    "Exchange Online rejected the token for IMAP. Usual "
		    "causes: the token lacks IMAP.AccessAsUser.All or is for "
		    "another resource, IMAP is disabled for the mailbox, the "
		    "mailbox is not licensed, or an app-only token's service "
		    "principal has no access to it",
		    fix);
		return;
	}
	if (has(reply, "Invalid credentials")) {
		/* Gmail's words, after [AUTHENTICATIONFAILED]. */
		set(out, PROTO_LEVEL_PROBLEM,
		    "The server rejected the token (Gmail's words: Invalid "
		    "credentials): it lacks https://mail.google.com/ or "
		    "belongs to another user",
		    "Ask for https://mail.google.com/ in scopes, set email to "
		    "the Google account's address, then log in again.");
		return;
	}
	if (has(reply, "[AUTHENTICATIONFAILED]") ||
	    (reply[0] == '{' && has(reply, "\"status\""))) {
		/* RFC 5530's code for credentials the server does not take,
		   or the JSON of an error challenge before it (RFC 7628
		   3.2.2, Google's XOAUTH2): Dovecot's oauth2 passdb answers
		   so when the provider's introspection calls the token
		   inactive (revoked, expired) or names another user. */
		snprintf(text, sizeof(text),
			 "The server rejected the token: the provider no "
			 "longer accepts it (revoked or expired early), it "
			 "belongs to another user than %s, or it lacks the "
			 "scope the server asks for",
			 who);
		set(out, PROTO_LEVEL_PROBLEM, text,
		    "Log in again ('xoauth login') as the mailbox's user; if "
		    "the new token is refused too, check the email setting "
		    "and the scopes, and run 'xoauth doctor' without --imap "
		    "to see the token's claims.");
		return;
	}
	snprintf(text, sizeof(text), "The server rejected the token: %s",
		 reply);
	set(out, PROTO_LEVEL_PROBLEM, text,
	    "Check the scopes and the email setting, log in again, and run "
	    "'xoauth doctor' without --imap to see the token's claims.");
}

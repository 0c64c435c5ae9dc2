/*
 * message.c: a message's header block, its addresses and the copy that
 * goes out (message.h).
 *
 * Why a parser of our own: the C libraries that read RFC 5322 addresses
 * (GMime, libetpan) would bring GLib, GPGME or a mail stack of their own
 * into a daemon that holds refresh tokens, for the one thing needed here:
 * the addr-specs of To, Cc and Bcc.  What is read is little (no encoded
 * words, no bodies); it is pure and fuzzed (tests/fuzz/fuzz_message.c).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include <xoauth/xo_errors.h>

#include "send/pure/message.h"

/* ---- address sets ---- */

bool send_addrs_has(const struct send_addrs *a, const char *s)
{
	size_t i;

	for (i = 0; i < a->n; i++)
		if (strcasecmp(a->v[i], s) == 0)
			return true;
	return false;
}

int send_addrs_add(struct send_addrs *a, const char *s, size_t len)
{
	char *copy, **nv;
	size_t cap;

	if ((copy = strndup(s, len)) == NULL)
		return XO_ERR_NOMEM;
	if (send_addrs_has(a, copy)) {
		free(copy);
		return 0;
	}
	if (a->n >= SEND_RCPTS_MAX) {
		free(copy);
		return XO_ERR_MESSAGE_BAD;
	}
	if (a->n == a->cap) {
		cap = a->cap == 0 ? 8 : a->cap * 2;
		if ((nv = reallocarray(a->v, cap, sizeof(*nv))) == NULL) {
			free(copy);
			return XO_ERR_NOMEM;
		}
		a->v = nv;
		a->cap = cap;
	}
	a->v[a->n++] = copy;
	return 0;
}

void send_addrs_free(struct send_addrs *a)
{
	size_t i;

	for (i = 0; i < a->n; i++)
		free(a->v[i]);
	free(a->v);
	memset(a, 0, sizeof(*a));
}

int send_addr_ok(const char *s, size_t len)
{
	const char *at = memchr(s, '@', len);
	size_t i;

	if (len == 0 || len > SEND_ADDR_MAX || at == NULL || at == s ||
	    at == s + len - 1 ||
	    memchr(at + 1, '@', len - (size_t)(at - s) - 1))
		return 0;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c <= ' ' || c == 0x7f || c == '<' || c == '>' || c == ',')
			return 0;
	}
	return 1;
}

int send_local_ok(const char *s, size_t len)
{
	static const char special[] = "!#$%&'*+-/=?^_`{|}~";
	size_t i;

	if (len == 0 || len > 64 || s[0] == '.' || s[len - 1] == '.')
		return 0;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') ||
		    (c != '\0' && strchr(special, c) != NULL))
			continue;
		if (c == '.' && s[i - 1] != '.')
			continue;
		return 0;
	}
	return 1;
}

bool send_addr_local(const char *addr)
{
	return strchr(addr, '@') == NULL;
}

int send_addrs_map_local(const struct send_addrs *in,
			 const struct send_addrs *to, struct send_addrs *out)
{
	size_t i, k;
	int r = 0;

	for (i = 0; i < in->n && r == 0; i++) {
		if (!send_addr_local(in->v[i]) || to == NULL || to->n == 0) {
			r = send_addrs_add(out, in->v[i], strlen(in->v[i]));
			continue;
		}
		for (k = 0; k < to->n && r == 0; k++)
			r = send_addrs_add(out, to->v[k], strlen(to->v[k]));
	}
	return r;
}

/* ---- address lists (RFC 5322 3.4) ---- */

/* Skips a comment starting at p[*i] == '(' (nested, with quoted pairs);
   0, or -1 when it does not end. */
static int skip_comment(const char *p, size_t len, size_t *i)
{
	int depth = 0;

	for (; *i < len; (*i)++) {
		if (p[*i] == '\\') {
			(*i)++;
		} else if (p[*i] == '(') {
			depth++;
		} else if (p[*i] == ')' && --depth == 0) {
			(*i)++;
			return 0;
		}
	}
	return -1;
}

/* Copies a quoted string starting at p[*i] == '"', quotes and all, into
   buf; 0, or -1 when it does not end or does not fit. */
static int take_quoted(const char *p, size_t len, size_t *i, char *buf,
		       size_t *n, size_t cap)
{
	size_t start = *i;

	for ((*i)++; *i < len && p[*i] != '"'; (*i)++)
		if (p[*i] == '\\')
			(*i)++;
	if (*i >= len)
		return -1;
	(*i)++;
	if (*n + (*i - start) >= cap)
		return -1;
	memcpy(buf + *n, p + start, *i - start);
	*n += *i - start;
	return 0;
}

/* One mailbox is done: its angle address, else its bare text. */
static int take_mailbox(char *bare, size_t bare_n, const char *angle,
			size_t angle_n, int have_angle, struct send_addrs *out,
			char *why, size_t whylen)
{
	const char *s = have_angle ? angle : bare;
	size_t n = have_angle ? angle_n : bare_n;
	const char *route;

	/* RFC 5322 4.4's obsolete route, "<@a,@b:user@c>": only where the
	   angle address starts with one (a ':' elsewhere is the address's
	   own). */
	if (have_angle && n > 0 && s[0] == '@' &&
	    (route = memchr(s, ':', n)) != NULL) {
		n -= (size_t)(route + 1 - s);
		s = route + 1;
	}
	while (n > 0 && (s[0] == ' ' || s[0] == '\t')) {
		s++;
		n--;
	}
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	if (n == 0 && !have_angle)
		return 0; /* "a, , b", or the end of a group */
	if (!send_addr_ok(s, n) && !send_local_ok(s, n)) {
		snprintf(why, whylen, "cannot read the address '%.*s'",
			 (int)(n > 80 ? 80 : n), s);
		return XO_ERR_MESSAGE_BAD;
	}
	return send_addrs_add(out, s, n);
}

int send_parse_addresses(const char *p, size_t len, struct send_addrs *out,
			 char *why, size_t whylen)
{
	char bare[SEND_ADDR_MAX + 2], angle[SEND_ADDR_MAX + 2];
	size_t i = 0, bare_n = 0, angle_n = 0;
	int have_angle = 0, in_angle = 0, r;

	while (i <= len) {
		char c = i < len ? p[i] : ',';

		if (c == '(') {
			if (skip_comment(p, len, &i) != 0)
				goto unreadable;
			continue;
		}
		if (c == '"') {
			if (take_quoted(p, len, &i, in_angle ? angle : bare,
					in_angle ? &angle_n : &bare_n,
					sizeof(bare) - 1) != 0)
				goto unreadable;
			continue;
		}
		if (in_angle) {
			if (c == '>') {
				in_angle = 0;
			} else if (i == len) {
				goto unreadable;
			} else if (angle_n + 1 < sizeof(angle)) {
				angle[angle_n++] = c;
			} else {
				goto unreadable;
			}
			i++;
			continue;
		}
		switch (c) {
		case '<':
			/* What came before was a display name. */
			in_angle = have_angle = 1;
			angle_n = 0;
			break;
		case ':':
			/* A group's name: its members follow. */
			bare_n = 0;
			break;
		case ',':
		case ';':
			if ((r = take_mailbox(bare, bare_n, angle, angle_n,
					      have_angle, out, why, whylen)) !=
			    0)
				return r;
			bare_n = angle_n = 0;
			have_angle = 0;
			break;
		case '\r':
		case '\n':
			break;
		default:
			if (have_angle) {
				/* Only blanks and comments may follow ">". */
				if (c != ' ' && c != '\t')
					goto unreadable;
			} else if (bare_n + 1 < sizeof(bare)) {
				bare[bare_n++] = c;
			} else {
				goto unreadable;
			}
			break;
		}
		i++;
	}
	return 0;
unreadable:
	snprintf(why, whylen, "cannot read the address list '%.*s'",
		 (int)(len > 80 ? 80 : len), p);
	return XO_ERR_MESSAGE_BAD;
}

/* ---- the header block ---- */

/* The end of the line at p (the index after its LF, or len). */
static size_t line_end(const char *p, size_t len, size_t i)
{
	const char *nl = memchr(p + i, '\n', len - i);

	return nl != NULL ? (size_t)(nl - p) + 1 : len;
}

static bool blank_line(const char *p, size_t start, size_t end)
{
	return end - start == 0 || (p[start] == '\n') ||
	       (end - start == 2 && p[start] == '\r' && p[start + 1] == '\n');
}

/* One header field: its name and where the field (with continuation
   lines) ends.  0 when p[start] begins no field. */
static size_t field_at(const char *p, size_t len, size_t start,
		       size_t *name_len)
{
	size_t i, end;

	for (i = start; i < len && p[i] != ':' && p[i] > ' ' && p[i] < 0x7f;
	     i++)
		;
	if (i == start || i >= len || p[i] != ':')
		return 0;
	*name_len = i - start;
	end = line_end(p, len, start);
	while (end < len && (p[end] == ' ' || p[end] == '\t'))
		end = line_end(p, len, end);
	return end;
}

static bool name_is(const char *p, size_t n, const char *name)
{
	return n == strlen(name) && strncasecmp(p, name, n) == 0;
}

/* The field's value with its line ends taken out (unfolded). */
static char *unfold(const char *p, size_t from, size_t to)
{
	char *v = malloc(to - from + 1);
	size_t i, n = 0;

	if (v == NULL)
		return NULL;
	for (i = from; i < to; i++)
		if (p[i] != '\r' && p[i] != '\n')
			v[n++] = p[i];
	v[n] = '\0';
	return v;
}

int send_headers_parse(const char *msg, size_t len, struct send_headers *out,
		       char *why, size_t whylen)
{
	struct send_addrs from = {0};
	size_t i = 0, end, name_len;
	char *value;
	int r = 0;

	memset(out, 0, sizeof(*out));
	while (i < len && r == 0) {
		if (blank_line(msg, i, line_end(msg, len, i)))
			break;
		if ((end = field_at(msg, len, i, &name_len)) == 0)
			break; /* no header: the body begins */
		if ((value = unfold(msg, i + name_len + 1, end)) == NULL) {
			r = XO_ERR_NOMEM;
			break;
		}
		if (name_is(msg + i, name_len, "To") ||
		    name_is(msg + i, name_len, "Cc"))
			r = send_parse_addresses(value, strlen(value),
						 &out->to_cc, why, whylen);
		else if (name_is(msg + i, name_len, "Bcc"))
			r = send_parse_addresses(value, strlen(value),
						 &out->bcc, why, whylen);
		else if (name_is(msg + i, name_len, "From")) {
			out->has_from = true;
			r = send_parse_addresses(value, strlen(value), &from,
						 why, whylen);
		} else if (name_is(msg + i, name_len, "Date"))
			out->has_date = true;
		else if (name_is(msg + i, name_len, "Message-ID"))
			out->has_message_id = true;
		free(value);
		i = end;
	}
	if (r == 0 && from.n > 0)
		snprintf(out->from, sizeof(out->from), "%s", from.v[0]);
	send_addrs_free(&from);
	return r;
}

void send_headers_free(struct send_headers *h)
{
	send_addrs_free(&h->to_cc);
	send_addrs_free(&h->bcc);
}

/* ---- the copy that goes out ---- */

struct out {
	char *p;
	size_t n, cap;
};

static int put(struct out *o, const char *s, size_t n)
{
	char *np;
	size_t cap;

	if (n > o->cap - o->n) {
		cap = o->cap;
		while (n > cap - o->n)
			cap = cap < 4096 ? 4096 : cap * 2;
		if ((np = realloc(o->p, cap)) == NULL)
			return XO_ERR_NOMEM;
		o->p = np;
		o->cap = cap;
	}
	memcpy(o->p + o->n, s, n);
	o->n += n;
	return 0;
}

/* Copies p[start..end) with each line ended by CRLF. */
static int put_lines(struct out *o, const char *p, size_t start, size_t end)
{
	size_t i, e;
	int r;

	for (i = start; i < end; i = e) {
		e = line_end(p, end, i);
		if (p[e - 1] != '\n') {
			/* The last line, without its end. */
			if ((r = put(o, p + i, e - i)) != 0 ||
			    (r = put(o, "\r\n", 2)) != 0)
				return r;
			continue;
		}
		if ((r = put(o, p + i, e - i - 1)) != 0)
			return r;
		if (e - i >= 2 && p[e - 2] == '\r')
			o->n--; /* the CR is put back with the LF below */
		if ((r = put(o, "\r\n", 2)) != 0)
			return r;
	}
	return 0;
}

/* Whether an address must stand in angle brackets to be read back as
   itself: it holds a character that means something outside them (a
   group's ':', a quoted string, a comment), where a plain dot-atom
   "user@domain" needs none. */
static bool needs_angle(const char *a)
{
	return strpbrk(a, ":;()[]\\\"") != NULL;
}

/* "Name: a,\r\n b\r\n"; nothing for an empty set. */
static int put_field(struct out *o, const char *name, size_t name_len,
		     const struct send_addrs *a)
{
	size_t i;
	bool angle;
	int r = 0;

	if (a == NULL || a->n == 0)
		return 0;
	if ((r = put(o, name, name_len)) != 0 || (r = put(o, ": ", 2)) != 0)
		return r;
	for (i = 0; i < a->n && r == 0; i++) {
		angle = needs_angle(a->v[i]);
		if (i > 0)
			r = put(o, ",\r\n ", 4);
		if (r == 0 && angle)
			r = put(o, "<", 1);
		if (r == 0)
			r = put(o, a->v[i], strlen(a->v[i]));
		if (r == 0 && angle)
			r = put(o, ">", 1);
	}
	return r != 0 ? r : put(o, "\r\n", 2);
}

/* The addresses of the field at p[start..end) (name_len bytes of name),
   into *a; 0, or -1 when they cannot be read or memory ran out. */
static int field_addresses(const char *p, size_t start, size_t end,
			   size_t name_len, struct send_addrs *a)
{
	char why[SEND_WHY_MAX], *value;
	int r;

	if ((value = unfold(p, start + name_len + 1, end)) == NULL)
		return -1;
	r = send_parse_addresses(value, strlen(value), a, why, sizeof(why));
	free(value);
	return r == 0 ? 0 : -1;
}

static bool any_local(const struct send_addrs *a)
{
	size_t i;

	for (i = 0; i < a->n; i++)
		if (send_addr_local(a->v[i]))
			return true;
	return false;
}

/*
 * One header field of the copy: as it is, or written anew when it names a
 * local user and opts say what to write instead (a To, Cc or Bcc with the
 * local names mapped, a From replaced whole).
 */
static int put_header(struct out *o, const char *p, size_t start, size_t end,
		      size_t name_len, const struct send_copy_opts *opts)
{
	struct send_addrs found = {0}, mapped = {0};
	const char *name = p + start;
	bool rcpt = name_is(name, name_len, "To") ||
		    name_is(name, name_len, "Cc") ||
		    name_is(name, name_len, "Bcc");
	bool from = name_is(name, name_len, "From");
	int r;

	if (!((rcpt && opts->local_to != NULL && opts->local_to->n > 0) ||
	      (from && opts->from_field != NULL)) ||
	    field_addresses(p, start, end, name_len, &found) != 0 ||
	    !(rcpt ? any_local(&found)
		   : found.n > 0 && send_addr_local(found.v[0]))) {
		send_addrs_free(&found);
		return put_lines(o, p, start, end);
	}
	if (from) {
		if ((r = put(o, opts->from_field, strlen(opts->from_field))) ==
		    0)
			r = put(o, "\r\n", 2);
	} else if ((r = send_addrs_map_local(&found, opts->local_to,
					     &mapped)) == 0) {
		r = put_field(o, name, name_len, &mapped);
	}
	send_addrs_free(&found);
	send_addrs_free(&mapped);
	return r;
}

int send_copy(const char *msg, size_t len, const struct send_copy_opts *opts,
	      char **out, size_t *outlen)
{
	struct out o = {0};
	size_t i = 0, end, name_len, k;
	int r = 0;

	*out = NULL;
	*outlen = 0;
	for (k = 0; r == 0 && k < 4 && opts->add[k] != NULL; k++)
		if ((r = put(&o, opts->add[k], strlen(opts->add[k]))) == 0)
			r = put(&o, "\r\n", 2);
	if (r == 0)
		r = put_field(&o, "Bcc", 3, opts->bcc);
	/* The header block, without the Bcc fields when asked. */
	while (r == 0 && i < len &&
	       !blank_line(msg, i, line_end(msg, len, i)) &&
	       (end = field_at(msg, len, i, &name_len)) != 0) {
		if (!((opts->drop_bcc || (opts->bcc != NULL)) &&
		      name_is(msg + i, name_len, "Bcc")))
			r = put_header(&o, msg, i, end, name_len, opts);
		i = end;
	}
	/* The rest as it is, line ends made CRLF. */
	if (r == 0)
		r = put_lines(&o, msg, i, len);
	if (r != 0) {
		free(o.p);
		return r;
	}
	*out = o.p;
	*outlen = o.n;
	return 0;
}

/* ---- 8-bit bytes and servers without 8BITMIME ---- */

bool send_has_8bit(const char *msg, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if ((unsigned char)msg[i] > 0x7f)
			return true;
	return false;
}

/* Whether the len bytes at p are UTF-8 (RFC 3629: no overlong forms, no
   surrogates, nothing above U+10FFFF). */
static bool utf8_ok(const unsigned char *p, size_t len)
{
	size_t i = 0, n, k;
	unsigned long c;

	while (i < len) {
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		if (p[i] >= 0xc2 && p[i] <= 0xdf)
			n = 1, c = p[i] & 0x1f;
		else if (p[i] >= 0xe0 && p[i] <= 0xef)
			n = 2, c = p[i] & 0x0f;
		else if (p[i] >= 0xf0 && p[i] <= 0xf4)
			n = 3, c = p[i] & 0x07;
		else
			return false;
		if (len - i <= n)
			return false;
		for (k = 1; k <= n; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return false;
			c = (c << 6) | (p[i + k] & 0x3f);
		}
		if ((n == 2 && (c < 0x800 || (c >= 0xd800 && c <= 0xdfff))) ||
		    (n == 3 && (c < 0x10000 || c > 0x10ffff)))
			return false;
		i += n + 1;
	}
	return true;
}

/* The value of a field, unfolded, without blanks either side, lowercase
   up to its first ';' (a media type or an encoding); NULL without memory. */
static char *field_token(const char *p, size_t start, size_t end,
			 size_t name_len)
{
	char *v = unfold(p, start + name_len + 1, end), *a, *b;
	size_t i;

	if (v == NULL)
		return NULL;
	for (a = v; *a == ' ' || *a == '\t'; a++)
		;
	b = a + strcspn(a, ";");
	while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
		b--;
	memmove(v, a, (size_t)(b - a));
	v[b - a] = '\0';
	for (i = 0; v[i] != '\0'; i++)
		v[i] = (char)tolower((unsigned char)v[i]);
	return v;
}

/* The body's lines (CRLF) in quoted-printable, lines of at most 76. */
static int put_qp(struct out *o, const char *p, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i, col = 0;
	char enc[3];
	int r = 0;

	for (i = 0; i < len && r == 0; i++) {
		unsigned char c = (unsigned char)p[i];
		bool eol = i + 1 < len && p[i] == '\r' && p[i + 1] == '\n';
		/* A blank is literal unless a line break follows it. */
		bool last = i + 1 == len || (i + 2 < len && p[i + 1] == '\r' &&
					     p[i + 2] == '\n');
		size_t n;

		if (eol) {
			r = put(o, "\r\n", 2);
			col = 0;
			i++;
			continue;
		}
		if ((c >= 33 && c <= 126 && c != '=') ||
		    ((c == ' ' || c == '\t') && !last)) {
			enc[0] = (char)c;
			n = 1;
		} else {
			enc[0] = '=';
			enc[1] = hex[c >> 4];
			enc[2] = hex[c & 15];
			n = 3;
		}
		/* A soft break keeps every line within 76, its '=' too. */
		if (col + n > 75) {
			r = put(o, "=\r\n", 3);
			col = 0;
		}
		if (r == 0)
			r = put(o, enc, n);
		col += n;
	}
	return r;
}

int send_to_7bit(const char *msg, size_t len, char **out, size_t *outlen,
		 char *why, size_t whylen)
{
	struct out o = {0};
	size_t i = 0, end, name_len, body;
	bool has_type = false, has_version = false;
	char *v;
	int r = 0;

	*out = NULL;
	*outlen = 0;
	/* The header block: where it ends, and whether it can stay. */
	while (i < len && !blank_line(msg, i, line_end(msg, len, i)) &&
	       (end = field_at(msg, len, i, &name_len)) != 0)
		i = end;
	/* The body starts after the blank line, or where a line that is
	   no field is (the copy then gets the blank line it lacked). */
	body = i < len && blank_line(msg, i, line_end(msg, len, i))
		   ? line_end(msg, len, i)
		   : i;
	if (send_has_8bit(msg, i)) {
		snprintf(why, whylen,
			 "its header has 8-bit bytes, which only RFC 2047's "
			 "encoded words could carry");
		return XO_ERR_MESSAGE_BAD;
	}
	for (i = 0;
	     r == 0 && i < len && !blank_line(msg, i, line_end(msg, len, i)) &&
	     (end = field_at(msg, len, i, &name_len)) != 0;
	     i = end) {
		bool type = name_is(msg + i, name_len, "Content-Type");
		bool cte =
		    name_is(msg + i, name_len, "Content-Transfer-Encoding");

		if (name_is(msg + i, name_len, "MIME-Version"))
			has_version = true;
		if (!type && !cte)
			continue;
		if ((v = field_token(msg, i, end, name_len)) == NULL) {
			r = XO_ERR_NOMEM;
			break;
		}
		if (type) {
			has_type = true;
			if (strncmp(v, "multipart/", 10) == 0 ||
			    strncmp(v, "message/", 8) == 0) {
				snprintf(why, whylen,
					 "it is %.60s: each of its parts "
					 "would need an encoding of its own",
					 v);
				r = XO_ERR_MESSAGE_BAD;
			}
		} else if (strcmp(v, "7bit") != 0 && strcmp(v, "8bit") != 0) {
			snprintf(
			    why, whylen,
			    "its Content-Transfer-Encoding is %.60s, which "
			    "leaves no 8-bit byte in a body",
			    v);
			r = XO_ERR_MESSAGE_BAD;
		}
		free(v);
	}
	if (r != 0)
		return r;
	/* The header as it was, but its encoding; then what MIME needs. */
	for (i = 0;
	     r == 0 && i < len && !blank_line(msg, i, line_end(msg, len, i)) &&
	     (end = field_at(msg, len, i, &name_len)) != 0;
	     i = end)
		if (!name_is(msg + i, name_len, "Content-Transfer-Encoding"))
			r = put(&o, msg + i, end - i);
	if (r == 0 && !has_version)
		r = put(&o, "MIME-Version: 1.0\r\n", 19);
	if (r == 0 && !has_type) {
		const char *t =
		    utf8_ok((const unsigned char *)msg + body, len - body)
			? "Content-Type: text/plain; charset=utf-8\r\n"
			: "Content-Type: text/plain; charset=unknown-8bit\r\n";

		r = put(&o, t, strlen(t));
	}
	if (r == 0)
		r = put(&o,
			"Content-Transfer-Encoding: quoted-printable\r\n\r\n",
			47);
	if (r == 0)
		r = put_qp(&o, msg + body, len - body);
	if (r != 0) {
		free(o.p);
		return r;
	}
	*out = o.p;
	*outlen = o.n;
	return 0;
}

/* ---- what the servers say ---- */

static const char *find_ci(const char *s, const char *needle)
{
	size_t n = strlen(needle);

	for (; *s != '\0'; s++)
		if (strncasecmp(s, needle, n) == 0)
			return s;
	return NULL;
}

int send_smtp_auth_off(const char *reply)
{
	/* "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication
	   is disabled for the Tenant" (providers.md 2.9); 5.7.3 is the
	   generic refusal, also seen where SMTP AUTH is off per mailbox. */
	return reply != NULL && reply[0] == '5' &&
	       (find_ci(reply, " 5.7.139") != NULL ||
		find_ci(reply, " 5.7.3 ") != NULL ||
		find_ci(reply, "-5.7.3 ") != NULL);
}

static void copy_clean(char *dst, size_t len, const char *src)
{
	size_t i;

	if (len == 0)
		return;
	snprintf(dst, len, "%s", src != NULL ? src : "");
	for (i = 0; dst[i] != '\0'; i++)
		if ((unsigned char)dst[i] < 0x20 || dst[i] == 0x7f)
			dst[i] = ' ';
}

void send_api_error(const char *body, size_t len, char *code, size_t codelen,
		    char *message, size_t msglen)
{
	json_t *doc = NULL, *err, *reason;

	copy_clean(code, codelen, "");
	copy_clean(message, msglen, "");
	if (body == NULL || len == 0 ||
	    (doc = json_loadb(body, len, 0, NULL)) == NULL)
		return;
	err = json_object_get(doc, "error");
	if (json_is_object(err)) {
		reason = json_object_get(
		    json_array_get(json_object_get(err, "errors"), 0),
		    "reason");
		if (json_is_string(json_object_get(err, "code")))
			copy_clean(
			    code, codelen,
			    json_string_value(json_object_get(err, "code")));
		else if (json_is_string(reason))
			copy_clean(code, codelen, json_string_value(reason));
		else
			copy_clean(
			    code, codelen,
			    json_string_value(json_object_get(err, "status")));
		copy_clean(message, msglen,
			   json_string_value(json_object_get(err, "message")));
	}
	json_decref(doc);
}
